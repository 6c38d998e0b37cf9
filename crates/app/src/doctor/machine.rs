//! This machine: the clock, the office's data folder, the printer, free disk space and the keyring.

use super::*;

/// Clocks further apart than this break Daraja timestamps and receipt dates.
pub(super) const MAX_CLOCK_SKEW_SECS: i64 = 60;
/// Free space below which the office database is at risk.
pub(super) const DISK_FAIL_BYTES: u64 = 100 * 1024 * 1024;
pub(super) const DISK_WARN_BYTES: u64 = 1024 * 1024 * 1024;

impl App {
    pub(super) async fn office_checks(
        &self,
        secrets: &dyn SecretStore,
        keyring_problems: Vec<String>,
    ) -> Result<Vec<Check>> {
        let mut checks = Vec::new();
        checks.push(match keyring_problems.first() {
            Some(problem) => check("office.secret_store", CheckStatus::Fail, problem.clone()),
            None if secrets.writable() => check(
                "office.secret_store",
                CheckStatus::Pass,
                format!("secrets are kept in {}", secrets.describe()),
            ),
            None => check(
                "office.secret_store",
                CheckStatus::Warn,
                format!(
                    "no credential store ({}): secrets come from MALIPO_* environment variables only",
                    secrets.describe()
                ),
            ),
        });
        checks.push(data_dir_check(self.data_dir()));
        checks.push(printer_check(self.printer().await?.as_deref()));
        checks.push(disk_check(self.data_dir()));
        Ok(checks)
    }
}

pub(super) fn data_dir_check(dir: &std::path::Path) -> Check {
    let name = "office.data_dir";
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(dir) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => check(
                name,
                CheckStatus::Fail,
                format!(
                    "{} can be read by other users of this machine (mode {:o}): run chmod 700 {}",
                    dir.display(),
                    m.permissions().mode() & 0o777,
                    dir.display()
                ),
            ),
            Ok(_) => check(
                name,
                CheckStatus::Pass,
                format!("{} is private to this user", dir.display()),
            ),
            Err(e) => check(
                name,
                CheckStatus::Fail,
                format!("cannot read {}: {e}", dir.display()),
            ),
        }
    }
    #[cfg(not(unix))]
    {
        check(
            name,
            CheckStatus::Pass,
            format!("{} is in this user's profile", dir.display()),
        )
    }
}

pub(super) fn printer_check(configured: Option<&str>) -> Check {
    let name = "office.printer";
    let run = |args: &[&str]| {
        std::process::Command::new("lpstat")
            .args(args)
            .env("LC_ALL", "C")
            .output()
    };
    match configured {
        Some(p) => match run(&["-p", p]) {
            Ok(out) if out.status.success() => {
                check(name, CheckStatus::Pass, format!("receipts print on {p}"))
            }
            Ok(_) => check(
                name,
                CheckStatus::Fail,
                format!(
                    "the printer '{p}' is not known to the print system: lpstat -p lists those that are; fix {} or {}",
                    table::PRINTER.key,
                    table::PRINTER.env
                ),
            ),
            Err(_) => check(
                name,
                CheckStatus::Fail,
                format!(
                    "the printer '{p}' is set but this machine has no print system (CUPS): receipts open as PDF to print by hand"
                ),
            ),
        },
        None => match run(&["-d"]) {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                match text
                    .split_once(':')
                    .map(|(_, p)| p.trim())
                    .filter(|p| !p.is_empty())
                {
                    Some(p) if !text.contains("no system default") => check(
                        name,
                        CheckStatus::Pass,
                        format!("receipts print on the default printer, {p}"),
                    ),
                    _ => check(
                        name,
                        CheckStatus::Warn,
                        "no default printer: receipts open as PDF to print by hand; set one, or printer.name in Settings",
                    ),
                }
            }
            _ => check(
                name,
                CheckStatus::Warn,
                "no printer found: receipts open as PDF to print by hand",
            ),
        },
    }
}

pub(super) fn disk_check(dir: &std::path::Path) -> Check {
    let name = "office.disk";
    match free_bytes(dir) {
        None => check(name, CheckStatus::Warn, "free disk space could not be read"),
        Some(free) => {
            let shown = if free >= 10 * 1024 * 1024 * 1024 {
                format!("{} GiB", free / (1024 * 1024 * 1024))
            } else {
                format!("{} MiB", free / (1024 * 1024))
            };
            if free < DISK_FAIL_BYTES {
                check(
                    name,
                    CheckStatus::Fail,
                    format!(
                        "only {shown} free where the office database lives: free some space before taking payments"
                    ),
                )
            } else if free < DISK_WARN_BYTES {
                check(
                    name,
                    CheckStatus::Warn,
                    format!("{shown} free where the office database lives: free some space soon"),
                )
            } else {
                check(name, CheckStatus::Pass, format!("{shown} free"))
            }
        }
    }
}

#[cfg(unix)]
pub(super) fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

#[cfg(not(unix))]
pub(super) fn free_bytes(_dir: &std::path::Path) -> Option<u64> {
    None
}
