//! What office devices call with their bearer token: the event feed and its wake-up stream,
//! the upload of their payments, and the company summary.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use malipo_relay_api as api;

use crate::store::{self, RelayStore};
use crate::{Relay, internal, problem};

/// The device presenting `Authorization: Bearer TOKEN`; a request without a valid, unrevoked
/// token is answered 401 before its handler runs.
pub(crate) struct DeviceAuth(pub store::Device);

impl FromRequestParts<Relay> for DeviceAuth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, relay: &Relay) -> Result<Self, Response> {
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = token else {
            return Err(problem(
                StatusCode::UNAUTHORIZED,
                api::ProblemCode::Unauthenticated,
                "send Authorization: Bearer DEVICE_TOKEN",
            ));
        };
        match relay.store.device_by_token(token).await {
            Ok(Some(d)) => {
                // A device added before receipt keys gets its key the first time it calls.
                if let (false, Some(sealing)) = (d.has_receipt_key, &relay.sealing)
                    && let Err(e) = relay.store.keep_receipt_key(&d.id, token, sealing).await
                {
                    tracing::warn!(device = %d.id, error = %e, "no receipt key kept");
                }
                Ok(DeviceAuth(d))
            }
            Ok(None) => Err(problem(
                StatusCode::UNAUTHORIZED,
                api::ProblemCode::Unauthenticated,
                "this device token is unknown or revoked",
            )),
            Err(e) => Err(internal(&e)),
        }
    }
}

/// Events after the device's cursor, at most `limit` (and at most [`api::MAX_PAGE_EVENTS`] and
/// about [`api::MAX_PAGE_BYTES`] of bodies; at least one).
pub(crate) async fn events(
    State(Relay { store, .. }): State<Relay>,
    DeviceAuth(device): DeviceAuth,
    Query(cursor): Query<api::EventsQuery>,
) -> Response {
    let last = match store.last_seq(&device.tenant_id).await {
        Ok(n) => n,
        Err(e) => return internal(&e),
    };
    if cursor.after < 0 || cursor.after > last {
        let body = api::Problem {
            error: api::ProblemCode::CursorOutOfRange,
            message: format!("this tenant's events run from 1 to {last}; start again from 0"),
            last_seq: Some(last),
        };
        return (StatusCode::CONFLICT, Json(body)).into_response();
    }
    let limit = cursor.limit.clamp(1, api::MAX_PAGE_EVENTS);
    let events = match store.events(&device, cursor.after, limit).await {
        Ok(e) => e,
        Err(e) => return internal(&e),
    };
    // The page stops before its JSON passes MAX_PAGE_BYTES (escaping can make a body longer
    // than it was received, so each event is measured as it will be sent).
    let mut size = 64;
    let mut page = Vec::with_capacity(events.len());
    for e in events {
        let event = api::Event {
            seq: e.seq,
            provider: e.provider,
            kind: e.kind,
            dedup_key: e.dedup_key,
            received_at: e.received_at,
            body: String::from_utf8_lossy(&e.body).into_owned(),
            office: e.office,
        };
        size += serde_json::to_vec(&event).map_or(0, |v| v.len()) + 1;
        if size > api::MAX_PAGE_BYTES && !page.is_empty() {
            break;
        }
        page.push(event);
    }
    let next = page.last().map_or(cursor.after, |e| e.seq);
    Json(api::EventPage { events: page, next }).into_response()
}

/// Server-sent events that only wake a device: [`api::Wake`] with the tenant's last sequence
/// number, once on connecting and after each commit that stored something new for it, with a
/// comment every 15 seconds so proxies keep the connection open. The device then pulls
/// [`api::EVENTS`] after its cursor; nothing is ever delivered only by this stream.
pub(crate) async fn stream(State(relay): State<Relay>, DeviceAuth(device): DeviceAuth) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let Some(open) = StreamSlot::take(&relay, &device.id) else {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            api::ProblemCode::TooManyStreams,
            &format!(
                "this device already holds {} event streams open; close one first",
                relay.limits.streams_per_device
            ),
        );
    };
    if *relay.closing.borrow() {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            api::ProblemCode::Closing,
            "the relay is shutting down; pull events and connect again shortly",
        );
    }
    let store = relay.store.clone();
    let closing = relay.closing.subscribe();
    let wakes = store.subscribe();
    let first = match store.last_seq(&device.tenant_id).await {
        Ok(n) => n,
        Err(e) => return internal(&e),
    };
    let wake = |last_seq: Option<i64>| {
        let data = serde_json::to_string(&api::Wake { last_seq }).unwrap_or_default();
        Event::default().event(api::WAKE_EVENT).data(data)
    };
    let tenant = device.tenant_id;
    // The slot travels with the stream: it is given back when the stream ends or the device
    // goes away.
    let updates =
        futures_util::stream::unfold((wakes, tenant, open), move |(mut rx, tenant, open)| {
            let mut closing = closing.clone();
            async move {
                loop {
                    let received = tokio::select! {
                        // Shutting down: the stream ends, the device pulls and comes back.
                        _ = closing.wait_for(|c| *c) => return None,
                        r = rx.recv() => r,
                    };
                    match received {
                        Ok((t, seq)) if t == tenant => {
                            return Some((
                                Ok::<_, std::convert::Infallible>(wake(Some(seq))),
                                (rx, tenant, open),
                            ));
                        }
                        Ok(_) => continue,
                        // Missed wakes: say so without a number; the device pulls anyway.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            return Some((Ok(wake(None)), (rx, tenant, open)));
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        });

    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(wake(Some(first))) }),
        updates,
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

/// One of a device's event streams; given back when dropped.
pub(crate) struct StreamSlot {
    streams: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    device: String,
}

impl StreamSlot {
    fn take(relay: &Relay, device: &str) -> Option<StreamSlot> {
        let mut open = relay.streams.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(device.to_owned()).or_default();
        if *n >= relay.limits.streams_per_device {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            streams: std::sync::Arc::clone(&relay.streams),
            device: device.to_owned(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.device) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.device);
            }
        }
    }
}

