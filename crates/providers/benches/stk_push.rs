//! STK pushes per second through the Daraja client against the simulator on loopback:
//! `cargo bench -p malipo-providers --bench stk_push`.
//!
//! Both runs send the same pushes with the same concurrency in the same process. The first
//! uses one client, whose token is fetched once and shared; the baseline asks for a new token
//! before every push, as a naive client does. MALIPO_BENCH_PUSHES (default 2,000) and
//! MALIPO_BENCH_CONCURRENCY (default 16) change the load.

// Floating point here is for rates and ratios, never money.
#![allow(clippy::float_arithmetic)]

use std::sync::Arc;
use std::time::Instant;

use malipo_domain::{Currency, Money, Msisdn, Secret};
use malipo_providers::daraja::{DarajaClient, DarajaConfig, MpesaAmount};
use malipo_sandbox::{Behaviour, Config};
use tokio::sync::Semaphore;

fn config(url: &str) -> DarajaConfig {
    let c = Config::default();
    DarajaConfig::new(
        url,
        &c.consumer_key,
        Secret::new(c.consumer_secret),
        &c.shortcode,
        Secret::new(c.passkey),
        "http://127.0.0.1:9/cb",
    )
}

async fn run(url: &str, pushes: usize, concurrency: usize, share_token: bool) -> f64 {
    let shared = Arc::new(DarajaClient::new(config(url)));
    let gate = Arc::new(Semaphore::new(concurrency));
    let phone = Msisdn::parse("0708374149").expect("phone");
    let amount =
        MpesaAmount::new(Money::from_major(100, Currency::Kes).expect("amount")).expect("amount");
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(pushes);
    for _ in 0..pushes {
        let permit = Arc::clone(&gate).acquire_owned().await.expect("semaphore");
        let client = if share_token {
            Arc::clone(&shared)
        } else {
            Arc::new(DarajaClient::new(config(url)))
        };
        let phone = phone.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .stk_push(amount, &phone, "MBENCH000001", "Premium")
                .await;
            drop(permit);
            r
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("push");
    }
    pushes as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let pushes: usize = std::env::var("MALIPO_BENCH_PUSHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let concurrency: usize = std::env::var("MALIPO_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let sb = malipo_sandbox::spawn(
        "127.0.0.1:0".parse().expect("addr"),
        Config {
            public_url: String::new(),
            ..Config::default()
        },
    )
    .await
    .expect("sandbox");
    // The simulated customers answer long after the run, so no callbacks compete for the CPU.
    sb.sandbox.set_behaviour(Behaviour {
        customer_delay_ms: 3_600_000,
        ..Behaviour::default()
    });
    let url = sb.url();
    run(&url, 200, concurrency, true).await; // warm up connections and code paths

    let before = sb.sandbox.stats();
    let cached = run(&url, pushes, concurrency, true).await;
    let mid = sb.sandbox.stats();
    let naive = run(&url, pushes, concurrency, false).await;
    let after = sb.sandbox.stats();
    println!("{pushes} STK pushes, {concurrency} at a time, against the simulator on loopback");
    println!(
        "cached token (one client):     {cached:>8.0} pushes/s   token requests: {}",
        mid.token_requests - before.token_requests
    );
    println!(
        "naive (a token per push):      {naive:>8.0} pushes/s   token requests: {}",
        after.token_requests - mid.token_requests
    );
    println!("ratio: {:.2}x", cached / naive);
}
