//! `POST /v1/chat/completions` and what the OpenAI-style endpoints share: the request front
//! (enabled, gate, bounded JSON body), the conversation split into one agent turn, and the run
//! it starts (agent from the model name or header, session from header, `user`, or none);
//! also `GET /v1/models[/{id}]`, the model ids those endpoints accept (one per agent).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use openclaw_protocol::AgentFinal;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::sse::{RunEnd, SseEvent, stream_run};
use super::{ApiError, CHAT_BODY_LIMIT, endpoint_enabled, json_response, not_found};
use crate::http_gate::{self, Secret, Style};
use crate::runs::{Run, RunSpec, Runs, Submitted};
use crate::state::{AppState, now_ms};

/// `openclaw:<id>`, `openclaw/<id>`, `agent:<id>` or the `x-openclaw-agent-id` header.
fn agent_from(model: &str, headers: &HeaderMap) -> Option<String> {
    if let Some(h) = headers
        .get("x-openclaw-agent-id")
        .and_then(|v| v.to_str().ok())
    {
        return Some(h.to_ascii_lowercase());
    }
    ["openclaw:", "openclaw/", "agent:"]
        .iter()
        .find_map(|p| model.strip_prefix(p))
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
}

/// Text of an OpenAI message `content` (string or parts).
fn content_text(c: &Value) -> String {
    match c {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// A conversation as one agent turn.
pub(super) struct Turn {
    /// System/developer messages (and `instructions`): extra system prompt.
    pub extra: Vec<String>,
    /// Turns before the last user message, as `role: text` lines.
    pub context: Vec<String>,
    /// The last user message.
    pub message: String,
}

/// Splits a conversation for a run; `None` when there is no user message.
pub(super) fn split_turns(msgs: &[&Value]) -> Option<Turn> {
    let last_user = msgs.iter().rposition(|m| m["role"] == "user")?;
    let mut extra = Vec::new();
    let mut context = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("");
        let text = content_text(&m["content"]);
        match role {
            "system" | "developer" => extra.push(text),
            _ if i < last_user => context.push(format!("{role}: {text}")),
            _ => {}
        }
    }
    Some(Turn {
        extra,
        context,
        message: content_text(&msgs[last_user]["content"]),
    })
}

/// What an OpenAI-style request asks to run.
pub(super) struct HttpRun<'a> {
    pub model: &'a str,
    pub user: Option<&'a str>,
    pub turn: Turn,
    pub stream: bool,
    pub run_id: &'a str,
}

impl<'a> HttpRun<'a> {
    /// The run a request body asks for: its `model` (default `openclaw`), `user` and `stream`.
    pub fn of(req: &'a Value, turn: Turn, run_id: &'a str) -> HttpRun<'a> {
        HttpRun {
            model: req["model"].as_str().unwrap_or("openclaw"),
            user: req["user"].as_str(),
            turn,
            stream: req["stream"].as_bool().unwrap_or(false),
            run_id,
        }
    }
}

/// A started run and its text deltas (closed at once unless streaming).
pub(super) struct Started {
    pub run: Arc<Run>,
    pub deltas: mpsc::UnboundedReceiver<String>,
}

/// Starts an agent run for an OpenAI-style request: agent from the model name or header,
/// session from `x-openclaw-session-key`, else `user`, else a fresh one.
pub(super) fn start_http_run(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    req: HttpRun,
) -> Result<Started, ApiError> {
    let (ids, default) = crate::agents::agents(state);
    let agent_id = agent_from(req.model, headers).unwrap_or(default);
    if !ids.contains(&agent_id) {
        return Err(ApiError::invalid_request(format!(
            "unknown agent id: {agent_id}"
        )));
    }
    let main_key = state.settings().main_key.clone();
    // Stateless unless the caller names a session (header) or a user.
    let (session_key, ephemeral) = match headers
        .get("x-openclaw-session-key")
        .and_then(|v| v.to_str().ok())
    {
        Some(k) => (
            openclaw_agent::canonical_session_key(k, &agent_id, &main_key),
            false,
        ),
        None => match req.user {
            Some(u) if !u.is_empty() => (
                format!("agent:{agent_id}:openai-user:{}", u.to_ascii_lowercase()),
                false,
            ),
            _ => (
                format!("agent:{agent_id}:openai:{}", uuid::Uuid::new_v4()),
                true,
            ),
        },
    };
    let Turn {
        mut extra,
        context,
        message,
    } = req.turn;
    if !context.is_empty() {
        extra.push(format!(
            "Conversation so far (from the API caller):\n{}",
            context.join("\n")
        ));
    }
    let (tx, deltas) = mpsc::unbounded_channel();
    let spec = RunSpec {
        run_id: req.run_id.to_string(),
        agent_id,
        session_key,
        message,
        extra_system_prompt: (!extra.is_empty()).then(|| extra.join("\n\n")),
        timeout: crate::runs::default_run_timeout(state),
        stream_tx: req.stream.then_some(tx),
        ephemeral,
        persisted: None,
        resume: false,
        origin: None,
    };
    match Runs::submit(state, spec) {
        Ok(Submitted::New(run) | Submitted::Existing(run)) => Ok(Started { run, deltas }),
        Err(e) => Err(ApiError::api(StatusCode::SERVICE_UNAVAILABLE, e.message)),
    }
}

