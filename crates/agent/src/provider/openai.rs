//! OpenAI Chat Completions wire format: the request body (`POST {baseUrl}/chat/completions`,
//! `stream: true`, `stream_options.include_usage`) and the SSE chunk decoder (text deltas,
//! `tool_calls` fragments assembled by `index`, `finish_reason`, the usage-only last chunk,
//! `data: [DONE]`). No I/O.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    ChatRequest, Completion, ProviderError, StreamEvent, parse_arguments, stream_error,
    tool_result_text,
};
use crate::messages::{AgentMessage, ContentPart, Usage};
use crate::models::ProviderConfig;

/// The JSON body of a streamed Chat Completions request.
pub(crate) fn request_body(
    provider: &ProviderConfig,
    req: &ChatRequest,
    messages: &[AgentMessage],
) -> Value {
    let mut out: Vec<Value> = Vec::with_capacity(messages.len() + 1);
    if let Some(system) = req.system.as_deref().filter(|s| !s.is_empty()) {
        out.push(json!({"role": "system", "content": system}));
    }
    for m in messages {
        if let Some(v) = message_json(m) {
            out.push(v);
        }
    }
    let mut body = json!({
        "model": req.model,
        "messages": out,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !req.tools.is_empty() {
        body["tools"] = Value::Array(
            req.tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters}})
                })
                .collect(),
        );
    }
    if let Some(max) = req.max_tokens {
        // OpenAI's own API wants the newer name (reasoning models reject `max_tokens`);
        // compatible servers mostly know only `max_tokens`.
        let key = if provider.id == "openai" || provider.base_url.contains("api.openai.com") {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body[key] = json!(max);
    }
    body
}

fn message_json(m: &AgentMessage) -> Option<Value> {
    match m {
        AgentMessage::User { content, .. } => {
            let has_image = content
                .iter()
                .any(|p| matches!(p, ContentPart::Image { .. }));
            if !has_image {
                let text = m.text();
                return (!text.is_empty()).then(|| json!({"role": "user", "content": text}));
            }
            let parts: Vec<Value> = content
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text { text } if !text.is_empty() => {
                        Some(json!({"type": "text", "text": text}))
                    }
                    ContentPart::Image { data, mime_type } => Some(json!({
                        "type": "image_url",
                        "image_url": {"url": format!("data:{mime_type};base64,{data}")}})),
                    _ => None,
                })
                .collect();
            Some(json!({"role": "user", "content": parts}))
        }
        AgentMessage::Assistant { .. } => {
            let text = m.text();
            let calls: Vec<Value> = m
                .tool_calls()
                .into_iter()
                .map(|(id, name, args)| {
                    let args = match args {
                        Value::String(s) => s.clone(),
                        Value::Null => "{}".to_string(),
                        other => other.to_string(),
                    };
                    json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})
                })
                .collect();
            if text.is_empty() && calls.is_empty() {
                return None;
            }
            let mut v = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { Value::String(text) }});
            if !calls.is_empty() {
                v["tool_calls"] = Value::Array(calls);
            }
            Some(v)
        }
        AgentMessage::ToolResult {
            tool_call_id,
            content,
            ..
        } => {
            let text = tool_result_text(content);
            Some(json!({"role": "tool", "tool_call_id": tool_call_id, "content": text}))
        }
    }
}

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Assembles one streamed completion from `chat.completion.chunk` events.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    text: String,
    thinking: String,
    calls: BTreeMap<u64, PartialCall>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
}

impl Decoder {
    /// One SSE `data:` payload; `Ok(true)` on `[DONE]`.
    pub(crate) fn event(
        &mut self,
        data: &str,
        emit: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<bool, ProviderError> {
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| ProviderError::Protocol(format!("invalid stream chunk: {e}")))?;
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(err));
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage(u));
        }
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            return Ok(false);
        };
        if let Some(delta) = choice.get("delta") {
            if let Some(t) = delta.get("content").and_then(Value::as_str)
                && !t.is_empty()
            {
                self.text.push_str(t);
                emit(StreamEvent::TextDelta(t.to_string()));
            }
            for key in ["reasoning_content", "reasoning"] {
                if let Some(t) = delta.get(key).and_then(Value::as_str) {
                    self.thinking.push_str(t);
                }
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for (pos, call) in calls.iter().enumerate() {
                    let index = call
                        .get("index")
                        .and_then(Value::as_u64)
                        .unwrap_or(pos as u64);
                    let slot = self.calls.entry(index).or_default();
                    if let Some(id) = call.get("id").and_then(Value::as_str) {
                        slot.id = id.to_string();
                    }
                    if let Some(f) = call.get("function") {
                        if let Some(name) = f.get("name").and_then(Value::as_str) {
                            slot.name.push_str(name);
                        }
                        if let Some(args) = f.get("arguments").and_then(Value::as_str) {
                            slot.arguments.push_str(args);
                        }
                    }
                }
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
        }
        Ok(false)
    }

    /// The completion once the stream ended. Without `[DONE]` the stream must at least have
    /// reported a `finish_reason` (some compatible servers skip `[DONE]`); otherwise it was cut.
    pub(crate) fn finish(
        self,
        terminated: bool,
        emit: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<Completion, ProviderError> {
        if !terminated && self.finish_reason.is_none() {
            return Err(ProviderError::Protocol(
                "stream ended before the completion finished".to_string(),
            ));
        }
        let mut content = Vec::new();
        if !self.thinking.is_empty() {
            content.push(ContentPart::Thinking {
                thinking: self.thinking,
                thinking_signature: None,
            });
        }
        if !self.text.is_empty() {
            content.push(ContentPart::Text { text: self.text });
        }
        let mut has_calls = false;
        for (i, call) in self.calls.into_values().enumerate() {
            if call.name.is_empty() {
                continue;
            }
            has_calls = true;
            let id = if call.id.is_empty() {
                format!("call_{i}")
            } else {
                call.id
            };
            let arguments = parse_arguments(&call.arguments);
            emit(StreamEvent::ToolCall {
                id: id.clone(),
                name: call.name.clone(),
                arguments: arguments.clone(),
            });
            content.push(ContentPart::ToolCall {
                id,
                name: call.name,
                arguments,
            });
        }
        let (stop_reason, error_message) = stop_reason(self.finish_reason.as_deref(), has_calls);
        Ok(Completion {
            content,
            usage: self.usage.unwrap_or_default(),
            stop_reason,
            error_message,
        })
    }
}

