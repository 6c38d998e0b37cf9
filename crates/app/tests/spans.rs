//! Every provider call runs in a span naming the payment it is for: a log line about an M-Pesa
//! prompt or query carries the payment's number, and no line carries a secret.

use malipo_app::Actor;
use time::Duration;
use tracing_subscriber::fmt::format::FmtSpan;

mod support;
use support::Captured;

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

    // Kept whole: its simulator and its folder live as long as the test.
    let office = support::prompt_sent().await;
    let (app, clock, started) = (&office.app, &office.clock, &office.payment);
    let config = &office.config;
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
