//! Daraja's M-Pesa Express, as its documentation describes it: OAuth, STK push, STK Push
//! Query, reversals, and the callbacks that follow.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::{format_description, offset};

use crate::{Sandbox, header, lock};

/// Test phone numbers and what the simulated customer does.
pub const SCENARIOS: [(&str, &str); 7] = [
    (
        "254708374149",
        "pays (Safaricom's sandbox test number; any number not listed here pays too)",
    ),
    ("254700000001", "has too little money: ResultCode 1"),
    ("254700000032", "cancels the prompt: ResultCode 1032"),
    (
        "254700000037",
        "cannot be reached: ResultCode 1037, and no callback is ever sent",
    ),
    ("254700002001", "types a wrong PIN: ResultCode 2001"),
    ("254700001019", "lets the prompt expire: ResultCode 1019"),
    ("254700000017", "is rule-limited: ResultCode 17"),
];

/// What the customer with `phone` does: result code, description, and whether Safaricom
/// sends a callback at all.
pub fn outcome_for(phone: &str) -> (&'static str, &'static str, bool) {
    match phone {
        "254700000001" => (
            "1",
            "The balance is insufficient for the transaction.",
            true,
        ),
        "254700000032" => ("1032", "Request cancelled by user", true),
        "254700000037" => ("1037", "DS timeout user cannot be reached", false),
        "254700002001" => ("2001", "The initiator information is invalid.", true),
        "254700001019" => ("1019", "Transaction has expired", true),
        "254700000017" => ("17", "System internal error.", true),
        _ => ("0", "The service request is processed successfully.", true),
    }
}

#[derive(Debug, Clone)]
pub(crate) struct StkTx {
    merchant_request_id: String,
    amount: i64,
    phone: String,
    /// The push's `AccountReference`: a paid push's C2B confirmation carries it as
    /// `BillRefNumber`.
    account: String,
    /// Set once the customer has acted: (code, description).
    result: Option<(String, String)>,
    receipt: Option<String>,
}

#[derive(Debug)]
pub(crate) struct DarajaState {
    pub(crate) next: u64,
    /// The next M-Pesa receipt's serial: it starts from the clock, so a restarted simulator
    /// never issues a receipt number an earlier one did (M-Pesa's are unique for good).
    pub(crate) receipts: u64,
    stk: HashMap<String, StkTx>,
    /// Receipt → (amount paid, amount reversed).
    pub(crate) paid: HashMap<String, (i64, i64)>,
}

impl Default for DarajaState {
    fn default() -> Self {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        DarajaState {
            next: 0,
            receipts: u64::try_from(millis).unwrap_or(0),
            stk: HashMap::new(),
            paid: HashMap::new(),
        }
    }
}

/// A receipt number shaped like M-Pesa's: ten upper-case letters and digits.
pub(crate) fn receipt_number(serial: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = [b'0'; 9];
    let mut n = serial;
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[usize::try_from(n % 36).unwrap_or(0)];
        n /= 36;
    }
    format!("S{}", String::from_utf8_lossy(&out))
}

/// The serial of a receipt number this simulator (or an earlier run of it) issued.
fn receipt_serial(receipt: &str) -> Option<u64> {
    let digits = receipt.strip_prefix('S').filter(|d| d.len() == 9)?;
    u64::from_str_radix(&digits.to_ascii_lowercase(), 36).ok()
}

pub(crate) fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/oauth/v1/generate", get(token))
        .route("/mpesa/stkpush/v1/processrequest", post(stk_push))
        .route("/mpesa/stkpushquery/v1/query", post(stk_query))
        .route("/mpesa/reversal/v1/request", post(reversal))
}

pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"requestId": format!("sandbox-{}", OffsetDateTime::now_utc().unix_timestamp_nanos()), "errorCode": code, "errorMessage": message});
    (status, Json(body)).into_response()
}

pub(crate) fn bad_request(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "400.002.02",
        &format!("Bad Request - {message}"),
    )
}

pub(crate) fn nairobi_stamp(at: OffsetDateTime) -> String {
    at.to_offset(offset!(+3))
        .format(format_description!(
            "[year][month][day][hour][minute][second]"
        ))
        .unwrap_or_default()
}

