//! Safaricom Daraja: M-Pesa Express (STK push), its status query, STK callbacks and
//! reversals.
//!
//! [`DarajaClient`] caches its OAuth token and refreshes it before it expires. The refresh is
//! single-flight: callers queue on one lock, so a hundred concurrent pushes make one token
//! request. A `404.001.03` (invalid token) drops the cached token, fetches another once and
//! retries the request once. Every request has a timeout; everything a clerk typed is checked
//! before anything is sent.

pub mod c2b;
pub mod callback;
pub mod codes;
pub mod pull;
pub mod ratiba;
pub mod statement;
pub mod wire;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::sync::Mutex;

use malipo_domain::time_zone::NAIROBI;
use malipo_domain::{Currency, Money, Msisdn, Secret};

use crate::http::{self, REQUEST_TIMEOUT, Transport};
pub use callback::{CallbackError, StkCallback, StkOutcome};
pub use codes::{Failure, ResultCode};

/// The largest single M-Pesa Express payment, in shillings.
pub const MAX_AMOUNT: i64 = 250_000;

/// A paybill takes `CustomerPayBillOnline`; a till (Buy Goods) takes `CustomerBuyGoodsOnline`
/// with the till number as `PartyB` and the store number as `BusinessShortCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShortcodeKind {
    Paybill,
    Till { till: String },
}

/// The initiator that may reverse transactions, and Safaricom's certificate to encrypt its
/// password with.
#[derive(Debug, Clone)]
pub struct Initiator {
    pub name: String,
    pub password: Secret,
    /// The certificate file as downloaded: PEM, or the DER `.cer` the portal serves.
    pub certificate: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct DarajaConfig {
    /// `https://api.safaricom.co.ke`, `https://sandbox.safaricom.co.ke`, or a simulator.
    pub base_url: String,
    pub consumer_key: String,
    pub consumer_secret: Secret,
    pub shortcode: String,
    pub passkey: Secret,
    /// Where Safaricom posts STK callbacks and reversal results: the relay's Daraja URL. Its
    /// path carries the tenant's secret token, so it is kept (and debug-printed) as a secret.
    pub callback_url: Secret,
    pub kind: ShortcodeKind,
    pub initiator: Option<Initiator>,
    pub timeout: Duration,
}

impl DarajaConfig {
    pub fn new(
        base_url: &str,
        consumer_key: &str,
        consumer_secret: Secret,
        shortcode: &str,
        passkey: Secret,
        callback_url: &str,
    ) -> DarajaConfig {
        DarajaConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            consumer_key: consumer_key.to_owned(),
            consumer_secret,
            shortcode: shortcode.to_owned(),
            passkey,
            callback_url: Secret::new(callback_url),
            kind: ShortcodeKind::Paybill,
            initiator: None,
            timeout: REQUEST_TIMEOUT,
        }
    }
}

/// What went wrong talking to Daraja. Codes from its error table become variants callers
/// can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DarajaError {
    /// Refused before sending: the request would break Daraja's rules.
    #[error("{0}")]
    Invalid(String),
    /// `400.002.02` and other `400.*`: Daraja refused the request as malformed.
    #[error("M-Pesa refused the request ({code}: {message})")]
    BadRequest { code: String, message: String },
    /// `404.001.03` even after one refresh.
    #[error("M-Pesa did not accept the access token, even a fresh one")]
    InvalidToken,
    /// `500.001.1001`: the customer has not finished yet.
    #[error("M-Pesa is still processing the payment")]
    StillProcessing,
    /// `500.003.02`: too many requests; back off before asking again.
    #[error("M-Pesa is limiting requests (spike arrest); wait a little before trying again")]
    SpikeArrest,
    /// The consumer key and secret were refused.
    #[error(
        "M-Pesa refused this office's consumer key and secret ({0}); check the M-Pesa settings"
    )]
    Credentials(String),
    /// No access token could be had (M-Pesa down or unreachable); nothing else was sent.
    #[error("M-Pesa is not answering ({0}); nothing was sent, try again shortly")]
    AuthUnavailable(String),
    #[error("M-Pesa answered HTTP {status} ({})", coded(.code, .message))]
    Provider {
        status: u16,
        code: String,
        message: String,
    },
    #[error("could not reach M-Pesa: {0}")]
    Transport(#[from] Transport),
    #[error("M-Pesa sent something unexpected: {0}")]
    Unexpected(String),
}

