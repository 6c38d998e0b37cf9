//! The providers' doors: Daraja callbacks (STK results and reversal results) at a secret-token
//! URL, Paystack webhooks signed with the tenant's secret key. Each is checked, stored durably
//! and only then answered.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use malipo_providers::{daraja, paystack};
use malipo_relay_api as api;

use crate::store::{Incoming, Stored, digest};
use crate::{Outcome, Relay, Source, internal, problem, tenants};

/// Daraja's acknowledgement: `{"ResultCode": 0, "ResultDesc": "Accepted"}`.
#[derive(Serialize)]
struct DarajaAck {
    #[serde(rename = "ResultCode")]
    result_code: u8,
    #[serde(rename = "ResultDesc")]
    result_desc: &'static str,
}

/// Paystack's acknowledgement: any 200; the body says so for people reading logs.
#[derive(Serialize)]
struct PaystackAck {
    status: &'static str,
}

/// An identifier Daraja could have sent: 1 to 64 printable ASCII characters, no spaces.
fn identifier(id: &str) -> bool {
    printable(id, 64)
}

/// The longest event name or transaction reference kept from a Paystack webhook.
const PAYSTACK_NAME_MAX: usize = 100;

/// 1 to `max` printable ASCII characters, no spaces.
fn printable(id: &str, max: usize) -> bool {
    (1..=max).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The tenant whose Daraja token is in the URL, or the answer for an unknown `what` URL.
async fn daraja_tenant(
    tenants: &tenants::Tenants,
    store: &crate::store::RelayStore,
    token: &str,
    what: &str,
) -> Result<crate::store::Tenant, Response> {
    match tenants.by_daraja_token(store, token).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(problem(
            StatusCode::NOT_FOUND,
            api::ProblemCode::UnknownUrl,
            &format!("no tenant has this {what} URL"),
        )),
        Err(e) => Err(internal(&e)),
    }
}

fn accepted(body: impl Serialize, stored: Stored) -> Response {
    let mut response = Json(body).into_response();
    let outcome = match stored {
        Stored::New(_) => "stored",
        Stored::Duplicate => "duplicate",
    };
    response.extensions_mut().insert(Outcome(outcome));
    response
}

pub(crate) async fn daraja(
    State(Relay { store, tenants, .. }): State<Relay>,
    Path(token): Path<String>,
    source: Option<axum::Extension<Source>>,
    body: Bytes,
) -> Response {
    let tenant = match daraja_tenant(&tenants, &store, &token, "callback").await {
        Ok(t) => t,
        Err(refused) => return refused,
    };
    if let Some(text) = &tenant.daraja_allow {
        let client = source.as_ref().map(|s| s.0.0);
        let allowed = match crate::access::parse_allow(text) {
            Ok(None) => true,
            Ok(Some(list)) => client.is_some_and(|ip| list.iter().any(|c| c.contains(ip))),
            // A list that no longer reads (edited by hand) lets nothing through.
            Err(_) => false,
        };
        if !allowed {
            let from = client.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
            return problem(
                StatusCode::FORBIDDEN,
                api::ProblemCode::SourceNotAllowed,
                &format!(
                    "this tenant accepts Daraja callbacks only from its allowlist, not from {from}"
                ),
            );
        }
    }
    let (kind, subject, ids) = match daraja::callback::parse(&body) {
        // A standing order's result (M-Pesa Ratiba) names the order by our reference.
        Err(_) if daraja::ratiba::looks_like_result(&body) => {
            match daraja::ratiba::parse_result(&body) {
                Ok(r) => (
                    "ratiba_result",
                    r.request_ref.clone(),
                    vec![r.request_ref, r.response_ref],
                ),
                Err(e) => {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        api::ProblemCode::Malformed,
                        &e.to_string(),
                    );
                }
            }
        }
        Ok(cb) => (
            "stk_callback",
            cb.checkout_request_id.clone(),
            vec![cb.checkout_request_id, cb.merchant_request_id],
        ),
        // Transaction Status results come to the same URL as reversal results; they name the
        // receipt asked about (a failed one only its conversation).
        Err(_) if daraja::c2b::looks_like_status_result(&body) => {
            match daraja::c2b::parse_status_result(&body) {
                Ok(r) => (
                    "status_result",
                    r.receipt
                        .clone()
                        .unwrap_or_else(|| r.conversation_id.clone()),
                    vec![r.conversation_id, r.originator_conversation_id],
                ),
                Err(e) => {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        api::ProblemCode::Malformed,
                        &e.to_string(),
                    );
                }
            }
        }
        Err(stk_error) => match daraja::parse_reversal_result(&body) {
            Ok(r) => (
                "reversal_result",
                r.conversation_id.clone(),
                vec![r.conversation_id, r.originator_conversation_id],
            ),
            Err(_) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    api::ProblemCode::Malformed,
                    &stk_error.to_string(),
                );
            }
        },
    };
    if let Some(bad) = ids.iter().find(|id| !identifier(id)) {
        let shown: String = bad.chars().take(24).collect();
        return problem(
            StatusCode::BAD_REQUEST,
            api::ProblemCode::Malformed,
            &format!(
                "Daraja identifiers are 1 to 64 printable ASCII characters; {shown:?}… is not"
            ),
        );
    }
    // Distinct bodies about one payment are distinct events: a forged body must not shadow the
    // genuine one (the office decides, asking Safaricom). A body sent again is one event.
    let dedup_key = match kind {
        "stk_callback" => format!("stk:{subject}:{}", digest(&body)),
        "status_result" => format!("status:{subject}:{}", digest(&body)),
        "ratiba_result" => format!("ratiba:{subject}:{}", digest(&body)),
        _ => format!("reversal:{subject}:{}", digest(&body)),
    };
    let incoming = Incoming {
        tenant_id: tenant.id,
        provider: "daraja",
        kind: kind.to_owned(),
        dedup_key,
        subject,
        source_addr: source.map(|s| s.0.0.to_string()),
        headers: "{}".to_owned(),
        body: body.to_vec(),
        office: None,
    };
    match store.ingest(incoming).await {
        Ok(stored) => accepted(
            DarajaAck {
                result_code: 0,
                result_desc: "Accepted",
            },
            stored,
        ),
        Err(e) => internal(&e),
    }
}

