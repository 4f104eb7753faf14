//! Same-port HTTP, the router: liveness/readiness/startup probes, the APIs, then (in the
//! fallback) hooks, the canvas host (`canvas`), the Control UI (`control_ui`) and a plain 404;
//! a WebSocket upgrade on any path goes to the protocol, except the canvas live-reload socket.

use crate::sync::LockExt;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::routing::post;
use openclaw_protocol::{MAX_PAYLOAD_BYTES, MAX_PREAUTH_PAYLOAD_BYTES};
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::conn::{self, Upgrade};
use crate::http_api::{OpenAiEndpoint, models_route, openai_route};
use crate::state::AppState;

pub fn router(state: Arc<AppState>) -> Router {
    let r = Router::new()
        .route("/healthz", get(live))
        .route("/health", get(live))
        .route("/readyz", get(ready))
        .route("/ready", get(ready))
        .route("/startupz", get(startup))
        .route("/startup", get(startup));
    let r = r
        .route(
            "/v1/chat/completions",
            openai_route(OpenAiEndpoint::ChatCompletions),
        )
        .route("/v1/responses", openai_route(OpenAiEndpoint::Responses))
        .route("/v1/models", models_route())
        .route("/v1/models/{*id}", models_route())
        .route("/tools/invoke", post(crate::http_api::tools_invoke));
    r.fallback(fallback)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut res: Response<Body>) -> Response<Body> {
    if res.status() == StatusCode::SWITCHING_PROTOCOLS {
        return res;
    }
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    // The Control UI sets its own (it asks for the microphone and the clipboard).
    h.entry("permissions-policy")
        .or_insert(HeaderValue::from_static(
            "camera=(), microphone=(self), geolocation=()",
        ));
    res
}

fn json_no_store(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn live() -> Response<Body> {
    json_no_store(StatusCode::OK, json!({"ok": true, "status": "live"}))
}

async fn ready(State(state): State<Arc<AppState>>) -> Response<Body> {
    // A configured channel account that is down with an error makes the gateway not ready.
    let failing: Vec<String> = state
        .channels
        .locked()
        .clone()
        .map(|c| c.failing())
        .unwrap_or_default();
    let ready = failing.is_empty();
    json_no_store(
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        json!({
            "ready": ready,
            "failing": failing,
            "uptimeMs": state.uptime_ms(),
            "eventLoop": {"degraded": false},
        }),
    )
}

async fn startup(State(state): State<Arc<AppState>>) -> Response<Body> {
    json_no_store(
        StatusCode::OK,
        json!({
            "ok": true,
            "status": "started",
            "version": state.version,
            "uptimeMs": state.uptime_ms(),
        }),
    )
}

fn not_found() -> Response<Body> {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Not Found",
    )
        .into_response()
}

/// Any path: a WebSocket upgrade goes to the protocol (`/__openclaw__/ws` to the canvas live
/// reload while it runs); plain requests try hooks, the canvas host, the Control UI, then 404.
async fn fallback(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_upgrade {
        if crate::http_api::is_hook_path(&state, req.uri().path()) {
            return crate::http_api::hooks(&state, peer, req)
                .await
                .unwrap_or_else(not_found);
        }
        let (method, uri, headers) = (req.method(), req.uri(), req.headers());
        if let Some(r) = crate::canvas::handle(&state, peer, method, uri, headers).await {
            return r;
        }
        if let Some(r) = crate::control_ui::handle(&state, peer, method, uri, headers).await {
            return r;
        }
        return not_found();
    }
    if crate::canvas::is_reload_socket(&state, req.uri()) {
        return crate::canvas::reload_socket(state, peer, req).await;
    }
    upgrade(state, peer, req)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// The WebSocket upgrade (RFC 6455 §4.2), done here rather than by axum so that the stream can
/// be wrapped in the pre-auth [`frame_guard`](crate::frame_guard) and configured per phase.
fn upgrade(state: Arc<AppState>, peer: SocketAddr, req: Request) -> Response<Body> {
    let (mut parts, _body) = req.into_parts();
    let headers: &HeaderMap = &parts.headers;
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if parts.method != axum::http::Method::GET || !has_token(header::CONNECTION, "upgrade") {
        return plain(StatusCode::BAD_REQUEST, "Bad WebSocket upgrade request");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        let mut r = plain(
            StatusCode::UPGRADE_REQUIRED,
            "Unsupported WebSocket version",
        );
        r.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return r;
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return plain(StatusCode::BAD_REQUEST, "Missing Sec-WebSocket-Key");
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
        return plain(StatusCode::BAD_REQUEST, "Connection cannot be upgraded");
    };
    let conn_slot = parts.extensions.remove::<crate::listener::ConnSlot>();
    let client = crate::trust::resolve(&state.settings(), peer.ip(), headers);
    let Some(slot) = state.try_preauth(client.ip) else {
        tracing::warn!(target: "ws", "refusing upgrade from {}: too many unauthenticated sockets", client.ip);
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many unauthenticated sockets",
        );
    };
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let up = Upgrade {
        peer: SocketAddr::new(client.ip, peer.port()),
        local: client.local,
        origin: text(header::ORIGIN),
        host: text(header::HOST),
    };
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let limit = crate::frame_guard::Limit::new(MAX_PREAUTH_PAYLOAD_BYTES);
                let io = crate::frame_guard::FrameGuard::new(
                    hyper_util::rt::TokioIo::new(upgraded),
                    limit.clone(),
                );
                let config = WebSocketConfig::default()
                    .max_message_size(Some(MAX_PAYLOAD_BYTES))
                    .max_frame_size(Some(MAX_PAYLOAD_BYTES))
                    // Small buffers: the default ~130 KiB per connection dominates idle memory. A frame
                    // longer than the read buffer gets its exact size reserved once its header is
                    // read, so only idle connections see the difference.
                    .read_buffer_size(1024)
                    .write_buffer_size(0)
                    .max_write_buffer_size(MAX_PAYLOAD_BYTES * 2);
                let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    io,
                    tokio_tungstenite::tungstenite::protocol::Role::Server,
                    Some(config),
                )
                .await;
                conn::serve(state, ws, up, slot, limit).await;
                drop(conn_slot);
                crate::memory::socket_closed();
            }
            Err(e) => tracing::debug!(target: "ws", "upgrade failed: {e}"),
        }
    });
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    res
}
