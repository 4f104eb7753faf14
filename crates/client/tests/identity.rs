//! Device identity: ids, signatures and the `device.json` file must match what the reference
//! (Node) client produces and what the real gateways verified on the wire.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use openclaw_client::protocol::{ConnectParams, device_signature_payload};
use openclaw_client::{ConnectOptions, DeviceIdentity};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn b64url<const N: usize>(s: &str) -> [u8; N] {
    URL_SAFE_NO_PAD
        .decode(s)
        .expect("base64url")
        .try_into()
        .expect("length")
}

fn verify(public_key_b64url: &str, payload: &str, signature_b64url: &str) {
    VerifyingKey::from_bytes(&b64url::<32>(public_key_b64url))
        .expect("public key")
        .verify_strict(
            payload.as_bytes(),
            &Signature::from_bytes(&b64url::<64>(signature_b64url)),
        )
        .expect("signature verifies");
}

#[test]
fn device_id_is_the_sha256_of_the_raw_public_key() {
    let id = DeviceIdentity::generate();
    let raw = b64url::<32>(&id.public_key_b64url());
    assert_eq!(id.device_id(), hex::encode(Sha256::digest(raw)));
    assert_eq!(id.device_id().len(), 64);
    assert!(!id.public_key_b64url().contains(['=', '+', '/']));
    assert_ne!(id.device_id(), DeviceIdentity::generate().device_id());
    // Debug never shows the key.
    assert!(format!("{id:?}").contains(&id.device_id()));
}

#[test]
fn proof_verifies_and_signs_the_first_non_empty_token() {
    let id = DeviceIdentity::from_seed([1; 32]);
    for (token, device_token, signed) in [
        (Some("tok"), None, "tok"),
        (Some(""), Some("devtok"), "devtok"),
        (None, None, ""),
    ] {
        let opts = ConnectOptions {
            token: token.map(str::to_string),
            device_token: device_token.map(str::to_string),
            platform: "Linux".to_string(),
            device_family: Some(" Linux ".to_string()),
            ..ConnectOptions::default()
        };
        let params = opts.connect_params();
        let proof = id.proof(&params, "nonce-9", 1_737_264_000_000);
        assert_eq!(proof.id, id.device_id());
        assert_eq!(proof.public_key, id.public_key_b64url());
        assert_eq!(proof.nonce.as_deref(), Some("nonce-9"));
        assert_eq!(proof.signed_at, 1_737_264_000_000);
        let payload = device_signature_payload(
            3,
            &proof.id,
            &params,
            "operator",
            signed,
            "nonce-9",
            1_737_264_000_000,
        );
        assert!(payload.starts_with("v3|"));
        assert!(payload.ends_with("|linux|linux"), "{payload}");
        verify(&proof.public_key, &payload, &proof.signature);
    }
}

/// A throwaway identity made by Node's `crypto.generateKeyPairSync("ed25519")` and written the
/// way the reference client writes `device.json`, with Node's signature of a v3 payload.
const NODE_DEVICE_JSON: &str = r#"{
  "version": 1,
  "deviceId": "bf89c020060c4b6c1f4c89ff8d20bf0899e0eb6935b0df22f84997bb82b74749",
  "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAdiBiY5YwmN/fKQjun3MeWm8Eux8Knf7RXPTPc9I2mBc=\n-----END PUBLIC KEY-----\n",
  "privateKeyPem": "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEID4K4NhwCnN8GkrFTeDKt5NqdB7wkZftrNsJyMspoyO8\n-----END PRIVATE KEY-----\n",
  "createdAtMs": 1795456402000
}
"#;
const NODE_PUBLIC_KEY: &str = "diBiY5YwmN_fKQjun3MeWm8Eux8Knf7RXPTPc9I2mBc";
const NODE_SIGNATURE: &str =
    "jRAWvmRpcGPD5H4OhN00fTPDqc45STaqQY81ncNcipvfBGU2PsYSObOaEbXiGFgPxHY5DrUU1Qnrwm96vDl5Cg";

