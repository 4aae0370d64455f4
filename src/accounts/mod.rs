//! Accounts: onboarding with the setup code, passwords, logins and their
//! sessions (DESIGN §3 and §5). Passwords live hashed in the household's
//! credentials document, so every hub of the household accepts them
//! offline; sessions are local to the hub that issued them.

pub mod password;
pub mod sessions;
pub mod setup;
pub mod throttle;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::limiter::Limiter;
use serde::Serialize;
use sessions::{Session, Sessions};

use crate::store::{Store, StoreError};
use crate::tenancy::ops::normalize_email;
use crate::tenancy::{Caller, OpError, Replica, ReplicaError};

/// Wrong current passwords allowed per account per window (a password
/// change: the caller holds a session of the account already).
const CHANGE_FAILURES: usize = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Wrong setup codes allowed per source address, and from anywhere, per
/// window (the code has over 40 bits: 50 guesses cannot find it).
const SETUP_FAILURES: usize = 5;
const SETUP_FAILURES_ALL: usize = 50;

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
    #[error("the hub is busy checking other passwords; try again in {} s", .0.as_secs().max(1))]
    Busy(Duration),
    #[error(
        "your password is right, but you are no longer a member of this household; ask one of its admins to invite you again"
    )]
    NoMembership,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Tenancy(#[from] ReplicaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A successful login: the bearer token, shown this once.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Login {
    pub token: String,
    pub user: String,
    pub session: Session,
}

pub struct Accounts {
    replica: Arc<Replica>,
    sessions: Sessions,
    state_dir: PathBuf,
    logins: throttle::LoginThrottle,
    /// Invite codes tried, by source address.
    invite_failures: Limiter,
    password_changes: Limiter,
    setup_failures: Limiter,
    setup_failures_all: Limiter,
    /// The node's wall clock: sessions, codes and invites expire by it.
    clock: Clock,
}

use crate::clock::Clock;

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
        clock: Clock,
    ) -> Result<Self, AccountError> {
        let now = clock.unix_now();
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
            logins: throttle::LoginThrottle::new(),
            invite_failures: Limiter::new(SETUP_FAILURES, FAILURE_WINDOW),
            password_changes: Limiter::new(CHANGE_FAILURES, FAILURE_WINDOW),
            setup_failures: Limiter::new(SETUP_FAILURES, FAILURE_WINDOW),
            setup_failures_all: Limiter::new(SETUP_FAILURES_ALL, FAILURE_WINDOW),
            clock,
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
        source: IpAddr,
    ) -> Result<Login, AccountError> {
        if self.replica.is_founded() {
            return Err(AccountError::AlreadySetUp);
        }
        let started = Instant::now();
        let source = crate::listener::source_key(source);
        self.setup_failures
            .check(&source, started)
            .and_then(|()| self.setup_failures_all.check("setup", started))
            .map_err(AccountError::Throttled)?;
        let current = setup::read(&self.state_dir, self.clock.unix_now());
        if !current.is_some_and(|c| setup::matches(&c, code)) {
            self.setup_failures.fail(&source, started);
            self.setup_failures_all.fail("setup", started);
            return Err(AccountError::BadSetupCode);
        }
        password::check(password).map_err(AccountError::Invalid)?;
        let phc = hash_blocking(password).await?;
        let founded = self
            .replica
            .found(household, email, self.clock.now_ms())
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
        // Counted before the hash, so a storm is refused before it costs one.
        let attempt = self
            .logins
            .begin(&account, source, now)
            .map_err(AccountError::Throttled)?;
        let found = self.replica.with_state(|s| {
            let user = s.user_by_email(&account)?;
            Some((user.id.clone(), is_member(s, &user.id, self.clock.now_ms())))
        })?;
        let phc = match &found {
            Some((user, _)) => self
                .replica
                .with_credentials(|c| c.password_hash(user).map(str::to_owned))?,
            None => None,
        };
        // Verify against something even for an unknown account, so the
        // answer takes as long either way.
        let ok = verify_blocking(password, phc.clone().unwrap_or_else(dummy_hash)).await?
            && phc.is_some();
        match found {
            Some((user, true)) if ok => {
                attempt.succeeded();
                self.start_session(&user, label).await
            }
            // Only someone who knows the password learns the membership ended.
            Some((_, false)) if ok => Err(AccountError::NoMembership),
            _ => Err(AccountError::InvalidCredentials),
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
        let source = crate::listener::source_key(source);
        self.invite_failures
            .check(&source, now)
            .map_err(AccountError::Throttled)?;
        password::check(password).map_err(AccountError::Invalid)?;
        // Counted before the hash; refunded once the code proves good.
        self.invite_failures.fail(&source, now);
        let phc = hash_blocking(password).await?;
        match self
            .replica
            .accept_invite(code.trim(), &phc, self.clock.now_ms())
            .await?
        {
            Some(user) => {
                self.invite_failures.refund(&source, now);
                // A reset ends every earlier login of the account.
                self.sessions.revoke(|s| s.user == user).await?;
                self.start_session(&user, label).await
            }
            None => Err(AccountError::InvalidCredentials),
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
        self.password_changes
            .check(&key, now)
            .map_err(AccountError::Throttled)?;
        password::check(new).map_err(AccountError::Invalid)?;
        self.password_changes.fail(&key, now);
        let phc = self
            .replica
            .with_credentials(|c| c.password_hash(&session.user).map(str::to_owned))?
            .unwrap_or_else(dummy_hash);
        if !verify_blocking(current, phc).await? {
            return Err(AccountError::InvalidCredentials);
        }
        self.password_changes.refund(&key, now);
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
        let (token, session) = self
            .sessions
            .create(user, label, self.clock.unix_now())
            .await?;
        Ok(Login {
            token,
            user: user.to_owned(),
            session,
        })
    }

    /// The live session of a presented bearer token, while its person is
    /// still a member of the household. A removal that arrives by sync ends
    /// their sessions here as it does where it was made.
    pub fn authenticate(&self, token: &str) -> Option<Session> {
        let session = self.sessions.check(token, self.clock.unix_now())?;
        let member = self
            .replica
            .with_state(|s| is_member(s, &session.user, self.clock.now_ms()));
        member.unwrap_or(false).then_some(session)
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The wall clock sessions, codes and invites expire by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

/// Does `user` hold a live membership now?
fn is_member(state: &crate::tenancy::TenantState, user: &str, now_ms: i64) -> bool {
    crate::tenancy::Access::new(state, now_ms)
        .memberships_of(user)
        .next()
        .is_some()
}

async fn hash_blocking(password: &str) -> Result<String, AccountError> {
    let password = password.to_owned();
    password::run(move || password::hash(&password))
        .await
        .map_err(|password::Busy(wait)| AccountError::Busy(wait))?
        .map_err(AccountError::Invalid)
}

async fn verify_blocking(password: &str, phc: String) -> Result<bool, AccountError> {
    let password = password.to_owned();
    password::run(move || password::verify(&password, &phc))
        .await
        .map_err(|password::Busy(wait)| AccountError::Busy(wait))
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
