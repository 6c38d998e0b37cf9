//! Backups that restore. A SQLite relay database is copied online and consistently (`VACUUM
//! INTO`, a snapshot however many callbacks arrive meanwhile), and the copy is checked
//! (`integrity_check`, and that it is a relay's database) before it replaces an earlier backup.
//! A restore goes only into an empty place and refuses a file that fails the same check. The
//! sealing key (`MALIPO_RELAY_SECRET_KEY`) lives in the environment, never in the database, so
//! it is never inside a backup: keep it apart, as the README says.
//!
//! PostgreSQL is backed up with its own tools (`pg_dump`, or WAL archiving for point-in-time
//! recovery); the relay only says so and checks it can reach the database.

use std::path::{Path, PathBuf};

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use crate::store::{Db, RelayStore};

/// What a checked relay database holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checked {
    pub file: String,
    pub bytes: u64,
    pub tenants: i64,
    pub devices: i64,
    /// Provider events stored, and the highest sequence number of any tenant.
    pub events: i64,
    pub last_seq: i64,
}

/// A path beside `path` with `suffix` added to its name.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

async fn read_only(path: &Path) -> Result<SqlitePool, String> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| format!("{} cannot be opened as a database: {e}", path.display()))
}

/// Checks that `path` is a whole relay database: SQLite's `integrity_check` says `ok` and the
/// relay's tables are there. What it holds, or why not.
pub async fn check_file(path: &Path) -> Result<Checked, String> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let pool = read_only(path).await?;
    let result = async {
        let verdict: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&pool)
            .await
            .map_err(|e| format!("{} is not a readable database: {e}", path.display()))?;
        if verdict.first().map(String::as_str) != Some("ok") {
            return Err(format!(
                "{} fails SQLite's integrity check: {}",
                path.display(),
                verdict.join("; ")
            ));
        }
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM tenants) AS tenants,
                    (SELECT count(*) FROM devices) AS devices,
                    (SELECT count(*) FROM events) AS events,
                    (SELECT coalesce(max(seq), 0) FROM events) AS last_seq",
        )
        .fetch_one(&pool)
        .await
        .map_err(|_| format!("{} is not a Malipo relay database", path.display()))?;
        Ok(Checked {
            file: path.display().to_string(),
            bytes,
            tenants: row.get("tenants"),
            devices: row.get("devices"),
            events: row.get("events"),
            last_seq: row.get("last_seq"),
        })
    }
    .await;
    pool.close().await;
    result
}

impl RelayStore {
    /// Writes a consistent copy of the database to `to` while the relay keeps taking callbacks,
    /// checks it, and only then puts it in place (an earlier backup at `to` is replaced whole,
    /// never half-written).
    pub async fn backup(&self, to: &Path) -> Result<Checked, String> {
        let pool = match &self.db {
            Db::Sqlite(pool) => pool,
            Db::Postgres(pool) => {
                sqlx::query_scalar::<_, i32>("SELECT 1")
                    .fetch_one(pool)
                    .await
                    .map_err(|e| format!("the PostgreSQL database does not answer: {e}"))?;
                return Err(
                    "nothing written: the relay's PostgreSQL database answers, and is backed up with PostgreSQL's own tools (pg_dump nightly, or WAL archiving for point-in-time recovery); see the README"
                        .into(),
                );
            }
        };
        let partial = beside(to, ".partial");
        let _ = std::fs::remove_file(&partial);
        sqlx::query("VACUUM INTO ?")
            .bind(partial.display().to_string())
            .execute(pool)
            .await
            .map_err(|e| format!("the copy to {} failed: {e}", partial.display()))?;
        restrict(&partial)?;
        let checked = match check_file(&partial).await {
            Ok(c) => c,
            Err(why) => {
                let _ = std::fs::remove_file(&partial);
                return Err(format!("the copy was not kept: {why}"));
            }
        };
        std::fs::rename(&partial, to)
            .map_err(|e| format!("{} could not be put in place: {e}", to.display()))?;
        Ok(Checked {
            file: to.display().to_string(),
            ..checked
        })
    }
}

/// Restores the backup `from` as the database at `to`, which must not exist yet (or be an
/// empty file): a restore never overwrites a relay's data. The backup is checked first; what
/// fails the check is refused and nothing is written.
pub async fn restore(from: &Path, to: &Path) -> Result<Checked, String> {
    match std::fs::metadata(to) {
        Ok(m) if m.len() > 0 => {
            return Err(format!(
                "{} already holds a database: restore into an empty place (move it aside first)",
                to.display()
            ));
        }
        _ => {}
    }
    for suffix in ["-wal", "-shm"] {
        if beside(to, suffix).exists() {
            return Err(format!(
                "{} has a journal beside it: restore into an empty place",
                to.display()
            ));
        }
    }
    let checked = check_file(from)
        .await
        .map_err(|why| format!("not restored: {why}"))?;
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let partial = beside(to, ".partial");
    std::fs::copy(from, &partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    restrict(&partial)?;
    std::fs::rename(&partial, to).map_err(|e| format!("{}: {e}", to.display()))?;
    Ok(Checked {
        file: to.display().to_string(),
        ..checked
    })
}

/// Readable by its owner only: it holds every provider body and the sealed secrets.
fn restrict(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
