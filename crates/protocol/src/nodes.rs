//! Params and event payloads of the device-pairing and node methods (`device.*`, `node.*`).
//! Params are closed objects, as the reference's schemas: an unknown key is a protocol error.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod names {
    pub const DEVICE_PAIR_LIST: &str = "device.pair.list";
    pub const DEVICE_PAIR_APPROVE: &str = "device.pair.approve";
    pub const DEVICE_PAIR_REJECT: &str = "device.pair.reject";
    pub const DEVICE_PAIR_REMOVE: &str = "device.pair.remove";
    pub const DEVICE_PAIR_RENAME: &str = "device.pair.rename";
    pub const DEVICE_TOKEN_ROTATE: &str = "device.token.rotate";
    pub const DEVICE_TOKEN_REVOKE: &str = "device.token.revoke";
    pub const DEVICE_SCOPES_REQUEST_UPGRADE: &str = "device.scopes.requestUpgrade";
    pub const DEVICE_SCOPES_WAIT_UPGRADE: &str = "device.scopes.waitUpgrade";
    pub const NODE_PAIR_LIST: &str = "node.pair.list";
    pub const NODE_PAIR_APPROVE: &str = "node.pair.approve";
    pub const NODE_PAIR_REJECT: &str = "node.pair.reject";
    pub const NODE_PAIR_REMOVE: &str = "node.pair.remove";
    pub const NODE_PAIR_REQUEST: &str = "node.pair.request";
    pub const NODE_PAIR_VERIFY: &str = "node.pair.verify";
    pub const NODE_RENAME: &str = "node.rename";
    pub const NODE_LIST: &str = "node.list";
    pub const NODE_DESCRIBE: &str = "node.describe";
    pub const NODE_INVOKE: &str = "node.invoke";
    pub const NODE_INVOKE_RESULT: &str = "node.invoke.result";
    pub const NODE_INVOKE_PROGRESS: &str = "node.invoke.progress";
    pub const NODE_EVENT: &str = "node.event";
    pub const NODE_PENDING_ENQUEUE: &str = "node.pending.enqueue";
    pub const NODE_PENDING_DRAIN: &str = "node.pending.drain";
    pub const NODE_PENDING_PULL: &str = "node.pending.pull";
    pub const NODE_PENDING_ACK: &str = "node.pending.ack";
    pub const NODE_RUNNER_INVENTORY_UPDATE: &str = "node.runnerInventory.update";
    pub const NODE_SKILLS_UPDATE: &str = "node.skills.update";
    pub const NODE_PLUGIN_TOOLS_UPDATE: &str = "node.pluginTools.update";
    pub const SKILLS_BINS: &str = "skills.bins";
    pub const EXEC_APPROVALS_NODE_GET: &str = "exec.approvals.node.get";
    pub const EXEC_APPROVALS_NODE_SET: &str = "exec.approvals.node.set";
}

/// `{requestId}` (`device.pair.approve/reject`, `node.pair.approve/reject`,
/// `device.scopes.waitUpgrade`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestIdParams {
    #[schemars(length(min = 1))]
    pub request_id: String,
}

/// `{deviceId}` (`device.pair.remove`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceIdParams {
    #[schemars(length(min = 1))]
    pub device_id: String,
}

/// `device.pair.rename {deviceId, label}` (label 1–64 characters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceRenameParams {
    #[schemars(length(min = 1))]
    pub device_id: String,
    #[schemars(length(min = 1, max = 64))]
    pub label: String,
}

/// `device.token.rotate {deviceId, role, scopes?}` and `device.token.revoke {deviceId, role}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceTokenParams {
    #[schemars(length(min = 1))]
    pub device_id: String,
    #[schemars(length(min = 1))]
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// `device.scopes.requestUpgrade {scopes}` (1–8 distinct scopes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScopeUpgradeParams {
    #[schemars(length(min = 1, max = 8))]
    pub scopes: Vec<String>,
}

/// `{nodeId}` (`node.describe`, `node.pair.remove`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeIdParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
}

/// `node.rename {nodeId, displayName}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeRenameParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
    #[schemars(length(min = 1))]
    pub display_name: String,
}

/// `node.invoke` params (the `turnSource*` and `sessionKey` fields are accepted and unused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeInvokeParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
    #[schemars(length(min = 1))]
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[schemars(length(min = 1))]
    pub idempotency_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_source_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_source_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_source_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_source_thread_id: Option<Value>,
}

/// `error` of a node's `node.invoke.result`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `node.invoke.result` (node → gateway). Null `payloadJSON`/`error` are tolerated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeInvokeResultParams {
    #[schemars(length(min = 1))]
    pub id: String,
    #[schemars(length(min = 1))]
    pub node_id: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[serde(
        default,
        rename = "payloadJSON",
        skip_serializing_if = "Option::is_none"
    )]
    pub payload_json: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<NodeError>,
}

/// `node.invoke.progress {invokeId, nodeId, seq, chunk}` (chunk ≤ 16 KiB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeInvokeProgressParams {
    #[schemars(length(min = 1))]
    pub invoke_id: String,
    #[schemars(length(min = 1))]
    pub node_id: String,
    pub seq: u64,
    #[schemars(length(max = 16384))]
    pub chunk: String,
}

/// `node.event {event, payload?, payloadJSON?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeEventParams {
    #[schemars(length(min = 1))]
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[serde(
        default,
        rename = "payloadJSON",
        skip_serializing_if = "Option::is_none"
    )]
    pub payload_json: Option<String>,
}

/// Kinds of work an operator may queue for a node that is away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PendingWorkType {
    #[serde(rename = "status.request")]
    StatusRequest,
    #[serde(rename = "location.request")]
    LocationRequest,
}

/// `node.pending.enqueue {nodeId, type, priority?, expiresInMs?, wake?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePendingEnqueueParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
    #[serde(rename = "type")]
    pub kind: PendingWorkType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<PendingPriority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1000, max = 86_400_000))]
    pub expires_in_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PendingPriority {
    Default,
    Normal,
    High,
}

/// `node.pending.drain {maxItems?}` (1–10).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePendingDrainParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub max_items: Option<u32>,
}

/// `node.pending.ack {ids}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePendingAckParams {
    #[schemars(length(min = 1))]
    pub ids: Vec<String>,
}

/// One queued work item (`node.pending.*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingWorkItem {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: PendingWorkType,
    pub priority: PendingPriority,
    pub created_at_ms: u64,
    pub expires_at_ms: Option<u64>,
}

/// `device.pair.resolved` / `node.pair.resolved` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PairResolved {
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    pub decision: String,
    pub ts: u64,
}

/// `node.invoke.request` (gateway → the one node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeRequest {
    pub id: String,
    pub node_id: String,
    pub command: String,
    #[serde(rename = "paramsJSON")]
    pub params_json: Option<String>,
    pub timeout_ms: u64,
    pub idempotency_key: String,
}

/// `node.pair.request` (2026.1–2026.6 nodes that pair outside the connect path).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePairRequestParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent: Option<bool>,
}

/// `node.pair.verify {nodeId, token}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePairVerifyParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
    #[schemars(length(min = 1))]
    pub token: String,
}

/// `exec.approvals.node.get {nodeId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecApprovalsNodeGetParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
}

/// `exec.approvals.node.set {nodeId, file, baseHash?}` (`native` policies are not supported).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecApprovalsNodeSetParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_hash: Option<String>,
}
