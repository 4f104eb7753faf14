//! Session family (agent.md §3.3, §4.3): `sessions.list` / `preview` / `resolve` / `get` /
//! `create` / `patch` / `reset` / `delete` / `compact`, and `chat.inject`.
//!
//! Every change is announced to `sessions.subscribe` subscribers as `sessions.changed` with
//! its reason. WebChat clients may not patch or delete sessions (the reference's rule: they
//! change a session only through `chat.send`).

use openclaw_agent::{
    AgentMessage, ModelRef, SessionEntry, SessionStore, Transcript, canonical_session_key,
    model_chain,
};
use openclaw_protocol::agent::{Archived, names as agent_names};
use openclaw_protocol::connect::{ClientId, ClientInfo, ClientMode, scopes};
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::sessions::{
    ChatInjectParams, ChatInjectResult, PreviewItem, ResolvedModel, SESSION_LABEL_MAX_LENGTH,
    SessionPreview, SessionsCompactParams, SessionsCompactResult, SessionsCreateParams,
    SessionsGetParams, SessionsPatchParams, SessionsPatchResult, SessionsPreviewParams,
    SessionsPreviewResult, SessionsResolveParams, levels, names,
};
use openclaw_protocol::{
    ChatEvent, ChatMessage, ChatState, ErrorShape, SessionsDeleteParams, SessionsListParams,
    SessionsResetParams,
};
use serde_json::{Value, json};

use crate::agents::{agent_of_key, agents, model_catalog, resolve_agent};
use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};
use crate::runs::{RunSpec, Runs, Submitted, run_timeout_ms};
use crate::state::{AppState, now_ms};

pub fn register(out: &mut Vec<MethodSpec>) {
    let write = Access::Scope(scopes::WRITE);
    let read = Access::Scope(scopes::READ);
    let admin = Access::Scope(scopes::ADMIN);
    for (name, access, handler) in [
        (
            agent_names::SESSIONS_LIST,
            read,
            sessions_list as crate::registry::Handler,
        ),
        (names::SESSIONS_PREVIEW, read, sessions_preview),
        (names::SESSIONS_RESOLVE, read, sessions_resolve),
        (names::SESSIONS_GET, read, sessions_get),
        (names::SESSIONS_CREATE, write, sessions_create),
        // Write scope for the fields a chat user may change; admin for the rest (checked in
        // the handler, which sees the fields), as the reference 2026.9 decides.
        (names::SESSIONS_PATCH, write, sessions_patch),
        (agent_names::SESSIONS_RESET, admin, sessions_reset),
        // Deleting with `archivedOnly` (an archived session) needs only write; anything else
        // needs admin (checked in the handler, which sees the params).
        (
            agent_names::SESSIONS_DELETE,
            Access::AdminUnless(scopes::WRITE),
            sessions_delete,
        ),
        (names::SESSIONS_COMPACT, admin, sessions_compact),
        (names::CHAT_INJECT, admin, chat_inject),
    ] {
        out.push(MethodSpec {
            name,
            access,
            handler,
        });
    }
}

/// Messages of `sessions.get` when the caller gives no limit.
const GET_DEFAULT_LIMIT: usize = 200;
/// `sessions.preview`: keys looked at per call, items and characters per key (defaults, bounds).
const PREVIEW_MAX_KEYS: usize = 64;
const PREVIEW_DEFAULT_LIMIT: usize = 12;
const PREVIEW_MAX_LIMIT: usize = 50;
const PREVIEW_DEFAULT_CHARS: usize = 240;
const PREVIEW_MAX_CHARS: usize = 2000;

/// The reference's test of "the public webchat surface": the Control UI never is; a client
/// in `webchat` mode, or calling itself `webchat-ui` / `webchat`, is.
pub(crate) fn is_webchat_client(client: &ClientInfo) -> bool {
    if client.id == ClientId::ControlUi {
        return false;
    }
    client.mode == ClientMode::Webchat
        || matches!(client.id, ClientId::WebchatUi | ClientId::Webchat)
}

fn refuse_webchat(ctx: &MethodCtx, verb: &str) -> Result<(), ErrorShape> {
    if is_webchat_client(&ctx.connect.client) {
        return Err(ErrorShape::invalid_request(format!(
            "webchat clients cannot {verb} sessions; use chat.send for session-scoped updates"
        )));
    }
    Ok(())
}

