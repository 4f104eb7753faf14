//! Device pairing administration: `device.pair.*`, `device.token.*`, `device.scopes.*`.
//! An approval grants at most what the device asked for and never more than the approver
//! holds; a non-admin caller with a device identity manages only its own device (reference
//! 2026.9 rules). Removing a device or revoking its token closes its open connections, so the
//! next connect is checked against the new state.

use std::time::Duration;

use openclaw_protocol::connect::{roles, scopes};
use openclaw_protocol::events::names as ev;
use openclaw_protocol::nodes::{
    DeviceIdParams, DeviceRenameParams, DeviceTokenParams, RequestIdParams, ScopeUpgradeParams,
    names,
};
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::{EmptyParams, ErrorShape};
use serde_json::{Value, json};

use crate::device::{PairedDevice, PendingRequest, StoreError, announce_resolved};
use crate::hub::Audience;
use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply, holds};
use crate::state::now_ms;

pub fn register(out: &mut Vec<MethodSpec>) {
    let pairing = Access::Scope(scopes::PAIRING);
    let table: [(&'static str, Access, crate::registry::Handler); 9] = [
        (names::DEVICE_PAIR_LIST, pairing, list),
        (names::DEVICE_PAIR_APPROVE, pairing, approve),
        (names::DEVICE_PAIR_REJECT, pairing, reject),
        (names::DEVICE_PAIR_REMOVE, pairing, remove),
        (names::DEVICE_PAIR_RENAME, pairing, rename),
        (names::DEVICE_TOKEN_ROTATE, pairing, rotate),
        (names::DEVICE_TOKEN_REVOKE, pairing, revoke),
        (
            names::DEVICE_SCOPES_REQUEST_UPGRADE,
            Access::Scope(scopes::READ),
            request_upgrade,
        ),
        (
            names::DEVICE_SCOPES_WAIT_UPGRADE,
            Access::Scope(scopes::READ),
            wait_upgrade,
        ),
    ];
    for (name, access, handler) in table {
        out.push(MethodSpec {
            name,
            access,
            handler,
        });
    }
}

/// The caller's own device id, when it is a non-admin device-authenticated operator (such a
/// caller may only manage its own device).
fn own_device_only(ctx: &MethodCtx) -> Option<String> {
    if ctx.is_admin() {
        return None;
    }
    ctx.connect
        .device
        .as_ref()
        .map(|d| d.id.to_ascii_lowercase())
}

fn store_error(e: StoreError) -> ErrorShape {
    ErrorShape::unavailable(e.to_string())
}

/// A paired device as listed: tokens reduced to summaries, approved scopes dropped.
pub fn redact(state: &crate::state::AppState, d: &PairedDevice) -> Value {
    let mut v = serde_json::to_value(d).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.remove("approvedScopes");
        o.remove("tokens");
        let tokens: Vec<Value> = d
            .tokens
            .values()
            .map(|t| {
                let mut s =
                    json!({"role": t.role, "scopes": t.scopes, "createdAtMs": t.created_at_ms});
                for (k, val) in [
                    ("rotatedAtMs", t.rotated_at_ms),
                    ("revokedAtMs", t.revoked_at_ms),
                    ("lastUsedAtMs", t.last_used_at_ms),
                ] {
                    if let Some(val) = val {
                        s[k] = json!(val);
                    }
                }
                s
            })
            .collect();
        if !tokens.is_empty() {
            o.insert("tokens".into(), Value::Array(tokens));
        }
        o.insert(
            "connected".into(),
            Value::Bool(state.hub.has_device(&d.device_id)),
        );
    }
    v
}

fn list<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::DEVICE_PAIR_LIST, params)?;
        let (mut pending, mut paired) = ctx.state.devices.list(now_ms());
        if let Some(own) = own_device_only(ctx) {
            pending.retain(|p| p.device_id == own);
            paired.retain(|d| d.device_id == own);
        }
        let paired: Vec<Value> = paired.iter().map(|d| redact(&ctx.state, d)).collect();
        Ok(Reply::Json(json!({"pending": pending, "paired": paired})))
    })
}

const APPROVAL_DENIED: &str = "device pairing approval denied";

/// The caller may decide this request: its own device's, or any operator request for a caller
/// without a device identity; requests for other roles need admin.
fn may_decide(ctx: &MethodCtx, req: &PendingRequest) -> bool {
    if ctx.is_admin() {
        return true;
    }
    if own_device_only(ctx).is_some_and(|own| own != req.device_id) {
        return false;
    }
    req.role == roles::OPERATOR
}

