//! The paired-device store (`<state>/devices/paired.json`, `pending.json`; atomic writes,
//! 0600). A change is written before it is applied in memory, so a failed write leaves memory
//! equal to disk; an unreadable store file is set aside (`<name>.corrupt-<ts>`), never
//! overwritten. Only the gateway process writes these files (the CLI goes through the
//! gateway), so the in-process lock is enough.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::auth::secret_eq;
pub use crate::pair_files::StoreError;
use crate::pair_files::{Change, Maps, PairFiles};

/// A device token issued for one role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceToken {
    pub token: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub created_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at_ms: Option<u64>,
}

/// What a device says about itself at connect (shown to operators; newer values win).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
}

impl DeviceFacts {
    /// Takes every fact `newer` knows, keeping ours where it says nothing.
    fn refresh_from(&mut self, newer: &DeviceFacts) {
        for (ours, theirs) in [
            (&mut self.display_name, &newer.display_name),
            (&mut self.platform, &newer.platform),
            (&mut self.client_id, &newer.client_id),
            (&mut self.client_mode, &newer.client_mode),
        ] {
            if theirs.is_some() {
                ours.clone_from(theirs);
            }
        }
    }
}

/// One entry of `paired.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairedDevice {
    pub device_id: String,
    pub public_key: String,
    #[serde(flatten)]
    pub facts: DeviceFacts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub approved_scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    #[serde(default)]
    pub tokens: BTreeMap<String, DeviceToken>,
    pub created_at_ms: u64,
    pub approved_at_ms: u64,
}

/// One entry of `pending.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingRequest {
    pub request_id: String,
    pub device_id: String,
    pub public_key: String,
    #[serde(flatten)]
    pub facts: DeviceFacts,
    pub role: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    #[serde(default)]
    pub silent: bool,
    #[serde(default)]
    pub is_repair: bool,
    pub ts: u64,
}

/// Max pending pairing requests kept (oldest dropped).
const MAX_PENDING: usize = 100;

/// The paired-device store. All changes are persisted before they take effect for a client.
pub struct DeviceStore {
    files: PairFiles<PairedDevice, PendingRequest>,
}

type StoreData = Maps<PairedDevice, PendingRequest>;

/// A fresh secret: 32 random bytes, base64url (43 characters).
pub fn random_token() -> String {
    let b: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(b)
}

/// What a device may do, as stored.
pub enum PairState {
    /// Paired for this role with these scopes.
    Paired,
    /// Unknown, or asking for a role/scopes beyond what was approved.
    NeedsPairing { reason: &'static str },
}

/// Pending device requests expire five minutes after their last retry.
pub const PENDING_TTL_MS: u64 = 300_000;

fn expired(p: &PendingRequest, now: u64) -> bool {
    now.saturating_sub(p.ts) > PENDING_TTL_MS
}

/// Drops expired requests (lazily, as the reference: no event).
fn prune(data: &mut StoreData, now: u64) {
    data.pending.retain(|_, p| !expired(p, now));
}

fn merge(into: &mut Vec<String>, more: &[String]) {
    for s in more {
        if !into.contains(s) {
            into.push(s.clone());
        }
    }
}

/// Merges an approved request into the device's record (roles and scopes only grow) and drops
/// the device's pending requests.
fn apply_approval(data: &mut StoreData, req: &PendingRequest, now: u64) -> PairedDevice {
    let entry = data
        .paired
        .entry(req.device_id.clone())
        .or_insert_with(|| PairedDevice {
            device_id: req.device_id.clone(),
            public_key: req.public_key.clone(),
            facts: DeviceFacts::default(),
            operator_label: None,
            role: None,
            roles: Vec::new(),
            scopes: Vec::new(),
            approved_scopes: Vec::new(),
            remote_ip: None,
            tokens: BTreeMap::new(),
            created_at_ms: now,
            approved_at_ms: now,
        });
    if entry.public_key != req.public_key {
        // A new key for a known id: earlier tokens belonged to the old key.
        entry.tokens.clear();
        entry.public_key = req.public_key.clone();
    }
    entry.facts.refresh_from(&req.facts);
    entry.role = Some(req.role.clone());
    // Approving a revoked role again makes way for a fresh token.
    if entry
        .tokens
        .get(&req.role)
        .is_some_and(|t| t.revoked_at_ms.is_some())
    {
        entry.tokens.remove(&req.role);
    }
    merge(&mut entry.roles, std::slice::from_ref(&req.role));
    merge(&mut entry.scopes, &req.scopes);
    merge(&mut entry.approved_scopes, &req.scopes);
    entry.remote_ip = req.remote_ip.clone();
    entry.approved_at_ms = now;
    let dev = entry.clone();
    data.pending.retain(|_, p| p.device_id != req.device_id);
    dev
}

/// What [`DeviceStore::add_pending`] did.
#[derive(Debug, Default)]
pub struct Added {
    pub request: Option<PendingRequest>,
    pub created: bool,
    pub replaced: Vec<String>,
}

impl DeviceStore {
    /// Opens the store; never fatal (see [`PairFiles::open`]).
    pub fn open(dir: PathBuf) -> Self {
        Self {
            files: PairFiles::open(dir, "device pairing"),
        }
    }

