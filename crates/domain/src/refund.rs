//! Refunds: requested by a clerk, decided by a manager, carried out by the provider.
//!
//! ```text
//! requested ──approve──▶ approved ──submitted──▶ processing ──processed──▶ processed
//!     │                     │                        └────────failed─────▶ failed
//!     └──reject──▶ rejected └──failed (provider refused the request)──▶ failed
//! ```
//! A payment may have several refunds; together they never exceed what was paid
//! ([`check_amount`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Requested,
    Approved,
    Rejected,
    Processing,
    Processed,
    Failed,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 6] = [
        RefundStatus::Requested,
        RefundStatus::Approved,
        RefundStatus::Rejected,
        RefundStatus::Processing,
        RefundStatus::Processed,
        RefundStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Requested => "requested",
            RefundStatus::Approved => "approved",
            RefundStatus::Rejected => "rejected",
            RefundStatus::Processing => "processing",
            RefundStatus::Processed => "processed",
            RefundStatus::Failed => "failed",
        }
    }

    /// Whether this refund's amount is spoken for: it may still be, or has been, paid out.
    pub fn holds_amount(self) -> bool {
        match self {
            RefundStatus::Requested
            | RefundStatus::Approved
            | RefundStatus::Processing
            | RefundStatus::Processed => true,
            RefundStatus::Rejected | RefundStatus::Failed => false,
        }
    }
}

impl FromStr for RefundStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RefundStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown refund status '{s}'"))
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundEvent {
    Approve,
    Reject,
    /// The provider accepted the refund request and is carrying it out.
    Submitted,
    Processed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    #[error("a {from} refund cannot be {event}")]
    Illegal {
        from: RefundStatus,
        event: &'static str,
    },
    #[error("only {available} can still be refunded on this payment")]
    Exceeds { available: String },
    #[error("only a paid payment can be refunded")]
    NotPaid,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The next refund status, or `None` when the event repeats what is already recorded.
pub fn transition(
    status: RefundStatus,
    event: RefundEvent,
) -> Result<Option<RefundStatus>, RefundError> {
    use RefundEvent as E;
    use RefundStatus as S;
    let name = match event {
        E::Approve => "approved",
        E::Reject => "rejected",
        E::Submitted => "submitted",
        E::Processed => "processed",
        E::Failed => "failed",
    };
    let illegal = Err(RefundError::Illegal {
        from: status,
        event: name,
    });
    match (status, event) {
        (S::Requested, E::Approve) => Ok(Some(S::Approved)),
        (S::Requested, E::Reject) => Ok(Some(S::Rejected)),
        (S::Requested, E::Submitted | E::Processed | E::Failed) => illegal,
        (S::Approved, E::Submitted) => Ok(Some(S::Processing)),
        (S::Approved, E::Processed) => Ok(Some(S::Processed)),
        (S::Approved, E::Failed) => Ok(Some(S::Failed)),
        (S::Approved, E::Approve | E::Reject) => illegal,
        (S::Processing, E::Submitted) => Ok(None),
        (S::Processing, E::Processed) => Ok(Some(S::Processed)),
        (S::Processing, E::Failed) => Ok(Some(S::Failed)),
        (S::Processing, E::Approve | E::Reject) => illegal,
        (S::Processed, E::Processed) => Ok(None),
        (S::Processed, E::Approve | E::Reject | E::Submitted | E::Failed) => illegal,
        (S::Failed, E::Failed) => Ok(None),
        (S::Failed, E::Approve | E::Reject | E::Submitted | E::Processed) => illegal,
        (S::Rejected, E::Reject) => Ok(None),
        (S::Rejected, E::Approve | E::Submitted | E::Processed | E::Failed) => illegal,
    }
}

/// What is left to refund on a payment of `paid`, given its earlier refunds.
pub fn refundable(paid: Money, earlier: &[(RefundStatus, Money)]) -> Result<Money, RefundError> {
    let mut held = Money::zero(paid.currency());
    for (status, amount) in earlier {
        if status.holds_amount() {
            held = held.checked_add(*amount)?;
        }
    }
    paid.checked_sub(held).map_err(|_| RefundError::Exceeds {
        available: Money::zero(paid.currency()).to_string(),
    })
}

/// Refuses a refund of `requested` that, with the earlier ones, would exceed `paid`.
pub fn check_amount(
    paid: Money,
    earlier: &[(RefundStatus, Money)],
    requested: Money,
) -> Result<(), RefundError> {
    let available = refundable(paid, earlier)?;
    if requested.currency() != paid.currency() {
        return Err(MoneyError::CurrencyMismatch(requested.currency(), paid.currency()).into());
    }
    if requested.minor() > available.minor() {
        return Err(RefundError::Exceeds {
            available: available.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;

    fn kes(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Kes).unwrap()
    }

    #[test]
    fn the_workflow_runs_in_order() {
        let mut s = RefundStatus::Requested;
        for ev in [
            RefundEvent::Approve,
            RefundEvent::Submitted,
            RefundEvent::Processed,
        ] {
            s = transition(s, ev).unwrap().unwrap();
        }
        assert_eq!(s, RefundStatus::Processed);
        assert!(
            transition(RefundStatus::Requested, RefundEvent::Processed).is_err(),
            "money never leaves before a manager approves"
        );
        assert!(transition(RefundStatus::Rejected, RefundEvent::Approve).is_err());
        assert_eq!(
            transition(RefundStatus::Processed, RefundEvent::Processed),
            Ok(None)
        );
    }

    #[test]
    fn partial_refunds_never_exceed_what_was_paid() {
        let paid = kes(150_000);
        let earlier = [
            (RefundStatus::Processed, kes(50_000)),
            (RefundStatus::Rejected, kes(150_000)),
            (RefundStatus::Requested, kes(40_000)),
        ];
        assert_eq!(refundable(paid, &earlier), Ok(kes(60_000)));
        assert_eq!(check_amount(paid, &earlier, kes(60_000)), Ok(()));
        assert_eq!(
            check_amount(paid, &earlier, kes(60_001)),
            Err(RefundError::Exceeds {
                available: "KES 600.00".into()
            })
        );
    }

    proptest! {
        #[test]
        fn accepted_refunds_always_sum_within_the_payment(
            amounts in prop::collection::vec(1_i64..100_000, 0..20)
        ) {
            let paid = kes(150_000);
            let mut accepted: Vec<(RefundStatus, Money)> = Vec::new();
            for a in amounts {
                if check_amount(paid, &accepted, kes(a)).is_ok() {
                    accepted.push((RefundStatus::Processed, kes(a)));
                }
            }
            let total: i64 = accepted.iter().map(|(_, m)| m.minor()).sum();
            prop_assert!(total <= paid.minor());
        }
    }
}
