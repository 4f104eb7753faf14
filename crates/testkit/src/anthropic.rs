//! Anthropic Messages as the fake renders it: named SSE events (`message_start`,
//! `content_block_start`, `ping`, `content_block_delta` with `text_delta` /
//! `input_json_delta`, `content_block_stop`, `message_delta` with `stop_reason` and usage,
//! `message_stop`, `error`), non-streaming `message` documents, and
//! `{"type":"error","error":{type,message}}` bodies.

use std::time::Duration;

use serde_json::{Value, json};

use crate::server::Reply;
use crate::{Script, split, tokens};

/// The default reply: `echo: <last user text>` (tool-result-only user turns are skipped).
pub(crate) fn echo(body: &Value) -> Script {
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
                    Some(Value::Array(blocks)) => {
                        let t: Vec<&str> = blocks
                            .iter()
                            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                            .filter_map(|b| b.get("text").and_then(Value::as_str))
                            .collect();
                        (!t.is_empty()).then(|| t.join(""))
                    }
                    _ => None,
                }
            })
        })
        .unwrap_or_default();
    Script::Text {
        text: format!("echo: {text}"),
        chunks: 3,
    }
}

fn event(v: &Value) -> String {
    let name = v.get("type").and_then(Value::as_str).unwrap_or("message");
    format!("event: {name}\ndata: {v}\n\n")
}

struct Ctx {
    id: String,
    model: String,
    input_tokens: u64,
}

impl Ctx {
    fn start(&self) -> String {
        event(&json!({"type": "message_start", "message": {
            "id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": self.input_tokens, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 1}}}))
    }

    fn end(&self, frames: &mut Vec<String>, stop_reason: &str, output: u64) {
        frames.push(event(&json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": output}})));
        frames.push(event(&json!({"type": "message_stop"})));
    }

    fn message(&self, content: Value, stop_reason: &str, output: u64) -> Reply {
        Reply::Json {
            status: 200,
            headers: vec![],
            body: json!({"id": self.id, "type": "message", "role": "assistant",
                "model": self.model, "content": content, "stop_reason": stop_reason,
                "stop_sequence": null,
                "usage": {"input_tokens": self.input_tokens, "output_tokens": output}}),
        }
    }
}

fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

pub(crate) fn render(script: &Script, body: &Value, streaming: bool, seq: u64) -> Reply {
    let ctx = Ctx {
        id: format!("msg_fake{seq}"),
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("claude-fake")
            .to_string(),
        input_tokens: tokens(&body.to_string()),
    };
    match script {
        Script::Text { text, chunks }
        | Script::Slow { text, chunks, .. }
        | Script::Disconnect { text, chunks } => {
            let delay = match script {
                Script::Slow { delay, .. } => *delay,
                _ => Duration::ZERO,
            };
            let disconnect = matches!(script, Script::Disconnect { .. });
            if !streaming && !disconnect {
                return ctx.message(
                    json!([{"type": "text", "text": text}]),
                    "end_turn",
                    tokens(text),
                );
            }
            let mut frames = vec![
                ctx.start(),
                event(
                    &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ),
                event(&json!({"type": "ping"})),
            ];
            for piece in split(text, *chunks) {
                frames.push(event(&json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": piece}})));
            }
            if !disconnect {
                frames.push(event(&json!({"type": "content_block_stop", "index": 0})));
                ctx.end(&mut frames, "end_turn", tokens(text));
            }
            Reply::Sse {
                frames,
                delay,
                disconnect,
            }
        }
        Script::ToolCall {
            id,
            name,
            arguments,
            pieces,
            ..
        } => {
            let args = arguments.to_string();
            if !streaming {
                return ctx.message(
                    json!([{"type": "tool_use", "id": id, "name": name, "input": arguments}]),
                    "tool_use",
                    tokens(&args),
                );
            }
            let mut frames = vec![
                ctx.start(),
                event(&json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})),
            ];
            for piece in split(&args, *pieces) {
                frames.push(event(&json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": piece}})));
            }
            frames.push(event(&json!({"type": "content_block_stop", "index": 0})));
            ctx.end(&mut frames, "tool_use", tokens(&args));
            Reply::Sse {
                frames,
                delay: Duration::ZERO,
                disconnect: false,
            }
        }
        Script::RateLimited { retry_after } => Reply::Json {
            status: 429,
            headers: retry_after
                .iter()
                .map(|v| ("retry-after", v.clone()))
                .collect(),
            body: error_body(
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            ),
        },
        Script::HttpError { status, message } => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            Reply::Json {
                status: *status,
                headers: vec![],
                body: error_body(kind, message),
            }
        }
        Script::StreamError { kind, message } => Reply::Sse {
            frames: vec![ctx.start(), event(&error_body(kind, message))],
            delay: Duration::ZERO,
            disconnect: false,
        },
    }
}
