//! The relay's SQLite store. Every accepted callback is written with the next sequence number
//! of its tenant in the same transaction; a single writer task commits a burst of callbacks in
//! one transaction (group commit) and only then are they answered, so "200" always means
//! "stored". Sequence numbers therefore have no gaps and follow commit order: a reader polling
//! by cursor never skips an event that committed late.

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, SqlSafeStr};
use tokio::sync::{broadcast, mpsc, oneshot};

const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "relay", include_str!("../migrations/0001_relay.sql"))];

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("could not bring the relay's schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("no randomness available: {0}")]
    Random(String),
    #[error("the relay is shutting down")]
    Closed,
}

pub type Result<T, E = RelayError> = std::result::Result<T, E>;

/// SHA-256, hex: how tokens are stored and looked up.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A random 256-bit token, hex.
pub fn new_token() -> Result<String> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RelayError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub name: String,
}

/// A tenant just created, with the Daraja path token shown this once.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub tenant: Tenant,
    pub daraja_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
}

/// A provider callback to store.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub tenant_id: String,
    pub provider: &'static str,
    pub kind: String,
    pub dedup_key: String,
    pub source_addr: Option<String>,
    /// The headers that matter, as JSON.
    pub headers: String,
    pub body: Vec<u8>,
}

/// What happened to an incoming callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New(i64),
    Duplicate,
}

/// An event as devices read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub seq: i64,
    pub provider: String,
    pub kind: String,
    pub dedup_key: String,
    pub received_at: i64,
    pub body: Vec<u8>,
}

type Job = (Incoming, oneshot::Sender<Result<Stored>>);

#[derive(Debug, Clone)]
pub struct RelayStore {
    pool: SqlitePool,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    writer: mpsc::Sender<Job>,
    /// (tenant, last sequence number) after each commit that stored something new.
    wake: broadcast::Sender<(String, i64)>,
}

/// How long a rotated-away Daraja URL keeps working.
pub const ROTATION_GRACE_MS: i64 = 24 * 60 * 60 * 1000;

/// How many callbacks one commit may carry.
const BATCH: usize = 256;

