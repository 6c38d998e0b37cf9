//! The relay's wire protocol, written once for both ends: the relay serves these types and the
//! office's sync reads them. A change here is a change of the protocol, seen by both at once.
//!
//! Devices authenticate with `Authorization: Bearer DEVICE_TOKEN`. They pull provider events
//! after their cursor ([`EVENTS`] → [`EventPage`]), may hold an event stream open that only
//! wakes them ([`EVENTS_STREAM`], [`Wake`]), push their payments ([`TRANSACTIONS`],
//! [`UploadBatch`] → [`UploadResult`]) and read the company's figures ([`SUMMARY`] →
//! [`CompanySummary`]) and check how they are set up against the relay ([`DEVICE_CHECK`],
//! [`DeviceCheck`] → [`DeviceCheckAnswer`]).
//!
//! The company is one: every counter pulls the **policy register** ([`POLICIES`] →
//! [`RegisterPage`]) and pushes policies added or imported there ([`RegisterUpload`] →
//! [`RegisterReport`]), and pulls every counter's **payments** in one order ([`PAYMENTS`] →
//! [`PaymentPage`]), so instalments are allocated alike everywhere. Every refusal is a
//! [`Problem`].

use malipo_domain::register::{PolicyStatus, RegisterPolicy};
use serde::{Deserialize, Serialize};

/// Request bodies larger than this are refused (HTTP 413) before they are read.
pub const MAX_BODY: usize = 64 * 1024;

/// The path prefix of Daraja callback URLs; the tenant's secret token follows. It carries none
/// of the words Safaricom refuses in callback URLs ("mpesa", "safaricom", ...).
pub const DARAJA_PATH: &str = "/hooks/d";
/// The path prefix of Paystack webhook URLs; the tenant id follows.
pub const PAYSTACK_PATH: &str = "/hooks/p";
/// The path prefixes of the tenant's C2B (paybill) validation and confirmation URLs; the
/// tenant's secret C2B token follows. Free of the words Safaricom refuses in URLs.
pub const C2B_VALIDATION_PATH: &str = "/hooks/v";
pub const C2B_CONFIRMATION_PATH: &str = "/hooks/c";
/// The path prefix of SMS delivery-report URLs (Africa's Talking); the tenant's Daraja token
/// follows.
pub const SMS_REPORT_PATH: &str = "/hooks/s";
/// `POST` a [`Claim`]: a [`ClaimAnswer`]. The first device to claim a subject holds it.
pub const CLAIMS: &str = "/v1/claims";
/// `GET`: the company's [`SuspenseItem`]s (`?all=true` for decided ones too); `POST` one found.
pub const SUSPENSE: &str = "/v1/suspense";
/// `POST` a [`SuspenseDecision`]: decided once for the company (409 when another was first).
pub const SUSPENSE_DECIDE: &str = "/v1/suspense/decide";
/// `GET`, with [`EventsQuery`]: an [`EventPage`].
pub const EVENTS: &str = "/v1/events";
/// `GET`: server-sent events, each a [`Wake`] named [`WAKE_EVENT`].
pub const EVENTS_STREAM: &str = "/v1/events/stream";
/// `POST` an [`UploadBatch`]: an [`UploadResult`].
pub const TRANSACTIONS: &str = "/v1/transactions";
/// `GET`, with [`SummaryQuery`]: a [`CompanySummary`].
pub const SUMMARY: &str = "/v1/summary";
/// `GET`: `{"status": "ok"}`.
pub const HEALTHZ: &str = "/healthz";
/// `GET`: 200 `{"status": "ready"}` when this instance can take callbacks (its database answers
/// and its writer keeps up), else 503 `{"status": "not_ready", "reason": …}`. For load
/// balancers, the service manager and `malipo-relay check`.
pub const READYZ: &str = "/readyz";
/// `POST` a [`DeviceCheck`]: a [`DeviceCheckAnswer`]. Reads only; changes nothing.
pub const DEVICE_CHECK: &str = "/v1/device/check";
/// `GET`, with [`FeedQuery`]: a [`RegisterPage`]; `POST` a [`RegisterUpload`]: a
/// [`RegisterReport`].
pub const POLICIES: &str = "/v1/policies";
/// `GET`, with [`FeedQuery`]: a [`PaymentPage`].
pub const PAYMENTS: &str = "/v1/payments";
/// The most policies or payments one page carries, whatever `limit` asks for.
pub const MAX_FEED_PAGE: u32 = 1000;
/// `GET /updates/NAME`: a file from the relay's updates folder (`MALIPO_RELAY_UPDATES_DIR`),
/// the update manifest `latest.json` and the packages and signatures it names. Public: every
/// package is signed, and the offices verify the signature before installing.
pub const UPDATES_PATH: &str = "/updates";
/// The update manifest's name in the updates folder.
pub const UPDATE_MANIFEST: &str = "latest.json";
/// The prefix of receipt verification links: `/v/KEY/RECEIPT/AMOUNTCUR/YYYYMMDD/SIG`.
pub const VERIFY_PATH: &str = "/v";

