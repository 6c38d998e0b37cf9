//! Collection instructions: how a policy's premiums are collected without anyone at the
//! counter, with the holder's consent on record. Every change is audited.

use serde_json::json;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::{Date, OffsetDateTime};

use malipo_domain::PolicyStatus;
use malipo_domain::schedule::InstalmentState;
use malipo_domain::time_zone::{from_ms, to_ms};

use crate::audit::{self, Change};
use crate::policies::policy_states;
use crate::{Result, Store, StoreError, parse_col};

/// A policy the collector may act for: its instruction, its status in the register and its
/// instalments as they stand on the day asked about.
#[derive(Debug, Clone)]
pub struct Collectable {
    pub policy_id: i64,
    pub number: String,
    pub holder: String,
    pub email: Option<String>,
    pub status: PolicyStatus,
    pub instruction: Instruction,
    pub states: Vec<InstalmentState>,
}

/// What came of one try at an instalment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Charged,
    Prompted,
    Failed,
    /// No clear answer: the payment is asked about like any other.
    Pending,
    /// Another counter of the company holds this instalment's try today.
    Elsewhere,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Charged => "charged",
            AttemptOutcome::Prompted => "prompted",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Pending => "pending",
            AttemptOutcome::Elsewhere => "elsewhere",
        }
    }
}

/// A policy's collection instruction as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub policy_number: String,
    /// `none`, `card`, `mpesa_prompt` or `ratiba`.
    pub kind: String,
    pub card_email: Option<String>,
    pub card_last4: Option<String>,
    pub phone: Option<String>,
    pub consent_by: Option<String>,
    pub consent_how: Option<String>,
    pub consent_text: Option<String>,
    pub consent_at: Option<OffsetDateTime>,
    pub stopped_reason: Option<String>,
    pub updated_by: String,
    pub updated_at: OffsetDateTime,
}

/// An instruction as a person sets it (the consent fields are required unless `kind` is
/// `none`; the database refuses it otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstruction<'a> {
    pub kind: &'a str,
    pub card_email: Option<&'a str>,
    pub card_last4: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub consent_how: Option<&'a str>,
    pub consent_text: Option<&'a str>,
    pub stopped_reason: Option<&'a str>,
}

fn from_row(r: &SqliteRow) -> Instruction {
    Instruction {
        policy_number: r.get("number"),
        kind: r.get("kind"),
        card_email: r.get("card_email"),
        card_last4: r.get("card_last4"),
        phone: r.get("phone"),
        consent_by: r.get("consent_by"),
        consent_how: r.get("consent_how"),
        consent_text: r.get("consent_text"),
        consent_at: r.get::<Option<i64>, _>("consent_at").map(from_ms),
        stopped_reason: r.get("stopped_reason"),
        updated_by: r.get("updated_by"),
        updated_at: from_ms(r.get("updated_at")),
    }
}

fn snapshot(i: &Instruction) -> serde_json::Value {
    json!({
        "kind": i.kind,
        "card_last4": i.card_last4,
        "phone": i.phone,
        "consent_by": i.consent_by,
        "consent_how": i.consent_how,
        "consent_text": i.consent_text,
        "stopped_reason": i.stopped_reason,
    })
}

const SELECT: &str = "SELECT c.*, p.number FROM collection_instructions c
     JOIN policies p ON p.id = c.policy_id";

async fn read_in(tx: &mut sqlx::SqliteConnection, policy_id: i64) -> Result<Option<Instruction>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE c.policy_id = ?"
    )))
    .bind(policy_id)
    .fetch_optional(tx)
    .await?;
    Ok(row.as_ref().map(from_row))
}

