//! Demo mode: with no provider credentials configured, the desktop app (and the CLI with
//! `--demo`) runs against the built-in provider simulator and a local relay, both in this
//! process on loopback, so a new user can take an M-Pesa and a card payment and print a receipt
//! in the first minute. Nothing reaches Safaricom or Paystack. This crate, not the services,
//! links the simulator and the relay server.
//!
//! The local relay keeps its database in the data directory (`demo-relay.sqlite3`, with the
//! tenant and device in `demo-relay.json`), so the office's sync cursor stays valid from one
//! start to the next.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use malipo_domain::Secret;
use malipo_providers::daraja::{DarajaConfig, Initiator, RegisterVersion, ResponseType};
use malipo_providers::paystack::PaystackConfig;
use malipo_relay::sealing::SealingKey;
use malipo_relay::store::RelayStore;

use malipo_app::{Actor, App, Error, PolicyInput, PolicyQuery, ProviderSettings};
use malipo_relay_api::{
    C2B_CONFIRMATION_PATH, C2B_VALIDATION_PATH, DARAJA_PATH, PAYSTACK_PATH, SMS_REPORT_PATH,
};
use malipo_store::{NewCard, NewInstruction};

/// The sealing key of the demo relay: it only ever seals the simulator's published test key.
const DEMO_SEALING_KEY: &str = "64656d6f2d6f6e6c792d6e6f742d612d7265616c2d7365616c696e672d6b6579";

/// A running demo: the simulator and the relay, and the settings that point at them.
pub struct Demo {
    pub settings: ProviderSettings,
    pub sandbox_url: String,
    pub relay_url: String,
    _sandbox: malipo_sandbox::Running,
    relay: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("sandbox_url", &self.sandbox_url)
            .field("relay_url", &self.relay_url)
            .finish()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.relay.abort();
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    tenant: String,
    daraja_token: String,
    device_token: String,
    /// Missing from demos started before paybill: a token is made on the next start.
    #[serde(default)]
    c2b_token: Option<String>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("demo mode could not start ({what}: {e})"))
}

/// The demo's customer: pays the office's paybill from the simulator, as a customer would
/// from their phone. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Customer(malipo_sandbox::Sandbox);

/// What became of a demo paybill payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidBill {
    /// The M-Pesa code.
    pub trans_id: String,
    /// Validation refused it: nothing was taken.
    pub refused: bool,
}

impl Customer {
    /// Pays `amount` (as the customer types it on the phone: whole shillings M-Pesa can move)
    /// to the office's paybill with `account` as typed.
    pub async fn pay_bill(&self, account: &str, amount: &str) -> Result<PaidBill, Error> {
        let amount = malipo_providers::daraja::MpesaAmount::parse(amount)
            .map_err(|why| Error::invalid("amount", why))?
            .shillings();
        let outcome = self
            .0
            .pay_bill(malipo_sandbox::c2b::PayBill {
                shortcode: None,
                account: account.to_owned(),
                // No account: the customer paid the company's till (Buy Goods).
                till: account.trim().is_empty(),
                amount,
                msisdn: "254708374149".into(),
                first_name: "John".into(),
                last_name: "Doe".into(),
                minutes_ago: 0,
            })
            .await
            .map_err(|why| Error::invalid("amount", why))?;
        Ok(PaidBill {
            refused: outcome.outcome != "completed",
            trans_id: outcome.trans_id,
        })
    }
}

impl Demo {
    pub fn customer(&self) -> Customer {
        Customer(self._sandbox.sandbox.clone())
    }
}

/// The demo office's sample policies: a fresh demo office gets them however it was started.
const SAMPLE_POLICIES: &str = include_str!("../../../demo/policies.csv");
const DEMO_OFFICE_NAME: &str = "Malipo Demo Insurance";
/// The simulator's test customer, nominated for Pull's notifications.
const DEMO_NOMINATED: &str = "0708374149";

