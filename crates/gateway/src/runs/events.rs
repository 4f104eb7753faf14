//! What a run tells operators: the `agent` event stream (one `seq` per run; tool events only to
//! clients that asked for them) and the session's `chat` events, whose deltas are throttled so
//! a fast model does not flood slow clients.

use std::time::{Duration, Instant};

use openclaw_agent::Usage;
use serde_json::{Value, json};

use super::Run;
use crate::hub::Audience;
use crate::state::{AppState, now_ms};

/// Chat delta events are throttled to one per this interval per run.
const CHAT_DELTA_EVERY: Duration = Duration::from_millis(150);

/// Sends an `agent` event (seq per run) to operators.
pub(super) fn emit_agent(state: &AppState, run: &Run, seq: &mut u64, stream: &str, data: Value) {
    *seq += 1;
    let payload = json!({
        "runId": run.run_id,
        "seq": *seq,
        "stream": stream,
        "ts": now_ms(),
        "data": data,
        "sessionKey": run.session_key,
    });
    let audience = if stream == "tool" {
        Audience::ToolEvents
    } else {
        Audience::Operators
    };
    state.hub.broadcast(
        openclaw_protocol::events::names::AGENT,
        &payload.to_string(),
        None,
        stream == "assistant",
        audience,
    );
}

/// Sends a `chat` event for the run's session.
pub(super) fn emit_chat(
    state: &AppState,
    run: &Run,
    seq: u64,
    chat_state: &str,
    text: Option<&str>,
    extra: Value,
) {
    let mut payload = json!({
        "runId": run.run_id,
        "sessionKey": run.session_key,
        "seq": seq,
        "state": chat_state,
    });
    if let Some(t) = text {
        payload["message"] = json!({
            "role": "assistant",
            "content": [{"type": "text", "text": t}],
            "timestamp": now_ms(),
        });
    }
    if let (Some(obj), Some(more)) = (payload.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            obj.insert(k.clone(), v.clone());
        }
    }
    state.hub.broadcast(
        openclaw_protocol::events::names::CHAT,
        &payload.to_string(),
        None,
        chat_state == "delta",
        Audience::Operators,
    );
}

pub(super) fn usage_json(u: &Usage) -> Value {
    json!({
        "input": u.input,
        "output": u.output,
        "cacheRead": u.cache_read,
        "cacheWrite": u.cache_write,
        "total": u.total_tokens,
    })
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

    pub(super) fn agent(&mut self, stream: &str, data: Value) {
        emit_agent(self.state, self.run, &mut self.seq, stream, data);
    }

    /// A streamed text delta: always an `agent` event, a `chat` delta at most every
    /// [`CHAT_DELTA_EVERY`].
    pub(super) fn assistant_delta(&mut self, text: &str, delta: &str) {
        self.agent("assistant", json!({"text": text, "delta": delta}));
        if self.last_delta.elapsed() >= CHAT_DELTA_EVERY {
            self.last_delta = Instant::now();
            self.chat_seq += 1;
            emit_chat(
                self.state,
                self.run,
                self.chat_seq,
                "delta",
                Some(text),
                json!({"deltaText": delta}),
            );
        }
    }

    /// The next `chat` event of the run (`final`, `aborted`).
    pub(super) fn chat(&mut self, chat_state: &str, text: Option<&str>, extra: Value) {
        self.chat_seq += 1;
        emit_chat(self.state, self.run, self.chat_seq, chat_state, text, extra);
    }

    /// A `chat` error event; it carries the `agent` seq, as it always has.
    pub(super) fn chat_error(&mut self, extra: Value) {
        emit_chat(self.state, self.run, self.seq, "error", None, extra);
    }
}
