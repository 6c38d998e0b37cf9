//! What the services' tests share: a clock moved by hand, captured log lines, and the provider
//! simulator on a loopback port.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// Time that moves only when a test says so.
#[derive(Debug)]
pub struct HandClock(Mutex<OffsetDateTime>);

impl HandClock {
    pub fn now_utc() -> Arc<HandClock> {
        Arc::new(HandClock(Mutex::new(OffsetDateTime::now_utc())))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl malipo_app::Clock for HandClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// Log lines, captured for the test.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The simulator on a free loopback port, its checkout links naming that port.
pub async fn simulator() -> (malipo_sandbox::Running, malipo_sandbox::Config) {
    let config = malipo_sandbox::Config {
        public_url: String::new(),
        ..malipo_sandbox::Config::default()
    };
    let running = malipo_sandbox::spawn("127.0.0.1:0".parse().unwrap(), config.clone())
        .await
        .unwrap();
    (running, config)
}

/// An office on a clock moved by hand whose M-Pesa is the simulator (callbacks going nowhere,
/// the customer never answering), with policy POL-1 for Amina Odhiambo, 0708374149, KES 1,500
/// a year, and an M-Pesa prompt for it already sent: what watching a payment needs.
pub struct PromptSent {
    pub sandbox: malipo_sandbox::Running,
    pub config: malipo_sandbox::Config,
    pub app: malipo_app::App,
    pub clock: Arc<HandClock>,
    pub payment: malipo_app::views::TransactionView,
    _dir: tempfile::TempDir,
}

pub async fn prompt_sent() -> PromptSent {
    use malipo_app::{Actor, App, MpesaRequest, PolicyInput, ProviderSettings};
    let (sandbox, config) = simulator().await;
    sandbox.sandbox.set_behaviour(malipo_sandbox::Behaviour {
        customer_delay_ms: 600_000,
        ..malipo_sandbox::Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let clock = HandClock::now_utc();
    let app = App::open_with_clock(dir.path(), clock.clone())
        .await
        .unwrap();
    app.configure(ProviderSettings {
        mpesa: Some(malipo_providers::daraja::DarajaConfig::new(
            &sandbox.url(),
            &config.consumer_key,
            malipo_domain::Secret::new(config.consumer_secret.clone()),
            &config.shortcode,
            malipo_domain::Secret::new(config.passkey.clone()),
            "http://127.0.0.1:9/not-listening",
        )),
        ..ProviderSettings::default()
    });
    app.add_policy(
        &Actor::Setup,
        &PolicyInput {
            number: "POL-1".into(),
            holder: "Amina Odhiambo".into(),
            phone: "0708374149".into(),
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
    let payment = app
        .pay_mpesa(
            &Actor::Setup,
            &MpesaRequest {
                policy: "POL-1".into(),
                phone: "0708374149".into(),
                amount: "1500".into(),
                again: false,
            },
        )
        .await
        .unwrap();
    PromptSent {
        sandbox,
        config,
        app,
        clock,
        payment,
        _dir: dir,
    }
}
