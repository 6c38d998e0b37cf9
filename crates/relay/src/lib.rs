//! `malipo-relay`: the company's public address for provider callbacks.
//!
//! Safaricom posts STK callbacks and reversal results to a per-tenant URL whose path carries
//! an unguessable token; the relay checks the body is a Daraja callback, stores it durably
//! with the tenant's next sequence number (see [`store`]) and only then answers 200. Office
//! devices pull events after their cursor with a bearer token.

// Request checks hand back the finished error `Response` for the handler to return at once;
// boxing it would only add noise on the error path.
#![allow(clippy::result_large_err)]

pub mod access;
pub mod metrics;
pub mod sealing;
pub mod store;
pub mod tenants;
pub mod uploads;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use malipo_providers::{daraja, paystack};
use sealing::SealingKey;
use sha2::{Digest, Sha256};
use store::{Incoming, RelayStore, Stored};

/// Bodies larger than this are refused before they are read.
pub const MAX_BODY: usize = 64 * 1024;

/// The path prefix of Daraja callback URLs: no "mpesa" or "safaricom" in it, as Safaricom asks.
pub const DARAJA_PATH: &str = "/hooks/d";
/// The path prefix of Paystack webhook URLs; the tenant id follows.
pub const PAYSTACK_PATH: &str = "/hooks/p";

/// What every handler needs.
#[derive(Debug, Clone)]
pub struct Relay {
    pub store: RelayStore,
    /// Opens tenants' sealed Paystack secrets; without it Paystack webhooks cannot be checked.
    pub sealing: Option<SealingKey>,
    pub access: std::sync::Arc<access::Access>,
    /// Tenants looked up in the last few seconds.
    pub tenants: std::sync::Arc<tenants::Tenants>,
}

impl Relay {
    pub fn new(store: RelayStore, sealing: Option<SealingKey>, access: access::Access) -> Relay {
        Relay {
            store,
            sealing,
            access: std::sync::Arc::new(access),
            tenants: Default::default(),
        }
    }
}

/// The client address a callback came from, as the access rules decided it.
#[derive(Debug, Clone, Copy)]
struct Source(std::net::IpAddr);

pub use axum::Router;

/// Serves `router` on `listener`, giving handlers each client's address (for the access rules).
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

pub fn router(relay: Relay) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/hooks/d/{token}", post(daraja_callback))
        .route("/hooks/p/{tenant}", post(paystack_webhook))
        .route("/v1/events", get(events))
        .route("/v1/events/stream", get(stream))
        .route("/v1/transactions", post(upload))
        .route("/v1/summary", get(summary))
        .route(
            "/v/{key}/{receipt}/{amount}/{date}/{signature}",
            get(verify_receipt),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(relay.clone(), observe))
        .with_state(relay)
}

