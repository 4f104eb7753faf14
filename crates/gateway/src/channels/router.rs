//! The inbound router: each message gets its agent (`bindings`), passes access control (pairing,
//! mentions), and is recorded in the durable inbox before the driver is acknowledged; then it
//! becomes a run on its session, whose reply goes back to the same chat. Inbox entries left by
//! an earlier process are replayed first, in order.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openclaw_channels::{
    Access, ChannelDriver, ChatType, Inbound, InboundMessage, MentionPatterns, OutboundMessage,
    PairingStore, check_access, resolve_binding, session_key_for,
};
use tokio::sync::mpsc;

use super::ChannelRuntime;
use super::commands::{self, Outcome, command_text};
use super::history::{history_limit, with_sender};
use crate::error::GatewayError;
use crate::inbound_media::Job;
use crate::inbox::{Inbox, Pending};
use crate::runs::{RunSpec, Runs, Submitted};
use crate::state::AppState;

/// Sends a short text back to the chat a message came from, without holding up the router.
fn reply_in_background(
    driver: Option<Arc<dyn ChannelDriver>>,
    to: &InboundMessage,
    text: String,
    what: &'static str,
) {
    let Some(d) = driver else { return };
    let out = OutboundMessage {
        chat_id: to.chat_id.clone(),
        thread_id: to.thread_id.clone(),
        text,
        media: vec![],
        reply_to: None,
        local_roots: Vec::new(),
    };
    tokio::spawn(async move {
        if let Err(e) = d.send(out).await {
            tracing::warn!(target: "channels", "{what} failed: {e}");
        }
    });
}

fn is_silent(text: &str) -> bool {
    matches!(text.trim(), "" | "NO_REPLY" | "HEARTBEAT_OK")
}

