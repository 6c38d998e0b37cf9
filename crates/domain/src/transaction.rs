//! The payment state machine.
//!
//! [`transition`] answers, for every status and every event, either the next status or an
//! error: there is no catch-all arm, so adding a status or an event forces a decision for each
//! pair. The rules that protect money:
//!
//! - a recorded success is never downgraded: a later query, or a contradicting callback,
//!   leaves it alone;
//! - a provider saying "paid" with another amount or currency than was asked goes to
//!   `needs_review`, never to `succeeded`;
//! - "paid" after a provider said "failed" or "cancelled" also goes to `needs_review`, because
//!   the customer may have been charged and a person must look;
//! - "paid" after we only gave up waiting (`timed_out`) is believed: the money arrived late.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::money::Money;

/// How the customer pays.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// M-Pesa Express: the STK prompt the counter sends.
    Mpesa,
    Card,
    /// M-Pesa Pay Bill: the customer paid from their own phone (C2B), proved by Transaction
    /// Status before it is recorded.
    Paybill,
    /// Notes and coins at the counter: paid the moment it is recorded, into the clerk's drawer.
    Cash,
    /// A cheque: pays provisionally when received, until the bank clears it or returns it.
    Cheque,
    /// A deposit into the company's bank account, brought as a slip: money only once a manager
    /// confirms it against the bank.
    Bank,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Mpesa => "mpesa",
            Method::Card => "card",
            Method::Paybill => "paybill",
            Method::Cash => "cash",
            Method::Cheque => "cheque",
            Method::Bank => "bank",
        }
    }

    /// Whether the money moved through M-Pesa (refunds are reversals).
    pub fn is_mpesa(self) -> bool {
        matches!(self, Method::Mpesa | Method::Paybill)
    }

    /// How long after the last word from the provider we stop waiting for the customer.
    /// An STK prompt lives about a minute; a Paystack checkout is abandoned after half an hour.
    pub fn give_up_after(self) -> Duration {
        match self {
            Method::Mpesa => Duration::minutes(10),
            Method::Card => Duration::minutes(30),
            // Recorded only once Safaricom has confirmed it, or paid as it is recorded: never
            // open.
            Method::Paybill | Method::Cash | Method::Cheque | Method::Bank => Duration::minutes(10),
        }
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mpesa" => Ok(Method::Mpesa),
            "card" => Ok(Method::Card),
            "paybill" => Ok(Method::Paybill),
            "cash" => Ok(Method::Cash),
            "cheque" => Ok(Method::Cheque),
            "bank" => Ok(Method::Bank),
            other => Err(format!(
                "unknown method '{other}'; use mpesa, card, paybill, cash, cheque or bank"
            )),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a payment stands.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    /// Created locally; the provider has not been asked yet (or the answer was lost).
    Pending,
    /// The provider accepted the request; the customer has to act (PIN or card).
    AwaitingCustomer,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    /// The provider's word does not match what was asked; a manager must decide.
    NeedsReview,
    Refunded,
    PartiallyRefunded,
    /// A bank slip waiting for a manager to find the money in the bank: not money yet.
    AwaitingConfirmation,
    /// A cheque the bank returned unpaid: the money never came. Its number and receipt stand,
    /// reversed.
    Bounced,
}

impl TxStatus {
    pub const ALL: [TxStatus; 11] = [
        TxStatus::Pending,
        TxStatus::AwaitingCustomer,
        TxStatus::Succeeded,
        TxStatus::Failed,
        TxStatus::Cancelled,
        TxStatus::TimedOut,
        TxStatus::NeedsReview,
        TxStatus::Refunded,
        TxStatus::PartiallyRefunded,
        TxStatus::AwaitingConfirmation,
        TxStatus::Bounced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TxStatus::Pending => "pending",
            TxStatus::AwaitingCustomer => "awaiting_customer",
            TxStatus::Succeeded => "succeeded",
            TxStatus::Failed => "failed",
            TxStatus::Cancelled => "cancelled",
            TxStatus::TimedOut => "timed_out",
            TxStatus::NeedsReview => "needs_review",
            TxStatus::Refunded => "refunded",
            TxStatus::PartiallyRefunded => "partially_refunded",
            TxStatus::AwaitingConfirmation => "awaiting_confirmation",
            TxStatus::Bounced => "bounced",
        }
    }

    /// Still waiting on the provider or the customer.
    pub fn is_open(self) -> bool {
        matches!(self, TxStatus::Pending | TxStatus::AwaitingCustomer)
    }

    /// Money was received and (at least partly) kept: a receipt may be printed as paid.
    pub fn is_paid(self) -> bool {
        matches!(self, TxStatus::Succeeded | TxStatus::PartiallyRefunded)
    }

    /// The payment did not go through.
    pub fn is_unsuccessful(self) -> bool {
        matches!(
            self,
            TxStatus::Failed | TxStatus::Cancelled | TxStatus::TimedOut | TxStatus::Bounced
        )
    }
}

