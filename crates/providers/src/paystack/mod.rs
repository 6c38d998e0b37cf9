//! Paystack: card payments through hosted checkout, charging saved cards, refunds, the
//! transaction list, and signed webhooks.
//!
//! Amounts go to Paystack in subunits (cents, kobo, pesewas), which is exactly
//! [`Money::minor`]. A webhook is only a hint: the payment is believed after
//! [`PaystackClient::verify`] says so with the amount and currency that were asked.

pub mod webhook;
pub mod wire;

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use malipo_domain::{Currency, Email, FailureKind, Money, Secret};

use crate::http::{self, REQUEST_TIMEOUT, Transport};
pub use webhook::{
    RefundEvent, Unpriced, WebhookError, WebhookEvent, parse_event, signature, verify_signature,
};

#[derive(Debug, Clone)]
pub struct PaystackConfig {
    /// `https://api.paystack.co`, or a simulator.
    pub base_url: String,
    pub secret_key: Secret,
    /// Where the customer's browser goes after checkout.
    pub callback_url: Option<String>,
    pub timeout: Duration,
}

impl PaystackConfig {
    pub fn new(base_url: &str, secret_key: Secret) -> PaystackConfig {
        PaystackConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret_key,
            callback_url: None,
            timeout: REQUEST_TIMEOUT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaystackError {
    #[error("{0}")]
    Invalid(String),
    /// 401: the secret key was refused.
    #[error("Paystack refused this office's secret key ({0}); check the Paystack settings")]
    Unauthorized(String),
    #[error("Paystack does not know it: {0}")]
    NotFound(String),
    /// 400/422: Paystack refused the request; the message says why.
    #[error("Paystack refused the request: {0}")]
    Rejected(String),
    #[error("Paystack answered HTTP {status}: {message}")]
    Provider { status: u16, message: String },
    #[error("could not reach Paystack: {0}")]
    Transport(#[from] Transport),
    #[error("Paystack sent something unexpected: {0}")]
    Unexpected(String),
}

/// An amount Paystack may charge to M-Pesa: shillings, more than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MpesaCharge(Money);

impl MpesaCharge {
    pub fn new(amount: Money) -> Result<MpesaCharge, PaystackError> {
        if amount.currency() != malipo_domain::Currency::Kes || amount.is_zero() {
            return Err(PaystackError::Invalid(format!(
                "M-Pesa through Paystack takes Kenya shillings, not {amount}"
            )));
        }
        Ok(MpesaCharge(amount))
    }
}

/// What Paystack said when asked to charge an M-Pesa number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobileMoneyAnswer {
    /// `pay_offline` (the prompt is on the phone), `pending`, `success`…
    pub status: String,
    pub display_text: Option<String>,
}

/// A checkout Paystack opened: send the customer to `authorization_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub authorization_url: String,
    pub access_code: String,
    pub reference: String,
}

/// A card Paystack may charge again, as it describes it. Card numbers never reach Malipo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardAuthorization {
    pub authorization_code: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: String,
    pub exp_year: String,
    pub bank: Option<String>,
    pub reusable: bool,
    /// The same card keeps the same signature across authorizations.
    pub signature: Option<String>,
}

/// Where a Paystack transaction stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardStatus {
    Paid,
    NotPaid {
        kind: FailureKind,
        message: String,
    },
    /// `abandoned`, `ongoing`, `pending`, `processing`, `queued`: not final yet.
    Open(String),
}

/// A transaction as Paystack reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardTransaction {
    pub id: u64,
    pub reference: String,
    pub status: CardStatus,
    pub amount: Money,
    pub paid_at: Option<String>,
    /// How the customer paid: `card`, `bank`, `ussd`, `qr`, `mobile_money`, `bank_transfer`, …
    pub channel: Option<String>,
    pub customer_email: Option<String>,
    /// The card that paid, only when a card paid: a bank, USSD, QR or mobile-money
    /// authorization is not a card and is never kept as one.
    pub card: Option<CardAuthorization>,
    /// What paid when it was not a card, as Paystack names it ("MTN Mobile Money", a bank).
    pub instrument: Option<String>,
    pub gateway_response: Option<String>,
}

/// A refund as Paystack reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRefund {
    pub id: u64,
    pub amount: Money,
    /// `pending`, `processing`, `processed`, `failed`, `needs-attention`.
    pub status: String,
    pub transaction_reference: Option<String>,
}

/// Filters for the transaction list (dates are `YYYY-MM-DD`).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub status: Option<String>,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<CardTransaction>,
    pub total: Option<u64>,
    pub page_count: Option<u64>,
}

