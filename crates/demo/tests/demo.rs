//! Demo mode without Tauri: the built-in simulator and local relay started in this process, a
//! payment taken through them end to end, and the demo coming back after a restart with the
//! office's sync cursor still valid; the manager's dashboard over the same office and relay.

use malipo_app::{Actor, App, MpesaRequest, PolicyInput};
use malipo_demo as demo;
use malipo_domain::{RefundStatus, TxStatus};

async fn take_and_settle(app: &App) -> String {
    take_and_settle_as(app, &Actor::Setup, "POL-1").await
}

async fn take_and_settle_as(app: &App, actor: &Actor, policy: &str) -> String {
    let started = app
        .pay_mpesa(
            actor,
            &MpesaRequest {
                policy: policy.into(),
                phone: "0708374149".into(),
                amount: "1500".into(),
                again: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(started.status, TxStatus::AwaitingCustomer, "{started:?}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        app.sync_once().await.unwrap();
        let t = app
            .transaction(&Actor::Console, &started.number)
            .await
            .unwrap();
        if t.status == TxStatus::Succeeded {
            assert!(
                t.provider_receipt.is_some(),
                "the callback came through the relay"
            );
            return t.number;
        }
        assert!(tokio::time::Instant::now() < deadline, "{t:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Log lines, captured for the test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_goes_through_the_built_in_simulator_and_relay_and_survives_a_restart() {
    let logs = Captured::default();
    let sink = logs.clone();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish(),
    );
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(&dir.path().join("office")).await.unwrap();
    let configured = app
        .provider_settings(&malipo_app::NoSecretStore::default())
        .await
        .unwrap();
    assert!(
        demo::wanted(&configured),
        "an office without provider credentials opens in demo mode"
    );
    app.add_policy(
        &Actor::Setup,
        &PolicyInput {
            number: "POL-1".into(),
            holder: "Amina Odhiambo".into(),
            phone: "0722000111".into(),
            email: None,
            premium: "1500".into(),
            frequency: None,
            instalments: None,
            start: None,
            status: None,
        },
    )
    .await
    .unwrap();
    let first = {
        let demo = demo::start(dir.path()).await.unwrap();
        app.configure(demo.settings.clone());
        take_and_settle(&app).await
    };
    // Started again (new ports), the same relay data: the office keeps syncing from its cursor.
    let demo = demo::start(dir.path()).await.unwrap();
    app.configure(demo.settings.clone());
    let second = take_and_settle(&app).await;
    assert_ne!(first, second);
    // The demo's paybill has C2B URLs registered, so each paid prompt is told twice: its STK
    // callback and its C2B confirmation. Both tellings arrive; each prompt stays one payment.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let report = app.sync_once().await.unwrap();
        if report.cursor == 4 {
            break;
        }
        assert!(report.cursor < 4, "{report:?}");
        assert!(tokio::time::Instant::now() < deadline, "{report:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let all = app
        .history(&Actor::Console, &malipo_app::HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(all.total, 2, "two prompts, two payments: {all:?}");
    // A card checkout's link points at the simulator actually running.
    let card = app
        .pay_card(
            &Actor::Setup,
            &malipo_app::CardRequest {
                policy: "POL-1".into(),
                email: "amina@example.co.ke".into(),
                amount: "1500".into(),
                again: true,
                saved_card: None,
            },
        )
        .await
        .unwrap();
    let link = card.authorization_url.unwrap();
    assert!(
        link.starts_with(&demo.sandbox_url),
        "{link} is not on {}",
        demo.sandbox_url
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_office_the_company_overdue_instalments_and_waiting_refunds() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(&dir.path().join("office")).await.unwrap();
    app.add_user(&Actor::Setup, "amina", "admin", "admin-pass-1")
        .await
        .unwrap();
    let admin = Actor::User(app.sign_in("amina", "admin-pass-1").await.unwrap());
    app.add_user(&admin, "wanjiru", "manager", "manager-pass-1")
        .await
        .unwrap();
    app.add_user(&admin, "juma", "clerk", "clerk-pass-1")
        .await
        .unwrap();
    let manager = Actor::User(app.sign_in("wanjiru", "manager-pass-1").await.unwrap());
    let clerk = Actor::User(app.sign_in("juma", "clerk-pass-1").await.unwrap());
    // Monthly from 2026-01-05: by the time this runs, the early instalments are overdue.
    app.add_policy(
        &Actor::Setup,
        &PolicyInput {
            number: "POL-7".into(),
            holder: "Chebet Kiprono".into(),
            phone: "0110123456".into(),
            email: None,
            premium: "1,500".into(),
            frequency: None,
            instalments: Some(12),
            start: Some("2026-01-05".into()),
            status: None,
        },
    )
    .await
    .unwrap();
    let demo = demo::start(dir.path()).await.unwrap();
    app.configure(demo.settings.clone());
    let q = malipo_app::SummaryQuery::default();

    let refused = app.dashboard(&clerk, &q).await.unwrap_err();
    assert_eq!(
        refused.code(),
        malipo_app::ErrorCode::Forbidden,
        "{refused}"
    );

    let paid = take_and_settle_as(&app, &clerk, "POL-7").await;
    // The succeeded payment reaches the relay with the next sync.
    app.sync_once().await.unwrap();
    app.request_refund(&clerk, &paid, "500", "paid twice by mistake")
        .await
        .unwrap();

    let d = app.dashboard(&manager, &q).await.unwrap();
    assert_eq!(d.office.succeeded.count, 1);
    assert_eq!(d.office.succeeded.amount_minor, 150_000);
    assert_eq!(d.office.by_clerk.len(), 1);
    assert_eq!(d.office.by_clerk[0].key, "juma");
    assert_eq!(d.office.by_method[0].key, "mpesa");
    let company = d.company.as_ref().expect("the relay answers");
    assert_eq!(d.company_problem, None);
    assert_eq!(company.succeeded.count, 1, "{company:?}");
    assert_eq!(company.succeeded.amount_minor, 150_000);
    assert_eq!(company.by_office.len(), 1);
    assert_eq!(company.by_office[0].key, "HQ");
    assert!(d.overdue_total >= 1, "{:?}", d.overdue);
    assert!(
        d.overdue
            .iter()
            .all(|i| i.policy == "POL-7" && i.days_overdue > 0)
    );
    assert!(
        d.overdue
            .windows(2)
            .all(|w| w[0].days_overdue >= w[1].days_overdue),
        "most overdue first"
    );
    assert_eq!(d.refunds_waiting, 1);
    assert_eq!(d.orphans_open, 0);

    // No relay configured: the office's figures still come, with the reason for the rest.
    app.configure(malipo_app::ProviderSettings::default());
    let alone = app.dashboard(&manager, &q).await.unwrap();
    app.configure(demo.settings.clone());
    assert!(alone.company.is_none());
    assert!(
        alone
            .company_problem
            .as_deref()
            .is_some_and(|p| p.contains("MALIPO_RELAY_URL")),
        "{:?}",
        alone.company_problem
    );
    assert_eq!(alone.office.succeeded.count, 1);

    // The manager approves: the demo's M-Pesa reversal goes to the simulator, whose result
    // comes back through the relay.
    let waiting = app
        .refunds(&Actor::Console, Some("requested"))
        .await
        .unwrap();
    let refused = app.approve_refund(&clerk, waiting[0].id).await.unwrap_err();
    assert_eq!(refused.code(), malipo_app::ErrorCode::Forbidden);
    let approved = app.approve_refund(&manager, waiting[0].id).await.unwrap();
    assert_eq!(approved.status, RefundStatus::Processing, "{approved:?}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        app.sync_once().await.unwrap();
        let r = &app.refunds(&Actor::Console, None).await.unwrap()[0];
        if r.status == RefundStatus::Processed {
            assert_eq!(r.decided_by.as_deref(), Some("wanjiru"));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{r:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        app.transaction(&Actor::Console, &paid)
            .await
            .unwrap()
            .status,
        TxStatus::PartiallyRefunded
    );
    let d = app.dashboard(&manager, &q).await.unwrap();
    assert_eq!(d.refunds_waiting, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_office_has_its_sample_policies_and_reads_m_pesas_list_however_it_is_started() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(&dir.path().join("office")).await.unwrap();
    let d = demo::start(&dir.path().join("office")).await.unwrap();
    app.configure(d.settings.clone());
    assert_eq!(
        demo::prepare(&app).await,
        10,
        "the sample policies, and two collected on their due day"
    );
    let listed = app
        .policies(&Actor::Console, &malipo_app::PolicyQuery::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 10);
    // Both due today: the collector charges the saved card and prompts the phone.
    let setup = Actor::Setup;
    let dry = app.collect_due(&Actor::Console, true).await.unwrap();
    let mut seen: Vec<(&str, &str)> = dry
        .items
        .iter()
        .map(|i| (i.policy.as_str(), i.outcome.as_str()))
        .collect();
    seen.sort();
    let hour = app
        .now()
        .to_offset(malipo_domain::time_zone::NAIROBI)
        .hour();
    let quiet = !(7..21).contains(&hour); // the default quiet hours, 21-7

    assert_eq!(
        seen,
        if quiet {
            vec![("POL-1009", "would_charge"), ("POL-1010", "skipped")]
        } else {
            vec![("POL-1009", "would_charge"), ("POL-1010", "would_prompt")]
        },
        "{dry:?}"
    );
    let run = app.collect_due(&setup, false).await.unwrap();
    assert_eq!(run.charged, 1, "{run:?}");
    let ledger = app
        .ledger_status(&Actor::Console)
        .await
        .unwrap()
        .expect("a paybill office");
    assert!(ledger.pull_registered_at.is_some(), "{ledger:?}");
    assert!(!ledger.stale, "just registered: {ledger:?}");
    // Pull runs with the next sync round, against the simulator's own list.
    app.sync_once().await.unwrap();
    let ledger = app.ledger_status(&Actor::Console).await.unwrap().unwrap();
    assert!(ledger.covered_to.is_some(), "{ledger:?}");

    // Started again: nothing is added twice, and Pull is not registered again.
    assert_eq!(demo::prepare(&app).await, 0);
    assert_eq!(
        app.policies(&Actor::Console, &malipo_app::PolicyQuery::default())
            .await
            .unwrap()
            .total,
        10
    );
    // The demo's set-up may add policies and settings, and nothing else.
    let refused = app
        .approve_refund(&Actor::Demo, 1)
        .await
        .expect_err("demo set-up approving a refund");
    assert!(refused.to_string().contains("demo"), "{refused}");
}
