//! Streaming completions over the providers' real HTTP APIs: one shared `reqwest` client
//! (rustls), SSE parsed by `eventsource-stream`, wire formats in [`openai`] and [`anthropic`],
//! and the retry policy (429 / 5xx / network before any output; `Retry-After` honoured).
//!
//! Cancellation uses [`CancelToken`] (`tokio_util::sync::CancellationToken`): every await on the
//! network races the token, so an abort returns [`ProviderError::Aborted`] promptly, also in
//! the middle of a stream (the connection is dropped).

mod anthropic;
mod openai;

use std::sync::OnceLock;
use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::messages::{AgentMessage, ContentPart, Usage, now_ms};
use crate::models::{Api, ProviderConfig};

/// The cancellation handle of a run: `CancelToken::new()`, `.cancel()`, `.child_token()`.
pub type CancelToken = tokio_util::sync::CancellationToken;

/// Longest `Retry-After` we are willing to sleep; a longer one fails at once (so the run can
/// fall back to the next model instead of hanging).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Attempts of [`ProviderClient::stream_with_retries`], the first one included.
pub const MAX_ATTEMPTS: u32 = 3;
/// Cap on an error response body we read (for its message).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Cap on a non-streaming JSON completion body.
const MAX_JSON_BODY: usize = 8 * 1024 * 1024;

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
}

/// One model call.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: String,
    pub system: Option<String>,
    pub messages: Vec<AgentMessage>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: Option<u64>,
}

/// What a stream reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// New assistant text (only the new chunk).
    TextDelta(String),
    /// A tool call whose arguments are complete.
    ToolCall {
        id: String,
        name: String,
        arguments: Value,
    },
}

/// Why a model call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("rate limited: {message}")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("model request timed out")]
    Timeout,
    #[error("provider error (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    #[error("request rejected: {0}")]
    BadRequest(String),
    #[error("network error: {0}")]
    Network(String),
    #[error("invalid provider response: {0}")]
    Protocol(String),
    #[error("aborted")]
    Aborted,
    /// The reference's wording: `No API key found for provider "<id>"`.
    #[error("No API key found for provider \"{0}\"")]
    NoApiKey(String),
}

impl ProviderError {
    /// Worth another attempt at the same provider (when nothing was streamed yet).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. }
                | ProviderError::Timeout
                | ProviderError::Server { .. }
                | ProviderError::Network(_)
        )
    }

    /// Worth trying the next model of the chain (auth, rate limit, overload/5xx, timeouts,
    /// unreachable provider, missing key). Bad requests, protocol errors and aborts are not.
    pub fn is_failover(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. }
                | ProviderError::Auth(_)
                | ProviderError::Timeout
                | ProviderError::Server { .. }
                | ProviderError::Network(_)
                | ProviderError::NoApiKey(_)
        )
    }

    /// The `chat` event's `errorKind` (agent.md §3.2): `rate_limit` | `timeout` |
    /// `context_length` | `refusal` | `unknown`.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::RateLimited { .. } => "rate_limit",
            ProviderError::Timeout => "timeout",
            ProviderError::BadRequest(_) if self.is_context_overflow() => "context_length",
            _ => "unknown",
        }
    }

    /// The provider refused the request because the prompt does not fit the model's context
    /// window (OpenAI `context_length_exceeded` / "maximum context length", Anthropic "prompt
    /// is too long"): compacting the session and retrying can help (agent.md §5.4).
    pub fn is_context_overflow(&self) -> bool {
        matches!(self, ProviderError::BadRequest(m) if looks_like_context_overflow(m))
    }
}

fn looks_like_context_overflow(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("context length")
        || m.contains("context_length")
        || m.contains("input is too long")
        || m.contains("exceeds the maximum number of")
        || m.contains("maximum context")
        || m.contains("prompt is too long")
        || m.contains("context window")
}

/// The assistant turn a decoder assembled.
#[derive(Debug, Default)]
pub(crate) struct Completion {
    pub content: Vec<ContentPart>,
    pub usage: Usage,
    pub stop_reason: String,
    pub error_message: Option<String>,
}

