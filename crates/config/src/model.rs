//! The config file's shape. Sections this gateway acts on are typed strictly; sections owned by
//! later features are accepted as free-form JSON so existing configs keep loading. Unknown keys
//! at any typed level are errors, as in the reference.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sections::*;

/// `~/.openclaw/openclaw.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenClawConfig {
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<LoggingConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<AgentsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionConfig>,
    // Sections owned by later features: accepted as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wizard: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<ModelsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_host: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bindings: Option<Vec<Binding>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<MessagesConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<CommandsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<CronConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<HooksConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canvas_host: Option<CanvasHostConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub talk: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tts: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acp: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<Value>,
}

/// `gateway.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GatewayMode {
    Local,
    Remote,
}

/// `gateway.bind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BindSetting {
    Auto,
    Loopback,
    Lan,
    Tailnet,
    Custom,
}

/// `gateway.auth.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthModeSetting {
    None,
    Token,
    Password,
    TrustedProxy,
}

/// `gateway.auth.rateLimit`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exempt_loopback: Option<bool>,
}

/// `gateway.auth`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayAuthConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<AuthModeSetting>,
    /// A string, or a SecretRef object (resolved by a later feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_tailscale: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_proxy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_scopes: Option<Value>,
}

/// `gateway.controlUi`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlUiConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_insecure_auth: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dangerously_disable_device_auth: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dangerously_allow_host_header_origin_fallback: Option<bool>,
}

/// `gateway.reload.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReloadMode {
    Off,
    Hot,
    Restart,
    Hybrid,
}

/// `gateway.reload`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReloadConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ReloadMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debounce_ms: Option<u64>,
}

/// `gateway.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<GatewayMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindSetting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_bind_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<GatewayAuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_ui: Option<ControlUiConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<GatewayHttpConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ReloadConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tailscale: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_proxies: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_real_ip_fallback: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<crate::sections::NodesConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_health_check_minutes: Option<u32>,
}

/// `logging.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoggingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_style: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact_sensitive: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact_patterns: Option<Vec<String>>,
}

/// `agents.defaults` — only the keys the gateway core reads are typed; the rest pass through.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentDefaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<HeartbeatConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSpec>,
    /// Model allowlist and aliases: `{"provider/model": {alias?, …}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction: Option<CompactionConfig>,
    /// Run timeout when the caller names none (seconds; reference default 600; 0 = the cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// `agents`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<AgentDefaults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<Vec<AgentEntry>>,
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// `session` — only `mainKey` and `scope` matter to the core for now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `main` | `per-peer` | `per-channel-peer` | `per-account-channel-peer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_scope: Option<String>,
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

impl OpenClawConfig {
    pub fn gateway(&self) -> GatewayConfig {
        self.gateway.clone().unwrap_or_default()
    }

    /// The rules of the typed sections that serde cannot express; `Err((key path, message))`.
    pub fn check_sections(&self) -> Result<(), SectionIssue> {
        if let Some(m) = &self.models {
            check_models(m)?;
        }
        if let Some(list) = self.agents.as_ref().and_then(|a| a.list.as_ref()) {
            check_agents(list)?;
        }
        if let Some(c) = self
            .agents
            .as_ref()
            .and_then(|a| a.defaults.as_ref())
            .and_then(|d| d.compaction.as_ref())
        {
            check_compaction(c)?;
        }
        if let Some(b) = &self.bindings {
            check_bindings(b)?;
        }
        if let Some(m) = &self.media {
            check_media(m)?;
        }
        Ok(())
    }

    /// `agents.list` (empty when unset).
    pub fn agent_list(&self) -> &[AgentEntry] {
        self.agents
            .as_ref()
            .and_then(|a| a.list.as_deref())
            .unwrap_or(&[])
    }

    /// The `agents.list[]` entry of `id`, if any.
    pub fn agent_entry(&self, id: &str) -> Option<&AgentEntry> {
        self.agent_list().iter().find(|a| a.is(id))
    }

    /// `agents.defaults` (default when unset).
    pub fn agent_defaults(&self) -> AgentDefaults {
        self.agents
            .as_ref()
            .and_then(|a| a.defaults.clone())
            .unwrap_or_default()
    }

    /// The mention patterns of `agent_id`: its own `groupChat.mentionPatterns`, else
    /// `messages.groupChat.mentionPatterns`.
    pub fn mention_patterns(&self, agent_id: &str) -> &[String] {
        self.agent_entry(agent_id)
            .and_then(|a| a.group_chat.as_ref())
            .and_then(|g| g.mention_patterns.as_deref())
            .or_else(|| {
                self.messages
                    .as_ref()
                    .and_then(|m| m.group_chat.as_ref())
                    .and_then(|g| g.mention_patterns.as_deref())
            })
            .unwrap_or(&[])
    }

    /// Whether `gateway.http.endpoints.<name>.enabled` is true (`chatCompletions`, `responses`).
    pub fn http_endpoint_enabled(&self, name: &str) -> bool {
        let e = self
            .gateway
            .as_ref()
            .and_then(|g| g.http.as_ref())
            .and_then(|h| h.endpoints.as_ref());
        let toggle = match name {
            "chatCompletions" => e.and_then(|e| e.chat_completions.as_ref()),
            "responses" => e.and_then(|e| e.responses.as_ref()),
            _ => None,
        };
        toggle.and_then(|t| t.enabled).unwrap_or(false)
    }
}

/// The JSON Schema of the config file (served by `config.schema`).
pub fn config_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(OpenClawConfig)).unwrap_or(Value::Null)
}
