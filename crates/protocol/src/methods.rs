//! Params and results of the methods this gateway implements.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hello::PresenceEntry;

pub mod names {
    pub const CONNECT: &str = "connect";
    pub const HEALTH: &str = "health";
    pub const STATUS: &str = "status";
    pub const SYSTEM_PRESENCE: &str = "system-presence";
    pub const SYSTEM_EVENT: &str = "system-event";
    pub const LAST_HEARTBEAT: &str = "last-heartbeat";
    /// Our own extension (not in the reference): live task and queue counts for the soak.
    pub const GATEWAY_RUNTIME_STATS: &str = "gateway.runtimeStats";
}

/// `health` params. The reference ignores whatever it is sent, so this is documentation only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HealthParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<bool>,
}

/// Params of methods that take none (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyParams {}

/// `system-event` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SystemEventParams {
    #[schemars(length(min = 1))]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_input_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// `gateway.runtimeStats` result (our extension, admin only): counts the soak harness samples
/// every second to see leaks that RSS alone hides. Each is read from an existing structure;
/// nothing is counted on the request path for it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeStats {
    /// Tokio tasks alive in the gateway's runtime.
    pub tasks: u64,
    /// Authenticated WebSocket connections in the hub.
    pub connections: u64,
    /// Bytes queued for sending, summed over all hub connections.
    pub queued_bytes: u64,
    /// Sessions with an active agent run.
    pub runs_active: u64,
    /// Runs waiting behind an active run.
    pub runs_queued: u64,
    /// Runs remembered for idempotency (bounded by the dedupe TTL and cap).
    pub runs_tracked: u64,
    /// Channel inbox entries owned by a live run of this process.
    pub inbox_pending: u64,
    /// Cron jobs running now.
    pub cron_running: u64,
    /// `exec` jobs in the registry (foreground and background).
    pub jobs: u64,
}

/// `{ok:true}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OkResult {
    pub ok: bool,
}

/// `health.agents[].heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatSummary {
    pub enabled: bool,
    pub every: String,
    pub every_ms: u64,
    pub prompt: String,
    pub target: String,
    pub ack_max_chars: u64,
}

/// `health.sessions` / `health.agents[].sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionsSummary {
    pub path: String,
    pub count: u64,
    pub recent: Vec<Value>,
}

/// `health.agents[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentHealth {
    pub agent_id: String,
    pub is_default: bool,
    pub heartbeat: HeartbeatSummary,
    pub sessions: SessionsSummary,
}

/// `health` result and `health` event payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthSummary {
    pub ok: bool,
    pub ts: u64,
    pub duration_ms: u64,
    pub channels: BTreeMap<String, Value>,
    pub channel_order: Vec<String>,
    pub channel_labels: BTreeMap<String, String>,
    pub heartbeat_seconds: u64,
    pub default_agent_id: String,
    pub agents: Vec<AgentHealth>,
    pub sessions: SessionsSummary,
}

/// `status.processMemory`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessMemory {
    pub rss_bytes: u64,
}

/// `status.heartbeat.agents[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusHeartbeatAgent {
    pub agent_id: String,
    pub enabled: bool,
    pub every: String,
    pub every_ms: u64,
}

/// `status.heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusHeartbeat {
    pub default_agent_id: String,
    pub agents: Vec<StatusHeartbeatAgent>,
}

/// `status.sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusSessions {
    pub paths: Vec<String>,
    pub count: u64,
    pub recent: Vec<Value>,
}

/// `status` result: a subset of the reference's summary with the same field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusSummary {
    pub runtime_version: String,
    pub heartbeat: StatusHeartbeat,
    pub channel_summary: Vec<Value>,
    pub queued_system_events: Vec<String>,
    pub sessions: StatusSessions,
    pub process_memory: ProcessMemory,
    pub pid: u32,
    pub uptime_ms: u64,
    pub connections: u64,
}

/// `system-presence` result.
pub type SystemPresenceResult = Vec<PresenceEntry>;

pub mod names_live {
    pub const LOGS_TAIL: &str = "logs.tail";
    pub const CONFIG_GET: &str = "config.get";
    pub const CONFIG_SET: &str = "config.set";
    pub const CONFIG_PATCH: &str = "config.patch";
    pub const CONFIG_APPLY: &str = "config.apply";
    pub const CONFIG_SCHEMA: &str = "config.schema";
}

/// `logs.tail` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogsTailParams {
    /// Byte offset returned by the previous call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 5000))]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000000))]
    pub max_bytes: Option<u32>,
}

/// `logs.tail` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogsTailResult {
    pub file: String,
    pub cursor: u64,
    pub size: u64,
    pub lines: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<bool>,
}

/// `config.set` / `config.apply` / `config.patch` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigWriteParams {
    /// JSON5 text: the whole config (set/apply) or a merge patch (patch).
    pub raw: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_delay_ms: Option<u64>,
}

/// One config problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
}

/// `config.get` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigGetResult {
    pub path: String,
    pub exists: bool,
    pub raw: String,
    pub parsed: Value,
    pub valid: bool,
    pub config: Value,
    pub hash: String,
    pub issues: Vec<ConfigIssue>,
}

/// `config.set` / `config.patch` / `config.apply` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigWriteResult {
    pub ok: bool,
    pub path: String,
    pub config: Value,
    pub hash: String,
}
