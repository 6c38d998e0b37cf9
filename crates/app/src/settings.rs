//! Provider settings: one type read the same way by the CLI and the desktop. Non-secret values
//! come from the office database, secrets from the OS keyring ([`SecretStore`]), and the
//! environment variables of DESIGN.md override both (headless use, CI).

use std::collections::HashMap;

use malipo_domain::Secret;
use malipo_providers::daraja::{DarajaConfig, Initiator, ShortcodeKind};
use malipo_providers::paystack::PaystackConfig;

use serde::Serialize;
use ts_rs::TS;

use malipo_domain::Action;

use crate::{Actor, App, Error, Result};

/// Where secrets live. `Ok(None)` means "not stored", not an error.
pub trait SecretStore: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<Secret>, String>;

    /// Keeps (`Some`) or forgets (`None`) the secret `name`.
    fn set(&self, name: &str, value: Option<&Secret>) -> Result<(), String> {
        let _ = (name, value);
        Err("no credential store is reachable on this machine".to_owned())
    }

    /// Where the secrets are kept, for the settings screen.
    fn describe(&self) -> String;

    /// Whether secrets can be saved here (the settings screen offers to when they can).
    fn writable(&self) -> bool {
        true
    }
}

/// No keyring: secrets come from the environment only.
#[derive(Debug, Clone, Default)]
pub struct NoSecretStore {
    /// Why no store is in use, as the settings screen says it.
    pub why: Option<String>,
}

impl SecretStore for NoSecretStore {
    fn get(&self, _name: &str) -> Result<Option<Secret>, String> {
        Ok(None)
    }

    fn writable(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        match &self.why {
            Some(why) => format!("none: {why}"),
            None => "none".to_owned(),
        }
    }
}

/// Database keys for the non-secret provider settings.
pub mod key {
    pub const MPESA_BASE_URL: &str = "mpesa.base_url";
    pub const MPESA_CONSUMER_KEY: &str = "mpesa.consumer_key";
    pub const MPESA_SHORTCODE: &str = "mpesa.shortcode";
    pub const MPESA_TYPE: &str = "mpesa.type";
    pub const MPESA_TILL: &str = "mpesa.till";
    pub const MPESA_INITIATOR_NAME: &str = "mpesa.initiator_name";
    pub const MPESA_CERTIFICATE: &str = "mpesa.certificate";
    pub const PAYSTACK_BASE_URL: &str = "paystack.base_url";
    pub const PAYSTACK_CALLBACK_URL: &str = "paystack.callback_url";
    pub const RELAY_URL: &str = "relay.url";
    pub const MAX_AMOUNT: &str = "limits.max_amount";
    pub const PER_CLERK_PER_MINUTE: &str = "limits.per_clerk_per_minute";
    /// Seconds an open payment may go unheard of before sync asks the provider (default 45).
    pub const QUERY_AFTER_SECONDS: &str = "sync.query_after_seconds";
    /// The CUPS printer receipts go to (`MALIPO_PRINTER` overrides; the system default without).
    pub const PRINTER: &str = "printer.name";
    /// What Safaricom does with a paybill payment when the validation URL does not answer in
    /// time: `Completed` (the default) or `Cancelled`.
    pub const MPESA_C2B_RESPONSE_TYPE: &str = "mpesa.c2b_response_type";
    /// Which RegisterURL product the shortcode's Daraja app is on: `v2` (the default) or `v1`.
    pub const MPESA_C2B_VERSION: &str = "mpesa.c2b_version";
    /// Africa's Talking: the API base URL (`https://api.africastalking.com` unless set), the
    /// application's username and the sender ID.
    pub const SMS_BASE_URL: &str = "sms.base_url";
    pub const SMS_USERNAME: &str = "sms.username";
    pub const SMS_SENDER: &str = "sms.sender";
    /// The office's SMTP server: host, port (587 unless set), `starttls` (default), `tls` or
    /// `plain`, the login and the sender address.
    pub const SMTP_HOST: &str = "smtp.host";
    pub const SMTP_PORT: &str = "smtp.port";
    pub const SMTP_SECURITY: &str = "smtp.security";
    pub const SMTP_USERNAME: &str = "smtp.username";
    pub const SMTP_FROM: &str = "smtp.from";
    /// Reminder days relative to the due date (default `-7,-3,0,3`), and the hours no SMS is
    /// sent (default `21-7`, Nairobi time; `off` for none).
    pub const REMINDER_DAYS: &str = "messages.reminder_days";
    pub const QUIET_HOURS: &str = "messages.quiet_hours";
    /// Where the company publishes updates: the address of the update manifest
    /// (`latest.json`), e.g. the relay's `https://relay.example.co.ke/updates/latest.json`.
    pub const UPDATE_URL: &str = "updates.url";
    /// `on` in a one-person office: whoever asked for a refund may approve it too (each such
    /// approval is noted on the refund and in the audit log). `off` (the default): someone else
    /// approves it.
    pub const REFUND_SELF_APPROVAL: &str = "refunds.self_approval";
    pub const ALL: [&str; 28] = [
        MPESA_BASE_URL,
        MPESA_CONSUMER_KEY,
        MPESA_SHORTCODE,
        MPESA_TYPE,
        MPESA_TILL,
        MPESA_INITIATOR_NAME,
        MPESA_CERTIFICATE,
        PAYSTACK_BASE_URL,
        PAYSTACK_CALLBACK_URL,
        RELAY_URL,
        MAX_AMOUNT,
        PER_CLERK_PER_MINUTE,
        QUERY_AFTER_SECONDS,
        PRINTER,
        MPESA_C2B_RESPONSE_TYPE,
        MPESA_C2B_VERSION,
        SMS_BASE_URL,
        SMS_USERNAME,
        SMS_SENDER,
        SMTP_HOST,
        SMTP_PORT,
        SMTP_SECURITY,
        SMTP_USERNAME,
        SMTP_FROM,
        REMINDER_DAYS,
        QUIET_HOURS,
        UPDATE_URL,
        REFUND_SELF_APPROVAL,
    ];
}