impl DarajaError {
    /// Whether the request certainly did not reach the customer. Anything else (no answer, a
    /// server error) may have sent the prompt, so the payment must be treated as open.
    pub fn safe_to_retry(&self) -> bool {
        match self {
            DarajaError::Invalid(_)
            | DarajaError::BadRequest { .. }
            | DarajaError::SpikeArrest
            | DarajaError::InvalidToken
            | DarajaError::Credentials(_)
            | DarajaError::AuthUnavailable(_) => true,
            DarajaError::Provider { status, .. } => *status < 500,
            DarajaError::StillProcessing
            | DarajaError::Transport(_)
            | DarajaError::Unexpected(_) => false,
        }
    }
}

/// An STK push Daraja accepted: the prompt is on its way to the customer's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAccepted {
    pub merchant_request_id: String,
    pub checkout_request_id: String,
    pub customer_message: String,
}

/// What an STK Push Query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryResult {
    /// `500.001.1001`: the customer has not answered yet.
    Pending,
    /// `ResultCode` 0. The query does not say the amount or the receipt number.
    Paid,
    NotPaid(Failure),
}

/// A reversal Daraja accepted; its result arrives later at the result URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalAccepted {
    pub conversation_id: String,
    pub originator_conversation_id: String,
}

/// The result of a reversal, posted to the result URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalResult {
    pub conversation_id: String,
    pub originator_conversation_id: String,
    pub transaction_id: String,
    /// The M-Pesa receipt of the payment reversed (`OriginalTransactionID`), when given.
    pub original_transaction_id: Option<String>,
    /// The amount reversed, when given.
    pub amount: Option<Money>,
    pub succeeded: bool,
    pub code: String,
    pub description: String,
}

/// `base64(shortcode + passkey + timestamp)`, Daraja's STK password.
pub fn password(shortcode: &str, passkey: &Secret, timestamp: &str) -> String {
    BASE64.encode(format!("{shortcode}{}{timestamp}", passkey.expose()))
}

/// `YYYYMMDDHHmmss` in Nairobi time.
pub fn timestamp(at: OffsetDateTime) -> String {
    at.to_offset(NAIROBI)
        .format(format_description!(
            "[year][month][day][hour][minute][second]"
        ))
        .unwrap_or_default()
}

/// Encrypts the initiator password with the public key in Safaricom's certificate
/// (RSA PKCS#1 v1.5), base64-encoded: the `SecurityCredential` of a reversal.
pub fn security_credential(certificate: &[u8], password: &Secret) -> Result<String, DarajaError> {
    let bad = |e: String| DarajaError::Invalid(format!("the M-Pesa certificate {e}"));
    let (_, key) = read_certificate(certificate).map_err(bad)?;
    let sealed = key
        .encrypt(
            &mut rand_core::OsRng,
            rsa::Pkcs1v15Encrypt,
            password.expose().as_bytes(),
        )
        .map_err(|e| bad(format!("could not encrypt the password: {e}")))?;
    Ok(BASE64.encode(sealed))
}

/// A certificate file as Safaricom publishes it (PEM, or DER) and the RSA key it holds; the
/// error says what the file is instead, in words for the person who downloaded it.
fn read_certificate(file: &[u8]) -> Result<(x509_cert::Certificate, rsa::RsaPublicKey), String> {
    use rsa::pkcs8::DecodePublicKey;
    use x509_cert::der::{Decode, DecodePem, Encode};
    let head = String::from_utf8_lossy(&file[..file.len().min(512)]).to_ascii_lowercase();
    if head.contains("<html") || head.contains("<!doctype") {
        return Err(
            "is a web page, not a certificate (the download saved the portal's page)".into(),
        );
    }
    let cert = if head.contains("-----begin certificate-----") {
        x509_cert::Certificate::from_pem(file)
            .map_err(|e| format!("is not a readable certificate ({e})"))?
    } else {
        x509_cert::Certificate::from_der(file)
            .map_err(|_| "is neither a PEM nor a DER certificate".to_owned())?
    };
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| format!("has no readable key ({e})"))?;
    let key = rsa::RsaPublicKey::from_public_key_der(&spki)
        .map_err(|_| "holds no RSA key, so it cannot encrypt the initiator password".to_owned())?;
    Ok((cert, key))
}

