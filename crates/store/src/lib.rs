//! The office's local database: [`Store`] over SQLite (WAL, `synchronous=FULL`) through sqlx.
//!
//! Invariants kept here:
//! - every change to money state (a transaction's status, amount or refunds) and its line in
//!   the append-only audit log are written in one database transaction;
//! - transaction and receipt numbers come from `counters` inside the transaction that uses
//!   them, so two clerks never share or skip a number;
//! - `daily_totals` and the `tx_search` index are kept by triggers, so they cannot drift from
//!   `transactions`.

mod audit;
mod cards;
mod cash;
mod cheques;
mod collection;
mod company;
mod inbox;
mod ledger;
mod messages;
mod paybill;
mod policies;
mod refunds;
mod settings;
mod standing_orders;
mod summary;
mod transactions;
mod users;

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::SqlitePool;

pub use audit::AuditEntry;
pub use cards::{NewCard, SavedCard};
pub use cash::{CashPosition, CashUpRecord, DepositRecord, Drawer, NewCash};
pub use cheques::{ChequeRecord, ChequeStep, NewCheque, NewSlip, SlipRecord};
pub use collection::{AttemptOutcome, Collectable, Instruction, NewInstruction};
pub use company::{CompanyFilter, CompanyPayment, PolicySource, RecordedCode, Upserted};
pub use inbox::{InboxAction, InboxEvent, InboxOutcome, OrphanRecord, Recorded};
pub use ledger::{Coverage, LedgerEntry, LedgerRow, NewStatement, RowOutcome, StatementCounts};
pub use messages::{Attempt, MessageFilter, MessageRecord};
pub use paybill::{NewPaybill, PaybillCheck};
pub use policies::{
    NewPolicy, NextDue, PolicyFilter, PolicyOrder, PolicyRecord, PolicyStanding, ScheduleFilter,
    ScheduleLine,
};
pub use refunds::{RefundDetails, RefundRecord, SendClaim};
pub use standing_orders::{NewStandingOrder, OrderResult, StandingOrder};
pub use summary::{DayTotals, Split, Summary, SummaryFilter, Totals};
pub use transactions::{
    BROAD_COUNT, NewTransaction, Page, ProviderDetails, TransactionRecord, TxFilter, TxKey,
};
pub use users::{SignInFailures, UserRecord};

/// The migrations, embedded so the shipped binary carries its schema.
const MIGRATIONS: malipo_sqlite::Migrations = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (
        2,
        "payments",
        include_str!("../migrations/0002_payments.sql"),
    ),
    (3, "sync", include_str!("../migrations/0003_sync.sql")),
    (4, "refunds", include_str!("../migrations/0004_refunds.sql")),
    (5, "trust", include_str!("../migrations/0005_trust.sql")),
    (6, "company", include_str!("../migrations/0006_company.sql")),
    (7, "paybill", include_str!("../migrations/0007_paybill.sql")),
    (
        8,
        "messages",
        include_str!("../migrations/0008_messages.sql"),
    ),
    (
        9,
        "refund decisions",
        include_str!("../migrations/0009_refund_decisions.sql"),
    ),
    (
        10,
        "mpesa ledger",
        include_str!("../migrations/0010_mpesa_ledger.sql"),
    ),
    (
        11,
        "refunded index",
        include_str!("../migrations/0011_refunded_index.sql"),
    ),
    (
        12,
        "counter",
        include_str!("../migrations/0012_counter.sql"),
    ),
    (
        13,
        "cheques and slips",
        include_str!("../migrations/0013_cheques_and_slips.sql"),
    ),
    (
        14,
        "paystack channels",
        include_str!("../migrations/0014_paystack_channels.sql"),
    ),
    (
        15,
        "provider calls",
        include_str!("../migrations/0015_provider_calls.sql"),
    ),
    (
        16,
        "collection instructions",
        include_str!("../migrations/0016_collection_instructions.sql"),
    ),
    (
        17,
        "collections",
        include_str!("../migrations/0017_collections.sql"),
    ),
    (
        18,
        "standing orders",
        include_str!("../migrations/0018_standing_orders.sql"),
    ),
    (
        19,
        "lapse marks",
        include_str!("../migrations/0019_lapse_marks.sql"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("could not open the database: {0}")]
    Open(#[from] malipo_sqlite::OpenError),
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("the database holds a value Malipo cannot read: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Refused(&'static str),
    /// The change clashes with what is recorded; the text says what and how to go on.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Transition(#[from] malipo_domain::TransitionError),
    #[error(transparent)]
    Refund(malipo_domain::refund::RefundError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle on the office database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database file at `path` and applies pending migrations;
    /// see `malipo_sqlite` for how (WAL, synchronous=FULL, a private file).
    pub async fn open(path: &Path) -> Result<Store> {
        let pool = malipo_sqlite::open(path, 4, MIGRATIONS).await?;
        Ok(Store { pool })
    }

    pub async fn close(self) {
        self.pool.close().await;
    }

    /// Starts a write transaction that takes the write lock at once, so two writers queue
    /// instead of failing when one upgrades from reading.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Reads an enum column stored as text.
fn parse_col<T: FromStr>(value: &str, column: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{column} = {value:?}")))
}

/// Maps a UNIQUE violation to [`StoreError::Duplicate`].
fn unique_violation(err: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(what()),
        _ => StoreError::Db(err),
    }
}
