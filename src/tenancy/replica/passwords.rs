//! Passwords on the replica: password hashes, invite codes and
//! password-reset codes, written to the credentials document. It never
//! stores a code or password in clear, only its hash (see
//! [`credentials`](crate::tenancy::credentials)).

use super::{Replica, ReplicaError};
use crate::tenancy::credentials;
use crate::tenancy::ops::Caller;
use crate::tenancy::state::Id;

/// How long an invite code stays valid.
const INVITE_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;

impl Replica {
    /// Stores `user`'s new password hash (an argon2id PHC string).
    ///
    /// # Errors
    /// As [`credentials::authorize::password`] says.
    pub async fn set_password_hash(
        &self,
        by: &Caller,
        user: &str,
        phc: &str,
    ) -> Result<(), ReplicaError> {
        self.with_state(|s| credentials::authorize::password(s, by, user))??;
        self.docs()?
            .credentials
            .change(|doc| credentials::put_password_hash(doc, user, phc))
            .await??;
        Ok(())
    }

    /// A single-use invite code for `user` when they have no password yet
    /// (someone who already has an account just logs in): valid for a week,
    /// replacing any earlier one. The caller must have just invited them.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn issue_invite(&self, user: &str, now: i64) -> Result<Option<String>, ReplicaError> {
        if self.with_credentials(|c| c.password_hash(user).is_some())? {
            return Ok(None);
        }
        self.issue_password_code(user, now).await.map(Some)
    }

    /// A password-reset code for `user` (accepted like an invite code),
    /// issued by someone allowed to (see
    /// [`credentials::authorize::password_reset`]).
    ///
    /// # Errors
    /// As the authorization says; storage failures.
    pub async fn reset_password(
        &self,
        by: &Caller,
        user: &str,
        now: i64,
    ) -> Result<String, ReplicaError> {
        self.with_state(|s| credentials::authorize::password_reset(s, by, user, now))??;
        self.issue_password_code(user, now).await
    }

    async fn issue_password_code(&self, user: &str, now: i64) -> Result<String, ReplicaError> {
        let token = format!("inv_{}", credentials::new_token());
        let hash = credentials::token_hash(&token);
        self.docs()?
            .credentials
            .change(|doc| credentials::put_invite(doc, user, &hash, now + INVITE_LIFETIME_MS))
            .await??;
        Ok(token)
    }

    /// Accepts an invite code: stores the new member's password hash and
    /// uses the code up. Returns the user, or `None` for an unknown or
    /// expired code.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn accept_invite(
        &self,
        token: &str,
        phc: &str,
        now: i64,
    ) -> Result<Option<Id>, ReplicaError> {
        let Some(user) =
            self.with_credentials(|c| c.invited_user(token, now).map(str::to_owned))?
        else {
            return Ok(None);
        };
        self.docs()?
            .credentials
            .change(|doc| credentials::accept_invite(doc, &user, phc))
            .await??;
        Ok(Some(user))
    }
}
