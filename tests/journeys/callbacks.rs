//! M-Pesa and card outcomes through the relay: each payment ends in its true final state, counted
//! once, whatever the callbacks do (duplicated, late, dropped, a relay restarted, an office offline).

use crate::world::*;

/// Success, cancel, wrong PIN and a prompt that never calls back, each through the relay (the
/// last found by asking M-Pesa): final states with receipt numbers and clerks' reasons.
async fn mpesa_outcomes_arrive_through_the_relay(backend: Backend) {
    let world = World::start(backend).await;
    let paid = world.pay_mpesa(PAID, "1500").await;
    let cancelled = world.pay_mpesa("254700000032", "1500").await;
    let wrong_pin = world.pay_mpesa("254700002001", "1500").await;
    let silent = world.pay_mpesa("254700000037", "1500").await;
    for t in [&paid, &cancelled, &wrong_pin, &silent] {
        assert_eq!(t["status"], "awaiting_customer", "{t}");
    }
    let numbers: Vec<String> = [&paid, &cancelled, &wrong_pin, &silent]
        .iter()
        .map(|t| number(t))
        .collect();
    let done = world.sync_until_final(&numbers).await;
    assert_eq!(done[0]["status"], "succeeded");
    let receipt = done[0]["provider_receipt"].as_str().unwrap_or_default();
    assert!(
        receipt.len() == 10 && receipt.chars().all(|c| c.is_ascii_alphanumeric()),
        "an M-Pesa receipt number from the callback: {}",
        done[0]
    );
    assert!(done[0]["receipt_number"].is_string());
    assert_eq!(done[1]["status"], "cancelled");
    assert_eq!(done[1]["failure_code"], "1032");
    assert_eq!(done[2]["status"], "failed");
    assert_eq!(done[2]["failure_code"], "2001");
    assert!(
        done[2]["failure_reason"].as_str().unwrap().contains("PIN"),
        "{}",
        done[2]
    );
    assert_eq!(done[3]["status"], "timed_out", "{}", done[3]);
    // Three callbacks came through the relay; the silent prompt has none.
    let feed = world.feed().await;
    assert_eq!(feed.len(), 3, "{feed:?}");
    let summary = world.summary().await;
    assert_eq!(summary["succeeded"]["count"], 1, "{summary}");
    assert_eq!(summary["succeeded"]["amount_minor"], 150_000);
}

