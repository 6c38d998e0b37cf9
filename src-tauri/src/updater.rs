//! Updates from the company's update source through Tauri's updater plugin. The manifest is
//! read from the `updates.url` setting (checked by the services); the package it names is
//! installed only when its minisign signature verifies against the release key built into
//! this binary and the signature's trusted comment names the version the manifest announced.

use std::time::Duration;

use malipo_app::{AvailableUpdate, Error, check_update_url};
use tauri::{AppHandle, Runtime, plugin::TauriPlugin};
use tauri_plugin_updater::{Update, UpdaterExt};

/// The release public key built into this binary: the base64 text `tauri signer generate`
/// prints, given as `MALIPO_UPDATE_PUBKEY` when the desktop app is compiled (scripts/release
/// does). A build without it verifies no update, so it installs none.
const RELEASE_KEY: Option<&str> = option_env!("MALIPO_UPDATE_PUBKEY");

fn release_key() -> Option<&'static str> {
    RELEASE_KEY.map(str::trim).filter(|k| !k.is_empty())
}

/// The updater plugin with the release key, or none for a build without one.
pub fn plugin<R: Runtime>() -> Option<TauriPlugin<R, tauri_plugin_updater::Config>> {
    release_key().map(|key| tauri_plugin_updater::Builder::new().pubkey(key).build())
}

/// Asks the update source whether it offers a version newer than this one.
pub async fn check<R: Runtime>(
    handle: &AppHandle<R>,
    source: tauri::Url,
) -> Result<Option<Update>, Error> {
    if release_key().is_none() {
        return Err(Error::Conflict(
            "This copy of Malipo was built without a release key, so it cannot verify an update: install new versions with the installer".into(),
        ));
    }
    let shown = source.to_string();
    let updater = handle
        .updater_builder()
        .endpoints(vec![source])
        .and_then(|b| b.timeout(Duration::from_secs(60)).build())
        .map_err(|e| Error::internal(format!("the updater: {e}")))?;
    updater.check().await.map_err(|e| match e {
        tauri_plugin_updater::Error::TargetNotFound(_)
        | tauri_plugin_updater::Error::TargetsNotFound(_) => Error::Conflict(format!(
            "The update source {shown} offers a new version but none for this computer ({e})"
        )),
        tauri_plugin_updater::Error::Serialization(_)
        | tauri_plugin_updater::Error::Semver(_)
        | tauri_plugin_updater::Error::ReleaseNotFound => Error::UpdateSource(format!(
            "{shown} did not answer with an update manifest (latest.json): {e}"
        )),
        other => Error::UpdateSource(format!("Could not read {shown}: {other}")),
    })
}

/// What the administrator is shown before installing.
pub fn describe(update: &Update) -> AvailableUpdate {
    AvailableUpdate {
        version: update.version.clone(),
        published: update.date.and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        }),
        notes: update.body.clone().unwrap_or_default(),
    }
}

/// Downloads the package and verifies its signature: the bytes come back only if it verifies.
pub async fn download(update: &Update) -> Result<Vec<u8>, Error> {
    // The manifest may name a download anywhere; it gets the same rule as the manifest itself.
    check_update_url(update.download_url.as_str())
        .map_err(|e| Error::Conflict(format!("The update's download address: {e}")))?;
    // A server that stops answering mid-download must not hold the screen for ever; a slow
    // office line still has a quarter of an hour for a package of a few tens of megabytes.
    let mut update = update.clone();
    update.timeout = Some(Duration::from_secs(15 * 60));
    update
        .download(|_, _| {}, || {})
        .await
        .map_err(|e| refused(&update, e))
}

/// Installs a downloaded package (verified again first). On Windows the installer takes over
/// and this process exits here.
pub fn apply(update: &Update, bytes: &[u8]) -> Result<(), Error> {
    update.install(bytes).map_err(|e| refused(update, e))
}

fn refused(update: &Update, e: tauri_plugin_updater::Error) -> Error {
    use tauri_plugin_updater::Error as E;
    match e {
        E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) => Error::Conflict(format!(
            "Version {} is not signed with the release key this copy of Malipo trusts, so it was not installed ({e}). Ask whoever publishes your updates to sign it with scripts/release",
            update.version
        )),
        E::SignedVersionMismatch { .. } | E::MissingSignedVersion => Error::Conflict(format!(
            "The update source announces version {} but the package is not signed as that version, so it was not installed ({e})",
            update.version
        )),
        E::InvalidUpdaterFormat => Error::Conflict(format!(
            "Version {} downloaded and verified, but it is not a package this computer installs",
            update.version
        )),
        E::AuthenticationFailed => Error::Forbidden(
            "Installing the update needs the computer's administrator password, which was not given".into(),
        ),
        E::Reqwest(_) | E::Network(_) => Error::UpdateSource(format!(
            "Could not download version {} from {}: {e}",
            update.version, update.download_url
        )),
        other => Error::internal(format!(
            "Version {} could not be installed: {other}",
            update.version
        )),
    }
}
