//! Agent resolution, shared by the WS methods, channels, heartbeats and the HTTP endpoints:
//! which agents exist, the default one, an agent's workspace, and the session key a request
//! or a message lands on. Read from the current config on every call (a reload applies at once).

use std::path::PathBuf;

use openclaw_agent::canonical_session_key;
use openclaw_protocol::ErrorShape;

use crate::state::AppState;

/// Known agent ids and the default one (`default:true`, else first, else `main`).
pub fn agents(state: &AppState) -> (Vec<String>, String) {
    let loaded = state.config();
    let list: Vec<(String, bool)> = loaded
        .config
        .agent_list()
        .iter()
        .map(|e| (e.id.to_ascii_lowercase(), e.default.unwrap_or(false)))
        .collect();
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
    let own = state
        .config()
        .config
        .agent_list()
        .iter()
        .find(|e| e.id.to_ascii_lowercase() == agent_id)
        .and_then(|e| e.workspace.clone());
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

/// The model catalog `agent_id` sees under the current config and the process env
/// (`models.list`, and what `sessions.patch {model}` / `/model` choices are checked against).
pub fn model_catalog(state: &AppState, agent_id: &str) -> openclaw_agent::Catalog {
    let loaded = state.config();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    // A broken `models` section was refused by the config gate; an empty catalog is the honest
    // answer should one slip through.
    let mut providers = openclaw_agent::Providers::from_config(loaded.config.models.as_ref(), &env)
        .unwrap_or_default();
    apply_stored_keys(state, &loaded.config, agent_id, &mut providers);
    openclaw_agent::Catalog::build(&loaded.config, &providers, agent_id)
}

/// Gives `providers` the keys stored in the agent's `auth-profiles.json` (where `onboard`
/// keeps them). An unreadable store is logged and ignored: the env and config keys still work.
pub fn apply_stored_keys(
    state: &AppState,
    config: &openclaw_config::OpenClawConfig,
    agent_id: &str,
    providers: &mut openclaw_agent::Providers,
) {
    match openclaw_agent::AuthProfileStore::load(&state.paths.agent_dir(agent_id)) {
        Ok(store) => {
            providers.apply_auth_profiles(&store, &openclaw_agent::auth_order(config.auth.as_ref()))
        }
        Err(e) => tracing::warn!(agent = %agent_id, "auth profiles ignored: {e}"),
    }
}
