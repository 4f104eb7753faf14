//! Params and results of the session methods beyond list/reset/delete (`sessions.patch`,
//! `preview`, `resolve`, `get`, `create`, `compact`), `chat.inject`, and the model catalog
//! (`models.list`) — agent.md §3.3, §4.3, §5; shapes from the reference 2026.9.6 recordings.
//! Params are closed objects, as the reference's schemas.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub mod names {
    pub const MODELS_LIST: &str = "models.list";
    pub const SESSIONS_PATCH: &str = "sessions.patch";
    pub const SESSIONS_PREVIEW: &str = "sessions.preview";
    pub const SESSIONS_RESOLVE: &str = "sessions.resolve";
    pub const SESSIONS_GET: &str = "sessions.get";
    pub const SESSIONS_CREATE: &str = "sessions.create";
    pub const SESSIONS_COMPACT: &str = "sessions.compact";
    pub const CHAT_INJECT: &str = "chat.inject";
    pub const COMMANDS_LIST: &str = "commands.list";
}

/// Longest session label the reference accepts.
pub const SESSION_LABEL_MAX_LENGTH: u32 = 512;

/// Level names `sessions.patch` accepts per field (checked by the handler, which names the
/// path; the reference's schema takes any non-empty string and checks later).
pub mod levels {
    pub const THINKING: &[&str] = &["off", "minimal", "low", "medium", "high", "xhigh"];
    pub const VERBOSE: &[&str] = &["off", "on", "full"];
    pub const TRACE: &[&str] = &["off", "on", "raw"];
    pub const REASONING: &[&str] = &["off", "on", "stream"];
    pub const ELEVATED: &[&str] = &["off", "on", "ask", "full"];
    pub const EXEC_HOST: &[&str] = &["sandbox", "gateway", "node"];
    pub const EXEC_SECURITY: &[&str] = &["deny", "allowlist", "full"];
    pub const EXEC_ASK: &[&str] = &["off", "on-miss", "always"];
}

/// `Some(None)` for an explicit `null` (clear the field), `Some(Some(v))` for a value, and
/// (with `#[serde(default)]`) `None` when the key is absent.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `sessions.patch` params: every field but `key` is optional, and `null` clears it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionsPatchParams {
    #[schemars(length(min = 1))]
    pub key: String,
    /// The agent that owns `key` when the key does not say (`main`, `global`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_id: Option<String>,
    /// Refuse the patch when the session was reset or replaced meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub expected_session_id: Option<String>,
    /// `true` archives the session (`archivedAt`), `false`/`null` brings it back.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub archived: Option<Option<bool>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1, max = 512))]
    pub label: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub thinking_level: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub fast_mode: Option<Option<bool>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub verbose_level: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub trace_level: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub reasoning_level: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_usage: Option<Option<ResponseUsage>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub elevated_level: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub exec_host: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub exec_security: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub exec_ask: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub exec_node: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub model: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub spawned_by: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub spawn_depth: Option<Option<u32>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub send_policy: Option<Option<SendPolicy>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub group_activation: Option<Option<GroupActivation>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResponseUsage {
    Off,
    Tokens,
    Full,
    /// Older clients' spelling of `tokens`.
    On,
}

impl ResponseUsage {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseUsage::Off => "off",
            ResponseUsage::Tokens => "tokens",
            ResponseUsage::Full => "full",
            ResponseUsage::On => "on",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SendPolicy {
    Allow,
    Deny,
}

impl SendPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            SendPolicy::Allow => "allow",
            SendPolicy::Deny => "deny",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupActivation {
    Mention,
    Always,
}

impl GroupActivation {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupActivation::Mention => "mention",
            GroupActivation::Always => "always",
        }
    }
}

/// The model a session's next run uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedModel {
    pub model_provider: Option<String>,
    pub model: Option<String>,
}

/// `sessions.patch` result (the entry is the session row as stored, free-form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsPatchResult {
    pub ok: bool,
    pub path: String,
    pub key: String,
    pub entry: Value,
    pub resolved: ResolvedModel,
}

/// `sessions.preview` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionsPreviewParams {
    #[schemars(length(min = 1))]
    pub keys: Vec<NonEmpty>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 20))]
    pub max_chars: Option<u32>,
}

/// A non-empty string (array items of `sessions.preview.keys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct NonEmpty(#[schemars(length(min = 1))] pub String);

/// `sessions.preview` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsPreviewResult {
    pub ts: u64,
    pub previews: Vec<SessionPreview>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionPreview {
    pub key: String,
    /// `ok`, `empty`, `missing` or `error`.
    pub status: String,
    pub items: Vec<PreviewItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewItem {
    pub role: String,
    pub text: String,
}

/// `sessions.resolve` params: one of `key`, `sessionId`, `label`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionsResolveParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub spawned_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_global: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_unknown: Option<bool>,
}

/// `sessions.get` params (`key` or `sessionKey`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionsGetParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
}

/// `sessions.create` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionsCreateParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub parent_session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `sessions.compact` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionsCompactParams {
    #[schemars(length(min = 1))]
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_lines: Option<u32>,
}

/// `sessions.compact` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsCompactResult {
    pub ok: bool,
    pub key: String,
    pub compacted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A summarising compaction's numbers (`tokensBefore`, `tokensAfter`, `firstKeptEntryId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

/// `chat.inject` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatInjectParams {
    #[schemars(length(min = 1))]
    pub session_key: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<Value>,
}

/// `chat.inject` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatInjectResult {
    pub ok: bool,
    pub message_id: String,
}

/// `models.list` params (the reference's 2026.9 set; `agentId`, `provider` and `view` are
/// honoured, the others accepted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelsListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub auth_profile_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<ModelsTask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_details: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_provider_capabilities: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_default_models: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<ModelsView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelsTask {
    Chat,
    Decision,
    All,
}

/// `default`: the allowlist when one is configured, else the catalog; `configured`: the
/// allowlist / configured models; `all` and `provider-config`: the whole catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ModelsView {
    Default,
    Configured,
    ProviderConfig,
    All,
}

/// `models.list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelsListResult {
    pub models: Vec<ModelChoice>,
}

/// One model as `models.list` reports it (recorded shape: id, name, provider,
/// contextWindow, reasoning, tags, thinkingLevels, thinkingDefault, available).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelChoice {
    pub id: String,
    pub name: String,
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub context_window: u64,
    pub reasoning: bool,
    pub input: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub thinking_levels: Vec<ThinkingLevelOption>,
    pub thinking_default: String,
    pub available: bool,
    /// Why not `available` (`missing-auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingLevelOption {
    pub id: String,
    pub label: String,
}

/// `commands.list` params: which agent's surface, and which kind of command (`text` = typed
/// `/cmd`, `native` = a platform's command menu, `both`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandsListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<CommandScope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_args: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandScope {
    Text,
    Native,
    Both,
}
