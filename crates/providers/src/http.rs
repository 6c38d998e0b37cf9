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

/// A provider's HTTP client, or why none could be made (building fails only when the TLS
/// backend cannot start): then every request fails with that reason, as a transport failure,
/// instead of the process stopping.
#[derive(Debug, Clone)]
pub(crate) struct Http(Result<reqwest::Client, Transport>);

impl Http {
    pub(crate) fn new(timeout: Duration) -> Http {
        Http(
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(Duration::from_secs(10))
                .user_agent(concat!("malipo/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Transport(format!("no HTTP client could be made: {e}"))),
        )
    }

    pub(crate) fn client(&self) -> Result<&reqwest::Client, Transport> {
        self.0.as_ref().map_err(Clone::clone)
    }
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
