//! Office settings: plain key/value pairs (office name, code, address, …). Secrets never live
//! here; they belong in the OS keyring.

use serde_json::json;
use sqlx::Row;
use time::OffsetDateTime;

use crate::audit::{self, Change};
use crate::{Result, Store};

impl Store {
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get("value")))
    }

    pub async fn settings(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT key, value FROM settings ORDER BY key")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get("key"), r.get("value")))
            .collect())
    }

    pub async fn set_setting(
        &self,
        actor: &str,
        key: &str,
        value: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let before: Option<String> = sqlx::query("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get("value"));
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        let change = Change {
            actor,
            action: "setting.set",
            entity: "setting",
            entity_id: key.to_owned(),
            before: before.map(|v| json!(v)),
            after: Some(json!(value)),
        };
        audit::record(&mut tx, now, change).await?;
        tx.commit().await?;
        Ok(())
    }
}
