//! The session tools (agent.md §7.1): `sessions_list`, `sessions_history` and
//! `sessions_send`. What a run may see follows `tools.sessions.visibility` (`self` | `tree`,
//! the default: its own session and the ones it spawned | `agent` | `all`); reaching another
//! agent's sessions also needs `tools.agentToAgent.enabled` and `allow` naming both agents.
//!
//! `sessions_send` queues a run in the target session (a plain FIFO run, never steered into a
//! busy one), waits up to `timeoutSeconds` (default 30; 0 = fire-and-forget) for its reply,
//! then — as the reference — lets the two sessions answer each other in the background for at
//! most [`MAX_PING_PONG_TURNS`] turns, either side ending it with `REPLY_SKIP`.
//! (The reference's final "announce" step, which posts to the target's channel, is not here.)

use std::sync::Arc;
use std::time::Duration;

use openclaw_agent::{
    AgentMessage, SessionEntry, SessionStore, ToolCall, ToolFuture, ToolOutput, ToolSpec,
    Transcript, canonical_session_key,
};
use serde_json::{Value, json};

use super::{Family, RunTools};
use crate::runs::{RunSpec, Runs, Submitted, run_timeout_secs};
use crate::state::{AppState, now_ms};

pub(crate) static FAMILY: Family = Family { specs, call };

/// The reference's bound on the agent-to-agent back-and-forth after a `sessions_send`.
pub const MAX_PING_PONG_TURNS: usize = 5;
/// Either side ends the back-and-forth by answering exactly this.
const REPLY_SKIP: &str = "REPLY_SKIP";
/// Replies that are never passed on (the reference's non-deliverable tokens).
const NON_DELIVERABLE: &[&str] = &["REPLY_SKIP", "ANNOUNCE_SKIP", "NO_REPLY", "HEARTBEAT_OK"];
const SEND_DEFAULT_WAIT_S: u64 = 30;
/// A run started by `sessions_send` (and each ping-pong turn) ends within this.
const SEND_RUN_TIMEOUT_S: u64 = 600;
/// How long a ping-pong turn is waited for before the exchange stops.
const PING_PONG_TURN_WAIT: Duration = Duration::from_secs(120);
const LIST_DEFAULT_LIMIT: u64 = 100;
const LIST_MAX_LIMIT: u64 = 200;
const LIST_MAX_MESSAGES: u64 = 20;
const HISTORY_DEFAULT_LIMIT: u64 = 50;
const HISTORY_MAX_LIMIT: u64 = 500;
/// The reference's `SESSIONS_HISTORY_MAX_BYTES`.
const HISTORY_MAX_BYTES: usize = 80 * 1024;
/// One message's text in a history answer.
const HISTORY_MESSAGE_MAX_CHARS: usize = 4000;

fn specs(_rt: &RunTools) -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "sessions_list".into(),
            description: "List visible sessions (key, kind, agent, last update); optionally their last messages.".into(),
            parameters: json!({"type": "object", "properties": {
                "kinds": {"type": "array", "items": {"type": "string", "enum": ["main", "group", "cron", "hook", "other"]}},
                "limit": {"type": "integer", "minimum": 1, "maximum": LIST_MAX_LIMIT},
                "offset": {"type": "integer", "minimum": 0},
                "activeMinutes": {"type": "integer", "minimum": 1},
                "messageLimit": {"type": "integer", "minimum": 0, "maximum": LIST_MAX_MESSAGES},
                "label": {"type": "string"},
                "agentId": {"type": "string"}}}),
        },
        ToolSpec {
            name: "sessions_history".into(),
            description: "Read a visible session's recent messages (tool calls/results only with includeTools).".into(),
            parameters: json!({"type": "object", "properties": {
                "sessionKey": {"type": "string"},
                "sessionId": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": HISTORY_MAX_LIMIT},
                "includeTools": {"type": "boolean"}}}),
        },
        ToolSpec {
            name: "sessions_send".into(),
            description: "Send a message to another session (by sessionKey, label, or agentId for that agent's main session) and wait up to timeoutSeconds for its reply (0 = do not wait).".into(),
            parameters: json!({"type": "object", "properties": {
                "sessionKey": {"type": "string"},
                "label": {"type": "string"},
                "agentId": {"type": "string"},
                "message": {"type": "string"},
                "timeoutSeconds": {"type": "integer", "minimum": 0}},
                "required": ["message"]}),
        },
    ]
}

