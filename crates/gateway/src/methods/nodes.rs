//! Node methods: the operator side (`node.list`, `node.describe`, `node.rename`,
//! `node.pair.*`, `node.invoke`, `node.pending.enqueue`) and the node side
//! (`node.invoke.result`, `node.event`, `node.pending.*`, inventory updates).

use std::time::Duration;

use openclaw_protocol::connect::scopes;
use openclaw_protocol::events::names as ev;
use openclaw_protocol::nodes::{
    ExecApprovalsNodeGetParams, ExecApprovalsNodeSetParams, NodeError, NodeEventParams,
    NodeIdParams, NodeInvokeParams, NodeInvokeProgressParams, NodeInvokeRequest,
    NodeInvokeResultParams, NodePairRequestParams, NodePairVerifyParams, NodePendingAckParams,
    NodePendingDrainParams, NodePendingEnqueueParams, NodeRenameParams, PairResolved,
    PendingPriority, RequestIdParams, names,
};
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::{EmptyParams, ErrorShape};
use serde_json::{Value, json};

use crate::hub::Audience;
use crate::nodes::session::{self, catalogue};
use crate::nodes::store::{Ask, NodeFacts};
use crate::nodes::{
    DEFAULT_INVOKE_TIMEOUT_MS, Delivery, MAX_INVOKE_TIMEOUT_MS, MAX_RESULT_BYTES, Outcome,
    node_id_of,
};
use crate::registry::{Access, Handler, HandlerFuture, MethodCtx, MethodSpec, Reply, holds};
use crate::state::{AppState, now_ms};

pub fn register(out: &mut Vec<MethodSpec>) {
    let pairing = Access::Scope(scopes::PAIRING);
    let read = Access::Scope(scopes::READ);
    let write = Access::Scope(scopes::WRITE);
    let node = Access::NodeOnly;
    let admin = Access::Scope(scopes::ADMIN);
    let table: [(&'static str, Access, Handler); 23] = [
        (names::NODE_LIST, read, list),
        (names::NODE_DESCRIBE, read, describe),
        (names::NODE_RENAME, pairing, rename),
        (names::NODE_PAIR_LIST, pairing, pair_list),
        (names::NODE_PAIR_APPROVE, pairing, pair_approve),
        (names::NODE_PAIR_REJECT, pairing, pair_reject),
        (names::NODE_PAIR_REMOVE, pairing, pair_remove),
        (names::NODE_PAIR_REQUEST, pairing, pair_request),
        (names::NODE_PAIR_VERIFY, pairing, pair_verify),
        (names::NODE_INVOKE, write, invoke),
        (names::EXEC_APPROVALS_NODE_GET, admin, approvals_get),
        (names::EXEC_APPROVALS_NODE_SET, admin, approvals_set),
        (names::NODE_PENDING_ENQUEUE, write, pending_enqueue),
        (names::NODE_INVOKE_RESULT, node, invoke_result),
        (names::NODE_INVOKE_PROGRESS, node, invoke_progress),
        (names::NODE_EVENT, node, node_event),
        (names::NODE_PENDING_DRAIN, node, pending_drain),
        (names::NODE_PENDING_PULL, node, pending_pull),
        (names::NODE_PENDING_ACK, node, pending_ack),
        (names::NODE_RUNNER_INVENTORY_UPDATE, node, inventory_update),
        (names::NODE_SKILLS_UPDATE, node, accept_update),
        (names::NODE_PLUGIN_TOOLS_UPDATE, node, accept_update),
        (names::SKILLS_BINS, node, skills_bins),
    ];
    for (name, access, handler) in table {
        out.push(MethodSpec {
            name,
            access,
            handler,
        });
    }
}

fn store_error(e: crate::pair_files::StoreError) -> ErrorShape {
    ErrorShape::unavailable(e.to_string())
}

fn list<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::NODE_LIST, params)?;
        let nodes = catalogue(&ctx.state);
        Ok(Reply::Json(json!({"ts": now_ms(), "nodes": nodes})))
    })
}

