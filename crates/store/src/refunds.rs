//! Refunds: each change goes through the refund state machine and is written with its audit
//! line in one write transaction; a refund that becomes processed moves its payment to
//! `partially_refunded` or `refunded` in that same transaction.

use serde_json::{Value, json};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

use malipo_domain::refund::{self, RefundError, RefundEvent, RefundStatus};
use malipo_domain::time_zone::{from_ms, to_ms};
use malipo_domain::{Currency, Desk, Money, TxEvent};

use crate::audit::{self, Change};
use crate::transactions::{ProviderDetails, TransactionRecord, TxKey, apply_in, fetch};
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub id: i64,
    pub transaction_id: i64,
    /// The payment's number, e.g. `HQ-000042`.
    pub transaction_number: String,
    /// The policy the payment was for, and its holder.
    pub policy_number: String,
    pub holder: String,
    pub amount: Money,
    pub reason: String,
    pub status: RefundStatus,
    pub requested_by: String,
    pub decided_by: Option<String>,
    /// A rejection's reason, or how an approval by its requester was allowed.
    pub decision_note: Option<String>,
    pub provider_ref: Option<String>,
    pub failure_reason: Option<String>,
    /// When an approval handed it to the provider (whatever the provider answered).
    pub sent_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What a claim to send a refund found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendClaim {
    /// This approval sends it: nobody has before.
    Mine,
    /// It was handed to the provider at this instant already.
    SentBefore(OffsetDateTime),
}

/// What the provider said with a refund event.
#[derive(Debug, Clone, Default)]
pub struct RefundDetails {
    pub provider_ref: Option<String>,
    pub failure_reason: Option<String>,
    /// Why the decision was made: a rejection's reason, or how an approval was allowed.
    pub decision_note: Option<String>,
}

const SELECT_REFUND: &str = "SELECT r.*, t.number AS transaction_number,
        p.number AS policy_number, p.holder
    FROM refunds r
    JOIN transactions t ON t.id = r.transaction_id
    JOIN policies p ON p.id = t.policy_id";

fn refund_from_row(r: &SqliteRow) -> Result<RefundRecord> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("refund {what}"));
    let currency = Currency::from_code(r.get("currency")).map_err(|_| corrupt("currency"))?;
    Ok(RefundRecord {
        id: r.get("id"),
        transaction_id: r.get("transaction_id"),
        transaction_number: r.get("transaction_number"),
        policy_number: r.get("policy_number"),
        holder: r.get("holder"),
        amount: Money::from_minor(r.get("amount_minor"), currency)
            .map_err(|_| corrupt("amount"))?,
        reason: r.get("reason"),
        status: r
            .get::<&str, _>("status")
            .parse()
            .map_err(|_| corrupt("status"))?,
        requested_by: r.get("requested_by"),
        decided_by: r.get("decided_by"),
        decision_note: r.get("decision_note"),
        provider_ref: r.get("provider_ref"),
        failure_reason: r.get("failure_reason"),
        sent_at: r.get::<Option<i64>, _>("sent_at").map(from_ms),
        created_at: from_ms(r.get("created_at")),
        updated_at: from_ms(r.get("updated_at")),
    })
}

fn snapshot(r: &RefundRecord) -> Value {
    json!({
        "transaction": r.transaction_number,
        "reason": r.reason,
        "status": r.status.as_str(),
        "amount_minor": r.amount.minor(),
        "currency": r.amount.currency().code(),
        "provider_ref": r.provider_ref,
        "failure_reason": r.failure_reason,
        "decided_by": r.decided_by,
        "decision_note": r.decision_note,
    })
}

async fn fetch_refund(conn: &mut SqliteConnection, id: i64) -> Result<RefundRecord> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT_REFUND} WHERE r.id = ?"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(r) => refund_from_row(&r),
        None => Err(StoreError::NotFound(format!("refund {id}"))),
    }
}

