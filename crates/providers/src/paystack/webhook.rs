//! Paystack webhooks: the `x-paystack-signature` header is the lowercase hex HMAC-SHA512 of
//! the raw body, keyed with the secret key. It is checked over the exact bytes received (a
//! re-serialised body, even with the same JSON, fails) and in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha512;

use malipo_domain::{Currency, Money, Secret};

use super::wire;
use super::{CardTransaction, PaystackError, card_transaction};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the x-paystack-signature header is missing")]
    NoSignature,
    #[error("the signature does not match the body")]
    BadSignature,
    #[error("not a Paystack event: {0}")]
    Shape(String),
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The lowercase hex HMAC-SHA512 of `body` under `secret`: what Paystack sends as
/// `x-paystack-signature`.
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    use std::fmt::Write;
    // HMAC takes a key of any length, so this never fails.
    let Ok(mut mac) = Hmac::<Sha512>::new_from_slice(secret.expose().as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .fold(String::with_capacity(128), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// Checks `signature` (hex) against the HMAC-SHA512 of `body` under `secret`, in constant time.
pub fn verify_signature(
    secret: &Secret,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), WebhookError> {
    let signature = signature.ok_or(WebhookError::NoSignature)?;
    let expected = from_hex(signature).ok_or(WebhookError::BadSignature)?;
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| WebhookError::BadSignature)?;
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| WebhookError::BadSignature)
}

/// A `refund.*` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundEvent {
    /// `pending`, `processing`, `processed`, `failed` or `needs-attention`.
    pub status: String,
    pub transaction_reference: String,
    pub refund_reference: Option<String>,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    ChargeSuccess(Box<CardTransaction>),
    Refund(RefundEvent),
    /// A charge or refund in a currency Malipo does not price (not KES, NGN, GHS, ZAR or USD):
    /// kept and put to review, never refused (Paystack would retry a refusal for 72 hours).
    Unpriced(Unpriced),
    /// Events Malipo does not act on (subscriptions, transfers, …), named for the log.
    Other(String),
}

/// A webhook about money in a currency Malipo does not price, as Paystack sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpriced {
    /// `charge.success`, `refund.processed`, …
    pub event: String,
    /// The charge's reference (for a refund, the refunded charge's).
    pub reference: String,
    /// The currency code as sent (at most 8 characters).
    pub currency: String,
    /// The amount in that currency's subunits.
    pub amount_minor: i64,
}

/// Parses a verified webhook body.
pub fn parse_event(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let shape = |e: &dyn std::fmt::Display| WebhookError::Shape(e.to_string());
    let ev: wire::Event = crate::strict_json(body).map_err(|e| shape(&e))?;
    match ev.event.as_str() {
        "charge.success" => {
            let t: wire::Transaction =
                serde_json::from_str(ev.data.get()).map_err(|e| shape(&e))?;
            if Currency::from_code(&t.currency).is_err() {
                return Ok(WebhookEvent::Unpriced(Unpriced {
                    event: ev.event.clone(),
                    reference: t.reference,
                    currency: t.currency.chars().take(8).collect(),
                    amount_minor: t.amount,
                }));
            }
            card_transaction(t)
                .map(|t| WebhookEvent::ChargeSuccess(Box::new(t)))
                .map_err(|e: PaystackError| shape(&e))
        }
        name if name.starts_with("refund.") => {
            let d: wire::RefundEventData =
                serde_json::from_str(ev.data.get()).map_err(|e| shape(&e))?;
            let Ok(currency) = Currency::from_code(&d.currency) else {
                return Ok(WebhookEvent::Unpriced(Unpriced {
                    event: name.to_owned(),
                    reference: d.transaction_reference,
                    currency: d.currency.chars().take(8).collect(),
                    amount_minor: d.amount,
                }));
            };
            let amount = Money::from_minor(d.amount, currency).map_err(|e| shape(&e))?;
            Ok(WebhookEvent::Refund(RefundEvent {
                status: d.status,
                transaction_reference: d.transaction_reference,
                refund_reference: d.refund_reference,
                amount,
            }))
        }
        other => Ok(WebhookEvent::Other(other.to_owned())),
    }
}