/// An SMS delivery report from Africa's Talking, at the tenant's Daraja token: stored once per
/// message and status, and carried to the devices like any callback. It moves no money; the
/// office only marks its message delivered or failed.
pub(crate) async fn sms_report(
    State(Relay { store, tenants, .. }): State<Relay>,
    Path(token): Path<String>,
    source: Option<axum::Extension<Source>>,
    body: Bytes,
) -> Response {
    let tenant = match daraja_tenant(&tenants, &store, &token, "report").await {
        Ok(t) => t,
        Err(refused) => return refused,
    };
    let report = match malipo_providers::sms::parse_delivery_report(&body) {
        Ok(r) => r,
        Err(why) => {
            return problem(
                StatusCode::BAD_REQUEST,
                api::ProblemCode::Malformed,
                &format!("not a delivery report: {why}"),
            );
        }
    };
    let incoming = Incoming {
        tenant_id: tenant.id,
        provider: "africastalking",
        kind: "sms_delivery".to_owned(),
        dedup_key: format!("sms:{}:{}", report.id, report.status),
        subject: report.id,
        source_addr: source.map(|s| s.0.0.to_string()),
        headers: "{}".to_owned(),
        body: body.to_vec(),
        office: None,
    };
    match store.ingest(incoming).await {
        Ok(stored) => accepted(PaystackAck { status: "ok" }, stored),
        Err(e) => internal(&e),
    }
}

/// The headers kept beside a Paystack webhook.
#[derive(Serialize)]
struct PaystackHeaders<'a> {
    #[serde(rename = "x-paystack-signature")]
    signature: Option<&'a str>,
}

/// A Paystack webhook: signed with the tenant's secret key over the exact bytes. There is no
/// event id, so duplicates are recognised by event, reference and a hash of the body.
pub(crate) async fn paystack(
    State(relay): State<Relay>,
    Path(tenant): Path<String>,
    source: Option<axum::Extension<Source>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let found = relay
        .tenants
        .with_paystack_secret(&relay.store, relay.sealing.as_ref(), &tenant)
        .await;
    let (tenant, secret) = match found {
        Ok(Some((tenant, tenants::PaystackSecret::Set(secret)))) => (tenant, secret),
        Ok(Some((_, tenants::PaystackSecret::NotSet))) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                api::ProblemCode::NoSecret,
                "this tenant's Paystack secret is not set on the relay",
            );
        }
        Ok(Some((_, tenants::PaystackSecret::NoKey))) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                api::ProblemCode::NoSecret,
                "the relay has no MALIPO_RELAY_SECRET_KEY, so it cannot check Paystack signatures",
            );
        }
        Ok(None) => {
            return problem(
                StatusCode::NOT_FOUND,
                api::ProblemCode::UnknownUrl,
                "no tenant has this webhook URL",
            );
        }
        Err(tenants::LookupError::Seal(e)) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                api::ProblemCode::Sealing,
                &e.to_string(),
            );
        }
        Err(tenants::LookupError::Store(e)) => return internal(&e),
    };
    let signature = headers
        .get("x-paystack-signature")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = paystack::verify_signature(&secret, &body, signature) {
        return problem(
            StatusCode::UNAUTHORIZED,
            api::ProblemCode::BadSignature,
            &e.to_string(),
        );
    }
    let event = match paystack::parse_event(&body) {
        Ok(ev) => ev,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                api::ProblemCode::Malformed,
                &e.to_string(),
            );
        }
    };
    let (kind, reference) = match &event {
        paystack::WebhookEvent::ChargeSuccess(t) => {
            ("charge.success".to_owned(), t.reference.clone())
        }
        paystack::WebhookEvent::Refund(r) => (
            format!("refund.{}", r.status),
            r.transaction_reference.clone(),
        ),
        // Kept like any other: the office puts it to review.
        paystack::WebhookEvent::Unpriced(u) => (u.event.clone(), u.reference.clone()),
        paystack::WebhookEvent::Other(name) => (name.clone(), String::new()),
    };
    // The name and reference are kept as the event's kind and subject: they must be what
    // Paystack sends. Anything else (a NUL, 5,000 characters) is refused here with its reason,
    // never left to fail in the database as a 5xx that Paystack would retry for 72 hours.
    if !printable(&kind, PAYSTACK_NAME_MAX)
        || !(reference.is_empty() || printable(&reference, PAYSTACK_NAME_MAX))
    {
        return problem(
            StatusCode::BAD_REQUEST,
            api::ProblemCode::Malformed,
            &format!(
                "the event's name or reference is not one Paystack sends (1 to {PAYSTACK_NAME_MAX} printable characters)"
            ),
        );
    }
    let kept = PaystackHeaders { signature };
    let incoming = Incoming {
        tenant_id: tenant.id,
        provider: "paystack",
        dedup_key: format!("{kind}:{reference}:{}", digest(&body)),
        kind,
        subject: reference,
        source_addr: source.map(|s| s.0.0.to_string()),
        headers: serde_json::to_string(&kept).unwrap_or_default(),
        body: body.to_vec(),
        office: None,
    };
    match relay.store.ingest(incoming).await {
        Ok(stored) => accepted(PaystackAck { status: "ok" }, stored),
        Err(e) => internal(&e),
    }
}
