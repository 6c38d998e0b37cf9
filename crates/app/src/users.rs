//! Who is acting. A fresh office with no users is in set-up mode: anyone may act (there is
//! nobody to sign in as) and the first user must be an admin. After that, writes need a
//! signed-in user whose role permits them.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Serialize;

use malipo_domain::{Action, Role, Username, check_password};

use crate::views::UserView;
use crate::{App, Error, Result};

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
}

/// Who a change is made by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// No users exist yet.
    Setup,
    User(Session),
    /// The sync engine applying what the providers said: it may move payments through the
    /// state machine, and nothing a person decides.
    Sync,
}

impl Actor {
    /// The name written in the audit log.
    pub fn name(&self) -> &str {
        match self {
            Actor::Setup => "setup",
            Actor::User(s) => &s.username,
            Actor::Sync => "sync",
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        match self {
            Actor::Setup | Actor::Sync => None,
            Actor::User(s) => Some(s.user_id),
        }
    }

    /// Refuses `action` unless the actor's role allows it (anything goes in set-up mode).
    pub fn require(&self, action: Action) -> Result<()> {
        match self {
            Actor::Setup => Ok(()),
            Actor::User(s) if s.role.permits(action) => Ok(()),
            Actor::Sync => Err(Error::Forbidden(format!(
                "the sync engine cannot {}",
                action.describe()
            ))),
            Actor::User(s) => Err(Error::Forbidden(format!(
                "{} is a {} and cannot {}; ask a {} to do it",
                s.username,
                s.role,
                action.describe(),
                Role::needed_for(action)
            ))),
        }
    }
}

fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0_u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| Error::internal(format!("no randomness for a salt: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("cannot hash the password: {e}")))
}

impl App {
    /// True until the first user is created.
    pub async fn in_setup_mode(&self) -> Result<bool> {
        Ok(self.store().user_count().await? == 0)
    }

    /// Checks a username and password. The message is the same for an unknown user and a wrong
    /// password, so it does not reveal which usernames exist.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<Session> {
        let refused = || {
            tracing::warn!(username, "sign-in refused");
            Error::Unauthenticated("wrong username or password; try again".into())
        };
        let Ok(name) = Username::parse(username) else {
            return Err(refused());
        };
        let user = self.store().user(name.as_str()).await?;
        let Some(user) = user.filter(|u| u.active) else {
            // Spend the same time as a real check so timing does not tell either.
            let _ = hash_password(password);
            return Err(refused());
        };
        let parsed = PasswordHash::new(&user.password_hash)
            .map_err(|e| Error::internal(format!("stored hash unreadable: {e}")))?;
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .map_err(|_| refused())?;
        tracing::info!(username = %user.username, role = %user.role, "signed in");
        Ok(Session {
            user_id: user.id,
            username: user.username,
            role: user.role,
        })
    }

    /// The actor for a write: set-up mode while there are no users, otherwise the signed-in
    /// user (from `username` and `password`), refused when missing.
    pub async fn actor(&self, credentials: Option<(&str, &str)>) -> Result<Actor> {
        if self.in_setup_mode().await? {
            return Ok(Actor::Setup);
        }
        match credentials {
            Some((user, password)) => Ok(Actor::User(self.sign_in(user, password).await?)),
            None => Err(Error::SignInRequired),
        }
    }

    pub async fn add_user(
        &self,
        actor: &Actor,
        username: &str,
        role: &str,
        password: &str,
    ) -> Result<UserView> {
        actor.require(Action::ManageUsers)?;
        let username = Username::parse(username).map_err(|e| Error::invalid("username", e))?;
        let role: Role = role.parse().map_err(|e| Error::invalid("role", e))?;
        check_password(password).map_err(|e| Error::invalid("password", e))?;
        let hash = hash_password(password)?;
        let user = self
            .store()
            .insert_user(actor.name(), &username, role, &hash, self.now())
            .await?;
        Ok(UserView::from(&user))
    }

    /// Every user of the office. Administrators only.
    pub async fn users(&self, actor: &Actor) -> Result<Vec<UserView>> {
        actor.require(Action::ManageUsers)?;
        Ok(self
            .store()
            .users()
            .await?
            .iter()
            .map(UserView::from)
            .collect())
    }
}
