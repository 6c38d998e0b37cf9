//! Provider settings: one type read the same way by the CLI and the desktop. Non-secret values
//! come from the office database, secrets from the OS keyring ([`SecretStore`]), and the
//! `MALIPO_*` environment variables (README, Configuration) override both (headless use, CI).

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

pub mod table;
pub mod templates;

pub use table::{Kind, Setting};

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
    /// A certificate authority trusted for the relay besides the public ones.
    pub relay_ca: Option<crate::relay::RelayCa>,
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
    /// A setting's value: its environment variable, else the office database; blank is unset.
    pub(crate) fn value(&self, setting: &Setting) -> Option<String> {
        (!setting.env.is_empty())
            .then(|| (self.env)(setting.env))
            .flatten()
            .or_else(|| self.db.get(setting.key).cloned())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A setting's value, or its default when unset.
    pub(crate) fn value_or_default(&self, setting: &Setting) -> String {
        self.value(setting)
            .unwrap_or_else(|| setting.default.to_owned())
    }

    /// A secret: its environment variable, else the keyring.
    pub(crate) fn secret(&self, setting: &Setting) -> Result<Option<Secret>> {
        if let Some(v) = (self.env)(setting.env).filter(|v| !v.is_empty()) {
            return Ok(Some(Secret::new(v)));
        }
        self.secrets.get(setting.key).map_err(|e| {
            Error::internal(format!(
                "cannot read {} from the keyring: {e}; set {} instead",
                setting.key, setting.env
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

        let base = s.value_or_default(&table::MPESA_BASE_URL);
        let consumer_key = s.value(&table::MPESA_CONSUMER_KEY);
        let consumer_secret = s.secret(&table::MPESA_CONSUMER_SECRET)?;
        let shortcode = s.value(&table::MPESA_SHORTCODE);
        let passkey = s.secret(&table::MPESA_PASSKEY)?;
        let callback = s.secret(&table::MPESA_CALLBACK_URL)?;
        let kind = match s.value(&table::MPESA_TYPE).as_deref() {
            None | Some("paybill") => ShortcodeKind::Paybill,
            Some("till") => match s.value(&table::MPESA_TILL) {
                Some(till) => ShortcodeKind::Till { till },
                None => {
                    out.mpesa_missing.push(table::MPESA_TILL.env);
                    ShortcodeKind::Paybill
                }
            },
            Some(other) => {
                return Err(Error::invalid(
                    table::MPESA_TYPE.env,
                    format!("'{other}' is neither paybill nor till"),
                ));
            }
        };
        for (present, name) in [
            (consumer_key.is_some(), table::MPESA_CONSUMER_KEY.env),
            (consumer_secret.is_some(), table::MPESA_CONSUMER_SECRET.env),
            (shortcode.is_some(), table::MPESA_SHORTCODE.env),
            (passkey.is_some(), table::MPESA_PASSKEY.env),
            (callback.is_some(), table::MPESA_CALLBACK_URL.env),
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
            let name = s.value(&table::MPESA_INITIATOR_NAME);
            let password = s.secret(&table::MPESA_INITIATOR_PASSWORD)?;
            let cert_path = s.value(&table::MPESA_CERTIFICATE);
            if let (Some(name), Some(password), Some(path)) = (name, password, cert_path) {
                let certificate = std::fs::read(&path).map_err(|e| {
                    Error::invalid(
                        table::MPESA_CERTIFICATE.env,
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

        let ps_base = s.value_or_default(&table::PAYSTACK_BASE_URL);
        match s.secret(&table::PAYSTACK_SECRET_KEY)? {
            Some(key) => {
                let mut config = PaystackConfig::new(&ps_base, key);
                config.callback_url = s.value(&table::PAYSTACK_CALLBACK_URL);
                out.paystack = Some(config);
            }
            None => out.paystack_missing.push(table::PAYSTACK_SECRET_KEY.env),
        }
        out.relay_url = s.value(&table::RELAY_URL);
        out.relay_token = s.secret(&table::RELAY_TOKEN)?;
        out.relay_ca = s
            .value(&table::RELAY_CA_FILE)
            .map(|path| crate::relay::RelayCa::load(&path))
            .transpose()
            .map_err(|why| Error::invalid(table::RELAY_CA_FILE.env, why))?;
        out.c2b_urls = s
            .secret(&table::MPESA_C2B_VALIDATION_URL)?
            .zip(s.secret(&table::MPESA_C2B_CONFIRMATION_URL)?);
        if let (Some(username), Some(api_key)) = (
            s.value(&table::SMS_USERNAME),
            s.secret(&table::SMS_API_KEY)?,
        ) {
            out.sms = Some(malipo_providers::sms::SmsConfig {
                base_url: s.value_or_default(&table::SMS_BASE_URL),
                username,
                api_key,
                sender: s.value(&table::SMS_SENDER),
            });
        }
        if let (Some(host), Some(from)) = (s.value(&table::SMTP_HOST), s.value(&table::SMTP_FROM)) {
            let port = match s.value(&table::SMTP_PORT) {
                Some(p) => p.parse().map_err(|_| {
                    Error::invalid(table::SMTP_PORT.env, format!("'{p}' is not a port number"))
                })?,
                None => 587,
            };
            let security = match s.value(&table::SMTP_SECURITY) {
                Some(v) => v
                    .parse()
                    .map_err(|e: String| Error::invalid(table::SMTP_SECURITY.env, e))?,
                None => malipo_providers::email::SmtpSecurity::StartTls,
            };
            out.smtp = Some(malipo_providers::email::SmtpConfig {
                host,
                port,
                security,
                username: s.value(&table::SMTP_USERNAME),
                password: s.secret(&table::SMTP_PASSWORD)?,
                from,
            });
        }
        Ok(out)
    }
}

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
    /// What the screen calls it, and one line on what it does.
    pub label: String,
    pub help: String,
    /// What applies when it is unset ("" when nothing does).
    pub default: String,
    /// A message template: written in a multi-line box.
    pub multiline: bool,
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
    pub label: String,
    pub help: String,
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
        let view = |setting: &Setting| SettingView {
            key: setting.key.to_owned(),
            value: stored.get(setting.key).cloned().unwrap_or_default(),
            env: setting.env.to_owned(),
            overridden: env_set(setting.env),
            label: setting.label.to_owned(),
            help: setting.help.to_owned(),
            default: setting.default.to_owned(),
            multiline: false,
        };
        let office = table::ALL
            .iter()
            .filter(|s| s.office)
            .map(|s| {
                let mut v = view(s);
                if v.value.is_empty() {
                    v.value = s.default.to_owned();
                }
                v
            })
            .collect();
        let templates = templates::TEMPLATES.iter().flat_map(|t| {
            [false, true].map(|sw| {
                let key = format!("{t}.{}", if sw { "sw" } else { "en" });
                let default = templates::default_template(t, sw).to_owned();
                SettingView {
                    value: stored.get(&key).cloned().unwrap_or_else(|| default.clone()),
                    key,
                    env: String::new(),
                    overridden: false,
                    label: format!(
                        "{} ({})",
                        templates::template_label(t),
                        if sw { "Kiswahili" } else { "English" }
                    ),
                    help: templates::TEMPLATE_HELP.to_owned(),
                    default,
                    multiline: true,
                }
            })
        });
        let providers = table::ALL
            .iter()
            .filter(|s| !s.office && !s.secret)
            .map(view)
            .chain(templates)
            .collect();
        let secrets_view = table::ALL
            .iter()
            .filter(|s| s.secret)
            .map(|s| {
                let (source, problem) = if env_set(s.env) {
                    ("environment", None)
                } else {
                    match secrets.get(s.key) {
                        Ok(Some(_)) => ("keyring", None),
                        Ok(None) => ("missing", None),
                        Err(e) => ("missing", Some(e)),
                    }
                };
                SecretView {
                    name: s.key.to_owned(),
                    env: s.env.to_owned(),
                    source: source.to_owned(),
                    problem,
                    label: s.label.to_owned(),
                    help: s.help.to_owned(),
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
        let Some(Setting { key: name, env, .. }) = table::find(name).filter(|s| s.secret) else {
            return Err(Error::invalid(
                "secret",
                format!(
                    "unknown secret '{name}'; use one of {}",
                    table::ALL
                        .iter()
                        .filter(|s| s.secret)
                        .map(|s| s.key)
                        .collect::<Vec<_>>()
                        .join(", ")
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
        db.insert(table::MPESA_SHORTCODE.key.to_owned(), "600000".to_owned());
        db.insert(table::MPESA_TILL.key.to_owned(), "174380".to_owned());
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
