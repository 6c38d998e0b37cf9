//! Cash: payments paid as they are recorded, each clerk's drawer per day (what it should hold,
//! the count at closing, the manager's sign-off) and the office's deposits at the bank.
//!
//! What a drawer should hold is read from the payments themselves, never kept as a running
//! figure: the cash payments its clerk recorded that day, less the cash refunds handed back
//! from it (a refund is paid out by the clerk who asked for it, on the day it is approved).
//! A drawer is closed in the same write transaction that reads that figure, and a cash payment
//! checks the drawer is open in the transaction that records it, so no payment can slip in
//! between a count and its close.

use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::{Date, OffsetDateTime};

use malipo_domain::time_zone::{day_start_ms, from_ms, nairobi_date, to_ms};
use malipo_domain::{Currency, Desk, Money, ProviderReference, Source, TxEvent};

use crate::audit::{self, Change};
use crate::transactions::{
    CounterPayment, ProviderDetails, TransactionRecord, TxKey, apply_in, date_from_day, day_number,
    insert_counter_payment,
};
use crate::{Result, Store, StoreError};

/// A cash payment as the clerk recorded it.
#[derive(Debug, Clone)]
pub struct NewCash {
    pub desk: Desk,
    pub policy_id: i64,
    pub amount: Money,
    /// What the customer handed over; at least `amount`.
    pub tendered: Money,
    pub reference: ProviderReference,
    pub clerk_id: i64,
}

/// A clerk's drawer on one day, in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drawer {
    pub clerk_id: i64,
    pub clerk: String,
    pub day: Date,
    /// Cash payments taken into it.
    pub received: Money,
    pub payments: i64,
    /// Cash refunds paid out of it.
    pub paid_out: Money,
    /// What it should hold: `received - paid_out`.
    pub expected: Money,
    /// Its cash-up, once closed.
    pub cash_up: Option<CashUpRecord>,
}

/// A drawer closed at the end of a day: what it should have held, what was counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashUpRecord {
    pub clerk_id: i64,
    pub clerk: String,
    pub day: Date,
    pub expected: Money,
    pub counted: Money,
    /// `counted - expected` in minor units: negative when short.
    pub variance_minor: i64,
    pub denominations: Option<String>,
    pub closed_at: OffsetDateTime,
    pub closed_by: String,
    pub signed_off_by: Option<String>,
    pub signed_off_at: Option<OffsetDateTime>,
    pub sign_off_note: Option<String>,
}

/// Cash taken to the bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositRecord {
    pub id: i64,
    pub amount: Money,
    pub bank_ref: String,
    pub made_by: String,
    pub made_at: OffsetDateTime,
}

/// The office's cash in one currency, all time: what came in, what went back, what was banked,
/// and what is still in the office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CashPosition {
    pub received: Money,
    pub paid_out: Money,
    pub deposited: Money,
    /// `received - paid_out - deposited`.
    pub undeposited: Money,
}

const PAID: &str = "('succeeded', 'partially_refunded', 'refunded')";

fn cash_up_from_row(r: &SqliteRow) -> Result<CashUpRecord> {
    let currency = Currency::from_code(r.get::<&str, _>("currency"))
        .map_err(|e| StoreError::Corrupt(format!("cash_ups.currency: {e}")))?;
    let money = |col: &str| {
        Money::from_minor(r.get(col), currency)
            .map_err(|e| StoreError::Corrupt(format!("cash_ups.{col}: {e}")))
    };
    Ok(CashUpRecord {
        clerk_id: r.get("clerk_id"),
        clerk: r.get("clerk"),
        day: date_from_day(r.get("day")),
        expected: money("expected_minor")?,
        counted: money("counted_minor")?,
        variance_minor: r.get::<i64, _>("counted_minor") - r.get::<i64, _>("expected_minor"),
        denominations: r.get("denominations"),
        closed_at: from_ms(r.get("closed_at")),
        closed_by: r.get("closed_by"),
        signed_off_by: r.get("signed_off_by"),
        signed_off_at: r.get::<Option<i64>, _>("signed_off_at").map(from_ms),
        sign_off_note: r.get("sign_off_note"),
    })
}

const SELECT_CASH_UP: &str = "SELECT c.*, u.username AS clerk FROM cash_ups c
     JOIN users u ON u.id = c.clerk_id";

