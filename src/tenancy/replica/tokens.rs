//! Device tokens, BLE bridges and hub credentials on the replica: issued
//! or revoked in the credentials document after the sharing state allowed
//! it. A token is returned once and never stored in clear, only its hash.

use super::{Replica, ReplicaError};
use crate::tenancy::credentials;
use crate::tenancy::ops::{Caller, OpError};
use crate::tenancy::state::Id;

impl Replica {
    /// Issues a new auth token for `device` (the old one stops working) and
    /// returns it: the only time it is ever shown. Needs `manage_devices`.
    ///
    /// # Errors
    /// As [`credentials::authorize::device_token`] says.
    pub async fn issue_device_token(
        &self,
        by: &Caller,
        device: &str,
        now: i64,
    ) -> Result<String, ReplicaError> {
        self.with_state(|s| credentials::authorize::device_token(s, by, device, now))??;
        let token = credentials::new_token();
        let hash = credentials::token_hash(&token);
        self.docs()?
            .credentials
            .change(|doc| credentials::put_device_token(doc, device, &hash))
            .await??;
        // Sessions on the old token watch this and end.
        self.changed.send_modify(|v| *v += 1);
        Ok(token)
    }

    /// Adds a BLE bridge reporting to `org`; returns its id and its token,
    /// shown this once.
    ///
    /// # Errors
    /// As [`credentials::authorize::bridge`] says.
    pub async fn add_bridge(
        &self,
        by: &Caller,
        org: &str,
        name: &str,
        now: i64,
    ) -> Result<(Id, String), ReplicaError> {
        self.with_state(|s| credentials::authorize::bridge(s, by, org, now))??;
        let token = credentials::new_token();
        let hash = credentials::token_hash(&token);
        let id = self
            .docs()?
            .credentials
            .change(|doc| credentials::put_bridge(doc, name, org, &hash))
            .await??;
        Ok((id, token))
    }

    /// Revokes a bridge for good; needs `manage_devices` in its organization.
    ///
    /// # Errors
    /// [`OpError::NotFound`] for a bridge outside the caller's view.
    pub async fn revoke_bridge(&self, by: &Caller, id: &str, now: i64) -> Result<(), ReplicaError> {
        let org = self
            .with_credentials(|c| c.bridges().get(id).map(|b| b.org.clone()))?
            .ok_or_else(|| OpError::NotFound(format!("bridge {id}")))?;
        self.with_state(|s| credentials::authorize::bridge(s, by, &org, now))?
            .map_err(|e| match e {
                OpError::NotFound(_) => OpError::NotFound(format!("bridge {id}")),
                other => other,
            })?;
        self.docs()?
            .credentials
            .change(|doc| credentials::revoke_bridge(doc, id))
            .await??;
        // The bridge's open MQTT session watches this and ends.
        self.changed.send_modify(|v| *v += 1);
        Ok(())
    }

    /// Records hub `id`'s credential (token hash, certificate fingerprint).
    /// The caller decides who may: pairing, or the hub itself.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn put_hub(
        &self,
        id: &str,
        token_hash: &str,
        fingerprint: Option<&str>,
    ) -> Result<(), ReplicaError> {
        self.docs()?
            .credentials
            .change(|doc| credentials::put_hub(doc, id, token_hash, fingerprint))
            .await??;
        Ok(())
    }

    /// Revokes hub `id` (the caller checked it may).
    ///
    /// # Errors
    /// [`OpError::NotFound`] for an unknown hub.
    pub async fn revoke_hub(&self, id: &str) -> Result<(), ReplicaError> {
        self.docs()?
            .credentials
            .change(|doc| credentials::revoke_hub(doc, id))
            .await??;
        self.changed.send_modify(|v| *v += 1);
        Ok(())
    }
}
