//! The rules of Malipo with no I/O: what money is, what a Kenyan mobile number is, how
//! references and numbers look, how a transaction or a refund may move between states,
//! and which instalments are pending or overdue on a given day.
//!
//! Nothing here reads a clock, a random source, a file or the network: time and randomness
//! are passed in, so every rule can be tested exactly.

pub mod cash;
pub mod money;
pub mod phone;
pub mod policy;
pub mod reference;
pub mod refund;
pub mod register;
pub mod schedule;
pub mod secret;
pub mod time_zone;
pub mod transaction;
pub mod user;
pub mod verification;

pub use cash::{CashError, Count, Tender, Variance};
pub use money::{Currency, Money, MoneyError};
pub use phone::{Msisdn, PhoneError};
pub use policy::{Email, EmailError, HolderName, PolicyError, PolicyNumber};
pub use reference::{
    CounterCode, Desk, OfficeCode, ProviderReference, ReceiptNumber, ReferenceError, TxNumber,
};
pub use refund::{RefundError, RefundEvent, RefundStatus};
pub use register::{PolicyStatus, RegisterPolicy};
pub use schedule::{
    Frequency, Instalment, InstalmentState, InstalmentStatus, ScheduleError, Standing,
};
pub use secret::Secret;
pub use transaction::{FailureKind, Method, Outcome, Source, TransitionError, TxEvent, TxStatus};
pub use user::{Action, Role, UserError, Username, check_password};
