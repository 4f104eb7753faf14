//! Typed models of the sections the daemon acts on beyond `gateway` (`models`, `agents`, `tools`,
//! `bindings`, `hooks`, `messages`, `commands`, `media`, `gateway.http`). Each struct names the
//! keys we read; every other key is kept in `rest` and written back unchanged, so a reference
//! config round-trips. Wrong types are load errors with their key path (serde), and
//! [`OpenClawConfig::check_sections`](crate::OpenClawConfig::check_sections) adds the few rules
//! serde cannot say (a non-empty id, a non-negative number), so a broken section is refused at
//! load and reload instead of failing every run later.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

/// Keys of a section that this gateway does not read (kept as they are).
pub type Rest = BTreeMap<String, Value>;

/// `models`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModelsMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<BTreeMap<String, ModelProviderConfig>>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `models.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelsMode {
    Merge,
    Replace,
}

/// `models.providers.<id>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelProviderConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// `openai-completions`, `anthropic-messages`, …; an API this gateway does not speak skips
    /// the provider with a warning (the reference's other APIs stay loadable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// A string, or a reference secret object (not resolved here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<ModelDefinition>>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `models.providers.<id>.models[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelDefinition {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<bool>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `agents.defaults.model` / `agents.list[].model`: `"provider/model"` or
/// `{primary, fallbacks}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ModelSpec {
    Primary(String),
    Chain(ModelChainSpec),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelChainSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<Vec<String>>,
    #[serde(flatten)]
    pub rest: Rest,
}

impl ModelSpec {
    /// (primary, fallbacks), trimmed, empty entries dropped.
    pub fn parts(&self) -> (Option<String>, Option<Vec<String>>) {
        let clean = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        match self {
            ModelSpec::Primary(s) => (clean(s), None),
            ModelSpec::Chain(c) => (
                c.primary.as_deref().and_then(clean),
                c.fallbacks
                    .as_ref()
                    .map(|f| f.iter().filter_map(|s| clean(s)).collect()),
            ),
        }
    }
}

/// `tools` and `agents.list[].tools`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
    /// `tools.web` (`web_search`, `web_fetch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebToolsConfig>,
    /// `tools.sessions` (what `sessions_*` tools may see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionToolsConfig>,
    /// `tools.agentToAgent` (`sessions_send` across agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_to_agent: Option<AgentToAgentConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecToolConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elevated: Option<ElevatedConfig>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `tools.web`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebToolsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<WebSearchConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<WebFetchConfig>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `tools.exec` and `agents.list[].tools.exec` (agent.md §7.2). `security`/`ask` stay
/// strings here: the gateway reads an unknown value as the strictest one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecToolConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_sec: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_ms: Option<u64>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `tools.web.search`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebSearchConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// A string (or `${ENV}`); other secret forms are kept but not read here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// The Brave API origin (default `https://api.search.brave.com`): for proxies and tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `tools.web.fetch`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebFetchConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars_cap: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `tools.sessions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionToolsConfig {
    /// `self` | `tree` (default) | `agent` | `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `tools.agentToAgent`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentToAgentConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Agent ids (globs with `*`) that may talk to each other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `tools.elevated` and `agents.list[].tools.elevated`: who may run `exec` with
/// `elevated: true` (`allowFrom: {<channel>: [sender ids]}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ElevatedConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_from: Option<BTreeMap<String, Vec<Value>>>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `agents.defaults.heartbeat`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_max_chars: Option<u64>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `messages.groupChat` and `agents.list[].groupChat`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupChatConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention_patterns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_limit: Option<u64>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `agents.list[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentEntry {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_chat: Option<GroupChatConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<AgentIdentityConfig>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `agents.list[].identity`: how the assistant presents itself (Control UI, `agent.identity.get`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentIdentityConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(flatten)]
    pub rest: Rest,
}

impl AgentEntry {
    /// Whether this entry is agent `id` (ids compare trimmed, case-insensitively).
    pub fn is(&self, id: &str) -> bool {
        self.id.trim().eq_ignore_ascii_case(id.trim())
    }
}