/// Every refund of a payment as (status, amount), for the amount rules.
async fn earlier(
    conn: &mut SqliteConnection,
    transaction_id: i64,
) -> Result<Vec<(RefundStatus, Money)>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT_REFUND} WHERE r.transaction_id = ?"
    )))
    .bind(transaction_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| refund_from_row(r).map(|x| (x.status, x.amount)))
        .collect()
}

impl From<RefundError> for StoreError {
    fn from(e: RefundError) -> StoreError {
        StoreError::Refund(e)
    }
}

impl Store {
    /// Records a refund request for the payment `key`, refused when the payment is not paid
    /// or when it would take the refunds past what was paid.
    pub async fn request_refund(
        &self,
        actor: &str,
        key: &TxKey,
        amount: Money,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<RefundRecord> {
        let mut tx = self.begin_write().await?;
        let payment = fetch(&mut tx, key).await?;
        if !payment.status.is_paid() {
            return Err(RefundError::NotPaid.into());
        }
        let before = earlier(&mut tx, payment.id).await?;
        refund::check_amount(payment.amount, &before, amount)?;
        let id: i64 = sqlx::query(
            "INSERT INTO refunds (transaction_id, amount_minor, currency, reason, status,
                                  requested_by, created_at, updated_at)
             VALUES (?, ?, ?, ?, 'requested', ?, ?, ?) RETURNING id",
        )
        .bind(payment.id)
        .bind(amount.minor())
        .bind(amount.currency().code())
        .bind(reason)
        .bind(actor)
        .bind(to_ms(now))
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await?
        .get("id");
        let record = fetch_refund(&mut tx, id).await?;
        audit::record(
            &mut tx,
            now,
            Change {
                actor,
                action: "refund.request",
                entity: "refund",
                entity_id: id.to_string(),
                before: None,
                after: Some(snapshot(&record)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Moves a refund through its state machine. When it becomes processed, its payment's
    /// refunded total moves with it (to `partially_refunded` or `refunded`). Returns the
    /// refund, whether it changed, and the payment as it stands.
    pub async fn refund_event(
        &self,
        actor: &str,
        id: i64,
        office: &Desk,
        event: RefundEvent,
        details: &RefundDetails,
        now: OffsetDateTime,
    ) -> Result<(RefundRecord, bool, TransactionRecord)> {
        let mut tx = self.begin_write().await?;
        let done = refund_in(&mut tx, actor, id, office, event, details, now).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Claims the sending of approved refund `id` for this approval: only one approval ever
    /// hands a refund to the provider, whatever happens to its answer. The claim is written
    /// before the request goes out.
    pub async fn claim_refund_send(&self, id: i64, now: OffsetDateTime) -> Result<SendClaim> {
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(
            "UPDATE refunds SET sent_at = ? WHERE id = ? AND status = 'approved' AND sent_at IS NULL",
        )
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let claim = if claimed == 1 {
            SendClaim::Mine
        } else {
            let at: Option<i64> = sqlx::query_scalar("SELECT sent_at FROM refunds WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("refund {id}")))?;
            match at {
                Some(at) => SendClaim::SentBefore(from_ms(at)),
                None => {
                    return Err(StoreError::Refused(
                        "only an approved refund can be sent to the provider",
                    ));
                }
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// Gives up the claim on sending refund `id`: the provider certainly did not get it.
    pub async fn release_refund_send(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE refunds SET sent_at = NULL WHERE id = ? AND status = 'approved'")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every refund of payment `transaction_id`, oldest first.
    pub async fn refunds_of(&self, transaction_id: i64) -> Result<Vec<RefundRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_REFUND} WHERE r.transaction_id = ? ORDER BY r.id"
        )))
        .bind(transaction_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(refund_from_row).collect()
    }

    pub async fn refund(&self, id: i64) -> Result<RefundRecord> {
        let mut conn = self.pool.acquire().await?;
        fetch_refund(&mut conn, id).await
    }

    /// Refunds, newest first; only those in `status` when given.
    pub async fn refunds(
        &self,
        status: Option<RefundStatus>,
        limit: i64,
    ) -> Result<Vec<RefundRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_REFUND} WHERE (? IS NULL OR r.status = ?) ORDER BY r.id DESC LIMIT ?"
        )))
        .bind(status.map(|s| s.as_str()))
        .bind(status.map(|s| s.as_str()))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(refund_from_row).collect()
    }

    /// The refund the provider knows by `provider_ref`.
    pub async fn refund_by_provider_ref(&self, provider_ref: &str) -> Result<Option<RefundRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_REFUND} WHERE r.provider_ref = ?"
        )))
        .bind(provider_ref)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(refund_from_row).transpose()
    }
}

