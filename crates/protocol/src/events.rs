//! Event payloads this gateway emits, and the event names it advertises.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::hello::PresenceEntry;

pub mod names {
    pub const CONNECT_CHALLENGE: &str = "connect.challenge";
    pub const TICK: &str = "tick";
    pub const PRESENCE: &str = "presence";
    pub const HEALTH: &str = "health";
    pub const SHUTDOWN: &str = "shutdown";
    pub const HEARTBEAT: &str = "heartbeat";
    pub const DEVICE_PAIR_REQUESTED: &str = "device.pair.requested";
    pub const DEVICE_PAIR_RESOLVED: &str = "device.pair.resolved";
    pub const DEVICE_PAIR_CHANGED: &str = "device.pair.changed";
    pub const NODE_PAIR_REQUESTED: &str = "node.pair.requested";
    pub const NODE_PAIR_RESOLVED: &str = "node.pair.resolved";
    pub const NODE_INVOKE_REQUEST: &str = "node.invoke.request";
    pub const AGENT: &str = "agent";
    pub const CHAT: &str = "chat";
    /// Only to connections that called `sessions.subscribe`.
    pub const SESSIONS_CHANGED: &str = "sessions.changed";
    /// Scheduler changes and runs (`cron.*`).
    pub const CRON: &str = "cron";
    /// Only to operators with `operator.approvals` or admin.
    pub const EXEC_APPROVAL_REQUESTED: &str = "exec.approval.requested";
    pub const EXEC_APPROVAL_RESOLVED: &str = "exec.approval.resolved";

    /// Every event this gateway can send: `hello-ok.features.events` is exactly this list, and
    /// the hub refuses (in debug builds) to send a name missing from it, so the two cannot drift.
    pub const ALL: &[&str] = &[
        CONNECT_CHALLENGE,
        TICK,
        PRESENCE,
        HEALTH,
        SHUTDOWN,
        HEARTBEAT,
        DEVICE_PAIR_REQUESTED,
        DEVICE_PAIR_RESOLVED,
        DEVICE_PAIR_CHANGED,
        NODE_PAIR_REQUESTED,
        NODE_PAIR_RESOLVED,
        NODE_INVOKE_REQUEST,
        AGENT,
        CHAT,
        SESSIONS_CHANGED,
        CRON,
        EXEC_APPROVAL_REQUESTED,
        EXEC_APPROVAL_RESOLVED,
    ];
}

/// `connect.challenge` `{nonce, ts, capabilities?}` — first frame on every socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectChallenge {
    pub nonce: String,
    pub ts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
}

/// `tick` `{ts}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tick {
    pub ts: u64,
}

/// `presence` `{presence}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PresenceEvent {
    pub presence: Vec<PresenceEntry>,
}

/// `shutdown` `{reason, restartExpectedMs?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Shutdown {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_expected_ms: Option<u64>,
}

/// `heartbeat` event payload (also the `last-heartbeat` result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatEvent {
    pub ts: u64,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

// The run events below declare their fields in JSON key order (alphabetical): the payloads
// they replaced were `serde_json::Value` objects, which serialise sorted, so the bytes on the
// wire stay the same.

/// Which stream of a run an `agent` event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AgentStream {
    Lifecycle,
    Assistant,
    Tool,
    Compaction,
}

/// `agent` event payload `{runId, seq, stream, ts, data, sessionKey}`; `seq` counts per run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentEvent {
    pub data: AgentEventData,
    pub run_id: String,
    pub seq: u64,
    pub session_key: String,
    pub stream: AgentStream,
    pub ts: u64,
}

/// The `data` of an `agent` event, by stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AgentEventData {
    Lifecycle(LifecycleData),
    Assistant(AssistantData),
    Tool(ToolData),
    Compaction(CompactionData),
}

impl AgentEventData {
    pub fn stream(&self) -> AgentStream {
        match self {
            AgentEventData::Lifecycle(_) => AgentStream::Lifecycle,
            AgentEventData::Assistant(_) => AgentStream::Assistant,
            AgentEventData::Tool(_) => AgentStream::Tool,
            AgentEventData::Compaction(_) => AgentStream::Compaction,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LifecyclePhase {
    Start,
    End,
    Error,
}

/// `lifecycle` data: the run started, ended (`stopReason`, `aborted`) or failed (`error`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub phase: LifecyclePhase,
    pub started_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CompactionPhase {
    Start,
    End,
}

/// `compaction` data: the session's context is being summarised (`start`) or was
/// (`end`: `willRetry` when the model call that overflowed is retried on the compacted context,
/// `completed` false when no compaction entry was written, token estimates around it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompactionData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    pub phase: CompactionPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_before: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub will_retry: Option<bool>,
}

/// `assistant` data: the reply so far (`text`) and what this event added (`delta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AssistantData {
    pub delta: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ToolPhase {
    Start,
    Update,
    Result,
}

/// `tool` data: a call starts (`args`), reports partial output (`partialResult`) or returns
/// (`result`, `isError`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_result: Option<serde_json::Value>,
    pub phase: ToolPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    pub tool_call_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatState {
    Delta,
    Final,
    Aborted,
    Error,
}

/// `chat` event payload: a session's run as the chat sees it (`seq` counts per run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<ChatMessage>,
    pub run_id: String,
    pub seq: u64,
    pub session_key: String,
    pub state: ChatState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageTotals>,
}

impl ChatEvent {
    /// An event with no message and no extras.
    pub fn new(run_id: &str, session_key: &str, seq: u64, state: ChatState) -> Self {
        ChatEvent {
            delta_text: None,
            error_kind: None,
            error_message: None,
            message: None,
            run_id: run_id.to_string(),
            seq,
            session_key: session_key.to_string(),
            state,
            stop_reason: None,
            usage: None,
        }
    }
}

/// The assistant message of a `chat` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChatMessage {
    pub content: Vec<ChatText>,
    pub role: String,
    pub timestamp: u64,
}

impl ChatMessage {
    pub fn assistant(text: &str, timestamp: u64) -> Self {
        ChatMessage {
            content: vec![ChatText {
                text: text.to_string(),
                kind: "text".into(),
            }],
            role: "assistant".into(),
            timestamp,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChatText {
    pub text: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Token counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageTotals {
    pub cache_read: u64,
    pub cache_write: u64,
    pub input: u64,
    pub output: u64,
    pub total: u64,
}
