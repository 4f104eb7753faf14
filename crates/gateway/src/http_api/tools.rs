//! `POST /tools/invoke` (always on, gateway Bearer auth): runs one tool (built-in or a host
//! family's, agent.md §7.3) as the agent the
//! session belongs to, under that agent's tool policy, `gateway.tools.allow/deny` and a default
//! HTTP deny list of tools no HTTP caller should reach.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use openclaw_agent::tools::canonical_tool_name;
use openclaw_agent::{ToolContext, ToolPolicy, call_tool};
use serde_json::{Value, json};

use super::{ApiError, TOOLS_BODY_LIMIT, json_response};
use crate::http_gate::{self, Secret, Style};
use crate::state::AppState;

/// Tools the HTTP endpoint does not run unless `gateway.tools.allow` names them (the
/// reference's `DEFAULT_GATEWAY_HTTP_TOOL_DENY`, 2026.9.6; compared after alias resolution, so
/// `bash` is `exec` and `cron` is `automations`), plus `whatsapp_login`.
const HTTP_DEFAULT_DENY: &[&str] = &[
    "exec",
    "spawn",
    "shell",
    "fs_write",
    "fs_delete",
    "fs_move",
    "apply_patch",
    "terminal",
    "portal",
    "sessions_spawn",
    "sessions_send",
    "conversations_list",
    "conversations_send",
    "conversations_turn",
    "automations",
    "gateway",
    "plugins",
    "nodes",
    "computer",
    "mobile_ui",
    "openclaw",
    "whatsapp_login",
];

pub async fn tools_invoke(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    // The gate's own failures (auth, body) are OpenAI-style; the tool's are `{ok:false}`.
    if let Err(r) =
        http_gate::admit(&state, peer, &parts.headers, Secret::Gateway, Style::OpenAi).await
    {
        return r;
    }
    let body = match http_gate::read_body(body, TOOLS_BODY_LIMIT, Style::OpenAi).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match invoke(&state, &body).await {
        Ok(r) => r,
        Err(e) => e.respond(Style::Tools),
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

async fn invoke(state: &Arc<AppState>, body: &[u8]) -> Result<Response, ApiError> {
    let req: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON body: {e}")))?;
    let Some(tool) = req["tool"].as_str().filter(|t| !t.is_empty()) else {
        return Err(bad("`tool` is required"));
    };
    let mut args = req.get("args").cloned().unwrap_or_else(|| json!({}));
    if !args.is_object() {
        return Err(bad("`args` must be an object"));
    }
    // The tool runs as the agent the session belongs to: that agent's policy and workspace.
    let (known_agents, default_agent) = crate::agents::agents(state);
    let agent = match req["sessionKey"].as_str().map(str::trim) {
        Some(key) if !key.is_empty() => {
            crate::agents::agent_of_key(state, key).to_ascii_lowercase()
        }
        _ => default_agent,
    };
    if !known_agents.contains(&agent) {
        return Err(bad(format!("unknown agent id: {agent}")));
    }
    let loaded = state.config();
    let policy = ToolPolicy::for_agent(&loaded.config, &agent);
    let gw_tools = loaded
        .config
        .gateway
        .as_ref()
        .and_then(|g| g.tools.clone())
        .unwrap_or_default();
    let canon = canonical_tool_name(tool);
    let listed = |k: &str| {
        gw_tools[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .any(|t| canonical_tool_name(t) == canon)
            })
            .unwrap_or(false)
    };
    let http_denied =
        (HTTP_DEFAULT_DENY.contains(&canon.as_str()) && !listed("allow")) || listed("deny");
    let ctx = ToolContext {
        workspace: crate::agents::workspace_dir(state, &agent),
        host: Some(crate::tools::RunTools::for_http(
            state,
            &agent,
            req["sessionKey"]
                .as_str()
                .map(str::trim)
                .filter(|k| !k.is_empty()),
        )),
    };
    let spec = ctx.tools().into_iter().find(|t| t.name == tool);
    let known = spec.is_some();
    // `action` goes into `args` only for tools whose schema has one (the documented
    // `sessions_list` example sends `action: "json"`, which that tool does not take).
    let takes_action = spec.is_some_and(|s| s.parameters["properties"].get("action").is_some());
    if let (true, Some(action), Some(obj)) =
        (takes_action, req["action"].as_str(), args.as_object_mut())
    {
        obj.entry("action").or_insert(json!(action));
    }
    if !known || http_denied || !policy.allows(tool) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("Tool not available: {tool}"),
        ));
    }
    let out = call_tool(tool, &args, &ctx).await;
    if out.is_error {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "tool_error",
            out.content,
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        json!({"ok": true, "result": {"content": [{"type": "text", "text": out.content}], "details": out.details}}),
    ))
}