/// An SSE decoder for one API.
enum Decoder {
    OpenAi(openai::Decoder),
    Anthropic(anthropic::Decoder),
}

impl Decoder {
    /// Feeds one SSE event; `Ok(true)` when the stream's terminator was seen.
    fn event(
        &mut self,
        name: &str,
        data: &str,
        emit: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<bool, ProviderError> {
        match self {
            Decoder::OpenAi(d) => d.event(data, emit),
            Decoder::Anthropic(d) => d.event(name, data, emit),
        }
    }

    /// The completion after the stream ended; `terminated` = the terminator was seen.
    fn finish(
        self,
        terminated: bool,
        emit: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<Completion, ProviderError> {
        match self {
            Decoder::OpenAi(d) => d.finish(terminated, emit),
            Decoder::Anthropic(d) => d.finish(terminated),
        }
    }
}

/// HTTP client for model providers. Cheap to share (`Arc` it or keep one per gateway); the
/// underlying `reqwest::Client` is built on first use and reused, so connections are pooled.
#[derive(Debug)]
pub struct ProviderClient {
    /// Connect timeout and the longest silence allowed while waiting for headers or the next
    /// chunk of a stream (not a cap on a whole, healthy stream).
    timeout: Duration,
    /// First retry backoff; doubles per attempt, plus up to 50 % jitter.
    retry_base: Duration,
    client: OnceLock<reqwest::Client>,
}

impl ProviderClient {
    pub fn new(timeout: Duration) -> Self {
        ProviderClient {
            timeout,
            retry_base: Duration::from_millis(500),
            client: OnceLock::new(),
        }
    }

    /// Changes the first retry backoff (tests use a short one).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    fn http(&self) -> Result<&reqwest::Client, ProviderError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let built = reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("openclaw/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Network(format!("cannot build HTTP client: {e}")))?;
        Ok(self.client.get_or_init(|| built))
    }

    /// One streamed completion (see the module doc). Calls `on_event` for each text delta and
    /// each completed tool call, and returns the final assistant message (`usage`,
    /// `stopReason` `stop` | `length` | `toolUse` | `error`). A stream that ends without its
    /// terminator is an error, never a truncated success.
    pub async fn stream(
        &self,
        provider: &ProviderConfig,
        req: &ChatRequest,
        cancel: &CancelToken,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<AgentMessage, ProviderError> {
        if cancel.is_cancelled() {
            return Err(ProviderError::Aborted);
        }
        let Some(key) = provider.api_key.as_deref().filter(|k| !k.is_empty()) else {
            return Err(ProviderError::NoApiKey(provider.id.clone()));
        };
        let messages = normalize_history(&req.messages);
        let base = provider.base_url.trim_end_matches('/');
        let (url, body, mut decoder) = match provider.api {
            Api::AnthropicMessages => (
                format!("{base}/v1/messages"),
                anthropic::request_body(provider, req, &messages),
                Decoder::Anthropic(anthropic::Decoder::default()),
            ),
            Api::OpenAiCompletions | Api::OpenAiResponses => (
                format!("{base}/chat/completions"),
                openai::request_body(provider, req, &messages),
                Decoder::OpenAi(openai::Decoder::default()),
            ),
        };
        let mut builder = self
            .http()?
            .post(&url)
            .header("accept", "text/event-stream")
            .json(&body);
        builder = match provider.api {
            Api::AnthropicMessages => builder
                .header("x-api-key", key)
                .header("anthropic-version", "2023-06-01"),
            _ => builder.bearer_auth(key),
        };
        for (name, value) in &provider.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        tracing::debug!(provider = %provider.id, model = %req.model, %url, "model request");

        let resp = self
            .idle_bounded(cancel, builder.send())
            .await?
            .map_err(map_reqwest_error)?;
        let status = resp.status();
        if !status.is_success() {
            let retry_after = retry_after(resp.headers());
            let body = self.read_capped(resp, MAX_ERROR_BODY, cancel).await?;
            return Err(http_error(
                status.as_u16(),
                retry_after,
                &String::from_utf8_lossy(&body),
            ));
        }
        let is_json = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
        let completion = if is_json {
            // A server that ignored `stream: true` and answered in one JSON document.
            let body = self.read_capped(resp, MAX_JSON_BODY, cancel).await?;
            let json: Value = serde_json::from_slice(&body)
                .map_err(|e| ProviderError::Protocol(format!("invalid JSON body: {e}")))?;
            let c = match provider.api {
                Api::AnthropicMessages => anthropic::from_json(&json)?,
                _ => openai::from_json(&json)?,
            };
            for part in &c.content {
                match part {
                    ContentPart::Text { text } if !text.is_empty() => {
                        on_event(StreamEvent::TextDelta(text.clone()))
                    }
                    ContentPart::ToolCall {
                        id,
                        name,
                        arguments,
                    } => on_event(StreamEvent::ToolCall {
                        id: id.clone(),
                        name: name.clone(),
                        arguments: arguments.clone(),
                    }),
                    _ => {}
                }
            }
            c
        } else {
            let mut events = resp.bytes_stream().eventsource();
            let mut terminated = false;
            loop {
                match self.idle_bounded(cancel, events.next()).await? {
                    None => break,
                    Some(Err(EventStreamError::Transport(e))) => {
                        return Err(ProviderError::Network(format!(
                            "stream interrupted: {}",
                            error_chain(&e)
                        )));
                    }
                    Some(Err(e)) => {
                        return Err(ProviderError::Protocol(format!("bad SSE stream: {e}")));
                    }
                    Some(Ok(ev)) => {
                        if decoder.event(&ev.event, &ev.data, on_event)? {
                            terminated = true;
                            break;
                        }
                    }
                }
            }
            decoder.finish(terminated, on_event)?
        };
        Ok(AgentMessage::Assistant {
            content: completion.content,
            api: Some(provider.api.as_str().to_string()),
            provider: Some(provider.id.clone()),
            model: Some(req.model.clone()),
            usage: Some(completion.usage),
            stop_reason: Some(completion.stop_reason),
            error_message: completion.error_message,
            timestamp: now_ms(),
            extra: Map::new(),
        })
    }

    /// [`Self::stream`] with up to [`MAX_ATTEMPTS`] attempts on retryable errors (429, 5xx,
    /// timeouts, network) that happened before any event was emitted. Waits `Retry-After`
    /// (seconds or HTTP date) when given — a wait longer than [`MAX_RETRY_AFTER`] is not
    /// attempted and the error is returned — else exponential backoff with jitter.
    pub async fn stream_with_retries(
        &self,
        provider: &ProviderConfig,
        req: &ChatRequest,
        cancel: &CancelToken,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<AgentMessage, ProviderError> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut emitted = false;
            let result = {
                let mut tracking = |ev: StreamEvent| {
                    emitted = true;
                    on_event(ev);
                };
                self.stream(provider, req, cancel, &mut tracking).await
            };
            let err = match result {
                Ok(msg) => return Ok(msg),
                Err(e) => e,
            };
            if emitted || !err.is_retryable() || attempt >= MAX_ATTEMPTS {
                return Err(err);
            }
            let wait = match &err {
                ProviderError::RateLimited {
                    retry_after: Some(d),
                    ..
                } => {
                    if *d > MAX_RETRY_AFTER {
                        return Err(err);
                    }
                    *d
                }
                _ => self.backoff(attempt),
            };
            tracing::warn!(provider = %provider.id, model = %req.model, attempt, wait_ms = wait.as_millis() as u64, error = %err, "model call failed; retrying");
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(ProviderError::Aborted),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Awaits `fut` for at most the idle timeout; a cancel wins over everything.
    async fn idle_bounded<T>(
        &self,
        cancel: &CancelToken,
        fut: impl Future<Output = T>,
    ) -> Result<T, ProviderError> {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(ProviderError::Aborted),
            r = tokio::time::timeout(self.timeout, fut) => r.map_err(|_| ProviderError::Timeout),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .retry_base
            .saturating_mul(1 << attempt.saturating_sub(1).min(10));
        let jitter_max = (base.as_millis() as u64 / 2).max(1);
        let jitter = Duration::from_millis(rand::random::<u64>() % jitter_max);
        (base + jitter).min(MAX_RETRY_AFTER)
    }

    /// Reads at most `cap` bytes of a body (racing cancel and the idle timeout).
    async fn read_capped(
        &self,
        mut resp: reqwest::Response,
        cap: usize,
        cancel: &CancelToken,
    ) -> Result<Vec<u8>, ProviderError> {
        let mut out = Vec::new();
        loop {
            let chunk = self
                .idle_bounded(cancel, resp.chunk())
                .await?
                .map_err(map_reqwest_error)?;
            let Some(chunk) = chunk else {
                return Ok(out);
            };
            let room = cap.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if out.len() >= cap {
                return Ok(out);
            }
        }
    }
}

fn map_reqwest_error(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Network(error_chain(&e))
    }
}

/// An error and its sources on one line (reqwest's top-level message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let msg = inner.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        src = inner.source();
    }
    s
}

