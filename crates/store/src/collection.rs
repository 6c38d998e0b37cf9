//! Collection instructions: how a policy's premiums are collected without anyone at the
//! counter, with the holder's consent on record. Every change is audited.

use serde_json::json;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use malipo_domain::time_zone::{from_ms, to_ms};

use crate::audit::{self, Change};
use crate::{Result, Store, StoreError};

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
