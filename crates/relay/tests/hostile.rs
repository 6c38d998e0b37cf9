//! The `malipo-relay` binary against hostile clients, over real TCP: slow headers and bodies
//! are cut off, connections and event streams are capped, `/metrics` is not public, and
//! SIGTERM drains within 10 seconds with every acknowledged callback stored.
//!
//! - slow headers (the default 30 s, and a shorter setting), slow bodies
//! - the connection cap, the stream cap per device
//! - the metrics listener
//! - SIGTERM while callbacks stream in and a device holds an event stream
//! - the updates folder: its files, and no path out of it

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use malipo_test_support as support;
use support::{free_port, wait_healthy};

/// A relay process on a fresh SQLite file, with one tenant and one device.
struct Served {
    child: Option<tokio::process::Child>,
    port: u16,
    db: String,
    daraja_url: String,
    token: String,
    /// What the relay printed on starting.
    banner: String,
    _dir: tempfile::TempDir,
}

fn relay_cmd(db: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_malipo-relay"));
    c.env("MALIPO_RELAY_DATABASE_URL", db)
        .env("MALIPO_RELAY_RATE_LIMIT", "0")
        .env("MALIPO_RELAY_SECRET_KEY", "7a".repeat(32))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

async fn json_of(mut cmd: tokio::process::Command) -> Value {
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

impl Served {
    async fn start(env: &[(&str, &str)]) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("relay.sqlite3").display().to_string();
        let port = free_port();
        let public = format!("http://127.0.0.1:{port}");
        let mut create = relay_cmd(&db);
        create
            .args(["tenant", "create", "--name", "Jubilee"])
            .env("MALIPO_RELAY_PUBLIC_URL", &public);
        let tenant = json_of(create).await;
        let mut add = relay_cmd(&db);
        add.args([
            "device",
            "add",
            "--tenant",
            tenant["id"].as_str().unwrap(),
            "--name",
            "counter",
        ]);
        let token = json_of(add).await["token"].as_str().unwrap().to_owned();
        let mut served = Served {
            child: None,
            port,
            db,
            daraja_url: tenant["daraja_callback_url"].as_str().unwrap().to_owned(),
            token,
            banner: String::new(),
            _dir: dir,
        };
        served.child = Some(served.serve(env).await);
        served
    }

    async fn serve(&mut self, env: &[(&str, &str)]) -> tokio::process::Child {
        let mut serve = relay_cmd(&self.db);
        serve
            .arg("serve")
            .env("MALIPO_RELAY_LISTEN", format!("127.0.0.1:{}", self.port));
        for (k, v) in env {
            serve.env(k, v);
        }
        let mut child = serve.spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !banner.contains(&b'\n') {
            let mut byte = [0_u8; 1];
            let n = tokio::time::timeout(Duration::from_secs(20), stdout.read(&mut byte))
                .await
                .unwrap()
                .unwrap();
            assert!(n == 1 && Instant::now() < deadline, "no banner");
            banner.push(byte[0]);
        }
        self.banner = String::from_utf8(banner).unwrap();
        wait_healthy(&reqwest::Client::new(), &format!("{}/healthz", self.url())).await;
        child
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where `/metrics` is served, as the banner says.
    fn metrics_at(&self) -> &str {
        self.banner
            .split("metrics on ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap_or_else(|| panic!("{}", self.banner))
    }

    /// Waits until the relay counts `want` open connections (its own gauge), or fails after
    /// 10 seconds with the last count it gave.
    async fn wait_open_connections(&self, want: u64) {
        let http = reqwest::Client::new();
        let url = format!("http://{}/metrics", self.metrics_at());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = http.get(&url).send().await.unwrap().text().await.unwrap();
            let open = text
                .lines()
                .find_map(|l| l.strip_prefix("malipo_relay_connections_open "))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no connection gauge in {text}"));
            if open == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the relay still counts {open} open connections, not {want}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.port)).await.unwrap()
    }
}

/// Reads until the server closes the connection (or `limit` passes); how long it took and
/// what it said.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (Duration, String) {
    let started = Instant::now();
    let mut said = Vec::new();
    let mut buf = [0_u8; 1024];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Err(_) => panic!(
                "still open after {limit:?}: {}",
                String::from_utf8_lossy(&said)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => said.extend_from_slice(&buf[..n]),
        }
    }
    (
        started.elapsed(),
        String::from_utf8_lossy(&said).into_owned(),
    )
}

