//! The set-up check (`malipo doctor`, and **Check the set-up** in Settings): the mistakes that
//! cost integrators days (a till where a paybill is expected, a sandbox certificate against
//! production, a callback URL Safaricom silently refuses, a revoked device token), each found
//! against the real endpoints and answered in one line saying what to do.
//!
//! Every check only reads: Daraja is asked for an access token, Paystack for one page of its
//! transaction list, the relay for its health and what it knows of this office. No payment,
//! refund or callback is ever sent. Messages never carry a secret: URLs whose path holds a
//! token are shown by their address only, keys by their kind.

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

/// Clocks further apart than this break Daraja timestamps and receipt dates.
const MAX_CLOCK_SKEW_SECS: i64 = 60;
/// A sync older than this is worth a warning.
const SYNC_STALE: time::Duration = time::Duration::hours(1);
/// Free space below which the office database is at risk.
const DISK_FAIL_BYTES: u64 = 100 * 1024 * 1024;
const DISK_WARN_BYTES: u64 = 1024 * 1024 * 1024;

/// Safaricom refuses callback and C2B URLs containing these words, in any case: it filters
/// them out and the callbacks never come (Daraja's Register URL documentation).
const REFUSED_WORDS: [&str; 8] = [
    "mpesa",
    "m-pesa",
    "m_pesa",
    "safaricom",
    "exe",
    "cmd",
    "sql",
    "query",
];

/// Tunnels and request catchers: fine for a quick try, blocked by Safaricom in production and
/// gone when the laptop that opened them sleeps.
const TUNNELS: [&str; 30] = [
    "ngrok.io",
    "ngrok.app",
    "ngrok.dev",
    "ngrok-free.app",
    "ngrok-free.dev",
    "loca.lt",
    "localtunnel.me",
    "serveo.net",
    "serveousercontent.com",
    "trycloudflare.com",
    "lhr.life",
    "localhost.run",
    "pagekite.me",
    "telebit.cloud",
    "tunnelmole.net",
    "pinggy.link",
    "pinggy.io",
    "devtunnels.ms",
    "localto.net",
    "zrok.io",
    "expose.dev",
    "sharedwithexpose.com",
    "mockbin.org",
    "mockbin.io",
    "requestbin.com",
    "requestbin.net",
    "pipedream.net",
    "webhook.site",
    "beeceptor.com",
    "hookbin.com",
];

/// Safaricom's public sandbox test shortcode and passkey: never right on production.
const SANDBOX_SHORTCODE: &str = "174379";
const SANDBOX_PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

/// Which Daraja the base URL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DarajaEnv {
    Production,
    Sandbox,
    /// A simulator on this machine: no real money moves.
    Local,
    /// Neither Safaricom nor this machine.
    Other,
}

impl DarajaEnv {
    fn of(base: &reqwest::Url) -> DarajaEnv {
        match base.host_str() {
            Some("api.safaricom.co.ke") => DarajaEnv::Production,
            Some("sandbox.safaricom.co.ke") => DarajaEnv::Sandbox,
            _ if is_loopback(base) => DarajaEnv::Local,
            _ => DarajaEnv::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            DarajaEnv::Production => "Safaricom's production (real money)",
            DarajaEnv::Sandbox => "Safaricom's sandbox (no real money)",
            DarajaEnv::Local => "a simulator on this machine (no real money)",
            DarajaEnv::Other => "not Safaricom",
        }
    }
}

/// The host of `url` as an IP address, when it is one.
fn ip(url: &reqwest::Url) -> Option<std::net::IpAddr> {
    url.host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str() == Some("localhost") || ip(url).is_some_and(|ip| ip.is_loopback())
}