/// The canonical key of a caller's key and the store of the agent it belongs to.
fn locate(state: &AppState, raw: &str) -> (String, String, SessionStore) {
    let (_, default) = agents(state);
    let key = canonical_session_key(raw, &default, &state.settings().main_key);
    let agent = agent_of_key(state, &key);
    let store = SessionStore::open(&state.paths.state_dir, &agent);
    (key, agent, store)
}

/// [`locate`] with the caller's `agentId`: it must be a known agent, it owns a key that does
/// not name one (`main`), and it must agree with a key that does.
fn locate_for(
    state: &AppState,
    raw: &str,
    agent_id: Option<&str>,
) -> Result<(String, String, SessionStore), ErrorShape> {
    let Some(requested) = agent_id else {
        return Ok(locate(state, raw));
    };
    let requested = resolve_agent(state, Some(requested))?;
    let key = canonical_session_key(raw, &requested, &state.settings().main_key);
    let agent = agent_of_key(state, &key);
    if agent != requested {
        return Err(ErrorShape::invalid_request(format!(
            "session {key} belongs to agent {agent}, not {requested}"
        )));
    }
    let store = SessionStore::open(&state.paths.state_dir, &agent);
    Ok((key, agent, store))
}

/// `expectedSessionId`: the session must still be the one the caller saw (not reset, not
/// replaced) — the reference's words.
fn check_expected(
    store: &SessionStore,
    key: &str,
    expected: Option<&str>,
    action: &str,
) -> Result<(), ErrorShape> {
    let Some(expected) = expected.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    if store.get(key).map(|e| e.session_id) != Some(expected.to_string()) {
        return Err(ErrorShape::invalid_request(format!(
            "Session {key} changed before {action}. Retry."
        )));
    }
    Ok(())
}

fn io_error(what: &str) -> impl Fn(std::io::Error) -> ErrorShape + '_ {
    move |e| ErrorShape::unavailable(format!("cannot {what}: {e}"))
}

fn invalid(method: &str, path: &str, why: impl std::fmt::Display) -> ErrorShape {
    ErrorShape::invalid_request(format!("invalid {method} params: at /{path}: {why}"))
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// Tells `sessions.subscribe` subscribers that `key` changed (`patch`, `reset`, `new`,
/// `delete`, `compact`, `create`, `message`).
pub(crate) fn session_changed(state: &AppState, key: &str, reason: &str) {
    crate::runs::events::emit_sessions_changed(
        state,
        &openclaw_protocol::ui::SessionsChanged {
            session_key: key.to_string(),
            agent_id: agent_of_key(state, key),
            reason: Some(reason.to_string()),
            session_id: None,
            phase: None,
            run_id: None,
            ts: now_ms(),
        },
    );
}

/// `new` for a `/new` command, else `reset` (the reference's `sessions.changed` reasons).
pub(crate) fn reset_reason(command: &str) -> &'static str {
    if command.trim_start().starts_with("/new") {
        "new"
    } else {
        "reset"
    }
}

fn session_kind(key: &str) -> &'static str {
    if key == "global" {
        "global"
    } else if key == "unknown" {
        "unknown"
    } else if key.contains(":group:") || key.contains(":channel:") {
        "group"
    } else {
        "direct"
    }
}

/// The model the session's next run starts on: its override, else the agent's primary.
pub(crate) fn resolved_model(state: &AppState, agent: &str, entry: &SessionEntry) -> ResolvedModel {
    if let (Some(p), Some(m)) = (&entry.provider_override, &entry.model_override) {
        return ResolvedModel {
            model_provider: Some(p.clone()),
            model: Some(m.clone()),
        };
    }
    let primary = model_chain(&state.config().config, agent)
        .into_iter()
        .next()
        .or_else(|| ModelRef::parse(openclaw_agent::DEFAULT_MODEL_REF));
    ResolvedModel {
        model_provider: primary.as_ref().map(|r| r.provider.clone()),
        model: primary.map(|r| r.model),
    }
}

