//! A simulated year at 10,000 callbacks a day on SQLite, with the relay's retention: the
//! database's size day by day, beside the same days without retention (the first 90 days,
//! before anything is old enough to go, are both; after that the unpurged size is what those
//! days measured a day, carried on). The bodies are Safaricom's published STK callback.
//!
//! `cargo bench -p malipo-relay --bench retention [-- DAYS PER_DAY]` (default 365 10000).

use std::time::Instant;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use malipo_relay::store::RelayStore;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const KEEP_DAYS: u32 = 90;
const BODY: &str = include_str!("../../providers/tests/fixtures/daraja_stk_callback_success.json");

/// `bytes` in MiB with one decimal, in whole numbers.
fn mib(bytes: i64) -> String {
    let tenths = bytes * 10 / (1024 * 1024);
    format!("{}.{}", tenths / 10, tenths % 10)
}

#[tokio::main]
async fn main() {
    let args: Vec<i64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let days = args.first().copied().unwrap_or(365);
    let per_day = args.get(1).copied().unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("relay.sqlite3");
    let store = RelayStore::open(&path).await.expect("the relay's database");
    let tenant = store
        .create_tenant("Jubilee")
        .await
        .expect("tenant")
        .tenant
        .id;
    let (device, _) = store
        .add_device(&tenant, "counter 1", None)
        .await
        .expect("device");
    // A second pool on the same file writes a day's callbacks at a time with their own times.
    let raw = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .expect("a second connection");
    let start = malipo_relay::store::now_ms() - days * DAY_MS;
    let mut seq = 0_i64;
    // Bytes a day the database grew before anything was old enough to go.
    let mut growth_per_day = 0_i64;
    let mut purge_ms = 0_u128;
    let began = Instant::now();
    println!("day  stored events  database MiB  without retention MiB");
    for day in 0..days {
        let mut tx = raw.begin().await.expect("transaction");
        for i in 0..per_day {
            seq += 1;
            let at = start + day * DAY_MS + i * (DAY_MS / per_day);
            sqlx::query(
                "INSERT INTO events (tenant_id, seq, provider, kind, dedup_key, received_at,
                                     source_addr, headers, body, subject)
                 VALUES (?, ?, 'daraja', 'stk_callback', ?, ?, '196.201.214.200',
                         '{\"content-type\":\"application/json\"}', ?, ?)",
            )
            .bind(&tenant)
            .bind(seq)
            .bind(format!(
                "stk:ws_CO_{seq:012}:0f1e2d3c4b5a69788796a5b4c3d2e1f0"
            ))
            .bind(at)
            .bind(
                BODY.replace("ws_CO_191220191020363925", &format!("ws_CO_{seq:012}"))
                    .into_bytes(),
            )
            .bind(format!("ws_CO_{seq:012}"))
            .execute(&mut *tx)
            .await
            .expect("insert");
        }
        sqlx::query("UPDATE tenants SET last_seq = ? WHERE id = ?")
            .bind(seq)
            .bind(&tenant)
            .execute(&mut *tx)
            .await
            .expect("last_seq");
        tx.commit().await.expect("commit");
        // The counter reads everything each day.
        store.events(&device, seq, 1).await.expect("read");
        let now = start + (day + 1) * DAY_MS;
        let t = Instant::now();
        store.purge(KEEP_DAYS, now, false).await.expect("purge");
        purge_ms += t.elapsed().as_millis();
        let bytes = store.database_bytes().await.expect("size");
        // Until anything is old enough to go, the database grows as it would without retention.
        if day < i64::from(KEEP_DAYS) {
            growth_per_day = bytes / (day + 1);
        }
        let without = if day < i64::from(KEEP_DAYS) {
            bytes
        } else {
            growth_per_day * (day + 1)
        };
        if (day + 1) % 30 == 0 || day + 1 == days || day + 1 == i64::from(KEEP_DAYS) {
            let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
                .fetch_one(&raw)
                .await
                .expect("count");
            println!(
                "{:>3}  {stored:>13}  {:>12}  {:>21}",
                day + 1,
                mib(bytes),
                mib(without)
            );
        }
    }
    let bytes = store.database_bytes().await.expect("size");
    let without = growth_per_day * days;
    let hundredths = bytes * 100 / without.max(1);
    println!(
        "after {days} days at {per_day} a day: {} MiB with {KEEP_DAYS}-day retention, {} MiB without ({}.{:02} of it); purging took {} ms of {} ms",
        mib(bytes),
        mib(without),
        hundredths / 100,
        hundredths % 100,
        purge_ms,
        began.elapsed().as_millis()
    );
}