/// Whether Safaricom could not reach `url`'s host from the internet.
fn is_private(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return true;
    };
    match ip(url) {
        Some(std::net::IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        Some(std::net::IpAddr::V6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        None => host == "localhost" || host.ends_with(".local") || !host.contains('.'),
    }
}

/// A URL by its address only (`https://relay.example.co.ke/…`): paths of callback URLs carry
/// secret tokens.
fn address(url: &reqwest::Url) -> String {
    let origin = url.origin().ascii_serialization();
    if url.path().len() > 1 {
        format!("{origin}/…")
    } else {
        origin
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
                    || "https://api.safaricom.co.ke".into(),
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
                        "MALIPO_MPESA_C2B_VALIDATION_URL",
                        p.c2b_urls.as_ref().map(|(v, _)| v.expose().to_owned()),
                    ),
                    (
                        "C2B confirmation URL",
                        "MALIPO_MPESA_C2B_CONFIRMATION_URL",
                        p.c2b_urls.as_ref().map(|(_, c)| c.expose().to_owned()),
                    ),
                ],
            },
            paystack_base: p
                .paystack
                .as_ref()
                .map_or_else(|| "https://api.paystack.co".into(), |p| p.base_url.clone()),
            paystack_key: p.paystack.as_ref().map(|p| p.secret_key.clone()),
            relay_url: p.relay_url.clone(),
            relay_token: p.relay_token.clone(),
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

    async fn relay_checks(
        &self,
        url: Option<&str>,
        token: Option<Secret>,
        callback: Option<&str>,
        challenge: &str,
    ) -> Result<(Vec<Check>, RelaySide)> {
        let mut checks = Vec::new();
        let none = |why: &str| RelaySide {
            answer: None,
            missing: why.to_owned(),
            down: None,
        };
        let Some(url) = url else {
            checks.push(check(
                "relay.reachable",
                CheckStatus::Fail,
                "no relay is set: provider callbacks reach offices only through it; set MALIPO_RELAY_URL and MALIPO_RELAY_TOKEN",
            ));
            return Ok((checks, none("no relay is set")));
        };
        let Some(token) = token else {
            checks.push(check(
                "relay.token",
                CheckStatus::Fail,
                "no device token is set: ask the relay's operator for one (malipo-relay device add) and set MALIPO_RELAY_TOKEN",
            ));
            return Ok((checks, none("no device token is set")));
        };
        let client = RelayClient::new(url, token);
        match client.healthz().await {
            Ok(()) => checks.push(check(
                "relay.reachable",
                CheckStatus::Pass,
                format!("the relay at {url} answers its health check"),
            )),
            Err(e) => {
                checks.push(check(
                    "relay.reachable",
                    CheckStatus::Fail,
                    format!(
                        "cannot reach the relay at {url} ({}): check it is running and the address is right",
                        reason(&e)
                    ),
                ));
                let origin = reqwest::Url::parse(url)
                    .ok()
                    .map(|u| u.origin().ascii_serialization());
                return Ok((
                    checks,
                    RelaySide {
                        down: origin,
                        ..none("the relay cannot be reached")
                    },
                ));
            }
        }
        let q = api::DeviceCheck {
            daraja_callback_url: callback.map(str::to_owned),
            paystack_challenge: Some(challenge.to_owned()),
        };
        let sent = self.now();
        let (answer, relay_clock) = match client.check(&q).await {
            Ok(found) => found,
            Err(RelayError::Unauthorized(_)) => {
                checks.push(check(
                    "relay.token",
                    CheckStatus::Fail,
                    "the relay refused this office's device token (unknown or revoked): ask the relay's operator for a new one (malipo-relay device add) and set MALIPO_RELAY_TOKEN",
                ));
                return Ok((checks, none("the relay refused the device token")));
            }
            Err(e) => {
                checks.push(check(
                    "relay.token",
                    CheckStatus::Fail,
                    format!("the relay did not answer the set-up check: {e}"),
                ));
                return Ok((checks, none("the relay did not answer")));
            }
        };
        checks.push(check(
            "relay.token",
            CheckStatus::Pass,
            format!(
                "this office is device '{}' of {}",
                answer.device, answer.company
            ),
        ));
        let received = self.now();
        checks.push(match relay_clock {
            None => check(
                "relay.clock",
                CheckStatus::Warn,
                "the relay sent no time to compare clocks with",
            ),
            Some(theirs) => {
                // Compared with the middle of the round trip; the header has whole seconds.
                let ours = sent + (received - sent) / 2_i32;
                let skew = (ours - theirs).whole_seconds();
                if skew.abs() > MAX_CLOCK_SKEW_SECS {
                    check(
                        "relay.clock",
                        CheckStatus::Fail,
                        format!(
                            "this machine's clock is {} {} the relay's: set the date and time (M-Pesa refuses prompts with a wrong timestamp, and receipts would carry the wrong date)",
                            ago(time::Duration::seconds(skew.abs())),
                            if skew > 0 { "ahead of" } else { "behind" }
                        ),
                    )
                } else {
                    check(
                        "relay.clock",
                        CheckStatus::Pass,
                        format!("this machine's clock is within {} s of the relay's", skew.abs().max(1)),
                    )
                }
            }
        });
        checks.push(self.sync_check(&answer).await?);
        Ok((
            checks,
            RelaySide {
                answer: Some(answer),
                missing: String::new(),
                down: None,
            },
        ))
    }

    async fn sync_check(&self, answer: &api::DeviceCheckAnswer) -> Result<Check> {
        let cursor = self.store().inbox_cursor().await?;
        let last = self.store().last_sync_round().await?;
        let now = self.now();
        Ok(if cursor > answer.last_seq {
            check(
                "relay.sync",
                CheckStatus::Fail,
                format!(
                    "this office has recorded events up to {cursor} but the relay's run only to {}: it is another relay, or one restored from an older backup; ask its operator",
                    answer.last_seq
                ),
            )
        } else if let Some(at) = last {
            let behind = answer.last_seq - cursor;
            let status = if now - at > SYNC_STALE {
                CheckStatus::Warn
            } else {
                CheckStatus::Pass
            };
            let waiting = if behind > 0 {
                format!(", {behind} newer waiting")
            } else {
                String::new()
            };
            check(
                "relay.sync",
                status,
                format!(
                    "last synced {} ago; events recorded up to {cursor} of {}{waiting}{}",
                    ago(now - at),
                    answer.last_seq,
                    if status == CheckStatus::Warn {
                        ": is the sync running? (the desktop app syncs while it is open)"
                    } else {
                        ""
                    }
                ),
            )
        } else {
            check(
                "relay.sync",
                CheckStatus::Warn,
                "this office has never synced with the relay: sync once (the desktop app syncs by itself while open)",
            )
        })
    }

    async fn mpesa_checks(
        &self,
        m: &MpesaSettings,
        relay: &RelaySide,
        checks: &mut Vec<Check>,
    ) -> Option<DarajaEnv> {
        let required = [
            (m.consumer_key.is_some(), "MALIPO_MPESA_CONSUMER_KEY"),
            (m.consumer_secret.is_some(), "MALIPO_MPESA_CONSUMER_SECRET"),
            (m.shortcode.is_some(), "MALIPO_MPESA_SHORTCODE"),
            (m.passkey.is_some(), "MALIPO_MPESA_PASSKEY"),
            (m.callback.is_some(), "MALIPO_MPESA_CALLBACK_URL"),
        ];
        let missing: Vec<&str> = required
            .iter()
            .filter(|(present, _)| !present)
            .map(|(_, name)| *name)
            .collect();
        if missing.len() == required.len() {
            checks.push(check(
                "mpesa.settings",
                CheckStatus::Warn,
                "M-Pesa is not set up: set MALIPO_MPESA_CONSUMER_KEY, _CONSUMER_SECRET, _SHORTCODE, _PASSKEY and _CALLBACK_URL (or in Settings)",
            ));
            return None;
        }
        checks.push(if missing.is_empty() {
            check(
                "mpesa.settings",
                CheckStatus::Pass,
                "every M-Pesa setting is present",
            )
        } else {
            check(
                "mpesa.settings",
                CheckStatus::Fail,
                format!("M-Pesa is set up in part: set {}", missing.join(", ")),
            )
        });

        // Which Daraja.
        let base = match reqwest::Url::parse(&m.base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                checks.push(check(
                    "mpesa.environment",
                    CheckStatus::Fail,
                    format!(
                        "'{}' is not a web address: MALIPO_MPESA_BASE_URL is https://api.safaricom.co.ke (production) or https://sandbox.safaricom.co.ke",
                        m.base.chars().take(60).collect::<String>()
                    ),
                ));
                return None;
            }
        };
        let env = DarajaEnv::of(&base);
        let mut v = Verdict::new();
        if matches!(env, DarajaEnv::Production | DarajaEnv::Sandbox) && base.scheme() != "https" {
            v.fail("Safaricom answers only on https://: fix MALIPO_MPESA_BASE_URL");
        }
        if env == DarajaEnv::Other {
            v.warn(format!(
                "{} is not Safaricom (production is https://api.safaricom.co.ke, the sandbox https://sandbox.safaricom.co.ke)",
                address(&base)
            ));
        }
        checks.push(v.into_check(
            "mpesa.environment",
            format!("M-Pesa goes to {}: {}", env.name(), address(&base)),
        ));

        // The consumer key and secret.
        if let (Some(key), Some(secret)) = (&m.consumer_key, &m.consumer_secret) {
            let config = DarajaConfig {
                timeout: Duration::from_secs(15),
                ..DarajaConfig::new(
                    base.as_str(),
                    key,
                    secret.clone(),
                    m.shortcode.as_deref().unwrap_or_default(),
                    Secret::new(""),
                    "",
                )
            };
            let message = match DarajaClient::new(config).check_credentials().await {
                Ok(()) => Ok("the consumer key and secret obtain an access token".to_owned()),
                Err(DarajaError::Credentials(why)) => Err((
                    CheckStatus::Fail,
                    format!(
                        "Safaricom refused the consumer key and secret ({why}): copy both again from this app on the Daraja portal; {} keys work only against the {} address",
                        if env == DarajaEnv::Production { "production" } else { "sandbox" },
                        if env == DarajaEnv::Production { "production" } else { "sandbox" },
                    ),
                )),
                Err(DarajaError::SpikeArrest) => Err((
                    CheckStatus::Warn,
                    "Safaricom is limiting requests just now (spike arrest): run the check again in a minute".to_owned(),
                )),
                Err(e) => Err((
                    CheckStatus::Fail,
                    format!("no access token from {}: {e}", address(&base)),
                )),
            };
            checks.push(match message {
                Ok(ok) => check("mpesa.credentials", CheckStatus::Pass, ok),
                Err((status, why)) => check("mpesa.credentials", status, why),
            });
        }

        // The passkey.
        if let Some(passkey) = &m.passkey {
            let p = passkey.expose().trim();
            let mut v = Verdict::new();
            if p.len() != 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                v.fail(format!(
                    "the passkey is {} characters; Safaricom's are 64 letters a–f and digits: copy it again, whole, from Safaricom's e-mail",
                    p.chars().count()
                ));
            } else if env == DarajaEnv::Production && p.eq_ignore_ascii_case(SANDBOX_PASSKEY) {
                v.fail("this is the public sandbox passkey: production needs the passkey Safaricom sent for your shortcode");
            }
            checks.push(v.into_check("mpesa.passkey", "the passkey has the right form"));
        }

        // The paybill or till.
        if let Some(code) = &m.shortcode {
            checks.push(shortcode_check(
                code,
                m.kind.as_deref(),
                m.till.as_deref(),
                env,
            ));
        }

        // Where Safaricom posts.
        if let Some(callback) = &m.callback {
            checks.push(
                url_check(
                    "mpesa.callback_url",
                    "the STK callback URL",
                    callback.expose(),
                    env,
                    relay,
                    true,
                )
                .await,
            );
        }
        let [validation, confirmation] = &m.c2b;
        if validation.2.is_none() && confirmation.2.is_none() {
            checks.push(check(
                "mpesa.c2b_urls",
                CheckStatus::Pass,
                format!(
                    "the C2B URLs are not set ({} and {}): only needed for paybill payments customers start themselves",
                    validation.1, confirmation.1
                ),
            ));
        } else {
            let mut found = Vec::new();
            for (what, var, value) in &m.c2b {
                found.push(match value {
                    Some(url) => url_check("mpesa.c2b_urls", what, url, env, relay, false).await,
                    None => check(
                        "mpesa.c2b_urls",
                        CheckStatus::Fail,
                        format!("{var} is not set: Safaricom registers both C2B URLs together"),
                    ),
                });
            }
            // One line for both: the worse of the two.
            if let Some(worst) = found.into_iter().max_by_key(|c| c.status) {
                checks.push(worst);
            }
        }

        checks.push(initiator_check(m, env));
        Some(env)
    }

    async fn office_checks(
        &self,
        secrets: &dyn SecretStore,
        keyring_problems: Vec<String>,
    ) -> Result<Vec<Check>> {
        let mut checks = Vec::new();
        checks.push(match keyring_problems.first() {
            Some(problem) => check("office.secret_store", CheckStatus::Fail, problem.clone()),
            None if secrets.writable() => check(
                "office.secret_store",
                CheckStatus::Pass,
                format!("secrets are kept in {}", secrets.describe()),
            ),
            None => check(
                "office.secret_store",
                CheckStatus::Warn,
                format!(
                    "no credential store ({}): secrets come from MALIPO_* environment variables only",
                    secrets.describe()
                ),
            ),
        });
        checks.push(data_dir_check(self.data_dir()));
        checks.push(printer_check(self.printer().await?.as_deref()));
        checks.push(disk_check(self.data_dir()));
        Ok(checks)
    }
}