/// `bindings[]`: routes inbound messages to an agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// `"route"` (default) or another kind this gateway does not route by.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub agent_id: String,
    #[serde(rename = "match")]
    pub matches: BindingMatch,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `bindings[].match`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingMatch {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<BindingPeer>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `bindings[].match.peer`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingPeer {
    /// `direct` (or `dm`), `group`, `channel`.
    pub kind: String,
    /// A string or a number (Telegram chat ids).
    pub id: Value,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `hooks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HooksConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `messages`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagesConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_chat: Option<GroupChatConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueConfig>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `messages.queue`: what a message does when its session already has a run (agent.md §9).
/// Unset keys take the reference 2026.9 defaults (mode `steer`, 500 ms, cap 20, `summarize`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<QueueMode>,
    /// Quiet window (ms) before queued followups / a collected batch run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debounce_ms: Option<u64>,
    /// Most messages waiting per session (values below 1 are ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<QueueDrop>,
    /// Mode per channel id (`telegram`, `webchat`, …), over `mode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_channel: Option<BTreeMap<String, QueueMode>>,
    /// Quiet window per channel id, over `debounceMs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debounce_ms_by_channel: Option<BTreeMap<String, u64>>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `messages.queue.mode` (and `byChannel` values, and the per-session `/queue` override).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum QueueMode {
    /// Into the running turn at its next boundary; a followup when it cannot take it.
    #[serde(rename = "steer")]
    Steer,
    /// Its own turn after the current one.
    #[serde(rename = "followup")]
    Followup,
    /// Queued messages become one turn after a quiet window.
    #[serde(rename = "collect")]
    Collect,
    /// Older spelling of steer-and-keep; steered here (the backlog copy is not kept).
    #[serde(rename = "steer-backlog", alias = "steer+backlog")]
    SteerBacklog,
    /// Legacy alias of `steer`.
    #[serde(rename = "queue")]
    Queue,
    /// Abort the active run, run the newest message.
    #[serde(rename = "interrupt")]
    Interrupt,
}

impl QueueMode {
    /// The reference's lenient reading of a stored `/queue` value (unknown ⇒ `None`).
    pub fn parse(s: &str) -> Option<QueueMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "steer" => Some(QueueMode::Steer),
            "followup" | "follow-up" | "followups" => Some(QueueMode::Followup),
            "collect" | "coalesce" => Some(QueueMode::Collect),
            "steer-backlog" | "steer+backlog" => Some(QueueMode::SteerBacklog),
            "queue" | "queued" => Some(QueueMode::Queue),
            "interrupt" | "interrupts" | "abort" => Some(QueueMode::Interrupt),
            _ => None,
        }
    }
}

/// `messages.queue.drop`: what happens when `cap` messages already wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueueDrop {
    /// Drop the oldest waiting message.
    Old,
    /// Refuse the newest one.
    New,
    /// Drop the oldest but tell the model what it said (a summary line in the next turn).
    Summarize,
}

impl QueueDrop {
    pub fn parse(s: &str) -> Option<QueueDrop> {
        match s.trim().to_ascii_lowercase().as_str() {
            "old" | "oldest" => Some(QueueDrop::Old),
            "new" | "newest" => Some(QueueDrop::New),
            "summarize" | "summary" => Some(QueueDrop::Summarize),
            _ => None,
        }
    }
}

/// `commands` (chat commands). `native` is a boolean or `"auto"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bash: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_access_groups: Option<bool>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `cron`: the scheduler (`enabled` default true; `maxConcurrentRuns` default 1; `store` = the
/// jobs file, default `<state>/cron/jobs.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_concurrent_runs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `media`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaConfig {
    /// How long inbound media is kept (hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_hours: Option<Number>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `canvasHost`: the canvas/A2UI host mounted on the gateway port (`port` is accepted for the
/// old standalone listener, which this gateway does not run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanvasHostConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_reload: Option<bool>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `gateway.http`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayHttpConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<HttpEndpoints>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `gateway.http.endpoints`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpEndpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_completions: Option<EndpointToggle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses: Option<EndpointToggle>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `gateway.http.endpoints.<name>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointToggle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// A rule serde cannot express, broken: (key path, message).
pub type SectionIssue = (String, String);

/// Non-negative, finite.
fn non_negative(n: &Number) -> bool {
    n.as_u64().is_some() || n.as_f64().is_some_and(|f| f.is_finite() && f >= 0.0)
}

