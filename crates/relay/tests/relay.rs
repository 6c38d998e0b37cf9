//! The relay over real HTTP on real SQLite files.
//!
//! - ingest: stored then answered; duplicates, forgeries, malformed and oversized bodies
//! - feed: order without gaps, cursors, device tokens and tenant isolation, catching up

use std::sync::Arc;

use malipo_domain::Secret;
use malipo_relay::Relay as RelayState;
use malipo_relay::sealing::SealingKey;
use malipo_relay::store::{Incoming, RelayStore};
use serde_json::{Value, json};

use malipo_test_support as support;
use support::{Backend, sign};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../providers/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

struct Relay {
    url: String,
    /// The metrics listener, apart from the public one.
    metrics_url: String,
    /// The database, for starting another instance on it.
    database: String,
    store: RelayStore,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Relay {
    async fn start(backend: Backend) -> Relay {
        let sealing = Some(SealingKey::from_hex(&"5a".repeat(32)).unwrap());
        Relay::build(backend, sealing, malipo_relay::access::Access::default()).await
    }

    async fn build(
        backend: Backend,
        sealing: Option<SealingKey>,
        access: malipo_relay::access::Access,
    ) -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let database = match backend {
            Backend::Sqlite => dir.path().join("relay.sqlite3").display().to_string(),
            Backend::Postgres => support::postgres_database().await,
        };
        Relay::serve(database, sealing, access, dir).await
    }

