//! Africa's Talking's messaging API as its documentation describes it: `POST
//! /version1/messaging` (form fields `username`, `to`, `message`, `from`; the `apiKey` header),
//! answered `201` with `SMSMessageData.Recipients[]`, then a delivery report posted as a form to
//! the configured URL.
//!
//! Numbers that misbehave: `+254700000403` is refused as an invalid number (statusCode 403),
//! `+254700000406` as blacklisted (406), and `+254700000111` is taken but never delivered (the
//! report says `Failed`, `AbsentSubscriber`). The `sms_insufficient_balance_next` switch
//! answers the next n sends with 405 `InsufficientBalance`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{Sandbox, lock, now_rfc3339};

/// A message the simulator took.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentSms {
    pub id: String,
    pub to: String,
    pub from: Option<String>,
    pub message: String,
    pub at: String,
}

#[derive(Debug, Default)]
pub(crate) struct SmsState {
    sent: Vec<SentSms>,
}

pub(crate) fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/version1/messaging", post(send))
        .route("/__sandbox/sms", get(list))
}

#[derive(Debug, Deserialize)]
struct Send {
    #[serde(default)]
    username: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    from: Option<String>,
}

fn recipient(number: &str, code: i64, status: &str, id: &str) -> serde_json::Value {
    json!({"statusCode": code, "number": number, "status": status,
           "cost": if code == 101 { "KES 0.8000" } else { "0" }, "messageId": id})
}

async fn send(State(s): State<Sandbox>, headers: HeaderMap, Form(f): Form<Send>) -> Response {
    let key = headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if key != s.config().sms_api_key || f.username != s.config().sms_username {
        return (
            StatusCode::UNAUTHORIZED,
            "The supplied authentication is invalid",
        )
            .into_response();
    }
    if f.to.trim().is_empty() || f.message.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "Request is missing required form field 'to'",
        )
            .into_response();
    }
    let number = f.to.split(',').next().unwrap_or("").trim().to_owned();
    let short = {
        let mut b = lock(&s.0.behaviour);
        if b.sms_insufficient_balance_next > 0 {
            b.sms_insufficient_balance_next -= 1;
            true
        } else {
            false
        }
    };
    let valid = number.starts_with("+254")
        && number.len() == 13
        && number[1..].bytes().all(|b| b.is_ascii_digit());
    let (code, status) = match number.as_str() {
        _ if short => (405, "InsufficientBalance"),
        _ if !valid => (403, "InvalidPhoneNumber"),
        "+254700000403" => (403, "InvalidPhoneNumber"),
        "+254700000406" => (406, "UserInBlacklist"),
        _ => (101, "Success"),
    };
    if code != 101 {
        return (
            StatusCode::CREATED,
            Json(
                json!({"SMSMessageData": {"Message": "Sent to 0/1 Total Cost: 0",
                "Recipients": [recipient(&number, code, status, "None")]}}),
            ),
        )
            .into_response();
    }
    let id = {
        let mut state = lock(&s.0.sms);
        let id = format!("ATXid_{:032x}", state.sent.len() as u128 + 0x5a5a_0000);
        state.sent.push(SentSms {
            id: id.clone(),
            to: number.clone(),
            from: f.from.clone(),
            message: f.message.clone(),
            at: now_rfc3339(),
        });
        id
    };
    if let Some(url) = s.config().sms_report_url.clone() {
        let (status, reason) = if number == "+254700000111" {
            ("Failed", "&failureReason=AbsentSubscriber")
        } else {
            ("Success", "")
        };
        let body = format!(
            "id={id}&status={status}&phoneNumber=%2B{}&networkCode=63902&retryCount=0{reason}",
            &number[1..]
        );
        let me = s.clone();
        let delay = Duration::from_millis(s.behaviour().customer_delay_ms.min(2000));
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            me.deliver(
                url,
                body.into_bytes(),
                vec![(
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                )],
            );
        });
    }
    (
        StatusCode::CREATED,
        Json(
            json!({"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.8000",
            "Recipients": [recipient(&number, 101, "Success", &id)]}}),
        ),
    )
        .into_response()
}

async fn list(State(s): State<Sandbox>) -> Json<Vec<SentSms>> {
    Json(lock(&s.0.sms).sent.clone())
}
