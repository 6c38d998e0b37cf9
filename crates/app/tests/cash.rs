//! Cash at the counter: change worked out and never negative, a payment like any other
//! (numbers, receipt, instalments, refunds), each clerk's drawer closed against what the
//! payments say it should hold, a manager's sign-off, and deposits that never exceed the cash
//! the office holds. No provider is configured: cash needs none.

use std::sync::Arc;

use malipo_app::{Actor, App, CashRequest, Counted, ErrorCode, PolicyInput};
use malipo_domain::TxStatus;
use time::Duration;

mod support;
use support::HandClock;

struct Office {
    app: App,
    clock: Arc<HandClock>,
    manager: Actor,
    other_manager: Actor,
    clerk: Actor,
    second_clerk: Actor,
    _dir: tempfile::TempDir,
}

impl Office {
    async fn open() -> Office {
        let dir = tempfile::tempdir().unwrap();
        // 10:00 in Nairobi, so a day's work stays inside one Nairobi day.
        let clock = HandClock::now_utc();
        let now = malipo_app::Clock::now(clock.as_ref());
        let day_start = malipo_domain::time_zone::nairobi_date(now)
            .with_hms(10, 0, 0)
            .unwrap()
            .assume_offset(malipo_domain::time_zone::NAIROBI);
        clock.advance(day_start - now + Duration::days(1));
        let app = App::open_with_clock(dir.path(), clock.clone())
            .await
            .unwrap();
        app.add_user(&Actor::Setup, "admin", "admin", "admin-pass-1")
            .await
            .unwrap();
        let admin = Actor::User(app.sign_in("admin", "admin-pass-1").await.unwrap());
        let mut users = Vec::new();
        for (name, role) in [
            ("wanjiru", "manager"),
            ("kamau", "manager"),
            ("otieno", "clerk"),
            ("achieng", "clerk"),
        ] {
            app.add_user(&admin, name, role, "a-good-pass-1")
                .await
                .unwrap();
            users.push(Actor::User(
                app.sign_in(name, "a-good-pass-1").await.unwrap(),
            ));
        }
        app.add_policy(
            &admin,
            &PolicyInput {
                number: "POL-1".into(),
                holder: "Amina Odhiambo".into(),
                phone: "0708374149".into(),
                email: None,
                premium: "1250".into(),
                frequency: None,
                instalments: None,
                start: None,
                status: None,
            },
        )
        .await
        .unwrap();
        let mut users = users.into_iter();
        Office {
            app,
            clock,
            manager: users.next().unwrap(),
            other_manager: users.next().unwrap(),
            clerk: users.next().unwrap(),
            second_clerk: users.next().unwrap(),
            _dir: dir,
        }
    }

    async fn cash(
        &self,
        who: &Actor,
        amount: &str,
        tendered: &str,
    ) -> malipo_app::Result<malipo_app::views::TransactionView> {
        self.app
            .pay_cash(
                who,
                &CashRequest {
                    policy: "POL-1".into(),
                    amount: amount.into(),
                    tendered: tendered.into(),
                    again: true,
                },
            )
            .await
    }
}

#[tokio::test]
async fn cash_is_paid_at_once_with_its_change_and_counts_like_any_payment() {
    let office = Office::open().await;
    let paid = office.cash(&office.clerk, "1,250", "2,000").await.unwrap();
    assert_eq!(paid.status, TxStatus::Succeeded);
    assert_eq!(paid.method, malipo_domain::Method::Cash);
    assert_eq!(paid.amount_minor, 125_000);
    assert_eq!(paid.tendered.as_deref(), Some("2000.00"));
    assert_eq!(paid.change.as_deref(), Some("750.00"));
    assert!(paid.receipt_number.is_some(), "{paid:?}");
    assert_eq!(paid.clerk.as_deref(), Some("otieno"));

    // Exact money: no change.
    let exact = office.cash(&office.clerk, "1250", "1250").await.unwrap();
    assert_eq!(exact.change.as_deref(), Some("0.00"));

    // Short, in another currency, or not money at all: refused, nothing recorded.
    for (amount, tendered, field) in [
        ("1250", "1000", "tendered"),
        ("1250", "USD 20", "tendered"),
        ("1250", "-5", "tendered"),
        ("0", "100", "amount"),
        ("12.505", "20", "amount"),
    ] {
        let e = office
            .cash(&office.clerk, amount, tendered)
            .await
            .unwrap_err();
        match &e {
            malipo_app::Error::Invalid { field: f, .. } => {
                assert_eq!(f, field, "{amount}/{tendered}: {e}")
            }
            other => panic!("{amount}/{tendered}: {other:?}"),
        }
    }
    // Without a signed-in clerk there is no drawer to put it in.
    let e = office
        .cash(&Actor::Setup, "1250", "2000")
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden, "{e}");

    let history = office
        .app
        .history(&office.manager, &malipo_app::HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(history.total, 2, "only the two accepted payments exist");

    // The instalment it paid is paid: the policy's schedule sees cash like any money.
    let details = office
        .app
        .policy_details(&office.manager, "POL-1")
        .await
        .unwrap();
    let first = &details.instalments[0];
    assert_eq!(first.paid_minor, 125_000, "{first:?}");
    assert_eq!(first.outstanding_minor, 0, "{first:?}");
}