/// Consumes inbound messages: agent selection, access control, durable inbox entry, ack, run;
/// each run's reply is delivered from its own task, so a busy session lane never holds up the
/// router or a driver's cursor.
pub(super) async fn route(
    state: Arc<AppState>,
    rt: Arc<ChannelRuntime>,
    mut rx: mpsc::Receiver<Inbound>,
) {
    let state_dir: PathBuf = state.paths.state_dir.clone();
    let inbox = Arc::new(Inbox::new(&state_dir, state.process.inbox.clone()));
    replay(&state, &rt, &inbox);
    while let Some(Inbound { mut message, ack }) = rx.recv().await {
        let Some(cfg) = rt.account_cfg(&message.channel, &message.account_id) else {
            let _ = ack.send(());
            continue;
        };
        if !state.process.inbox.first_sighting(
            &message.channel,
            &message.account_id,
            &message.chat_id,
            &message.message_id,
        ) {
            tracing::debug!(target: "channels", "{} message {} delivered twice; ignored", message.channel, message.message_id);
            let _ = ack.send(());
            continue;
        }
        let loaded = state.config();
        let typed = &loaded.config;
        let (agents, default_agent) = crate::agents::agents(&state);
        let default_account = rt
            .default_account(&message.channel)
            .unwrap_or_else(|| "default".into());
        let agent = match resolve_binding(
            typed.bindings.as_deref().unwrap_or(&[]),
            &message,
            &default_account,
        ) {
            Some(a) if agents.contains(&a) => a,
            Some(a) => {
                tracing::warn!(target: "channels", "binding names unknown agent {a:?}; using {default_agent}");
                default_agent
            }
            None => default_agent,
        };
        let driver = rt.driver(&message.channel, &message.account_id);
        let bot_username = driver.as_ref().and_then(|d| d.status().bot_username);
        let command = command_text(&message.text, bot_username.as_deref());
        if message.chat_type != ChatType::Direct
            && !message.mentioned
            && (command.as_ref().is_some_and(|c| c.addressed)
                || MentionPatterns::for_agent(typed, &agent).matches(&message.text))
        {
            message.mentioned = true;
        }
        let store = PairingStore::new(&state_dir, &message.channel, &message.account_id);
        match check_access(&cfg, &message, &store) {
            Access::Allow => {}
            Access::Pairing { code, first_time } => {
                let _ = ack.send(());
                if first_time {
                    let text = format!(
                        "This bot needs pairing before it answers you. Your pairing code: {code}\nAsk the owner to run: openclaw pairing approve {} {code}",
                        message.channel
                    );
                    reply_in_background(driver, &message, text, "pairing reply");
                }
                continue;
            }
            Access::NotMentioned => {
                rt.history.record(&message, history_limit(&cfg, typed));
                let _ = ack.send(());
                continue;
            }
            Access::Deny(_) => {
                tracing::debug!(target: "channels", "{} message from {} not routed", message.channel, message.sender_id);
                let _ = ack.send(());
                continue;
            }
        }
        let dm_scope = typed
            .session
            .as_ref()
            .and_then(|s| s.dm_scope.clone())
            .unwrap_or_else(|| "main".into());
        let main_key = state.settings().main_key.clone();
        let key = session_key_for(&message, &agent, &main_key, &dm_scope);
        // Chat commands of allowed senders: `/new`, `/reset` (optionally followed by text), `/stop`,
        // `/compact`.
        if let Some(cmd) = &command {
            match commands::apply(&state, &state_dir, &agent, &key, cmd) {
                Outcome::Reply(text) => {
                    let _ = ack.send(());
                    reply_in_background(driver, &message, text, "command reply");
                    continue;
                }
                Outcome::Later(reply) => {
                    let _ = ack.send(());
                    let to = message.clone();
                    tokio::spawn(async move {
                        reply_in_background(driver, &to, reply.await, "command reply");
                    });
                    continue;
                }
                Outcome::Continue(rest) => message.text = rest,
                Outcome::NotOurs => {}
            }
        }
        let text = if message.chat_type == ChatType::Direct {
            message.text.clone()
        } else {
            let pending = rt.history.take(&message);
            let current = with_sender(&message);
            if pending.is_empty() {
                current
            } else {
                format!(
                    "[Chat messages since your last reply - for context]\n{}\n\n[Current message - respond to this]\n{current}",
                    pending.join("\n")
                )
            }
        };
        let pending = Pending {
            run_id: format!("{}-{}", message.channel, uuid::Uuid::new_v4()),
            agent_id: agent,
            session_key: key,
            message: text,
            channel: message.channel.clone(),
            account_id: message.account_id.clone(),
            chat_id: message.chat_id.clone(),
            thread_id: message.thread_id.clone(),
            message_id: message.message_id.clone(),
            sender_id: message.sender_id.clone(),
            received_at: crate::state::now_ms(),
            attachments: std::mem::take(&mut message.media),
            turn_written: false,
            replying: false,
        };
        // Durable before the driver is acknowledged; not acknowledged ⇒ redelivered later.
        let forget = || {
            state.process.inbox.forget(
                &message.channel,
                &message.account_id,
                &message.chat_id,
                &message.message_id,
            )
        };
        if let Err(e) = inbox.put(&pending) {
            tracing::warn!(target: "channels", "cannot record inbound message: {e}");
            forget();
            drop(ack);
            continue;
        }
        if !pending.attachments.is_empty() || rt.downloads.busy(&pending.session_key) {
            // Durable, attachments included: acknowledge now so the driver keeps polling, and
            // let the session's download lane fetch them and queue the run, in order.
            let _ = ack.send(());
            let job = Job {
                pending,
                driver,
                max_bytes: cfg.media_max_bytes(),
            };
            rt.downloads.push(&state, &inbox, job);
            continue;
        }
        let run_id = pending.run_id.clone();
        match submit(&state, &inbox, pending, driver, Arrival::Live) {
            Ok(()) => {
                let _ = ack.send(());
            }
            Err(e) => {
                // Not acknowledged: the driver delivers it again, so the entry can go.
                tracing::warn!(target: "channels", "inbound message not queued: {e}");
                inbox.done(&run_id);
                forget();
                drop(ack);
            }
        }
    }
}

/// How an inbox entry reaches its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Just received: a busy session applies `messages.queue` (steer, collect, …).
    Live,
    /// Left from before a restart: queued in plain order, each its own turn.
    Replayed,
}

