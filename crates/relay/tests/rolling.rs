//! Two relay instances on one PostgreSQL database behind one address (Caddy, as deploy/Caddyfile
//! puts it in front, with both instances listed): restarted one at a time (SIGTERM, wait for it
//! to stop, start it again, wait until the balancer sends it callbacks) while senders stream
//! callbacks through the one
//! address. Every sender gets an answer to every callback (no error of any kind is seen), and
//! every callback answered 200 is stored once, numbered without gaps.

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use malipo_test_support as support;
use support::{free_port, wait_healthy};

fn relay(db: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_malipo-relay"));
    c.env("MALIPO_RELAY_DATABASE_URL", db)
        .env("MALIPO_RELAY_RATE_LIMIT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

async fn json_of(mut c: tokio::process::Command) -> Value {
    let out = c.output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

struct Instance {
    port: u16,
    metrics: u16,
    child: Option<tokio::process::Child>,
}

impl Instance {
    async fn start(db: &str, port: u16, http: &reqwest::Client) -> Instance {
        let mut c = relay(db);
        // The shipped Caddyfile checks health every 5 s: not ready for 8 s before stopping.
        let metrics = free_port();
        c.arg("serve")
            .env("MALIPO_RELAY_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "MALIPO_RELAY_METRICS_LISTEN",
                format!("127.0.0.1:{metrics}"),
            )
            .env("MALIPO_RELAY_SHUTDOWN_DELAY_SECS", "8")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = c.spawn().unwrap();
        wait_healthy(http, &format!("http://127.0.0.1:{port}/readyz")).await;
        Instance {
            port,
            metrics,
            child: Some(child),
        }
    }

    /// Callbacks this instance has answered since it started (its metrics).
    async fn answered(&self, http: &reqwest::Client) -> u64 {
        let page = http
            .get(format!("http://127.0.0.1:{}/metrics", self.metrics))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        page.lines()
            .filter(|l| l.starts_with("malipo_relay_callbacks_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// Waits until the balancer sends this instance callbacks: its health checks have found
    /// it ready, so the next instance may go.
    async fn until_in_rotation(&self, http: &reqwest::Client) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.answered(http).await == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the balancer sent no callback to the restarted instance in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, as systemd stops it, and wait for the process to end (it drains first).
    async fn stop(&mut self) {
        let mut child = self.child.take().unwrap();
        let pid = child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("the relay stops within 30 s of SIGTERM")
            .unwrap();
        assert!(
            status.success(),
            "a SIGTERM'd relay exits cleanly: {status}"
        );
    }
}

/// Caddy on `port` in front of both instances: the shipped site's proxy settings.
async fn caddy(dir: &std::path::Path, port: u16, upstreams: &[u16]) -> tokio::process::Child {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/Caddyfile"),
    )
    .unwrap();
    let list: Vec<String> = upstreams.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let site = shipped
        .replace(
            "relay.example.co.ke {",
            &format!("http://127.0.0.1:{port} {{"),
        )
        .replace(
            "reverse_proxy 127.0.0.1:8787 {",
            &format!("reverse_proxy {} {{", list.join(" ")),
        );
    assert!(
        site.contains(&list.join(" ")),
        "the shipped Caddyfile's proxy"
    );
    let config = dir.join("Caddyfile");
    std::fs::write(
        &config,
        format!("{{\n\tadmin off\n\tauto_https off\n\tgrace_period 2s\n}}\n\n{site}"),
    )
    .unwrap();
    let child = tokio::process::Command::new("caddy")
        .args(["run", "--config"])
        .arg(&config)
        .args(["--adapter", "caddyfile"])
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("HOME", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("Caddy (Debian's caddy package; scripts/setup installs it)");
    wait_healthy(
        &reqwest::Client::new(),
        &format!("http://127.0.0.1:{port}/readyz"),
    )
    .await;
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_one_address_loses_nothing_and_answers_every_request() {
    let db = support::postgres_database().await;
    let dir = tempfile::tempdir().unwrap();
    let tenant = json_of({
        let mut c = relay(&db);
        c.args(["tenant", "create", "--name", "Jubilee"]);
        c
    })
    .await;
    let device = json_of({
        let mut c = relay(&db);
        c.args([
            "device",
            "add",
            "--tenant",
            tenant["id"].as_str().unwrap(),
            "--name",
            "counter",
        ]);
        c
    })
    .await;
    let token = device["token"].as_str().unwrap().to_owned();
    let hook = tenant["daraja_callback_url"]
        .as_str()
        .unwrap()
        .split_once("/hooks/")
        .unwrap()
        .1
        .to_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut instances = Vec::new();
    for _ in 0..2 {
        instances.push(Instance::start(&db, free_port(), &http).await);
    }
    let front = free_port();
    let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();
    let _caddy = caddy(dir.path(), front, &ports).await;
    let base = format!("http://127.0.0.1:{front}");

    // Four senders, as Safaricom's retries would be: each callback until it is answered, and
    // every answer that is not 200 (or no answer) counted as an error the sender saw.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicI64::new(0));
    let mut senders = Vec::new();
    for s in 0..4 {
        let (http, stop, answered) = (http.clone(), stop.clone(), answered.clone());
        let url = format!("{base}/hooks/{hook}");
        senders.push(tokio::spawn(async move {
            let (mut stored, mut errors) = (Vec::new(), Vec::new());
            for i in 0_u64.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let id = format!("ws_CO_{s}_{i}");
                let body = json!({"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": id, "ResultCode": 1032, "ResultDesc": "Request cancelled by user"}}});
                match http.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => {
                        answered.fetch_add(1, Ordering::SeqCst);
                        stored.push(id);
                    }
                    Ok(r) => {
                        let status = r.status();
                        let said = r.text().await.unwrap_or_default();
                        errors.push(format!("{id}: {status} {said}"));
                    }
                    Err(e) => errors.push(format!("{id}: {e}")),
                }
            }
            (stored, errors)
        }));
    }
    // Waits until more than `than` callbacks were answered 200 in all.
    let until_more = |than: i64| {
        let answered = answered.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let now = answered.load(Ordering::SeqCst);
                if now > than {
                    return now;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "callbacks stopped being answered"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let mut seen = until_more(100).await;
    // One at a time: stop, start again on its port, wait until ready, let callbacks flow.
    for instance in &mut instances {
        instance.stop().await;
        seen = until_more(seen + 50).await;
        let port = instance.port;
        *instance = Instance::start(&db, port, &http).await;
        instance.until_in_rotation(&http).await;
        seen = until_more(seen + 50).await;
    }
    stop.store(true, Ordering::SeqCst);
    let (mut stored, mut errors) = (Vec::new(), Vec::new());
    for s in senders {
        let (ok, bad) = s.await.unwrap();
        stored.extend(ok);
        errors.extend(bad);
    }
    println!(
        "rolling restart of 2 instances: {} callbacks answered 200, {} errors seen by senders",
        stored.len(),
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "senders saw errors during the rolling restart: {} of them, e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );

    // Every callback answered 200 is in the feed once, and the numbers have no gaps.
    let mut feed = Vec::new();
    let mut after = 0_i64;
    loop {
        let page: Value = http
            .get(format!("{base}/v1/events?after={after}&limit=1000"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap().clone();
        if events.is_empty() {
            break;
        }
        after = page["next"].as_i64().unwrap();
        feed.extend(events);
    }
    let seqs: Vec<i64> = feed.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "numbered without gaps"
    );
    let ids: HashSet<String> = feed
        .iter()
        .map(|e| {
            let key = e["dedup_key"].as_str().unwrap().trim_start_matches("stk:");
            key.rsplit_once(':').unwrap().0.to_owned()
        })
        .collect();
    assert_eq!(ids.len(), feed.len(), "each callback stored once");
    let missing: Vec<&String> = stored.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "answered 200 but not stored: {missing:?}"
    );
}