#[tokio::test]
async fn a_drawer_closes_against_its_payments_and_refunds_and_then_takes_no_more_cash() {
    let office = Office::open().await;
    let app = &office.app;
    office.cash(&office.clerk, "1250", "2000").await.unwrap();
    let refunded = office.cash(&office.clerk, "1250", "1500").await.unwrap();
    office
        .cash(&office.second_clerk, "500", "500")
        .await
        .unwrap();

    // A cash refund comes out of the drawer of the clerk who asked, once a manager approves.
    let refund = app
        .request_refund(&office.clerk, &refunded.number, "250", "overpaid")
        .await
        .unwrap();
    let refund = app
        .approve_refund(&office.manager, refund.id)
        .await
        .unwrap();
    assert_eq!(refund.status, malipo_domain::RefundStatus::Processed);

    let report = app.cash_report(&office.manager, None).await.unwrap();
    let otieno = report.drawers.iter().find(|d| d.clerk == "otieno").unwrap();
    assert_eq!(otieno.payments, 2);
    assert_eq!(otieno.received_minor, 250_000);
    assert_eq!(otieno.paid_out_minor, 25_000);
    assert_eq!(otieno.expected_minor, 225_000);
    assert!(!otieno.closed);
    assert_eq!(report.drawers.len(), 2, "{:?}", report.drawers);
    // A clerk sees only their own drawer.
    let own = app.cash_report(&office.second_clerk, None).await.unwrap();
    assert_eq!(own.drawers.len(), 1);
    assert_eq!(own.drawers[0].clerk, "achieng");
    assert!(own.awaiting_sign_off.is_empty());

    // Counted note by note, KES 50 short.
    let closed = app
        .close_cash(
            &office.clerk,
            &Counted::Denominations("1000x2,100x2,20x0".into()),
            None,
        )
        .await
        .unwrap();
    assert!(closed.closed);
    assert_eq!(closed.counted_minor, Some(220_000));
    assert_eq!(closed.variance_minor, Some(-5_000));
    assert_eq!(closed.variance.as_deref(), Some("-50.00"));
    assert_eq!(closed.denominations.as_deref(), Some("1000x2,100x2,20x0"));

    // Closed: no more cash in, no cash refund out, no second close.
    let e = office.cash(&office.clerk, "100", "100").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
    let again = app
        .close_cash(&office.clerk, &Counted::Total("2,250".into()), None)
        .await
        .unwrap_err();
    assert_eq!(again.code(), ErrorCode::Conflict, "{again}");
    let late = app
        .request_refund(&office.clerk, &refunded.number, "100", "again")
        .await
        .unwrap();
    let e = app
        .approve_refund(&office.manager, late.id)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
    let still = app
        .refunds(&office.manager, Some("approved"))
        .await
        .unwrap();
    assert_eq!(
        still.len(),
        1,
        "the refund waits, approved, until the drawer opens"
    );
    // The other clerk's drawer is still open.
    office
        .cash(&office.second_clerk, "100", "100")
        .await
        .unwrap();

    // Signing off: managers only; a variance needs a note; once.
    let e = app
        .sign_off_cash(&office.second_clerk, "otieno", None, Some("fine"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden, "{e}");
    let e = app
        .sign_off_cash(&office.manager, "otieno", None, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}");
    assert!(e.to_string().contains("KES 50.00 short"), "{e}");
    let e = app
        .sign_off_cash(&office.manager, "achieng", None, Some("ok"))
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        ErrorCode::Conflict,
        "an open drawer cannot be signed off: {e}"
    );
    let report = app.cash_report(&office.manager, None).await.unwrap();
    assert_eq!(report.awaiting_sign_off.len(), 1);
    let signed = app
        .sign_off_cash(
            &office.manager,
            "otieno",
            None,
            Some("a 50 note found under the till"),
        )
        .await
        .unwrap();
    assert_eq!(signed.signed_off_by.as_deref(), Some("wanjiru"));
    assert_eq!(
        signed.sign_off_note.as_deref(),
        Some("a 50 note found under the till")
    );
    let e = app
        .sign_off_cash(&office.other_manager, "otieno", None, Some("again"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
    let audit = app.audit_log(&office.manager, None, 50).await.unwrap();
    for action in ["cash.close", "cash.sign_off"] {
        assert!(
            audit.iter().any(|a| a.action == action),
            "{action} in the audit log"
        );
    }

    // The next day the drawer is open again, and the approved refund can come out of it.
    office.clock.advance(Duration::days(1));
    office.cash(&office.clerk, "100", "200").await.unwrap();
    let out = app.approve_refund(&office.manager, late.id).await.unwrap();
    assert_eq!(out.status, malipo_domain::RefundStatus::Processed);
    let today = app.cash_report(&office.manager, None).await.unwrap();
    let otieno = today.drawers.iter().find(|d| d.clerk == "otieno").unwrap();
    assert_eq!(otieno.expected_minor, 0, "KES 100 in, KES 100 back out");

    // Yesterday's reconciliation lists the variance; today's the drawer not closed is not yet
    // a difference (the day is not over).
    let yesterday = malipo_domain::time_zone::nairobi_date(
        malipo_app::Clock::now(office.clock.as_ref()) - Duration::days(1),
    );
    let r = app
        .reconcile(&office.manager, &yesterday.to_string())
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = r
        .differences
        .iter()
        .map(|d| (d.kind.as_str(), d.reference.as_deref().unwrap_or("")))
        .collect();
    assert!(kinds.contains(&("cash_variance", "otieno")), "{kinds:?}");
    assert!(kinds.contains(&("cash_not_closed", "achieng")), "{kinds:?}");
    assert!(
        !kinds.contains(&("cash_not_signed_off", "otieno")),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_manager_signs_off_their_own_cash_only_in_a_one_person_office() {
    let office = Office::open().await;
    let app = &office.app;
    office.cash(&office.manager, "1250", "1250").await.unwrap();
    app.close_cash(&office.manager, &Counted::Total("1250".into()), None)
        .await
        .unwrap();
    let e = app
        .sign_off_cash(&office.manager, "wanjiru", None, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden, "{e}");
    app.set_setting(&Actor::Setup, "cash.self_sign_off", "on")
        .await
        .unwrap();
    let own = app
        .sign_off_cash(&office.manager, "wanjiru", None, None)
        .await
        .unwrap();
    assert!(
        own.sign_off_note
            .as_deref()
            .is_some_and(|n| n.contains("one-person office")),
        "{own:?}"
    );
}

#[tokio::test]
async fn deposits_never_exceed_the_cash_in_the_office() {
    let office = Office::open().await;
    let app = &office.app;
    office.cash(&office.clerk, "1250", "2000").await.unwrap();
    office
        .cash(&office.second_clerk, "750", "1000")
        .await
        .unwrap();
    let before = app
        .dashboard(&office.manager, &malipo_app::SummaryQuery::default())
        .await
        .unwrap();
    assert_eq!(before.cash.undeposited_minor, 200_000);

    let e = app
        .deposit_cash(&office.clerk, "2,000.01", "EQ-1")
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
    for bad in ["", "   ", &"x".repeat(41), "EQ\n1"] {
        let e = app
            .deposit_cash(&office.clerk, "100", bad)
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidInput, "{bad:?}: {e}");
    }
    let d = app
        .deposit_cash(&office.clerk, "1,500", "EQ-1")
        .await
        .unwrap();
    assert_eq!(d.amount_minor, 150_000);
    let e = app
        .deposit_cash(&office.clerk, "100", "EQ-1")
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        ErrorCode::Conflict,
        "a slip is recorded once: {e}"
    );
    let e = app
        .deposit_cash(&office.clerk, "600", "EQ-2")
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "only KES 500 is left: {e}");

    let after = app
        .dashboard(&office.manager, &malipo_app::SummaryQuery::default())
        .await
        .unwrap();
    assert_eq!(after.cash.received_minor, 200_000);
    assert_eq!(after.cash.deposited_minor, 150_000);
    assert_eq!(after.cash.undeposited_minor, 50_000);
    let report = app.cash_report(&office.clerk, None).await.unwrap();
    assert_eq!(report.deposits.len(), 1);
    assert_eq!(report.deposits[0].bank_ref, "EQ-1");
}