#[test]
fn loads_a_reference_identity_and_signs_byte_for_byte_like_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.json");
    std::fs::write(&path, NODE_DEVICE_JSON).expect("write fixture");

    let id = DeviceIdentity::load_or_create(&path).expect("load");
    assert_eq!(
        id.device_id(),
        "bf89c020060c4b6c1f4c89ff8d20bf0899e0eb6935b0df22f84997bb82b74749"
    );
    assert_eq!(id.public_key_b64url(), NODE_PUBLIC_KEY);
    // Loading leaves a valid file untouched.
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        NODE_DEVICE_JSON
    );

    // Ed25519 is deterministic: the same key and payload give Node's exact signature.
    let opts = ConnectOptions {
        token: Some("tok".to_string()),
        scopes: vec!["operator.read".to_string()],
        platform: "linux".to_string(),
        ..ConnectOptions::default()
    };
    let proof = id.proof(
        &opts.connect_params(),
        "d84f8e72-3413-4bf1-b7a5-c2bc4d81c6bb",
        1_795_456_402_230,
    );
    assert_eq!(proof.signature, NODE_SIGNATURE);
}

#[cfg(unix)]
#[test]
fn load_or_create_writes_a_private_file_and_reloads_the_same_identity() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state/identity/device.json");
    let created = DeviceIdentity::load_or_create(&path).expect("create");

    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().expect("parent")), 0o700);

    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["deviceId"], created.device_id().as_str());
    assert!(stored["createdAtMs"].as_u64().expect("createdAtMs") > 1_600_000_000_000);
    assert!(
        stored["privateKeyPem"]
            .as_str()
            .expect("pem")
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );

    let reloaded = DeviceIdentity::load_or_create(&path).expect("reload");
    assert_eq!(reloaded.device_id(), created.device_id());

    // No temp files are left behind.
    let entries: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
        .expect("readdir")
        .collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn a_corrupt_identity_file_is_replaced_and_a_stale_device_id_is_fixed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.json");

    std::fs::write(&path, "{ not json").expect("write");
    let fresh = DeviceIdentity::load_or_create(&path).expect("regenerate");
    assert_eq!(
        DeviceIdentity::load_or_create(&path)
            .expect("reload")
            .device_id(),
        fresh.device_id()
    );

    let stale = NODE_DEVICE_JSON.replace("bf89c020", "00000000");
    std::fs::write(&path, stale).expect("write");
    let id = DeviceIdentity::load_or_create(&path).expect("load");
    assert_eq!(id.public_key_b64url(), NODE_PUBLIC_KEY);
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        NODE_DEVICE_JSON
    );
}

/// The real clawdbot 2026.1.24 CLI's device-signed connects (no token), as recorded against both
/// gateways. That client signs the **v2** payload (v3 minus `|platform|deviceFamily`; the
/// reference's pre-2026.3 `buildDeviceAuthPayload`), so this pins the shared part of the format:
/// field order, scope join, empty token, nonce, base64url key and signature, sha256 device id.
#[test]
fn recorded_clawdbot_signatures_verify_against_our_payload_builder() {
    let text = common::read_transcript_file("handshake_verbatim.json");
    let verbatim: Value = serde_json::from_str(&text).expect("json");
    let mut connects = vec![verbatim["v3 clawdbot connect req (c2s)"].clone()];
    let steps = common::load_transcript("c_clawdbot_cli_vs_openclaw_gw.jsonl");
    connects.extend(steps.into_iter().filter_map(|s| match s {
        common::Step::Expect(f) if f["method"] == "connect" => Some(f),
        _ => None,
    }));
    assert_eq!(connects.len(), 2);

    for req in connects {
        let params: ConnectParams = serde_json::from_value(req["params"].clone()).expect("params");
        let device = params.device.clone().expect("device block");
        assert!(params.auth.is_none(), "recorded connect has no token");
        assert_eq!(
            device.id,
            hex::encode(Sha256::digest(b64url::<32>(&device.public_key)))
        );
        let nonce = device.nonce.as_deref().expect("nonce");
        let role = params.role.as_deref().unwrap_or("operator");
        let payload = |version| {
            device_signature_payload(
                version,
                &device.id,
                &params,
                role,
                "",
                nonce,
                device.signed_at,
            )
        };
        verify(&device.public_key, &payload(2), &device.signature);
        // Our own proofs use v3, which only adds the two trailing metadata fields.
        assert_eq!(payload(3), format!("v3{}|linux|", &payload(2)[2..]));
        assert!(!verifies(
            &device.public_key,
            &payload(3),
            &device.signature
        ));
    }
}

fn verifies(public_key_b64url: &str, payload: &str, signature_b64url: &str) -> bool {
    VerifyingKey::from_bytes(&b64url::<32>(public_key_b64url))
        .map(|k| {
            k.verify_strict(
                payload.as_bytes(),
                &Signature::from_bytes(&b64url::<64>(signature_b64url)),
            )
            .is_ok()
        })
        .unwrap_or(false)
}
