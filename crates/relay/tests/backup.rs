//! A backup taken while callbacks stream in restores with every callback acknowledged before it
//! began, numbered as before; a damaged backup is refused; a restore never overwrites a database.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use malipo_test_support::{free_port, wait_healthy};

fn relay(db: &std::path::Path) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_malipo-relay"));
    c.env("MALIPO_RELAY_DATABASE_URL", db)
        .env("MALIPO_RELAY_RATE_LIMIT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

async fn run(mut cmd: tokio::process::Command) -> (bool, Value, String) {
    let out = cmd.output().await.unwrap();
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every event of the device's feed: CheckoutRequestID → sequence number.
async fn feed(http: &reqwest::Client, base: &str, token: &str) -> HashMap<String, i64> {
    let mut seen = HashMap::new();
    let mut after = 0_i64;
    loop {
        let page: Value = http
            .get(format!("{base}/v1/events?after={after}&limit=1000"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            return seen;
        }
        for e in events {
            // stk:CHECKOUT:DIGEST
            let key = e["dedup_key"].as_str().unwrap().trim_start_matches("stk:");
            seen.insert(
                key.rsplit_once(':').unwrap().0.to_owned(),
                e["seq"].as_i64().unwrap(),
            );
        }
        after = page["next"].as_i64().unwrap();
    }
}

async fn serve(db: &std::path::Path, http: &reqwest::Client) -> (tokio::process::Child, String) {
    let port = free_port();
    let mut c = relay(db);
    c.arg("serve")
        .env("MALIPO_RELAY_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = c.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(http, &format!("{base}/healthz")).await;
    (child, base)
}

#[tokio::test]
async fn a_backup_under_a_stream_of_callbacks_restores_every_acknowledged_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let mut create = relay(&db);
    create.args(["tenant", "create", "--name", "Jubilee"]);
    let (_, tenant, _) = run(create).await;
    let mut add = relay(&db);
    add.args([
        "device",
        "add",
        "--tenant",
        tenant["id"].as_str().unwrap(),
        "--name",
        "counter",
    ]);
    let (_, device, _) = run(add).await;
    let token = device["token"].as_str().unwrap().to_owned();
    let hook = tenant["daraja_callback_url"]
        .as_str()
        .unwrap()
        .split_once("/hooks/")
        .unwrap()
        .1
        .to_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let (mut live, base) = serve(&db, &http).await;

    // Four senders stream callbacks; each remembers what was answered 200, and when.
    let stop = Arc::new(AtomicBool::new(false));
    let backup_began = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for s in 0..4 {
        let (http, stop, began) = (http.clone(), stop.clone(), backup_began.clone());
        let url = format!("{base}/hooks/{hook}");
        senders.push(tokio::spawn(async move {
            let mut before = Vec::new();
            for i in 0_u64.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let id = format!("ws_CO_{s}_{i}");
                let body = json!({"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": id, "ResultCode": 1032, "ResultDesc": "x"}}});
                let r = http.post(&url).json(&body).send().await.unwrap();
                // Answered 200 before the backup began: stored (a 200 follows the commit), so
                // it must be in the backup.
                if r.status().is_success() && !began.load(Ordering::SeqCst) {
                    before.push(id);
                }
            }
            before
        }));
    }
    // Let the stream run, then back up while it goes on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while feed(&http, &base, &token).await.len() < 300 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream is too slow"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let copy = dir.path().join("backup").join("relay-backup.sqlite3");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    backup_began.store(true, Ordering::SeqCst);
    let mut backup = relay(&db);
    backup.arg("backup").arg(&copy);
    let (ok, made, why) = run(backup).await;
    assert!(ok, "{why}");
    assert!(made["events"].as_i64().unwrap() >= 300, "{made}");
    // The stream goes on past the backup, then stops.
    let taken = made["events"].as_u64().unwrap() as usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while feed(&http, &base, &token).await.len() < taken + 50 {
        assert!(tokio::time::Instant::now() < deadline, "the stream stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut acknowledged = Vec::new();
    for s in senders {
        acknowledged.extend(s.await.unwrap());
    }
    let original = feed(&http, &base, &token).await;
    live.kill().await.unwrap();
    assert!(
        original.len() > taken,
        "callbacks kept arriving after the backup: {} against {made}",
        original.len()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup is its owner's alone");
    }

    // Restored into an empty place, served, read back.
    let restored = dir.path().join("restored").join("relay.sqlite3");
    let mut restore = relay(&restored);
    restore.arg("restore").arg(&copy);
    let (ok, report, why) = run(restore).await;
    assert!(ok, "{why}");
    assert_eq!(report["events"], made["events"], "{report}");
    let (mut again, base) = serve(&restored, &http).await;
    let back = feed(&http, &base, &token).await;
    again.kill().await.unwrap();
    assert!(acknowledged.len() >= 300, "{}", acknowledged.len());
    for id in &acknowledged {
        assert_eq!(
            back.get(id),
            original.get(id),
            "{id}, acknowledged before the backup began, is restored with its number"
        );
    }

    // A restore never overwrites a database.
    let mut over = relay(&db);
    over.arg("restore").arg(&copy);
    let (ok, _, why) = run(over).await;
    assert!(!ok && why.contains("already holds a database"), "{why}");

    // A damaged backup is refused, and nothing is written.
    let mut bytes = std::fs::read(&copy).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 4096] {
        *b = 0xA5;
    }
    let damaged = dir.path().join("damaged.sqlite3");
    std::fs::write(&damaged, &bytes).unwrap();
    let target = dir.path().join("never").join("relay.sqlite3");
    let mut refuse = relay(&target);
    refuse.arg("restore").arg(&damaged);
    let (ok, _, why) = run(refuse).await;
    assert!(!ok && why.contains("not restored"), "{why}");
    assert!(!target.exists(), "nothing written for a damaged backup");
    let mut refuse = relay(&target);
    refuse.arg("restore").arg(dir.path().join("no-such-file"));
    let (ok, _, _) = run(refuse).await;
    assert!(!ok);
    assert!(!target.exists());
}