/// What a certificate file says about itself, for the set-up check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// The subject's common name (`apicrypt.safaricom.co.ke` for Safaricom's).
    pub subject: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// Reads a certificate file as Safaricom publishes it (PEM, or the DER `.cer` the portal
/// serves) and checks it holds an RSA key a password can be encrypted with.
pub fn certificate_facts(file: &[u8]) -> Result<CertificateFacts, String> {
    let (cert, _) = read_certificate(file)?;
    let tbs = &cert.tbs_certificate;
    let subject = tbs
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == x509_cert::der::oid::db::rfc4519::CN)
        .and_then(|atv| {
            x509_cert::der::asn1::Utf8StringRef::try_from(&atv.value)
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    x509_cert::der::asn1::PrintableStringRef::try_from(&atv.value)
                        .map(|s| s.as_str().to_owned())
                })
                .ok()
        })
        .unwrap_or_default();
    let instant = |t: x509_cert::time::Time| {
        OffsetDateTime::from_unix_timestamp(t.to_unix_duration().as_secs() as i64)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    };
    Ok(CertificateFacts {
        subject,
        not_before: instant(tbs.validity.not_before),
        not_after: instant(tbs.validity.not_after),
    })
}

/// Parses the body Daraja posts to the result URL when a reversal finishes.
pub fn parse_reversal_result(body: &[u8]) -> Result<ReversalResult, CallbackError> {
    let env: wire::ReversalResultEnvelope =
        crate::strict_json(body).map_err(CallbackError::Shape)?;
    let r = env.result;
    let code = ResultCode::from_raw(r.result_code.get())
        .ok_or_else(|| CallbackError::ResultCode(r.result_code.get().to_owned()))?;
    let parameter = |key: &str| {
        r.result_parameters.as_ref().and_then(|p| {
            p.items
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| match kv.value.as_ref()? {
                    serde_json::Value::String(s) => Some(s.trim().to_owned()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .filter(|v| !v.is_empty())
        })
    };
    let original_transaction_id = parameter("OriginalTransactionID");
    let amount = parameter("Amount").and_then(|a| Money::parse(&a, Currency::Kes).ok());
    Ok(ReversalResult {
        original_transaction_id,
        amount,
        conversation_id: r.conversation_id,
        originator_conversation_id: r.originator_conversation_id,
        transaction_id: r.transaction_id,
        succeeded: code.is_success(),
        code: code.as_str().to_owned(),
        description: r.result_desc,
    })
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), DarajaError> {
    let len = value.chars().count();
    if value.trim().is_empty() {
        return Err(DarajaError::Invalid(format!("{field} is empty")));
    }
    if len > max {
        return Err(DarajaError::Invalid(format!(
            "{field} is {len} characters; M-Pesa takes at most {max}"
        )));
    }
    if !value.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(DarajaError::Invalid(format!(
            "{field} may hold only plain letters, digits and punctuation"
        )));
    }
    Ok(())
}

/// A value Daraja sends as a string or as a bare number (`"10.00"` or `10`, a phone number
/// either way), as text: a string with its escapes read (`"25470\\/…"` is `25470/…`, as any
/// JSON reader sees it), a whole number as its digits, a fraction as JSON readers write it back.
/// `None` for a number no reader agrees on: a whole number beyond 64 bits, or one only an
/// exponent can write (no amount, receipt or phone is either).
pub(crate) fn scalar_text(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let t = raw.trim();
    if t.starts_with('"') {
        return serde_json::from_str::<String>(t).ok().map(Cow::Owned);
    }
    let n: serde_json::Number = serde_json::from_str(t).ok()?;
    let text = match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => u.to_string(),
        (None, Some(i)) => i.to_string(),
        (None, None) if t.contains(['.']) && !t.contains(['e', 'E']) => n.to_string(),
        (None, None) => return None,
    };
    (!text.contains(['e', 'E'])).then_some(Cow::Owned(text))
}