fn describe<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodeIdParams>(names::NODE_DESCRIBE, params)?;
        let id = p.node_id.trim();
        let Some(node) = catalogue(&ctx.state).into_iter().find(|n| n.node_id == id) else {
            return Err(ErrorShape::invalid_request("unknown nodeId"));
        };
        let mut v = json!({"ts": now_ms()});
        if let (Some(o), Value::Object(n)) = (v.as_object_mut(), json!(node)) {
            o.extend(n);
        }
        Ok(Reply::Json(v))
    })
}

fn rename<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodeRenameParams>(names::NODE_RENAME, params)?;
        let name = p.display_name.trim();
        if name.is_empty() {
            return Err(ErrorShape::invalid_request("displayName required"));
        }
        let id = p.node_id.trim();
        let in_store = ctx
            .state
            .nodes
            .store
            .rename(id, name)
            .map_err(store_error)?;
        let as_device = ctx
            .state
            .devices
            .paired(id)
            .is_some_and(|d| d.roles.iter().any(|r| r == "node"))
            && ctx.state.devices.rename(id, name).map_err(store_error)?;
        if !in_store && !as_device {
            return Err(ErrorShape::invalid_request("unknown nodeId"));
        }
        Ok(Reply::Json(json!({"nodeId": id, "displayName": name})))
    })
}

fn pair_list<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::NODE_PAIR_LIST, params)?;
        let (pending, paired) = ctx.state.nodes.store.list();
        Ok(Reply::Json(json!({"pending": pending, "paired": paired})))
    })
}

fn resolved(state: &AppState, request_id: &str, node_id: &str, decision: &str) {
    let payload = PairResolved {
        request_id: request_id.to_string(),
        device_id: None,
        node_id: Some(node_id.to_string()),
        decision: decision.to_string(),
        ts: now_ms(),
    };
    state.hub.broadcast(
        ev::NODE_PAIR_RESOLVED,
        &serde_json::to_string(&payload).unwrap_or_default(),
        None,
        true,
        Audience::Pairing,
    );
}

fn pair_approve<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<RequestIdParams>(names::NODE_PAIR_APPROVE, params)?;
        let id = p.request_id.trim();
        let Some(req) = ctx.state.nodes.store.pending(id) else {
            return Err(ErrorShape::invalid_request("unknown requestId"));
        };
        if let Some(missing) = req
            .required_approve_scopes
            .iter()
            .find(|s| !holds(&ctx.scopes, s))
        {
            return Err(ErrorShape::invalid_request(format!(
                "missing scope: {missing}"
            )));
        }
        let Some(node) = ctx
            .state
            .nodes
            .store
            .approve(id, now_ms())
            .map_err(store_error)?
        else {
            return Err(ErrorShape::invalid_request("unknown requestId"));
        };
        ctx.state
            .nodes
            .apply_surface(&node.node_id, &node.facts.commands);
        tracing::info!(target: "gateway", "node {} approved with {} command(s)", session::short(&node.node_id), node.facts.commands.len());
        resolved(&ctx.state, id, &node.node_id, "approved");
        Ok(Reply::Json(
            json!({"requestId": id, "node": node.redacted()}),
        ))
    })
}

/// `node.pair.request`: a 2026.1-era node asks for pairing over RPC (its declared commands are
/// filtered through the allowlist like a connecting node's).
fn pair_request<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodePairRequestParams>(names::NODE_PAIR_REQUEST, params)?;
        let node_id = p.node_id.trim();
        if node_id.is_empty() {
            return Err(ErrorShape::invalid_request("nodeId required"));
        }
        let platform = p.platform.clone().unwrap_or_default();
        let list = session::allowlist(&ctx.state, &platform, p.device_family.as_deref());
        let facts = NodeFacts {
            client_id: None,
            client_mode: None,
            display_name: p.display_name.clone(),
            platform: p.platform.clone(),
            version: p.version.clone(),
            device_family: p.device_family.clone(),
            model_identifier: p.model_identifier.clone(),
            caps: p.caps.clone().unwrap_or_default(),
            commands: list.filter(&p.commands.clone().unwrap_or_default()),
        };
        let (req, created) = ctx
            .state
            .nodes
            .store
            .request(Ask {
                node_id,
                facts,
                remote_ip: p.remote_ip.clone(),
                silent: p.silent.unwrap_or(false),
                now: now_ms(),
            })
            .map_err(store_error)?;
        if created {
            ctx.state.hub.broadcast(
                ev::NODE_PAIR_REQUESTED,
                &serde_json::to_string(&req).unwrap_or_default(),
                None,
                true,
                Audience::Pairing,
            );
        }
        Ok(Reply::Json(
            json!({"status": "pending", "request": req, "created": created}),
        ))
    })
}

