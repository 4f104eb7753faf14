//! The one test-support layer: fakes of external services that speak the real wire protocols
//! on loopback (so tests exercise our real HTTP clients end to end without the internet), the
//! harness that runs the real `openclaw` binary ([`gateway`]), and deadline-bounded waits
//! ([`wait`]).
//!
//! * [`FakeOpenAi`] — OpenAI Chat Completions (`POST /v1/chat/completions`): SSE
//!   `chat.completion.chunk`s ending in `data: [DONE]`, or one JSON document when the request
//!   did not ask for a stream.
//! * [`FakeAnthropic`] — Anthropic Messages (`POST /v1/messages`): `event:`/`data:` SSE with
//!   `message_start` … `message_stop`, `ping`, and `event: error` frames.
//! * [`telegram::FakeTelegram`] — the Telegram Bot API (long-poll `getUpdates`, sends,
//!   uploads, file downloads, injectable failures).
//!
//! Each model fake answers requests from a queue of [`Script`]s (`push`); with an empty queue it
//! echoes the last user message as `"echo: <text>"` in 3 chunks. Every request (path,
//! headers, JSON body) is recorded for assertions.

mod anthropic;
pub mod gateway;
mod openai;
mod server;
pub mod telegram;
pub mod wait;

use std::time::Duration;

use serde_json::Value;

pub use server::{FAKE_OLLAMA_MODEL, FakeServer, Recorded};

use server::Pacing;

/// How a fake answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Script {
    /// A text reply streamed in `chunks` SSE chunks (one JSON reply when not streaming).
    Text { text: String, chunks: usize },
    /// A tool call whose JSON arguments are streamed in `pieces` fragments. With `then_text`,
    /// that text reply is queued to answer the next request (the one carrying the result).
    ToolCall {
        id: String,
        name: String,
        arguments: Value,
        pieces: usize,
        then_text: Option<String>,
    },
    /// A streamed tool call (arguments in `pieces` fragments) with `delay` before each frame,
    /// so a test can act while the model is still "deciding" (no follow-up text is queued).
    SlowToolCall {
        id: String,
        name: String,
        arguments: Value,
        pieces: usize,
        delay: Duration,
    },
    /// HTTP 429 with the API's error JSON and, when given, this `Retry-After` header value.
    RateLimited { retry_after: Option<String> },
    /// Any HTTP error status (500, 401, 400 …) with the API's error JSON.
    HttpError { status: u16, message: String },
    /// Streams `text` in `chunks` chunks, then drops the connection without a terminator.
    Disconnect { text: String, chunks: usize },
    /// Like `Text`, waiting `delay` before each chunk (for abort and timeout tests).
    Slow {
        text: String,
        chunks: usize,
        delay: Duration,
    },
    /// Streams `text` in `chunks` chunks, then keeps the connection open without another byte
    /// (a provider that hangs mid-stream: only a timeout ends it).
    Hang { text: String, chunks: usize },
    /// Starts a stream, then reports an in-stream error (`event: error` for Anthropic,
    /// `data: {"error":…}` for OpenAI). `kind` is the API's error type, e.g.
    /// `overloaded_error` or `server_error`.
    StreamError { kind: String, message: String },
}

impl Script {
    /// `text` in 3 chunks.
    pub fn text(text: impl Into<String>) -> Script {
        Script::text_in(text, 3)
    }

    /// `text` in `chunks` chunks.
    pub fn text_in(text: impl Into<String>, chunks: usize) -> Script {
        Script::Text {
            text: text.into(),
            chunks,
        }
    }

    /// A tool call (arguments in 3 pieces) followed, on the next request, by `then_text`.
    pub fn tool_call(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: Value,
        then_text: impl Into<String>,
    ) -> Script {
        Script::ToolCall {
            id: id.into(),
            name: name.into(),
            arguments,
            pieces: 3,
            then_text: Some(then_text.into()),
        }
    }

    /// A tool call streamed in 4 argument pieces, `delay` before each frame.
    pub fn slow_tool_call(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: Value,
        delay: Duration,
    ) -> Script {
        Script::SlowToolCall {
            id: id.into(),
            name: name.into(),
            arguments,
            pieces: 4,
            delay,
        }
    }