impl RelayStore {
    pub async fn open(path: &Path) -> Result<RelayStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let migrations = MIGRATIONS
            .iter()
            .map(|(v, name, sql)| {
                Migration::new(
                    *v,
                    (*name).into(),
                    MigrationType::Simple,
                    AssertSqlSafe(*sql).into_sql_str(),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations).run(&pool).await?;
        let (writer, jobs) = mpsc::channel::<Job>(4096);
        let (wake, _) = broadcast::channel(1024);
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
        tokio::spawn(write_loop(
            pool.clone(),
            jobs,
            wake.clone(),
            std::sync::Arc::clone(&metrics),
        ));
        Ok(RelayStore {
            pool,
            metrics,
            writer,
            wake,
        })
    }

    pub async fn create_tenant(&self, name: &str) -> Result<NewTenant> {
        let id = format!("t_{}", &new_token()?[..16]);
        let daraja_token = new_token()?;
        sqlx::query(
            "INSERT INTO tenants (id, name, daraja_token_hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(name)
        .bind(token_hash(&daraja_token))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(NewTenant {
            tenant: Tenant {
                id,
                name: name.to_owned(),
            },
            daraja_token,
        })
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// Gauges read from the database: each device's lag behind its tenant's last event, and
    /// per tenant the age of the oldest event some device has not acknowledged.
    pub async fn gauges(&self) -> Result<String> {
        use std::fmt::Write;
        let mut out = String::from(
            "# HELP malipo_relay_device_lag_events Events a device has not acknowledged.\n# TYPE malipo_relay_device_lag_events gauge\n",
        );
        let lags = sqlx::query(
            "SELECT d.id, d.tenant_id, t.last_seq - d.acked_seq AS lag FROM devices d JOIN tenants t ON t.id = d.tenant_id
             WHERE d.revoked = 0 ORDER BY d.id",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &lags {
            let (id, tenant, lag): (String, String, i64) =
                (r.get("id"), r.get("tenant_id"), r.get("lag"));
            let _ = writeln!(
                out,
                "malipo_relay_device_lag_events{{tenant=\"{tenant}\",device=\"{id}\"}} {lag}"
            );
        }
        out.push_str("# HELP malipo_relay_oldest_unacknowledged_seconds Age of the oldest event a device of the tenant has not acknowledged (0 when none).\n# TYPE malipo_relay_oldest_unacknowledged_seconds gauge\n");
        let oldest = sqlx::query(
            "SELECT t.id, coalesce((SELECT e.received_at FROM events e WHERE e.tenant_id = t.id
                 AND e.seq = (SELECT min(d.acked_seq) FROM devices d WHERE d.tenant_id = t.id AND d.revoked = 0) + 1), 0) AS at
             FROM tenants t ORDER BY t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let now = now_ms();
        for r in &oldest {
            let (id, at): (String, i64) = (r.get("id"), r.get("at"));
            let age = if at == 0 { 0 } else { (now - at).max(0) / 1000 };
            let _ = writeln!(
                out,
                "malipo_relay_oldest_unacknowledged_seconds{{tenant=\"{id}\"}} {age}"
            );
        }
        Ok(out)
    }

    /// Wakes for new events: (tenant, last sequence number).
    pub fn subscribe(&self) -> broadcast::Receiver<(String, i64)> {
        self.wake.subscribe()
    }

    /// Gives the tenant a new Daraja callback URL token; the old one keeps working for
    /// [`ROTATION_GRACE_MS`]. Returns the new token (shown once).
    pub async fn rotate_daraja_token(&self, tenant_id: &str) -> Result<String> {
        let token = new_token()?;
        let done = sqlx::query(
            "UPDATE tenants SET previous_daraja_token_hash = daraja_token_hash,
                    previous_valid_until = ?, daraja_token_hash = ? WHERE id = ?",
        )
        .bind(now_ms() + ROTATION_GRACE_MS)
        .bind(token_hash(&token))
        .bind(tenant_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(RelayError::NotFound(format!("tenant {tenant_id}")));
        }
        Ok(token)
    }

    /// The tenant whose Daraja callback URL carries `token` (the current one, or the previous
    /// one within its grace period).
    pub async fn tenant_by_daraja_token(&self, token: &str) -> Result<Option<Tenant>> {
        let row = sqlx::query(
            "SELECT id, name FROM tenants WHERE daraja_token_hash = ?1
             OR (previous_daraja_token_hash = ?1 AND previous_valid_until > ?2)",
        )
        .bind(token_hash(token))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Tenant {
            id: r.get("id"),
            name: r.get("name"),
        }))
    }

