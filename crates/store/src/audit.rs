//! The append-only audit log. Entries are written by the store's own write paths, inside the
//! same database transaction as the change they describe.

use serde_json::Value;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

use malipo_domain::time_zone::{from_ms, to_ms};

use crate::{Result, Store};

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: i64,
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub(crate) struct Change<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub(crate) async fn record(
    conn: &mut SqliteConnection,
    at: OffsetDateTime,
    change: Change<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(to_ms(at))
    .bind(change.actor)
    .bind(change.action)
    .bind(change.entity)
    .bind(change.entity_id)
    .bind(change.before.map(|v| v.to_string()))
    .bind(change.after.map(|v| v.to_string()))
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// The newest `limit` entries, optionally for one entity (`transaction`, `policy`, …).
    pub async fn audit_log(
        &self,
        entity: Option<(&str, &str)>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let rows = match entity {
            Some((kind, id)) => {
                sqlx::query(
                    "SELECT * FROM audit_log WHERE entity = ? AND entity_id = ?
                     ORDER BY id DESC LIMIT ?",
                )
                .bind(kind)
                .bind(id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?")
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.get("id"),
                at: from_ms(r.get("at")),
                actor: r.get("actor"),
                action: r.get("action"),
                entity: r.get("entity"),
                entity_id: r.get("entity_id"),
                before: json(r.get("before")),
                after: json(r.get("after")),
            })
            .collect())
    }
}

impl Store {
    /// Records that the receipt of payment `number` was printed or saved, and answers how many
    /// times it had been before: the first is the original, every later one a copy. Counting
    /// and recording share one write transaction, so two clerks printing at once cannot both
    /// get the original.
    /// How many times payment `number`'s receipt has left the office (printed, saved or
    /// e-mailed): the next one is a COPY when any has.
    pub async fn receipt_prints(&self, number: &str) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT count(*) AS n FROM audit_log
             WHERE entity = 'transaction' AND entity_id = ? AND action = 'receipt.print'",
        )
        .bind(number)
        .fetch_one(&self.pool)
        .await?
        .get("n"))
    }

    pub async fn record_receipt_print(
        &self,
        actor: &str,
        number: &str,
        format: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let earlier: i64 = sqlx::query(
            "SELECT count(*) AS n FROM audit_log
             WHERE entity = 'transaction' AND entity_id = ? AND action = 'receipt.print'",
        )
        .bind(number)
        .fetch_one(&mut *tx)
        .await?
        .get("n");
        record(
            &mut tx,
            now,
            Change {
                actor,
                action: "receipt.print",
                entity: "transaction",
                entity_id: number.to_owned(),
                before: None,
                after: Some(serde_json::json!({ "copy": earlier > 0, "format": format })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(earlier)
    }

    /// Records that a secret was stored in or removed from the OS keyring. The value itself
    /// is never written here: only its name and where it went.
    pub async fn record_secret_change(
        &self,
        actor: &str,
        name: &str,
        kept_in: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let (action, after) = match kept_in {
            Some(store) => ("secret.store", serde_json::json!({ "kept_in": store })),
            None => ("secret.remove", serde_json::json!({ "removed": true })),
        };
        record(
            &mut tx,
            now,
            Change {
                actor,
                action,
                entity: "secret",
                entity_id: name.to_owned(),
                before: None,
                after: Some(after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a decision that changes no table of this office (a suspense payment decided for
    /// the company at the relay) in the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        entity: &str,
        entity_id: &str,
        after: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        record(
            &mut tx,
            now,
            Change {
                actor,
                action,
                entity,
                entity_id: entity_id.to_owned(),
                before: None,
                after: Some(after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