/// `Retry-After` (delta seconds or an HTTP date) or `retry-after-ms`.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
    {
        return Some(Duration::from_millis(ms as u64));
    }
    let raw = headers.get("retry-after")?.to_str().ok()?.trim();
    parse_retry_after(raw, chrono::Utc::now())
}

pub(crate) fn parse_retry_after(raw: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    if let Ok(secs) = raw.parse::<f64>() {
        // Beyond what a Duration holds is "longer than we wait" (the caller gives up), not a panic.
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
    }
    let when = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// Maps an HTTP error status and body to a [`ProviderError`].
fn http_error(status: u16, retry_after: Option<Duration>, body: &str) -> ProviderError {
    let mut message = error_message(body).unwrap_or_else(|| format!("HTTP {status}"));
    // OpenAI says it in `code` too; keep that visible when the message words it differently.
    let code = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/code")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    if code.as_deref() == Some("context_length_exceeded") && !looks_like_context_overflow(&message)
    {
        message.push_str(" (context_length_exceeded)");
    }
    match status {
        401..=403 => ProviderError::Auth(message),
        408 => ProviderError::Timeout,
        429 => ProviderError::RateLimited {
            retry_after,
            message,
        },
        500..=599 => ProviderError::Server { status, message },
        _ => ProviderError::BadRequest(message),
    }
}

/// The human message of an error body (`{"error":{"message"}}` for both APIs), else the start
/// of the body text.
fn error_message(body: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let msg = v
            .pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error"))
            .and_then(Value::as_str);
        if let Some(m) = msg {
            return Some(m.to_string());
        }
    }
    let t = body.trim();
    (!t.is_empty()).then(|| t.chars().take(300).collect())
}