/// Queues the run for an inbox entry and spawns its delivery. On failure (the session's lane
/// is full) the entry is left as it is: the caller decides whether it is retried or dropped.
pub(crate) fn submit(
    state: &Arc<AppState>,
    inbox: &Arc<Inbox>,
    p: Pending,
    driver: Option<Arc<dyn ChannelDriver>>,
    arrival: Arrival,
) -> Result<(), GatewayError> {
    let persisted = Arc::new(tokio::sync::Notify::new());
    let spec = RunSpec {
        run_id: p.run_id.clone(),
        agent_id: p.agent_id.clone(),
        session_key: p.session_key.clone(),
        message: p.message.clone(),
        extra_system_prompt: None,
        timeout: crate::runs::default_run_timeout(state),
        stream_tx: None,
        ephemeral: false,
        persisted: Some(persisted.clone()),
        // A replayed entry whose turn is the transcript's last message: not written twice.
        resume: p.turn_written,
        origin: Some(crate::runs::RunOrigin {
            channel: p.channel.clone(),
            account_id: p.account_id.clone(),
            to: p.chat_id.clone(),
            thread_id: p.thread_id.clone(),
            sender_id: Some(p.sender_id.clone()).filter(|s| !s.is_empty()),
        }),
    };
    let submitted = match arrival {
        Arrival::Live => Runs::submit_message(
            state,
            spec,
            &crate::runs::queue::Origin::channel(&p.channel),
        ),
        Arrival::Replayed => Runs::submit(state, spec),
    };
    match submitted {
        Ok(Submitted::New(run) | Submitted::Existing(run)) => {
            tokio::spawn(deliver(run, persisted, inbox.clone(), p, driver));
            Ok(())
        }
        Err(e) => Err(GatewayError::from(e.message)),
    }
}

/// Inbox entries an earlier process left (crash, kill -9 while the lane was busy): queued again,
/// oldest first, with their original run id, agent and session; replies go to the original chat.
/// An entry whose session lane is full is kept and retried, never dropped.
fn replay(state: &Arc<AppState>, rt: &Arc<ChannelRuntime>, inbox: &Arc<Inbox>) {
    let mut waiting = Vec::new();
    for mut p in inbox.pending() {
        if !inbox.claim(&p.run_id) {
            continue;
        }
        state
            .process
            .inbox
            .first_sighting(&p.channel, &p.account_id, &p.chat_id, &p.message_id);
        tracing::info!(target: "channels", "replaying inbound {} message {} left from before a restart", p.channel, p.run_id);
        if !p.attachments.is_empty() || rt.downloads.busy(&p.session_key) {
            let max_bytes = rt
                .account_cfg(&p.channel, &p.account_id)
                .map(|c| c.media_max_bytes())
                .unwrap_or(0);
            let driver = rt.driver(&p.channel, &p.account_id);
            rt.downloads.push(
                state,
                inbox,
                Job {
                    pending: p,
                    driver,
                    max_bytes,
                },
            );
            continue;
        }
        if p.replying {
            tracing::warn!(target: "channels", "reply to {} message {} (run {}) may already have been delivered before the restart; sending it again", p.channel, p.message_id, p.run_id);
        }
        match turn_state(state, &p) {
            Turn::Answered(text) => {
                // The run finished before the crash; only its reply is missing.
                let driver = rt.driver(&p.channel, &p.account_id);
                tokio::spawn(send_answer(inbox.clone(), p, driver, text));
                continue;
            }
            Turn::Unanswered => p.turn_written = true,
            Turn::NotWritten => p.turn_written = false,
        }
        waiting.push(p);
    }
    let waiting = submit_in_order(state, rt, inbox, waiting);
    if !waiting.is_empty() {
        tokio::spawn(retry_replay(
            state.clone(),
            rt.clone(),
            inbox.clone(),
            waiting,
        ));
    }
}

/// Where a replayed entry's user turn stands in its session transcript.
enum Turn {
    /// Not written: the run starts from the beginning.
    NotWritten,
    /// Written and nothing after it: the run answers it without writing it again.
    Unanswered,
    /// Answered (the final assistant text), only the reply is missing.
    Answered(String),
}

