//! M-Pesa Ratiba, as Daraja's page describes it: `createStandingOrderExternal` checks the
//! request and acknowledges it (`ResponseHeader.responseCode` `"200"`); the customer is
//! prompted for their PIN; the result goes to `CallBackURL` (`responseHeader` with
//! `responseCode` `"0"`, or the failure's code, and `responseBody.responseData` as name/value
//! pairs). The customer's phone decides the outcome as for M-Pesa Express
//! ([`crate::daraja::outcome_for`]); a second order of one name for one customer fails with 1050.
//!
//! Each run of an active order is a paybill payment by the customer with the order's
//! `AccountReference` as the account: `POST /__sandbox/ratiba/run` makes the runs due (one per
//! active order, or those of one account), as M-Pesa does on each date of the schedule.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::Date;
use time::macros::format_description;

use crate::c2b::PayBill;
use crate::daraja::{bad_request, check_token, outcome_for, text};
use crate::{Sandbox, lock};

/// A standing order the simulated customer was asked to approve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Order {
    pub name: String,
    pub party_a: String,
    pub amount: i64,
    pub account: String,
    pub frequency: String,
    pub start: String,
    pub end: String,
    pub request_ref: String,
    pub response_ref: String,
    /// `pending` until the customer answers; then `ACTIVE` or `ERROR`.
    pub status: String,
    pub runs: u32,
}

#[derive(Debug, Default)]
pub(crate) struct RatibaState {
    orders: Vec<Order>,
    next: u64,
}

pub(crate) fn routes() -> Router<Sandbox> {
    Router::new()
        .route(
            "/standingorder/v1/createStandingOrderExternal",
            post(create),
        )
        .route("/__sandbox/ratiba", get(list))
        .route("/__sandbox/ratiba/run", post(run))
}

fn day(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year][month][day]")).ok()
}

async fn create(State(s): State<Sandbox>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Err(r) = check_token(&s, &headers) {
        return r;
    }
    if let Some(r) = s.daraja_failure().await {
        return r;
    }
    let field = |k: &str| text(&body, k).unwrap_or_default();
    let name = field("StandingOrderName");
    if name.trim().is_empty() || name.chars().count() > 100 {
        return bad_request("Invalid StandingOrderName");
    }
    let (Some(start), Some(end)) = (day(&field("StartDate")), day(&field("EndDate"))) else {
        return bad_request("Invalid StartDate or EndDate");
    };
    if end < start {
        return bad_request("EndDate is before StartDate");
    }
    let shortcode = field("BusinessShortCode");
    let (kind, party) = (
        field("TransactionType"),
        field("ReceiverPartyIdentifierType"),
    );
    let paybill = kind == "Standing Order Customer Pay Bill" && party == "4";
    let till = kind == "Standing Order Customer Pay Marchant" && party == "2";
    if paybill && shortcode != s.config().shortcode {
        return bad_request("Invalid BusinessShortCode");
    }
    if till && !s.config().tills.contains(&shortcode) {
        return bad_request("Invalid BusinessShortCode");
    }
    if !(paybill || till) {
        return bad_request("Invalid TransactionType or ReceiverPartyIdentifierType");
    }
    let amount: i64 = match field("Amount").parse() {
        Ok(a) if (1..=250_000).contains(&a) => a,
        _ => return bad_request("Invalid Amount"),
    };
    let phone = field("PartyA");
    if !(phone.len() == 12
        && (phone.starts_with("2547") || phone.starts_with("2541"))
        && phone.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad_request("Invalid PartyA");
    }
    let callback = field("CallBackURL");
    if !(callback.starts_with("http://") || callback.starts_with("https://")) {
        return bad_request("Invalid CallBackURL");
    }
    let account = field("AccountReference");
    if paybill
        && (account.is_empty()
            || account.chars().count() > 12
            || !account
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return bad_request("Invalid AccountReference");
    }
    let desc = field("TransactionDesc");
    if desc.is_empty() || desc.chars().count() > 13 {
        return bad_request("Invalid TransactionDesc");
    }
    let frequency = field("Frequency");
    if !matches!(
        frequency.as_str(),
        "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8"
    ) {
        return bad_request("Invalid Frequency");
    }
    let response_ref = {
        let mut r = lock(&s.0.ratiba);
        r.next += 1;
        let n = r.next;
        let response_ref = format!("{:08x}-5a0d-4b1e-9c2f-{:012x}", n, n * 7919);
        let custom = field("CustomStoId");
        r.orders.push(Order {
            name,
            party_a: phone,
            amount,
            account,
            frequency,
            start: start.to_string(),
            end: end.to_string(),
            request_ref: if custom.is_empty() {
                response_ref.clone()
            } else {
                custom
            },
            response_ref: response_ref.clone(),
            status: "pending".into(),
            runs: 0,
        });
        response_ref
    };
    let delay = Duration::from_millis(s.behaviour().customer_delay_ms);
    let me = s.clone();
    let answering = response_ref.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        me.customer_approves(&answering, callback);
    });
    Json(json!({
        "ResponseHeader": {
            "responseRefID": response_ref,
            "responseCode": "200",
            "responseDescription": "Request accepted for processing",
            "ResultDesc": "The service request is processed successfully."
        },
        "ResponseBody": {
            "responseDescription": "Request accepted for processing",
            "responseCode": "200"
        }
    }))
    .into_response()
}

