//! Cash at the counter, as processes: a payment with change and its receipt, the drawer closed
//! short and refused more cash, a sign-off that needs a note, a deposit, the day's
//! reconciliation, and the payment in the company's figures at the relay.

use crate::world::*;

async fn cash_with_change_a_short_drawer_signed_off_and_a_deposit(backend: Backend) {
    let world = World::start(backend).await;
    world.add_user("admin", "admin").await;
    world.add_user("clerk", "clerk").await;
    world.add_user("manager", "manager").await;
    let cash = |amount: &'static str, tendered: &'static str| {
        let world = &world;
        async move {
            world
                .malipo_as(
                    "clerk",
                    &[
                        "pay",
                        "cash",
                        "--policy",
                        "POL-1",
                        "--amount",
                        amount,
                        "--tendered",
                        tendered,
                        "--again",
                    ],
                )
                .await
        }
    };

    let paid = ok_json(&cash("1,500", "2,000").await);
    assert_eq!(paid["method"], "cash");
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(paid["amount_minor"], 150_000);
    assert_eq!(
        (paid["tendered"].as_str(), paid["change"].as_str()),
        (Some("2000.00"), Some("500.00"))
    );
    assert_eq!(paid["change_minor"], 50_000);
    let short = cash("1,500", "1,000").await;
    assert_eq!(
        short.status.code(),
        Some(2),
        "short: {}",
        String::from_utf8_lossy(&short.stderr)
    );

    let pdf = world.dir.path().join("cash-receipt.pdf");
    world
        .malipo_as(
            "clerk",
            &["receipt", &number(&paid), "--out", pdf.to_str().unwrap()],
        )
        .await;
    let text = pdf_text(&pdf);
    assert!(
        text.contains("Cash, KES 2,000.00 tendered, KES 500.00 change"),
        "the receipt: {text}"
    );

    let closed = ok_json(
        &world
            .malipo_as("clerk", &["cash", "close", "--notes", "1000x1,200x2,50x1"])
            .await,
    );
    assert_eq!(closed["expected_minor"], 150_000);
    assert_eq!(closed["counted_minor"], 145_000);
    assert_eq!(closed["variance"], "-50.00");
    let refused = cash("100", "100").await;
    assert_eq!(
        refused.status.code(),
        Some(4),
        "a closed drawer takes no cash: {}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let clerk_signs = world
        .malipo_as("clerk", &["cash", "sign-off", "clerk"])
        .await;
    assert!(!clerk_signs.status.success(), "a clerk cannot sign off");
    let no_note = world
        .malipo_as("manager", &["cash", "sign-off", "clerk"])
        .await;
    assert_eq!(
        no_note.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&no_note.stderr)
    );
    let signed = ok_json(
        &world
            .malipo_as(
                "manager",
                &[
                    "cash",
                    "sign-off",
                    "clerk",
                    "--note",
                    "KES 50 short: recounted, clerk told",
                ],
            )
            .await,
    );
    assert_eq!(signed["signed_off_by"], "manager");

    let too_much = world
        .malipo_as(
            "clerk",
            &["cash", "deposit", "--amount", "1,600", "--bank-ref", "EQ-1"],
        )
        .await;
    assert_eq!(too_much.status.code(), Some(4));
    let deposit = ok_json(
        &world
            .malipo_as(
                "clerk",
                &["cash", "deposit", "--amount", "1,450", "--bank-ref", "EQ-1"],
            )
            .await,
    );
    assert_eq!(deposit["amount_minor"], 145_000);
    let status = ok_json(&world.malipo_as("manager", &["cash", "status"]).await);
    assert_eq!(status["position"]["undeposited_minor"], 5_000);
    assert_eq!(status["drawers"][0]["signed_off_by"], "manager");

    let report = ok_json(
        &world
            .malipo_as("manager", &["reconcile", "--date", &nairobi_day(&paid)])
            .await,
    );
    let variance = differences(&report, "cash_variance");
    assert_eq!(variance.len(), 1, "{report}");
    assert_eq!(variance[0]["reference"], "clerk");

    // Sync sends it to the relay: the company's figures count it as cash.
    world.sync().await;
    let company = ok_json(&world.malipo_as("manager", &["summary", "--company"]).await);
    let by_cash = company["by_method"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "cash")
        .unwrap_or_else(|| panic!("cash at the relay: {company}"));
    assert_eq!(by_cash["collected"]["amount_minor"], 150_000, "{company}");
}

on_both_backends!(cash_with_change_a_short_drawer_signed_off_and_a_deposit);