    /// 429 with `Retry-After: <secs>`.
    pub fn rate_limited(retry_after_secs: u64) -> Script {
        Script::RateLimited {
            retry_after: Some(retry_after_secs.to_string()),
        }
    }

    /// HTTP 500.
    pub fn server_error() -> Script {
        Script::HttpError {
            status: 500,
            message: "The server had an error while processing your request.".into(),
        }
    }

    /// `text` in `chunks` chunks with `delay` before each.
    pub fn slow(text: impl Into<String>, chunks: usize, delay: Duration) -> Script {
        Script::Slow {
            text: text.into(),
            chunks,
            delay,
        }
    }

    /// An in-stream error of the API's error type `kind`.
    pub fn stream_error(kind: impl Into<String>, message: impl Into<String>) -> Script {
        Script::StreamError {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// Two chunks of `text`, then silence on an open connection.
    pub fn hang(text: impl Into<String>) -> Script {
        Script::Hang {
            text: text.into(),
            chunks: 2,
        }
    }

    /// Two chunks of `text`, then the connection drops.
    pub fn disconnect(text: impl Into<String>) -> Script {
        Script::Disconnect {
            text: text.into(),
            chunks: 2,
        }
    }
}

/// Declares a model fake: a [`FakeServer`] of one flavor whose `url()` is the base URL as a
/// provider of that API is configured (`http://127.0.0.1:PORT` + `$path`).
macro_rules! model_fake {
    ($(#[$doc:meta])* $name:ident, $flavor:ident, $path:literal) => {
        $(#[$doc])*
        pub struct $name(FakeServer);

        impl $name {
            pub async fn start() -> $name {
                $name(FakeServer::start(server::Flavor::$flavor).await)
            }

            #[doc = concat!("Base URL as configured for the provider: `http://127.0.0.1:PORT", $path, "`.")]
            pub fn url(&self) -> String {
                format!("http://{}{}", self.0.addr(), $path)
            }
        }

        impl std::ops::Deref for $name {
            type Target = FakeServer;
            fn deref(&self) -> &FakeServer {
                &self.0
            }
        }
    };
}

model_fake!(
    /// A fake OpenAI Chat Completions server.
    FakeOpenAi,
    OpenAi,
    "/v1"
);
model_fake!(
    /// A fake Anthropic Messages server (the client appends `/v1/messages` to its URL).
    FakeAnthropic,
    Anthropic,
    ""
);

impl Script {
    /// How a text-like script streams: `Slow` waits before each chunk, `Disconnect` drops the
    /// connection after its chunks, `Hang` goes silent after them; everything else streams at
    /// once and ends cleanly.
    pub(crate) fn pacing(&self) -> Pacing {
        match self {
            Script::Slow { delay, .. } | Script::SlowToolCall { delay, .. } => Pacing {
                delay: *delay,
                disconnect: false,
                hang: false,
            },
            Script::Disconnect { .. } => Pacing {
                delay: Duration::ZERO,
                disconnect: true,
                hang: false,
            },
            Script::Hang { .. } => Pacing {
                delay: Duration::ZERO,
                disconnect: false,
                hang: true,
            },
            _ => Pacing::default(),
        }
    }
}

/// The default reply of both fakes: `echo: <last user text>`. A string content is taken as
/// is; an array content (the APIs' content parts) goes through `parts_text`, and a user turn
/// it yields nothing for (e.g. tool results only) is skipped.
pub(crate) fn echo_last_user(body: &Value, parts_text: fn(&[Value]) -> Option<String>) -> Script {
    let text = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|msgs| {
            msgs.iter().rev().find_map(|m| {
                if m.get("role").and_then(Value::as_str) != Some("user") {
                    return None;
                }
                match m.get("content") {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Array(parts)) => parts_text(parts),
                    _ => None,
                }
            })
        })
        .unwrap_or_default();
    Script::text(format!("echo: {text}"))
}

/// Splits `text` into at most `n` (≥ 1) pieces of roughly equal length, on char boundaries.
pub(crate) fn split(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    let n = n.clamp(1, chars.len());
    let size = chars.len().div_ceil(n);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// The `model` the request named, or `default`.
pub(crate) fn requested_model(body: &Value, default: &str) -> String {
    body.get("model")
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

/// A rough token count for usage numbers (4 bytes per token).
pub(crate) fn tokens(s: &str) -> u64 {
    (s.len() as u64).div_ceil(4).max(1)
}
