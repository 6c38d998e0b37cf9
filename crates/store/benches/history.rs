//! History and summary over a large office: `cargo bench -p malipo-store --bench history`.
//!
//! Generates MALIPO_BENCH_ROWS (default 1,000,000) payments over a year in a temporary SQLite
//! file through the real schema and triggers, then times each query the clerk and manager
//! screens run beside a baseline measured in the same process:
//! - a filtered page, against the same query forced to scan (`NOT INDEXED`);
//! - a searched page, against a `LIKE '%…%'` scan;
//! - the summary from per-day totals, against the same summary computed by scanning.
//!
//! Each figure is the median of several runs, with the 95th percentile beside it.

// Floating point here is for timings and ratios, never money.
#![allow(clippy::float_arithmetic)]

use std::time::{Duration, Instant};

use sqlx::{Row, SqlitePool};
use time::macros::date;

use malipo_domain::time_zone::day_start_ms;
use malipo_domain::{Currency, Method, TxStatus};
use malipo_store::{Store, SummaryFilter, TxFilter};

const HOLDERS: [&str; 12] = [
    "Amina Wanjiru",
    "Otieno Odhiambo",
    "Chebet Kiprono",
    "Mwangi Kamau",
    "Achieng Atieno",
    "Njeri Muthoni",
    "Kipchoge Rotich",
    "Fatuma Hassan",
    "Wekesa Barasa",
    "Nyambura Gitau",
    "Omondi Ouma",
    "Jeptoo Kosgei",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, so every run measures the same data.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn status_for(roll: u64) -> TxStatus {
    match roll {
        0..=69 => TxStatus::Succeeded,
        70..=79 => TxStatus::Failed,
        80..=87 => TxStatus::Cancelled,
        88..=92 => TxStatus::TimedOut,
        93..=96 => TxStatus::AwaitingCustomer,
        97..=98 => TxStatus::Pending,
        _ => TxStatus::NeedsReview,
    }
}

async fn generate(pool: &SqlitePool, rows: u64) -> sqlx::Result<()> {
    let policies = (rows / 200).max(10);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    sqlx::query("PRAGMA synchronous = OFF")
        .execute(pool)
        .await?;
    let mut tx = pool.begin().await?;
    for u in 1..=10 {
        sqlx::query("INSERT INTO users (id, username, role, password_hash, created_at) VALUES (?, ?, 'clerk', 'x', 0)")
            .bind(u)
            .bind(format!("clerk{u}"))
            .execute(&mut *tx)
            .await?;
    }
    for p in 1..=policies {
        let holder = HOLDERS[(p % HOLDERS.len() as u64) as usize];
        sqlx::query(
            "INSERT INTO policies (id, number, holder, phone, premium_minor, currency, frequency, created_at, updated_at)
             VALUES (?, ?, ?, ?, 150000, 'KES', 'monthly', 0, 0)",
        )
        .bind(p as i64)
        .bind(format!("POL-{p:06}"))
        .bind(format!("{holder} {p}"))
        .bind(format!("2547{:08}", p * 7919 % 100_000_000))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let start = day_start_ms(date!(2025 - 11 - 27));
    let span_ms: u64 = 365 * 86_400_000;
    let mut n: u64 = 0;
    while n < rows {
        let mut tx = pool.begin().await?;
        for _ in 0..10_000.min(rows - n) {
            n += 1;
            // Payments arrive in time order, as they do at a counter.
            let at = start + (span_ms * n / rows) as i64 + rng.below(60_000) as i64;
            let status = status_for(rng.below(100));
            let method = if rng.below(10) < 7 {
                Method::Mpesa
            } else {
                Method::Card
            };
            let policy = 1 + rng.below(policies) as i64;
            let amount = (100 + rng.below(49_900) as i64) * 100;
            let paid = status == TxStatus::Succeeded;
            sqlx::query(
                "INSERT INTO transactions (number, reference, policy_id, method, status, amount_minor, currency,
                    phone, provider_ref, provider_receipt, receipt_number, clerk_id, created_at, updated_at, day)
                 VALUES (?, ?, ?, ?, ?, ?, 'KES', ?, ?, ?, ?, ?, ?, ?, (? + 10800000) / 86400000)",
            )
            .bind(format!("HQ-{n:07}"))
            .bind(format!("M{n:011}"))
            .bind(policy)
            .bind(method.as_str())
            .bind(status.as_str())
            .bind(amount)
            .bind(format!("2547{:08}", policy as u64 * 7919 % 100_000_000))
            .bind(format!("ws_CO_{n}"))
            .bind(paid.then(|| format!("NLJ{n:07}")))
            .bind(paid.then(|| format!("HQ-R{n:07}")))
            .bind(1 + rng.below(10) as i64)
            .bind(at)
            .bind(at)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    }
    sqlx::query("PRAGMA synchronous = FULL")
        .execute(pool)
        .await?;
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok(())
}

struct Timing {
    median: Duration,
    p95: Duration,
}

async fn time<F, Fut, T>(runs: usize, mut f: F) -> (Timing, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut samples = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f().await);
        samples.push(t.elapsed());
    }
    samples.sort();
    let timing = Timing {
        median: samples[runs / 2],
        p95: samples[(runs * 95 / 100).min(runs - 1)],
    };
    (timing, last.expect("at least one run"))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn line(what: &str, ours: &Timing, base_name: &str, base: &Timing) {
    let ratio = base.median.as_secs_f64() / ours.median.as_secs_f64().max(1e-9);
    println!(
        "{what:<44} {:>10} (p95 {:>10})   {base_name:<26} {:>10}   {ratio:>7.1}x faster",
        ms(ours.median),
        ms(ours.p95),
        ms(base.median)
    );
}

async fn page_by_scan(pool: &SqlitePool, from_ms: i64, to_ms: i64) -> i64 {
    let rows = sqlx::query(
        "SELECT t.id FROM transactions t NOT INDEXED
         WHERE t.status = 'succeeded' AND t.method = 'mpesa' AND t.created_at >= ? AND t.created_at < ?
         ORDER BY t.created_at DESC, t.id DESC LIMIT 50",
    )
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(pool)
    .await
    .expect("scan query");
    rows.len() as i64
}

async fn search_by_like(pool: &SqlitePool, text: &str) -> i64 {
    let rows = sqlx::query(
        "SELECT t.id FROM transactions t JOIN policies p ON p.id = t.policy_id
         WHERE (p.holder LIKE ?1 OR t.phone LIKE ?1 OR t.number LIKE ?1)
         ORDER BY t.created_at DESC, t.id DESC LIMIT 50",
    )
    .bind(format!("%{text}%"))
    .fetch_all(pool)
    .await
    .expect("LIKE query");
    rows.len() as i64
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rows: u64 = std::env::var("MALIPO_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    // MALIPO_BENCH_DB keeps the generated database at that path and reuses it next time.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = std::env::var_os("MALIPO_BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("bench.sqlite3"));
    let reuse = path.exists();
    let store = Store::open(&path).await.expect("open store");
    let pool = SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("raw pool");
    let t = Instant::now();
    if !reuse {
        generate(&pool, rows).await.expect("generate");
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "{} {rows} payments in {:.1} s (database {:.0} MiB)\n",
        if reuse { "reused" } else { "generated" },
        t.elapsed().as_secs_f64(),
        size as f64 / 1_048_576.0
    );

    let runs = 25;
    let (count, total): (Timing, i64) = time(runs, || async {
        sqlx::query("SELECT count(*) AS n FROM transactions")
            .fetch_one(&pool)
            .await
            .expect("count")
            .get("n")
    })
    .await;
    println!(
        "machine reference: count(*) over {total} rows takes {}\n",
        ms(count.median)
    );

    let month = TxFilter {
        status: Some(TxStatus::Succeeded),
        method: Some(Method::Mpesa),
        from: Some(date!(2026 - 10 - 01)),
        to: Some(date!(2026 - 10 - 31)),
        page: 1,
        per_page: 50,
        ..TxFilter::default()
    };
    let (ours, page) = time(runs, || store.transactions(&month)).await;
    let page = page.expect("filtered page");
    let (base, n) = time(5, || {
        page_by_scan(
            &pool,
            day_start_ms(date!(2026 - 10 - 01)),
            day_start_ms(date!(2026 - 11 - 01)),
        )
    })
    .await;
    assert_eq!(
        n,
        page.items.len() as i64,
        "the baseline must return the same page size"
    );
    line(
        &format!(
            "filtered page (succeeded, mpesa, Oct; {} match)",
            page.total
        ),
        &ours,
        "same query, NOT INDEXED",
        &base,
    );

    let deep = TxFilter {
        page: 200,
        ..month.clone()
    };
    let (ours_deep, _) = time(runs, || store.transactions(&deep)).await;
    line(
        "  the same, page 200 by offset",
        &ours_deep,
        "same query, NOT INDEXED",
        &base,
    );
    // Page 200 as the screen and the CLI reach it: after the last row of page 199.
    let before = store
        .transactions(&TxFilter {
            page: 199,
            ..month.clone()
        })
        .await
        .expect("page 199");
    let walked = TxFilter {
        after: before.next,
        ..month.clone()
    };
    let (ours_walked, walked_page) = time(runs, || store.transactions(&walked)).await;
    let offset_page = store.transactions(&deep).await.expect("page 200");
    assert_eq!(
        walked_page
            .expect("page 200 walked")
            .items
            .iter()
            .map(|t| t.id)
            .collect::<Vec<_>>(),
        offset_page.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        "the walked page is page 200"
    );
    line(
        "  the same, page 200 walked to (keyset)",
        &ours_walked,
        "same query, NOT INDEXED",
        &base,
    );

    // What clerks search by: a holder's full name, a whole phone number typed the local way,
    // a transaction number; and, as the worst case, a name shared by one holder in twelve.
    for (label, text, status) in [
        (
            "holder's name (succeeded)",
            "Otieno Odhiambo 1201",
            Some(TxStatus::Succeeded),
        ),
        ("phone number, local form", "0709 510 719", None),
        ("transaction number", "HQ-0500000", None),
        ("a common name alone (worst case)", "Otieno", None),
    ] {
        let f = TxFilter {
            status,
            search: Some(text.into()),
            page: 1,
            per_page: 50,
            ..TxFilter::default()
        };
        let (ours, page) = time(runs, || store.transactions(&f)).await;
        let page = page.expect("searched page");
        let like = text.trim_start_matches('0').replace(' ', "");
        let (base, _) = time(3, || search_by_like(&pool, &like)).await;
        let matched = if page.total_is_floor {
            format!("more than {}", page.total)
        } else {
            page.total.to_string()
        };
        line(
            &format!("search: {label} ({matched} match)"),
            &ours,
            "LIKE '%…%' scan",
            &base,
        );
    }

    for (label, filter) in [
        (
            "summary, whole year",
            SummaryFilter {
                from: None,
                to: None,
                currency: Currency::Kes,
            },
        ),
        (
            "summary, one month",
            SummaryFilter {
                from: Some(date!(2026 - 10 - 01)),
                to: Some(date!(2026 - 10 - 31)),
                currency: Currency::Kes,
            },
        ),
    ] {
        let (ours, fast) = time(runs, || store.summary(&filter)).await;
        let (base, scan) = time(3, || store.summary_by_scan(&filter)).await;
        assert_eq!(
            fast.expect("summary"),
            scan.expect("scan"),
            "the per-day totals must equal the scan"
        );
        line(label, &ours, "same summary by scan", &base);
    }
}
