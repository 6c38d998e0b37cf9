//! Paystack, as its documentation describes it: initialize, verify, charge_authorization,
//! the transaction list, refunds, a hosted checkout page with the documented test cards, and
//! `charge.success` / `refund.*` webhooks signed with HMAC-SHA512 of the exact body.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha512;

use crate::{Sandbox, header, lock, now_rfc3339};

#[derive(Debug)]
pub struct TestCard {
    pub number: &'static str,
    pub label: &'static str,
    pub brand: &'static str,
    pub succeeds: bool,
}

/// Paystack's documented test cards.
pub const CARDS: [TestCard; 2] = [
    TestCard {
        number: "4084084084084081",
        label: "Visa, succeeds (CVV 408, any future expiry, PIN 0000, OTP 123456)",
        brand: "visa",
        succeeds: true,
    },
    TestCard {
        number: "4084080000005408",
        label: "Visa, declined",
        brand: "visa",
        succeeds: false,
    },
];

#[derive(Debug, Clone)]
pub(crate) struct PsTx {
    id: u64,
    reference: String,
    access_code: String,
    email: String,
    amount: i64,
    currency: String,
    status: String,
    gateway_response: Option<String>,
    callback_url: Option<String>,
    metadata: Value,
    created_at: String,
    paid_at: Option<String>,
    authorization: Option<Value>,
    refunded: i64,
    /// How it was paid: `card`, or `ussd`, `bank_transfer`, `qr`, `mobile_money`.
    channel: String,
}

#[derive(Debug, Clone)]
pub(crate) struct PsRefund {
    id: u64,
    reference: String,
    amount: i64,
    currency: String,
    status: String,
    created_at: String,
}

#[derive(Debug, Default)]
pub(crate) struct PaystackState {
    next: u64,
    txs: Vec<PsTx>,
    refunds: Vec<PsRefund>,
    /// Authorizations Paystack will not charge again (the card expired).
    dead: Vec<String>,
}

impl PaystackState {
    fn by_reference(&mut self, reference: &str) -> Option<&mut PsTx> {
        self.txs.iter_mut().find(|t| t.reference == reference)
    }
}

pub(crate) fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/transaction/initialize", post(initialize))
        .route("/transaction/verify/{reference}", get(verify))
        .route(
            "/transaction/charge_authorization",
            post(charge_authorization),
        )
        .route("/transaction", get(list))
        .route("/refund", post(refund).get(refund_list))
        .route("/refund/{id}", get(refund_fetch))
        .route(
            "/checkout/{access_code}",
            get(checkout_page).post(checkout_pay),
        )
        .route("/charge", post(charge_mobile_money))
        .route("/__sandbox/paystack/pay", post(pay_directly))
}

fn fail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"status": false, "message": message}))).into_response()
}

fn check_key(s: &Sandbox, headers: &HeaderMap) -> Result<(), Response> {
    s.bump(|st| st.paystack_requests += 1);
    let expected = format!("Bearer {}", s.config().paystack_secret);
    if header(headers, "authorization") != Some(expected.as_str()) {
        return Err(fail(StatusCode::UNAUTHORIZED, "Invalid key"));
    }
    if let Some(r) = s.injected_failure(false) {
        return Err(r);
    }
    Ok(())
}

/// Subunits given as a number or a string of digits.
fn subunits(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|a| *a > 0)
}

fn tx_json(t: &PsTx) -> Value {
    json!({
        "id": t.id,
        "domain": "test",
        "status": t.status,
        "reference": t.reference,
        "receipt_number": null,
        "amount": t.amount,
        "message": null,
        "gateway_response": t.gateway_response,
        "paid_at": t.paid_at,
        "created_at": t.created_at,
        "channel": t.channel,
        "currency": t.currency,
        "ip_address": "127.0.0.1",
        // Paystack echoes metadata back, or "" when none was given.
        "metadata": if t.metadata.is_null() { json!("") } else { t.metadata.clone() },
        "fees": if t.status == "success" { json!(t.amount * 15 / 1000) } else { json!(null) },
        "authorization": t.authorization.clone().unwrap_or_else(|| json!({})),
        "customer": {"id": 181_873_746, "email": t.email, "customer_code": "CUS_sandbox", "metadata": null, "risk_action": "default"},
        "plan": null,
        "paidAt": t.paid_at,
        "createdAt": t.created_at,
        "requested_amount": t.amount,
    })
}