/// Card: paid through the hosted checkout (webhook re-verified), and paid with a different
/// amount than asked (to review, never to paid).
async fn card_success_and_amount_mismatch(backend: Backend) {
    let world = World::start(backend).await;
    let card = |amount: &'static str| {
        let world = &world;
        async move {
            world
                .malipo(&[
                    "pay",
                    "card",
                    "--policy",
                    "POL-1",
                    "--email",
                    "amina@example.co.ke",
                    "--amount",
                    amount,
                    "--again",
                ])
                .await
        }
    };
    let pay = |reference: String| {
        let world = &world;
        async move {
            let r = world
                .http
                .post(format!("{}/__sandbox/paystack/pay", world.sandbox_url))
                .json(&json!({"reference": reference, "card": "4084084084084081"}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    };
    let good = card("1500").await;
    pay(good["reference"].as_str().unwrap().to_owned()).await;
    world
        .behaviour(json!({"paystack_amount_delta_minor": 5000}))
        .await;
    let odd = card("1500").await;
    pay(odd["reference"].as_str().unwrap().to_owned()).await;
    let done = world.sync_until_final(&[number(&good), number(&odd)]).await;
    assert_eq!(done[0]["status"], "succeeded", "{}", done[0]);
    assert_eq!(done[0]["card_last4"], "4081");
    assert_eq!(done[1]["status"], "needs_review", "{}", done[1]);
    let summary = world.summary().await;
    assert_eq!(summary["succeeded"]["count"], 1, "{summary}");

    // The day's reconciliation: Paystack confirms both charges, one matches, and the other is
    // listed as taken for a different amount than asked.
    let report = world
        .malipo(&["reconcile", "--date", &nairobi_day(&good)])
        .await;
    assert_eq!(report["card_checked"], true);
    assert_eq!(report["card"]["confirmed"], 2, "{report}");
    assert_eq!(report["card"]["matched"], 1, "{report}");
    let odd_ones = differences(&report, "amount_differs");
    assert_eq!(odd_ones.len(), 1, "{report}");
    assert_eq!(odd_ones[0]["number"], done[1]["number"]);
    assert_eq!(
        report["differences"].as_array().unwrap().len(),
        1,
        "{report}"
    );
}

/// Paystack as it answers: a checkout paid by USSD is recorded as USSD (no card brand or last
/// four, no saved card); a signed webhook in a currency the office does not price is stored by
/// the relay (200, never refused into Paystack's retries) and put to review, moving nothing.
async fn ussd_is_recorded_as_ussd_and_an_unpriced_webhook_goes_to_review(backend: Backend) {
    let world = World::start(backend).await;
    let started = world
        .malipo(&[
            "pay",
            "card",
            "--policy",
            "POL-1",
            "--email",
            "amina@example.co.ke",
            "--amount",
            "1500",
        ])
        .await;
    let r = world
        .http
        .post(format!("{}/__sandbox/paystack/pay", world.sandbox_url))
        .json(&json!({"reference": started["reference"], "channel": "ussd"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let done = world.sync_until_final(&[number(&started)]).await;
    assert_eq!(done[0]["status"], "succeeded", "{}", done[0]);
    assert_eq!(done[0]["channel"], "ussd", "{}", done[0]);
    assert_eq!(done[0]["card_brand"], Value::Null, "{}", done[0]);
    assert_eq!(done[0]["card_last4"], Value::Null, "{}", done[0]);
    let cards = world
        .malipo(&["cards", "--email", "amina@example.co.ke"])
        .await;
    assert_eq!(
        cards["items"].as_array().map_or(0, Vec::len),
        0,
        "no card: {cards}"
    );

    let body = json!({"event": "charge.success", "data": {
        "id": 77, "status": "success", "reference": "xof-charge-1", "amount": 500_000,
        "currency": "XOF", "channel": "card", "gateway_response": "Approved",
        "paid_at": "2026-12-07T06:00:00.000Z", "customer": {"email": "someone@example.com"}
    }})
    .to_string();
    let posted = world
        .http
        .post(&world.paystack_webhook_url)
        .header(
            "x-paystack-signature",
            sign(PAYSTACK_SECRET, body.as_bytes()),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 200, "stored, not refused");
    world.sync().await;
    let review = world.malipo(&["orphans", "list"]).await;
    let items = review["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|o| o["note"].as_str().unwrap_or("").contains("XOF")),
        "in review: {review}"
    );
    let summary = world.summary().await;
    assert_eq!(
        summary["succeeded"]["count"], 1,
        "nothing else counted: {summary}"
    );
}

/// Every callback sent three times: one event each, each payment counted once.
async fn duplicated_callbacks_count_once(backend: Backend) {
    let world = World::start(backend).await;
    world.behaviour(json!({"duplicate_callbacks": 2})).await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        numbers.push(number(&world.pay_mpesa(PAID, "1500").await));
    }
    let done = world.sync_until_final(&numbers).await;
    assert!(done.iter().all(|t| t["status"] == "succeeded"), "{done:?}");
    // Let the late copies land, then sync again: nothing changes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = world.sync().await;
    assert_eq!(again["applied"], 0, "{again}");
    assert_eq!(world.feed().await.len(), 3, "one event per payment");
    let summary = world.summary().await;
    assert_eq!(summary["succeeded"]["count"], 3, "{summary}");
    assert_eq!(summary["succeeded"]["amount_minor"], 450_000);
}

/// A callback that arrives after a query already settled the payment changes nothing but the
/// missing M-Pesa receipt number: same status, same receipt number, counted once.
async fn a_late_callback_after_a_query_changes_nothing(backend: Backend) {
    let world = World::start(backend).await;
    world.behaviour(json!({"callback_delay_ms": 4000})).await;
    let tx = number(&world.pay_mpesa(PAID, "1500").await);
    let settled = world.sync_until_final(std::slice::from_ref(&tx)).await;
    assert_eq!(settled[0]["status"], "succeeded");
    assert!(settled[0]["provider_receipt"].is_null(), "{}", settled[0]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.feed().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the callback never came"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = world.sync().await;
    assert_eq!(report["applied"], 0, "{report}");
    assert_eq!(report["unchanged"], 1, "{report}");
    let after = world.malipo(&["tx", "show", &tx]).await;
    assert_eq!(after["status"], "succeeded");
    assert_eq!(after["receipt_number"], settled[0]["receipt_number"]);
    assert!(
        after["provider_receipt"].is_string(),
        "the receipt is filled in: {after}"
    );
    assert_eq!(world.summary().await["succeeded"]["count"], 1);
}

/// One callback in ten lost on the way: every payment still ends right, by asking M-Pesa.
async fn dropped_callbacks_are_reconciled(backend: Backend) {
    let world = World::start(backend).await;
    world.behaviour(json!({"drop_percent": 10})).await;
    let mut numbers = Vec::new();
    for i in 0..20 {
        let phone = if i % 4 == 3 { "254700000032" } else { PAID };
        numbers.push(number(&world.pay_mpesa(phone, "1500").await));
    }
    let done = world.sync_until_final(&numbers).await;
    for (i, t) in done.iter().enumerate() {
        let want = if i % 4 == 3 { "cancelled" } else { "succeeded" };
        assert_eq!(t["status"], want, "{t}");
    }
    let feed = world.feed().await;
    assert_eq!(
        feed.len(),
        18,
        "exactly two of twenty callbacks were dropped"
    );
    let summary = world.summary().await;
    assert_eq!(summary["succeeded"]["count"], 15, "{summary}");
}

/// The office stops syncing while payments go on and the relay is killed and started again:
/// sync says the relay is unreachable meanwhile, afterwards catches up with every callback the
/// relay took, and settles the payment whose callback was lost while it was down by asking.
async fn relay_restart_and_an_offline_office_catch_up(backend: Backend) {
    let mut world = World::start(backend).await;
    let first = number(&world.pay_mpesa(PAID, "1500").await);
    world.sync_until_final(std::slice::from_ref(&first)).await;
    // The office stops syncing; payments go on; the relay dies and comes back in between.
    let mut numbers = Vec::new();
    for _ in 0..3 {
        numbers.push(number(&world.pay_mpesa(PAID, "1500").await));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.feed().await.len() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "callbacks did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    world.kill_relay().await;
    let offline = world
        .office()
        .args(["sync", "--once", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        !offline.status.success(),
        "sync without a relay fails, and says so"
    );
    assert!(
        String::from_utf8_lossy(&offline.stderr).contains("relay"),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    // A payment while the relay is down: Safaricom's callback finds nobody and is lost.
    let lost = number(&world.pay_mpesa(PAID, "1500").await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    world.start_relay().await;
    for _ in 0..2 {
        numbers.push(number(&world.pay_mpesa(PAID, "1500").await));
    }
    numbers.push(lost.clone());
    let done = world.sync_until_final(&numbers).await;
    assert!(done.iter().all(|t| t["status"] == "succeeded"), "{done:?}");
    let report = world.sync().await;
    assert_eq!(
        report["cursor"], 6,
        "every callback the relay took, once: {report}"
    );
    let summary = world.summary().await;
    assert_eq!(summary["succeeded"]["count"], 7, "{summary}");
    // The lost callback's payment was settled by asking M-Pesa, and the day's report says so.
    let reconciled = world
        .malipo(&["reconcile", "--date", &nairobi_day(&done[0])])
        .await;
    let listed = differences(&reconciled, "confirmed_by_query_only");
    assert_eq!(listed.len(), 1, "{reconciled}");
    assert_eq!(listed[0]["number"].as_str(), Some(lost.as_str()));
}

/// A long-running `malipo sync`: woken by the relay's stream, it applies a callback as soon as
/// it arrives, and pushes the result up to the company view.
async fn a_running_sync_applies_callbacks_as_they_come(backend: Backend) {
    let world = World::start(backend).await;
    let mut sync = world.office();
    sync.args(["sync", "--json"]).kill_on_drop(true);
    let mut running = sync.spawn().unwrap();
    // Its first round reports before the payment exists; after that only the relay's stream
    // can bring it round again within the test's deadline (its own period is 30 s).
    let mut rounds = tokio::io::BufReader::new(running.stdout.take().unwrap());
    let mut first = String::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        tokio::io::AsyncBufReadExt::read_line(&mut rounds, &mut first),
    )
    .await
    .expect("the first round reports")
    .unwrap();
    assert!(first.contains("\"cursor\""), "{first}");
    let tx = number(&world.pay_mpesa(PAID, "1500").await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let t = world.malipo(&["tx", "show", &tx]).await;
        if t["status"] == "succeeded" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not applied: {t}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The same round pushes the change up: the company view shows it paid.
    loop {
        let company = world.relay_get("/v1/summary").await;
        if company["succeeded"]["count"] == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay never heard it was paid: {company}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.kill().await.unwrap();
}

on_both_backends!(
    ussd_is_recorded_as_ussd_and_an_unpriced_webhook_goes_to_review,
    mpesa_outcomes_arrive_through_the_relay,
    card_success_and_amount_mismatch,
    duplicated_callbacks_count_once,
    a_late_callback_after_a_query_changes_nothing,
    dropped_callbacks_are_reconciled,
    relay_restart_and_an_offline_office_catch_up,
    a_running_sync_applies_callbacks_as_they_come
);