/// An amount M-Pesa can move: whole shillings, KES 1 to 250,000 a payment. Made once where the
/// amount is typed or decided ([`MpesaAmount::parse`], [`MpesaAmount::new`]) and carried to
/// the wire as it is, so M-Pesa's limits are checked in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MpesaAmount {
    money: Money,
    shillings: i64,
}

impl MpesaAmount {
    /// `amount` if M-Pesa can move it, or why not.
    pub fn new(amount: Money) -> Result<MpesaAmount, DarajaError> {
        if amount.currency() != Currency::Kes {
            return Err(DarajaError::Invalid(format!(
                "M-Pesa takes shillings, not {}",
                amount.currency()
            )));
        }
        let shillings = amount.whole_units().map_err(|_| {
            DarajaError::Invalid("M-Pesa takes whole shillings; remove the cents".into())
        })?;
        if !(1..=MAX_AMOUNT).contains(&shillings) {
            return Err(DarajaError::Invalid(format!(
                "M-Pesa takes KES 1 to KES 250,000 per payment; {amount} is out of range"
            )));
        }
        Ok(MpesaAmount {
            money: amount,
            shillings,
        })
    }

    /// What a clerk typed (`1,500`, `KES 1500`), read as shillings; the reason as a sentence
    /// when M-Pesa could not move it.
    pub fn parse(text: &str) -> Result<MpesaAmount, String> {
        let money = Money::parse(text, Currency::Kes).map_err(|e| e.to_string())?;
        MpesaAmount::new(money).map_err(|e| e.to_string())
    }

    pub fn money(self) -> Money {
        self.money
    }

    /// Whole shillings, as Daraja's `Amount` fields carry them.
    pub fn shillings(self) -> i64 {
        self.shillings
    }
}

impl TryFrom<Money> for MpesaAmount {
    type Error = DarajaError;
    fn try_from(amount: Money) -> Result<MpesaAmount, DarajaError> {
        MpesaAmount::new(amount)
    }
}

impl std::fmt::Display for MpesaAmount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.money.fmt(f)
    }
}

struct Token {
    value: Secret,
    refresh_at: Instant,
}

/// A Daraja client for one shortcode. Cheap to share behind an `Arc`.
pub struct DarajaClient {
    config: DarajaConfig,
    http: http::Http,
    token: Mutex<Option<Token>>,
}

impl std::fmt::Debug for DarajaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DarajaClient")
            .field("base_url", &self.config.base_url)
            .field("shortcode", &self.config.shortcode)
            .finish_non_exhaustive()
    }
}

fn parse_expiry(raw: &str) -> Result<u64, DarajaError> {
    let text = raw.trim().trim_matches('"');
    text.parse::<u64>().map_err(|_| {
        DarajaError::Unexpected(format!("expires_in {raw} is not a number of seconds"))
    })
}