/// The M-Pesa settings as configured, before anything is built from them.
#[derive(Clone)]
struct MpesaSettings {
    base: String,
    consumer_key: Option<String>,
    consumer_secret: Option<Secret>,
    shortcode: Option<String>,
    passkey: Option<Secret>,
    callback: Option<Secret>,
    kind: Option<String>,
    till: Option<String>,
    initiator_name: Option<String>,
    initiator_password: Option<Secret>,
    /// Where the certificate came from (a path) and its bytes, or why they could not be read.
    certificate: Option<(String, std::result::Result<Vec<u8>, String>)>,
    c2b: [(&'static str, &'static str, Option<String>); 2],
}

fn shortcode_check(code: &str, kind: Option<&str>, till: Option<&str>, env: DarajaEnv) -> Check {
    let mut v = Verdict::new();
    let digits = |s: &str| (5..=7).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(code) {
        v.fail(
            "MALIPO_MPESA_SHORTCODE is 5 to 7 digits: the paybill number, or a till's store number",
        );
    }
    if env == DarajaEnv::Production && code == SANDBOX_SHORTCODE {
        v.fail("174379 is Safaricom's sandbox test shortcode: production needs your own paybill or store number");
    }
    let ok = match kind.unwrap_or("paybill") {
        "paybill" => {
            if till.is_some() {
                v.warn("a till number is set but MALIPO_MPESA_TYPE is paybill: it is not used; for a Buy Goods till set MALIPO_MPESA_TYPE=till");
            }
            format!("paybill {code} (BusinessShortCode and PartyB)")
        }
        "till" => match till {
            None => {
                v.fail("a till is set up without its till number: set MALIPO_MPESA_TILL to the till customers pay (it goes as PartyB); MALIPO_MPESA_SHORTCODE stays the store number (BusinessShortCode)");
                String::new()
            }
            Some(t) => {
                if !digits(t) {
                    v.fail("MALIPO_MPESA_TILL is 5 to 7 digits: the till number customers pay");
                } else if t == code {
                    v.warn("the till number and the store number are the same: for Buy Goods the store (head office) number usually differs from the till; check both on the M-Pesa statement");
                }
                format!("till {t} (PartyB) under store number {code} (BusinessShortCode)")
            }
        },
        other => {
            v.fail(format!(
                "MALIPO_MPESA_TYPE is '{}': use paybill or till",
                other.chars().take(20).collect::<String>()
            ));
            String::new()
        }
    };
    v.into_check("mpesa.shortcode", ok)
}