fn stk(checkout: &str) -> String {
    json!({"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": checkout, "ResultCode": 1032, "ResultDesc": "x"}}})
        .to_string()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_dropped_within_30_seconds() {
    let relay = Served::start(&[]).await;
    let mut slow = relay.connect().await;
    slow.write_all(b"POST /hooks/d/abc HTTP/1.1\r\nHost: relay\r\nX-Slow: ")
        .await
        .unwrap();
    let mut idle = relay.connect().await;
    let (slow_took, _) = until_closed(&mut slow, Duration::from_secs(40)).await;
    let (idle_took, _) = until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(
        slow_took <= Duration::from_secs(31),
        "dropped after {slow_took:?}"
    );
    assert!(idle_took <= Duration::from_secs(10), "{idle_took:?}");
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off_at_the_configured_limits() {
    let relay = Served::start(&[
        ("MALIPO_RELAY_HEADER_TIMEOUT_SECS", "2"),
        ("MALIPO_RELAY_REQUEST_TIMEOUT_SECS", "2"),
    ])
    .await;
    let mut slow = relay.connect().await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n")
        .await
        .unwrap();
    let (took, _) = until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "headers: {took:?}");

    let path = relay.daraja_url.split_once("127.0.0.1").unwrap().1;
    let path = &path[path.find('/').unwrap()..];
    let mut trickle = relay.connect().await;
    trickle
        .write_all(
            format!("POST {path} HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"Body\":")
                .as_bytes(),
        )
        .await
        .unwrap();
    let (took, said) = until_closed(&mut trickle, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "body: {took:?}");
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_and_streams_per_device_are_capped() {
    let relay = Served::start(&[
        ("MALIPO_RELAY_MAX_CONNECTIONS", "4"),
        ("MALIPO_RELAY_STREAMS_PER_DEVICE", "2"),
    ])
    .await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    // Two streams held open by the device take two connections...
    let stream = || {
        http.get(format!("{}/v1/events/stream", relay.url()))
            .bearer_auth(&relay.token)
            .send()
    };
    let first = stream().await.unwrap();
    let second = stream().await.unwrap();
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = stream().await.unwrap();
    assert_eq!(third.status(), 429, "a third stream of one device");
    drop(third);
    // The refused stream's connection is closed once the relay has seen it go.
    relay.wait_open_connections(2).await;
    // ... two idle connections the rest; the next is closed as soon as it arrives.
    let _a = relay.connect().await;
    let _b = relay.connect().await;
    relay.wait_open_connections(4).await;
    let mut over = relay.connect().await;
    let (took, said) = until_closed(&mut over, Duration::from_secs(5)).await;
    assert!(said.is_empty() && took < Duration::from_secs(2), "{said}");
    drop(first);
    drop(second);
    relay.wait_open_connections(2).await;
    let ok = http
        .get(format!("{}/healthz", relay.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "a freed slot takes a new connection");
}

#[tokio::test]
async fn metrics_are_served_on_their_own_loopback_listener_only() {
    let relay = Served::start(&[]).await;
    let http = reqwest::Client::new();
    let public = http
        .get(format!("{}/metrics", relay.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    let at = relay.metrics_at();
    assert!(at.starts_with("127.0.0.1:"), "{at}");
    let metrics = http
        .get(format!("http://{at}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("malipo_relay_device_lag_events")
    );
}

#[tokio::test]
async fn sigterm_drains_within_ten_seconds_and_loses_nothing_acknowledged() {
    let mut relay = Served::start(&[]).await;
    let http = reqwest::Client::new();
    let mut stream = http
        .get(format!("{}/v1/events/stream", relay.url()))
        .bearer_auth(&relay.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    // Callbacks pour in from four senders until the relay stops answering.
    let mut senders = Vec::new();
    for s in 0..4 {
        let (http, url) = (http.clone(), relay.daraja_url.clone());
        senders.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            for i in 0.. {
                let id = format!("ws_CO_{s}_{i}");
                match http.post(&url).body(stk(&id)).send().await {
                    Ok(r) if r.status() == 200 => answered.push(id),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            answered
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut child = relay.child.take().unwrap();
    let pid = child.id().unwrap().to_string();
    let signalled = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the relay did not exit within 10 s of SIGTERM")
        .unwrap();
    let took = signalled.elapsed();
    assert!(status.success(), "{status:?}");
    // The event stream ended rather than being cut mid-message.
    let mut ended = false;
    while let Ok(Ok(chunk)) = tokio::time::timeout(Duration::from_secs(2), stream.chunk()).await {
        if chunk.is_none() {
            ended = true;
            break;
        }
    }
    assert!(ended, "the event stream was ended by the relay");
    let mut answered = Vec::new();
    for s in senders {
        answered.extend(s.await.unwrap());
    }
    assert!(answered.len() > 20, "only {} answered", answered.len());

    relay.child = Some(relay.serve(&[]).await);
    let page: Value = http
        .get(format!("{}/v1/events?after=0&limit=5000", relay.url()))
        .bearer_auth(&relay.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: Vec<String> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let key = e["dedup_key"].as_str().unwrap().trim_start_matches("stk:");
            key.rsplit_once(':').unwrap().0.to_owned()
        })
        .collect();
    for id in &answered {
        assert!(
            stored.contains(id),
            "{id} was answered 200 but is not stored"
        );
    }
    println!(
        "SIGTERM: exited after {took:?}; {} callbacks answered, {} stored",
        answered.len(),
        stored.len()
    );
}

/// Sends `request` as it is (no client tidies the path) and reads the status line.
async fn raw_status(relay: &Served, request: &str) -> String {
    let mut tcp = relay.connect().await;
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_updates_folder_serves_its_files_and_nothing_outside_it() {
    let folder = tempfile::tempdir().unwrap();
    let manifest = r#"{"version":"0.2.0","notes":"Faster receipts","platforms":{}}"#;
    std::fs::write(folder.path().join("latest.json"), manifest).unwrap();
    // Bigger than one read, and not a multiple of it.
    let package: Vec<u8> = (0..300_001_u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(folder.path().join("Malipo_0.2.0_x64-setup.exe"), &package).unwrap();
    std::fs::write(folder.path().join(".hidden"), "no").unwrap();
    let dir = folder.path().display().to_string();
    let relay = Served::start(&[("MALIPO_RELAY_UPDATES_DIR", &dir)]).await;
    assert!(relay.banner.contains("updates from"), "{}", relay.banner);
    let http = reqwest::Client::new();

    let latest = http
        .get(format!("{}/updates/latest.json", relay.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(latest.status(), 200);
    assert_eq!(latest.headers()["content-type"], "application/json");
    assert_eq!(latest.headers()["cache-control"], "no-cache");
    assert_eq!(latest.text().await.unwrap(), manifest);
    let got = http
        .get(format!(
            "{}/updates/Malipo_0.2.0_x64-setup.exe",
            relay.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.content_length(), Some(package.len() as u64));
    assert!(got.bytes().await.unwrap() == package);

    // The relay's own database sits beside nothing it serves; no path reaches it.
    for path in [
        "/updates/..%2frelay.sqlite3",
        "/updates/%2e%2e%2frelay.sqlite3",
        "/updates/../relay.sqlite3",
        "/updates/.hidden",
        "/updates/missing.exe",
        "/updates/%2fetc%2fpasswd",
    ] {
        let status = raw_status(
            &relay,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(status.contains(" 404 "), "{path}: {status}");
    }

    // A relay without an updates folder says so.
    let bare = Served::start(&[]).await;
    let none = http
        .get(format!("{}/updates/latest.json", bare.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 404);
    assert_eq!(none.json::<Value>().await.unwrap()["error"], "no_updates");
}
