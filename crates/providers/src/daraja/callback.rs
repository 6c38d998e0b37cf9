//! STK callbacks: `Body.stkCallback` turned into a [`StkOutcome`]. Items are read by name, in
//! any order; a `Balance` without `Value`, a string or number `ResultCode` and an `Amount`
//! written `1.00` are all accepted. Anything else is refused with a clear error.

use malipo_domain::{Currency, Money};

use super::codes::{self, Failure, ResultCode};
use super::wire::{CallbackEnvelope, CallbackItem};

/// Why a callback body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("not an STK callback: {0}")]
    Shape(String),
    #[error("not an M-Pesa Ratiba result: {0}")]
    Ratiba(String),
    #[error("ResultCode {0} is neither a number nor a code")]
    ResultCode(String),
    #[error("a successful callback lacks {0}")]
    Missing(&'static str),
    #[error("{item} is unreadable: {why}")]
    Item { item: &'static str, why: String },
    #[error("CheckoutRequestID is empty")]
    NoCheckoutId,
}

/// What Safaricom reported for one STK push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkCallback {
    pub merchant_request_id: String,
    pub checkout_request_id: String,
    pub result_desc: String,
    pub outcome: StkOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StkOutcome {
    Paid {
        amount: Money,
        /// The M-Pesa receipt number, e.g. `NLJ7RT61SV`.
        receipt: String,
        /// `YYYYMMDDHHmmss`, Nairobi time, as Safaricom wrote it.
        transaction_date: Option<String>,
        phone: Option<String>,
    },
    NotPaid(Failure),
}

use super::scalar_text as unquote;

fn find<'a>(items: &'a [CallbackItem], name: &str) -> Option<&'a str> {
    items
        .iter()
        .find(|i| i.name == name)
        .and_then(|i| i.value.as_deref())
        .map(|v| v.get())
}

/// Parses the raw body Safaricom posted.
pub fn parse(body: &[u8]) -> Result<StkCallback, CallbackError> {
    let env: CallbackEnvelope = crate::strict_json(body).map_err(CallbackError::Shape)?;
    let cb = env.body.stk_callback;
    if cb.checkout_request_id.trim().is_empty() {
        return Err(CallbackError::NoCheckoutId);
    }
    let code = ResultCode::from_raw(cb.result_code.get())
        .ok_or_else(|| CallbackError::ResultCode(cb.result_code.get().to_owned()))?;
    let outcome = if code.is_success() {
        let items = cb.callback_metadata.map(|m| m.item).unwrap_or_default();
        let amount_raw = find(&items, "Amount").ok_or(CallbackError::Missing("Amount"))?;
        let amount = Money::parse(&unquote(amount_raw).unwrap_or_default(), Currency::Kes)
            .map_err(|e| CallbackError::Item {
                item: "Amount",
                why: e.to_string(),
            })?;
        let receipt = unquote(
            find(&items, "MpesaReceiptNumber")
                .ok_or(CallbackError::Missing("MpesaReceiptNumber"))?,
        )
        .unwrap_or_default();
        if receipt.is_empty() || !receipt.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CallbackError::Item {
                item: "MpesaReceiptNumber",
                why: format!("{receipt:?}"),
            });
        }
        StkOutcome::Paid {
            amount,
            receipt: receipt.into_owned(),
            transaction_date: find(&items, "TransactionDate")
                .and_then(unquote)
                .map(|v| v.into_owned()),
            // A phone number is digits: a bare fraction is no number anyone dialled (and
            // serde_json reads such fractions inexactly, so written back it reads otherwise).
            phone: find(&items, "PhoneNumber")
                .and_then(unquote)
                .filter(|v| !v.contains('.'))
                .map(|v| v.into_owned()),
        }
    } else {
        StkOutcome::NotPaid(codes::failure(&code, &cb.result_desc))
    };
    Ok(StkCallback {
        merchant_request_id: cb.merchant_request_id,
        checkout_request_id: cb.checkout_request_id,
        result_desc: cb.result_desc,
        outcome,
    })
}
