//! The M-Pesa statement import at scale: `cargo bench -p malipo-app --bench statement`.
//!
//! An office with MALIPO_BENCH_ROWS (default 1,000,000) paybill payments, and a statement of
//! MALIPO_BENCH_STATEMENT (default 100,000) rows as the M-Pesa portal exports it (CSV), every
//! row one of those payments. Times the import's dry run (the file read, then every row looked
//! up and matched against the payments) beside reading the same file alone, in the same run.
//! MALIPO_BENCH_DIR keeps the office between runs (the payments are written once).

// Floating point here is for timings and ratios, never money.
#![allow(clippy::float_arithmetic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use malipo_app::{Actor, App, ProviderSettings};
use malipo_domain::{Currency, Money, Secret};
use malipo_providers::daraja::{DarajaConfig, statement};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The amount of payment `n`, in cents: whole shillings, 100 to 49,999.
fn amount_of(n: u64) -> i64 {
    (100 + (n * 7919 % 49_900) as i64) * 100
}

/// Writes `rows` succeeded paybill payments (codes `SB` and eight digits) in one statement.
async fn generate(db: &std::path::Path, rows: u64) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("the office database");
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions")
        .fetch_one(&pool)
        .await
        .expect("count");
    if have as u64 >= rows {
        return;
    }
    for q in [
        "PRAGMA synchronous = OFF",
        "INSERT INTO policies (id, number, holder, phone, premium_minor, currency, frequency, created_at, updated_at)
         WITH RECURSIVE p(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM p WHERE n < 5000)
         SELECT n, printf('POL-%06d', n), 'Holder ' || n, printf('2547%08d', n * 7919 % 100000000),
                150000, 'KES', 'monthly', 0, 0 FROM p",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(q.to_owned()))
            .execute(&pool)
            .await
            .expect("generation");
    }
    // Over the year to 27/11/2026, in time order, as they arrive.
    let start_ms: i64 = 1_764_190_800_000;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO transactions (number, reference, policy_id, method, status, amount_minor, currency,
            phone, provider_receipt, receipt_number, created_at, updated_at, day)
         WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < {rows})
         SELECT printf('HQ-%07d', n), printf('P%011d', n), 1 + n % 5000, 'paybill', 'succeeded',
                (100 + (n * 7919) % 49900) * 100, 'KES', printf('2547%08d', n % 100000000),
                printf('SB%08d', n), printf('HQ-R%07d', n),
                {start_ms} + n * 31536, {start_ms} + n * 31536,
                ({start_ms} + n * 31536 + 10800000) / 86400000
         FROM t"
    )))
    .execute(&pool)
    .await
    .expect("payments");
    sqlx::query("PRAGMA synchronous = FULL")
        .execute(&pool)
        .await
        .expect("pragma");
    sqlx::query("ANALYZE")
        .execute(&pool)
        .await
        .expect("analyze");
}

/// The portal's CSV: the header block, then one row per payment `n` (every `step`-th).
fn statement_csv(rows: u64, step: u64) -> Vec<u8> {
    let mut out = String::with_capacity(rows as usize * 160);
    out.push_str("Account Holder:,Bench Insurance\r\n");
    out.push_str("Time Period:,27-11-2025 00:00:00 - 27-11-2026 23:59:59\r\n\r\n");
    out.push_str("Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No.\r\n");
    let start = time::macros::datetime!(2025-11-27 00:00 +3);
    for i in 1..=rows {
        let n = i * step;
        let at = start + Duration::from_millis(n * 31_536);
        let when = format!(
            "{:02}-{:02}-{} {:02}:{:02}:{:02}",
            at.day(),
            u8::from(at.month()),
            at.year(),
            at.hour(),
            at.minute(),
            at.second()
        );
        let paid = Money::from_minor(amount_of(n), Currency::Kes).expect("amount");
        out.push_str(&format!(
            "SB{n:08},{when},{when},Pay Bill from 2547****149 - Customer,Completed,\"{}\",,,true,Pay Bill Online,2547****149 - Customer,,POL-{:06}\r\n",
            paid.grouped(),
            1 + n % 5000
        ));
    }
    out.into_bytes()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows = env_u64("MALIPO_BENCH_ROWS", 1_000_000);
    let lines = env_u64("MALIPO_BENCH_STATEMENT", 100_000).min(rows);
    let runs = env_u64("MALIPO_BENCH_RUNS", 5) as usize;
    let _temp;
    let dir: PathBuf = match std::env::var_os("MALIPO_BENCH_DIR") {
        Some(d) => d.into(),
        None => {
            _temp = tempfile::tempdir().expect("a temporary directory");
            _temp.path().to_owned()
        }
    };
    let app = App::open(&dir).await.expect("the office");
    let generating = Instant::now();
    generate(&dir.join("malipo.sqlite3"), rows).await;
    println!(
        "{rows} paybill payments ready in {}",
        secs(generating.elapsed())
    );
    // A Daraja that is never called: a dry run asks Safaricom nothing.
    app.configure(ProviderSettings {
        mpesa: Some(DarajaConfig::new(
            "http://127.0.0.1:9",
            "key",
            Secret::new(String::from("secret")),
            "600000",
            Secret::new(String::from("passkey")),
            "http://127.0.0.1:9/callback",
        )),
        ..ProviderSettings::default()
    });
    let bytes = statement_csv(lines, rows / lines);
    let path = dir.join("statement.csv");
    std::fs::write(&path, &bytes).expect("the statement file");
    println!(
        "statement: {lines} rows, {:.1} MiB; {runs} runs of each, medians",
        bytes.len() as f64 / 1_048_576.0
    );

    let mut read = Vec::new();
    let mut dry = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let file = std::fs::read(&path).expect("read");
        let parsed = statement::read_statement(&file).expect("the statement reads");
        assert_eq!(parsed.rows.len() as u64, lines);
        read.push(t.elapsed());

        let t = Instant::now();
        let report = app
            .import_statement(&Actor::Setup, &path, true)
            .await
            .expect("the dry run");
        dry.push(t.elapsed());
        assert_eq!(report.rows, lines);
        assert_eq!(report.matched, lines, "every row is one of the payments");
    }
    let (read, dry) = (median(read), median(dry));
    let per_row = dry.saturating_sub(read).as_secs_f64() * 1e6 / lines as f64;
    println!("reading the file alone (baseline)   {:>10}", secs(read));
    println!(
        "import dry run, every row matched    {:>10}   {:.1}x the read; {per_row:.1} µs a row for the matching",
        secs(dry),
        dry.as_secs_f64() / read.as_secs_f64().max(1e-9)
    );
}
