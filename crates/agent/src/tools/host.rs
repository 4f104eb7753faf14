//! Tools that live outside this crate. The gateway owns everything that needs its state
//! (processes and exec approvals, channels for `message`, other sessions, the cron scheduler,
//! outbound fetches): it hands a run a [`ToolHost`] through [`ToolContext::host`], and the
//! runner offers the host's specs next to the built-ins and routes calls to it. One host per
//! run, so it knows whose run a call belongs to without this crate knowing what a session is.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use super::ToolOutput;
use crate::provider::{CancelToken, ToolSpec};

/// A host tool's pending result.
pub type ToolFuture = Pin<Box<dyn Future<Output = ToolOutput> + Send + 'static>>;

/// One call of a host tool.
#[derive(Debug, Clone)]
pub struct ToolCall {
    /// The model's tool call id (`toolCallId` in events).
    pub id: String,
    pub name: String,
    /// Always a JSON object (the runner refuses anything else before the host sees it).
    pub args: Value,
    /// Cancelled when the run is aborted (`chat.abort`, `/stop`, run timeout). The runner also
    /// drops the future then, so a tool that owns a resource (a child process) must release it
    /// on drop as well.
    pub cancel: CancelToken,
    /// Partial output while the tool runs (`tool` events with `phase: "update"`).
    pub updates: ToolUpdates,
}

/// Where a tool reports partial output. Bounded: when the consumer lags, updates are dropped
/// (the final result is what counts), so a chatty tool never grows memory.
#[derive(Debug, Clone, Default)]
pub struct ToolUpdates(Option<tokio::sync::mpsc::Sender<Value>>);

/// How many partial results may wait for the event loop before new ones are dropped.
pub const TOOL_UPDATE_BUFFER: usize = 64;

impl ToolUpdates {
    /// Updates go nowhere (HTTP `/tools/invoke`, tests).
    pub fn none() -> Self {
        ToolUpdates(None)
    }

    /// A sender and the receiver the runner drains.
    pub fn channel() -> (Self, tokio::sync::mpsc::Receiver<Value>) {
        let (tx, rx) = tokio::sync::mpsc::channel(TOOL_UPDATE_BUFFER);
        (ToolUpdates(Some(tx)), rx)
    }

    /// Reports a partial result; never blocks (dropped when the buffer is full).
    pub fn send(&self, partial: Value) {
        if let Some(tx) = &self.0 {
            let _ = tx.try_send(partial);
        }
    }
}

/// Tools provided from outside the crate, for one run (or one `/tools/invoke` call).
pub trait ToolHost: Send + Sync + std::fmt::Debug {
    /// The host's tools as offered to the model (the policy still filters them).
    fn specs(&self) -> Vec<ToolSpec>;

    /// Starts `call` if the tool is the host's; `None` = not a host tool.
    fn call(&self, call: ToolCall) -> Option<ToolFuture>;
}
