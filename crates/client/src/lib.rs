//! Async client of the OpenClaw gateway WebSocket protocol (v3 and v4), used by the `openclaw`
//! CLI, the integration tests and the benchmark.
//!
//! [`GatewayClient::connect`] performs the handshake (challenge → `connect`, optionally signed
//! with a [`DeviceIdentity`] → `hello-ok`); afterwards a reader task routes `res` frames to the
//! waiting [`GatewayClient::request`] by id and queues broadcast events for
//! [`GatewayClient::next_event`].

mod client;
mod error;
mod handshake;
mod identity;
mod inbox;
mod options;

pub use client::GatewayClient;
pub use error::ClientError;
pub use identity::DeviceIdentity;
pub use inbox::EVENT_QUEUE_CAPACITY;
pub use openclaw_protocol as protocol;
pub use options::{ConnectOptions, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_URL};
