//! Cheques and bank slips: money that is not certain when the customer hands it over.
//!
//! A cheque pays provisionally: its payment is `succeeded` with a receipt number when received,
//! and follows the cheque through the bank (received → banked → cleared, or bounced). A bounced
//! cheque's payment becomes `bounced` through the state machine, which takes it out of every
//! paid figure (so the instalments it paid are open again); nothing is deleted or renumbered, a
//! reversing entry records it, and the holder's notice is queued in the same transaction.
//!
//! A bank slip is `awaiting_confirmation` until a manager finds the money in the bank; only then
//! does it become `succeeded` and get its receipt number.

use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::{Date, OffsetDateTime};

use malipo_domain::time_zone::{from_ms, nairobi_date, to_ms};
use malipo_domain::{Desk, Money, ProviderReference, Source, TxEvent};

use crate::audit::{self, Change};
use crate::transactions::{
    CounterPayment, ProviderDetails, TransactionRecord, TxKey, apply_in, date_from_day, day_number,
    fetch, insert_counter_payment,
};
use crate::{Result, Store, StoreError};

/// A cheque as the clerk received it.
#[derive(Debug, Clone)]
pub struct NewCheque {
    pub desk: Desk,
    pub policy_id: i64,
    pub amount: Money,
    pub reference: ProviderReference,
    pub clerk_id: Option<i64>,
    pub number: String,
    pub bank: String,
    pub drawer: String,
    /// The day written on it.
    pub dated: Date,
}

/// A bank slip as the customer brought it.
#[derive(Debug, Clone)]
pub struct NewSlip {
    pub desk: Desk,
    pub policy_id: i64,
    pub amount: Money,
    pub reference: ProviderReference,
    pub clerk_id: Option<i64>,
    pub bank_ref: String,
}

/// A cheque with its payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChequeRecord {
    pub payment: TransactionRecord,
    pub number: String,
    pub bank: String,
    pub drawer: String,
    pub dated: Date,
    /// `received`, `banked`, `cleared` or `bounced`.
    pub state: String,
    pub banked_at: Option<OffsetDateTime>,
    pub banked_by: Option<String>,
    pub settled_at: Option<OffsetDateTime>,
    pub settled_by: Option<String>,
    pub bounce_reason: Option<String>,
    /// The fee recorded on its reversing entry, when it bounced.
    pub bounce_fee: Option<Money>,
}

/// A bank slip with its payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipRecord {
    pub payment: TransactionRecord,
    pub bank_ref: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<OffsetDateTime>,
    pub decided_how: Option<String>,
}

/// What happens to a cheque at the bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChequeStep<'a> {
    Bank,
    Clear,
    Bounce { reason: &'a str, fee: Option<Money> },
}

const SELECT_CHEQUE: &str = "SELECT c.*, r.fee_minor FROM cheques c
     LEFT JOIN reversals r ON r.transaction_id = c.transaction_id";

async fn cheque_in(conn: &mut SqliteConnection, id: i64) -> Result<ChequeRecord> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT_CHEQUE} WHERE c.transaction_id = ?"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("a cheque for payment {id}")))?;
    let payment = fetch(&mut *conn, &TxKey::Id(id)).await?;
    cheque_from_row(&row, payment)
}

fn cheque_from_row(r: &SqliteRow, payment: TransactionRecord) -> Result<ChequeRecord> {
    let currency = payment.amount.currency();
    Ok(ChequeRecord {
        number: r.get("number"),
        bank: r.get("bank"),
        drawer: r.get("drawer"),
        dated: date_from_day(r.get("dated")),
        state: r.get("state"),
        banked_at: r.get::<Option<i64>, _>("banked_at").map(from_ms),
        banked_by: r.get("banked_by"),
        settled_at: r.get::<Option<i64>, _>("settled_at").map(from_ms),
        settled_by: r.get("settled_by"),
        bounce_reason: r.get("bounce_reason"),
        bounce_fee: r
            .get::<Option<i64>, _>("fee_minor")
            .filter(|f| *f > 0)
            .map(|f| Money::from_minor(f, currency))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("reversals.fee_minor: {e}")))?,
        payment,
    })
}

fn cheque_snapshot(c: &ChequeRecord) -> serde_json::Value {
    json!({
        "number": c.number,
        "bank": c.bank,
        "drawer": c.drawer,
        "dated": c.dated.to_string(),
        "state": c.state,
        "bounce_reason": c.bounce_reason,
    })
}

