//! Wire types of the OpenClaw gateway protocol (v3 and v4) and their JSON Schema.
//!
//! This crate does no I/O. Every type here is named after the protocol's own words
//! (`ConnectParams`, `HelloOk`, `PresenceEntry`…) so the spec and the code read side by side.
//! The JSON Schema committed under `schema/` is generated from these types
//! ([`schema::protocol_schema`]) and every inbound frame is validated against it
//! ([`schema::parse_request`]) before the gateway dispatches it.

pub mod agent;
pub mod approvals;
pub mod channels;
pub mod connect;
pub mod cron;
pub mod error;
pub mod events;
pub mod frames;
pub mod hello;
pub mod methods;
pub mod nodes;
pub mod schema;
pub mod sessions;
pub mod tools;
pub mod ui;
pub mod wizard;

pub use agent::{
    AgentFinal, AgentMeta, AgentOutput, AgentOutputMeta, AgentParams, AgentWaitParams,
    ChatAbortParams, ChatHistoryParams, ChatSendParams, ReplyPayload, SessionsDeleteParams,
    SessionsListParams, SessionsResetParams, SetHeartbeatsParams, WakeParams,
};
pub use channels::{ChannelAccountParams, ChannelsStatusParams, SendParams};
pub use connect::*;
pub use error::*;
pub use events::{
    AgentEvent, AgentEventData, AgentStream, AssistantData, ChatEvent, ChatMessage, ChatState,
    ChatText, CompactionData, CompactionPhase, ConnectChallenge, HeartbeatEvent, LifecycleData,
    LifecyclePhase, PresenceEvent, Shutdown, Tick, ToolData, ToolPhase, UsageTotals,
};
pub use frames::*;
pub use hello::*;
pub use methods::{
    AgentHealth, ConfigGetResult, ConfigIssue, ConfigWriteParams, ConfigWriteResult, EmptyParams,
    HealthParams, HealthSummary, HeartbeatSummary, LogsTailParams, LogsTailResult, OkResult,
    ProcessMemory, RuntimeStats, SessionsSummary, StatusHeartbeat, StatusHeartbeatAgent,
    StatusSessions, StatusSummary, SystemEventParams, SystemPresenceResult,
};

/// Highest protocol version this implementation speaks.
pub const PROTOCOL_VERSION: u32 = 4;
/// Lowest protocol version this implementation still accepts.
pub const MIN_PROTOCOL_VERSION: u32 = 3;

/// Max inbound frame after the handshake (25 MiB, as the reference).
pub const MAX_PAYLOAD_BYTES: usize = 26_214_400;
/// Per-connection outbound buffer ceiling before a client counts as slow (50 MiB).
pub const MAX_BUFFERED_BYTES: usize = 52_428_800;
/// Max frame size before a successful `connect` (64 KiB).
pub const MAX_PREAUTH_PAYLOAD_BYTES: usize = 65_536;
/// Default interval of `tick` events.
pub const TICK_INTERVAL_MS: u64 = 30_000;
/// Default time a socket may take to complete the handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 15_000;