/// `node.pair.verify`: checks a 2026.1-era node token.
fn pair_verify<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodePairVerifyParams>(names::NODE_PAIR_VERIFY, params)?;
        Ok(Reply::Json(
            match ctx.state.nodes.store.verify(p.node_id.trim(), &p.token) {
                Some(node) => json!({"ok": true, "node": node}),
                None => json!({"ok": false}),
            },
        ))
    })
}

fn pair_reject<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<RequestIdParams>(names::NODE_PAIR_REJECT, params)?;
        let id = p.request_id.trim();
        let Some(req) = ctx.state.nodes.store.reject(id).map_err(store_error)? else {
            return Err(ErrorShape::invalid_request("unknown requestId"));
        };
        ctx.state.nodes.with_live(&req.node_id, |n| {
            if n.pending_request.as_deref() == Some(id) {
                n.pending_request = None;
            }
        });
        resolved(&ctx.state, id, &req.node_id, "rejected");
        Ok(Reply::Json(json!({"requestId": id, "nodeId": req.node_id})))
    })
}

fn pair_remove<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodeIdParams>(names::NODE_PAIR_REMOVE, params)?;
        let id = p.node_id.trim();
        let had = ctx.state.nodes.store.remove(id).map_err(store_error)?;
        let device = ctx.state.devices.paired(id);
        let node_device = device
            .as_ref()
            .is_some_and(|d| d.roles.iter().any(|r| r == "node"));
        if !had && !node_device {
            return Err(ErrorShape::invalid_request("unknown nodeId"));
        }
        if node_device {
            // The device loses the node role; a node-only device is forgotten.
            ctx.state
                .devices
                .drop_role(id, "node")
                .map_err(store_error)?;
        }
        ctx.state.nodes.forget_queue(id);
        ctx.state
            .hub
            .close_device(id, Some("node"), 1008, "node removed");
        resolved(&ctx.state, "", id, "removed");
        Ok(Reply::Json(json!({"nodeId": id})))
    })
}

/// Commands `node.invoke` never forwards, whatever the node declares.
fn hard_refusal(ctx: &MethodCtx, command: &str) -> Option<ErrorShape> {
    if command.starts_with("system.execApprovals.") {
        return Some(ErrorShape::invalid_request(
            "node.invoke does not allow system.execApprovals.*; use exec.approvals.node.*",
        ));
    }
    if command == "browser.proxy" && !ctx.is_admin() {
        return Some(ErrorShape::missing_scope(scopes::ADMIN));
    }
    None
}

/// Whether the gateway knows a node (paired or connected).
fn known(state: &AppState, node_id: &str) -> bool {
    catalogue(state).iter().any(|n| n.node_id == node_id)
}

/// The error for a node without a live session: unknown, or known and not connected.
fn not_live(state: &AppState, node_id: &str) -> ErrorShape {
    if known(state, node_id) {
        ErrorShape::unavailable("node not connected").with_details(json!({"code": "NOT_CONNECTED"}))
    } else {
        ErrorShape::invalid_request("unknown nodeId")
    }
}

fn not_allowed(command: &str, reason: &str, message: String) -> ErrorShape {
    ErrorShape::invalid_request(message).with_details(json!({"reason": reason, "command": command}))
}

