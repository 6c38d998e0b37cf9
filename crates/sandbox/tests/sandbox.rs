//! The simulator's misbehaviour switches, observed from outside as a receiver sees them.
//!
//! - callbacks: delayed, duplicated, dropped (exactly n in a hundred), reordered
//! - requests: injected 500s and spike arrest

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use malipo_sandbox::{Behaviour, Config, Running};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

/// A callback receiver: each body, with when it arrived.
async fn receiver() -> (String, UnboundedReceiver<(Instant, Value)>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let router = Router::new().route(
        "/cb",
        post(move |body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((
                    Instant::now(),
                    serde_json::from_slice(&body).unwrap_or(Value::Null),
                ));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, rx)
}

async fn sandbox(b: Behaviour) -> Running {
    let running = malipo_sandbox::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Config {
            public_url: String::new(),
            ..Config::default()
        },
    )
    .await
    .unwrap();
    running.sandbox.set_behaviour(b);
    running
}

/// A hand-written Daraja caller: the simulator must not lean on Malipo's own client.
struct Caller {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Caller {
    async fn new(sb: &Running) -> Caller {
        let c = Config::default();
        let http = reqwest::Client::new();
        let base = sb.url();
        let resp: Value = http
            .get(format!(
                "{base}/oauth/v1/generate?grant_type=client_credentials"
            ))
            .header(
                "authorization",
                format!(
                    "Basic {}",
                    BASE64.encode(format!("{}:{}", c.consumer_key, c.consumer_secret))
                ),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Caller {
            http,
            base,
            token: resp["access_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn push(&self, phone: &str, amount: u32, callback: &str) -> (u16, Value) {
        let c = Config::default();
        let ts = "20261127101500";
        let body = json!({
            "BusinessShortCode": 174379,
            "Password": BASE64.encode(format!("{}{}{ts}", c.shortcode, c.passkey)),
            "Timestamp": ts,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": amount.to_string(),
            "PartyA": phone,
            "PartyB": "174379",
            "PhoneNumber": phone,
            "CallBackURL": callback,
            "AccountReference": "MREF00000001",
            "TransactionDesc": "Premium",
        });
        let r = self
            .http
            .post(format!("{}/mpesa/stkpush/v1/processrequest", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

fn checkout_id(cb: &Value) -> String {
    cb["Body"]["stkCallback"]["CheckoutRequestID"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn collect(rx: &mut UnboundedReceiver<(Instant, Value)>, n: usize) -> Vec<(Instant, Value)> {
    collect_within(rx, n, Duration::from_secs(10)).await
}

/// Up to `n` callbacks, waiting at most `patience` for each.
async fn collect_within(
    rx: &mut UnboundedReceiver<(Instant, Value)>,
    n: usize,
    patience: Duration,
) -> Vec<(Instant, Value)> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(patience, rx.recv()).await {
            Ok(Some(v)) => got.push(v),
            _ => break,
        }
    }
    got
}

#[tokio::test]
async fn duplicated_callbacks_arrive_that_many_extra_times() {
    let (cb, mut rx) = receiver().await;
    let sb = sandbox(Behaviour {
        customer_delay_ms: 50,
        duplicate_callbacks: 2,
        ..Behaviour::default()
    })
    .await;
    let (status, accepted) = Caller::new(&sb).await.push("254708374149", 10, &cb).await;
    assert_eq!(status, 200);
    let got = collect(&mut rx, 3).await;
    assert_eq!(got.len(), 3, "one callback and two copies");
    assert!(
        got.iter()
            .all(|(_, v)| checkout_id(v) == accepted["CheckoutRequestID"].as_str().unwrap())
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_err(),
        "no fourth copy"
    );
}

#[tokio::test]
async fn dropping_half_loses_exactly_half_and_counts_them() {
    let (cb, mut rx) = receiver().await;
    let sb = sandbox(Behaviour {
        customer_delay_ms: 50,
        drop_percent: 50,
        ..Behaviour::default()
    })
    .await;
    let caller = Caller::new(&sb).await;
    for i in 0..6 {
        caller.push("254708374149", 10 + i, &cb).await;
    }
    let got = collect_within(&mut rx, 6, Duration::from_secs(2)).await;
    assert_eq!(got.len(), 3, "exactly half of six");
    let stats = sb.sandbox.stats();
    assert_eq!((stats.callbacks_sent, stats.callbacks_dropped), (3, 3));
}

#[tokio::test]
async fn reordering_sends_the_newer_callback_first() {
    let (cb, mut rx) = receiver().await;
    let sb = sandbox(Behaviour {
        customer_delay_ms: 50,
        reorder: true,
        ..Behaviour::default()
    })
    .await;
    let caller = Caller::new(&sb).await;
    let (_, first) = caller.push("254708374149", 10, &cb).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, second) = caller.push("254700000032", 10, &cb).await;
    let got = collect(&mut rx, 2).await;
    let order: Vec<String> = got.iter().map(|(_, v)| checkout_id(v)).collect();
    assert_eq!(
        order,
        [
            second["CheckoutRequestID"].as_str().unwrap(),
            first["CheckoutRequestID"].as_str().unwrap()
        ]
    );
}

#[tokio::test]
async fn a_delay_holds_the_callback_back() {
    let (cb, mut rx) = receiver().await;
    let sb = sandbox(Behaviour {
        customer_delay_ms: 50,
        callback_delay_ms: 800,
        ..Behaviour::default()
    })
    .await;
    let sent = Instant::now();
    Caller::new(&sb).await.push("254708374149", 10, &cb).await;
    let got = collect(&mut rx, 1).await;
    assert!(
        got[0].0 - sent >= Duration::from_millis(800),
        "arrived after {:?}",
        got[0].0 - sent
    );
}

#[tokio::test]
async fn an_unreachable_customer_gets_no_callback_at_all() {
    let (cb, mut rx) = receiver().await;
    let sb = sandbox(Behaviour {
        customer_delay_ms: 50,
        ..Behaviour::default()
    })
    .await;
    Caller::new(&sb).await.push("254700000037", 10, &cb).await;
    // The customer acts after 50 ms; a callback, if any, would follow at once.
    assert!(
        collect_within(&mut rx, 1, Duration::from_millis(1500))
            .await
            .is_empty(),
        "1037 sends nothing; only a query finds out"
    );
}

#[tokio::test]
async fn injected_failures_answer_500_and_spike_arrest_once_each() {
    let (cb, _rx) = receiver().await;
    let sb = sandbox(Behaviour {
        customer_delay_ms: 50,
        ..Behaviour::default()
    })
    .await;
    let caller = Caller::new(&sb).await;
    sb.sandbox.set_behaviour(Behaviour {
        customer_delay_ms: 50,
        fail_next: 1,
        spike_arrest_next: 1,
        ..Behaviour::default()
    });
    let (s1, _) = caller.push("254708374149", 10, &cb).await;
    let (s2, b2) = caller.push("254708374149", 10, &cb).await;
    let (s3, _) = caller.push("254708374149", 10, &cb).await;
    assert_eq!((s1, s2, s3), (500, 500, 200));
    assert_eq!(b2["errorCode"], "500.003.02");
}

/// A saved card outlives the simulator, as it outlives a Paystack session: the desktop's demo
/// mode starts a new simulator each time, and a returning customer's card must still charge.
#[tokio::test]
async fn a_card_authorization_is_honoured_by_a_restarted_simulator_for_its_owner_only() {
    let http = reqwest::Client::new();
    let secret = Config::default().paystack_secret;
    let call = |base: String, path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&secret)
            .json(&body)
            .send()
    };
    let first = sandbox(Behaviour::default()).await;
    let init: Value = call(
        first.url(),
        "/transaction/initialize",
        json!({"email": "otieno@example.co.ke", "amount": "275000", "reference": "ref-saved-1"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(init["status"], true, "{init}");
    let paid = call(
        first.url(),
        "/__sandbox/paystack/pay",
        json!({"reference": "ref-saved-1", "card": "4084084084084081"}),
    )
    .await
    .unwrap();
    assert_eq!(paid.status(), 200);
    let verified: Value = http
        .get(format!("{}/transaction/verify/ref-saved-1", first.url()))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = verified["data"]["authorization"]["authorization_code"]
        .as_str()
        .unwrap_or_else(|| panic!("no authorization in {verified}"))
        .to_owned();
    drop(first);

    let second = sandbox(Behaviour::default()).await;
    let charge = |email: &str, reference: &str| {
        call(
            second.url(),
            "/transaction/charge_authorization",
            json!({"email": email, "amount": "275000", "authorization_code": code, "reference": reference}),
        )
    };
    let r = charge("otieno@example.co.ke", "ref-saved-2").await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["status"], "success", "{body}");
    assert_eq!(body["data"]["authorization"]["last4"], "4081");

    let r = charge("someone.else@example.co.ke", "ref-saved-3")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("does not belong"),
        "{body}"
    );
}