/// Names of the secrets in the keyring (and the environment variables that override them).
pub mod secret {
    pub const MPESA_CONSUMER_SECRET: (&str, &str) =
        ("mpesa.consumer_secret", "MALIPO_MPESA_CONSUMER_SECRET");
    pub const MPESA_PASSKEY: (&str, &str) = ("mpesa.passkey", "MALIPO_MPESA_PASSKEY");
    /// The relay's Daraja URL: its path carries the tenant's secret token.
    pub const MPESA_CALLBACK_URL: (&str, &str) =
        ("mpesa.callback_url", "MALIPO_MPESA_CALLBACK_URL");
    pub const MPESA_INITIATOR_PASSWORD: (&str, &str) = (
        "mpesa.initiator_password",
        "MALIPO_MPESA_INITIATOR_PASSWORD",
    );
    pub const PAYSTACK_SECRET_KEY: (&str, &str) =
        ("paystack.secret_key", "MALIPO_PAYSTACK_SECRET_KEY");
    pub const RELAY_TOKEN: (&str, &str) = ("relay.token", "MALIPO_RELAY_TOKEN");
    /// The relay's paybill URLs (`malipo-relay tenant create` prints them): their paths carry
    /// the tenant's secret C2B token.
    pub const MPESA_C2B_VALIDATION_URL: (&str, &str) = (
        "mpesa.c2b_validation_url",
        "MALIPO_MPESA_C2B_VALIDATION_URL",
    );
    pub const MPESA_C2B_CONFIRMATION_URL: (&str, &str) = (
        "mpesa.c2b_confirmation_url",
        "MALIPO_MPESA_C2B_CONFIRMATION_URL",
    );
    /// Africa's Talking's API key, and the SMTP login's password.
    pub const SMS_API_KEY: (&str, &str) = ("sms.api_key", "MALIPO_SMS_API_KEY");
    pub const SMTP_PASSWORD: (&str, &str) = ("smtp.password", "MALIPO_SMTP_PASSWORD");
    pub const ALL: [(&str, &str); 10] = [
        MPESA_CONSUMER_SECRET,
        MPESA_PASSKEY,
        MPESA_CALLBACK_URL,
        MPESA_INITIATOR_PASSWORD,
        PAYSTACK_SECRET_KEY,
        RELAY_TOKEN,
        MPESA_C2B_VALIDATION_URL,
        MPESA_C2B_CONFIRMATION_URL,
        SMS_API_KEY,
        SMTP_PASSWORD,
    ];
}

