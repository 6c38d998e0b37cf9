//! Collection instructions: a manager sets one only with the holder's consent on record, anyone
//! may stop it, a card must be one Paystack keeps for the policy, and every change is audited.

use malipo_app::{Actor, App, CollectRequest, ErrorCode, PolicyInput};

#[tokio::test]
async fn an_instruction_needs_a_manager_and_consent_and_anyone_may_stop_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path()).await.unwrap();
    app.add_user(&Actor::Setup, "admin", "admin", "admin-pass-1")
        .await
        .unwrap();
    let admin = Actor::User(app.sign_in("admin", "admin-pass-1").await.unwrap());
    for (name, role) in [("wanjiru", "manager"), ("otieno", "clerk")] {
        app.add_user(&admin, name, role, "a-good-pass-1")
            .await
            .unwrap();
    }
    let manager = Actor::User(app.sign_in("wanjiru", "a-good-pass-1").await.unwrap());
    let clerk = Actor::User(app.sign_in("otieno", "a-good-pass-1").await.unwrap());
    app.add_policy(
        &admin,
        &PolicyInput {
            number: "POL-1".into(),
            holder: "Amina Odhiambo".into(),
            phone: "0708374149".into(),
            email: Some("amina@example.co.ke".into()),
            premium: "1500".into(),
            frequency: None,
            instalments: None,
            start: None,
            status: None,
        },
    )
    .await
    .unwrap();
    let ask = |kind: &str, consent: Option<&str>| CollectRequest {
        policy: "POL-1".into(),
        kind: kind.into(),
        card_last4: None,
        consent: consent.map(str::to_owned),
        consent_how: Some("in_person".into()),
    };

    let e = app
        .set_collection(&clerk, &ask("mpesa_prompt", Some("yes")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden, "{e}");
    let e = app
        .set_collection(&manager, &ask("mpesa_prompt", None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput, "no consent: {e}");
    let e = app
        .set_collection(&manager, &ask("card", Some("charge my card")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotFound, "no saved card: {e}");
    let e = app
        .set_collection(&manager, &ask("ratiba", Some("yes")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}");
    assert!(e.to_string().contains("M-Pesa"), "no M-Pesa set up: {e}");

    let set = app
        .set_collection(
            &manager,
            &ask("mpesa_prompt", Some("Prompt me on each due date")),
        )
        .await
        .unwrap();
    assert_eq!(set.kind, "mpesa_prompt");
    assert_eq!(set.phone.as_deref(), Some("254708374149"));
    assert_eq!(set.consent_by.as_deref(), Some("wanjiru"));
    assert!(set.consent_at.is_some());
    let details = app.policy_details(&clerk, "POL-1").await.unwrap();
    assert_eq!(
        details.collection.as_ref().map(|c| c.kind.as_str()),
        Some("mpesa_prompt")
    );

    let stopped = app
        .set_collection(&clerk, &ask("none", None))
        .await
        .unwrap();
    assert_eq!(stopped.kind, "none");
    assert_eq!(stopped.consent_by, None, "no consent is kept for none");
    assert_eq!(stopped.stopped_reason.as_deref(), Some("stopped by otieno"));

    let audit = app
        .audit_log(&manager, Some(("policy", "POL-1")), 20)
        .await
        .unwrap();
    let said: Vec<&str> = audit.iter().map(|a| a.sentence.as_str()).collect();
    assert!(
        said.iter()
            .any(|t| t.contains("wanjiru set policy POL-1 to be collected by an M-Pesa prompt")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|t| t.contains("otieno stopped the automatic collection of policy POL-1")),
        "{said:?}"
    );
}

mod support;

/// An office on a clock set to 10:00 in Nairobi today, paying by the simulator's Paystack and
/// M-Pesa, with manager `wanjiru` and a card saved for amina@example.co.ke by a checkout paid
/// for policy POL-0.
struct Collecting {
    app: App,
    clock: std::sync::Arc<support::HandClock>,
    sandbox: malipo_sandbox::Running,
    manager: Actor,
    today: time::Date,
    _dir: tempfile::TempDir,
}

impl Collecting {
    async fn start() -> Collecting {
        use malipo_domain::Secret;
        let (sandbox, config) = support::simulator().await;
        let dir = tempfile::tempdir().unwrap();
        let clock = support::HandClock::now_utc();
        let now = malipo_app::Clock::now(clock.as_ref());
        let today = malipo_domain::time_zone::nairobi_date(now);
        let ten = today
            .with_hms(10, 0, 0)
            .unwrap()
            .assume_offset(malipo_domain::time_zone::NAIROBI);
        clock.advance(ten - now);
        let app = App::open_with_clock(dir.path(), clock.clone())
            .await
            .unwrap();
        app.configure(malipo_app::ProviderSettings {
            paystack: Some(malipo_providers::paystack::PaystackConfig::new(
                &sandbox.url(),
                Secret::new(config.paystack_secret.clone()),
            )),
            mpesa: Some(malipo_providers::daraja::DarajaConfig::new(
                &sandbox.url(),
                &config.consumer_key,
                Secret::new(config.consumer_secret.clone()),
                &config.shortcode,
                Secret::new(config.passkey.clone()),
                "http://127.0.0.1:9/not-listening",
            )),
            ..malipo_app::ProviderSettings::default()
        });
        app.add_user(&Actor::Setup, "admin", "admin", "admin-pass-1")
            .await
            .unwrap();
        let admin = Actor::User(app.sign_in("admin", "admin-pass-1").await.unwrap());
        app.add_user(&admin, "wanjiru", "manager", "a-good-pass-1")
            .await
            .unwrap();
        let manager = Actor::User(app.sign_in("wanjiru", "a-good-pass-1").await.unwrap());
        let office = Collecting {
            app,
            clock,
            sandbox,
            manager,
            today,
            _dir: dir,
        };
        office.policy("POL-0", office.today).await;
        let t = office
            .app
            .pay_card(
                &office.manager,
                &malipo_app::CardRequest {
                    policy: "POL-0".into(),
                    email: "amina@example.co.ke".into(),
                    amount: "1000".into(),
                    saved_card: None,
                    again: false,
                },
            )
            .await
            .unwrap();
        office
            .sandbox
            .sandbox
            .pay_checkout(&t.reference, "4084084084084081")
            .unwrap();
        let (paid, _) = office
            .app
            .refresh(&office.manager, &t.number)
            .await
            .unwrap();
        assert!(paid.paid, "{paid:?}");
        office
    }

    /// Policy `number` for Amina, KES 1,000 a month from `start`.
    async fn policy(&self, number: &str, start: time::Date) {
        self.app
            .add_policy(
                &self.manager,
                &PolicyInput {
                    number: number.into(),
                    holder: "Amina Odhiambo".into(),
                    phone: "0708374149".into(),
                    email: Some("amina@example.co.ke".into()),
                    premium: "1000".into(),
                    frequency: None,
                    instalments: None,
                    start: Some(start.to_string()),
                    status: None,
                },
            )
            .await
            .unwrap();
    }

    async fn collect(&self, number: &str, kind: &str) {
        self.app
            .set_collection(
                &self.manager,
                &CollectRequest {
                    policy: number.into(),
                    kind: kind.into(),
                    card_last4: None,
                    consent: Some("Collect each premium on its due date".into()),
                    consent_how: Some("in_person".into()),
                },
            )
            .await
            .unwrap();
    }

    fn card_answers(&self, answer: &str) {
        self.sandbox
            .sandbox
            .set_behaviour(malipo_sandbox::Behaviour {
                card_charge: answer.into(),
                ..malipo_sandbox::Behaviour::default()
            });
    }

    async fn payments(&self, number: &str) -> Vec<malipo_app::views::TransactionView> {
        self.app
            .policy_details(&self.manager, number)
            .await
            .unwrap()
            .transactions
            .items
    }

    async fn run(&self) -> malipo_app::collector::CollectReport {
        self.app.collect_due(&self.manager, false).await.unwrap()
    }
}

#[tokio::test]
async fn a_saved_card_is_charged_once_on_its_due_day_and_receipted() {
    let office = Collecting::start().await;
    office.policy("POL-1", office.today).await;
    office.collect("POL-1", "card").await;

    let dry = office.app.collect_due(&office.manager, true).await.unwrap();
    assert_eq!(dry.items.len(), 1, "{dry:?}");
    assert_eq!(dry.items[0].outcome, "would_charge");
    assert_eq!(dry.items[0].amount_minor, 100_000);
    let before = office.payments("POL-1").await;
    assert!(before.is_empty(), "a dry run changes nothing: {before:?}");

    let run = office.run().await;
    assert_eq!((run.charged, run.failed), (1, 0), "{run:?}");
    let number = run.items[0].transaction.clone().unwrap();
    let paid = office
        .app
        .payment_status(&office.manager, &number)
        .await
        .unwrap();
    assert!(paid.paid, "{paid:?}");
    assert_eq!(paid.collected_by.as_deref(), Some("card"));
    assert_eq!(paid.card_last4.as_deref(), Some("4081"));
    assert_eq!(paid.amount_minor, 100_000);
    assert!(paid.receipt_number.is_some(), "receipted: {paid:?}");

    let again = office.run().await;
    assert_eq!(again.charged, 0, "paid: nothing to charge: {again:?}");
    office.clock.advance(time::Duration::days(1));
    let next_day = office.run().await;
    assert_eq!(next_day.charged, 0, "{next_day:?}");
    assert_eq!(office.payments("POL-1").await.len(), 1);
}

#[tokio::test]
async fn a_declined_card_is_tried_on_the_retry_days_and_stopped_when_it_is_gone() {
    let office = Collecting::start().await;
    office.policy("POL-2", office.today).await;
    office.collect("POL-2", "card").await;

    office.card_answers("insufficient_funds");
    let due_day = office.run().await;
    assert_eq!(due_day.failed, 1, "{due_day:?}");
    assert!(
        due_day.items[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("Insufficient Funds"),
        "{due_day:?}"
    );
    assert!(!due_day.items[0].stopped, "the card may be charged again");
    let same_day = office.run().await;
    assert_eq!(
        same_day.failed + same_day.charged,
        0,
        "once a day: {same_day:?}"
    );
    assert_eq!(same_day.items[0].outcome, "skipped");

    // Day 1 is a retry day; day 2 is not.
    office.clock.advance(time::Duration::days(1));
    assert_eq!(office.run().await.failed, 1);
    office.clock.advance(time::Duration::days(1));
    assert!(
        office.run().await.items.is_empty(),
        "day 2 is not a retry day"
    );

    // Day 3: the bank says the card expired. The instruction stops and the holder is told.
    office.clock.advance(time::Duration::days(1));
    office.card_answers("expired");
    let gone = office.run().await;
    assert_eq!(gone.failed, 1, "{gone:?}");
    assert!(gone.items[0].stopped, "{gone:?}");
    let details = office
        .app
        .policy_details(&office.manager, "POL-2")
        .await
        .unwrap();
    let collection = details.collection.unwrap();
    assert_eq!(collection.kind, "none");
    assert!(
        collection
            .stopped_reason
            .as_deref()
            .unwrap()
            .contains("ending 4081 can no longer be charged"),
        "{collection:?}"
    );
    let messages = office
        .app
        .messages(&office.manager, None, Some("POL-2"))
        .await
        .unwrap();
    assert_eq!(
        messages
            .iter()
            .filter(|m| m
                .body
                .as_deref()
                .is_some_and(|b| b.contains("can no longer be used")))
            .count(),
        1,
        "{messages:?}"
    );
    assert!(
        office
            .app
            .saved_cards(&office.manager, "amina@example.co.ke")
            .await
            .unwrap()
            .is_empty(),
        "the card left the holder's list"
    );
    // The office is told in the day's reconciliation.
    let day = malipo_domain::time_zone::nairobi_date(malipo_app::Clock::now(office.clock.as_ref()));
    let report = office
        .app
        .reconcile(&office.manager, &day.to_string())
        .await
        .unwrap();
    assert!(
        report
            .differences
            .iter()
            .any(|d| d.kind == "collection_stopped" && d.reference.as_deref() == Some("POL-2")),
        "{:?}",
        report.differences
    );
    // Day 7 would be a retry day, but nothing is collected any more.
    office.clock.advance(time::Duration::days(4));
    office.card_answers("");
    assert!(office.run().await.items.is_empty());
    let paid = office.payments("POL-2").await;
    assert_eq!(paid.len(), 3, "three tries: {paid:?}");
    assert!(paid.iter().all(|p| !p.paid), "{paid:?}");
}

#[tokio::test]
async fn a_prompt_goes_once_at_the_hour_and_never_for_an_instalment_already_paid() {
    let office = Collecting::start().await;
    office.policy("POL-3", office.today).await;
    office.collect("POL-3", "mpesa_prompt").await;
    office.policy("POL-4", office.today).await;
    office.collect("POL-4", "mpesa_prompt").await;
    office
        .app
        .pay_cash(
            &office.manager,
            &malipo_app::CashRequest {
                policy: "POL-4".into(),
                amount: "1000".into(),
                tendered: "1000".into(),
                again: false,
            },
        )
        .await
        .unwrap();

    // Before the hour, the collector's own run does nothing.
    office.clock.advance(time::Duration::hours(-2));
    assert_eq!(office.app.collect_if_due().await.unwrap(), None);
    office.clock.advance(time::Duration::hours(2));
    let run = office.app.collect_if_due().await.unwrap().unwrap();
    assert_eq!(run.prompted, 1, "{run:?}");
    assert_eq!(run.items.len(), 1, "POL-4 is paid: {run:?}");
    assert_eq!(run.items[0].policy, "POL-3");
    let prompt = office
        .app
        .payment_status(
            &office.manager,
            run.items[0].transaction.as_deref().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(prompt.collected_by.as_deref(), Some("mpesa_prompt"));
    assert_eq!(prompt.phone.as_deref(), Some("254708374149"));
    let again = office.app.collect_if_due().await.unwrap().unwrap();
    assert_eq!(again.prompted, 0, "{again:?}");
    assert_eq!(
        office.sandbox.sandbox.stats().stk_pushes,
        1,
        "one prompt in all"
    );
}
