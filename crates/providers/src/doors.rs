//! Every parser of what comes in from outside (the internet, or a file a user picked), each
//! behind one function that reads bytes and checks what the fuzzers look for besides a panic:
//! an input that parses must mean the same as its canonical form (for JSON, the same document
//! re-serialized: no money may depend on key order, spacing or escapes), and what it yields must
//! be money a payment can be (positive, in a known currency, which the types already hold).
//!
//! `fuzz/` runs each function under libFuzzer (`scripts/fuzz`); `tests/doors.rs` runs them over
//! the published examples and every input the fuzzers ever found, so a finding stays fixed.

use serde_json::Value;

/// A parser and its checks: `Err` names what broke (a parse is not a failure; a parse that
/// means something else than its canonical form is).
pub type Door = fn(&[u8]) -> Result<(), String>;

/// Every door, by the name of its fuzz target.
pub const ALL: &[(&str, Door)] = &[
    ("stk_callback", stk_callback),
    ("c2b_payment", c2b_payment),
    ("status_result", status_result),
    ("reversal_result", reversal_result),
    ("ratiba_result", ratiba_result),
    ("paystack_webhook", paystack_webhook),
    ("paystack_verify", paystack_verify),
    ("sms_report", sms_report),
    ("pull_page", pull_page),
    ("mpesa_statement", mpesa_statement),
    ("policy_register", policy_register),
];

/// `data` re-serialized as canonical JSON (serde_json's reading of it, written back), if it is
/// JSON at all.
fn canonical(data: &[u8]) -> Option<Vec<u8>> {
    let value: Value = serde_json::from_slice(data).ok()?;
    serde_json::to_vec(&value).ok()
}

/// A JSON parser must read `data` and its canonical form alike.
fn same_as_canonical<T: PartialEq + std::fmt::Debug, E>(
    data: &[u8],
    parse: impl Fn(&[u8]) -> Result<T, E>,
) -> Result<(), String> {
    let Ok(read) = parse(data) else {
        return Ok(());
    };
    let Some(again) = canonical(data) else {
        return Err(format!("read {read:?} from bytes that are not JSON"));
    };
    match parse(&again) {
        Ok(canon) if canon == read => Ok(()),
        Ok(canon) => Err(format!(
            "the canonical form reads otherwise: {read:?} against {canon:?}"
        )),
        Err(_) => Err(format!("read {read:?}, but its canonical form is refused")),
    }
}

pub fn stk_callback(data: &[u8]) -> Result<(), String> {
    same_as_canonical(data, crate::daraja::callback::parse)
}

pub fn c2b_payment(data: &[u8]) -> Result<(), String> {
    same_as_canonical(data, crate::daraja::c2b::parse_payment)
}

pub fn status_result(data: &[u8]) -> Result<(), String> {
    same_as_canonical(data, crate::daraja::c2b::parse_status_result)
}

pub fn reversal_result(data: &[u8]) -> Result<(), String> {
    same_as_canonical(data, crate::daraja::parse_reversal_result)
}

pub fn ratiba_result(data: &[u8]) -> Result<(), String> {
    same_as_canonical(data, crate::daraja::ratiba::parse_result)
}

pub fn paystack_webhook(data: &[u8]) -> Result<(), String> {
    same_as_canonical(data, crate::paystack::webhook::parse_event)
}

pub fn paystack_verify(data: &[u8]) -> Result<(), String> {
    same_as_canonical(data, crate::paystack::read_verify)
}

pub fn pull_page(data: &[u8]) -> Result<(), String> {
    same_as_canonical(data, |bytes| {
        let body: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        crate::daraja::pull::read_page(&body).map_err(|e| e.to_string())
    })
}

/// A form body: read twice, the same both times, and nothing in it reaches past its bounds.
pub fn sms_report(data: &[u8]) -> Result<(), String> {
    let Ok(read) = crate::sms::parse_delivery_report(data) else {
        return Ok(());
    };
    match crate::sms::parse_delivery_report(data) {
        Ok(again) if again == read => Ok(()),
        other => Err(format!("read {read:?}, then {other:?}")),
    }
}

/// A statement file: every row it reads is a movement of money in shillings with a receipt
/// number, and the same file reads the same twice.
pub fn mpesa_statement(data: &[u8]) -> Result<(), String> {
    let Ok(read) = crate::daraja::statement::read_statement(data) else {
        return Ok(());
    };
    for row in &read.rows {
        if row.receipt.trim().is_empty() {
            return Err(format!("a row without a receipt number: {row:?}"));
        }
    }
    match crate::daraja::statement::read_statement(data) {
        Ok(again) if again == read => Ok(()),
        _ => Err("the same file read otherwise the second time".into()),
    }
}

/// The policy register: every policy read has a premium a payment can be, and a schedule.
pub fn policy_register(data: &[u8]) -> Result<(), String> {
    let Ok((drafts, _refused)) =
        malipo_domain::register::read_csv(data, malipo_domain::Currency::Kes)
    else {
        return Ok(());
    };
    for draft in &drafts {
        if draft.premium.is_zero() {
            return Err(format!("a policy with no premium: {draft:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_that_depends_on_the_bytes_is_a_finding() {
        // A parser reading the raw text (here: its length) means something else once the
        // same document is written canonically.
        let raw_length = |b: &[u8]| Ok::<usize, ()>(b.len());
        assert!(same_as_canonical(br#"{"Amount": 1}"#, raw_length).is_err());
        assert!(same_as_canonical(br#"{"Amount":1}"#, raw_length).is_ok());
        // Read from bytes that are not JSON: a finding too.
        assert!(same_as_canonical(b"Amount=1", raw_length).is_err());
        // Refused: nothing to compare.
        assert!(same_as_canonical(b"x", |_| Err::<usize, ()>(())).is_ok());
    }

    #[test]
    fn the_published_examples_hold() {
        let stk = include_bytes!("../tests/fixtures/daraja_stk_callback_success.json");
        assert!(stk_callback(stk).is_ok());
        assert!(
            crate::daraja::callback::parse(stk).is_ok(),
            "the example is read"
        );
    }
}
