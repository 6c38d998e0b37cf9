//! The provider clients are built once and shared: a payment screen that looks every 1.5
//! seconds for two minutes costs one OAuth token and a handful of STK queries, not one of each
//! per look. Time is a test clock moved by hand; the simulator is a real HTTP server.

use malipo_app::{Actor, App, MpesaRequest, PolicyInput, ProviderSettings};
use malipo_domain::Secret;
use malipo_providers::daraja::DarajaConfig;
use time::Duration;

mod support;
use support::HandClock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_watched_for_two_minutes_costs_one_token_and_a_few_queries() {
    let (sandbox, config) = support::simulator().await;
    // The customer never answers while the screen watches.
    sandbox.sandbox.set_behaviour(malipo_sandbox::Behaviour {
        customer_delay_ms: 600_000,
        ..malipo_sandbox::Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let clock = HandClock::now_utc();
    let app = App::open_with_clock(dir.path(), clock.clone())
        .await
        .unwrap();
    app.configure(ProviderSettings {
        mpesa: Some(DarajaConfig::new(
            &sandbox.url(),
            &config.consumer_key,
            Secret::new(config.consumer_secret.clone()),
            &config.shortcode,
            Secret::new(config.passkey.clone()),
            "http://127.0.0.1:9/not-listening",
        )),
        ..ProviderSettings::default()
    });
    app.add_policy(
        &Actor::Setup,
        &PolicyInput {
            number: "POL-1".into(),
            holder: "Amina Odhiambo".into(),
            phone: "0708374149".into(),
            email: None,
            premium: "1500".into(),
            frequency: None,
            instalments: None,
            start: None,
        },
    )
    .await
    .unwrap();
    let started = app
        .pay_mpesa(
            &Actor::Setup,
            &MpesaRequest {
                policy: "POL-1".into(),
                phone: "0708374149".into(),
                amount: "1500".into(),
                again: false,
            },
        )
        .await
        .unwrap();
    assert!(started.open, "{started:?}");

    for _ in 0..80 {
        clock.advance(Duration::milliseconds(1500));
        let seen = app
            .payment_status(&Actor::Setup, &started.number)
            .await
            .unwrap();
        assert!(seen.open, "the customer has not answered: {seen:?}");
    }
    let stats = sandbox.sandbox.stats();
    assert_eq!(
        stats.token_requests, 1,
        "one Daraja client for the configuration, its token reused"
    );
    assert!(
        (1..=6).contains(&stats.stk_queries),
        "a watched payment is asked about a few times in two minutes, not {} times",
        stats.stk_queries
    );
}