/// The result of a non-streamed run: its final payload, or the error response.
pub(super) async fn finished(run: &Run) -> Result<AgentFinal, ApiError> {
    let Some(result) = run.wait(Duration::from_secs(660)).await else {
        return Err(ApiError::api(
            StatusCode::GATEWAY_TIMEOUT,
            "agent run did not finish",
        ));
    };
    if !result.ok {
        let msg = result
            .error
            .map(|e| e.message)
            .unwrap_or_else(|| "agent run failed".into());
        return Err(ApiError::api(StatusCode::INTERNAL_SERVER_ERROR, msg));
    }
    Ok(result.payload)
}

/// The common front of the OpenAI-compatible endpoints: enabled (else 404), the HTTP gate
/// (cross-site, lockout, Bearer auth, JSON content type) before the body is read, then a bounded
/// JSON body (else 400/413/408).
pub(super) async fn openai_request(
    state: &AppState,
    peer: SocketAddr,
    req: Request,
    endpoint: &str,
) -> Result<(Value, HeaderMap), Response> {
    if !endpoint_enabled(state, endpoint) {
        return Err(not_found());
    }
    let (parts, body) = req.into_parts();
    http_gate::admit(state, peer, &parts.headers, Secret::Gateway, Style::OpenAi).await?;
    let bytes = http_gate::read_body(body, CHAT_BODY_LIMIT, Style::OpenAi).await?;
    let v = http_gate::parse_json(&bytes, Style::OpenAi)?;
    Ok((v, parts.headers))
}

/// The OpenAI-compatible endpoints, each named as in `gateway.http.endpoints`.
#[derive(Debug, Clone, Copy)]
pub enum OpenAiEndpoint {
    ChatCompletions,
    Responses,
}

impl OpenAiEndpoint {
    fn config_name(self) -> &'static str {
        match self {
            OpenAiEndpoint::ChatCompletions => "chatCompletions",
            OpenAiEndpoint::Responses => "responses",
        }
    }
}

/// The route of an OpenAI-compatible endpoint: `POST` through [`openai_request`] to the
/// endpoint's handling; any other method gets `openai_wrong_method`.
pub fn openai_route(endpoint: OpenAiEndpoint) -> MethodRouter<Arc<AppState>> {
    post(
        move |State(state): State<Arc<AppState>>,
              ConnectInfo(peer): ConnectInfo<SocketAddr>,
              req: Request| async move {
            let (req, headers) =
                match openai_request(&state, peer, req, endpoint.config_name()).await {
                    Ok(v) => v,
                    Err(r) => return r,
                };
            let handled = match endpoint {
                OpenAiEndpoint::ChatCompletions => completions(&state, &req, &headers).await,
                OpenAiEndpoint::Responses => {
                    super::responses::respond(&state, &req, &headers).await
                }
            };
            handled.unwrap_or_else(IntoResponse::into_response)
        },
    )
    .fallback(super::openai_wrong_method)
}