fn cash_up_snapshot(c: &CashUpRecord) -> serde_json::Value {
    json!({
        "clerk": c.clerk,
        "day": c.day.to_string(),
        "currency": c.expected.currency().code(),
        "expected_minor": c.expected.minor(),
        "counted_minor": c.counted.minor(),
        "variance_minor": c.variance_minor,
        "denominations": c.denominations,
        "signed_off_by": c.signed_off_by,
        "sign_off_note": c.sign_off_note,
    })
}

/// The cash-up of `clerk_id`'s drawer on `day` in `currency`, if it was closed.
async fn cash_up_in(
    conn: &mut SqliteConnection,
    clerk_id: i64,
    day: Date,
    currency: Currency,
) -> Result<Option<CashUpRecord>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT_CASH_UP} WHERE c.clerk_id = ? AND c.day = ? AND c.currency = ?"
    )))
    .bind(clerk_id)
    .bind(day_number(day))
    .bind(currency.code())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(cash_up_from_row).transpose()
}

/// What `clerk_id`'s drawer took in and paid out on `day`.
async fn drawer_in(
    conn: &mut SqliteConnection,
    clerk_id: i64,
    day: Date,
    currency: Currency,
) -> Result<Drawer> {
    let clerk: String = sqlx::query_scalar("SELECT username FROM users WHERE id = ?")
        .bind(clerk_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {clerk_id}")))?;
    let (payments, received): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*), coalesce(sum(amount_minor), 0) FROM transactions
         WHERE clerk_id = ? AND day = ? AND currency = ? AND method = 'cash' AND status IN {PAID}"
    )))
    .bind(clerk_id)
    .bind(day_number(day))
    .bind(currency.code())
    .fetch_one(&mut *conn)
    .await?;
    let paid_out: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(r.amount_minor), 0) FROM refunds r
         JOIN transactions t ON t.id = r.transaction_id
         WHERE t.method = 'cash' AND r.status = 'processed' AND r.currency = ?
           AND r.requested_by = ? AND r.updated_at >= ? AND r.updated_at < ?",
    )
    .bind(currency.code())
    .bind(&clerk)
    .bind(day_start_ms(day))
    .bind(day_start_ms(day.next_day().unwrap_or(day)))
    .fetch_one(&mut *conn)
    .await?;
    let money = |minor: i64| {
        Money::from_minor(minor, currency).map_err(|e| StoreError::Corrupt(format!("drawer: {e}")))
    };
    let cash_up = cash_up_in(&mut *conn, clerk_id, day, currency).await?;
    Ok(Drawer {
        clerk_id,
        clerk,
        day,
        received: money(received)?,
        payments,
        paid_out: money(paid_out)?,
        // A refund may be paid out of a drawer that took no cash that day: it runs short.
        expected: money((received - paid_out).max(0))?,
        cash_up,
    })
}

fn closed(clerk: &str, day: Date) -> StoreError {
    StoreError::Conflict(format!(
        "{clerk}'s cash for {day} is closed (counted and handed in): no more cash can go in or out of that drawer today"
    ))
}