    fn update<R>(&self, change: impl FnOnce(&mut StoreData) -> Change<R>) -> Result<R, StoreError> {
        self.files.update(change)
    }

    pub fn state(&self, device_id: &str, role: &str, scopes: &[String]) -> PairState {
        let data = self.files.read();
        match data.paired.get(device_id) {
            None => PairState::NeedsPairing {
                reason: "not-paired",
            },
            Some(d) if !d.roles.iter().any(|r| r == role) => PairState::NeedsPairing {
                reason: "role-upgrade",
            },
            // A revoked role must be approved again, whatever secret the device presents.
            Some(d)
                if d.tokens
                    .get(role)
                    .is_some_and(|t| t.revoked_at_ms.is_some()) =>
            {
                PairState::NeedsPairing {
                    reason: "role-upgrade",
                }
            }
            Some(d) if !scopes.iter().all(|s| d.scopes.contains(s)) => PairState::NeedsPairing {
                reason: "scope-upgrade",
            },
            Some(_) => PairState::Paired,
        }
    }

    /// Approves (or widens) a device for `role` and `scopes`, keeping earlier grants.
    pub fn approve(&self, req: &PendingRequest, now: u64) -> Result<PairedDevice, StoreError> {
        self.update(|data| {
            let dev = apply_approval(data, req, now);
            Change::Write(dev)
        })
    }

    /// Approves the pending request `request_id`; `None` when there is no such request.
    pub fn approve_pending(
        &self,
        request_id: &str,
        now: u64,
    ) -> Result<Option<PairedDevice>, StoreError> {
        self.update(|data| {
            prune(data, now);
            match data.pending.get(request_id).cloned() {
                None => Change::Unchanged(None),
                Some(req) => Change::Write(Some(apply_approval(data, &req, now))),
            }
        })
    }

    /// Drops the pending request `request_id`; returns it, or `None` when unknown.
    pub fn reject(&self, request_id: &str, now: u64) -> Result<Option<PendingRequest>, StoreError> {
        self.update(|data| {
            prune(data, now);
            match data.pending.remove(request_id) {
                None => Change::Unchanged(None),
                Some(req) => Change::Write(Some(req)),
            }
        })
    }

    /// Forgets a paired device and its pending requests; `None` when unknown.
    pub fn remove(&self, device_id: &str) -> Result<Option<PairedDevice>, StoreError> {
        self.update(|data| match data.paired.remove(device_id) {
            None => Change::Unchanged(None),
            Some(dev) => {
                data.pending.retain(|_, p| p.device_id != device_id);
                Change::Write(Some(dev))
            }
        })
    }

    /// Withdraws one role from a device (its token too); a device left with no role is
    /// forgotten. `false` when the device did not have the role.
    pub fn drop_role(&self, device_id: &str, role: &str) -> Result<bool, StoreError> {
        self.update(|data| {
            let Some(dev) = data.paired.get_mut(device_id) else {
                return Change::Unchanged(false);
            };
            if !dev.roles.iter().any(|r| r == role) {
                return Change::Unchanged(false);
            }
            dev.roles.retain(|r| r != role);
            dev.tokens.remove(role);
            if dev.role.as_deref() == Some(role) {
                dev.role = dev.roles.first().cloned();
            }
            if dev.roles.is_empty() {
                data.paired.remove(device_id);
            }
            Change::Write(true)
        })
    }

    /// Sets the operator's label of a paired device; `false` when unknown.
    pub fn rename(&self, device_id: &str, label: &str) -> Result<bool, StoreError> {
        self.update(|data| match data.paired.get_mut(device_id) {
            None => Change::Unchanged(false),
            Some(dev) => {
                dev.operator_label = Some(label.to_string());
                Change::Write(true)
            }
        })
    }

