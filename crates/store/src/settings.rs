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

impl Store {
    /// Notes how a call to `provider` ended (`answered`, `timeout`, …) at `at`, forgetting
    /// calls older than an hour.
    pub async fn note_provider_call(
        &self,
        provider: &str,
        at: OffsetDateTime,
        ended: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO provider_calls (provider, at, ended) VALUES (?, ?, ?)")
            .bind(provider)
            .bind(malipo_domain::time_zone::to_ms(at))
            .bind(ended)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM provider_calls WHERE at < ?")
            .bind(malipo_domain::time_zone::to_ms(
                at - time::Duration::hours(1),
            ))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `provider`'s calls since `since`, oldest first: when, and how each ended.
    pub async fn provider_calls(
        &self,
        provider: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<(OffsetDateTime, String)>> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT at, ended FROM provider_calls WHERE provider = ? AND at >= ? ORDER BY at, id",
        )
        .bind(provider)
        .bind(malipo_domain::time_zone::to_ms(since))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(at, e)| (malipo_domain::time_zone::from_ms(at), e))
            .collect())
    }
}
