//! Claims the provider does not confirm: a forged success never pays, unconfirmed claims are kept
//! for a manager, a backlog syncs in one round.

use crate::world::*;

/// The body of a success callback for `checkout`, as Safaricom shapes it, claiming `amount`
/// shillings from `phone` with M-Pesa receipt `receipt`.
fn success_callback(checkout: &str, amount: i64, phone: &str, receipt: &str) -> String {
    let mut body: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/providers/tests/fixtures/daraja_stk_callback_success.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let cb = &mut body["Body"]["stkCallback"];
    cb["CheckoutRequestID"] = json!(checkout);
    let items = cb["CallbackMetadata"]["Item"].as_array_mut().unwrap();
    items[0]["Value"] = json!(amount);
    items[1]["Value"] = json!(receipt);
    items[3]["Value"] = json!(phone.parse::<u64>().unwrap());
    body.to_string()
}

/// Anyone who learns the callback URL can post "paid": the claim waits for Safaricom's word,
/// and the customer's real cancellation, when it comes, is what the payment ends as. The forged
/// body is its own event at the relay (it cannot shadow the genuine one) and is kept for a
/// manager.
async fn a_forged_success_callback_never_pays(backend: Backend) {
    let world = World::start(backend).await;
    world.behaviour(json!({"customer_delay_ms": 3000})).await;
    let tx = world.pay_mpesa("254700000032", "1500").await;
    let checkout = tx["provider_ref"].as_str().unwrap().to_owned();
    let forged = success_callback(&checkout, 1500, "254700000032", "FAKE123456");
    let posted = world
        .http
        .post(&world.daraja_url)
        .header("content-type", "application/json")
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(
        posted.status(),
        200,
        "the relay stores every well-formed claim"
    );
    let report = world.sync().await;
    assert_eq!(report["held"], 1, "Safaricom is still processing: {report}");
    let waiting = world.malipo(&["tx", "show", &number(&tx)]).await;
    assert_eq!(waiting["status"], "awaiting_customer", "{waiting}");
    assert!(waiting["provider_receipt"].is_null());

    let done = world.sync_until_final(&[number(&tx)]).await;
    assert_eq!(done[0]["status"], "cancelled", "{}", done[0]);
    assert!(done[0]["provider_receipt"].is_null(), "{}", done[0]);
    assert!(done[0]["receipt_number"].is_null(), "{}", done[0]);
    // The payment may have ended (by a query) in the round that held the forged claim again;
    // the next round decides the claim against the ended payment.
    world.sync().await;
    // The forged body and the genuine one are two events about one CheckoutRequestID.
    let feed = world.feed().await;
    assert_eq!(feed.len(), 2, "{feed:?}");
    assert_ne!(feed[0]["dedup_key"], feed[1]["dedup_key"]);
    world.add_user("admin", "admin").await;
    let review = world.malipo_as("admin", &["orphans", "list"]).await;
    assert!(
        review.status.success(),
        "{}",
        String::from_utf8_lossy(&review.stderr)
    );
    let review: Value = serde_json::from_slice(&review.stdout).unwrap();
    let suspect = &review["items"][0];
    assert_eq!(suspect["outcome"], "suspect", "{review}");
    assert!(
        suspect["note"].as_str().unwrap().contains("not genuine"),
        "{suspect}"
    );
    assert_eq!(world.summary().await["succeeded"]["count"], 0);
}

/// An office with many payments the relay has not seen (it was offline, or new to sync): its
/// first round sends them all in uploads below the relay's body limit and, in the same round,
/// applies a callback that waits at the relay.
async fn a_backlog_of_payments_syncs_in_one_round_with_the_callbacks(backend: Backend) {
    let world = World::start(backend).await;
    let paid = world.pay_mpesa(PAID, "1500").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.feed().await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no callback");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    world.seed_payments("office", "HQ", 150).await;
    let report = world.sync().await;
    // 151 payments, and the one this round's callback paid sent again as paid.
    assert_eq!(report["uploaded"], 152, "{report}");
    assert_eq!(report["applied"], 1, "{report}");
    assert_eq!(report["problems"], json!([]), "{report}");
    let after = world.malipo(&["tx", "show", &number(&paid)]).await;
    assert_eq!(after["status"], "succeeded", "{after}");
    let company = world.relay_get("/v1/summary").await;
    assert_eq!(company["all"]["count"], 151, "{company}");

    // An office joining sync with ten thousand payments of its history.
    let token = world.second_office().await;
    let mut add = world.office_at("nairobi", &token);
    add.args([
        "policy",
        "add",
        "--number",
        "POL-1",
        "--holder",
        "Amina Odhiambo",
        "--phone",
        "0722000111",
        "--premium",
        "1500",
        "--json",
    ]);
    json_out(add).await;
    world.seed_payments("nairobi", "NBI", 10_000).await;
    let mut first = world.office_at("nairobi", &token);
    first.args(["sync", "--once", "--json"]);
    let report = json_out(first).await;
    assert_eq!(report["uploaded"], 10_000, "{report}");
    let company = world.relay_get("/v1/summary").await;
    assert_eq!(company["all"]["count"], 10_151, "{company}");
}

/// A webhook for a charge Paystack does not know, and an M-Pesa callback naming a card
/// payment: each is kept for a manager and changes nothing, and the events after them are
/// applied in the same round.
async fn claims_no_provider_confirms_are_kept_and_the_inbox_moves_on(backend: Backend) {
    let world = World::start(backend).await;
    let card = world
        .seed_card_payment("GHOSTREF0001", "amina@example.co.ke")
        .await;
    let mut webhook: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/providers/tests/fixtures/paystack_webhook_charge_success.json"
        ))
        .unwrap(),
    )
    .unwrap();
    webhook["data"]["reference"] = json!("GHOSTREF0001");
    webhook["data"]["amount"] = json!(150_000);
    webhook["data"]["currency"] = json!("KES");
    let body = webhook.to_string();
    let posted = world
        .http
        .post(format!(
            "http://127.0.0.1:{}/hooks/p/{}",
            world.relay_port, world.tenant
        ))
        .header(
            "x-paystack-signature",
            sign(PAYSTACK_SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let callback = success_callback("GHOSTREF0001", 1500, PAID, "QWERTY1234");
    let posted = world
        .http
        .post(&world.daraja_url)
        .body(callback)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let paid = world.pay_mpesa(PAID, "1500").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.feed().await.len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "no callback");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = world.sync().await;
    assert_eq!(report["suspect"], 2, "{report}");
    assert_eq!(
        report["applied"], 1,
        "the genuine payment after them: {report}"
    );
    // Never paid on the webhook's word (the round's own asking may find Paystack has no such
    // charge and end it as failed).
    let ghost = world.malipo(&["tx", "show", &card]).await;
    assert!(
        matches!(
            ghost["status"].as_str(),
            Some("awaiting_customer" | "failed")
        ),
        "{ghost}"
    );
    assert!(ghost["provider_receipt"].is_null() && ghost["receipt_number"].is_null());
    let after = world.malipo(&["tx", "show", &number(&paid)]).await;
    assert_eq!(after["status"], "succeeded", "{after}");
}

on_both_backends!(
    a_forged_success_callback_never_pays,
    a_backlog_of_payments_syncs_in_one_round_with_the_callbacks,
    claims_no_provider_confirms_are_kept_and_the_inbox_moves_on
);
