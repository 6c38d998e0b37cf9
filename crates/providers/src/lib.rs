//! Clients for the two payment providers, and the parsing and verification of what they send
//! back.
//!
//! - [`daraja`]: Safaricom's Daraja API for M-Pesa Express (STK push), its status query, the
//!   unsigned STK callbacks, and transaction reversals (M-Pesa refunds).
//! - [`paystack`]: card payments (initialize, verify, charge a saved card), refunds, the
//!   transaction list, and signed webhooks.
//! - [`sms`]: customer SMS through Africa's Talking, and its delivery reports.
//! - [`email`]: e-mail through the office's SMTP server, receipts attached.
//!
//! Each provider has a `wire` module that mirrors its JSON exactly (loose types included);
//! the rest of Malipo only ever sees the domain types these are turned into.

pub mod daraja;
pub mod doors;
pub mod email;
pub mod paystack;
pub mod sms;

mod http;

pub use http::Transport;
