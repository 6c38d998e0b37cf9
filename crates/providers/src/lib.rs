//! Clients for the two payment providers, and the parsing and verification of what they send
//! back.
//!
//! - [`daraja`]: Safaricom's Daraja API for M-Pesa Express (STK push), its status query, the
//!   unsigned STK callbacks, and transaction reversals (M-Pesa refunds).
//! - [`paystack`]: card payments (initialize, verify, charge a saved card), refunds, the
//!   transaction list, and signed webhooks.
//! - [`sms`]: customer SMS through Africa's Talking, and its delivery reports.
//! - [`email`]: e-mail through the office's SMTP server, receipts attached.
//!
//! Each provider has a `wire` module that mirrors its JSON exactly (loose types included);
//! the rest of Malipo only ever sees the domain types these are turned into.

pub mod daraja;
pub mod doors;
pub mod email;
pub mod paystack;
pub mod sms;

mod http;

pub use http::Transport;

/// Reads a provider's JSON body strictly: it must be one JSON object as any reader takes it
/// (UTF-8 throughout, numbers in range, even in fields nobody reads, which `serde_json` would
/// otherwise skip; and not an array, which a derived struct would also accept), so every body
/// accepted has one meaning.
pub(crate) fn strict_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let text =
        std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8 text ({e})"))?;
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v @ serde_json::Value::Object(_)) if has_private_key(&v) => {
            return Err("the body uses a key reserved by the JSON reader".into());
        }
        Ok(serde_json::Value::Object(_)) => {}
        Ok(_) => return Err("the body is not a JSON object".into()),
        Err(e) => return Err(e.to_string()),
    }
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Whether any object in `v` has a key serde_json keeps for itself (`$serde_json::private::…`,
/// its markers for raw values and exact numbers): written back, such a body comes out as
/// something other than what arrived, so no provider body may carry one. The reader's own
/// nesting limit (128) bounds the walk.
fn has_private_key(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.starts_with("$serde_json::private::") || has_private_key(v)),
        serde_json::Value::Array(items) => items.iter().any(has_private_key),
        _ => false,
    }
}
