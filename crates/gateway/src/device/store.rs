//! The paired-device store (`<state>/devices/paired.json`, `pending.json`; atomic writes,
//! 0600). A change is written before it is applied in memory, so a failed write leaves memory
//! equal to disk; an unreadable store file is set aside (`<name>.corrupt-<ts>`), never
//! overwritten. Only the gateway process writes these files (the CLI goes through the
//! gateway), so the in-process lock is enough.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::auth::secret_eq;
use crate::sync::LockExt;

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

/// One entry of `paired.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairedDevice {
    pub device_id: String,
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    pub role: String,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    pub ts: u64,
}

/// Max pending pairing requests kept (oldest dropped).
const MAX_PENDING: usize = 100;

/// The paired-device store. All changes are persisted before they take effect for a client.
pub struct DeviceStore {
    dir: PathBuf,
    inner: Mutex<StoreData>,
    /// Why writes are refused: a corrupt store file could not be set aside, and writing would
    /// destroy it.
    frozen: Option<String>,
}

#[derive(Default, Clone)]
struct StoreData {
    paired: BTreeMap<String, PairedDevice>,
    pending: BTreeMap<String, PendingRequest>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot write the device store: {0}")]
    Io(#[from] std::io::Error),
    #[error("device store is unavailable")]
    Poisoned,
    #[error("device store is read-only: {0}")]
    Frozen(String),
}

/// Reads one store file. Missing or blank ⇒ empty. Unreadable or unparsable ⇒ set aside and
/// empty; `Err` when it could not even be set aside (then it must not be overwritten).
fn load_file<T: serde::de::DeserializeOwned + Default>(
    path: &std::path::Path,
) -> Result<T, crate::error::GatewayError> {
    match openclaw_config::fsutil::read_json_or_set_aside(path) {
        Ok(read) => {
            if let Some((problem, kept)) = &read.set_aside {
                tracing::error!(target: "gateway", "{} is {problem}; kept it as {} and started an empty one", path.display(), kept.display());
            }
            Ok(read.value)
        }
        Err(e) => {
            tracing::error!(target: "gateway", "{e}; device pairing changes are refused until it is fixed");
            Err(crate::error::GatewayError(e.to_string()))
        }
    }
}

fn random_token() -> String {
    let b: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(b)
}

/// The outcome of an [`DeviceStore::update`] closure.
enum Change<R> {
    /// Nothing to write.
    Unchanged(R),
    /// Write the changed copy, then return `R`.
    Write(R),
}

/// What a device may do, as stored.
pub enum PairState {
    /// Paired for this role with these scopes.
    Paired,
    /// Unknown, or asking for a role/scopes beyond what was approved.
    NeedsPairing { reason: &'static str },
}

impl DeviceStore {
    /// Opens the store; never fatal. Unreadable files are set aside and the store starts
    /// empty; one that cannot be set aside leaves the store read-only.
    pub fn open(dir: PathBuf) -> Self {
        let paired = load_file(&dir.join("paired.json"));
        let pending = load_file(&dir.join("pending.json"));
        let frozen = [paired.as_ref().err(), pending.as_ref().err()]
            .into_iter()
            .flatten()
            .next()
            .map(|e| e.0.clone());
        Self {
            dir,
            inner: Mutex::new(StoreData {
                paired: paired.unwrap_or_default(),
                pending: pending.unwrap_or_default(),
            }),
            frozen,
        }
    }

    fn persist(&self, data: &StoreData) -> Result<(), StoreError> {
        if let Some(why) = &self.frozen {
            return Err(StoreError::Frozen(why.clone()));
        }
        let paired = serde_json::to_vec_pretty(&data.paired).map_err(std::io::Error::other)?;
        openclaw_config::fsutil::write_atomic(&self.dir.join("paired.json"), &paired)?;
        let pending = serde_json::to_vec_pretty(&data.pending).map_err(std::io::Error::other)?;
        openclaw_config::fsutil::write_atomic(&self.dir.join("pending.json"), &pending)?;
        Ok(())
    }