pub(crate) fn sessions_list<'a>(
    ctx: &'a MethodCtx,
    params: Option<&'a Value>,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SessionsListParams>(agent_names::SESSIONS_LIST, params)?;
        let state = &ctx.state;
        let agent_id = resolve_agent(state, p.agent_id.as_deref())?;
        let store = SessionStore::open(&state.paths.state_dir, &agent_id);
        let now = now_ms();
        let mut rows: Vec<Value> = store
            .list()
            .into_iter()
            .filter(|(k, _)| {
                let kind = session_kind(k);
                (kind != "global" || p.include_global == Some(true))
                    && (kind != "unknown" || p.include_unknown == Some(true))
            })
            .filter(|(_, e)| {
                p.active_minutes
                    .is_none_or(|m| now.saturating_sub(e.updated_at) <= m.saturating_mul(60_000))
            })
            .filter(|(_, e)| match p.archived {
                None | Some(Archived::Flag(false)) => !e.is_archived(),
                Some(Archived::Flag(true)) => e.is_archived(),
                Some(Archived::All(_)) => true,
            })
            // No session has a dashboard here.
            .filter(|_| p.has_board != Some(true))
            .filter(|(_, e)| {
                p.label
                    .as_deref()
                    .is_none_or(|l| e.label.as_deref() == Some(l))
                    && p.spawned_by
                        .as_deref()
                        .is_none_or(|s| e.spawned_by.as_deref() == Some(s))
            })
            .filter(|(k, e)| {
                p.search.as_deref().is_none_or(|s| {
                    let s = s.to_ascii_lowercase();
                    k.contains(&s)
                        || e.label
                            .as_deref()
                            .is_some_and(|l| l.to_ascii_lowercase().contains(&s))
                        || e.display_name
                            .as_deref()
                            .is_some_and(|l| l.to_ascii_lowercase().contains(&s))
                })
            })
            .map(|(k, e)| {
                let mut row = serde_json::to_value(&e).unwrap_or_else(|_| json!({}));
                row["key"] = json!(k);
                row["kind"] = json!(session_kind(&k));
                row
            })
            .skip(p.offset.unwrap_or(0) as usize)
            .collect();
        if let Some(limit) = p.limit {
            rows.truncate(limit as usize);
        }
        let path = store.index_path();
        Ok(Reply::Json(json!({
            "ts": now,
            "path": path.to_string_lossy(),
            "count": rows.len(),
            "defaults": {"modelProvider": null, "model": null, "contextTokens": null},
            "sessions": rows,
        })))
    })
}

/// The text of a message for a preview: its text parts, whitespace collapsed, cut to `max`
/// characters (never inside a character) with an ellipsis.
fn preview_text(m: &AgentMessage, max: usize) -> String {
    let text = m.text().split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn preview_one(state: &AppState, raw: &str, limit: usize, max_chars: usize) -> SessionPreview {
    let (key, _, store) = locate(state, raw);
    let entry = store.get(&key).filter(|e| !e.session_id.is_empty());
    let Some(entry) = entry else {
        return SessionPreview {
            key,
            status: "missing".into(),
            items: Vec::new(),
        };
    };
    let path = store.transcript_path(&entry);
    let messages = match Transcript::load_messages(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read a transcript for sessions.preview");
            return SessionPreview {
                key,
                status: "error".into(),
                items: Vec::new(),
            };
        }
    };
    let mut items: Vec<PreviewItem> = messages
        .iter()
        .filter(|m| matches!(m.role(), "user" | "assistant"))
        .map(|m| PreviewItem {
            role: m.role().to_string(),
            text: preview_text(m, max_chars),
        })
        .filter(|i| !i.text.is_empty())
        .collect();
    let skip = items.len().saturating_sub(limit);
    items.drain(..skip);
    SessionPreview {
        key,
        status: if items.is_empty() { "empty" } else { "ok" }.into(),
        items,
    }
}

fn sessions_preview<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SessionsPreviewParams>(names::SESSIONS_PREVIEW, params)?;
        let limit = p
            .limit
            .map_or(PREVIEW_DEFAULT_LIMIT, |l| l as usize)
            .clamp(1, PREVIEW_MAX_LIMIT);
        let max_chars = p
            .max_chars
            .map_or(PREVIEW_DEFAULT_CHARS, |c| c as usize)
            .clamp(20, PREVIEW_MAX_CHARS);
        let state = ctx.state.clone();
        let keys: Vec<String> = p
            .keys
            .into_iter()
            .map(|k| k.0)
            .take(PREVIEW_MAX_KEYS)
            .collect();
        let previews = tokio::task::spawn_blocking(move || {
            keys.iter()
                .map(|k| preview_one(&state, k, limit, max_chars))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| ErrorShape::unavailable(e.to_string()))?;
        Ok(Reply::Json(to_json(&SessionsPreviewResult {
            ts: now_ms(),
            previews,
        })))
    })
}

