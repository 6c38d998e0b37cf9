//! Demo mode without Tauri: the built-in simulator and local relay started in this process, a
//! payment taken through them end to end, and the demo coming back after a restart with the
//! office's sync cursor still valid.

use malipo_app::{Actor, App, MpesaRequest, PolicyInput, demo};

async fn take_and_settle(app: &App, settings: &malipo_app::ProviderSettings) -> String {
    let started = app
        .pay_mpesa(
            &Actor::Setup,
            settings,
            &MpesaRequest {
                policy: "POL-1".into(),
                phone: "0708374149".into(),
                amount: "1500".into(),
                again: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(started.status, "awaiting_customer", "{started:?}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        app.sync_once(settings).await.unwrap();
        let t = app.transaction(&started.number).await.unwrap();
        if t.status == "succeeded" {
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
        },
    )
    .await
    .unwrap();
    let first = {
        let demo = demo::start(dir.path()).await.unwrap();
        take_and_settle(&app, &demo.settings).await
    };
    // Started again (new ports), the same relay data: the office keeps syncing from its cursor.
    let demo = demo::start(dir.path()).await.unwrap();
    let second = take_and_settle(&app, &demo.settings).await;
    assert_ne!(first, second);
    let report = app.sync_once(&demo.settings).await.unwrap();
    assert_eq!(report.cursor, 2, "{report:?}");
    // A card checkout's link points at the simulator actually running.
    let card = app
        .pay_card(
            &Actor::Setup,
            &demo.settings,
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
