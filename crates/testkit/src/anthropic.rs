//! Anthropic Messages as the fake renders it: named SSE events (`message_start`,
//! `content_block_start`, `ping`, `content_block_delta` with `text_delta` /
//! `input_json_delta`, `content_block_stop`, `message_delta` with `stop_reason` and usage,
//! `message_stop`, `error`), non-streaming `message` documents, and
//! `{"type":"error","error":{type,message}}` bodies.

use serde_json::{Value, json};

use crate::server::{Api, Reply, ToolCall};
use crate::{Script, split, tokens};

/// The default reply: `echo: <last user text>` (tool-result-only user turns are skipped).
pub(crate) fn echo(body: &Value) -> Script {
    crate::echo_last_user(body, |blocks| {
        let t: Vec<&str> = blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect();
        (!t.is_empty()).then(|| t.join(""))
    })
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
        Reply::json(
            200,
            json!({"id": self.id, "type": "message", "role": "assistant",
                "model": self.model, "content": content, "stop_reason": stop_reason,
                "stop_sequence": null,
                "usage": {"input_tokens": self.input_tokens, "output_tokens": output}}),
        )
    }
}

fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// The Anthropic rendering of one request's reply, for [`crate::server::render`].
pub(crate) fn api(body: &Value, seq: u64) -> impl Api {
    Ctx {
        id: format!("msg_fake{seq}"),
        model: crate::requested_model(body, "claude-fake"),
        input_tokens: tokens(&body.to_string()),
    }
}

impl Api for Ctx {
    fn text_message(&self, text: &str) -> Reply {
        self.message(
            json!([{"type": "text", "text": text}]),
            "end_turn",
            tokens(text),
        )
    }

    fn text_frames(&self, text: &str, chunks: usize, complete: bool) -> Vec<String> {
        let mut frames = vec![
            self.start(),
            event(
                &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            event(&json!({"type": "ping"})),
        ];
        for piece in split(text, chunks) {
            frames.push(event(&json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": piece}})));
        }
        if complete {
            frames.push(event(&json!({"type": "content_block_stop", "index": 0})));
            self.end(&mut frames, "end_turn", tokens(text));
        }
        frames
    }

    fn tool_message(&self, call: &ToolCall) -> Reply {
        self.message(
            json!([{"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}]),
            "tool_use",
            tokens(&call.arguments.to_string()),
        )
    }

    fn tool_frames(&self, call: &ToolCall) -> Vec<String> {
        let args = call.arguments.to_string();
        let mut frames = vec![
            self.start(),
            event(&json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}})),
        ];
        for piece in split(&args, call.pieces) {
            frames.push(event(&json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": piece}})));
        }
        frames.push(event(&json!({"type": "content_block_stop", "index": 0})));
        self.end(&mut frames, "tool_use", tokens(&args));
        frames
    }

    fn rate_limited_body(&self) -> Value {
        error_body(
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
        )
    }

    fn http_error_body(&self, status: u16, message: &str) -> Value {
        let kind = match status {
            400 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            529 => "overloaded_error",
            _ => "api_error",
        };
        error_body(kind, message)
    }

    fn stream_error_frames(&self, kind: &str, message: &str) -> Vec<String> {
        vec![self.start(), event(&error_body(kind, message))]
    }
}