async fn token(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.bump(|st| st.token_requests += 1);
    if let Some(r) = s.injected_failure(true) {
        return r;
    }
    if q.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return error(
            StatusCode::BAD_REQUEST,
            "400.008.02",
            "Invalid grant type passed",
        );
    }
    let expected = format!(
        "Basic {}",
        BASE64.encode(format!(
            "{}:{}",
            s.config().consumer_key,
            s.config().consumer_secret
        ))
    );
    if header(&headers, "authorization") != Some(expected.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            "400.008.01",
            "Invalid Authentication passed",
        );
    }
    let token: String = {
        let mut d = lock(&s.0.daraja);
        d.next += 1;
        format!(
            "sbx{:012}{}",
            d.next,
            OffsetDateTime::now_utc().unix_timestamp() % 100_000
        )
    };
    let ttl = s.config().token_ttl_secs;
    lock(&s.0.tokens).insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
    // Older Daraja deployments send expires_in as a string; the current one sends a number.
    Json(json!({"access_token": token, "expires_in": ttl})).into_response()
}

/// Refuses a request without a live token, as Daraja does (`404.001.03`).
pub(crate) fn check_token(s: &Sandbox, headers: &HeaderMap) -> Result<(), Response> {
    let token = header(headers, "authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    let live = lock(&s.0.tokens)
        .get(token)
        .is_some_and(|exp| Instant::now() < *exp);
    if live {
        Ok(())
    } else {
        Err(error(
            StatusCode::NOT_FOUND,
            "404.001.03",
            "Invalid Access Token",
        ))
    }
}

pub(crate) fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Checks `Password` against `base64(shortcode + passkey + Timestamp)`.
fn check_password(s: &Sandbox, body: &Value) -> Result<String, Response> {
    let shortcode =
        text(body, "BusinessShortCode").ok_or_else(|| bad_request("Invalid BusinessShortCode"))?;
    if shortcode != s.config().shortcode {
        return Err(bad_request("Invalid BusinessShortCode"));
    }
    let ts = text(body, "Timestamp").unwrap_or_default();
    if ts.len() != 14 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_request("Invalid Timestamp"));
    }
    let expected = BASE64.encode(format!("{shortcode}{}{ts}", s.config().passkey));
    if text(body, "Password").as_deref() != Some(expected.as_str()) {
        return Err(bad_request("Invalid Password"));
    }
    Ok(shortcode)
}

async fn stk_push(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    s.bump(|st| st.stk_pushes += 1);
    if let Err(r) = check_token(&s, &headers) {
        return r;
    }
    if let Some(r) = s.daraja_failure().await {
        return r;
    }
    let shortcode = match check_password(&s, &body) {
        Ok(sc) => sc,
        Err(r) => return r,
    };
    let kind = text(&body, "TransactionType").unwrap_or_default();
    let party_b = text(&body, "PartyB").unwrap_or_default();
    let wrong_till = match kind.as_str() {
        "CustomerPayBillOnline" => {
            if party_b != shortcode {
                return bad_request("Invalid PartyB");
            }
            false
        }
        "CustomerBuyGoodsOnline" => !s.config().tills.contains(&party_b),
        _ => return bad_request("Invalid TransactionType"),
    };
    let amount: i64 = match text(&body, "Amount").and_then(|a| a.parse().ok()) {
        Some(a) if (1..=250_000).contains(&a) => a,
        _ => return bad_request("Invalid Amount"),
    };
    let phone = text(&body, "PhoneNumber").unwrap_or_default();
    let phone_ok = phone.len() == 12
        && (phone.starts_with("2547") || phone.starts_with("2541"))
        && phone.bytes().all(|b| b.is_ascii_digit());
    if !phone_ok || text(&body, "PartyA").as_deref() != Some(phone.as_str()) {
        return bad_request("Invalid PhoneNumber");
    }
    let callback = text(&body, "CallBackURL").unwrap_or_default();
    if !(callback.starts_with("http://") || callback.starts_with("https://")) {
        return bad_request("Invalid CallBackURL");
    }
    let reference = text(&body, "AccountReference").unwrap_or_default();
    if reference.is_empty() || reference.chars().count() > 12 {
        return bad_request("Invalid AccountReference");
    }
    let desc = text(&body, "TransactionDesc").unwrap_or_default();
    if desc.is_empty() || desc.chars().count() > 13 {
        return bad_request("Invalid TransactionDesc");
    }

    let now = OffsetDateTime::now_utc();
    let (merchant_request_id, checkout_request_id) = {
        let mut d = lock(&s.0.daraja);
        d.next += 1;
        let n = d.next;
        let ids = (
            format!("{:05}-{:08}-1", n % 100_000, n),
            format!("ws_CO_{}{:06}", nairobi_stamp(now), n),
        );
        d.stk.insert(
            ids.1.clone(),
            StkTx {
                merchant_request_id: ids.0.clone(),
                amount,
                phone: phone.clone(),
                account: reference.clone(),
                result: None,
                receipt: None,
            },
        );
        ids
    };
    let delay = Duration::from_millis(s.behaviour().customer_delay_ms);
    let me = s.clone();
    let id = checkout_request_id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        me.customer_acts(&id, &callback, wrong_till);
    });
    Json(json!({
        "MerchantRequestID": merchant_request_id,
        "CheckoutRequestID": checkout_request_id,
        "ResponseCode": "0",
        "ResponseDescription": "Success. Request accepted for processing",
        "CustomerMessage": "Success. Request accepted for processing"
    }))
    .into_response()
}

