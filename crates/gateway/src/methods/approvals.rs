//! Exec approvals over RPC (protocol.md): the queue (`exec.approval.list/get/waitDecision/
//! resolve`), the kind-agnostic `approval.get/resolve` the reference CLI's `approvals resolve`
//! calls, and the gateway host's policy file (`exec.approvals.get/set`, compare-and-swap on
//! its hash). The node's file is relayed by `methods::nodes` (`exec.approvals.node.*`).

use openclaw_protocol::ErrorShape;
use openclaw_protocol::approvals::{
    ApprovalIdParams, ApprovalResolveParams, ExecApprovalResolveParams, ExecApprovalsSetParams,
    names,
};
use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::ui::names as ui_names;
use serde_json::{Value, json};

use crate::exec_approvals::GATEWAY_DEFAULTS;
use crate::exec_approvals::file::{ApprovalsFile, StoreError};
use crate::exec_approvals::pending::{Decision, Outcome, PendingError, Record, wait_outcome};
use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};
use crate::tools::exec::{ask_str as ask_name, security_str as security_name};

pub fn register(out: &mut Vec<MethodSpec>) {
    let specs: [(&'static str, &'static str, crate::registry::Handler); 8] = [
        (ui_names::EXEC_APPROVAL_LIST, scopes::APPROVALS, list),
        (names::EXEC_APPROVAL_GET, scopes::APPROVALS, get),
        (
            names::EXEC_APPROVAL_WAIT_DECISION,
            scopes::APPROVALS,
            wait_decision,
        ),
        (names::EXEC_APPROVAL_RESOLVE, scopes::APPROVALS, resolve),
        (names::APPROVAL_GET, scopes::APPROVALS, approval_get),
        (names::APPROVAL_RESOLVE, scopes::APPROVALS, approval_resolve),
        (names::EXEC_APPROVALS_GET, scopes::ADMIN, file_get),
        (names::EXEC_APPROVALS_SET, scopes::ADMIN, file_set),
    ];
    for (name, scope, handler) in specs {
        out.push(MethodSpec {
            name,
            access: Access::Scope(scope),
            handler,
        });
    }
}

fn not_found() -> ErrorShape {
    ErrorShape::invalid_request("unknown or expired approval id")
        .with_details(json!({"reason": "APPROVAL_NOT_FOUND"}))
}

fn store_error(e: StoreError) -> ErrorShape {
    ErrorShape::new(e.code, e.message)
}

/// Who answered, as the reference labels it (device id, else client id).
fn resolver(ctx: &MethodCtx) -> (String, Option<String>) {
    match ctx
        .state
        .hub
        .get(&ctx.conn_id)
        .and_then(|h| h.device_id.clone())
    {
        Some(d) => ("device".into(), Some(d)),
        None => (
            "runtime".into(),
            Some(ctx.connect.client.id.as_str().to_string()),
        ),
    }
}

fn list<'a>(ctx: &'a MethodCtx, _params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let entries: Vec<Value> = ctx
            .state
            .exec_pending
            .list()
            .iter()
            .map(Record::requested_payload)
            .collect();
        Ok(Reply::Json(Value::Array(entries)))
    })
}

fn get<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ApprovalIdParams>(names::EXEC_APPROVAL_GET, params)?;
        let r = ctx
            .state
            .exec_pending
            .get(&p.id)
            .filter(|r| r.outcome.is_none());
        let Some(r) = r else {
            return Err(not_found());
        };
        Ok(Reply::Json(json!({
            "id": r.id,
            "commandText": r.request.command,
            "commandPreview": Value::Null,
            "allowedDecisions": r.request.allowed,
            "host": r.request.host,
            "nodeId": Value::Null,
            "agentId": r.request.agent_id,
            "expiresAtMs": r.expires_at_ms,
        })))
    })
}

fn wait_decision<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ApprovalIdParams>(names::EXEC_APPROVAL_WAIT_DECISION, params)?;
        let Some((record, rx)) = ctx.state.exec_pending.watch(&p.id) else {
            return Err(not_found());
        };
        Ok(Reply::Deferred(Box::pin(async move {
            let outcome = wait_outcome(rx, record.expires_at_ms).await;
            let decision = match outcome {
                Outcome::Decided(d) => json!(d.as_str()),
                Outcome::Expired => Value::Null,
            };
            (
                true,
                json!({"id": record.id, "decision": decision,
                    "createdAtMs": record.created_at_ms, "expiresAtMs": record.expires_at_ms}),
                None,
            )
        })))
    })
}

/// Applies a decision; `Ok(applied)`.
fn decide(ctx: &MethodCtx, id: &str, decision: &str) -> Result<(bool, Record), ErrorShape> {
    let Some(decision) = Decision::parse(decision.trim()) else {
        return Err(ErrorShape::invalid_request("invalid decision"));
    };
    let state = &ctx.state;
    if let Some(r) = state.exec_pending.get(id)
        && r.outcome.is_none()
        && !r.request.allowed.contains(&decision.as_str())
    {
        return Err(ErrorShape::invalid_request(format!(
            "decision {} is not allowed for this approval; allowed: {}",
            decision.as_str(),
            r.request.allowed.join(", ")
        )));
    }
    let (kind, who) = resolver(ctx);
    let label = who.unwrap_or(kind);
    match state
        .exec_pending
        .resolve(&state.hub, id, decision, Some(label))
    {
        Ok(done) => Ok(done),
        Err(PendingError::NotFound) => Err(not_found()),
        Err(PendingError::AlreadyResolved(_)) => {
            Err(ErrorShape::invalid_request("approval already resolved")
                .with_details(json!({"reason": "APPROVAL_ALREADY_RESOLVED"})))
        }
        Err(PendingError::Full) => Err(ErrorShape::unavailable("approvals queue full")),
    }
}