impl Store {
    /// Every policy whose instruction is `card` or `mpesa_prompt` and which has an instalment
    /// due from `from` to `today` (both included), with all its instalments as they stand on
    /// `today` (payments of every counter of the company counted, as in the schedule).
    pub async fn collectable(&self, from: Date, today: Date) -> Result<Vec<Collectable>> {
        let rows = sqlx::query(
            "WITH due AS (
                 SELECT DISTINCT i.policy_id FROM instalments i
                 JOIN collection_instructions c ON c.policy_id = i.policy_id
                 WHERE i.due_date BETWEEN ?1 AND ?2 AND c.kind IN ('card', 'mpesa_prompt'))
             SELECT c.*, p.id, p.number, p.holder, p.email, p.status AS policy_status,
                    i.seq, i.due_date, i.amount_minor, i.currency,
                    coalesce((SELECT sum(t.amount_minor - t.refunded_minor) FROM policy_payments t
                              WHERE t.policy_number = p.number AND t.currency = i.currency
                                AND t.status IN ('succeeded', 'partially_refunded')), 0) AS paid
             FROM due JOIN policies p ON p.id = due.policy_id
             JOIN collection_instructions c ON c.policy_id = p.id
             JOIN instalments i ON i.policy_id = p.id
             ORDER BY p.id, i.due_date, i.seq",
        )
        .bind(from.to_string())
        .bind(today.to_string())
        .fetch_all(&self.pool)
        .await?;
        policy_states(&rows, today)?
            .into_iter()
            .map(|(r, states)| {
                Ok(Collectable {
                    policy_id: r.get("id"),
                    number: r.get("number"),
                    holder: r.get("holder"),
                    email: r.get("email"),
                    status: parse_col(r.get::<&str, _>("policy_status"), "policies.status")?,
                    instruction: from_row(r),
                    states,
                })
            })
            .collect()
    }

    /// Records that the collector is trying instalment `seq` (due `due`) of policy `policy_id`
    /// on office day `day`. `None` when it was tried that day already: at most one try a day.
    pub async fn begin_attempt(
        &self,
        policy_id: i64,
        seq: u32,
        due: Date,
        day: Date,
        kind: &str,
        now: OffsetDateTime,
    ) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let id = sqlx::query(
            "INSERT INTO collection_attempts (policy_id, seq, due_date, day, kind, outcome,
                 created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, 'trying', ?, ?)
             ON CONFLICT (policy_id, seq, day) DO NOTHING RETURNING id",
        )
        .bind(policy_id)
        .bind(seq)
        .bind(due.to_string())
        .bind(day.to_string())
        .bind(kind)
        .bind(to_ms(now))
        .bind(to_ms(now))
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.get::<i64, _>("id"));
        tx.commit().await?;
        Ok(id)
    }

    /// Whether instalment `seq` of policy `policy_id` was tried on office day `day`.
    pub async fn collection_tried(&self, policy_id: i64, seq: u32, day: Date) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM collection_attempts WHERE policy_id = ? AND seq = ? AND day = ?",
        )
        .bind(policy_id)
        .bind(seq)
        .bind(day.to_string())
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Ties payment `transaction_id` to try `attempt`, and marks the payment as collected by
    /// the attempt's kind, before anything is asked of the provider.
    pub async fn attach_attempt(&self, attempt: i64, transaction_id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE collection_attempts SET transaction_id = ? WHERE id = ?")
            .bind(transaction_id)
            .bind(attempt)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE transactions SET collected_by =
                 (SELECT kind FROM collection_attempts WHERE id = ?) WHERE id = ?",
        )
        .bind(attempt)
        .bind(transaction_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records what came of try `attempt`.
    pub async fn end_attempt(
        &self,
        attempt: i64,
        outcome: AttemptOutcome,
        detail: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE collection_attempts SET outcome = ?, detail = ?, updated_at = ? WHERE id = ?",
        )
        .bind(outcome.as_str())
        .bind(detail)
        .bind(to_ms(now))
        .bind(attempt)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The collection instruction of policy `policy_id` (none recorded: reminders only).
    pub async fn instruction(&self, policy_id: i64) -> Result<Option<Instruction>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE c.policy_id = ?"
        )))
        .bind(policy_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(from_row))
    }

    /// The instructions the collector stopped (a card Paystack said is gone) from `from_ms` up
    /// to `to_ms`, by policy number.
    pub async fn collections_stopped(&self, from_ms: i64, to_ms: i64) -> Result<Vec<Instruction>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE c.kind = 'none' AND c.updated_by = 'collector'
               AND c.updated_at >= ? AND c.updated_at < ? ORDER BY p.number"
        )))
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// Every policy with an instruction of `kind`, by policy number.
    pub async fn instructions(&self, kind: &str) -> Result<Vec<Instruction>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE c.kind = ? ORDER BY p.number"
        )))
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// Sets policy `policy_id`'s instruction, consent recorded as given by `actor` now; the
    /// change and what it replaced go in the audit log.
    pub async fn set_instruction(
        &self,
        actor: &str,
        policy_id: i64,
        new: &NewInstruction<'_>,
        now: OffsetDateTime,
    ) -> Result<Instruction> {
        let mut tx = self.begin_write().await?;
        let before = read_in(&mut tx, policy_id).await?;
        let consented = new.kind != "none";
        sqlx::query(
            "INSERT INTO collection_instructions (policy_id, kind, card_email, card_last4, phone,
                 consent_by, consent_how, consent_text, consent_at, stopped_reason, updated_by,
                 updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (policy_id) DO UPDATE SET kind = excluded.kind,
                 card_email = excluded.card_email, card_last4 = excluded.card_last4,
                 phone = excluded.phone, consent_by = excluded.consent_by,
                 consent_how = excluded.consent_how, consent_text = excluded.consent_text,
                 consent_at = excluded.consent_at, stopped_reason = excluded.stopped_reason,
                 updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(policy_id)
        .bind(new.kind)
        .bind(new.card_email)
        .bind(new.card_last4)
        .bind(new.phone)
        .bind(consented.then_some(actor))
        .bind(new.consent_how.filter(|_| consented))
        .bind(new.consent_text.filter(|_| consented))
        .bind(consented.then(|| to_ms(now)))
        .bind(new.stopped_reason)
        .bind(actor)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.message().contains("CHECK") => StoreError::Refused(
                "a collection instruction needs the holder's consent: who took it, how and when",
            ),
            other => other.into(),
        })?;
        let after = read_in(&mut tx, policy_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("an instruction just written is missing".into()))?;
        audit::record(
            &mut tx,
            now,
            Change {
                actor,
                action: if consented {
                    "collection.set"
                } else {
                    "collection.stop"
                },
                entity: "policy",
                entity_id: after.policy_number.clone(),
                before: before.as_ref().map(snapshot),
                after: Some(snapshot(&after)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}