impl FromStr for TxStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TxStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = TxStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown status '{s}'; use one of {}", all.join(", "))
            })
    }
}

impl fmt::Display for TxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the provider's word came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Pushed to us: an STK callback or a Paystack webhook.
    Callback,
    /// Asked by us: STK Push Query or Paystack verify.
    Query,
}

/// The ways a payment can fail to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Failed,
    Cancelled,
    TimedOut,
}

impl FailureKind {
    fn status(self) -> TxStatus {
        match self {
            FailureKind::Failed => TxStatus::Failed,
            FailureKind::Cancelled => TxStatus::Cancelled,
            FailureKind::TimedOut => TxStatus::TimedOut,
        }
    }
}

/// Something that happened to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxEvent {
    /// The provider accepted the request: the STK prompt was sent, or checkout was opened.
    Initiated,
    /// The provider refused the request before the customer saw anything.
    InitiationRefused,
    /// The provider says the customer paid `paid`.
    Paid { paid: Money, source: Source },
    /// The provider says the payment did not go through.
    NotPaid { kind: FailureKind, source: Source },
    /// A query found the payment still being processed (Daraja `500.001.1001`).
    StillPending,
    /// Processed refunds on this payment now add up to `refunded_total`.
    Refunded { refunded_total: Money },
    /// A manager decided a payment under review.
    ReviewResolved { paid: bool },
    /// Nobody has heard from the provider for long enough: stop waiting. Only allowed once
    /// [`Method::give_up_after`] has passed since `last_change`.
    GiveUp { last_change: OffsetDateTime },
    /// The bank returned a cheque unpaid.
    Bounced,
    /// A manager found a bank slip's money in the bank (`true`) or found it is not there.
    Confirmed { found: bool },
}

/// What an event does to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The payment moves to `to`. `assign_receipt` is true exactly when it becomes
    /// `succeeded` for the first time, which is when it gets its receipt number.
    Moved { to: TxStatus, assign_receipt: bool },
    /// Nothing changes; the reason is for the log.
    Unchanged(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a {from} payment cannot take the event {event}")]
    Illegal { from: TxStatus, event: &'static str },
    #[error("refunds of {refunded} would exceed the {paid} paid")]
    OverRefund { refunded: String, paid: String },
    #[error("a refund in {got} cannot apply to a payment in {want}")]
    RefundCurrency { got: String, want: String },
    #[error("still waiting for the customer; give up only after {0} minutes")]
    TooEarly(i64),
}

fn event_name(event: &TxEvent) -> &'static str {
    match event {
        TxEvent::Initiated => "initiated",
        TxEvent::InitiationRefused => "initiation_refused",
        TxEvent::Paid { .. } => "paid",
        TxEvent::NotPaid { .. } => "not_paid",
        TxEvent::StillPending => "still_pending",
        TxEvent::Refunded { .. } => "refunded",
        TxEvent::ReviewResolved { .. } => "review_resolved",
        TxEvent::GiveUp { .. } => "give_up",
        TxEvent::Bounced => "bounced",
        TxEvent::Confirmed { .. } => "confirmed",
    }
}

fn moved(to: TxStatus) -> Result<Outcome, TransitionError> {
    Ok(Outcome::Moved {
        to,
        assign_receipt: to == TxStatus::Succeeded,
    })
}