/// Desktops push their payments here: idempotent, newest version wins. One bad record
/// refuses the whole upload and names it.
pub(crate) async fn upload(
    State(Relay { store, .. }): State<Relay>,
    DeviceAuth(device): DeviceAuth,
    body: Bytes,
) -> Response {
    let parsed: api::UploadBatch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                api::ProblemCode::Malformed,
                &format!("expected {{\"transactions\": [...]}}: {e}"),
            );
        }
    };
    let mut checked = Vec::with_capacity(parsed.transactions.len());
    for (i, t) in parsed.transactions.iter().enumerate() {
        match crate::uploads::check(t) {
            Ok(c) => checked.push(c),
            Err(why) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    api::ProblemCode::Invalid,
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

/// The company's payments after the device's cursor, every counter's, in one order.
pub(crate) async fn payments(
    State(Relay { store, .. }): State<Relay>,
    DeviceAuth(device): DeviceAuth,
    Query(q): Query<api::FeedQuery>,
) -> Response {
    let limit = q.limit.clamp(1, api::MAX_FEED_PAGE);
    match store
        .payments(&device.tenant_id, q.after.max(0), limit)
        .await
    {
        Ok(payments) => {
            let next = payments.last().map_or(q.after.max(0), |p| p.seq);
            Json(api::PaymentPage { payments, next }).into_response()
        }
        Err(e) => internal(&e),
    }
}

/// The company's policy register after the device's cursor, opened for this company's device.
pub(crate) async fn register(
    State(relay): State<Relay>,
    DeviceAuth(device): DeviceAuth,
    Query(q): Query<api::FeedQuery>,
) -> Response {
    let limit = q.limit.clamp(1, api::MAX_FEED_PAGE);
    let page = relay
        .store
        .register_page(
            &device.tenant_id,
            relay.sealing.as_ref(),
            q.after.max(0),
            limit,
        )
        .await;
    match page {
        Ok(policies) => {
            let next = policies.last().map_or(q.after.max(0), |p| p.seq);
            Json(api::RegisterPage { policies, next }).into_response()
        }
        Err(e) => register_problem(&e),
    }
}

/// Policies added or imported at a counter, into the company register: checked whole, one
/// refused policy writes none (the report names each, with why).
pub(crate) async fn import_register(
    State(relay): State<Relay>,
    DeviceAuth(device): DeviceAuth,
    body: Bytes,
) -> Response {
    let upload: api::RegisterUpload = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                api::ProblemCode::Malformed,
                &format!("expected {{\"policies\": [...]}}: {e}"),
            );
        }
    };
    let office = match upload
        .office
        .as_deref()
        .map(malipo_domain::OfficeCode::parse)
    {
        Some(Err(e)) => {
            return problem(
                StatusCode::BAD_REQUEST,
                api::ProblemCode::Invalid,
                &e.to_string(),
            );
        }
        Some(Ok(o)) => Some(o.to_string()),
        None => None,
    };
    let done = relay
        .store
        .import_register(
            &device.tenant_id,
            relay.sealing.as_ref(),
            &upload.policies,
            None,
            upload.dry_run,
            office.as_deref(),
        )
        .await;
    match done {
        Ok(report) if report.refused.is_empty() => Json(report).into_response(),
        Ok(report) => (StatusCode::UNPROCESSABLE_ENTITY, Json(report)).into_response(),
        Err(e) => register_problem(&e),
    }
}

fn register_problem(e: &store::RelayError) -> Response {
    match e {
        store::RelayError::Invalid(why) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            api::ProblemCode::NoSecret,
            why,
        ),
        e => internal(e),
    }
}

