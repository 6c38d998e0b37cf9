//! The collector at scale: `cargo bench -p malipo-app --bench collect`.
//!
//! An office with MALIPO_BENCH_POLICIES (default 100,000) policies, every one with an M-Pesa
//! prompt instruction, of which MALIPO_BENCH_DUE (default 5,000) have an instalment due today
//! (the rest fall due later this month). Times `collect due --dry-run` (finding what to collect)
//! and then one real run (every due policy prompted through the simulator on loopback, without
//! a relay), and counts the SQL statements each makes per due policy, beside one page of
//! `policy list` (50 rows, the Policies screen's first page) in the same run.

// Floating point here is for timings and ratios, never money.
#![allow(clippy::float_arithmetic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use malipo_app::{Actor, App, PolicyQuery, ProviderSettings};
use malipo_domain::Secret;
use malipo_domain::time_zone::nairobi_date;
use tracing_subscriber::layer::SubscriberExt;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Counts the statements sqlx runs (its `sqlx::query` events).
#[derive(Clone, Default)]
struct Statements(Arc<AtomicU64>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Statements {
    fn take(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

/// `policies` monthly policies with a prompt instruction each: `due` of them from today, the
/// rest from a later day this month.
async fn generate(db: &std::path::Path, policies: u64, due: u64, today: time::Date) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("the office database");
    for q in [
        "PRAGMA synchronous = OFF".to_owned(),
        format!(
            "INSERT INTO policies (id, number, holder, phone, premium_minor, currency, frequency,
                 created_at, updated_at, register_pending)
             WITH RECURSIVE p(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM p WHERE n < {policies})
             SELECT n, printf('POL-%06d', n), 'Holder ' || n, '254708374149', 100000, 'KES',
                    'monthly', 0, 0, 0 FROM p"
        ),
        format!(
            "INSERT INTO instalments (policy_id, seq, due_date, amount_minor, currency)
             WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < 11)
             SELECT p.id, s.k + 1,
                    date('{today}', '+' || (CASE WHEN p.id <= {due} THEN 0 ELSE 1 + p.id % 20 END)
                         || ' days', '+' || s.k || ' months'),
                    100000, 'KES'
             FROM policies p CROSS JOIN s"
        ),
        "INSERT INTO collection_instructions (policy_id, kind, phone, consent_by, consent_how,
             consent_text, consent_at, updated_by, updated_at)
         SELECT id, 'mpesa_prompt', '254708374149', 'bench', 'in_person', 'Prompt me', 0,
                'bench', 0 FROM policies"
            .to_owned(),
        "INSERT INTO settings (key, value) VALUES ('messages.quiet_hours', 'off')".to_owned(),
        "PRAGMA synchronous = FULL".to_owned(),
        "ANALYZE".to_owned(),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(q))
            .execute(&pool)
            .await
            .expect("generation");
    }
    pool.close().await;
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let policies = env_u64("MALIPO_BENCH_POLICIES", 100_000);
    let due = env_u64("MALIPO_BENCH_DUE", 5_000).min(policies);
    let statements = Statements::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(statements.clone()),
    )
    .expect("the statement counter");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let app = App::open(dir.path()).await.expect("the office");
    let today = nairobi_date(app.now());
    let generating = Instant::now();
    generate(&dir.path().join("malipo.sqlite3"), policies, due, today).await;
    println!(
        "{policies} policies with an M-Pesa prompt instruction, {due} due today: ready in {:.1} s",
        generating.elapsed().as_secs_f64()
    );
    let config = malipo_sandbox::Config {
        public_url: String::new(),
        ..malipo_sandbox::Config::default()
    };
    let sandbox = malipo_sandbox::spawn("127.0.0.1:0".parse().expect("address"), config.clone())
        .await
        .expect("the simulator");
    // The simulated customers never answer: the run measures the collector, not callbacks.
    sandbox.sandbox.set_behaviour(malipo_sandbox::Behaviour {
        customer_delay_ms: 3_600_000,
        ..malipo_sandbox::Behaviour::default()
    });
    app.configure(ProviderSettings {
        mpesa: Some(malipo_providers::daraja::DarajaConfig::new(
            &sandbox.url(),
            &config.consumer_key,
            Secret::new(config.consumer_secret.clone()),
            &config.shortcode,
            Secret::new(config.passkey.clone()),
            "http://127.0.0.1:9/not-listening",
        )),
        ..ProviderSettings::default()
    });

    statements.take();
    let t = Instant::now();
    let page = app
        .policies(&Actor::Setup, &PolicyQuery::default())
        .await
        .expect("a page of policies");
    let list = t.elapsed();
    let list_statements = statements.take();
    assert_eq!(page.total as u64, policies);

    let t = Instant::now();
    let dry = app
        .collect_due(&Actor::Setup, true)
        .await
        .expect("the dry run");
    let dry_time = t.elapsed();
    let dry_statements = statements.take();
    assert_eq!(dry.items.len() as u64, due, "every due policy, none other");

    let t = Instant::now();
    let run = app
        .collect_due(&Actor::Setup, false)
        .await
        .expect("the run");
    let run_time = t.elapsed();
    let run_statements = statements.take();
    assert_eq!(u64::from(run.prompted), due, "{:?}", run.items.first());

    let again = Instant::now();
    let second = app.collect_due(&Actor::Setup, false).await.expect("again");
    let again_time = again.elapsed();
    let again_statements = statements.take();
    assert_eq!(second.prompted, 0, "once a day");

    let per = |n: u64| n as f64 / due.max(1) as f64;
    println!(
        "policy list, first page (baseline)        {:>10}  {list_statements} statements",
        ms(list)
    );
    println!(
        "collect due --dry-run                     {:>10}  {:.1}x the page; {dry_statements} statements in all",
        ms(dry_time),
        dry_time.as_secs_f64() / list.as_secs_f64().max(1e-9),
    );
    println!(
        "collect due, {due} prompted                {:>10}  {:.1}x the page; {:.0} µs and {:.1} statements a due policy",
        ms(run_time),
        run_time.as_secs_f64() / list.as_secs_f64().max(1e-9),
        run_time.as_secs_f64() * 1e6 / due.max(1) as f64,
        per(run_statements)
    );
    println!(
        "collect due again the same day            {:>10}  nothing prompted; {:.1} statements a due policy",
        ms(again_time),
        per(again_statements)
    );
}
