//! The services of a Malipo office, shared by the `malipo` CLI and the desktop shell.
//!
//! [`App`] owns the office database, a [`Clock`] and the configured provider clients
//! ([`Providers`]). Every method takes what a person typed (strings), parses it into domain
//! types, checks who is acting ([`Actor`]), and returns serialisable views ([`views`]) or a typed
//! [`Error`]; the edges show it as an [`AppError`] with a code and a message a clerk can act on.
//! Nothing here knows about Tauri or the terminal, and nothing here runs a server: demo mode,
//! which starts the simulator and a relay in-process, lives in its own crate.

mod audit_text;
mod cash;
mod cheques;
mod collection;
pub mod collector;
mod doctor;
mod error;
mod failover;
mod files;
mod health;
pub mod input;
pub mod ipc;
mod keyring;
mod messages;
mod outcome;
mod paybill;
mod payments;
mod policies;
mod providers;
mod receipts;
mod reconcile;
mod refunds;
mod relay;
mod reports;
pub mod settings;
mod standing;
pub mod sync;
mod trace;
mod updates;
mod users;
pub mod views;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use malipo_domain::{CounterCode, Currency, Desk, OfficeCode};
use malipo_store::Store;

use crate::settings::table;

pub use cash::{CashReport, CashRequest, Counted, DepositView, DrawerView};
pub use cheques::{BankStatementReport, ChequeRequest, ChequeView, SlipRequest, SlipView};
pub use collection::CollectRequest;
pub use doctor::{Check, CheckStatus, DoctorReport};
pub use error::{AppError, Error, ErrorCode, Result};
pub use failover::{MpesaRoutes, PaybillRoute, PaystackMpesaRequest};
pub use files::{create_private_dir, export_file_name, keep_new_files_private, write_private_file};
pub use health::ProviderHealth;
pub use keyring::{OsKeyring, prepare_keyring};
pub use malipo_domain::Action;
pub use paybill::{RegisteredUrls, SuspenseDecided, SuspenseView, VERIFY_WAIT};
pub use payments::{CardRequest, MpesaRequest, NextAsk, SavedCardView};
pub use policies::{ImportReport, PolicyInput, PolicyQuery};
pub use providers::Providers;
pub use receipts::{Printed, ReceiptFile, SavedReceiptFile, print};
pub use reconcile::{Difference, ReconcileReport};
pub use refunds::RefundView;
pub use relay::{RelayClient, RelayError};
pub use reports::{CompanyQuery, HistoryQuery, ScheduleQuery, SummaryQuery};
pub use settings::{NoSecretStore, ProviderSettings, SecretStore};
pub use sync::{PullRegistered, PullReport, StatementImport, StatementLine, SyncReport};
pub use updates::{AvailableUpdate, InstalledUpdate, UPDATE_URL_ENV, UpdateView, check_update_url};
pub use users::{Actor, Session};
pub use views::{
    CashPositionView, CollectionView, CompanyView, MessageView, OrphanView, ReminderView,
    SendReport, StandingOrderView,
};

/// Where time comes from; tests pass a fixed one.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The database file inside a data directory.
pub const DATABASE_FILE: &str = "malipo.sqlite3";

/// Where this counter's code in the company is kept: learnt from the relay before the first
/// payment and fixed from then on. Not a setting anyone sets (the settings are in
/// [`settings::table`]).
pub(crate) const COUNTER_KEY: &str = "office.counter";

/// The data directory when none is given: `MALIPO_DATA_DIR`, else the platform's per-user
/// data directory (`~/.local/share/malipo` on Linux).
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MALIPO_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    if cfg!(target_os = "macos") {
        return home.join("Library/Application Support/Malipo");
    }
    if let Some(appdata) = std::env::var_os("APPDATA").filter(|_| cfg!(windows)) {
        return PathBuf::from(appdata).join("Malipo");
    }
    match std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        Some(xdg) => PathBuf::from(xdg).join("malipo"),
        None => home.join(".local/share/malipo"),
    }
}

/// One office's services over its database. Cheap to clone: clones share the database pool
/// and the provider clients.
#[derive(Debug, Clone)]
pub struct App {
    store: Store,
    data_dir: PathBuf,
    clock: Arc<dyn Clock>,
    providers: Arc<RwLock<Arc<Providers>>>,
    /// Open payments a screen is watching, and when each may next be asked about.
    watched: Arc<std::sync::Mutex<std::collections::HashMap<i64, payments::Watch>>>,
}

impl App {
    /// Opens the office in `data_dir`, creating the directory and database on first use. No
    /// provider is configured until [`App::configure`].
    pub async fn open(data_dir: &Path) -> Result<App> {
        Self::open_with_clock(data_dir, Arc::new(SystemClock)).await
    }

    pub async fn open_with_clock(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<App> {
        create_private_dir(data_dir)?;
        let store = Store::open(&data_dir.join(DATABASE_FILE)).await?;
        Ok(App {
            store,
            data_dir: data_dir.to_owned(),
            clock,
            providers: Arc::new(RwLock::new(Arc::new(Providers::none()))),
            watched: Arc::default(),
        })
    }

    /// Builds the provider clients for `settings`, replacing the ones in use. Services already
    /// running finish with the clients they started with.
    pub fn configure(&self, settings: ProviderSettings) {
        let built = Arc::new(Providers::new(settings));
        *self.providers.write().unwrap_or_else(|e| e.into_inner()) = built;
    }

    /// The provider clients in use.
    pub fn providers(&self) -> Arc<Providers> {
        Arc::clone(&self.providers.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn watched(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, payments::Watch>> {
        self.watched.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The office's data directory (its database and saved files).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The office code printed in transaction and receipt numbers (`HQ` until set).
    pub async fn office_code(&self) -> Result<OfficeCode> {
        let code = self.store.setting(table::OFFICE_CODE.key).await?;
        let code = code.as_deref().unwrap_or("HQ");
        OfficeCode::parse(code).map_err(|e| Error::internal(format!("office.code: {e}")))
    }

    /// Checks a field as the clerk types it, by the rules the services apply (see [`input`]).
    pub async fn check_input(&self, field: &input::CheckInput) -> Result<input::InputCheck> {
        Ok(input::check(field, self.office_currency().await?))
    }

    /// Where this counter's numbers come from: the office code and, in a company of counters,
    /// this counter's code.
    pub async fn desk(&self) -> Result<Desk> {
        let counter = match self.store.setting(COUNTER_KEY).await? {
            Some(c) => Some(
                CounterCode::parse(&c)
                    .map_err(|e| Error::internal(format!("office.counter: {e}")))?,
            ),
            None => None,
        };
        Ok(Desk::new(self.office_code().await?, counter))
    }

    /// The currency amounts are in when a clerk does not name one (KES until set).
    pub async fn office_currency(&self) -> Result<Currency> {
        match self.store.setting(table::OFFICE_CURRENCY.key).await? {
            Some(code) => Currency::from_code(&code)
                .map_err(|e| Error::internal(format!("office.currency: {e}"))),
            None => Ok(Currency::Kes),
        }
    }
}
