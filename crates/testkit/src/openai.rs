//! OpenAI Chat Completions as the fake renders it: `chat.completion.chunk` SSE frames (role
//! chunk, content or `tool_calls` fragments, finish chunk, usage-only chunk when
//! `stream_options.include_usage`, `data: [DONE]`), non-streaming `chat.completion`
//! documents, and `{"error":{message,type,param,code}}` bodies.

use std::time::Duration;

use serde_json::{Value, json};

use crate::server::Reply;
use crate::{Script, split, tokens};

const CREATED: u64 = 1_737_264_000;

/// The default reply: `echo: <last user text>`.
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
                    Some(Value::Array(parts)) => Some(
                        parts
                            .iter()
                            .filter_map(|p| p.get("text").and_then(Value::as_str))
                            .collect::<Vec<_>>()
                            .join(""),
                    ),
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
        Reply::Json {
            status: 200,
            headers: vec![],
            body: json!({
                "id": self.id, "object": "chat.completion", "created": CREATED, "model": self.model,
                "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
                "usage": self.usage(completion),
            }),
        }
    }
}

fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

pub(crate) fn render(script: &Script, body: &Value, streaming: bool, seq: u64) -> Reply {
    let ctx = Ctx {
        id: format!("chatcmpl-fake{seq}"),
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("gpt-fake")
            .to_string(),
        prompt_tokens: tokens(&body.to_string()),
        include_usage: body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true),
    };
    let role = json!({"role": "assistant", "content": ""});
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
                return ctx.completion(
                    json!({"role": "assistant", "content": text, "refusal": null}),
                    "stop",
                    tokens(text),
                );
            }
            let mut frames = vec![ctx.chunk(role, None)];
            for piece in split(text, *chunks) {
                frames.push(ctx.chunk(json!({"content": piece}), None));
            }
            if !disconnect {
                ctx.tail(&mut frames, "stop", tokens(text));
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
                return ctx.completion(
                    json!({"role": "assistant", "content": null, "tool_calls": [
                        {"id": id, "type": "function", "function": {"name": name, "arguments": args}}]}),
                    "tool_calls",
                    tokens(&args),
                );
            }
            let mut frames = vec![ctx.chunk(
                json!({"role": "assistant", "content": null, "tool_calls": [
                    {"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
                None,
            )];
            for piece in split(&args, *pieces) {
                frames.push(ctx.chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                    None,
                ));
            }
            ctx.tail(&mut frames, "tool_calls", tokens(&args));
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
                "Rate limit reached for requests. Please try again later.",
                "requests",
                Some("rate_limit_exceeded"),
            ),
        },
        Script::HttpError { status, message } => {
            let kind = match status {
                401 => "invalid_request_error",
                500..=599 => "server_error",
                _ => "invalid_request_error",
            };
            let code = (*status == 401).then_some("invalid_api_key");
            Reply::Json {
                status: *status,
                headers: vec![],
                body: error_body(message, kind, code),
            }
        }
        Script::StreamError { kind, message } => Reply::Sse {
            frames: vec![
                ctx.chunk(role, None),
                frame(&error_body(message, kind, None)),
            ],
            delay: Duration::ZERO,
            disconnect: false,
        },
    }
}
