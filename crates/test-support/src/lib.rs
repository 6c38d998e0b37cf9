//! What the relay's tests and the end-to-end journeys share: a PostgreSQL server to run against, free ports, Paystack's
//! signature.
//!
//! `MALIPO_TEST_POSTGRES_URL` names an existing server to use; otherwise the first test that
//! needs one starts a throwaway server with `scripts/pg-ephemeral`, which stops when this test
//! process exits. Each test gets a database of its own.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use sqlx::{Connection, Executor};

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Paystack's `x-paystack-signature` for `body`: lowercase hex HMAC-SHA512 keyed with the secret.
pub fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn server_url() -> &'static str {
    static SERVER: OnceLock<(Option<Child>, String)> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            if let Ok(url) = std::env::var("MALIPO_TEST_POSTGRES_URL")
                && !url.is_empty()
            {
                return (None, url);
            }
            // The repository's scripts/, found from whichever crate these tests belong to.
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .map(|d| d.join("scripts/pg-ephemeral"))
                .find(|p| p.exists())
                .expect("scripts/pg-ephemeral is in the repository");
            // A port found free can be taken by another test's server before PostgreSQL
            // binds it (initdb takes seconds): then the server is started again on another.
            for _ in 0..3 {
                let mut child = Command::new(&script)
                    .arg(free_port().to_string())
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
                let mut line = String::new();
                std::io::BufReader::new(child.stdout.take().unwrap())
                    .read_line(&mut line)
                    .unwrap();
                if line.starts_with("postgres://") {
                    // The child keeps its stdin open for as long as this process lives.
                    return (Some(child), line.trim().to_owned());
                }
                let _ = child.wait();
            }
            panic!(
                "scripts/pg-ephemeral did not start PostgreSQL three times (see its messages above)"
            )
        })
        .1
}

/// Waits (at most 20 s) until `url` answers 2xx.
pub async fn wait_healthy(http: &reqwest::Client, url: &str) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{url} did not come up");
}

/// The URL of a new, empty database on the test server.
pub async fn postgres_database() -> String {
    let server = server_url();
    let mut bytes = [0_u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let name: String = std::iter::once("relay_test_".to_owned())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    let mut admin = sqlx::PgConnection::connect(server).await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    format!("{base}/{name}")
}
