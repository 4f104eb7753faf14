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
    pub const AGENT: &str = "agent";
    pub const CHAT: &str = "chat";

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
        AGENT,
        CHAT,
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

/// `device.pair.requested` / `device.pair.resolved` payloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevicePairEvent {
    pub request_id: String,
    pub device_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent: Option<bool>,
    pub ts: u64,
}