fn sign(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha512>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Sandbox {
    fn webhook(&self, event: &str, data: Value) {
        let Some(url) = self.config().paystack_webhook_url.clone() else {
            return;
        };
        let body = json!({"event": event, "data": data})
            .to_string()
            .into_bytes();
        let signature = sign(&self.config().paystack_secret, &body);
        self.deliver(url, body, vec![("x-paystack-signature".into(), signature)]);
    }

    /// The customer pays `reference` with `card`, as on the checkout page, without a browser.
    /// Returns the transaction's status afterwards (`success` or `failed`).
    pub fn pay_checkout(&self, reference: &str, card: &str) -> Result<String, String> {
        self.pay(reference, card).map(|t| t.status)
    }

    /// The customer pays `reference` on the checkout page another way than a card: `ussd`,
    /// `bank_transfer`, `qr` or `mobile_money`. Paystack then reports an authorization that is
    /// not a card (brand "offline" or the wallet, last four "XXXX", not reusable).
    pub fn pay_checkout_by(&self, reference: &str, channel: &str) -> Result<String, String> {
        let instrument = match channel {
            "ussd" => ("offline", "Guaranty Trust Bank"),
            "bank_transfer" => ("Managed Account", "Wema Bank"),
            "qr" => ("visa", "Zenith Bank"),
            "mobile_money" => ("M-Pesa", "M-PESA"),
            other => return Err(format!("{other} is not a channel the simulator pays by")),
        };
        let done = {
            let mut guard = lock(&self.0.paystack);
            let Some(t) = guard.txs.iter_mut().find(|t| t.reference == reference) else {
                return Err("no such transaction".into());
            };
            if t.status != "abandoned" {
                return Err(format!("this transaction is already {}", t.status));
            }
            t.status = "success".into();
            t.gateway_response = Some("Approved".into());
            t.paid_at = Some(now_rfc3339());
            t.channel = channel.to_owned();
            t.authorization = Some(json!({
                "authorization_code": format!("AUTH_sbx{channel}{}", t.id),
                "bin": "XXXXXX",
                "last4": "XXXX",
                "exp_month": "01",
                "exp_year": "2099",
                "channel": channel,
                "card_type": instrument.0,
                "bank": instrument.1,
                "country_code": "KE",
                "brand": instrument.0,
                "reusable": false,
                "signature": null,
                "account_name": null,
            }));
            t.clone()
        };
        self.webhook("charge.success", tx_json(&done));
        Ok(done.status)
    }

    /// The customer pays `reference` with `card` on the checkout page.
    fn pay(&self, reference: &str, card: &str) -> Result<PsTx, String> {
        let card = card.replace([' ', '-'], "");
        let Some(test) = CARDS.iter().find(|c| c.number == card) else {
            return Err("not one of Paystack's test cards".into());
        };
        let delta = self.behaviour().paystack_amount_delta_minor;
        let done = {
            let mut guard = lock(&self.0.paystack);
            let st = &mut *guard;
            let Some(t) = st.txs.iter_mut().find(|t| t.reference == reference) else {
                return Err("no such transaction".into());
            };
            if t.status != "abandoned" {
                return Err(format!("this transaction is already {}", t.status));
            }
            if test.succeeds {
                t.status = "success".into();
                t.gateway_response = Some("Successful".into());
                t.paid_at = Some(now_rfc3339());
                t.amount += delta;
                t.authorization = Some(authorization(test, &t.email));
            } else {
                t.status = "failed".into();
                t.gateway_response = Some("Declined".into());
            }
            t.clone()
        };
        if done.status == "success" {
            self.webhook("charge.success", tx_json(&done));
        }
        Ok(done)
    }
}

async fn initialize(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = check_key(&s, &headers) {
        return r;
    }
    let email = body
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned();
    if email.is_empty() {
        return fail(StatusCode::BAD_REQUEST, "Email Address is required");
    }
    if !email.contains('@') {
        return fail(StatusCode::BAD_REQUEST, "Invalid Email Address passed");
    }
    let Some(amount) = subunits(body.get("amount")) else {
        return fail(StatusCode::BAD_REQUEST, "Invalid Amount Sent");
    };
    let currency = body
        .get("currency")
        .and_then(Value::as_str)
        .unwrap_or("KES")
        .to_owned();
    if !["KES", "NGN", "GHS", "ZAR", "USD"].contains(&currency.as_str()) {
        return fail(
            StatusCode::BAD_REQUEST,
            "Currency not supported by merchant",
        );
    }
    let mut st = lock(&s.0.paystack);
    st.next += 1;
    let n = st.next;
    let reference = body
        .get("reference")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("sbx{n:08}"));
    if st.txs.iter().any(|t| t.reference == reference) {
        return fail(StatusCode::BAD_REQUEST, "Duplicate Transaction Reference");
    }
    let access_code = format!("sbxac{n:010}");
    st.txs.push(PsTx {
        id: 4_099_000_000 + n,
        reference: reference.clone(),
        access_code: access_code.clone(),
        email,
        amount,
        currency,
        status: "abandoned".into(),
        gateway_response: None,
        callback_url: body
            .get("callback_url")
            .and_then(Value::as_str)
            .map(str::to_owned),
        metadata: body.get("metadata").cloned().unwrap_or(Value::Null),
        created_at: now_rfc3339(),
        paid_at: None,
        authorization: None,
        refunded: 0,
        channel: "card".into(),
    });
    Json(json!({
        "status": true,
        "message": "Authorization URL created",
        "data": {
            "authorization_url": format!("{}/checkout/{access_code}", s.config().public_url),
            "access_code": access_code,
            "reference": reference,
        }
    }))
    .into_response()
}