/// Answers an office checking its set-up (`malipo doctor`): which company and device its token
/// is, whether the Daraja callback URL it gives Safaricom carries this company's token, where
/// Paystack must send webhooks, and whether the relay holds the same Paystack secret (proved
/// with an HMAC of the office's challenge, so the secret itself never travels). Reads only.
pub(crate) async fn check(
    State(relay): State<Relay>,
    DeviceAuth(device): DeviceAuth,
    Json(q): Json<api::DeviceCheck>,
) -> Response {
    let challenge = match q.paystack_challenge.as_deref() {
        Some(c) if !(16..=128).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_hexdigit()) => {
            return problem(
                StatusCode::BAD_REQUEST,
                api::ProblemCode::Invalid,
                "paystack_challenge is 16 to 128 hex digits",
            );
        }
        other => other,
    };
    let daraja_token = match q.daraja_callback_url.as_deref() {
        None => None,
        Some(url) => Some(match callback_token(url) {
            None => api::TokenMatch::NotACallbackUrl,
            Some(token) => match relay.store.tenant_by_daraja_token(token).await {
                Ok(Some((t, until))) if t.id == device.tenant_id => match until {
                    None => api::TokenMatch::Current,
                    Some(_) => api::TokenMatch::Previous,
                },
                Ok(_) => api::TokenMatch::Unknown,
                Err(e) => return internal(&e),
            },
        }),
    };
    // Read afresh rather than from the webhook path's cache: a secret set a moment ago shows.
    let (tenant, sealed) = match relay
        .store
        .tenant_with_paystack_secret(&device.tenant_id)
        .await
    {
        Ok(Some(found)) => found,
        Ok(None) => {
            tracing::error!(device = %device.id, "a device's tenant is missing");
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                api::ProblemCode::Unavailable,
                "the relay could not do this just now; send it again",
            );
        }
        Err(e) => return internal(&e),
    };
    let opened = match (sealed, relay.sealing.as_ref()) {
        (None, _) => Err(api::SecretState::NotSet),
        (Some(sealed), Some(key)) => key.open(&sealed).map_err(|_| api::SecretState::Sealed),
        (Some(_), None) => Err(api::SecretState::Sealed),
    };
    let (paystack_secret, paystack_proof) = match opened {
        Ok(secret) => (
            api::SecretState::Set,
            challenge.map(|c| malipo_providers::paystack::signature(&secret, c.as_bytes())),
        ),
        Err(state) => (state, None),
    };
    let last_seq = match relay.store.last_seq(&device.tenant_id).await {
        Ok(n) => n,
        Err(e) => return internal(&e),
    };
    Json(api::DeviceCheckAnswer {
        company: tenant.name,
        device: device.name,
        counter: device.counter,
        paystack_webhook_url: relay
            .public_url
            .as_ref()
            .map(|u| format!("{u}{}/{}", api::PAYSTACK_PATH, device.tenant_id)),
        public_url: relay.public_url.clone(),
        daraja_token,
        paystack_secret,
        paystack_proof,
        last_seq,
    })
    .into_response()
}

/// The token of a Daraja callback URL of this relay (`…/hooks/d/TOKEN`), if it is one.
fn callback_token(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = &rest[rest.find('/')?..];
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let token = path.strip_prefix(api::DARAJA_PATH)?.strip_prefix('/')?;
    (!token.is_empty() && !token.contains('/')).then_some(token)
}

/// The company-wide summary from every office's uploads. Dates are Nairobi days, inclusive.
pub(crate) async fn summary(
    State(Relay { store, .. }): State<Relay>,
    DeviceAuth(device): DeviceAuth,
    Query(q): Query<api::SummaryQuery>,
) -> Response {
    match company_summary(&store, &device, &q).await {
        Ok(s) => Json(s).into_response(),
        Err(r) => r,
    }
}

async fn company_summary(
    store: &RelayStore,
    device: &store::Device,
    q: &api::SummaryQuery,
) -> Result<api::CompanySummary, Response> {
    use malipo_domain::time_zone::day_start_ms;
    use time::Date;
    use time::format_description::well_known::Iso8601;
    let day = |text: &Option<String>| -> Result<Option<Date>, Response> {
        text.as_deref()
            .map(|t| {
                Date::parse(t, &Iso8601::DATE).map_err(|_| {
                    problem(
                        StatusCode::BAD_REQUEST,
                        api::ProblemCode::Invalid,
                        &format!("{t:?} is not a date like 2026-11-27"),
                    )
                })
            })
            .transpose()
    };
    let (from, to) = (day(&q.from)?, day(&q.to)?);
    let currency = malipo_domain::Currency::from_code(q.currency.as_deref().unwrap_or("KES"))
        .map_err(|e| {
            problem(
                StatusCode::BAD_REQUEST,
                api::ProblemCode::Invalid,
                &e.to_string(),
            )
        })?;
    let from_ms = from.map_or(i64::MIN, day_start_ms);
    let to_ms = to.and_then(|d| d.next_day()).map_or(i64::MAX, day_start_ms);
    let office = match q.office.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
        Some(o) => Some(
            malipo_domain::OfficeCode::parse(o)
                .map_err(|e| {
                    problem(
                        StatusCode::BAD_REQUEST,
                        api::ProblemCode::Invalid,
                        &e.to_string(),
                    )
                })?
                .to_string(),
        ),
        None => None,
    };
    store
        .company_summary(
            &device.tenant_id,
            currency,
            from_ms,
            to_ms,
            office.as_deref(),
        )
        .await
        .map_err(|e| internal(&e))
}
