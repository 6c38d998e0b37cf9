//! Every way a customer pays at the counter, as processes: cash with change and its receipt, the
//! drawer closed short and refused more cash, a sign-off that needs a note, a deposit, the day's
//! reconciliation, the payment in the company's figures at the relay; cheques that clear or
//! bounce; a bank slip confirmed from the bank's statement.

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

/// A cheque that clears and one that bounces (the instalment open again, the receipt standing,
/// a reversing entry, the holder told once), and a bank slip that is money only once confirmed.
async fn cheques_clear_or_bounce_and_a_slip_waits_for_confirmation(backend: Backend) {
    let world = World::start(backend).await;
    world.add_user("admin", "admin").await;
    world.add_user("clerk", "clerk").await;
    world.add_user("manager", "manager").await;
    let cheque = |number: &'static str| {
        let world = &world;
        async move {
            ok_json(
                &world
                    .malipo_as(
                        "clerk",
                        &[
                            "pay", "cheque", "--policy", "POL-1", "--amount", "1,500", "--number",
                            number, "--bank", "KCB", "--drawer", "Acme Ltd",
                        ],
                    )
                    .await,
            )
        }
    };
    let good = cheque("100200").await;
    let bad = cheque("100201").await;
    assert_eq!(good["state"], "received");
    assert_eq!(good["payment"]["status"], "succeeded");
    let owed = |policy: Value| -> i64 {
        policy["instalments"].as_array().unwrap()[..2]
            .iter()
            .map(|i| i["outstanding_minor"].as_i64().unwrap())
            .sum()
    };
    let before = world.malipo_as("clerk", &["policy", "show", "POL-1"]).await;
    assert_eq!(
        owed(ok_json(&before)),
        0,
        "two instalments paid, provisionally"
    );
    let bad_number = bad["payment"]["number"].as_str().unwrap().to_owned();
    let good_number = good["payment"]["number"].as_str().unwrap().to_owned();
    for n in [&good_number, &bad_number] {
        ok_json(&world.malipo_as("clerk", &["cheque", "bank", n]).await);
    }
    let cleared = ok_json(
        &world
            .malipo_as("manager", &["cheque", "clear", &good_number])
            .await,
    );
    assert_eq!(cleared["state"], "cleared");
    let bounced = ok_json(
        &world
            .malipo_as(
                "manager",
                &[
                    "cheque",
                    "bounce",
                    &bad_number,
                    "--reason",
                    "refer to drawer",
                ],
            )
            .await,
    );
    assert_eq!(bounced["payment"]["status"], "bounced");
    assert_eq!(
        bounced["payment"]["receipt_number"], bad["payment"]["receipt_number"],
        "the receipt stands"
    );
    let after = world.malipo_as("clerk", &["policy", "show", "POL-1"]).await;
    assert_eq!(
        owed(ok_json(&after)),
        150_000,
        "the bounced cheque's instalment is open again"
    );
    let again = world
        .malipo_as(
            "manager",
            &["cheque", "bounce", &bad_number, "--reason", "again"],
        )
        .await;
    assert_eq!(again.status.code(), Some(4));
    let audit = ok_json(
        &world
            .malipo_as("manager", &["audit", "--limit", "100"])
            .await,
    );
    assert!(
        audit.to_string().contains("cheque.bounce"),
        "the reversal is audited: {audit}"
    );
    let messages = ok_json(&world.malipo_as("manager", &["messages", "list"]).await);
    let notices = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["purpose"] == "notice")
        .count();
    assert_eq!(notices, 1, "the holder is told once: {messages}");

    let slip = ok_json(
        &world
            .malipo_as(
                "clerk",
                &[
                    "pay",
                    "bank",
                    "--policy",
                    "POL-1",
                    "--amount",
                    "1,500",
                    "--bank-ref",
                    "FT26341ABC",
                ],
            )
            .await,
    );
    assert_eq!(slip["payment"]["status"], "awaiting_confirmation");
    let slip_number = slip["payment"]["number"].as_str().unwrap().to_owned();
    let early = world
        .malipo_as("clerk", &["receipt", &slip_number, "--out", "/dev/null"])
        .await;
    assert!(!early.status.success(), "no receipt before it is money");
    let statement = world.dir.path().join("statement.csv");
    std::fs::write(
        &statement,
        "Date,Reference,Credit\n07/12/2026,FT26341ABC,\"1,500.00\"\n07/12/2026,OTHER,10.00\n",
    )
    .unwrap();
    let report = ok_json(
        &world
            .malipo_as(
                "manager",
                &[
                    "bank",
                    "import",
                    statement.to_str().unwrap(),
                    "--columns",
                    "reference=Reference,amount=Credit",
                ],
            )
            .await,
    );
    assert_eq!(
        report["confirmed"][0]["payment"]["status"], "succeeded",
        "{report}"
    );
    assert!(report["confirmed"][0]["payment"]["receipt_number"].is_string());
}

on_both_backends!(
    cash_with_change_a_short_drawer_signed_off_and_a_deposit,
    cheques_clear_or_bounce_and_a_slip_waits_for_confirmation
);
