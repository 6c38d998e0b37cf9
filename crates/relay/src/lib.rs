//! `malipo-relay`: the company's public address for provider callbacks.
//!
//! Safaricom posts STK callbacks and reversal results to a per-tenant URL whose path carries
//! an unguessable token; Paystack posts signed webhooks to the tenant's URL. The relay checks
//! each body, stores it durably with the tenant's next sequence number (see [`store`]) and only
//! then answers 200 ([`hooks`]). Office devices pull events after their cursor, hold an event
//! stream open, push their payments and read the company summary with a bearer token
//! ([`devices`]); the wire types of both sides are in `malipo_relay_api`.

// Request checks hand back the finished error `Response` for the handler to return at once;
// boxing it would only add noise on the error path.
#![allow(clippy::result_large_err)]

pub mod access;
pub mod backup;
mod devices;
mod hooks;
pub mod metrics;
pub mod paybill;
pub mod register;
pub mod retention;
pub mod sealing;
pub mod serve;
pub mod store;
pub mod tenants;
pub mod updates;
pub mod uploads;
mod verify_page;

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use malipo_relay_api as api;
pub use malipo_relay_api::{DARAJA_PATH, MAX_BODY, PAYSTACK_PATH};
use sealing::SealingKey;
use store::RelayStore;

/// What every handler needs.
#[derive(Debug, Clone)]
pub struct Relay {
    pub store: RelayStore,
    /// Opens tenants' sealed Paystack secrets; without it Paystack webhooks cannot be checked.
    pub sealing: Option<SealingKey>,
    pub access: std::sync::Arc<access::Access>,
    /// Tenants looked up in the last few seconds.
    pub tenants: std::sync::Arc<tenants::Tenants>,
    /// What a client may take (timeouts, connections, event streams per device).
    pub limits: serve::Limits,
    /// Where providers reach this relay (`MALIPO_RELAY_PUBLIC_URL`), without a trailing slash;
    /// told to devices checking their set-up.
    pub public_url: Option<String>,
    /// The folder `/updates/NAME` serves (`MALIPO_RELAY_UPDATES_DIR`), if the company
    /// publishes updates here.
    pub updates_dir: Option<std::path::PathBuf>,
    /// Event streams open, per device.
    streams: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    /// Set when the relay is shutting down: event streams end.
    closing: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Relay {
    pub fn new(store: RelayStore, sealing: Option<SealingKey>, access: access::Access) -> Relay {
        Relay {
            store,
            sealing,
            access: std::sync::Arc::new(access),
            tenants: Default::default(),
            limits: serve::Limits::default(),
            public_url: None,
            updates_dir: None,
            streams: Default::default(),
            closing: std::sync::Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// Ends every event stream (devices pull, then reconnect to another instance or later).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }
}

/// The client address a callback came from, as the access rules decided it.
#[derive(Debug, Clone, Copy)]
struct Source(std::net::IpAddr);

pub use axum::Router;

/// Serves `router` on `listener` with the default [`serve::Limits`] until the task is dropped
/// (in-process relays: demo mode, tests). `malipo-relay serve` uses [`serve::serve`] itself.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    serve::serve(
        listener,
        router,
        serve::Limits::default(),
        std::sync::Arc::new(metrics::Metrics::default()),
        std::future::pending(),
    )
    .await
}

pub fn router(relay: Relay) -> Router {
    Router::new()
        .route(api::HEALTHZ, get(healthz))
        .route(api::READYZ, get(readyz))
        .route(&format!("{DARAJA_PATH}/{{token}}"), post(hooks::daraja))
        .route(
            &format!("{PAYSTACK_PATH}/{{tenant}}"),
            post(hooks::paystack),
        )
        .route(
            &format!("{}/{{token}}", api::C2B_VALIDATION_PATH),
            post(paybill::validate),
        )
        .route(
            &format!("{}/{{token}}", api::SMS_REPORT_PATH),
            post(hooks::sms_report),
        )
        .route(
            &format!("{}/{{token}}", api::C2B_CONFIRMATION_PATH),
            post(paybill::confirm),
        )
        .route(api::CLAIMS, post(paybill::claim))
        .route(
            api::SUSPENSE,
            get(paybill::suspense_list).post(paybill::suspense_add),
        )
        .route(api::SUSPENSE_DECIDE, post(paybill::suspense_decide))
        .route(api::EVENTS, get(devices::events))
        .route(api::EVENTS_STREAM, get(devices::stream))
        .route(api::TRANSACTIONS, post(devices::upload))
        .route(api::SUMMARY, get(devices::summary))
        .route(api::DEVICE_CHECK, post(devices::check))
        .route(
            api::POLICIES,
            get(devices::register).post(devices::import_register),
        )
        .route(api::PAYMENTS, get(devices::payments))
        .route(
            &format!("{}/{{name}}", api::UPDATES_PATH),
            get(updates::file),
        )
        .route(
            &format!(
                "{}/{{key}}/{{receipt}}/{{amount}}/{{date}}/{{signature}}",
                api::VERIFY_PATH
            ),
            get(verify_page::verify_receipt),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            relay.clone(),
            time_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(relay.clone(), observe))
        .with_state(relay)
}

/// `/metrics`, for a listener of its own (loopback by default): it names tenants and devices,
/// so it is not served to the public.
pub fn metrics_router(relay: Relay) -> Router {
    Router::new()
        .route("/metrics", get(metrics_page))
        .with_state(relay)
}

/// A request must be read and answered within [`serve::Limits::request_timeout`]: a client
/// that trickles its body is cut off (408). An event stream, answered at once, runs on.
async fn time_limit(
    State(relay): State<Relay>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(relay.limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => problem(
            StatusCode::REQUEST_TIMEOUT,
            api::ProblemCode::RequestTimeout,
            "the request took too long to arrive",
        ),
    }
}

/// Times callbacks and counts outcomes and refusals (including bodies refused for size, which
/// the limit answers before any handler runs).
async fn observe(
    State(relay): State<Relay>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // (what the metrics call it, whose allowlist applies)
    let caller = match request.uri().path() {
        p if p.starts_with(DARAJA_PATH) => Some(("daraja", "daraja")),
        p if p.starts_with(api::C2B_VALIDATION_PATH) => Some(("c2b_validation", "daraja")),
        p if p.starts_with(api::C2B_CONFIRMATION_PATH) => Some(("c2b_confirmation", "daraja")),
        p if p.starts_with(PAYSTACK_PATH) => Some(("paystack", "paystack")),
        p if p.starts_with(api::SMS_REPORT_PATH) => Some(("sms_report", "africastalking")),
        _ => None,
    };
    let provider = caller.map(|(label, _)| label);
    let metrics = relay.store.metrics();
    if let Some((_, provider)) = caller {
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let client = relay.access.client_ip(peer, request.headers());
        if !relay.access.allowed(provider, client) {
            metrics.rejected(api::ProblemCode::SourceNotAllowed);
            return problem(
                StatusCode::FORBIDDEN,
                api::ProblemCode::SourceNotAllowed,
                &format!("{provider} callbacks are not accepted from {client}"),
            );
        }
        if !relay.access.take(client) {
            metrics.rejected(api::ProblemCode::RateLimited);
            return problem(
                StatusCode::TOO_MANY_REQUESTS,
                api::ProblemCode::RateLimited,
                "too many requests from this address; slow down",
            );
        }
        request.extensions_mut().insert(Source(client));
    }
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    if let (Some(provider), Some(Outcome(outcome))) =
        (provider, response.extensions().get::<Outcome>())
    {
        metrics.callback(provider, outcome, started.elapsed());
    } else if let Some(Reason(reason)) = response.extensions().get::<Reason>() {
        metrics.rejected(*reason);
    } else if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        metrics.rejected(api::ProblemCode::TooLarge);
    }
    response
}

