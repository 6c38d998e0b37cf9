//! Refunds from request to their final state, and a reversal whose answer was lost.

use crate::world::*;

/// A clerk asks for part of an M-Pesa payment back and all of a card payment; a clerk cannot
/// approve, a refund past what is left is refused, and once a manager approves, the M-Pesa
/// reversal result and Paystack's refund webhooks (through the relay) take both to processed
/// and the payments to partially refunded and refunded.
async fn refunds_go_from_request_to_their_final_state(backend: Backend) {
    let world = World::start(backend).await;
    world.add_user("admin", "admin").await;
    world.add_user("clerk", "clerk").await;
    world.add_user("manager", "manager").await;
    let mpesa = ok_json(
        &world
            .malipo_as(
                "clerk",
                &[
                    "pay", "mpesa", "--policy", "POL-1", "--phone", PAID, "--amount", "1500",
                ],
            )
            .await,
    );
    let card = ok_json(
        &world
            .malipo_as(
                "clerk",
                &[
                    "pay",
                    "card",
                    "--policy",
                    "POL-1",
                    "--email",
                    "amina@example.co.ke",
                    "--amount",
                    "1500",
                ],
            )
            .await,
    );
    let r = world
        .http
        .post(format!("{}/__sandbox/paystack/pay", world.sandbox_url))
        .json(&json!({"reference": card["reference"], "card": "4084084084084081"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    world
        .sync_until_final(&[number(&mpesa), number(&card)])
        .await;

    let request = |id: String, amount: &'static str| {
        let world = &world;
        async move {
            world
                .malipo_as(
                    "clerk",
                    &[
                        "refund",
                        "request",
                        &id,
                        "--amount",
                        amount,
                        "--reason",
                        "policy cancelled",
                    ],
                )
                .await
        }
    };
    let partial = ok_json(&request(number(&mpesa), "500").await);
    assert_eq!(partial["status"], "requested");
    let whole = ok_json(&request(number(&card), "1500").await);
    let too_much = request(number(&mpesa), "1000.01").await;
    assert!(!too_much.status.success(), "past what is left is refused");
    assert!(
        String::from_utf8_lossy(&too_much.stderr).contains("1,000.00"),
        "{}",
        String::from_utf8_lossy(&too_much.stderr)
    );
    let id = |v: &Value| v["id"].as_i64().unwrap().to_string();
    let by_clerk = world
        .malipo_as("clerk", &["refund", "approve", &id(&partial)])
        .await;
    assert!(!by_clerk.status.success(), "a clerk cannot approve");
    for r in [&partial, &whole] {
        let approved = ok_json(
            &world
                .malipo_as("manager", &["refund", "approve", &id(r)])
                .await,
        );
        assert!(
            matches!(
                approved["status"].as_str(),
                Some("processing" | "processed")
            ),
            "{approved}"
        );
        assert_eq!(approved["decided_by"], "manager");
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let list = world.malipo(&["refund", "list"]).await;
        let statuses: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        if statuses.iter().all(|s| *s == "processed") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let m = world.malipo(&["tx", "show", &number(&mpesa)]).await;
    assert_eq!(m["status"], "partially_refunded", "{m}");
    assert_eq!(m["refunded_minor"], 50_000);
    let c = world.malipo(&["tx", "show", &number(&card)]).await;
    assert_eq!(c["status"], "refunded", "{c}");
    assert_eq!(c["refunded_minor"], 150_000);
    // The manager's figures: collected, refunded and what is kept, apart.
    let summary = ok_json(&world.malipo_as("manager", &["summary"]).await);
    assert_eq!(summary["collected"]["amount_minor"], 300_000, "{summary}");
    assert_eq!(summary["refunded"]["amount_minor"], 200_000, "{summary}");
    assert_eq!(summary["refunded"]["count"], 2, "{summary}");
    assert_eq!(summary["net"]["amount_minor"], 100_000, "{summary}");
    assert_eq!(summary["net"]["amount"], "1000.00", "{summary}");
    let text = world.malipo_text_as("manager", &["summary"]).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("refunded") && l.contains("2,000.00"))
            && text
                .lines()
                .any(|l| l.starts_with("net") && l.contains("1,000.00")),
        "{text}"
    );
    // A payment refunded in full no longer prints as paid.
    let receipt = world
        .malipo_as(
            "clerk",
            &["receipt", &number(&card), "--out", "/tmp/never-written.pdf"],
        )
        .await;
    assert!(!receipt.status.success());
    assert!(
        String::from_utf8_lossy(&receipt.stderr).contains("refunded in full"),
        "{}",
        String::from_utf8_lossy(&receipt.stderr)
    );
    // Every refund webhook and the reversal result reached the office through the relay.
    let kinds: Vec<String> = world
        .feed()
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"reversal_result".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"refund.processed".to_owned()), "{kinds:?}");

    // Four eyes: a manager who asks for a refund cannot approve it; a rejection says why.
    let paid = number(&mpesa);
    let manager_asks = || async {
        ok_json(
            &world
                .malipo_as(
                    "manager",
                    &[
                        "refund", "request", &paid, "--amount", "100", "--reason", "overpaid",
                    ],
                )
                .await,
        )
    };
    let own = manager_asks().await;
    assert_eq!(own["policy"], "POL-1", "{own}");
    assert_eq!(own["holder"], "Amina Odhiambo", "{own}");
    let refused = world
        .malipo_as("manager", &["refund", "approve", &id(&own)])
        .await;
    assert_eq!(refused.status.code(), Some(5), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("another manager"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let unexplained = world
        .malipo_as("admin", &["refund", "reject", &id(&own), "--reason", " "])
        .await;
    assert_eq!(unexplained.status.code(), Some(2), "{unexplained:?}");
    let rejected = ok_json(
        &world
            .malipo_as(
                "admin",
                &["refund", "reject", &id(&own), "--reason", "paid once only"],
            )
            .await,
    );
    assert_eq!(rejected["status"], "rejected", "{rejected}");
    assert_eq!(rejected["decision_note"], "paid once only", "{rejected}");
    // A one-person office lets the one who asked approve, and the refund says so.
    ok_json(
        &world
            .malipo_as("admin", &["settings", "set", "refunds.self_approval", "on"])
            .await,
    );
    let again = manager_asks().await;
    let approved = ok_json(
        &world
            .malipo_as("manager", &["refund", "approve", &id(&again)])
            .await,
    );
    assert!(
        approved["decision_note"]
            .as_str()
            .is_some_and(|n| n.contains("one-person office")),
        "{approved}"
    );
}

/// An M-Pesa reversal whose answer never reached the office is not sent again, and its result,
/// which names the payment reversed, still settles the refund through the relay.
async fn a_reversal_whose_answer_was_lost_is_settled_by_its_result(backend: Backend) {
    let world = World::start(backend).await;
    let paid = world.pay_mpesa(PAID, "1500").await;
    world.add_user("admin", "admin").await;
    world.add_user("manager", "manager").await;
    let done = world.sync_until_final(&[number(&paid)]).await;
    assert_eq!(done[0]["status"], "succeeded");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.malipo(&["tx", "show", &number(&paid)]).await["provider_receipt"].is_null() {
        assert!(tokio::time::Instant::now() < deadline, "no receipt number");
        world.sync().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refund = ok_json(
        &world
            .malipo_as(
                "admin",
                &[
                    "refund",
                    "request",
                    &number(&paid),
                    "--amount",
                    "500",
                    "--reason",
                    "overpaid",
                ],
            )
            .await,
    );
    let id = refund["id"].to_string();
    world.behaviour(json!({"lose_next_answers": 1})).await;
    let lost = world
        .malipo_as("manager", &["refund", "approve", &id])
        .await;
    assert_eq!(
        lost.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&lost.stderr)
    );
    let again = world
        .malipo_as("manager", &["refund", "approve", &id])
        .await;
    assert_eq!(
        again.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let list = ok_json(&world.malipo_as("manager", &["refund", "list"]).await);
        let r = &list["items"][0];
        if r["status"] == "processed" {
            assert!(r["provider_ref"].is_string(), "{r}");
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let review = world
                .malipo_as("manager", &["orphans", "list", "--all"])
                .await;
            panic!("{list}\n{}", String::from_utf8_lossy(&review.stdout));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let stats: Value = world
        .http
        .get(format!("{}/__sandbox/stats", world.sandbox_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["reversals"], 1, "one reversal sent: {stats}");
    let after = world.malipo(&["tx", "show", &number(&paid)]).await;
    assert_eq!(after["status"], "partially_refunded", "{after}");
}

on_both_backends!(
    refunds_go_from_request_to_their_final_state,
    a_reversal_whose_answer_was_lost_is_settled_by_its_result
);