/// Maps an in-stream error object (`{"type":"rate_limit_error","message":…}` or OpenAI's
/// `{"message","type","code"}`) to a [`ProviderError`].
pub(crate) fn stream_error(err: &Value) -> ProviderError {
    let kind = err
        .get("type")
        .or_else(|| err.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("provider reported an error")
        .to_string();
    match kind {
        "rate_limit_error" | "rate_limit_exceeded" | "requests" | "tokens" => {
            ProviderError::RateLimited {
                retry_after: None,
                message,
            }
        }
        "overloaded_error" => ProviderError::Server {
            status: 529,
            message,
        },
        "authentication_error" | "permission_error" | "invalid_api_key" => {
            ProviderError::Auth(message)
        }
        "invalid_request_error" | "not_found_error" | "request_too_large" => {
            ProviderError::BadRequest(message)
        }
        _ => ProviderError::Server {
            status: 500,
            message,
        },
    }
}

/// Makes a history acceptable to strict APIs: starts at the first user message, drops empty
/// assistant messages and tool results that answer no call, and adds an error result for each
/// tool call left unanswered (an aborted run), so every call is followed by exactly one result.
pub(crate) fn normalize_history(messages: &[AgentMessage]) -> Vec<AgentMessage> {
    fn synthetic(id: &str, name: &str) -> AgentMessage {
        AgentMessage::ToolResult {
            tool_call_id: id.to_string(),
            tool_name: name.to_string(),
            content: vec![ContentPart::text(
                "No result provided (the run was interrupted).",
            )],
            details: None,
            is_error: true,
            timestamp: now_ms(),
            extra: Map::new(),
        }
    }
    let mut out = Vec::with_capacity(messages.len());
    let mut pending: Vec<(String, String)> = Vec::new();
    // A history cut to its last N messages may start mid-exchange; strict APIs want the
    // conversation to open with a user turn.
    let first_user = messages
        .iter()
        .position(|m| matches!(m, AgentMessage::User { .. }))
        .unwrap_or(messages.len());
    for m in &messages[first_user..] {
        match m {
            AgentMessage::ToolResult { tool_call_id, .. } => {
                if let Some(i) = pending.iter().position(|(id, _)| id == tool_call_id) {
                    pending.remove(i);
                    out.push(m.clone());
                }
            }
            _ => {
                for (id, name) in pending.drain(..) {
                    out.push(synthetic(&id, &name));
                }
                if let AgentMessage::Assistant { content, .. } = m {
                    let useful = content.iter().any(|p| match p {
                        ContentPart::Text { text } => !text.is_empty(),
                        ContentPart::ToolCall { .. } => true,
                        _ => false,
                    });
                    if !useful {
                        continue;
                    }
                    pending = m
                        .tool_calls()
                        .into_iter()
                        .map(|(id, name, _)| (id.to_string(), name.to_string()))
                        .collect();
                }
                out.push(m.clone());
            }
        }
    }
    for (id, name) in pending.drain(..) {
        out.push(synthetic(&id, &name));
    }
    out
}

/// Parses complete tool-call arguments; an empty string is `{}`, invalid JSON is kept as a
/// string (the tool then reports the bad arguments to the model).
/// A tool result's content as the text both APIs take (images are named, not sent).
pub(crate) fn tool_result_text(content: &[ContentPart]) -> String {
    let mut text = String::new();
    for p in content {
        match p {
            ContentPart::Text { text: t } => text.push_str(t),
            ContentPart::Image { .. } => text.push_str("[image omitted]"),
            _ => {}
        }
    }
    text
}

pub(crate) fn parse_arguments(raw: &str) -> Value {
    if raw.trim().is_empty() {
        return Value::Object(Map::new());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc2822("Wed, 21 Oct 2015 07:28:00 GMT")
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn status_mapping() {
        assert!(matches!(
            http_error(429, None, r#"{"error":{"message":"slow down"}}"#),
            ProviderError::RateLimited { message, .. } if message == "slow down"
        ));
        assert!(matches!(http_error(401, None, ""), ProviderError::Auth(_)));
        assert!(matches!(
            http_error(529, None, "overloaded"),
            ProviderError::Server { status: 529, .. }
        ));
        assert!(matches!(
            http_error(400, None, "bad"),
            ProviderError::BadRequest(_)
        ));
        assert_eq!(
            ProviderError::NoApiKey("openai".into()).to_string(),
            "No API key found for provider \"openai\""
        );
    }

    #[test]
    fn orphaned_tool_calls_get_results() {
        let call = AgentMessage::Assistant {
            content: vec![ContentPart::ToolCall {
                id: "c1".into(),
                name: "read".into(),
                arguments: Value::Null,
            }],
            api: None,
            provider: None,
            model: None,
            usage: None,
            stop_reason: Some("aborted".into()),
            error_message: None,
            timestamp: 0,
            extra: Map::new(),
        };
        let stray = AgentMessage::ToolResult {
            tool_call_id: "zz".into(),
            tool_name: "read".into(),
            content: vec![],
            details: None,
            is_error: false,
            timestamp: 0,
            extra: Map::new(),
        };
        let out = normalize_history(&[
            stray.clone(),
            AgentMessage::user_text("first"),
            call,
            stray,
            AgentMessage::user_text("next"),
        ]);
        let roles: Vec<_> = out.iter().map(|m| m.role()).collect();
        assert_eq!(roles, ["user", "assistant", "toolResult", "user"]);
    }
}
