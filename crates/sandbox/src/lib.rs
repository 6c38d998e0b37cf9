//! `malipo-sandbox`: one process that answers on Daraja's and Paystack's paths with their JSON
//! and error bodies, then calls back and posts signed webhooks like they do.
//!
//! Outcomes are chosen as the real sandboxes choose them: by the customer's phone number for
//! M-Pesa ([`daraja::outcome_for`]) and by Paystack's documented test cards. Switches
//! ([`Behaviour`], `POST /__sandbox/behaviour`) make it misbehave on purpose: delay, duplicate,
//! drop or reorder callbacks, and answer 500 or spike arrest.
//!
//! It is written from the providers' documentation and does not share code with Malipo's
//! clients, so a field the clients misread is not misread here as well.

// Request checks return the finished error `Response` for the handler to send; boxing it would
// only add noise to a simulator that is never on a hot path.
#![allow(clippy::result_large_err)]

pub mod c2b;
pub mod daraja;
pub mod paystack;
pub mod ratiba;
pub mod sms;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The simulator's RSA key: reversal credentials are encrypted with its certificate
/// (served at `/__sandbox/certificate.pem`) and decrypted with this key. Test material only.
pub const SIMULATOR_KEY_PEM: &str = include_str!("../keys/simulator-key.pem");
pub const SIMULATOR_CERT_PEM: &str = include_str!("../keys/simulator-cert.pem");

/// Safaricom's public sandbox passkey for shortcode 174379.
pub const DEFAULT_PASSKEY: &str =
    "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

#[derive(Debug, Clone)]
pub struct Config {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub shortcode: String,
    pub passkey: String,
    /// Till numbers that may receive Buy Goods payments.
    pub tills: Vec<String>,
    pub initiator_name: String,
    pub initiator_password: String,
    pub token_ttl_secs: u64,
    pub paystack_secret: String,
    /// Where signed Paystack webhooks go.
    pub paystack_webhook_url: Option<String>,
    /// The base URL customers' browsers reach the checkout page on.
    pub public_url: String,
    /// Africa's Talking: the application's username and API key.
    pub sms_username: String,
    pub sms_api_key: String,
    /// Where SMS delivery reports go.
    pub sms_report_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            consumer_key: "sandbox-consumer-key".into(),
            consumer_secret: "sandbox-consumer-secret".into(),
            shortcode: "174379".into(),
            passkey: DEFAULT_PASSKEY.into(),
            tills: vec!["174380".into()],
            initiator_name: "testapi".into(),
            initiator_password: "Safaricom999!*!".into(),
            token_ttl_secs: 3599,
            paystack_secret: "sk_test_sandbox".into(),
            paystack_webhook_url: None,
            public_url: "http://127.0.0.1:8790".into(),
            sms_username: "sandbox".into(),
            sms_api_key: "atsk_sandbox".into(),
            sms_report_url: None,
        }
    }
}

