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
    /// Demo mode setting its office up: the sample policies and Pull against the built-in
    /// simulator, nothing else.
    Demo,
    /// The collector charging saved cards and sending M-Pesa prompts on due days, as the
    /// holders' instructions say: it may start payments, and nothing a person decides.
    Collector,
    /// The `malipo` command line run without `--as` by the computer account that owns the data
    /// directory. It can open the database file itself, so asking it for a password to read
    /// would protect nothing; it may read and see the summaries, and change nothing (a change
    /// needs a name for the audit log).
    Console,
}

impl Actor {
    /// The name written in the audit log.
    pub fn name(&self) -> &str {
        match self {
            Actor::Setup => "setup",
            Actor::User(s) => &s.username,
            Actor::Sync => "sync",
            Actor::Demo => "demo",
            Actor::Collector => "collector",
            Actor::Console => "console",
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        match self {
            Actor::Setup | Actor::Sync | Actor::Demo | Actor::Collector | Actor::Console => None,
            Actor::User(s) => Some(s.user_id),
        }
    }

    /// Whether [`Actor::require`] lets this actor do `action`.
    pub fn may(&self, action: Action) -> bool {
        self.require(action).is_ok()
    }

    /// Refuses `action` unless the actor's role allows it (anything goes in set-up mode).
    pub fn require(&self, action: Action) -> Result<()> {
        match self {
            Actor::Setup => Ok(()),
            Actor::Demo
                if matches!(
                    action,
                    Action::Read | Action::ManagePolicies | Action::ManageSettings
                ) =>
            {
                Ok(())
            }
            Actor::Console if matches!(action, Action::Read | Action::ViewReports) => Ok(()),
            Actor::Console => Err(Error::SignInRequired),
            Actor::Demo => Err(Error::Forbidden(format!(
                "demo mode's set-up cannot {}",
                action.describe()
            ))),
            Actor::User(s) if s.role.permits(action) => Ok(()),
            Actor::Sync | Actor::Collector if action == Action::Read => Ok(()),
            Actor::Collector if action == Action::TakePayment => Ok(()),
            Actor::Collector => Err(Error::Forbidden(format!(
                "the collector cannot {}",
                action.describe()
            ))),
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

/// Failed sign-ins for one name that cost nothing.
pub const FREE_FAILURES: i64 = 5;
/// Failed sign-ins of any names on this machine before it waits [`MACHINE_WAIT`].
pub const MACHINE_FAILURES: i64 = 20;
/// How far back failures count.
pub const FAILURE_WINDOW: time::Duration = time::Duration::minutes(15);
const MACHINE_WAIT: time::Duration = time::Duration::minutes(1);

/// How long to wait before another sign-in may be checked, if at all.
fn sign_in_wait(
    seen: &malipo_store::SignInFailures,
    now: time::OffsetDateTime,
) -> Option<time::Duration> {
    let mut until = None;
    if seen.for_name >= FREE_FAILURES
        && let Some(last) = seen.last_for_name
    {
        let doublings = u32::try_from(seen.for_name - FREE_FAILURES)
            .unwrap_or(u32::MAX)
            .min(5);
        let pause =
            (time::Duration::seconds(30) * 2_i32.pow(doublings)).min(time::Duration::minutes(15));
        until = Some(last + pause);
    }
    if seen.on_machine >= MACHINE_FAILURES
        && let Some(last) = seen.last_on_machine
    {
        until = until.max(Some(last + MACHINE_WAIT));
    }
    until.map(|u| u - now).filter(|w| w.is_positive())
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
    /// password, so it does not reveal which usernames exist. After [`FREE_FAILURES`] failures
    /// for one name within [`FAILURE_WINDOW`], that name must wait (30 s, doubling with each
    /// further failure, at most 15 minutes) before it is checked again, even with the right
    /// password; after [`MACHINE_FAILURES`] failures of any names the whole machine waits a
    /// minute. A refused sign-in is logged by a short hash of what was typed, never the text (a
    /// password typed into the name field must not end up in the log).
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<Session> {
        let typed = username.trim().to_lowercase();
        let who = malipo_domain::verification::token_key(&typed);
        let now = self.now();
        let seen = self
            .store()
            .sign_in_failures(&who, now - FAILURE_WINDOW)
            .await?;
        if let Some(wait) = sign_in_wait(&seen, now) {
            tracing::warn!(name = &who[..12], "sign-in refused: too many failures");
            return Err(Error::RateLimited(format!(
                "too many failed sign-ins; try again in {} seconds",
                wait.whole_seconds().max(1)
            )));
        }
        let refused = || async {
            tracing::warn!(name = &who[..12], "sign-in refused");
            self.store().record_sign_in_failure(&who, now).await?;
            Ok::<_, Error>(Error::Unauthenticated(
                "wrong username or password; try again".into(),
            ))
        };
        let Ok(name) = Username::parse(username) else {
            return Err(refused().await?);
        };
        let user = self.store().user(name.as_str()).await?;
        let Some(user) = user.filter(|u| u.active) else {
            // Spend the same time as a real check so timing does not tell either.
            let _ = hash_password(password);
            return Err(refused().await?);
        };
        let parsed = PasswordHash::new(&user.password_hash)
            .map_err(|e| Error::internal(format!("stored hash unreadable: {e}")))?;
        if Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
        {
            return Err(refused().await?);
        }
        self.store().clear_sign_in_failures(&who).await?;
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
