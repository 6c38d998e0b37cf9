//! Paystack's JSON. Responses wrap their payload as `{"status", "message", "data", "meta"}`.
//! Paystack is loosely typed: `metadata` may be `""`, `0`, `null` or an object; amounts may be
//! numbers or strings; `exp_month` is a string; ids are 64-bit. Fields we only pass through
//! are kept as raw JSON.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub status: bool,
    pub message: String,
    pub data: Option<T>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

/// Pagination: offset style (`page`, `pageCount`) or cursor style (`next`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Meta {
    #[serde(default, deserialize_with = "loose_u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "loose_u64")]
    pub page: Option<u64>,
    #[serde(rename = "pageCount", default, deserialize_with = "loose_u64")]
    pub page_count: Option<u64>,
    #[serde(default)]
    pub next: Option<String>,
}

/// `{"status": false, "message": "..."}`, with any HTTP error status.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub status: bool,
    pub message: String,
    /// Newer answers name the error: `transaction_not_found`, `missing_params`, ...
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitializeRequest {
    pub email: String,
    /// Subunits as a string, as Paystack's own sample sends it.
    pub amount: String,
    pub currency: String,
    pub reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    pub metadata: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InitializeData {
    pub authorization_url: String,
    pub access_code: String,
    pub reference: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChargeAuthorizationRequest {
    pub email: String,
    pub amount: String,
    pub authorization_code: String,
    pub currency: String,
    pub reference: String,
    pub metadata: serde_json::Value,
}

/// `POST /charge` for M-Pesa through Paystack (Kenya): the customer approves on their phone.
#[derive(Debug, Clone, Serialize)]
pub struct MobileMoneyCharge {
    pub email: String,
    pub amount: String,
    pub currency: String,
    pub reference: String,
    pub mobile_money: MobileMoney,
    pub metadata: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct MobileMoney {
    /// `+2547XXXXXXXX`.
    pub phone: String,
    /// `mpesa`.
    pub provider: String,
}

/// What `POST /charge` answers: where the charge stands, and what to tell the customer.
#[derive(Debug, Clone, Deserialize)]
pub struct ChargeAnswer {
    #[serde(default)]
    pub reference: Option<String>,
    pub status: String,
    #[serde(default)]
    pub display_text: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// A transaction as verify, charge_authorization, list and `charge.success` carry it.
#[derive(Debug, Clone, Deserialize)]
pub struct Transaction {
    #[serde(deserialize_with = "u64_loose")]
    pub id: u64,
    pub status: String,
    pub reference: String,
    #[serde(deserialize_with = "i64_loose")]
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub gateway_response: Option<String>,
    #[serde(default)]
    pub paid_at: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub metadata: Option<Box<RawValue>>,
    #[serde(default)]
    pub authorization: Option<Authorization>,
    #[serde(default)]
    pub customer: Option<Customer>,
    #[serde(default, deserialize_with = "loose_i64")]
    pub requested_amount: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Authorization {
    #[serde(default)]
    pub authorization_code: Option<String>,
    #[serde(default)]
    pub bin: Option<String>,
    #[serde(default)]
    pub last4: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    pub exp_month: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    pub exp_year: Option<String>,
    #[serde(default)]
    pub card_type: Option<String>,
    #[serde(default)]
    pub bank: Option<String>,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub reusable: Option<bool>,
    #[serde(default)]
    pub signature: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    #[serde(default, deserialize_with = "loose_u64")]
    pub id: Option<u64>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub customer_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundRequest {
    /// Our reference (or Paystack's transaction id).
    pub transaction: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_note: Option<String>,
}

/// A refund as create (inside `data`), fetch and list return it. `transaction` is an object
/// in create and fetch responses and an id in some list responses.
#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    #[serde(deserialize_with = "u64_loose")]
    pub id: u64,
    #[serde(default)]
    pub transaction: Option<Box<RawValue>>,
    #[serde(deserialize_with = "i64_loose")]
    pub amount: i64,
    pub currency: String,
    pub status: String,
    #[serde(default)]
    pub refunded_at: Option<String>,
}

/// A webhook event: `{"event": "...", "data": {...}}`.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub event: String,
    pub data: Box<RawValue>,
}

/// `data` of a `refund.*` event.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundEventData {
    pub status: String,
    pub transaction_reference: String,
    #[serde(default)]
    pub refund_reference: Option<String>,
    #[serde(deserialize_with = "i64_loose")]
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub id: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(serde_json::Number),
    Text(String),
}

fn whole_number<E: serde::de::Error>(v: NumOrText) -> Result<i64, E> {
    let text = match v {
        NumOrText::Num(n) => n.to_string(),
        NumOrText::Text(s) => s,
    };
    text.trim()
        .parse::<i64>()
        .map_err(|_| E::custom(format!("{text:?} is not a whole number")))
}

fn i64_loose<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    whole_number(NumOrText::deserialize(d)?)
}

fn u64_loose<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = whole_number::<D::Error>(NumOrText::deserialize(d)?)?;
    u64::try_from(n).map_err(|_| serde::de::Error::custom("a negative id"))
}

fn loose_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<NumOrText>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrText::Text(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => whole_number(v).map(Some),
    }
}

fn loose_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(loose_i64(d)?.and_then(|n| u64::try_from(n).ok()))
}

fn loose_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<NumOrText>::deserialize(d)?.map(|v| match v {
        NumOrText::Num(n) => n.to_string(),
        NumOrText::Text(s) => s,
    }))
}

fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Num(i64),
        Text(String),
    }
    Ok(match Option::<B>::deserialize(d)? {
        None => None,
        Some(B::Bool(b)) => Some(b),
        Some(B::Num(n)) => Some(n != 0),
        Some(B::Text(s)) => Some(matches!(s.as_str(), "true" | "1")),
    })
}