/// The next state of a payment of `expected` by `method` in `status` when `event` happens at
/// `now`.
pub fn transition(
    status: TxStatus,
    method: Method,
    expected: Money,
    event: TxEvent,
    now: OffsetDateTime,
) -> Result<Outcome, TransitionError> {
    use TxEvent as E;
    use TxStatus as S;
    let illegal = || {
        Err(TransitionError::Illegal {
            from: status,
            event: event_name(&event),
        })
    };
    let paid_as_asked = |paid: Money| paid == expected;
    match (status, event) {
        (S::Pending, E::Initiated) => moved(S::AwaitingCustomer),
        (S::Pending, E::InitiationRefused) => moved(S::Failed),
        (S::Pending | S::AwaitingCustomer, E::Paid { paid, .. }) => {
            if paid_as_asked(paid) {
                moved(S::Succeeded)
            } else {
                moved(S::NeedsReview)
            }
        }
        (S::Pending | S::AwaitingCustomer, E::NotPaid { kind, .. }) => moved(kind.status()),
        (S::Pending | S::AwaitingCustomer, E::StillPending) => Ok(Outcome::Unchanged(
            "the provider is still processing the payment",
        )),
        (S::Pending | S::AwaitingCustomer, E::GiveUp { last_change }) => {
            let wait = method.give_up_after();
            if now - last_change >= wait {
                moved(S::TimedOut)
            } else {
                Err(TransitionError::TooEarly(wait.whole_minutes()))
            }
        }
        (
            S::Pending | S::AwaitingCustomer,
            E::Refunded { .. } | E::ReviewResolved { .. } | E::Bounced | E::Confirmed { .. },
        ) => illegal(),

        (S::AwaitingCustomer, E::Initiated) => Ok(Outcome::Unchanged(
            "the provider had already accepted the request",
        )),
        (S::AwaitingCustomer, E::InitiationRefused) => illegal(),

        (S::Succeeded, E::Paid { .. }) => Ok(Outcome::Unchanged("the payment already succeeded")),
        (
            S::Succeeded,
            E::NotPaid {
                source: Source::Query,
                ..
            },
        ) => Ok(Outcome::Unchanged(
            "a query never downgrades a recorded success",
        )),
        (
            S::Succeeded,
            E::NotPaid {
                source: Source::Callback,
                ..
            },
        ) => Ok(Outcome::Unchanged(
            "a recorded success stands against a contradicting callback",
        )),
        (S::Succeeded | S::PartiallyRefunded | S::Refunded, E::StillPending) => {
            Ok(Outcome::Unchanged("the payment already succeeded"))
        }
        (S::Succeeded | S::PartiallyRefunded, E::Refunded { refunded_total }) => {
            refund_outcome(status, expected, refunded_total)
        }
        (
            S::Succeeded | S::PartiallyRefunded | S::Refunded,
            E::Initiated
            | E::InitiationRefused
            | E::ReviewResolved { .. }
            | E::GiveUp { .. }
            | E::Confirmed { .. },
        ) => illegal(),
        // Only a cheque bounces, and only while none of it has gone back as a refund.
        (S::Succeeded, E::Bounced) if method == Method::Cheque => moved(S::Bounced),
        (S::Succeeded | S::PartiallyRefunded | S::Refunded, E::Bounced) => illegal(),

        (S::PartiallyRefunded | S::Refunded, E::Paid { .. } | E::NotPaid { .. }) => Ok(
            Outcome::Unchanged("the payment already succeeded and was refunded"),
        ),
        (S::Refunded, E::Refunded { refunded_total }) => {
            if refunded_total == expected {
                Ok(Outcome::Unchanged("the payment is already fully refunded"))
            } else {
                // Processed refunds only ever add up; a different total is a bookkeeping error.
                illegal()
            }
        }

        (S::Failed | S::Cancelled, E::Paid { .. }) => moved(S::NeedsReview),
        (S::TimedOut, E::Paid { paid, .. }) => {
            if paid_as_asked(paid) {
                moved(S::Succeeded)
            } else {
                moved(S::NeedsReview)
            }
        }
        (S::Failed | S::Cancelled | S::TimedOut, E::NotPaid { .. } | E::StillPending) => Ok(
            Outcome::Unchanged("the payment already ended without being paid"),
        ),
        (
            S::Failed | S::Cancelled | S::TimedOut,
            E::Initiated
            | E::InitiationRefused
            | E::Refunded { .. }
            | E::ReviewResolved { .. }
            | E::GiveUp { .. }
            | E::Bounced
            | E::Confirmed { .. },
        ) => illegal(),

        (S::NeedsReview, E::ReviewResolved { paid: true }) => moved(S::Succeeded),
        (S::NeedsReview, E::ReviewResolved { paid: false }) => moved(S::Failed),
        (S::NeedsReview, E::Paid { .. } | E::NotPaid { .. } | E::StillPending) => Ok(
            Outcome::Unchanged("the payment is waiting for a manager's review"),
        ),
        (
            S::NeedsReview,
            E::Initiated
            | E::InitiationRefused
            | E::Refunded { .. }
            | E::GiveUp { .. }
            | E::Bounced
            | E::Confirmed { .. },
        ) => illegal(),

        (S::AwaitingConfirmation, E::Confirmed { found: true }) => moved(S::Succeeded),
        (S::AwaitingConfirmation, E::Confirmed { found: false }) => moved(S::Failed),
        // No provider speaks for a bank slip: only a manager's confirmation moves it.
        (
            S::AwaitingConfirmation,
            E::Initiated
            | E::InitiationRefused
            | E::Paid { .. }
            | E::NotPaid { .. }
            | E::StillPending
            | E::Refunded { .. }
            | E::ReviewResolved { .. }
            | E::GiveUp { .. }
            | E::Bounced,
        ) => illegal(),

        (S::Bounced, E::Bounced) => Ok(Outcome::Unchanged("the cheque already bounced")),
        (
            S::Bounced,
            E::Initiated
            | E::InitiationRefused
            | E::Paid { .. }
            | E::NotPaid { .. }
            | E::StillPending
            | E::Refunded { .. }
            | E::ReviewResolved { .. }
            | E::GiveUp { .. }
            | E::Confirmed { .. },
        ) => illegal(),
    }
}

