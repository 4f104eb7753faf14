//! The device identity: an Ed25519 key pair persisted as `device.json`, and the signed `device`
//! block of `connect` (spec §3.4).
//!
//! The file format is the reference's (`{version:1, deviceId, publicKeyPem, privateKeyPem,
//! createdAtMs}` with PKCS#8 / SPKI PEM), so an identity created by the official CLI is reused
//! as is and keeps its pairing.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey};
use openclaw_protocol::{ConnectParams, DeviceProof, device_signature_payload, roles};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ClientError;

/// DER prefix of a PKCS#8 v1 Ed25519 private key; the 32-byte seed follows.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER prefix of an SPKI Ed25519 public key; the raw 32-byte key follows.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
const PRIVATE_LABEL: &str = "PRIVATE KEY";
const PUBLIC_LABEL: &str = "PUBLIC KEY";
/// Signature payload version we sign: accepted by v3 (2026.3.2+) and v4 gateways alike.
const SIGNATURE_VERSION: u8 = 3;

/// An Ed25519 device key. `Debug` shows the device id only, never the key.
#[derive(Clone)]
pub struct DeviceIdentity {
    key: SigningKey,
}

impl fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("device_id", &self.device_id())
            .finish_non_exhaustive()
    }
}

/// `device.json` on disk.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredIdentity {
    version: u32,
    device_id: String,
    public_key_pem: String,
    private_key_pem: String,
    created_at_ms: u64,
}

impl DeviceIdentity {
    /// A fresh key from the OS random source.
    pub fn generate() -> Self {
        Self::from_seed(rand::random())
    }

    /// The key whose 32-byte Ed25519 secret (the PKCS#8 "seed") is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// Raw 32-byte public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Lowercase hex SHA-256 of the raw public key (64 chars).
    pub fn device_id(&self) -> String {
        hex::encode(Sha256::digest(self.public_key_bytes()))
    }