pub(crate) fn check_models(models: &ModelsConfig) -> Result<(), SectionIssue> {
    for (id, p) in models.providers.iter().flatten() {
        let path = format!("models.providers.{id}");
        if id.trim().is_empty() {
            return Err(("models.providers".into(), "empty provider id".into()));
        }
        for (i, m) in p.models.iter().flatten().enumerate() {
            let at = format!("{path}.models[{i}]");
            if m.id.trim().is_empty() {
                return Err((format!("{at}.id"), "required string".into()));
            }
            for (key, n) in [
                ("contextWindow", &m.context_window),
                ("maxTokens", &m.max_tokens),
            ] {
                if n.as_ref().is_some_and(|n| !non_negative(n)) {
                    return Err((format!("{at}.{key}"), "expected a positive number".into()));
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn check_agents(list: &[AgentEntry]) -> Result<(), SectionIssue> {
    for (i, a) in list.iter().enumerate() {
        if a.id.trim().is_empty() {
            return Err((format!("agents.list[{i}].id"), "required string".into()));
        }
    }
    Ok(())
}

pub(crate) fn check_bindings(list: &[Binding]) -> Result<(), SectionIssue> {
    for (i, b) in list.iter().enumerate() {
        if b.agent_id.trim().is_empty() {
            return Err((format!("bindings[{i}].agentId"), "required string".into()));
        }
        if b.matches.channel.trim().is_empty() {
            return Err((
                format!("bindings[{i}].match.channel"),
                "required string".into(),
            ));
        }
        if let Some(peer) = &b.matches.peer
            && !(peer.id.is_string() || peer.id.is_number())
        {
            return Err((
                format!("bindings[{i}].match.peer.id"),
                "expected a string or a number".into(),
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_media(media: &MediaConfig) -> Result<(), SectionIssue> {
    if media.ttl_hours.as_ref().is_some_and(|n| !non_negative(n)) {
        return Err(("media.ttlHours".into(), "expected a positive number".into()));
    }
    Ok(())
}

impl MediaConfig {
    /// `ttlHours` as a float, when set.
    pub fn ttl_hours(&self) -> Option<f64> {
        self.ttl_hours.as_ref().and_then(Number::as_f64)
    }
}

impl ModelDefinition {
    /// A numeric field as an integer (fractions dropped), when set.
    pub fn whole(n: &Option<Number>) -> Option<u64> {
        n.as_ref()
            .and_then(|n| n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)))
    }
}

/// `gateway.nodes`: which node commands may be invoked beyond the platform defaults. Both the
/// 2026.2 names (`allowCommands`/`denyCommands`) and the newer `commands.{allow,deny}` are read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodesConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_commands: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_commands: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<NodeCommandsConfig>,
    #[serde(flatten)]
    pub rest: Rest,
}

/// `gateway.nodes.commands`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeCommandsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
    #[serde(flatten)]
    pub rest: Rest,
}

impl NodesConfig {
    /// Extra allowed commands (trimmed, both spellings).
    pub fn allowed(&self) -> Vec<String> {
        trimmed(
            &self.allow_commands,
            self.commands.as_ref().and_then(|c| c.allow.as_ref()),
        )
    }

    /// Denied commands (trimmed, both spellings).
    pub fn denied(&self) -> Vec<String> {
        trimmed(
            &self.deny_commands,
            self.commands.as_ref().and_then(|c| c.deny.as_ref()),
        )
    }
}

fn trimmed(a: &Option<Vec<String>>, b: Option<&Vec<String>>) -> Vec<String> {
    a.iter()
        .flatten()
        .chain(b.into_iter().flatten())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `agents.defaults.compaction` (agent.md §6): when a session's context is summarised. Only
/// the keys the runtime acts on are typed; `memoryFlush`, `qualityGuard`, `provider` … are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompactionConfig {
    /// Automatic compaction near the window (default on); overflow recovery and `/compact`
    /// work either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `default` | `safeguard` (both summarise with the run's model here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Tokens of the window kept free for the reply: compaction starts above
    /// `contextWindow − reserveTokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_tokens: Option<Number>,
    /// The smallest reserve the gateway accepts (raises `reserveTokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_tokens_floor: Option<Number>,
    /// About how many tokens of the newest messages stay verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_recent_tokens: Option<Number>,
    #[serde(flatten)]
    pub rest: Rest,
}

pub(crate) fn check_compaction(c: &CompactionConfig) -> Result<(), SectionIssue> {
    let at = "agents.defaults.compaction";
    for (key, n) in [
        ("reserveTokens", &c.reserve_tokens),
        ("reserveTokensFloor", &c.reserve_tokens_floor),
        ("keepRecentTokens", &c.keep_recent_tokens),
    ] {
        if n.as_ref().is_some_and(|n| !non_negative(n)) {
            return Err((format!("{at}.{key}"), "expected a positive number".into()));
        }
    }
    if let Some(mode) = &c.mode
        && !matches!(mode.as_str(), "default" | "safeguard")
    {
        return Err((
            format!("{at}.mode"),
            "expected \"default\" or \"safeguard\"".into(),
        ));
    }
    Ok(())
}
