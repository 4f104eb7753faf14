//! Transcript message shapes (pi-coding-agent session v3, agent.md §4.5), with the exact JSON
//! field names so transcripts written by the reference gateway load here and the other way
//! round. Unknown keys on assistant and toolResult messages are kept (`extra`); user messages
//! are exactly `{role, content, timestamp}` (callers build them as literals; other keys such as
//! `__openclaw` are dropped when read). Unknown content part types are kept as raw JSON
//! ([`ContentPart::Other`]).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Milliseconds since the Unix epoch, the transcript's `timestamp` unit.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One block of a message's `content`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ContentPart {
    #[serde(rename = "text")]
    Text { text: String },
    #[serde(rename = "image", rename_all = "camelCase")]
    Image { data: String, mime_type: String },
    #[serde(rename = "toolCall")]
    ToolCall {
        id: String,
        name: String,
        #[serde(default)]
        arguments: Value,
    },
    #[serde(rename = "thinking", rename_all = "camelCase")]
    Thinking {
        thinking: String,
        /// Provider signature that must be sent back verbatim (Anthropic).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thinking_signature: Option<String>,
    },
    /// A part type this runtime does not know, kept as it was.
    #[serde(untagged)]
    Other(Value),
}

impl ContentPart {
    pub fn text(s: impl Into<String>) -> ContentPart {
        ContentPart::Text { text: s.into() }
    }
}

/// Token counts of one model call (`usage` on assistant messages). `cost` is not modelled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub total_tokens: u64,
}

impl Usage {
    /// Adds another call's counts (a turn with tool calls makes several model calls).
    pub fn add(&mut self, other: &Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
        self.total_tokens += other.total_tokens;
    }
}

/// A transcript message (`message` of a `type:"message"` entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role")]
pub enum AgentMessage {
    #[serde(rename = "user")]
    User {
        /// A plain string on input is read as one text part.
        #[serde(deserialize_with = "content_from_string_or_parts")]
        content: Vec<ContentPart>,
        #[serde(default)]
        timestamp: u64,
    },
    #[serde(rename = "assistant", rename_all = "camelCase")]
    Assistant {
        #[serde(deserialize_with = "content_from_string_or_parts")]
        content: Vec<ContentPart>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
        /// `stop` | `length` | `toolUse` | `error` | `aborted`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stop_reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_message: Option<String>,
        #[serde(default)]
        timestamp: u64,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    #[serde(rename = "toolResult", rename_all = "camelCase")]
    ToolResult {
        tool_call_id: String,
        #[serde(default)]
        tool_name: String,
        #[serde(deserialize_with = "content_from_string_or_parts")]
        content: Vec<ContentPart>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<Value>,
        #[serde(default)]
        is_error: bool,
        #[serde(default)]
        timestamp: u64,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
}

fn content_from_string_or_parts<'de, D>(d: D) -> Result<Vec<ContentPart>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Parts(Vec<ContentPart>),
        Null(()),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Text(t) => vec![ContentPart::Text { text: t }],
        Raw::Parts(p) => p,
        Raw::Null(()) => Vec::new(),
    })
}

impl AgentMessage {
    /// A user message with one text part, stamped now.
    pub fn user_text(text: impl Into<String>) -> AgentMessage {
        AgentMessage::User {
            content: vec![ContentPart::text(text)],
            timestamp: now_ms(),
        }
    }

    /// A user message with the given parts (text, images), stamped now.
    pub fn user(content: Vec<ContentPart>) -> AgentMessage {
        AgentMessage::User {
            content,
            timestamp: now_ms(),
        }
    }

    /// A plain assistant message (e.g. `chat.inject`, command replies), stamped now.
    pub fn assistant_text(text: impl Into<String>) -> AgentMessage {
        AgentMessage::Assistant {
            content: vec![ContentPart::text(text)],
            api: None,
            provider: None,
            model: None,
            usage: None,
            stop_reason: Some("stop".to_string()),
            error_message: None,
            timestamp: now_ms(),
            extra: Map::new(),
        }
    }

    /// `"user"`, `"assistant"` or `"toolResult"`.
    pub fn role(&self) -> &'static str {
        match self {
            AgentMessage::User { .. } => "user",
            AgentMessage::Assistant { .. } => "assistant",
            AgentMessage::ToolResult { .. } => "toolResult",
        }
    }

    pub fn content(&self) -> &[ContentPart] {
        match self {
            AgentMessage::User { content, .. }
            | AgentMessage::Assistant { content, .. }
            | AgentMessage::ToolResult { content, .. } => content,
        }
    }

    pub fn timestamp(&self) -> u64 {
        match self {
            AgentMessage::User { timestamp, .. }
            | AgentMessage::Assistant { timestamp, .. }
            | AgentMessage::ToolResult { timestamp, .. } => *timestamp,
        }
    }

    /// The concatenated text parts (no separator), ignoring thinking, images and tool calls.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in self.content() {
            if let ContentPart::Text { text } = part {
                out.push_str(text);
            }
        }
        out
    }

    /// The tool calls of an assistant message, in order: `(id, name, arguments)`.
    pub fn tool_calls(&self) -> Vec<(&str, &str, &Value)> {
        match self {
            AgentMessage::Assistant { content, .. } => content
                .iter()
                .filter_map(|p| match p {
                    ContentPart::ToolCall {
                        id,
                        name,
                        arguments,
                    } => Some((id.as_str(), name.as_str(), arguments)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `stopReason` of an assistant message.
    pub fn stop_reason(&self) -> Option<&str> {
        match self {
            AgentMessage::Assistant { stop_reason, .. } => stop_reason.as_deref(),
            _ => None,
        }
    }

    /// `usage` of an assistant message.
    pub fn usage(&self) -> Option<&Usage> {
        match self {
            AgentMessage::Assistant { usage, .. } => usage.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_shapes_round_trip() {
        let lines = [
            json!({"role":"user","content":[{"type":"text","text":"hi"},{"type":"image","data":"AAA=","mimeType":"image/png"}],"timestamp":1737264000000u64}),
            json!({"role":"assistant","content":[{"type":"thinking","thinking":"hm","thinkingSignature":"sig"},{"type":"text","text":"Let me look."},
                {"type":"toolCall","id":"call_1","name":"read","arguments":{"path":"README.md"}}],
                "api":"anthropic-messages","provider":"anthropic","model":"claude-opus-4-6",
                "usage":{"input":1200,"output":45,"cacheRead":0,"cacheWrite":0,"totalTokens":1245},
                "stopReason":"toolUse","timestamp":1737264001000u64,"__openclaw":{"id":"x"}}),
            json!({"role":"toolResult","toolCallId":"call_1","toolName":"read","content":[{"type":"text","text":"…"}],"details":{"n":1},"isError":false,"timestamp":1737264001500u64}),
            json!({"role":"assistant","content":[{"type":"redacted","data":"zzz"}],"timestamp":1u64}),
        ];
        for line in lines {
            let msg: AgentMessage = serde_json::from_value(line.clone())
                .unwrap_or_else(|e| panic!("parse {line}: {e}"));
            assert_eq!(serde_json::to_value(&msg).ok(), Some(line));
        }
    }

    #[test]
    fn string_content_is_one_text_part() {
        let msg: AgentMessage =
            serde_json::from_value(json!({"role":"user","content":"hello","timestamp":5}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(msg.text(), "hello");
        assert_eq!(msg.role(), "user");
    }
}
