//! Every setting of an office, declared once: its key in the office database (or name in the
//! OS keyring, for a secret), the environment variable that overrides it, what applies when it
//! is unset, whether it is a secret, how a value is checked, and the label and help line the
//! Settings screen shows. The reader ([`super::ProviderSettings`]), the doctor, the validator
//! (`App::set_setting`), the keyring and the Settings screen all read [`ALL`].

/// How a value typed for a setting is checked before it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text (trimmed).
    Text,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A whole number in `min..=max`, as the unit says.
    Whole {
        min: u32,
        max: u32,
        unit: &'static str,
    },
    /// Checked by its own rule in the services (a money amount, an office code, a ladder of
    /// days, quiet hours, an update address).
    Rule,
}

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The key in the office database, or the secret's name in the keyring.
    pub key: &'static str,
    /// The environment variable that overrides it ("" when none does).
    pub env: &'static str,
    /// What applies when it is unset ("" when nothing does).
    pub default: &'static str,
    /// Kept in the OS keyring or given in the environment, never in the office database.
    pub secret: bool,
    /// One of the office's own details printed on receipts (not a provider setting).
    pub office: bool,
    pub kind: Kind,
    /// What the Settings screen calls it.
    pub label: &'static str,
    /// One line on what it does, under the label.
    pub help: &'static str,
}

impl Setting {
    const BASE: Setting = Setting {
        key: "",
        env: "",
        default: "",
        secret: false,
        office: false,
        kind: Kind::Text,
        label: "",
        help: "",
    };
}

/// The setting with database key (or keyring name) `key`.
pub fn find(key: &str) -> Option<&'static Setting> {
    ALL.iter().find(|s| s.key == key)
}