async fn verify(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Response {
    if let Err(r) = check_key(&s, &headers) {
        return r;
    }
    let found = lock(&s.0.paystack).by_reference(&reference).cloned();
    match found {
        Some(t) => {
            Json(json!({"status": true, "message": "Verification successful", "data": tx_json(&t)}))
                .into_response()
        }
        None => fail(StatusCode::BAD_REQUEST, "Transaction reference not found"),
    }
}

/// `POST /charge` with `mobile_money` (M-Pesa through Paystack Kenya): the charge is `ongoing`
/// while the customer approves on their phone (`pay_offline`), then succeeds or fails as the
/// phone's Daraja scenario says (0700 000 032 cancels, 0700 000 001 has too little money, any
/// other number pays), and Paystack's webhook follows; verify tells the same.
async fn charge_mobile_money(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = check_key(&s, &headers) {
        return r;
    }
    let email = body
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned();
    if !email.contains('@') {
        return fail(StatusCode::BAD_REQUEST, "Invalid Email Address passed");
    }
    let Some(amount) = subunits(body.get("amount")) else {
        return fail(StatusCode::BAD_REQUEST, "Invalid Amount Sent");
    };
    if body.get("currency").and_then(Value::as_str) != Some("KES") {
        return fail(
            StatusCode::BAD_REQUEST,
            "Currency not supported by merchant",
        );
    }
    let mm = body.get("mobile_money");
    let phone = mm
        .and_then(|m| m.get("phone"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let digits: String = phone.trim_start_matches('+').to_owned();
    if !(digits.len() == 12
        && (digits.starts_with("2547") || digits.starts_with("2541"))
        && digits.bytes().all(|b| b.is_ascii_digit()))
    {
        return fail(StatusCode::BAD_REQUEST, "Invalid phone number");
    }
    if mm.and_then(|m| m.get("provider")).and_then(Value::as_str) != Some("mpesa") {
        return fail(StatusCode::BAD_REQUEST, "Invalid mobile money provider");
    }
    let reference = {
        let mut st = lock(&s.0.paystack);
        st.next += 1;
        let n = st.next;
        let reference = body
            .get("reference")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("sbx{n:08}"));
        if st.txs.iter().any(|t| t.reference == reference) {
            return fail(StatusCode::BAD_REQUEST, "Duplicate Transaction Reference");
        }
        st.txs.push(PsTx {
            id: 4_099_000_000 + n,
            reference: reference.clone(),
            access_code: String::new(),
            email,
            amount,
            currency: "KES".into(),
            status: "ongoing".into(),
            gateway_response: None,
            callback_url: None,
            metadata: body.get("metadata").cloned().unwrap_or(Value::Null),
            created_at: now_rfc3339(),
            paid_at: None,
            authorization: None,
            refunded: 0,
            channel: "mobile_money".into(),
        });
        reference
    };
    let (code, _, _) = crate::daraja::outcome_for(&digits);
    let delay = std::time::Duration::from_millis(s.behaviour().customer_delay_ms);
    let later = s.clone();
    let settled = reference.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let done = {
            let mut guard = lock(&later.0.paystack);
            let Some(t) = guard.txs.iter_mut().find(|t| t.reference == settled) else {
                return;
            };
            if code == "0" {
                t.status = "success".into();
                t.gateway_response = Some("Approved".into());
                t.paid_at = Some(now_rfc3339());
                t.authorization = Some(json!({
                    "authorization_code": format!("AUTH_sbxmm{}", t.id),
                    "bin": "XXXXXX", "last4": "XXXX", "exp_month": "12", "exp_year": "9999",
                    "channel": "mobile_money", "card_type": "", "bank": "M-PESA",
                    "country_code": "KE", "brand": "M-PESA", "reusable": false,
                    "signature": null, "account_name": null,
                }));
            } else {
                t.status = "failed".into();
                t.gateway_response = Some(if code == "1032" {
                    "Request cancelled by user".into()
                } else {
                    "The balance is insufficient for the transaction".into()
                });
            }
            t.clone()
        };
        if done.status == "success" {
            later.webhook("charge.success", tx_json(&done));
        }
    });
    Json(json!({
        "status": true,
        "message": "Charge attempted",
        "data": {
            "reference": reference,
            "status": "pay_offline",
            "display_text": "Please complete authorization process on your mobile phone",
        }
    }))
    .into_response()
}

