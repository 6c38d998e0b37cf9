//! The relay on loopback: `cargo bench -p malipo-relay --bench relay` (SQLite; set
//! `MALIPO_BENCH_DATABASE_URL` to an empty PostgreSQL database to measure that backend).
//!
//! 1. Verified callbacks per second: signed Paystack webhooks (HMAC-SHA512 checked, parsed,
//!    deduplicated, committed before the answer), 64 in flight, beside the raw storage ceiling
//!    measured in the same run: the same rows handed straight to the store's writer, with the
//!    same group commit and `synchronous=FULL`.
//! 2. Ack latency at a fixed offered rate (1,000 callbacks/s for 5 s): p50 and p99.
//! 3. A device catching up 100,000 events, 5,000 a page.
//! 4. Paybill validation against a register of 20,000 policies at 500 validations/s for 5 s
//!    (p50, p99), beside the STK callback path at the same offered rate in the same run.
//!
//! The load generator runs in the same process on the same two cores as the relay.

// Floating point here is for rates and percentiles, never money.
#![allow(clippy::float_arithmetic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use malipo_domain::Secret;
use malipo_relay::access::Access;
use malipo_relay::sealing::SealingKey;
use malipo_relay::store::{Incoming, RelayStore};
use malipo_relay::{PAYSTACK_PATH, Relay};
use tokio::sync::Semaphore;

const SECRET: &str = "sk_test_bench000000000000000000000000000000";

