//! Every provider call runs in a span naming the payment it is for: a log line about an M-Pesa
//! prompt or query carries the payment's number, and no line carries a secret.

use malipo_app::{Actor, App, MpesaRequest, PolicyInput, ProviderSettings};
use malipo_domain::Secret;
use malipo_providers::daraja::DarajaConfig;
use time::Duration;
use tracing_subscriber::fmt::format::FmtSpan;

mod support;
use support::{Captured, HandClock};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payments_provider_calls_carry_its_number_and_never_a_secret() {
    let logs = Captured::default();
    let sink = logs.clone();
    // Global: the calls run on the runtime's worker threads. This binary has this one test.
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_span_events(FmtSpan::CLOSE)
            .with_writer(move || sink.clone())
            .finish(),
    )
    .unwrap();

    let (sandbox, config) = support::simulator().await;
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
    // Quiet long enough that looking at it asks M-Pesa.
    clock.advance(Duration::seconds(20));
    app.payment_status(&Actor::Setup, &started.number)
        .await
        .unwrap();

    let text = logs.text();
    for call in ["mpesa.stk_push", "mpesa.stk_query"] {
        let line = text
            .lines()
            .find(|l| l.contains(call))
            .unwrap_or_else(|| panic!("no span of {call} in:\n{text}"));
        assert!(
            line.contains(&format!("subject={}", started.number)),
            "the {call} span names the payment: {line}"
        );
    }
    for secret in [
        config.consumer_secret.as_str(),
        config.passkey.as_str(),
        "254708374149",
    ] {
        assert!(
            !text.contains(secret),
            "a secret or a full phone number in the logs:\n{text}"
        );
    }
}
