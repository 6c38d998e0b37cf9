//! The HTTP client shared by both providers: rustls, a timeout on every request.

use std::time::Duration;

/// Every provider request gives up after this long; the payment is then queried, not retried
/// blindly, because a push that timed out may still have reached the customer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A failure to talk to a provider at all (no answer, a broken connection, a body that is not
/// the provider's JSON).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Transport(pub String);

pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("malipo/", env!("CARGO_PKG_VERSION")))
        .build()
        // Building only fails when the TLS backend cannot start, which a fallback cannot fix.
        .unwrap_or_else(|_| reqwest::Client::new())
}

pub(crate) fn transport(what: &str, e: &reqwest::Error) -> Transport {
    let why = if e.is_timeout() {
        "no answer in time".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        // reqwest's Display includes the URL; ours never carry secrets (they go in headers).
        e.to_string()
    };
    Transport(format!("{what}: {why}"))
}