/// The most events one page carries, whatever `limit` asks for.
pub const MAX_PAGE_EVENTS: u32 = 5000;
/// A page stops before its body passes this many bytes (at least one event is always sent).
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;

/// Why a request was refused: a stable code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub error: ProblemCode,
    pub message: String,
    /// With [`ProblemCode::CursorOutOfRange`]: the tenant's last sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<i64>,
}

/// Every [`Problem::error`] the relay answers with. A code this build does not know (a newer
/// relay's) reads as [`ProblemCode::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// A field is missing, too long or not what it should be.
    Invalid,
    /// The body is not the JSON the provider sends.
    Malformed,
    /// No such thing here (a tenant, a token, a file).
    NotFound,
    /// No device token, or one the relay does not know.
    Unauthenticated,
    /// A callback from an address outside the provider's allow-list.
    SourceNotAllowed,
    /// Too many requests from one address.
    RateLimited,
    /// The body is over the limit (64 KiB).
    TooLarge,
    /// The request was not read and answered in time.
    RequestTimeout,
    /// The device already holds as many event streams as it may.
    TooManyStreams,
    /// The relay is shutting down.
    Closing,
    /// The relay's database failed; try again.
    Unavailable,
    /// A callback URL whose secret token is no tenant's.
    UnknownUrl,
    /// The company's Paystack secret is not set (or not sealed) at the relay.
    NoSecret,
    /// The relay cannot open the sealed Paystack secret.
    Sealing,
    /// A webhook whose signature does not hold.
    BadSignature,
    /// A suspense payment decided already, by another device.
    AlreadyDecided,
    /// The relay publishes no updates.
    NoUpdates,
    /// A cursor past the tenant's last event: the device is talking to another relay, or one restored from an older backup (`last_seq` says where the tenant is).
    CursorOutOfRange,
    /// A code this build does not know.
    #[serde(other)]
    Other,
}

impl ProblemCode {
    /// The code on the wire (and in the relay's metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::Invalid => "invalid",
            ProblemCode::Malformed => "malformed",
            ProblemCode::NotFound => "not_found",
            ProblemCode::Unauthenticated => "unauthenticated",
            ProblemCode::SourceNotAllowed => "source_not_allowed",
            ProblemCode::RateLimited => "rate_limited",
            ProblemCode::TooLarge => "too_large",
            ProblemCode::RequestTimeout => "request_timeout",
            ProblemCode::TooManyStreams => "too_many_streams",
            ProblemCode::Closing => "closing",
            ProblemCode::Unavailable => "unavailable",
            ProblemCode::UnknownUrl => "unknown_url",
            ProblemCode::NoSecret => "no_secret",
            ProblemCode::Sealing => "sealing",
            ProblemCode::BadSignature => "bad_signature",
            ProblemCode::AlreadyDecided => "already_decided",
            ProblemCode::NoUpdates => "no_updates",
            ProblemCode::CursorOutOfRange => "cursor_out_of_range",
            ProblemCode::Other => "other",
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an office asks the relay about its own set-up (`malipo doctor`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCheck {
    /// The STK callback URL the office gives Safaricom: does it reach this company here?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daraja_callback_url: Option<String>,
    /// 16 to 128 hex digits: the relay answers with HMAC-SHA512 of them under the company's
    /// Paystack secret, so the office learns whether both hold the same secret without either
    /// sending it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paystack_challenge: Option<String>,
}

/// Whether a callback URL's token is this company's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenMatch {
    /// The company's current token.
    Current,
    /// The token before the last rotation, still accepted for a while.
    Previous,
    /// Not this company's (another company's, mistyped, or rotated away).
    Unknown,
    /// Not a Daraja callback URL of this relay at all (the path is wrong).
    NotACallbackUrl,
}

/// The state of the company's Paystack secret at the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretState {
    Set,
    /// None was set: every webhook is refused.
    NotSet,
    /// One is set but the relay has no key to open it (`MALIPO_RELAY_SECRET_KEY`).
    Sealed,
}