fn currency(code: &str) -> Result<Currency, PaystackError> {
    Currency::from_code(code).map_err(|e| PaystackError::Unexpected(e.to_string()))
}

pub(crate) fn card_status(status: &str, gateway_response: Option<&str>) -> CardStatus {
    match status {
        "success" => CardStatus::Paid,
        "failed" => CardStatus::NotPaid {
            kind: FailureKind::Failed,
            message: format!(
                "The card was declined ({}). Ask the customer to try another card or pay by M-Pesa.",
                gateway_response.unwrap_or("no reason given")
            ),
        },
        "reversed" => CardStatus::NotPaid {
            kind: FailureKind::Failed,
            message: "The card payment was reversed by the bank. Take the payment again.".into(),
        },
        other => CardStatus::Open(other.to_owned()),
    }
}

pub(crate) fn card_transaction(t: wire::Transaction) -> Result<CardTransaction, PaystackError> {
    let amount = Money::from_minor(t.amount, currency(&t.currency)?)
        .map_err(|e| PaystackError::Unexpected(format!("amount {}: {e}", t.amount)))?;
    // Paystack names the channel on the transaction and on its authorization; a card is a
    // card only when neither says otherwise.
    let channel = t
        .channel
        .clone()
        .or_else(|| t.authorization.as_ref().and_then(|a| a.channel.clone()))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty());
    let by_card = channel.as_deref().is_none_or(|c| c == "card")
        && t.authorization
            .as_ref()
            .and_then(|a| a.channel.as_deref())
            .is_none_or(|c| c.eq_ignore_ascii_case("card"));
    let instrument = match &t.authorization {
        Some(a) if !by_card => a
            .bank
            .clone()
            .or_else(|| a.brand.clone())
            .map(|b| b.trim().chars().take(60).collect::<String>())
            .filter(|b| !b.is_empty()),
        _ => None,
    };
    let card = t.authorization.filter(|_| by_card).and_then(|a| {
        Some(CardAuthorization {
            authorization_code: a.authorization_code?,
            brand: a
                .brand
                .or(a.card_type)
                .unwrap_or_default()
                .trim()
                .to_owned(),
            last4: a.last4.unwrap_or_default(),
            exp_month: a.exp_month.unwrap_or_default(),
            exp_year: a.exp_year.unwrap_or_default(),
            bank: a.bank,
            reusable: a.reusable.unwrap_or(false),
            signature: a.signature,
        })
    });
    Ok(CardTransaction {
        id: t.id,
        status: card_status(&t.status, t.gateway_response.as_deref()),
        reference: t.reference,
        amount,
        paid_at: t.paid_at,
        channel,
        customer_email: t.customer.and_then(|c| c.email),
        card,
        instrument,
        gateway_response: t.gateway_response,
    })
}

/// A successful answer's body: Paystack's envelope, read strictly, refused when it says
/// `"status": false`. Every answer the client reads goes through here.
fn envelope<T: DeserializeOwned>(
    what: &str,
    body: &[u8],
) -> Result<wire::Envelope<T>, PaystackError> {
    let env: wire::Envelope<T> =
        crate::strict_json(body).map_err(|e| PaystackError::Unexpected(format!("{what}: {e}")))?;
    if !env.status {
        return Err(PaystackError::Rejected(env.message));
    }
    Ok(env)
}

/// What [`PaystackClient::verify`] reads from a successful answer's body: the transaction in
/// its envelope, with its amount in the currency it names (the path the fuzzers run).
pub fn read_verify(body: &[u8]) -> Result<CardTransaction, PaystackError> {
    card_transaction(PaystackClient::data(envelope("verify", body)?, "verify")?)
}

fn card_refund(r: wire::Refund) -> Result<CardRefund, PaystackError> {
    let reference = r.transaction.as_deref().and_then(|raw| {
        serde_json::from_str::<serde_json::Value>(raw.get())
            .ok()
            .and_then(|v| {
                v.get("reference")
                    .and_then(|s| s.as_str())
                    .map(str::to_owned)
            })
    });
    Ok(CardRefund {
        id: r.id,
        amount: Money::from_minor(r.amount, currency(&r.currency)?)
            .map_err(|e| PaystackError::Unexpected(e.to_string()))?,
        status: r.status,
        transaction_reference: reference,
    })
}

/// A Paystack client for one secret key.
pub struct PaystackClient {
    config: PaystackConfig,
    http: http::Http,
}

