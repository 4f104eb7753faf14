//! The `connect` handshake (§3.5): protocol negotiation, role, origin, shared-secret auth,
//! device proof, pairing, device tokens — in the spec's order — and the `hello-ok` reply in the
//! negotiated version's shape.

use crate::sync::LockExt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use openclaw_config::AuthMode;
use openclaw_protocol::connect::{roles, scopes};
use openclaw_protocol::events::names as ev;
use openclaw_protocol::{
    ClientMode, ConnectParams, ErrorShape, Features, HelloAuth, HelloOk, HelloOkTag,
    MAX_PAYLOAD_BYTES, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, Policy, ServerInfo, SessionDefaults,
    Snapshot, codes, detail_codes,
};
use serde_json::json;

use crate::auth::{Gate, secret_eq};
use crate::device::{PairState, PendingRequest, verify_proof};
use crate::hub::Audience;
use crate::state::{AppState, now_ms};

/// Facts about the socket the handshake needs.
pub struct Peer {
    pub ip: IpAddr,
    /// The one trust decision (`trust::resolve`): loopback socket, local `Host`, no untrusted
    /// forwarding.
    pub local: bool,
    pub origin: Option<String>,
    pub host: Option<String>,
    pub nonce: String,
    pub conn_id: String,
}

/// A refused handshake: the error to answer with, the close to send, and how long to hold the
/// answer (the auth tarpit).
#[derive(Debug)]
pub struct Refusal {
    pub error: ErrorShape,
    pub close_code: u16,
    pub close_reason: String,
    pub delay: Duration,
}

fn refuse(error: ErrorShape, close_code: u16) -> Refusal {
    let reason = error.message.clone();
    Refusal {
        error,
        close_code,
        close_reason: reason,
        delay: Duration::ZERO,
    }
}

/// An accepted handshake.
pub struct Accepted {
    pub protocol: u32,
    pub role: String,
    pub scopes: Vec<String>,
    pub hello: HelloOk,
    /// The verified device id (its public key's hash), when the client proved one.
    pub device_id: Option<String>,
}

/// The events this gateway emits (only what is implemented).
pub fn advertised_events() -> Vec<String> {
    ev::ALL.iter().map(|s| s.to_string()).collect()
}

/// The highest version both sides speak, if any.
pub fn negotiate(min: u32, max: u32) -> Option<u32> {
    (MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION)
        .rev()
        .find(|v| min <= *v && *v <= max)
}