/// The reusable authorization a successful charge of `card` by `email` leaves. Its code is
/// derived from the two, so a restarted simulator (the desktop's demo mode starts a new one
/// each time) still honours the codes it issued, as Paystack does.
/// The authorization Paystack's test card `number` gets for `email` (the same every time), as
/// the demo office keeps a card saved before it opened.
pub fn test_authorization(number: &str, email: &str) -> Option<Value> {
    CARDS
        .iter()
        .find(|c| c.number == number)
        .map(|c| authorization(c, email))
}

fn authorization(card: &TestCard, email: &str) -> Value {
    use sha2::Digest;
    let n = card.number;
    let owner: String = sha2::Sha256::digest(email.as_bytes())[..5]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({
        "authorization_code": format!("AUTH_sbx{}{owner}", &n[n.len() - 4..]),
        "bin": &n[..6],
        "last4": &n[n.len() - 4..],
        "exp_month": "12",
        "exp_year": "2030",
        "channel": "card",
        "card_type": format!("{} ", card.brand),
        "bank": "TEST BANK",
        "country_code": "NG",
        "brand": card.brand,
        "reusable": true,
        "signature": format!("SIG_sbx{}", &n[n.len() - 4..]),
        "account_name": null,
    })
}

async fn charge_authorization(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = check_key(&s, &headers) {
        return r;
    }
    let Some(amount) = subunits(body.get("amount")) else {
        return fail(StatusCode::BAD_REQUEST, "Invalid Amount Sent");
    };
    let email = body
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let code = body
        .get("authorization_code")
        .and_then(Value::as_str)
        .unwrap_or("");
    let behaviour = s.behaviour();
    let tx = {
        let mut st = lock(&s.0.paystack);
        let Some(card) = code
            .strip_prefix("AUTH_sbx")
            .and_then(|rest| rest.get(..4))
            .and_then(|last4| {
                CARDS
                    .iter()
                    .find(|c| c.succeeds && c.number.ends_with(last4))
            })
        else {
            return fail(StatusCode::BAD_REQUEST, "Invalid authorization code");
        };
        let mut auth = authorization(card, &email);
        if auth["authorization_code"] != code {
            return fail(
                StatusCode::BAD_REQUEST,
                "Authorization code does not belong to this customer",
            );
        }
        if st.dead.iter().any(|d| d == code) {
            return fail(
                StatusCode::BAD_REQUEST,
                "This authorization is not reusable",
            );
        }
        let (status, gateway) = match behaviour.card_charge.as_str() {
            "insufficient_funds" => ("failed", "Insufficient Funds"),
            "expired" => {
                st.dead.push(code.to_owned());
                auth["reusable"] = json!(false);
                ("failed", "Expired Card")
            }
            _ => ("success", "Approved"),
        };
        st.next += 1;
        let n = st.next;
        let reference = body
            .get("reference")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("sbx{n:08}"));
        if st.txs.iter().any(|t| t.reference == reference) {
            return fail(StatusCode::BAD_REQUEST, "Duplicate Transaction Reference");
        }
        let t = PsTx {
            id: 4_099_000_000 + n,
            reference,
            access_code: String::new(),
            email,
            amount,
            currency: body
                .get("currency")
                .and_then(Value::as_str)
                .unwrap_or("KES")
                .to_owned(),
            status: status.into(),
            gateway_response: Some(gateway.into()),
            callback_url: None,
            metadata: body.get("metadata").cloned().unwrap_or(Value::Null),
            created_at: now_rfc3339(),
            paid_at: (status == "success").then(now_rfc3339),
            authorization: Some(auth),
            refunded: 0,
            channel: "card".into(),
        };
        st.txs.push(t.clone());
        t
    };
    if tx.status == "success" {
        s.webhook("charge.success", tx_json(&tx));
    }
    Json(json!({"status": true, "message": "Charge attempted", "data": tx_json(&tx)}))
        .into_response()
}

