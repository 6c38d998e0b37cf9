//! Spans: every provider call runs in a `provider` span naming the call and what it is for (a
//! payment's number, a refund, an M-Pesa code), and every sync round in a `sync` span, so a log
//! line says which payment it was about. Fields are numbers and codes, never a secret, a token
//! or a full phone number.

use std::fmt::Display;
use std::future::Future;
use std::time::Instant;

use tracing::Instrument;

/// Runs `call` to a provider (`"mpesa.stk_push"`, `"paystack.verify"`…) for `subject` in a
/// span, noting how long it took and how it ended.
pub(crate) async fn provider_call<T, E: Display>(
    call: &'static str,
    subject: impl Display,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let span = tracing::info_span!("provider", call, subject = %subject);
    async move {
        let started = Instant::now();
        let result = fut.await;
        let ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::info!(ms, "answered"),
            Err(e) => tracing::warn!(ms, error = %e, "failed"),
        }
        result
    }
    .instrument(span)
    .await
}

/// The span of one sync round of this office.
pub(crate) fn sync_round(office: impl Display) -> tracing::Span {
    tracing::info_span!("sync", office = %office)
}
