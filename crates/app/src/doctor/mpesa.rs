//! M-Pesa: the shortcode and its kind, the credentials against Daraja, the callback and C2B URLs, the initiator's certificate.

use super::*;
use crate::reconcile::{LEDGER_STALE, LedgerReach};

/// Safaricom's public sandbox test shortcode and passkey: never right on production.
pub(super) const SANDBOX_SHORTCODE: &str = "174379";
pub(super) const SANDBOX_PASSKEY: &str =
    "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

impl App {
    pub(super) async fn mpesa_checks(
        &self,
        m: &MpesaSettings,
        relay: &RelaySide,
        checks: &mut Vec<Check>,
    ) -> Option<DarajaEnv> {
        let required = [
            (m.consumer_key.is_some(), table::MPESA_CONSUMER_KEY.env),
            (
                m.consumer_secret.is_some(),
                table::MPESA_CONSUMER_SECRET.env,
            ),
            (m.shortcode.is_some(), table::MPESA_SHORTCODE.env),
            (m.passkey.is_some(), table::MPESA_PASSKEY.env),
            (m.callback.is_some(), table::MPESA_CALLBACK_URL.env),
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
                format!(
                    "M-Pesa is not set up: set {} (or in Settings)",
                    missing.join(", ")
                ),
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
        if validation.2.is_some() || confirmation.2.is_some() {
            match self.ledger_reach().await {
                Ok(reach) => checks.push(ledger_check(&reach, self.now())),
                Err(e) => checks.push(check(
                    "mpesa.ledger",
                    CheckStatus::Fail,
                    format!(
                        "the office database could not say how far M-Pesa's list was read: {e}"
                    ),
                )),
            }
        }
        Some(env)
    }
}

/// Whether M-Pesa's own list is being read for a paybill office: Pull registered here, when
/// the last complete pull ended, and the latest statement imported.
pub(super) fn ledger_check(reach: &LedgerReach, now: OffsetDateTime) -> Check {
    let statement = reach.statement_to.map_or_else(String::new, |t| {
        format!(
            "; the latest imported statement ends {}",
            crate::views::rfc3339(t)
        )
    });
    let Some(registered) = reach.registered else {
        return check(
            "mpesa.ledger",
            CheckStatus::Warn,
            format!(
                "Pull Transactions is not registered at this counter: a paybill payment whose confirmation never came is found only by importing the M-Pesa statement{statement}; run malipo mpesa register-pull --nominated-number 07XXXXXXXX"
            ),
        );
    };
    let minutes = reach.minutes;
    if minutes <= 0 {
        return check(
            "mpesa.ledger",
            CheckStatus::Warn,
            format!(
                "Pull is registered but automatic pulls are off (mpesa.pull_minutes is 0){statement}: set it to 30, or run malipo mpesa pull at least daily"
            ),
        );
    }
    let complete = reach.pulled_to;
    let since = now - complete.unwrap_or(registered);
    if since > LEDGER_STALE {
        return check(
            "mpesa.ledger",
            CheckStatus::Warn,
            format!(
                "nothing has covered M-Pesa's list for {} hours (last complete pull {}){statement}: keep sync running and check Pull answers (malipo mpesa pull); after 48 hours only the statement brings missed payments back",
                since.whole_hours(),
                complete.map_or_else(|| "never".to_owned(), crate::views::rfc3339)
            ),
        );
    }
    check(
        "mpesa.ledger",
        CheckStatus::Pass,
        match complete {
            Some(c) => format!(
                "Pull is registered; the last complete pull ended {} ({} minutes ago); sync pulls every {minutes} minutes{statement}",
                crate::views::rfc3339(c),
                since.whole_minutes()
            ),
            None => format!(
                "Pull is registered; the first pull comes with the next sync round (every {minutes} minutes){statement}"
            ),
        },
    )
}

/// The M-Pesa settings as configured, before anything is built from them.
#[derive(Clone)]
pub(super) struct MpesaSettings {
    pub(super) base: String,
    pub(super) consumer_key: Option<String>,
    pub(super) consumer_secret: Option<Secret>,
    pub(super) shortcode: Option<String>,
    pub(super) passkey: Option<Secret>,
    pub(super) callback: Option<Secret>,
    pub(super) kind: Option<String>,
    pub(super) till: Option<String>,
    pub(super) initiator_name: Option<String>,
    pub(super) initiator_password: Option<Secret>,
    /// Where the certificate came from (a path) and its bytes, or why they could not be read.
    pub(super) certificate: Option<(String, std::result::Result<Vec<u8>, String>)>,
    pub(super) c2b: [(&'static str, &'static str, Option<String>); 2],
}

pub(super) fn shortcode_check(
    code: &str,
    kind: Option<&str>,
    till: Option<&str>,
    env: DarajaEnv,
) -> Check {
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

pub(super) fn initiator_check(m: &MpesaSettings, env: DarajaEnv) -> Check {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_check_warns_before_missed_payments_leave_pulls_reach() {
        let reach = |registered, pulled_to, minutes| LedgerReach {
            registered,
            pulled_to,
            statement_to: None,
            minutes,
        };
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let h = time::Duration::hours;
        let none = ledger_check(&reach(None, None, 30), now);
        assert_eq!(none.status, CheckStatus::Warn);
        assert!(none.message.contains("register-pull"), "{}", none.message);
        let fresh = ledger_check(&reach(Some(now - h(50)), Some(now - h(1)), 30), now);
        assert_eq!(fresh.status, CheckStatus::Pass, "{}", fresh.message);
        assert!(
            fresh.message.contains("60 minutes ago"),
            "{}",
            fresh.message
        );
        let stale = ledger_check(&reach(Some(now - h(50)), Some(now - h(37)), 30), now);
        assert_eq!(stale.status, CheckStatus::Warn);
        assert!(stale.message.contains("37 hours"), "{}", stale.message);
        let never = ledger_check(&reach(Some(now - h(40)), None, 30), now);
        assert_eq!(never.status, CheckStatus::Warn, "{}", never.message);
        let just = ledger_check(&reach(Some(now - h(1)), None, 30), now);
        assert_eq!(just.status, CheckStatus::Pass, "{}", just.message);
        let off = ledger_check(&reach(Some(now - h(1)), Some(now - h(1)), 0), now);
        assert_eq!(off.status, CheckStatus::Warn);
        assert!(off.message.contains("pull_minutes"), "{}", off.message);
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
        let expired = include_bytes!("../../tests/fixtures/expired-safaricom-like.cer").to_vec();
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
        include_bytes!("../../../sandbox/keys/simulator-cert.pem").to_vec()
    }
}