/// Times callbacks and counts outcomes and refusals (including bodies refused for size, which
/// the limit answers before any handler runs).
async fn observe(
    State(relay): State<Relay>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let provider = match request.uri().path() {
        p if p.starts_with(DARAJA_PATH) => Some("daraja"),
        p if p.starts_with(PAYSTACK_PATH) => Some("paystack"),
        _ => None,
    };
    let metrics = relay.store.metrics();
    if let Some(provider) = provider {
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let client = relay.access.client_ip(peer, request.headers());
        if !relay.access.allowed(provider, client) {
            metrics.rejected("source_not_allowed");
            return problem(
                StatusCode::FORBIDDEN,
                "source_not_allowed",
                &format!("{provider} callbacks are not accepted from {client}"),
            );
        }
        if !relay.access.take(client) {
            metrics.rejected("rate_limited");
            return problem(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
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
        metrics.rejected(reason);
    } else if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        metrics.rejected("too_large");
    }
    response
}

async fn metrics_text(State(Relay { store, .. }): State<Relay>) -> Response {
    match store.gauges().await {
        Ok(gauges) => (
            [("content-type", "text/plain; version=0.0.4")],
            store.metrics().render(&gauges),
        )
            .into_response(),
        Err(e) => internal(&e),
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Why a request was refused, carried on the response for the metrics.
#[derive(Debug, Clone, Copy)]
struct Reason(&'static str);

/// What happened to an accepted callback, carried on the response for the metrics.
#[derive(Debug, Clone, Copy)]
struct Outcome(&'static str);

fn problem(status: StatusCode, code: &'static str, message: &str) -> Response {
    let mut response = (status, Json(json!({"error": code, "message": message}))).into_response();
    response.extensions_mut().insert(Reason(code));
    response
}

fn accepted(body: serde_json::Value, stored: Stored) -> Response {
    let mut response = Json(body).into_response();
    let outcome = match stored {
        Stored::New(_) => "stored",
        Stored::Duplicate => "duplicate",
    };
    response.extensions_mut().insert(Outcome(outcome));
    response
}

fn internal(e: &store::RelayError) -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        &format!("not stored: {e}; send it again"),
    )
}

async fn daraja_callback(
    State(Relay { store, tenants, .. }): State<Relay>,
    Path(token): Path<String>,
    source: Option<axum::Extension<Source>>,
    body: Bytes,
) -> Response {
    let tenant = match tenants.by_daraja_token(&store, &token).await {
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
    let (kind, subject) = match daraja::callback::parse(&body) {
        Ok(cb) => ("stk_callback", cb.checkout_request_id),
        Err(stk_error) => match daraja::parse_reversal_result(&body) {
            Ok(r) => ("reversal_result", r.conversation_id),
            Err(_) => return problem(StatusCode::BAD_REQUEST, "malformed", &stk_error.to_string()),
        },
    };
    let dedup_key = match kind {
        "stk_callback" => format!("stk:{subject}"),
        _ => format!("reversal:{subject}"),
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
    };
    match store.ingest(incoming).await {
        Ok(stored) => accepted(json!({"ResultCode": 0, "ResultDesc": "Accepted"}), stored),
        Err(e) => internal(&e),
    }
}

/// A Paystack webhook: signed with the tenant's secret key over the exact bytes. There is no
/// event id, so duplicates are recognised by event, reference and a hash of the body.
async fn paystack_webhook(
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
                "no_secret",
                "this tenant's Paystack secret is not set on the relay",
            );
        }
        Ok(Some((_, tenants::PaystackSecret::NoKey))) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_secret",
                "the relay has no MALIPO_RELAY_SECRET_KEY, so it cannot check Paystack signatures",
            );
        }
        Ok(None) => {
            return problem(
                StatusCode::NOT_FOUND,
                "unknown_url",
                "no tenant has this webhook URL",
            );
        }
        Err(tenants::LookupError::Seal(e)) => {
            return problem(StatusCode::SERVICE_UNAVAILABLE, "sealing", &e.to_string());
        }
        Err(tenants::LookupError::Store(e)) => return internal(&e),
    };
    let signature = headers
        .get("x-paystack-signature")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = paystack::verify_signature(&secret, &body, signature) {
        return problem(StatusCode::UNAUTHORIZED, "bad_signature", &e.to_string());
    }
    let event = match paystack::parse_event(&body) {
        Ok(ev) => ev,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "malformed", &e.to_string()),
    };
    let (kind, reference) = match &event {
        paystack::WebhookEvent::ChargeSuccess(t) => {
            ("charge.success".to_owned(), t.reference.clone())
        }
        paystack::WebhookEvent::Refund(r) => (
            format!("refund.{}", r.status),
            r.transaction_reference.clone(),
        ),
        paystack::WebhookEvent::Other(name) => (name.clone(), String::new()),
    };
    let digest: String = Sha256::digest(&body)
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    let incoming = Incoming {
        tenant_id: tenant.id,
        provider: "paystack",
        dedup_key: format!("{kind}:{reference}:{digest}"),
        kind,
        subject: reference,
        source_addr: source.map(|s| s.0.0.to_string()),
        headers: json!({"x-paystack-signature": signature}).to_string(),
        body: body.to_vec(),
    };
    match relay.store.ingest(incoming).await {
        Ok(stored) => accepted(json!({"status": "ok"}), stored),
        Err(e) => internal(&e),
    }
}

/// The device presenting `Authorization: Bearer TOKEN`, or the answer refusing it.
async fn device(store: &RelayStore, headers: &HeaderMap) -> Result<store::Device, Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        None => Err(problem(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send Authorization: Bearer DEVICE_TOKEN",
        )),
        Some(t) => match store.device_by_token(t).await {
            Ok(Some(d)) => Ok(d),
            Ok(None) => Err(problem(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "this device token is unknown or revoked",
            )),
            Err(e) => Err(internal(&e)),
        },
    }
}

/// Server-sent events that only wake a device: `event: wake` with the tenant's last sequence
/// number, once on connecting and after each commit that stored something new for it, with a
/// comment every 15 seconds so proxies keep the connection open. The device then pulls
/// `/v1/events` after its cursor; nothing is ever delivered only by this stream.
async fn stream(State(Relay { store, .. }): State<Relay>, headers: HeaderMap) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let device = match device(&store, &headers).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let wakes = store.subscribe();
    let first = match store.last_seq(&device.tenant_id).await {
        Ok(n) => n,
        Err(e) => return internal(&e),
    };
    let wake = |seq: i64| {
        Event::default()
            .event("wake")
            .data(json!({"last_seq": seq}).to_string())
    };
    let tenant = device.tenant_id;
    let updates =
        futures_util::stream::unfold((wakes, tenant), move |(mut rx, tenant)| async move {
            loop {
                match rx.recv().await {
                    Ok((t, seq)) if t == tenant => {
                        return Some((Ok::<_, std::convert::Infallible>(wake(seq)), (rx, tenant)));
                    }
                    Ok(_) => continue,
                    // Missed wakes: say so without a number; the device pulls anyway.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        return Some((Ok(Event::default().event("wake").data("{}")), (rx, tenant)));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(wake(first)) }),
        updates,
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

#[derive(Deserialize)]
struct UploadBody {
    transactions: Vec<uploads::Upload>,
}

/// Desktops push their payments here: idempotent, newest version wins. One bad record
/// refuses the whole upload and names it.
async fn upload(
    State(Relay { store, .. }): State<Relay>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let device = match device(&store, &headers).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let parsed: UploadBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "malformed",
                &format!("expected {{\"transactions\": [...]}}: {e}"),
            );
        }
    };
    let mut checked = Vec::with_capacity(parsed.transactions.len());
    for (i, t) in parsed.transactions.iter().enumerate() {
        match t.check() {
            Ok(c) => checked.push(c),
            Err(why) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    &format!("transaction {} ({}): {why}", i + 1, t.reference),
                );
            }
        }
    }
    match store.upload(&device, &checked).await {
        Ok(result) => Json(result).into_response(),
        Err(e) => internal(&e),
    }
}