enum Shared {
    Ok(&'static str),
    Missing,
    Mismatch,
}

fn shared_secret(state: &AppState, p: &ConnectParams) -> Shared {
    let auth = p.auth.clone().unwrap_or_default();
    let given = |v: Option<String>| v.filter(|s| !s.is_empty());
    match &state.settings().auth {
        AuthMode::None => Shared::Missing,
        AuthMode::Token(t) => match given(auth.token) {
            Some(g) if secret_eq(&g, t) => Shared::Ok("token"),
            Some(_) => Shared::Mismatch,
            None => Shared::Missing,
        },
        AuthMode::Password(pw) => match given(auth.password) {
            Some(g) if secret_eq(&g, pw) => Shared::Ok("password"),
            Some(_) => Shared::Mismatch,
            None => Shared::Missing,
        },
    }
}

/// A shared-secret failure (`mismatch` or `missing`) in the reference's wording and details.
fn auth_error(state: &AppState, failure: &str) -> ErrorShape {
    let what = match &state.settings().auth {
        AuthMode::Password(_) => "password",
        _ => "token",
    };
    let code = match (what, failure) {
        ("password", "mismatch") => detail_codes::AUTH_PASSWORD_MISMATCH,
        ("password", _) => detail_codes::AUTH_PASSWORD_MISSING,
        (_, "mismatch") => detail_codes::AUTH_TOKEN_MISMATCH,
        _ => detail_codes::AUTH_TOKEN_MISSING,
    };
    let (message, next) = if failure == "mismatch" {
        (
            format!(
                "unauthorized: gateway {what} mismatch (use this gateway's gateway.auth.{what} or pair the device)"
            ),
            "update_auth_credentials",
        )
    } else {
        (
            format!(
                "unauthorized: gateway {what} missing (provide gateway.auth.{what} or a device token)"
            ),
            "update_auth_configuration",
        )
    };
    ErrorShape::invalid_request(message).with_details(json!({
        "code": code,
        "authReason": format!("{what}_{failure}"),
        "canRetryWithDeviceToken": false,
        "recommendedNextStep": next,
    }))
}

/// Runs the server-side checks for one `connect`.
pub fn process(state: &Arc<AppState>, peer: &Peer, p: &ConnectParams) -> Result<Accepted, Refusal> {
    // 2. Protocol.
    let Some(protocol) = negotiate(p.min_protocol, p.max_protocol) else {
        let e = ErrorShape::invalid_request("protocol mismatch").with_details(json!({
            "code": detail_codes::PROTOCOL_MISMATCH,
            "clientMinProtocol": p.min_protocol,
            "clientMaxProtocol": p.max_protocol,
            "expectedProtocol": PROTOCOL_VERSION,
            "minimumProbeProtocol": MIN_PROTOCOL_VERSION,
        }));
        return Err(refuse(e, 1002));
    };
    // 3. Role. 4. Scopes default-deny.
    let role = p
        .role
        .clone()
        .unwrap_or_else(|| roles::OPERATOR.to_string());
    if role != roles::OPERATOR && role != roles::NODE {
        return Err(refuse(ErrorShape::invalid_request("invalid role"), 1008));
    }
    let mut granted: Vec<String> = p.scopes.clone().unwrap_or_default();
    granted.dedup();
    // 5. Browser origin.
    if let Some(origin) = &peer.origin
        && !crate::trust::origin_allowed(&state.settings(), origin, peer.host.as_deref())
    {
        let e = ErrorShape::invalid_request(format!("origin not allowed ({origin})"))
            .with_details(json!({"code": detail_codes::CONTROL_UI_ORIGIN_NOT_ALLOWED}));
        return Err(refuse(e, 1008));
    }
    // 6. Shared secret, behind the per-address lockout.
    if let Gate::Locked { retry_after_ms } = state.limiter.check(peer.ip) {
        let e = ErrorShape::invalid_request("unauthorized: too many failed attempts; retry later")
            .with_details(json!({
                "code": detail_codes::AUTH_RATE_LIMITED,
                "authReason": "rate_limited",
                "recommendedNextStep": "wait_then_retry",
            }))
            .with_retry_after(retry_after_ms);
        return Err(refuse(e, 1008));
    }
    let shared = shared_secret(state, p);
    let local = peer.local;
    // Browser-origin connects are never exempt from the lockout, even from a local page.
    let exempt = local && peer.origin.is_none();
    let fail = |e: ErrorShape| {
        let delay = state.limiter.fail(peer.ip, exempt);
        let mut r = refuse(e, 1008);
        r.delay = delay;
        r
    };

    let now = now_ms();
    let mut auth_method = "none";
    let mut device_token = None;
    let mut verified_device = None;
    match &p.device {
        // 7. No device identity.
        None => match shared {
            Shared::Ok(m) => {
                auth_method = m;
                if !local {
                    granted.clear();
                }
            }
            Shared::Mismatch => return Err(fail(auth_error(state, "mismatch"))),
            Shared::Missing => {
                let e = ErrorShape::new(codes::NOT_PAIRED, "device identity required")
                    .with_details(json!({"code": detail_codes::DEVICE_IDENTITY_REQUIRED}));
                return Err(refuse(e, 1008));
            }
        },
        Some(proof) => {
            // 8. Device proof.
            let public_key = verify_proof(proof, p, &role, &peer.nonce, now).map_err(|pe| {
                refuse(
                    ErrorShape::invalid_request(pe.message)
                        .with_details(json!({"code": pe.code, "reason": pe.reason})),
                    1008,
                )
            })?;
            let device_id = proof.id.to_ascii_lowercase();
            verified_device = Some(device_id.clone());
            // 6/9. Shared secret, else a device token.
            match shared {
                Shared::Ok(m) => auth_method = m,
                _ => {
                    let auth = p.auth.clone().unwrap_or_default();
                    let presented = auth.device_token.or(auth.token).filter(|t| !t.is_empty());
                    let token_ok = presented.as_deref().is_some_and(|t| {
                        state.devices.verify_token(&device_id, &role, &granted, t)
                    });
                    if token_ok {
                        auth_method = "device-token";
                    } else if presented.is_some() || matches!(shared, Shared::Mismatch) {
                        return Err(fail(auth_error(state, "mismatch")));
                    } else if !matches!(state.settings().auth, AuthMode::None) {
                        return Err(fail(auth_error(state, "missing")));
                    }
                }
            }
            // 11. Pairing.
            if let PairState::NeedsPairing { reason } =
                state.devices.state(&device_id, &role, &granted)
            {
                let browser = p.client.id.is_browser();
                let auto = local
                    && (peer.origin.is_none() || browser)
                    && matches!(reason, "not-paired" | "scope-upgrade" | "role-upgrade");
                let req = PendingRequest {
                    request_id: state.devices.new_request(),
                    device_id: device_id.clone(),
                    public_key: public_key.clone(),
                    facts: crate::device::DeviceFacts {
                        display_name: p.client.display_name.clone(),
                        platform: Some(p.client.platform.clone()),
                        client_id: Some(p.client.id.as_str().to_string()),
                        client_mode: Some(p.client.mode.as_str().to_string()),
                    },
                    role: role.clone(),
                    roles: vec![role.clone()],
                    scopes: granted.clone(),
                    remote_ip: Some(peer.ip.to_string()),
                    silent: auto,
                    is_repair: false,
                    ts: now,
                };
                let unavailable = |e: crate::device::StoreError| {
                    refuse(ErrorShape::unavailable(e.to_string()), 1011)
                };
                if auto {
                    state.devices.approve(&req, now).map_err(unavailable)?;
                    tracing::info!(target: "gateway", "device {} auto-approved for a local client ({reason})", short(&device_id));
                    crate::device::announce_resolved(
                        state,
                        &req.request_id,
                        &device_id,
                        "approved",
                    );
                } else {
                    let added = state.devices.add_pending(req).map_err(unavailable)?;
                    let Some(stored) = added.request else {
                        return Err(refuse(
                            ErrorShape::unavailable("device store is unavailable"),
                            1011,
                        ));
                    };
                    for old in &added.replaced {
                        crate::device::announce_resolved(state, old, &device_id, "superseded");
                    }
                    if added.created {
                        state.hub.broadcast(
                            ev::DEVICE_PAIR_REQUESTED,
                            &serde_json::to_string(&stored).unwrap_or_default(),
                            None,
                            true,
                            Audience::Pairing,
                        );
                        tracing::info!(target: "gateway", "device {} asks to pair as {role} ({reason}); approve with: openclaw devices approve {}", short(&device_id), stored.request_id);
                    }
                    let e = ErrorShape::new(
                        codes::NOT_PAIRED,
                        "pairing required: device is not approved yet",
                    )
                    .with_details(json!({
                        "code": detail_codes::PAIRING_REQUIRED,
                        "reason": reason,
                        "requestId": stored.request_id,
                        "remediationHint": "Approve this device from the pending pairing requests.",
                        "deviceId": device_id,
                        "requestedRole": role,
                        "requestedScopes": granted,
                    }));
                    let mut r = refuse(e, 1008);
                    r.close_reason = "pairing required".into();
                    return Err(r);
                }
            }
            // 12. Device token.
            device_token = state
                .devices
                .issue_token(&device_id, &role, &granted, now)
                .map_err(|e| refuse(ErrorShape::unavailable(e.to_string()), 1011))?;
        }
    }
    state.limiter.succeed(peer.ip);
    // Probe clients only check reachability: the reference grants them no scopes.
    if p.client.mode == ClientMode::Probe {
        granted.clear();
    }
    let hello = build_hello(
        state,
        peer,
        protocol,
        &role,
        &granted,
        auth_method,
        device_token,
    );
    Ok(Accepted {
        protocol,
        role,
        scopes: granted,
        hello,
        device_id: verified_device,
    })
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn build_hello(
    state: &AppState,
    peer: &Peer,
    protocol: u32,
    role: &str,
    granted: &[String],
    auth_method: &str,
    device_token: Option<crate::device::DeviceToken>,
) -> HelloOk {
    let admin = granted.iter().any(|s| s == scopes::ADMIN);
    let presence = state.presence.locked().list(now_ms());
    let health = serde_json::from_str(&state.health_json()).unwrap_or(serde_json::Value::Null);
    let main_key = state.settings().main_key.clone();
    let snapshot = Snapshot {
        presence,
        health,
        state_version: state.state_version(),
        uptime_ms: state.uptime_ms(),
        config_path: admin.then(|| state.paths.config_path.to_string_lossy().into_owned()),
        state_dir: admin.then(|| state.paths.state_dir.to_string_lossy().into_owned()),
        session_defaults: Some(SessionDefaults {
            default_agent_id: "main".into(),
            main_session_key: format!("agent:main:{main_key}"),
            main_key,
            scope: state.settings().session_scope.clone(),
        }),
        auth_mode: admin.then(|| state.settings().auth.name().to_string()),
    };
    let (issued_token, issued_at) = match device_token {
        Some(t) => (Some(t.token), Some(t.created_at_ms)),
        None => (None, None),
    };
    let v4 = protocol >= 4;
    let server = if v4 {
        ServerInfo {
            version: state.version.clone(),
            commit: None,
            host: None,
            build_id: Some(format!("{}-rust", state.version)),
            boot_id: Some(state.boot_id.clone()),
            control_ui_build_source: Some(crate::control_ui::build_source(state).to_string()),
            conn_id: peer.conn_id.clone(),
        }
    } else {
        ServerInfo {
            version: state.version.clone(),
            commit: None,
            host: Some(state.hostname.clone()),
            build_id: None,
            boot_id: None,
            control_ui_build_source: None,
            conn_id: peer.conn_id.clone(),
        }
    };
    let auth = if v4 || issued_token.is_some() {
        Some(HelloAuth {
            method: v4.then(|| auth_method.to_string()),
            role: role.to_string(),
            scopes: granted.to_vec(),
            device_token: issued_token,
            issued_at_ms: issued_at,
        })
    } else {
        None
    };
    HelloOk {
        kind: HelloOkTag::HelloOk,
        protocol,
        server,
        features: Features {
            methods: state.registry.advertised(),
            events: advertised_events(),
            // `published-model-catalog`: `models.list` reports `available` per model (the
            // reference CLI's `models list` refuses a gateway without it).
            capabilities: v4.then(|| vec!["published-model-catalog".to_string()]),
        },
        snapshot,
        canvas_host_url: (role == roles::NODE)
            .then(|| crate::canvas::node_url(state, &peer.conn_id, peer.host.as_deref()))
            .flatten(),
        auth,
        policy: Policy {
            max_payload: MAX_PAYLOAD_BYTES as u64,
            max_buffered_bytes: crate::hub::max_buffered_bytes() as u64,
            tick_interval_ms: state.settings().tick_interval_ms,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(3, 3), Some(3));
        assert_eq!(negotiate(4, 4), Some(4));
        assert_eq!(negotiate(3, 5), Some(4));
        assert_eq!(negotiate(1, 2), None);
        assert_eq!(negotiate(5, 6), None);
    }
}
