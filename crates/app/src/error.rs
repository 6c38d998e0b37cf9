use std::fmt;

use serde::Serialize;

use malipo_store::StoreError;

/// What kind of failure, for callers that branch on it (the UI, the CLI's exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// What was typed is wrong; the message says how.
    InvalidInput,
    NotFound,
    /// It already exists, or it clashes with what is recorded.
    Conflict,
    /// Nobody is signed in, or the password is wrong.
    Unauthenticated,
    /// Signed in, but the role does not allow it.
    Forbidden,
    /// A provider could not be reached or refused the request; the message says what to do.
    Provider,
    Internal,
}

/// An error as a person sees it: a code and one sentence saying what to do next.
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

    pub fn invalid(field: &str, err: impl fmt::Display) -> AppError {
        AppError::new(ErrorCode::InvalidInput, format!("{field}: {err}"))
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        let code = match &e {
            StoreError::Duplicate(_) => ErrorCode::Conflict,
            StoreError::NotFound(_) => ErrorCode::NotFound,
            StoreError::Refused(_) | StoreError::Transition(_) | StoreError::Refund(_) => {
                ErrorCode::Conflict
            }
            StoreError::Db(_) | StoreError::Migrate(_) | StoreError::Corrupt(_) => {
                ErrorCode::Internal
            }
        };
        AppError::new(code, e.to_string())
    }
}