fn stop_reason(finish: Option<&str>, has_calls: bool) -> (String, Option<String>) {
    if has_calls {
        return ("toolUse".to_string(), None);
    }
    match finish {
        Some("length") => ("length".to_string(), None),
        Some("tool_calls") | Some("function_call") => ("toolUse".to_string(), None),
        Some("content_filter") => (
            "error".to_string(),
            Some("The provider's content filter stopped the reply.".to_string()),
        ),
        _ => ("stop".to_string(), None),
    }
}

/// `usage` of a chunk or response: `prompt_tokens` includes cached tokens, which are counted
/// as `cacheRead` instead of `input`.
fn usage(u: &Value) -> Usage {
    let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    let prompt = n(u.get("prompt_tokens"));
    let cached = n(u.pointer("/prompt_tokens_details/cached_tokens"));
    let output = n(u.get("completion_tokens"));
    let input = prompt.saturating_sub(cached);
    Usage {
        input,
        output,
        cache_read: cached,
        cache_write: 0,
        total_tokens: input + output + cached,
    }
}

/// A non-streaming `chat.completion` response.
pub(crate) fn from_json(v: &Value) -> Result<Completion, ProviderError> {
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Err(stream_error(err));
    }
    let msg = v
        .pointer("/choices/0/message")
        .ok_or_else(|| ProviderError::Protocol("response has no choices[0].message".into()))?;
    let mut content = Vec::new();
    if let Some(t) = msg.get("content").and_then(Value::as_str)
        && !t.is_empty()
    {
        content.push(ContentPart::Text {
            text: t.to_string(),
        });
    }
    let mut has_calls = false;
    for (i, call) in msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(name) = call.pointer("/function/name").and_then(Value::as_str) else {
            continue;
        };
        has_calls = true;
        let args = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        content.push(ContentPart::ToolCall {
            id: call
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("call_{i}")),
            name: name.to_string(),
            arguments: parse_arguments(args),
        });
    }
    let finish = v
        .pointer("/choices/0/finish_reason")
        .and_then(Value::as_str);
    let (stop_reason, error_message) = stop_reason(finish, has_calls);
    Ok(Completion {
        content,
        usage: v.get("usage").map(usage).unwrap_or_default(),
        stop_reason,
        error_message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut Decoder, chunks: &[Value], events: &mut Vec<StreamEvent>) {
        for c in chunks {
            let mut emit = |e| events.push(e);
            let done = d.event(&c.to_string(), &mut emit);
            assert!(matches!(done, Ok(false)), "{done:?}");
        }
    }

    #[test]
    fn assembles_tool_calls_by_index() {
        let mut d = Decoder::default();
        let mut events = Vec::new();
        feed(
            &mut d,
            &[
                json!({"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"read","arguments":""}}]}}]}),
                json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"ls","arguments":"{}"}}]}}]}),
                json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]}}]}),
                json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"a.txt\"}"}}]}}]}),
                json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
                json!({"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4}}}),
            ],
            &mut events,
        );
        let mut emit = |e| events.push(e);
        assert!(matches!(d.event("[DONE]", &mut emit), Ok(true)));
        let c = d.finish(true, &mut emit).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.stop_reason, "toolUse");
        assert_eq!(
            c.usage,
            Usage {
                input: 6,
                output: 5,
                cache_read: 4,
                cache_write: 0,
                total_tokens: 15
            }
        );
        assert_eq!(
            events,
            vec![
                StreamEvent::ToolCall {
                    id: "call_a".into(),
                    name: "read".into(),
                    arguments: json!({"path":"a.txt"})
                },
                StreamEvent::ToolCall {
                    id: "call_b".into(),
                    name: "ls".into(),
                    arguments: json!({})
                },
            ]
        );
    }

    #[test]
    fn cut_stream_is_an_error() {
        let mut d = Decoder::default();
        let mut events = Vec::new();
        feed(
            &mut d,
            &[json!({"choices":[{"index":0,"delta":{"content":"Hel"}}]})],
            &mut events,
        );
        let mut emit = |e| events.push(e);
        assert!(matches!(
            d.finish(false, &mut emit),
            Err(ProviderError::Protocol(_))
        ));
    }

    #[test]
    fn in_stream_error_object() {
        let mut d = Decoder::default();
        let mut emit = |_| {};
        let r = d.event(
            r#"{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}}"#,
            &mut emit,
        );
        assert!(matches!(r, Err(ProviderError::RateLimited { .. })));
    }
}