impl DarajaClient {
    pub fn new(config: DarajaConfig) -> DarajaClient {
        let http = http::Http::new(config.timeout);
        DarajaClient {
            config,
            http,
            token: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &DarajaConfig {
        &self.config
    }

    /// A valid access token, fetched at most once at a time.
    async fn token(&self) -> Result<Secret, DarajaError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(t.value.clone());
        }
        let url = format!(
            "{}/oauth/v1/generate?grant_type=client_credentials",
            self.config.base_url
        );
        let resp = self
            .http
            .client()
            .map_err(|e| DarajaError::AuthUnavailable(e.0))?
            .get(url)
            .basic_auth(
                &self.config.consumer_key,
                Some(self.config.consumer_secret.expose()),
            )
            .send()
            .await
            .map_err(|e| DarajaError::AuthUnavailable(http::transport("token request", &e).0))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| DarajaError::AuthUnavailable(http::transport("token response", &e).0))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<wire::ErrorBody>(&body) {
                Ok(e) if e.error_code == "500.003.02" => DarajaError::SpikeArrest,
                Ok(e) if status.is_client_error() => {
                    DarajaError::Credentials(format!("{} {}", e.error_code, e.error_message))
                }
                Ok(e) => DarajaError::AuthUnavailable(format!(
                    "HTTP {}: {} {}",
                    status.as_u16(),
                    e.error_code,
                    e.error_message
                )),
                Err(_) if status.is_client_error() => {
                    DarajaError::Credentials(format!("HTTP {}", status.as_u16()))
                }
                Err(_) => DarajaError::AuthUnavailable(format!("HTTP {}", status.as_u16())),
            });
        }
        let token: wire::TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| DarajaError::AuthUnavailable(format!("unreadable token response: {e}")))?;
        let lifetime = parse_expiry(token.expires_in.get())?;
        // Refresh a minute early, or a tenth early for short-lived tokens.
        let early = (lifetime / 10).min(60);
        let value = Secret::new(token.access_token);
        *cached = Some(Token {
            value: value.clone(),
            refresh_at: Instant::now() + Duration::from_secs(lifetime.saturating_sub(early)),
        });
        Ok(value)
    }

    /// Asks Daraja for an access token with this office's consumer key and secret: proves the
    /// credentials without sending anything else (the set-up check).
    pub async fn check_credentials(&self) -> Result<(), DarajaError> {
        self.token().await.map(|_| ())
    }

    async fn forget_token(&self, stale: &Secret) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| &t.value == stale) {
            *cached = None;
        }
    }

    async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp, DarajaError> {
        let url = format!("{}{path}", self.config.base_url);
        let mut refreshed = false;
        loop {
            let token = self.token().await?;
            let resp = self
                .http
                .client()?
                .post(&url)
                .bearer_auth(token.expose())
                .json(body)
                .send()
                .await
                .map_err(|e| http::transport(path, &e))?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| http::transport(path, &e))?;
            if status.is_success() {
                return serde_json::from_slice(&bytes)
                    .map_err(|e| DarajaError::Unexpected(format!("{path}: {e}")));
            }
            let Ok(err) = serde_json::from_slice::<wire::ErrorBody>(&bytes) else {
                return Err(DarajaError::Provider {
                    status: status.as_u16(),
                    code: String::new(),
                    message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                });
            };
            match err.error_code.as_str() {
                "404.001.03" if !refreshed => {
                    refreshed = true;
                    self.forget_token(&token).await;
                }
                "404.001.03" => return Err(DarajaError::InvalidToken),
                "500.001.1001" => return Err(DarajaError::StillProcessing),
                "500.003.02" => return Err(DarajaError::SpikeArrest),
                code if code.starts_with("400.") => {
                    return Err(DarajaError::BadRequest {
                        code: err.error_code,
                        message: err.error_message,
                    });
                }
                _ => {
                    return Err(DarajaError::Provider {
                        status: status.as_u16(),
                        code: err.error_code,
                        message: err.error_message,
                    });
                }
            }
        }
    }

    /// Builds the STK push request for `now`; public so tests can compare it with the
    /// published sample field by field.
    pub fn stk_push_request(
        &self,
        amount: MpesaAmount,
        phone: &Msisdn,
        account_reference: &str,
        description: &str,
        now: OffsetDateTime,
    ) -> Result<wire::StkPushRequest, DarajaError> {
        check_text("AccountReference", account_reference, 12)?;
        check_text("TransactionDesc", description, 13)?;
        let business_short_code: u64 = self.config.shortcode.parse().map_err(|_| {
            DarajaError::Invalid(format!(
                "shortcode {:?} is not a number",
                self.config.shortcode
            ))
        })?;
        let ts = timestamp(now);
        let (transaction_type, party_b) = match &self.config.kind {
            ShortcodeKind::Paybill => ("CustomerPayBillOnline", self.config.shortcode.clone()),
            ShortcodeKind::Till { till } => ("CustomerBuyGoodsOnline", till.clone()),
        };
        Ok(wire::StkPushRequest {
            business_short_code,
            password: password(&self.config.shortcode, &self.config.passkey, &ts),
            timestamp: ts,
            transaction_type: transaction_type.to_owned(),
            amount: amount.shillings().to_string(),
            party_a: phone.as_str().to_owned(),
            party_b,
            phone_number: phone.as_str().to_owned(),
            call_back_url: self.config.callback_url.expose().to_owned(),
            account_reference: account_reference.to_owned(),
            transaction_desc: description.to_owned(),
        })
    }

    /// Sends the M-Pesa prompt to the customer's phone.
    pub async fn stk_push(
        &self,
        amount: MpesaAmount,
        phone: &Msisdn,
        account_reference: &str,
        description: &str,
    ) -> Result<PushAccepted, DarajaError> {
        let request = self.stk_push_request(
            amount,
            phone,
            account_reference,
            description,
            OffsetDateTime::now_utc(),
        )?;
        let r: wire::StkPushResponse = self
            .post("/mpesa/stkpush/v1/processrequest", &request)
            .await?;
        if r.response_code.trim() != "0" {
            return Err(DarajaError::Provider {
                status: 200,
                code: r.response_code,
                message: r.response_description,
            });
        }
        Ok(PushAccepted {
            merchant_request_id: r.merchant_request_id,
            checkout_request_id: r.checkout_request_id,
            customer_message: r.customer_message,
        })
    }

    /// Builds the STK Push Query request for `now`; public so tests can compare it with the
    /// published sample.
    pub fn stk_query_request(
        &self,
        checkout_request_id: &str,
        now: OffsetDateTime,
    ) -> wire::StkQueryRequest {
        let ts = timestamp(now);
        wire::StkQueryRequest {
            business_short_code: self.config.shortcode.clone(),
            password: password(&self.config.shortcode, &self.config.passkey, &ts),
            timestamp: ts,
            checkout_request_id: checkout_request_id.to_owned(),
        }
    }

    /// Asks where an STK push stands.
    pub async fn stk_query(&self, checkout_request_id: &str) -> Result<QueryResult, DarajaError> {
        let request = self.stk_query_request(checkout_request_id, OffsetDateTime::now_utc());
        let r: wire::StkQueryResponse =
            match self.post("/mpesa/stkpushquery/v1/query", &request).await {
                Ok(r) => r,
                Err(DarajaError::StillProcessing) => return Ok(QueryResult::Pending),
                Err(e) => return Err(e),
            };
        let code = ResultCode::from_raw(r.result_code.get()).ok_or_else(|| {
            DarajaError::Unexpected(format!("ResultCode {}", r.result_code.get()))
        })?;
        Ok(if code.is_success() {
            QueryResult::Paid
        } else {
            QueryResult::NotPaid(codes::failure(&code, &r.result_desc))
        })
    }

    /// Asks M-Pesa to reverse `amount` of the payment with receipt `mpesa_receipt`. The result
    /// arrives later at the callback URL ([`parse_reversal_result`]).
    pub async fn reverse(
        &self,
        mpesa_receipt: &str,
        amount: MpesaAmount,
        remarks: &str,
    ) -> Result<ReversalAccepted, DarajaError> {
        let initiator = self
            .config
            .initiator
            .as_ref()
            .ok_or_else(|| DarajaError::Invalid("reversals need an initiator name, password and Safaricom certificate in the M-Pesa settings".into()))?;
        check_text("TransactionID", mpesa_receipt, 20)?;
        let request = wire::ReversalRequest {
            initiator: initiator.name.clone(),
            security_credential: security_credential(&initiator.certificate, &initiator.password)?,
            command_id: "TransactionReversal".into(),
            transaction_id: mpesa_receipt.to_owned(),
            amount: amount.shillings().to_string(),
            receiver_party: self.config.shortcode.clone(),
            reciever_identifier_type: "11".into(),
            result_url: self.config.callback_url.expose().to_owned(),
            queue_time_out_url: self.config.callback_url.expose().to_owned(),
            remarks: remarks.chars().take(100).collect(),
            occasion: String::new(),
        };
        let r: wire::ReversalResponse = self.post("/mpesa/reversal/v1/request", &request).await?;
        if r.response_code.trim() != "0" {
            return Err(DarajaError::Provider {
                status: 200,
                code: r.response_code,
                message: r.response_description,
            });
        }
        Ok(ReversalAccepted {
            conversation_id: r.conversation_id,
            originator_conversation_id: r.originator_conversation_id,
        })
    }
}

