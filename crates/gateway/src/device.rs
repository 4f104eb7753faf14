//! Device identity: verification of the Ed25519 connect proof (§3.4) and the paired-device
//! store (`<state>/devices/paired.json`, `pending.json`; atomic writes, 0600).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, VerifyingKey};
use openclaw_protocol::{ConnectParams, DeviceProof, detail_codes, device_signature_payload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::secret_eq;

/// Allowed clock skew of `device.signedAt`.
pub const MAX_SKEW_MS: u64 = 120_000;
/// SPKI DER prefix of an Ed25519 public key.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why a device proof was refused: `(message, details.code, details.reason)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofError {
    pub message: &'static str,
    pub code: &'static str,
    pub reason: &'static str,
}

const fn perr(message: &'static str, code: &'static str, reason: &'static str) -> ProofError {
    ProofError {
        message,
        code,
        reason,
    }
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let t = s.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(t)
        .ok()
        .or_else(|| STANDARD.decode(s.trim()).ok())
}

/// The raw 32-byte key from base64url or a PEM (SPKI) string.
pub fn normalize_public_key(s: &str) -> Option<[u8; 32]> {
    let bytes = if s.contains("BEGIN") {
        let body: String = s
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        let der = STANDARD.decode(body).ok()?;
        if der.len() == 44 && der[..12] == SPKI_PREFIX {
            der[12..].to_vec()
        } else {
            return None;
        }
    } else {
        let raw = decode_b64(s)?;
        if raw.len() == 44 && raw[..12] == SPKI_PREFIX {
            raw[12..].to_vec()
        } else {
            raw
        }
    };
    bytes.try_into().ok()
}

/// Lowercase hex sha256 of the raw public key.
pub fn device_id_for(key: &[u8; 32]) -> String {
    hex::encode(Sha256::digest(key))
}

/// Verifies the proof against this socket's challenge nonce. On success returns the
/// normalized base64url public key.
pub fn verify_proof(
    proof: &DeviceProof,
    params: &ConnectParams,
    role: &str,
    challenge_nonce: &str,
    now_ms: u64,
) -> Result<String, ProofError> {
    let key = normalize_public_key(&proof.public_key).ok_or(perr(
        "device public key invalid",
        detail_codes::DEVICE_AUTH_PUBLIC_KEY_INVALID,
        "device-public-key-invalid",
    ))?;
    if !proof.id.eq_ignore_ascii_case(&device_id_for(&key)) {
        return Err(perr(
            "device identity mismatch",
            detail_codes::DEVICE_AUTH_DEVICE_ID_MISMATCH,
            "device-id-mismatch",
        ));
    }
    if now_ms.abs_diff(proof.signed_at) > MAX_SKEW_MS {
        return Err(perr(
            "device signature expired",
            detail_codes::DEVICE_AUTH_SIGNATURE_EXPIRED,
            "device-signature-stale",
        ));
    }
    let nonce = match proof.nonce.as_deref() {
        Some(n) if !n.is_empty() => n,
        _ => {
            return Err(perr(
                "device nonce required",
                detail_codes::DEVICE_AUTH_NONCE_REQUIRED,
                "device-nonce-missing",
            ));
        }
    };
    if !secret_eq(nonce, challenge_nonce) {
        return Err(perr(
            "device nonce mismatch",
            detail_codes::DEVICE_AUTH_NONCE_MISMATCH,
            "device-nonce-mismatch",
        ));
    }
    let invalid = perr(
        "device signature invalid",
        detail_codes::DEVICE_AUTH_SIGNATURE_INVALID,
        "device-signature",
    );
    let sig_bytes: [u8; 64] = decode_b64(&proof.signature)
        .and_then(|b| b.try_into().ok())
        .ok_or(invalid.clone())?;
    let sig = Signature::from_bytes(&sig_bytes);
    let vk = VerifyingKey::from_bytes(&key).map_err(|_| {
        perr(
            "device public key invalid",
            detail_codes::DEVICE_AUTH_PUBLIC_KEY_INVALID,
            "device-public-key-invalid",
        )
    })?;
    let auth = params.auth.clone().unwrap_or_default();
    let mut tokens: Vec<String> = [auth.token, auth.device_token, auth.bootstrap_token]
        .into_iter()
        .flatten()
        .filter(|t| !t.is_empty())
        .collect();
    tokens.push(String::new());
    tokens.dedup();
    for version in [4u8, 3, 2] {
        for token in &tokens {
            let payload = device_signature_payload(
                version,
                &proof.id,
                params,
                role,
                token,
                nonce,
                proof.signed_at,
            );
            if vk.verify_strict(payload.as_bytes(), &sig).is_ok() {
                return Ok(URL_SAFE_NO_PAD.encode(key));
            }
        }
    }
    Err(invalid)
}

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
}

#[derive(Default)]
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
}

fn random_token() -> String {
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

impl DeviceStore {
    /// Opens the store; unreadable files are logged and treated as empty (never fatal).
    pub fn open(dir: PathBuf) -> Self {
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        let paired = read("paired.json")
            .and_then(|t| match serde_json::from_str(&t) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!(target: "gateway", "ignoring unreadable devices/paired.json: {e}");
                    None
                }
            })
            .unwrap_or_default();
        let pending = read("pending.json")
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        Self {
            dir,
            inner: Mutex::new(StoreData { paired, pending }),
        }
    }

    fn persist(&self, data: &StoreData) -> Result<(), StoreError> {
        let paired = serde_json::to_vec_pretty(&data.paired).unwrap_or_default();
        openclaw_config::fsutil::write_atomic(&self.dir.join("paired.json"), &paired)?;
        let pending = serde_json::to_vec_pretty(&data.pending).unwrap_or_default();
        openclaw_config::fsutil::write_atomic(&self.dir.join("pending.json"), &pending)?;
        Ok(())
    }

    pub fn state(&self, device_id: &str, role: &str, scopes: &[String]) -> PairState {
        let Ok(data) = self.inner.lock() else {
            return PairState::NeedsPairing {
                reason: "not-paired",
            };
        };
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
        let mut data = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
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
        self.persist(&data)
    }

    /// Records a pending request (bounded) and returns it.
    pub fn add_pending(&self, req: PendingRequest) -> Result<PendingRequest, StoreError> {
        let mut data = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
        // One pending request per device: a retry reuses it.
        if let Some(existing) = data
            .pending
            .values()
            .find(|p| p.device_id == req.device_id && p.role == req.role && p.scopes == req.scopes)
        {
            return Ok(existing.clone());
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
        self.persist(&data)?;
        Ok(req)
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
        let mut data = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
        let Some(dev) = data.paired.get_mut(device_id) else {
            return Ok(None);
        };
        let reuse = dev
            .tokens
            .get(role)
            .filter(|t| t.revoked_at_ms.is_none() && scopes.iter().all(|s| t.scopes.contains(s)))
            .cloned();
        if let Some(t) = reuse {
            return Ok(Some(t));
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
        self.persist(&data)?;
        Ok(Some(t))
    }

    /// Checks a presented device token for `(device, role, scopes)` in constant time.
    pub fn verify_token(
        &self,
        device_id: &str,
        role: &str,
        scopes: &[String],
        token: &str,
    ) -> bool {
        let Ok(data) = self.inner.lock() else {
            return false;
        };
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