fn sessions_resolve<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SessionsResolveParams>(names::SESSIONS_RESOLVE, params)?;
        let state = &ctx.state;
        let given = [p.key.is_some(), p.session_id.is_some(), p.label.is_some()]
            .into_iter()
            .filter(|b| *b)
            .count();
        if given == 0 {
            return Err(ErrorShape::invalid_request(
                "Either key, sessionId, or label is required",
            ));
        }
        if given > 1 {
            return Err(ErrorShape::invalid_request(
                "Provide either key, sessionId, or label (not multiple)",
            ));
        }
        if let Some(raw) = &p.key {
            let (key, _, store) = locate(state, raw);
            let kind = session_kind(&key);
            let hidden = (kind == "global" && p.include_global != Some(true))
                || (kind == "unknown" && p.include_unknown != Some(true));
            if hidden || store.get(&key).is_none() {
                return Err(ErrorShape::invalid_request(format!(
                    "No session found: {key}"
                )));
            }
            return Ok(Reply::Json(json!({"ok": true, "key": key})));
        }
        let agent = resolve_agent(state, p.agent_id.as_deref())?;
        let store = SessionStore::open(&state.paths.state_dir, &agent);
        let rows = store.list();
        let spawned_ok = |e: &SessionEntry| {
            p.spawned_by
                .as_deref()
                .is_none_or(|s| e.spawned_by.as_deref() == Some(s))
        };
        let found = if let Some(id) = &p.session_id {
            rows.into_iter()
                .find(|(_, e)| e.session_id == *id && spawned_ok(e))
                .map(|(k, _)| k)
                .ok_or_else(|| ErrorShape::invalid_request(format!("No session found: {id}")))?
        } else {
            let label = p.label.as_deref().unwrap_or_default().trim();
            rows.into_iter()
                .find(|(_, e)| e.label.as_deref() == Some(label) && spawned_ok(e))
                .map(|(k, _)| k)
                .ok_or_else(|| {
                    ErrorShape::invalid_request(format!("No session found with label: {label}"))
                })?
        };
        Ok(Reply::Json(json!({"ok": true, "key": found})))
    })
}

fn sessions_get<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SessionsGetParams>(names::SESSIONS_GET, params)?;
        let Some(raw) = p.key.as_deref().or(p.session_key.as_deref()) else {
            return Err(invalid(
                names::SESSIONS_GET,
                "key",
                "key or sessionKey is required",
            ));
        };
        let (key, _, store) = locate(&ctx.state, raw);
        let Some(entry) = store.get(&key) else {
            return Err(ErrorShape::invalid_request(format!(
                "No session found: {key}"
            )));
        };
        let limit = p.limit.map_or(GET_DEFAULT_LIMIT, |l| l as usize);
        let path = store.transcript_path(&entry);
        let messages = tokio::task::spawn_blocking(move || Transcript::load_messages(&path))
            .await
            .map_err(|e| ErrorShape::unavailable(e.to_string()))?;
        let messages = match messages {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error("read the transcript")(e)),
        };
        let start = messages.len().saturating_sub(limit);
        let out: Vec<Value> = messages[start..].iter().map(to_json).collect();
        Ok(Reply::Json(
            json!({"key": key, "sessionId": entry.session_id, "messages": out}),
        ))
    })
}

/// Checks a label: trimmed, non-empty, at most the reference's length, and not used by
/// another session of the same agent. Returns the trimmed label.
fn check_label(
    method: &str,
    store: &SessionStore,
    key: &str,
    label: &str,
) -> Result<String, ErrorShape> {
    let label = label.trim();
    if label.is_empty() {
        return Err(invalid(method, "label", "must not be empty"));
    }
    if label.chars().count() > SESSION_LABEL_MAX_LENGTH as usize {
        return Err(invalid(
            method,
            "label",
            format!("must NOT have more than {SESSION_LABEL_MAX_LENGTH} characters"),
        ));
    }
    if store
        .list()
        .iter()
        .any(|(k, e)| k != key && e.label.as_deref() == Some(label))
    {
        return Err(ErrorShape::invalid_request(format!(
            "label already in use: {label}"
        )));
    }
    Ok(label.to_string())
}

/// A level field's new value: lower-cased, one of `allowed`, or an error naming the path.
fn level(
    path: &str,
    value: &Option<Option<String>>,
    allowed: &[&str],
) -> Result<Option<Option<String>>, ErrorShape> {
    match value {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(v)) => {
            let v = v.trim().to_ascii_lowercase();
            if allowed.contains(&v.as_str()) {
                Ok(Some(Some(v)))
            } else {
                Err(invalid(
                    names::SESSIONS_PATCH,
                    path,
                    format!("must be one of {}", allowed.join(", ")),
                ))
            }
        }
    }
}

