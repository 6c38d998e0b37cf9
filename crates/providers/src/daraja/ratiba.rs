//! M-Pesa Ratiba: a standing order on the customer's own M-Pesa profile, created through
//! Daraja (`POST /standingorder/v1/createStandingOrderExternal`). Safaricom prompts the customer
//! for their PIN (their consent, and proof the number is theirs), opts them in, creates the
//! order and posts the result to the callback URL. Each run of the order then reaches the
//! paybill like any customer's payment, with the order's `AccountReference` as the account.
//!
//! The portal's own page is inconsistent in places, so this reads it as follows (the page as
//! captured, and integrators' notes of it):
//! - the request is PascalCase; `AccountReference` at most 12 characters, `TransactionDesc` at
//!   most 13, `Amount` whole shillings, dates `yyyymmdd`; `Frequency` 1 one-off, 2 daily,
//!   3 weekly, 4 monthly, 5 bi-monthly, 6 quarterly, 7 half-yearly, 8 yearly;
//! - `CustomStoId`, a value of ours, is echoed in the result as `requestRefID`;
//! - the acknowledgement nests `ResponseHeader`/`ResponseBody`, success being `responseCode`
//!   `"200"` (an HTTP-style code, not Daraja's usual `"0"`);
//! - the result callback nests `responseHeader`/`responseBody.responseData`, a list of
//!   `name`/`value` pairs, success being `responseCode` `"0"`. The page writes the keys in both
//!   cases (`ResponseHeader` and `responseHeader`, `Name` and `name`), so they are read without
//!   regard to case; a body that names one key twice in different cases is refused.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use time::Date;
use time::macros::format_description;

use malipo_domain::Msisdn;
use malipo_domain::schedule::Frequency;

use super::{CallbackError, DarajaClient, DarajaError, MpesaAmount, ShortcodeKind, check_text};

/// Daraja's path for creating a standing order.
pub const CREATE_PATH: &str = "/standingorder/v1/createStandingOrderExternal";

/// The longest standing order name Malipo sends. The portal sets no limit; names are kept
/// short because the customer reads them in their M-Pesa menu.
pub const MAX_NAME: usize = 40;

/// `Frequency` as Daraja numbers it, for a policy's instalments.
pub fn frequency_code(frequency: Frequency) -> &'static str {
    match frequency {
        Frequency::Monthly => "4",
        Frequency::Quarterly => "6",
        Frequency::Annually => "8",
    }
}

/// A standing order as Malipo asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingOrder {
    /// Unique per customer: a customer cannot hold two orders of one name (result 1050).
    pub name: String,
    pub phone: Msisdn,
    pub amount: MpesaAmount,
    pub frequency: Frequency,
    pub start: Date,
    pub end: Date,
    /// The paybill account each run carries (the policy number), at most 12 characters.
    pub account_reference: String,
    /// At most 13 characters.
    pub description: String,
    /// Ours, echoed in the result as `requestRefID`.
    pub request_ref: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StandingOrderRequest {
    pub standing_order_name: String,
    pub start_date: String,
    pub end_date: String,
    pub business_short_code: String,
    pub transaction_type: String,
    pub receiver_party_identifier_type: String,
    pub amount: String,
    pub party_a: String,
    #[serde(rename = "CallBackURL")]
    pub call_back_url: String,
    pub account_reference: String,
    pub transaction_desc: String,
    pub frequency: String,
    pub custom_sto_id: String,
}

/// Daraja took the request: the PIN prompt is on its way to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderAccepted {
    /// `ResponseHeader.responseRefID`.
    pub response_ref: String,
    pub description: String,
}

/// What Safaricom posted once the customer answered (or did not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatibaResult {
    pub response_ref: String,
    /// Our `CustomStoId` (the response's reference when Safaricom sends none).
    pub request_ref: String,
    /// `responseHeader.responseCode`: `0` when the order was created.
    pub code: String,
    pub description: String,
    /// `responseData`, by name as written. Safaricom sends names that differ only in case
    /// (`status` for the order, `Status` for the request).
    pub data: BTreeMap<String, String>,
}

impl RatibaResult {
    pub fn created(&self) -> bool {
        self.code == "0"
    }