#[derive(serde::Serialize)]
struct Health {
    status: &'static str,
}

/// Alive: the process answers (whatever its database says).
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(serde::Serialize)]
struct Readiness {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Ready: the database answers and the writer keeps up; 503 with the reason otherwise.
async fn readyz(State(relay): State<Relay>) -> Response {
    match relay.store.ready().await {
        Ok(()) => Json(Readiness {
            status: "ready",
            reason: None,
        })
        .into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Readiness {
                    status: "not_ready",
                    reason: Some(reason),
                }),
            )
                .into_response()
        }
    }
}

/// Why a request was refused, carried on the response for the metrics.
#[derive(Debug, Clone, Copy)]
struct Reason(api::ProblemCode);

/// What happened to an accepted callback, carried on the response for the metrics.
#[derive(Debug, Clone, Copy)]
struct Outcome(&'static str);

/// A refusal: `{"error": code, "message": ...}` with `status`.
fn problem(status: StatusCode, code: api::ProblemCode, message: &str) -> Response {
    let body = api::Problem {
        error: code,
        message: message.to_owned(),
        last_seq: None,
    };
    let mut response = (status, Json(body)).into_response();
    response.extensions_mut().insert(Reason(code));
    response
}

/// The store failed: the client hears only that it should try again (what failed, which may
/// name tables or hosts, goes to the relay's log).
fn internal(e: &store::RelayError) -> Response {
    tracing::error!(error = %e, "the relay's database failed a request");
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        api::ProblemCode::Unavailable,
        "the relay could not do this just now; send it again",
    )
}

/// `GET /metrics`: the counters and the gauges, in Prometheus text.
async fn metrics_page(
    axum::extract::State(relay): axum::extract::State<Relay>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let store = &relay.store;
    match store.gauges().await {
        Ok(gauges) => (
            [("content-type", "text/plain; version=0.0.4")],
            store.metrics().render(&gauges, store::now_ms()),
        )
            .into_response(),
        Err(e) => internal(&e),
    }
}
