//! BLE sensors reaching the hub through BLE-to-MQTT bridges (DESIGN §4;
//! `../shared/reference/protocols.md` §4): BTHome v2 service data
//! ([`bthome`]), and what a bridge's reports become ([`inbox`]): values of
//! adopted devices, or entries in the adoption inbox. [`Ble`] owns this
//! hub's bind keys and reading mappings and does the ingestion. It never creates a device for
//! an unknown MAC (it waits in the inbox), never puts a bind key in the replicated documents, and
//! a bridge's report reaches only devices its organization covers.

pub mod bthome;
pub mod inbox;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::devices::{Committed, Devices, Pin};
use crate::store::{Durability, Store, StoreError};
use crate::tenancy::credentials::Bridge;
use crate::tenancy::ops::normalize_mac;
use crate::tenancy::{Access, Caller, OpError, ReplicaError};

pub use inbox::{Report, Waiting};

/// A MAC's bind key (encrypted BTHome) and reading → pin mapping.
type Secrets = BTreeMap<String, (Option<[u8; 16]>, Value)>;

pub struct Ble {
    devices: Arc<Devices>,
    store: Store,
    secrets: RwLock<Secrets>,
}

/// What became of one report.
pub enum Ingested {
    /// Values of an adopted device; the commit of the last one, if any.
    Values {
        device: String,
        recorded: usize,
        committed: Option<Committed>,
    },
    /// Waiting in the inbox (or dismissed there, and counted).
    Inbox { mac: String },
}

#[derive(Debug, thiserror::Error)]
pub enum BleError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How the adopter wants a sensor set up.
pub struct Adoption {
    pub org: String,
    pub name: String,
    pub template: Option<String>,
    /// 32 hex digits, for encrypted BTHome sensors.
    pub bind_key: Option<String>,
    /// Reading name → pin (`{"temperature": "V1"}`); by default a reading
    /// goes to the datastream with its name.
    pub mapping: Value,
}

fn key_bytes(hex_key: Option<&str>) -> Option<[u8; 16]> {
    hex::decode(hex_key?).ok()?.try_into().ok()
}

impl Ble {
    /// # Errors
    /// When the store cannot be read.
    pub async fn open(devices: Arc<Devices>, store: Store) -> Result<Arc<Ble>, StoreError> {
        let rows = store.read(inbox::secrets).await?;
        let secrets = rows
            .into_iter()
            .map(|(mac, (key, mapping))| (mac, (key_bytes(key.as_deref()), mapping)))
            .collect();
        Ok(Arc::new(Ble {
            devices,
            store,
            secrets: RwLock::new(secrets),
        }))
    }

    fn secret(&self, mac: &str) -> (Option<[u8; 16]>, Value) {
        self.secrets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(mac)
            .cloned()
            .unwrap_or((None, Value::Null))
    }

    /// A report `bridge` published (JSON; the topic's MAC as a fallback).
    ///
    /// # Errors
    /// A message for a payload that is not a report, or a store failure.
    pub async fn ingest(
        &self,
        bridge: &Bridge,
        topic_mac: &str,
        payload: &[u8],
    ) -> Result<Ingested, String> {
        let report = inbox::parse(payload, topic_mac, |mac| self.secret(mac).0)?;
        if let Some(error) = &report.error {
            tracing::debug!("ble: {} via {}: {error}", report.mac, bridge.name);
        }
        let adopted = self.devices.replica().with_state(|state| {
            let access = Access::new(state, self.devices.clock().now_ms());
            state
                .devices()
                .values()
                .find(|d| {
                    !d.deleted
                        && d.ble_mac.as_deref() == Some(report.mac.as_str())
                        && access
                            .effective_org(d)
                            .is_some_and(|o| access.covers(&bridge.org, o))
                })
                .map(|d| d.id.clone())
        });
        let Ok(Some(device)) = adopted else {
            let (mac, now) = (report.mac.clone(), self.devices.clock().now_ms());
            let (name, org) = (bridge.name.clone(), bridge.org.clone());
            self.store
                .write(Durability::Relaxed, move |conn| {
                    inbox::note(conn, &report, &name, &org, now)
                })
                .await
                .map_err(|e| e.to_string())?;
            return Ok(Ingested::Inbox { mac });
        };
        let mapping = self.secret(&report.mac).1;
        let mut recorded = 0;
        let mut committed = None;
        for (reading, value) in &report.readings {
            let pin = mapping
                .get(reading)
                .and_then(Value::as_str)
                .and_then(Pin::parse)
                .or_else(|| {
                    self.devices
                        .pin_named(&device, reading)
                        .filter(|p| p.virtual_number().is_some())
                });
            // Readings the template has no datastream for are not kept.
            let Some(pin) = pin else { continue };
            match self
                .devices
                .record_queued(&device, pin, &[value.to_string()])
                .await
            {
                Ok(c) => {
                    committed = Some(c);
                    recorded += 1;
                }
                Err(e) => tracing::warn!("ble: {} ({reading} = {value}): {e}", report.mac),
            }
        }
        Ok(Ingested::Values {
            device,
            recorded,
            committed,
        })
    }

