//! The agent runtime the gateway drives: model providers over their real streaming HTTP APIs,
//! the session index and crash-safe JSONL transcripts, workspace tools, the system prompt, and
//! one agent turn with its tool loop.
//!
//! This crate knows nothing about WebSockets or the gateway protocol; the gateway maps
//! [`RunEvent`]s to `agent`/`chat` events and [`ProviderError`]s to error shapes. Its only
//! sockets are outbound HTTP(S) connections to model providers (one shared `reqwest` client,
//! rustls only). Files it writes are 0600 in 0700 directories.
//!
//! Map: [`models`] (config → providers, model refs) · [`catalog`] (models clients see, model
//! choices) · [`messages`] (transcript message shapes) ·
//! [`provider`] (streaming completions, retries) · [`runner`] (turn + tool loop + fallback) ·
//! [`tools`] (built-in tools, policy) · [`transcript`] (JSONL) · [`sessions`] (`sessions.json`) ·
//! [`workspace`] (system prompt) · [`compaction`] (summarising an overlong context).

pub mod auth_profiles;
pub mod catalog;
pub mod compaction;
pub mod error;
pub mod messages;
pub mod models;
pub mod provider;
pub mod runner;
pub mod sessions;
pub mod steering;
pub mod tools;
pub mod transcript;
pub mod workspace;

pub use auth_profiles::{AuthProfileStore, auth_order};
pub use catalog::{Catalog, CatalogModel, ModelChoiceError};
pub use error::AgentError;
pub use messages::{AgentMessage, ContentPart, Usage, now_ms};
pub use models::{
    Api, DEFAULT_MODEL_REF, ModelInfo, ModelRef, ProviderConfig, Providers, builtin_env_var,
    model_chain,
};
pub use provider::{
    CancelToken, ChatRequest, ProviderClient, ProviderError, StreamEvent, ToolSpec,
};
pub use runner::{RunEvent, TurnOutcome, TurnRequest, run_turn};
pub use sessions::{SessionEntry, SessionStore, canonical_session_key};
pub use steering::Steering;
pub use tools::{
    ToolCall, ToolContext, ToolFuture, ToolHost, ToolOutput, ToolPolicy, ToolUpdates,
    builtin_tools, call_tool, invoke_tool,
};
pub use transcript::{Context, ContextEntry, Transcript};
pub use workspace::system_prompt;