fn approve<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<RequestIdParams>(names::DEVICE_PAIR_APPROVE, params)?;
        let id = p.request_id.trim();
        let now = now_ms();
        let Some(req) = ctx.state.devices.pending(id, now) else {
            let msg = if ctx.is_admin() {
                "unknown requestId"
            } else {
                APPROVAL_DENIED
            };
            return Err(ErrorShape::invalid_request(msg));
        };
        if !may_decide(ctx, &req) {
            tracing::warn!(target: "gateway", "device pairing approval denied request={id}");
            return Err(ErrorShape::invalid_request(APPROVAL_DENIED));
        }
        if let Some(missing) = req.scopes.iter().find(|s| !holds(&ctx.scopes, s)) {
            return Err(ErrorShape::invalid_request(format!(
                "missing scope: {missing}"
            )));
        }
        let Some(dev) = ctx
            .state
            .devices
            .approve_pending(id, now)
            .map_err(store_error)?
        else {
            return Err(ErrorShape::invalid_request("unknown requestId"));
        };
        tracing::info!(target: "gateway", "device pairing approved device={} role={}", dev.device_id, req.role);
        announce_resolved(&ctx.state, id, &dev.device_id, "approved");
        Ok(Reply::Json(
            json!({"requestId": id, "device": redact(&ctx.state, &dev)}),
        ))
    })
}

fn reject<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<RequestIdParams>(names::DEVICE_PAIR_REJECT, params)?;
        let id = p.request_id.trim();
        let now = now_ms();
        if let Some(req) = ctx.state.devices.pending(id, now)
            && !may_decide(ctx, &req)
        {
            return Err(ErrorShape::invalid_request(
                "device pairing rejection denied",
            ));
        }
        let Some(req) = ctx.state.devices.reject(id, now).map_err(store_error)? else {
            return Err(ErrorShape::invalid_request("unknown requestId"));
        };
        announce_resolved(&ctx.state, id, &req.device_id, "rejected");
        Ok(Reply::Json(
            json!({"requestId": id, "deviceId": req.device_id}),
        ))
    })
}

/// Refuses managing another device (or a node device) to a non-admin caller.
fn may_manage(ctx: &MethodCtx, device_id: &str, denied: &'static str) -> Result<(), ErrorShape> {
    if ctx.is_admin() {
        return Ok(());
    }
    if own_device_only(ctx).is_some_and(|own| own != device_id) {
        return Err(ErrorShape::invalid_request(denied));
    }
    let non_operator = ctx
        .state
        .devices
        .paired(device_id)
        .is_some_and(|d| d.roles.iter().any(|r| r != roles::OPERATOR));
    if non_operator {
        return Err(ErrorShape::invalid_request(denied));
    }
    Ok(())
}

fn remove<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<DeviceIdParams>(names::DEVICE_PAIR_REMOVE, params)?;
        let id = p.device_id.trim().to_ascii_lowercase();
        may_manage(ctx, &id, "device pairing removal denied")?;
        let Some(dev) = ctx.state.devices.remove(&id).map_err(store_error)? else {
            return Err(ErrorShape::invalid_request("unknown deviceId"));
        };
        if dev.roles.iter().any(|r| r == roles::NODE) {
            let _ = ctx.state.nodes.store.remove(&id);
            ctx.state.nodes.forget_queue(&id);
        }
        tracing::info!(target: "gateway", "device pairing removed device={id}");
        ctx.state
            .hub
            .close_device(&id, None, 1008, "device removed");
        Ok(Reply::Json(json!({"deviceId": dev.device_id})))
    })
}

fn rename<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<DeviceRenameParams>(names::DEVICE_PAIR_RENAME, params)?;
        let label = p.label.trim();
        if label.is_empty() {
            return Err(ErrorShape::invalid_request("label required"));
        }
        let id = p.device_id.trim().to_ascii_lowercase();
        may_manage(ctx, &id, "device pairing rename denied")?;
        if !ctx.state.devices.rename(&id, label).map_err(store_error)? {
            return Err(ErrorShape::invalid_request("unknown deviceId"));
        }
        ctx.state
            .hub
            .broadcast(ev::DEVICE_PAIR_CHANGED, "{}", None, true, Audience::Pairing);
        Ok(Reply::Json(
            json!({"deviceId": p.device_id, "label": label}),
        ))
    })
}

fn rotate<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<DeviceTokenParams>(names::DEVICE_TOKEN_ROTATE, params)?;
        let id = p.device_id.trim().to_ascii_lowercase();
        let role = p.role.trim();
        let denied = "device token rotation denied";
        may_manage(ctx, &id, denied)?;
        if let Some(s) = &p.scopes {
            // Never more than the caller holds, nor than the device was approved for.
            let approved = ctx
                .state
                .devices
                .paired(&id)
                .map(|d| d.scopes)
                .unwrap_or_default();
            if s.iter()
                .any(|x| !holds(&ctx.scopes, x) || !approved.contains(x))
            {
                return Err(ErrorShape::invalid_request(denied));
            }
        }
        let now = now_ms();
        let Some(t) = ctx
            .state
            .devices
            .rotate(&id, role, p.scopes.as_deref(), now)
            .map_err(store_error)?
        else {
            return Err(ErrorShape::invalid_request("unknown deviceId/role"));
        };
        let own = ctx
            .connect
            .device
            .as_ref()
            .is_some_and(|d| d.id.eq_ignore_ascii_case(&id));
        let mut out = json!({"deviceId": id, "role": role, "scopes": t.scopes, "rotatedAtMs": now});
        if own {
            out["token"] = json!(t.token);
            out["tokenDelivery"] = json!("in-band");
        } else {
            out["tokenDelivery"] = json!("withheld-cross-device");
            ctx.state
                .hub
                .close_device(&id, Some(role), 1008, "device token rotated");
        }
        Ok(Reply::Json(out))
    })
}