#[derive(Deserialize)]
struct SummaryQuery {
    from: Option<String>,
    to: Option<String>,
    currency: Option<String>,
}

/// The company-wide summary from every office's uploads. Dates are Nairobi days, inclusive.
async fn summary(
    State(Relay { store, .. }): State<Relay>,
    headers: HeaderMap,
    Query(q): Query<SummaryQuery>,
) -> Response {
    use malipo_domain::time_zone::day_start_ms;
    use time::Date;
    use time::format_description::well_known::Iso8601;
    let device = match device(&store, &headers).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let day = |text: &Option<String>| -> Result<Option<Date>, Response> {
        text.as_deref()
            .map(|t| {
                Date::parse(t, &Iso8601::DATE).map_err(|_| {
                    problem(
                        StatusCode::BAD_REQUEST,
                        "invalid",
                        &format!("{t:?} is not a date like 2026-11-27"),
                    )
                })
            })
            .transpose()
    };
    let (from, to) = match (day(&q.from), day(&q.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let currency = match malipo_domain::Currency::from_code(q.currency.as_deref().unwrap_or("KES"))
    {
        Ok(c) => c,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "invalid", &e.to_string()),
    };
    let from_ms = from.map_or(i64::MIN, day_start_ms);
    let to_ms = to.and_then(|d| d.next_day()).map_or(i64::MAX, day_start_ms);
    match store
        .company_summary(&device.tenant_id, currency, from_ms, to_ms)
        .await
    {
        Ok(s) => Json(s).into_response(),
        Err(e) => internal(&e),
    }
}

/// Escapes text for HTML.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn verification_page(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;\
         margin:2rem auto;padding:0 1rem;color:#111}}h1{{font-size:1.4rem}}\
         dt{{color:#555}}dd{{margin:0 0 .6rem;font-weight:600}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    );
    (
        status,
        [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
        ],
        page,
    )
        .into_response()
}

/// The page a receipt's QR code opens: it confirms the receipt's number, amount and date when
/// the link's signature is genuine, and says plainly that it cannot when it is not.
async fn verify_receipt(
    State(Relay { store, .. }): State<Relay>,
    Path((key, receipt, amount, date, signature)): Path<(String, String, String, String, String)>,
) -> Response {
    use malipo_domain::verification;
    let refused = || {
        verification_page(
            StatusCode::NOT_FOUND,
            "This receipt could not be verified",
            "<p>The link does not match any receipt this company issued: the receipt may have \
             been altered. Ask the office that issued it to confirm the payment.</p>",
        )
    };
    let Some(path) = verification::parse(&key, &receipt, &amount, &date, &signature) else {
        return refused();
    };
    let keys = match store.receipt_keys(&path.key_id).await {
        Ok(k) => k,
        Err(e) => return internal(&e),
    };
    let Some((_, company)) = keys
        .iter()
        .find(|(k, _)| verification::verify(k, &path.vouched, &path.signature))
    else {
        return refused();
    };
    let v = &path.vouched;
    let months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let day = format!(
        "{} {} {}",
        v.date.day(),
        months[usize::from(u8::from(v.date.month())) - 1],
        v.date.year()
    );
    verification_page(
        StatusCode::OK,
        "Genuine receipt",
        &format!(
            "<p>{} issued this receipt.</p><dl><dt>Receipt number</dt><dd>{}</dd>\
             <dt>Amount</dt><dd>{}</dd><dt>Date</dt><dd>{}</dd></dl>",
            html_text(company),
            html_text(&v.receipt_number),
            html_text(&v.amount.to_string()),
            day
        ),
    )
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
    State(Relay { store, .. }): State<Relay>,
    headers: HeaderMap,
    Query(cursor): Query<Cursor>,
) -> Response {
    let device = match device(&store, &headers).await {
        Ok(d) => d,
        Err(r) => return r,
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
                "office": e.office,
            })
        })
        .collect();
    Json(json!({"events": items, "next": next})).into_response()
}