fn webhook(reference: &str) -> (Vec<u8>, String) {
    let body = format!(
        r#"{{"event":"charge.success","data":{{"id":1,"status":"success","reference":"{reference}","amount":150000,"currency":"KES","metadata":""}}}}"#
    )
    .into_bytes();
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(&body);
    let sig = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (body, sig)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("MALIPO_BENCH_CALLBACKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().expect("dir");
    // An empty PostgreSQL database to measure that backend instead (SQLite by default).
    let database = std::env::var("MALIPO_BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| dir.path().join("relay.sqlite3").display().to_string());
    let store = RelayStore::connect(&database).await.expect("store");
    println!("backend: {}", store.backend());
    let key = SealingKey::from_hex(&"5a".repeat(32)).expect("key");
    let created = store.create_tenant("Bench").await.expect("tenant");
    let tenant = created.tenant.id.clone();
    store
        .set_paystack_secret(&tenant, &key.seal(&Secret::new(SECRET)).expect("seal"))
        .await
        .expect("secret");
    let (_, token) = store
        .add_device(&tenant, "bench", None)
        .await
        .expect("device");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = malipo_relay::router(Relay::new(
        store.clone(),
        Some(key.clone()),
        Access::default(),
    ));
    // The relay's own serving loop, as `malipo-relay serve` runs it (timeouts, connection cap).
    tokio::spawn(async move {
        let _ = malipo_relay::serve(listener, app).await;
    });
    let url = format!("{base}{PAYSTACK_PATH}/{tenant}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");

    // 1. Throughput over HTTP, beside the baseline: the same rows written straight to the
    //    database, 64 to a multi-row INSERT and a commit, with the same durability.
    let server = database_facts(&database).await;
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let (batches, carried, writing) = store.metrics().batches();
    let started = Instant::now();
    post_signed(&http, std::slice::from_ref(&url), n, "MH", &gate).await;
    let took = started.elapsed();
    let http_rate = n as f64 / took.as_secs_f64();
    let (batches, carried, writing) = {
        let (b, c, w) = store.metrics().batches();
        (b - batches, c - carried, w - writing)
    };
    let mean_batch = (carried as f64 / batches.max(1) as f64).round().max(1.0) as usize;
    let same_batches = baseline(&database, &store, n, mean_batch).await;
    let full_batches = baseline(&database, &store, n, IN_FLIGHT).await;
    println!(
        "verified Paystack callbacks over HTTP:   {http_rate:>8.0}/s   ({n}, {IN_FLIGHT} in flight; {batches} commits of {:.1} callbacks, {:.2} ms each; the writer busy {:.0} % of the run)",
        carried as f64 / batches.max(1) as f64,
        writing.as_secs_f64() * 1e3 / batches.max(1) as f64,
        writing.as_secs_f64() * 100.0 / took.as_secs_f64()
    );
    println!(
        "baseline: same rows, {mean_batch} to a multi-row INSERT and commit: {same_batches:>8.0}/s   ratio {:.2}",
        http_rate / same_batches
    );
    println!(
        "baseline: same rows, {IN_FLIGHT} to a multi-row INSERT and commit: {full_batches:>8.0}/s   ratio {:.2}",
        http_rate / full_batches
    );

    // The store's writer without HTTP: what verifying and serving add.
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = Arc::clone(&gate).acquire_owned().await.expect("permit");
        let (store, tenant) = (store.clone(), tenant.clone());
        tasks.push(tokio::spawn(async move {
            store
                .ingest(bench_row(&tenant, &format!("MS{i:010}")))
                .await
                .expect("ingest");
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let raw_rate = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "the store's writer, no HTTP:             {raw_rate:>8.0}/s   ratio to {IN_FLIGHT}-row baseline {:.2}",
        raw_rate / full_batches
    );

    // Two instances on one PostgreSQL database, each taking half the callbacks.
    if store.backend() == "postgres" {
        let second = RelayStore::connect(&database)
            .await
            .expect("second instance");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let other = format!(
            "http://{}{PAYSTACK_PATH}/{tenant}",
            listener.local_addr().expect("addr")
        );
        let app = malipo_relay::router(Relay::new(second, Some(key.clone()), Access::default()));
        tokio::spawn(async move {
            let _ = malipo_relay::serve(listener, app).await;
        });
        let started = Instant::now();
        post_signed(&http, &[url.clone(), other], n, "M2", &gate).await;
        let two_rate = n as f64 / started.elapsed().as_secs_f64();
        println!(
            "two instances, one database, over HTTP:  {two_rate:>8.0}/s   ratio to one {:.2}",
            two_rate / http_rate
        );
    }
    println!("{}", server_after(&database, server).await);

    // 2. Latency at a fixed offered rate.
    let rate = 1000_u64;
    let total = 5 * rate as usize;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let at = start + Duration::from_micros(1_000_000 * i as u64 / rate);
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let t = Instant::now();
            post_one(&http, &url, &format!("ML{i:010}")).await;
            t.elapsed()
        }));
    }
    let mut lat = Vec::with_capacity(total);
    for t in tasks {
        lat.push(t.await.expect("task"));
    }
    lat.sort();
    println!(
        "ack latency at {rate}/s offered for 5 s:    p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        percentile(&lat, 50).as_secs_f64() * 1e3,
        percentile(&lat, 99).as_secs_f64() * 1e3,
        lat[lat.len() - 1].as_secs_f64() * 1e3
    );

    // 3. Catching up 100,000 events.
    let have = store.last_seq(&tenant).await.expect("seq") as usize;
    let mut tasks = Vec::new();
    for i in have..100_000 {
        let permit = Arc::clone(&gate).acquire_owned().await.expect("permit");
        let (store, tenant) = (store.clone(), tenant.clone());
        tasks.push(tokio::spawn(async move {
            let (body, _) = webhook(&format!("MC{i:010}"));
            store
                .ingest(Incoming {
                    tenant_id: tenant,
                    provider: "paystack",
                    kind: "charge.success".into(),
                    dedup_key: format!("c:{i}"),
                    subject: format!("MC{i:010}"),
                    source_addr: None,
                    headers: "{}".into(),
                    body,
                    office: None,
                })
                .await
                .expect("ingest");
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let started = Instant::now();
    let (mut after, mut seen) = (0_i64, 0_usize);
    loop {
        let page: serde_json::Value = http
            .get(format!("{base}/v1/events?after={after}&limit=5000"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        let events = page["events"].as_array().expect("events");
        if events.is_empty() {
            break;
        }
        seen += events.len();
        after = page["next"].as_i64().expect("next");
    }
    assert_eq!(seen, 100_000);
    println!(
        "a device catching up {seen} events:     {:.2} s",
        started.elapsed().as_secs_f64()
    );

    // 4. Paybill validation beside the STK callback path, both at 500/s offered for 5 s.
    let register: Vec<malipo_relay_api::RegisterRecord> = (0..20_000)
        .map(|i| malipo_relay_api::RegisterRecord {
            number: format!("MTR-{i:05}"),
            holder: "Bench Holder".into(),
            phone: "254712345678".into(),
            email: None,
            premium_minor: 150_000,
            currency: "KES".into(),
            frequency: "monthly".into(),
            instalments: 12,
            start_date: "2026-01-01".into(),
            status: "active".into(),
        })
        .collect();
    for chunk in register.chunks(2_000) {
        store
            .import_register(&tenant, Some(&key), chunk, None, false, Some("NBI"))
            .await
            .expect("register");
    }
    let validation_url = format!(
        "{base}{}/{}",
        malipo_relay_api::C2B_VALIDATION_PATH,
        created.c2b_token
    );
    let stk_url = format!(
        "{base}{}/{}",
        malipo_relay_api::DARAJA_PATH,
        created.daraja_token
    );
    let rate = 500_u64;
    let validation = |i: usize| {
        // Customers' typing: case and separators vary; one in ten is an unknown account.
        let account = if i.is_multiple_of(10) {
            format!("NOPE {i}")
        } else {
            format!("mtr {:05}", i % 20_000)
        };
        format!(
            r#"{{"TransactionType":"Pay Bill","TransID":"SV{i:08}","TransTime":"20261130120000","TransAmount":"1500.00","BusinessShortCode":"174379","BillRefNumber":"{account}","MSISDN":"2547 ***** 149","FirstName":"JOHN"}}"#
        )
    };
    let stk = |i: usize| {
        format!(
            r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"29115-{i}","CheckoutRequestID":"ws_CO_BENCH{i:010}","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}}}}"#
        )
    };
    let (validation_lat, answers) = fixed_rate(&http, &validation_url, rate, 5, &validation).await;
    let (stk_lat, _) = fixed_rate(&http, &stk_url, rate, 5, &stk).await;
    let rejected = answers.iter().filter(|a| a.contains("C2B00012")).count();
    assert_eq!(
        rejected,
        answers.len() / 10,
        "one in ten accounts is unknown"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "paybill validation at {rate}/s for 5 s:  p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms   ({rejected} rejected)",
        ms(percentile(&validation_lat, 50)),
        ms(percentile(&validation_lat, 99)),
        ms(validation_lat[validation_lat.len() - 1])
    );
    println!(
        "STK callbacks at {rate}/s for 5 s:       p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms   p99 ratio {:.2}",
        ms(percentile(&stk_lat, 50)),
        ms(percentile(&stk_lat, 99)),
        ms(stk_lat[stk_lat.len() - 1]),
        ms(percentile(&validation_lat, 99)) / ms(percentile(&stk_lat, 99))
    );
}

/// Posts `body(i)` to `url` at `rate` a second for `seconds`; the sorted latencies and the
/// answers' bodies.
async fn fixed_rate(
    http: &reqwest::Client,
    url: &str,
    rate: u64,
    seconds: u64,
    body: &dyn Fn(usize) -> String,
) -> (Vec<Duration>, Vec<String>) {
    let total = (rate * seconds) as usize;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let at = start + Duration::from_micros(1_000_000 * i as u64 / rate);
        let (http, url, body) = (http.clone(), url.to_owned(), body(i));
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let t = Instant::now();
            let r = http
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("post");
            let status = r.status();
            let text = r.text().await.expect("body");
            assert!(status.is_success(), "{status}: {text}");
            (t.elapsed(), text)
        }));
    }
    let mut lat = Vec::with_capacity(total);
    let mut answers = Vec::with_capacity(total);
    for t in tasks {
        let (d, text) = t.await.expect("task");
        lat.push(d);
        answers.push(text);
    }
    lat.sort();
    (lat, answers)
}

/// Callbacks in flight at once in the throughput runs (and rows to a commit in the baseline).
const IN_FLIGHT: usize = 64;

/// A stored Paystack webhook as the relay records one, for `reference`.
fn bench_row(tenant: &str, reference: &str) -> Incoming {
    let (body, sig) = webhook(reference);
    Incoming {
        tenant_id: tenant.to_owned(),
        provider: "paystack",
        kind: "charge.success".into(),
        dedup_key: format!("charge.success:{reference}"),
        subject: reference.to_owned(),
        source_addr: Some("127.0.0.1".into()),
        headers: format!(r#"{{"x-paystack-signature":"{sig}"}}"#),
        body,
        office: None,
    }
}

/// Posts one signed webhook for `reference` to `url`; its answer must be a success.
async fn post_one(http: &reqwest::Client, url: &str, reference: &str) {
    let (body, sig) = webhook(reference);
    let r = http
        .post(url)
        .header("x-paystack-signature", sig)
        .body(body)
        .send()
        .await
        .expect("post");
    assert!(r.status().is_success(), "{}", r.status());
}

/// Posts `n` signed webhooks (references `PREFIX0000000000`…), `gate` bounding those in flight,
/// spread over `urls` in turn; every answer must be a success.
async fn post_signed(
    http: &reqwest::Client,
    urls: &[String],
    n: usize,
    prefix: &str,
    gate: &Arc<Semaphore>,
) {
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = Arc::clone(gate).acquire_owned().await.expect("permit");
        let (http, url) = (http.clone(), urls[i % urls.len()].clone());
        let reference = format!("{prefix}{i:010}");
        tasks.push(tokio::spawn(async move {
            post_one(&http, &url, &reference).await;
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
}

/// The baseline: `n` rows like the relay's for a tenant of their own, numbered here, written by
/// one writer straight to the events table, `batch` to one multi-row INSERT, each its own
/// transaction with the backend's commit durability (SQLite `synchronous=FULL`; PostgreSQL's
/// `synchronous_commit` as the server has it). Rows a second.
async fn baseline(database: &str, store: &RelayStore, n: usize, batch: usize) -> f64 {
    let tenant = store
        .create_tenant("Baseline")
        .await
        .expect("tenant")
        .tenant
        .id;
    let tenant = tenant.as_str();
    macro_rules! insert_all {
        ($pool:expr, $db:ty) => {{
            let started = Instant::now();
            let received_at = malipo_relay::store::now_ms();
            let rows: Vec<Incoming> =
                (0..n).map(|i| bench_row(tenant, &format!("MB{i:010}"))).collect();
            for (c, chunk) in rows.chunks(batch).enumerate() {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO events (tenant_id, seq, provider, kind, dedup_key, received_at, source_addr, headers, body, subject, office) ",
                );
                q.push_values(chunk.iter().enumerate(), |mut b, (i, e)| {
                    b.push_bind(&e.tenant_id)
                        .push_bind((c * batch + i + 1) as i64)
                        .push_bind(e.provider)
                        .push_bind(&e.kind)
                        .push_bind(&e.dedup_key)
                        .push_bind(received_at)
                        .push_bind(&e.source_addr)
                        .push_bind(&e.headers)
                        .push_bind(&e.body)
                        .push_bind(&e.subject)
                        .push_bind(&e.office);
                });
                q.build().execute(&$pool).await.expect("baseline insert");
            }
            n as f64 / started.elapsed().as_secs_f64()
        }};
    }
    if malipo_relay::store::is_postgres_url(database) {
        let pool = sqlx::PgPool::connect(database)
            .await
            .expect("baseline pool");
        insert_all!(pool, sqlx::Postgres)
    } else {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(database)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = sqlx::SqlitePool::connect_with(options)
            .await
            .expect("baseline pool");
        insert_all!(pool, sqlx::Sqlite)
    }
}

/// What the runs' figures depend on, read before them: the machine's load and, on
/// PostgreSQL, the server's durability settings, its checkpoints so far and the WAL position.
struct Facts {
    load: String,
    postgres: Option<(i64, String)>,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

async fn database_facts(database: &str) -> Facts {
    let load = loadavg();
    if !malipo_relay::store::is_postgres_url(database) {
        println!("machine load before the runs: {load}");
        return Facts {
            load,
            postgres: None,
        };
    }
    let pool = sqlx::PgPool::connect(database).await.expect("facts pool");
    let settings: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN
         ('server_version', 'fsync', 'synchronous_commit', 'wal_sync_method', 'full_page_writes',
          'commit_delay', 'shared_buffers', 'wal_buffers', 'max_wal_size', 'checkpoint_timeout',
          'wal_level') ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .expect("settings");
    println!(
        "PostgreSQL: {}",
        settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("machine load before the runs: {load}");
    println!(
        "a bare commit before the runs:  {}",
        commit_floor(&pool).await
    );
    Facts {
        load,
        postgres: Some(checkpoints_and_wal(&pool).await),
    }
}

/// What one commit costs the server here (the WAL flushed to disk): 200 one-row INSERTs, each
/// its own transaction, one after another; p50 and p99.
async fn commit_floor(pool: &sqlx::PgPool) -> String {
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_commit (n INT)")
        .execute(pool)
        .await
        .expect("table");
    let mut took = Vec::with_capacity(200);
    for i in 0..200 {
        let t = Instant::now();
        sqlx::query("INSERT INTO bench_commit VALUES ($1)")
            .bind(i)
            .execute(pool)
            .await
            .expect("insert");
        took.push(t.elapsed());
    }
    took.sort();
    format!(
        "p50 {:.2} ms   p99 {:.2} ms",
        percentile(&took, 50).as_secs_f64() * 1e3,
        percentile(&took, 99).as_secs_f64() * 1e3
    )
}

/// Checkpoints so far (timed and requested) and the current WAL position.
async fn checkpoints_and_wal(pool: &sqlx::PgPool) -> (i64, String) {
    sqlx::query_as(
        "SELECT (checkpoints_timed + checkpoints_req)::bigint, pg_current_wal_lsn()::text
         FROM pg_stat_bgwriter",
    )
    .fetch_one(pool)
    .await
    .expect("checkpoints")
}

/// The facts' change over the runs, in a line.
async fn server_after(database: &str, before: Facts) -> String {
    let mut line = format!("machine load before {} / after {}", before.load, loadavg());
    if let Some((checkpoints, lsn)) = before.postgres {
        let pool = sqlx::PgPool::connect(database).await.expect("facts pool");
        let (now, _) = checkpoints_and_wal(&pool).await;
        println!(
            "a bare commit after the runs:   {}",
            commit_floor(&pool).await
        );
        let wal: i64 =
            sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint")
                .bind(lsn)
                .fetch_one(&pool)
                .await
                .expect("wal");
        line.push_str(&format!(
            "; checkpoints during the runs {}; WAL written {:.1} MiB",
            now - checkpoints,
            wal as f64 / (1024.0 * 1024.0)
        ));
    }
    line
}
