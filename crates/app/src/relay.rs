//! The relay as a device sees it: one HTTP client with this device's token, speaking the
//! protocol of `malipo_relay_api`.

use std::time::Duration;

use malipo_domain::Secret;
use malipo_relay_api as api;

/// A stream that has said nothing (not even its 15-second heartbeat) for this long is dead.
const STREAM_SILENCE: Duration = Duration::from_secs(45);
/// How many events one pull asks for.
const PULL_BATCH: u32 = 500;

/// What went wrong talking to the relay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("the relay cannot be reached ({0}); payments are kept here and sent when it is back")]
    Unreachable(String),
    #[error(
        "the relay does not accept this device's token ({0}); ask the relay's operator for a new one"
    )]
    Unauthorized(String),
    #[error("the relay refused (HTTP {status}): {message}")]
    Refused {
        status: u16,
        /// The relay's reason code (`Other` when it gave none this build knows).
        code: api::ProblemCode,
        message: String,
    },
    #[error(
        "this office has recorded events up to {cursor} but the relay's run only to {last}: it is another relay or a restored one; nothing was applied"
    )]
    CursorAhead { cursor: i64, last: i64 },
    #[error("the relay's answer could not be read: {0}")]
    Unreadable(String),
}

fn unreachable(e: &reqwest::Error) -> RelayError {
    let why = if e.is_timeout() {
        "no answer in time".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        e.to_string()
    };
    RelayError::Unreachable(why)
}

/// An HTTP `Date` header (`Mon, 30 Nov 2026 14:36:51 GMT`) as an instant.
fn http_date(text: &str) -> Option<time::OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// A certificate authority the office trusts for its relay besides the public ones (a relay
/// with the company's own CA, or a test proxy's): the PEM file `MALIPO_RELAY_CA_FILE` names,
/// read and checked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayCa {
    pub path: String,
    pem: Vec<u8>,
}

impl RelayCa {
    /// The largest certificate file read: bundles of a few authorities are tens of KiB.
    pub const MAX_BYTES: u64 = 1024 * 1024;

    /// Reads `path` (at most [`Self::MAX_BYTES`]: a certificate bundle, never a device that
    /// reads without end) and checks it holds at least one PEM certificate.
    pub fn load(path: &str) -> Result<RelayCa, String> {
        use std::io::Read;
        let mut pem = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(Self::MAX_BYTES + 1).read_to_end(&mut pem))
            .map_err(|e| format!("{path} cannot be read ({e})"))?;
        if pem.len() as u64 > Self::MAX_BYTES {
            return Err(format!(
                "{path} is larger than {} KiB: not a certificate file",
                Self::MAX_BYTES / 1024
            ));
        }
        match reqwest::Certificate::from_pem_bundle(&pem) {
            Ok(certs) if !certs.is_empty() => Ok(RelayCa {
                path: path.to_owned(),
                pem,
            }),
            _ => Err(format!("{path} holds no PEM certificate")),
        }
    }

    fn certificates(&self) -> Vec<reqwest::Certificate> {
        reqwest::Certificate::from_pem_bundle(&self.pem).unwrap_or_default()
    }
}