fn apply<T: Clone>(field: &mut Option<T>, change: &Option<Option<T>>) {
    if let Some(v) = change {
        *field = v.clone();
    }
}

fn sessions_patch<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SessionsPatchParams>(names::SESSIONS_PATCH, params)?;
        refuse_webchat(ctx, "patch")?;
        // The reference's write-scope set: everything else (exec, elevated, send policy, …)
        // changes what the agent may do, and needs admin.
        const WRITE_FIELDS: &[&str] = &[
            "key",
            "agentId",
            "expectedSessionId",
            "archived",
            "label",
            "model",
            "thinkingLevel",
            "fastMode",
        ];
        if params
            .and_then(Value::as_object)
            .is_some_and(|o| o.keys().any(|k| !WRITE_FIELDS.contains(&k.as_str())))
        {
            ctx.require_admin()?;
        }
        let state = &ctx.state;
        let (key, agent, store) = locate_for(state, &p.key, p.agent_id.as_deref())?;
        check_expected(&store, &key, p.expected_session_id.as_deref(), "the patch")?;
        let existing = store.get(&key);
        let main_key = format!("agent:{agent}:{}", state.settings().main_key);
        if p.archived == Some(Some(true)) && key == main_key {
            return Err(ErrorShape::invalid_request(
                "Cannot archive an agent's main session.",
            ));
        }

        let label = match &p.label {
            Some(Some(l)) => Some(Some(check_label(names::SESSIONS_PATCH, &store, &key, l)?)),
            Some(None) => Some(None),
            None => None,
        };
        let thinking = level("thinkingLevel", &p.thinking_level, levels::THINKING)?;
        let verbose = level("verboseLevel", &p.verbose_level, levels::VERBOSE)?;
        let trace = level("traceLevel", &p.trace_level, levels::TRACE)?;
        let reasoning = level("reasoningLevel", &p.reasoning_level, levels::REASONING)?;
        let elevated = level("elevatedLevel", &p.elevated_level, levels::ELEVATED)?;
        let exec_host = level("execHost", &p.exec_host, levels::EXEC_HOST)?;
        let exec_security = level("execSecurity", &p.exec_security, levels::EXEC_SECURITY)?;
        let exec_ask = level("execAsk", &p.exec_ask, levels::EXEC_ASK)?;
        let exec_node = p
            .exec_node
            .as_ref()
            .map(|v| v.as_ref().map(|s| s.trim().to_string()));
        // `on` is older clients' word for `tokens`.
        let response_usage = p.response_usage.map(|v| {
            v.map(|u| match u.as_str() {
                "on" => "tokens".to_string(),
                s => s.to_string(),
            })
        });
        let model = match &p.model {
            Some(Some(raw)) => {
                let r = model_catalog(state, &agent)
                    .resolve(raw)
                    .map_err(|e| ErrorShape::invalid_request(e.to_string()))?;
                Some(Some(r))
            }
            Some(None) => Some(None),
            None => None,
        };
        // Who spawned a session is part of its identity: set once, never moved.
        if let (Some(Some(new)), Some(old)) = (
            &p.spawned_by,
            existing.as_ref().and_then(|e| e.spawned_by.as_ref()),
        ) && new != old
        {
            return Err(ErrorShape::invalid_request(
                "spawnedBy cannot be changed once set",
            ));
        }

        let entry = store
            .upsert(&key, |e| {
                apply(&mut e.label, &label);
                apply(&mut e.thinking_level, &thinking);
                apply(&mut e.fast_mode, &p.fast_mode);
                apply(&mut e.verbose_level, &verbose);
                apply(&mut e.trace_level, &trace);
                apply(&mut e.reasoning_level, &reasoning);
                apply(&mut e.response_usage, &response_usage);
                apply(&mut e.elevated_level, &elevated);
                apply(&mut e.exec_host, &exec_host);
                apply(&mut e.exec_security, &exec_security);
                apply(&mut e.exec_ask, &exec_ask);
                apply(&mut e.exec_node, &exec_node);
                apply(&mut e.spawned_by, &p.spawned_by);
                apply(&mut e.spawn_depth, &p.spawn_depth);
                apply(
                    &mut e.send_policy,
                    &p.send_policy.map(|v| v.map(|s| s.as_str().to_string())),
                );
                apply(
                    &mut e.group_activation,
                    &p.group_activation
                        .map(|v| v.map(|g| g.as_str().to_string())),
                );
                match &model {
                    Some(Some(r)) => {
                        e.provider_override = Some(r.provider.clone());
                        e.model_override = Some(r.model.clone());
                        // A profile pinned for the old provider means nothing to the new one.
                        e.extra.remove("authProfileOverride");
                    }
                    Some(None) => {
                        e.provider_override = None;
                        e.model_override = None;
                        e.extra.remove("authProfileOverride");
                    }
                    None => {}
                }
                match p.archived {
                    Some(Some(true)) if !e.is_archived() => {
                        e.extra.insert("archivedAt".into(), json!(now_ms()));
                    }
                    Some(Some(false) | None) => {
                        e.extra.remove("archivedAt");
                    }
                    _ => {}
                }
                e.updated_at = now_ms();
            })
            .map_err(io_error("update the session"))?;
        session_changed(state, &key, "patch");
        let resolved = resolved_model(state, &agent, &entry);
        Ok(Reply::Json(to_json(&SessionsPatchResult {
            ok: true,
            path: store.index_path().display().to_string(),
            key,
            entry: to_json(&entry),
            resolved,
        })))
    })
}