/// The relay's answer to a [`DeviceCheck`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCheckAnswer {
    /// The company (tenant) and the device the token belongs to.
    pub company: String,
    pub device: String,
    /// The device's counter code, unique in the company (`None` for a device added before
    /// counters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    /// The address the relay was told providers reach it on (`MALIPO_RELAY_PUBLIC_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// For [`DeviceCheck::daraja_callback_url`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daraja_token: Option<TokenMatch>,
    /// Where Paystack must send this company's webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paystack_webhook_url: Option<String>,
    pub paystack_secret: SecretState,
    /// For [`DeviceCheck::paystack_challenge`] when the secret is set: lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paystack_proof: Option<String>,
    /// The company's last event sequence number.
    pub last_seq: i64,
}

/// What a device claims for the company: to record a paybill payment (`paybill:TRANSID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub subject: String,
}

/// Who holds a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimAnswer {
    /// This device holds it (now, or since an earlier claim).
    pub won: bool,
    /// The device holding it, and its counter.
    pub device: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
}

/// A paybill payment Safaricom confirmed whose account matched no policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspenseItem {
    pub trans_id: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The account the customer typed.
    pub account: String,
    /// The payer as Safaricom names them, and their masked number.
    pub payer: String,
    pub msisdn: String,
    /// RFC 3339.
    pub paid_at: String,
    /// `open`, `allocated` or `refund`.
    #[serde(default = "open")]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The device that decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
}

fn open() -> String {
    "open".into()
}

/// A manager's decision on a suspense item: a policy it pays, or a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspenseDecision {
    pub trans_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default)]
    pub refund: bool,
    pub note: String,
}

/// The query of [`EVENTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsQuery {
    /// The device's cursor: the highest sequence number it has recorded (0 at first).
    #[serde(default)]
    pub after: i64,
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    500
}

/// Events after a cursor, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// The cursor to ask from next: the last event's number, or the cursor asked from.
    pub next: i64,
}

/// One provider event as the relay stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The tenant's sequence number: increases by one per event, without gaps, in commit order.
    pub seq: i64,
    /// `daraja` or `paystack`.
    pub provider: String,
    /// `stk_callback`, `reversal_result`, `charge.success`, `refund.processed`, ...
    pub kind: String,
    pub dedup_key: String,
    /// When the relay received it, milliseconds since the epoch.
    pub received_at: i64,
    /// The provider's body, byte for byte as received (read as UTF-8).
    pub body: String,
    /// The office whose uploaded payment the event is about, when the relay knows it.
    #[serde(default)]
    pub office: Option<String>,
}

/// The `event:` name of the stream's messages.
pub const WAKE_EVENT: &str = "wake";

/// A message of the event stream: the tenant has events up to `last_seq`. Without a number
/// the relay lost count (the device pulls to be sure). Nothing is ever delivered only by the
/// stream: it only says when to pull.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wake {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<i64>,
}

impl Wake {
    /// Whether a device whose cursor is `cursor` should pull.
    pub fn announces_after(&self, cursor: i64) -> bool {
        self.last_seq.is_none_or(|last| last > cursor)
    }
}

/// What a device pushes to [`TRANSACTIONS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadBatch {
    pub transactions: Vec<UploadRecord>,
}

/// One payment as the relay needs it: to route callbacks to the office that took it and to sum
/// up the company's figures. Nothing about the customer (no name, phone or e-mail) leaves the
/// office this way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// The payment's reference, unique in the company (the Paystack reference).
    pub reference: String,
    /// The transaction number, `OFFICE-NNNNNN`: the office is read from it.
    pub number: String,
    /// How it was paid: `mpesa`, `card`, `paybill` or `cash`.
    pub method: String,
    pub status: String,
    pub amount_minor: i64,
    #[serde(default)]
    pub refunded_minor: i64,
    pub currency: String,
    /// The CheckoutRequestID or Paystack reference callbacks name.
    #[serde(default)]
    pub provider_ref: Option<String>,
    /// The policy the payment is for: other counters allocate it to that policy's instalments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The clerk who took it (a username), for the company's figures by clerk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clerk: Option<String>,
    /// The receipt number once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_number: Option<String>,
    /// The provider's receipt (the M-Pesa code), once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_receipt: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; a newer version replaces an older one, an older one changes nothing.
    pub updated_at: String,
}

/// What an upload did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResult {
    /// New or newer than what the relay had.
    pub stored: u64,
    /// Already known at this version or a newer one.
    pub unchanged: u64,
}

/// The query of [`SUMMARY`]: Nairobi days `from..=to` (`YYYY-MM-DD`, either open), in one
/// currency (KES when not given), of one branch when `office` names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
}