/// Everything the payment services need to reach the providers. Either provider may be
/// missing; `why_not_*` then says what to set.
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    pub mpesa: Option<DarajaConfig>,
    pub paystack: Option<PaystackConfig>,
    pub mpesa_missing: Vec<&'static str>,
    pub paystack_missing: Vec<&'static str>,
    pub relay_url: Option<String>,
    pub relay_token: Option<Secret>,
    /// The relay's paybill URLs to register with Safaricom: validation, confirmation.
    pub c2b_urls: Option<(Secret, Secret)>,
    /// Customer SMS (Africa's Talking), when set up.
    pub sms: Option<malipo_providers::sms::SmsConfig>,
    /// The office's SMTP server, when set up (or why it cannot be used).
    pub smtp: Option<malipo_providers::email::SmtpConfig>,
}

/// Reads one setting: environment first, then the database.
pub(crate) struct Sources<'a> {
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
    pub(crate) db: &'a HashMap<String, String>,
    pub(crate) secrets: &'a dyn SecretStore,
}

impl Sources<'_> {
    pub(crate) fn value(&self, env: &str, db_key: &str) -> Option<String> {
        (self.env)(env)
            .or_else(|| self.db.get(db_key).cloned())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn secret(&self, (name, env): (&str, &str)) -> Result<Option<Secret>> {
        if let Some(v) = (self.env)(env).filter(|v| !v.is_empty()) {
            return Ok(Some(Secret::new(v)));
        }
        self.secrets.get(name).map_err(|e| {
            Error::internal(format!(
                "cannot read {name} from the keyring: {e}; set {env} instead"
            ))
        })
    }
}