fn call(rt: &Arc<RunTools>, call: ToolCall) -> Option<ToolFuture> {
    let rt = rt.clone();
    match call.name.as_str() {
        "sessions_list" => Some(Box::pin(async move { list(&rt, &call.args) })),
        "sessions_history" => Some(Box::pin(async move { history(&rt, &call.args) })),
        "sessions_send" => Some(Box::pin(async move { send(&rt, &call).await })),
        _ => None,
    }
}

/// A non-negative integer argument (numbers or numeric strings).
fn uint(args: &Value, name: &str) -> Result<Option<u64>, ToolOutput> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(Some)
            .ok_or_else(|| ToolOutput::error(format!("{name} must be a non-negative integer"))),
    }
}

fn text(args: &Value, name: &str) -> Option<String> {
    args.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn json_output(details: Value) -> ToolOutput {
    ToolOutput {
        content: serde_json::to_string_pretty(&details).unwrap_or_default(),
        is_error: false,
        details,
    }
}

fn refused(status: &str, error: impl Into<String>) -> ToolOutput {
    let details = json!({"status": status, "error": error.into()});
    ToolOutput {
        content: serde_json::to_string_pretty(&details).unwrap_or_default(),
        is_error: true,
        details,
    }
}

/// `tools.sessions.visibility` (default `tree`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visibility {
    Own,
    Tree,
    Agent,
    All,
}

struct Scope {
    visibility: Visibility,
    requester_agent: String,
    /// `None` over `/tools/invoke` without a session: the agent's sessions are the scope.
    requester_key: Option<String>,
    a2a_enabled: bool,
    a2a_allow: Vec<String>,
}

impl Scope {
    fn of(rt: &RunTools) -> Scope {
        let cfg = rt.state.config();
        let tools = cfg.config.tools.as_ref();
        let visibility = match tools
            .and_then(|t| t.sessions.as_ref())
            .and_then(|s| s.visibility.as_deref())
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            Some("self") => Visibility::Own,
            Some("agent") => Visibility::Agent,
            Some("all") => Visibility::All,
            _ => Visibility::Tree,
        };
        let a2a = tools.and_then(|t| t.agent_to_agent.as_ref());
        Scope {
            visibility,
            requester_agent: rt.agent_id.clone(),
            // `/tools/invoke` passes the caller's spelling; compare canonical keys.
            requester_key: rt
                .session_key
                .as_deref()
                .map(|k| canonical_session_key(k, &rt.agent_id, &rt.state.settings().main_key)),
            a2a_enabled: a2a.and_then(|a| a.enabled) == Some(true),
            a2a_allow: a2a
                .and_then(|a| a.allow.clone())
                .unwrap_or_else(|| vec!["*".into()]),
        }
    }

    /// Whether another agent's sessions may be reached (both agents on the allow list).
    fn agent_reachable(&self, agent: &str) -> Result<(), String> {
        if agent == self.requester_agent {
            return Ok(());
        }
        if !self.a2a_enabled {
            return Err("Agent-to-agent messaging is disabled. Set tools.agentToAgent.enabled=true to allow cross-agent access.".into());
        }
        let allowed = |a: &str| self.a2a_allow.iter().any(|p| glob(p.trim(), a));
        if allowed(&self.requester_agent) && allowed(agent) {
            Ok(())
        } else {
            Err("Agent-to-agent access denied by tools.agentToAgent.allow.".into())
        }
    }

    /// Whether `key` (of agent `agent`, entry `entry`) is visible to the requester.
    fn sees(&self, key: &str, agent: &str, entry: Option<&SessionEntry>) -> bool {
        let Some(me) = &self.requester_key else {
            return agent == self.requester_agent
                || (self.visibility == Visibility::All && self.agent_reachable(agent).is_ok());
        };
        let spawned_by_me = entry.and_then(|e| e.spawned_by.as_deref()) == Some(me.as_str());
        match self.visibility {
            Visibility::Own => key == me,
            Visibility::Tree => key == me || spawned_by_me,
            Visibility::Agent => agent == self.requester_agent,
            Visibility::All => agent == self.requester_agent || self.agent_reachable(agent).is_ok(),
        }
    }

    fn warning(&self) -> Option<Value> {
        let mode = match self.visibility {
            Visibility::All => return None,
            Visibility::Own => "self",
            Visibility::Tree => "tree",
            Visibility::Agent => "agent",
        };
        Some(json!({"mode": mode, "restricted": true,
            "warning": format!("Session visibility is restricted (tools.sessions.visibility={mode}); sessions outside it are omitted.")}))
    }
}

