//! The services of a Malipo office, shared by the `malipo` CLI and the desktop shell.
//!
//! [`App`] owns the office database and a [`Clock`]. Every method takes what a person typed
//! (strings), parses it into domain types, checks who is acting ([`Actor`]), and returns
//! serialisable views ([`views`]) or an [`AppError`] with a code and a message a clerk can act
//! on. Nothing here knows about Tauri or the terminal.

pub mod demo;
mod error;
pub mod ipc;
mod keyring;
mod payments;
mod policies;
mod receipts;
mod reconcile;
mod refunds;
mod reports;
pub mod settings;
pub mod sync;
mod users;
pub mod views;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::OffsetDateTime;

use malipo_domain::{Currency, OfficeCode};
use malipo_store::Store;

pub use error::{AppError, ErrorCode};
pub use keyring::{OsKeyring, prepare_keyring};
pub use malipo_domain::Action;
pub use payments::{CardRequest, MpesaRequest, NextAsk, SavedCardView};
pub use policies::{ImportReport, PolicyInput};
pub use receipts::{Printed, ReceiptFile, print, spool_path};
pub use reconcile::{Difference, ReconcileReport};
pub use refunds::RefundView;
pub use reports::{HistoryQuery, ScheduleQuery, SummaryQuery};
pub use settings::{NoSecretStore, ProviderSettings, SecretStore};
pub use sync::{CompanyView, OrphanView, RelayClient, SyncReport};
pub use users::{Actor, Session};

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

/// Settings keys for the office's details (printed on receipts).
pub mod setting {
    pub const OFFICE_CODE: &str = "office.code";
    pub const OFFICE_NAME: &str = "office.name";
    pub const OFFICE_ADDRESS: &str = "office.address";
    pub const OFFICE_PHONE: &str = "office.phone";
    pub const OFFICE_KRA_PIN: &str = "office.kra_pin";
    pub const OFFICE_CURRENCY: &str = "office.currency";
    pub const ALL: [&str; 6] = [
        OFFICE_CODE,
        OFFICE_NAME,
        OFFICE_ADDRESS,
        OFFICE_PHONE,
        OFFICE_KRA_PIN,
        OFFICE_CURRENCY,
    ];
}

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

/// One office's services over its database.
#[derive(Debug, Clone)]
pub struct App {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl App {
    /// Opens the office in `data_dir`, creating the directory and database on first use.
    pub async fn open(data_dir: &Path) -> Result<App, AppError> {
        Self::open_with_clock(data_dir, Arc::new(SystemClock)).await
    }

    pub async fn open_with_clock(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<App, AppError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            AppError::new(
                ErrorCode::Internal,
                format!(
                    "cannot create the data directory {}: {e}",
                    data_dir.display()
                ),
            )
        })?;
        let store = Store::open(&data_dir.join(DATABASE_FILE)).await?;
        Ok(App { store, clock })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The office code printed in transaction and receipt numbers (`HQ` until set).
    pub async fn office_code(&self) -> Result<OfficeCode, AppError> {
        let code = self.store.setting(setting::OFFICE_CODE).await?;
        let code = code.as_deref().unwrap_or("HQ");
        OfficeCode::parse(code).map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))
    }

    /// The currency amounts are in when a clerk does not name one (KES until set).
    pub async fn office_currency(&self) -> Result<Currency, AppError> {
        match self.store.setting(setting::OFFICE_CURRENCY).await? {
            Some(code) => Currency::from_code(&code)
                .map_err(|e| AppError::new(ErrorCode::Internal, e.to_string())),
            None => Ok(Currency::Kes),
        }
    }
}