fn refund_outcome(
    status: TxStatus,
    expected: Money,
    refunded_total: Money,
) -> Result<Outcome, TransitionError> {
    if refunded_total.currency() != expected.currency() {
        return Err(TransitionError::RefundCurrency {
            got: refunded_total.currency().to_string(),
            want: expected.currency().to_string(),
        });
    }
    if refunded_total.minor() > expected.minor() {
        return Err(TransitionError::OverRefund {
            refunded: refunded_total.to_string(),
            paid: expected.to_string(),
        });
    }
    if refunded_total.is_zero() {
        return Err(TransitionError::Illegal {
            from: status,
            event: "refunded",
        });
    }
    let to = if refunded_total == expected {
        TxStatus::Refunded
    } else {
        TxStatus::PartiallyRefunded
    };
    Ok(Outcome::Moved {
        to,
        assign_receipt: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-27 10:00 UTC);

    fn kes(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Kes).unwrap()
    }

    fn step(status: TxStatus, event: TxEvent) -> Result<Outcome, TransitionError> {
        transition(status, Method::Mpesa, kes(150_000), event, NOW)
    }

    fn to(status: TxStatus) -> Result<Outcome, TransitionError> {
        Ok(Outcome::Moved {
            to: status,
            assign_receipt: status == TxStatus::Succeeded,
        })
    }

    #[test]
    fn the_happy_path_assigns_one_receipt() {
        assert_eq!(
            step(TxStatus::Pending, TxEvent::Initiated),
            to(TxStatus::AwaitingCustomer)
        );
        let paid = TxEvent::Paid {
            paid: kes(150_000),
            source: Source::Callback,
        };
        assert_eq!(
            step(TxStatus::AwaitingCustomer, paid),
            Ok(Outcome::Moved {
                to: TxStatus::Succeeded,
                assign_receipt: true
            })
        );
        assert!(
            matches!(step(TxStatus::Succeeded, paid), Ok(Outcome::Unchanged(_))),
            "a duplicate callback must not assign a second receipt"
        );
    }

    #[test]
    fn a_query_never_downgrades_a_success() {
        for kind in [
            FailureKind::Failed,
            FailureKind::Cancelled,
            FailureKind::TimedOut,
        ] {
            let ev = TxEvent::NotPaid {
                kind,
                source: Source::Query,
            };
            assert!(matches!(
                step(TxStatus::Succeeded, ev),
                Ok(Outcome::Unchanged(_))
            ));
        }
    }

    #[test]
    fn a_different_amount_or_currency_needs_review() {
        let less = TxEvent::Paid {
            paid: kes(100_000),
            source: Source::Query,
        };
        assert_eq!(
            step(TxStatus::AwaitingCustomer, less),
            to(TxStatus::NeedsReview)
        );
        let ngn = Money::from_minor(150_000, Currency::Ngn).unwrap();
        let other = TxEvent::Paid {
            paid: ngn,
            source: Source::Callback,
        };
        assert_eq!(step(TxStatus::Pending, other), to(TxStatus::NeedsReview));
    }

    #[test]
    fn paid_after_a_provider_failure_needs_review_but_after_giving_up_is_believed() {
        let paid = TxEvent::Paid {
            paid: kes(150_000),
            source: Source::Callback,
        };
        assert_eq!(step(TxStatus::Cancelled, paid), to(TxStatus::NeedsReview));
        assert_eq!(step(TxStatus::Failed, paid), to(TxStatus::NeedsReview));
        assert_eq!(step(TxStatus::TimedOut, paid), to(TxStatus::Succeeded));
    }

    #[test]
    fn giving_up_waits_for_the_method_deadline() {
        let recent = TxEvent::GiveUp {
            last_change: NOW - Duration::minutes(3),
        };
        assert_eq!(
            step(TxStatus::AwaitingCustomer, recent),
            Err(TransitionError::TooEarly(10))
        );
        let old = TxEvent::GiveUp {
            last_change: NOW - Duration::minutes(11),
        };
        assert_eq!(
            step(TxStatus::AwaitingCustomer, old),
            to(TxStatus::TimedOut)
        );
        let card = transition(TxStatus::AwaitingCustomer, Method::Card, kes(1), old, NOW);
        assert_eq!(
            card,
            Err(TransitionError::TooEarly(30)),
            "a card checkout lives longer"
        );
    }

    #[test]
    fn refunds_move_to_partial_then_full_and_never_beyond() {
        let part = TxEvent::Refunded {
            refunded_total: kes(50_000),
        };
        let full = TxEvent::Refunded {
            refunded_total: kes(150_000),
        };
        let over = TxEvent::Refunded {
            refunded_total: kes(150_001),
        };
        assert_eq!(
            step(TxStatus::Succeeded, part),
            to(TxStatus::PartiallyRefunded)
        );
        assert_eq!(
            step(TxStatus::PartiallyRefunded, full),
            to(TxStatus::Refunded)
        );
        assert!(matches!(
            step(TxStatus::Succeeded, over),
            Err(TransitionError::OverRefund { .. })
        ));
        assert!(matches!(
            step(TxStatus::Failed, part),
            Err(TransitionError::Illegal { .. })
        ));
    }

    #[test]
    fn a_review_is_resolved_by_a_person() {
        let yes = TxEvent::ReviewResolved { paid: true };
        let no = TxEvent::ReviewResolved { paid: false };
        assert_eq!(step(TxStatus::NeedsReview, yes), to(TxStatus::Succeeded));
        assert_eq!(step(TxStatus::NeedsReview, no), to(TxStatus::Failed));
        assert!(step(TxStatus::Succeeded, yes).is_err());
    }

    #[test]
    fn only_a_cheque_bounces_and_only_before_any_refund() {
        let cheque = |status, event| transition(status, Method::Cheque, kes(150_000), event, NOW);
        assert_eq!(
            cheque(TxStatus::Succeeded, TxEvent::Bounced),
            to(TxStatus::Bounced)
        );
        assert!(matches!(
            cheque(TxStatus::Bounced, TxEvent::Bounced),
            Ok(Outcome::Unchanged(_))
        ));
        assert!(cheque(TxStatus::PartiallyRefunded, TxEvent::Bounced).is_err());
        assert!(
            step(TxStatus::Succeeded, TxEvent::Bounced).is_err(),
            "M-Pesa never bounces"
        );
        // A bounced cheque is not paid again by anything a provider says.
        let paid = TxEvent::Paid {
            paid: kes(150_000),
            source: Source::Callback,
        };
        assert!(cheque(TxStatus::Bounced, paid).is_err());
    }

    #[test]
    fn a_bank_slip_is_money_only_once_confirmed() {
        let slip = |event| {
            transition(
                TxStatus::AwaitingConfirmation,
                Method::Bank,
                kes(150_000),
                event,
                NOW,
            )
        };
        assert_eq!(
            slip(TxEvent::Confirmed { found: true }),
            Ok(Outcome::Moved {
                to: TxStatus::Succeeded,
                assign_receipt: true
            })
        );
        assert_eq!(
            slip(TxEvent::Confirmed { found: false }),
            to(TxStatus::Failed)
        );
        // A claim is not proof: nothing a provider or a callback says confirms a slip.
        let paid = TxEvent::Paid {
            paid: kes(150_000),
            source: Source::Callback,
        };
        assert!(slip(paid).is_err());
        assert!(!TxStatus::AwaitingConfirmation.is_paid());
    }

    fn any_status() -> impl Strategy<Value = TxStatus> {
        prop::sample::select(TxStatus::ALL.to_vec())
    }

    fn any_event() -> impl Strategy<Value = TxEvent> {
        let source = prop::sample::select(vec![Source::Callback, Source::Query]);
        let kind = prop::sample::select(vec![
            FailureKind::Failed,
            FailureKind::Cancelled,
            FailureKind::TimedOut,
        ]);
        let amount = prop::sample::select(vec![100_000_i64, 150_000, 200_000]);
        prop_oneof![
            Just(TxEvent::Initiated),
            Just(TxEvent::InitiationRefused),
            (amount.clone(), source.clone()).prop_map(|(a, source)| TxEvent::Paid {
                paid: kes(a),
                source
            }),
            (kind, source).prop_map(|(kind, source)| TxEvent::NotPaid { kind, source }),
            Just(TxEvent::StillPending),
            amount.prop_map(|a| TxEvent::Refunded {
                refunded_total: kes(a)
            }),
            any::<bool>().prop_map(|paid| TxEvent::ReviewResolved { paid }),
            (0_i64..60).prop_map(|m| TxEvent::GiveUp {
                last_change: NOW - Duration::minutes(m)
            }),
            Just(TxEvent::Bounced),
            any::<bool>().prop_map(|found| TxEvent::Confirmed { found }),
        ]
    }

    proptest! {
        #[test]
        fn once_paid_no_event_sequence_unpays_it(events in prop::collection::vec(any_event(), 0..30)) {
            let mut status = TxStatus::Succeeded;
            for ev in events {
                if let Ok(Outcome::Moved { to, .. }) = step(status, ev) {
                    status = to;
                }
                prop_assert!(
                    matches!(status, TxStatus::Succeeded | TxStatus::PartiallyRefunded | TxStatus::Refunded),
                    "a paid payment became {status}"
                );
            }
        }

        #[test]
        fn a_receipt_is_assigned_only_on_entering_succeeded(
            status in any_status(), ev in any_event()
        ) {
            if let Ok(Outcome::Moved { to, assign_receipt }) = step(status, ev) {
                prop_assert_eq!(assign_receipt, to == TxStatus::Succeeded);
                if to == TxStatus::Succeeded {
                    prop_assert_ne!(status, TxStatus::Succeeded, "succeeded never re-enters succeeded");
                }
            }
        }

        #[test]
        fn a_wrong_amount_never_reaches_succeeded_from_an_open_payment(
            status in prop::sample::select(vec![TxStatus::Pending, TxStatus::AwaitingCustomer, TxStatus::TimedOut]),
            a in 1_i64..1_000_000, source in prop::sample::select(vec![Source::Callback, Source::Query]),
        ) {
            prop_assume!(a != 150_000);
            let out = step(status, TxEvent::Paid { paid: kes(a), source });
            prop_assert_eq!(out, to(TxStatus::NeedsReview));
        }
    }
}
