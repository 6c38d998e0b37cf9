//! The world every journey runs in: the sandbox, the relay and offices as real processes, and the
//! helpers that read what the `malipo` CLI prints.

pub use std::path::PathBuf;
pub use std::process::Stdio;
pub use std::time::Duration;

pub use malipo_test_support::{Backend, free_port, sign, wait_healthy};
pub use serde_json::{Value, json};
pub use tokio::process::{Child, Command};

/// A binary of this workspace, next to the test executable's directory.
pub fn bin(name: &str) -> PathBuf {
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

pub const SEALING_KEY: &str = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";

pub const PAYSTACK_SECRET: &str = "sk_test_sandbox";

pub const PAID: &str = "254708374149";

pub struct World {
    pub dir: tempfile::TempDir,
    pub relay_db: String,
    pub relay_port: u16,
    pub relay: Option<Child>,
    pub sandbox: Child,
    pub sandbox_url: String,
    pub tenant: String,
    pub device_id: String,
    pub device_token: String,
    pub daraja_url: String,
    /// The tenant's paybill URLs: validation, confirmation.
    pub c2b_urls: (String, String),
    /// Where Paystack posts the tenant's webhooks (signed with [`PAYSTACK_SECRET`]).
    pub paystack_webhook_url: String,
    pub http: reqwest::Client,
}

impl World {
    pub async fn start(backend: Backend) -> World {
        let dir = tempfile::tempdir().unwrap();
        let relay_db = match backend {
            Backend::Sqlite => dir.path().join("relay.sqlite3").display().to_string(),
            Backend::Postgres => malipo_test_support::postgres_database().await,
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
            paystack_webhook_url: tenant["paystack_webhook_url"].as_str().unwrap().to_owned(),
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

    pub async fn start_relay(&mut self) {
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

    pub async fn kill_relay(&mut self) {
        if let Some(mut child) = self.relay.take() {
            child.kill().await.unwrap();
        }
    }

    pub fn office(&self) -> Command {
        self.office_at("office", &self.device_token)
    }

    /// The CLI of the office whose data is in `name`, syncing with device `token`.
    pub fn office_at(&self, name: &str, token: &str) -> Command {
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
    pub async fn malipo(&self, args: &[&str]) -> Value {
        let mut c = self.office();
        c.args(args).arg("--json");
        json_out(c).await
    }

    /// Runs `malipo ARGS --json` and returns how it ended, for commands expected to fail.
    pub async fn malipo_output(&self, args: &[&str]) -> std::process::Output {
        let mut c = self.office();
        c.args(args).arg("--json");
        c.output().await.unwrap()
    }

    /// A second office of the same company: its own data and device token, office code NBI.
    pub async fn second_office(&self) -> String {
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
    pub async fn malipo_as(&self, user: &str, args: &[&str]) -> std::process::Output {
        let mut c = self.office();
        c.args(args)
            .arg("--json")
            .env("MALIPO_USER", user)
            .env("MALIPO_PASSWORD", format!("{user}-password"));
        c.output().await.unwrap()
    }

    /// Runs `malipo ARGS` (as people read it, no `--json`) signed in as `user`; what it printed.
    pub async fn malipo_text_as(&self, user: &str, args: &[&str]) -> String {
        let mut c = self.office();
        c.args(args)
            .env("MALIPO_USER", user)
            .env("MALIPO_PASSWORD", format!("{user}-password"));
        let out = c.output().await.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Adds `user` with `role` (the first one in set-up mode, the others as `admin`).
    pub async fn add_user(&self, user: &str, role: &str) {
        let mut c = self.office();
        c.args(["user", "add", "--username", user, "--role", role, "--json"])
            .env("MALIPO_NEW_PASSWORD", format!("{user}-password"));
        if role != "admin" {
            c.env("MALIPO_USER", "admin")
                .env("MALIPO_PASSWORD", "admin-password");
        }
        json_out(c).await;
    }

    pub async fn behaviour(&self, b: Value) {
        let r = self
            .http
            .post(format!("{}/__sandbox/behaviour", self.sandbox_url))
            .json(&b)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    pub async fn pay_mpesa(&self, phone: &str, amount: &str) -> Value {
        self.malipo(&[
            "pay", "mpesa", "--policy", "POL-1", "--phone", phone, "--amount", amount, "--again",
        ])
        .await
    }

    pub async fn sync(&self) -> Value {
        self.malipo(&["sync", "--once"]).await
    }

    /// Syncs until every payment in `numbers` is final; returns them as they end.
    pub async fn sync_until_final(&self, numbers: &[String]) -> Vec<Value> {
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
    pub async fn feed(&self) -> Vec<Value> {
        let r = self.relay_get("/v1/events?after=0&limit=5000").await;
        r["events"].as_array().unwrap().clone()
    }

    /// `GET PATH` on the relay as this office's device.
    pub async fn relay_get(&self, path: &str) -> Value {
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

    pub async fn summary(&self) -> Value {
        self.malipo(&["summary"]).await
    }

    /// A card payment of POL-1 waiting at checkout under `reference`, written straight into the
    /// office database (Paystack never heard of it); its number.
    pub async fn seed_card_payment(&self, reference: &str, email: &str) -> String {
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
    pub async fn seed_payments(&self, office: &str, prefix: &str, n: usize) {
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

pub async fn json_out(mut cmd: Command) -> Value {
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
pub fn nairobi_day(tx: &Value) -> String {
    let at = time::OffsetDateTime::parse(
        tx["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    (at + time::Duration::hours(3)).date().to_string()
}

pub fn differences<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == kind)
        .collect()
}

pub fn number(tx: &Value) -> String {
    tx["number"].as_str().unwrap().to_owned()
}

pub fn ok_json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn pdf_text(path: &std::path::Path) -> String {
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

/// A customer pays the bill in the simulator; what became of it.
pub async fn pay_bill(world: &World, account: &str, amount: i64, name: &str) -> Value {
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
pub async fn sync_until(world: &World, args: &[&str], done: impl Fn(&Value) -> bool) -> Value {
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

/// `sqlite::NAME` and `postgres::NAME` for each journey `NAME(backend)` of the calling module.
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

/// Each journey named, on a relay backed by SQLite only: those whose point is not the backend
/// (the relay's two are held to the same behaviour by the ones above and the relay's own tests).
macro_rules! on_sqlite {
    ($($name:ident),* $(,)?) => {
        mod once {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await
                }
            )*
        }
    };
}
