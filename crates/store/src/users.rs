//! Local users. Only the password's argon2 hash is stored; hashing happens in the services.

use serde_json::json;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use malipo_domain::time_zone::{from_ms, to_ms};
use malipo_domain::{Role, Username};

use crate::audit::{self, Change};
use crate::{Result, Store, StoreError, parse_col, unique_violation};

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
    pub created_at: OffsetDateTime,
}

fn user_from_row(r: &SqliteRow) -> Result<UserRecord> {
    Ok(UserRecord {
        id: r.get("id"),
        username: r.get("username"),
        role: parse_col(r.get::<&str, _>("role"), "users.role")?,
        password_hash: r.get("password_hash"),
        active: r.get::<i64, _>("active") == 1,
        created_at: from_ms(r.get("created_at")),
    })
}

impl Store {
    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT count(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?
            .get("n"))
    }

    pub async fn user(&self, username: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn users(&self) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Adds a user. The first user of an office must be an admin; that is checked inside the
    /// write transaction, so two people setting up the same office at once cannot race past it.
    pub async fn insert_user(
        &self,
        actor: &str,
        username: &Username,
        role: Role,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<UserRecord> {
        let mut tx = self.begin_write().await?;
        let existing: i64 = sqlx::query("SELECT count(*) AS n FROM users")
            .fetch_one(&mut *tx)
            .await?
            .get("n");
        if existing == 0 && role != Role::Admin {
            return Err(StoreError::Refused(
                "the first user of an office must be an admin",
            ));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)
             RETURNING id",
        )
        .bind(username.as_str())
        .bind(role.as_str())
        .bind(password_hash)
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, || format!("user '{username}'")))?
        .get("id");
        let change = Change {
            actor,
            action: "user.add",
            entity: "user",
            entity_id: username.to_string(),
            before: None,
            after: Some(json!({ "username": username.as_str(), "role": role.as_str() })),
        };
        audit::record(&mut tx, now, change).await?;
        tx.commit().await?;
        Ok(UserRecord {
            id,
            username: username.to_string(),
            role,
            password_hash: password_hash.to_owned(),
            active: true,
            created_at: now,
        })
    }
}

/// Failed sign-ins in a window: for one name, and on this machine altogether.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignInFailures {
    pub for_name: i64,
    pub last_for_name: Option<OffsetDateTime>,
    pub on_machine: i64,
    pub last_on_machine: Option<OffsetDateTime>,
}

impl Store {
    /// Counts failed sign-ins since `since`, for the name hashed as `who` and in all.
    pub async fn sign_in_failures(
        &self,
        who: &str,
        since: OffsetDateTime,
    ) -> Result<SignInFailures> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM sign_in_failures WHERE who = ?1 AND at >= ?2) AS n_name,
                    (SELECT max(at) FROM sign_in_failures WHERE who = ?1 AND at >= ?2) AS last_name,
                    (SELECT count(*) FROM sign_in_failures WHERE at >= ?2) AS n_all,
                    (SELECT max(at) FROM sign_in_failures WHERE at >= ?2) AS last_all",
        )
        .bind(who)
        .bind(to_ms(since))
        .fetch_one(&self.pool)
        .await?;
        Ok(SignInFailures {
            for_name: row.get("n_name"),
            last_for_name: row.get::<Option<i64>, _>("last_name").map(from_ms),
            on_machine: row.get("n_all"),
            last_on_machine: row.get::<Option<i64>, _>("last_all").map(from_ms),
        })
    }

    /// Records a failed sign-in for the name hashed as `who`, forgetting those older than a day.
    pub async fn record_sign_in_failure(&self, who: &str, at: OffsetDateTime) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sign_in_failures WHERE at < ?")
            .bind(to_ms(at - time::Duration::days(1)))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO sign_in_failures (who, at) VALUES (?, ?)")
            .bind(who)
            .bind(to_ms(at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the failures of the name hashed as `who` (it signed in).
    pub async fn clear_sign_in_failures(&self, who: &str) -> Result<()> {
        sqlx::query("DELETE FROM sign_in_failures WHERE who = ?")
            .bind(who)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
