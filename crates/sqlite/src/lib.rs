//! SQLite opened the one way Malipo's databases need it, for the office's database and the
//! relay's default one alike: write-ahead log, `synchronous=FULL` (a row a clerk saw recorded
//! survives a power cut, not only a crash), foreign keys enforced, a ten-second busy timeout,
//! and the file (with its journal) readable by its owner only. Migrations are embedded in the
//! binaries and run on open.

use std::path::Path;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, SqlSafeStr};

/// Embedded migrations: `(version, name, sql)`, in order.
pub type Migrations = &'static [(i64, &'static str, &'static str)];

/// What opening can fail with.
#[derive(Debug)]
pub enum OpenError {
    Db(sqlx::Error),
    Migrate(sqlx::migrate::MigrateError),
    /// The file could not be created or made private.
    File(std::io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Db(e) => write!(f, "{e}"),
            OpenError::Migrate(e) => write!(f, "could not bring the schema up to date: {e}"),
            OpenError::File(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// A migrator for embedded `migrations`, on any backend.
pub fn migrator(migrations: Migrations) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    (*name).into(),
                    MigrationType::Simple,
                    AssertSqlSafe(*sql).into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Opens (creating if needed) the database at `path` with at most `connections` connections
/// and brings it up to date with `migrations`.
pub async fn open(
    path: &Path,
    connections: u32,
    migrations: Migrations,
) -> Result<SqlitePool, OpenError> {
    create_private(path).map_err(OpenError::File)?;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(connections)
        .connect_with(options)
        .await
        .map_err(OpenError::Db)?;
    migrator(migrations)
        .run(&pool)
        .await
        .map_err(OpenError::Migrate)?;
    // SQLite gives the journal the database file's permissions; files made before Malipo set
    // them are narrowed here.
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        restrict(Path::new(&name)).map_err(OpenError::File)?;
    }
    Ok(pool)
}

/// Creates an empty database file readable by its owner only, unless it exists.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIGRATIONS: Migrations = &[(
        1,
        "one",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, p INTEGER REFERENCES t (id));",
    )];

    #[tokio::test]
    async fn a_database_is_private_durable_and_checks_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sqlite3");
        let pool = open(&path, 2, MIGRATIONS).await.unwrap();
        let (journal, synchronous): (String, i64) = (
            sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&pool)
                .await
                .unwrap(),
            sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&pool)
                .await
                .unwrap(),
        );
        assert_eq!(journal, "wal");
        assert_eq!(synchronous, 2, "FULL");
        let orphan = sqlx::query("INSERT INTO t (id, p) VALUES (1, 99)")
            .execute(&pool)
            .await;
        assert!(orphan.is_err(), "foreign keys are enforced");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for suffix in ["", "-wal", "-shm"] {
                let file = dir.path().join(format!("x.sqlite3{suffix}"));
                let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
            }
        }
        pool.close().await;
        // Opened again, the migrations are not run twice.
        open(&path, 1, MIGRATIONS).await.unwrap();
    }
}