impl Sandbox {
    fn customer_acts(&self, checkout_request_id: &str, callback: &str, wrong_till: bool) {
        let mut paid = None;
        let body = {
            let mut guard = lock(&self.0.daraja);
            let d = &mut *guard;
            d.receipts += 1;
            let receipt_no = receipt_number(d.receipts);
            let Some(tx) = d.stk.get_mut(checkout_request_id) else {
                return;
            };
            let (code, desc, send) = if wrong_till {
                ("SFC_IC0003", "The operator does not exist.", true)
            } else {
                outcome_for(&tx.phone)
            };
            tx.result = Some((code.to_owned(), desc.to_owned()));
            // Callbacks carry ResultCode as a number, except codes that are not numbers.
            let result_code = code
                .parse::<i64>()
                .map(|n| json!(n))
                .unwrap_or_else(|_| json!(code));
            let mut stk = json!({
                "MerchantRequestID": tx.merchant_request_id,
                "CheckoutRequestID": checkout_request_id,
                "ResultCode": result_code,
                "ResultDesc": desc,
            });
            if code == "0" {
                tx.receipt = Some(receipt_no.clone());
                let phone: u64 = tx.phone.parse().unwrap_or(0);
                let stamp: u64 = nairobi_stamp(OffsetDateTime::now_utc())
                    .parse()
                    .unwrap_or(0);
                stk["CallbackMetadata"] = json!({"Item": [
                    {"Name": "Amount", "Value": tx.amount},
                    {"Name": "MpesaReceiptNumber", "Value": receipt_no},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": stamp},
                    {"Name": "PhoneNumber", "Value": phone},
                ]});
                d.paid.insert(receipt_no.clone(), (tx.amount, 0));
                paid = Some((receipt_no, tx.amount, tx.phone.clone(), tx.account.clone()));
            }
            send.then(|| json!({"Body": {"stkCallback": stk}}))
        };
        let behaviour = self.behaviour();
        if let Some(body) = body {
            if behaviour.lose_stk_callbacks {
                self.bump(|s| s.callbacks_dropped += 1);
            } else {
                self.deliver(
                    callback.to_owned(),
                    body.to_string().into_bytes(),
                    Vec::new(),
                );
            }
        }
        if let Some((receipt, amount, phone, account)) = paid {
            self.express_paid(&receipt, amount, &phone, &account);
        }
    }
}

async fn stk_query(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    s.bump(|st| st.stk_queries += 1);
    if let Err(r) = check_token(&s, &headers) {
        return r;
    }
    if let Some(r) = s.daraja_failure().await {
        return r;
    }
    if let Err(r) = check_password(&s, &body) {
        return r;
    }
    let id = text(&body, "CheckoutRequestID").unwrap_or_default();
    let found = lock(&s.0.daraja).stk.get(&id).cloned();
    let Some(tx) = found else {
        return bad_request("Invalid CheckoutRequestID");
    };
    match tx.result {
        None => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500.001.1001",
            "The transaction is being processed",
        ),
        Some((code, desc)) => Json(json!({
            "ResponseCode": "0",
            "ResponseDescription": "The service request has been accepted successsfully",
            "MerchantRequestID": tx.merchant_request_id,
            "CheckoutRequestID": id,
            "ResultCode": code,
            "ResultDesc": desc,
        }))
        .into_response(),
    }
}

/// The checks every initiator command (reversal, Transaction Status) passes first, as Daraja
/// makes them: the access token, an injected failure, the initiator's name and its encrypted
/// password, and the command.
pub(crate) fn initiator_request(
    s: &Sandbox,
    headers: &HeaderMap,
    body: &Value,
    command: &str,
) -> Result<(), Response> {
    check_token(s, headers)?;
    if let Some(r) = s.injected_failure(true) {
        return Err(r);
    }
    if text(body, "Initiator").as_deref() != Some(s.config().initiator_name.as_str()) {
        return Err(bad_request("Invalid Initiator"));
    }
    let credential = text(body, "SecurityCredential").unwrap_or_default();
    if decrypt_credential(&credential).as_deref() != Some(s.config().initiator_password.as_str()) {
        return Err(bad_request("Invalid SecurityCredential"));
    }
    if text(body, "CommandID").as_deref() != Some(command) {
        return Err(bad_request("Invalid CommandID"));
    }
    Ok(())
}