fn invoke<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodeInvokeParams>(names::NODE_INVOKE, params)?;
        let node_id = p.node_id.trim().to_string();
        let command = p.command.trim().to_string();
        if node_id.is_empty() || command.is_empty() {
            return Err(ErrorShape::invalid_request("nodeId and command required"));
        }
        if let Some(e) = hard_refusal(ctx, &command) {
            return Err(e);
        }
        // The node's live session and what it may run now.
        let Some((conn, platform, family, allowed, effective, pending)) =
            ctx.state.nodes.with_live(&node_id, |n| {
                (
                    n.conn.clone(),
                    n.params.client.platform.clone(),
                    n.params.client.device_family.clone(),
                    n.allowed.clone(),
                    n.effective.clone(),
                    n.pending_request.clone(),
                )
            })
        else {
            return Err(not_live(&ctx.state, &node_id));
        };
        let list = session::allowlist(&ctx.state, &platform, family.as_deref());
        if let Err(r) = list.check(&command) {
            return Err(not_allowed(&command, r.reason, r.message));
        }
        if !allowed.contains(&command) {
            let (reason, msg) = if allowed.is_empty() && effective.is_empty() {
                ("not-declared", "node did not declare commands".to_string())
            } else {
                ("not-declared", "command not declared by node".to_string())
            };
            return Err(not_allowed(&command, reason, msg));
        }
        if !effective.contains(&command) {
            let hint = match pending {
                Some(id) => format!(
                    "node command not allowed: the node's command surface is awaiting operator approval; run `openclaw nodes approve {id}`"
                ),
                None => "node command not allowed: the node's command surface is not approved"
                    .to_string(),
            };
            return Err(not_allowed(&command, "awaiting-approval", hint));
        }
        let timeout_ms = p
            .timeout_ms
            .unwrap_or(DEFAULT_INVOKE_TIMEOUT_MS)
            .min(MAX_INVOKE_TIMEOUT_MS);
        let params_json = match &p.params {
            None | Some(Value::Null) => None,
            Some(v) => Some(serde_json::to_string(v).unwrap_or_default()),
        };
        let waiting = relay(
            &ctx.state,
            &conn,
            &node_id,
            &command,
            params_json,
            timeout_ms,
            p.idempotency_key.clone(),
        )?;
        Ok(Reply::Deferred(Box::pin(async move {
            match waiting.await {
                Err(e) => (false, Value::Null, Some(e)),
                Ok((payload, payload_json)) => (
                    true,
                    json!({"ok": true, "nodeId": node_id, "command": command, "payload": payload, "payloadJSON": payload_json}),
                    None,
                ),
            }
        })))
    })
}

/// The node's answer: `(payload, payloadJSON)`, or the caller's error.
type Relayed = Result<(Value, Option<String>), ErrorShape>;

/// Sends `node.invoke.request` to the node's session and returns the wait for its answer
/// (bounded by `timeout_ms`; a disconnect or node error becomes the spec's error).
fn relay(
    state: &std::sync::Arc<AppState>,
    conn: &std::sync::Arc<crate::hub::ConnHandle>,
    node_id: &str,
    command: &str,
    params_json: Option<String>,
    timeout_ms: u64,
    idempotency_key: String,
) -> Result<impl std::future::Future<Output = Relayed> + Send + 'static, ErrorShape> {
    let invoke_id = uuid::Uuid::new_v4().to_string();
    let Some(rx) = state.nodes.start_invoke(&invoke_id, node_id, &conn.conn_id) else {
        return Err(ErrorShape::unavailable("too many node invokes in flight"));
    };
    let req = NodeInvokeRequest {
        id: invoke_id.clone(),
        node_id: node_id.to_string(),
        command: command.to_string(),
        params_json,
        timeout_ms,
        idempotency_key,
    };
    let text = crate::hub::event_text(
        ev::NODE_INVOKE_REQUEST,
        &serde_json::to_string(&req).unwrap_or_default(),
        None,
        None,
    );
    if !conn.send_text(text) {
        state.nodes.cancel_invoke(&invoke_id);
        return Err(ErrorShape::unavailable("failed to send invoke to node"));
    }
    let state = state.clone();
    let command = command.to_string();
    Ok(async move {
        let outcome = tokio::time::timeout(Duration::from_millis(timeout_ms.max(1)), rx).await;
        match outcome {
            Err(_) => {
                state.nodes.cancel_invoke(&invoke_id);
                Err(ErrorShape::unavailable("node invoke timed out").with_details(
                    json!({"nodeError": {"code": "TIMEOUT", "message": "node invoke timed out"}}),
                ))
            }
            Ok(Err(_)) | Ok(Ok(Outcome::Disconnected)) => Err(ErrorShape::unavailable(format!(
                "node disconnected ({command})"
            ))),
            Ok(Ok(Outcome::Failed(e))) => {
                let msg = e
                    .message
                    .clone()
                    .unwrap_or_else(|| "node invoke failed".to_string());
                Err(ErrorShape::unavailable(msg)
                    .with_details(json!({"nodeError": {"code": e.code, "message": e.message}})))
            }
            Ok(Ok(Outcome::Ok {
                payload,
                payload_json,
            })) => {
                let payload = match (&payload_json, payload) {
                    (Some(raw), _) => {
                        serde_json::from_str(raw).unwrap_or_else(|_| json!({"payloadJSON": raw}))
                    }
                    (None, Some(p)) => p,
                    (None, None) => Value::Null,
                };
                Ok((payload, payload_json))
            }
        }
    })
}