    /// The inbox entries `by` may see: those heard by bridges of
    /// organizations where they manage devices.
    ///
    /// # Errors
    /// A store or replica failure.
    pub async fn inbox(&self, by: &Caller) -> Result<Vec<Waiting>, BleError> {
        let all = self.store.read(inbox::list).await?;
        Ok(self.devices.replica().with_state(|state| {
            all.into_iter()
                .filter(|w| may_manage(state, by, &w.org, self.devices.clock().now_ms()))
                .collect()
        })?)
    }

    /// Adopts a waiting MAC: a device in `org` with its BLE MAC set, its
    /// bind key and mapping kept on this hub; the inbox entry goes.
    ///
    /// # Errors
    /// 404 for a MAC not waiting (or not the caller's to see), the device
    /// operations' own errors.
    pub async fn adopt(
        &self,
        by: &Caller,
        mac: &str,
        adoption: Adoption,
    ) -> Result<String, BleError> {
        let mac = normalize_mac(mac)?;
        let key = match adoption.bind_key.as_deref() {
            Some(k) => Some(
                key_bytes(Some(k))
                    .ok_or_else(|| OpError::Invalid("bind_key is 32 hex digits".into()))?,
            ),
            None => None,
        };
        self.waiting(by, &mac).await?;
        let now = self.devices.clock().now_ms();
        let replica = self.devices.replica();
        let device = replica
            .apply(|t| {
                t.add_device(
                    by,
                    &adoption.org,
                    &adoption.name,
                    adoption.template.as_deref(),
                    now,
                )
            })
            .await?;
        replica
            .apply(|t| t.set_ble_mac(by, &device, Some(&mac), now))
            .await?;
        let (stored_mac, bind_key, mapping) = (
            mac.clone(),
            adoption.bind_key.clone(),
            adoption.mapping.clone(),
        );
        self.store
            .write(Durability::Acknowledged, move |conn| {
                inbox::adopted(conn, &stored_mac, bind_key.as_deref(), &mapping)
            })
            .await?;
        self.secrets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(mac, (key, adoption.mapping));
        Ok(device)
    }

    /// Ok when `mac` waits in the inbox and `by` may see it; 404 otherwise.
    async fn waiting(&self, by: &Caller, mac: &str) -> Result<(), BleError> {
        let lookup = mac.to_owned();
        let waiting = self
            .store
            .read(move |conn| inbox::get(conn, &lookup))
            .await?;
        let visible = self.devices.replica().with_state(|state| {
            waiting
                .as_ref()
                .is_some_and(|w| may_manage(state, by, &w.org, self.devices.clock().now_ms()))
        })?;
        if !visible {
            return Err(OpError::NotFound(format!("{mac} in the BLE inbox")).into());
        }
        Ok(())
    }

    /// Dismisses a waiting MAC (still counted when heard, no longer listed).
    ///
    /// # Errors
    /// 404 for a MAC not waiting or not the caller's to see.
    pub async fn dismiss(&self, by: &Caller, mac: &str) -> Result<(), BleError> {
        let mac = normalize_mac(mac)?;
        self.waiting(by, &mac).await?;
        self.store
            .write(Durability::Relaxed, move |conn| inbox::dismiss(conn, &mac))
            .await?;
        Ok(())
    }
}

fn may_manage(state: &crate::tenancy::TenantState, by: &Caller, org: &str, now_ms: i64) -> bool {
    match by {
        Caller::Console => true,
        Caller::User(user) => Access::new(state, now_ms).can_manage(
            user,
            crate::tenancy::Permission::ManageDevices,
            org,
        ),
    }
}