/// A masked phone number, as the result shows it: `254******867`.
fn masked(phone: &str) -> String {
    let tail: String = phone.chars().skip(phone.len().saturating_sub(3)).collect();
    format!("254******{tail}")
}

impl Sandbox {
    /// The customer answers the PIN prompt: the order is created (or not) and the result sent.
    fn customer_approves(&self, response_ref: &str, callback: String) {
        let body = {
            let mut guard = lock(&self.0.ratiba);
            let orders = &mut guard.orders;
            let Some(at) = orders.iter().position(|o| o.response_ref == response_ref) else {
                return;
            };
            let order = orders[at].clone();
            let taken = orders.iter().any(|o| {
                o.status == "ACTIVE" && o.party_a == order.party_a && o.name == order.name
            });
            let (code, description) = if taken {
                (
                    "1050",
                    "Customer already has a standing order with that name",
                )
            } else {
                match outcome_for(&order.party_a) {
                    ("0", ..) => ("0", "The service request is processed successfully"),
                    ("1", ..) => ("0", "The service request is processed successfully"),
                    (code, desc, _) => (code, desc),
                }
            };
            let created = code == "0";
            orders[at].status = if created { "ACTIVE" } else { "ERROR" }.into();
            let transaction_id = if created {
                format!("SO{:08}", self.0.ratiba_serial())
            } else {
                "0000000000".into()
            };
            json!({
                "responseHeader": {
                    "responseRefID": order.response_ref,
                    "requestRefID": order.request_ref,
                    "responseCode": code,
                    "responseDescription": description
                },
                "responseBody": {
                    "responseData": [
                        {"name": "standingOrderName", "value": order.name},
                        {"name": "amount", "value": format!("{}.00", order.amount)},
                        {"name": "firstPaymentReminderDate", "value": order.start.replace('-', "")},
                        {"name": "status", "value": if created { "ACTIVE" } else { "INACTIVE" }},
                        {"name": "TransactionID", "value": transaction_id},
                        {"name": "responseCode", "value": code},
                        {"name": "Status", "value": if created { "OKAY" } else { "ERROR" }},
                        {"name": "Msisdn", "value": masked(&order.party_a)}
                    ]
                }
            })
        };
        self.deliver(callback, body.to_string().into_bytes(), Vec::new());
    }
}

impl crate::Inner {
    fn ratiba_serial(&self) -> u64 {
        let mut d = lock(&self.daraja);
        d.receipts += 1;
        d.receipts % 100_000_000
    }
}

async fn list(State(s): State<Sandbox>) -> Json<Vec<Order>> {
    Json(lock(&s.0.ratiba).orders.clone())
}

/// Which runs to make: every active order's, or those paying one account.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RunAsked {
    account: Option<String>,
}

/// Makes one run of each active order (or of those paying `account`): a paybill payment by
/// the customer for the order's amount with its account reference.
async fn run(State(s): State<Sandbox>, Json(asked): Json<RunAsked>) -> Response {
    let due: Vec<Order> = {
        let mut r = lock(&s.0.ratiba);
        r.orders
            .iter_mut()
            .filter(|o| o.status == "ACTIVE")
            .filter(|o| asked.account.as_ref().is_none_or(|a| *a == o.account))
            .map(|o| {
                o.runs += 1;
                o.clone()
            })
            .collect()
    };
    let mut paid = Vec::new();
    for o in due {
        match s
            .pay_bill(PayBill {
                shortcode: None,
                account: o.account.clone(),
                till: false,
                amount: o.amount,
                msisdn: o.party_a.clone(),
                first_name: "John".into(),
                last_name: String::new(),
                minutes_ago: 0,
            })
            .await
        {
            Ok(outcome) => paid.push(json!({"account": o.account, "trans_id": outcome.trans_id, "outcome": outcome.outcome})),
            Err(why) => {
                return (StatusCode::BAD_REQUEST, Json(json!({"error": why}))).into_response();
            }
        }
    }
    Json(json!({"runs": paid})).into_response()
}
