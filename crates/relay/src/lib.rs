//! `malipo-relay`: the company's public address for provider callbacks.
//!
//! Safaricom posts STK callbacks and reversal results to a per-tenant URL whose path carries
//! an unguessable token; the relay checks the body is a Daraja callback, stores it durably
//! with the tenant's next sequence number (see [`store`]) and only then answers 200. Office
//! devices pull events after their cursor with a bearer token.

pub mod store;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use malipo_providers::daraja;
use store::{Incoming, RelayStore, Stored};

/// Bodies larger than this are refused before they are read.
pub const MAX_BODY: usize = 64 * 1024;

/// The path prefix of Daraja callback URLs: no "mpesa" or "safaricom" in it, as Safaricom asks.
pub const DARAJA_PATH: &str = "/hooks/d";

pub fn router(store: RelayStore) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/hooks/d/{token}", post(daraja_callback))
        .route("/v1/events", get(events))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(store)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

fn problem(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

fn internal(e: &store::RelayError) -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        &format!("not stored: {e}; send it again"),
    )
}

async fn daraja_callback(
    State(store): State<RelayStore>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let tenant = match store.tenant_by_daraja_token(&token).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return problem(
                StatusCode::NOT_FOUND,
                "unknown_url",
                "no tenant has this callback URL",
            );
        }
        Err(e) => return internal(&e),
    };
    let (kind, dedup_key) = match daraja::callback::parse(&body) {
        Ok(cb) => ("stk_callback", format!("stk:{}", cb.checkout_request_id)),
        Err(stk_error) => match daraja::parse_reversal_result(&body) {
            Ok(r) => ("reversal_result", format!("reversal:{}", r.conversation_id)),
            Err(_) => return problem(StatusCode::BAD_REQUEST, "malformed", &stk_error.to_string()),
        },
    };
    let incoming = Incoming {
        tenant_id: tenant.id,
        provider: "daraja",
        kind: kind.to_owned(),
        dedup_key,
        source_addr: None,
        headers: "{}".to_owned(),
        body: body.to_vec(),
    };
    match store.ingest(incoming).await {
        Ok(Stored::New(_) | Stored::Duplicate) => {
            Json(json!({"ResultCode": 0, "ResultDesc": "Accepted"})).into_response()
        }
        Err(e) => internal(&e),
    }
}

#[derive(Deserialize)]
struct Cursor {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    500
}

async fn events(
    State(store): State<RelayStore>,
    headers: HeaderMap,
    Query(cursor): Query<Cursor>,
) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let device = match token {
        None => {
            return problem(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "send Authorization: Bearer DEVICE_TOKEN",
            );
        }
        Some(t) => match store.device_by_token(t).await {
            Ok(Some(d)) => d,
            Ok(None) => {
                return problem(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "this device token is unknown or revoked",
                );
            }
            Err(e) => return internal(&e),
        },
    };
    let last = match store.last_seq(&device.tenant_id).await {
        Ok(n) => n,
        Err(e) => return internal(&e),
    };
    if cursor.after < 0 || cursor.after > last {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": "cursor_out_of_range", "message": format!("this tenant's events run from 1 to {last}; start again from 0"), "last_seq": last})),
        )
            .into_response();
    }
    let limit = cursor.limit.clamp(1, 5000);
    let events = match store.events(&device, cursor.after, limit).await {
        Ok(e) => e,
        Err(e) => return internal(&e),
    };
    let next = events.last().map_or(cursor.after, |e| e.seq);
    let items: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            json!({
                "seq": e.seq,
                "provider": e.provider,
                "kind": e.kind,
                "dedup_key": e.dedup_key,
                "received_at": e.received_at,
                "body": String::from_utf8_lossy(&e.body),
            })
        })
        .collect();
    Json(json!({"events": items, "next": next})).into_response()
}
