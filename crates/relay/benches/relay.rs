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

    // 1. Throughput, over HTTP and straight to the store.
    let gate = Arc::new(Semaphore::new(64));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = Arc::clone(&gate).acquire_owned().await.expect("permit");
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let (body, sig) = webhook(&format!("MH{i:010}"));
            let r = http
                .post(&url)
                .header("x-paystack-signature", sig)
                .body(body)
                .send()
                .await
                .expect("post");
            drop(permit);
            assert!(r.status().is_success(), "{}", r.status());
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let http_rate = n as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = Arc::clone(&gate).acquire_owned().await.expect("permit");
        let (store, tenant) = (store.clone(), tenant.clone());
        tasks.push(tokio::spawn(async move {
            let (body, sig) = webhook(&format!("MS{i:010}"));
            store
                .ingest(Incoming {
                    tenant_id: tenant,
                    provider: "paystack",
                    kind: "charge.success".into(),
                    dedup_key: format!("charge.success:MS{i:010}"),
                    subject: format!("MS{i:010}"),
                    source_addr: Some("127.0.0.1".into()),
                    headers: format!(r#"{{"x-paystack-signature":"{sig}"}}"#),
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
    let raw_rate = n as f64 / started.elapsed().as_secs_f64();
    println!("verified Paystack callbacks over HTTP:   {http_rate:>8.0}/s   ({n}, 64 in flight)");
    println!(
        "raw storage ceiling (same rows, store):  {raw_rate:>8.0}/s   ratio {:.2}",
        http_rate / raw_rate
    );

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
            let (body, sig) = webhook(&format!("ML{i:010}"));
            let t = Instant::now();
            let r = http
                .post(&url)
                .header("x-paystack-signature", sig)
                .body(body)
                .send()
                .await
                .expect("post");
            assert!(r.status().is_success());
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