/// `*` globs, ASCII case-insensitive (agent ids are lower-case).
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    glob_lower(&p, &n)
}

fn glob_lower(p: &str, n: &str) -> bool {
    match p.split_once('*') {
        None => p == n,
        Some((head, rest)) => {
            let Some(n) = n.strip_prefix(head) else {
                return false;
            };
            (0..=n.len())
                .filter(|j| n.is_char_boundary(*j))
                .any(|j| glob_lower(rest, &n[j..]))
        }
    }
}

fn kind_of(key: &str, main_key: &str) -> &'static str {
    let rest = key.splitn(3, ':').nth(2).unwrap_or(key);
    if rest == main_key {
        "main"
    } else if key.contains(":group:") || key.contains(":channel:") {
        "group"
    } else if key.contains(":cron:") {
        "cron"
    } else if key.contains(":hook:") {
        "hook"
    } else {
        "other"
    }
}

/// The canonical key of a model-supplied key and the agent it belongs to.
fn resolve_key(state: &AppState, raw: &str, default_agent: &str) -> (String, String) {
    let key = canonical_session_key(raw, default_agent, &state.settings().main_key);
    let agent = crate::agents::agent_of_key(state, &key);
    (key, agent)
}

fn all_agents(state: &AppState) -> Vec<String> {
    crate::agents::agents(state).0
}

/// The last `limit` user/assistant messages, text only (for previews in a list).
fn recent_texts(store: &SessionStore, entry: &SessionEntry, limit: usize) -> Vec<Value> {
    let messages = Transcript::load_messages(&store.transcript_path(entry)).unwrap_or_default();
    let mut rows: Vec<Value> = messages
        .iter()
        .filter(|m| matches!(m.role(), "user" | "assistant"))
        .map(|m| json!({"role": m.role(), "text": cut(&m.text(), HISTORY_MESSAGE_MAX_CHARS).0}))
        .filter(|r| r["text"].as_str().is_some_and(|t| !t.is_empty()))
        .collect();
    let skip = rows.len().saturating_sub(limit);
    rows.drain(..skip);
    rows
}

fn cut(s: &str, max: usize) -> (String, bool) {
    match s.char_indices().nth(max) {
        Some((at, _)) => (format!("{}…", &s[..at]), true),
        None => (s.to_string(), false),
    }
}

