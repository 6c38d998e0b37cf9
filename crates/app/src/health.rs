//! Each provider's health, measured from Malipo's own calls: how many answered and how many
//! failed, by kind (no answer in time, unreachable, a server error, "system is busy"), over
//! the last minutes. An answer that refuses the request (a wrong phone number, a declined card)
//! is an answer: the provider is up.
//!
//! When M-Pesa is down the payment screen offers the ways round it (the paybill, or M-Pesa
//! through Paystack); the next call that is answered brings the normal route back by itself.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use malipo_providers::daraja::DarajaError;
use malipo_providers::paystack::PaystackError;

/// How far back health looks.
pub const WINDOW: Duration = Duration::minutes(5);
/// This many failures in a row, with nothing answered since, is down.
const DOWN_AFTER: usize = 2;

/// How one call to a provider ended, as far as the provider's health goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ended {
    /// The provider answered (yes, no, or "that request is wrong").
    Answered,
    /// No answer in time.
    Timeout,
    /// Could not be reached at all (or no access token could be had).
    Unreachable,
    /// HTTP 5xx.
    ServerError,
    /// "System is busy" / spike arrest (`500.003.02`).
    Busy,
}

/// What a provider error says about the provider's health.
pub trait Health {
    fn ended(&self) -> Ended;
}

fn transport(text: &str) -> Ended {
    // The providers' clients say "no answer in time" for a timeout.
    if text.contains("no answer in time") {
        Ended::Timeout
    } else {
        Ended::Unreachable
    }
}

impl Health for DarajaError {
    fn ended(&self) -> Ended {
        match self {
            DarajaError::Transport(t) => transport(&t.0),
            DarajaError::AuthUnavailable(_) => Ended::Unreachable,
            DarajaError::SpikeArrest => Ended::Busy,
            DarajaError::Provider { status, .. } if *status >= 500 => Ended::ServerError,
            _ => Ended::Answered,
        }
    }
}

impl Health for PaystackError {
    fn ended(&self) -> Ended {
        match self {
            PaystackError::Transport(t) => transport(&t.0),
            PaystackError::Provider { status, .. } if *status >= 500 => Ended::ServerError,
            _ => Ended::Answered,
        }
    }
}

impl Health for crate::Error {
    fn ended(&self) -> Ended {
        match self {
            crate::Error::Daraja(e) => e.ended(),
            crate::Error::Paystack(e) => e.ended(),
            _ => Ended::Answered,
        }
    }
}

/// One provider's health as the screens show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ProviderHealth {
    /// `mpesa` or `paystack`.
    pub provider: String,
    /// `up`, `degraded` (some calls failed), `down` (the latest calls all failed), or `unknown`
    /// (not called in the last minutes).
    pub state: String,
    /// Calls in the window, and how many failed by kind.
    pub calls: u32,
    pub timeouts: u32,
    pub unreachable: u32,
    pub server_errors: u32,
    pub busy: u32,
    /// When it last answered, and when it last failed.
    pub last_answered: Option<String>,
    pub last_failed: Option<String>,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::Answered => "answered",
            Ended::Timeout => "timeout",
            Ended::Unreachable => "unreachable",
            Ended::ServerError => "server_error",
            Ended::Busy => "busy",
        }
    }

    fn parse(text: &str) -> Ended {
        match text {
            "timeout" => Ended::Timeout,
            "unreachable" => Ended::Unreachable,
            "server_error" => Ended::ServerError,
            "busy" => Ended::Busy,
            _ => Ended::Answered,
        }
    }
}

/// `provider`'s health from its calls in the window before `now` (oldest first).
pub fn assess(
    provider: &str,
    calls: &[(OffsetDateTime, &str)],
    now: OffsetDateTime,
) -> ProviderHealth {
    let recent: Vec<(OffsetDateTime, Ended)> = calls
        .iter()
        .filter(|(at, _)| now - *at <= WINDOW)
        .map(|(at, e)| (*at, Ended::parse(e)))
        .collect();
    let count = |k: Ended| recent.iter().filter(|(_, e)| *e == k).count() as u32;
    let failed_in_a_row = recent
        .iter()
        .rev()
        .take_while(|(_, e)| *e != Ended::Answered)
        .count();
    let failures = recent.iter().filter(|(_, e)| *e != Ended::Answered).count();
    let state = if recent.is_empty() {
        "unknown"
    } else if failed_in_a_row > 0 && failed_in_a_row >= DOWN_AFTER.min(recent.len()) {
        "down"
    } else if failures > 0 {
        "degraded"
    } else {
        "up"
    };
    let last = |answered: bool| {
        recent
            .iter()
            .rev()
            .find(|(_, e)| (*e == Ended::Answered) == answered)
            .and_then(|(at, _)| {
                at.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
    };
    ProviderHealth {
        provider: provider.to_owned(),
        state: state.to_owned(),
        calls: recent.len() as u32,
        timeouts: count(Ended::Timeout),
        unreachable: count(Ended::Unreachable),
        server_errors: count(Ended::ServerError),
        busy: count(Ended::Busy),
        last_answered: last(true),
        last_failed: last(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_any_kind_are_up_and_failures_in_a_row_are_down() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let mut calls: Vec<(OffsetDateTime, &str)> = Vec::new();
        assert_eq!(assess("mpesa", &calls, t0).state, "unknown");
        calls.push((t0, "answered"));
        assert_eq!(assess("mpesa", &calls, t0).state, "up");
        calls.push((t0, "timeout"));
        assert_eq!(assess("mpesa", &calls, t0).state, "degraded");
        calls.push((t0, "server_error"));
        let h = assess("mpesa", &calls, t0);
        assert_eq!(
            (h.state.as_str(), h.timeouts, h.server_errors, h.calls),
            ("down", 1, 1, 3)
        );
        // One failure with nothing before it is down: the first call of the day failed.
        assert_eq!(assess("mpesa", &[(t0, "busy")], t0).state, "down");
        // One answer brings it back.
        calls.push((t0, "answered"));
        assert_eq!(assess("mpesa", &calls, t0).state, "degraded");
        // Old calls leave the window.
        assert_eq!(
            assess("mpesa", &calls, t0 + WINDOW + Duration::seconds(1)).state,
            "unknown"
        );
    }

    #[test]
    fn a_refused_request_is_an_answer_a_busy_or_unreachable_provider_is_not() {
        let refused = DarajaError::BadRequest {
            code: "400.002.02".into(),
            message: "Invalid PhoneNumber".into(),
        };
        assert_eq!(refused.ended(), Ended::Answered);
        assert_eq!(DarajaError::SpikeArrest.ended(), Ended::Busy);
        assert_eq!(
            DarajaError::Provider {
                status: 503,
                code: String::new(),
                message: String::new()
            }
            .ended(),
            Ended::ServerError
        );
        assert_eq!(
            DarajaError::AuthUnavailable("503".into()).ended(),
            Ended::Unreachable
        );
        assert_eq!(
            PaystackError::Rejected("Declined".into()).ended(),
            Ended::Answered
        );
    }
}