/// Finds the entry's user turn in the transcript: the last user message with its text written
/// at or after it was received (the reply's lines are written only once the turn is over, so a
/// run cut short leaves nothing after its turn). Read from the transcript itself, because the
/// inbox entry's own mark is written just after the turn and a kill may fall in between.
fn turn_state(state: &AppState, p: &Pending) -> Turn {
    use openclaw_agent::AgentMessage;
    let store = openclaw_agent::SessionStore::open(&state.paths.state_dir, &p.agent_id);
    let Some(entry) = store.get(&p.session_key) else {
        return Turn::NotWritten;
    };
    let path = store.transcript_path(&entry);
    let Ok(messages) = openclaw_agent::Transcript::load_messages(&path) else {
        return Turn::NotWritten;
    };
    let Some(turn) = messages.iter().rposition(|m| {
        matches!(m, AgentMessage::User { timestamp, .. } if *timestamp >= p.received_at)
            && m.text() == p.message
    }) else {
        return Turn::NotWritten;
    };
    match messages[turn + 1..]
        .iter()
        .take_while(|m| !matches!(m, AgentMessage::User { .. }))
        .last()
    {
        None => Turn::Unanswered,
        Some(m @ AgentMessage::Assistant { .. }) if m.tool_calls().is_empty() => {
            Turn::Answered(m.text())
        }
        // Cut inside its tool loop: only the error path writes partial turns; run it again.
        Some(_) => Turn::Unanswered,
    }
}

/// Sends the reply [`turn_state`] found, then clears the entry (kept for the next start if
/// the channel refuses it).
async fn send_answer(
    inbox: Arc<Inbox>,
    p: Pending,
    driver: Option<Arc<dyn ChannelDriver>>,
    text: String,
) {
    if is_silent(&text) {
        inbox.done(&p.run_id);
        return;
    }
    let Some(driver) = driver else {
        inbox.release(&p.run_id);
        return;
    };
    let out = OutboundMessage {
        chat_id: p.chat_id.clone(),
        thread_id: p.thread_id.clone(),
        text,
        media: vec![],
        reply_to: None,
        local_roots: Vec::new(),
    };
    if let Err(e) = inbox.replying(&p) {
        tracing::warn!(target: "channels", "cannot mark inbox entry {}: {e}", p.run_id);
    }
    match driver.send(out).await {
        Ok(_) => inbox.done(&p.run_id),
        Err(e) => {
            tracing::warn!(target: "channels", "reply to replayed message {} failed: {e}", p.run_id);
            inbox.release(&p.run_id);
        }
    }
}

/// Submits replayed entries oldest first; returns those not accepted yet. Once one entry of a
/// session is refused, the later ones of that session wait too, so their order is kept.
fn submit_in_order(
    state: &Arc<AppState>,
    rt: &Arc<ChannelRuntime>,
    inbox: &Arc<Inbox>,
    entries: Vec<Pending>,
) -> Vec<Pending> {
    let mut blocked = std::collections::HashSet::new();
    let mut left = Vec::new();
    for p in entries {
        if blocked.contains(&p.session_key) {
            left.push(p);
            continue;
        }
        let driver = rt.driver(&p.channel, &p.account_id);
        if let Err(e) = submit(state, inbox, p.clone(), driver, Arrival::Replayed) {
            tracing::warn!(target: "channels", "replayed message {} not queued yet ({e}); will retry", p.run_id);
            blocked.insert(p.session_key.clone());
            left.push(p);
        }
    }
    left
}

