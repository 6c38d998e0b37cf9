//! The set-up check (`malipo doctor`, and **Check the set-up** in Settings): the mistakes that
//! cost integrators days (a till where a paybill is expected, a sandbox certificate against
//! production, a callback URL Safaricom silently refuses, a revoked device token), each found
//! against the real endpoints and answered in one line saying what to do.
//!
//! Every check only reads: Daraja is asked for an access token, Paystack for one page of its
//! transaction list, the relay for its health and what it knows of this office. No payment,
//! refund or callback is ever sent. Messages never carry a secret: URLs whose path holds a
//! token are shown by their address only, keys by their kind.

mod cards;
mod machine;
mod mpesa;
mod relay;
mod urls;

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ts_rs::TS;

use malipo_domain::Secret;
use malipo_providers::daraja::{self, DarajaClient, DarajaConfig, DarajaError, ShortcodeKind};
use malipo_providers::paystack::{self, ListQuery, PaystackClient, PaystackConfig, PaystackError};
use malipo_relay_api as api;

use crate::relay::{RelayClient, RelayError};
use crate::settings::{ProviderSettings, SecretStore, Setting, Sources, table};
use crate::{App, Result};

use cards::*;
use machine::*;
use mpesa::*;
use urls::*;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

/// One check: a stable name (`mpesa.credentials`), how it came out, and one line saying what
/// was found or what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Check {
    pub name: String,
    pub status: CheckStatus,
    pub message: String,
}

/// Every check, in the order they ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == CheckStatus::Fail)
    }

    /// The check named `name`, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// The worst of some findings, or `ok` when there are none.
struct Verdict {
    found: Vec<(CheckStatus, String)>,
}

impl Verdict {
    fn new() -> Verdict {
        Verdict { found: Vec::new() }
    }

    fn fail(&mut self, message: impl Into<String>) {
        self.found.push((CheckStatus::Fail, message.into()));
    }

    fn warn(&mut self, message: impl Into<String>) {
        self.found.push((CheckStatus::Warn, message.into()));
    }

    fn failed(&self) -> bool {
        self.found.iter().any(|(s, _)| *s == CheckStatus::Fail)
    }

    /// The first of the most serious findings; the rest show once it is fixed.
    fn into_check(self, name: &str, ok: impl Into<String>) -> Check {
        let worst = self.found.iter().map(|(s, _)| *s).max();
        let (status, message) = match worst {
            None => (CheckStatus::Pass, ok.into()),
            Some(w) => self
                .found
                .into_iter()
                .find(|(s, _)| *s == w)
                .unwrap_or((CheckStatus::Fail, String::new())),
        };
        Check {
            name: name.to_owned(),
            status,
            message,
        }
    }
}

fn check(name: &str, status: CheckStatus, message: impl Into<String>) -> Check {
    Check {
        name: name.to_owned(),
        status,
        message: message.into(),
    }
}

