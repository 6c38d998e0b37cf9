//! The office's files: the data directory is its user's alone (0700 on Unix), and every file
//! Malipo writes there (receipts, exports) is created 0600, since they name customers and
//! amounts. File names carry no characters Windows refuses (no `:`).

use std::io::Write;
use std::path::Path;

use time::OffsetDateTime;

use crate::error::{Error, Result};

/// Makes every file and folder this process creates from now on private to its user (umask
/// 077 on Unix: files 0600, folders 0700), whoever creates them (SQLite's journal, the log
/// writer). Call first thing in `main`, before any thread starts.
pub fn keep_new_files_private() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates `dir` (and its parents) readable by this user only.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
    restrict(dir, 0o700)
}

/// Narrows the permissions of something that may have been created before they were set.
fn restrict(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::internal(format!("cannot protect {}: {e}", path.display())))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Writes `bytes` to `path` (creating its folder), readable by this user only, when no file
/// is there yet: `false` (and nothing written) when one is.
pub fn write_new_private_file(path: &Path, bytes: &[u8]) -> Result<bool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => {
            return Err(Error::internal(format!(
                "cannot write {}: {e}",
                path.display()
            )));
        }
    };
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
    restrict(path, 0o600)?;
    Ok(true)
}

/// Writes `bytes` to `path` (creating its folder), readable by this user only.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(path)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()));
    written.map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
    restrict(path, 0o600)
}

/// `history-2026-11-30-1405.csv`: Nairobi time, without the `:` Windows refuses in names.
pub fn export_file_name(what: &str, at: OffsetDateTime, extension: &str) -> String {
    let local = at.to_offset(malipo_domain::time_zone::NAIROBI);
    format!(
        "{what}-{:04}-{:02}-{:02}-{:02}{:02}{:02}.{extension}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_are_nairobi_time_without_colons() {
        let at = time::macros::datetime!(2026-11-30 11:05:09 UTC);
        assert_eq!(
            export_file_name("history", at, "csv"),
            "history-2026-11-30-140509.csv"
        );
    }

    #[cfg(unix)]
    #[test]
    fn private_files_and_folders_are_the_users_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let office = dir.path().join("office");
        create_private_dir(&office).unwrap();
        let file = office.join("exports/x.csv");
        write_private_file(&file, b"a,b\n").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&office), 0o700);
        assert_eq!(mode(&file), 0o600);
        // An existing, too-open file is narrowed when written again.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private_file(&file, b"c,d\n").unwrap();
        assert_eq!(mode(&file), 0o600);
    }
}
