//! Payments from the `malipo` CLI through the provider sandbox and the relay, every part a real
//! process on loopback, on a relay backed by SQLite and by PostgreSQL: each payment must end in
//! its true final state, counted once, whatever the callbacks do.
//!
//! One module per journey; run one with `cargo test -p malipo-e2e --test journeys MODULE::`
//! (e.g. `paybill::`), or one backend of it with `paybill::sqlite::`.

#[macro_use]
mod world;

mod callbacks;
mod cash;
mod claims;
mod collect;
mod company;
mod doctor;
mod failover;
mod ledger;
mod messages;
mod paybill;
mod receipts;
mod refunds;