/// A URL Safaricom posts to: https, none of the refused words, no tunnel, reachable by
/// Safaricom, this company's relay (for the STK callback, its token too), which answers.
async fn url_check(
    name: &str,
    what: &str,
    text: &str,
    env: DarajaEnv,
    relay: &RelaySide,
    stk: bool,
) -> Check {
    let mut v = Verdict::new();
    let Ok(url) = reqwest::Url::parse(text.trim()) else {
        v.fail(format!("{what} is not a web address"));
        return v.into_check(name, "");
    };
    let shown = address(&url);
    // A simulator on this machine posts to the relay on this machine: plain http is right there.
    let local_pair = env == DarajaEnv::Local && is_loopback(&url);
    if url.scheme() != "https" && !local_pair {
        v.fail(format!(
            "{what} ({shown}) is {}:// — Safaricom only posts to https:// addresses; use the relay's https address",
            url.scheme()
        ));
    }
    let lower = text.to_ascii_lowercase();
    if let Some(word) = REFUSED_WORDS.iter().find(|w| lower.contains(*w)) {
        v.fail(format!(
            "{what} contains \"{word}\": Safaricom silently refuses URLs with M-Pesa, Safaricom, exe, cmd, sql or query in them; use the relay's URL, which has none"
        ));
    }
    if let Some(host) = url.host_str()
        && let Some(tunnel) = TUNNELS
            .iter()
            .find(|t| host == **t || host.ends_with(&format!(".{t}")))
    {
        v.fail(format!(
            "{what} goes through {tunnel}, a tunnel or test service: Safaricom blocks these and they vanish when the laptop sleeps; point it at the company relay"
        ));
    }
    if is_private(&url) && !local_pair {
        v.fail(format!(
            "{what} ({shown}) is a private address Safaricom cannot reach: use the relay's public address"
        ));
    }
    if v.failed() {
        return v.into_check(name, "");
    }
    match &relay.answer {
        None => v.warn(format!(
            "{what} ({shown}) could not be compared with the relay: {}",
            relay.missing
        )),
        Some(answer) => {
            if let Some(public) = answer
                .public_url
                .as_deref()
                .and_then(|p| reqwest::Url::parse(p).ok())
                && public.origin() != url.origin()
            {
                v.fail(format!(
                    "{what} points at {}, not this company's relay ({}): Safaricom would post where Malipo never reads",
                    url.origin().ascii_serialization(),
                    public.origin().ascii_serialization()
                ));
            }
            if stk {
                match answer.daraja_token {
                    Some(api::TokenMatch::Current) | None => {}
                    Some(api::TokenMatch::Previous) => v.warn(format!(
                        "{what} carries the relay's previous token, which stops working within a day of the last rotation: set MALIPO_MPESA_CALLBACK_URL to the new one"
                    )),
                    Some(api::TokenMatch::Unknown) => v.fail(format!(
                        "{what} is not this company's at the relay (mistyped, another company's, or rotated away): callbacks would be refused; copy it again from malipo-relay tenant create or rotate"
                    )),
                    Some(api::TokenMatch::NotACallbackUrl) => v.fail(format!(
                        "{what} is not a relay callback URL (…{}/TOKEN): copy the daraja_callback_url malipo-relay gave for this company",
                        api::DARAJA_PATH
                    )),
                }
            }
        }
    }
    if v.failed() || relay.down.as_deref() == Some(&url.origin().ascii_serialization()) {
        return v.into_check(name, "");
    }
    // What Safaricom will reach: the relay behind the URL answers its health check.
    let health = format!("{}{}", url.origin().ascii_serialization(), api::HEALTHZ);
    let answered = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())
        .map(|c| c.get(&health).send());
    match answered {
        Ok(sent) => match sent.await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => v.fail(format!(
                "the relay behind {what} ({shown}) answers its health check with HTTP {}",
                r.status().as_u16()
            )),
            Err(e) => v.fail(format!(
                "the relay behind {what} ({shown}) does not answer its health check ({}): Safaricom could not reach it either",
                if e.is_timeout() { "no answer in time".to_owned() } else if e.is_connect() { "cannot connect".to_owned() } else { e.to_string() }
            )),
        },
        Err(e) => v.fail(format!("cannot check {what}: {e}")),
    }
    v.into_check(
        name,
        format!("{what} ({shown}) is this company's relay, which answers"),
    )
}

