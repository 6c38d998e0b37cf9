//! Updates from the company: where this office looks for a new version of Malipo, who may
//! install one, and the audit line an installation leaves. Fetching, verifying the signature
//! and installing belong to the desktop shell (Tauri's updater); the rules live here so the
//! settings screen, the CLI and the shell judge an update URL the same way.

use reqwest::Url;
use serde::Serialize;
use ts_rs::TS;

use malipo_domain::Action;

use crate::settings::table;
use crate::{Actor, App, Error, Result};

/// The environment variable that overrides the `updates.url` setting.
pub const UPDATE_URL_ENV: &str = "MALIPO_UPDATE_URL";

/// Checks an update URL (the manifest, or a file it names): `https`, or `http` to this machine
/// only (a relay on loopback, tests). The signature is what makes an update trustworthy, but
/// a plain-text URL across a network would let anyone on the way hold an office back on an old
/// version or watch which version it runs.
pub fn check_update_url(text: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("'{text}' is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "{} is plain http: give an https:// address (plain http only to this computer)",
            url.host_str().unwrap_or_default()
        )),
        other => Err(format!(
            "'{other}:' is not a web address; give an https:// one"
        )),
    }
}

/// What the settings screen shows about updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct UpdateView {
    /// The version running now.
    pub current: String,
    /// The update source checked (the manifest's address).
    pub source: String,
    /// A newer version the source offers, or none.
    pub available: Option<AvailableUpdate>,
}

/// A newer version, as the company's update source announces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AvailableUpdate {
    pub version: String,
    /// When it was published (RFC 3339), if the manifest says.
    pub published: Option<String>,
    /// The release notes, as written by whoever published it.
    pub notes: String,
}

/// An update verified and installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct InstalledUpdate {
    pub version: String,
    /// The new version runs after Malipo is restarted.
    pub restart_needed: bool,
}

impl App {
    /// The update source an administrator may check: `MALIPO_UPDATE_URL`, else the office's
    /// `updates.url` setting. Administrators only.
    pub async fn update_source(&self, actor: &Actor) -> Result<Url> {
        actor.require(Action::ManageSettings)?;
        let stored = self.store().setting(table::UPDATE_URL.key).await?;
        let text = std::env::var(UPDATE_URL_ENV)
            .ok()
            .or(stored)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or(Error::NotConfigured {
                what: "updates",
                missing: vec![table::UPDATE_URL.key],
            })?;
        check_update_url(&text).map_err(|e| Error::invalid(table::UPDATE_URL.key, e))
    }

    /// Records in the audit log that `actor` installed `version` over `from`.
    pub async fn record_update(&self, actor: &Actor, from: &str, version: &str) -> Result<()> {
        actor.require(Action::ManageSettings)?;
        self.store()
            .audit(
                actor.name(),
                "update.install",
                "app",
                "malipo",
                serde_json::json!({ "from": from, "to": version }),
                self.now(),
            )
            .await?;
        tracing::info!(actor = actor.name(), from, to = version, "update installed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_urls_are_https_or_this_computer() {
        for good in [
            "https://relay.example.co.ke/updates/latest.json",
            "http://127.0.0.1:8787/updates/latest.json",
            "http://localhost:8787/updates/latest.json",
            "http://[::1]:8787/updates/latest.json",
        ] {
            assert!(check_update_url(good).is_ok(), "{good}");
        }
        let plain = check_update_url("http://relay.example.co.ke/updates/latest.json");
        assert!(plain.is_err_and(|e| e.contains("https://")));
        assert!(check_update_url("ftp://relay.example.co.ke/latest.json").is_err());
        assert!(check_update_url("relay.example.co.ke").is_err());
        // A host that merely starts with a loopback-looking name is not this computer.
        assert!(check_update_url("http://localhost.example.com/latest.json").is_err());
        assert!(check_update_url("http://127.0.0.1.nip.io/latest.json").is_err());
    }
}