/// Ways to make the simulator misbehave. Every field is optional in the JSON posted to
/// `/__sandbox/behaviour`; posting `{}` keeps what is set, `{"reset": true}` restores defaults.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Behaviour {
    /// How long the simulated customer takes to answer the prompt or pay.
    pub customer_delay_ms: u64,
    /// Extra wait before each callback or webhook is sent.
    pub callback_delay_ms: u64,
    /// Send each callback this many extra times.
    pub duplicate_callbacks: u32,
    /// Drop this percentage of callbacks (deterministically: exactly n in every 100).
    pub drop_percent: u32,
    /// Hold each callback until the next one, then send the newer one first.
    pub reorder: bool,
    /// Answer the next n API requests with HTTP 500.
    pub fail_next: u32,
    /// Answer the next n Daraja requests with spike arrest (`500.003.02`).
    pub spike_arrest_next: u32,
    /// Paystack charges this many subunits more (or less) than asked, as when fees are passed on.
    pub paystack_amount_delta_minor: i64,
    /// Carry out the next n API requests, then answer HTTP 504 as a gateway that timed out
    /// would: the charge, refund or reversal happened, but the caller never hears so.
    pub lose_next_answers: u32,
    /// External validation is switched on for the shortcode: each paybill payment is first
    /// sent to the registered validation URL.
    pub c2b_validation: bool,
    /// Registering URLs again is refused, as on production (the sandbox lets them be
    /// overwritten).
    pub c2b_register_once: bool,
    /// The C2B RegisterURL product the Daraja app is on, `v2` or `v1`: the other path fails.
    pub c2b_version: String,
    /// Leave the next n Transaction Status queries unanswered at the result URL.
    pub status_unanswered_next: u32,
    /// The next n SMS sends are answered 405 `InsufficientBalance`.
    pub sms_insufficient_balance_next: u32,
    /// Lose every STK callback, as when Safaricom's side fails to send it: the push is paid
    /// (or not) all the same, and STK Push Query knows.
    pub lose_stk_callbacks: bool,
    /// Lose every C2B confirmation (a paybill payment's or a paid push's), as when the relay
    /// was down: the payment happened all the same, and Transaction Status knows it.
    pub lose_c2b_confirmations: bool,
    /// How many transactions one Pull Transactions page lists.
    pub pull_page_size: u32,
    /// M-Pesa Express (the STK prompt and its query) is down, every request failing one way
    /// until switched off: `http_503` (the gateway's HTML error page), `busy` (`500.003.02`
    /// "System is busy"), `timeout` (no answer for `outage_hold_ms`, then a 504), or empty for
    /// none. The access token, C2B and Transaction Status keep working, as in the outages
    /// Safaricom announces for one product.
    pub daraja_outage: String,
    /// How long a `timeout` outage holds each request.
    pub outage_hold_ms: u64,
    /// What a saved card's bank answers when it is charged again (`charge_authorization`):
    /// empty to approve, `insufficient_funds` (declined, the card stays usable) or `expired`
    /// (declined, and Paystack marks the authorization not reusable: charging it again is
    /// refused), until switched back.
    pub card_charge: String,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            customer_delay_ms: 1500,
            callback_delay_ms: 0,
            duplicate_callbacks: 0,
            drop_percent: 0,
            reorder: false,
            fail_next: 0,
            spike_arrest_next: 0,
            paystack_amount_delta_minor: 0,
            lose_next_answers: 0,
            c2b_validation: false,
            c2b_register_once: false,
            c2b_version: "v2".into(),
            status_unanswered_next: 0,
            sms_insufficient_balance_next: 0,
            lose_stk_callbacks: false,
            lose_c2b_confirmations: false,
            pull_page_size: 100,
            daraja_outage: String::new(),
            outage_hold_ms: 60_000,
            card_charge: String::new(),
        }
    }
}

/// Counters tests read to check what the clients did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    pub token_requests: u64,
    pub stk_pushes: u64,
    pub stk_queries: u64,
    pub reversals: u64,
    pub paystack_requests: u64,
    pub callbacks_sent: u64,
    pub callbacks_dropped: u64,
}

/// A callback or webhook as it was sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    pub url: String,
    pub body: String,
    /// The HTTP status the receiver answered, or none if it could not be reached.
    pub status: Option<u16>,
}

pub(crate) struct Inner {
    pub config: Config,
    pub behaviour: Mutex<Behaviour>,
    pub stats: Mutex<Stats>,
    pub deliveries: Mutex<Vec<Delivery>>,
    pub tokens: Mutex<HashMap<String, std::time::Instant>>,
    pub daraja: Mutex<daraja::DarajaState>,
    pub c2b: Mutex<c2b::C2bState>,
    pub paystack: Mutex<paystack::PaystackState>,
    pub sms: Mutex<sms::SmsState>,
    pub ratiba: Mutex<ratiba::RatibaState>,
    drop_acc: Mutex<u32>,
    held: Mutex<Option<Outgoing>>,
    /// None when no client could be made (the TLS backend did not start): callbacks are then
    /// recorded as sent and unanswered.
    http: Option<reqwest::Client>,
}