fn initiator_check(m: &MpesaSettings, env: DarajaEnv) -> Check {
    let name = "mpesa.certificate";
    let parts = [
        (m.initiator_name.is_some(), "MALIPO_MPESA_INITIATOR_NAME"),
        (
            m.initiator_password.is_some(),
            "MALIPO_MPESA_INITIATOR_PASSWORD",
        ),
        (m.certificate.is_some(), "MALIPO_MPESA_CERTIFICATE"),
    ];
    let missing: Vec<&str> = parts.iter().filter(|(p, _)| !p).map(|(_, n)| *n).collect();
    if missing.len() == parts.len() {
        // Paybill payments are recorded only once Transaction Status, which needs the
        // initiator, proves them: with C2B URLs set, that is a failure.
        let paybill = m.c2b.iter().any(|(_, _, url)| url.is_some());
        return check(
            name,
            if paybill {
                CheckStatus::Fail
            } else {
                CheckStatus::Warn
            },
            if paybill {
                "no initiator is set up: paybill payments cannot be proven with Transaction Status, so none is recorded (and M-Pesa refunds cannot be sent); set MALIPO_MPESA_INITIATOR_NAME, _INITIATOR_PASSWORD and _CERTIFICATE"
            } else {
                "no initiator is set up: M-Pesa refunds (reversals) and codes typed at the counter cannot be checked with Safaricom; set MALIPO_MPESA_INITIATOR_NAME, _INITIATOR_PASSWORD and _CERTIFICATE"
            },
        );
    }
    if !missing.is_empty() {
        return check(
            name,
            CheckStatus::Fail,
            format!(
                "the initiator is set up in part: set {}",
                missing.join(", ")
            ),
        );
    }
    let Some((path, file)) = &m.certificate else {
        return check(name, CheckStatus::Fail, "no certificate is set");
    };
    let file = match file {
        Ok(f) => f,
        Err(why) => {
            return check(
                name,
                CheckStatus::Fail,
                format!("the certificate {path} {why}"),
            );
        }
    };
    let which = if env == DarajaEnv::Production {
        "production"
    } else {
        "sandbox"
    };
    let facts = match daraja::certificate_facts(file) {
        Ok(f) => f,
        Err(why) => {
            return check(
                name,
                CheckStatus::Fail,
                format!(
                    "the certificate {path} {why}: download the {which} certificate from the Daraja portal again"
                ),
            );
        }
    };
    let now = OffsetDateTime::now_utc();
    let until = malipo_domain::time_zone::kenyan_date(malipo_domain::time_zone::nairobi_date(
        facts.not_after,
    ));
    let mut v = Verdict::new();
    let safaricom = facts.subject.to_ascii_lowercase().contains("safaricom.");
    match env {
        DarajaEnv::Production | DarajaEnv::Sandbox if !safaricom => v.fail(format!(
            "the certificate is for '{}', not Safaricom's: download the {which} certificate from the Daraja portal",
            facts.subject.chars().take(60).collect::<String>()
        )),
        DarajaEnv::Production if facts.not_after < now => v.fail(format!(
            "the certificate expired on {until}: it is Safaricom's sandbox certificate (which expired in 2016), and production reversals need the production certificate"
        )),
        _ => {}
    }
    if facts.not_before > now {
        v.fail("the certificate is not valid yet: check this machine's date");
    }
    v.into_check(
        name,
        format!(
            "the initiator's certificate is {}, good until {until}",
            if safaricom {
                "Safaricom's".to_owned()
            } else {
                format!("'{}'", facts.subject)
            }
        ),
    )
}