    /// base64url (no padding) of the raw public key, as sent in `device.publicKey`.
    pub fn public_key_b64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public_key_bytes())
    }

    /// base64url (no padding) Ed25519 signature over the UTF-8 bytes of `payload`.
    pub fn sign_b64url(&self, payload: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.key.sign(payload.as_bytes()).to_bytes())
    }

    /// The `device` block for `params`, signed with the v3 payload over the challenge `nonce`.
    ///
    /// The signed token is the first non-empty of `auth.token`, `auth.deviceToken`,
    /// `auth.bootstrapToken` (spec §3.4); the role defaults to `operator`.
    pub fn proof(&self, params: &ConnectParams, nonce: &str, signed_at_ms: u64) -> DeviceProof {
        let token = params
            .auth
            .as_ref()
            .and_then(|a| {
                [&a.token, &a.device_token, &a.bootstrap_token]
                    .into_iter()
                    .flatten()
                    .find(|t| !t.is_empty())
            })
            .map(String::as_str)
            .unwrap_or("");
        let role = params.role.as_deref().unwrap_or(roles::OPERATOR);
        let device_id = self.device_id();
        let payload = device_signature_payload(
            SIGNATURE_VERSION,
            &device_id,
            params,
            role,
            token,
            nonce,
            signed_at_ms,
        );
        DeviceProof {
            id: device_id,
            public_key: self.public_key_b64url(),
            signature: self.sign_b64url(&payload),
            signed_at: signed_at_ms,
            nonce: Some(nonce.to_string()),
        }
    }

    /// Loads the identity stored at `path`, or creates one there.
    ///
    /// A file that cannot be parsed is replaced by a new identity (as the reference client
    /// does; the device will need pairing again). A file that cannot be *read* is an error, so
    /// a permission problem never silently costs the pairing. A stale `deviceId` field is
    /// rewritten from the key. New files are 0600 in a 0700 directory, written atomically.
    pub fn load_or_create(path: &Path) -> Result<Self, ClientError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                if let Some((identity, stored)) = Self::parse_stored(&text) {
                    if stored.device_id != identity.device_id() {
                        write_atomic(path, &identity.stored_json(stored.created_at_ms))?;
                    }
                    return Ok(identity);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ClientError::Io {
                    action: "read device identity",
                    path: path.to_path_buf(),
                    source: e,
                });
            }
        }
        let identity = Self::generate();
        write_atomic(path, &identity.stored_json(now_ms()))?;
        Ok(identity)
    }

    fn parse_stored(text: &str) -> Option<(Self, StoredIdentity)> {
        let stored: StoredIdentity = serde_json::from_str(text).ok()?;
        if stored.version != 1 {
            return None;
        }
        let der = pem_decode(&stored.private_key_pem, PRIVATE_LABEL)?;
        let seed: [u8; 32] = der.strip_prefix(&PKCS8_PREFIX)?.try_into().ok()?;
        Some((Self::from_seed(seed), stored))
    }

    /// `device.json` text, formatted like the reference's `JSON.stringify(_, null, 2) + "\n"`.
    fn stored_json(&self, created_at_ms: u64) -> Vec<u8> {
        let stored = StoredIdentity {
            version: 1,
            device_id: self.device_id(),
            public_key_pem: pem_encode(PUBLIC_LABEL, &[&SPKI_PREFIX, &self.public_key_bytes()]),
            private_key_pem: pem_encode(PRIVATE_LABEL, &[&PKCS8_PREFIX, &self.key.to_bytes()]),
            created_at_ms,
        };
        // Serializing a struct of strings and integers cannot fail.
        let mut json = serde_json::to_vec_pretty(&stored).unwrap_or_default();
        json.push(b'\n');
        json
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// PEM with 64-character base64 lines and a trailing newline, as Node's `export()` writes it.
fn pem_encode(label: &str, parts: &[&[u8]]) -> String {
    let der = parts.concat();
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside the first `label` block of `pem`.
fn pem_decode(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = pem.split_once(&begin)?.1.split_once(&end)?.0;
    let b64: String = body.split_whitespace().collect();
    STANDARD.decode(b64).ok()
}

/// Writes `contents` to `path` via a temp file in the same directory, fsync and rename, so a
/// crash leaves either the old file or the new one. The file is 0600; missing parent
/// directories are created 0700.
fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), ClientError> {
    let io_err = |action: &'static str, source: std::io::Error| ClientError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| ClientError::NotAFile(path.to_path_buf()))?;
    create_private_dir(dir).map_err(|e| io_err("create the directory of", e))?;

    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let written = (|| {
        let mut file = open_private(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err("write", e));
    }
    // Persist the rename itself; not every platform can open a directory, so best effort.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_and_has_the_fixed_der_layout() {
        let id = DeviceIdentity::from_seed([7; 32]);
        let json = id.stored_json(1);
        let (back, stored) = DeviceIdentity::parse_stored(&String::from_utf8_lossy(&json))
            .unwrap_or_else(|| panic!("stored identity did not parse"));
        assert_eq!(back.device_id(), id.device_id());
        assert_eq!(stored.device_id, id.device_id());
        let spki = pem_decode(&stored.public_key_pem, PUBLIC_LABEL).unwrap_or_default();
        assert_eq!(spki.len(), 44);
        assert_eq!(&spki[12..], &id.public_key_bytes());
        assert!(
            stored
                .private_key_pem
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        assert!(
            stored
                .private_key_pem
                .ends_with("-----END PRIVATE KEY-----\n")
        );
    }

    #[test]
    fn garbage_does_not_parse() {
        assert!(DeviceIdentity::parse_stored("{").is_none());
        assert!(DeviceIdentity::parse_stored(r#"{"version":1,"deviceId":"x","publicKeyPem":"","privateKeyPem":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n","createdAtMs":1}"#).is_none());
    }
}
