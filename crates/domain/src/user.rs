//! Users and what their roles allow. Roles nest: a manager can do what a clerk can, and an
//! admin what a manager can.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Clerk,
    Manager,
    Admin,
}

/// Things a signed-in user may try to do.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// See the office's payments, policies, schedules, refunds, messages and settings.
    Read,
    TakePayment,
    ManagePolicies,
    RequestRefund,
    ApproveRefund,
    /// Sign off a clerk's cash-up (the drawer counted at the end of the day).
    SignOffCash,
    /// Set a policy's collection instruction (a saved card charged, an M-Pesa prompt sent on the
    /// due day), with the holder's consent.
    SetCollection,
    /// Make a lapsed policy active again (when the office leaves that to a manager).
    ReinstatePolicy,
    ResolveReview,
    ViewAuditLog,
    ViewReports,
    ManageUsers,
    ManageSettings,
}

impl Action {
    fn least_role(self) -> Role {
        match self {
            Action::Read | Action::TakePayment | Action::ManagePolicies | Action::RequestRefund => {
                Role::Clerk
            }
            Action::ApproveRefund
            | Action::SignOffCash
            | Action::SetCollection
            | Action::ReinstatePolicy
            | Action::ResolveReview
            | Action::ViewAuditLog
            | Action::ViewReports => Role::Manager,
            Action::ManageUsers | Action::ManageSettings => Role::Admin,
        }
    }

    /// Every action, in the order of the role table.
    pub const ALL: [Action; 13] = [
        Action::Read,
        Action::TakePayment,
        Action::ManagePolicies,
        Action::RequestRefund,
        Action::ApproveRefund,
        Action::SignOffCash,
        Action::SetCollection,
        Action::ReinstatePolicy,
        Action::ResolveReview,
        Action::ViewAuditLog,
        Action::ViewReports,
        Action::ManageUsers,
        Action::ManageSettings,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Action::Read => "see payments, policies, refunds and messages",
            Action::TakePayment => "take payments",
            Action::ManagePolicies => "add or change policies",
            Action::RequestRefund => "request refunds",
            Action::ApproveRefund => "approve or reject refunds",
            Action::SignOffCash => "sign off clerks' cash-ups",
            Action::SetCollection => "set how a policy's premiums are collected",
            Action::ReinstatePolicy => "reinstate lapsed policies",
            Action::ResolveReview => "resolve payments under review",
            Action::ViewAuditLog => "read the audit log",
            Action::ViewReports => "see the office's and the company's summaries",
            Action::ManageUsers => "manage users",
            Action::ManageSettings => "change settings",
        }
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn permits(self, action: Action) -> bool {
        self >= action.least_role()
    }

    /// The least role that may do `action`, for "ask a manager" messages.
    pub fn needed_for(action: Action) -> Role {
        action.least_role()
    }
}

impl FromStr for Role {
    type Err = UserError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "clerk" => Ok(Role::Clerk),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            _ => Err(UserError::Role(s.to_owned())),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("unknown role '{0}'; use clerk, manager or admin")]
    Role(String),
    #[error(
        "a username is 2 to 32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter"
    )]
    Username,
    #[error("a password needs at least 8 characters")]
    PasswordTooShort,
}

/// A sign-in name: lower case, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Username, UserError> {
        let name = input.trim().to_ascii_lowercase();
        let ok = (2..=32).contains(&name.len())
            && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if ok {
            Ok(Username(name))
        } else {
            Err(UserError::Username)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The one rule on passwords: long enough. Hashing is the services' job.
pub fn check_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < 8 {
        Err(UserError::PasswordTooShort)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest() {
        assert!(Role::Clerk.permits(Action::TakePayment));
        assert!(
            !Role::Clerk.permits(Action::ApproveRefund),
            "a clerk cannot approve refunds"
        );
        assert!(Role::Manager.permits(Action::ApproveRefund));
        assert!(!Role::Manager.permits(Action::ManageUsers));
        assert!(Role::Admin.permits(Action::ManageSettings));
        assert!(Role::Admin.permits(Action::TakePayment));
    }

    #[test]
    fn every_action_is_listed_once() {
        // A new action does not compile here until it has a place; then ALL must hold it.
        fn place(a: Action) -> usize {
            match a {
                Action::Read => 0,
                Action::TakePayment => 1,
                Action::ManagePolicies => 2,
                Action::RequestRefund => 3,
                Action::ApproveRefund => 4,
                Action::SignOffCash => 5,
                Action::SetCollection => 6,
                Action::ReinstatePolicy => 7,
                Action::ResolveReview => 8,
                Action::ViewAuditLog => 9,
                Action::ViewReports => 10,
                Action::ManageUsers => 11,
                Action::ManageSettings => 12,
            }
        }
        let mut seen = [0; Action::ALL.len()];
        for a in Action::ALL {
            seen[place(a)] += 1;
        }
        assert_eq!(seen, [1; Action::ALL.len()]);
        assert!(Role::Clerk.permits(Action::Read));
    }

    #[test]
    fn usernames_are_tidy() {
        assert_eq!(Username::parse(" Amina.W ").unwrap().as_str(), "amina.w");
        assert!(Username::parse("1amina").is_err());
        assert!(Username::parse("a").is_err());
        assert!(Username::parse("amina wanjiru").is_err());
        assert_eq!(check_password("short"), Err(UserError::PasswordTooShort));
    }
}
