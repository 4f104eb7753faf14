//! What a client says about itself in `connect`, with the official CLI's defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use openclaw_protocol::{ClientId, ClientInfo, ClientMode, ConnectAuth, ConnectParams, scopes};

use crate::identity::DeviceIdentity;

/// Default gateway address (`gateway.port` 18789 on loopback).
pub const DEFAULT_URL: &str = "ws://127.0.0.1:18789";
/// The official CLI gives up on a silent gateway after 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything [`crate::GatewayClient::connect`] needs.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `ws://host:port` (any path is accepted by the gateway).
    pub url: String,
    /// Shared gateway token (`auth.token`).
    pub token: Option<String>,
    /// Shared gateway password (`auth.password`); never signed.
    pub password: Option<String>,
    /// Device token issued by an earlier `hello-ok.auth.deviceToken` (`auth.deviceToken`).
    pub device_token: Option<String>,
    pub client_id: ClientId,
    pub client_mode: ClientMode,
    pub client_version: String,
    pub platform: String,
    pub device_family: Option<String>,
    pub display_name: Option<String>,
    pub instance_id: Option<String>,
    pub role: String,
    pub scopes: Vec<String>,
    pub caps: Vec<String>,
    /// Node role: the exact command names this node implements (`None` leaves the key out).
    pub commands: Option<Vec<String>>,
    /// Node role: OS permission states (`None` leaves the key out).
    pub permissions: Option<BTreeMap<String, bool>>,
    /// Node role: the node's `PATH`, for the gateway's remote binary probes.
    pub path_env: Option<String>,
    pub model_identifier: Option<String>,
    pub min_protocol: u32,
    pub max_protocol: u32,
    /// When set, `connect` carries a `device` block signed over the challenge nonce (v3 payload).
    pub device: Option<DeviceIdentity>,
    /// Budget for opening the socket, receiving `connect.challenge` and the `connect` answer.
    pub handshake_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.to_string(),
            token: None,
            password: None,
            device_token: None,
            client_id: ClientId::Cli,
            client_mode: ClientMode::Cli,
            client_version: env!("CARGO_PKG_VERSION").to_string(),
            platform: std::env::consts::OS.to_string(),
            device_family: None,
            display_name: None,
            instance_id: Some(uuid::Uuid::new_v4().to_string()),
            role: openclaw_protocol::roles::OPERATOR.to_string(),
            scopes: vec![
                scopes::ADMIN.to_string(),
                scopes::APPROVALS.to_string(),
                scopes::PAIRING.to_string(),
            ],
            caps: Vec::new(),
            commands: None,
            permissions: None,
            path_env: None,
            model_identifier: None,
            min_protocol: openclaw_protocol::MIN_PROTOCOL_VERSION,
            max_protocol: openclaw_protocol::PROTOCOL_VERSION,
            device: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

impl ConnectOptions {
    /// Options for `url` with every other field at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The `connect` params these options describe, without the `device` block (which needs the
    /// challenge nonce; see [`DeviceIdentity::proof`]). Empty secrets are left out.
    pub fn connect_params(&self) -> ConnectParams {
        let auth = ConnectAuth {
            token: non_empty(&self.token),
            password: non_empty(&self.password),
            device_token: non_empty(&self.device_token),
            ..ConnectAuth::default()
        };
        let has_auth =
            auth.token.is_some() || auth.password.is_some() || auth.device_token.is_some();
        ConnectParams {
            min_protocol: self.min_protocol,
            max_protocol: self.max_protocol,
            client: ClientInfo {
                id: self.client_id,
                display_name: self.display_name.clone(),
                version: self.client_version.clone(),
                build_id: None,
                platform: self.platform.clone(),
                device_family: self.device_family.clone(),
                model_identifier: self.model_identifier.clone(),
                time_zone: None,
                mode: self.client_mode,
                instance_id: self.instance_id.clone(),
            },
            role: Some(self.role.clone()),
            scopes: Some(self.scopes.clone()),
            caps: Some(self.caps.clone()),
            commands: self.commands.clone(),
            permissions: self.permissions.clone(),
            path_env: self.path_env.clone(),
            device: None,
            auth: has_auth.then_some(auth),
            locale: None,
            user_agent: None,
            transports: None,
            computer_use: None,
            worker_runs: None,
            model_catalog: None,
        }
    }
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|s| !s.is_empty()).cloned()
}