    /// Issues a new token for a role the device was approved for, keeping its scopes unless
    /// `scopes` narrows or names them; `None` for an unknown device or role.
    pub fn rotate(
        &self,
        device_id: &str,
        role: &str,
        scopes: Option<&[String]>,
        now: u64,
    ) -> Result<Option<DeviceToken>, StoreError> {
        self.update(|data| {
            let Some(dev) = data.paired.get_mut(device_id) else {
                return Change::Unchanged(None);
            };
            let old = dev.tokens.get(role).cloned();
            if old.is_none() && !dev.roles.iter().any(|r| r == role) {
                return Change::Unchanged(None);
            }
            let scopes = match scopes {
                Some(s) => s.to_vec(),
                None => old
                    .as_ref()
                    .map(|t| t.scopes.clone())
                    .unwrap_or_else(|| dev.scopes.clone()),
            };
            let t = DeviceToken {
                token: random_token(),
                role: role.to_string(),
                scopes,
                created_at_ms: old.as_ref().map_or(now, |t| t.created_at_ms),
                rotated_at_ms: Some(now),
                revoked_at_ms: None,
                last_used_at_ms: None,
            };
            dev.tokens.insert(role.to_string(), t.clone());
            Change::Write(Some(t))
        })
    }

    /// Revokes the token of `(device, role)`; returns when, or `None` for an unknown pair.
    pub fn revoke(&self, device_id: &str, role: &str, now: u64) -> Result<Option<u64>, StoreError> {
        self.update(|data| {
            let Some(t) = data
                .paired
                .get_mut(device_id)
                .and_then(|d| d.tokens.get_mut(role))
            else {
                return Change::Unchanged(None);
            };
            t.revoked_at_ms = Some(now);
            Change::Write(Some(now))
        })
    }

    /// Pending requests (newest first) and paired devices (newest approval first).
    pub fn list(&self, now: u64) -> (Vec<PendingRequest>, Vec<PairedDevice>) {
        let data = self.files.read();
        let mut pending: Vec<PendingRequest> = data
            .pending
            .values()
            .filter(|p| !expired(p, now))
            .cloned()
            .collect();
        pending.sort_by_key(|p| std::cmp::Reverse(p.ts));
        let mut paired: Vec<PairedDevice> = data.paired.values().cloned().collect();
        paired.sort_by_key(|d| std::cmp::Reverse(d.approved_at_ms));
        (pending, paired)
    }

    pub fn pending(&self, request_id: &str, now: u64) -> Option<PendingRequest> {
        let data = self.files.read();
        data.pending
            .get(request_id)
            .filter(|p| !expired(p, now))
            .cloned()
    }

    pub fn paired(&self, device_id: &str) -> Option<PairedDevice> {
        self.files.read().paired.get(device_id).cloned()
    }

    /// Records a pending request (bounded). A retry of the same device asking for the same
    /// thing refreshes the existing request (same id); asking for something else replaces the
    /// device's earlier requests. Returns the stored request, whether it is new, and the ids it
    /// replaced.
    pub fn add_pending(&self, mut req: PendingRequest) -> Result<Added, StoreError> {
        self.update(|data| {
            prune(data, req.ts);
            req.is_repair = data.paired.contains_key(&req.device_id);
            if req.roles.is_empty() {
                req.roles = vec![req.role.clone()];
            }
            let same = data
                .pending
                .values()
                .find(|p| {
                    p.device_id == req.device_id
                        && p.role == req.role
                        && p.scopes == req.scopes
                        && p.public_key == req.public_key
                })
                .map(|p| p.request_id.clone());
            if let Some(id) = same {
                let Some(existing) = data.pending.get_mut(&id) else {
                    return Change::Unchanged(Added::default());
                };
                existing.ts = req.ts;
                existing.remote_ip = req.remote_ip.clone();
                return Change::Write(Added {
                    request: Some(existing.clone()),
                    created: false,
                    replaced: Vec::new(),
                });
            }
            let replaced: Vec<String> = data
                .pending
                .values()
                .filter(|p| p.device_id == req.device_id)
                .map(|p| p.request_id.clone())
                .collect();
            for id in &replaced {
                data.pending.remove(id);
            }
            data.make_room(MAX_PENDING, |p| p.ts);
            data.pending.insert(req.request_id.clone(), req.clone());
            Change::Write(Added {
                request: Some(req),
                created: true,
                replaced,
            })
        })
    }

    /// Returns the device token for `(device, role)`, issuing one if needed; `None` if the device
    /// is not paired.
    pub fn issue_token(
        &self,
        device_id: &str,
        role: &str,
        scopes: &[String],
        now: u64,
    ) -> Result<Option<DeviceToken>, StoreError> {
        self.update(|data| {
            let Some(dev) = data.paired.get_mut(device_id) else {
                return Change::Unchanged(None);
            };
            let reuse = dev
                .tokens
                .get(role)
                .filter(|t| {
                    t.revoked_at_ms.is_none() && scopes.iter().all(|s| t.scopes.contains(s))
                })
                .cloned();
            if let Some(t) = reuse {
                return Change::Unchanged(Some(t));
            }
            let t = DeviceToken {
                token: random_token(),
                role: role.to_string(),
                scopes: scopes.to_vec(),
                created_at_ms: now,
                rotated_at_ms: None,
                revoked_at_ms: None,
                last_used_at_ms: None,
            };
            dev.tokens.insert(role.to_string(), t.clone());
            Change::Write(Some(t))
        })
    }

