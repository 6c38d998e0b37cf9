//! Paybill payments: recorded once per M-Pesa code, only after Safaricom's Transaction Status
//! has confirmed the code, and the record of what Transaction Status was asked and answered.
//!
//! The unique index on `provider_receipt` for method `paybill` is what makes "once": a
//! confirmation pulled from the relay, a code typed at the counter and a suspense allocation
//! all insert through [`record_paybill_in`], and the second of any two finds the first.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

use malipo_domain::time_zone::{from_ms, nairobi_date, to_ms};
use malipo_domain::transaction::Outcome;
use malipo_domain::{Desk, Money, ProviderReference, Source, TxEvent, TxNumber};

use crate::audit::{self, Change};
use crate::policies::PolicyRecord;
use crate::transactions::{
    ProviderDetails, TransactionRecord, TxKey, apply_in, day_number, fetch, next_in_sequence,
    snapshot,
};
use crate::{Result, Store, StoreError};

/// A paybill payment Safaricom confirmed, about to be recorded against a policy.
#[derive(Debug, Clone)]
pub struct NewPaybill {
    /// The counter recording it: the prefix of its numbers.
    pub desk: Desk,
    pub policy_id: i64,
    pub amount: Money,
    /// The M-Pesa code (`TransID`, Transaction Status's `ReceiptNo`).
    pub trans_id: String,
    /// The payer's name as Safaricom gives it.
    pub payer: Option<String>,
    /// The payer's number as Safaricom gives it (masked in current callbacks).
    pub msisdn: Option<String>,
    /// When the customer paid; a time in the future is taken as now.
    pub paid_at: OffsetDateTime,
    /// The clerk who typed the code or allocated it, if one did.
    pub clerk_id: Option<i64>,
    /// A fresh reference for the relay's ledger.
    pub reference: ProviderReference,
}

/// What Transaction Status was asked and answered about one M-Pesa code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaybillCheck {
    pub trans_id: String,
    /// The policy a clerk named when typing the code, and the clerk.
    pub policy_number: Option<String>,
    pub clerk_id: Option<i64>,
    pub asked_at: OffsetDateTime,
    /// When it may be asked again if no answer came.
    pub next_ask_at: OffsetDateTime,
    pub attempts: i64,
    /// The last answer that only said Safaricom could not look (a queue timeout).
    pub last_problem: Option<String>,
    pub answered_at: Option<OffsetDateTime>,
    /// Whether Safaricom found the code (when answered).
    pub found: Option<bool>,
    /// Safaricom's answer as it was posted.
    pub answer: Option<String>,
}

fn check_from_row(r: &SqliteRow) -> PaybillCheck {
    PaybillCheck {
        trans_id: r.get("trans_id"),
        policy_number: r.get("policy_number"),
        clerk_id: r.get("clerk_id"),
        asked_at: from_ms(r.get("asked_at")),
        next_ask_at: from_ms(r.get("next_ask_at")),
        attempts: r.get("attempts"),
        last_problem: r.get("last_problem"),
        answered_at: r.get::<Option<i64>, _>("answered_at").map(from_ms),
        found: r.get::<Option<i64>, _>("found").map(|f| f == 1),
        answer: r.get("answer"),
    }
}

