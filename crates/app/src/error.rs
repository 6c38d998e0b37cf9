//! The services' errors, typed: callers branch on the variant, never on the text. The edges (the
//! desktop's commands, the CLI) turn an [`Error`] into an [`AppError`], the `{code, message}`
//! the UI and scripts see, and add their own hints (the CLI names its flags; no service does).

use std::fmt;

use serde::Serialize;

use malipo_domain::{Money, TxStatus};
use malipo_providers::daraja::DarajaError;
use malipo_providers::paystack::PaystackError;
use malipo_store::StoreError;

use crate::relay::RelayError;

/// What went wrong in a service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// What was typed is wrong; `reason` says how.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    /// No policy has this number.
    #[error("no policy {0}")]
    UnknownPolicy(String),
    /// It clashes with what is recorded: it exists already, or its state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// The same payment (policy, payer, amount) was started moments ago: most likely a double
    /// charge. Sent only when the clerk insists.
    #[error(
        "{number} for {amount} from {payer} was started {seconds} seconds ago (now {}); check with the customer before charging again",
        .status.as_str().replace('_', " ")
    )]
    LikelyRepeat {
        number: String,
        amount: Money,
        payer: String,
        seconds: i64,
        status: TxStatus,
    },
    /// Too many in too short a time (a clerk's payments a minute, sign-in attempts): wait.
    #[error("{0}")]
    RateLimited(String),
    /// The username or password is wrong.
    #[error("{0}")]
    Unauthenticated(String),
    /// Nobody is signed in, and this needs someone who is.
    #[error("sign in first")]
    SignInRequired,
    /// Signed in, but the role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// A provider or the relay is not configured; `missing` names the settings to give.
    #[error("{what} {} not set up on this office: set {}", if .what.ends_with('s') { "are" } else { "is" }, .missing.join(", "))]
    NotConfigured {
        what: &'static str,
        missing: Vec<&'static str>,
    },
    /// A request may have reached the provider although no answer came: the payment (or
    /// refund) stays open until the provider is asked where it stands.
    #[error("{cause}. {subject} {advice}")]
    Unconfirmed {
        subject: String,
        cause: String,
        advice: &'static str,
    },
    #[error(transparent)]
    Daraja(#[from] DarajaError),
    #[error(transparent)]
    Paystack(#[from] PaystackError),
    #[error(transparent)]
    Relay(#[from] RelayError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The receipt could be neither printed nor opened for printing.
    #[error("{0}")]
    Printer(String),
    /// The company's update source could not be read, or its download fetched.
    #[error("{0}")]
    UpdateSource(String),
    /// Something that should not happen (an unreadable stored value, no randomness).
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &str, reason: impl fmt::Display) -> Error {
        Error::Invalid {
            field: field.to_owned(),
            reason: reason.to_string(),
        }
    }

    pub fn internal(what: impl fmt::Display) -> Error {
        Error::Internal(what.to_string())
    }

    /// The provider asks us to slow down (Daraja's spike arrest).
    pub fn is_provider_throttling(&self) -> bool {
        matches!(self, Error::Daraja(DarajaError::SpikeArrest))
    }

    /// A provider or the relay could not be reached or refused: worth trying again later, not
    /// a reason to stop everything else.
    pub fn is_provider(&self) -> bool {
        self.code() == ErrorCode::Provider || self.is_provider_throttling()
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Invalid { .. } | Error::NotConfigured { .. } => ErrorCode::InvalidInput,
            Error::NotFound(_) | Error::UnknownPolicy(_) => ErrorCode::NotFound,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::LikelyRepeat { .. } => ErrorCode::LikelyRepeat,
            Error::RateLimited(_) => ErrorCode::RateLimited,
            Error::Unauthenticated(_) | Error::SignInRequired => ErrorCode::Unauthenticated,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::Unconfirmed { .. } | Error::Printer(_) | Error::UpdateSource(_) => {
                ErrorCode::Provider
            }
            Error::Daraja(DarajaError::Invalid(_)) => ErrorCode::InvalidInput,
            Error::Daraja(DarajaError::SpikeArrest) => ErrorCode::RateLimited,
            Error::Daraja(_) => ErrorCode::Provider,
            Error::Paystack(PaystackError::Invalid(_)) => ErrorCode::InvalidInput,
            Error::Paystack(_) => ErrorCode::Provider,
            Error::Relay(e) => e.code(),
            Error::Store(e) => match e {
                StoreError::Duplicate(_) => ErrorCode::Conflict,
                StoreError::NotFound(_) => ErrorCode::NotFound,
                StoreError::Refused(_)
                | StoreError::Conflict(_)
                | StoreError::Transition(_)
                | StoreError::Refund(_) => ErrorCode::Conflict,
                StoreError::Db(_) | StoreError::Open(_) | StoreError::Corrupt(_) => {
                    ErrorCode::Internal
                }
            },
            Error::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// What kind of failure, for callers that branch on it (the UI, the CLI's exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// What was typed is wrong, or a setting is missing; the message says how.
    InvalidInput,
    NotFound,
    /// It already exists, or it clashes with what is recorded.
    Conflict,
    /// The same payment was started moments ago; send it again only if the customer agrees.
    LikelyRepeat,
    /// Too many requests: wait a moment before trying again.
    RateLimited,
    /// Nobody is signed in, or the password is wrong.
    Unauthenticated,
    /// Signed in, but the role does not allow it.
    Forbidden,
    /// A provider or the relay could not be reached or refused; the message says what to do.
    Provider,
    Internal,
}

/// An error as a person sees it: a code and one sentence saying what to do next. Made from an
/// [`Error`] at the edges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, ts_rs::TS)]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> AppError {
        AppError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl RelayError {
    /// The code a screen or the CLI shows for this failure.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            RelayError::Unauthorized(_) => ErrorCode::Unauthenticated,
            RelayError::Unreachable(_)
            | RelayError::Refused { .. }
            | RelayError::CursorAhead { .. }
            | RelayError::Unreadable(_) => ErrorCode::Provider,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use malipo_domain::Currency;

    #[test]
    fn a_likely_repeat_has_its_own_code_and_says_what_to_check() {
        let e = Error::LikelyRepeat {
            number: "HQ-000001".into(),
            amount: Money::from_minor(150_000, Currency::Kes).unwrap(),
            payer: "254708374149".into(),
            seconds: 12,
            status: TxStatus::AwaitingCustomer,
        };
        let shown = AppError::from(e);
        assert_eq!(shown.code, ErrorCode::LikelyRepeat);
        assert!(
            shown
                .message
                .contains("12 seconds ago (now awaiting customer)"),
            "{}",
            shown.message
        );
    }

    #[test]
    fn missing_settings_are_named_and_spike_arrest_is_throttling() {
        let e = Error::NotConfigured {
            what: "card payments",
            missing: vec!["MALIPO_PAYSTACK_SECRET_KEY"],
        };
        assert_eq!(
            e.to_string(),
            "card payments are not set up on this office: set MALIPO_PAYSTACK_SECRET_KEY"
        );
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        let spike = Error::from(DarajaError::SpikeArrest);
        assert!(spike.is_provider_throttling());
        assert_eq!(spike.code(), ErrorCode::RateLimited);
    }
}