async fn paystack_checks(
    base: &str,
    key: Option<Secret>,
    daraja_env: Option<DarajaEnv>,
    relay: &RelaySide,
    challenge: &str,
) -> Vec<Check> {
    let Some(key) = key else {
        return vec![check(
            "paystack.key",
            CheckStatus::Warn,
            "Paystack is not set up: card payments need MALIPO_PAYSTACK_SECRET_KEY (or in Settings)",
        )];
    };
    let mut checks = Vec::new();
    let k = key.expose().trim();
    let mut v = Verdict::new();
    let kind = if k.starts_with("sk_live_") {
        Some("live")
    } else if k.starts_with("sk_test_") {
        Some("test")
    } else {
        None
    };
    if k.starts_with("pk_") {
        v.fail("this is the public key (pk_…): Malipo needs the secret key (sk_…) from Paystack's Settings → API Keys & Webhooks");
    } else if kind.is_none() {
        v.fail("this does not look like a Paystack secret key (sk_test_… or sk_live_…): copy it again from Paystack's Settings → API Keys & Webhooks");
    }
    match (kind, daraja_env) {
        (Some("test"), Some(DarajaEnv::Production)) => v.fail(
            "a test key while M-Pesa is on production: card payments would not be real money; use the live secret key (sk_live_…)",
        ),
        (Some("live"), Some(DarajaEnv::Sandbox | DarajaEnv::Local)) => v.fail(
            "a live key while M-Pesa is on the sandbox: card payments would take real money; use the test secret key (sk_test_…) until going live",
        ),
        _ => {}
    }
    if !v.failed() {
        let client = PaystackClient::new(PaystackConfig::new(base, key.clone()));
        let q = ListQuery {
            from: None,
            to: None,
            status: None,
            page: 1,
            per_page: 1,
        };
        match client.transactions(&q).await {
            Ok(_) => {}
            Err(PaystackError::Unauthorized(_)) => v.fail(
                "Paystack refused the secret key: copy it again, whole, from Paystack's Settings → API Keys & Webhooks",
            ),
            Err(e) => v.fail(format!("Paystack did not answer the check: {e}")),
        }
    }
    checks.push(v.into_check(
        "paystack.key",
        format!(
            "Paystack accepts the {} secret key",
            kind.unwrap_or("secret")
        ),
    ));

    let ours = paystack::signature(&key, challenge.as_bytes());
    checks.push(match &relay.answer {
        None => check(
            "paystack.webhook",
            CheckStatus::Warn,
            format!("Paystack webhooks could not be checked: {}", relay.missing),
        ),
        Some(a) => match (a.paystack_secret, a.paystack_proof.as_deref()) {
            (api::SecretState::NotSet, _) => check(
                "paystack.webhook",
                CheckStatus::Fail,
                "the relay has no Paystack secret for this company, so it refuses every webhook: run malipo-relay tenant set-paystack-secret with the same secret key",
            ),
            (api::SecretState::Sealed, _) => check(
                "paystack.webhook",
                CheckStatus::Fail,
                "the relay cannot open its copy of the Paystack secret (MALIPO_RELAY_SECRET_KEY missing or changed): ask its operator",
            ),
            (api::SecretState::Set, Some(proof)) if proof == ours => check(
                "paystack.webhook",
                CheckStatus::Pass,
                match &a.paystack_webhook_url {
                    Some(url) => format!(
                        "the relay checks webhooks with this office's key; in Paystack's dashboard the webhook URL must be {url}"
                    ),
                    None => "the relay checks webhooks with this office's key".to_owned(),
                },
            ),
            (api::SecretState::Set, _) => check(
                "paystack.webhook",
                CheckStatus::Fail,
                "the relay holds a different Paystack secret from this office: every webhook would be refused as forged; set the same secret key on both",
            ),
        },
    });
    checks
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

fn data_dir_check(dir: &std::path::Path) -> Check {
    let name = "office.data_dir";
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(dir) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => check(
                name,
                CheckStatus::Fail,
                format!(
                    "{} can be read by other users of this machine (mode {:o}): run chmod 700 {}",
                    dir.display(),
                    m.permissions().mode() & 0o777,
                    dir.display()
                ),
            ),
            Ok(_) => check(
                name,
                CheckStatus::Pass,
                format!("{} is private to this user", dir.display()),
            ),
            Err(e) => check(
                name,
                CheckStatus::Fail,
                format!("cannot read {}: {e}", dir.display()),
            ),
        }
    }
    #[cfg(not(unix))]
    {
        check(
            name,
            CheckStatus::Pass,
            format!("{} is in this user's profile", dir.display()),
        )
    }
}

