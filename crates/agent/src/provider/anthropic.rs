//! Anthropic Messages wire format: the request body (`POST {baseUrl}/v1/messages`, top-level
//! `system`, tool results as `tool_result` blocks of a user turn, alternating roles) and the
//! SSE decoder (`message_start`, `content_block_start/delta/stop` with `text_delta`,
//! `input_json_delta`, `thinking_delta`, `signature_delta`, `message_delta`, `message_stop`,
//! `ping`, `error`). No I/O.

use serde_json::{Map, Value, json};

use super::{
    ChatRequest, Completion, ProviderError, StreamEvent, parse_arguments, stream_error,
    tool_result_text,
};
use crate::messages::{AgentMessage, ContentPart, Usage};
use crate::models::{Api, ProviderConfig};

/// `max_tokens` is required by this API; used when neither the request nor the model entry
/// says.
const DEFAULT_MAX_TOKENS: u64 = 8192;

/// Tool-use ids must match `^[a-zA-Z0-9_-]+$`; ids minted by other APIs may not.
fn tool_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The JSON body of a streamed Messages request.
pub(crate) fn request_body(
    provider: &ProviderConfig,
    req: &ChatRequest,
    messages: &[AgentMessage],
) -> Value {
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in messages {
        let (role, blocks) = match m {
            AgentMessage::User { content, .. } => ("user", user_blocks(content)),
            AgentMessage::Assistant { content, api, .. } => {
                let same_api = api.as_deref() == Some(Api::AnthropicMessages.as_str());
                ("assistant", assistant_blocks(content, same_api))
            }
            AgentMessage::ToolResult {
                tool_call_id,
                content,
                is_error,
                ..
            } => {
                let mut text = tool_result_text(content);
                if text.is_empty() {
                    text.push_str("(no output)");
                }
                (
                    "user",
                    vec![
                        json!({"type": "tool_result", "tool_use_id": tool_id(tool_call_id),
                        "content": [{"type": "text", "text": text}], "is_error": is_error}),
                    ],
                )
            }
        };
        if blocks.is_empty() {
            continue;
        }
        // Consecutive turns of one role are merged: the API wants them alternating, and all
        // results of one assistant turn's tool calls must sit in the next user turn.
        match turns.last_mut() {
            Some((r, existing)) if *r == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let max_tokens = req
        .max_tokens
        .or_else(|| provider.model_info(&req.model).map(|m| m.max_tokens))
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let mut body = json!({
        "model": req.model,
        "max_tokens": max_tokens,
        "messages": turns.into_iter().map(|(role, content)| json!({"role": role, "content": content})).collect::<Vec<_>>(),
        "stream": true,
    });
    if let Some(system) = req.system.as_deref().filter(|s| !s.is_empty()) {
        body["system"] = Value::String(system.to_string());
    }
    if !req.tools.is_empty() {
        body["tools"] = Value::Array(
            req.tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
                .collect(),
        );
    }
    body
}

fn user_blocks(content: &[ContentPart]) -> Vec<Value> {
    content
        .iter()
        .filter_map(|p| match p {
            ContentPart::Text { text } if !text.is_empty() => {
                Some(json!({"type": "text", "text": text}))
            }
            ContentPart::Image { data, mime_type } => Some(json!({"type": "image",
                "source": {"type": "base64", "media_type": mime_type, "data": data}})),
            _ => None,
        })
        .collect()
}

fn assistant_blocks(content: &[ContentPart], same_api: bool) -> Vec<Value> {
    content
        .iter()
        .filter_map(|p| match p {
            // Thinking blocks only go back to the API that signed them.
            ContentPart::Thinking {
                thinking,
                thinking_signature: Some(sig),
            } if same_api => {
                Some(json!({"type": "thinking", "thinking": thinking, "signature": sig}))
            }
            ContentPart::Text { text } if !text.is_empty() => {
                Some(json!({"type": "text", "text": text}))
            }
            ContentPart::ToolCall {
                id,
                name,
                arguments,
            } => {
                let input = match arguments {
                    Value::Object(_) => arguments.clone(),
                    _ => Value::Object(Map::new()),
                };
                Some(json!({"type": "tool_use", "id": tool_id(id), "name": name, "input": input}))
            }
            _ => None,
        })
        .collect()
}

#[derive(Debug)]
enum Block {
    Text(String),
    Thinking {
        text: String,
        signature: String,
    },
    ToolUse {
        id: String,
        name: String,
        json: String,
    },
    Other,
}

impl Block {
    /// A content block as the API sends it (in `content_block_start`, or in a whole
    /// message's `content`); a tool call's arguments start as `json`.
    fn from_api(cb: &Value, json: String) -> Block {
        let s = |k: &str| cb.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        match cb.get("type").and_then(Value::as_str) {
            Some("text") => Block::Text(s("text")),
            Some("thinking") => Block::Thinking {
                text: s("thinking"),
                signature: s("signature"),
            },
            Some("tool_use") => Block::ToolUse {
                id: s("id"),
                name: s("name"),
                json,
            },
            _ => Block::Other,
        }
    }
}

/// Assembles one streamed message.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    blocks: Vec<(u64, Block)>,
    usage: Usage,
    stop_reason: Option<String>,
    started: bool,
}

impl Decoder {
    fn block(&mut self, index: u64) -> Option<&mut Block> {
        self.blocks
            .iter_mut()
            .find(|(i, _)| *i == index)
            .map(|(_, b)| b)
    }

    /// One SSE event; `Ok(true)` on `message_stop`.
    pub(crate) fn event(
        &mut self,
        name: &str,
        data: &str,
        emit: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<bool, ProviderError> {
        if data.trim().is_empty() {
            return Ok(false);
        }
        let v: Value = serde_json::from_str(data)
            .map_err(|e| ProviderError::Protocol(format!("invalid stream event: {e}")))?;
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(name);
        match kind {
            "message_start" => {
                self.started = true;
                if let Some(u) = v.pointer("/message/usage") {
                    self.merge_usage(u);
                }
            }
            "content_block_start" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let cb = v.get("content_block").cloned().unwrap_or(Value::Null);
                let block = Block::from_api(&cb, String::new());
                if let Block::Text(t) = &block
                    && !t.is_empty()
                {
                    emit(StreamEvent::TextDelta(t.clone()));
                }
                self.blocks.push((index, block));
            }
            "content_block_delta" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let delta = v.get("delta").cloned().unwrap_or(Value::Null);
                let s = |k: &str| delta.get(k).and_then(Value::as_str).unwrap_or("");
                let Some(block) = self.block(index) else {
                    return Err(ProviderError::Protocol(format!(
                        "delta for unknown content block {index}"
                    )));
                };
                match (delta.get("type").and_then(Value::as_str), block) {
                    (Some("text_delta"), Block::Text(t)) => {
                        let d = s("text");
                        if !d.is_empty() {
                            t.push_str(d);
                            emit(StreamEvent::TextDelta(d.to_string()));
                        }
                    }
                    (Some("input_json_delta"), Block::ToolUse { json, .. }) => {
                        json.push_str(s("partial_json"))
                    }
                    (Some("thinking_delta"), Block::Thinking { text, .. }) => {
                        text.push_str(s("thinking"))
                    }
                    (Some("signature_delta"), Block::Thinking { signature, .. }) => {
                        signature.push_str(s("signature"))
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                if let Some(Block::ToolUse { id, name, json }) = self.block(index) {
                    emit(StreamEvent::ToolCall {
                        id: id.clone(),
                        name: name.clone(),
                        arguments: parse_arguments(json),
                    });
                }
            }
            "message_delta" => {
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(r.to_string());
                }
                if let Some(u) = v.get("usage") {
                    self.merge_usage(u);
                }
            }
            "message_stop" => return Ok(true),
            "error" => {
                let err = v.get("error").cloned().unwrap_or(v.clone());
                return Err(stream_error(&err));
            }
            _ => {} // ping and event types added later
        }
        Ok(false)
    }

    /// Usage counts are cumulative: later events replace earlier values they carry.
    fn merge_usage(&mut self, u: &Value) {
        let get = |k: &str| u.get(k).and_then(Value::as_u64);
        if let Some(n) = get("input_tokens") {
            self.usage.input = n;
        }
        if let Some(n) = get("output_tokens") {
            self.usage.output = n;
        }
        if let Some(n) = get("cache_read_input_tokens") {
            self.usage.cache_read = n;
        }
        if let Some(n) = get("cache_creation_input_tokens") {
            self.usage.cache_write = n;
        }
        let u = &mut self.usage;
        u.total_tokens = u.input + u.output + u.cache_read + u.cache_write;
    }

    /// The completion once the stream ended; without `message_stop` the stream must at least
    /// have carried the final `stop_reason`, otherwise it was cut.
    pub(crate) fn finish(self, terminated: bool) -> Result<Completion, ProviderError> {
        if !terminated && self.stop_reason.is_none() {
            return Err(ProviderError::Protocol(if self.started {
                "stream ended before message_stop".to_string()
            } else {
                "stream ended without a message".to_string()
            }));
        }
        let mut blocks = self.blocks;
        blocks.sort_by_key(|(i, _)| *i);
        let content = blocks
            .into_iter()
            .filter_map(|(_, b)| match b {
                Block::Text(t) if !t.is_empty() => Some(ContentPart::Text { text: t }),
                Block::Thinking { text, signature } => Some(ContentPart::Thinking {
                    thinking: text,
                    thinking_signature: (!signature.is_empty()).then_some(signature),
                }),
                Block::ToolUse { id, name, json } => Some(ContentPart::ToolCall {
                    id,
                    name,
                    arguments: parse_arguments(&json),
                }),
                _ => None,
            })
            .collect();
        let (stop_reason, error_message) = map_stop_reason(self.stop_reason.as_deref());
        Ok(Completion {
            content,
            usage: self.usage,
            stop_reason,
            error_message,
        })
    }
}

fn map_stop_reason(r: Option<&str>) -> (String, Option<String>) {
    match r {
        Some("max_tokens") | Some("model_context_window_exceeded") => ("length".into(), None),
        Some("tool_use") => ("toolUse".into(), None),
        Some("refusal") => (
            "error".into(),
            Some("The model declined to answer.".to_string()),
        ),
        _ => ("stop".into(), None),
    }
}

/// A non-streaming Messages response.
pub(crate) fn from_json(v: &Value) -> Result<Completion, ProviderError> {
    if v.get("type").and_then(Value::as_str) == Some("error") {
        let err = v.get("error").cloned().unwrap_or(Value::Null);
        return Err(stream_error(&err));
    }
    let mut d = Decoder::default();
    if let Some(u) = v.get("usage") {
        d.merge_usage(u);
    }
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::Protocol("response has no content".into()))?;
    for (i, b) in blocks.iter().enumerate() {
        let input = b.get("input").map(Value::to_string).unwrap_or_default();
        d.blocks.push((i as u64, Block::from_api(b, input)));
    }
    d.stop_reason = Some(
        v.get("stop_reason")
            .and_then(Value::as_str)
            .unwrap_or("end_turn")
            .to_string(),
    );
    d.finish(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ToolSpec;

    #[test]
    fn tool_results_merge_into_one_user_turn() {
        let provider = ProviderConfig {
            id: "anthropic".into(),
            base_url: "x".into(),
            api: Api::AnthropicMessages,
            api_key: None,
            headers: vec![],
            models: vec![],
        };
        let call = |id: &str| ContentPart::ToolCall {
            id: id.into(),
            name: "read".into(),
            arguments: json!({"path": "a"}),
        };
        let result = |id: &str| AgentMessage::ToolResult {
            tool_call_id: id.into(),
            tool_name: "read".into(),
            content: vec![ContentPart::text("ok")],
            details: None,
            is_error: false,
            timestamp: 0,
            extra: Map::new(),
        };
        let msgs = vec![
            AgentMessage::user_text("hi"),
            AgentMessage::Assistant {
                content: vec![call("call|1"), call("c2")],
                api: Some("openai-completions".into()),
                provider: None,
                model: None,
                usage: None,
                stop_reason: Some("toolUse".into()),
                error_message: None,
                timestamp: 0,
                extra: Map::new(),
            },
            result("call|1"),
            result("c2"),
        ];
        let req = ChatRequest {
            model: "claude".into(),
            system: Some("sys".into()),
            messages: vec![],
            tools: vec![ToolSpec {
                name: "read".into(),
                description: "d".into(),
                parameters: json!({"type":"object"}),
            }],
            max_tokens: None,
        };
        let body = request_body(&provider, &req, &msgs);
        assert_eq!(body["system"], "sys");
        assert_eq!(body["max_tokens"], 8192);
        let turns = body["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(turns.len(), 3);
        assert_eq!(turns[1]["content"][0]["id"], "call_1");
        assert_eq!(turns[2]["role"], "user");
        assert_eq!(turns[2]["content"].as_array().map(Vec::len), Some(2));
        assert_eq!(turns[2]["content"][0]["tool_use_id"], "call_1");
        assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
    }
}