async fn list(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = check_key(&s, &headers) {
        return r;
    }
    let per_page: usize = q
        .get("perPage")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let page: usize = q
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let status = q.get("status");
    let from = q.get("from").cloned().unwrap_or_default();
    let to = q
        .get("to")
        .map(|t| format!("{t}T23:59:59.999Z"))
        .unwrap_or_else(|| "9999".into());
    let st = lock(&s.0.paystack);
    let matching: Vec<&PsTx> = st
        .txs
        .iter()
        .rev()
        .filter(|t| status.is_none_or(|s| &t.status == s))
        .filter(|t| t.created_at.as_str() >= from.as_str() && t.created_at.as_str() <= to.as_str())
        .collect();
    let total = matching.len();
    let items: Vec<Value> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|t| tx_json(t))
        .collect();
    Json(json!({
        "status": true,
        "message": "Transactions retrieved",
        "data": items,
        "meta": {"total": total, "skipped": (page - 1) * per_page, "perPage": per_page, "page": page, "pageCount": total.div_ceil(per_page)}
    }))
    .into_response()
}

fn refund_json(r: &PsRefund, t: Option<&PsTx>) -> Value {
    json!({
        "transaction": t.map(tx_json).unwrap_or_else(|| json!({"reference": r.reference})),
        "integration": 412_829,
        "deducted_amount": 0,
        "channel": null,
        "merchant_note": format!("Refund for transaction {}", r.reference),
        "customer_note": format!("Refund for transaction {}", r.reference),
        "status": r.status,
        "refunded_by": "sandbox@malipo.test",
        "currency": r.currency,
        "domain": "test",
        "amount": r.amount,
        "fully_deducted": false,
        "id": r.id,
        "createdAt": r.created_at,
        "updatedAt": r.created_at,
    })
}

