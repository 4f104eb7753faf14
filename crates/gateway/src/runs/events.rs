//! What a run tells operators: the `agent` event stream (one `seq` per run; tool events only to
//! clients that asked for them) and the session's `chat` events, whose deltas are throttled so
//! a fast model does not flood slow clients.

use std::time::{Duration, Instant};

use openclaw_agent::Usage;
use openclaw_protocol::{
    AgentEvent, AgentEventData, AgentStream, AssistantData, ChatEvent, ChatMessage, ChatState,
    UsageTotals,
};

use openclaw_protocol::ui::SessionsChanged;

use super::Run;
use crate::hub::Audience;
use crate::state::{AppState, now_ms};

/// Chat delta events are throttled to one per this interval per run.
const CHAT_DELTA_EVERY: Duration = Duration::from_millis(150);

/// Sends an `agent` event (seq per run) to operators; tool events only to clients that asked.
pub(super) fn emit_agent(state: &AppState, run: &Run, seq: &mut u64, data: AgentEventData) {
    *seq += 1;
    let stream = data.stream();
    let payload = AgentEvent {
        data,
        run_id: run.run_id.clone(),
        seq: *seq,
        session_key: run.session_key.clone(),
        stream,
        ts: now_ms(),
    };
    let audience = if stream == AgentStream::Tool {
        Audience::ToolEvents
    } else {
        Audience::Operators
    };
    state.hub.broadcast(
        openclaw_protocol::events::names::AGENT,
        &serde_json::to_string(&payload).unwrap_or_default(),
        None,
        stream == AgentStream::Assistant,
        audience,
    );
}

/// Sends a `chat` event for a session; deltas may be dropped for slow clients.
pub(crate) fn emit_chat(state: &AppState, payload: &ChatEvent) {
    state.hub.broadcast(
        openclaw_protocol::events::names::CHAT,
        &serde_json::to_string(payload).unwrap_or_default(),
        None,
        payload.state == ChatState::Delta,
        Audience::Operators,
    );
}

/// Sends `sessions.changed` to the connections that subscribed (`sessions.subscribe`); droppable
/// for a slow client, as the reference's (a subscriber re-lists on the next one anyway).
pub(crate) fn emit_sessions_changed(state: &AppState, payload: &SessionsChanged) {
    state.hub.broadcast(
        openclaw_protocol::events::names::SESSIONS_CHANGED,
        &serde_json::to_string(payload).unwrap_or_default(),
        None,
        true,
        Audience::SessionSubscribers,
    );
}

/// A run's `chat` event with no message and no extras.
pub(super) fn chat_event(run: &Run, seq: u64, state: ChatState) -> ChatEvent {
    ChatEvent::new(&run.run_id, &run.session_key, seq, state)
}

pub(super) fn usage_totals(u: &Usage) -> UsageTotals {
    UsageTotals {
        cache_read: u.cache_read,
        cache_write: u.cache_write,
        input: u.input,
        output: u.output,
        total: u.total_tokens,
    }
}

/// The events of one executing run, with its two counters: `agent` seq and `chat` seq.
pub(super) struct RunEvents<'a> {
    state: &'a AppState,
    run: &'a Run,
    /// Last `agent` event seq.
    seq: u64,
    /// Last `chat` event seq.
    chat_seq: u64,
    last_delta: Instant,
}

impl<'a> RunEvents<'a> {
    pub(super) fn new(state: &'a AppState, run: &'a Run) -> Self {
        RunEvents {
            state,
            run,
            seq: 0,
            chat_seq: 0,
            last_delta: Instant::now() - CHAT_DELTA_EVERY,
        }
    }

    pub(super) fn agent(&mut self, data: AgentEventData) {
        emit_agent(self.state, self.run, &mut self.seq, data);
    }

    /// A streamed text delta: always an `agent` event, a `chat` delta at most every
    /// [`CHAT_DELTA_EVERY`].
    pub(super) fn assistant_delta(&mut self, text: &str, delta: &str) {
        self.agent(AgentEventData::Assistant(AssistantData {
            delta: delta.to_string(),
            text: text.to_string(),
        }));
        if self.last_delta.elapsed() >= CHAT_DELTA_EVERY {
            self.last_delta = Instant::now();
            self.chat_seq += 1;
            let mut ev = chat_event(self.run, self.chat_seq, ChatState::Delta);
            ev.message = Some(ChatMessage::assistant(text, now_ms()));
            ev.delta_text = Some(delta.to_string());
            emit_chat(self.state, &ev);
        }
    }

    /// The next `chat` event of the run (`final`, `aborted`), filled in by `fill`.
    pub(super) fn chat(&mut self, chat_state: ChatState, fill: impl FnOnce(&mut ChatEvent)) {
        self.chat_seq += 1;
        let mut ev = chat_event(self.run, self.chat_seq, chat_state);
        fill(&mut ev);
        emit_chat(self.state, &ev);
    }

    /// A `chat` error event; it carries the `agent` seq, as it always has.
    pub(super) fn chat_error(&mut self, message: &str, kind: &str) {
        let mut ev = chat_event(self.run, self.seq, ChatState::Error);
        ev.error_message = Some(message.to_string());
        ev.error_kind = Some(kind.to_string());
        emit_chat(self.state, &ev);
    }
}
