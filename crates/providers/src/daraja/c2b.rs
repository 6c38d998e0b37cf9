//! Paybill (C2B) payments customers start from their own phones, and Transaction Status, which
//! proves one.
//!
//! Safaricom posts the same body to the validation URL (when it has validation switched on for
//! the shortcode) and to the confirmation URL: [`parse_payment`] reads both. A confirmation is a
//! claim like any callback; [`parse_status_result`] reads what Transaction Status answers, at the
//! result URL, about a receipt number, and [`StatusResult::confirms`] says whether it proves a
//! payment of that amount to that shortcode.

use serde::Deserialize;
use serde_json::value::RawValue;
use time::PrimitiveDateTime;
use time::macros::format_description;

use malipo_domain::time_zone::NAIROBI;
use malipo_domain::{Currency, Money};

use super::callback::CallbackError;
use super::codes::ResultCode;
use super::wire::{OneOrMany, ReversalResultEnvelope};

/// A paybill or till payment as Safaricom describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2bPayment {
    /// `Pay Bill`, `Buy Goods`, or empty in older callbacks.
    pub transaction_type: String,
    /// The M-Pesa receipt number, e.g. `RKTQDM7W6S`.
    pub trans_id: String,
    /// When it was made, as Safaricom wrote it (`YYYYMMDDHHmmss`, Nairobi).
    pub trans_time: String,
    pub amount: Money,
    pub shortcode: String,
    /// The account the customer typed (`BillRefNumber`), as typed.
    pub account: String,
    /// The payer's number as given: masked in current callbacks (`25470****149`).
    pub msisdn: String,
    /// The payer's names from the M-Pesa register, joined; may be empty.
    pub payer: String,
}

/// Whether a C2B payment was made to a till (Lipa na M-Pesa Buy Goods): such payments carry no
/// account number. Safaricom names the type `Buy Goods` (or `CustomerBuyGoodsOnline`).
pub fn is_till(p: &C2bPayment) -> bool {
    let t: String = p
        .transaction_type
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    t.contains("buygoods")
}

impl C2bPayment {
    /// When it was made, if Safaricom wrote a readable time.
    pub fn made_at(&self) -> Option<time::OffsetDateTime> {
        let format = format_description!("[year][month][day][hour][minute][second]");
        PrimitiveDateTime::parse(&self.trans_time, format)
            .ok()
            .map(|t| t.assume_offset(NAIROBI))
    }
}

#[derive(Debug, Deserialize)]
struct Wire {
    #[serde(rename = "TransactionType", default)]
    transaction_type: Option<String>,
    #[serde(rename = "TransID")]
    trans_id: String,
    #[serde(rename = "TransTime", default)]
    trans_time: Option<String>,
    #[serde(rename = "TransAmount")]
    trans_amount: Box<RawValue>,
    #[serde(rename = "BusinessShortCode")]
    shortcode: Box<RawValue>,
    #[serde(rename = "BillRefNumber", default)]
    bill_ref_number: Option<String>,
    #[serde(rename = "MSISDN", default)]
    msisdn: Option<Box<RawValue>>,
    #[serde(rename = "FirstName", default)]
    first_name: Option<String>,
    #[serde(rename = "MiddleName", default)]
    middle_name: Option<String>,
    #[serde(rename = "LastName", default)]
    last_name: Option<String>,
}

use super::scalar_text as unquote;

/// The longest M-Pesa receipt number Malipo accepts (they are 10 characters).
const MAX_RECEIPT: usize = 20;

/// Whether `id` reads as an M-Pesa receipt number: letters and digits, 8 to 20 of them.
pub fn is_receipt_number(id: &str) -> bool {
    (8..=MAX_RECEIPT).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Reads a validation or confirmation body.
pub fn parse_payment(body: &[u8]) -> Result<C2bPayment, CallbackError> {
    let w: Wire = crate::strict_json(body)
        .map_err(|e| CallbackError::Shape(format!("not a C2B payment: {e}")))?;
    let trans_id = w.trans_id.trim().to_ascii_uppercase();
    if !is_receipt_number(&trans_id) {
        return Err(CallbackError::Item {
            item: "TransID",
            why: format!("{:?}", w.trans_id.chars().take(24).collect::<String>()),
        });
    }
    let amount = Money::parse(
        &unquote(w.trans_amount.get()).unwrap_or_default(),
        Currency::Kes,
    )
    .map_err(|e| CallbackError::Item {
        item: "TransAmount",
        why: e.to_string(),
    })?;
    if amount.is_zero() {
        return Err(CallbackError::Item {
            item: "TransAmount",
            why: "zero".into(),
        });
    }
    let shortcode = unquote(w.shortcode.get()).unwrap_or_default().into_owned();
    if !(5..=9).contains(&shortcode.len()) || !shortcode.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CallbackError::Item {
            item: "BusinessShortCode",
            why: format!("{:?}", shortcode.chars().take(12).collect::<String>()),
        });
    }
    let text = |v: Option<String>, max: usize| -> String {
        v.unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(max)
            .collect::<String>()
            .trim()
            .to_owned()
    };
    let payer = [w.first_name, w.middle_name, w.last_name]
        .into_iter()
        .map(|n| text(n, 40))
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(C2bPayment {
        transaction_type: text(w.transaction_type, 20),
        trans_id,
        trans_time: text(w.trans_time, 14),
        amount,
        shortcode,
        account: text(w.bill_ref_number, 40),
        // A phone number is digits: a bare fraction is no number anyone dialled (and serde_json
        // reads such fractions inexactly, so written back it reads otherwise).
        msisdn: w
            .msisdn
            .map(|m| {
                unquote(m.get())
                    .filter(|v| !v.contains('.'))
                    .unwrap_or_default()
                    .chars()
                    .take(20)
                    .collect()
            })
            .unwrap_or_default(),
        payer,
    })
}

