//! Params, results and events of the methods a Control UI calls on load (agents and identity,
//! session-event subscription, update status, user prefs, approval/question queues, setup
//! detection, plugin surfaces) and of the WhatsApp QR login over RPC (`web.login.*`).
//! Params are closed objects, as the reference's schemas.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod names {
    pub const AGENT_IDENTITY_GET: &str = "agent.identity.get";
    pub const AGENTS_LIST: &str = "agents.list";
    pub const SESSIONS_SUBSCRIBE: &str = "sessions.subscribe";
    pub const SESSIONS_UNSUBSCRIBE: &str = "sessions.unsubscribe";
    pub const SESSIONS_OBSERVER_VISIBILITY: &str = "sessions.observer.visibility";
    pub const UPDATE_STATUS: &str = "update.status";
    pub const USERS_PREFS_GET: &str = "users.prefs.get";
    pub const USERS_PREFS_SET: &str = "users.prefs.set";
    pub const EXEC_APPROVAL_LIST: &str = "exec.approval.list";
    pub const PLUGIN_APPROVAL_LIST: &str = "plugin.approval.list";
    pub const OPENCLAW_APPROVAL_LIST: &str = "openclaw.approval.list";
    pub const QUESTION_LIST: &str = "question.list";
    pub const OPENCLAW_SETUP_DETECT: &str = "openclaw.setup.detect";
    pub const PLUGIN_SURFACE_REFRESH: &str = "plugin.surface.refresh";
    pub const PLUGINS_CONTROL_UI_LIST: &str = "plugins.controlUi.list";
    pub const WEB_LOGIN_START: &str = "web.login.start";
    pub const WEB_LOGIN_WAIT: &str = "web.login.wait";
}

/// `agent.identity.get` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentIdentityParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
}

/// `agent.identity.get` result: the assistant's display identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentIdentityResult {
    pub agent_id: String,
    pub name: String,
    /// `agent` (from `agents.list[].identity`/`name`) or `default`.
    pub name_source: String,
    pub avatar: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
}

/// `agents.list[].identity` as configured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// `agents.list` result `.agents[].model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentModelSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<Vec<String>>,
}

/// One `agents.list` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentSummary {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<AgentIdentity>,
    pub workspace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<AgentModelSummary>,
}

/// `agents.list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentsListResult {
    pub default_id: String,
    pub main_key: String,
    /// `per-sender` | `global`.
    pub scope: String,
    pub agents: Vec<AgentSummary>,
}

/// `sessions.subscribe` result (`list` only when `sessions.list` params were given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionsSubscribeResult {
    pub subscribed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<Value>,
}

/// `sessions.observer.visibility` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObserverVisibilityParams {
    pub visible: bool,
}

/// `sessions.changed` event (sent only to connections that called `sessions.subscribe`):
/// a session was reset (`reason: new|reset`), deleted (`reason: delete`), or one of its runs
/// ended (`phase: end|error` with `runId`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsChanged {
    pub session_key: String,
    pub agent_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub ts: u64,
}

/// `update.status` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateStatusParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_checkout: Option<bool>,
}

/// `update.status` result: this gateway has no update checker, so no update is ever known to
/// be available and no update run exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStatusResult {
    pub sentinel: Option<Value>,
    pub update_available: Option<Value>,
    pub effective_channel: String,
}

/// `users.prefs.get` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsersPrefsGetParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub keys: Option<Vec<String>>,
}

/// `users.prefs.set` params: at most 32 entries; `expectedEntries` is a compare-and-set guard
/// (a key absent from the store compares equal to `null`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsersPrefsSetParams {
    pub entries: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_entries: Option<BTreeMap<String, Value>>,
}

/// `users.prefs.get` / `users.prefs.set` result: `status` is `ok`, `conflict` (set only) or
/// `no_durable_identity` (the caller proved no device identity to keep prefs for).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UsersPrefsResult {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<BTreeMap<String, Value>>,
}

/// `question.list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QuestionListResult {
    pub questions: Vec<Value>,
}

/// `openclaw.setup.detect` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetupDetectParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_id: Option<String>,
}

/// One `openclaw.setup.detect` candidate (we only report the model already configured).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupCandidate {
    /// `existing-model`.
    pub kind: String,
    pub label: String,
    pub detail: String,
    pub model_ref: String,
    pub recommended: bool,
}

/// `openclaw.setup.detect` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupDetectResult {
    pub candidates: Vec<SetupCandidate>,
    /// Provider credential flows this gateway can run from the UI: none (configure
    /// `models.providers` / env keys instead).
    pub manual_providers: Vec<Value>,
    pub workspace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured_model: Option<String>,
    pub setup_complete: bool,
}

/// `plugin.surface.refresh` params (`surface` is checked by the handler, as the reference does,
/// so a missing one is `surface required`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginSurfaceRefreshParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_url: Option<String>,
}

/// `plugins.controlUi.list` result: the browser modules plugins add to the Control UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PluginsControlUiCatalog {
    pub revision: String,
    pub plugins: Vec<Value>,
    pub diagnostics: Vec<Value>,
}

/// `web.login.start` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebLoginStartParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// `web.login.wait` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebLoginWaitParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16384))]
    pub current_qr_data_url: Option<String>,
}

/// `web.login.start` / `web.login.wait` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebLoginResult {
    pub connected: bool,
    pub message: String,
    /// `data:image/png;base64,…` of the pairing QR, while one is waiting to be scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_data_url: Option<String>,
}
