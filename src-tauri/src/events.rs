//! What the services did that the window did not ask for, told to it as Tauri events, so the
//! screens listen instead of polling: a sync round or a messages pass that changed something
//! ([`CHANGED`], with what: `payments` or `messages`), and each step of a payment this window
//! started until it ends ([`PAYMENT`], the payment as it now stands).

use std::time::Duration;

use tauri::{AppHandle, Emitter};

use malipo_app::views::TransactionView;
use malipo_app::{Actor, App, SyncReport};

/// Something changed: `payments` (a sync round recorded or moved payments, refunds or paybill
/// arrivals) or `messages` (customer messages were sent, failed or skipped).
pub const CHANGED: &str = "malipo:changed";
/// A payment this window started moved; the payload is its view.
pub const PAYMENT: &str = "malipo:payment";

/// How often a payment in progress is asked about: its status, and Safaricom or Paystack once it
/// has been quiet too long (the services decide when to ask them).
const WATCH_EVERY: Duration = Duration::from_millis(1500);
/// A payment left open this long is no longer watched here (sync still settles it).
const WATCH_AT_MOST: Duration = Duration::from_secs(15 * 60);

/// Whether a sync round changed anything a screen shows.
pub fn round_changed(r: &SyncReport) -> bool {
    r.pulled
        + r.applied
        + r.queried
        + r.suspense
        + r.mpesa_pulled
        + r.payments_received
        + r.policies_received
        + r.orphans
        + r.suspect
        > 0
}

pub fn changed(handle: &AppHandle, what: &str) {
    if let Err(e) = handle.emit(CHANGED, what) {
        tracing::warn!(error = %e, what, "the window was not told of a change");
    }
}

/// Watches a payment the window started until it ends (or [`WATCH_AT_MOST`] passes), telling the
/// window each time it moves. A payment that is already over is told once.
pub fn watch_payment(handle: AppHandle, app: App, actor: Actor, started: &TransactionView) {
    if !started.open {
        return;
    }
    let number = started.number.clone();
    let mut last = (started.status, started.provider_receipt.clone());
    tauri::async_runtime::spawn(async move {
        let until = tokio::time::Instant::now() + WATCH_AT_MOST;
        while tokio::time::Instant::now() < until {
            tokio::time::sleep(WATCH_EVERY).await;
            match app.payment_status(&actor, &number).await {
                Ok(view) => {
                    let now = (view.status, view.provider_receipt.clone());
                    if now != last {
                        if let Err(e) = handle.emit(PAYMENT, &view) {
                            tracing::warn!(error = %e, payment = %number, "the window was not told");
                        }
                        last = now;
                    }
                    if !view.open {
                        return;
                    }
                }
                Err(e) => tracing::warn!(error = %e, payment = %number, "payment status"),
            }
        }
    });
}