pub use malipo_domain::policy::account_key;

/// What Transaction Status answered at the result URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResult {
    pub conversation_id: String,
    pub originator_conversation_id: String,
    /// `0` when Safaricom found the transaction.
    pub code: String,
    pub description: String,
    /// The receipt number asked about (`ReceiptNo`).
    pub receipt: Option<String>,
    /// `Completed`, or another state.
    pub status: Option<String>,
    pub amount: Option<Money>,
    /// Every `…PartyName` value (`600310 - Safaricom333`, `254708374149 - John Doe`).
    pub parties: Vec<String>,
    /// When M-Pesa finished it (`FinalisedTime`, else `InitiatedTime`; Nairobi time).
    pub finished_at: Option<time::OffsetDateTime>,
}

impl StatusResult {
    pub fn found(&self) -> bool {
        self.code == "0"
    }

    /// Why this result does not prove a payment of `amount` with receipt `receipt` to
    /// `shortcode`, or `None` when it does.
    pub fn confirms(&self, receipt: &str, amount: Money, shortcode: &str) -> Option<String> {
        if !self.found() {
            return Some(format!(
                "Safaricom does not confirm it ({}: {})",
                self.code, self.description
            ));
        }
        if self.receipt.as_deref() != Some(receipt) {
            return Some(format!(
                "Safaricom answered about {} instead",
                self.receipt.as_deref().unwrap_or("another transaction")
            ));
        }
        if self.status.as_deref() != Some("Completed") {
            return Some(format!(
                "the transaction is {}, not completed",
                self.status.as_deref().unwrap_or("in an unknown state")
            ));
        }
        if self.amount != Some(amount) {
            return Some(format!(
                "Safaricom says {}, not {amount}",
                self.amount
                    .map_or_else(|| "no amount".to_owned(), |a| a.to_string())
            ));
        }
        let to_us = self
            .parties
            .iter()
            .any(|p| p.split(" - ").next().map(str::trim) == Some(shortcode));
        if !to_us {
            return Some(format!(
                "it was paid to {}, not shortcode {shortcode}",
                self.parties
                    .iter()
                    .find(|p| !p.starts_with("254"))
                    .map_or("another shortcode", String::as_str)
            ));
        }
        None
    }

    /// The payer's number as Safaricom gives it, perhaps masked (`2547****149 - John Doe` →
    /// `2547****149`).
    pub fn payer_number(&self) -> Option<&str> {
        self.parties
            .iter()
            .filter(|p| p.starts_with("254") || p.starts_with("07") || p.starts_with("01"))
            .find_map(|p| p.split(" - ").next().map(str::trim))
    }

    /// The payer's name as Safaricom gives it (`254708374149 - John Doe` → `John Doe`).
    pub fn payer(&self) -> Option<String> {
        self.parties
            .iter()
            .filter(|p| p.starts_with("254") || p.starts_with("07") || p.starts_with("01"))
            .find_map(|p| p.split_once(" - ").map(|(_, name)| name.trim().to_owned()))
    }
}

/// Whether a `Result` body at the result URL answers a Transaction Status query (rather than a
/// reversal): it names `TransactionStatus` or `ReceiptNo`.
pub fn looks_like_status_result(body: &[u8]) -> bool {
    parse_status_result(body).is_ok_and(|r| r.status.is_some() || r.receipt.is_some())
}

/// Reads what Transaction Status posts to the result URL (or the queue-timeout URL).
pub fn parse_status_result(body: &[u8]) -> Result<StatusResult, CallbackError> {
    let env: ReversalResultEnvelope = crate::strict_json(body).map_err(CallbackError::Shape)?;
    let r = env.result;
    let code = ResultCode::from_raw(r.result_code.get())
        .ok_or_else(|| CallbackError::ResultCode(r.result_code.get().to_owned()))?;
    let items = match r.result_parameters {
        Some(p) => match p.items {
            OneOrMany::Many(v) => v,
            OneOrMany::One(kv) => vec![kv],
        },
        None => Vec::new(),
    };
    let value = |kv: &super::wire::KeyValue| match kv.value.as_ref()? {
        serde_json::Value::String(s) => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let first = |key: &str| {
        items
            .iter()
            .filter(|kv| kv.key == key)
            .find_map(value)
            .filter(|v| !v.is_empty())
    };
    Ok(StatusResult {
        conversation_id: r.conversation_id,
        originator_conversation_id: r.originator_conversation_id,
        code: code.as_str().to_owned(),
        description: r.result_desc,
        receipt: first("ReceiptNo").map(|r| r.to_ascii_uppercase()),
        status: first("TransactionStatus"),
        amount: first("Amount").and_then(|a| Money::parse(&a, Currency::Kes).ok()),
        parties: items
            .iter()
            .filter(|kv| kv.key.ends_with("PartyName"))
            .filter_map(value)
            .collect(),
        finished_at: first("FinalisedTime")
            .or_else(|| first("InitiatedTime"))
            .and_then(|t| {
                let format = format_description!("[year][month][day][hour][minute][second]");
                PrimitiveDateTime::parse(&t, format).ok()
            })
            .map(|t| t.assume_offset(NAIROBI)),
    })
}