impl ProviderSettings {
    pub fn from_sources(
        env: &dyn Fn(&str) -> Option<String>,
        db: &HashMap<String, String>,
        secrets: &dyn SecretStore,
    ) -> Result<ProviderSettings> {
        let s = Sources { env, db, secrets };
        let mut out = ProviderSettings::default();

        let base = s
            .value("MALIPO_MPESA_BASE_URL", key::MPESA_BASE_URL)
            .unwrap_or_else(|| "https://api.safaricom.co.ke".into());
        let consumer_key = s.value("MALIPO_MPESA_CONSUMER_KEY", key::MPESA_CONSUMER_KEY);
        let consumer_secret = s.secret(secret::MPESA_CONSUMER_SECRET)?;
        let shortcode = s.value("MALIPO_MPESA_SHORTCODE", key::MPESA_SHORTCODE);
        let passkey = s.secret(secret::MPESA_PASSKEY)?;
        let callback = s.secret(secret::MPESA_CALLBACK_URL)?;
        let kind = match s.value("MALIPO_MPESA_TYPE", key::MPESA_TYPE).as_deref() {
            None | Some("paybill") => ShortcodeKind::Paybill,
            Some("till") => match s.value("MALIPO_MPESA_TILL", key::MPESA_TILL) {
                Some(till) => ShortcodeKind::Till { till },
                None => {
                    out.mpesa_missing.push("MALIPO_MPESA_TILL");
                    ShortcodeKind::Paybill
                }
            },
            Some(other) => {
                return Err(Error::invalid(
                    "MALIPO_MPESA_TYPE",
                    format!("'{other}' is neither paybill nor till"),
                ));
            }
        };
        for (present, name) in [
            (consumer_key.is_some(), "MALIPO_MPESA_CONSUMER_KEY"),
            (consumer_secret.is_some(), "MALIPO_MPESA_CONSUMER_SECRET"),
            (shortcode.is_some(), "MALIPO_MPESA_SHORTCODE"),
            (passkey.is_some(), "MALIPO_MPESA_PASSKEY"),
            (callback.is_some(), "MALIPO_MPESA_CALLBACK_URL"),
        ] {
            if !present {
                out.mpesa_missing.push(name);
            }
        }
        if let (Some(ck), Some(cs), Some(sc), Some(pk), Some(cb), true) = (
            consumer_key,
            consumer_secret,
            shortcode,
            passkey,
            callback,
            out.mpesa_missing.is_empty(),
        ) {
            let mut config = DarajaConfig::new(&base, &ck, cs, &sc, pk, cb.expose());
            config.kind = kind;
            let name = s.value("MALIPO_MPESA_INITIATOR_NAME", key::MPESA_INITIATOR_NAME);
            let password = s.secret(secret::MPESA_INITIATOR_PASSWORD)?;
            let cert_path = s.value("MALIPO_MPESA_CERTIFICATE", key::MPESA_CERTIFICATE);
            if let (Some(name), Some(password), Some(path)) = (name, password, cert_path) {
                let certificate = std::fs::read(&path).map_err(|e| {
                    Error::invalid(
                        "MALIPO_MPESA_CERTIFICATE",
                        format!("cannot read {path}: {e}"),
                    )
                })?;
                config.initiator = Some(Initiator {
                    name,
                    password,
                    certificate,
                });
            }
            out.mpesa = Some(config);
        }

        let ps_base = s
            .value("MALIPO_PAYSTACK_BASE_URL", key::PAYSTACK_BASE_URL)
            .unwrap_or_else(|| "https://api.paystack.co".into());
        match s.secret(secret::PAYSTACK_SECRET_KEY)? {
            Some(key) => {
                let mut config = PaystackConfig::new(&ps_base, key);
                config.callback_url =
                    s.value("MALIPO_PAYSTACK_CALLBACK_URL", key::PAYSTACK_CALLBACK_URL);
                out.paystack = Some(config);
            }
            None => out.paystack_missing.push("MALIPO_PAYSTACK_SECRET_KEY"),
        }
        out.relay_url = s.value("MALIPO_RELAY_URL", key::RELAY_URL);
        out.relay_token = s.secret(secret::RELAY_TOKEN)?;
        out.c2b_urls = s
            .secret(secret::MPESA_C2B_VALIDATION_URL)?
            .zip(s.secret(secret::MPESA_C2B_CONFIRMATION_URL)?);
        if let (Some(username), Some(api_key)) = (
            s.value("MALIPO_SMS_USERNAME", key::SMS_USERNAME),
            s.secret(secret::SMS_API_KEY)?,
        ) {
            out.sms = Some(malipo_providers::sms::SmsConfig {
                base_url: s
                    .value("MALIPO_SMS_BASE_URL", key::SMS_BASE_URL)
                    .unwrap_or_else(|| "https://api.africastalking.com".into()),
                username,
                api_key,
                sender: s.value("MALIPO_SMS_SENDER", key::SMS_SENDER),
            });
        }
        if let (Some(host), Some(from)) = (
            s.value("MALIPO_SMTP_HOST", key::SMTP_HOST),
            s.value("MALIPO_SMTP_FROM", key::SMTP_FROM),
        ) {
            let port = match s.value("MALIPO_SMTP_PORT", key::SMTP_PORT) {
                Some(p) => p.parse().map_err(|_| {
                    Error::invalid("MALIPO_SMTP_PORT", format!("'{p}' is not a port number"))
                })?,
                None => 587,
            };
            let security = match s.value("MALIPO_SMTP_SECURITY", key::SMTP_SECURITY) {
                Some(v) => v
                    .parse()
                    .map_err(|e: String| Error::invalid("MALIPO_SMTP_SECURITY", e))?,
                None => malipo_providers::email::SmtpSecurity::StartTls,
            };
            out.smtp = Some(malipo_providers::email::SmtpConfig {
                host,
                port,
                security,
                username: s.value("MALIPO_SMTP_USERNAME", key::SMTP_USERNAME),
                password: s.secret(secret::SMTP_PASSWORD)?,
                from,
            });
        }
        Ok(out)
    }
}

