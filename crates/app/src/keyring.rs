//! Provider secrets in the operating system's credential store, through the keyring crates:
//! the desktop's Secret Service (GNOME Keyring, KWallet) on Linux, falling back to the kernel's
//! keyutils on a machine without a desktop session; the Keychain on macOS; the Credential
//! Manager on Windows. When none is reachable, [`OsKeyring::open`] says why, and the secrets
//! come from the environment only (the `MALIPO_*` variables of README's Configuration).

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error};

use malipo_domain::Secret;

use crate::settings::SecretStore;

/// A reachable OS credential store. Every secret is one entry: service `malipo:DATA_DIR` (so
/// two offices on one machine, or a demo office beside a real one, never share secrets), user
/// = the secret's name (`paystack.secret_key`, ...).
#[derive(Clone)]
pub struct OsKeyring {
    store: Arc<CredentialStore>,
    service: String,
    kind: &'static str,
}

impl std::fmt::Debug for OsKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsKeyring")
            .field("kind", &self.kind)
            .field("service", &self.service)
            .finish()
    }
}

/// Reading an entry that is not there proves the store answers.
fn probe(store: &Arc<CredentialStore>, service: &str) -> Result<(), String> {
    let entry = Entry::new_in_store(store, service, "malipo.probe").map_err(|e| e.to_string())?;
    match entry.get_password() {
        Ok(_) | Err(Error::NoEntry) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

impl OsKeyring {
    /// The platform's store for the secrets of the office in `data_dir`, or why there is none.
    pub fn for_office(data_dir: &std::path::Path) -> Result<OsKeyring, String> {
        let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_owned());
        Self::open_as(&format!("malipo:{}", dir.display()))
    }

    /// The platform's store with entries under `service`.
    pub fn open_as(service: &str) -> Result<OsKeyring, String> {
        let mut refused = Vec::new();
        for (kind, store) in platform_stores() {
            match store.and_then(|s| probe(&s, service).map(|()| s)) {
                Ok(store) => {
                    return Ok(OsKeyring {
                        store,
                        service: service.to_owned(),
                        kind,
                    });
                }
                Err(e) => refused.push(format!("{kind}: {e}")),
            }
        }
        Err(format!(
            "no credential store is reachable ({})",
            refused.join("; ")
        ))
    }

    /// Which store holds the secrets, as the settings screen names it.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    fn entry(&self, name: &str) -> Result<Entry, String> {
        Entry::new_in_store(&self.store, &self.service, name).map_err(|e| e.to_string())
    }
}

impl SecretStore for OsKeyring {
    fn get(&self, name: &str) -> Result<Option<Secret>, String> {
        match self.entry(name)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, name: &str, value: Option<&Secret>) -> Result<(), String> {
        let entry = self.entry(name)?;
        match value {
            Some(v) => entry.set_password(v.expose()).map_err(|e| e.to_string()),
            None => match entry.delete_credential() {
                Ok(()) | Err(Error::NoEntry) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    fn describe(&self) -> String {
        self.kind.to_owned()
    }
}

/// Prepares the process for the keyring: on Linux, joins a session keyring for the kernel's
/// keyutils store. Call it first thing in `main`, before any thread starts: the kernel keeps
/// the session keyring in each thread's credentials, and threads inherit it only from the
/// thread that starts them, so a thread started earlier would see another keyring.
pub fn prepare_keyring() {
    #[cfg(target_os = "linux")]
    join_session_keyring();
}

type Opened = Result<Arc<CredentialStore>, String>;

#[cfg(target_os = "linux")]
fn platform_stores() -> Vec<(&'static str, Opened)> {
    let secret_service = || -> Opened {
        dbus_secret_service_keyring_store::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| e.to_string())
    };
    let keyutils = || -> Opened {
        join_session_keyring();
        linux_keyutils_keyring_store::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| e.to_string())
    };
    vec![
        ("Secret Service", secret_service()),
        (
            "kernel keyutils (kept until the machine restarts)",
            keyutils(),
        ),
    ]
}

/// A process started outside a login session only has the user's default keyring, which
/// refuses new keys. Asking for the session keyring with `create` makes the kernel create and
/// join one, where the keyutils store links the user's persistent keyring, so keys outlive
/// this process.
#[cfg(target_os = "linux")]
fn join_session_keyring() {
    use linux_keyutils::{KeyRing, KeyRingIdentifier};
    static JOINED: std::sync::Once = std::sync::Once::new();
    // A failure leaves the process as it was; the probe then reports the store unreachable.
    JOINED.call_once(|| {
        let _ = KeyRing::from_special_id(KeyRingIdentifier::Session, true);
    });
}

#[cfg(target_os = "macos")]
fn platform_stores() -> Vec<(&'static str, Opened)> {
    vec![(
        "macOS Keychain",
        apple_native_keyring_store::keychain::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| e.to_string()),
    )]
}

#[cfg(windows)]
fn platform_stores() -> Vec<(&'static str, Opened)> {
    vec![(
        "Windows Credential Manager",
        windows_native_keyring_store::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| e.to_string()),
    )]
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn platform_stores() -> Vec<(&'static str, Opened)> {
    Vec::new()
}