    /// Checks a presented device token for `(device, role, scopes)` in constant time.
    pub fn verify_token(
        &self,
        device_id: &str,
        role: &str,
        scopes: &[String],
        token: &str,
    ) -> bool {
        let data = self.files.read();
        data.paired
            .get(device_id)
            .and_then(|d| d.tokens.get(role))
            .is_some_and(|t| {
                t.revoked_at_ms.is_none()
                    && secret_eq(&t.token, token)
                    && scopes.iter().all(|s| t.scopes.contains(s))
            })
    }

    pub fn new_request(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(device: &str) -> PendingRequest {
        PendingRequest {
            request_id: format!("req-{device}"),
            device_id: device.into(),
            public_key: "pk".into(),
            facts: DeviceFacts::default(),
            role: "operator".into(),
            roles: vec![],
            scopes: vec!["operator.read".into()],
            remote_ip: None,
            silent: false,
            is_repair: false,
            ts: 1,
        }
    }

    fn scopes() -> Vec<String> {
        vec!["operator.read".into()]
    }

    /// Makes the next write of `paired.json` fail, also for root (who ignores directory
    /// modes): a non-empty directory in its place cannot be renamed over.
    fn block_writes(dir: &std::path::Path) -> PathBuf {
        let blocker = dir.join("paired.json");
        let _ = std::fs::remove_file(&blocker);
        std::fs::create_dir_all(blocker.join("keep")).unwrap();
        blocker
    }

    #[test]
    fn a_failed_write_leaves_memory_as_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("devices");
        let store = DeviceStore::open(dir.clone());
        store.approve(&request("a"), 1).unwrap();
        let blocker = block_writes(&dir);

        assert!(store.approve(&request("b"), 2).is_err());
        assert!(matches!(
            store.state("b", "operator", &scopes()),
            PairState::NeedsPairing { .. }
        ));
        assert!(store.add_pending(request("c")).is_err());
        assert!(store.files.read().pending.is_empty());
        assert!(store.issue_token("a", "operator", &scopes(), 3).is_err());
        assert!(store.files.read().paired["a"].tokens.is_empty());
        assert!(matches!(
            store.state("a", "operator", &scopes()),
            PairState::Paired
        ));

        std::fs::remove_dir_all(&blocker).unwrap();
        let t = store.issue_token("a", "operator", &scopes(), 4).unwrap();
        assert!(t.is_some());
        let reopened = DeviceStore::open(dir);
        assert!(reopened.verify_token("a", "operator", &scopes(), &t.unwrap().token));
        assert!(matches!(
            reopened.state("b", "operator", &scopes()),
            PairState::NeedsPairing { .. }
        ));
    }

    #[test]
    fn corrupt_files_are_set_aside_and_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("devices");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("paired.json"), b"{not json").unwrap();
        std::fs::write(dir.join("pending.json"), b"[1,2").unwrap();
        let store = DeviceStore::open(dir.clone());
        store.approve(&request("a"), 1).unwrap();
        let mut aside: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".corrupt-"))
            .map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap()))
            .collect();
        aside.sort();
        assert_eq!(aside.len(), 2, "{aside:?}");
        assert!(aside[0].0.starts_with("paired.json.corrupt-"));
        assert_eq!(aside[0].1, b"{not json");
        assert!(aside[1].0.starts_with("pending.json.corrupt-"));
        assert_eq!(aside[1].1, b"[1,2");
        let reopened = DeviceStore::open(dir);
        assert!(matches!(
            reopened.state("a", "operator", &scopes()),
            PairState::Paired
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_store_file_that_cannot_be_set_aside_is_left_alone() {
        use std::os::unix::fs::PermissionsExt;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            eprintln!("skipped: root renames in a read-only directory");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("devices");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("paired.json"), b"garbage").unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        let store = DeviceStore::open(dir.clone());
        let refused = store.approve(&request("a"), 1);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(matches!(refused, Err(StoreError::Frozen(_))), "{refused:?}");
        // Also once the directory is writable again: this store never overwrites the file.
        assert!(matches!(
            store.approve(&request("a"), 1),
            Err(StoreError::Frozen(_))
        ));
        assert_eq!(std::fs::read(dir.join("paired.json")).unwrap(), b"garbage");
    }
}