/// Which RegisterURL product a shortcode's Daraja app is on: `v2` (the current one) or `v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterVersion {
    V1,
    V2,
}

impl RegisterVersion {
    fn path(self) -> &'static str {
        match self {
            RegisterVersion::V1 => "/mpesa/c2b/v1/registerurl",
            RegisterVersion::V2 => "/mpesa/c2b/v2/registerurl",
        }
    }
}

/// `code: message`, or the message alone when Daraja sent no code.
fn coded(code: &str, message: &str) -> String {
    if code.is_empty() {
        message.to_owned()
    } else {
        format!("{code}: {message}")
    }
}

/// Judges a RegisterURL answer that came with HTTP 200: by `ResponseCode` when there is one
/// (`0` registered), else by the description, because the classic success answer and some
/// "already registered" answers carry no code at all.
fn register_answer(r: wire::RegisterUrlResponse) -> Result<String, DarajaError> {
    let description = r.response_description.trim().to_owned();
    let registered = match r.response_code.as_deref().map(str::trim) {
        Some(code) if !code.is_empty() => code == "0",
        _ => {
            let words = description.to_ascii_lowercase();
            words.starts_with("success") && !words.contains("already")
        }
    };
    if registered {
        return Ok(description);
    }
    Err(DarajaError::Provider {
        status: 200,
        code: r.response_code.unwrap_or_default().trim().to_owned(),
        message: if description.is_empty() {
            "no description".into()
        } else {
            description
        },
    })
}