    /// Runs a statement on the database directly, behind the relay's back.
    async fn execute_raw(&self, statement: &'static str) {
        if self.database.starts_with("postgres://") {
            let pool = sqlx::PgPool::connect(&self.database).await.unwrap();
            sqlx::query(statement).execute(&pool).await.unwrap();
        } else {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", self.database))
                .await
                .unwrap();
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
    }

    /// Another instance on the same database, as when several relays share one.
    async fn another_instance(&self) -> Relay {
        let sealing = Some(SealingKey::from_hex(&"5a".repeat(32)).unwrap());
        let access = malipo_relay::access::Access::default();
        Relay::serve(
            self.database.clone(),
            sealing,
            access,
            tempfile::tempdir().unwrap(),
        )
        .await
    }

    async fn serve(
        database: String,
        sealing: Option<SealingKey>,
        access: malipo_relay::access::Access,
        dir: tempfile::TempDir,
    ) -> Relay {
        let store = RelayStore::connect(&database).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut state = RelayState::new(store.clone(), sealing, access);
        state.public_url = Some(url.clone());
        let app = malipo_relay::router(state.clone());
        tokio::spawn(async move { malipo_relay::serve(listener, app).await.unwrap() });
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_url = format!("http://{}", metrics.local_addr().unwrap());
        let metrics_app = malipo_relay::metrics_router(state);
        tokio::spawn(async move { axum::serve(metrics, metrics_app).await.unwrap() });
        Relay {
            url,
            metrics_url,
            database,
            store,
            _dir: dir,
            http: reqwest::Client::new(),
        }
    }

    /// A tenant's callback URL and a device token for it.
    async fn tenant(&self, name: &str) -> (String, String, String) {
        let t = self.store.create_tenant(name).await.unwrap();
        let (_, token) = self
            .store
            .add_device(&t.tenant.id, "counter-1", None)
            .await
            .unwrap();
        (
            t.tenant.id,
            format!(
                "{}{}/{}",
                self.url,
                malipo_relay::DARAJA_PATH,
                t.daraja_token
            ),
            token,
        )
    }

    async fn post(&self, url: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A tenant whose Paystack secret is `secret`: its webhook URL and a device token.
    async fn paystack_tenant(&self, name: &str, secret: &str) -> (String, String, String) {
        let (id, _, device) = self.tenant(name).await;
        let sealed = SealingKey::from_hex(&"5a".repeat(32))
            .unwrap()
            .seal(&Secret::new(secret))
            .unwrap();
        self.store.set_paystack_secret(&id, &sealed).await.unwrap();
        (
            id.clone(),
            format!("{}{}/{id}", self.url, malipo_relay::PAYSTACK_PATH),
            device,
        )
    }

    async fn post_signed(&self, url: &str, body: Vec<u8>, signature: Option<String>) -> u16 {
        self.post_signed_answer(url, body, signature).await.0
    }

    /// A webhook signed with `signature`: the status and the answer's JSON (`null` if none).
    async fn post_signed_answer(
        &self,
        url: &str,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(sig) = signature {
            req = req.header("x-paystack-signature", sig);
        }
        let answer = req.send().await.unwrap();
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    async fn events(&self, token: &str, after: i64, limit: u32) -> (u16, Value) {
        let r = self
            .http
            .get(format!(
                "{}/v1/events?after={after}&limit={limit}",
                self.url
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

/// The sequence numbers of a page of the feed, in the order served.
fn seqs(feed: &Value) -> Vec<i64> {
    feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect()
}

fn stk(checkout: &str, code: i64) -> Vec<u8> {
    json!({"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": checkout, "ResultCode": code, "ResultDesc": "x"}}})
        .to_string()
        .into_bytes()
}

async fn a_callback_is_answered_only_once_stored_and_comes_back_byte_for_byte(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (_, url, device) = relay.tenant("Jubilee").await;
    let body = fixture("daraja_stk_callback_success_with_balance_item.json");
    let (status, answer) = relay.post(&url, body.clone()).await;
    assert_eq!(
        (status, answer),
        (200, json!({"ResultCode": 0, "ResultDesc": "Accepted"}))
    );
    let (status, feed) = relay.events(&device, 0, 100).await;
    assert_eq!(status, 200);
    let e = &feed["events"][0];
    assert_eq!(
        (
            e["seq"].as_i64(),
            e["provider"].as_str(),
            e["kind"].as_str()
        ),
        (Some(1), Some("daraja"), Some("stk_callback"))
    );
    assert!(
        e["dedup_key"]
            .as_str()
            .unwrap()
            .starts_with("stk:ws_CO_27072017154747416:"),
        "the payment and a digest of the body: {e}"
    );
    assert_eq!(
        e["body"].as_str().unwrap().as_bytes(),
        &body[..],
        "the raw body, exactly as received"
    );
    assert_eq!(feed["next"], 1);
}

async fn a_hundred_identical_callbacks_at_once_make_one_event(backend: Backend) {
    let relay = Arc::new(Relay::start(backend).await);
    let (_, url, device) = relay.tenant("Jubilee").await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let relay = Arc::clone(&relay);
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            relay
                .post(&url, fixture("daraja_stk_callback_cancelled_1032.json"))
                .await
                .0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200, "a duplicate is still answered 200");
    }
    let (_, feed) = relay.events(&device, 0, 500).await;
    assert_eq!(
        feed["events"].as_array().unwrap().len(),
        1,
        "a retried callback must not create a second event"
    );
}

async fn bad_requests_are_refused_and_leave_nothing_behind(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (tenant, url, device) = relay.tenant("Jubilee").await;
    let good = fixture("daraja_stk_callback_success.json");
    let cases: Vec<(String, Vec<u8>, u16)> = vec![
        (
            format!(
                "{}{}/{}",
                relay.url,
                malipo_relay::DARAJA_PATH,
                "0".repeat(64)
            ),
            good.clone(),
            404,
        ),
        (url.clone(), good[..good.len() / 2].to_vec(), 400),
        (url.clone(), b"{\"Body\": {}}".to_vec(), 400),
        (url.clone(), b"not json".to_vec(), 400),
        (url.clone(), vec![b' '; 65 * 1024], 413),
    ];
    for (target, body, want) in cases {
        let (status, _) = relay.post(&target, body).await;
        assert_eq!(status, want, "{target}");
    }
    assert_eq!(
        relay.store.last_seq(&tenant).await.unwrap(),
        0,
        "nothing was stored"
    );
    let (_, feed) = relay.events(&device, 0, 10).await;
    assert!(feed["events"].as_array().unwrap().is_empty());
}

async fn devices_see_only_their_tenant_and_revoked_tokens_see_nothing(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (_, url_a, device_a) = relay.tenant("Jubilee").await;
    let (tenant_b, _, device_b) = relay.tenant("Britam").await;
    relay.post(&url_a, stk("ws_CO_A", 1032)).await;
    let (_, feed_b) = relay.events(&device_b, 0, 10).await;
    assert!(
        feed_b["events"].as_array().unwrap().is_empty(),
        "another tenant's events stay hidden"
    );
    let (status, _) = relay.events("not-a-token", 0, 10).await;
    assert_eq!(status, 401);
    let (dev, token) = relay
        .store
        .add_device(&tenant_b, "old laptop", None)
        .await
        .unwrap();
    assert!(relay.store.revoke_device(&dev.id).await.unwrap());
    assert_eq!(
        relay.events(&token, 0, 10).await.0,
        401,
        "a revoked token is refused"
    );
    let (status, body) = relay.events(&device_a, 5, 10).await;
    assert_eq!(
        (status, body["last_seq"].as_i64()),
        (409, Some(1)),
        "a cursor past the end gets an explicit answer"
    );
}

async fn concurrent_callbacks_get_gapless_numbers_in_commit_order(backend: Backend) {
    let relay = Arc::new(Relay::start(backend).await);
    let (_, url, device) = relay.tenant("Jubilee").await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let relay = Arc::clone(&relay);
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            relay.post(&url, stk(&format!("ws_CO_{i}"), 1032)).await.0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (_, feed) = relay.events(&device, 0, 1000).await;
    assert_eq!(seqs(&feed), (1..=60).collect::<Vec<_>>());
}

async fn a_device_offline_through_ten_thousand_events_catches_up_in_order(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (tenant, _, device) = relay.tenant("Jubilee").await;
    let mut writes = Vec::new();
    for i in 0..10_000 {
        let store = relay.store.clone();
        let tenant = tenant.clone();
        writes.push(tokio::spawn(async move {
            store
                .ingest(Incoming {
                    tenant_id: tenant,
                    provider: "daraja",
                    kind: "stk_callback".into(),
                    dedup_key: format!("stk:ws_CO_{i}"),
                    subject: format!("ws_CO_{i}"),
                    source_addr: None,
                    headers: "{}".into(),
                    body: stk(&format!("ws_CO_{i}"), 0),
                    office: None,
                })
                .await
                .unwrap()
        }));
    }
    for w in writes {
        w.await.unwrap();
    }
    let (mut after, mut seen) = (0_i64, 0_i64);
    loop {
        let (status, page) = relay.events(&device, after, 1000).await;
        assert_eq!(status, 200);
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        for e in events {
            seen += 1;
            assert_eq!(e["seq"].as_i64(), Some(seen), "in order, none skipped");
        }
        after = page["next"].as_i64().unwrap();
    }
    assert_eq!(seen, 10_000);
}

async fn a_signed_paystack_webhook_is_stored_once_and_forgeries_are_refused(backend: Backend) {
    let relay = Relay::start(backend).await;
    let secret = "sk_test_0000000000000000000000000000000000000000";
    let (tenant, url, device) = relay.paystack_tenant("Jubilee", secret).await;
    let (_, other_url, _) = relay.paystack_tenant("Britam", "sk_test_britam").await;
    let body = fixture("paystack_webhook_charge_success.json");
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    let truncated = body[..body.len() - 10].to_vec();
    for (target, bytes, signature, want) in [
        (&url, body.clone(), Some(sign("sk_test_forged", &body)), 401),
        (&url, body.clone(), None, 401),
        (&url, pretty.clone(), Some(sign(secret, &body)), 401),
        (&other_url, body.clone(), Some(sign(secret, &body)), 401),
        (&url, truncated.clone(), Some(sign(secret, &truncated)), 400),
        (
            &format!(
                "{}{}/t_nosuchtenant",
                relay.url,
                malipo_relay::PAYSTACK_PATH
            ),
            body.clone(),
            Some(sign(secret, &body)),
            404,
        ),
    ] {
        assert_eq!(
            relay.post_signed(target, bytes, signature).await,
            want,
            "{target}"
        );
    }
    assert_eq!(
        relay.store.last_seq(&tenant).await.unwrap(),
        0,
        "nothing refused was stored"
    );

    for _ in 0..3 {
        assert_eq!(
            relay
                .post_signed(&url, body.clone(), Some(sign(secret, &body)))
                .await,
            200
        );
    }
    let (_, feed) = relay.events(&device, 0, 10).await;
    let events = feed["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "Paystack's retries are one event");
    assert_eq!(
        (events[0]["provider"].as_str(), events[0]["kind"].as_str()),
        (Some("paystack"), Some("charge.success"))
    );
    assert!(
        events[0]["dedup_key"]
            .as_str()
            .unwrap()
            .starts_with("charge.success:qTPrJoy9Bx:")
    );
    assert_eq!(events[0]["body"].as_str().unwrap().as_bytes(), &body[..]);

    let refund = fixture("paystack_webhook_refund_processed.json");
    assert_eq!(
        relay
            .post_signed(&url, refund.clone(), Some(sign(secret, &refund)))
            .await,
        200
    );
    let (_, feed) = relay.events(&device, 1, 10).await;
    assert_eq!(feed["events"][0]["kind"], "refund.processed");
}

async fn the_stream_wakes_a_device_when_its_tenant_gets_an_event(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let relay = Relay::start(backend).await;
    let (_, url, device) = relay.tenant("Jubilee").await;
    let (_, other_url, _) = relay.tenant("Britam").await;
    let host = relay.url.trim_start_matches("http://").to_owned();
    let mut sock = tokio::net::TcpStream::connect(&host).await.unwrap();
    let req = format!(
        "GET /v1/events/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {device}\r\nAccept: text/event-stream\r\n\r\n"
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut seen = String::new();
    let mut buf = [0_u8; 4096];
    let mut read_until = async |needle: &str, seen: &mut String| {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !seen.contains(needle) {
            let n = tokio::time::timeout_at(deadline, sock.read(&mut buf))
                .await
                .expect("timed out waiting for a wake")
                .unwrap();
            assert!(n > 0, "the stream closed");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };
    read_until("\"last_seq\":0", &mut seen).await;
    relay.post(&other_url, stk("ws_CO_other", 1032)).await;
    relay.post(&url, stk("ws_CO_mine", 1032)).await;
    read_until("\"last_seq\":1", &mut seen).await;
    assert_eq!(
        seen.matches("event: wake").count(),
        2,
        "another tenant's event does not wake this device: {seen}"
    );
}

async fn a_rotated_daraja_url_keeps_working_for_its_grace_period_only(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (tenant, old_url, device) = relay.tenant("Jubilee").await;
    let token = relay.store.rotate_daraja_token(&tenant).await.unwrap();
    let new_url = format!("{}{}/{token}", relay.url, malipo_relay::DARAJA_PATH);
    assert_eq!(relay.post(&new_url, stk("ws_CO_1", 1032)).await.0, 200);
    assert_eq!(
        relay.post(&old_url, stk("ws_CO_2", 1032)).await.0,
        200,
        "prompts sent before the rotation still report"
    );
    relay
        .execute_raw("UPDATE tenants SET previous_valid_until = 0")
        .await;
    // Another instance, which has not seen the old URL yet (an instance remembers a URL it
    // looked up for a few seconds, never past the end of its grace period).
    let later = relay.another_instance().await;
    assert_eq!(
        later
            .post(
                &old_url.replace(&relay.url, &later.url),
                stk("ws_CO_3", 1032)
            )
            .await
            .0,
        404,
        "after the grace period the old URL is dead"
    );
    let (_, feed) = relay.events(&device, 0, 10).await;
    assert_eq!(feed["events"].as_array().unwrap().len(), 2);
}

fn tx(
    reference: &str,
    number: &str,
    method: &str,
    status: &str,
    minor: i64,
    updated: &str,
) -> Value {
    json!({
        "id": 7, "reference": reference, "number": number, "policy": "P-1", "method": method,
        "status": status, "amount": "ignored", "amount_minor": minor, "currency": "KES",
        "created_at": "2026-11-27T07:00:00Z", "updated_at": updated
    })
}

async fn upload(relay: &Relay, token: &str, items: Vec<Value>) -> (u16, Value) {
    let r = relay
        .http
        .post(format!("{}/v1/transactions", relay.url))
        .bearer_auth(token)
        .json(&json!({"transactions": items}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn company(relay: &Relay, token: &str, query: &str) -> Value {
    let r = relay
        .http
        .get(format!("{}/v1/summary?{query}", relay.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

async fn the_same_upload_ten_times_is_one_row_and_a_newer_version_replaces_it(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (_, _, device) = relay.tenant("Jubilee").await;
    let pending = tx(
        "MREF00000001",
        "NBI-000001",
        "mpesa",
        "awaiting_customer",
        150_000,
        "2026-11-27T07:00:00Z",
    );
    let mut stored = 0;
    for _ in 0..10 {
        let (status, r) = upload(&relay, &device, vec![pending.clone()]).await;
        assert_eq!(status, 200);
        stored += r["stored"].as_u64().unwrap();
    }
    assert_eq!(stored, 1, "the same record sent ten times is one row");
    let s = company(&relay, &device, "").await;
    assert_eq!(
        (s["all"]["count"].as_i64(), s["pending"]["count"].as_i64()),
        (Some(1), Some(1))
    );

    let paid = tx(
        "MREF00000001",
        "NBI-000001",
        "mpesa",
        "succeeded",
        150_000,
        "2026-11-27T07:01:00Z",
    );
    assert_eq!(upload(&relay, &device, vec![paid]).await.1["stored"], 1);
    let stale = tx(
        "MREF00000001",
        "NBI-000001",
        "mpesa",
        "awaiting_customer",
        150_000,
        "2026-11-27T07:00:30Z",
    );
    assert_eq!(
        upload(&relay, &device, vec![stale]).await.1["unchanged"],
        1,
        "an older version never replaces a newer one"
    );
    let s = company(&relay, &device, "").await;
    assert_eq!(
        (
            s["succeeded"]["count"].as_i64(),
            s["succeeded"]["amount"].as_str()
        ),
        (Some(1), Some("1500.00"))
    );
}

async fn a_bad_record_refuses_the_whole_upload_and_the_summary_spans_offices_of_one_tenant(
    backend: Backend,
) {
    let relay = Relay::start(backend).await;
    let (tenant, _, nairobi) = relay.tenant("Jubilee").await;
    let (_, mombasa) = relay
        .store
        .add_device(&tenant, "Mombasa counter", None)
        .await
        .unwrap();
    let (_, _, other) = relay.tenant("Britam").await;
    let (status, body) = upload(
        &relay,
        &nairobi,
        vec![
            tx(
                "MREF00000002",
                "NBI-000002",
                "mpesa",
                "succeeded",
                100_000,
                "2026-11-27T07:00:00Z",
            ),
            tx(
                "MREF00000003",
                "NBI-000003",
                "bitcoin",
                "succeeded",
                100_000,
                "2026-11-27T07:00:00Z",
            ),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("transaction 2 (MREF00000003)"),
        "{body}"
    );
    assert_eq!(
        company(&relay, &nairobi, "").await["all"]["count"],
        0,
        "nothing from a refused upload was kept"
    );

    upload(
        &relay,
        &nairobi,
        vec![tx(
            "MREF00000002",
            "NBI-000002",
            "mpesa",
            "succeeded",
            100_000,
            "2026-11-27T07:00:00Z",
        )],
    )
    .await;
    upload(
        &relay,
        &mombasa,
        vec![
            tx(
                "MREF00000004",
                "MSA-000001",
                "card",
                "succeeded",
                250_050,
                "2026-11-27T07:00:00Z",
            ),
            tx(
                "MREF00000005",
                "MSA-000002",
                "mpesa",
                "cancelled",
                5_000,
                "2026-11-27T07:00:00Z",
            ),
            // Cash at the counter is a payment of the company like any other.
            tx(
                "MREF00000006",
                "MSA-000003",
                "cash",
                "succeeded",
                125_000,
                "2026-11-27T07:00:00Z",
            ),
        ],
    )
    .await;
    let s = company(&relay, &nairobi, "from=2026-11-27&to=2026-11-27").await;
    assert_eq!(s["all"]["count"], 4);
    assert_eq!(s["succeeded"]["amount_minor"], 475_050);
    let cash = s["by_method"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "cash")
        .unwrap_or_else(|| panic!("cash in by_method: {s}"));
    assert_eq!(cash["collected"]["amount_minor"], 125_000, "{cash}");
    assert_eq!(s["failed"]["count"], 1);
    let offices: Vec<&str> = s["by_office"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(offices, ["MSA", "NBI"]);
    assert_eq!(
        company(&relay, &nairobi, "from=2026-11-28").await["all"]["count"],
        0
    );
    assert_eq!(
        company(&relay, &other, "").await["all"]["count"],
        0,
        "another tenant sees none of it"
    );
}

async fn metrics_count_outcomes_refusals_lag_and_latency(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (_, url, device) = relay.tenant("Jubilee").await;
    relay.post(&url, stk("ws_CO_1", 1032)).await;
    relay.post(&url, stk("ws_CO_1", 1032)).await;
    relay.post(&url, b"{}".to_vec()).await;
    relay.post(&url, vec![b' '; 70 * 1024]).await;
    relay
        .post(
            &format!(
                "{}{}/{}",
                relay.url,
                malipo_relay::DARAJA_PATH,
                "f".repeat(64)
            ),
            stk("ws_CO_2", 1),
        )
        .await;
    relay.events("wrong-token", 0, 10).await;
    let public = relay
        .http
        .get(format!("{}/metrics", relay.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        public.status().as_u16(),
        404,
        "the metrics name tenants and devices: never on the public listener"
    );
    let text = relay
        .http
        .get(format!("{}/metrics", relay.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "malipo_relay_callbacks_total{provider=\"daraja\",outcome=\"stored\"} 1",
        "malipo_relay_callbacks_total{provider=\"daraja\",outcome=\"duplicate\"} 1",
        "malipo_relay_rejections_total{reason=\"malformed\"} 1",
        "malipo_relay_rejections_total{reason=\"too_large\"} 1",
        "malipo_relay_rejections_total{reason=\"unknown_url\"} 1",
        "malipo_relay_rejections_total{reason=\"unauthenticated\"} 1",
        "malipo_relay_ingest_seconds_count 2",
        "malipo_relay_commit_seconds_count",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(
        text.contains("malipo_relay_device_lag_events{tenant="),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("malipo_relay_device_lag_events") && l.ends_with(" 1")),
        "one event not yet acknowledged"
    );
    relay.events(&device, 1, 10).await;
    let text = relay
        .http
        .get(format!("{}/metrics", relay.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("malipo_relay_device_lag_events") && l.ends_with(" 0")),
        "acknowledged now"
    );
    assert!(
        text.lines().any(
            |l| l.starts_with("malipo_relay_oldest_unacknowledged_seconds") && l.ends_with(" 0")
        )
    );
}

async fn allowlists_and_rate_limits_guard_the_callback_urls(backend: Backend) {
    use malipo_relay::access::{Access, Cidr};
    let paystack_only = Some(vec![Cidr::parse("52.31.139.75").unwrap()]);
    let loopback_proxy = vec![Cidr::parse("127.0.0.0/8").unwrap()];
    let relay = Relay::build(
        backend,
        None,
        Access::new(
            Some(vec![Cidr::parse("127.0.0.1").unwrap()]),
            paystack_only,
            loopback_proxy,
            3,
        ),
    )
    .await;
    let (tenant, url, _) = relay.tenant("Jubilee").await;
    let paystack_url = format!("{}{}/{tenant}", relay.url, malipo_relay::PAYSTACK_PATH);
    // Through the trusted proxy (loopback), from an address Paystack does not use: refused.
    let forged = relay
        .http
        .post(&paystack_url)
        .header("x-forwarded-for", "198.51.100.7")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    // From Paystack's address, it passes the allowlist (and then fails for want of a secret).
    let from_paystack = relay
        .http
        .post(&paystack_url)
        .header("x-forwarded-for", "52.31.139.75")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(from_paystack.status().as_u16(), 503);
    // Daraja from loopback is allowed; the fourth request in a minute from one source is not.
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for i in 0..4 {
            v.push(relay.post(&url, stk(&format!("ws_CO_{i}"), 1032)).await.0);
        }
        v
    };
    assert_eq!(statuses, [200, 200, 200, 429]);
    assert_eq!(relay.store.last_seq(&tenant).await.unwrap(), 3);
}

/// A tenant can accept Daraja callbacks from its allowlist only (Safaricom's published
/// addresses, or its own list); other tenants are unaffected, and `off` lifts it.
async fn a_tenants_daraja_allowlist_refuses_every_other_address(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (tenant, url, _) = relay.tenant("Jubilee").await;
    let (_, other_url, _) = relay.tenant("Britam").await;
    relay
        .store
        .set_daraja_allow(&tenant, Some("safaricom"))
        .await
        .unwrap();
    let (status, body) = relay.post(&url, stk("ws_CO_1", 1032)).await;
    assert_eq!(status, 403, "loopback is not Safaricom: {body}");
    assert_eq!(body["error"], "source_not_allowed");
    assert_eq!(relay.post(&other_url, stk("ws_CO_1", 1032)).await.0, 200);
    relay
        .store
        .set_daraja_allow(&tenant, Some("196.201.214.0/24, 127.0.0.1"))
        .await
        .unwrap();
    // Tenants are remembered for a few seconds: a new list applies within that time.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (status, _) = relay.post(&url, stk("ws_CO_2", 1032)).await;
        if status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new list never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(relay.store.last_seq(&tenant).await.unwrap(), 1);
}

/// Identifiers Daraja could never send (too long, spaces, control or non-ASCII characters)
/// are refused before anything is stored.
async fn daraja_identifiers_are_printable_ascii_of_at_most_64_characters(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (tenant, url, _) = relay.tenant("Jubilee").await;
    for bad in [
        "x".repeat(65),
        "ws_CO 123".to_owned(),
        "ws_CO_\u{7}".to_owned(),
        "ws_CO_é".to_owned(),
        String::new(),
    ] {
        let (status, body) = relay.post(&url, stk(&bad, 1032)).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
    }
    assert_eq!(relay.post(&url, stk(&"x".repeat(64), 1032)).await.0, 200);
    assert_eq!(relay.store.last_seq(&tenant).await.unwrap(), 1);
}

/// A signed webhook whose event name or reference Paystack would never send (a NUL, 5,000
/// characters) is refused with 400 and a reason on both stores, never a 5xx that Paystack would
/// retry for 72 hours; other mutations of a genuine body are refused or stored, never a 5xx.
async fn signed_webhooks_paystack_never_sends_are_refused_not_failed(backend: Backend) {
    let relay = Relay::start(backend).await;
    let secret = "sk_test_0000000000000000000000000000000000000000";
    let (tenant, url, _) = relay.paystack_tenant("Jubilee", secret).await;
    let charge = String::from_utf8(fixture("paystack_webhook_charge_success.json")).unwrap();
    let refund = String::from_utf8(fixture("paystack_webhook_refund_processed.json")).unwrap();
    let long = "x".repeat(5_000);
    let refused = [
        charge.replace("\"qTPrJoy9Bx\"", "\"qTPr\\u0000Joy9Bx\""),
        charge.replace("\"qTPrJoy9Bx\"", &format!("\"{long}\"")),
        refund.replace("\"processed\"", "\"needs-attention\\u0000\""),
        refund.replace("\"processed\"", &format!("\"{long}\"")),
        charge.replace("\"charge.success\"", "\"subscription.\\u0000\""),
        charge.replace("\"charge.success\"", &format!("\"{long}\"")),
    ];
    for body in &refused {
        assert_ne!(body, &charge, "the mutation applies");
        let bytes = body.clone().into_bytes();
        let (status, answer) = relay
            .post_signed_answer(&url, bytes.clone(), Some(sign(secret, &bytes)))
            .await;
        assert_eq!(status, 400, "{}: {answer}", &body[..body.len().min(200)]);
        assert_eq!(answer["error"], "malformed", "{answer}");
    }
    assert_eq!(relay.store.last_seq(&tenant).await.unwrap(), 0);
    for body in [
        charge.replace("10000", "1e309"),
        charge.replace("\"success\"", "\"\\\"\""),
        charge.replace("\"qTPrJoy9Bx\"", "\"qTPr\\\"Joy9Bx\""),
        refund.replace("\"5000\"", "1e309"),
    ] {
        let bytes = body.into_bytes();
        let status = relay
            .post_signed(&url, bytes.clone(), Some(sign(secret, &bytes)))
            .await;
        assert!(status < 500, "answered {status}");
    }
}

/// The same body sent again is one event, but a different body about the same payment is its
/// own event: a forged callback cannot shadow the genuine one that follows it.
async fn distinct_bodies_about_one_payment_are_distinct_events(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (tenant, url, device) = relay.tenant("Jubilee").await;
    let genuine = stk("ws_CO_191220191020363925", 1032);
    let forged = fixture("daraja_stk_callback_success.json");
    assert_eq!(relay.post(&url, forged.clone()).await.0, 200);
    assert_eq!(relay.post(&url, genuine.clone()).await.0, 200);
    assert_eq!(relay.post(&url, genuine).await.0, 200);
    assert_eq!(relay.post(&url, forged).await.0, 200);
    assert_eq!(relay.store.last_seq(&tenant).await.unwrap(), 2);
    let (_, page) = relay.events(&device, 0, 10).await;
    let keys: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["dedup_key"].as_str().unwrap())
        .collect();
    assert!(
        keys.iter()
            .all(|k| k.starts_with("stk:ws_CO_191220191020363925:")),
        "{keys:?}"
    );
    assert_ne!(keys[0], keys[1]);
}

/// One event the database refuses (its tenant was deleted behind the relay's back) fails alone:
/// the callbacks committed with it are stored and answered, and the refusal names no database
/// detail.
async fn one_bad_event_never_fails_the_rest_of_its_commit(backend: Backend) {
    let relay = Arc::new(Relay::start(backend).await);
    let (gone, gone_url, _) = relay.tenant("Gone").await;
    let (kept, kept_url, _) = relay.tenant("Kept").await;
    // The relay remembers the tenant behind this URL for a few seconds.
    assert_eq!(relay.post(&gone_url, stk("ws_CO_first", 1032)).await.0, 200);
    for statement in [
        "DELETE FROM events WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'Gone')",
        "DELETE FROM devices WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'Gone')",
        "DELETE FROM tenants WHERE name = 'Gone'",
    ] {
        relay.execute_raw(statement).await;
    }
    let mut posts = Vec::new();
    for i in 0..40 {
        let relay = Arc::clone(&relay);
        let url = if i == 20 {
            gone_url.clone()
        } else {
            kept_url.clone()
        };
        posts.push(tokio::spawn(async move {
            relay.post(&url, stk(&format!("ws_CO_{i}"), 1032)).await
        }));
    }
    let mut refused = Vec::new();
    for (i, p) in posts.into_iter().enumerate() {
        let (status, body) = p.await.unwrap();
        if i == 20 {
            refused.push((status, body));
        } else {
            assert_eq!(status, 200, "callback {i}: {body}");
        }
    }
    let (status, body) = &refused[0];
    assert_eq!(*status, 503, "{body}");
    let text = body.to_string().to_lowercase();
    for detail in [
        "sqlx",
        "database error",
        "tenant t_",
        "constraint",
        gone.as_str(),
    ] {
        assert!(!text.contains(&detail.to_lowercase()), "{detail} in {body}");
    }
    assert_eq!(relay.store.last_seq(&kept).await.unwrap(), 39);
}

/// A page of the feed stays under a megabyte however large its events, and the device still
/// gets every event, page after page.
async fn event_pages_stay_under_a_megabyte(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (_, url, device) = relay.tenant("Jubilee").await;
    // Bodies near the 64 KiB limit, full of quotes that JSON escaping doubles.
    let padding = "\"".repeat(30_000);
    for i in 0..40 {
        let body = json!({"Body": {"stkCallback": {"MerchantRequestID": "1",
            "CheckoutRequestID": format!("ws_CO_{i}"), "ResultCode": 1032, "ResultDesc": padding}}});
        assert_eq!(relay.post(&url, body.to_string().into_bytes()).await.0, 200);
    }
    let mut after = 0;
    let mut seen = 0;
    while seen < 40 {
        let r = relay
            .http
            .get(format!("{}/v1/events?after={after}&limit=5000", relay.url))
            .bearer_auth(&device)
            .send()
            .await
            .unwrap();
        let bytes = r.bytes().await.unwrap();
        assert!(
            bytes.len() <= 1024 * 1024,
            "a page of {} bytes",
            bytes.len()
        );
        let page: Value = serde_json::from_slice(&bytes).unwrap();
        let n = page["events"].as_array().unwrap().len();
        assert!(n > 0 && n < 40, "pages are cut by size: {n}");
        seen += n;
        after = page["next"].as_i64().unwrap();
    }
    assert_eq!(after, 40);
}

/// Several relays on one database: the same webhook delivered 100 times at once, spread over
/// two instances, is one event; distinct callbacks through both are numbered without gaps.
async fn two_instances_on_one_database_store_a_hundred_identical_webhooks_once(backend: Backend) {
    let first = Arc::new(Relay::start(backend).await);
    let second = Arc::new(first.another_instance().await);
    stored_once_and_gapless_across(first, second).await;
}

/// A DBA's stricter default isolation (SERIALIZABLE would abort the concurrent batches, and
/// its snapshots would hide what other instances committed) changes nothing: the relay pins
/// READ COMMITTED for its writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_stricter_default_isolation_changes_nothing() {
    let database = support::postgres_database().await;
    let name = database.rsplit_once('/').unwrap().1.to_owned();
    let mut admin = sqlx::PgPool::connect(&database).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET default_transaction_isolation = 'serializable'"
    )))
    .execute(&admin)
    .await
    .unwrap();
    admin.close().await;
    admin = sqlx::PgPool::connect(&database).await.unwrap();
    let level: String = sqlx::query_scalar("SHOW default_transaction_isolation")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(level, "serializable");
    let sealing = || Some(SealingKey::from_hex(&"5a".repeat(32)).unwrap());
    let first = Arc::new(
        Relay::serve(
            database.clone(),
            sealing(),
            malipo_relay::access::Access::default(),
            tempfile::tempdir().unwrap(),
        )
        .await,
    );
    let second = Arc::new(first.another_instance().await);
    stored_once_and_gapless_across(first, second).await;
}

async fn stored_once_and_gapless_across(first: Arc<Relay>, second: Arc<Relay>) {
    let secret = "sk_test_0000000000000000000000000000000000000000";
    let (tenant, url, device) = first.paystack_tenant("Jubilee", secret).await;
    let body = fixture("paystack_webhook_charge_success.json");
    let signature = sign(secret, &body);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (relay, url) = if i % 2 == 0 {
            (Arc::clone(&first), url.clone())
        } else {
            (Arc::clone(&second), url.replace(&first.url, &second.url))
        };
        let (body, signature) = (body.clone(), signature.clone());
        tasks.push(tokio::spawn(async move {
            relay.post_signed(&url, body, Some(signature)).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200, "a duplicate is still answered 200");
    }
    for relay in [&first, &second] {
        let (_, feed) = relay.events(&device, 0, 500).await;
        let events = feed["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "one event across instances: {feed}");
        assert_eq!(events[0]["seq"], 1);
    }

    // Distinct callbacks for one tenant through both instances at once.
    let (other, daraja_url, other_device) = first.tenant("Madison").await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (relay, url) = if i % 2 == 0 {
            (Arc::clone(&first), daraja_url.clone())
        } else {
            (
                Arc::clone(&second),
                daraja_url.replace(&first.url, &second.url),
            )
        };
        tasks.push(tokio::spawn(async move {
            relay.post(&url, stk(&format!("ws_CO_{i}"), 1032)).await.0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (_, feed) = second.events(&other_device, 0, 500).await;
    assert_eq!(
        seqs(&feed),
        (1..=60).collect::<Vec<_>>(),
        "gapless across instances"
    );
    assert_eq!(first.store.last_seq(&other).await.unwrap(), 60);
    assert_eq!(first.store.last_seq(&tenant).await.unwrap(), 1);
}

/// On PostgreSQL a device streaming from one instance is woken by an event another instance
/// stored (instances tell each other through NOTIFY).
async fn a_device_streaming_from_one_instance_is_woken_by_another(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let first = Relay::start(backend).await;
    let second = first.another_instance().await;
    let (_, url, device) = first.tenant("Jubilee").await;
    let host = second.url.trim_start_matches("http://").to_owned();
    let mut sock = tokio::net::TcpStream::connect(&host).await.unwrap();
    let req = format!(
        "GET /v1/events/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {device}\r\n\r\n"
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut seen = String::new();
    let mut buf = [0_u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut posted = false;
    while !seen.contains("\"last_seq\":1") {
        if !posted && seen.contains("\"last_seq\":0") {
            assert_eq!(first.post(&url, stk("ws_CO_1", 1032)).await.0, 200);
            posted = true;
        }
        let n = tokio::time::timeout_at(deadline, sock.read(&mut buf))
            .await
            .expect("timed out waiting for a wake from the other instance")
            .unwrap();
        assert!(n > 0, "the stream closed");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert_eq!(seen.matches("event: wake").count(), 2, "{seen}");
}

/// An event about a payment some office uploaded names that office, so other offices' devices
/// can tell it from an orphan; one about nothing anyone uploaded names none.
async fn an_event_names_the_office_whose_payment_it_is_about(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (_, url, device) = relay.tenant("Jubilee").await;
    let mut mpesa = tx(
        "M0000000001A",
        "NBI-000001",
        "mpesa",
        "awaiting_customer",
        150_000,
        "2026-11-27T07:00:01Z",
    );
    mpesa["provider_ref"] = json!("ws_CO_nairobi");
    assert_eq!(upload(&relay, &device, vec![mpesa]).await.0, 200);
    assert_eq!(relay.post(&url, stk("ws_CO_nairobi", 1032)).await.0, 200);
    assert_eq!(relay.post(&url, stk("ws_CO_nobody", 1032)).await.0, 200);
    let (_, feed) = relay.events(&device, 0, 10).await;
    let offices: Vec<&Value> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["office"])
        .collect();
    assert_eq!(offices, [&json!("NBI"), &Value::Null], "{feed}");
}

/// A receipt's verification link: genuine when signed with the office device's receipt key,
/// refused when any part of it is changed or when it is signed with what the relay's database
/// holds (the token's hash); after a revocation only receipts dated before it stay genuine;
/// receipts signed the old way verify only if dated before the relay's upgrade.
async fn a_receipt_link_confirms_a_real_receipt_and_refuses_a_forged_one(backend: Backend) {
    use malipo_domain::verification::{
        Vouched, legacy_key_id, link, receipt_key, signed_link, token_key,
    };
    let relay = Relay::start(backend).await;
    let (_, _, device) = relay.tenant("Jubilee Insurance").await;
    // The relay keeps the device's receipt key the first time the device calls.
    assert_eq!(relay.events(&device, 0, 1).await.0, 200);
    let on = |date: time::Date| Vouched {
        receipt_number: "HQ-R000017".into(),
        amount: malipo_domain::Money::from_minor(150_000, malipo_domain::Currency::Kes).unwrap(),
        date,
    };
    let vouched = on(time::macros::date!(2026 - 11 - 27));
    let genuine = link(&relay.url, &receipt_key(&device), &vouched);
    let get = |url: String| {
        let http = relay.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, page) = get(genuine.clone()).await;
    assert_eq!(status, 200, "{page}");
    for shown in [
        "Genuine receipt",
        "Jubilee Insurance",
        "HQ-R000017",
        "KES 1,500.00",
        "27 November 2026",
    ] {
        assert!(page.contains(shown), "{shown} missing: {page}");
    }
    let hash = token_key(&device);
    let forged = [
        genuine.replace("/150000KES/", "/1500000KES/"),
        genuine.replace("/HQ-R000017/", "/HQ-R000018/"),
        genuine.replace("/20261127/", "/20261128/"),
        link(&relay.url, &receipt_key("not-a-device-token"), &vouched),
        signed_link(&relay.url, legacy_key_id(&hash), &hash, &vouched),
        format!("{}{}", &genuine[..genuine.len() - 4], "0000"),
        format!("{}/v/short/HQ-R1/1KES/20261127/xyz", relay.url),
    ];
    for url in forged {
        let (status, page) = get(url.clone()).await;
        assert_eq!(status, 404, "{url}");
        assert!(page.contains("could not be verified"), "{page}");
    }
    let found = relay.store.device_by_token(&device).await.unwrap().unwrap();
    assert!(relay.store.revoke_device(&found.id).await.unwrap());
    assert_eq!(
        get(genuine).await.0,
        200,
        "receipts issued before a revocation stay genuine"
    );
    let later = link(
        &relay.url,
        &receipt_key(&device),
        &on(time::macros::date!(2099 - 01 - 01)),
    );
    assert_eq!(get(later).await.0, 404, "none dated after it");

    // A device from before receipt keys: its old links verify up to the upgrade, no later.
    let (_, _, old) = relay.tenant("Old Mutual").await;
    relay
        .execute_raw(
            "UPDATE devices SET legacy_receipts_until = 1795737600000 WHERE name = 'counter-1' AND legacy_receipts_until IS NULL AND tenant_id = (SELECT id FROM tenants WHERE name = 'Old Mutual')",
        )
        .await;
    let old_hash = token_key(&old);
    let before = signed_link(&relay.url, legacy_key_id(&old_hash), &old_hash, &vouched);
    assert_eq!(get(before).await.0, 200, "dated before the upgrade");
    let after = signed_link(
        &relay.url,
        legacy_key_id(&old_hash),
        &old_hash,
        &on(time::macros::date!(2026 - 12 - 01)),
    );
    assert_eq!(get(after).await.0, 404, "dated after the upgrade");
}

async fn check(relay: &Relay, token: &str, body: Value) -> (u16, Value) {
    let r = relay
        .http
        .post(format!("{}/v1/device/check", relay.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// An office checking its set-up learns whose callback URL it holds and whether the relay has
/// the same Paystack secret, without the secret travelling; the check writes nothing.
async fn an_office_checks_its_callback_url_and_paystack_secret(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (tenant, url, device) = relay.paystack_tenant("Jubilee", "sk_test_same").await;
    // The tenant's Daraja URL token is shown once, at creation; rotating shows a new one.
    let token = relay.store.rotate_daraja_token(&tenant).await.unwrap();
    let callback = format!("{}{}/{token}", relay.url, malipo_relay::DARAJA_PATH);
    let (_, other_callback, _) = relay.tenant("Other").await;
    let challenge = "00112233445566778899aabbccddeeff";
    let (status, answer) = check(
        &relay,
        &device,
        json!({"daraja_callback_url": callback, "paystack_challenge": challenge}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["company"], "Jubilee");
    assert_eq!(answer["device"], "counter-1");
    assert_eq!(answer["public_url"], relay.url.as_str());
    assert_eq!(answer["daraja_token"], "current");
    assert_eq!(answer["paystack_webhook_url"], url.as_str());
    assert_eq!(answer["paystack_secret"], "set");
    assert_eq!(
        answer["paystack_proof"],
        sign("sk_test_same", challenge.as_bytes()),
        "an HMAC of the challenge under the same secret"
    );
    assert_ne!(
        answer["paystack_proof"],
        sign("sk_test_other", challenge.as_bytes())
    );
    assert!(!answer.to_string().contains("sk_test_same"));

    let verdict = |url: String| {
        let relay = &relay;
        let device = device.clone();
        async move {
            check(relay, &device, json!({"daraja_callback_url": url}))
                .await
                .1["daraja_token"]
                .clone()
        }
    };
    assert_eq!(
        verdict(other_callback).await,
        "unknown",
        "another company's URL"
    );
    assert_eq!(
        verdict(format!("{}/hooks/d/", relay.url)).await,
        "not_a_callback_url"
    );
    assert_eq!(
        verdict("https://example.co.ke/mpesa/callback".into()).await,
        "not_a_callback_url"
    );
    let rotated = relay.store.rotate_daraja_token(&tenant).await.unwrap();
    assert_eq!(
        verdict(callback.clone()).await,
        "previous",
        "within its grace period"
    );
    assert_eq!(
        verdict(format!(
            "{}{}/{rotated}",
            relay.url,
            malipo_relay::DARAJA_PATH
        ))
        .await,
        "current"
    );

    for bad in ["abc", "zz112233445566778899aabbccddeeff", &"a".repeat(200)] {
        let (status, _) = check(&relay, &device, json!({"paystack_challenge": bad})).await;
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(check(&relay, "not-a-token", json!({})).await.0, 401);
    let (_, plain, plain_device) = relay.tenant("No Paystack").await;
    let (status, answer) = check(
        &relay,
        &plain_device,
        json!({"daraja_callback_url": plain, "paystack_challenge": challenge}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["paystack_secret"], "not_set");
    assert_eq!(answer["paystack_proof"], Value::Null);
    assert_eq!(answer["last_seq"], 0, "the check wrote no event");
}

async fn get_json(relay: &Relay, token: &str, path: &str) -> (u16, Value) {
    let r = relay
        .http
        .get(format!("{}{path}", relay.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn post_policies(relay: &Relay, token: &str, body: Value) -> (u16, Value) {
    let r = relay
        .http
        .post(format!("{}/v1/policies", relay.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn policy(number: &str, holder: &str, premium_minor: i64) -> Value {
    json!({
        "number": number, "holder": holder, "phone": "254712345678",
        "email": "holder@example.co.ke", "premium_minor": premium_minor, "currency": "KES",
        "frequency": "monthly", "instalments": 12, "start_date": "2026-07-01", "status": "active"
    })
}

/// Each device is one counter with a code of its own in the company: given, or the next free
/// number; a code taken is refused.
async fn every_counter_has_a_code_no_other_counter_of_the_company_has(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (tenant, _, first) = relay.tenant("Jubilee").await;
    let (second, _) = relay
        .store
        .add_device(&tenant, "Moi Avenue 2", None)
        .await
        .unwrap();
    let (named, _) = relay
        .store
        .add_device(&tenant, "Mombasa", Some("m1"))
        .await
        .unwrap();
    assert_eq!(second.counter.as_deref(), Some("2"));
    assert_eq!(named.counter.as_deref(), Some("M1"));
    let taken = relay.store.add_device(&tenant, "Again", Some("2")).await;
    assert!(
        taken
            .as_ref()
            .is_err_and(|e| e.to_string().contains("counter 2 is taken")),
        "{taken:?}"
    );
    assert!(
        relay
            .store
            .add_device(&tenant, "Bad", Some("A-1"))
            .await
            .is_err()
    );
    let (other, _, _) = relay.tenant("Britam").await;
    let (elsewhere, _) = relay
        .store
        .add_device(&other, "Britam 2", Some("2"))
        .await
        .unwrap();
    assert_eq!(
        elsewhere.counter.as_deref(),
        Some("2"),
        "codes are per company"
    );
    let (_, answer) = check(&relay, &first, json!({})).await;
    assert_eq!(answer["counter"], "1", "{answer}");
}

/// The register: imported once from any counter, pulled by every counter by cursor; an import
/// again changes only what changed; one refused policy writes none; names and phones are kept
/// sealed in the database.
async fn the_register_is_one_for_the_company_and_keeps_customers_sealed(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (tenant, _, nairobi) = relay.tenant("Jubilee").await;
    let (_, mombasa) = relay
        .store
        .add_device(&tenant, "Mombasa", None)
        .await
        .unwrap();
    let (_, _, other) = relay.tenant("Britam").await;
    let batch = json!({"policies": [policy("P-1", "Amina Wanjiru", 150_000), policy("P-2", "Otieno Odhiambo", 275_000)]});
    let (status, report) = post_policies(&relay, &nairobi, batch.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["added"], json!(["P-1", "P-2"]));
    assert_eq!(report["written"], true);
    let (_, again) = post_policies(&relay, &mombasa, batch).await;
    assert_eq!(
        (
            again["unchanged"].as_u64(),
            again["added"].as_array().map(Vec::len)
        ),
        (Some(2), Some(0))
    );

    let (_, page) = get_json(&relay, &mombasa, "/v1/policies?after=0").await;
    let entries = page["policies"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries[0]["holder"], "Amina Wanjiru",
        "opened for the company's own devices"
    );
    let cursor = page["next"].as_i64().unwrap();
    let (_, nothing) = get_json(&relay, &mombasa, &format!("/v1/policies?after={cursor}")).await;
    assert_eq!(nothing["policies"], json!([]));
    assert_eq!(nothing["next"], cursor);

    // A premium change and one bad row: nothing is written, every refusal is named.
    let (status, refused) = post_policies(
        &relay,
        &nairobi,
        json!({"policies": [policy("P-1", "Amina Wanjiru", 175_000), {"number": "P-3", "holder": "X", "phone": "0722", "premium_minor": 1, "currency": "KES", "frequency": "monthly", "instalments": 12, "start_date": "2026-07-01", "status": "active"}]}),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["refused"][0]["number"], "P-3");
    assert!(
        refused["refused"][0]["why"]
            .as_str()
            .unwrap()
            .starts_with("phone")
    );
    assert_eq!(refused["written"], false);
    let (_, unchanged) = get_json(&relay, &mombasa, &format!("/v1/policies?after={cursor}")).await;
    assert_eq!(
        unchanged["policies"],
        json!([]),
        "a refused import writes nothing"
    );
    let (status, updated) = post_policies(
        &relay,
        &nairobi,
        json!({"policies": [policy("P-1", "Amina Wanjiru", 175_000)]}),
    )
    .await;
    assert_eq!((status, updated["updated"].clone()), (200, json!(["P-1"])));
    let (_, changed) = get_json(&relay, &mombasa, &format!("/v1/policies?after={cursor}")).await;
    let changed = changed["policies"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "only what changed, after the cursor");
    assert_eq!(changed[0]["premium_minor"], 175_000);
    assert!(changed[0]["seq"].as_i64().unwrap() > cursor);

    let (_, theirs) = get_json(&relay, &other, "/v1/policies?after=0").await;
    assert_eq!(
        theirs["policies"],
        json!([]),
        "another company sees none of it"
    );

    // What the database holds, read behind the relay's back.
    let statement = "SELECT holder, phone FROM register";
    let sealed: Vec<Vec<u8>> = if relay.database.starts_with("postgres://") {
        let pool = sqlx::PgPool::connect(&relay.database).await.unwrap();
        let rows = sqlx::query(statement).fetch_all(&pool).await.unwrap();
        use sqlx::Row;
        rows.iter()
            .map(|r| [r.get::<Vec<u8>, _>(0), r.get::<Vec<u8>, _>(1)].concat())
            .collect()
    } else {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", relay.database))
            .await
            .unwrap();
        let rows = sqlx::query(statement).fetch_all(&pool).await.unwrap();
        use sqlx::Row;
        rows.iter()
            .map(|r| [r.get::<Vec<u8>, _>(0), r.get::<Vec<u8>, _>(1)].concat())
            .collect()
    };
    assert_eq!(sealed.len(), 2);
    for bytes in sealed {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("Amina") && !text.contains("Otieno") && !text.contains("254712345678"),
            "customer data is sealed at rest"
        );
    }

    // Without its key the relay keeps no customer data at all.
    let keyless = Relay::build(backend, None, malipo_relay::access::Access::default()).await;
    let (_, _, device) = keyless.tenant("Keyless").await;
    let (status, answer) = post_policies(
        &keyless,
        &device,
        json!({"policies": [policy("P-1", "Amina Wanjiru", 150_000)]}),
    )
    .await;
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("MALIPO_RELAY_SECRET_KEY")
    );
}

/// Every counter's payments in one order: a newer version of a payment comes later in the
/// feed, an older one is not fed again; the summary splits by branch, counter and clerk.
async fn every_counter_reads_the_company_payments_in_one_order(backend: Backend) {
    let relay = Relay::start(backend).await;
    let (tenant, _, one) = relay.tenant("Jubilee").await;
    let (_, two) = relay
        .store
        .add_device(&tenant, "Moi Avenue 2", None)
        .await
        .unwrap();
    let (_, msa) = relay
        .store
        .add_device(&tenant, "Mombasa", Some("3"))
        .await
        .unwrap();
    let mut a = tx(
        "MREF0000000A",
        "NBI-1-000001",
        "mpesa",
        "awaiting_customer",
        150_000,
        "2026-11-27T07:00:00Z",
    );
    a["clerk"] = json!("wanjiku");
    let mut b = tx(
        "MREF0000000B",
        "NBI-2-000001",
        "card",
        "succeeded",
        275_000,
        "2026-11-27T07:00:05Z",
    );
    b["clerk"] = json!("otieno");
    let c = tx(
        "MREF0000000C",
        "MSA-3-000001",
        "mpesa",
        "succeeded",
        100_000,
        "2026-11-27T07:00:09Z",
    );
    assert_eq!(upload(&relay, &one, vec![a.clone()]).await.0, 200);
    assert_eq!(upload(&relay, &two, vec![b]).await.0, 200);
    assert_eq!(upload(&relay, &msa, vec![c]).await.0, 200);
    let mut paid = a.clone();
    paid["status"] = json!("succeeded");
    paid["receipt_number"] = json!("NBI-1-R000001");
    paid["updated_at"] = json!("2026-11-27T07:01:00Z");
    assert_eq!(upload(&relay, &one, vec![paid]).await.1["stored"], 1);
    assert_eq!(
        upload(&relay, &one, vec![a]).await.1["unchanged"],
        1,
        "an older version"
    );

    let (status, page) = get_json(&relay, &msa, "/v1/payments?after=0").await;
    assert_eq!(status, 200);
    let seen: Vec<(String, String, i64)> = page["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["number"].as_str().unwrap().to_owned(),
                p["status"].as_str().unwrap().to_owned(),
                p["seq"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen.iter()
            .map(|(n, s, _)| (n.as_str(), s.as_str()))
            .collect::<Vec<_>>(),
        [
            ("NBI-2-000001", "succeeded"),
            ("MSA-3-000001", "succeeded"),
            ("NBI-1-000001", "succeeded")
        ],
        "the paid version replaces the first and comes last"
    );
    assert!(seen.windows(2).all(|w| w[0].2 < w[1].2));
    let first = &page["payments"][2];
    assert_eq!(
        (
            first["office"].as_str(),
            first["counter"].as_str(),
            first["policy"].as_str()
        ),
        (Some("NBI"), Some("1"), Some("P-1"))
    );
    assert_eq!(first["receipt_number"], "NBI-1-R000001");
    let (_, later) = get_json(
        &relay,
        &msa,
        &format!("/v1/payments?after={}", page["next"]),
    )
    .await;
    assert_eq!(later["payments"], json!([]));

    let s = company(&relay, &one, "").await;
    let keys = |list: &str| -> Vec<(String, i64)> {
        s[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["key"].as_str().unwrap().to_owned(),
                    k["collected"]["amount_minor"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        keys("by_office"),
        [("MSA".into(), 100_000), ("NBI".into(), 425_000)]
    );
    assert_eq!(
        keys("by_counter"),
        [
            ("MSA-3".into(), 100_000),
            ("NBI-1".into(), 150_000),
            ("NBI-2".into(), 275_000)
        ]
    );
    assert_eq!(
        keys("by_clerk"),
        [
            ("-".into(), 100_000),
            ("otieno".into(), 275_000),
            ("wanjiku".into(), 150_000)
        ]
    );
    let nairobi = company(&relay, &one, "office=NBI").await;
    assert_eq!(nairobi["succeeded"]["amount_minor"], 425_000, "one branch");
    assert_eq!(
        get_json(&relay, &one, "/v1/summary?office=N-B-I").await.0,
        400
    );
}

fn c2b_body(trans_id: &str, account: &str, amount: &str) -> Vec<u8> {
    json!({
        "TransactionType": "Pay Bill", "TransID": trans_id, "TransTime": "20261130101500",
        "TransAmount": amount, "BusinessShortCode": "174379", "BillRefNumber": account,
        "InvoiceNumber": "", "OrgAccountBalance": "", "ThirdPartyTransID": "",
        "MSISDN": "25470****149", "FirstName": "John", "MiddleName": "", "LastName": "Doe"
    })
    .to_string()
    .into_bytes()
}

/// Paybill at the relay: validation from the register (forgiving how the account is typed,
/// refusing unknown and cancelled accounts and small amounts), confirmations stored like every
/// callback, claims held by the first device, suspense decided once for the company.
async fn paybill_validation_confirmation_claims_and_suspense(backend: Backend) {
    let relay = Relay::start(backend).await;
    let t = relay.store.create_tenant("Jubilee").await.unwrap();
    let (one, token_one) = relay
        .store
        .add_device(&t.tenant.id, "one", None)
        .await
        .unwrap();
    let (_, token_two) = relay
        .store
        .add_device(&t.tenant.id, "two", None)
        .await
        .unwrap();
    let mut lapsed = policy("MTR-2291", "Amina Wanjiru", 150_000);
    lapsed["status"] = json!("lapsed");
    let mut gone = policy("OLD/7", "Otieno Odhiambo", 150_000);
    gone["status"] = json!("cancelled");
    assert_eq!(
        post_policies(
            &relay,
            &token_one,
            json!({"policies": [lapsed, gone], "office": "MSA"})
        )
        .await
        .0,
        200
    );
    relay
        .store
        .set_c2b_minimum(&t.tenant.id, 5_000)
        .await
        .unwrap();
    let validate = format!("{}/hooks/v/{}", relay.url, t.c2b_token);
    for (account, amount, code) in [
        ("mtr 2291", "1500.00", "0"),
        ("MTR-2291", "1500", "0"),
        (" mtr/2291 ", "1500", "0"),
        ("MTR-2292", "1500", "C2B00012"),
        ("old/7", "1500", "C2B00012"),
        ("", "1500", "C2B00012"),
        ("MTR-2291", "49", "C2B00013"),
    ] {
        let (status, answer) = relay
            .post(&validate, c2b_body("RKTQDM7W6S", account, amount))
            .await;
        assert_eq!(status, 200, "{account}");
        assert_eq!(answer["ResultCode"], code, "{account:?} {amount}: {answer}");
        assert_eq!(
            answer["ResultDesc"],
            if code == "0" { "Accepted" } else { "Rejected" }
        );
    }
    assert_eq!(
        relay
            .post(
                &format!("{}/hooks/v/nope", relay.url),
                c2b_body("RKTQDM7W6S", "MTR-2291", "10")
            )
            .await
            .0,
        404
    );
    assert_eq!(
        relay.post(&validate, b"{\"TransID\": 7}".to_vec()).await.0,
        400
    );

    let confirm = format!("{}/hooks/c/{}", relay.url, t.c2b_token);
    let body = c2b_body("RKTQDM7W6S", "mtr 2291", "1500.00");
    for _ in 0..3 {
        let (status, ack) = relay.post(&confirm, body.clone()).await;
        assert_eq!((status, ack["ResultCode"].as_i64()), (200, Some(0)));
    }
    let forged = c2b_body("RKTQDM7W6S", "mtr 2291", "150000.00");
    assert_eq!(relay.post(&confirm, forged).await.0, 200);
    let (_, feed) = relay.events(&token_two, 0, 10).await;
    let events = feed["events"].as_array().unwrap();
    assert_eq!(
        events.len(),
        2,
        "the same bytes once, a different body on its own: {feed}"
    );
    assert!(events.iter().all(|e| e["kind"] == "c2b_confirmation"));
    assert!(
        events.iter().all(|e| e["office"] == "MSA"),
        "tagged with the branch that registered MTR-2291: {feed}"
    );
    let stranger = c2b_body("RKTQDM7W6T", "NOBODY-1", "1500.00");
    assert_eq!(relay.post(&confirm, stranger).await.0, 200);
    let (_, feed) = relay.events(&token_two, 2, 10).await;
    assert_eq!(
        feed["events"][0]["office"],
        Value::Null,
        "an unknown account has no branch: {feed}"
    );

    let claim = |token: &str| {
        let relay = &relay;
        let token = token.to_owned();
        async move {
            let r = relay
                .http
                .post(format!("{}/v1/claims", relay.url))
                .bearer_auth(&token)
                .json(&json!({"subject": "paybill:RKTQDM7W6S"}))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    let (a, b) = tokio::join!(claim(&token_one), claim(&token_two));
    assert_ne!(a["won"], b["won"], "exactly one holds it: {a} {b}");
    let again = claim(&token_one).await;
    assert_eq!(again["won"], a["won"], "asking again changes nothing");
    assert!(again["device"] == "one" || again["device"] == "two");

    let item = json!({"trans_id": "SABC123456", "amount_minor": 90_000, "currency": "KES",
        "account": "NOSUCH", "payer": "John Doe", "msisdn": "25470****149", "paid_at": "2026-11-30T07:15:00Z"});
    let add = relay
        .http
        .post(format!("{}/v1/suspense", relay.url))
        .bearer_auth(&token_one)
        .json(&item)
        .send()
        .await
        .unwrap();
    assert_eq!(add.status().as_u16(), 204);
    let (_, open) = get_json(&relay, &token_two, "/v1/suspense").await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["status"], "open");
    let decide = |token: &str, body: Value| {
        let relay = &relay;
        let token = token.to_owned();
        async move {
            let r = relay
                .http
                .post(format!("{}/v1/suspense/decide", relay.url))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let first = decide(
        &token_two,
        json!({"trans_id": "SABC123456", "policy": "MTR-2291", "note": "customer called"}),
    )
    .await;
    assert_eq!(first.0, 200, "{:?}", first.1);
    let second = decide(
        &token_one,
        json!({"trans_id": "SABC123456", "refund": true, "note": "refund it"}),
    )
    .await;
    assert_eq!(second.0, 409);
    assert!(
        second.1["message"]
            .as_str()
            .unwrap()
            .contains("already decided by two"),
        "{:?}",
        second.1
    );
    let resent = decide(
        &token_two,
        json!({"trans_id": "SABC123456", "policy": "MTR-2291", "note": "customer called"}),
    )
    .await;
    assert_eq!(
        resent.0, 200,
        "the decider may send its decision again: {:?}",
        resent.1
    );
    let changed_mind = decide(
        &token_two,
        json!({"trans_id": "SABC123456", "policy": "MTR-9999", "note": "other"}),
    )
    .await;
    assert_eq!(changed_mind.0, 409, "but not another one");
    let (_, after) = get_json(&relay, &token_one, "/v1/suspense").await;
    assert_eq!(after, json!([]), "decided: no longer open");
    assert_eq!(
        decide(
            &token_one,
            json!({"trans_id": "SNOSUCH123", "refund": true, "note": "x"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        decide(
            &token_one,
            json!({"trans_id": "SABC123456", "note": "neither"})
        )
        .await
        .0,
        400
    );
    let _ = one;

    // A Transaction Status result at the Daraja URL is its own kind of event.
    let daraja = format!("{}/hooks/d/{}", relay.url, t.daraja_token);
    let (status, _) = relay
        .post(&daraja, fixture("daraja_transaction_status_result.json"))
        .await;
    assert_eq!(status, 200);
    let (_, feed) = relay.events(&token_two, 3, 10).await;
    assert_eq!(feed["events"][0]["kind"], "status_result");

    // So are the results of M-Pesa Ratiba standing orders, in either case Safaricom writes them;
    // the same result twice is one event, and a body that only looks like one is refused.
    for name in [
        "daraja_ratiba_callback_success.json",
        "daraja_ratiba_callback_failed_1037.json",
        "daraja_ratiba_callback_success.json",
    ] {
        assert_eq!(relay.post(&daraja, fixture(name)).await.0, 200, "{name}");
    }
    let (_, feed) = relay.events(&token_two, 4, 10).await;
    let kinds: Vec<&Value> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["kind"])
        .collect();
    assert_eq!(kinds, ["ratiba_result", "ratiba_result"], "{feed}");
    let key = feed["events"][0]["dedup_key"].as_str().unwrap();
    assert!(
        key.starts_with("ratiba:0acc0239-20fa-4a52-8b9d-9bd64c0465c3:"),
        "named by our reference: {key}"
    );
    let (status, _) = relay
        .post(
            &daraja,
            br#"{"responseHeader": {"responseDescription": "no code"}}"#.to_vec(),
        )
        .await;
    assert_eq!(status, 400);
}

/// The conformance suite: each test above, once on SQLite and once on PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await
                }
            )*
            #[tokio::test]
            async fn a_device_streaming_from_one_instance_is_woken_by_another() {
                super::a_device_streaming_from_one_instance_is_woken_by_another(
                    super::Backend::Postgres,
                )
                .await
            }
        }
    };
}

/// SMS delivery reports at the tenant's Daraja token: stored once per message and status, fed
/// to the devices; anything else is refused and stored nowhere.
async fn sms_reports_and_suspense_items_are_checked_and_stored_once(backend: Backend) {
    let relay = Relay::start(backend).await;
    let t = relay.store.create_tenant("Jubilee").await.unwrap();
    let (_, token) = relay
        .store
        .add_device(&t.tenant.id, "one", None)
        .await
        .unwrap();
    let url = format!("{}/hooks/s/{}", relay.url, t.daraja_token);
    let post = |url: String, body: &'static str| {
        let http = relay.http.clone();
        async move {
            http.post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let report = "id=ATXid_1&status=Success&phoneNumber=%2B254712345678&networkCode=63902";
    assert_eq!(post(url.clone(), report).await, 200);
    assert_eq!(
        post(url.clone(), report).await,
        200,
        "sent again: one event"
    );
    assert_eq!(
        post(
            url.clone(),
            "id=ATXid_1&status=Failed&failureReason=UserIsInactive"
        )
        .await,
        200
    );
    assert_eq!(
        post(url.clone(), "status=Success").await,
        400,
        "no message id"
    );
    assert_eq!(post(url.clone(), "{\"id\": 1}").await, 400);
    assert_eq!(
        post(format!("{}/hooks/s/{}", relay.url, "0".repeat(64)), report).await,
        404
    );
    let (_, feed) = relay.events(&token, 0, 10).await;
    let events = feed["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{feed}");
    assert_eq!(events[0]["provider"], "africastalking");
    assert_eq!(events[0]["kind"], "sms_delivery");

    // A device's suspense item and decision are bounded like Safaricom's own fields.
    let send = |path: &'static str, body: Value| {
        let http = relay.http.clone();
        let (url, token) = (format!("{}{path}", relay.url), token.clone());
        async move {
            http.post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let item = |account: String| {
        json!({"trans_id": "RKTQDM7W6S", "amount_minor": 150_000, "currency": "KES",
               "account": account, "payer": "John", "msisdn": "2547****149",
               "paid_at": "2026-11-30T10:00:00Z"})
    };
    assert_eq!(send("/v1/suspense", item("x".repeat(10_000))).await, 400);
    assert_eq!(send("/v1/suspense", item("MTR 2291".into())).await, 204);
    let decision = |note: String| json!({"trans_id": "RKTQDM7W6S", "refund": true, "note": note});
    assert_eq!(
        send("/v1/suspense/decide", decision("n".repeat(10_000))).await,
        400
    );
    assert_eq!(
        send("/v1/suspense/decide", decision("not ours".into())).await,
        200
    );
}

on_both_backends!(
    a_callback_is_answered_only_once_stored_and_comes_back_byte_for_byte,
    a_hundred_identical_callbacks_at_once_make_one_event,
    bad_requests_are_refused_and_leave_nothing_behind,
    devices_see_only_their_tenant_and_revoked_tokens_see_nothing,
    concurrent_callbacks_get_gapless_numbers_in_commit_order,
    a_device_offline_through_ten_thousand_events_catches_up_in_order,
    a_signed_paystack_webhook_is_stored_once_and_forgeries_are_refused,
    signed_webhooks_paystack_never_sends_are_refused_not_failed,
    the_stream_wakes_a_device_when_its_tenant_gets_an_event,
    a_rotated_daraja_url_keeps_working_for_its_grace_period_only,
    the_same_upload_ten_times_is_one_row_and_a_newer_version_replaces_it,
    a_bad_record_refuses_the_whole_upload_and_the_summary_spans_offices_of_one_tenant,
    metrics_count_outcomes_refusals_lag_and_latency,
    allowlists_and_rate_limits_guard_the_callback_urls,
    two_instances_on_one_database_store_a_hundred_identical_webhooks_once,
    an_event_names_the_office_whose_payment_it_is_about,
    a_receipt_link_confirms_a_real_receipt_and_refuses_a_forged_one,
    a_tenants_daraja_allowlist_refuses_every_other_address,
    daraja_identifiers_are_printable_ascii_of_at_most_64_characters,
    distinct_bodies_about_one_payment_are_distinct_events,
    one_bad_event_never_fails_the_rest_of_its_commit,
    event_pages_stay_under_a_megabyte,
    an_office_checks_its_callback_url_and_paystack_secret,
    every_counter_has_a_code_no_other_counter_of_the_company_has,
    the_register_is_one_for_the_company_and_keeps_customers_sealed,
    every_counter_reads_the_company_payments_in_one_order,
    paybill_validation_confirmation_claims_and_suspense,
    sms_reports_and_suspense_items_are_checked_and_stored_once,
);