async fn completions(
    state: &Arc<AppState>,
    req: &Value,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let Some(messages) = req["messages"].as_array().filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid_request(
            "`messages` must be a non-empty array",
        ));
    };
    let refs: Vec<&Value> = messages.iter().collect();
    let turn = split_turns(&refs)
        .ok_or_else(|| ApiError::invalid_request("no user message in `messages`"))?;
    let id = format!("chatcmpl_{}", uuid::Uuid::new_v4());
    let created = now_ms() / 1000;
    let run = HttpRun::of(req, turn, &id);
    let (model, stream) = (run.model.to_string(), run.stream);
    let started = start_http_run(state, headers, run)?;
    if !stream {
        let payload = finished(&started.run).await?;
        let usage = payload.usage().copied().unwrap_or_default();
        return Ok(json_response(
            StatusCode::OK,
            json!({
                "id": id, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": payload.text()}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": usage.input, "completion_tokens": usage.output, "total_tokens": usage.total},
            }),
        ));
    }
    let chunk = move |delta: Value, finish: Value| {
        let c = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        Bytes::from(format!("data: {c}\n\n"))
    };
    Ok(stream_run(
        started.run,
        started.deltas,
        move |ev| match ev {
            SseEvent::Start => chunk(json!({"role": "assistant"}), Value::Null),
            SseEvent::Delta(d) => chunk(json!({"content": d}), Value::Null),
            SseEvent::End(RunEnd { ok, error, .. }) => {
                let mut out = String::new();
                if !ok {
                    let err = http_gate::error_body(
                        Style::OpenAi,
                        "api_error",
                        &error.unwrap_or_default(),
                    );
                    out.push_str(&format!("data: {err}\n\n"));
                } else {
                    let b = chunk(json!({}), json!("stop"));
                    out.push_str(&String::from_utf8_lossy(&b));
                }
                out.push_str("data: [DONE]\n\n");
                Bytes::from(out)
            }
        },
    ))
}

/// The model id that names the default agent (as do `openclaw/default` and no model at all).
const OPENCLAW_MODEL_ID: &str = "openclaw";
const OPENCLAW_DEFAULT_MODEL_ID: &str = "openclaw/default";

/// The ids `GET /v1/models` lists, in the reference's order: `openclaw`, `openclaw/default`,
/// then `openclaw/<agentId>` for the default agent and every configured one (no duplicates).
fn model_ids(state: &AppState) -> Vec<String> {
    let (ids, default) = crate::agents::agents(state);
    let mut out = vec![
        OPENCLAW_MODEL_ID.to_string(),
        OPENCLAW_DEFAULT_MODEL_ID.to_string(),
    ];
    for id in std::iter::once(default).chain(ids) {
        let m = format!("openclaw/{id}");
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// Whether `id` is shaped like a model id the endpoints accept: `openclaw`, `openclaw/default`,
/// `openclaw/<agent>`, `openclaw:<agent>` or `agent:<agent>` (agent ids as the reference's:
/// an ASCII letter or digit, then up to 63 of letters, digits, `_`, `-`).
fn is_model_id(id: &str) -> bool {
    let lower = id.trim().to_ascii_lowercase();
    if lower == OPENCLAW_MODEL_ID || lower == OPENCLAW_DEFAULT_MODEL_ID {
        return true;
    }
    let Some(agent) = ["openclaw/", "openclaw:", "agent:"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
    else {
        return false;
    };
    let mut chars = agent.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && agent.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 0, "owned_by": "openclaw", "permission": []})
}

/// `GET /v1/models` and `GET /v1/models/{id}`: served while either OpenAI-compatible endpoint
/// is enabled (else 404, as those are), behind the same gate and secret; any other method 405.
pub fn models_route() -> MethodRouter<Arc<AppState>> {
    get(
        |State(state): State<Arc<AppState>>,
         ConnectInfo(peer): ConnectInfo<SocketAddr>,
         uri: axum::http::Uri,
         headers: HeaderMap| async move { models(&state, peer, uri.path(), &headers).await },
    )
    .fallback(|State(state): State<Arc<AppState>>| async move {
        if !models_enabled(&state) {
            return not_found();
        }
        super::method_not_allowed("GET")
    })
}

fn models_enabled(state: &AppState) -> bool {
    endpoint_enabled(state, OpenAiEndpoint::ChatCompletions.config_name())
        || endpoint_enabled(state, OpenAiEndpoint::Responses.config_name())
}

async fn models(state: &AppState, peer: SocketAddr, path: &str, headers: &HeaderMap) -> Response {
    if !models_enabled(state) {
        return not_found();
    }
    if let Err(r) = http_gate::authorize(state, peer, headers, Secret::Gateway, Style::OpenAi).await
    {
        return r;
    }
    let ids = model_ids(state);
    let Some(raw) = path.strip_prefix("/v1/models/") else {
        let data: Vec<Value> = ids.iter().map(|id| model_object(id)).collect();
        return json_response(StatusCode::OK, json!({"object": "list", "data": data}));
    };
    let Ok(id) = String::from_utf8(crate::static_files::percent_decode(raw)) else {
        return ApiError::invalid_request("Invalid model id encoding.").into_response();
    };
    if id.is_empty() {
        return ApiError::invalid_request("Missing model id.").into_response();
    }
    if !is_model_id(&id) {
        return ApiError::invalid_request("Invalid model id.").into_response();
    }
    if !ids.contains(&id) {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("Model '{id}' not found."),
        )
        .into_response();
    }
    json_response(StatusCode::OK, model_object(&id))
}