/// The query of [`POLICIES`] and [`PAYMENTS`]: what comes after the device's cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedQuery {
    #[serde(default)]
    pub after: i64,
    #[serde(default = "default_feed_limit")]
    pub limit: u32,
}

fn default_feed_limit() -> u32 {
    MAX_FEED_PAGE
}

/// A policy of the company register, as it travels. Holder, phone and e-mail are customer
/// data: the relay keeps them sealed at rest and never logs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRecord {
    pub number: String,
    pub holder: String,
    /// `2547XXXXXXXX`.
    pub phone: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Due per instalment.
    pub premium_minor: i64,
    pub currency: String,
    /// `monthly`, `quarterly` or `annually`.
    pub frequency: String,
    pub instalments: u32,
    /// The first due date, `YYYY-MM-DD`.
    pub start_date: String,
    /// `active`, `lapsed` or `cancelled`.
    pub status: String,
}

impl RegisterRecord {
    /// The record as the register's rules read it, the same at the relay and at every
    /// counter: a blank e-mail is none, a premium must be more than zero, the schedule must
    /// hold. The error says which field is wrong.
    pub fn to_policy(&self) -> Result<RegisterPolicy, String> {
        use malipo_domain::schedule::Frequency;
        use malipo_domain::{Currency, Email, HolderName, Money, Msisdn, PolicyNumber};
        let currency = Currency::from_code(&self.currency).map_err(|e| format!("currency: {e}"))?;
        let p = RegisterPolicy {
            number: PolicyNumber::parse(&self.number).map_err(|e| format!("policy number: {e}"))?,
            holder: HolderName::parse(&self.holder).map_err(|e| format!("holder: {e}"))?,
            phone: Msisdn::parse(&self.phone).map_err(|e| format!("phone: {e}"))?,
            email: self
                .email
                .as_deref()
                .filter(|e| !e.trim().is_empty())
                .map(Email::parse)
                .transpose()
                .map_err(|e| format!("email: {e}"))?,
            premium: Money::from_minor(self.premium_minor, currency)
                .ok()
                .filter(|m| m.minor() > 0)
                .ok_or("premium: it must be more than zero")?,
            frequency: self
                .frequency
                .parse::<Frequency>()
                .map_err(|e| format!("frequency: {e}"))?,
            instalments: self.instalments,
            start: time::Date::parse(
                &self.start_date,
                &time::format_description::well_known::Iso8601::DATE,
            )
            .map_err(|_| {
                format!(
                    "start date: {:?} is not a date like 2026-11-30",
                    self.start_date
                )
            })?,
            status: self.status.parse::<PolicyStatus>()?,
        };
        p.schedule().map_err(|e| format!("instalments: {e}"))?;
        Ok(p)
    }

    /// A policy as it travels.
    pub fn from_policy(p: &RegisterPolicy) -> RegisterRecord {
        RegisterRecord {
            number: p.number.to_string(),
            holder: p.holder.as_str().to_owned(),
            phone: p.phone.as_str().to_owned(),
            email: p.email.as_ref().map(|e| e.as_str().to_owned()),
            premium_minor: p.premium.minor(),
            currency: p.premium.currency().code().to_owned(),
            frequency: p.frequency.as_str().to_owned(),
            instalments: p.instalments,
            start_date: p.start.to_string(),
            status: p.status.as_str().to_owned(),
        }
    }
}

/// What a device pushes to [`POLICIES`]: policies added or imported at its counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterUpload {
    pub policies: Vec<RegisterRecord>,
    /// Check and report, write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The branch sending them (`NBI`): a policy new to the register belongs to it, and a
    /// paybill payment to its account is tagged with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
}

/// A policy the register refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRefusal {
    /// The CSV line, when the policies came from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub why: String,
}

/// What an import did (or, when refused or a dry run, would have done): one refused policy
/// refuses them all, so a file is taken whole or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: u64,
    pub refused: Vec<RegisterRefusal>,
    /// The register holds these policies now (false for a dry run, or when one was refused:
    /// then nothing was written).
    pub written: bool,
}

/// A policy of the register with its place in the register's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterEntry {
    pub seq: i64,
    #[serde(flatten)]
    pub policy: RegisterRecord,
}

/// Policies changed after the device's cursor, in the order they changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterPage {
    pub policies: Vec<RegisterEntry>,
    /// The cursor to ask with next (the last `seq`, or the one asked with).
    pub next: i64,
}

