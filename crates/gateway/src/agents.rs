//! Agent resolution, shared by the WS methods, channels, heartbeats and the HTTP endpoints:
//! which agents exist, the default one, an agent's workspace, and the session key a request
//! or a message lands on. Read from the current config on every call (a reload applies at once).

use std::path::PathBuf;

use openclaw_agent::canonical_session_key;
use openclaw_protocol::ErrorShape;
use serde_json::Value;

use crate::state::AppState;

fn config_value(state: &AppState) -> Value {
    serde_json::to_value(&state.config().config).unwrap_or_default()
}

/// Known agent ids and the default one (`default:true`, else first, else `main`).
pub fn agents(state: &AppState) -> (Vec<String>, String) {
    let cfg = config_value(state);
    let list: Vec<(String, bool)> = cfg["agents"]["list"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    let id = e["id"].as_str()?.to_ascii_lowercase();
                    Some((id, e["default"].as_bool().unwrap_or(false)))
                })
                .collect()
        })
        .unwrap_or_default();
    let default = list
        .iter()
        .find(|(_, d)| *d)
        .or(list.first())
        .map(|(id, _)| id.clone())
        .unwrap_or_else(|| "main".into());
    let mut ids: Vec<String> = list.into_iter().map(|(id, _)| id).collect();
    if ids.is_empty() {
        ids.push("main".into());
    }
    (ids, default)
}

/// The agent's workspace: `agents.list[].workspace` → `agents.defaults.workspace` →
/// `<state>/workspace` (`<state>/workspace-<agent>` for non-default agents).
pub fn workspace_dir(state: &AppState, agent_id: &str) -> PathBuf {
    let cfg = config_value(state);
    let own = cfg["agents"]["list"].as_array().and_then(|a| {
        a.iter()
            .find(|e| e["id"].as_str().map(str::to_ascii_lowercase).as_deref() == Some(agent_id))
            .and_then(|e| e["workspace"].as_str().map(str::to_string))
    });
    if let Some(w) = own.or_else(|| state.settings().workspace.clone()) {
        return openclaw_config::paths::expand_home(&w);
    }
    let (_, default) = agents(state);
    if agent_id == default {
        state.paths.workspace_dir()
    } else {
        state.paths.state_dir.join(format!("workspace-{agent_id}"))
    }
}

/// A requested agent id (case-insensitive) if known, else the default agent when none is asked.
pub fn resolve_agent(state: &AppState, requested: Option<&str>) -> Result<String, ErrorShape> {
    let (ids, default) = agents(state);
    match requested {
        None => Ok(default),
        Some(a) => {
            let a = a.to_ascii_lowercase();
            if ids.contains(&a) {
                Ok(a)
            } else {
                Err(ErrorShape::invalid_request(format!(
                    "unknown agent id: {a}"
                )))
            }
        }
    }
}

/// The session a request lands on: its own key (canonicalised for `agent`), else the agent's
/// main session.
pub fn session_key(state: &AppState, agent: &str, requested: Option<&str>) -> String {
    let main_key = state.settings().main_key.clone();
    match requested {
        Some(k) if !k.trim().is_empty() => canonical_session_key(k, agent, &main_key),
        _ => format!("agent:{agent}:{main_key}"),
    }
}

/// A `/new` or `/reset` command (alone or followed by text): `(reply when alone, rest)`.
pub fn reset_command(text: &str) -> Option<(&'static str, String)> {
    let trimmed = text.trim();
    [
        ("/new", "✅ New session started."),
        ("/reset", "✅ Session reset."),
    ]
    .into_iter()
    .find(|(c, _)| trimmed == *c || trimmed.starts_with(&format!("{c} ")))
    .map(|(c, reply)| (reply, trimmed[c.len()..].trim().to_string()))
}

/// The agent id a session key belongs to (`agent:<id>:…`), else the default agent.
pub fn agent_of_key(state: &AppState, key: &str) -> String {
    key.strip_prefix("agent:")
        .and_then(|r| r.split(':').next())
        .map(str::to_string)
        .unwrap_or_else(|| agents(state).1)
}