/// What Safaricom does with a payment when the validation URL does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    Completed,
    Cancelled,
}

impl ResponseType {
    /// Sentence case, as Safaricom requires.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Completed => "Completed",
            ResponseType::Cancelled => "Cancelled",
        }
    }
}

/// A Transaction Status query Daraja accepted; its answer arrives at the result URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusAccepted {
    pub conversation_id: String,
    pub originator_conversation_id: String,
}

impl DarajaClient {
    /// Registers the C2B confirmation and validation URLs for this office's shortcode.
    pub async fn register_urls(
        &self,
        version: RegisterVersion,
        response_type: ResponseType,
        confirmation_url: &str,
        validation_url: &str,
    ) -> Result<String, DarajaError> {
        let request = wire::RegisterUrlRequest {
            short_code: self.config.shortcode.clone(),
            response_type: response_type.as_str().to_owned(),
            confirmation_url: confirmation_url.to_owned(),
            validation_url: validation_url.to_owned(),
        };
        let r: wire::RegisterUrlResponse = self.post(version.path(), &request).await?;
        register_answer(r)
    }

    /// The Transaction Status query request for `receipt`, answered at the callback URL.
    pub fn status_request(&self, receipt: &str) -> Result<wire::StatusRequest, DarajaError> {
        let initiator = self.config.initiator.as_ref().ok_or_else(|| {
            DarajaError::Invalid("Transaction Status needs an initiator name, password and Safaricom certificate in the M-Pesa settings".into())
        })?;
        let receipt = receipt.trim().to_ascii_uppercase();
        if !c2b::is_receipt_number(&receipt) {
            return Err(DarajaError::Invalid(format!(
                "{:?} is not an M-Pesa code: those are 10 letters and digits, like RKTQDM7W6S",
                receipt.chars().take(24).collect::<String>()
            )));
        }
        Ok(wire::StatusRequest {
            initiator: initiator.name.clone(),
            security_credential: security_credential(&initiator.certificate, &initiator.password)?,
            command_id: "TransactionStatusQuery".into(),
            transaction_id: receipt,
            party_a: self.config.shortcode.clone(),
            identifier_type: "4".into(),
            result_url: self.config.callback_url.expose().to_owned(),
            queue_time_out_url: self.config.callback_url.expose().to_owned(),
            remarks: "Payment check".into(),
            occasion: String::new(),
        })
    }