pub(crate) fn decrypt_credential(credential: &str) -> Option<String> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(crate::SIMULATOR_KEY_PEM).ok()?;
    let sealed = BASE64.decode(credential).ok()?;
    let plain = key.decrypt(rsa::Pkcs1v15Encrypt, &sealed).ok()?;
    String::from_utf8(plain).ok()
}

async fn reversal(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    s.bump(|st| st.reversals += 1);
    if let Err(r) = initiator_request(&s, &headers, &body, "TransactionReversal") {
        return r;
    }
    if text(&body, "ReceiverParty").as_deref() != Some(s.config().shortcode.as_str())
        || text(&body, "RecieverIdentifierType").as_deref() != Some("11")
    {
        return bad_request("Invalid ReceiverParty");
    }
    let result_url = text(&body, "ResultURL").unwrap_or_default();
    if !(result_url.starts_with("http://") || result_url.starts_with("https://")) {
        return bad_request("Invalid ResultURL");
    }
    let receipt = text(&body, "TransactionID").unwrap_or_default();
    let amount: i64 = match text(&body, "Amount").and_then(|a| a.parse().ok()) {
        Some(a) if a >= 1 => a,
        _ => return bad_request("Invalid Amount"),
    };
    let (conversation, originator, outcome) = {
        let mut d = lock(&s.0.daraja);
        d.next += 1;
        let n = d.next;
        let issued_before_restart = receipt_serial(&receipt).is_some_and(|n| n < d.receipts);
        let outcome = match d.paid.get_mut(&receipt) {
            // Issued by an earlier run, whose ledger died with it: reversed without the
            // amount check (demo mode starts a new simulator each time the app starts).
            None if issued_before_restart => {
                ("0", "The service request is processed successfully.")
            }
            None => (
                "R000001",
                "The transaction being reversed does not exist or is not reversible.",
            ),
            Some((paid, reversed)) if *reversed + amount > *paid => (
                "R000002",
                "The reversal amount exceeds the original transaction amount.",
            ),
            Some((_, reversed)) => {
                *reversed += amount;
                ("0", "The service request is processed successfully.")
            }
        };
        (
            format!("AG_{}_{n:08}", nairobi_stamp(OffsetDateTime::now_utc())),
            format!("{:05}-{n:08}-1", n % 100_000),
            outcome,
        )
    };
    let result = json!({"Result": {
        "ResultType": 0,
        "ResultCode": if outcome.0 == "0" { json!(0) } else { json!(outcome.0) },
        "ResultDesc": outcome.1,
        "OriginatorConversationID": originator,
        "ConversationID": conversation,
        "TransactionID": format!("RV{}", &conversation[conversation.len() - 8..]),
        "ResultParameters": {"ResultParameter": [
            {"Key": "Amount", "Value": format!("{amount}.00")},
            {"Key": "OriginalTransactionID", "Value": receipt},
            {"Key": "TransCompletedTime", "Value": nairobi_stamp(OffsetDateTime::now_utc()).parse::<u64>().unwrap_or(0)},
        ]},
        "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": text(&body, "QueueTimeOutURL").unwrap_or_default()}},
    }});
    let me = s.clone();
    let delay = Duration::from_millis(s.behaviour().customer_delay_ms);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        me.deliver(result_url, result.to_string().into_bytes(), Vec::new());
    });
    Json(json!({
        "OriginatorConversationID": originator,
        "ConversationID": conversation,
        "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully."
    }))
    .into_response()
}

#[cfg(test)]
mod receipt_tests {
    use super::{DarajaState, receipt_number, receipt_serial};

    #[test]
    fn receipts_look_like_m_pesa_and_never_repeat_across_restarts() {
        let r = receipt_number(1_795_779_097_968);
        assert_eq!(r.len(), 10);
        assert!(
            r.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
            "{r}"
        );
        assert_eq!(receipt_serial(&r), Some(1_795_779_097_968));
        assert_eq!(receipt_serial("NLJ7RT61SV"), None, "not one of ours");
        let earlier = DarajaState::default().receipts;
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(
            DarajaState::default().receipts > earlier,
            "a later start numbers higher"
        );
    }
}