/// The environment variable that overrides each database key (DESIGN.md).
pub const KEY_ENV: [(&str, &str); 28] = [
    (key::MPESA_BASE_URL, "MALIPO_MPESA_BASE_URL"),
    (key::MPESA_CONSUMER_KEY, "MALIPO_MPESA_CONSUMER_KEY"),
    (key::MPESA_SHORTCODE, "MALIPO_MPESA_SHORTCODE"),
    (key::MPESA_TYPE, "MALIPO_MPESA_TYPE"),
    (key::MPESA_TILL, "MALIPO_MPESA_TILL"),
    (key::MPESA_INITIATOR_NAME, "MALIPO_MPESA_INITIATOR_NAME"),
    (key::MPESA_CERTIFICATE, "MALIPO_MPESA_CERTIFICATE"),
    (key::PAYSTACK_BASE_URL, "MALIPO_PAYSTACK_BASE_URL"),
    (key::PAYSTACK_CALLBACK_URL, "MALIPO_PAYSTACK_CALLBACK_URL"),
    (key::RELAY_URL, "MALIPO_RELAY_URL"),
    (key::MAX_AMOUNT, ""),
    (key::PER_CLERK_PER_MINUTE, ""),
    (key::QUERY_AFTER_SECONDS, ""),
    (key::PRINTER, "MALIPO_PRINTER"),
    (key::MPESA_C2B_RESPONSE_TYPE, ""),
    (key::MPESA_C2B_VERSION, ""),
    (key::SMS_BASE_URL, "MALIPO_SMS_BASE_URL"),
    (key::SMS_USERNAME, "MALIPO_SMS_USERNAME"),
    (key::SMS_SENDER, "MALIPO_SMS_SENDER"),
    (key::SMTP_HOST, "MALIPO_SMTP_HOST"),
    (key::SMTP_PORT, "MALIPO_SMTP_PORT"),
    (key::SMTP_SECURITY, "MALIPO_SMTP_SECURITY"),
    (key::SMTP_USERNAME, "MALIPO_SMTP_USERNAME"),
    (key::SMTP_FROM, "MALIPO_SMTP_FROM"),
    (key::REMINDER_DAYS, ""),
    (key::QUIET_HOURS, ""),
    (key::UPDATE_URL, crate::updates::UPDATE_URL_ENV),
    (key::REFUND_SELF_APPROVAL, ""),
];

/// One setting as the settings screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SettingView {
    pub key: String,
    /// What the office database holds ("" when unset).
    pub value: String,
    /// The environment variable that overrides it, or "" when none does.
    pub env: String,
    /// The environment variable is set: the stored value is not the one in force.
    pub overridden: bool,
}

/// A secret as the settings screen shows it: where it comes from, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SecretView {
    pub name: String,
    pub env: String,
    /// `environment`, `keyring` or `missing`.
    pub source: String,
    /// Why the keyring could not be read, when it could not.
    pub problem: Option<String>,
}

/// Everything the settings screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SettingsView {
    /// The office's details printed on receipts.
    pub office: Vec<SettingView>,
    /// Provider, relay, printer and limits.
    pub providers: Vec<SettingView>,
    pub secrets: Vec<SecretView>,
    /// Where secrets are kept (`Secret Service`, `macOS Keychain`, ...), or why nowhere.
    pub keyring: String,
    /// Whether secrets can be saved from the screen.
    pub keyring_available: bool,
    /// Provider settings are read when Malipo starts: changes apply after a restart.
    pub restart_needed: bool,
}

impl App {
    /// The settings screen: stored values, what the environment overrides, and where each
    /// secret comes from. Administrators only.
    pub async fn settings_screen(
        &self,
        actor: &Actor,
        secrets: &dyn SecretStore,
        changed_since_start: bool,
    ) -> Result<SettingsView> {
        actor.require(Action::ManageSettings)?;
        let stored: HashMap<String, String> = self.store().settings().await?.into_iter().collect();
        let env_set =
            |name: &str| !name.is_empty() && std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let office = self
            .settings()
            .await?
            .into_iter()
            .filter(|(k, _)| crate::setting::ALL.contains(&k.as_str()))
            .map(|(key, value)| SettingView {
                key,
                value,
                env: String::new(),
                overridden: false,
            })
            .collect();
        let templates = crate::messages::TEMPLATES.iter().flat_map(|t| {
            [false, true].map(|sw| {
                let key = format!("{t}.{}", if sw { "sw" } else { "en" });
                SettingView {
                    value: stored
                        .get(&key)
                        .cloned()
                        .unwrap_or_else(|| crate::messages::default_template(t, sw).to_owned()),
                    key,
                    env: String::new(),
                    overridden: false,
                }
            })
        });
        let providers = KEY_ENV
            .iter()
            .map(|(k, env)| SettingView {
                key: (*k).to_owned(),
                value: stored.get(*k).cloned().unwrap_or_default(),
                env: (*env).to_owned(),
                overridden: env_set(env),
            })
            .chain(templates)
            .collect();
        let secrets_view = secret::ALL
            .iter()
            .map(|(name, env)| {
                let (source, problem) = if env_set(env) {
                    ("environment", None)
                } else {
                    match secrets.get(name) {
                        Ok(Some(_)) => ("keyring", None),
                        Ok(None) => ("missing", None),
                        Err(e) => ("missing", Some(e)),
                    }
                };
                SecretView {
                    name: (*name).to_owned(),
                    env: (*env).to_owned(),
                    source: source.to_owned(),
                    problem,
                }
            })
            .collect();
        Ok(SettingsView {
            office,
            providers,
            secrets: secrets_view,
            keyring: secrets.describe(),
            keyring_available: secrets.writable(),
            restart_needed: changed_since_start,
        })
    }