    /// The value named `name`: written exactly so, or else in any case.
    pub fn datum(&self, name: &str) -> Option<&str> {
        self.data
            .get(name)
            .or_else(|| {
                self.data
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .map(String::as_str)
    }

    /// Safaricom's reference for the order (`TransactionID`), when it gave a real one.
    pub fn transaction_id(&self) -> Option<&str> {
        self.datum("TransactionID")
            .filter(|t| !t.is_empty() && t.bytes().any(|b| b != b'0'))
    }

    /// Why the order was not created, in the office's words.
    pub fn failure(&self) -> String {
        let why = match self.code.as_str() {
            "1032" => "the holder cancelled the PIN prompt",
            "1037" => "the PIN prompt did not reach the holder's phone in time",
            "2001" => "a wrong M-Pesa PIN was entered",
            "1001" => "the holder's phone was busy with another M-Pesa session",
            "1025" => "M-Pesa could not send the PIN prompt",
            "1050" => "the holder already has a standing order of this name",
            "1051" => "M-Pesa refused the order's details",
            _ => "M-Pesa did not create the order",
        };
        let said: String = self.description.chars().take(200).collect();
        format!("{why} (code {}: {said})", self.code)
    }
}

fn nairobi_day(d: Date) -> String {
    d.format(format_description!("[year][month][day]"))
        .unwrap_or_default()
}

impl DarajaClient {
    /// The request for `order`; public so tests compare it with the portal's sample.
    pub fn standing_order_request(
        &self,
        order: &StandingOrder,
    ) -> Result<StandingOrderRequest, DarajaError> {
        if !matches!(self.config.kind, ShortcodeKind::Paybill) {
            return Err(DarajaError::Invalid(
                "a standing order's runs carry the policy number only on a paybill; this office's shortcode is a till".into(),
            ));
        }
        check_text("StandingOrderName", &order.name, MAX_NAME)?;
        check_text("AccountReference", &order.account_reference, 12)?;
        if !order
            .account_reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(DarajaError::Invalid(
                "AccountReference takes letters, digits and dashes".into(),
            ));
        }
        check_text("TransactionDesc", &order.description, 13)?;
        check_text("CustomStoId", &order.request_ref, 64)?;
        if order.end < order.start {
            return Err(DarajaError::Invalid(format!(
                "the order ends ({}) before it starts ({})",
                order.end, order.start
            )));
        }
        Ok(StandingOrderRequest {
            standing_order_name: order.name.clone(),
            start_date: nairobi_day(order.start),
            end_date: nairobi_day(order.end),
            business_short_code: self.config.shortcode.clone(),
            transaction_type: "Standing Order Customer Pay Bill".into(),
            receiver_party_identifier_type: "4".into(),
            amount: order.amount.shillings().to_string(),
            party_a: order.phone.as_str().to_owned(),
            call_back_url: self.config.callback_url.expose().to_owned(),
            account_reference: order.account_reference.clone(),
            transaction_desc: order.description.clone(),
            frequency: frequency_code(order.frequency).into(),
            custom_sto_id: order.request_ref.clone(),
        })
    }

    /// Asks Safaricom to create `order`: the customer gets a PIN prompt, and the result comes to
    /// the callback URL ([`parse_result`]).
    pub async fn create_standing_order(
        &self,
        order: &StandingOrder,
    ) -> Result<OrderAccepted, DarajaError> {
        let request = self.standing_order_request(order)?;
        let answer: Value = self.post(CREATE_PATH, &request).await?;
        read_ack(&answer)
    }
}

/// The acknowledgement: `ResponseHeader.responseCode` `"200"` when Daraja took the request.
pub fn read_ack(answer: &Value) -> Result<OrderAccepted, DarajaError> {
    let unexpected = |why: String| DarajaError::Unexpected(format!("{CREATE_PATH}: {why}"));
    let top = answer
        .as_object()
        .ok_or_else(|| unexpected("the answer is not an object".into()))?;
    let header = object(top, "responseheader")
        .map_err(unexpected)?
        .ok_or_else(|| unexpected("no ResponseHeader".into()))?;
    let code = text(header, "responsecode").map_err(unexpected)?;
    let description = text(header, "responsedescription")
        .map_err(unexpected)?
        .unwrap_or_default();
    match code.as_deref() {
        Some("200") => {}
        other => {
            return Err(DarajaError::Provider {
                status: 200,
                code: other.unwrap_or_default().to_owned(),
                message: description,
            });
        }
    }
    let response_ref = text(header, "responserefid")
        .map_err(unexpected)?
        .filter(|r| !r.is_empty())
        .ok_or_else(|| unexpected("no responseRefID".into()))?;
    Ok(OrderAccepted {
        response_ref,
        description,
    })
}

/// The value under `key` (lower case), whatever case the body wrote it in; an error when the
/// body wrote it twice.
fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a Value>, String> {
    let mut found = obj.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key));
    let first = found.next().map(|(_, v)| v);
    if found.next().is_some() {
        return Err(format!("{key} is written twice"));
    }
    Ok(first)
}

fn object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match get(obj, key)? {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(format!("{key} is not an object")),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => n
            .as_u64()
            .map(|u| u.to_string())
            .or_else(|| n.as_i64().map(|i| i.to_string())),
        _ => None,
    }
}

fn text(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match get(obj, key)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => scalar(v)
            .map(Some)
            .ok_or_else(|| format!("{key} is neither text nor a whole number")),
    }
}

/// Whether `body` reads like a Ratiba result (a `responseHeader` at the top), so the relay
/// tells it from the other results Safaricom posts to the same URL.
pub fn looks_like_result(body: &[u8]) -> bool {
    serde_json::from_slice::<Map<String, Value>>(body)
        .is_ok_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case("responseheader")))
}

