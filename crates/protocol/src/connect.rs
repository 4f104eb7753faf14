//! `connect` request params: who the client is, what it may do, and how it proves it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Known `client.id` values (v3 list plus v4 additions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ClientId {
    #[serde(rename = "webchat-ui")]
    WebchatUi,
    #[serde(rename = "openclaw-control-ui")]
    ControlUi,
    #[serde(rename = "webchat")]
    Webchat,
    #[serde(rename = "cli")]
    Cli,
    #[serde(rename = "gateway-client")]
    GatewayClient,
    #[serde(rename = "openclaw-macos")]
    Macos,
    #[serde(rename = "openclaw-ios")]
    Ios,
    #[serde(rename = "openclaw-android")]
    Android,
    #[serde(rename = "node-host")]
    NodeHost,
    #[serde(rename = "test")]
    Test,
    #[serde(rename = "fingerprint")]
    Fingerprint,
    #[serde(rename = "openclaw-probe")]
    Probe,
    #[serde(rename = "openclaw-tui")]
    Tui,
    #[serde(rename = "openclaw-watchos")]
    Watchos,
    #[serde(rename = "openclaw-worker")]
    Worker,
}

impl ClientId {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientId::WebchatUi => "webchat-ui",
            ClientId::ControlUi => "openclaw-control-ui",
            ClientId::Webchat => "webchat",
            ClientId::Cli => "cli",
            ClientId::GatewayClient => "gateway-client",
            ClientId::Macos => "openclaw-macos",
            ClientId::Ios => "openclaw-ios",
            ClientId::Android => "openclaw-android",
            ClientId::NodeHost => "node-host",
            ClientId::Test => "test",
            ClientId::Fingerprint => "fingerprint",
            ClientId::Probe => "openclaw-probe",
            ClientId::Tui => "openclaw-tui",
            ClientId::Watchos => "openclaw-watchos",
            ClientId::Worker => "openclaw-worker",
        }
    }

    /// Browser clients whose `Origin` header is checked.
    pub fn is_browser(self) -> bool {
        matches!(
            self,
            ClientId::ControlUi | ClientId::WebchatUi | ClientId::Webchat
        )
    }
}

/// Known `client.mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientMode {
    Webchat,
    Cli,
    Ui,
    Backend,
    Node,
    Probe,
    Test,
    Worker,
}

impl ClientMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientMode::Webchat => "webchat",
            ClientMode::Cli => "cli",
            ClientMode::Ui => "ui",
            ClientMode::Backend => "backend",
            ClientMode::Node => "node",
            ClientMode::Probe => "probe",
            ClientMode::Test => "test",
            ClientMode::Worker => "worker",
        }
    }
}

/// `connect.params.client`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientInfo {
    pub id: ClientId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub version: String,
    /// v4 (2026.9): the client's build id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 96))]
    pub build_id: Option<String>,
    pub platform: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_identifier: Option<String>,
    /// v4 (2026.9): the client's self-reported IANA time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: Option<String>,
    pub mode: ClientMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

/// `connect.params.device`: the Ed25519 proof of a device identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceProof {
    #[schemars(length(min = 1))]
    pub id: String,
    #[schemars(length(min = 1))]
    pub public_key: String,
    #[schemars(length(min = 1))]
    pub signature: String,
    pub signed_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// `connect.params.auth`: shared secrets and tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectAuth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_runtime_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_runtime_identity_token: Option<String>,
}

/// Transport a client offers; we always speak `json-ws`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Transport {
    #[serde(rename = "json-ws")]
    JsonWs,
    #[serde(rename = "protobuf-ws")]
    ProtobufWs,
}

/// `connect` params (v3 schema plus the v4 additions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectParams {
    #[schemars(range(min = 1))]
    pub min_protocol: u32,
    #[schemars(range(min = 1))]
    pub max_protocol: u32,
    pub client: ClientInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<BTreeMap<String, bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceProof>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ConnectAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<Transport>>,
    /// v4 (2026.9) declarations we accept and do not act on: Computer Use, the legacy
    /// worker-run envelope of node hosts, and the initial model-catalog read scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_use: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_runs: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_catalog: Option<serde_json::Value>,
}

/// Operator scopes.
pub mod scopes {
    pub const ADMIN: &str = "operator.admin";
    pub const READ: &str = "operator.read";
    pub const WRITE: &str = "operator.write";
    pub const APPROVALS: &str = "operator.approvals";
    pub const PAIRING: &str = "operator.pairing";
    pub const QUESTIONS: &str = "operator.questions";
}

/// Connection roles.
pub mod roles {
    pub const OPERATOR: &str = "operator";
    pub const NODE: &str = "node";
}

/// The string a device signs (§3.4 of the spec), for payload versions v2, v3 and v4.
///
/// `token` is the first non-empty of `auth.token`, `auth.deviceToken`, `auth.bootstrapToken`.
pub fn device_signature_payload(
    version: u8,
    device_id: &str,
    params: &ConnectParams,
    role: &str,
    token: &str,
    nonce: &str,
    signed_at: u64,
) -> String {
    let scopes = params.scopes.as_deref().unwrap_or(&[]).join(",");
    let c = &params.client;
    let base = format!(
        "v{version}|{device_id}|{}|{}|{role}|{scopes}|{signed_at}|{token}|{nonce}",
        c.id.as_str(),
        c.mode.as_str()
    );
    if version == 2 {
        return base;
    }
    let platform = normalize_ascii_lower(&c.platform);
    let family = normalize_ascii_lower(c.device_family.as_deref().unwrap_or(""));
    if version == 3 {
        return format!("{base}|{platform}|{family}");
    }
    let instance = c.instance_id.as_deref().unwrap_or("").trim();
    format!("{base}|{platform}|{family}|{instance}")
}

/// Trimmed, ASCII `A-Z` lowered (the spec's normalisation of platform/family).
fn normalize_ascii_lower(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}