/// Retries replayed entries whose lane was full until they are queued. When this generation
/// stops first, they are released to the next one (which replays them again).
async fn retry_replay(
    state: Arc<AppState>,
    rt: Arc<ChannelRuntime>,
    inbox: Arc<Inbox>,
    mut waiting: Vec<Pending>,
) {
    while !waiting.is_empty() {
        tokio::select! {
            _ = rt.cancel.cancelled() => {
                for p in &waiting {
                    inbox.release(&p.run_id);
                }
                return;
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        waiting = submit_in_order(&state, &rt, &inbox, waiting);
    }
}

/// How long a reply waits for its run once the user turn is written (the run's own timeout is
/// 600 s). `OPENCLAW_TEST_RUN_WAIT_MS` shortens it for tests.
fn run_wait() -> Duration {
    openclaw_config::env::var("TEST_RUN_WAIT_MS")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(660))
}

/// Clears the inbox entry once the user turn is in the transcript, keeps the typing indicator
/// up while the agent works, then sends the reply back to the same chat. However long the run
/// stays queued, the entry stays (a crash replays it). A run that ended before writing the
/// user turn (an error) has its entry cleared only once the error was reported to the chat;
/// otherwise the entry is left for the next start to retry.
async fn deliver(
    run: Arc<crate::runs::Run>,
    persisted: Arc<tokio::sync::Notify>,
    inbox: Arc<Inbox>,
    p: Pending,
    driver: Option<Arc<dyn ChannelDriver>>,
) {
    // Typing indicator from the moment the message is queued until its run ends (Telegram
    // expires it after ~5 s), also while it waits behind a busy session.
    let typing = driver.as_ref().map(|d| {
        let d = d.clone();
        let (c, t) = (p.chat_id.clone(), p.thread_id.clone());
        let run = run.clone();
        AbortOnDrop(tokio::spawn(async move {
            while !run.is_done() {
                let _ = d.typing(&c, t.as_deref()).await;
                tokio::time::sleep(Duration::from_secs(4)).await;
            }
        }))
    });
    let turn_written = tokio::select! {
        biased;
        _ = persisted.notified() => true,
        _ = run.done() => false,
    };
    if turn_written {
        // Kept until the reply is out: a crash in between answers the turn on the next start.
        if let Err(e) = inbox.turn_written(&p) {
            tracing::warn!(target: "channels", "cannot mark inbox entry {}: {e}", p.run_id);
        }
    } else if run
        .result()
        .is_some_and(|r| r.aborted || r.folded_into.is_some())
    {
        // Stopped (`/stop`, `chat.abort`) before it started: the user's own decision. Or
        // answered inside another run (steered, collected): that run replied and its turn
        // (with this text) is in the transcript.
        inbox.done(&p.run_id);
        return;
    }
    let run_id = p.run_id.clone();
    let keep_for_retry = |why: &str| {
        tracing::warn!(target: "channels", "inbound message {run_id} was not answered ({why}); kept for the next start");
        inbox.release(&run_id);
    };
    let Some(driver) = driver else {
        if turn_written {
            inbox.done(&run_id);
        } else {
            keep_for_retry("no channel account to report the error to");
        }
        return;
    };
    let (chat_id, thread_id) = (p.chat_id.clone(), p.thread_id.clone());
    let result = run.wait(run_wait()).await;
    drop(typing);
    let reply = match result {
        Some(r) if r.folded_into.is_some() || r.aborted => {
            inbox.done(&run_id);
            return;
        }
        Some(r) if r.ok => {
            if is_silent(&r.final_text) {
                inbox.done(&run_id);
                return;
            }
            r.final_text
        }
        Some(r) => format!(
            "⚠️ {}",
            r.error
                .map(|e| e.message)
                .unwrap_or_else(|| "the agent run failed".into())
        ),
        None => "⚠️ the agent did not answer in time".into(),
    };
    let out = OutboundMessage {
        chat_id,
        thread_id,
        text: reply,
        media: vec![],
        reply_to: None,
        local_roots: Vec::new(),
    };
    if turn_written && let Err(e) = inbox.replying(&p) {
        tracing::warn!(target: "channels", "cannot mark inbox entry {run_id}: {e}");
    }
    match driver.send(out).await {
        Ok(_) => inbox.done(&run_id),
        Err(e) if !turn_written => keep_for_retry(&format!("the error reply failed: {e}")),
        Err(e) => {
            tracing::warn!(target: "channels", "reply delivery failed: {e}");
            inbox.done(&run_id);
        }
    }
}

/// Ends a helper task when its owner returns, on every path.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