/// Reads the result Safaricom posted for a standing order.
pub fn parse_result(body: &[u8]) -> Result<RatibaResult, CallbackError> {
    let shape = CallbackError::Ratiba;
    let top: Map<String, Value> = crate::strict_json(body).map_err(shape)?;
    let header = object(&top, "responseheader")
        .map_err(shape)?
        .ok_or_else(|| shape("no responseHeader".into()))?;
    let code = text(header, "responsecode")
        .map_err(shape)?
        .filter(|c| !c.is_empty())
        .ok_or(CallbackError::Missing("responseCode"))?;
    if code.len() > 16 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(CallbackError::ResultCode(code.chars().take(20).collect()));
    }
    let response_ref = text(header, "responserefid")
        .map_err(shape)?
        .filter(|r| !r.is_empty())
        .ok_or(CallbackError::Missing("responseRefID"))?;
    let request_ref = text(header, "requestrefid")
        .map_err(shape)?
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| response_ref.clone());
    let description = text(header, "responsedescription")
        .map_err(shape)?
        .unwrap_or_default();
    let mut data = BTreeMap::new();
    if let Some(body) = object(&top, "responsebody").map_err(shape)? {
        let items = match get(body, "responsedata").map_err(shape)? {
            None | Some(Value::Null) => &Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(shape("responseData is not a list".into())),
        };
        for item in items {
            let Value::Object(pair) = item else {
                return Err(shape("a responseData item is not an object".into()));
            };
            let name = text(pair, "name")
                .map_err(shape)?
                .ok_or_else(|| shape("a responseData item has no name".into()))?;
            let value = text(pair, "value").map_err(shape)?.unwrap_or_default();
            if data.insert(name.clone(), value).is_some() {
                return Err(shape(format!("responseData names {name} twice")));
            }
        }
    }
    Ok(RatibaResult {
        response_ref,
        request_ref,
        code,
        description,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The portal's successful callback (keys in lower camel case).
    const CREATED: &str = include_str!("../../tests/fixtures/daraja_ratiba_callback_success.json");
    /// The portal's unsuccessful callback (keys in upper camel case).
    const REFUSED: &str =
        include_str!("../../tests/fixtures/daraja_ratiba_callback_failed_1037.json");

    #[test]
    fn the_published_results_read_in_either_case() {
        let ok = parse_result(CREATED.as_bytes()).unwrap();
        assert!(ok.created());
        assert_eq!(ok.transaction_id(), Some("SC8F2IQMH5"));
        assert_eq!(ok.request_ref, "0acc0239-20fa-4a52-8b9d-9bd64c0465c3");
        assert_eq!(ok.datum("status"), Some("OKAY"), "read in any case");

        let no = parse_result(REFUSED.as_bytes()).unwrap();
        assert!(!no.created());
        assert_eq!(no.code, "1037");
        assert_eq!(no.request_ref, "c8c2bb31-3b3a-402e-84fc-21ef35161e48");
        assert_eq!(no.transaction_id(), None, "ten zeros are no reference");
        assert!(no.failure().contains("did not reach"), "{}", no.failure());
        assert!(looks_like_result(CREATED.as_bytes()));
        assert!(looks_like_result(REFUSED.as_bytes()));
    }

    #[test]
    fn a_result_that_cannot_be_read_one_way_is_refused() {
        let twice = CREATED.replacen(
            "\"responseBody\"",
            "\"ResponseHeader\": {\"responseCode\": \"0\"}, \"responseBody\"",
            1,
        );
        assert!(parse_result(twice.as_bytes()).is_err());
        let no_code = CREATED.replace("\"responseCode\": \"0\",", "");
        assert_eq!(
            parse_result(no_code.as_bytes()),
            Err(CallbackError::Missing("responseCode"))
        );
        let named_twice = CREATED.replace("\"Status\"", "\"TransactionID\"");
        assert!(parse_result(named_twice.as_bytes()).is_err());
        // Names that differ only in case are two facts (the order's status, the request's).
        let both = CREATED.replace(
            "{ \"name\": \"Status\", \"value\": \"OKAY\" },",
            "{ \"name\": \"Status\", \"value\": \"OKAY\" }, { \"name\": \"status\", \"value\": \"ACTIVE\" },",
        );
        assert_ne!(both, CREATED);
        let read = parse_result(both.as_bytes()).unwrap();
        assert_eq!(
            (read.datum("Status"), read.datum("status")),
            (Some("OKAY"), Some("ACTIVE"))
        );
        assert!(parse_result(b"[1]").is_err());
        let stk = include_str!("../../tests/fixtures/daraja_stk_callback_success.json");
        assert!(!looks_like_result(stk.as_bytes()));
    }

    #[test]
    fn the_acknowledgement_says_200_when_taken() {
        let ack: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/daraja_ratiba_response.json"
        ))
        .unwrap();
        let taken = read_ack(&ack).unwrap();
        assert_eq!(taken.response_ref, "4dd9b5d9-d738-42ba-9326-2cc99e966000");
        let mut refused = ack.clone();
        refused["ResponseHeader"]["responseCode"] = "500".into();
        assert!(matches!(
            read_ack(&refused),
            Err(DarajaError::Provider { code, .. }) if code == "500"
        ));
    }
}