/// `42 s`, `3 min`, `5 h`, `2 days`.
fn ago(d: time::Duration) -> String {
    let s = d.whole_seconds().max(0);
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// What the relay said, for the checks that need it.
struct RelaySide {
    answer: Option<api::DeviceCheckAnswer>,
    /// Why there is no answer, when there is none.
    missing: String,
    /// The relay's address when it could not be reached (its own check says so; the URL
    /// checks do not say it again).
    down: Option<String>,
}

/// Everything the checks look at, as configured, before anything is built from it.
struct Configured {
    mpesa: MpesaSettings,
    paystack_base: String,
    paystack_key: Option<Secret>,
    relay_url: Option<String>,
    relay_token: Option<Secret>,
    relay_ca: Option<std::result::Result<crate::relay::RelayCa, String>>,
    /// Secrets the keyring could not give.
    keyring_problems: Vec<String>,
}

impl Configured {
    /// As the services read it: environment, then the office database and `secrets`.
    fn read(src: &Sources<'_>) -> Configured {
        let mut keyring_problems = Vec::new();
        // A secret the keyring cannot give is a finding of its own, not a reason to stop.
        let mut secret_of = |setting: &Setting| match src.secret(setting) {
            Ok(s) => s,
            Err(e) => {
                keyring_problems.push(e.to_string());
                None
            }
        };
        let consumer_secret = secret_of(&table::MPESA_CONSUMER_SECRET);
        let passkey = secret_of(&table::MPESA_PASSKEY);
        let callback = secret_of(&table::MPESA_CALLBACK_URL);
        let initiator_password = secret_of(&table::MPESA_INITIATOR_PASSWORD);
        let paystack_key = secret_of(&table::PAYSTACK_SECRET_KEY);
        let relay_token = secret_of(&table::RELAY_TOKEN);
        let certificate = src.value(&table::MPESA_CERTIFICATE).map(|path| {
            let file = std::fs::read(&path).map_err(|e| format!("cannot be read ({e})"));
            (path, file)
        });
        Configured {
            mpesa: MpesaSettings {
                base: src.value_or_default(&table::MPESA_BASE_URL),
                consumer_key: src.value(&table::MPESA_CONSUMER_KEY),
                consumer_secret,
                shortcode: src.value(&table::MPESA_SHORTCODE),
                passkey,
                callback,
                kind: src.value(&table::MPESA_TYPE),
                till: src.value(&table::MPESA_TILL),
                initiator_name: src.value(&table::MPESA_INITIATOR_NAME),
                initiator_password,
                certificate,
                c2b: [
                    ("C2B validation URL", &table::MPESA_C2B_VALIDATION_URL),
                    ("C2B confirmation URL", &table::MPESA_C2B_CONFIRMATION_URL),
                ]
                .map(|(what, setting)| {
                    let url = secret_of(setting).map(|s| s.expose().trim().to_owned());
                    (what, setting.env, url.filter(|v| !v.is_empty()))
                }),
            },
            paystack_base: src.value_or_default(&table::PAYSTACK_BASE_URL),
            paystack_key,
            relay_url: src.value(&table::RELAY_URL),
            relay_token,
            relay_ca: src
                .value(&table::RELAY_CA_FILE)
                .map(|path| crate::relay::RelayCa::load(&path)),
            keyring_problems,
        }
    }

    /// The settings in use when they were not read from the office (demo mode's simulator).
    fn running(p: &ProviderSettings) -> Configured {
        let m = p.mpesa.as_ref();
        let initiator = m.and_then(|m| m.initiator.as_ref());
        Configured {
            mpesa: MpesaSettings {
                base: m.map_or_else(
                    || table::MPESA_BASE_URL.default.to_owned(),
                    |m| m.base_url.clone(),
                ),
                consumer_key: m.map(|m| m.consumer_key.clone()),
                consumer_secret: m.map(|m| m.consumer_secret.clone()),
                shortcode: m.map(|m| m.shortcode.clone()),
                passkey: m.map(|m| m.passkey.clone()),
                callback: m.map(|m| m.callback_url.clone()),
                kind: m.map(|m| match m.kind {
                    ShortcodeKind::Paybill => "paybill".to_owned(),
                    ShortcodeKind::Till { .. } => "till".to_owned(),
                }),
                till: m.and_then(|m| match &m.kind {
                    ShortcodeKind::Till { till } => Some(till.clone()),
                    ShortcodeKind::Paybill => None,
                }),
                initiator_name: initiator.map(|i| i.name.clone()),
                initiator_password: initiator.map(|i| i.password.clone()),
                certificate: initiator.map(|i| {
                    (
                        "the simulator's certificate".to_owned(),
                        Ok(i.certificate.clone()),
                    )
                }),
                c2b: [
                    (
                        "C2B validation URL",
                        table::MPESA_C2B_VALIDATION_URL.env,
                        p.c2b_urls.as_ref().map(|(v, _)| v.expose().to_owned()),
                    ),
                    (
                        "C2B confirmation URL",
                        table::MPESA_C2B_CONFIRMATION_URL.env,
                        p.c2b_urls.as_ref().map(|(_, c)| c.expose().to_owned()),
                    ),
                ],
            },
            paystack_base: p.paystack.as_ref().map_or_else(
                || table::PAYSTACK_BASE_URL.default.to_owned(),
                |p| p.base_url.clone(),
            ),
            paystack_key: p.paystack.as_ref().map(|p| p.secret_key.clone()),
            relay_url: p.relay_url.clone(),
            relay_token: p.relay_token.clone(),
            relay_ca: p.relay_ca.clone().map(Ok),
            keyring_problems: Vec::new(),
        }
    }
}

impl App {
    /// [`App::doctor`] for the settings screen: administrators only.
    pub async fn doctor_as(
        &self,
        actor: &crate::Actor,
        secrets: &dyn SecretStore,
        running: Option<&ProviderSettings>,
    ) -> Result<DoctorReport> {
        actor.require(malipo_domain::Action::ManageSettings)?;
        self.doctor(secrets, running).await
    }

    /// Runs every set-up check against the real endpoints; reads only. The settings are read
    /// as the services read them (environment, then the office database and `secrets`), or,
    /// when `running` is given, are those (demo mode's simulator and relay).
    pub async fn doctor(
        &self,
        secrets: &dyn SecretStore,
        running: Option<&ProviderSettings>,
    ) -> Result<DoctorReport> {
        let db: HashMap<String, String> = self.store().settings().await?.into_iter().collect();
        let env = |name: &str| std::env::var(name).ok();
        let c = match running {
            Some(p) => Configured::running(p),
            None => Configured::read(&Sources {
                env: &env,
                db: &db,
                secrets,
            }),
        };
        let mut checks = Vec::new();
        // The relay first: the callback and webhook checks compare against what it knows.
        let challenge = random_hex();
        let (relay_checks, relay) = self
            .relay_checks(
                c.relay_url.as_deref(),
                c.relay_token.clone(),
                c.relay_ca.as_ref(),
                c.mpesa.callback.as_ref().map(Secret::expose),
                &challenge,
            )
            .await?;
        let daraja_env = self.mpesa_checks(&c.mpesa, &relay, &mut checks).await;
        checks.extend(
            paystack_checks(
                &c.paystack_base,
                c.paystack_key.clone(),
                daraja_env,
                &relay,
                &challenge,
            )
            .await,
        );
        checks.extend(relay_checks);
        checks.extend(self.office_checks(secrets, c.keyring_problems).await?);
        Ok(DoctorReport { checks })
    }
}

fn reason(e: &RelayError) -> String {
    match e {
        RelayError::Unreachable(why) => why.clone(),
        other => other.to_string(),
    }
}

/// 32 random hex digits, for the Paystack secret challenge.
fn random_hex() -> String {
    let mut bytes = [0_u8; 16];
    // Without randomness the challenge is still a valid one, merely a guessable one.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_finding_is_the_one_said() {
        let mut v = Verdict::new();
        v.warn("first warning");
        v.fail("first failure");
        v.fail("second failure");
        let c = v.into_check("x", "fine");
        assert_eq!(
            (c.status, c.message.as_str()),
            (CheckStatus::Fail, "first failure")
        );
        let c = Verdict::new().into_check("x", "fine");
        assert_eq!((c.status, c.message.as_str()), (CheckStatus::Pass, "fine"));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(ago(time::Duration::seconds(42)), "42 s");
        assert_eq!(ago(time::Duration::minutes(5)), "5 min");
        assert_eq!(ago(time::Duration::hours(5)), "5 h");
        assert_eq!(ago(time::Duration::days(3)), "3 days");
    }
}
