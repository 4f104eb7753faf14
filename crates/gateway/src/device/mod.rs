//! Device identity: verification of the Ed25519 connect proof (§3.4) here, and the
//! paired-device store in [`store`].

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, VerifyingKey};
use openclaw_protocol::{ConnectParams, DeviceProof, detail_codes, device_signature_payload};
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

mod store;
pub use store::*;

/// Tells pairing-scoped operators that a device request was decided.
pub fn announce_resolved(
    state: &crate::state::AppState,
    request_id: &str,
    device_id: &str,
    decision: &str,
) {
    let payload = openclaw_protocol::nodes::PairResolved {
        request_id: request_id.to_string(),
        device_id: Some(device_id.to_string()),
        node_id: None,
        decision: decision.to_string(),
        ts: crate::state::now_ms(),
    };
    state.hub.broadcast(
        openclaw_protocol::events::names::DEVICE_PAIR_RESOLVED,
        &serde_json::to_string(&payload).unwrap_or_default(),
        None,
        true,
        crate::hub::Audience::Pairing,
    );
}