fn sessions_create<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SessionsCreateParams>(names::SESSIONS_CREATE, params)?;
        let state = &ctx.state;
        let agent = resolve_agent(state, p.agent_id.as_deref())?;
        let raw = p
            .key
            .clone()
            .unwrap_or_else(|| format!("agent:{agent}:dashboard:{}", uuid::Uuid::new_v4()));
        let (_, default) = agents(state);
        let key = canonical_session_key(&raw, &default, &state.settings().main_key);
        let agent = agent_of_key(state, &key);
        let store = SessionStore::open(&state.paths.state_dir, &agent);
        if store.get(&key).is_some() {
            return Err(ErrorShape::invalid_request(format!(
                "session already exists: {key}"
            )));
        }
        let label = match &p.label {
            Some(l) => Some(check_label(names::SESSIONS_CREATE, &store, &key, l)?),
            None => None,
        };
        let model = match &p.model {
            Some(raw) => Some(
                model_catalog(state, &agent)
                    .resolve(raw)
                    .map_err(|e| ErrorShape::invalid_request(e.to_string()))?,
            ),
            None => None,
        };
        let parent = p.parent_session_key.as_deref().map(|k| {
            let (_, default) = agents(state);
            canonical_session_key(k, &default, &state.settings().main_key)
        });
        store
            .get_or_create(&key)
            .map_err(io_error("create the session"))?;
        let entry = store
            .upsert(&key, |e| {
                if label.is_some() {
                    e.label = label.clone();
                }
                if let Some(r) = &model {
                    e.provider_override = Some(r.provider.clone());
                    e.model_override = Some(r.model.clone());
                }
                if parent.is_some() {
                    e.spawned_by = parent.clone();
                }
                e.extra
                    .insert("createdVia".into(), json!("sessions.create"));
                e.extra.insert("createdAt".into(), json!(now_ms()));
            })
            .map_err(io_error("create the session"))?;
        session_changed(state, &key, "create");
        let mut out = json!({
            "ok": true, "key": key, "sessionId": entry.session_id,
            "entry": to_json(&entry), "runStarted": false,
        });
        let message = p
            .message
            .as_deref()
            .or(p.task.as_deref())
            .map(str::trim)
            .filter(|m| !m.is_empty());
        if let Some(message) = message {
            // Starting a run is a write, like `chat.send`.
            if !crate::registry::holds(&ctx.scopes, scopes::WRITE) {
                return Err(ErrorShape::missing_scope(scopes::WRITE));
            }
            let spec = RunSpec {
                run_id: uuid::Uuid::new_v4().to_string(),
                agent_id: agent,
                session_key: key,
                message: message.to_string(),
                extra_system_prompt: None,
                timeout: run_timeout_ms(600_000),
                stream_tx: None,
                ephemeral: false,
                persisted: None,
                resume: false,
                origin: None,
            };
            let run = match Runs::submit(state, spec)? {
                Submitted::New(r) | Submitted::Existing(r) => r,
            };
            out["runStarted"] = json!(true);
            out["runId"] = json!(run.run_id);
            out["status"] = json!("started");
        }
        Ok(Reply::Json(out))
    })
}