/// [`Store::refund_event`] inside the caller's write transaction.
pub(crate) async fn refund_in(
    tx: &mut SqliteConnection,
    actor: &str,
    id: i64,
    office: &Desk,
    event: RefundEvent,
    details: &RefundDetails,
    now: OffsetDateTime,
) -> Result<(RefundRecord, bool, TransactionRecord)> {
    let before = fetch_refund(&mut *tx, id).await?;
    let Some(to) = refund::transition(before.status, event)? else {
        let payment = fetch(&mut *tx, &TxKey::Id(before.transaction_id)).await?;
        return Ok((before, false, payment));
    };
    let decided = matches!(event, RefundEvent::Approve | RefundEvent::Reject);
    sqlx::query(
        "UPDATE refunds SET status = ?, provider_ref = coalesce(?, provider_ref),
                failure_reason = coalesce(?, failure_reason),
                decision_note = coalesce(?, decision_note),
                decided_by = CASE WHEN ? THEN ? ELSE decided_by END, updated_at = ?
         WHERE id = ?",
    )
    .bind(to.as_str())
    .bind(&details.provider_ref)
    .bind(&details.failure_reason)
    .bind(&details.decision_note)
    .bind(decided)
    .bind(actor)
    .bind(to_ms(now))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let after = fetch_refund(&mut *tx, id).await?;
    audit::record(
        &mut *tx,
        now,
        Change {
            actor,
            action: "refund.status",
            entity: "refund",
            entity_id: id.to_string(),
            before: Some(snapshot(&before)),
            after: Some(snapshot(&after)),
        },
    )
    .await?;
    let key = TxKey::Id(before.transaction_id);
    let payment = if to == RefundStatus::Processed {
        let processed = earlier(&mut *tx, before.transaction_id)
            .await?
            .into_iter()
            .filter(|(s, _)| *s == RefundStatus::Processed)
            .try_fold(Money::zero(before.amount.currency()), |sum, (_, m)| {
                sum.checked_add(m)
            })
            .map_err(RefundError::from)?;
        let event = TxEvent::Refunded {
            refunded_total: processed,
        };
        apply_in(
            &mut *tx,
            actor,
            &key,
            office,
            event,
            &ProviderDetails::default(),
            now,
        )
        .await?
        .0
    } else {
        fetch(&mut *tx, &key).await?
    };
    Ok((after, true, payment))
}

/// The refund of payment `transaction_id` a provider's refund event for `amount` is about:
/// one with that amount that was sent, preferring one not yet final (a repeated event about a
/// final one then changes nothing).
pub(crate) async fn awaiting(
    conn: &mut SqliteConnection,
    transaction_id: i64,
    amount: Money,
) -> Result<Option<i64>> {
    Ok(sqlx::query(
        "SELECT id FROM refunds WHERE transaction_id = ? AND amount_minor = ? AND currency = ?
           AND status IN ('approved', 'processing', 'processed', 'failed')
         ORDER BY status IN ('approved', 'processing') DESC, id LIMIT 1",
    )
    .bind(transaction_id)
    .bind(amount.minor())
    .bind(amount.currency().code())
    .fetch_optional(conn)
    .await?
    .map(|r| r.get("id")))
}