    /// Keeps the tenant's sealed Paystack secret (see [`crate::sealing`]).
    pub async fn set_paystack_secret(&self, tenant_id: &str, sealed: &[u8]) -> Result<()> {
        let done = sqlx::query("UPDATE tenants SET paystack_secret = ? WHERE id = ?")
            .bind(sealed)
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(RelayError::NotFound(format!("tenant {tenant_id}")));
        }
        Ok(())
    }

    /// The tenant and its sealed Paystack secret, if the tenant exists.
    pub async fn tenant_with_paystack_secret(
        &self,
        tenant_id: &str,
    ) -> Result<Option<(Tenant, Option<Vec<u8>>)>> {
        let row = sqlx::query("SELECT id, name, paystack_secret FROM tenants WHERE id = ?")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| {
            (
                Tenant {
                    id: r.get("id"),
                    name: r.get("name"),
                },
                r.get("paystack_secret"),
            )
        }))
    }

    /// Adds a device to a tenant; returns it and its bearer token (shown once).
    pub async fn add_device(&self, tenant_id: &str, name: &str) -> Result<(Device, String)> {
        let exists = sqlx::query("SELECT 1 FROM tenants WHERE id = ?")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Err(RelayError::NotFound(format!("tenant {tenant_id}")));
        }
        let id = format!("d_{}", &new_token()?[..16]);
        let token = new_token()?;
        sqlx::query("INSERT INTO devices (id, tenant_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(tenant_id)
            .bind(name)
            .bind(token_hash(&token))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok((
            Device {
                id,
                tenant_id: tenant_id.to_owned(),
                name: name.to_owned(),
            },
            token,
        ))
    }

    /// The device holding `token`, unless revoked.
    pub async fn device_by_token(&self, token: &str) -> Result<Option<Device>> {
        let row = sqlx::query(
            "SELECT id, tenant_id, name FROM devices WHERE token_hash = ? AND revoked = 0",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Device {
            id: r.get("id"),
            tenant_id: r.get("tenant_id"),
            name: r.get("name"),
        }))
    }

    pub async fn revoke_device(&self, device_id: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE devices SET revoked = 1 WHERE id = ?")
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a callback; answers once it is committed.
    pub async fn ingest(&self, incoming: Incoming) -> Result<Stored> {
        let (tx, rx) = oneshot::channel();
        self.writer
            .send((incoming, tx))
            .await
            .map_err(|_| RelayError::Closed)?;
        rx.await.map_err(|_| RelayError::Closed)?
    }

    /// The tenant's last sequence number.
    pub async fn last_seq(&self, tenant_id: &str) -> Result<i64> {
        Ok(sqlx::query("SELECT last_seq FROM tenants WHERE id = ?")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.get("last_seq"))
            .unwrap_or(0))
    }

    /// Events after `after`, in order; records `after` as the device's acknowledged cursor.
    pub async fn events(&self, device: &Device, after: i64, limit: u32) -> Result<Vec<Event>> {
        sqlx::query("UPDATE devices SET acked_seq = max(acked_seq, ?) WHERE id = ?")
            .bind(after)
            .bind(&device.id)
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT seq, provider, kind, dedup_key, received_at, body FROM events
             WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(&device.tenant_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Event {
                seq: r.get("seq"),
                provider: r.get("provider"),
                kind: r.get("kind"),
                dedup_key: r.get("dedup_key"),
                received_at: r.get("received_at"),
                body: r.get("body"),
            })
            .collect())
    }
}

/// The single writer: takes what is queued (up to [`BATCH`]), stores it in one transaction,
/// commits once, then answers everyone in the batch.
async fn write_loop(
    pool: SqlitePool,
    mut jobs: mpsc::Receiver<Job>,
    wake: broadcast::Sender<(String, i64)>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let written = write_batch(&pool, &batch).await;
        metrics.committed(started.elapsed());
        match written {
            Ok(results) => {
                let mut newest: std::collections::BTreeMap<String, i64> = Default::default();
                for ((job, reply), result) in batch.into_iter().zip(results) {
                    if let Stored::New(seq) = result {
                        newest.insert(job.tenant_id, seq);
                    }
                    let _ = reply.send(Ok(result));
                }
                for (tenant, seq) in newest {
                    // Nobody listening is fine: devices also poll.
                    let _ = wake.send((tenant, seq));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for (_, reply) in batch {
                    let _ = reply.send(Err(RelayError::Db(sqlx::Error::Protocol(message.clone()))));
                }
            }
        }
    }
}

async fn write_batch(pool: &SqlitePool, batch: &[Job]) -> Result<Vec<Stored>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(batch.len());
    for (e, _) in batch {
        let seen = sqlx::query("SELECT 1 FROM events WHERE tenant_id = ? AND dedup_key = ?")
            .bind(&e.tenant_id)
            .bind(&e.dedup_key)
            .fetch_optional(&mut *tx)
            .await?;
        if seen.is_some() {
            results.push(Stored::Duplicate);
            continue;
        }
        let seq: i64 = sqlx::query(
            "UPDATE tenants SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq",
        )
        .bind(&e.tenant_id)
        .fetch_one(&mut *tx)
        .await?
        .get("last_seq");
        sqlx::query(
            "INSERT INTO events (tenant_id, seq, provider, kind, dedup_key, received_at, source_addr, headers, body)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.tenant_id)
        .bind(seq)
        .bind(e.provider)
        .bind(&e.kind)
        .bind(&e.dedup_key)
        .bind(now_ms())
        .bind(&e.source_addr)
        .bind(&e.headers)
        .bind(&e.body)
        .execute(&mut *tx)
        .await?;
        results.push(Stored::New(seq));
    }
    tx.commit().await?;
    Ok(results)
}