fn sessions_reset<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SessionsResetParams>(agent_names::SESSIONS_RESET, params)?;
        let state = &ctx.state;
        let (key, _, store) = locate(state, &p.key);
        let entry = store.reset(&key).map_err(io_error("reset the session"))?;
        let reason = if p.reason.as_deref() == Some("new") {
            "new"
        } else {
            "reset"
        };
        session_changed(state, &key, reason);
        Ok(Reply::Json(json!({"ok": true, "key": key, "entry": entry})))
    })
}

fn sessions_delete<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SessionsDeleteParams>(agent_names::SESSIONS_DELETE, params)?;
        refuse_webchat(ctx, "delete")?;
        let state = &ctx.state;
        let main_key = state.settings().main_key.clone();
        let (key, agent, store) = locate_for(state, &p.key, p.agent_id.as_deref())?;
        let archived_now = store.get(&key).is_some_and(|e| e.is_archived());
        if p.archived_only != Some(true) {
            // The reference's rule: write scope deletes only with `archivedOnly` (and only an
            // archived session, checked below); anything else is an admin's decision.
            ctx.require_admin()?;
        }
        if key == format!("agent:{agent}:{main_key}") {
            return Err(ErrorShape::invalid_request(format!(
                "Cannot delete the main session ({key})."
            )));
        }
        if p.archived_only == Some(true) && !archived_now {
            return Err(ErrorShape::invalid_request(format!(
                "Session {key} is not archived. Archive it first, then delete it."
            )));
        }
        check_expected(&store, &key, p.expected_session_id.as_deref(), "deletion")?;
        let (deleted, archived) = store
            .delete(&key, p.delete_transcript.unwrap_or(true))
            .map_err(io_error("delete the session"))?;
        if deleted {
            session_changed(state, &key, "delete");
        }
        Ok(Reply::Json(
            json!({"ok": true, "key": key, "deleted": deleted, "archived": archived}),
        ))
    })
}

fn sessions_compact<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SessionsCompactParams>(names::SESSIONS_COMPACT, params)?;
        let state = &ctx.state;
        let (key, agent, store) = locate_for(state, &p.key, p.agent_id.as_deref())?;
        let not_compacted = |key: String, kept: Option<u64>, reason: Option<&str>| {
            Reply::Json(to_json(&SessionsCompactResult {
                ok: true,
                key,
                compacted: false,
                archived: None,
                kept,
                reason: reason.map(str::to_string),
                result: None,
            }))
        };
        let Some(entry) = store.get(&key).filter(|e| !e.session_id.is_empty()) else {
            return Ok(not_compacted(key, None, Some("no sessionId")));
        };
        let Some(max_lines) = p.max_lines else {
            // No `maxLines`: summarise with the model, as `/compact` does (the reference
            // 2026.9). A session that is busy is refused rather than interrupted.
            if !state.runs.session_runs(&key).is_empty() {
                return Err(ErrorShape::invalid_request(format!(
                    "Session {key} has an active run; retry after it finishes."
                )));
            }
            return summarize(state, &agent, key).await;
        };
        let max_lines = max_lines as usize;
        let path = store.transcript_path(&entry);
        if !path.exists() {
            return Ok(not_compacted(key, None, Some("no transcript")));
        }
        let trim_path = path.clone();
        let trimmed =
            tokio::task::spawn_blocking(move || Transcript::trim_lines(&trim_path, max_lines))
                .await
                .map_err(|e| ErrorShape::unavailable(e.to_string()))?
                .map_err(io_error("compact the transcript"))?;
        let Some((archived, kept)) = trimmed else {
            let kept = std::fs::read_to_string(&path)
                .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count() as u64)
                .unwrap_or(0);
            return Ok(not_compacted(key, Some(kept), None));
        };
        store
            .update(&key, |e| {
                e.input_tokens = None;
                e.output_tokens = None;
                e.total_tokens = None;
                e.updated_at = now_ms();
            })
            .map_err(io_error("update the session"))?;
        session_changed(state, &key, "compact");
        Ok(Reply::Json(to_json(&SessionsCompactResult {
            ok: true,
            key,
            compacted: true,
            archived: Some(archived.display().to_string()),
            kept: Some(kept as u64),
            reason: None,
            result: None,
        })))
    })
}