fn list(rt: &RunTools, args: &Value) -> ToolOutput {
    let state = &rt.state;
    let scope = Scope::of(rt);
    let (limit, offset, active, message_limit) = match (
        uint(args, "limit"),
        uint(args, "offset"),
        uint(args, "activeMinutes"),
        uint(args, "messageLimit"),
    ) {
        (Ok(l), Ok(o), Ok(a), Ok(m)) => (
            l.unwrap_or(LIST_DEFAULT_LIMIT).clamp(1, LIST_MAX_LIMIT),
            o.unwrap_or(0),
            a,
            m.unwrap_or(0).min(LIST_MAX_MESSAGES),
        ),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return e,
    };
    let kinds: Option<Vec<String>> = args.get("kinds").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_ascii_lowercase())
            .collect()
    });
    let label = text(args, "label");
    let only_agent = text(args, "agentId").map(|a| a.to_ascii_lowercase());
    let main_key = state.settings().main_key.clone();
    let now = now_ms();
    let mut rows: Vec<(u64, Value)> = Vec::new();
    for agent in all_agents(state) {
        if only_agent.as_deref().is_some_and(|a| a != agent) {
            continue;
        }
        let store = SessionStore::open(&state.paths.state_dir, &agent);
        for (key, entry) in store.list() {
            if !scope.sees(&key, &agent, Some(&entry)) || entry.is_archived() {
                continue;
            }
            let kind = kind_of(&key, &main_key);
            if kinds
                .as_ref()
                .is_some_and(|k| !k.is_empty() && !k.iter().any(|k| k == kind))
                || active.is_some_and(|m| {
                    now.saturating_sub(entry.updated_at) > m.saturating_mul(60_000)
                })
                || label
                    .as_deref()
                    .is_some_and(|l| entry.label.as_deref() != Some(l))
            {
                continue;
            }
            let mut row = json!({
                "key": key, "kind": kind, "agentId": agent,
                "sessionId": entry.session_id, "updatedAt": entry.updated_at,
            });
            for (name, v) in [
                ("label", &entry.label),
                ("displayName", &entry.display_name),
                ("channel", &entry.channel),
                ("lastChannel", &entry.last_channel),
                ("lastTo", &entry.last_to),
                ("model", &entry.model),
            ] {
                if let Some(v) = v {
                    row[name] = json!(v);
                }
            }
            if let Some(t) = entry.total_tokens {
                row["totalTokens"] = json!(t);
            }
            if message_limit > 0 && !entry.session_id.is_empty() {
                row["messages"] = json!(recent_texts(&store, &entry, message_limit as usize));
            }
            rows.push((entry.updated_at, row));
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let total = rows.len();
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(total);
    let page: Vec<Value> = rows
        .into_iter()
        .skip(start)
        .take(limit as usize)
        .map(|(_, r)| r)
        .collect();
    let has_more = start + page.len() < total;
    let mut details = json!({
        "count": page.len(),
        "sessions": page,
        "hasMore": has_more,
        "limitApplied": limit,
    });
    if has_more {
        details["nextOffset"] = json!(start + limit as usize);
    }
    if let Some(w) = scope.warning() {
        details["visibility"] = w;
    }
    json_output(details)
}

/// A transcript message as a history row: text content capped; tool calls and results kept
/// only when asked for.
fn history_row(m: &AgentMessage, include_tools: bool) -> Option<(Value, bool)> {
    let mut v = serde_json::to_value(m).ok()?;
    let role = m.role();
    if role == "toolResult" && !include_tools {
        return None;
    }
    let mut truncated = false;
    if let Some(parts) = v.get_mut("content").and_then(Value::as_array_mut) {
        if !include_tools {
            parts.retain(|p| p["type"] != "toolCall");
        }
        for p in parts.iter_mut() {
            if let Some(t) = p.get("text").and_then(Value::as_str) {
                let (t, cut_here) = cut(t, HISTORY_MESSAGE_MAX_CHARS);
                truncated |= cut_here;
                p["text"] = json!(t);
            }
            // Images are not re-sent to the model here.
            if p["type"] == "image" {
                *p = json!({"type": "text", "text": "[image omitted]"});
            }
        }
        if parts.is_empty() {
            return None;
        }
    }
    if let Some(obj) = v.as_object_mut() {
        for noisy in ["usage", "api", "details"] {
            obj.remove(noisy);
        }
    }
    Some((v, truncated))
}

fn history(rt: &RunTools, args: &Value) -> ToolOutput {
    let state = &rt.state;
    let scope = Scope::of(rt);
    let limit = match uint(args, "limit") {
        Ok(l) => l
            .unwrap_or(HISTORY_DEFAULT_LIMIT)
            .clamp(1, HISTORY_MAX_LIMIT) as usize,
        Err(e) => return e,
    };
    let include_tools = args.get("includeTools").and_then(Value::as_bool) == Some(true);
    let (key, agent, entry) = if let Some(raw) = text(args, "sessionKey") {
        let (key, agent) = resolve_key(state, &raw, &rt.agent_id);
        let entry = SessionStore::open(&state.paths.state_dir, &agent).get(&key);
        (key, agent, entry)
    } else if let Some(id) = text(args, "sessionId") {
        let found = all_agents(state).into_iter().find_map(|agent| {
            SessionStore::open(&state.paths.state_dir, &agent)
                .list()
                .into_iter()
                .find(|(_, e)| e.session_id == id)
                .map(|(k, e)| (k, agent.clone(), Some(e)))
        });
        match found {
            Some(f) => f,
            None => return ToolOutput::error(format!("No session found with sessionId {id}")),
        }
    } else {
        return ToolOutput::error("sessions_history needs `sessionKey` or `sessionId`");
    };
    if let Err(e) = scope.agent_reachable(&agent) {
        return refused("forbidden", e);
    }
    if !scope.sees(&key, &agent, entry.as_ref()) {
        return refused(
            "forbidden",
            format!("Session {key} is not visible from this session (tools.sessions.visibility)."),
        );
    }
    let Some(entry) = entry.filter(|e| !e.session_id.is_empty()) else {
        return ToolOutput::error(format!("No session found with key {key}"));
    };
    let store = SessionStore::open(&state.paths.state_dir, &agent);
    let messages = match Transcript::load_messages(&store.transcript_path(&entry)) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return ToolOutput::error(format!("cannot read the history of {key}: {e}")),
    };
    let mut content_truncated = false;
    let mut rows: Vec<Value> = messages
        .iter()
        .filter_map(|m| history_row(m, include_tools))
        .map(|(v, t)| {
            content_truncated |= t;
            v
        })
        .collect();
    let selected = rows.len();
    let skip = selected.saturating_sub(limit);
    rows.drain(..skip);
    // Newest messages first into the byte budget, then back in order.
    let mut bytes = 0;
    let mut kept: Vec<Value> = Vec::new();
    for row in rows.into_iter().rev() {
        let size = row.to_string().len();
        if bytes + size > HISTORY_MAX_BYTES {
            break;
        }
        bytes += size;
        kept.push(row);
    }
    kept.reverse();
    let dropped = kept.len() < selected;
    json_output(json!({
        "sessionKey": key,
        "messages": kept,
        "truncated": dropped || content_truncated,
        "droppedMessages": dropped,
        "contentTruncated": content_truncated,
        "contentRedacted": false,
        "bytes": bytes,
    }))
}