async fn refund(State(s): State<Sandbox>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Err(r) = check_key(&s, &headers) {
        return r;
    }
    let key = match body.get("transaction") {
        Some(Value::String(r)) => r.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return fail(
                StatusCode::BAD_REQUEST,
                "Transaction reference or id is required",
            );
        }
    };
    let (refund, tx) = {
        let mut guard = lock(&s.0.paystack);
        let st = &mut *guard;
        st.next += 1;
        let n = st.next;
        let Some(t) = st
            .txs
            .iter_mut()
            .find(|t| t.reference == key || t.id.to_string() == key)
        else {
            return fail(StatusCode::NOT_FOUND, "Transaction not found");
        };
        if t.status != "success" {
            return fail(
                StatusCode::BAD_REQUEST,
                "Cannot refund a transaction that was not successful",
            );
        }
        let left = t.amount - t.refunded;
        let amount = match body.get("amount") {
            None | Some(Value::Null) => left,
            v => match subunits(v) {
                Some(a) => a,
                None => return fail(StatusCode::BAD_REQUEST, "Invalid amount"),
            },
        };
        if amount > left {
            return fail(
                StatusCode::BAD_REQUEST,
                "Refund amount cannot be more than the unrefunded transaction amount",
            );
        }
        t.refunded += amount;
        let r = PsRefund {
            id: 3_018_000 + n,
            reference: t.reference.clone(),
            amount,
            currency: t.currency.clone(),
            status: "pending".into(),
            created_at: now_rfc3339(),
        };
        let tx = t.clone();
        st.refunds.push(r.clone());
        (r, tx)
    };
    let me = s.clone();
    let id = refund.id;
    let delay = Duration::from_millis(s.behaviour().customer_delay_ms);
    tokio::spawn(async move {
        for status in ["pending", "processing", "processed"] {
            tokio::time::sleep(delay / 3).await;
            let data = {
                let mut st = lock(&me.0.paystack);
                let Some(r) = st.refunds.iter_mut().find(|r| r.id == id) else {
                    return;
                };
                r.status = status.into();
                json!({
                    "status": status,
                    "transaction_reference": r.reference,
                    "refund_reference": if status == "processed" { json!(format!("RF{id}")) } else { json!(null) },
                    "amount": r.amount.to_string(),
                    "currency": r.currency,
                    "processor": "sandbox",
                    "customer": {"email": "customer@malipo.test"},
                    "integration": 412_829,
                    "domain": "test",
                    "id": id,
                })
            };
            me.webhook(&format!("refund.{status}"), data);
        }
    });
    Json(json!({"status": true, "message": "Refund has been queued for processing", "data": refund_json(&refund, Some(&tx))})).into_response()
}

async fn refund_fetch(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    if let Err(r) = check_key(&s, &headers) {
        return r;
    }
    let st = lock(&s.0.paystack);
    match st.refunds.iter().find(|r| r.id == id) {
        Some(r) => {
            let t = st.txs.iter().find(|t| t.reference == r.reference);
            Json(json!({"status": true, "message": "Refund retrieved", "data": refund_json(r, t)}))
                .into_response()
        }
        None => fail(StatusCode::NOT_FOUND, "Refund not found"),
    }
}

async fn refund_list(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = check_key(&s, &headers) {
        return r;
    }
    let st = lock(&s.0.paystack);
    let items: Vec<Value> = st
        .refunds
        .iter()
        .filter(|r| q.get("transaction").is_none_or(|t| &r.reference == t))
        .map(|r| refund_json(r, st.txs.iter().find(|t| t.reference == r.reference)))
        .collect();
    let total = items.len();
    Json(json!({"status": true, "message": "Refunds retrieved", "data": items, "meta": {"total": total, "page": 1, "pageCount": 1}})).into_response()
}