fn printer_check(configured: Option<&str>) -> Check {
    let name = "office.printer";
    let run = |args: &[&str]| {
        std::process::Command::new("lpstat")
            .args(args)
            .env("LC_ALL", "C")
            .output()
    };
    match configured {
        Some(p) => match run(&["-p", p]) {
            Ok(out) if out.status.success() => {
                check(name, CheckStatus::Pass, format!("receipts print on {p}"))
            }
            Ok(_) => check(
                name,
                CheckStatus::Fail,
                format!(
                    "the printer '{p}' is not known to the print system: lpstat -p lists those that are; fix printer.name or MALIPO_PRINTER"
                ),
            ),
            Err(_) => check(
                name,
                CheckStatus::Fail,
                format!(
                    "the printer '{p}' is set but this machine has no print system (CUPS): receipts open as PDF to print by hand"
                ),
            ),
        },
        None => match run(&["-d"]) {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                match text
                    .split_once(':')
                    .map(|(_, p)| p.trim())
                    .filter(|p| !p.is_empty())
                {
                    Some(p) if !text.contains("no system default") => check(
                        name,
                        CheckStatus::Pass,
                        format!("receipts print on the default printer, {p}"),
                    ),
                    _ => check(
                        name,
                        CheckStatus::Warn,
                        "no default printer: receipts open as PDF to print by hand; set one, or printer.name in Settings",
                    ),
                }
            }
            _ => check(
                name,
                CheckStatus::Warn,
                "no printer found: receipts open as PDF to print by hand",
            ),
        },
    }
}

fn disk_check(dir: &std::path::Path) -> Check {
    let name = "office.disk";
    match free_bytes(dir) {
        None => check(name, CheckStatus::Warn, "free disk space could not be read"),
        Some(free) => {
            let shown = if free >= 10 * 1024 * 1024 * 1024 {
                format!("{} GiB", free / (1024 * 1024 * 1024))
            } else {
                format!("{} MiB", free / (1024 * 1024))
            };
            if free < DISK_FAIL_BYTES {
                check(
                    name,
                    CheckStatus::Fail,
                    format!(
                        "only {shown} free where the office database lives: free some space before taking payments"
                    ),
                )
            } else if free < DISK_WARN_BYTES {
                check(
                    name,
                    CheckStatus::Warn,
                    format!("{shown} free where the office database lives: free some space soon"),
                )
            } else {
                check(name, CheckStatus::Pass, format!("{shown} free"))
            }
        }
    }
}