    /// Stores a secret in the OS keyring (an empty value removes it), recording in the audit
    /// log who did it and where it went, never the value. Administrators only.
    pub async fn set_secret(
        &self,
        actor: &Actor,
        secrets: &dyn SecretStore,
        name: &str,
        value: &str,
    ) -> Result<()> {
        actor.require(Action::ManageSettings)?;
        let Some((name, env)) = secret::ALL.iter().find(|(n, _)| *n == name) else {
            return Err(Error::invalid(
                "secret",
                format!(
                    "unknown secret '{name}'; use one of {}",
                    secret::ALL.map(|(n, _)| n).join(", ")
                ),
            ));
        };
        let value = value.trim();
        let secret = (!value.is_empty()).then(|| Secret::new(value));
        secrets.set(name, secret.as_ref()).map_err(|e| {
            Error::internal(format!(
                "the keyring did not keep {name}: {e}; set {env} in the environment instead"
            ))
        })?;
        let kept_in = secrets.describe();
        self.store()
            .record_secret_change(
                actor.name(),
                name,
                secret.is_some().then_some(kept_in.as_str()),
                self.now(),
            )
            .await?;
        tracing::info!(
            actor = actor.name(),
            secret = name,
            stored = secret.is_some(),
            "secret changed"
        );
        Ok(())
    }

    /// The provider settings from the process environment, this office's database and `secrets`.
    pub async fn provider_settings(&self, secrets: &dyn SecretStore) -> Result<ProviderSettings> {
        let db: HashMap<String, String> = self.store().settings().await?.into_iter().collect();
        let env = |name: &str| std::env::var(name).ok();
        ProviderSettings::from_sources(&env, &db, secrets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_environment_overrides_the_database_and_missing_settings_are_named() {
        let mut db = HashMap::new();
        db.insert(key::MPESA_SHORTCODE.to_owned(), "600000".to_owned());
        db.insert(key::MPESA_TILL.to_owned(), "174380".to_owned());
        let env = env_of(&[
            ("MALIPO_MPESA_SHORTCODE", "174379"),
            ("MALIPO_MPESA_CONSUMER_KEY", "ck"),
        ]);
        let s = ProviderSettings::from_sources(&env, &db, &NoSecretStore::default()).unwrap();
        assert!(s.mpesa.is_none());
        assert_eq!(
            s.mpesa_missing,
            [
                "MALIPO_MPESA_CONSUMER_SECRET",
                "MALIPO_MPESA_PASSKEY",
                "MALIPO_MPESA_CALLBACK_URL"
            ]
        );
        let providers = crate::Providers::new(s.clone());
        let e = providers.daraja().unwrap_err();
        assert!(e.to_string().contains("MALIPO_MPESA_PASSKEY"), "{e}");
        assert!(
            providers
                .paystack()
                .unwrap_err()
                .to_string()
                .contains("MALIPO_PAYSTACK_SECRET_KEY")
        );

        let env = env_of(&[
            ("MALIPO_MPESA_SHORTCODE", "174379"),
            ("MALIPO_MPESA_CONSUMER_KEY", "ck"),
            ("MALIPO_MPESA_CONSUMER_SECRET", "cs"),
            ("MALIPO_MPESA_PASSKEY", "pk"),
            ("MALIPO_MPESA_CALLBACK_URL", "https://relay.example/d/abc"),
            ("MALIPO_MPESA_TYPE", "till"),
        ]);
        let s = ProviderSettings::from_sources(&env, &db, &NoSecretStore::default()).unwrap();
        let d = s.mpesa.as_ref().unwrap();
        assert_eq!(d.shortcode, "174379", "the environment wins");
        assert_eq!(d.callback_url.expose(), "https://relay.example/d/abc");
        assert_eq!(
            d.kind,
            ShortcodeKind::Till {
                till: "174380".into()
            },
            "the database fills the rest"
        );
        assert!(
            !format!("{s:?}").contains("\"cs\"") && !format!("{s:?}").contains("relay.example"),
            "secrets, the callback URL among them, are redacted in Debug"
        );
    }
}
