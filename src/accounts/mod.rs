//! Accounts: onboarding with the setup code, passwords, logins and their
//! sessions (DESIGN §3 and §5). Passwords live hashed in the household's
//! credentials document, so every hub of the household accepts them
//! offline; sessions are local to the hub that issued them.

pub mod limiter;
pub mod password;
pub mod sessions;
pub mod setup;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use limiter::Limiter;
use serde::Serialize;
use sessions::{Session, Sessions};

use crate::store::{Store, StoreError};
use crate::tenancy::ops::normalize_email;
use crate::tenancy::{Caller, OpError, Replica, ReplicaError};

/// Failed logins allowed per account, and per source address, per window.
const LOGIN_FAILURES: usize = 5;
const SOURCE_FAILURES: usize = 20;
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Wrong setup codes allowed (from anywhere) per window.
const SETUP_FAILURES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("wrong or expired setup code; `hearth setup-code` on the hub shows the current one")]
    BadSetupCode,
    #[error("this hub is already set up; log in instead")]
    AlreadySetUp,
    #[error("too many failed attempts; try again in {} s", .0.as_secs().max(1))]
    Throttled(Duration),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Tenancy(#[from] ReplicaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A successful login: the bearer token, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub token: String,
    pub user: String,
    pub session: Session,
}

pub struct Accounts {
    replica: Arc<Replica>,
    sessions: Sessions,
    state_dir: PathBuf,
    by_account: Limiter,
    by_source: Limiter,
    setup_failures: Limiter,
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Accounts {
    /// Loads the sessions; on a hub without a household, makes sure there
    /// is a setup code and logs it.
    ///
    /// # Errors
    /// Storage failures, or a setup code that cannot be written.
    pub async fn open(
        replica: Arc<Replica>,
        store: Store,
        state_dir: PathBuf,
    ) -> Result<Self, AccountError> {
        let now = unix_now();
        let sessions = Sessions::load(store, now).await?;
        if !replica.is_founded() {
            let code = setup::ensure(&state_dir, now)
                .map_err(|e| AccountError::Invalid(format!("cannot write the setup code: {e}")))?;
            tracing::info!(
                "this hub has no household yet; set it up with the code {} (also shown by `hearth setup-code`)",
                code.code
            );
        }
        Ok(Accounts {
            replica,
            sessions,
            state_dir,
            by_account: Limiter::new(LOGIN_FAILURES, FAILURE_WINDOW),
            by_source: Limiter::new(SOURCE_FAILURES, FAILURE_WINDOW),
            setup_failures: Limiter::new(SETUP_FAILURES, FAILURE_WINDOW),
        })
    }

    /// First setup: the code creates the household (root organization
    /// `household`) and its first admin, who is logged in.
    ///
    /// # Errors
    /// [`AccountError`] saying what was wrong.
    pub async fn setup(
        &self,
        code: &str,
        household: &str,
        email: &str,
        password: &str,
        label: &str,
    ) -> Result<Login, AccountError> {
        if self.replica.is_founded() {
            return Err(AccountError::AlreadySetUp);
        }
        let started = Instant::now();
        self.setup_failures
            .check("setup", started)
            .map_err(AccountError::Throttled)?;
        let current = setup::read(&self.state_dir, unix_now());
        if !current.is_some_and(|c| setup::matches(&c, code)) {
            self.setup_failures.fail("setup", started);
            return Err(AccountError::BadSetupCode);
        }
        password::check(password).map_err(AccountError::Invalid)?;
        let phc = hash_blocking(password).await?;
        let founded = self
            .replica
            .found(household, email, unix_now() * 1000)
            .await
            .map_err(|e| match e {
                ReplicaError::AlreadyFounded => AccountError::AlreadySetUp,
                ReplicaError::Op(OpError::Invalid(m)) => AccountError::Invalid(m),
                other => AccountError::Tenancy(other),
            })?;
        setup::consume(&self.state_dir);
        self.replica
            .set_password_hash(&Caller::Console, &founded.admin, &phc)
            .await?;
        tracing::info!("household \"{household}\" set up; its first admin is {email}");
        self.start_session(&founded.admin, label).await
    }

    /// Logs in with email and password.
    ///
    /// # Errors
    /// [`AccountError::InvalidCredentials`] (never saying which part was
    /// wrong), or [`AccountError::Throttled`].
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        label: &str,
        source: IpAddr,
    ) -> Result<Login, AccountError> {
        let now = Instant::now();
        let account = normalize_email(email).map_err(|_| AccountError::InvalidCredentials)?;
        let source = source.to_string();
        self.by_source
            .check(&source, now)
            .and_then(|()| self.by_account.check(&account, now))
            .map_err(AccountError::Throttled)?;
        let found = self.replica.with_state(|s| {
            let user = s.user_by_email(&account)?;
            let access = crate::tenancy::Access::new(s, unix_now() * 1000);
            access
                .memberships_of(&user.id)
                .next()
                .map(|_| user.id.clone())
        })?;
        let phc = match &found {
            Some(user) => self
                .replica
                .with_credentials(|c| c.password_hash(user).map(str::to_owned))?,
            None => None,
        };
        // Verify against something even for an unknown account, so the
        // answer takes as long either way.
        let ok = verify_blocking(password, phc.clone().unwrap_or_else(dummy_hash)).await
            && phc.is_some();
        match found {
            Some(user) if ok => {
                self.by_account.clear(&account);
                self.start_session(&user, label).await
            }
            _ => {
                self.by_account.fail(&account, now);
                self.by_source.fail(&source, now);
                Err(AccountError::InvalidCredentials)
            }
        }
    }