#[cfg(unix)]
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &std::path::Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_relay() -> RelaySide {
        RelaySide {
            answer: None,
            missing: "no relay is set".into(),
            down: None,
        }
    }

    async fn url(text: &str, env: DarajaEnv) -> Check {
        url_check(
            "mpesa.callback_url",
            "the STK callback URL",
            text,
            env,
            &no_relay(),
            true,
        )
        .await
    }

    #[tokio::test]
    async fn callback_urls_safaricom_would_refuse_fail_with_the_reason() {
        for (text, says) in [
            (
                "http://relay.example.co.ke/hooks/d/ab12",
                "only posts to https://",
            ),
            ("https://relay.example.co.ke/MPesa/callback", "\"mpesa\""),
            (
                "https://safaricom-callbacks.example.co.ke/hooks/d/ab",
                "\"safaricom\"",
            ),
            ("https://relay.example.co.ke/cgi/exec?x=1", "\"exe\""),
            (
                "https://ab12-41-90.ngrok-free.app/hooks/d/ab12",
                "ngrok-free.app",
            ),
            (
                "https://x.trycloudflare.com/hooks/d/ab",
                "trycloudflare.com",
            ),
            ("https://192.168.1.20/hooks/d/ab12", "private address"),
            ("https://relay/hooks/d/ab12", "private address"),
            ("not a url", "not a web address"),
        ] {
            let c = url(text, DarajaEnv::Production).await;
            assert_eq!(c.status, CheckStatus::Fail, "{text}: {c:?}");
            assert!(c.message.contains(says), "{text}: {}", c.message);
            assert!(
                !c.message.contains("ab12"),
                "the token is never shown: {}",
                c.message
            );
        }
        // Against a simulator on this machine, the relay on this machine over http is right.
        let local = url("http://127.0.0.1:9/hooks/d/ab12", DarajaEnv::Local).await;
        assert!(
            local.message.contains("does not answer its health check"),
            "only that nothing answers there: {local:?}"
        );
        let prod = url("http://127.0.0.1:9/hooks/d/ab12", DarajaEnv::Production).await;
        assert!(prod.message.contains("only posts to https://"), "{prod:?}");
    }

    #[test]
    fn a_till_needs_its_number_and_a_paybill_its_own_code() {
        let c = shortcode_check("174379", Some("till"), None, DarajaEnv::Sandbox);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.message.contains("without its till number"),
            "{}",
            c.message
        );
        let c = shortcode_check("174379", Some("till"), Some("174380"), DarajaEnv::Sandbox);
        assert_eq!(c.status, CheckStatus::Pass, "{c:?}");
        assert!(
            c.message
                .contains("till 174380 (PartyB) under store number 174379")
        );
        let c = shortcode_check("174379", Some("till"), Some("174379"), DarajaEnv::Sandbox);
        assert_eq!(c.status, CheckStatus::Warn, "{c:?}");
        let c = shortcode_check("174379", None, None, DarajaEnv::Production);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.message.contains("sandbox test shortcode"),
            "{}",
            c.message
        );
        let c = shortcode_check("12 34", None, None, DarajaEnv::Sandbox);
        assert_eq!(c.status, CheckStatus::Fail);
        let c = shortcode_check("600100", Some("paybill"), Some("5566"), DarajaEnv::Sandbox);
        assert_eq!(
            c.status,
            CheckStatus::Warn,
            "a till number with a paybill: {c:?}"
        );
        let c = shortcode_check("600100", Some("buygoods"), None, DarajaEnv::Sandbox);
        assert_eq!(c.status, CheckStatus::Fail);
    }

    fn settings_with_certificate(file: Vec<u8>) -> MpesaSettings {
        MpesaSettings {
            base: String::new(),
            consumer_key: None,
            consumer_secret: None,
            shortcode: None,
            passkey: None,
            callback: None,
            kind: None,
            till: None,
            initiator_name: Some("testapi".into()),
            initiator_password: Some(Secret::new("pw")),
            certificate: Some(("cert.cer".into(), Ok(file))),
            c2b: [("", "", None), ("", "", None)],
        }
    }

    #[test]
    fn the_certificate_must_match_the_environment() {
        let expired = include_bytes!("../tests/fixtures/expired-safaricom-like.cer").to_vec();
        let c = initiator_check(
            &settings_with_certificate(expired.clone()),
            DarajaEnv::Production,
        );
        assert_eq!(c.status, CheckStatus::Fail, "{c:?}");
        assert!(c.message.contains("sandbox certificate"), "{}", c.message);
        let c = initiator_check(&settings_with_certificate(expired), DarajaEnv::Sandbox);
        assert_eq!(
            c.status,
            CheckStatus::Pass,
            "the sandbox's own expired certificate: {c:?}"
        );
        let simulator = malipo_sandbox_cert();
        let c = initiator_check(
            &settings_with_certificate(simulator.clone()),
            DarajaEnv::Production,
        );
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(c.message.contains("not Safaricom's"), "{}", c.message);
        let c = initiator_check(&settings_with_certificate(simulator), DarajaEnv::Local);
        assert_eq!(c.status, CheckStatus::Pass, "{c:?}");
        let page =
            b"<!DOCTYPE html><html><title>Daraja - Safaricom Developers' Portal</title>".to_vec();
        let c = initiator_check(&settings_with_certificate(page), DarajaEnv::Production);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(c.message.contains("web page"), "{}", c.message);
        let mut none = settings_with_certificate(Vec::new());
        none.initiator_name = None;
        none.initiator_password = None;
        none.certificate = None;
        assert_eq!(
            initiator_check(&none, DarajaEnv::Production).status,
            CheckStatus::Warn
        );
        // With paybill URLs, no initiator means no paybill payment is ever recorded.
        let mut paybill = none.clone();
        paybill.c2b[1].2 = Some("https://relay.example/hooks/c/token".into());
        let c = initiator_check(&paybill, DarajaEnv::Production);
        assert_eq!(c.status, CheckStatus::Fail, "{c:?}");
        assert!(c.message.contains("Transaction Status"), "{}", c.message);
        none.initiator_name = Some("api".into());
        let c = initiator_check(&none, DarajaEnv::Production);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.message.contains("MALIPO_MPESA_CERTIFICATE"),
            "{}",
            c.message
        );
    }

    /// The simulator's certificate, as `malipo-sandbox` serves it.
    fn malipo_sandbox_cert() -> Vec<u8> {
        include_bytes!("../../sandbox/keys/simulator-cert.pem").to_vec()
    }

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