/// `sessions.compact` without `maxLines`: the summarising compaction, in the reference's
/// result shape (`ok:false` with the reason when there was nothing to do).
async fn summarize(
    state: &std::sync::Arc<crate::state::AppState>,
    agent: &str,
    key: String,
) -> Result<Reply, ErrorShape> {
    use crate::runs::compact::{NotSummarized, summarize_session};
    let result = |ok: bool, compacted: bool, reason: Option<String>, result: Option<Value>| {
        Reply::Json(to_json(&SessionsCompactResult {
            ok,
            key: key.clone(),
            compacted,
            archived: None,
            kept: None,
            reason,
            result,
        }))
    };
    Ok(match summarize_session(state, agent, &key, None).await {
        Ok(done) => result(
            true,
            true,
            None,
            Some(json!({
                "sessionId": done.session_id,
                "tokensBefore": done.tokens_before,
                "tokensAfter": done.tokens_after,
                "firstKeptEntryId": done.first_kept_entry_id,
            })),
        ),
        Err(NotSummarized::NoSession) => result(true, false, Some("no sessionId".into()), None),
        Err(NotSummarized::Nothing { already, .. }) => result(
            false,
            false,
            Some(if already {
                "Already compacted".into()
            } else {
                "Nothing to compact (session too small)".into()
            }),
            None,
        ),
        Err(NotSummarized::Failed { error, .. }) => result(false, false, Some(error), None),
    })
}

/// Appends an assistant note to a session's transcript without a model run and shows it to
/// chat clients as a `chat` final.
fn chat_inject<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ChatInjectParams>(names::CHAT_INJECT, params)?;
        let state = &ctx.state;
        let (key, agent, store) = locate(state, &p.session_key);
        let Some(entry) = store.get(&key).filter(|e| !e.session_id.is_empty()) else {
            return Err(ErrorShape::invalid_request(format!(
                "session not found: {key}"
            )));
        };
        let text = match p.label.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            Some(label) => format!("[{label}]\n\n{}", p.message),
            None => p.message.clone(),
        };
        let mut message = AgentMessage::assistant_text(&text);
        if let AgentMessage::Assistant {
            provider,
            model,
            stop_reason,
            ..
        } = &mut message
        {
            *provider = Some("openclaw".into());
            *model = Some("gateway-injected".into());
            *stop_reason = Some("injected".into());
        }
        let path = store.transcript_path(&entry);
        let workspace = crate::agents::workspace_dir(state, &agent);
        let session_id = entry.session_id.clone();
        let to_write = message.clone();
        let message_id = tokio::task::spawn_blocking(move || {
            let mut t = Transcript::open_or_create(&path, &session_id, &workspace)?;
            t.append_message(&to_write)
        })
        .await
        .map_err(|e| ErrorShape::unavailable(e.to_string()))?
        .map_err(io_error("write the transcript"))?;
        store
            .update(&key, |e| e.updated_at = now_ms())
            .map_err(io_error("update the session"))?;
        let mut event = ChatEvent::new(&format!("inject-{message_id}"), &key, 0, ChatState::Final);
        event.message = Some(ChatMessage::assistant(&text, message.timestamp()));
        crate::runs::emit_chat(state, &event);
        session_changed(state, &key, "message");
        Ok(Reply::Json(to_json(&ChatInjectResult {
            ok: true,
            message_id,
        })))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: ClientId, mode: ClientMode) -> ClientInfo {
        ClientInfo {
            id,
            display_name: None,
            version: "1".into(),
            build_id: None,
            platform: "test".into(),
            device_family: None,
            model_identifier: None,
            time_zone: None,
            mode,
            instance_id: None,
        }
    }

    #[test]
    fn webchat_is_decided_by_mode_or_id_and_never_for_the_control_ui() {
        assert!(is_webchat_client(&client(
            ClientId::WebchatUi,
            ClientMode::Ui
        )));
        assert!(is_webchat_client(&client(
            ClientId::Webchat,
            ClientMode::Ui
        )));
        assert!(is_webchat_client(&client(
            ClientId::Cli,
            ClientMode::Webchat
        )));
        assert!(!is_webchat_client(&client(
            ClientId::ControlUi,
            ClientMode::Webchat
        )));
        assert!(!is_webchat_client(&client(ClientId::Cli, ClientMode::Cli)));
    }

    #[test]
    fn preview_text_is_cut_on_characters() {
        let m = AgentMessage::user_text("héllo   wörld and more");
        assert_eq!(preview_text(&m, 7), "héllo …");
        assert_eq!(preview_text(&m, 100), "héllo wörld and more");
    }
}
