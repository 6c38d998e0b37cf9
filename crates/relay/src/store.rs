//! The relay's store, on SQLite (one file, the default) or PostgreSQL (several relay instances
//! sharing one database). Every accepted callback is written with the next sequence number of
//! its tenant in the same transaction; a single writer task per instance commits a burst of
//! callbacks in one transaction (group commit) and only then are they answered, so "200" always
//! means "stored". Sequence numbers have no gaps and follow commit order: on SQLite because one
//! write transaction runs at a time, on PostgreSQL because a batch locks its tenants' rows (in
//! id order, so instances never deadlock) until it commits. A reader polling by cursor
//! therefore never skips an event that committed late.

use std::path::Path;
use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgConnection, PgListener, PgPool, PgPoolOptions};
use sqlx::sqlite::SqlitePool;
use tokio::sync::{broadcast, mpsc, oneshot};

use malipo_sqlite::Migrations;
const SQLITE_MIGRATIONS: Migrations = &[
    (
        1,
        "relay",
        include_str!("../migrations/sqlite/0001_relay.sql"),
    ),
    (
        2,
        "subject",
        include_str!("../migrations/sqlite/0002_subject.sql"),
    ),
    (
        3,
        "trust",
        include_str!("../migrations/sqlite/0003_trust.sql"),
    ),
    (
        4,
        "company",
        include_str!("../migrations/sqlite/0004_company.sql"),
    ),
    (
        5,
        "paybill",
        include_str!("../migrations/sqlite/0005_paybill.sql"),
    ),
    (
        6,
        "account_index",
        include_str!("../migrations/sqlite/0006_account_index.sql"),
    ),
    (
        7,
        "sms_reports",
        include_str!("../migrations/sqlite/0007_sms_reports.sql"),
    ),
    (
        8,
        "retention",
        include_str!("../migrations/sqlite/0008_retention.sql"),
    ),
    (
        9,
        "events_rowid",
        include_str!("../migrations/sqlite/0009_events_rowid.sql"),
    ),
    (
        10,
        "counter_methods",
        include_str!("../migrations/sqlite/0010_counter_methods.sql"),
    ),
];
const POSTGRES_MIGRATIONS: Migrations = &[
    (
        1,
        "relay",
        include_str!("../migrations/postgres/0001_relay.sql"),
    ),
    (
        2,
        "subject",
        include_str!("../migrations/postgres/0002_subject.sql"),
    ),
    (
        3,
        "trust",
        include_str!("../migrations/postgres/0003_trust.sql"),
    ),
    (
        4,
        "company",
        include_str!("../migrations/postgres/0004_company.sql"),
    ),
    (
        5,
        "paybill",
        include_str!("../migrations/postgres/0005_paybill.sql"),
    ),
    (
        6,
        "account_index",
        include_str!("../migrations/postgres/0006_account_index.sql"),
    ),
    (
        7,
        "sms_reports",
        include_str!("../migrations/postgres/0007_sms_reports.sql"),
    ),
    (
        8,
        "retention",
        include_str!("../migrations/postgres/0008_retention.sql"),
    ),
    (
        9,
        "counter_methods",
        include_str!("../migrations/postgres/0009_counter_methods.sql"),
    ),
    (
        10,
        "store_batch",
        include_str!("../migrations/postgres/0010_store_batch.sql"),
    ),
    (
        11,
        "store_batch_plan",
        include_str!("../migrations/postgres/0011_store_batch_plan.sql"),
    ),
];

/// The PostgreSQL channel on which instances announce new events to each other.
const WAKE_CHANNEL: &str = "malipo_relay_events";

/// The database behind a [`RelayStore`].
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// `?` placeholders numbered for PostgreSQL (`$1`, `$2`, ...). The relay's statements carry no
/// `?` inside literals.
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs `$body` once for whichever backend `$db` is, with `$pool` its pool and `$sql` turning a
/// statement written with `?` placeholders into that backend's form. The body is the same
/// source for both, type-checked against each backend's own row and argument types.
macro_rules! on_db {
    ($db:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => {
                let $sql = |s: &'static str| ::sqlx::AssertSqlSafe(::std::borrow::Cow::Borrowed(s));
                $body
            }
            $crate::store::Db::Postgres($pool) => {
                let $sql = |s: &'static str| {
                    ::sqlx::AssertSqlSafe(::std::borrow::Cow::<'static, str>::Owned(
                        $crate::store::numbered(s),
                    ))
                };
                $body
            }
        }
    };
}
pub(crate) use on_db;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("could not bring the relay's schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not open the relay's database: {0}")]
    Open(#[from] malipo_sqlite::OpenError),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("{0}")]
    Taken(String),
    #[error("{0}")]
    Invalid(String),
    #[error("no randomness available: {0}")]
    Random(String),
    #[error("the relay is shutting down")]
    Closed,
}

