//! OpenAI Chat Completions as the fake renders it: `chat.completion.chunk` SSE frames (role
//! chunk, content or `tool_calls` fragments, finish chunk, usage-only chunk when
//! `stream_options.include_usage`, `data: [DONE]`), non-streaming `chat.completion`
//! documents, and `{"error":{message,type,param,code}}` bodies.

use serde_json::{Value, json};

use crate::server::{Api, Reply, ToolCall};
use crate::{Script, split, tokens};

const CREATED: u64 = 1_737_264_000;

/// The default reply: `echo: <last user text>`.
pub(crate) fn echo(body: &Value) -> Script {
    crate::echo_last_user(body, |parts| {
        Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
        )
    })
}

fn frame(v: &Value) -> String {
    format!("data: {v}\n\n")
}

struct Ctx {
    id: String,
    model: String,
    prompt_tokens: u64,
    include_usage: bool,
}

impl Ctx {
    fn chunk(&self, delta: Value, finish: Option<&str>) -> String {
        frame(&json!({
            "id": self.id, "object": "chat.completion.chunk", "created": CREATED,
            "model": self.model, "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        }))
    }

    fn usage(&self, completion: u64) -> Value {
        json!({"prompt_tokens": self.prompt_tokens, "completion_tokens": completion,
               "total_tokens": self.prompt_tokens + completion,
               "prompt_tokens_details": {"cached_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0}})
    }

    fn tail(&self, frames: &mut Vec<String>, finish: &str, completion: u64) {
        frames.push(self.chunk(json!({}), Some(finish)));
        if self.include_usage {
            frames.push(frame(&json!({
                "id": self.id, "object": "chat.completion.chunk", "created": CREATED,
                "model": self.model, "choices": [], "usage": self.usage(completion),
            })));
        }
        frames.push("data: [DONE]\n\n".to_string());
    }

    fn completion(&self, message: Value, finish: &str, completion: u64) -> Reply {
        Reply::json(
            200,
            json!({
                "id": self.id, "object": "chat.completion", "created": CREATED, "model": self.model,
                "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
                "usage": self.usage(completion),
            }),
        )
    }
}

fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// The OpenAI rendering of one request's reply, for [`crate::server::render`].
pub(crate) fn api(body: &Value, seq: u64) -> impl Api {
    Ctx {
        id: format!("chatcmpl-fake{seq}"),
        model: crate::requested_model(body, "gpt-fake"),
        prompt_tokens: tokens(&body.to_string()),
        include_usage: body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true),
    }
}

fn role_chunk() -> Value {
    json!({"role": "assistant", "content": ""})
}

impl Api for Ctx {
    fn text_message(&self, text: &str) -> Reply {
        self.completion(
            json!({"role": "assistant", "content": text, "refusal": null}),
            "stop",
            tokens(text),
        )
    }

    fn text_frames(&self, text: &str, chunks: usize, complete: bool) -> Vec<String> {
        let mut frames = vec![self.chunk(role_chunk(), None)];
        for piece in split(text, chunks) {
            frames.push(self.chunk(json!({"content": piece}), None));
        }
        if complete {
            self.tail(&mut frames, "stop", tokens(text));
        }
        frames
    }

    fn tool_message(&self, call: &ToolCall) -> Reply {
        let args = call.arguments.to_string();
        self.completion(
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": args}}]}),
            "tool_calls",
            tokens(&args),
        )
    }

    fn tool_frames(&self, call: &ToolCall) -> Vec<String> {
        let args = call.arguments.to_string();
        let mut frames = vec![self.chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"index": 0, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}]}),
            None,
        )];
        for piece in split(&args, call.pieces) {
            frames.push(self.chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                None,
            ));
        }
        self.tail(&mut frames, "tool_calls", tokens(&args));
        frames
    }

    fn rate_limited_body(&self) -> Value {
        error_body(
            "Rate limit reached for requests. Please try again later.",
            "requests",
            Some("rate_limit_exceeded"),
        )
    }

    fn http_error_body(&self, status: u16, message: &str) -> Value {
        let kind = match status {
            401 => "invalid_request_error",
            500..=599 => "server_error",
            _ => "invalid_request_error",
        };
        let code = (status == 401).then_some("invalid_api_key");
        error_body(message, kind, code)
    }

    fn stream_error_frames(&self, kind: &str, message: &str) -> Vec<String> {
        vec![
            self.chunk(role_chunk(), None),
            frame(&error_body(message, kind, None)),
        ]
    }
}
