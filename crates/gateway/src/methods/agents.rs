//! `agents.list` and `agent.identity.get`: the configured agents and how the assistant presents
//! itself (Control UI header, agent picker), read from the current config on every call.

use openclaw_agent::model_chain;
use openclaw_config::sections::AgentEntry;
use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::ui::{
    AgentIdentity, AgentIdentityParams, AgentIdentityResult, AgentModelSummary, AgentSummary,
    AgentsListResult, names,
};
use openclaw_protocol::{EmptyParams, ErrorShape};
use serde_json::Value;

use crate::agents::{agents, resolve_agent, workspace_dir};
use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};
use crate::state::AppState;

/// The reference's identity when none is configured.
const DEFAULT_NAME: &str = "Assistant";
const DEFAULT_AVATAR: &str = "A";

pub fn register(out: &mut Vec<MethodSpec>) {
    out.push(MethodSpec {
        name: names::AGENTS_LIST,
        access: Access::Scope(scopes::READ),
        handler: list,
    });
    out.push(MethodSpec {
        name: names::AGENT_IDENTITY_GET,
        access: Access::Scope(scopes::READ),
        handler: identity_get,
    });
}

fn non_empty(s: Option<&String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// `agents.list[].identity` of an entry, `None` when it sets nothing.
fn identity_of(entry: Option<&AgentEntry>) -> Option<AgentIdentity> {
    let id = entry?.identity.as_ref()?;
    let out = AgentIdentity {
        name: non_empty(id.name.as_ref()),
        theme: non_empty(id.theme.as_ref()),
        emoji: non_empty(id.emoji.as_ref()),
        avatar: non_empty(id.avatar.as_ref()),
    };
    (out != AgentIdentity::default()).then_some(out)
}

fn summary(state: &AppState, agent_id: &str) -> AgentSummary {
    let loaded = state.config();
    let entry = loaded.config.agent_entry(agent_id);
    let chain = model_chain(&loaded.config, agent_id);
    let model = chain
        .split_first()
        .map(|(primary, rest)| AgentModelSummary {
            primary: Some(primary.to_string()),
            fallbacks: (!rest.is_empty()).then(|| rest.iter().map(ToString::to_string).collect()),
        });
    AgentSummary {
        id: agent_id.to_string(),
        name: non_empty(entry.and_then(|e| e.name.as_ref())),
        identity: identity_of(entry),
        workspace: workspace_dir(state, agent_id)
            .to_string_lossy()
            .into_owned(),
        model,
    }
}

fn list<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::AGENTS_LIST, params)?;
        let state = &ctx.state;
        let (ids, default) = agents(state);
        let settings = state.settings();
        let scope = if settings.session_scope == "global" {
            "global"
        } else {
            "per-sender"
        };
        let result = AgentsListResult {
            default_id: default,
            main_key: settings.main_key.clone(),
            scope: scope.into(),
            agents: ids.iter().map(|id| summary(state, id)).collect(),
        };
        Ok(Reply::Json(
            serde_json::to_value(result).unwrap_or_default(),
        ))
    })
}

fn identity_get<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<AgentIdentityParams>(names::AGENT_IDENTITY_GET, params)?;
        let state = &ctx.state;
        let from_key = match p.session_key.as_deref().map(str::trim) {
            Some(k) if !k.is_empty() => agent_of_session(k)?,
            _ => None,
        };
        let agent_id = resolve_agent(state, from_key.or(p.agent_id).as_deref())?;
        let loaded = state.config();
        let entry = loaded.config.agent_entry(&agent_id);
        let identity = identity_of(entry).unwrap_or_default();
        let (name, name_source) = match identity
            .name
            .clone()
            .or_else(|| non_empty(entry.and_then(|e| e.name.as_ref())))
        {
            Some(n) => (n, "agent"),
            None => (DEFAULT_NAME.to_string(), "default"),
        };
        let avatar = identity
            .avatar
            .clone()
            .or_else(|| identity.emoji.clone())
            .unwrap_or_else(|| DEFAULT_AVATAR.into());
        let result = AgentIdentityResult {
            agent_id,
            name,
            name_source: name_source.into(),
            avatar,
            emoji: identity.emoji,
        };
        Ok(Reply::Json(
            serde_json::to_value(result).unwrap_or_default(),
        ))
    })
}

/// The agent a session key names (`agent:<id>:…`); a bare key (`main`) means the default agent.
fn agent_of_session(key: &str) -> Result<Option<String>, ErrorShape> {
    match key.strip_prefix("agent:") {
        None => Ok(None),
        Some(rest) => match rest.split(':').next() {
            Some(id) if !id.is_empty() && rest.contains(':') => Ok(Some(id.to_ascii_lowercase())),
            _ => Err(ErrorShape::invalid_request(format!(
                "invalid agent.identity.get params: malformed session key \"{key}\""
            ))),
        },
    }
}