async fn slip_in(conn: &mut SqliteConnection, id: i64) -> Result<SlipRecord> {
    let row = sqlx::query("SELECT * FROM bank_slips WHERE transaction_id = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("a bank slip for payment {id}")))?;
    Ok(SlipRecord {
        payment: fetch(&mut *conn, &TxKey::Id(id)).await?,
        bank_ref: row.get("bank_ref"),
        decided_by: row.get("decided_by"),
        decided_at: row.get::<Option<i64>, _>("decided_at").map(from_ms),
        decided_how: row.get("decided_how"),
    })
}

impl Store {
    /// Records a cheque: its payment paid provisionally, with a receipt number. A cheque of the
    /// same bank and number recorded before gives [`StoreError::Duplicate`].
    pub async fn record_cheque(
        &self,
        actor: &str,
        new: &NewCheque,
        now: OffsetDateTime,
    ) -> Result<ChequeRecord> {
        let mut tx = self.begin_write().await?;
        let created = insert_counter_payment(
            &mut tx,
            actor,
            &CounterPayment {
                desk: &new.desk,
                method: "cheque",
                status: "pending",
                policy_id: new.policy_id,
                amount: new.amount,
                tendered: None,
                reference: &new.reference,
                clerk_id: new.clerk_id,
            },
            now,
        )
        .await?;
        sqlx::query(
            "INSERT INTO cheques (transaction_id, number, bank, drawer, dated, state)
             VALUES (?, ?, ?, ?, ?, 'received')",
        )
        .bind(created.id)
        .bind(&new.number)
        .bind(&new.bank)
        .bind(&new.drawer)
        .bind(day_number(new.dated))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            crate::unique_violation(e, || format!("cheque {} of {}", new.number, new.bank))
        })?;
        let paid = TxEvent::Paid {
            paid: new.amount,
            source: Source::Query,
        };
        apply_in(
            &mut tx,
            actor,
            &TxKey::Id(created.id),
            &new.desk,
            paid,
            &ProviderDetails::default(),
            now,
        )
        .await?;
        let record = cheque_in(&mut tx, created.id).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// The cheque paid by payment `id`.
    pub async fn cheque(&self, id: i64) -> Result<ChequeRecord> {
        let mut conn = self.pool.acquire().await?;
        cheque_in(&mut conn, id).await
    }

    /// Cheques in `state` (all when `None`), oldest first.
    pub async fn cheques(&self, state: Option<&str>, limit: i64) -> Result<Vec<ChequeRecord>> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT transaction_id FROM cheques WHERE ?1 IS NULL OR state = ?1
             ORDER BY dated, transaction_id LIMIT ?2",
        )
        .bind(state)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(cheque_in(&mut conn, id).await?);
        }
        Ok(out)
    }

    /// Moves a cheque on at the bank. Banking needs a received cheque whose date has come;
    /// clearing or bouncing needs a banked one. A bounce takes the payment to `bounced`, writes
    /// the reversing entry and queues the holder's SMS notice (once, unless they opted out), all
    /// in one transaction.
    pub async fn cheque_step(
        &self,
        actor: &str,
        id: i64,
        step: ChequeStep<'_>,
        desk: &Desk,
        now: OffsetDateTime,
    ) -> Result<ChequeRecord> {
        let mut tx = self.begin_write().await?;
        let before = cheque_in(&mut tx, id).await?;
        let today = nairobi_date(now);
        let (action, state) = match step {
            ChequeStep::Bank => ("cheque.bank", "banked"),
            ChequeStep::Clear => ("cheque.clear", "cleared"),
            ChequeStep::Bounce { .. } => ("cheque.bounce", "bounced"),
        };
        let wrong = |now_state: &str| {
            StoreError::Conflict(format!(
                "cheque {} of {} is {}: it cannot be {state}{}",
                before.number,
                before.bank,
                before.state,
                match now_state {
                    "received" => " before it is banked",
                    _ => "",
                }
            ))
        };
        match step {
            ChequeStep::Bank => {
                if before.state != "received" {
                    return Err(wrong(&before.state));
                }
                if before.dated > today {
                    return Err(StoreError::Conflict(format!(
                        "cheque {} is dated {}: a post-dated cheque cannot be banked before its date",
                        before.number, before.dated
                    )));
                }
                sqlx::query(
                    "UPDATE cheques SET state = 'banked', banked_at = ?, banked_by = ?
                     WHERE transaction_id = ?",
                )
                .bind(to_ms(now))
                .bind(actor)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            ChequeStep::Clear | ChequeStep::Bounce { .. } => {
                if before.state != "banked" {
                    return Err(wrong(&before.state));
                }
                let reason = match step {
                    ChequeStep::Bounce { reason, .. } => Some(reason),
                    _ => None,
                };
                sqlx::query(
                    "UPDATE cheques SET state = ?, settled_at = ?, settled_by = ?, bounce_reason = ?
                     WHERE transaction_id = ?",
                )
                .bind(state)
                .bind(to_ms(now))
                .bind(actor)
                .bind(reason)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        if let ChequeStep::Bounce { reason, fee } = step {
            apply_in(
                &mut tx,
                actor,
                &TxKey::Id(id),
                desk,
                TxEvent::Bounced,
                &ProviderDetails {
                    failure_reason: Some(format!("cheque returned unpaid: {reason}")),
                    ..ProviderDetails::default()
                },
                now,
            )
            .await?;
            sqlx::query(
                "INSERT INTO reversals (transaction_id, amount_minor, currency, fee_minor, reason,
                                        made_by, made_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(before.payment.amount.minor())
            .bind(before.payment.amount.currency().code())
            .bind(fee.map_or(0, Money::minor))
            .bind(reason)
            .bind(actor)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT OR IGNORE INTO messages (key, purpose, channel, policy_id, transaction_id,
                                                 status, next_attempt_at, created_at, updated_at)
                 SELECT 'bounce:sms:' || t.number, 'notice', 'sms', p.id, t.id, 'queued', ?, ?, ?
                 FROM transactions t JOIN policies p ON p.id = t.policy_id
                 WHERE t.id = ? AND p.opted_out_at IS NULL",
            )
            .bind(to_ms(now))
            .bind(to_ms(now))
            .bind(to_ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let after = cheque_in(&mut tx, id).await?;
        audit::record(
            &mut tx,
            now,
            Change {
                actor,
                action,
                entity: "transaction",
                entity_id: after.payment.number.clone(),
                before: Some(cheque_snapshot(&before)),
                after: Some(cheque_snapshot(&after)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Records a bank slip, not yet money. A bank reference recorded before gives
    /// [`StoreError::Duplicate`].
    pub async fn record_slip(
        &self,
        actor: &str,
        new: &NewSlip,
        now: OffsetDateTime,
    ) -> Result<SlipRecord> {
        let mut tx = self.begin_write().await?;
        let created = insert_counter_payment(
            &mut tx,
            actor,
            &CounterPayment {
                desk: &new.desk,
                method: "bank",
                status: "awaiting_confirmation",
                policy_id: new.policy_id,
                amount: new.amount,
                tendered: None,
                reference: &new.reference,
                clerk_id: new.clerk_id,
            },
            now,
        )
        .await?;
        sqlx::query("INSERT INTO bank_slips (transaction_id, bank_ref) VALUES (?, ?)")
            .bind(created.id)
            .bind(&new.bank_ref)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                crate::unique_violation(e, || format!("bank reference {}", new.bank_ref))
            })?;
        let record = slip_in(&mut tx, created.id).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// The bank slip with this bank reference, if one was recorded.
    pub async fn slip_by_ref(&self, bank_ref: &str) -> Result<Option<SlipRecord>> {
        let mut conn = self.pool.acquire().await?;
        let id: Option<i64> =
            sqlx::query_scalar("SELECT transaction_id FROM bank_slips WHERE bank_ref = ?")
                .bind(bank_ref)
                .fetch_optional(&mut *conn)
                .await?;
        match id {
            Some(id) => Ok(Some(slip_in(&mut conn, id).await?)),
            None => Ok(None),
        }
    }

    /// Bank slips still waiting for a manager (all when `waiting` is false), oldest first.
    pub async fn slips(&self, waiting: bool, limit: i64) -> Result<Vec<SlipRecord>> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT transaction_id FROM bank_slips WHERE NOT ?1 OR decided_at IS NULL
             ORDER BY transaction_id LIMIT ?2",
        )
        .bind(waiting)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(slip_in(&mut conn, id).await?);
        }
        Ok(out)
    }

    /// A manager's decision on a slip: the money is in the bank (`found`: it becomes
    /// `succeeded` with its receipt number) or it is not (`failed`). Decided once.
    pub async fn decide_slip(
        &self,
        actor: &str,
        id: i64,
        found: bool,
        how: &str,
        desk: &Desk,
        now: OffsetDateTime,
    ) -> Result<SlipRecord> {
        let mut tx = self.begin_write().await?;
        let before = slip_in(&mut tx, id).await?;
        if let Some(by) = &before.decided_by {
            return Err(StoreError::Conflict(format!(
                "bank slip {} was decided by {by} already",
                before.bank_ref
            )));
        }
        sqlx::query(
            "UPDATE bank_slips SET decided_by = ?, decided_at = ?, decided_how = ?
             WHERE transaction_id = ?",
        )
        .bind(actor)
        .bind(to_ms(now))
        .bind(how)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let details = ProviderDetails {
            failure_reason: (!found)
                .then(|| format!("not found in the bank ({how}); the slip is not money")),
            ..ProviderDetails::default()
        };
        apply_in(
            &mut tx,
            actor,
            &TxKey::Id(id),
            desk,
            TxEvent::Confirmed { found },
            &details,
            now,
        )
        .await?;
        let after = slip_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(after)
    }
}