pub type Result<T, E = RelayError> = std::result::Result<T, E>;

/// SHA-256, hex: how tokens are stored and looked up (and, for a device token, the key its
/// office signs receipt verification links with).
pub fn token_hash(token: &str) -> String {
    malipo_domain::verification::token_key(token)
}

/// A random 256-bit token, hex.
pub fn new_token() -> Result<String> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RelayError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    /// The addresses Daraja callbacks are accepted from (see [`crate::access::parse_allow`]);
    /// `None` accepts any.
    pub daraja_allow: Option<String>,
}

/// A tenant as the operator lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TenantSummary {
    pub id: String,
    pub name: String,
    pub last_seq: i64,
    pub active_devices: i64,
    pub revoked_devices: i64,
    pub last_received_ms: Option<i64>,
}

/// A tenant just created, with the Daraja path token shown this once.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub tenant: Tenant,
    pub daraja_token: String,
    /// The path token of the tenant's C2B validation and confirmation URLs.
    pub c2b_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// Its counter code, unique in the tenant (`None` for a device added before counters).
    pub counter: Option<String>,
    /// Whether the relay holds the device's receipt key (see [`RelayStore::keep_receipt_key`]).
    pub has_receipt_key: bool,
}

/// A key a receipt link may have been signed with, as the verification page needs it.
#[derive(Debug, Clone)]
pub struct ReceiptKey {
    /// The company that issued the receipt.
    pub company: String,
    pub key: ReceiptKeyKind,
    /// When the device was revoked (ms): receipts dated after it are not genuine.
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub enum ReceiptKeyKind {
    /// The device's receipt key, sealed under `MALIPO_RELAY_SECRET_KEY`.
    Sealed(Vec<u8>),
    /// Before receipt keys: the token's SHA-256, for receipts dated up to this instant (ms).
    Legacy { token_hash: String, until: i64 },
}

/// A provider callback to store.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub tenant_id: String,
    pub provider: &'static str,
    pub kind: String,
    pub dedup_key: String,
    /// The payment it is about: CheckoutRequestID, reversal conversation id or Paystack
    /// reference (empty when the event names none).
    pub subject: String,
    pub source_addr: Option<String>,
    /// The headers that matter, as JSON.
    pub headers: String,
    pub body: Vec<u8>,
    /// The branch the event belongs to when the relay knows it on arrival (a paybill payment to
    /// a policy of that branch); otherwise the payment it names says whose it is.
    pub office: Option<String>,
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
    /// The counter whose uploaded payment the event is about (`NBI-2`, or `NBI` for an office
    /// without counters), when the relay knows it.
    pub office: Option<String>,
}

type Job = (Incoming, oneshot::Sender<Result<Stored>>);

#[derive(Debug, Clone)]
pub struct RelayStore {
    pub(crate) db: Db,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    writer: mpsc::Sender<Job>,
    /// (tenant, last sequence number) after each commit that stored something new.
    wake: broadcast::Sender<(String, i64)>,
    /// The last readiness answer and when it was found: `/readyz` is public, so however often
    /// it is asked the database is asked at most once per [`READY_FOR`].
    readiness: std::sync::Arc<tokio::sync::Mutex<Option<(tokio::time::Instant, Readiness)>>>,
    /// Set when the instance is about to stop: it answers not ready from then on.
    stopping: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

type Readiness = std::result::Result<(), String>;

/// How long a readiness answer is given again without asking the database.
const READY_FOR: Duration = Duration::from_secs(1);

/// How long a rotated-away Daraja URL keeps working.
pub const ROTATION_GRACE_MS: i64 = 24 * 60 * 60 * 1000;

/// How long readiness waits for the database.
const READY_WITHIN: Duration = Duration::from_secs(2);

/// How many callbacks one commit may carry.
const BATCH: usize = 256;

/// A statement about tenant `tenant_id` that changed no row means there is no such tenant.
fn tenant_changed(rows: u64, tenant_id: &str) -> Result<()> {
    if rows == 0 {
        return Err(RelayError::NotFound(format!("tenant {tenant_id}")));
    }
    Ok(())
}

/// Whether a database URL names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl RelayStore {
    /// Opens (creating if needed) the SQLite database at `path` (see `malipo_sqlite`).
    pub async fn open(path: &Path) -> Result<RelayStore> {
        let pool = malipo_sqlite::open(path, 4, SQLITE_MIGRATIONS).await?;
        Ok(RelayStore::start(Db::Sqlite(pool)))
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://…`), bringing its schema up to
    /// date; any number of relay instances may share it.
    pub async fn connect_postgres(url: &str) -> Result<RelayStore> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        // The migrator takes an advisory lock, so instances starting together migrate once.
        malipo_sqlite::migrator(POSTGRES_MIGRATIONS)
            .run(&pool)
            .await?;
        let store = RelayStore::start(Db::Postgres(pool.clone()));
        // Listening before the store is handed out: no event stored through it goes unheard.
        let listener = listener(&pool).await?;
        tokio::spawn(listen_for_wakes(pool, listener, store.wake.clone()));
        Ok(store)
    }

