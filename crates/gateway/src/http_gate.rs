//! What every HTTP API request (`/v1/*`, `/tools/invoke`, hooks) passes before its body is read
//! (bodiless reads such as the Control UI config and the canvas host pass the same checks but the
//! content type, [`authorize`]):
//! browsers' cross-site requests are refused (a foreign `Origin` or `Sec-Fetch-Site:
//! cross-site`: a web page must not drive the gateway, whatever the auth mode), then the
//! lockout, then the secret (a failure is held by the same doubling tarpit as WebSocket connects
//! and counted against the resolved client, not the proxy), then the content type (JSON only:
//! `text/plain` is what a no-CORS cross-site `fetch` can send). Only then is the body read,
//! bounded in size and in time.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::{Gate, secret_eq};
use crate::state::AppState;
use crate::trust::{self, Client};

/// How an endpoint family words its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `{"error":{"message","type"}}` (`/v1/*`, `/tools/invoke` auth failures).
    OpenAi,
    /// `{"ok":false,"error":"…"}` (hooks).
    Hooks,
    /// `{"ok":false,"error":{"type","message"}}` (a `/tools/invoke` request the gate admitted;
    /// the gate's own refusals there are [`Style::OpenAi`]).
    Tools,
}

/// The secret a request must carry.
pub enum Secret {
    /// The gateway's token or password as `Authorization: Bearer` (none in `auth.mode: "none"`).
    Gateway,
    /// The hooks token as Bearer or `x-openclaw-token`.
    Hook(String),
}

/// How long a request body may take to arrive (`OPENCLAW_HTTP_BODY_TIMEOUT_MS` overrides).
fn body_timeout() -> Duration {
    Duration::from_millis(
        openclaw_config::env::var("HTTP_BODY_TIMEOUT_MS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(30_000),
    )
}

/// The error body of an endpoint family: the one place an API failure gets its JSON shape.
pub fn error_body(style: Style, kind: &str, message: &str) -> Value {
    match style {
        Style::OpenAi => json!({"error": {"message": message, "type": kind}}),
        Style::Hooks => json!({"ok": false, "error": message}),
        Style::Tools => json!({"ok": false, "error": {"type": kind, "message": message}}),
    }
}

/// An error response: `status` with [`error_body`].
pub fn error(style: Style, status: StatusCode, kind: &str, message: &str) -> Response {
    (status, axum::Json(error_body(style, kind, message))).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Runs the checks in order; `Err` is the response to send (after the tarpit, for auth failures).
pub async fn admit(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    secret: Secret,
    style: Style,
) -> Result<Client, Response> {
    let client = authorize(state, peer, headers, secret, style).await?;
    if !is_json(headers) {
        return Err(error(
            style,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "Content-Type must be application/json",
        ));
    }
    Ok(client)
}

/// [`admit`] without the body rules, for bodiless reads (the Control UI's config and avatars,
/// the canvas host): cross-site refusal, lockout, then the secret.
pub async fn authorize(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    secret: Secret,
    style: Style,
) -> Result<Client, Response> {
    let settings = state.settings();
    let client = trust::resolve(&settings, peer.ip(), headers);
    if let Some(why) = trust::cross_site(&settings, headers) {
        tracing::warn!(target: "http", "refused a cross-site request from {}: {why}", client.ip);
        return Err(error(
            style,
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden: cross-site requests are not allowed",
        ));
    }
    let expected = match secret {
        Secret::Hook(t) => Some(t),
        Secret::Gateway => match &settings.auth {
            openclaw_config::AuthMode::None => None,
            openclaw_config::AuthMode::Token(t) | openclaw_config::AuthMode::Password(t) => {
                Some(t.clone())
            }
        },
    };
    if let Some(expected) = expected {
        if let Gate::Locked { retry_after_ms } = state.limiter.check(client.ip) {
            let mut r = error(
                style,
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many failed attempts",
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_ms.div_ceil(1000).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Err(r);
        }
        let given = bearer(headers).or_else(|| match style {
            Style::Hooks => headers
                .get("x-openclaw-token")
                .and_then(|v| v.to_str().ok()),
            Style::OpenAi | Style::Tools => None,
        });
        if given.is_some_and(|g| secret_eq(g, &expected)) {
            state.limiter.succeed(client.ip);
        } else {
            let delay = state.limiter.fail(client.ip, client.local);
            tokio::time::sleep(delay).await;
            let message = match style {
                Style::OpenAi | Style::Tools => "Unauthorized",
                Style::Hooks => "unauthorized",
            };
            return Err(error(
                style,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                message,
            ));
        }
    }
    Ok(client)
}

/// Reads the body under `limit` bytes and the body timeout.
pub async fn read_body(body: Body, limit: usize, style: Style) -> Result<Bytes, Response> {
    match tokio::time::timeout(body_timeout(), axum::body::to_bytes(body, limit)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(error(
            style,
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "payload too large",
        )),
        Err(_) => Err(error(
            style,
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "request body timed out",
        )),
    }
}

/// A JSON body, or a 400 in the endpoint's style.
pub fn parse_json(body: &Bytes, style: Style) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            style,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &format!("invalid JSON body: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_json_media_types_pass() {
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " application/json ;foo=bar",
            "application/vnd.api+json",
        ] {
            assert!(is_json(&headers(&[("content-type", ct)])), "{ct}");
        }
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "text/json",
            "",
        ] {
            assert!(!is_json(&headers(&[("content-type", ct)])), "{ct}");
        }
        assert!(!is_json(&HeaderMap::new()), "no Content-Type");
    }

    #[test]
    fn the_secret_is_read_only_from_a_bearer_authorization() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer  tok ")])),
            Some("tok")
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "Basic dG9rOg==")])),
            None
        );
        assert_eq!(bearer(&headers(&[("authorization", "Bearertok")])), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    async fn body_json(r: Response) -> (StatusCode, Value) {
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn errors_keep_each_endpoint_familys_shape() {
        let (status, v) = body_json(error(
            Style::OpenAi,
            StatusCode::FORBIDDEN,
            "forbidden",
            "no",
        ))
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(v, json!({"error": {"message": "no", "type": "forbidden"}}));
        let (_, v) = body_json(error(
            Style::Hooks,
            StatusCode::UNAUTHORIZED,
            "x",
            "unauthorized",
        ))
        .await;
        assert_eq!(v, json!({"ok": false, "error": "unauthorized"}));
        let Err(r) = parse_json(&Bytes::from_static(b"{\"a\":"), Style::OpenAi) else {
            panic!("a truncated body is not JSON");
        };
        let (status, v) = body_json(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid JSON body: ")
        );
        assert_eq!(
            parse_json(&Bytes::from_static(b"{\"a\":1}"), Style::Hooks).unwrap(),
            json!({"a": 1})
        );
    }
}
