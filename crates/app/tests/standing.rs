//! A policy's standing: active while nothing is past due, in grace for the office's grace days
//! after a missed due date, lapsed after them, and active again once the arrears are paid (or,
//! by setting, once a manager reinstates it). The company register carries the lapse.

use malipo_app::{Actor, App, CashRequest, PolicyInput, PolicyQuery, SummaryQuery};
use time::Duration;

mod support;
use support::HandClock;

#[tokio::test]
async fn a_missed_instalment_is_grace_then_lapsed_and_paying_the_arrears_reinstates() {
    let dir = tempfile::tempdir().unwrap();
    let clock = HandClock::now_utc();
    let app = App::open_with_clock(dir.path(), clock.clone())
        .await
        .unwrap();
    app.add_user(&Actor::Setup, "admin", "admin", "admin-pass-1")
        .await
        .unwrap();
    let admin = Actor::User(app.sign_in("admin", "admin-pass-1").await.unwrap());
    let today = malipo_domain::time_zone::nairobi_date(malipo_app::Clock::now(clock.as_ref()));
    let due = today - Duration::days(3);
    app.add_policy(
        &admin,
        &PolicyInput {
            number: "POL-1".into(),
            holder: "Amina Odhiambo".into(),
            phone: "0708374149".into(),
            email: None,
            premium: "1000".into(),
            frequency: None,
            instalments: None,
            start: Some(due.to_string()),
            status: None,
        },
    )
    .await
    .unwrap();
    let row = |app: App| async move {
        let list = app
            .policies(&Actor::Console, &PolicyQuery::default())
            .await
            .unwrap();
        list.items[0].clone()
    };

    // Three days after the missed due date: grace, for 14 days from it.
    let r = row(app.clone()).await;
    assert_eq!(r.standing, "grace");
    assert_eq!(
        r.grace_ends.as_deref(),
        Some((due + Duration::days(14)).to_string().as_str())
    );
    let dash = app
        .dashboard(&admin, &SummaryQuery::default())
        .await
        .unwrap();
    assert!(
        dash.lapsing.is_empty(),
        "11 days of grace left: not this week"
    );
    let details = app.policy_details(&admin, "POL-1").await.unwrap();
    assert_eq!(details.standing, "grace");

    // A week later it lapses within the week, and the grace window's reminder of the day (+10)
    // is due.
    clock.advance(Duration::days(7));
    let due_now = app.reminders_due(&admin).await.unwrap();
    assert!(
        due_now
            .iter()
            .any(|r| r.policy == "POL-1" && r.offset == 10),
        "{due_now:?}"
    );
    let dash = app
        .dashboard(&admin, &SummaryQuery::default())
        .await
        .unwrap();
    assert_eq!(dash.lapsing.len(), 1, "lapsing this week");
    assert_eq!(dash.lapsing[0].policy.number, "POL-1");

    // After the grace days: lapsed.
    clock.advance(Duration::days(5));
    let r = row(app.clone()).await;
    assert_eq!(r.standing, "lapsed");
    assert_eq!(
        r.lapsed_since.as_deref(),
        Some((due + Duration::days(15)).to_string().as_str())
    );
    assert_eq!(r.grace_ends, None);
    // Lapsed: the notice is queued once, however often the reminders are queued.
    let notices = |app: App, who: Actor| async move {
        app.messages(&who, None, Some("POL-1"))
            .await
            .unwrap()
            .iter()
            .filter(|m| m.purpose == "notice")
            .count()
    };
    let status =
        |app: App| async move { app.policy(&Actor::Console, "POL-1").await.unwrap().status };
    assert_eq!(
        status(app.clone()).await,
        "active",
        "not yet in the register"
    );
    app.queue_reminders(&admin).await.unwrap();
    app.queue_reminders(&admin).await.unwrap();
    assert_eq!(
        notices(app.clone(), admin.clone()).await,
        1,
        "the lapse notice, once"
    );
    // The sender's pass writes the lapse to the register (sent to the company's at the next
    // sync), in the audit log.
    assert_eq!(status(app.clone()).await, "lapsed");
    let audit = app
        .audit_log(&admin, Some(("policy", "POL-1")), 20)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.sentence.contains("changed policy POL-1: status")),
        "{audit:?}"
    );
    // A longer grace set by the office puts it back in grace.
    app.set_setting(&admin, "policy.grace_days", "30")
        .await
        .unwrap();
    assert_eq!(row(app.clone()).await.standing, "grace");
    app.set_setting(&admin, "policy.grace_days", "14")
        .await
        .unwrap();

    // Paying what is due (the first instalment; the second falls due next month) reinstates it.
    app.pay_cash(
        &admin,
        &CashRequest {
            policy: "POL-1".into(),
            amount: "1000".into(),
            tendered: "1000".into(),
            again: false,
        },
    )
    .await
    .unwrap();
    let r = row(app.clone()).await;
    assert_eq!(r.standing, "active", "{r:?}");
    assert_eq!((r.grace_ends, r.lapsed_since), (None, None));
    // The register follows at the next pass.
    app.queue_reminders(&admin).await.unwrap();
    assert_eq!(status(app.clone()).await, "active");

    // A policy the core system's register calls lapsed, with nothing owed: its lapse is not the
    // premiums', so paying up does not lift it.
    let other = PolicyInput {
        number: "POL-2".into(),
        holder: "Baraka Mwangi".into(),
        phone: "0708374149".into(),
        email: None,
        premium: "1000".into(),
        frequency: None,
        instalments: None,
        start: Some((today + Duration::days(60)).to_string()),
        status: None,
    };
    app.add_policy(&admin, &other).await.unwrap();
    let lapsed = PolicyInput {
        status: Some("lapsed".into()),
        ..other
    };
    app.correct_policy(&admin, &lapsed).await.unwrap();
    app.queue_reminders(&admin).await.unwrap();
    assert_eq!(
        app.policy(&Actor::Console, "POL-2").await.unwrap().status,
        "lapsed",
        "the core system's lapse is left"
    );

    // An office that leaves reinstatement to a manager: the next instalment missed past its
    // grace lapses the policy again, and paying the arrears leaves it lapsed until a manager
    // says otherwise.
    app.set_setting(&admin, "policy.reinstate", "manager")
        .await
        .unwrap();
    app.add_user(&admin, "otieno", "clerk", "a-good-pass-1")
        .await
        .unwrap();
    let clerk = Actor::User(app.sign_in("otieno", "a-good-pass-1").await.unwrap());
    clock.advance(Duration::days(40));
    app.queue_reminders(&admin).await.unwrap();
    assert_eq!(status(app.clone()).await, "lapsed");
    let early = app
        .reinstate_policy(&admin, "POL-1", None)
        .await
        .unwrap_err();
    assert!(early.to_string().contains("arrears"), "{early}");
    app.pay_cash(
        &clerk,
        &CashRequest {
            policy: "POL-1".into(),
            amount: "1000".into(),
            tendered: "1000".into(),
            again: false,
        },
    )
    .await
    .unwrap();
    app.queue_reminders(&admin).await.unwrap();
    let r = row(app.clone()).await;
    assert_eq!(
        (r.standing.as_str(), r.awaiting_reinstatement),
        ("lapsed", true),
        "{r:?}"
    );
    assert_eq!(status(app.clone()).await, "lapsed", "the pass leaves it");
    let details = app.policy_details(&clerk, "POL-1").await.unwrap();
    assert!(details.awaiting_reinstatement);
    let refused = app
        .reinstate_policy(&clerk, "POL-1", Some("paid"))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        malipo_app::ErrorCode::Forbidden,
        "{refused}"
    );
    let back = app
        .reinstate_policy(&admin, "POL-1", Some("Arrears paid in cash"))
        .await
        .unwrap();
    assert_eq!(back.status, "active");
    app.queue_reminders(&admin).await.unwrap();
    let r = row(app.clone()).await;
    assert_eq!(
        (r.standing.as_str(), r.awaiting_reinstatement),
        ("active", false)
    );
    assert_eq!(
        status(app.clone()).await,
        "active",
        "the lapse is not written twice"
    );
    let again = app
        .reinstate_policy(&admin, "POL-1", None)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("not lapsed"), "{again}");
    let audit = app
        .audit_log(&admin, Some(("policy", "POL-1")), 50)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.sentence == "admin reinstated lapsed policy POL-1: Arrears paid in cash"),
        "{audit:?}"
    );
}