/// Makes the demo office ready however it was started (the repository's script or the
/// installed program): a name and the sample policies when it has none, and Pull registered
/// with the simulator, so the dashboard reads M-Pesa's list as a real paybill office's does.
/// Call after the app is configured with [`Demo::settings`]. What fails is logged, never
/// fatal: the demo still opens. Returns how many sample policies were added.
pub async fn prepare(app: &App) -> usize {
    let actor = Actor::Demo;
    let mut added = 0;
    match app.policies(&actor, &PolicyQuery::default()).await {
        Ok(list) if list.total == 0 => {
            if app
                .store()
                .setting("office.name")
                .await
                .ok()
                .flatten()
                .is_none()
                && let Err(e) = app
                    .set_setting(&actor, "office.name", DEMO_OFFICE_NAME)
                    .await
            {
                tracing::warn!(error = %e, "demo mode: the office name was not set");
            }
            match app
                .import_policies(&actor, SAMPLE_POLICIES.as_bytes(), false)
                .await
            {
                Ok(report) => added = report.imported,
                Err(e) => {
                    tracing::warn!(error = %e, "demo mode: the sample policies were not added")
                }
            }
            match collected_policies(app).await {
                Ok(n) => added += n,
                Err(e) => tracing::warn!(
                    error = %e,
                    "demo mode: the policies collected on their due day were not added"
                ),
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "demo mode: the policies could not be counted"),
    }
    let registered = app
        .ledger_status(&actor)
        .await
        .ok()
        .flatten()
        .is_some_and(|l| l.pull_registered_at.is_some());
    if !registered && let Err(e) = app.register_pull(&actor, DEMO_NOMINATED).await {
        tracing::warn!(error = %e, "demo mode: Pull was not registered with the simulator");
    }
    added
}

/// Two policies due on the day the demo office opens whose premiums collect themselves from the
/// collection hour: one by a card saved at an earlier checkout (Paystack's test card), one by an
/// M-Pesa prompt to the simulator's test customer. Returns how many were added.
async fn collected_policies(app: &App) -> Result<usize, Error> {
    let today = malipo_domain::time_zone::nairobi_date(app.now()).to_string();
    let email = "wambui.njoroge@example.co.ke";
    for (number, holder, phone, mail) in [
        ("POL-1009", "Wambui Njoroge", "0708 374 149", Some(email)),
        ("POL-1010", "Baraka Mwende", DEMO_NOMINATED, None),
    ] {
        app.add_policy(
            &Actor::Demo,
            &PolicyInput {
                number: number.into(),
                holder: holder.into(),
                phone: phone.into(),
                email: mail.map(str::to_owned),
                premium: "2,000".into(),
                frequency: None,
                instalments: None,
                start: Some(today.clone()),
                status: None,
            },
        )
        .await?;
    }
    let card = malipo_sandbox::paystack::test_authorization("4084084084084081", email)
        .ok_or_else(|| Error::internal("the simulator lost its test card"))?;
    let text = |k: &str| card[k].as_str().unwrap_or_default().to_owned();
    app.store()
        .save_card(
            &NewCard {
                email: email.into(),
                authorization_code: text("authorization_code"),
                signature: Some(text("signature")),
                brand: text("brand"),
                last4: text("last4"),
                exp_month: text("exp_month"),
                exp_year: text("exp_year"),
                bank: Some(text("bank")),
                reusable: true,
                currency: "KES".into(),
            },
            app.now(),
        )
        .await?;
    for (number, kind, card_email, last4, phone, consent) in [
        (
            "POL-1009",
            "card",
            Some(email),
            Some("4081"),
            None,
            "Charge my Visa ending 4081 on each due date",
        ),
        (
            "POL-1010",
            "mpesa_prompt",
            None,
            None,
            Some("254708374149"),
            "Send me an M-Pesa prompt on each due date",
        ),
    ] {
        let Some(policy) = app.store().policy(number).await? else {
            continue;
        };
        app.store()
            .set_instruction(
                Actor::Demo.name(),
                policy.id,
                &NewInstruction {
                    kind,
                    card_email,
                    card_last4: last4,
                    phone,
                    consent_how: Some("in_person"),
                    consent_text: Some(consent),
                    stopped_reason: None,
                },
                app.now(),
            )
            .await?;
    }
    Ok(2)
}

/// Whether the office has no provider credentials at all (neither in the environment nor in
/// its settings): then the app opens in demo mode.
pub fn wanted(settings: &ProviderSettings) -> bool {
    settings.mpesa.is_none() && settings.paystack.is_none()
}

/// Starts the simulator and the local relay on loopback ports.
pub async fn start(data_dir: &Path) -> Result<Demo, Error> {
    let loopback: SocketAddr = "127.0.0.1:0".parse().map_err(|e| failed("address", e))?;
    let store = RelayStore::open(&data_dir.join("demo-relay.sqlite3"))
        .await
        .map_err(|e| failed("relay database", e))?;
    let sealing = SealingKey::from_hex(DEMO_SEALING_KEY).map_err(|e| failed("sealing", e))?;
    let saved_path = data_dir.join("demo-relay.json");
    let saved: Saved = match std::fs::read(&saved_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(s) => s,
        None => {
            let t = store
                .create_tenant("Demo company")
                .await
                .map_err(|e| failed("relay tenant", e))?;
            let (device, device_token) = store
                .add_device(&t.tenant.id, "this computer", None)
                .await
                .map_err(|e| failed("relay device", e))?;
            store
                .keep_receipt_key(&device.id, &device_token, &sealing)
                .await
                .map_err(|e| failed("relay device", e))?;
            let sealed = sealing
                .seal(&Secret::new(
                    malipo_sandbox::Config::default().paystack_secret,
                ))
                .map_err(|e| failed("sealing", e))?;
            store
                .set_paystack_secret(&t.tenant.id, &sealed)
                .await
                .map_err(|e| failed("relay secret", e))?;
            Saved {
                tenant: t.tenant.id,
                daraja_token: t.daraja_token,
                device_token,
                c2b_token: Some(t.c2b_token),
            }
        }
    };
    let saved = match saved.c2b_token {
        Some(_) => saved,
        None => Saved {
            c2b_token: Some(
                store
                    .rotate_c2b_token(&saved.tenant)
                    .await
                    .map_err(|e| failed("relay C2B URLs", e))?,
            ),
            ..saved
        },
    };
    let bytes = serde_json::to_vec_pretty(&saved).map_err(|e| failed("saving", e))?;
    std::fs::write(&saved_path, bytes).map_err(|e| failed("saving", e))?;
    let c2b_token = saved.c2b_token.clone().unwrap_or_default();
    let listener = tokio::net::TcpListener::bind(loopback)
        .await
        .map_err(|e| failed("relay address", e))?;
    let relay_url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| failed("relay address", e))?
    );
    let mut relay = malipo_relay::Relay::new(
        store,
        Some(sealing),
        malipo_relay::access::Access::default(),
    );
    relay.public_url = Some(relay_url.clone());
    let router = malipo_relay::router(relay);
    let relay = tokio::spawn(async move {
        let _ = malipo_relay::serve(listener, router).await;
    });
    let config = malipo_sandbox::Config {
        // The checkout links must name the port the simulator really listens on.
        public_url: String::new(),
        paystack_webhook_url: Some(format!("{relay_url}{}/{}", PAYSTACK_PATH, saved.tenant)),
        // Delivery reports of the demo's SMS come back through the local relay.
        sms_report_url: Some(format!(
            "{relay_url}{SMS_REPORT_PATH}/{}",
            saved.daraja_token
        )),
        ..malipo_sandbox::Config::default()
    };
    let sandbox = malipo_sandbox::spawn(loopback, config.clone())
        .await
        .map_err(|e| failed("simulator address", e))?;
    let sandbox_url = sandbox.url();
    let callback = format!("{relay_url}{}/{}", DARAJA_PATH, saved.daraja_token);
    let mut daraja = DarajaConfig::new(
        &sandbox_url,
        &config.consumer_key,
        Secret::new(config.consumer_secret.clone()),
        &config.shortcode,
        Secret::new(config.passkey.clone()),
        &callback,
    );
    // The simulator's initiator, so a manager can approve M-Pesa refunds (reversals) too.
    daraja.initiator = Some(Initiator {
        name: config.initiator_name.clone(),
        password: Secret::new(config.initiator_password.clone()),
        certificate: malipo_sandbox::SIMULATOR_CERT_PEM.as_bytes().to_vec(),
    });
    // Paybill payments made in the simulator reach the local relay, as Safaricom's would.
    let c2b_urls = (
        format!("{relay_url}{C2B_VALIDATION_PATH}/{c2b_token}"),
        format!("{relay_url}{C2B_CONFIRMATION_PATH}/{c2b_token}"),
    );
    if let Err(e) = malipo_providers::daraja::DarajaClient::new(daraja.clone())
        .register_urls(
            RegisterVersion::V2,
            ResponseType::Completed,
            &c2b_urls.1,
            &c2b_urls.0,
        )
        .await
    {
        tracing::warn!(error = %e, "demo mode: the simulator did not take the C2B URLs");
    }
    let settings = ProviderSettings {
        mpesa: Some(daraja),
        paystack: Some(PaystackConfig::new(
            &sandbox_url,
            Secret::new(config.paystack_secret.clone()),
        )),
        mpesa_missing: Vec::new(),
        paystack_missing: Vec::new(),
        relay_url: Some(relay_url.clone()),
        relay_token: Some(Secret::new(saved.device_token)),
        relay_ca: None,
        c2b_urls: Some((Secret::new(c2b_urls.0), Secret::new(c2b_urls.1))),
        // Customer SMS go to the simulator's Africa's Talking; no e-mail is sent in a demo.
        sms: Some(malipo_providers::sms::SmsConfig {
            base_url: sandbox_url.clone(),
            username: config.sms_username.clone(),
            api_key: Secret::new(config.sms_api_key.clone()),
            sender: Some("MALIPO".into()),
        }),
        smtp: None,
    };
    tracing::info!(simulator = %sandbox_url, relay = %relay_url, "demo mode: the built-in simulator and a local relay");
    Ok(Demo {
        settings,
        sandbox_url,
        relay_url,
        _sandbox: sandbox,
        relay,
    })
}