impl Store {
    /// Records a cash payment: paid at once, with the counter's next number and a receipt
    /// number, the tendered amount kept. Refused when the clerk's drawer for the day is closed.
    pub async fn record_cash(
        &self,
        actor: &str,
        new: &NewCash,
        now: OffsetDateTime,
    ) -> Result<TransactionRecord> {
        let mut tx = self.begin_write().await?;
        let day = nairobi_date(now);
        if cash_up_in(&mut tx, new.clerk_id, day, new.amount.currency())
            .await?
            .is_some()
        {
            return Err(closed(actor, day));
        }
        let created = insert_counter_payment(
            &mut tx,
            actor,
            &CounterPayment {
                desk: &new.desk,
                method: "cash",
                status: "pending",
                policy_id: new.policy_id,
                amount: new.amount,
                tendered: Some(new.tendered),
                reference: &new.reference,
                clerk_id: Some(new.clerk_id),
            },
            now,
        )
        .await?;
        let id = created.id;
        let paid = TxEvent::Paid {
            paid: new.amount,
            source: Source::Query,
        };
        let (after, _) = apply_in(
            &mut tx,
            actor,
            &TxKey::Id(id),
            &new.desk,
            paid,
            &ProviderDetails::default(),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Whether `clerk_id`'s drawer for `day` is closed in `currency`.
    pub async fn drawer_closed(
        &self,
        clerk_id: i64,
        day: Date,
        currency: Currency,
    ) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        Ok(cash_up_in(&mut conn, clerk_id, day, currency)
            .await?
            .is_some())
    }

    /// `clerk_id`'s drawer on `day`.
    pub async fn drawer(&self, clerk_id: i64, day: Date, currency: Currency) -> Result<Drawer> {
        let mut conn = self.pool.acquire().await?;
        drawer_in(&mut conn, clerk_id, day, currency).await
    }

    /// Every drawer that had cash in or out on `day`, or was closed: by clerk.
    pub async fn drawers(&self, day: Date, currency: Currency) -> Result<Vec<Drawer>> {
        let mut conn = self.pool.acquire().await?;
        let clerks: Vec<i64> = sqlx::query_scalar(
            "SELECT clerk_id FROM transactions
               WHERE day = ? AND currency = ? AND method = 'cash' AND clerk_id IS NOT NULL
             UNION
             SELECT u.id FROM refunds r JOIN transactions t ON t.id = r.transaction_id
               JOIN users u ON u.username = r.requested_by
               WHERE t.method = 'cash' AND r.status = 'processed' AND r.currency = ?
                 AND r.updated_at >= ? AND r.updated_at < ?
             UNION
             SELECT clerk_id FROM cash_ups WHERE day = ? AND currency = ?
             ORDER BY 1",
        )
        .bind(day_number(day))
        .bind(currency.code())
        .bind(currency.code())
        .bind(day_start_ms(day))
        .bind(day_start_ms(day.next_day().unwrap_or(day)))
        .bind(day_number(day))
        .bind(currency.code())
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(clerks.len());
        for clerk in clerks {
            out.push(drawer_in(&mut conn, clerk, day, currency).await?);
        }
        Ok(out)
    }

    /// Closes `clerk_id`'s drawer for `day` with what was counted. What it should hold is read
    /// in the same transaction, so the close and the figure it is judged against agree.
    pub async fn close_drawer(
        &self,
        actor: &str,
        clerk_id: i64,
        day: Date,
        counted: Money,
        denominations: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<CashUpRecord> {
        let mut tx = self.begin_write().await?;
        let drawer = drawer_in(&mut tx, clerk_id, day, counted.currency()).await?;
        if drawer.cash_up.is_some() {
            return Err(StoreError::Conflict(format!(
                "{}'s cash for {day} was closed already; a manager can see its count with `malipo cash status`",
                drawer.clerk
            )));
        }
        sqlx::query(
            "INSERT INTO cash_ups (clerk_id, day, currency, expected_minor, counted_minor,
                                   denominations, closed_at, closed_by)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(clerk_id)
        .bind(day_number(day))
        .bind(counted.currency().code())
        .bind(drawer.expected.minor())
        .bind(counted.minor())
        .bind(denominations)
        .bind(to_ms(now))
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        let record = cash_up_in(&mut tx, clerk_id, day, counted.currency())
            .await?
            .ok_or_else(|| StoreError::Corrupt("a cash-up just written is missing".into()))?;
        audit::record(
            &mut tx,
            now,
            Change {
                actor,
                action: "cash.close",
                entity: "cash_up",
                entity_id: format!("{}:{day}", drawer.clerk),
                before: None,
                after: Some(cash_up_snapshot(&record)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// A manager signs off a closed drawer (once).
    pub async fn sign_off_cash_up(
        &self,
        actor: &str,
        clerk_id: i64,
        day: Date,
        currency: Currency,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<CashUpRecord> {
        let mut tx = self.begin_write().await?;
        let Some(before) = cash_up_in(&mut tx, clerk_id, day, currency).await? else {
            return Err(StoreError::NotFound(format!(
                "a closed {currency} drawer for user {clerk_id} on {day}"
            )));
        };
        if let Some(by) = &before.signed_off_by {
            return Err(StoreError::Conflict(format!(
                "{}'s cash for {day} was signed off by {by} already",
                before.clerk
            )));
        }
        sqlx::query(
            "UPDATE cash_ups SET signed_off_by = ?, signed_off_at = ?, sign_off_note = ?
             WHERE clerk_id = ? AND day = ? AND currency = ? AND signed_off_at IS NULL",
        )
        .bind(actor)
        .bind(to_ms(now))
        .bind(note)
        .bind(clerk_id)
        .bind(day_number(day))
        .bind(currency.code())
        .execute(&mut *tx)
        .await?;
        let after = cash_up_in(&mut tx, clerk_id, day, currency)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a cash-up went missing".into()))?;
        audit::record(
            &mut tx,
            now,
            Change {
                actor,
                action: "cash.sign_off",
                entity: "cash_up",
                entity_id: format!("{}:{day}", after.clerk),
                before: Some(cash_up_snapshot(&before)),
                after: Some(cash_up_snapshot(&after)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Cash-ups from `from` to `to` (both included), newest first.
    pub async fn cash_ups(&self, from: Date, to: Date) -> Result<Vec<CashUpRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_CASH_UP} WHERE c.day BETWEEN ? AND ? ORDER BY c.day DESC, u.username"
        )))
        .bind(day_number(from))
        .bind(day_number(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(cash_up_from_row).collect()
    }

    /// How many closed drawers wait for a manager's sign-off.
    pub async fn cash_ups_unsigned(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM cash_ups WHERE signed_off_at IS NULL")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The office's cash in `currency`: in, out, banked, and still here.
    pub async fn cash_position(&self, currency: Currency) -> Result<CashPosition> {
        let mut conn = self.pool.acquire().await?;
        cash_position_in(&mut conn, currency).await
    }

    /// Records cash taken to the bank. More than the office holds is refused (a deposit is of
    /// cash received here), and a bank reference is recorded once.
    pub async fn record_deposit(
        &self,
        actor: &str,
        amount: Money,
        bank_ref: &str,
        now: OffsetDateTime,
    ) -> Result<DepositRecord> {
        let mut tx = self.begin_write().await?;
        let position = cash_position_in(&mut tx, amount.currency()).await?;
        if amount.minor() > position.undeposited.minor() {
            return Err(StoreError::Conflict(format!(
                "{amount} is more than the {} cash not yet deposited; check the amount on the slip",
                position.undeposited
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO cash_deposits (amount_minor, currency, bank_ref, made_by, made_at, day)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(amount.minor())
        .bind(amount.currency().code())
        .bind(bank_ref)
        .bind(actor)
        .bind(to_ms(now))
        .bind(day_number(nairobi_date(now)))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| crate::unique_violation(e, || format!("bank reference {bank_ref}")))?;
        audit::record(
            &mut tx,
            now,
            Change {
                actor,
                action: "cash.deposit",
                entity: "cash_deposit",
                entity_id: id.to_string(),
                before: None,
                after: Some(json!({
                    "amount_minor": amount.minor(),
                    "currency": amount.currency().code(),
                    "bank_ref": bank_ref,
                })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(DepositRecord {
            id,
            amount,
            bank_ref: bank_ref.to_owned(),
            made_by: actor.to_owned(),
            made_at: now,
        })
    }

    /// The latest deposits, newest first.
    pub async fn deposits(&self, limit: i64) -> Result<Vec<DepositRecord>> {
        let rows = sqlx::query("SELECT * FROM cash_deposits ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DepositRecord {
                    id: r.get("id"),
                    amount: crate::policies::money_from_row(r, "amount_minor")?,
                    bank_ref: r.get("bank_ref"),
                    made_by: r.get("made_by"),
                    made_at: from_ms(r.get("made_at")),
                })
            })
            .collect()
    }
}

async fn cash_position_in(conn: &mut SqliteConnection, currency: Currency) -> Result<CashPosition> {
    let received: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT coalesce(sum(amount_minor), 0) FROM transactions
         WHERE method = 'cash' AND currency = ? AND status IN {PAID}"
    )))
    .bind(currency.code())
    .fetch_one(&mut *conn)
    .await?;
    let paid_out: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(r.amount_minor), 0) FROM refunds r
         JOIN transactions t ON t.id = r.transaction_id
         WHERE t.method = 'cash' AND r.status = 'processed' AND r.currency = ?",
    )
    .bind(currency.code())
    .fetch_one(&mut *conn)
    .await?;
    let deposited: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(amount_minor), 0) FROM cash_deposits WHERE currency = ?",
    )
    .bind(currency.code())
    .fetch_one(&mut *conn)
    .await?;
    let money = |minor: i64| {
        Money::from_minor(minor.max(0), currency)
            .map_err(|e| StoreError::Corrupt(format!("cash position: {e}")))
    };
    Ok(CashPosition {
        received: money(received)?,
        paid_out: money(paid_out)?,
        deposited: money(deposited)?,
        undeposited: money(received - paid_out - deposited)?,
    })
}