#[derive(Debug, Clone)]
struct Outgoing {
    url: String,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

/// The simulator's shared state; cheap to clone.
#[derive(Clone)]
pub struct Sandbox(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("public_url", &self.0.config.public_url)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, carrying on if a panicking request poisoned it: the state is plain data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl Sandbox {
    pub fn new(config: Config) -> Sandbox {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .ok();
        Sandbox(Arc::new(Inner {
            config,
            behaviour: Mutex::new(Behaviour::default()),
            stats: Mutex::new(Stats::default()),
            deliveries: Mutex::new(Vec::new()),
            tokens: Mutex::new(HashMap::new()),
            daraja: Mutex::new(daraja::DarajaState::default()),
            c2b: Mutex::new(c2b::C2bState::default()),
            paystack: Mutex::new(paystack::PaystackState::default()),
            sms: Mutex::new(sms::SmsState::default()),
            ratiba: Mutex::new(ratiba::RatibaState::default()),
            drop_acc: Mutex::new(0),
            held: Mutex::new(None),
            http,
        }))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn behaviour(&self) -> Behaviour {
        lock(&self.0.behaviour).clone()
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        *lock(&self.0.behaviour) = b;
    }

    pub fn stats(&self) -> Stats {
        lock(&self.0.stats).clone()
    }

    /// Forgets every access token issued, as when Daraja invalidates them early.
    pub fn revoke_tokens(&self) {
        lock(&self.0.tokens).clear();
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.0.deliveries).clone()
    }

    pub(crate) fn bump(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut lock(&self.0.stats));
    }

    /// Takes one injected failure if any is armed: HTTP 500, or (for Daraja) spike arrest.
    /// What an M-Pesa Express request meets: the outage switched on (a `timeout` holds it first), or a
    /// failure injected for the next requests, or nothing.
    pub(crate) async fn daraja_failure(&self) -> Option<Response> {
        let (outage, hold) = {
            let b = lock(&self.0.behaviour);
            (b.daraja_outage.clone(), b.outage_hold_ms)
        };
        match outage.as_str() {
            "http_503" => {
                return Some(
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [("content-type", "text/html")],
                        "<html><body><h1>503 Service Unavailable</h1></body></html>",
                    )
                        .into_response(),
                );
            }
            "busy" => {
                let body = json!({"requestId": "sandbox", "errorCode": "500.003.02", "errorMessage": "System is busy. Please try again in few minutes."});
                return Some((StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response());
            }
            "timeout" => {
                tokio::time::sleep(std::time::Duration::from_millis(hold)).await;
                return Some(StatusCode::GATEWAY_TIMEOUT.into_response());
            }
            _ => {}
        }
        self.injected_failure(true)
    }

    pub(crate) fn injected_failure(&self, daraja: bool) -> Option<Response> {
        let mut b = lock(&self.0.behaviour);
        if b.fail_next > 0 {
            b.fail_next -= 1;
            let body = if daraja {
                json!({"requestId": "sandbox", "errorCode": "500.002.1001", "errorMessage": "Internal Server Error"})
            } else {
                json!({"status": false, "message": "An error occurred"})
            };
            return Some((StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response());
        }
        if daraja && b.spike_arrest_next > 0 {
            b.spike_arrest_next -= 1;
            let body = json!({"requestId": "sandbox", "errorCode": "500.003.02", "errorMessage": "System is busy. Please try again in few minutes."});
            return Some((StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response());
        }
        None
    }

    /// Sends a callback or webhook the way the behaviour switches say: maybe later, maybe
    /// twice, maybe never, maybe after the next one.
    pub(crate) fn deliver(&self, url: String, body: Vec<u8>, headers: Vec<(String, String)>) {
        let b = self.behaviour();
        let dropped = {
            let mut acc = lock(&self.0.drop_acc);
            *acc += b.drop_percent.min(100);
            if *acc >= 100 {
                *acc -= 100;
                true
            } else {
                false
            }
        };
        if dropped {
            self.bump(|s| s.callbacks_dropped += 1);
            return;
        }
        let out = Outgoing { url, body, headers };
        let batch: Vec<Outgoing> = if b.reorder {
            let mut held = lock(&self.0.held);
            match held.take() {
                Some(older) => vec![out, older],
                None => {
                    *held = Some(out);
                    // Flush a lone held callback after a while so none is lost.
                    let me = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        let lone = lock(&me.0.held).take();
                        if let Some(o) = lone {
                            me.send_now(o, 0, 0).await;
                        }
                    });
                    return;
                }
            }
        } else {
            vec![out]
        };
        let me = self.clone();
        tokio::spawn(async move {
            for o in batch {
                me.send_now(o, b.callback_delay_ms, b.duplicate_callbacks)
                    .await;
            }
        });
    }

    async fn send_now(&self, o: Outgoing, delay_ms: u64, extra: u32) {
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        for _ in 0..=extra {
            let status = match &self.0.http {
                Some(http) => {
                    let mut req = http
                        .post(&o.url)
                        .header("content-type", "application/json")
                        .body(o.body.clone());
                    for (k, v) in &o.headers {
                        req = req.header(k, v);
                    }
                    req.send().await.ok().map(|r| r.status().as_u16())
                }
                None => None,
            };
            self.bump(|s| s.callbacks_sent += 1);
            lock(&self.0.deliveries).push(Delivery {
                url: o.url.clone(),
                body: String::from_utf8_lossy(&o.body).into_owned(),
                status,
            });
        }
    }
}

/// All the simulator's routes.
pub fn router(sandbox: Sandbox) -> Router {
    Router::new()
        .route("/", get(index))
        .merge(daraja::routes())
        .merge(c2b::routes())
        .merge(paystack::routes())
        .merge(sms::routes())
        .merge(ratiba::routes())
        .route("/__sandbox/stats", get(stats))
        .route(
            "/__sandbox/behaviour",
            get(get_behaviour).post(post_behaviour),
        )
        .route("/__sandbox/deliveries", get(deliveries))
        .route("/__sandbox/certificate.pem", get(certificate))
        .layer(axum::middleware::from_fn_with_state(
            sandbox.clone(),
            lose_answers,
        ))
        .with_state(sandbox)
}

/// With `lose_next_answers` armed, an API request is carried out and its answer replaced by a
/// gateway timeout.
async fn lose_answers(
    State(s): State<Sandbox>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = request.method() == axum::http::Method::POST
        && !request.uri().path().starts_with("/__sandbox")
        && !request.uri().path().starts_with("/checkout")
        && !request.uri().path().starts_with("/oauth")
        && request.uri().path() != "/";
    let response = next.run(request).await;
    if api {
        let mut b = lock(&s.0.behaviour);
        if b.lose_next_answers > 0 {
            b.lose_next_answers -= 1;
            return (StatusCode::GATEWAY_TIMEOUT, "upstream request timeout").into_response();
        }
    }
    response
}

async fn index(State(s): State<Sandbox>) -> Html<String> {
    Html(paystack::page(
        "Malipo sandbox",
        &format!(
            "<p>This process simulates Safaricom Daraja and Paystack for Malipo's tests, demo and training.</p>
             <h2>M-Pesa: the customer's phone number decides</h2><ul>{}</ul>
             <h2>Cards: Paystack's test cards</h2><ul>{}</ul>
             <p>Shortcode {} (paybill), till {}.</p>
             <h2>Paybill: the customer pays from their own phone</h2>
             <p><code>POST /__sandbox/c2b/pay {{\"account\": \"POL-1001\", \"amount\": 1500}}</code>
             (optionally <code>shortcode</code>, <code>msisdn</code>, <code>first_name</code>,
             <code>last_name</code>): validation first when <code>c2b_validation</code> is on, then the
             confirmation to the URLs registered with RegisterURL; Transaction Status answers for
             every receipt the simulator issued.</p>
             <h2>M-Pesa Ratiba: standing orders</h2>
             <p>The customer's phone decides as for prompts; <code>POST /__sandbox/ratiba/run
             {{\"account\": \"POL-1001\"}}</code> makes one run of each active order (of that
             account, or all): a paybill payment with the order's account; <code>GET
             /__sandbox/ratiba</code> lists the orders.</p>",
            daraja::SCENARIOS.iter().map(|(p, d)| format!("<li><code>{p}</code>: {d}</li>")).collect::<String>(),
            paystack::CARDS.iter().map(|c| format!("<li><code>{}</code>: {}</li>", c.number, c.label)).collect::<String>(),
            s.config().shortcode,
            s.config().tills.join(", "),
        ),
    ))
}

async fn stats(State(s): State<Sandbox>) -> Json<Stats> {
    Json(s.stats())
}

async fn get_behaviour(State(s): State<Sandbox>) -> Json<Behaviour> {
    Json(s.behaviour())
}

async fn post_behaviour(State(s): State<Sandbox>, Json(patch): Json<Value>) -> Response {
    let mut current = if patch.get("reset").and_then(Value::as_bool) == Some(true) {
        serde_json::to_value(Behaviour::default())
    } else {
        serde_json::to_value(s.behaviour())
    }
    .unwrap_or(Value::Null);
    if let (Some(cur), Some(p)) = (current.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            if k != "reset" {
                cur.insert(k.clone(), v.clone());
            }
        }
    }
    match serde_json::from_value::<Behaviour>(current) {
        Ok(b) => {
            s.set_behaviour(b.clone());
            Json(b).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn deliveries(State(s): State<Sandbox>) -> Json<Vec<Delivery>> {
    Json(s.deliveries())
}

async fn certificate() -> impl IntoResponse {
    (
        [("content-type", "application/x-pem-file")],
        SIMULATOR_CERT_PEM,
    )
}

/// A running simulator, for tests and the demo.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub sandbox: Sandbox,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` (port 0 for any) and serves in the background. When `config.public_url` is
/// empty it becomes the bound address.
pub async fn spawn(addr: SocketAddr, mut config: Config) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    if config.public_url.is_empty() {
        config.public_url = format!("http://{addr}");
    }
    let sandbox = Sandbox::new(config);
    let app = router(sandbox.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running {
        addr,
        sandbox,
        task,
    })
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
