//! Alive and ready are apart: `/healthz` answers while the process runs, `/readyz` only while
//! its database answers. With PostgreSQL taken away from under a running relay, `/readyz` and
//! `malipo-relay check` say not ready (503, exit 1) and come back by themselves when it returns.

use std::process::Stdio;
use std::time::Duration;

use sqlx::{Connection, Executor};

use malipo_test_support as support;
use support::{free_port, wait_healthy};

fn relay(db: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_malipo-relay"));
    c.env("MALIPO_RELAY_DATABASE_URL", db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    c
}

/// `malipo-relay check --url BASE`: whether it exited 0, and what it printed.
async fn check(base: &str) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_malipo-relay"))
        .args(["check", "--url", base])
        // The check asks over HTTP: it needs no database of its own.
        .env(
            "MALIPO_RELAY_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .output()
        .await
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// `/readyz`'s status code and body, polled until `done` holds (with a deadline).
async fn readyz_until(
    http: &reqwest::Client,
    base: &str,
    done: impl Fn(u16) -> bool,
) -> (u16, serde_json::Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = http.get(format!("{base}/readyz")).send().await.unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        if done(status) {
            return (status, body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readyz stayed {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn readiness_follows_the_database_and_comes_back_by_itself() {
    let db = support::postgres_database().await;
    let name = db.rsplit('/').next().unwrap().to_owned();
    let admin_url = format!("{}/postgres", db.rsplit_once('/').unwrap().0);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut serve = relay(&db);
    serve
        .arg("serve")
        .env("MALIPO_RELAY_LISTEN", format!("127.0.0.1:{port}"));
    let _child = serve.spawn().unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_healthy(&http, &format!("{base}/healthz")).await;

    let (status, body) = readyz_until(&http, &base, |s| s == 200).await;
    assert_eq!(body["status"], "ready", "{status} {body}");
    let (ok, said) = check(&base).await;
    assert!(ok && said.trim() == "ready", "{said}");

    // The database goes away: no new connection, and the relay's own are ended.
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false"
        )))
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )))
        .await
        .unwrap();
    let (_, body) = readyz_until(&http, &base, |s| s == 503).await;
    assert_eq!(body["status"], "not_ready", "{body}");
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.contains("database"), "{reason}");
    assert!(
        !reason.contains("127.0.0.1") && !reason.contains(&name),
        "the reason names no host or database: {reason}"
    );
    let alive = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(alive.status().as_u16(), 200, "alive all the same");
    let (ok, said) = check(&base).await;
    assert!(!ok && said.contains("not ready"), "{said}");

    // Back: ready again without a restart.
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS true"
        )))
        .await
        .unwrap();
    let (_, body) = readyz_until(&http, &base, |s| s == 200).await;
    assert_eq!(body["status"], "ready", "{body}");
    let (ok, said) = check(&base).await;
    assert!(ok, "{said}");

    // Nothing answers at all: the check says so and fails.
    let (ok, said) = check(&format!("http://127.0.0.1:{}", free_port())).await;
    assert!(!ok && said.contains("does not answer"), "{said}");
}