impl std::fmt::Debug for PaystackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaystackClient")
            .field("base_url", &self.config.base_url)
            .finish_non_exhaustive()
    }
}

fn check_reference(reference: &str) -> Result<(), PaystackError> {
    let ok = !reference.is_empty()
        && reference.len() <= 100
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.=".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PaystackError::Invalid(format!(
            "{reference:?} is not a reference Paystack accepts"
        )))
    }
}

impl PaystackClient {
    pub fn new(config: PaystackConfig) -> PaystackClient {
        let http = http::Http::new(config.timeout);
        PaystackClient { config, http }
    }

    pub fn config(&self) -> &PaystackConfig {
        &self.config
    }

    async fn send<T: DeserializeOwned>(
        &self,
        what: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<wire::Envelope<T>, PaystackError> {
        let resp = req
            .bearer_auth(self.config.secret_key.expose())
            .send()
            .await
            .map_err(|e| http::transport(what, &e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| http::transport(what, &e))?;
        if !status.is_success() {
            let (message, code) = serde_json::from_slice::<wire::ErrorBody>(&bytes)
                .map(|e| (e.message, e.code))
                .unwrap_or_else(|_| {
                    (
                        String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                        None,
                    )
                });
            // Verify answers an unknown reference with 400 "Transaction reference not found"
            // (code `transaction_not_found` in newer answers): it is "not found", not a refusal.
            let unknown_reference = code.as_deref() == Some("transaction_not_found")
                || message.eq_ignore_ascii_case("Transaction reference not found");
            return Err(match status.as_u16() {
                401 => PaystackError::Unauthorized(message),
                404 => PaystackError::NotFound(message),
                400 | 422 if unknown_reference => PaystackError::NotFound(message),
                400 | 422 => PaystackError::Rejected(message),
                code => PaystackError::Provider {
                    status: code,
                    message,
                },
            });
        }
        envelope(what, &bytes)
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<wire::Envelope<T>, PaystackError> {
        let req = self
            .http
            .client()?
            .post(format!("{}{path}", self.config.base_url))
            .json(body);
        self.send(path, req).await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<wire::Envelope<T>, PaystackError> {
        let req = self
            .http
            .client()?
            .get(format!("{}{path}", self.config.base_url))
            .query(query);
        self.send(path, req).await
    }

    fn data<T>(env: wire::Envelope<T>, what: &str) -> Result<T, PaystackError> {
        env.data
            .ok_or_else(|| PaystackError::Unexpected(format!("{what}: no data")))
    }

    /// The initialize request for a payment; public so tests can compare it with the sample.
    pub fn initialize_request(
        &self,
        email: &Email,
        amount: Money,
        reference: &str,
        metadata: serde_json::Value,
    ) -> Result<wire::InitializeRequest, PaystackError> {
        check_reference(reference)?;
        if amount.is_zero() {
            return Err(PaystackError::Invalid(
                "the amount must be more than zero".into(),
            ));
        }
        Ok(wire::InitializeRequest {
            email: email.as_str().to_owned(),
            amount: amount.minor().to_string(),
            currency: amount.currency().code().to_owned(),
            reference: reference.to_owned(),
            callback_url: self.config.callback_url.clone(),
            metadata,
        })
    }

    /// Opens a hosted checkout for `amount`, under our `reference`.
    pub async fn initialize(
        &self,
        email: &Email,
        amount: Money,
        reference: &str,
        metadata: serde_json::Value,
    ) -> Result<Checkout, PaystackError> {
        let body = self.initialize_request(email, amount, reference, metadata)?;
        let d: wire::InitializeData = Self::data(
            self.post("/transaction/initialize", &body).await?,
            "initialize",
        )?;
        if d.reference != reference {
            return Err(PaystackError::Unexpected(format!(
                "asked for reference {reference}, got {}",
                d.reference
            )));
        }
        Ok(Checkout {
            authorization_url: d.authorization_url,
            access_code: d.access_code,
            reference: d.reference,
        })
    }

    /// Asks Paystack where the transaction with our `reference` stands.
    pub async fn verify(&self, reference: &str) -> Result<CardTransaction, PaystackError> {
        check_reference(reference)?;
        let t: wire::Transaction = Self::data(
            self.get(&format!("/transaction/verify/{reference}"), &[])
                .await?,
            "verify",
        )?;
        card_transaction(t)
    }

    /// Charges a saved card. The answer may already be final (`success`, `failed`), or `send_otp`
    /// and the like, in which case verify later.
    pub async fn charge_authorization(
        &self,
        email: &Email,
        amount: Money,
        authorization_code: &str,
        reference: &str,
        metadata: serde_json::Value,
    ) -> Result<CardTransaction, PaystackError> {
        check_reference(reference)?;
        let body = wire::ChargeAuthorizationRequest {
            email: email.as_str().to_owned(),
            amount: amount.minor().to_string(),
            authorization_code: authorization_code.to_owned(),
            currency: amount.currency().code().to_owned(),
            reference: reference.to_owned(),
            metadata,
        };
        let t: wire::Transaction = Self::data(
            self.post("/transaction/charge_authorization", &body)
                .await?,
            "charge",
        )?;
        card_transaction(t)
    }

    /// Charges an M-Pesa number through Paystack (`POST /charge` with `mobile_money`, KES only):
    /// the customer approves on their phone. Returns Paystack's status (`pay_offline`,
    /// `pending`, `success`, `failed`) and the words for the customer; the outcome arrives as a
    /// `charge.success` webhook and is verified like any Paystack charge.
    pub async fn charge_mpesa(
        &self,
        email: &Email,
        amount: MpesaCharge,
        phone: &malipo_domain::Msisdn,
        reference: &str,
        metadata: serde_json::Value,
    ) -> Result<MobileMoneyAnswer, PaystackError> {
        check_reference(reference)?;
        let body = wire::MobileMoneyCharge {
            email: email.as_str().to_owned(),
            amount: amount.0.minor().to_string(),
            currency: "KES".to_owned(),
            reference: reference.to_owned(),
            mobile_money: wire::MobileMoney {
                phone: format!("+{}", phone.as_str()),
                provider: "mpesa".to_owned(),
            },
            metadata,
        };
        let d: wire::ChargeAnswer = Self::data(self.post("/charge", &body).await?, "charge")?;
        if d.status == "failed" {
            return Err(PaystackError::Rejected(
                d.message
                    .or(d.display_text)
                    .unwrap_or_else(|| "the charge failed".into()),
            ));
        }
        Ok(MobileMoneyAnswer {
            status: d.status,
            display_text: d.display_text.or(d.message),
        })
    }

    /// Refunds `amount` (all of it when `None`) of the transaction with our `reference`.
    pub async fn refund(
        &self,
        reference: &str,
        amount: Option<Money>,
        note: &str,
    ) -> Result<CardRefund, PaystackError> {
        check_reference(reference)?;
        let body = wire::RefundRequest {
            transaction: reference.to_owned(),
            amount: amount.map(|m| m.minor().to_string()),
            currency: amount.map(|m| m.currency().code().to_owned()),
            merchant_note: Some(note.chars().take(200).collect())
                .filter(|n: &String| !n.is_empty()),
        };
        let d: wire::Refund = Self::data(self.post("/refund", &body).await?, "refund")?;
        let mut r = card_refund(d)?;
        r.transaction_reference
            .get_or_insert_with(|| reference.to_owned());
        Ok(r)
    }

    pub async fn refund_fetch(&self, id: u64) -> Result<CardRefund, PaystackError> {
        card_refund(Self::data(
            self.get(&format!("/refund/{id}"), &[]).await?,
            "refund fetch",
        )?)
    }

    /// Refunds, optionally for one transaction (our reference).
    pub async fn refund_list(
        &self,
        reference: Option<&str>,
    ) -> Result<Vec<CardRefund>, PaystackError> {
        let mut query = vec![("perPage", "100".to_owned())];
        if let Some(r) = reference {
            query.push(("transaction", r.to_owned()));
        }
        let list: Vec<wire::Refund> =
            Self::data(self.get("/refund", &query).await?, "refund list")?;
        list.into_iter().map(card_refund).collect()
    }

    /// One page of the transaction list.
    pub async fn transactions(&self, q: &ListQuery) -> Result<ListPage, PaystackError> {
        let mut query = vec![
            ("perPage", q.per_page.clamp(1, 100).to_string()),
            ("page", q.page.max(1).to_string()),
        ];
        for (k, v) in [("from", &q.from), ("to", &q.to), ("status", &q.status)] {
            if let Some(v) = v {
                query.push((k, v.clone()));
            }
        }
        let env: wire::Envelope<Vec<wire::Transaction>> = self.get("/transaction", &query).await?;
        let meta = env.meta.clone().unwrap_or_default();
        let items = Self::data(env, "transaction list")?
            .into_iter()
            .map(card_transaction)
            .collect::<Result<_, _>>()?;
        Ok(ListPage {
            items,
            total: meta.total,
            page_count: meta.page_count,
        })
    }
}
