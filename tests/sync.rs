//! Payments from the `malipo` CLI through the provider sandbox and the relay, every part a real
//! process on loopback, on a relay backed by SQLite and by PostgreSQL: each payment must end in
//! its true final state, counted once, whatever the callbacks do.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

#[path = "../crates/relay/tests/support/mod.rs"]
mod support;
use support::{Backend, free_port, sign, wait_healthy};

/// A binary of this workspace, next to the test executable's directory.
fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build -p malipo-cli -p malipo-relay -p malipo-sandbox)",
        path.display()
    );
    path
}

const SEALING_KEY: &str = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";
const PAYSTACK_SECRET: &str = "sk_test_sandbox";
const PAID: &str = "254708374149";

struct World {
    dir: tempfile::TempDir,
    relay_db: String,
    relay_port: u16,
    relay: Option<Child>,
    sandbox: Child,
    sandbox_url: String,
    tenant: String,
    device_id: String,
    device_token: String,
    daraja_url: String,
    /// The tenant's paybill URLs: validation, confirmation.
    c2b_urls: (String, String),
    http: reqwest::Client,
}

impl World {
    async fn start(backend: Backend) -> World {
        let dir = tempfile::tempdir().unwrap();
        let relay_db = match backend {
            Backend::Sqlite => dir.path().join("relay.sqlite3").display().to_string(),
            Backend::Postgres => support::postgres_database().await,
        };
        let relay_port = free_port();
        let relay_cmd = |args: &[&str]| {
            let mut c = Command::new(bin("malipo-relay"));
            c.args(args)
                .env("MALIPO_RELAY_DATABASE_URL", &relay_db)
                .env("MALIPO_RELAY_SECRET_KEY", SEALING_KEY)
                .env(
                    "MALIPO_RELAY_PUBLIC_URL",
                    format!("http://127.0.0.1:{relay_port}"),
                )
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            c
        };
        let tenant = json_out(relay_cmd(&["tenant", "create", "--name", "Jubilee"])).await;
        let id = tenant["id"].as_str().unwrap().to_owned();
        let mut set = relay_cmd(&["tenant", "set-paystack-secret", &id])
            .spawn()
            .unwrap();
        {
            use tokio::io::AsyncWriteExt;
            let mut stdin = set.stdin.take().unwrap();
            stdin.write_all(PAYSTACK_SECRET.as_bytes()).await.unwrap();
        }
        assert!(set.wait().await.unwrap().success());
        let device = json_out(relay_cmd(&[
            "device", "add", "--tenant", &id, "--name", "counter",
        ]))
        .await;

        let sandbox_port = free_port();
        let sandbox_url = format!("http://127.0.0.1:{sandbox_port}");
        let sandbox = Command::new(bin("malipo-sandbox"))
            .env("MALIPO_SANDBOX_LISTEN", format!("127.0.0.1:{sandbox_port}"))
            .env(
                "MALIPO_SANDBOX_PAYSTACK_WEBHOOK_URL",
                tenant["paystack_webhook_url"].as_str().unwrap(),
            )
            .env("MALIPO_SANDBOX_PAYSTACK_SECRET", PAYSTACK_SECRET)
            .env("MALIPO_SANDBOX_CUSTOMER_DELAY_MS", "200")
            .env(
                "MALIPO_SANDBOX_SMS_REPORT_URL",
                format!(
                    "http://127.0.0.1:{relay_port}/hooks/s/{}",
                    tenant["daraja_callback_url"]
                        .as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap()
                ),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        wait_healthy(&http, &format!("{sandbox_url}/__sandbox/stats")).await;
        // Safaricom's certificate for reversals, as the simulator publishes it.
        let certificate = http
            .get(format!("{sandbox_url}/__sandbox/certificate.pem"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        std::fs::write(dir.path().join("mpesa-cert.pem"), certificate).unwrap();
        let mut world = World {
            dir,
            relay_db,
            relay_port,
            relay: None,
            sandbox,
            sandbox_url,
            tenant: id.clone(),
            device_id: device["id"].as_str().unwrap().to_owned(),
            device_token: device["token"].as_str().unwrap().to_owned(),
            daraja_url: tenant["daraja_callback_url"].as_str().unwrap().to_owned(),
            c2b_urls: (
                tenant["c2b_validation_url"].as_str().unwrap().to_owned(),
                tenant["c2b_confirmation_url"].as_str().unwrap().to_owned(),
            ),
            http,
        };
        world.start_relay().await;
        world
            .malipo(&[
                "policy",
                "add",
                "--number",
                "POL-1",
                "--holder",
                "Amina Odhiambo",
                "--phone",
                "0722000111",
                "--premium",
                "1500",
            ])
            .await;
        world
            .malipo(&["settings", "set", "sync.query_after_seconds", "1"])
            .await;
        // The tests take more payments a minute than one clerk at a counter may.
        world
            .malipo(&["settings", "set", "limits.per_clerk_per_minute", "100"])
            .await;
        world
    }

    async fn start_relay(&mut self) {
        let child = Command::new(bin("malipo-relay"))
            .arg("serve")
            .env("MALIPO_RELAY_DATABASE_URL", &self.relay_db)
            .env("MALIPO_RELAY_SECRET_KEY", SEALING_KEY)
            .env(
                "MALIPO_RELAY_LISTEN",
                format!("127.0.0.1:{}", self.relay_port),
            )
            .env("MALIPO_RELAY_RATE_LIMIT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.relay = Some(child);
        wait_healthy(
            &self.http,
            &format!("http://127.0.0.1:{}/healthz", self.relay_port),
        )
        .await;
    }

    async fn kill_relay(&mut self) {
        if let Some(mut child) = self.relay.take() {
            child.kill().await.unwrap();
        }
    }

    fn office(&self) -> Command {
        self.office_at("office", &self.device_token)
    }

    /// The CLI of the office whose data is in `name`, syncing with device `token`.
    fn office_at(&self, name: &str, token: &str) -> Command {
        let mut c = Command::new(bin("malipo"));
        c.env("MALIPO_DATA_DIR", self.dir.path().join(name))
            .env("MALIPO_MPESA_BASE_URL", &self.sandbox_url)
            .env("MALIPO_MPESA_CONSUMER_KEY", "sandbox-consumer-key")
            .env("MALIPO_MPESA_CONSUMER_SECRET", "sandbox-consumer-secret")
            .env("MALIPO_MPESA_SHORTCODE", "174379")
            .env(
                "MALIPO_MPESA_PASSKEY",
                "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
            )
            .env("MALIPO_MPESA_CALLBACK_URL", &self.daraja_url)
            .env("MALIPO_MPESA_INITIATOR_NAME", "testapi")
            .env("MALIPO_MPESA_INITIATOR_PASSWORD", "Safaricom999!*!")
            .env(
                "MALIPO_MPESA_CERTIFICATE",
                self.dir.path().join("mpesa-cert.pem"),
            )
            .env("MALIPO_PAYSTACK_BASE_URL", &self.sandbox_url)
            .env("MALIPO_PAYSTACK_SECRET_KEY", PAYSTACK_SECRET)
            .env(
                "MALIPO_RELAY_URL",
                format!("http://127.0.0.1:{}", self.relay_port),
            )
            .env("MALIPO_RELAY_TOKEN", token)
            .env("MALIPO_SMS_BASE_URL", &self.sandbox_url)
            .env("MALIPO_SMS_USERNAME", "sandbox")
            .env("MALIPO_SMS_API_KEY", "atsk_sandbox")
            .env("MALIPO_MPESA_C2B_VALIDATION_URL", &self.c2b_urls.0)
            .env("MALIPO_MPESA_C2B_CONFIRMATION_URL", &self.c2b_urls.1)
            .env_remove("MALIPO_USER")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs `malipo ARGS --json`; its JSON output.
    async fn malipo(&self, args: &[&str]) -> Value {
        let mut c = self.office();
        c.args(args).arg("--json");
        json_out(c).await
    }

    /// A second office of the same company: its own data and device token, office code NBI.
    async fn second_office(&self) -> String {
        let tenant = &self.tenant;
        let device = json_out({
            let mut c = Command::new(bin("malipo-relay"));
            c.args(["device", "add", "--tenant", tenant, "--name", "nairobi"])
                .env("MALIPO_RELAY_DATABASE_URL", &self.relay_db)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            c
        })
        .await;
        let token = device["token"].as_str().unwrap().to_owned();
        let mut c = self.office_at("nairobi", &token);
        c.args(["settings", "set", "office.code", "NBI", "--json"]);
        json_out(c).await;
        token
    }

    /// Runs `malipo ARGS --json` signed in as `user` (whose password is `USER-password`).
    async fn malipo_as(&self, user: &str, args: &[&str]) -> std::process::Output {
        let mut c = self.office();
        c.args(args)
            .arg("--json")
            .env("MALIPO_USER", user)
            .env("MALIPO_PASSWORD", format!("{user}-password"));
        c.output().await.unwrap()
    }

    /// Adds `user` with `role` (the first one in set-up mode, the others as `admin`).
    async fn add_user(&self, user: &str, role: &str) {
        let mut c = self.office();
        c.args(["user", "add", "--username", user, "--role", role, "--json"])
            .env("MALIPO_NEW_PASSWORD", format!("{user}-password"));
        if role != "admin" {
            c.env("MALIPO_USER", "admin")
                .env("MALIPO_PASSWORD", "admin-password");
        }
        json_out(c).await;
    }

    async fn behaviour(&self, b: Value) {
        let r = self
            .http
            .post(format!("{}/__sandbox/behaviour", self.sandbox_url))
            .json(&b)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    async fn pay_mpesa(&self, phone: &str, amount: &str) -> Value {
        self.malipo(&[
            "pay", "mpesa", "--policy", "POL-1", "--phone", phone, "--amount", amount, "--again",
        ])
        .await
    }

    async fn sync(&self) -> Value {
        self.malipo(&["sync", "--once"]).await
    }

    /// Syncs until every payment in `numbers` is final; returns them as they end.
    async fn sync_until_final(&self, numbers: &[String]) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            self.sync().await;
            let mut all = Vec::new();
            for n in numbers {
                all.push(self.malipo(&["tx", "show", n]).await);
            }
            let open = all
                .iter()
                .filter(|t| matches!(t["status"].as_str(), Some("pending" | "awaiting_customer")))
                .count();
            if open == 0 {
                return all;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{open} payments still open after 60 s: {all:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The relay's feed as the device sees it.
    async fn feed(&self) -> Vec<Value> {
        let r = self.relay_get("/v1/events?after=0&limit=5000").await;
        r["events"].as_array().unwrap().clone()
    }

    /// `GET PATH` on the relay as this office's device.
    async fn relay_get(&self, path: &str) -> Value {
        self.http
            .get(format!("http://127.0.0.1:{}{path}", self.relay_port))
            .bearer_auth(&self.device_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn summary(&self) -> Value {
        self.malipo(&["summary"]).await
    }

    /// A card payment of POL-1 waiting at checkout under `reference`, written straight into the
    /// office database (Paystack never heard of it); its number.
    async fn seed_card_payment(&self, reference: &str, email: &str) -> String {
        let path = self.dir.path().join("office/malipo.sqlite3");
        let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let at = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        sqlx::query(
            "INSERT INTO transactions (number, reference, policy_id, method, status, amount_minor,
                 currency, email, provider_ref, created_at, updated_at, day)
             SELECT 'HQ-900001', ?1, p.id, 'card', 'awaiting_customer', 150000, 'KES', ?2, ?1,
                    ?3, ?3, ?3 / 86400000 FROM policies p WHERE p.number = 'POL-1'",
        )
        .bind(reference)
        .bind(email)
        .bind(at)
        .execute(&db)
        .await
        .unwrap();
        db.close().await;
        "HQ-900001".to_owned()
    }

    /// Writes `n` earlier payments of POL-1 straight into the office database (as an office with
    /// history has them), none of them sent to the relay yet.
    /// Writes `n` paid payments straight into the office whose data is in `office`, numbered
    /// `PREFIX-000001`… as an office without counters numbers them.
    async fn seed_payments(&self, office: &str, prefix: &str, n: usize) {
        let path = self.dir.path().join(office).join("malipo.sqlite3");
        let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let mut tx = db.begin().await.unwrap();
        let start: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM transactions")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let at =
            (time::OffsetDateTime::now_utc() - time::Duration::days(30)).unix_timestamp() * 1000;
        for i in 1..=n as i64 {
            let id = start + i;
            sqlx::query(
                "INSERT INTO transactions (id, number, reference, policy_id, method, status,
                     amount_minor, currency, phone, provider_ref, created_at, updated_at, day)
                 SELECT ?1, ?3 || '-' || printf('%06d', ?1), ?3 || 'REF' || printf('%06d', ?1), p.id,
                        'mpesa', 'succeeded', 150000, 'KES', '254722000111',
                        'ws_CO_OLD' || ?1, ?2, ?2, ?2 / 86400000 FROM policies p WHERE p.number = 'POL-1'",
            )
            .bind(id)
            .bind(at + i)
            .bind(prefix)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        db.close().await;
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.sandbox.start_kill();
    }
}

async fn json_out(mut cmd: Command) -> Value {
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd.as_std(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON from {:?}: {e}: {}",
            cmd.as_std(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The Nairobi day a payment was made, for `malipo reconcile --date`.
fn nairobi_day(tx: &Value) -> String {
    let at = time::OffsetDateTime::parse(
        tx["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    (at + time::Duration::hours(3)).date().to_string()
}

fn differences<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == kind)
        .collect()
}

fn number(tx: &Value) -> String {
    tx["number"].as_str().unwrap().to_owned()
}

/// Success, cancel, wrong PIN and a prompt that never calls back, each through the relay (the
/// last found by asking M-Pesa): final states with receipt numbers and clerks' reasons.
async fn mpesa_outcomes_arrive_through_the_relay(backend: Backend) {
    let world = World::start(backend).await;
    let paid = world.pay_mpesa(PAID, "1500").await;
    let cancelled = world.pay_mpesa("254700000032", "1500").await;
    let wrong_pin = world.pay_mpesa("254700002001", "1500").await;
    let silent = world.pay_mpesa("254700000037", "1500").await;
    for t in [&paid, &cancelled, &wrong_pin, &silent] {
        assert_eq!(t["status"], "awaiting_customer", "{t}");
    }
    let numbers: Vec<String> = [&paid, &cancelled, &wrong_pin, &silent]
        .iter()
        .map(|t| number(t))
        .collect();
    let done = world.sync_until_final(&numbers).await;
    assert_eq!(done[0]["status"], "succeeded");
    let receipt = done[0]["provider_receipt"].as_str().unwrap_or_default();
    assert!(
        receipt.len() == 10 && receipt.chars().all(|c| c.is_ascii_alphanumeric()),
        "an M-Pesa receipt number from the callback: {}",
        done[0]
    );
    assert!(done[0]["receipt_number"].is_string());
    assert_eq!(done[1]["status"], "cancelled");
    assert_eq!(done[1]["failure_code"], "1032");
    assert_eq!(done[2]["status"], "failed");
    assert_eq!(done[2]["failure_code"], "2001");
    assert!(
        done[2]["failure_reason"].as_str().unwrap().contains("PIN"),
        "{}",
        done[2]
    );
    assert_eq!(done[3]["status"], "timed_out", "{}", done[3]);
    // Three callbacks came through the relay; the silent prompt has none.
    let feed = world.feed().await;
    assert_eq!(feed.len(), 3, "{feed:?}");
    let summary = world.summary().await;
    assert_eq!(summary["succeeded"]["count"], 1, "{summary}");
    assert_eq!(summary["succeeded"]["amount_minor"], 150_000);
}

/// Card: paid through the hosted checkout (webhook re-verified), and paid with a different
/// amount than asked (to review, never to paid).
async fn card_success_and_amount_mismatch(backend: Backend) {
    let world = World::start(backend).await;
    let card = |amount: &'static str| {
        let world = &world;
        async move {
            world
                .malipo(&[
                    "pay",
                    "card",
                    "--policy",
                    "POL-1",
                    "--email",
                    "amina@example.co.ke",
                    "--amount",
                    amount,
                    "--again",
                ])
                .await
        }
    };
    let pay = |reference: String| {
        let world = &world;
        async move {
            let r = world
                .http
                .post(format!("{}/__sandbox/paystack/pay", world.sandbox_url))
                .json(&json!({"reference": reference, "card": "4084084084084081"}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    };
    let good = card("1500").await;
    pay(good["reference"].as_str().unwrap().to_owned()).await;
    world
        .behaviour(json!({"paystack_amount_delta_minor": 5000}))
        .await;
    let odd = card("1500").await;
    pay(odd["reference"].as_str().unwrap().to_owned()).await;
    let done = world.sync_until_final(&[number(&good), number(&odd)]).await;
    assert_eq!(done[0]["status"], "succeeded", "{}", done[0]);
    assert_eq!(done[0]["card_last4"], "4081");
    assert_eq!(done[1]["status"], "needs_review", "{}", done[1]);
    let summary = world.summary().await;
    assert_eq!(summary["succeeded"]["count"], 1, "{summary}");

    // The day's reconciliation: Paystack confirms both charges, one matches, and the other is
    // listed as taken for a different amount than asked.
    let report = world
        .malipo(&["reconcile", "--date", &nairobi_day(&good)])
        .await;
    assert_eq!(report["card_checked"], true);
    assert_eq!(report["card"]["confirmed"], 2, "{report}");
    assert_eq!(report["card"]["matched"], 1, "{report}");
    let odd_ones = differences(&report, "amount_differs");
    assert_eq!(odd_ones.len(), 1, "{report}");
    assert_eq!(odd_ones[0]["number"], done[1]["number"]);
    assert_eq!(
        report["differences"].as_array().unwrap().len(),
        1,
        "{report}"
    );
}

/// Every callback sent three times: one event each, each payment counted once.
async fn duplicated_callbacks_count_once(backend: Backend) {
    let world = World::start(backend).await;
    world.behaviour(json!({"duplicate_callbacks": 2})).await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        numbers.push(number(&world.pay_mpesa(PAID, "1500").await));
    }
    let done = world.sync_until_final(&numbers).await;
    assert!(done.iter().all(|t| t["status"] == "succeeded"), "{done:?}");
    // Let the late copies land, then sync again: nothing changes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = world.sync().await;
    assert_eq!(again["applied"], 0, "{again}");
    assert_eq!(world.feed().await.len(), 3, "one event per payment");
    let summary = world.summary().await;
    assert_eq!(summary["succeeded"]["count"], 3, "{summary}");
    assert_eq!(summary["succeeded"]["amount_minor"], 450_000);
}

/// A callback that arrives after a query already settled the payment changes nothing but the
/// missing M-Pesa receipt number: same status, same receipt number, counted once.
async fn a_late_callback_after_a_query_changes_nothing(backend: Backend) {
    let world = World::start(backend).await;
    world.behaviour(json!({"callback_delay_ms": 4000})).await;
    let tx = number(&world.pay_mpesa(PAID, "1500").await);
    let settled = world.sync_until_final(std::slice::from_ref(&tx)).await;
    assert_eq!(settled[0]["status"], "succeeded");
    assert!(settled[0]["provider_receipt"].is_null(), "{}", settled[0]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.feed().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the callback never came"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = world.sync().await;
    assert_eq!(report["applied"], 0, "{report}");
    assert_eq!(report["unchanged"], 1, "{report}");
    let after = world.malipo(&["tx", "show", &tx]).await;
    assert_eq!(after["status"], "succeeded");
    assert_eq!(after["receipt_number"], settled[0]["receipt_number"]);
    assert!(
        after["provider_receipt"].is_string(),
        "the receipt is filled in: {after}"
    );
    assert_eq!(world.summary().await["succeeded"]["count"], 1);
}

/// One callback in ten lost on the way: every payment still ends right, by asking M-Pesa.
async fn dropped_callbacks_are_reconciled(backend: Backend) {
    let world = World::start(backend).await;
    world.behaviour(json!({"drop_percent": 10})).await;
    let mut numbers = Vec::new();
    for i in 0..20 {
        let phone = if i % 4 == 3 { "254700000032" } else { PAID };
        numbers.push(number(&world.pay_mpesa(phone, "1500").await));
    }
    let done = world.sync_until_final(&numbers).await;
    for (i, t) in done.iter().enumerate() {
        let want = if i % 4 == 3 { "cancelled" } else { "succeeded" };
        assert_eq!(t["status"], want, "{t}");
    }
    let feed = world.feed().await;
    assert_eq!(
        feed.len(),
        18,
        "exactly two of twenty callbacks were dropped"
    );
    let summary = world.summary().await;
    assert_eq!(summary["succeeded"]["count"], 15, "{summary}");
}

/// The office stops syncing while payments go on and the relay is killed and started again:
/// sync says the relay is unreachable meanwhile, afterwards catches up with every callback the
/// relay took, and settles the payment whose callback was lost while it was down by asking.
async fn relay_restart_and_an_offline_office_catch_up(backend: Backend) {
    let mut world = World::start(backend).await;
    let first = number(&world.pay_mpesa(PAID, "1500").await);
    world.sync_until_final(std::slice::from_ref(&first)).await;
    // The office stops syncing; payments go on; the relay dies and comes back in between.
    let mut numbers = Vec::new();
    for _ in 0..3 {
        numbers.push(number(&world.pay_mpesa(PAID, "1500").await));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.feed().await.len() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "callbacks did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    world.kill_relay().await;
    let offline = world
        .office()
        .args(["sync", "--once", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        !offline.status.success(),
        "sync without a relay fails, and says so"
    );
    assert!(
        String::from_utf8_lossy(&offline.stderr).contains("relay"),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    // A payment while the relay is down: Safaricom's callback finds nobody and is lost.
    let lost = number(&world.pay_mpesa(PAID, "1500").await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    world.start_relay().await;
    for _ in 0..2 {
        numbers.push(number(&world.pay_mpesa(PAID, "1500").await));
    }
    numbers.push(lost.clone());
    let done = world.sync_until_final(&numbers).await;
    assert!(done.iter().all(|t| t["status"] == "succeeded"), "{done:?}");
    let report = world.sync().await;
    assert_eq!(
        report["cursor"], 6,
        "every callback the relay took, once: {report}"
    );
    let summary = world.summary().await;
    assert_eq!(summary["succeeded"]["count"], 7, "{summary}");
    // The lost callback's payment was settled by asking M-Pesa, and the day's report says so.
    let reconciled = world
        .malipo(&["reconcile", "--date", &nairobi_day(&done[0])])
        .await;
    let listed = differences(&reconciled, "confirmed_by_query_only");
    assert_eq!(listed.len(), 1, "{reconciled}");
    assert_eq!(listed[0]["number"].as_str(), Some(lost.as_str()));
}

/// A long-running `malipo sync`: woken by the relay's stream, it applies a callback as soon as
/// it arrives, and pushes the result up to the company view.
async fn a_running_sync_applies_callbacks_as_they_come(backend: Backend) {
    let world = World::start(backend).await;
    let mut sync = world.office();
    sync.args(["sync", "--json"]).kill_on_drop(true);
    let mut running = sync.spawn().unwrap();
    // Its first round reports before the payment exists; after that only the relay's stream
    // can bring it round again within the test's deadline (its own period is 30 s).
    let mut rounds = tokio::io::BufReader::new(running.stdout.take().unwrap());
    let mut first = String::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        tokio::io::AsyncBufReadExt::read_line(&mut rounds, &mut first),
    )
    .await
    .expect("the first round reports")
    .unwrap();
    assert!(first.contains("\"cursor\""), "{first}");
    let tx = number(&world.pay_mpesa(PAID, "1500").await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let t = world.malipo(&["tx", "show", &tx]).await;
        if t["status"] == "succeeded" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not applied: {t}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The same round pushes the change up: the company view shows it paid.
    loop {
        let company = world.relay_get("/v1/summary").await;
        if company["succeeded"]["count"] == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay never heard it was paid: {company}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.kill().await.unwrap();
}

fn ok_json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A clerk asks for part of an M-Pesa payment back and all of a card payment; a clerk cannot
/// approve, a refund past what is left is refused, and once a manager approves, the M-Pesa
/// reversal result and Paystack's refund webhooks (through the relay) take both to processed
/// and the payments to partially refunded and refunded.
async fn refunds_go_from_request_to_their_final_state(backend: Backend) {
    let world = World::start(backend).await;
    world.add_user("admin", "admin").await;
    world.add_user("clerk", "clerk").await;
    world.add_user("manager", "manager").await;
    let mpesa = ok_json(
        &world
            .malipo_as(
                "clerk",
                &[
                    "pay", "mpesa", "--policy", "POL-1", "--phone", PAID, "--amount", "1500",
                ],
            )
            .await,
    );
    let card = ok_json(
        &world
            .malipo_as(
                "clerk",
                &[
                    "pay",
                    "card",
                    "--policy",
                    "POL-1",
                    "--email",
                    "amina@example.co.ke",
                    "--amount",
                    "1500",
                ],
            )
            .await,
    );
    let r = world
        .http
        .post(format!("{}/__sandbox/paystack/pay", world.sandbox_url))
        .json(&json!({"reference": card["reference"], "card": "4084084084084081"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    world
        .sync_until_final(&[number(&mpesa), number(&card)])
        .await;

    let request = |id: String, amount: &'static str| {
        let world = &world;
        async move {
            world
                .malipo_as(
                    "clerk",
                    &[
                        "refund",
                        "request",
                        &id,
                        "--amount",
                        amount,
                        "--reason",
                        "policy cancelled",
                    ],
                )
                .await
        }
    };
    let partial = ok_json(&request(number(&mpesa), "500").await);
    assert_eq!(partial["status"], "requested");
    let whole = ok_json(&request(number(&card), "1500").await);
    let too_much = request(number(&mpesa), "1000.01").await;
    assert!(!too_much.status.success(), "past what is left is refused");
    assert!(
        String::from_utf8_lossy(&too_much.stderr).contains("1,000.00"),
        "{}",
        String::from_utf8_lossy(&too_much.stderr)
    );
    let id = |v: &Value| v["id"].as_i64().unwrap().to_string();
    let by_clerk = world
        .malipo_as("clerk", &["refund", "approve", &id(&partial)])
        .await;
    assert!(!by_clerk.status.success(), "a clerk cannot approve");
    for r in [&partial, &whole] {
        let approved = ok_json(
            &world
                .malipo_as("manager", &["refund", "approve", &id(r)])
                .await,
        );
        assert!(
            matches!(
                approved["status"].as_str(),
                Some("processing" | "processed")
            ),
            "{approved}"
        );
        assert_eq!(approved["decided_by"], "manager");
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let list = world.malipo(&["refund", "list"]).await;
        let statuses: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        if statuses.iter().all(|s| *s == "processed") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let m = world.malipo(&["tx", "show", &number(&mpesa)]).await;
    assert_eq!(m["status"], "partially_refunded", "{m}");
    assert_eq!(m["refunded_minor"], 50_000);
    let c = world.malipo(&["tx", "show", &number(&card)]).await;
    assert_eq!(c["status"], "refunded", "{c}");
    assert_eq!(c["refunded_minor"], 150_000);
    // A payment refunded in full no longer prints as paid.
    let receipt = world
        .malipo_as(
            "clerk",
            &["receipt", &number(&card), "--out", "/tmp/never-written.pdf"],
        )
        .await;
    assert!(!receipt.status.success());
    assert!(
        String::from_utf8_lossy(&receipt.stderr).contains("refunded in full"),
        "{}",
        String::from_utf8_lossy(&receipt.stderr)
    );
    // Every refund webhook and the reversal result reached the office through the relay.
    let kinds: Vec<String> = world
        .feed()
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"reversal_result".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"refund.processed".to_owned()), "{kinds:?}");

    // Four eyes: a manager who asks for a refund cannot approve it; a rejection says why.
    let paid = number(&mpesa);
    let manager_asks = || async {
        ok_json(
            &world
                .malipo_as(
                    "manager",
                    &[
                        "refund", "request", &paid, "--amount", "100", "--reason", "overpaid",
                    ],
                )
                .await,
        )
    };
    let own = manager_asks().await;
    assert_eq!(own["policy"], "POL-1", "{own}");
    assert_eq!(own["holder"], "Amina Odhiambo", "{own}");
    let refused = world
        .malipo_as("manager", &["refund", "approve", &id(&own)])
        .await;
    assert_eq!(refused.status.code(), Some(5), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("another manager"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let unexplained = world
        .malipo_as("admin", &["refund", "reject", &id(&own), "--reason", " "])
        .await;
    assert_eq!(unexplained.status.code(), Some(2), "{unexplained:?}");
    let rejected = ok_json(
        &world
            .malipo_as(
                "admin",
                &["refund", "reject", &id(&own), "--reason", "paid once only"],
            )
            .await,
    );
    assert_eq!(rejected["status"], "rejected", "{rejected}");
    assert_eq!(rejected["decision_note"], "paid once only", "{rejected}");
    // A one-person office lets the one who asked approve, and the refund says so.
    ok_json(
        &world
            .malipo_as("admin", &["settings", "set", "refunds.self_approval", "on"])
            .await,
    );
    let again = manager_asks().await;
    let approved = ok_json(
        &world
            .malipo_as("manager", &["refund", "approve", &id(&again)])
            .await,
    );
    assert!(
        approved["decision_note"]
            .as_str()
            .is_some_and(|n| n.contains("one-person office")),
        "{approved}"
    );
}

/// One company, two offices: a payment taken at one reaches the other's sync as another
/// office's event and changes nothing there; a callback that matches no payment anywhere is
/// kept as an orphan until a manager resolves it.
async fn other_offices_events_and_orphans_change_nothing_here(backend: Backend) {
    let world = World::start(backend).await;
    let nairobi = world.second_office().await;
    let tx = number(&world.pay_mpesa(PAID, "1500").await);
    world.sync_until_final(std::slice::from_ref(&tx)).await;
    // A callback nobody asked for.
    let stray = json!({"Body": {"stkCallback": {"MerchantRequestID": "1",
        "CheckoutRequestID": "ws_CO_nobody_asked", "ResultCode": 1032, "ResultDesc": "x"}}});
    let r = world
        .http
        .post(&world.daraja_url)
        .json(&stray)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let mut sync = world.office_at("nairobi", &nairobi);
    sync.args(["sync", "--once", "--json"]);
    let report = json_out(sync).await;
    assert_eq!(report["other_office"], 1, "{report}");
    assert_eq!(report["orphans"], 1, "{report}");
    assert_eq!(report["applied"], 0, "{report}");
    let mut list = world.office_at("nairobi", &nairobi);
    list.args(["tx", "list", "--json"]);
    assert_eq!(
        json_out(list).await["total"],
        0,
        "nothing changes at Nairobi"
    );

    // The first office sees the stray callback as an orphan too; a manager resolves it.
    let report = world.sync().await;
    assert_eq!(report["orphans"], 1, "{report}");
    let orphans = world.malipo(&["orphans", "list"]).await;
    let seq = orphans["items"][0]["seq"].as_i64().unwrap().to_string();
    assert!(
        orphans["items"][0]["note"]
            .as_str()
            .unwrap()
            .contains("ws_CO_nobody_asked"),
        "{orphans}"
    );
    world
        .malipo(&[
            "orphans",
            "resolve",
            &seq,
            "--note",
            "test prompt from the portal",
        ])
        .await;
    assert_eq!(world.malipo(&["orphans", "list"]).await["total"], 0);
    let all = world.malipo(&["orphans", "list", "--all"]).await;
    assert_eq!(all["items"][0]["resolution"], "test prompt from the portal");
}

fn pdf_text(path: &std::path::Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn scan_qr(pdf: &std::path::Path) -> String {
    let png = pdf.with_extension("");
    let raster = std::process::Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-singlefile"])
        .arg(pdf)
        .arg(&png)
        .status()
        .unwrap();
    assert!(raster.success());
    let out = std::process::Command::new("zbarimg")
        .args(["-q", "--raw"])
        .arg(png.with_extension("png"))
        .output()
        .unwrap();
    assert!(out.status.success(), "no QR code found");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A fake `lp` (and `xdg-open`) in a directory put first on PATH: they record how they were
/// called, so the test sees exactly what the system's print command would have been given.
fn fake_print_system(dir: &std::path::Path, lp_works: bool) -> String {
    let log = dir.join("calls.log");
    let lp = if lp_works {
        format!(
            "#!/bin/sh\necho \"lp $*\" >> {}\necho 'request id is Counter-7 (1 file(s))'\n",
            log.display()
        )
    } else {
        "#!/bin/sh\necho 'lp: Error - no default destination available.' >&2\nexit 1\n".to_owned()
    };
    let open = format!("#!/bin/sh\necho \"xdg-open $*\" >> {}\n", log.display());
    for (name, body) in [("lp", lp), ("xdg-open", open)] {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Receipts from the CLI: every field readable, the QR code scans to a link the relay confirms
/// (and refuses when altered), a reprint says COPY, an unpaid payment has no receipt, a day's
/// receipts make one file, and printing goes through `lp` or falls back to opening the PDF.
async fn receipts_print_and_verify(backend: Backend) {
    let world = World::start(backend).await;
    for (k, v) in [
        ("office.name", "Jubilee Insurance, Moi Avenue"),
        ("office.address", "Jubilee House, Moi Avenue, Nairobi"),
        ("office.phone", "+254 20 328 1000"),
        ("office.kra_pin", "P051234567X"),
        ("printer.name", "Counter"),
    ] {
        world.malipo(&["settings", "set", k, v]).await;
    }
    let paid = number(&world.pay_mpesa(PAID, "1500").await);
    let cancelled = number(&world.pay_mpesa("254700000032", "1500").await);
    let done = world
        .sync_until_final(&[paid.clone(), cancelled.clone()])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let first_path = dir.path().join("first.pdf");
    let first = world
        .malipo(&[
            "receipt",
            &paid,
            "--out",
            first_path.to_str().unwrap(),
            "--format",
            "80mm",
        ])
        .await;
    assert_eq!(first["copy"], false, "{first}");
    let text = pdf_text(&first_path);
    for field in [
        "Jubilee Insurance, Moi Avenue",
        "KRA PIN: P051234567X",
        done[0]["receipt_number"].as_str().unwrap(),
        &paid,
        "POL-1",
        "Amina Odhiambo",
        "KES 1,500.00",
        "One thousand five hundred Kenya shillings only",
        done[0]["provider_receipt"].as_str().unwrap(),
    ] {
        assert!(text.contains(field), "{field:?} missing: {text}");
    }
    assert!(!text.contains("COPY"));
    let link = scan_qr(&first_path);
    assert_eq!(link, first["verify_url"].as_str().unwrap());
    let page = world.http.get(&link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Genuine receipt") && page.contains("KES 1,500.00"),
        "{page}"
    );
    let forged = link.replace("/150000KES/", "/1500000KES/");
    assert_eq!(
        world
            .http
            .get(&forged)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );

    let again_path = dir.path().join("again.pdf");
    let again = world
        .malipo(&["receipt", &paid, "--out", again_path.to_str().unwrap()])
        .await;
    assert_eq!(again["copy"], true);
    assert!(pdf_text(&again_path).contains("OFFICIAL RECEIPT - COPY"));

    let refused = world
        .office()
        .args(["receipt", &cancelled, "--out"])
        .arg(dir.path().join("no.pdf"))
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("only a paid payment has a receipt"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!dir.path().join("no.pdf").exists(), "nothing written");

    let day_path = dir.path().join("day.pdf");
    world
        .malipo(&[
            "receipts",
            "--date",
            &nairobi_day(&done[0]),
            "--out",
            day_path.to_str().unwrap(),
        ])
        .await;
    let day = pdf_text(&day_path);
    assert!(
        day.contains(done[0]["receipt_number"].as_str().unwrap()),
        "{day}"
    );

    // Printing: to the configured printer through lp; without a working lp, opened instead.
    let bin_dir = tempfile::tempdir().unwrap();
    let mut print = world.office();
    print
        .args(["receipt", &paid, "--print", "--json"])
        .env("PATH", fake_print_system(bin_dir.path(), true));
    let printed = json_out(print).await;
    assert_eq!(printed["printed"]["how"], "printed", "{printed}");
    assert_eq!(printed["printed"]["via"], "Counter");
    let calls = std::fs::read_to_string(bin_dir.path().join("calls.log")).unwrap();
    assert!(
        calls.starts_with("lp -d Counter ") && calls.trim_end().ends_with(".pdf"),
        "{calls}"
    );
    let no_cups = tempfile::tempdir().unwrap();
    let mut open = world.office();
    open.args(["receipt", &paid, "--print", "--json"])
        .env("PATH", fake_print_system(no_cups.path(), false));
    let opened = json_out(open).await;
    assert_eq!(opened["printed"]["how"], "opened", "{opened}");
    let calls = std::fs::read_to_string(no_cups.path().join("calls.log")).unwrap();
    assert!(calls.starts_with("xdg-open "), "{calls}");
    // Four receipts made: the original and three copies, each in the audit log.
    let log = world
        .malipo(&["audit", "--entity", "transaction", "--id", &paid])
        .await;
    let prints = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "receipt.print")
        .count();
    assert_eq!(prints, 4, "{log}");
}

/// The customer's first paper receipt is the original unless an original really left: an
/// e-mail receipt skipped because e-mail is not set up does not count. Each receipt saved in
/// the office's folder is a file of its own: a copy never overwrites the original.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_paper_receipt_is_the_original_when_the_email_was_skipped() {
    let world = World::start(Backend::Sqlite).await;
    world
        .malipo(&["settings", "set", "messages.quiet_hours", "off"])
        .await;
    world
        .malipo(&[
            "policy",
            "add",
            "--number",
            "ORG-1",
            "--holder",
            "Amina Odhiambo",
            "--phone",
            "0722000333",
            "--email",
            "amina@example.co.ke",
            "--premium",
            "1500",
        ])
        .await;
    let paid = world
        .malipo(&[
            "pay", "mpesa", "--policy", "ORG-1", "--phone", PAID, "--amount", "1500", "--wait",
            "30",
        ])
        .await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    // E-mail is not set up in this office: the e-mail receipt is skipped.
    world.malipo(&["messages", "send-due"]).await;
    let listed = world
        .malipo(&["messages", "list", "--policy", "ORG-1"])
        .await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["channel"] == "email" && m["status"] == "skipped"),
        "{listed}"
    );

    let bin_dir = tempfile::tempdir().unwrap();
    let print = || {
        let mut c = world.office();
        c.args([
            "receipt",
            paid["number"].as_str().unwrap(),
            "--print",
            "--json",
        ])
        .env("PATH", fake_print_system(bin_dir.path(), true));
        json_out(c)
    };
    let first = print().await;
    assert_eq!(first["copy"], false, "the first paper one: {first}");
    let original = std::path::PathBuf::from(first["file"].as_str().unwrap());
    assert!(!pdf_text(&original).contains("COPY"));
    let original_bytes = std::fs::read(&original).unwrap();
    let second = print().await;
    assert_eq!(second["copy"], true, "{second}");
    let copy = std::path::PathBuf::from(second["file"].as_str().unwrap());
    assert_ne!(copy, original, "a copy has a file of its own");
    assert!(pdf_text(&copy).contains("OFFICIAL RECEIPT - COPY"));
    assert_eq!(
        std::fs::read(&original).unwrap(),
        original_bytes,
        "the original is untouched"
    );
    let third = print().await;
    assert_ne!(third["file"], second["file"], "{third}");
}

/// The body of a success callback for `checkout`, as Safaricom shapes it, claiming `amount`
/// shillings from `phone` with M-Pesa receipt `receipt`.
fn success_callback(checkout: &str, amount: i64, phone: &str, receipt: &str) -> String {
    let mut body: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/providers/tests/fixtures/daraja_stk_callback_success.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let cb = &mut body["Body"]["stkCallback"];
    cb["CheckoutRequestID"] = json!(checkout);
    let items = cb["CallbackMetadata"]["Item"].as_array_mut().unwrap();
    items[0]["Value"] = json!(amount);
    items[1]["Value"] = json!(receipt);
    items[3]["Value"] = json!(phone.parse::<u64>().unwrap());
    body.to_string()
}

/// Anyone who learns the callback URL can post "paid": the claim waits for Safaricom's word,
/// and the customer's real cancellation, when it comes, is what the payment ends as. The forged
/// body is its own event at the relay (it cannot shadow the genuine one) and is kept for a
/// manager.
async fn a_forged_success_callback_never_pays(backend: Backend) {
    let world = World::start(backend).await;
    world.behaviour(json!({"customer_delay_ms": 3000})).await;
    let tx = world.pay_mpesa("254700000032", "1500").await;
    let checkout = tx["provider_ref"].as_str().unwrap().to_owned();
    let forged = success_callback(&checkout, 1500, "254700000032", "FAKE123456");
    let posted = world
        .http
        .post(&world.daraja_url)
        .header("content-type", "application/json")
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(
        posted.status(),
        200,
        "the relay stores every well-formed claim"
    );
    let report = world.sync().await;
    assert_eq!(report["held"], 1, "Safaricom is still processing: {report}");
    let waiting = world.malipo(&["tx", "show", &number(&tx)]).await;
    assert_eq!(waiting["status"], "awaiting_customer", "{waiting}");
    assert!(waiting["provider_receipt"].is_null());

    let done = world.sync_until_final(&[number(&tx)]).await;
    assert_eq!(done[0]["status"], "cancelled", "{}", done[0]);
    assert!(done[0]["provider_receipt"].is_null(), "{}", done[0]);
    assert!(done[0]["receipt_number"].is_null(), "{}", done[0]);
    // The payment may have ended (by a query) in the round that held the forged claim again;
    // the next round decides the claim against the ended payment.
    world.sync().await;
    // The forged body and the genuine one are two events about one CheckoutRequestID.
    let feed = world.feed().await;
    assert_eq!(feed.len(), 2, "{feed:?}");
    assert_ne!(feed[0]["dedup_key"], feed[1]["dedup_key"]);
    world.add_user("admin", "admin").await;
    let review = world.malipo_as("admin", &["orphans", "list"]).await;
    assert!(
        review.status.success(),
        "{}",
        String::from_utf8_lossy(&review.stderr)
    );
    let review: Value = serde_json::from_slice(&review.stdout).unwrap();
    let suspect = &review["items"][0];
    assert_eq!(suspect["outcome"], "suspect", "{review}");
    assert!(
        suspect["note"].as_str().unwrap().contains("not genuine"),
        "{suspect}"
    );
    assert_eq!(world.summary().await["succeeded"]["count"], 0);
}

/// An office with many payments the relay has not seen (it was offline, or new to sync): its
/// first round sends them all in uploads below the relay's body limit and, in the same round,
/// applies a callback that waits at the relay.
async fn a_backlog_of_payments_syncs_in_one_round_with_the_callbacks(backend: Backend) {
    let world = World::start(backend).await;
    let paid = world.pay_mpesa(PAID, "1500").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.feed().await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no callback");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    world.seed_payments("office", "HQ", 150).await;
    let report = world.sync().await;
    // 151 payments, and the one this round's callback paid sent again as paid.
    assert_eq!(report["uploaded"], 152, "{report}");
    assert_eq!(report["applied"], 1, "{report}");
    assert_eq!(report["problems"], json!([]), "{report}");
    let after = world.malipo(&["tx", "show", &number(&paid)]).await;
    assert_eq!(after["status"], "succeeded", "{after}");
    let company = world.relay_get("/v1/summary").await;
    assert_eq!(company["all"]["count"], 151, "{company}");

    // An office joining sync with ten thousand payments of its history.
    let token = world.second_office().await;
    let mut add = world.office_at("nairobi", &token);
    add.args([
        "policy",
        "add",
        "--number",
        "POL-1",
        "--holder",
        "Amina Odhiambo",
        "--phone",
        "0722000111",
        "--premium",
        "1500",
        "--json",
    ]);
    json_out(add).await;
    world.seed_payments("nairobi", "NBI", 10_000).await;
    let mut first = world.office_at("nairobi", &token);
    first.args(["sync", "--once", "--json"]);
    let report = json_out(first).await;
    assert_eq!(report["uploaded"], 10_000, "{report}");
    let company = world.relay_get("/v1/summary").await;
    assert_eq!(company["all"]["count"], 10_151, "{company}");
}

/// A webhook for a charge Paystack does not know, and an M-Pesa callback naming a card
/// payment: each is kept for a manager and changes nothing, and the events after them are
/// applied in the same round.
async fn claims_no_provider_confirms_are_kept_and_the_inbox_moves_on(backend: Backend) {
    let world = World::start(backend).await;
    let card = world
        .seed_card_payment("GHOSTREF0001", "amina@example.co.ke")
        .await;
    let mut webhook: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/providers/tests/fixtures/paystack_webhook_charge_success.json"
        ))
        .unwrap(),
    )
    .unwrap();
    webhook["data"]["reference"] = json!("GHOSTREF0001");
    webhook["data"]["amount"] = json!(150_000);
    webhook["data"]["currency"] = json!("KES");
    let body = webhook.to_string();
    let posted = world
        .http
        .post(format!(
            "http://127.0.0.1:{}/hooks/p/{}",
            world.relay_port, world.tenant
        ))
        .header(
            "x-paystack-signature",
            sign(PAYSTACK_SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let callback = success_callback("GHOSTREF0001", 1500, PAID, "QWERTY1234");
    let posted = world
        .http
        .post(&world.daraja_url)
        .body(callback)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let paid = world.pay_mpesa(PAID, "1500").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.feed().await.len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "no callback");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = world.sync().await;
    assert_eq!(report["suspect"], 2, "{report}");
    assert_eq!(
        report["applied"], 1,
        "the genuine payment after them: {report}"
    );
    // Never paid on the webhook's word (the round's own asking may find Paystack has no such
    // charge and end it as failed).
    let ghost = world.malipo(&["tx", "show", &card]).await;
    assert!(
        matches!(
            ghost["status"].as_str(),
            Some("awaiting_customer" | "failed")
        ),
        "{ghost}"
    );
    assert!(ghost["provider_receipt"].is_null() && ghost["receipt_number"].is_null());
    let after = world.malipo(&["tx", "show", &number(&paid)]).await;
    assert_eq!(after["status"], "succeeded", "{after}");
}

/// An M-Pesa reversal whose answer never reached the office is not sent again, and its result,
/// which names the payment reversed, still settles the refund through the relay.
async fn a_reversal_whose_answer_was_lost_is_settled_by_its_result(backend: Backend) {
    let world = World::start(backend).await;
    let paid = world.pay_mpesa(PAID, "1500").await;
    world.add_user("admin", "admin").await;
    world.add_user("manager", "manager").await;
    let done = world.sync_until_final(&[number(&paid)]).await;
    assert_eq!(done[0]["status"], "succeeded");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.malipo(&["tx", "show", &number(&paid)]).await["provider_receipt"].is_null() {
        assert!(tokio::time::Instant::now() < deadline, "no receipt number");
        world.sync().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refund = ok_json(
        &world
            .malipo_as(
                "admin",
                &[
                    "refund",
                    "request",
                    &number(&paid),
                    "--amount",
                    "500",
                    "--reason",
                    "overpaid",
                ],
            )
            .await,
    );
    let id = refund["id"].to_string();
    world.behaviour(json!({"lose_next_answers": 1})).await;
    let lost = world
        .malipo_as("manager", &["refund", "approve", &id])
        .await;
    assert_eq!(
        lost.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&lost.stderr)
    );
    let again = world
        .malipo_as("manager", &["refund", "approve", &id])
        .await;
    assert_eq!(
        again.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let list = ok_json(&world.malipo_as("manager", &["refund", "list"]).await);
        let r = &list["items"][0];
        if r["status"] == "processed" {
            assert!(r["provider_ref"].is_string(), "{r}");
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let review = world
                .malipo_as("manager", &["orphans", "list", "--all"])
                .await;
            panic!("{list}\n{}", String::from_utf8_lossy(&review.stdout));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let stats: Value = world
        .http
        .get(format!("{}/__sandbox/stats", world.sandbox_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["reversals"], 1, "one reversal sent: {stats}");
    let after = world.malipo(&["tx", "show", &number(&paid)]).await;
    assert_eq!(after["status"], "partially_refunded", "{after}");
}

/// `malipo doctor --json` in this world, with `env` changed: whether it exited 0, and the
/// report.
async fn doctor(world: &World, env: &[(&str, Option<&str>)]) -> (bool, Value) {
    let mut c = world.office();
    c.args(["doctor", "--json"]);
    for (name, value) in env {
        match value {
            Some(v) => c.env(name, v),
            None => c.env_remove(name),
        };
    }
    let out = c.output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for secret in [
        "sandbox-consumer-secret",
        "wrong-consumer-secret",
        "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
        PAYSTACK_SECRET,
        world.device_token.as_str(),
        world.daraja_url.rsplit('/').next().unwrap(),
    ] {
        assert!(!text.contains(secret), "a secret in the report: {text}");
    }
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON: {e}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

/// The one check that failed, which must be `name` and say `says`; its message.
fn only_failure(ok: bool, report: &Value, what: &str, name: &str, says: &str) -> String {
    assert!(!ok, "{what}: the doctor exits non-zero");
    let failed = checks_with(report, "fail");
    assert_eq!(failed.len(), 1, "{what}: only {name} fails: {failed:?}");
    assert_eq!(failed[0].0, name, "{what}: {failed:?}");
    assert!(failed[0].1.contains(says), "{what}: {}", failed[0].1);
    failed[0].1.clone()
}

fn checks_with(report: &Value, status: &str) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == status)
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `malipo doctor` against the simulator and a real relay: a correct set-up passes, and each
/// classic mistake fails the one check that names it, with its own message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_passes_a_correct_set_up_and_names_each_mistake() {
    let mut world = World::start(Backend::Sqlite).await;
    world.sync().await;
    let (ok, report) = doctor(&world, &[]).await;
    assert!(ok, "a correct set-up passes: {report:#}");
    assert_eq!(checks_with(&report, "fail"), vec![], "{report:#}");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in [
        "mpesa.credentials",
        "mpesa.passkey",
        "mpesa.shortcode",
        "mpesa.callback_url",
        "mpesa.certificate",
        "paystack.key",
        "paystack.webhook",
        "relay.reachable",
        "relay.token",
        "relay.clock",
        "relay.sync",
        "office.secret_store",
        "office.data_dir",
        "office.printer",
        "office.disk",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    for c in report["checks"].as_array().unwrap() {
        assert!(
            ["pass", "warn", "fail"].contains(&c["status"].as_str().unwrap()),
            "{c}"
        );
        assert!(!c["message"].as_str().unwrap().is_empty(), "{c}");
    }

    let token_path = world.daraja_url.split_once("/hooks/").unwrap().1;
    let http_url = format!("http://relay.example.co.ke/hooks/{token_path}");
    let mpesa_url = "https://relay.example.co.ke/mpesa/callback";
    type Env<'a> = Vec<(&'a str, Option<&'a str>)>;
    let mistakes: [(&str, Env, &str, &str); 4] = [
        (
            "a wrong consumer secret",
            vec![(
                "MALIPO_MPESA_CONSUMER_SECRET",
                Some("wrong-consumer-secret"),
            )],
            "mpesa.credentials",
            "refused the consumer key and secret",
        ),
        (
            "an http:// callback URL",
            vec![("MALIPO_MPESA_CALLBACK_URL", Some(&http_url))],
            "mpesa.callback_url",
            "only posts to https://",
        ),
        (
            "a URL containing mpesa",
            vec![("MALIPO_MPESA_CALLBACK_URL", Some(mpesa_url))],
            "mpesa.callback_url",
            "contains \"mpesa\"",
        ),
        (
            "a till without its till number",
            vec![
                ("MALIPO_MPESA_TYPE", Some("till")),
                ("MALIPO_MPESA_TILL", None),
            ],
            "mpesa.shortcode",
            "without its till number",
        ),
    ];
    let mut messages = Vec::new();
    for (what, env, check, says) in &mistakes {
        let (ok, report) = doctor(&world, env).await;
        messages.push(only_failure(ok, &report, what, check, says));
    }

    // A revoked device token.
    let revoked = json_out({
        let mut c = Command::new(bin("malipo-relay"));
        c.args(["device", "revoke", &world.device_id])
            .env("MALIPO_RELAY_DATABASE_URL", &world.relay_db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    })
    .await;
    assert_eq!(revoked["revoked"], true);
    let (ok, report) = doctor(&world, &[]).await;
    messages.push(only_failure(
        ok,
        &report,
        "a revoked token",
        "relay.token",
        "refused this office's device token",
    ));

    // A relay that is down.
    world.kill_relay().await;
    let (ok, report) = doctor(&world, &[]).await;
    messages.push(only_failure(
        ok,
        &report,
        "a relay that is down",
        "relay.reachable",
        "cannot reach the relay",
    ));

    let mut distinct = messages.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        messages.len(),
        "each mistake has its own message: {messages:#?}"
    );
}

/// `malipo ARGS --json` at the counter whose data is in `name`; its JSON output.
async fn at(world: &World, name: &str, token: &str, args: &[&str]) -> Value {
    let mut c = world.office_at(name, token);
    c.args(args).arg("--json");
    json_out(c).await
}

/// A device of the world's company, as `malipo-relay device add` prints it.
async fn add_counter(world: &World, name: &str, counter: Option<&str>) -> std::process::Output {
    let mut c = Command::new(bin("malipo-relay"));
    c.args(["device", "add", "--tenant", &world.tenant, "--name", name])
        .env("MALIPO_RELAY_DATABASE_URL", &world.relay_db)
        .env("MALIPO_RELAY_SECRET_KEY", SEALING_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(code) = counter {
        c.args(["--counter", code]);
    }
    c.output().await.unwrap()
}

/// One company as real processes: a relay and three counters, two in the Nairobi branch and
/// one in Mombasa. Policies imported once reach all three (the one offline during an import
/// catches up); the same policy paid at two counters at the same moment allocates alike on all
/// three; no two counters share a number; the company view is the sum of the counters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_counters_of_one_company_share_policies_and_never_a_number() {
    let world = World::start(Backend::Sqlite).await;
    let one = world.device_token.clone();
    at(
        &world,
        "office",
        &one,
        &["settings", "set", "office.code", "NBI"],
    )
    .await;
    let added = add_counter(&world, "Moi Avenue 2", None).await;
    assert!(added.status.success());
    let two: Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!(two["counter"], "2");
    let two = two["token"].as_str().unwrap().to_owned();
    let added = add_counter(&world, "Mombasa", Some("3")).await;
    let three: Value = serde_json::from_slice(&added.stdout).unwrap();
    let three = three["token"].as_str().unwrap().to_owned();
    let refused = add_counter(&world, "Another", Some("2")).await;
    assert!(
        !refused.status.success(),
        "a counter code already taken is refused"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("counter 2 is taken"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    at(
        &world,
        "b",
        &two,
        &["settings", "set", "office.code", "NBI"],
    )
    .await;
    at(
        &world,
        "c",
        &three,
        &["settings", "set", "office.code", "MSA"],
    )
    .await;

    // Imported once, at the first counter; the Mombasa counter is not syncing.
    let csv = world.dir.path().join("register.csv");
    std::fs::write(
        &csv,
        "policy_number,holder_name,phone,email,premium,frequency,instalments,start_date\n\
         POL-100,Amina Wanjiru,0712 345 678,amina@example.co.ke,\"1,500\",monthly,12,01/07/2026\n\
         POL-200,Otieno Odhiambo,0722 000 111,,\"2,750\",monthly,12,15/08/2026\n",
    )
    .unwrap();
    let imported = at(
        &world,
        "office",
        &one,
        &["policy", "import", csv.to_str().unwrap()],
    )
    .await;
    assert_eq!(
        imported["added"],
        json!(["POL-100", "POL-200"]),
        "{imported}"
    );
    assert_eq!(
        imported["register"], "sent to the company register",
        "{imported}"
    );
    at(&world, "b", &two, &["sync", "--once"]).await;
    // And once more on the relay itself, from the core system's newer export.
    std::fs::write(
        &csv,
        "policy_number,holder_name,phone,email,premium,status\n\
         POL-200,Otieno Odhiambo,0722 000 111,,\"3,000\",\n\
         POL-300,Chebet Kiprono,0110 123 456,,\"12,000\",\n",
    )
    .unwrap();
    let on_relay = {
        let mut c = Command::new(bin("malipo-relay"));
        c.args([
            "policies",
            "import",
            "--tenant",
            &world.tenant,
            csv.to_str().unwrap(),
        ])
        .env("MALIPO_RELAY_DATABASE_URL", &world.relay_db)
        .env("MALIPO_RELAY_SECRET_KEY", SEALING_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        json_out(c).await
    };
    assert_eq!(on_relay["added"], json!(["POL-300"]), "{on_relay}");
    assert_eq!(on_relay["updated"], json!(["POL-200"]), "{on_relay}");
    for (name, token) in [("office", &one), ("b", &two), ("c", &three)] {
        at(&world, name, token, &["sync", "--once"]).await;
        let list = at(&world, name, token, &["policy", "list", "--search", "POL-"]).await;
        let held: Vec<(String, i64)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["number"].as_str().unwrap().to_owned(),
                    p["premium_minor"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            held,
            [
                ("POL-1".to_owned(), 150_000),
                ("POL-100".to_owned(), 150_000),
                ("POL-200".to_owned(), 300_000),
                ("POL-300".to_owned(), 1_200_000)
            ],
            "{name} holds the register, the policy added at the first counter too"
        );
    }

    // The same policy paid at the two Nairobi counters at the same moment.
    let pay = |name: &'static str, token: String| {
        let mut c = world.office_at(name, &token);
        c.args([
            "pay", "mpesa", "--policy", "POL-100", "--phone", PAID, "--amount", "1500", "--wait",
            "60", "--json",
        ]);
        c.output()
    };
    let (a, b) = tokio::join!(pay("office", one.clone()), pay("b", two.clone()));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let (a, b): (Value, Value) = (
        serde_json::from_slice(&a.stdout).unwrap(),
        serde_json::from_slice(&b.stdout).unwrap(),
    );
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("succeeded"), Some("succeeded"))
    );
    let msa = at(
        &world,
        "c",
        &three,
        &[
            "pay", "mpesa", "--policy", "POL-300", "--phone", PAID, "--amount", "12000", "--wait",
            "60",
        ],
    )
    .await;
    assert_eq!(msa["status"], "succeeded", "{msa}");
    let numbers = [&a, &b, &msa].map(|t| t["number"].as_str().unwrap().to_owned());
    assert_eq!(numbers, ["NBI-1-000001", "NBI-2-000001", "MSA-3-000001"]);
    let receipts = [&a, &b, &msa].map(|t| t["receipt_number"].as_str().unwrap().to_owned());
    assert_eq!(
        receipts,
        ["NBI-1-R000001", "NBI-2-R000001", "MSA-3-R000001"]
    );

    // Two rounds: the second brings each counter what the others sent in the first.
    for _ in 0..2 {
        for (name, token) in [("office", &one), ("b", &two), ("c", &three)] {
            let report = at(&world, name, token, &["sync", "--once"]).await;
            assert_eq!(report["problems"], json!([]), "{name}: {report}");
        }
    }
    let mut schedules = Vec::new();
    let mut collected = 0;
    for (name, token) in [("office", &one), ("b", &two), ("c", &three)] {
        let s = at(
            &world,
            name,
            token,
            &["schedule", "list", "--policy", "POL-100"],
        )
        .await;
        let lines: Vec<(i64, i64, String)> = s["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["seq"].as_i64().unwrap(),
                    i["paid_minor"].as_i64().unwrap(),
                    i["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        schedules.push(lines);
        let own = at(&world, name, token, &["summary"]).await;
        collected += own["collected"]["amount_minor"].as_i64().unwrap();
        let listed = at(&world, name, token, &["tx", "list", "--company"]).await;
        assert_eq!(
            listed["total"], 3,
            "{name} sees the company's payments: {listed}"
        );
    }
    assert_eq!(schedules[0], schedules[1], "counter 1 and 2 agree");
    assert_eq!(schedules[0], schedules[2], "Nairobi and Mombasa agree");
    assert_eq!(
        schedules[0].iter().map(|(_, paid, _)| paid).sum::<i64>(),
        300_000,
        "both payments count, once each"
    );
    let company = at(&world, "c", &three, &["summary", "--company"]).await;
    assert_eq!(company["succeeded"]["amount_minor"], collected, "{company}");
    assert_eq!(collected, 1_500_000);
    let counters: Vec<&str> = company["by_counter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(counters, ["MSA-3", "NBI-1", "NBI-2"]);
    let nairobi = at(
        &world,
        "c",
        &three,
        &["summary", "--company", "--branch", "NBI"],
    )
    .await;
    assert_eq!(nairobi["succeeded"]["amount_minor"], 300_000);
    // Another counter's payment, opened read-only by its number.
    let elsewhere = at(&world, "c", &three, &["tx", "show", "NBI-2-000001"]).await;
    assert_eq!(
        (
            elsewhere["elsewhere"].as_bool(),
            elsewhere["policy"].as_str()
        ),
        (Some(true), Some("POL-100"))
    );
    assert_eq!(
        elsewhere["phone"],
        Value::Null,
        "no customer data travels with it"
    );
}

/// A customer pays the bill in the simulator; what became of it.
async fn pay_bill(world: &World, account: &str, amount: i64, name: &str) -> Value {
    world
        .http
        .post(format!("{}/__sandbox/c2b/pay", world.sandbox_url))
        .json(&json!({
            "account": account, "amount": amount, "msisdn": "254712345678",
            "first_name": name, "last_name": "Kamau",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Syncs until `done` holds of what `args` prints (30 s at most).
async fn sync_until(world: &World, args: &[&str], done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let now = world.malipo(args).await;
        if done(&now) {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{args:?} still shows {now} after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Paybill from end to end: URLs registered with the simulator; a messy account validated,
/// confirmed, proven with Transaction Status, allocated to the oldest instalment and receipted;
/// an unknown account refused at validation, and put on the suspense list when validation is
/// off, then allocated by a manager; a replayed or re-sent confirmation counted once; a forged
/// one never a payment; a code typed at the counter recorded once.
async fn paybill_payments_are_proven_allocated_and_counted_once(backend: Backend) {
    let world = World::start(backend).await;
    world
        .malipo(&[
            "policy",
            "add",
            "--number",
            "MTR-2291",
            "--holder",
            "Wanjiru Kamau",
            "--phone",
            "0712345678",
            "--premium",
            "1500",
        ])
        .await;
    world.sync().await;
    let registered = world.malipo(&["mpesa", "register-urls"]).await;
    assert_eq!(registered["version"], "v2", "{registered}");
    assert!(
        !registered["confirmation_url"]
            .as_str()
            .unwrap()
            .contains(world.c2b_urls.1.rsplit('/').next().unwrap()),
        "the URL's secret token is not printed: {registered}"
    );
    world.behaviour(json!({"c2b_validation": true})).await;

    let paid = pay_bill(&world, " mtr 2291", 2000, "Wanjiru").await;
    assert_eq!(paid["outcome"], "completed", "{paid}");
    assert_eq!(paid["validation"]["ResultCode"], "0", "{paid}");
    let code = paid["trans_id"].as_str().unwrap().to_owned();
    let refused = pay_bill(&world, "NOBODY-9", 700, "Otieno").await;
    assert_eq!(refused["outcome"], "cancelled", "{refused}");
    assert_eq!(refused["validation"]["ResultCode"], "C2B00012", "{refused}");

    let list = sync_until(&world, &["paybill", "list"], |l| l["total"] == 1).await;
    let tx = &list["items"][0];
    assert_eq!(tx["method"], "paybill", "{tx}");
    assert_eq!(tx["status"], "succeeded", "{tx}");
    assert_eq!(tx["policy"], "MTR-2291", "{tx}");
    assert_eq!(tx["amount_minor"], 200_000, "{tx}");
    assert_eq!(tx["provider_receipt"], code.as_str(), "{tx}");
    assert_eq!(tx["payer"], "Wanjiru Kamau", "{tx}");
    assert!(tx["phone"].as_str().unwrap().contains('*'), "masked: {tx}");
    assert!(tx["receipt_number"].is_string(), "receipted: {tx}");
    let pdf = world.dir.path().join("paybill-receipt.pdf");
    world
        .malipo(&[
            "receipt",
            tx["number"].as_str().unwrap(),
            "--out",
            pdf.to_str().unwrap(),
        ])
        .await;
    let text = pdf_text(&pdf);
    assert!(text.contains("M-Pesa Pay Bill, code"), "{text}");
    assert!(text.contains(&code), "{text}");
    let policy = world.malipo(&["policy", "show", "MTR-2291"]).await;
    let lines = policy["instalments"].as_array().unwrap();
    assert_eq!(lines[0]["status"], "paid", "{policy}");
    assert_eq!(
        lines[1]["paid_minor"], 50_000,
        "the rest part-pays February: {policy}"
    );

    // The confirmation again: replayed byte for byte, and re-sent with other bytes.
    let body = json!({
        "TransactionType": "Pay Bill", "TransID": code, "TransTime": "20260101120000",
        "TransAmount": "2000.00", "BusinessShortCode": "174379", "BillRefNumber": " mtr 2291",
        "MSISDN": "2547 ***** 678", "FirstName": "Wanjiru", "LastName": "Kamau",
    });
    for text in [body.to_string(), format!(" {body}")] {
        let r = world
            .http
            .post(&world.c2b_urls.1)
            .body(text)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // A forged confirmation for a code M-Pesa never issued.
    let mut forged = body.clone();
    forged["TransID"] = json!("RKX9999999");
    forged["TransAmount"] = json!("5000.00");
    let r = world
        .http
        .post(&world.c2b_urls.1)
        .body(forged.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the relay keeps every well-formed claim");
    world.add_user("admin", "admin").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let review = ok_json(&world.malipo_as("admin", &["orphans", "list"]).await);
        let flagged = review["items"].as_array().unwrap().iter().any(|o| {
            o["note"]
                .as_str()
                .unwrap_or("")
                .contains("has no M-Pesa code RKX9999999")
        });
        if flagged {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{review}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let list = ok_json(&world.malipo_as("admin", &["paybill", "list"]).await);
    assert_eq!(list["total"], 1, "counted once, the forgery never: {list}");

    // Validation off: the unknown account is paid, proven and put on the suspense list.
    world.behaviour(json!({"c2b_validation": false})).await;
    let stray = pay_bill(&world, "NOBODY-9", 700, "Otieno").await;
    assert_eq!(stray["outcome"], "completed", "{stray}");
    let stray_code = stray["trans_id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let item = loop {
        world.sync().await;
        let open = ok_json(&world.malipo_as("admin", &["suspense", "list"]).await);
        if let Some(item) = open["items"].as_array().unwrap().first() {
            break item.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{open}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(item["trans_id"], stray_code.as_str(), "{item}");
    assert_eq!(item["account"], "NOBODY-9", "{item}");
    assert_eq!(item["amount_minor"], 70_000, "{item}");
    let decided = ok_json(
        &world
            .malipo_as(
                "admin",
                &[
                    "suspense",
                    "allocate",
                    &stray_code,
                    "--policy",
                    "mtr-2291",
                    "--note",
                    "customer called with the SMS",
                ],
            )
            .await,
    );
    assert_eq!(decided["payment"]["policy"], "MTR-2291", "{decided}");
    assert_eq!(decided["payment"]["method"], "paybill", "{decided}");
    assert_eq!(decided["item"]["status"], "allocated", "{decided}");
    let again = world
        .malipo_as(
            "admin",
            &[
                "suspense",
                "allocate",
                &stray_code,
                "--refund",
                "--note",
                "changed mind",
            ],
        )
        .await;
    assert_eq!(again.status.code(), Some(4), "decided once: {again:?}");
    let open = ok_json(&world.malipo_as("admin", &["suspense", "list"]).await);
    assert_eq!(open["total"], 0, "{open}");

    // A payment whose confirmation never came: the customer brings the SMS to the counter.
    world.behaviour(json!({"drop_percent": 100})).await;
    let silent = pay_bill(&world, "wrong account", 1500, "Achieng").await;
    let silent_code = silent["trans_id"].as_str().unwrap().to_owned();
    world.behaviour(json!({"drop_percent": 0})).await;
    let verified = ok_json(
        &world
            .malipo_as(
                "admin",
                &[
                    "mpesa",
                    "verify",
                    &silent_code.to_lowercase(),
                    "--policy",
                    "MTR-2291",
                ],
            )
            .await,
    );
    assert_eq!(
        verified["provider_receipt"],
        silent_code.as_str(),
        "{verified}"
    );
    assert_eq!(verified["amount_minor"], 150_000, "{verified}");
    assert_eq!(verified["status"], "succeeded", "{verified}");
    let twice = ok_json(
        &world
            .malipo_as(
                "admin",
                &["mpesa", "verify", &silent_code, "--policy", "MTR-2291"],
            )
            .await,
    );
    assert_eq!(
        twice["number"], verified["number"],
        "recorded once: {twice}"
    );
    // The same code brought for another policy is not a payment for it: it says whose it is.
    let other = world
        .malipo_as(
            "admin",
            &["mpesa", "verify", &silent_code, "--policy", "POL-1"],
        )
        .await;
    assert_eq!(other.status.code(), Some(4), "{other:?}");
    assert!(
        other.stdout.is_empty(),
        "nothing that looks paid: {other:?}"
    );
    let said = String::from_utf8_lossy(&other.stderr);
    for part in [
        "already paid policy MTR-2291 (Wanjiru Kamau)",
        "KES 1,500.00",
        "at this counter",
        verified["receipt_number"].as_str().unwrap(),
        "not a payment for POL-1",
    ] {
        assert!(said.contains(part), "{part:?} in {said}");
    }
    let unknown = world
        .malipo_as(
            "admin",
            &["mpesa", "verify", "RKZ0000000", "--policy", "MTR-2291"],
        )
        .await;
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("does not know"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let list = ok_json(&world.malipo_as("admin", &["paybill", "list"]).await);
    assert_eq!(list["total"], 3, "{list}");
    let summary = ok_json(&world.malipo_as("admin", &["summary"]).await);
    assert_eq!(summary["succeeded"]["amount_minor"], 420_000, "{summary}");
    let policy = world.malipo(&["policy", "show", "MTR-2291"]).await;
    assert_eq!(
        policy["credit_minor"], 270_000,
        "4,200 paid, 1,500 due: {policy}"
    );
    assert_eq!(policy["instalments"][1]["status"], "paid", "{policy}");
    assert_eq!(policy["instalments"][2]["paid_minor"], 120_000, "{policy}");

    // The day's reconciliation: two confirmations, both recorded; the code typed at the counter
    // has no confirmation behind it, and the forgery is not money.
    let report = ok_json(
        &world
            .malipo_as("admin", &["reconcile", "--date", &nairobi_day(&verified)])
            .await,
    );
    assert_eq!(report["paybill"]["confirmed"], 2, "{report}");
    assert_eq!(report["paybill"]["matched"], 2, "{report}");
    let only_code = differences(&report, "confirmed_by_query_only");
    assert_eq!(only_code.len(), 1, "{report}");
    assert_eq!(only_code[0]["reference"], silent_code.as_str(), "{report}");

    // A code on the suspense list typed at the counter: a clerk is sent to a manager, a
    // manager's check allocates it, once for the company.
    let second = pay_bill(&world, "NOBODY-10", 300, "Kiprop").await;
    let second_code = second["trans_id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let open = ok_json(&world.malipo_as("admin", &["suspense", "list"]).await);
        if open["total"] == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{open}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    world.add_user("kamau", "clerk").await;
    let clerk = world
        .malipo_as(
            "kamau",
            &["mpesa", "verify", &second_code, "--policy", "MTR-2291"],
        )
        .await;
    assert_eq!(clerk.status.code(), Some(4), "{clerk:?}");
    assert!(
        String::from_utf8_lossy(&clerk.stderr).contains("suspense list"),
        "{}",
        String::from_utf8_lossy(&clerk.stderr)
    );
    let manager = ok_json(
        &world
            .malipo_as(
                "admin",
                &["mpesa", "verify", &second_code, "--policy", "MTR-2291"],
            )
            .await,
    );
    assert_eq!(
        manager["provider_receipt"],
        second_code.as_str(),
        "{manager}"
    );
    let all = ok_json(
        &world
            .malipo_as("admin", &["suspense", "list", "--all"])
            .await,
    );
    let decided = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["trans_id"] == second_code.as_str())
        .unwrap()
        .clone();
    assert_eq!(decided["status"], "allocated", "{all}");
    let list = ok_json(&world.malipo_as("admin", &["paybill", "list"]).await);
    assert_eq!(list["total"], 4, "{list}");

    // A device's word is not proof: an item put on the suspense list for a code M-Pesa never
    // issued is refused at allocation, and nothing is recorded.
    let forged = world
        .http
        .post(format!("http://127.0.0.1:{}/v1/suspense", world.relay_port))
        .bearer_auth(&world.device_token)
        .json(&json!({
            "trans_id": "RKF0000001", "amount_minor": 900_000, "currency": "KES",
            "account": "X", "payer": "Mallory", "msisdn": "25471****678",
            "paid_at": "2026-11-30T10:00:00Z",
        }))
        .send()
        .await
        .unwrap();
    assert!(forged.status().is_success(), "{}", forged.status());
    let refused = world
        .malipo_as(
            "admin",
            &[
                "suspense",
                "allocate",
                "RKF0000001",
                "--policy",
                "MTR-2291",
                "--note",
                "x",
            ],
        )
        .await;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("does not know"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let list = ok_json(&world.malipo_as("admin", &["paybill", "list"]).await);
    assert_eq!(list["total"], 4, "{list}");
    let open = ok_json(&world.malipo_as("admin", &["suspense", "list"]).await);
    assert_eq!(
        open["items"][0]["trans_id"], "RKF0000001",
        "still open: {open}"
    );
}

/// Customer messages from real processes: a payment gives exactly one SMS (the simulator's
/// Africa's Talking) and one e-mail with the receipt PDF (read back from a real SMTP server),
/// the SMS's delivery report comes back through the relay, an opted-out holder gets nothing,
/// and payments taken while no sender ran go out once when one does.
async fn customer_messages_go_once_and_report_delivery(backend: Backend) {
    let world = World::start(backend).await;
    let maildir = world.dir.path().join("maildir");
    let smtp_port = free_port();
    let mut smtp = Command::new("/usr/bin/python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{smtp_port}"),
        ])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3-aiosmtpd (scripts/setup installs it)");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", smtp_port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the SMTP server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let smtp_env = |c: &mut Command| {
        c.env("MALIPO_SMTP_HOST", "127.0.0.1")
            .env("MALIPO_SMTP_PORT", smtp_port.to_string())
            .env("MALIPO_SMTP_SECURITY", "plain")
            .env(
                "MALIPO_SMTP_FROM",
                "Jubilee Insurance <receipts@jubilee.example>",
            );
    };
    let run = |args: &[&str]| {
        let mut c = world.office();
        c.args(args).arg("--json");
        smtp_env(&mut c);
        json_out(c)
    };
    world
        .malipo(&["settings", "set", "messages.quiet_hours", "off"])
        .await;
    // Reminders are the app's own test's (over a simulated month); none is due here.
    world
        .malipo(&["settings", "set", "messages.reminder_days", "60"])
        .await;
    for (number, phone, email) in [
        ("MSG-1", "0722000333", "amina@example.co.ke"),
        ("MSG-2", "0722000444", "baraka@example.co.ke"),
    ] {
        world
            .malipo(&[
                "policy",
                "add",
                "--number",
                number,
                "--holder",
                "Amina Odhiambo",
                "--phone",
                phone,
                "--email",
                email,
                "--premium",
                "1500",
            ])
            .await;
    }
    let world = &world;
    let pay = |policy: &'static str| async move {
        world
            .malipo(&[
                "pay",
                "mpesa",
                "--policy",
                policy,
                "--phone",
                "0708374149",
                "--amount",
                "1500",
                "--wait",
                "30",
                "--again",
            ])
            .await
    };
    let paid = pay("MSG-1").await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    let r = run(&["messages", "send-due"]).await;
    assert_eq!(
        (r["sent"].as_u64(), r["failed"].as_u64()),
        (Some(2), Some(0)),
        "{r}"
    );
    let r = run(&["messages", "send-due"]).await;
    assert_eq!(r["sent"], 0, "once: {r}");

    let sms = sandbox_sms(world).await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(sms[0]["to"], "+254722000333");
    let text = sms[0]["message"].as_str().unwrap();
    assert!(
        text.contains("KES 1,500.00") && text.contains("MSG-1"),
        "{text}"
    );
    assert!(
        text.contains(paid["receipt_number"].as_str().unwrap()),
        "{text}"
    );
    let mails: Vec<_> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.contains("To: amina@example.co.ke"), "{mail}");
    assert!(mail.contains("Subject: Receipt"), "{mail}");
    let pdf = attachment(mail);
    assert!(
        pdf.starts_with(b"%PDF"),
        "the attachment is the receipt PDF"
    );

    // Africa's Talking's delivery report, through the relay.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let list = world
            .malipo(&["messages", "list", "--policy", "MSG-1"])
            .await;
        let sms = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["channel"] == "sms")
            .unwrap()
            .clone();
        if sms["status"] == "delivered" {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let sent: Value = world
                .http
                .get(format!("{}/__sandbox/deliveries", world.sandbox_url))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            panic!("{list}\n{sent}\n{:?}", world.feed().await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Opted out: nothing.
    world
        .malipo(&["policy", "messages", "MSG-2", "--opt-out"])
        .await;
    pay("MSG-2").await;
    // Two payments while no sender runs (the office was offline): sent once when it is back.
    pay("MSG-1").await;
    pay("MSG-1").await;
    let r = run(&["messages", "send-due"]).await;
    assert_eq!(r["sent"], 4, "{r}");
    assert_eq!(run(&["messages", "send-due"]).await["sent"], 0);
    let sms = sandbox_sms(world).await;
    assert_eq!(sms.len(), 3, "{sms:?}");
    assert!(sms.iter().all(|m| m["to"] != "+254722000444"), "{sms:?}");
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 3);
    let none = world
        .malipo(&["messages", "list", "--policy", "MSG-2"])
        .await;
    assert_eq!(none["total"], 0, "{none}");

    // Reminders on the ladder, as processes: policies whose instalment is due in 7 and 3 days
    // and 3 days ago each get that step's SMS today, once; one paid before the sender ran gets
    // only its receipt. (Weeks of ladder run in the services' own test on a hand clock.)
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+3))
        .date();
    for (number, phone, days) in [
        ("REM-A", "0722000501", 7),
        ("REM-B", "0722000502", 3),
        ("REM-C", "0722000503", -3),
        ("REM-D", "0722000504", 0),
    ] {
        let start = today + time::Duration::days(days);
        let start = format!(
            "{:02}/{:02}/{}",
            start.day(),
            u8::from(start.month()),
            start.year()
        );
        world
            .malipo(&[
                "policy",
                "add",
                "--number",
                number,
                "--holder",
                "Baraka Mwangi",
                "--phone",
                phone,
                "--premium",
                "1500",
                "--start",
                &start,
            ])
            .await;
    }
    pay("REM-D").await;
    world
        .malipo(&["settings", "set", "messages.reminder_days", "-7,-3,0,3"])
        .await;
    let due = world.malipo(&["remind", "--dry-run"]).await;
    let steps: Vec<(String, i64)> = due["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["policy"].as_str().unwrap().to_owned(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .filter(|(p, _)| p.starts_with("REM"))
        .collect();
    assert_eq!(
        steps,
        [
            ("REM-A".into(), -7),
            ("REM-B".into(), -3),
            ("REM-C".into(), 3)
        ],
        "{due}"
    );
    let before = sandbox_sms(world).await.len();
    let r = run(&["messages", "send-due"]).await;
    assert_eq!(r["failed"], 0, "{r}");
    assert_eq!(
        run(&["messages", "send-due"]).await["queued_reminders"],
        0,
        "once"
    );
    let sms = sandbox_sms(world).await;
    let to = |n: &str| {
        sms[before..]
            .iter()
            .filter(|m| m["to"] == n)
            .map(|m| m["message"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(to("+254722000501")[0].contains("is due on"), "{sms:?}");
    assert!(to("+254722000502")[0].contains("is due on"), "{sms:?}");
    assert!(to("+254722000503")[0].contains("was due on"), "{sms:?}");
    let paid_texts = to("+254722000504");
    assert_eq!(paid_texts.len(), 1, "only its receipt: {paid_texts:?}");
    assert!(
        paid_texts[0].contains("received KES 1,500.00"),
        "{paid_texts:?}"
    );
    smtp.kill().await.unwrap();
}

/// Every SMS the simulator's Africa's Talking took.
async fn sandbox_sms(world: &World) -> Vec<Value> {
    world
        .http
        .get(format!("{}/__sandbox/sms", world.sandbox_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The PDF attached to a MIME message (base64, as `lettre` writes it).
fn attachment(mail: &str) -> Vec<u8> {
    use base64::Engine;
    let start = mail
        .find("Content-Type: application/pdf")
        .expect("a PDF part");
    let part = &mail[start..];
    let body_at = part.find("\n\n").or_else(|| part.find("\r\n\r\n")).unwrap();
    let body: String = part[body_at..]
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty() && !l.starts_with("--"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64")
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await
                }
            )*
        }
    };
}

on_both_backends!(
    mpesa_outcomes_arrive_through_the_relay,
    card_success_and_amount_mismatch,
    duplicated_callbacks_count_once,
    dropped_callbacks_are_reconciled,
    a_late_callback_after_a_query_changes_nothing,
    relay_restart_and_an_offline_office_catch_up,
    a_running_sync_applies_callbacks_as_they_come,
    refunds_go_from_request_to_their_final_state,
    other_offices_events_and_orphans_change_nothing_here,
    receipts_print_and_verify,
    a_forged_success_callback_never_pays,
    a_backlog_of_payments_syncs_in_one_round_with_the_callbacks,
    claims_no_provider_confirms_are_kept_and_the_inbox_moves_on,
    a_reversal_whose_answer_was_lost_is_settled_by_its_result,
    paybill_payments_are_proven_allocated_and_counted_once,
    customer_messages_go_once_and_report_delivery,
);
