//! The provider clients are built once and shared: a payment screen that looks every 1.5
//! seconds for two minutes costs one OAuth token and a handful of STK queries, not one of each
//! per look. Time is a test clock moved by hand; the simulator is a real HTTP server.

use malipo_app::Actor;
use time::Duration;

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_watched_for_two_minutes_costs_one_token_and_a_few_queries() {
    // Kept whole: its simulator and its folder live as long as the test.
    let office = support::prompt_sent().await;
    let (app, clock, started) = (&office.app, &office.clock, &office.payment);
    let sandbox = &office.sandbox;
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