fn non_deliverable(reply: &str) -> bool {
    let r = reply.trim();
    r.is_empty() || NON_DELIVERABLE.contains(&r)
}

/// The target of a `sessions_send`: canonical key and agent.
fn send_target(rt: &RunTools, args: &Value, scope: &Scope) -> Result<(String, String), ToolOutput> {
    let state = &rt.state;
    let agent_arg = text(args, "agentId").map(|a| a.to_ascii_lowercase());
    if let Some(a) = &agent_arg
        && !all_agents(state).contains(a)
    {
        return Err(refused(
            "error",
            format!("Agent \"{a}\" not found. Run openclaw agents list to see configured agents."),
        ));
    }
    if let Some(raw) = text(args, "sessionKey") {
        return Ok(resolve_key(
            state,
            &raw,
            agent_arg.as_deref().unwrap_or(&rt.agent_id),
        ));
    }
    if let Some(label) = text(args, "label") {
        let agents = match &agent_arg {
            Some(a) => vec![a.clone()],
            None => vec![rt.agent_id.clone()],
        };
        for agent in agents {
            if let Err(e) = scope.agent_reachable(&agent) {
                return Err(refused("forbidden", e));
            }
            let store = SessionStore::open(&state.paths.state_dir, &agent);
            if let Some((key, _)) = store
                .list()
                .into_iter()
                .find(|(_, e)| e.label.as_deref() == Some(label.as_str()))
            {
                return Ok((key, agent));
            }
        }
        return Err(refused(
            "error",
            format!("No session found with label: {label}"),
        ));
    }
    if let Some(agent) = agent_arg {
        let key = crate::agents::session_key(state, &agent, None);
        return Ok((key, agent));
    }
    Err(refused(
        "error",
        "Either sessionKey, label or agentId is required",
    ))
}

/// The context a target run gets about who is asking.
fn a2a_context(requester: Option<&str>, target: &str) -> String {
    let mut lines = vec!["Agent-to-agent message context:".to_string()];
    if let Some(r) = requester {
        lines.push(format!("Agent 1 (requester) session: {r}."));
    }
    lines.push(format!("Agent 2 (target) session: {target}."));
    lines.join("\n")
}

/// Queues a run in `key` and returns it (new or, for a replayed id, the existing one).
fn start_run(
    state: &Arc<AppState>,
    agent: &str,
    key: &str,
    message: String,
    extra: String,
) -> Result<Arc<crate::runs::Run>, String> {
    let spec = RunSpec {
        run_id: uuid::Uuid::new_v4().to_string(),
        agent_id: agent.to_string(),
        session_key: key.to_string(),
        message,
        extra_system_prompt: Some(extra),
        timeout: run_timeout_secs(SEND_RUN_TIMEOUT_S),
        stream_tx: None,
        ephemeral: false,
        persisted: None,
        resume: false,
        origin: None,
    };
    match Runs::submit(state, spec) {
        Ok(Submitted::New(r) | Submitted::Existing(r)) => Ok(r),
        Err(e) => Err(e.message),
    }
}

