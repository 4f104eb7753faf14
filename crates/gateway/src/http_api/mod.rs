//! The OpenAI-compatible and automation HTTP endpoints on the gateway port:
//! `POST /v1/chat/completions` and `POST /v1/responses` (JSON or SSE; each off unless
//! `gateway.http.endpoints.<name>.enabled`), `GET /v1/models[/{id}]` (while either is on), `POST /tools/invoke` (always on), and hooks
//! (`hooks.enabled`: `/hooks/wake`, `/hooks/agent`, hook-token auth). Every request passes
//! `http_gate` (cross-site refusal, lockout, constant-time secret check) before its bounded body
//! is read. Failures become responses in one place: [`ApiError`] through `http_gate::error`.

mod hooks;
mod openai;
mod responses;
mod sse;
mod tools;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::http_gate::{self, Style};
use crate::state::AppState;

pub use hooks::{hooks, is_hook_path};
pub use openai::{OpenAiEndpoint, models_route, openai_route};
pub use tools::tools_invoke;

/// Body caps.
pub const CHAT_BODY_LIMIT: usize = 20 * 1024 * 1024;
pub const TOOLS_BODY_LIMIT: usize = 2 * 1024 * 1024;
pub const HOOKS_BODY_LIMIT: usize = 256 * 1024;

fn json_response(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

/// A failed API request: its status, the error `type` and the message. The body's shape is the
/// endpoint family's ([`Style`]); as a plain `IntoResponse` it is the OpenAI one.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    /// 400 `invalid_request_error`: the caller's request is wrong.
    fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// `api_error`: the gateway or the run failed.
    fn api(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "api_error", message)
    }

    fn respond(self, style: Style) -> Response {
        http_gate::error(style, self.status, self.kind, &self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.respond(Style::OpenAi)
    }
}

fn endpoint_enabled(state: &AppState, name: &str) -> bool {
    state.config().config.http_endpoint_enabled(name)
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Not Found",
    )
        .into_response()
}

/// A non-POST request to an OpenAI-compatible path: 404 while the endpoint is disabled (as the
/// reference), else 405 with `Allow: POST`.
pub async fn openai_wrong_method(
    State(state): State<Arc<AppState>>,
    uri: axum::http::Uri,
) -> Response {
    let name = if uri.path().ends_with("/responses") {
        "responses"
    } else {
        "chatCompletions"
    };
    if !endpoint_enabled(&state, name) {
        return not_found();
    }
    method_not_allowed("POST")
}

/// 405 in OpenAI's error shape, with the `Allow` header.
pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    let mut r = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "Method Not Allowed",
    )
    .into_response();
    r.headers_mut()
        .insert(header::ALLOW, axum::http::HeaderValue::from_static(allow));
    r
}
