//! Serving the relay to the public Internet, where any client may be hostile: slow headers are
//! cut off, slow bodies time out, connections are capped, and a shutdown drains (stops
//! accepting, lets open requests finish, ends event streams) within a bound.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::metrics::Metrics;

/// How much a client may take of the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request's headers must arrive within this long, and a kept-alive connection that
    /// sends nothing is closed after it.
    pub header_timeout: Duration,
    /// A request must be read and answered within this long (an event stream, once answered,
    /// runs on).
    pub request_timeout: Duration,
    /// Connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Event streams one device may hold open at once.
    pub streams_per_device: usize,
    /// On shutdown, how long open requests get to finish.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            streams_per_device: 4,
            drain: Duration::from_secs(8),
        }
    }
}

impl Limits {
    /// The defaults, changed by `MALIPO_RELAY_HEADER_TIMEOUT_SECS`,
    /// `MALIPO_RELAY_REQUEST_TIMEOUT_SECS`, `MALIPO_RELAY_MAX_CONNECTIONS` and
    /// `MALIPO_RELAY_STREAMS_PER_DEVICE`.
    pub fn from_env() -> Result<Limits, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            match std::env::var(name).ok().filter(|v| !v.trim().is_empty()) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Some)
                    .ok_or_else(|| format!("{name}={v} is not a positive whole number")),
            }
        };
        let mut limits = Limits::default();
        if let Some(s) = number("MALIPO_RELAY_HEADER_TIMEOUT_SECS")? {
            limits.header_timeout = Duration::from_secs(s);
        }
        if let Some(s) = number("MALIPO_RELAY_REQUEST_TIMEOUT_SECS")? {
            limits.request_timeout = Duration::from_secs(s);
        }
        if let Some(n) = number("MALIPO_RELAY_MAX_CONNECTIONS")? {
            limits.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = number("MALIPO_RELAY_STREAMS_PER_DEVICE")? {
            limits.streams_per_device = usize::try_from(n).unwrap_or(usize::MAX);
        }
        Ok(limits)
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, giving handlers each client's
/// address (`ConnectInfo<SocketAddr>`), then drains for at most [`Limits::drain`]: no new
/// connection is accepted, kept-alive connections close after their current request, and
/// whatever is still open after the drain is dropped. Open and refused connections are
/// counted in `metrics`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing, closed) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // At the cap: this one is closed at once.
            drop(stream);
            metrics.connection_refused();
            continue;
        };
        metrics.connection_opened();
        let metrics = Arc::clone(&metrics);
        let router = router.clone();
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                let mut request = request.map(axum::body::Body::new);
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(peer));
                router.clone().oneshot(request)
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let draining = tokio::select! {
                _ = connection.as_mut() => false,
                _ = async { let _ = closed.wait_for(|c| *c).await; } => true,
            };
            if draining {
                // Finish the request in hand (a callback waiting for its commit), then close.
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
            metrics.connection_closed();
            drop(slot);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // Every slot back means every connection is done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.drain, slots.acquire_many(all)).await;
    Ok(())
}
