//! A policy's standing: active while nothing is past due, in grace for the office's grace days
//! after a missed due date, lapsed after them, and active again once the arrears are paid.

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
    app.queue_reminders(&admin).await.unwrap();
    app.queue_reminders(&admin).await.unwrap();
    assert_eq!(
        notices(app.clone(), admin.clone()).await,
        1,
        "the lapse notice, once"
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
}