    /// The store `url` names: `postgres://…` or `postgresql://…` for PostgreSQL, otherwise a
    /// SQLite path (optionally `sqlite://PATH`).
    pub async fn connect(url: &str) -> Result<RelayStore> {
        if is_postgres_url(url) {
            RelayStore::connect_postgres(url).await
        } else {
            RelayStore::open(Path::new(url.strip_prefix("sqlite://").unwrap_or(url))).await
        }
    }

    fn start(db: Db) -> RelayStore {
        let (writer, jobs) = mpsc::channel::<Job>(4096);
        let (wake, _) = broadcast::channel(1024);
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
        tokio::spawn(write_loop(
            db.clone(),
            jobs,
            wake.clone(),
            std::sync::Arc::clone(&metrics),
        ));
        RelayStore {
            db,
            metrics,
            writer,
            wake,
            readiness: std::sync::Arc::default(),
            stopping: std::sync::Arc::default(),
        }
    }

    /// Whether this instance can take callbacks now: the database answers a query within
    /// [`READY_WITHIN`] and the writer is running and keeping up (its queue less than three
    /// quarters full). The reason when not.
    pub async fn ready(&self) -> Readiness {
        if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("this instance is shutting down".into());
        }
        // One check at a time; callers waiting meanwhile take its answer.
        let mut last = self.readiness.lock().await;
        if let Some((at, answer)) = last.as_ref()
            && at.elapsed() < READY_FOR
        {
            return answer.clone();
        }
        let answer = self.check_ready().await;
        *last = Some((tokio::time::Instant::now(), answer.clone()));
        answer
    }

    /// From now on this instance answers not ready (it still serves), so a load balancer
    /// stops sending it requests before it stops taking them.
    pub fn stop_being_ready(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    async fn check_ready(&self) -> Readiness {
        if self.writer.is_closed() {
            return Err("the writer has stopped".into());
        }
        let waiting = self.writer.max_capacity() - self.writer.capacity();
        if waiting * 4 > self.writer.max_capacity() * 3 {
            return Err(format!(
                "the writer is behind: {waiting} callbacks waiting to be stored"
            ));
        }
        let asked = async {
            match &self.db {
                Db::Sqlite(pool) => sqlx::query_scalar::<_, i64>("SELECT 1")
                    .fetch_one(pool)
                    .await
                    .map(drop),
                Db::Postgres(pool) => sqlx::query_scalar::<_, i32>("SELECT 1")
                    .fetch_one(pool)
                    .await
                    .map(drop),
            }
        };
        match tokio::time::timeout(READY_WITHIN, asked).await {
            Ok(Ok(())) => Ok(()),
            // What failed (which may name hosts) goes to the log, not to whoever asked.
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the database");
                Err("the database does not answer".into())
            }
            Err(_) => Err(format!(
                "the database did not answer within {} s",
                READY_WITHIN.as_secs()
            )),
        }
    }

    /// Which backend this store is on: "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn create_tenant(&self, name: &str) -> Result<NewTenant> {
        let id = format!("t_{}", &new_token()?[..16]);
        let daraja_token = new_token()?;
        let c2b_token = new_token()?;
        on_db!(&self.db, |pool, sql| {
            sqlx::query(sql(
                "INSERT INTO tenants (id, name, daraja_token_hash, c2b_token_hash, created_at)
                 VALUES (?, ?, ?, ?, ?)",
            ))
            .bind(&id)
            .bind(name)
            .bind(token_hash(&daraja_token))
            .bind(token_hash(&c2b_token))
            .bind(now_ms())
            .execute(pool)
            .await?;
        });
        Ok(NewTenant {
            tenant: Tenant {
                id,
                name: name.to_owned(),
                daraja_allow: None,
            },
            daraja_token,
            c2b_token,
        })
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// The counters, shared with the public listener (it counts its connections there).
    pub fn shared_metrics(&self) -> std::sync::Arc<crate::metrics::Metrics> {
        std::sync::Arc::clone(&self.metrics)
    }

    /// Gauges read from the database: each device's lag behind its tenant's last event, and
    /// per tenant when its oldest event some device has not acknowledged was received.
    pub async fn gauges(&self) -> Result<crate::metrics::Gauges> {
        let mut gauges = on_db!(&self.db, |pool, sql| {
            let lags = sqlx::query(sql(
                "SELECT d.id, d.tenant_id, t.last_seq - d.acked_seq AS lag
                     FROM devices d JOIN tenants t ON t.id = d.tenant_id
                     WHERE d.revoked = 0 ORDER BY d.id",
            ))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| (r.get("id"), r.get("tenant_id"), r.get("lag")))
            .collect();
            let oldest_unacknowledged = sqlx::query(sql(
                "SELECT t.id, coalesce((SELECT e.received_at FROM events e WHERE e.tenant_id = t.id
                         AND e.seq = (SELECT min(d.acked_seq) FROM devices d
                                      WHERE d.tenant_id = t.id AND d.revoked = 0) + 1), 0) AS at
                     FROM tenants t ORDER BY t.id",
            ))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| (r.get("id"), r.get("at")))
            .collect();
            let last_received = sqlx::query(sql(
                "SELECT t.id, coalesce((SELECT e.received_at FROM events e WHERE e.tenant_id = t.id
                         ORDER BY e.seq DESC LIMIT 1), 0) AS at
                     FROM tenants t ORDER BY t.id",
            ))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| (r.get("id"), r.get("at")))
            .collect();
            crate::metrics::Gauges {
                lags,
                oldest_unacknowledged,
                last_received,
                ready: false,
                database_bytes: 0,
            }
        });
        gauges.ready = self.ready().await.is_ok();
        gauges.database_bytes = self.database_bytes().await?;
        Ok(gauges)
    }

    /// The database's size: SQLite's pages in use, PostgreSQL's `pg_database_size`.
    pub async fn database_bytes(&self) -> Result<i64> {
        Ok(match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query_scalar(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                )
                .fetch_one(pool)
                .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(pool)
                    .await?
            }
        })
    }

    /// Wakes for new events: (tenant, last sequence number). On PostgreSQL this includes
    /// events other instances stored.
    pub fn subscribe(&self) -> broadcast::Receiver<(String, i64)> {
        self.wake.subscribe()
    }

    /// Gives the tenant a new Daraja callback URL token; the old one keeps working for
    /// [`ROTATION_GRACE_MS`]. Returns the new token (shown once).
    pub async fn rotate_daraja_token(&self, tenant_id: &str) -> Result<String> {
        let token = new_token()?;
        let affected = on_db!(&self.db, |pool, sql| {
            sqlx::query(sql(
                "UPDATE tenants SET previous_daraja_token_hash = daraja_token_hash,
                        previous_valid_until = ?, daraja_token_hash = ? WHERE id = ?",
            ))
            .bind(now_ms() + ROTATION_GRACE_MS)
            .bind(token_hash(&token))
            .bind(tenant_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        tenant_changed(affected, tenant_id)?;
        Ok(token)
    }

    /// The tenant whose Daraja callback URL carries `token` (the current one, or the previous
    /// one within its grace period), and for a previous one the instant (ms) it stops working.
    pub async fn tenant_by_daraja_token(
        &self,
        token: &str,
    ) -> Result<Option<(Tenant, Option<i64>)>> {
        let hash = token_hash(token);
        Ok(on_db!(&self.db, |pool, sql| {
            sqlx::query(sql(
                "SELECT id, name, daraja_allow,
                        CASE WHEN daraja_token_hash = ? THEN NULL ELSE previous_valid_until END AS until
                 FROM tenants WHERE daraja_token_hash = ?
                 OR (previous_daraja_token_hash = ? AND previous_valid_until > ?)",
            ))
            .bind(&hash)
            .bind(&hash)
            .bind(&hash)
            .bind(now_ms())
            .fetch_optional(pool)
            .await?
            .map(|r| {
                let tenant = Tenant {
                    id: r.get("id"),
                    name: r.get("name"),
                    daraja_allow: r.get("daraja_allow"),
                };
                (tenant, r.get("until"))
            })
        }))
    }

    /// Sets (`Some`) or clears the addresses the tenant's Daraja callbacks are accepted from.
    pub async fn set_daraja_allow(&self, tenant_id: &str, allow: Option<&str>) -> Result<()> {
        let affected = on_db!(&self.db, |pool, sql| {
            sqlx::query(sql("UPDATE tenants SET daraja_allow = ? WHERE id = ?"))
                .bind(allow)
                .bind(tenant_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        tenant_changed(affected, tenant_id)
    }

    /// Keeps the tenant's sealed Paystack secret (see [`crate::sealing`]).
    pub async fn set_paystack_secret(&self, tenant_id: &str, sealed: &[u8]) -> Result<()> {
        let affected = on_db!(&self.db, |pool, sql| {
            sqlx::query(sql("UPDATE tenants SET paystack_secret = ? WHERE id = ?"))
                .bind(sealed)
                .bind(tenant_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        tenant_changed(affected, tenant_id)
    }

    /// The tenant and its sealed Paystack secret, if the tenant exists.
    pub async fn tenant_with_paystack_secret(
        &self,
        tenant_id: &str,
    ) -> Result<Option<(Tenant, Option<Vec<u8>>)>> {
        Ok(on_db!(&self.db, |pool, sql| {
            sqlx::query(sql(
                "SELECT id, name, daraja_allow, paystack_secret FROM tenants WHERE id = ?",
            ))
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?
            .map(|r| {
                (
                    Tenant {
                        id: r.get("id"),
                        name: r.get("name"),
                        daraja_allow: r.get("daraja_allow"),
                    },
                    r.get("paystack_secret"),
                )
            })
        }))
    }

    /// Adds a device to a tenant; returns it and its bearer token (shown once).
    /// Adds a device to a tenant as counter `counter` (refused when another device of the
    /// tenant has it), or as the next free numbered counter; returns it and its bearer token
    /// (shown once).
    pub async fn add_device(
        &self,
        tenant_id: &str,
        name: &str,
        counter: Option<&str>,
    ) -> Result<(Device, String)> {
        let counter = match counter {
            Some(c) => Some(
                malipo_domain::CounterCode::parse(c)
                    .map_err(|e| RelayError::Invalid(e.to_string()))?
                    .to_string(),
            ),
            None => None,
        };
        // Two adds at once may pick the same next number: the unique index refuses one, which
        // then picks again.
        for _ in 0..5 {
            let code = match &counter {
                Some(c) => c.clone(),
                None => self.next_counter(tenant_id).await?,
            };
            match self.insert_device(tenant_id, name, &code).await {
                Err(RelayError::Taken(_)) if counter.is_none() => continue,
                other => return other,
            }
        }
        Err(RelayError::Taken(
            "no free counter code was found; name one with --counter".into(),
        ))
    }

    /// One more than the highest numbered counter of the tenant.
    async fn next_counter(&self, tenant_id: &str) -> Result<String> {
        let codes: Vec<String> = on_db!(&self.db, |pool, sql| {
            sqlx::query(sql(
                "SELECT counter FROM devices WHERE tenant_id = ? AND counter IS NOT NULL",
            ))
            .bind(tenant_id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| r.get("counter"))
            .collect()
        });
        let highest = codes
            .iter()
            .filter_map(|c| c.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        Ok((highest + 1).to_string())
    }

    async fn insert_device(
        &self,
        tenant_id: &str,
        name: &str,
        counter: &str,
    ) -> Result<(Device, String)> {
        let id = format!("d_{}", &new_token()?[..16]);
        let token = new_token()?;
        let added = on_db!(&self.db, |pool, sql| {
            sqlx::query(sql(
                "INSERT INTO devices (id, tenant_id, name, token_hash, created_at, counter)
                 SELECT ?, id, ?, ?, ?, ? FROM tenants WHERE id = ?",
            ))
            .bind(&id)
            .bind(name)
            .bind(token_hash(&token))
            .bind(now_ms())
            .bind(counter)
            .bind(tenant_id)
            .execute(pool)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(d) if d.is_unique_violation() => RelayError::Taken(format!(
                    "counter {counter} is taken by another device of this company; choose another with --counter, or leave it out to get the next free one"
                )),
                e => RelayError::Db(e),
            })?
            .rows_affected()
        });
        tenant_changed(added, tenant_id)?;
        Ok((
            Device {
                id,
                tenant_id: tenant_id.to_owned(),
                name: name.to_owned(),
                counter: Some(counter.to_owned()),
                has_receipt_key: false,
            },
            token,
        ))
    }

    /// The device holding `token`, unless revoked.
    pub async fn device_by_token(&self, token: &str) -> Result<Option<Device>> {
        Ok(on_db!(&self.db, |pool, sql| {
            sqlx::query(sql(
                "SELECT id, tenant_id, name, counter, receipt_key_id FROM devices
                 WHERE token_hash = ? AND revoked = 0",
            ))
            .bind(token_hash(token))
            .fetch_optional(pool)
            .await?
            .map(|r| Device {
                id: r.get("id"),
                tenant_id: r.get("tenant_id"),
                name: r.get("name"),
                counter: r.get("counter"),
                has_receipt_key: r.get::<Option<String>, _>("receipt_key_id").is_some(),
            })
        }))
    }

    /// Keeps the receipt key of the device holding `token`, sealed with `sealing` (the relay
    /// sees the token when the device is added and whenever it calls; the key is derived from
    /// it, never stored in the clear).
    pub async fn keep_receipt_key(
        &self,
        device_id: &str,
        token: &str,
        sealing: &crate::sealing::SealingKey,
    ) -> Result<()> {
        let key = malipo_domain::verification::receipt_key(token);
        let key_id = malipo_domain::verification::receipt_key_id(&key);
        let sealed = sealing
            .seal(&malipo_domain::Secret::new(key))
            .map_err(|e| RelayError::Random(e.to_string()))?;
        on_db!(&self.db, |pool, sql| {
            sqlx::query(sql("UPDATE devices SET receipt_key = ?, receipt_key_id = ?
                 WHERE id = ? AND receipt_key_id IS NULL"))
            .bind(&sealed)
            .bind(&key_id)
            .bind(device_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Revokes a device's token; receipts it signed stay genuine if dated before now.
    pub async fn revoke_device(&self, device_id: &str) -> Result<bool> {
        let affected = on_db!(&self.db, |pool, sql| {
            sqlx::query(sql(
                "UPDATE devices SET revoked = 1, revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
            ))
            .bind(now_ms())
            .bind(device_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    /// The keys a link naming `key_id` may have been signed with: devices' receipt keys of
    /// that id, and (for receipts from before receipt keys) token hashes that begin with it.
    /// Revoked devices count, with when they were revoked.
    pub async fn receipt_keys(&self, key_id: &str) -> Result<Vec<ReceiptKey>> {
        Ok(on_db!(&self.db, |pool, sql| {
            sqlx::query(sql(
                "SELECT d.receipt_key, d.receipt_key_id, d.token_hash, d.legacy_receipts_until,
                        d.revoked_at, t.name
                 FROM devices d JOIN tenants t ON t.id = d.tenant_id
                 WHERE d.receipt_key_id = ?
                    OR (substr(d.token_hash, 1, 16) = ? AND d.legacy_receipts_until IS NOT NULL)",
            ))
            .bind(key_id)
            .bind(key_id)
            .fetch_all(pool)
            .await?
            .iter()
            .filter_map(|r| {
                let sealed: Option<Vec<u8>> = r.get("receipt_key");
                let id: Option<String> = r.get("receipt_key_id");
                let legacy: Option<i64> = r.get("legacy_receipts_until");
                let key = match (sealed, id, legacy) {
                    (Some(sealed), Some(id), _) if id == key_id => ReceiptKeyKind::Sealed(sealed),
                    (_, _, Some(until)) => ReceiptKeyKind::Legacy {
                        token_hash: r.get("token_hash"),
                        until,
                    },
                    _ => return None,
                };
                Some(ReceiptKey {
                    company: r.get("name"),
                    key,
                    revoked_at: r.get("revoked_at"),
                })
            })
            .collect()
        }))
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

    /// Every tenant, for the operator (`malipo-relay tenant list`): its id and name, its
    /// devices (active and revoked), its last event number and when its latest provider event
    /// arrived (ms; none yet: `None`). No token or secret is in it.
    pub async fn tenant_list(&self) -> Result<Vec<TenantSummary>> {
        Ok(on_db!(&self.db, |pool, sql| {
            sqlx::query(sql(
                "SELECT t.id, t.name, t.last_seq,
                        (SELECT count(*) FROM devices d WHERE d.tenant_id = t.id AND d.revoked = 0) AS active,
                        (SELECT count(*) FROM devices d WHERE d.tenant_id = t.id AND d.revoked <> 0) AS revoked,
                        (SELECT e.received_at FROM events e WHERE e.tenant_id = t.id
                           ORDER BY e.seq DESC LIMIT 1) AS last_received
                 FROM tenants t ORDER BY t.name, t.id",
            ))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| TenantSummary {
                id: r.get("id"),
                name: r.get("name"),
                last_seq: r.get("last_seq"),
                active_devices: r.get("active"),
                revoked_devices: r.get("revoked"),
                last_received_ms: r.get("last_received"),
            })
            .collect()
        }))
    }

    /// The tenant's last sequence number.
    pub async fn last_seq(&self, tenant_id: &str) -> Result<i64> {
        Ok(on_db!(&self.db, |pool, sql| {
            sqlx::query(sql("SELECT last_seq FROM tenants WHERE id = ?"))
                .bind(tenant_id)
                .fetch_optional(pool)
                .await?
                .map(|r| r.get("last_seq"))
                .unwrap_or(0)
        }))
    }

    /// Events after `after`, in order; records `after` as the device's acknowledged cursor.
    pub async fn events(&self, device: &Device, after: i64, limit: u32) -> Result<Vec<Event>> {
        Ok(on_db!(&self.db, |pool, sql| {
            sqlx::query(sql(
                "UPDATE devices SET acked_seq = ? WHERE id = ? AND acked_seq < ?",
            ))
            .bind(after)
            .bind(&device.id)
            .bind(after)
            .execute(pool)
            .await?;
            sqlx::query(sql(
                "SELECT e.seq, e.provider, e.kind, e.dedup_key, e.received_at, e.body,
                        coalesce(
                            (SELECT t.office || coalesce('-' || t.counter, '') FROM transactions t
                               WHERE t.tenant_id = e.tenant_id AND t.provider_ref = e.subject LIMIT 1),
                            (SELECT t.office || coalesce('-' || t.counter, '') FROM transactions t
                               WHERE t.tenant_id = e.tenant_id AND t.reference = e.subject),
                            e.office) AS office
                 FROM events e WHERE e.tenant_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?",
            ))
            .bind(&device.tenant_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Event {
                seq: r.get("seq"),
                provider: r.get("provider"),
                kind: r.get("kind"),
                dedup_key: r.get("dedup_key"),
                received_at: r.get("received_at"),
                body: r.get("body"),
                office: r.get("office"),
            })
            .collect()
        }))
    }
}

async fn listener(pool: &PgPool) -> Result<PgListener> {
    let mut l = PgListener::connect_with(pool).await?;
    l.listen(WAKE_CHANNEL).await?;
    Ok(l)
}

/// Forwards every instance's announcements of new events (this one's included) to this
/// instance's streams. A lost connection is re-established with backoff; while it is down
/// devices still find events by polling.
async fn listen_for_wakes(pool: PgPool, first: PgListener, wake: broadcast::Sender<(String, i64)>) {
    let mut current = Some(first);
    let mut backoff = Duration::from_millis(200);
    loop {
        let mut l = match current.take() {
            Some(l) => l,
            None => match listener(&pool).await {
                Ok(l) => l,
                Err(_) if pool.is_closed() => return,
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            },
        };
        backoff = Duration::from_millis(200);
        // `try_recv` answers `None` when the connection dropped and was made again (what was
        // announced in between is lost; devices' periodic pulls cover it), and fails when it
        // cannot go on.
        loop {
            match l.try_recv().await {
                Ok(Some(n)) => {
                    if let Some((tenant, seq)) = n.payload().split_once(' ')
                        && let Ok(seq) = seq.parse()
                    {
                        let _ = wake.send((tenant.to_owned(), seq));
                    }
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
    }
}

/// The single writer: takes what is queued (up to [`BATCH`]), stores it in one transaction,
/// commits once, then answers everyone in the batch.
async fn write_loop(
    db: Db,
    mut jobs: mpsc::Receiver<Job>,
    wake: broadcast::Sender<(String, i64)>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
) {
    let mut writer = Writer { db, held: None };
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let written = writer.write(&batch).await;
        metrics.committed(started.elapsed(), batch.len());
        match written {
            Ok(results) => answer(&writer.db, &wake, batch, results),
            // One bad event must not fail the others committed with it: each is tried alone,
            // so only the offender is refused (and sent again by its provider).
            Err(_) if batch.len() > 1 => {
                for job in batch {
                    let alone = [job];
                    match writer.write(&alone).await {
                        Ok(results) => answer(&writer.db, &wake, alone.into(), results),
                        Err(e) => {
                            let [(_, reply)] = alone;
                            let _ = reply.send(Err(e));
                        }
                    }
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

/// The writer's database: on PostgreSQL it keeps one connection of its own, set to READ
/// COMMITTED once, so a batch is one exchange with the server (no acquire, no ping, no BEGIN);
/// after any error the connection is let go and the next batch takes a fresh one.
struct Writer {
    db: Db,
    held: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
}

impl Writer {
    async fn write(&mut self, batch: &[Job]) -> Result<Vec<Stored>> {
        let pool = match &self.db {
            Db::Sqlite(pool) => return write_batch_sqlite(pool, batch).await,
            Db::Postgres(pool) => pool,
        };
        let conn = match &mut self.held {
            Some(conn) => conn,
            None => {
                let mut conn = pool.acquire().await?;
                // The duplicate check must see what other instances committed while the batch
                // waited for its tenants' rows, which READ COMMITTED gives and a stricter server
                // default would not (the function refuses to run under any other level).
                sqlx::query(
                    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
                )
                .execute(&mut *conn)
                .await?;
                self.held.insert(conn)
            }
        };
        let written = write_batch_postgres(conn, batch).await;
        if written.is_err() {
            self.held = None;
        }
        written
    }
}

/// Answers every job of a committed batch and wakes the tenants' streams.
fn answer(db: &Db, wake: &broadcast::Sender<(String, i64)>, batch: Vec<Job>, results: Vec<Stored>) {
    let newest = newest_by_tenant(&batch, &results);
    for ((_, reply), result) in batch.into_iter().zip(results) {
        let _ = reply.send(Ok(result));
    }
    // On PostgreSQL every instance, this one included, hears of new events through NOTIFY
    // (see `listen_for_wakes`), so one commit wakes a device once.
    if matches!(db, Db::Sqlite(_)) {
        for (tenant, seq) in newest {
            // Nobody listening is fine: devices also poll.
            let _ = wake.send((tenant, seq));
        }
    }
}

/// Each tenant's highest new sequence number in a written batch.
fn newest_by_tenant(batch: &[Job], results: &[Stored]) -> std::collections::BTreeMap<String, i64> {
    let mut newest = std::collections::BTreeMap::new();
    for ((job, _), result) in batch.iter().zip(results) {
        if let Stored::New(seq) = result {
            newest.insert(job.tenant_id.clone(), *seq);
        }
    }
    newest
}

async fn write_batch_sqlite(pool: &SqlitePool, batch: &[Job]) -> Result<Vec<Stored>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(batch.len());
    let received_at = now_ms();
    for (e, _) in batch {
        // The write transaction holds the database, so nothing can slip in between the
        // duplicate check and the insert.
        let seen: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM events WHERE tenant_id = ? AND dedup_key = ?")
                .bind(&e.tenant_id)
                .bind(&e.dedup_key)
                .fetch_optional(&mut *tx)
                .await?;
        if seen.is_some() {
            results.push(Stored::Duplicate);
            continue;
        }
        let seq: i64 = sqlx::query_scalar(
            "UPDATE tenants SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq",
        )
        .bind(&e.tenant_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| RelayError::NotFound(format!("tenant {}", e.tenant_id)))?;
        sqlx::query(
            "INSERT INTO events (tenant_id, seq, provider, kind, dedup_key, subject, received_at, source_addr, headers, body, office)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.tenant_id)
        .bind(seq)
        .bind(e.provider)
        .bind(&e.kind)
        .bind(&e.dedup_key)
        .bind(&e.subject)
        .bind(received_at)
        .bind(&e.source_addr)
        .bind(&e.headers)
        .bind(&e.body)
        .bind(&e.office)
        .execute(&mut *tx)
        .await?;
        results.push(Stored::New(seq));
    }
    tx.commit().await?;
    Ok(results)
}

async fn write_batch_postgres(conn: &mut PgConnection, batch: &[Job]) -> Result<Vec<Stored>> {
    let column = |f: fn(&Incoming) -> Option<&str>| -> Vec<Option<&str>> {
        batch.iter().map(|(e, _)| f(e)).collect()
    };
    let bodies: Vec<&[u8]> = batch.iter().map(|(e, _)| e.body.as_slice()).collect();
    // One statement, its own transaction: the function (migration 10) holds the tenants' rows,
    // then numbers and stores the batch; the commit is the statement's end.
    let numbered: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT ord, seq FROM relay_store_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(column(|e| Some(&e.tenant_id)))
    .bind(column(|e| Some(&e.dedup_key)))
    .bind(column(|e| Some(e.provider)))
    .bind(column(|e| Some(&e.kind)))
    .bind(column(|e| e.source_addr.as_deref()))
    .bind(column(|e| Some(&e.headers)))
    .bind(bodies)
    .bind(column(|e| Some(&e.subject)))
    .bind(column(|e| e.office.as_deref()))
    .bind(now_ms())
    .bind(WAKE_CHANNEL)
    .fetch_all(conn)
    .await
    .map_err(|e| match &e {
        // The function's word for a tenant that is not there.
        sqlx::Error::Database(d) if d.code().as_deref() == Some("P0002") => {
            RelayError::NotFound(d.message().to_owned())
        }
        _ => RelayError::Db(e),
    })?;
    let mut results = vec![Stored::Duplicate; batch.len()];
    for (ord, seq) in numbered {
        let slot = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| results.get_mut(i))
            .ok_or_else(|| {
                RelayError::Db(sqlx::Error::Protocol(format!("row {ord} of a batch")))
            })?;
        *slot = Stored::New(seq);
    }
    Ok(results)
}

/// The first 12 bytes of the body's SHA-256, hex: tells bodies apart in a dedup key.
pub(crate) fn digest(body: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(body)
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}
