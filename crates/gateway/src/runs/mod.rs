//! Agent runs: idempotency (a retried `agent`/`chat.send` returns the same run, never runs
//! twice), one run at a time per session (a bounded queue behind it, and the queue modes for a
//! message that arrives while the session is busy), cancellation, waiting, and the events a
//! run emits (`agent` stream per run, `chat` per session).
//!
//! `lanes` decides which run goes when (bookkeeping without I/O, unit-tested), `queue` what a
//! busy session does with a message (`messages.queue` settings, the reference's prompts),
//! `execute` runs one of them (model, prompt, transcript, compaction), `events` turns what happens into
//! `agent`/`chat` events, `compact` is the `/compact` chat command.

pub(crate) mod compact;
pub(crate) mod events;
mod execute;
mod lanes;
pub mod queue;

use crate::state::AppState;
use crate::sync::LockExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openclaw_agent::{CancelToken, ProviderClient, Steering};
use openclaw_protocol::{AgentFinal, ErrorShape};
use tokio::sync::watch;

pub(crate) use compact::{compact_command, compact_session};
pub(crate) use events::emit_chat;
pub use lanes::MAX_QUEUED_PER_SESSION;

/// Where a run stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    Queued,
    Running { started_at: u64 },
    Done(Box<RunResult>),
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub ok: bool,
    pub started_at: u64,
    pub ended_at: u64,
    /// The final `agent` response payload.
    pub payload: AgentFinal,
    pub error: Option<ErrorShape>,
    pub aborted: bool,
    /// The model's final text, before silent tokens are filtered (heartbeats read it).
    pub final_text: String,
    /// This message was answered inside another run (steered into it, collected with it, or
    /// summarized into it after an overflow): that run's id. Its reply was delivered by that
    /// run, so `final_text` is empty here and nothing is sent a second time.
    pub folded_into: Option<String>,
}

/// One run, shared by the dedupe cache, the session queue, waiters and aborters.
pub struct Run {
    pub run_id: String,
    pub session_key: String,
    pub agent_id: String,
    pub accepted_at: u64,
    pub status: watch::Sender<RunStatus>,
    pub cancel: CancelToken,
    /// Messages steered into this run while it works (closed when it ends).
    pub steering: Steering,
    created: Instant,
}

impl Run {
    pub fn result(&self) -> Option<RunResult> {
        match &*self.status.borrow() {
            RunStatus::Done(r) => Some((**r).clone()),
            _ => None,
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(&*self.status.borrow(), RunStatus::Done(_))
    }

    /// Waits for the end (bounded by `within`).
    pub async fn wait(&self, within: Duration) -> Option<RunResult> {
        tokio::time::timeout(within, self.done())
            .await
            .ok()
            .flatten()
    }

    /// Waits for the end, however long the run stays queued (a started run ends by its own
    /// timeout).
    pub async fn done(&self) -> Option<RunResult> {
        let mut rx = self.status.subscribe();
        loop {
            if let RunStatus::Done(r) = &*rx.borrow_and_update() {
                return Some((**r).clone());
            }
            if rx.changed().await.is_err() {
                return None;
            }
        }
    }
}

/// The longest run timeout: the reference's timer-safe cap (2,147,000,000 ms, about 25 days).
/// It is also what 0 ("no timeout") means.
pub const MAX_RUN_TIMEOUT: Duration = Duration::from_millis(2_147_000_000);

/// A caller's run timeout in milliseconds, clamped to [1 s, [`MAX_RUN_TIMEOUT`]]; 0 = no timeout.
/// Callers may send any integer (`u64::MAX` included): it must become a usable deadline, not an
/// overflow later.
pub fn run_timeout_ms(ms: u64) -> Duration {
    if ms == 0 {
        return MAX_RUN_TIMEOUT;
    }
    Duration::from_millis(ms).clamp(Duration::from_secs(1), MAX_RUN_TIMEOUT)
}

/// [`run_timeout_ms`] for a timeout in seconds (`agent {timeout}`, `timeoutSeconds`).
pub fn run_timeout_secs(secs: u64) -> Duration {
    run_timeout_ms(secs.saturating_mul(1000))
}

/// `agents.defaults.timeoutSeconds` (reference default 600 s): the timeout of a run whose
/// caller named none, so a provider that hangs mid-stream is cut off when the owner said.
pub fn default_run_timeout_secs(state: &AppState) -> u64 {
    state
        .config()
        .config
        .agents
        .as_ref()
        .and_then(|a| a.defaults.as_ref())
        .and_then(|d| d.timeout_seconds)
        .unwrap_or(DEFAULT_RUN_TIMEOUT_SECS)
}

/// [`default_run_timeout_secs`] as a clamped duration.
pub fn default_run_timeout(state: &AppState) -> Duration {
    run_timeout_secs(default_run_timeout_secs(state))
}

/// The reference's `agents.defaults.timeoutSeconds` when the config has none.
pub const DEFAULT_RUN_TIMEOUT_SECS: u64 = 600;

/// What a new run needs.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub run_id: String,
    pub agent_id: String,
    pub session_key: String,
    pub message: String,
    pub extra_system_prompt: Option<String>,
    pub timeout: Duration,
    /// Text deltas for an HTTP stream (SSE); bounded by the model's output size.
    pub stream_tx: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    /// No session entry and no transcript (stateless OpenAI-style calls): nothing on disk
    /// grows per request.
    pub ephemeral: bool,
    /// Notified once the user turn is in the transcript (channels acknowledge inbound
    /// updates only then, so a crash neither loses nor duplicates a message).
    pub persisted: Option<Arc<tokio::sync::Notify>>,
    /// The user turn may already be the last message of the transcript (an inbox entry replayed
    /// after a crash between writing the turn and sending the reply): when the transcript ends
    /// with this very message, answer it without writing it again.
    pub resume: bool,
    /// The channel chat the message came from (`None` for WS, HTTP, heartbeat): tools that act
    /// "here" (`message` without a target, a reminder set from a chat) answer there.
    pub origin: Option<RunOrigin>,
}

/// A channel chat a run answers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOrigin {
    pub channel: String,
    pub account_id: String,
    /// The chat id replies go to.
    pub to: String,
    pub thread_id: Option<String>,
    /// The sender of the message the run answers (for `tools.elevated.allowFrom`).
    pub sender_id: Option<String>,
}

/// All runs of one gateway generation.
pub struct Runs {
    by_key: Mutex<HashMap<String, Arc<Run>>>,
    lanes: Mutex<lanes::Lanes>,
    client: ProviderClient,
}

/// The outcome of submitting a run.
pub enum Submitted {
    /// A new run (started or queued).
    New(Arc<Run>),
    /// The same idempotency key was seen: the existing run.
    Existing(Arc<Run>),
}

impl Default for Runs {
    fn default() -> Self {
        Self {
            by_key: Mutex::new(HashMap::new()),
            lanes: Mutex::new(lanes::Lanes::default()),
            client: ProviderClient::new(Duration::from_secs(120)),
        }
    }
}

impl Runs {
    pub fn find(&self, run_id: &str) -> Option<Arc<Run>> {
        self.by_key.locked().get(run_id).cloned()
    }

    pub fn client(&self) -> &ProviderClient {
        &self.client
    }
}