/// A plain HTML page in the simulator's style.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#111}}\
         .banner{{background:#fef3c7;border:1px solid #d97706;padding:.5rem 1rem;border-radius:6px}}\
         button{{display:block;width:100%;margin:.5rem 0;padding:.75rem;font-size:1rem;border-radius:6px;border:1px solid #374151;background:#fff;cursor:pointer}}\
         button:focus{{outline:3px solid #0b6e4f}}</style></head><body>\
         <p class=\"banner\">Sandbox: no real money moves.</p><h1>{title}</h1>{body}</body></html>"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn checkout_page(State(s): State<Sandbox>, Path(access_code): Path<String>) -> Response {
    let found = lock(&s.0.paystack)
        .txs
        .iter()
        .find(|t| t.access_code == access_code)
        .cloned();
    let Some(t) = found else {
        return (
            StatusCode::NOT_FOUND,
            Html(page(
                "Checkout not found",
                "<p>This payment link is not valid.</p>",
            )),
        )
            .into_response();
    };
    if t.status != "abandoned" {
        return Html(page(
            "Already done",
            &format!("<p>This payment is {}.</p>", escape(&t.status)),
        ))
        .into_response();
    }
    let buttons: String = CARDS
        .iter()
        .map(|c| {
            format!(
                "<button name=\"card\" value=\"{}\" type=\"submit\">Pay with {} — {}</button>",
                c.number,
                c.number,
                escape(c.label)
            )
        })
        .collect();
    let major = t.amount / 100;
    let minor = t.amount % 100;
    Html(page(
        "Pay by card",
        &format!(
            "<p>{} {major}.{minor:02} for {}</p><p>Reference <code>{}</code></p><form method=\"post\">{buttons}</form>",
            escape(&t.currency),
            escape(&t.email),
            escape(&t.reference)
        ),
    ))
    .into_response()
}

#[derive(Deserialize)]
struct CardForm {
    card: String,
}

async fn checkout_pay(
    State(s): State<Sandbox>,
    Path(access_code): Path<String>,
    Form(form): Form<CardForm>,
) -> Response {
    let reference = lock(&s.0.paystack)
        .txs
        .iter()
        .find(|t| t.access_code == access_code)
        .map(|t| t.reference.clone());
    let Some(reference) = reference else {
        return (
            StatusCode::NOT_FOUND,
            Html(page(
                "Checkout not found",
                "<p>This payment link is not valid.</p>",
            )),
        )
            .into_response();
    };
    match s.pay(&reference, &form.card) {
        Ok(t) => match (&t.callback_url, t.status.as_str()) {
            (Some(url), _) => Redirect::to(&format!("{url}?trxref={0}&reference={0}", t.reference))
                .into_response(),
            (None, "success") => Html(page(
                "Payment successful",
                "<p>Thank you. You may close this page.</p>",
            ))
            .into_response(),
            (None, _) => Html(page(
                "Payment declined",
                "<p>The card was declined. Go back and try another card.</p>",
            ))
            .into_response(),
        },
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Html(page("Cannot pay", &format!("<p>{}</p>", escape(&e)))),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct PayRequest {
    reference: String,
    #[serde(default)]
    card: String,
    /// Pay another way than a card: `ussd`, `bank_transfer`, `qr` or `mobile_money`.
    #[serde(default)]
    channel: Option<String>,
}

/// Pays a checkout without a browser, as a test or a script would.
async fn pay_directly(State(s): State<Sandbox>, Json(req): Json<PayRequest>) -> Response {
    if let Some(channel) = &req.channel {
        return match s.pay_checkout_by(&req.reference, channel) {
            Ok(status) => Json(json!({"status": status})).into_response(),
            Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
        };
    }
    match s.pay(&req.reference, &req.card) {
        Ok(t) => Json(json!({"status": t.status, "amount": t.amount})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    }
}
