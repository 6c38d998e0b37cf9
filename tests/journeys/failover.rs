//! A way round a Daraja outage, as processes: with M-Pesa Express failing, the health says so,
//! the next payment goes by the paybill route (proven and receipted once) or by M-Pesa through
//! Paystack (verified like every Paystack charge), never down two routes at once; once Daraja
//! answers again the prompt works and the health follows.

use crate::world::*;

async fn with_daraja_failing_the_next_payment_goes_round_it(backend: Backend) {
    let world = World::start(backend).await;
    world.malipo(&["mpesa", "register-urls"]).await;
    let healthy = world.malipo(&["mpesa", "health"]).await;
    assert_eq!(healthy["daraja_down"], false, "{healthy}");

    for outage in ["busy", "http_503"] {
        world.behaviour(json!({"daraja_outage": outage})).await;
        let out = world
            .malipo_output(&[
                "pay", "mpesa", "--policy", "POL-1", "--phone", PAID, "--amount", "1500", "--again",
            ])
            .await;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            said.contains("failed") || said.contains("M-Pesa"),
            "{outage}: {said}"
        );
    }
    let health = world.malipo(&["mpesa", "health"]).await;
    assert_eq!(health["daraja_down"], true, "{health}");
    assert_eq!(health["mpesa"]["state"], "down", "{health}");
    assert!(health["mpesa"]["busy"].as_u64().unwrap() >= 1, "{health}");
    assert!(
        health["mpesa"]["server_errors"].as_u64().unwrap() >= 1,
        "{health}"
    );
    assert_eq!(health["paybill"], "174379", "{health}");
    assert_eq!(health["paystack_mpesa"], true, "{health}");

    // The 503'd prompt may have reached the phone: that policy and amount get no second route
    // until it ends.
    let open = world
        .malipo_output(&[
            "pay",
            "mpesa-paybill",
            "--policy",
            "POL-1",
            "--phone",
            PAID,
            "--amount",
            "1500",
        ])
        .await;
    let stuck = world.malipo(&["tx", "list", "--status", "pending"]).await;
    if stuck["total"].as_i64().unwrap_or(0) > 0 {
        assert_eq!(
            open.status.code(),
            Some(4),
            "never two routes at once: {}",
            String::from_utf8_lossy(&open.stderr)
        );
    }

    // The paybill route for the next payment: shown, sent by SMS, paid by the customer, proven
    // and receipted once.
    let route = world
        .malipo(&[
            "pay",
            "mpesa-paybill",
            "--policy",
            "POL-1",
            "--phone",
            PAID,
            "--amount",
            "1,200",
        ])
        .await;
    assert_eq!(
        (route["shortcode"].as_str(), route["account"].as_str()),
        (Some("174379"), Some("POL-1")),
        "{route}"
    );
    assert_eq!(route["amount_minor"], 120_000, "{route}");
    assert_eq!(route["sms_queued"], true, "{route}");
    let again = world
        .malipo(&[
            "pay",
            "mpesa-paybill",
            "--policy",
            "POL-1",
            "--phone",
            PAID,
            "--amount",
            "1,200",
        ])
        .await;
    assert_eq!(again["sms_queued"], false, "one SMS a day for it: {again}");
    let paid = pay_bill(&world, "POL-1", 1200, "Amina").await;
    assert_eq!(paid["outcome"], "completed", "{paid}");
    let list = sync_until(&world, &["paybill", "list"], |l| l["total"] == 1).await;
    let tx = &list["items"][0];
    assert_eq!(
        (tx["status"].as_str(), tx["amount_minor"].as_i64()),
        (Some("succeeded"), Some(120_000)),
        "{tx}"
    );
    assert!(tx["receipt_number"].is_string(), "{tx}");

    // M-Pesa through Paystack for another: pending, then paid by webhook and verify.
    let started = world
        .malipo(&[
            "pay",
            "mpesa-paystack",
            "--policy",
            "POL-1",
            "--phone",
            PAID,
            "--amount",
            "800",
            "--email",
            "amina@example.co.ke",
        ])
        .await;
    assert_eq!(started["status"], "awaiting_customer", "{started}");
    assert_eq!(started["channel"], "mobile_money", "{started}");
    let done = world.sync_until_final(&[number(&started)]).await;
    assert_eq!(done[0]["status"], "succeeded", "{}", done[0]);
    assert_eq!(done[0]["method"], "card", "{}", done[0]);
    assert!(done[0]["receipt_number"].is_string(), "{}", done[0]);
    assert_eq!(
        done[0]["card_last4"],
        Value::Null,
        "not a card: {}",
        done[0]
    );

    // Daraja answers again: the prompt works, and the health is no longer down.
    world.behaviour(json!({"daraja_outage": ""})).await;
    let back = world.pay_mpesa(PAID, "500").await;
    assert_eq!(back["status"], "awaiting_customer", "{back}");
    let health = world.malipo(&["mpesa", "health"]).await;
    assert_eq!(health["daraja_down"], false, "{health}");
}

on_both_backends!(with_daraja_failing_the_next_payment_goes_round_it);