fn resolve<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ExecApprovalResolveParams>(names::EXEC_APPROVAL_RESOLVE, params)?;
        decide(ctx, &p.id, &p.decision)?;
        Ok(Reply::Json(json!({"ok": true})))
    })
}

/// The reference's public approval snapshot (`approval.get`/`approval.resolve`).
fn snapshot(r: &Record, base_path: &str) -> Value {
    let status = match r.outcome {
        None => "pending",
        Some(Outcome::Decided(Decision::Deny)) => "denied",
        Some(Outcome::Decided(_)) => "allowed",
        Some(Outcome::Expired) => "expired",
    };
    let mut v = json!({
        "id": r.id,
        "status": status,
        "presentation": {
            "kind": "exec",
            "commandText": r.request.command,
            "allowedDecisions": r.request.allowed,
            "host": r.request.host,
            "agentId": r.request.agent_id,
        },
        "urlPath": format!("{base_path}/approve/{}", r.id),
        "createdAtMs": r.created_at_ms,
        "expiresAtMs": r.expires_at_ms,
    });
    if let Some(at) = r.resolved_at_ms {
        v["resolvedAtMs"] = json!(at);
        v["reason"] = json!(if r.outcome == Some(Outcome::Expired) {
            "expired"
        } else {
            "operator"
        });
        v["source"] = json!({"agentId": r.request.agent_id, "sessionKey": r.request.session_key});
        if let Some(d) = r.decision() {
            v["decision"] = json!(d);
        }
        if let Some(by) = &r.resolved_by {
            v["resolver"] = json!({"kind": "runtime", "id": by});
        }
    }
    v
}

/// The Control UI's approval page (served under its base path; `/` here).
fn base_path(_ctx: &MethodCtx) -> String {
    String::new()
}

fn approval_get<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ApprovalIdParams>(names::APPROVAL_GET, params)?;
        let Some(r) = ctx.state.exec_pending.get(&p.id) else {
            return Err(ErrorShape::invalid_request("approval not found")
                .with_details(json!({"reason": "APPROVAL_NOT_FOUND"})));
        };
        Ok(Reply::Json(
            json!({"approval": snapshot(&r, &base_path(ctx))}),
        ))
    })
}

fn approval_resolve<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ApprovalResolveParams>(names::APPROVAL_RESOLVE, params)?;
        if p.kind.as_deref().is_some_and(|k| k != "exec") {
            return Err(ErrorShape::invalid_request("approval not found")
                .with_details(json!({"reason": "APPROVAL_NOT_FOUND"})));
        }
        let (applied, record) = match decide(ctx, &p.id, &p.decision) {
            Ok(done) => done,
            Err(e) if e.message.contains("already resolved") => {
                let Some(r) = ctx.state.exec_pending.get(&p.id) else {
                    return Err(e);
                };
                (false, r)
            }
            Err(e) if e.message.contains("unknown or expired") => {
                return Err(ErrorShape::invalid_request("approval not found")
                    .with_details(json!({"reason": "APPROVAL_NOT_FOUND"})));
            }
            Err(e) => return Err(e),
        };
        Ok(Reply::Json(json!({
            "applied": applied,
            "approval": snapshot(&record, &base_path(ctx)),
        })))
    })
}

/// `{path, exists, hash, file, resolvedDefaults}` (the reference's shape; the socket token
/// is never shown).
fn file_result(s: crate::exec_approvals::file::Snapshot) -> Value {
    let mut v = serde_json::to_value(&s).unwrap_or_default();
    v["resolvedDefaults"] = json!({
        "security": security_name(GATEWAY_DEFAULTS.security),
        "ask": ask_name(GATEWAY_DEFAULTS.ask),
        "askFallback": security_name(GATEWAY_DEFAULTS.ask_fallback),
        "autoAllowSkills": false,
    });
    v
}

fn file_get<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<openclaw_protocol::EmptyParams>(names::EXEC_APPROVALS_GET, params)?;
        let snap = ctx.state.exec_approvals().snapshot().map_err(store_error)?;
        Ok(Reply::Json(file_result(snap)))
    })
}

fn file_set<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ExecApprovalsSetParams>(names::EXEC_APPROVALS_SET, params)?;
        let file = ApprovalsFile::from_value(p.file).map_err(|e| {
            ErrorShape::invalid_request(format!("invalid exec approvals file: {e}"))
        })?;
        let snap = ctx
            .state
            .exec_approvals()
            .set(file, p.base_hash.as_deref())
            .await
            .map_err(store_error)?;
        Ok(Reply::Json(file_result(snap)))
    })
}