    /// Asks Safaricom about an M-Pesa receipt number; the answer arrives later at the result
    /// URL (the relay), as a [`c2b::StatusResult`].
    pub async fn transaction_status(&self, receipt: &str) -> Result<StatusAccepted, DarajaError> {
        let request = self.status_request(receipt)?;
        let r: wire::StatusResponse = self
            .post("/mpesa/transactionstatus/v1/query", &request)
            .await?;
        if r.response_code.trim() != "0" {
            return Err(DarajaError::Provider {
                status: 200,
                code: r.response_code,
                message: r.response_description,
            });
        }
        Ok(StatusAccepted {
            conversation_id: r.conversation_id,
            originator_conversation_id: r.originator_conversation_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_matches_safaricoms_published_sample() {
        let passkey =
            Secret::new("bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919");
        assert_eq!(
            password("174379", &passkey, "20210628092408"),
            "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjEwNjI4MDkyNDA4"
        );
    }

    #[test]
    fn timestamps_are_nairobi_time() {
        let at = time::macros::datetime!(2021-06-28 06:24:08 UTC);
        assert_eq!(timestamp(at), "20210628092408");
    }

    #[test]
    fn amounts_are_whole_shillings_within_limits() {
        let kes = |m| Money::from_minor(m, Currency::Kes).unwrap();
        let check_amount = |m| MpesaAmount::new(m).map(MpesaAmount::shillings);
        assert_eq!(check_amount(kes(150_000)), Ok(1500));
        assert!(
            check_amount(kes(150_050))
                .unwrap_err()
                .to_string()
                .contains("whole shillings")
        );
        assert!(
            check_amount(kes(25_000_100))
                .unwrap_err()
                .to_string()
                .contains("250,000")
        );
        assert!(check_amount(Money::from_minor(100, Currency::Ngn).unwrap()).is_err());
        assert_eq!(check_amount(kes(25_000_000)), Ok(250_000));
        assert_eq!(
            MpesaAmount::parse("1,500").map(MpesaAmount::shillings),
            Ok(1500)
        );
        assert!(
            MpesaAmount::parse("1500.50")
                .unwrap_err()
                .contains("whole shillings")
        );
        assert!(
            MpesaAmount::parse("250001")
                .unwrap_err()
                .contains("KES 1 to")
        );
        assert!(MpesaAmount::parse("0").is_err());
    }

    #[test]
    fn a_reversal_result_names_the_payment_reversed_and_the_amount() {
        // The shape of Daraja's published reversal result.
        let body = br#"{"Result":{"ResultType":0,"ResultCode":0,"ResultDesc":"The service request is processed successfully.","OriginatorConversationID":"8521-4298025-1","ConversationID":"AG_20181005_00004d7ee675c0c7ee0b","TransactionID":"MJ561H6X5O","ResultParameters":{"ResultParameter":[{"Key":"DebitAccountBalance","Value":"Utility Account|KES|51661.00|51661.00|0.00|0.00"},{"Key":"Amount","Value":10},{"Key":"TransCompletedTime","Value":20181005153225},{"Key":"OriginalTransactionID","Value":"MIM1H6X5O9"},{"Key":"Charge","Value":0}]},"ReferenceData":{"ReferenceItem":{"Key":"QueueTimeoutURL","Value":"https://internalsandbox.safaricom.co.ke/mpesa/reversalresults/v1/submit"}}}}"#;
        let r = parse_reversal_result(body).unwrap();
        assert!(r.succeeded);
        assert_eq!(r.original_transaction_id.as_deref(), Some("MIM1H6X5O9"));
        assert_eq!(
            r.amount,
            Some(Money::from_minor(1_000, Currency::Kes).unwrap())
        );
        // One parameter comes as an object, not a list; none at all is fine too.
        let one = br#"{"Result":{"ResultCode":0,"ResultDesc":"ok","OriginatorConversationID":"o","ConversationID":"c","TransactionID":"t","ResultParameters":{"ResultParameter":{"Key":"OriginalTransactionID","Value":"NLJ7RT61SV"}}}}"#;
        assert_eq!(
            parse_reversal_result(one)
                .unwrap()
                .original_transaction_id
                .as_deref(),
            Some("NLJ7RT61SV")
        );
        let bare = br#"{"Result":{"ResultCode":"R000001","ResultDesc":"not reversible","OriginatorConversationID":"o","ConversationID":"c","TransactionID":"t"}}"#;
        let r = parse_reversal_result(bare).unwrap();
        assert!(!r.succeeded);
        assert_eq!(r.original_transaction_id, None);
    }

    #[test]
    fn expiry_may_be_a_number_or_a_string() {
        assert_eq!(parse_expiry("3599"), Ok(3599));
        assert_eq!(parse_expiry("\"3599\""), Ok(3599));
        assert!(parse_expiry("\"soon\"").is_err());
    }
}