    /// Applies `change` to a copy, writes the copy, and only then makes it the live state.
    fn update<R>(&self, change: impl FnOnce(&mut StoreData) -> Change<R>) -> Result<R, StoreError> {
        let mut data = self.inner.locked();
        let mut next = data.clone();
        match change(&mut next) {
            Change::Unchanged(r) => Ok(r),
            Change::Write(r) => {
                self.persist(&next)?;
                *data = next;
                Ok(r)
            }
        }
    }

    pub fn state(&self, device_id: &str, role: &str, scopes: &[String]) -> PairState {
        let data = self.inner.locked();
        match data.paired.get(device_id) {
            None => PairState::NeedsPairing {
                reason: "not-paired",
            },
            Some(d) if !d.roles.iter().any(|r| r == role) => PairState::NeedsPairing {
                reason: "role-upgrade",
            },
            Some(d) if !scopes.iter().all(|s| d.scopes.contains(s)) => PairState::NeedsPairing {
                reason: "scope-upgrade",
            },
            Some(_) => PairState::Paired,
        }
    }

    /// Approves (or widens) a device for `role` and `scopes`, keeping earlier grants.
    pub fn approve(&self, req: &PendingRequest, now: u64) -> Result<(), StoreError> {
        self.update(|data| {
            let entry = data
                .paired
                .entry(req.device_id.clone())
                .or_insert_with(|| PairedDevice {
                    device_id: req.device_id.clone(),
                    public_key: req.public_key.clone(),
                    display_name: None,
                    platform: None,
                    client_id: None,
                    client_mode: None,
                    role: None,
                    roles: Vec::new(),
                    scopes: Vec::new(),
                    remote_ip: None,
                    tokens: BTreeMap::new(),
                    created_at_ms: now,
                    approved_at_ms: now,
                });
            entry.public_key = req.public_key.clone();
            entry.display_name = req.display_name.clone().or(entry.display_name.take());
            entry.platform = req.platform.clone();
            entry.client_id = req.client_id.clone();
            entry.client_mode = req.client_mode.clone();
            entry.role = Some(req.role.clone());
            if !entry.roles.contains(&req.role) {
                entry.roles.push(req.role.clone());
            }
            for s in &req.scopes {
                if !entry.scopes.contains(s) {
                    entry.scopes.push(s.clone());
                }
            }
            entry.remote_ip = req.remote_ip.clone();
            entry.approved_at_ms = now;
            data.pending.retain(|_, p| p.device_id != req.device_id);
            Change::Write(())
        })
    }

    /// Records a pending request (bounded) and returns it.
    pub fn add_pending(&self, req: PendingRequest) -> Result<PendingRequest, StoreError> {
        self.update(|data| {
            // One pending request per device: a retry reuses it.
            if let Some(existing) = data.pending.values().find(|p| {
                p.device_id == req.device_id && p.role == req.role && p.scopes == req.scopes
            }) {
                return Change::Unchanged(existing.clone());
            }
            while data.pending.len() >= MAX_PENDING {
                let oldest = data
                    .pending
                    .values()
                    .min_by_key(|p| p.ts)
                    .map(|p| p.request_id.clone());
                match oldest {
                    Some(id) => data.pending.remove(&id),
                    None => break,
                };
            }
            data.pending.insert(req.request_id.clone(), req.clone());
            Change::Write(req)
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
        let data = self.inner.locked();
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
            display_name: None,
            platform: None,
            client_id: None,
            client_mode: None,
            role: "operator".into(),
            scopes: vec!["operator.read".into()],
            remote_ip: None,
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
        assert!(store.inner.lock().unwrap().pending.is_empty());
        assert!(store.issue_token("a", "operator", &scopes(), 3).is_err());
        assert!(store.inner.lock().unwrap().paired["a"].tokens.is_empty());
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