    /// A new member sets their password with the invite code and is logged
    /// in. Wrong codes count against the source address.
    ///
    /// # Errors
    /// [`AccountError::InvalidCredentials`] for an unknown or expired code.
    pub async fn accept_invite(
        &self,
        code: &str,
        password: &str,
        label: &str,
        source: IpAddr,
    ) -> Result<Login, AccountError> {
        let now = Instant::now();
        let source = source.to_string();
        self.by_source
            .check(&source, now)
            .map_err(AccountError::Throttled)?;
        password::check(password).map_err(AccountError::Invalid)?;
        let phc = hash_blocking(password).await?;
        match self
            .replica
            .accept_invite(code.trim(), &phc, unix_now() * 1000)
            .await?
        {
            Some(user) => {
                // A reset ends every earlier login of the account.
                self.sessions.revoke(|s| s.user == user).await?;
                self.start_session(&user, label).await
            }
            None => {
                self.by_source.fail(&source, now);
                Err(AccountError::InvalidCredentials)
            }
        }
    }

    /// Changes the caller's own password after checking the current one;
    /// their other sessions end.
    ///
    /// # Errors
    /// [`AccountError::InvalidCredentials`] for a wrong current password.
    pub async fn change_password(
        &self,
        session: &Session,
        current: &str,
        new: &str,
    ) -> Result<(), AccountError> {
        let now = Instant::now();
        let key = format!("user:{}", session.user);
        self.by_account
            .check(&key, now)
            .map_err(AccountError::Throttled)?;
        password::check(new).map_err(AccountError::Invalid)?;
        let phc = self
            .replica
            .with_credentials(|c| c.password_hash(&session.user).map(str::to_owned))?
            .unwrap_or_else(dummy_hash);
        if !verify_blocking(current, phc).await {
            self.by_account.fail(&key, now);
            return Err(AccountError::InvalidCredentials);
        }
        let hash = hash_blocking(new).await?;
        self.replica
            .set_password_hash(&Caller::User(session.user.clone()), &session.user, &hash)
            .await?;
        let keep = session.id.clone();
        let user = session.user.clone();
        self.sessions
            .revoke(|s| s.user == user && s.id != keep)
            .await?;
        Ok(())
    }

    async fn start_session(&self, user: &str, label: &str) -> Result<Login, AccountError> {
        let (token, session) = self.sessions.create(user, label, unix_now()).await?;
        Ok(Login {
            token,
            user: user.to_owned(),
            session,
        })
    }

    /// The live session of a presented bearer token.
    pub fn authenticate(&self, token: &str) -> Option<Session> {
        self.sessions.check(token, unix_now())
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }
}

async fn hash_blocking(password: &str) -> Result<String, AccountError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| AccountError::Invalid(e.to_string()))?
        .map_err(AccountError::Invalid)
}

async fn verify_blocking(password: &str, phc: String) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || password::verify(&password, &phc))
        .await
        .unwrap_or(false)
}

/// Spends as long as checking a password does, for a login that has no
/// account to check against (its answer then takes as long as any other).
pub async fn equal_time_refusal(password: &str) {
    let _ = verify_blocking(password, dummy_hash()).await;
}

/// A valid hash of a random password, for timing-equal failures.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| password::hash(&crate::random_hex(16)).unwrap_or_default())
        .clone()
}