/// `exec.approvals.node.get/set`: the node's own exec-approvals file, read or written by an
/// admin through the node (`system.execApprovals.get/set`, which `node.invoke` refuses).
fn approvals_relay<'a>(
    ctx: &'a MethodCtx,
    node_id: &'a str,
    command: &'static str,
    params: Value,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let node_id = node_id.trim().to_string();
        let Some((conn, declared)) = ctx.state.nodes.with_live(&node_id, |n| {
            (
                n.conn.clone(),
                n.params.commands.clone().unwrap_or_default(),
            )
        }) else {
            return Err(not_live(&ctx.state, &node_id));
        };
        if !declared.iter().any(|c| c == command) {
            return Err(not_allowed(
                command,
                "not-declared",
                "command not declared by node".to_string(),
            ));
        }
        let waiting = relay(
            &ctx.state,
            &conn,
            &node_id,
            command,
            Some(params.to_string()),
            DEFAULT_INVOKE_TIMEOUT_MS,
            uuid::Uuid::new_v4().to_string(),
        )?;
        Ok(Reply::Deferred(Box::pin(async move {
            match waiting.await {
                Ok((payload, _)) => (true, payload, None),
                Err(e) => (false, Value::Null, Some(e)),
            }
        })))
    })
}

fn approvals_get<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ExecApprovalsNodeGetParams>(names::EXEC_APPROVALS_NODE_GET, params)?;
        approvals_relay(ctx, &p.node_id, "system.execApprovals.get", json!({})).await
    })
}

fn approvals_set<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ExecApprovalsNodeSetParams>(names::EXEC_APPROVALS_NODE_SET, params)?;
        let Some(file) = p.file else {
            return Err(ErrorShape::invalid_request(
                "invalid exec.approvals.node.set params: file required",
            ));
        };
        let mut forwarded = json!({"file": file});
        if let Some(h) = p.base_hash {
            forwarded["baseHash"] = json!(h);
        }
        approvals_relay(ctx, &p.node_id, "system.execApprovals.set", forwarded).await
    })
}

fn caller_node(ctx: &MethodCtx) -> String {
    node_id_of(&ctx.connect)
}

fn invoke_result<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodeInvokeResultParams>(names::NODE_INVOKE_RESULT, params)?;
        let me = caller_node(ctx);
        if !p.node_id.eq_ignore_ascii_case(&me) {
            return Err(ErrorShape::invalid_request("nodeId mismatch"));
        }
        // A non-string payloadJSON is taken as the payload itself.
        let (payload, payload_json) = match p.payload_json {
            Some(Value::String(s)) => (p.payload, Some(s)),
            Some(Value::Null) | None => (p.payload, None),
            Some(other) => (Some(other), None),
        };
        let size = payload_json.as_ref().map_or(0, String::len)
            + payload
                .as_ref()
                .map_or(0, |v| serde_json::to_string(v).map_or(0, |s| s.len()));
        let outcome = if size > MAX_RESULT_BYTES {
            Outcome::Failed(NodeError {
                code: Some("RESULT_TOO_LARGE".into()),
                message: Some(format!(
                    "node invoke result too large ({size} bytes; limit {MAX_RESULT_BYTES})"
                )),
            })
        } else if p.ok {
            Outcome::Ok {
                payload,
                payload_json,
            }
        } else {
            Outcome::Failed(p.error.unwrap_or_default())
        };
        match ctx.state.nodes.finish_invoke(&p.id, &me, outcome) {
            Delivery::WrongNode => Err(ErrorShape::invalid_request("nodeId mismatch")),
            _ if size > MAX_RESULT_BYTES => Err(ErrorShape::invalid_request(format!(
                "node invoke result too large (limit {MAX_RESULT_BYTES} bytes)"
            ))),
            Delivery::Delivered => Ok(Reply::Json(json!({"ok": true}))),
            Delivery::Ignored => Ok(Reply::Json(json!({"ok": true, "ignored": true}))),
        }
    })
}