/// A payment of any counter of the company, as the others see it: no customer data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyPayment {
    /// Its place in the company's one order of payments (a newer version of a payment comes
    /// later, with a higher number).
    pub seq: i64,
    pub reference: String,
    pub number: String,
    /// The branch and counter that took it.
    pub office: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub method: String,
    pub status: String,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clerk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_receipt: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

/// Payments changed after the device's cursor, in the company's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentPage {
    pub payments: Vec<CompanyPayment>,
    pub next: i64,
}

/// A count and an amount (exact decimal string beside the minor units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "TotalsView"))]
pub struct Totals {
    pub count: i64,
    pub amount: String,
    pub amount_minor: i64,
}

/// [`Totals`] of one method, office, clerk, status...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyedTotals {
    pub key: String,
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub totals: Totals,
}

/// One method's, office's, clerk's or day's figures: the money **collected** (payments that
/// succeeded, those refunded since included) and what was **attempted** (every payment started,
/// whatever became of it). Collected figures add up to the collected total; attempted ones
/// never stand in for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyedFigures {
    pub key: String,
    pub collected: Totals,
    pub attempted: Totals,
}

/// The company's payments across every office, in one currency, as the relay sums up what the
/// offices uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "CompanyView"))]
pub struct CompanySummary {
    pub currency: String,
    pub all: Totals,
    pub succeeded: Totals,
    pub pending: Totals,
    pub failed: Totals,
    pub needs_review: Totals,
    pub by_method: Vec<KeyedFigures>,
    /// By branch (office code).
    pub by_office: Vec<KeyedFigures>,
    /// By counter (`NBI-2`; an office without counters under its code alone).
    #[serde(default)]
    pub by_counter: Vec<KeyedFigures>,
    /// By clerk (username; `-` when not known).
    #[serde(default)]
    pub by_clerk: Vec<KeyedFigures>,
    /// When the relay last received anything from a provider for the company (RFC 3339),
    /// whatever the dates asked: a company whose callbacks stopped arriving sees it here.
    #[serde(default)]
    pub last_received_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_codes_travel_as_their_words_and_a_newer_relays_reads_as_other() {
        for code in [
            ProblemCode::Invalid,
            ProblemCode::SourceNotAllowed,
            ProblemCode::AlreadyDecided,
            ProblemCode::CursorOutOfRange,
        ] {
            let wire = serde_json::to_string(&code).unwrap();
            assert_eq!(wire, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ProblemCode>(&wire).unwrap(), code);
        }
        let from_newer: Problem =
            serde_json::from_str(r#"{"error":"quota_exceeded","message":"slow down"}"#).unwrap();
        assert_eq!(from_newer.error, ProblemCode::Other);
        assert_eq!(from_newer.message, "slow down");
    }

    #[test]
    fn a_register_record_reads_the_same_at_both_ends_and_travels_back_unchanged() {
        let record = RegisterRecord {
            number: "POL-1001".into(),
            holder: "Amina Wanjiru".into(),
            phone: "254712345678".into(),
            email: Some("  ".into()),
            premium_minor: 150_000,
            currency: "KES".into(),
            frequency: "monthly".into(),
            instalments: 12,
            start_date: "2026-07-01".into(),
            status: "active".into(),
        };
        let policy = record.to_policy().unwrap();
        assert_eq!(policy.email, None, "a blank e-mail is none");
        let back = RegisterRecord::from_policy(&policy);
        assert_eq!(back.to_policy().unwrap(), policy);
        assert_eq!(back.email, None);
        let free = RegisterRecord {
            premium_minor: 0,
            ..record.clone()
        };
        assert_eq!(
            free.to_policy().unwrap_err(),
            "premium: it must be more than zero"
        );
        let us_date = RegisterRecord {
            start_date: "07/01/2026".into(),
            ..record
        };
        assert!(us_date.to_policy().unwrap_err().starts_with("start date"));
    }

    #[test]
    fn a_wake_without_a_number_always_pulls() {
        assert!(Wake { last_seq: Some(8) }.announces_after(7));
        assert!(!Wake { last_seq: Some(7) }.announces_after(7));
        assert!(Wake::default().announces_after(i64::MAX));
        let parsed: Wake = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, Wake::default());
    }

    #[test]
    fn totals_flatten_into_their_key() {
        let k = KeyedTotals {
            key: "mpesa".into(),
            totals: Totals {
                count: 2,
                amount: "3000.00".into(),
                amount_minor: 300_000,
            },
        };
        let v = serde_json::to_value(&k).unwrap();
        assert_eq!(v["key"], "mpesa");
        assert_eq!(v["amount_minor"], 300_000);
    }
}
