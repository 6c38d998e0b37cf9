//! SMS through Africa's Talking's messaging API: `POST {base}/version1/messaging` with the form
//! fields `username`, `to`, `message` and optionally `from` (the sender ID), the API key in the
//! `apiKey` header; the answer's `SMSMessageData.Recipients[]` says per number whether it was
//! taken (`statusCode` 101 "Success"). Delivery reports are form posts (`id`, `status`,
//! `phoneNumber`, `failureReason`, …) to a URL set in Africa's Talking's dashboard: here the
//! company relay's, and [`parse_delivery_report`] reads them.

use std::time::Duration;

use serde::Deserialize;

use malipo_domain::{Msisdn, Secret};

use crate::http::{Http, transport};

#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// `https://api.africastalking.com`, `https://api.sandbox.africastalking.com`, or a
    /// simulator.
    pub base_url: String,
    /// The Africa's Talking application's username (`sandbox` on their sandbox).
    pub username: String,
    pub api_key: Secret,
    /// A registered alphanumeric sender ID or short code; the account's default without.
    pub sender: Option<String>,
}

/// Why a message was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// Refused for good: the number, the sender ID, a blacklist… (Africa's Talking's words).
    #[error("Africa's Talking refused it: {0}")]
    Refused(String),
    /// Not sent this time, certainly: worth trying again later (no credit, gateway trouble,
    /// a connection that never opened).
    #[error("not sent, to be tried again: {0}")]
    Later(String),
    /// Perhaps sent: the request went out and no readable answer came back.
    #[error("no answer from Africa's Talking after sending: {0}")]
    Unknown(String),
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(rename = "SMSMessageData")]
    data: AnswerData,
}

#[derive(Debug, Deserialize)]
struct AnswerData {
    #[serde(rename = "Message", default)]
    message: String,
    #[serde(rename = "Recipients", default)]
    recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
struct Recipient {
    #[serde(rename = "statusCode")]
    status_code: i64,
    #[serde(default)]
    status: String,
    #[serde(rename = "messageId", default)]
    message_id: String,
}

/// Africa's Talking's per-recipient status codes: which are worth trying again.
fn recipient_error(code: i64, status: &str) -> SmsError {
    let why = format!("{status} ({code})");
    match code {
        // InsufficientBalance, InternalServerError, GatewayError.
        405 | 500 | 501 => SmsError::Later(why),
        _ => SmsError::Refused(why),
    }
}

#[derive(Debug, Clone)]
pub struct SmsClient {
    config: SmsConfig,
    http: Http,
}

impl SmsClient {
    pub fn new(config: SmsConfig) -> SmsClient {
        SmsClient {
            config,
            http: Http::new(Duration::from_secs(30)),
        }
    }

    pub fn config(&self) -> &SmsConfig {
        &self.config
    }

    /// Sends `message` to `to`; Africa's Talking's message id on success.
    pub async fn send(&self, to: &Msisdn, message: &str) -> Result<String, SmsError> {
        let url = format!(
            "{}/version1/messaging",
            self.config.base_url.trim_end_matches('/')
        );
        let number = format!("+{}", to.as_str());
        let mut form = vec![
            ("username", self.config.username.as_str()),
            ("to", number.as_str()),
            ("message", message),
        ];
        if let Some(from) = &self.config.sender {
            form.push(("from", from.as_str()));
        }
        let sent = self
            .http
            .client()
            .map_err(|e| SmsError::Later(e.0))?
            .post(&url)
            .header("apiKey", self.config.api_key.expose())
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            // A connection that never opened carried nothing.
            Err(e) if e.is_connect() => {
                return Err(SmsError::Later(transport("Africa's Talking", &e).0));
            }
            Err(e) => return Err(SmsError::Unknown(transport("Africa's Talking", &e).0)),
        };
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| SmsError::Unknown(transport("Africa's Talking", &e).0))?;
        if status.as_u16() == 401 {
            return Err(SmsError::Later(format!(
                "the username or API key is not accepted ({})",
                text.chars().take(120).collect::<String>()
            )));
        }
        if status.is_server_error() {
            return Err(SmsError::Unknown(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(SmsError::Refused(format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            )));
        }
        let answer: Answer = serde_json::from_str(&text)
            .map_err(|e| SmsError::Unknown(format!("an unreadable answer: {e}")))?;
        let Some(r) = answer.data.recipients.first() else {
            return Err(SmsError::Refused(if answer.data.message.is_empty() {
                "no recipient was accepted".into()
            } else {
                answer.data.message
            }));
        };
        if matches!(r.status_code, 100..=102) {
            Ok(r.message_id.clone())
        } else {
            Err(recipient_error(r.status_code, &r.status))
        }
    }
}

/// A delivery report as Africa's Talking posts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The message id the send answer gave.
    pub id: String,
    /// `Success` (delivered), `Failed`, `Rejected`, `Sent`, `Submitted`, `Buffered`, …
    pub status: String,
    pub failure_reason: Option<String>,
}

impl DeliveryReport {
    /// `Some(true)` delivered, `Some(false)` failed for good, `None` still on its way.
    pub fn delivered(&self) -> Option<bool> {
        match self.status.as_str() {
            "Success" => Some(true),
            "Failed" | "Rejected" | "AbsentSubscriber" | "Expired" => Some(false),
            _ => None,
        }
    }
}

/// Reads a delivery report (a form body).
pub fn parse_delivery_report(body: &[u8]) -> Result<DeliveryReport, String> {
    let fields: Vec<(String, String)> = serde_urlencoded_pairs(body)?;
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let id = get("id").ok_or("no message id")?;
    if id.len() > 100 || !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err("not an Africa's Talking message id".into());
    }
    let status = get("status").ok_or("no status")?;
    if status.len() > 40 || !status.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err("not a delivery status".into());
    }
    Ok(DeliveryReport {
        id,
        status,
        failure_reason: get("failureReason").map(|r| r.chars().take(80).collect()),
    })
}

/// `application/x-www-form-urlencoded` pairs.
fn serde_urlencoded_pairs(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "not text".to_owned())?;
    let decode = |s: &str| -> Result<String, String> {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("a broken %-escape")?;
                out.push(hex);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).map_err(|_| "not UTF-8".to_owned())
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_reports_read_as_africas_talking_posts_them() {
        let r = parse_delivery_report(
            b"id=ATXid_4a1e8c0f&status=Success&phoneNumber=%2B254712345678&networkCode=63902&retryCount=0",
        )
        .unwrap();
        assert_eq!(r.id, "ATXid_4a1e8c0f");
        assert_eq!(r.delivered(), Some(true));
        let r = parse_delivery_report(
            b"id=ATXid_1&status=Failed&failureReason=UserIsInactive&phoneNumber=%2B254712345678",
        )
        .unwrap();
        assert_eq!(r.delivered(), Some(false));
        assert_eq!(r.failure_reason.as_deref(), Some("UserIsInactive"));
        assert_eq!(
            parse_delivery_report(b"id=ATXid_1&status=Buffered")
                .unwrap()
                .delivered(),
            None
        );
        assert!(parse_delivery_report(b"status=Success").is_err());
        assert!(parse_delivery_report(b"id=%ZZ&status=Success").is_err());
        assert!(parse_delivery_report(b"id=x&status=<script>").is_err());
    }

    #[test]
    fn only_passing_trouble_is_tried_again() {
        assert!(matches!(
            recipient_error(405, "InsufficientBalance"),
            SmsError::Later(_)
        ));
        assert!(matches!(
            recipient_error(403, "InvalidPhoneNumber"),
            SmsError::Refused(_)
        ));
    }
}