/// The relay as a device sees it. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct RelayClient {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl RelayClient {
    /// A client of the relay at `base` with the device `token`, trusting `ca` besides the
    /// public certificate authorities.
    pub fn new(base: &str, token: Secret, ca: Option<&RelayCa>) -> RelayClient {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("malipo/", env!("CARGO_PKG_VERSION")));
        for cert in ca.map(RelayCa::certificates).unwrap_or_default() {
            builder = builder.add_root_certificate(cert);
        }
        // With rustls and certificates already parsed, building cannot fail; were it to, the
        // default client (the public authorities only) is what remains.
        let http = builder.build().unwrap_or_default();
        RelayClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The relay's address, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The device token (the office signs receipt verification links with its hash).
    pub fn token(&self) -> &Secret {
        &self.token
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn refused(r: reqwest::Response) -> RelayError {
        RelayClient::refused_with_seq(r).await.0
    }

    /// The refusal, and with [`api::ProblemCode::CursorOutOfRange`] the tenant's last sequence
    /// number as the relay gave it.
    async fn refused_with_seq(r: reqwest::Response) -> (RelayError, Option<i64>) {
        let status = r.status();
        let problem: Option<api::Problem> = r.json().await.ok();
        let ahead = problem
            .as_ref()
            .filter(|p| p.error == api::ProblemCode::CursorOutOfRange)
            .map(|p| p.last_seq.unwrap_or(0));
        let (code, message) = problem.map_or_else(
            || (api::ProblemCode::Other, "no reason given".to_owned()),
            |p| (p.error, p.message),
        );
        let error = if status == reqwest::StatusCode::UNAUTHORIZED {
            RelayError::Unauthorized(message)
        } else {
            RelayError::Refused {
                status: status.as_u16(),
                code,
                message,
            }
        };
        (error, ahead)
    }

    /// Sends a request with this device's token, refusing any answer but a success.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RelayError> {
        let r = request
            .bearer_auth(self.token.expose())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        if !r.status().is_success() {
            return Err(RelayClient::refused(r).await);
        }
        Ok(r)
    }

    async fn json<T: serde::de::DeserializeOwned>(r: reqwest::Response) -> Result<T, RelayError> {
        r.json()
            .await
            .map_err(|e| RelayError::Unreadable(e.to_string()))
    }

    /// Events after `after`.
    pub async fn events(&self, after: i64) -> Result<api::EventPage, RelayError> {
        let query = api::EventsQuery {
            after,
            limit: PULL_BATCH,
        };
        let r = self
            .http
            .get(self.url(api::EVENTS))
            .query(&query)
            .bearer_auth(self.token.expose())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        if !r.status().is_success() {
            return Err(match RelayClient::refused_with_seq(r).await {
                (_, Some(last)) => RelayError::CursorAhead {
                    cursor: after,
                    last,
                },
                (e, _) => e,
            });
        }
        RelayClient::json(r).await
    }

    /// Pushes payments; the body is already encoded (the outbox sizes batches by bytes).
    pub async fn upload(&self, body: Vec<u8>) -> Result<api::UploadResult, RelayError> {
        let r = self
            .send(
                self.http
                    .post(self.url(api::TRANSACTIONS))
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await?;
        RelayClient::json(r).await
    }

    /// Whether the relay answers its health check (no token needed).
    pub async fn healthz(&self) -> Result<(), RelayError> {
        let r = self
            .http
            .get(self.url(api::HEALTHZ))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        if !r.status().is_success() {
            return Err(RelayClient::refused(r).await);
        }
        Ok(())
    }

    /// Asks the relay about this office's set-up; also returns the relay's clock (its `Date`
    /// header) and this machine's when the answer came, to compare.
    pub async fn check(
        &self,
        q: &api::DeviceCheck,
    ) -> Result<(api::DeviceCheckAnswer, Option<time::OffsetDateTime>), RelayError> {
        let r = self
            .send(
                self.http
                    .post(self.url(api::DEVICE_CHECK))
                    .json(q)
                    .timeout(Duration::from_secs(10)),
            )
            .await?;
        let date = r
            .headers()
            .get("date")
            .and_then(|v| v.to_str().ok())
            .and_then(http_date);
        Ok((RelayClient::json(r).await?, date))
    }

    /// Sends policies added or imported here to the company register; a register that refuses
    /// some (HTTP 422) answers with its report too, naming each.
    pub async fn upload_policies(&self, body: Vec<u8>) -> Result<api::RegisterReport, RelayError> {
        let r = self
            .http
            .post(self.url(api::POLICIES))
            .header("content-type", "application/json")
            .body(body)
            .bearer_auth(self.token.expose())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        if r.status() == reqwest::StatusCode::UNPROCESSABLE_ENTITY || r.status().is_success() {
            return RelayClient::json(r).await;
        }
        Err(RelayClient::refused(r).await)
    }

    /// The company register after `after`.
    pub async fn register(&self, after: i64) -> Result<api::RegisterPage, RelayError> {
        let q = api::FeedQuery {
            after,
            limit: api::MAX_FEED_PAGE,
        };
        let r = self
            .send(self.http.get(self.url(api::POLICIES)).query(&q))
            .await?;
        RelayClient::json(r).await
    }

    /// The company's payments after `after`, every counter's, in the relay's order.
    pub async fn payments(&self, after: i64) -> Result<api::PaymentPage, RelayError> {
        let q = api::FeedQuery {
            after,
            limit: api::MAX_FEED_PAGE,
        };
        let r = self
            .send(self.http.get(self.url(api::PAYMENTS)).query(&q))
            .await?;
        RelayClient::json(r).await
    }

    /// Claims `subject` for this device: the first device to claim it holds it for the
    /// company; asking again answers the same.
    pub async fn claim(&self, subject: &str) -> Result<api::ClaimAnswer, RelayError> {
        let claim = api::Claim {
            subject: subject.to_owned(),
        };
        let r = self
            .send(self.http.post(self.url(api::CLAIMS)).json(&claim))
            .await?;
        RelayClient::json(r).await
    }

    /// The company's suspense list: open paybill payments, or every one with `all`.
    pub async fn suspense(&self, all: bool) -> Result<Vec<api::SuspenseItem>, RelayError> {
        let r = self
            .send(
                self.http
                    .get(self.url(api::SUSPENSE))
                    .query(&[("all", all)]),
            )
            .await?;
        RelayClient::json(r).await
    }

    /// Puts a confirmed paybill payment no policy matched on the suspense list (once: adding
    /// it again changes nothing).
    pub async fn add_suspense(&self, item: &api::SuspenseItem) -> Result<(), RelayError> {
        self.send(self.http.post(self.url(api::SUSPENSE)).json(item))
            .await?;
        Ok(())
    }

    /// Decides a suspense payment for the company; a payment already decided is refused with
    /// HTTP 409 naming who decided it.
    pub async fn decide_suspense(
        &self,
        decision: &api::SuspenseDecision,
    ) -> Result<api::SuspenseItem, RelayError> {
        let r = self
            .send(
                self.http
                    .post(self.url(api::SUSPENSE_DECIDE))
                    .json(decision),
            )
            .await?;
        RelayClient::json(r).await
    }

    /// The company-wide summary of the payments every office uploaded.
    pub async fn company_summary(
        &self,
        query: &api::SummaryQuery,
    ) -> Result<api::CompanySummary, RelayError> {
        let r = self
            .send(self.http.get(self.url(api::SUMMARY)).query(query))
            .await?;
        RelayClient::json(r).await
    }

    /// Opens the event stream and returns once it announces an event after `cursor` (its
    /// greeting already may), or when `wait` has passed, or when it has been silent for
    /// [`STREAM_SILENCE`]; whatever happens the caller pulls next.
    pub async fn wait_for_wake(&self, cursor: i64, wait: Duration) -> Result<(), RelayError> {
        let deadline = tokio::time::Instant::now() + wait;
        let opened = self
            .http
            .get(self.url(api::EVENTS_STREAM))
            .bearer_auth(self.token.expose())
            .send();
        let mut r = match tokio::time::timeout_at(deadline, opened).await {
            Err(_) => return Ok(()),
            Ok(r) => r.map_err(|e| unreachable(&e))?,
        };
        if !r.status().is_success() {
            return Err(RelayClient::refused(r).await);
        }
        let mut seen = String::new();
        loop {
            let silence = tokio::time::Instant::now() + STREAM_SILENCE;
            let chunk = tokio::time::timeout_at(deadline.min(silence), r.chunk()).await;
            match chunk {
                Err(_) | Ok(Ok(None)) => return Ok(()),
                Ok(Err(e)) => return Err(unreachable(&e)),
                Ok(Ok(Some(bytes))) => {
                    seen.push_str(&String::from_utf8_lossy(&bytes));
                    // Whole messages only: each ends with a blank line.
                    while let Some(end) = seen.find("\n\n") {
                        let message: String = seen.drain(..end + 2).collect();
                        if wakes(&message, cursor) {
                            return Ok(());
                        }
                    }
                    // A relay that never ends a message must not grow this without bound.
                    if seen.len() > 64 * 1024 {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Whether a stream message is a wake announcing an event after `cursor`. A wake whose data
/// cannot be read counts (pulling is always safe).
fn wakes(message: &str, cursor: i64) -> bool {
    let named = message
        .lines()
        .any(|l| l.strip_prefix("event:").map(str::trim) == Some(api::WAKE_EVENT));
    if !named {
        return false;
    }
    let data: String = message
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .collect();
    serde_json::from_str::<api::Wake>(&data)
        .unwrap_or_default()
        .announces_after(cursor)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_certificate_file_is_read_only_so_far() {
        let endless = RelayCa::load("/dev/zero").unwrap_err();
        assert!(endless.contains("larger than 1024 KiB"), "{endless}");
        let missing = RelayCa::load("/no/such/ca.pem").unwrap_err();
        assert!(missing.contains("cannot be read"), "{missing}");
    }

    use super::{RelayCa, http_date, wakes};

    #[test]
    fn an_http_date_is_read_as_utc() {
        assert_eq!(
            http_date("Mon, 30 Nov 2026 14:36:51 GMT"),
            Some(time::macros::datetime!(2026-11-30 14:36:51 UTC))
        );
        assert_eq!(http_date("yesterday"), None);
    }

    #[test]
    fn a_wake_counts_only_when_it_is_past_the_cursor() {
        let wake = |n: i64| format!("event: wake\ndata: {{\"last_seq\":{n}}}\n\n");
        assert!(wakes(&wake(8), 7));
        assert!(!wakes(&wake(7), 7));
        assert!(!wakes(&wake(3), 7));
        assert!(wakes("event: wake\ndata: {}\n\n", 7), "a lost count pulls");
        assert!(!wakes(": keep-alive\n\n", 7), "a comment is not a wake");
    }
}