fn revoke<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<DeviceTokenParams>(names::DEVICE_TOKEN_REVOKE, params)?;
        if p.scopes.is_some() {
            return Err(ErrorShape::invalid_request(
                "invalid device.token.revoke params: unexpected property 'scopes'",
            ));
        }
        let id = p.device_id.trim().to_ascii_lowercase();
        let role = p.role.trim();
        may_manage(ctx, &id, "device token revocation denied")?;
        let Some(at) = ctx
            .state
            .devices
            .revoke(&id, role, now_ms())
            .map_err(store_error)?
        else {
            return Err(ErrorShape::invalid_request("unknown deviceId/role"));
        };
        ctx.state
            .hub
            .close_device(&id, Some(role), 1008, "device token revoked");
        Ok(Reply::Json(
            json!({"deviceId": id, "role": role, "revokedAtMs": at}),
        ))
    })
}

fn request_upgrade<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ScopeUpgradeParams>(names::DEVICE_SCOPES_REQUEST_UPGRADE, params)?;
        let Some(proof) = &ctx.connect.device else {
            return Err(ErrorShape::invalid_request(
                "scope upgrade requires a device identity",
            ));
        };
        let id = proof.id.to_ascii_lowercase();
        let Some(dev) = ctx.state.devices.paired(&id) else {
            return Err(ErrorShape::invalid_request("unknown deviceId"));
        };
        if let Some(bad) = p.scopes.iter().find(|s| !s.starts_with("operator.")) {
            return Err(ErrorShape::invalid_request(format!(
                "invalid scope for requested roles: {bad}"
            )));
        }
        let mut wanted = dev.scopes.clone();
        for s in &p.scopes {
            if !wanted.contains(s) {
                wanted.push(s.clone());
            }
        }
        let req = PendingRequest {
            request_id: ctx.state.devices.new_request(),
            device_id: id.clone(),
            public_key: dev.public_key.clone(),
            facts: dev.facts.clone(),
            role: roles::OPERATOR.to_string(),
            roles: vec![roles::OPERATOR.to_string()],
            scopes: wanted,
            remote_ip: Some(ctx.remote_ip.clone()),
            silent: false,
            is_repair: true,
            ts: now_ms(),
        };
        let added = ctx.state.devices.add_pending(req).map_err(store_error)?;
        let Some(stored) = added.request else {
            return Err(ErrorShape::unavailable("device store is unavailable"));
        };
        if added.created {
            ctx.state.hub.broadcast(
                ev::DEVICE_PAIR_REQUESTED,
                &serde_json::to_string(&stored).unwrap_or_default(),
                None,
                true,
                Audience::Pairing,
            );
        }
        Ok(Reply::Json(
            json!({"status": "pending", "requestId": stored.request_id, "scopes": stored.scopes}),
        ))
    })
}

/// How long `device.scopes.waitUpgrade` waits at most (the request's own lifetime).
const WAIT_UPGRADE_MAX: Duration = Duration::from_millis(crate::device::PENDING_TTL_MS);

fn wait_upgrade<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<RequestIdParams>(names::DEVICE_SCOPES_WAIT_UPGRADE, params)?;
        let Some(proof) = &ctx.connect.device else {
            return Err(ErrorShape::invalid_request(
                "scope upgrade requires a device identity",
            ));
        };
        let id = proof.id.to_ascii_lowercase();
        let Some(req) = ctx.state.devices.pending(&p.request_id, now_ms()) else {
            return Err(ErrorShape::invalid_request("unknown requestId"));
        };
        if req.device_id != id {
            return Err(ErrorShape::invalid_request("unknown requestId"));
        }
        let state = ctx.state.clone();
        let request_id = p.request_id.clone();
        Ok(Reply::Deferred(Box::pin(async move {
            let deadline = tokio::time::Instant::now() + WAIT_UPGRADE_MAX;
            loop {
                let now = now_ms();
                if state.devices.pending(&request_id, now).is_none() {
                    let granted = state
                        .devices
                        .paired(&id)
                        .is_some_and(|d| req.scopes.iter().all(|s| d.scopes.contains(s)));
                    let v = if !granted {
                        let status = if now.saturating_sub(req.ts) > crate::device::PENDING_TTL_MS {
                            "expired"
                        } else {
                            "rejected"
                        };
                        json!({"status": status, "requestId": request_id})
                    } else {
                        match state
                            .devices
                            .rotate(&id, roles::OPERATOR, Some(&req.scopes), now)
                        {
                            Ok(Some(t)) => {
                                json!({"status": "approved", "requestId": request_id, "deviceToken": t.token, "scopes": t.scopes})
                            }
                            Ok(None) => json!({"status": "rejected", "requestId": request_id}),
                            Err(e) => return (false, Value::Null, Some(store_error(e))),
                        }
                    };
                    return (true, v, None);
                }
                if tokio::time::Instant::now() >= deadline {
                    return (
                        true,
                        json!({"status": "expired", "requestId": request_id}),
                        None,
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })))
    })
}
