//! Same-port HTTP: liveness/readiness/startup probes, the WebSocket upgrade on any path, the
//! reference's security headers, and a plain 404 for everything else.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::routing::post;
use openclaw_protocol::MAX_PAYLOAD_BYTES;
use serde_json::json;

use crate::conn::{self, Upgrade};
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
            post(crate::http_api::chat_completions)
                .fallback(crate::http_api::openai_wrong_method)
                .layer(DefaultBodyLimit::max(crate::http_api::CHAT_BODY_LIMIT)),
        )
        .route(
            "/v1/responses",
            post(crate::http_api::responses)
                .fallback(crate::http_api::openai_wrong_method)
                .layer(DefaultBodyLimit::max(crate::http_api::CHAT_BODY_LIMIT)),
        )
        .route(
            "/tools/invoke",
            post(crate::http_api::tools_invoke)
                .layer(DefaultBodyLimit::max(crate::http_api::TOOLS_BODY_LIMIT)),
        );
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
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(self), geolocation=()"),
    );
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
        .lock()
        .ok()
        .and_then(|c| c.clone())
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

/// The client's address: the socket peer, or — when the peer is a trusted proxy — the
/// rightmost `X-Forwarded-For` entry that is not itself a trusted proxy (then `X-Real-IP` if
/// `gateway.allowRealIpFallback`).
pub fn client_ip(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let settings = state.settings();
    let trusted = &settings.trusted_proxies;
    if !trusted.contains(&peer) {
        return peer;
    }
    let header_ip = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>()
    };
    if let Some(ip) = header_ip("x-forwarded-for")
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
    {
        return ip;
    }
    if settings.allow_real_ip_fallback
        && let Some(ip) = header_ip("x-real-ip").into_iter().next()
    {
        return ip;
    }
    peer
}

fn not_found() -> Response<Body> {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Not Found",
    )
        .into_response()
}

/// Any path: a WebSocket upgrade goes to the protocol, anything else is 404.
async fn fallback(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    let is_upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_upgrade {
        if crate::http_api::is_hook_path(&state, parts.uri.path()) {
            let ip = client_ip(&state, peer.ip(), &parts.headers);
            // `None`: over the hooks body limit.
            let bytes = axum::body::to_bytes(body, crate::http_api::HOOKS_BODY_LIMIT)
                .await
                .ok();
            if let Some(r) = crate::http_api::hooks(
                &state,
                ip,
                &parts.method,
                parts.uri.path(),
                &parts.headers,
                bytes,
            )
            .await
            {
                return r;
            }
        }
        return not_found();
    }
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let headers: &HeaderMap = &parts.headers;
    let client_ip = client_ip(&state, peer.ip(), &parts.headers);
    let peer = SocketAddr::new(client_ip, peer.port());
    let Some(slot) = state.try_preauth(peer.ip()) else {
        tracing::warn!(target: "ws", "refusing upgrade from {}: too many unauthenticated sockets", peer.ip());
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Too many unauthenticated sockets",
        )
            .into_response();
    };
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let up = Upgrade {
        peer,
        origin: text(header::ORIGIN),
        host: text(header::HOST),
    };
    ws.max_message_size(MAX_PAYLOAD_BYTES)
        .max_frame_size(MAX_PAYLOAD_BYTES)
        // Small buffers: the default ~130 KiB per connection dominates idle memory.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_PAYLOAD_BYTES * 2)
        .on_upgrade(move |socket| conn::serve(state, socket, up, slot))
}