/// Records a confirmed paybill payment inside the caller's transaction: a new payment with the
/// counter's next number, moved to `succeeded` with a receipt number, each step audited. A code
/// recorded before gives [`StoreError::Duplicate`].
pub(crate) async fn record_paybill_in(
    tx: &mut SqliteConnection,
    actor: &str,
    new: &NewPaybill,
    now: OffsetDateTime,
) -> Result<TransactionRecord> {
    let already = sqlx::query(
        "SELECT number FROM transactions WHERE method = 'paybill' AND provider_receipt = ?",
    )
    .bind(&new.trans_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = already {
        return Err(StoreError::Duplicate(format!(
            "M-Pesa code {} (recorded as {})",
            new.trans_id,
            row.get::<String, _>("number")
        )));
    }
    let paid_at = new.paid_at.min(now);
    let seq = next_in_sequence(&mut *tx, &format!("tx:{}", new.desk)).await?;
    let number = TxNumber::new(new.desk.clone(), seq).to_string();
    let id: i64 = sqlx::query(
        "INSERT INTO transactions
           (number, reference, policy_id, method, status, amount_minor, currency, phone,
            provider_receipt, payer, clerk_id, created_at, updated_at, day)
         VALUES (?, ?, ?, 'paybill', 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&number)
    .bind(new.reference.as_str())
    .bind(new.policy_id)
    .bind(new.amount.minor())
    .bind(new.amount.currency().code())
    .bind(new.msisdn.as_deref().filter(|m| !m.is_empty()))
    .bind(&new.trans_id)
    .bind(new.payer.as_deref().filter(|p| !p.is_empty()))
    .bind(new.clerk_id)
    .bind(to_ms(paid_at))
    .bind(to_ms(now))
    .bind(day_number(nairobi_date(paid_at)))
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| crate::unique_violation(e, || format!("M-Pesa code {}", new.trans_id)))?
    .get("id");
    let created = fetch(&mut *tx, &TxKey::Id(id)).await?;
    audit::record(
        &mut *tx,
        now,
        Change {
            actor,
            action: "transaction.create",
            entity: "transaction",
            entity_id: number,
            before: None,
            after: Some(snapshot(&created)),
        },
    )
    .await?;
    let paid = TxEvent::Paid {
        paid: new.amount,
        source: Source::Query,
    };
    let (after, outcome) = apply_in(
        &mut *tx,
        actor,
        &TxKey::Id(id),
        &new.desk,
        paid,
        &ProviderDetails::default(),
        now,
    )
    .await?;
    debug_assert!(matches!(outcome, Outcome::Moved { .. }));
    Ok(after)
}

impl Store {
    /// Records a confirmed paybill payment (a code typed at the counter, or allocated from the
    /// suspense list). A code recorded before gives [`StoreError::Duplicate`].
    pub async fn record_paybill(
        &self,
        actor: &str,
        new: &NewPaybill,
        now: OffsetDateTime,
    ) -> Result<TransactionRecord> {
        let mut tx = self.begin_write().await?;
        let record = record_paybill_in(&mut tx, actor, new, now).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Paybill payments recorded since `since` (by when they were recorded), newest first.
    pub async fn recent_paybill(
        &self,
        since: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<TransactionRecord>> {
        let rows = sqlx::query(crate::transactions::select_tx_where(
            "t.method = 'paybill' AND t.updated_at >= ? ORDER BY t.id DESC LIMIT ?",
        ))
        .bind(to_ms(since))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(crate::transactions::tx_from_row).collect()
    }

    /// The paybill payment recorded here with this M-Pesa code.
    pub async fn paybill_by_code(&self, trans_id: &str) -> Result<Option<TransactionRecord>> {
        let row = sqlx::query(crate::transactions::select_tx_where(
            "t.method = 'paybill' AND t.provider_receipt = ?",
        ))
        .bind(trans_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(crate::transactions::tx_from_row)
            .transpose()
    }

    /// An M-Pesa prompt payment of `amount` for this policy since `since` that Safaricom
    /// confirmed without giving its code: a code typed at the counter for the same amount may
    /// be that payment.
    pub async fn unreceipted_mpesa(
        &self,
        policy_id: i64,
        amount: Money,
        since: OffsetDateTime,
    ) -> Result<Option<TransactionRecord>> {
        let row = sqlx::query(crate::transactions::select_tx_where(
            "t.policy_id = ? AND t.method = 'mpesa' AND t.provider_receipt IS NULL
               AND t.amount_minor = ? AND t.currency = ? AND t.created_at >= ?
               AND t.status IN ('succeeded', 'partially_refunded', 'refunded', 'needs_review')
             ORDER BY t.created_at DESC LIMIT 1",
        ))
        .bind(policy_id)
        .bind(amount.minor())
        .bind(amount.currency().code())
        .bind(to_ms(since))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(crate::transactions::tx_from_row)
            .transpose()
    }

    /// Policies whose number is `account` as a customer might type it (case, spaces, hyphens,
    /// slashes, dots, underscores and backslashes aside).
    pub async fn policies_by_account(&self, account_key: &str) -> Result<Vec<PolicyRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM policies WHERE {} = ? ORDER BY number LIMIT 10",
            crate::policies::ACCOUNT_KEY
        )))
        .bind(account_key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(crate::policies::policy_from_row).collect()
    }

    /// What Transaction Status was asked and answered about `trans_id`.
    pub async fn paybill_check(&self, trans_id: &str) -> Result<Option<PaybillCheck>> {
        Ok(
            sqlx::query("SELECT * FROM paybill_checks WHERE trans_id = ?")
                .bind(trans_id)
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(check_from_row),
        )
    }

    /// Notes that Transaction Status was asked about `trans_id` (Daraja accepted the query
    /// with these ids, or `None` when it could not be asked), and that it may be asked again
    /// from `next_ask_at`. A policy named by a clerk (`(number, clerk id)`) is kept.
    pub async fn note_paybill_ask(
        &self,
        trans_id: &str,
        policy: Option<(&str, Option<i64>)>,
        ids: Option<(&str, &str)>,
        now: OffsetDateTime,
        next_ask_at: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO paybill_checks (trans_id, policy_number, clerk_id, asked_at, next_ask_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (trans_id) DO UPDATE SET
                 policy_number = coalesce(excluded.policy_number, policy_number),
                 clerk_id = coalesce(excluded.clerk_id, clerk_id),
                 asked_at = excluded.asked_at, next_ask_at = excluded.next_ask_at,
                 attempts = attempts + 1",
        )
        .bind(trans_id)
        .bind(policy.map(|p| p.0))
        .bind(policy.and_then(|p| p.1))
        .bind(to_ms(now))
        .bind(to_ms(next_ask_at))
        .execute(&mut *tx)
        .await?;
        if let Some((conversation, originator)) = ids {
            sqlx::query(
                "INSERT INTO paybill_asks (conversation_id, originator_conversation_id, trans_id,
                     asked_at)
                 VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(conversation)
            .bind(originator)
            .bind(trans_id)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The M-Pesa code a Transaction Status answer is about, by the ids Daraja gave the query.
    pub async fn paybill_ask(
        &self,
        conversation_id: &str,
        originator_conversation_id: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query(
            "SELECT trans_id FROM paybill_asks
             WHERE conversation_id = ? OR originator_conversation_id = ? LIMIT 1",
        )
        .bind(conversation_id)
        .bind(originator_conversation_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.get("trans_id")))
    }

    /// Keeps Safaricom's answer about `trans_id`: found or not, and the body as posted. The
    /// first answer stands; a later one (a repeated result) changes nothing.
    pub async fn answer_paybill_check(
        &self,
        trans_id: &str,
        found: bool,
        answer: &str,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE paybill_checks SET answered_at = ?, found = ?, answer = ?
             WHERE trans_id = ? AND answered_at IS NULL",
        )
        .bind(to_ms(now))
        .bind(found)
        .bind(answer)
        .bind(trans_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Notes an answer that only says Safaricom could not look (a queue timeout, a busy
    /// system): the code is asked again from `next_ask_at`.
    pub async fn paybill_check_problem(
        &self,
        trans_id: &str,
        why: &str,
        next_ask_at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE paybill_checks SET last_problem = ?, next_ask_at = min(next_ask_at, ?)
             WHERE trans_id = ? AND answered_at IS NULL",
        )
        .bind(why)
        .bind(to_ms(next_ask_at))
        .bind(trans_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
