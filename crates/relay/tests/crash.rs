//! The relay killed with SIGKILL again and again while callbacks stream in: every callback it
//! answered 200 must be in the feed afterwards, exactly once, and the numbering must have no
//! gaps.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use malipo_test_support as support;
use support::{free_port, wait_healthy};

fn relay_cmd(db: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_malipo-relay"));
    c.env("MALIPO_RELAY_DATABASE_URL", db)
        .env("MALIPO_RELAY_RATE_LIMIT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    c
}

async fn json_of(mut cmd: tokio::process::Command) -> Value {
    let out = cmd.output().await.unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn on_sqlite_every_callback_answered_200_survives_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    survives_sigkill(&dir.path().join("relay.sqlite3").display().to_string()).await;
}

#[tokio::test]
async fn on_postgres_every_callback_answered_200_survives_sigkill_exactly_once() {
    survives_sigkill(&support::postgres_database().await).await;
}

async fn survives_sigkill(db: &str) {
    let mut create = relay_cmd(db);
    create.args(["tenant", "create", "--name", "Jubilee"]);
    let tenant = json_of(create).await;
    let mut add = relay_cmd(db);
    add.args([
        "device",
        "add",
        "--tenant",
        tenant["id"].as_str().unwrap(),
        "--name",
        "counter",
    ]);
    let token = json_of(add).await["token"].as_str().unwrap().to_owned();
    let path = tenant["daraja_callback_url"]
        .as_str()
        .unwrap()
        .split_once("/hooks/")
        .unwrap()
        .1
        .to_owned();

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut answered: HashSet<String> = HashSet::new();
    for round in 0..5 {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut serve = relay_cmd(db);
        serve
            .arg("serve")
            .env("MALIPO_RELAY_LISTEN", format!("127.0.0.1:{port}"));
        let mut child = serve.spawn().unwrap();
        wait_healthy(&http, &format!("{base}/healthz")).await;
        let url = format!("{base}/hooks/{path}");
        // Eight senders stream callbacks until the relay dies under them.
        let mut senders = Vec::new();
        for s in 0..8 {
            let http = http.clone();
            let url = url.clone();
            senders.push(tokio::spawn(async move {
                let mut ok = Vec::new();
                for i in 0_u64.. {
                    let id = format!("ws_CO_{round}_{s}_{i}");
                    let body = json!({"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": id, "ResultCode": 1032, "ResultDesc": "x"}}});
                    match http.post(&url).json(&body).send().await {
                        Ok(r) if r.status().is_success() => ok.push(id),
                        Ok(_) => {}
                        Err(_) => return ok,
                    }
                }
                ok
            }));
        }
        tokio::time::sleep(Duration::from_millis(400 + 150 * round)).await;
        child.kill().await.unwrap(); // SIGKILL: no shutdown, no flush
        for s in senders {
            answered.extend(s.await.unwrap());
        }
    }
    assert!(
        answered.len() > 100,
        "the test must exercise the relay: only {} answered",
        answered.len()
    );

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut serve = relay_cmd(db);
    serve
        .arg("serve")
        .env("MALIPO_RELAY_LISTEN", format!("127.0.0.1:{port}"));
    let mut child = serve.spawn().unwrap();
    wait_healthy(&http, &format!("{base}/healthz")).await;
    let mut seen: Vec<String> = Vec::new();
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
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        for e in events {
            assert_eq!(e["seq"].as_i64().unwrap(), seen.len() as i64 + 1, "no gaps");
            // stk:CHECKOUT:DIGEST
            let key = e["dedup_key"].as_str().unwrap().trim_start_matches("stk:");
            seen.push(key.rsplit_once(':').unwrap().0.to_owned());
        }
        after = page["next"].as_i64().unwrap();
    }
    child.kill().await.unwrap();
    let stored: HashSet<&String> = seen.iter().collect();
    assert_eq!(stored.len(), seen.len(), "no callback is stored twice");
    for id in &answered {
        assert!(
            stored.contains(id),
            "{id} was answered 200 but is not in the feed"
        );
    }
    println!(
        "{} callbacks answered 200 across 5 SIGKILLs; {} stored",
        answered.len(),
        seen.len()
    );
}