fn invoke_progress<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodeInvokeProgressParams>(names::NODE_INVOKE_PROGRESS, params)?;
        if !p.node_id.eq_ignore_ascii_case(&caller_node(ctx)) {
            return Err(ErrorShape::invalid_request("nodeId mismatch"));
        }
        Ok(Reply::Json(json!({"ok": true})))
    })
}

fn node_event<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodeEventParams>(names::NODE_EVENT, params)?;
        tracing::debug!(target: "gateway", "node event {} from {}", p.event, session::short(&caller_node(ctx)));
        Ok(Reply::Json(
            json!({"ok": true, "event": p.event, "handled": false}),
        ))
    })
}

fn pending_enqueue<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodePendingEnqueueParams>(names::NODE_PENDING_ENQUEUE, params)?;
        let id = p.node_id.trim();
        if !known(&ctx.state, id) {
            return Err(ErrorShape::invalid_request("unknown nodeId"));
        }
        let (revision, item) = ctx.state.nodes.enqueue(
            id,
            p.kind,
            p.priority.unwrap_or(PendingPriority::Normal),
            p.expires_in_ms,
            now_ms(),
        );
        Ok(Reply::Json(
            json!({"nodeId": id, "revision": revision, "queued": item, "wakeTriggered": false}),
        ))
    })
}

fn pending_drain<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodePendingDrainParams>(names::NODE_PENDING_DRAIN, params)?;
        let me = caller_node(ctx);
        let max = p.max_items.unwrap_or(10) as usize;
        let (revision, items, has_more) = ctx.state.nodes.peek_queue(&me, max, now_ms());
        Ok(Reply::Json(
            json!({"nodeId": me, "revision": revision, "items": items, "hasMore": has_more}),
        ))
    })
}

fn pending_pull<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::NODE_PENDING_PULL, params)?;
        let me = caller_node(ctx);
        let (_, items, _) = ctx.state.nodes.peek_queue(&me, 64, now_ms());
        Ok(Reply::Json(json!({"nodeId": me, "actions": items})))
    })
}

fn pending_ack<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<NodePendingAckParams>(names::NODE_PENDING_ACK, params)?;
        let me = caller_node(ctx);
        let (acked, left) = ctx.state.nodes.ack_queue(&me, &p.ids);
        Ok(Reply::Json(
            json!({"nodeId": me, "ackedIds": acked, "remainingCount": left}),
        ))
    })
}

/// Accepted only once the node's surface is approved, as the reference.
fn inventory_update<'a>(ctx: &'a MethodCtx, _params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let me = caller_node(ctx);
        let pending = ctx
            .state
            .nodes
            .with_live(&me, |n| n.pending_request.clone())
            .flatten();
        if let Some(id) = pending {
            return Err(ErrorShape::unavailable(format!(
                "node capability surface is awaiting operator approval; run `openclaw nodes approve {id}` (see `openclaw nodes pending`), then this node retries automatically"
            )));
        }
        Ok(Reply::Json(json!({"ok": true})))
    })
}

fn accept_update<'a>(_ctx: &'a MethodCtx, _params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move { Ok(Reply::Json(json!({"ok": true}))) })
}

fn skills_bins<'a>(_ctx: &'a MethodCtx, _params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move { Ok(Reply::Json(json!({"bins": []}))) })
}