async fn send(rt: &RunTools, call: &ToolCall) -> ToolOutput {
    let args = &call.args;
    let Some(message) = args
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .map(str::to_string)
    else {
        return ToolOutput::error("sessions_send needs a non-empty `message`");
    };
    let wait = match uint(args, "timeoutSeconds") {
        Ok(w) => w.unwrap_or(SEND_DEFAULT_WAIT_S).min(SEND_RUN_TIMEOUT_S),
        Err(e) => return e,
    };
    let scope = Scope::of(rt);
    let (key, agent) = match send_target(rt, args, &scope) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if let Err(e) = scope.agent_reachable(&agent) {
        return refused("forbidden", e);
    }
    if scope.visibility == Visibility::Own {
        return refused(
            "forbidden",
            "tools.sessions.visibility=self: other sessions cannot be reached.",
        );
    }
    if scope.requester_key.as_deref() == Some(key.as_str()) {
        return refused(
            "error",
            "sessions_send cannot target the session it is called from.",
        );
    }
    let requester = scope.requester_key.clone();
    let run = match start_run(
        &rt.state,
        &agent,
        &key,
        message.clone(),
        a2a_context(requester.as_deref(), &key),
    ) {
        Ok(r) => r,
        Err(e) => return refused("error", e),
    };
    let run_id = run.run_id.clone();
    let start_ping_pong = |reply: String| {
        if let Some(requester) = requester.clone() {
            let (state, agent_a, agent_b, key_b) = (
                rt.state.clone(),
                rt.agent_id.clone(),
                agent.clone(),
                key.clone(),
            );
            tokio::spawn(async move {
                ping_pong(&state, (&agent_a, &requester), (&agent_b, &key_b), reply).await;
            });
        }
    };
    if wait == 0 {
        // Fire-and-forget: the exchange still happens once the target has answered.
        let (run2, requester2) = (run.clone(), requester.clone());
        let (state, agent_a, agent_b, key_b) = (
            rt.state.clone(),
            rt.agent_id.clone(),
            agent.clone(),
            key.clone(),
        );
        tokio::spawn(async move {
            if let Some(r) = run2.done().await
                && r.ok
                && let Some(requester) = requester2
                && !non_deliverable(&r.final_text)
            {
                ping_pong(
                    &state,
                    (&agent_a, &requester),
                    (&agent_b, &key_b),
                    r.final_text,
                )
                .await;
            }
        });
        return json_output(json!({"runId": run_id, "status": "accepted", "sessionKey": key}));
    }
    let done = tokio::select! {
        r = run.wait(Duration::from_secs(wait)) => r,
        _ = call.cancel.cancelled() => return ToolOutput::error("sessions_send was aborted"),
    };
    match done {
        None => refused(
            "timeout",
            format!("No reply from {key} within {wait}s; the run ({run_id}) continues."),
        ),
        Some(r) if !r.ok => refused(
            "error",
            r.error
                .map(|e| e.message)
                .unwrap_or_else(|| "the target run failed".into()),
        ),
        Some(r) => {
            let reply = r.final_text.clone();
            if !non_deliverable(&reply) {
                start_ping_pong(reply.clone());
            }
            json_output(json!({"runId": run_id, "status": "ok", "reply": reply, "sessionKey": key}))
        }
    }
}

/// The bounded back-and-forth after a reply: the requester answers the target's reply, the
/// target answers that, … at most [`MAX_PING_PONG_TURNS`] turns, ending early when a side
/// answers `REPLY_SKIP` (or nothing deliverable) or a turn fails or times out.
async fn ping_pong(
    state: &Arc<AppState>,
    requester: (&str, &str),
    target: (&str, &str),
    first_reply: String,
) {
    let mut latest = first_reply;
    for turn in 1..=MAX_PING_PONG_TURNS {
        let (role, (agent, key)) = if turn % 2 == 1 {
            ("Agent 1 (requester)", requester)
        } else {
            ("Agent 2 (target)", target)
        };
        let context = format!(
            "Agent-to-agent reply step:\nCurrent agent: {role}.\nTurn {turn} of {MAX_PING_PONG_TURNS}.\nAgent 1 (requester) session: {}.\nAgent 2 (target) session: {}.\nTo stop the exchange, reply exactly \"{REPLY_SKIP}\".",
            requester.1, target.1
        );
        let run = match start_run(state, agent, key, latest.clone(), context) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(target: "agent", "sessions_send ping-pong stopped: {e}");
                return;
            }
        };
        match run.wait(PING_PONG_TURN_WAIT).await {
            Some(r) if r.ok && !non_deliverable(&r.final_text) => latest = r.final_text,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_globs() {
        assert_eq!(kind_of("agent:main:main", "main"), "main");
        assert_eq!(kind_of("agent:main:telegram:group:1", "main"), "group");
        assert_eq!(kind_of("agent:ops:side", "main"), "other");
        assert!(glob("*", "ops") && glob("op*", "ops") && !glob("x*", "ops"));
        assert!(non_deliverable(" REPLY_SKIP ") && !non_deliverable("hi"));
    }
}