macro_rules! settings {
    ($( $(#[$doc:meta])* $name:ident { $($field:ident : $value:expr),* $(,)? } )*) => {
        $( $(#[$doc])* pub const $name: Setting = Setting { $($field: $value,)* ..Setting::BASE }; )*
        /// Every setting, in the order the Settings screen lists them.
        pub const ALL: &[Setting] = &[$($name),*];
    };
}

settings! {
    OFFICE_CODE {
        key: "office.code", office: true, kind: Kind::Rule, default: "HQ",
        label: "Office code",
        help: "2–6 letters or digits in every payment and receipt number; fixed after the first payment.",
    }
    OFFICE_NAME {
        key: "office.name", office: true,
        label: "Company name on receipts",
        help: "Printed at the top of every receipt and in customer messages.",
    }
    OFFICE_ADDRESS { key: "office.address", office: true, label: "Address", help: "Printed on receipts." }
    OFFICE_PHONE { key: "office.phone", office: true, label: "Phone", help: "Printed on receipts." }
    OFFICE_KRA_PIN { key: "office.kra_pin", office: true, label: "KRA PIN", help: "The company's tax PIN, printed on receipts." }
    OFFICE_CURRENCY {
        key: "office.currency", office: true, kind: Kind::Rule, default: "KES",
        label: "Currency",
        help: "The currency of amounts typed without one: KES, NGN, GHS, ZAR or USD.",
    }
    MPESA_BASE_URL {
        key: "mpesa.base_url", env: "MALIPO_MPESA_BASE_URL", default: "https://api.safaricom.co.ke",
        label: "M-Pesa API address",
        help: "Safaricom's Daraja; the sandbox is https://sandbox.safaricom.co.ke.",
    }
    MPESA_CONSUMER_KEY {
        key: "mpesa.consumer_key", env: "MALIPO_MPESA_CONSUMER_KEY",
        label: "M-Pesa consumer key",
        help: "From the company's app on the Daraja portal.",
    }
    MPESA_SHORTCODE {
        key: "mpesa.shortcode", env: "MALIPO_MPESA_SHORTCODE",
        label: "Paybill or till shortcode",
        help: "The business number customers pay; for a till, the store number.",
    }
    MPESA_TYPE {
        key: "mpesa.type", env: "MALIPO_MPESA_TYPE", default: "paybill", kind: Kind::Choice(&["paybill", "till"]),
        label: "Shortcode type",
        help: "paybill, or till for Buy Goods.",
    }
    MPESA_TILL {
        key: "mpesa.till", env: "MALIPO_MPESA_TILL",
        label: "Till number (Buy Goods)",
        help: "The till customers see, when the shortcode type is till.",
    }
    MPESA_INITIATOR_NAME {
        key: "mpesa.initiator_name", env: "MALIPO_MPESA_INITIATOR_NAME",
        label: "Initiator name",
        help: "The API operator allowed to reverse payments and ask Transaction Status.",
    }
    MPESA_CERTIFICATE {
        key: "mpesa.certificate", env: "MALIPO_MPESA_CERTIFICATE",
        label: "Safaricom certificate file",
        help: "The file that encrypts the initiator password (for reversals and Transaction Status).",
    }
    /// What Safaricom does with a paybill payment when the validation URL does not answer in
    /// time.
    MPESA_C2B_RESPONSE_TYPE {
        key: "mpesa.c2b_response_type", default: "Completed", kind: Kind::Choice(&["Completed", "Cancelled"]),
        label: "Paybill payments when validation is late",
        help: "Completed (keep them) or Cancelled, as registered with Safaricom.",
    }
    /// Which RegisterURL product the shortcode's Daraja app is on.
    MPESA_C2B_VERSION {
        key: "mpesa.c2b_version", default: "v2", kind: Kind::Choice(&["v2", "v1"]),
        label: "Paybill URL registration version",
        help: "v2 unless the company's Daraja app has only v1.",
    }
    /// How often sync pulls Safaricom's own list of paybill payments (Pull Transactions).
    MPESA_PULL_MINUTES {
        key: "mpesa.pull_minutes", default: "30", kind: Kind::Whole { min: 0, max: 1440, unit: "minutes" },
        label: "Pull M-Pesa's list every",
        help: "Minutes between pulls of Safaricom's list of paybill payments, for confirmations that never came (0: never). Needs Pull registered.",
    }
    PAYSTACK_BASE_URL {
        key: "paystack.base_url", env: "MALIPO_PAYSTACK_BASE_URL", default: "https://api.paystack.co",
        label: "Paystack API address",
        help: "Paystack's API; change it only for a test server.",
    }
    PAYSTACK_CALLBACK_URL {
        key: "paystack.callback_url", env: "MALIPO_PAYSTACK_CALLBACK_URL",
        label: "Paystack callback URL",
        help: "Optional: where the customer's browser goes after the checkout.",
    }
    RELAY_URL {
        key: "relay.url", env: "MALIPO_RELAY_URL",
        label: "Company relay URL",
        help: "The company's relay, which carries the providers' callbacks to every office.",
    }
    RELAY_CA_FILE {
        key: "relay.ca_file", env: "MALIPO_RELAY_CA_FILE", kind: Kind::Rule,
        label: "Relay's certificate authority",
        help: "Optional: a PEM file of the authority that signed the relay's certificate, when it is the company's own.",
    }
    /// Where the company publishes updates: the address of the update manifest.
    UPDATE_URL {
        key: "updates.url", env: "MALIPO_UPDATE_URL", kind: Kind::Rule,
        label: "Update source",
        help: "The company's latest.json, e.g. https://relay.example.co.ke/updates/latest.json.",
    }
    MAX_AMOUNT {
        key: "limits.max_amount", kind: Kind::Rule,
        label: "Largest single payment",
        help: "A payment above it is refused at the counter; empty for the providers' own limits only.",
    }
    PER_CLERK_PER_MINUTE {
        key: "limits.per_clerk_per_minute", default: "10", kind: Kind::Whole { min: 1, max: 100_000, unit: "payments" },
        label: "Payments per clerk per minute",
        help: "More than this from one clerk in a minute is refused as a likely mistake.",
    }
    /// Seconds an open payment may go unheard of before sync asks the provider.
    QUERY_AFTER_SECONDS {
        key: "sync.query_after_seconds", default: "45", kind: Kind::Whole { min: 1, max: 3600, unit: "seconds" },
        label: "Ask the provider after",
        help: "Seconds without news of a payment before Malipo asks the provider where it stands.",
    }
    /// The CUPS printer receipts go to.
    PRINTER {
        key: "printer.name", env: "MALIPO_PRINTER",
        label: "Receipt printer",
        help: "The printer's name in the print system; empty for the default printer.",
    }
    SMS_BASE_URL {
        key: "sms.base_url", env: "MALIPO_SMS_BASE_URL", default: "https://api.africastalking.com",
        label: "SMS API address",
        help: "Africa's Talking's API; its sandbox is https://api.sandbox.africastalking.com.",
    }
    SMS_USERNAME {
        key: "sms.username", env: "MALIPO_SMS_USERNAME",
        label: "SMS username",
        help: "The Africa's Talking application's username.",
    }
    SMS_SENDER {
        key: "sms.sender", env: "MALIPO_SMS_SENDER",
        label: "SMS sender ID",
        help: "The name customers see as the sender, once approved; empty for the default.",
    }
    SMTP_HOST {
        key: "smtp.host", env: "MALIPO_SMTP_HOST",
        label: "Mail server",
        help: "The office's SMTP server for e-mailed receipts.",
    }
    SMTP_PORT {
        key: "smtp.port", env: "MALIPO_SMTP_PORT", default: "587", kind: Kind::Whole { min: 1, max: 65_535, unit: "port" },
        label: "Mail server port",
        help: "587 for STARTTLS, 465 for TLS.",
    }
    SMTP_SECURITY {
        key: "smtp.security", env: "MALIPO_SMTP_SECURITY", default: "starttls", kind: Kind::Choice(&["starttls", "tls", "plain"]),
        label: "Mail server security",
        help: "starttls, tls, or plain (only for a server on this computer).",
    }
    SMTP_USERNAME {
        key: "smtp.username", env: "MALIPO_SMTP_USERNAME",
        label: "Mail login",
        help: "The login on the mail server; empty when it needs none.",
    }
    SMTP_FROM {
        key: "smtp.from", env: "MALIPO_SMTP_FROM",
        label: "Receipts are sent from",
        help: "The sender address, e.g. Jubilee Insurance <receipts@jubilee.example>.",
    }
    /// Reminder days relative to the due date.
    REMINDER_DAYS {
        key: "messages.reminder_days", kind: Kind::Rule, default: "-7,-3,0,3",
        label: "Reminder days",
        help: "Days before (negative) and after the due date when an SMS reminder goes out.",
    }
    /// The hours no SMS is sent, Nairobi time.
    QUIET_HOURS {
        key: "messages.quiet_hours", kind: Kind::Rule, default: "21-7",
        label: "Quiet hours",
        help: "Hours (Nairobi time) when no SMS is sent, like 21-7; off for none.",
    }
    /// `on` in a one-person office: whoever asked for a refund may approve it too.
    REFUND_SELF_APPROVAL {
        key: "refunds.self_approval", default: "off", kind: Kind::Choice(&["on", "off"]),
        label: "One-person office refunds",
        help: "on: who asks for a refund may approve it (each such approval is noted). off: someone else approves it.",
    }
    /// Days after a missed due date before a policy lapses.
    POLICY_GRACE_DAYS {
        key: "policy.grace_days", default: "14", kind: Kind::Whole { min: 0, max: 90, unit: "days" },
        label: "Grace days",
        help: "A policy with an instalment past due is in grace this many days, then lapsed until its arrears are paid.",
    }
    /// Who makes a lapsed policy active again once its arrears are paid.
    POLICY_REINSTATE {
        key: "policy.reinstate", default: "paid", kind: Kind::Choice(&["paid", "manager"]),
        label: "Reinstating lapsed policies",
        help: "paid: a lapsed policy is active again once its arrears are paid. manager: it stays lapsed until a manager reinstates it.",
    }
    /// The grace window's reminder days, after the missed due date.
    GRACE_REMINDER_DAYS {
        key: "policy.grace_reminder_days", kind: Kind::Rule, default: "7,10,13",
        label: "Grace reminders",
        help: "Days after a missed due date when a policy in grace is reminded, besides the reminder days (within the grace days).",
    }
    /// When the collector charges saved cards and sends M-Pesa prompts on a due day.
    COLLECT_HOUR {
        key: "collect.hour", kind: Kind::Rule, default: "09:00",
        label: "Collection hour",
        help: "From this time (HH:MM, Nairobi) on a due day, saved cards are charged and M-Pesa prompts sent; prompts wait out the quiet hours.",
    }
    /// The days after a missed due date when the collector tries again.
    COLLECT_RETRY_DAYS {
        key: "collect.retry_days", kind: Kind::Rule, default: "1,3,7",
        label: "Collection retries",
        help: "Days after a due date when an instalment still unpaid is charged or prompted again (within the grace days).",
    }
    /// `on` in a one-person office: a manager may sign off their own cash-up.
    CASH_SELF_SIGN_OFF {
        key: "cash.self_sign_off", default: "off", kind: Kind::Choice(&["on", "off"]),
        label: "One-person office cash-ups",
        help: "on: a manager may sign off their own day's cash (each such sign-off is noted). off: another manager signs it off.",
    }
    /// What the office charges for a cheque the bank returns (recorded on its reversing entry).
    CHEQUE_BOUNCE_FEE {
        key: "cheque.bounce_fee", kind: Kind::Rule,
        label: "Fee for a returned cheque",
        help: "Recorded with a bounced cheque's reversal and told to the holder; empty for none.",
    }
    /// Which columns of the bank's statement CSV hold the slip reference and the amount.
    BANK_STATEMENT_COLUMNS {
        key: "bank.statement_columns", kind: Kind::Rule,
        label: "Bank statement columns",
        help: "The reference and amount columns of the bank's statement CSV, like reference=Reference,amount=Credit.",
    }
    MPESA_CONSUMER_SECRET {
        key: "mpesa.consumer_secret", env: "MALIPO_MPESA_CONSUMER_SECRET", secret: true,
        label: "M-Pesa consumer secret",
        help: "From the company's app on the Daraja portal.",
    }
    MPESA_PASSKEY {
        key: "mpesa.passkey", env: "MALIPO_MPESA_PASSKEY", secret: true,
        label: "M-Pesa passkey",
        help: "The Lipa na M-Pesa Online passkey Safaricom sent for the shortcode.",
    }
    /// The relay's Daraja URL: its path carries the tenant's secret token.
    MPESA_CALLBACK_URL {
        key: "mpesa.callback_url", env: "MALIPO_MPESA_CALLBACK_URL", secret: true,
        label: "M-Pesa callback URL",
        help: "From the company relay; it carries a secret token.",
    }
    MPESA_INITIATOR_PASSWORD {
        key: "mpesa.initiator_password", env: "MALIPO_MPESA_INITIATOR_PASSWORD", secret: true,
        label: "Initiator password",
        help: "The initiator's password on the M-Pesa portal (for reversals and Transaction Status).",
    }
    /// The relay's paybill URLs: their paths carry the tenant's secret C2B token.
    MPESA_C2B_VALIDATION_URL {
        key: "mpesa.c2b_validation_url", env: "MALIPO_MPESA_C2B_VALIDATION_URL", secret: true,
        label: "Paybill validation URL",
        help: "From the company relay (malipo-relay tenant create); registered with Safaricom.",
    }
    MPESA_C2B_CONFIRMATION_URL {
        key: "mpesa.c2b_confirmation_url", env: "MALIPO_MPESA_C2B_CONFIRMATION_URL", secret: true,
        label: "Paybill confirmation URL",
        help: "From the company relay (malipo-relay tenant create); registered with Safaricom.",
    }
    PAYSTACK_SECRET_KEY {
        key: "paystack.secret_key", env: "MALIPO_PAYSTACK_SECRET_KEY", secret: true,
        label: "Paystack secret key",
        help: "sk_live_… (or sk_test_… for tests), from the Paystack dashboard.",
    }
    RELAY_TOKEN {
        key: "relay.token", env: "MALIPO_RELAY_TOKEN", secret: true,
        label: "Relay device token",
        help: "This counter's token, from malipo-relay device add.",
    }
    SMS_API_KEY {
        key: "sms.api_key", env: "MALIPO_SMS_API_KEY", secret: true,
        label: "SMS API key",
        help: "The Africa's Talking application's API key.",
    }
    SMTP_PASSWORD {
        key: "smtp.password", env: "MALIPO_SMTP_PASSWORD", secret: true,
        label: "Mail password",
        help: "The mail login's password.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_setting_is_declared_once_with_a_label_and_help() {
        for (i, s) in ALL.iter().enumerate() {
            assert!(
                !s.key.is_empty() && !s.label.is_empty() && !s.help.is_empty(),
                "{s:?}"
            );
            assert!(
                ALL[i + 1..].iter().all(|o| o.key != s.key),
                "{} twice",
                s.key
            );
            assert!(
                s.env.is_empty() || ALL[i + 1..].iter().all(|o| o.env != s.env),
                "{} twice",
                s.env
            );
            assert!(!(s.secret && s.office), "{s:?}");
            assert!(
                !s.secret || !s.env.is_empty(),
                "a secret can be given in the environment: {s:?}"
            );
            if let Kind::Choice(words) = s.kind {
                assert!(s.default.is_empty() || words.contains(&s.default), "{s:?}");
            }
        }
        assert_eq!(find("relay.token"), Some(&RELAY_TOKEN));
        assert_eq!(find("relay.tokens"), None);
    }
}
