//! Where the reader task puts what the gateway sends: `res` frames go to the request waiting on
//! that id, events into a bounded queue, and the close code/reason is kept for everyone.
//!
//! The reader never waits on a consumer: every hand-off here is a non-blocking push under a
//! short `std` mutex, so a slow caller can lose events but cannot stall responses or pings.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use openclaw_protocol::{ErrorShape, EventFrame, EventTag, StateVersion};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

/// Events kept for [`crate::GatewayClient::next_event`]. When full the *oldest* event is dropped:
/// the newest `health`/`presence` snapshots are the ones worth having, and the `seq` gap tells
/// the caller something was missed.
pub const EVENT_QUEUE_CAPACITY: usize = 1024;

/// Close code reported when the socket ended without a close frame (RFC 6455 "abnormal").
pub(crate) const ABNORMAL_CLOSE: u16 = 1006;
/// Close code reported for a close frame that carried no code (RFC 6455 "no status").
pub(crate) const NO_STATUS_CLOSE: u16 = 1005;

/// One `res` frame, parsed leniently.
#[derive(Debug)]
pub(crate) struct Response {
    pub ok: bool,
    pub payload: Option<Value>,
    pub error: Option<ErrorShape>,
}

impl Response {
    /// An interim answer (`payload.status == "accepted"`) to a request that expects a final one.
    pub fn is_accepted(&self) -> bool {
        self.ok
            && self
                .payload
                .as_ref()
                .and_then(|p| p.get("status"))
                .and_then(Value::as_str)
                == Some("accepted")
    }

    /// `ok:true` → the payload (`null` when absent); `ok:false` → the error shape.
    pub fn into_result(self) -> Result<Value, ErrorShape> {
        if self.ok {
            Ok(self.payload.unwrap_or(Value::Null))
        } else {
            Err(self.error.unwrap_or_else(|| {
                ErrorShape::unavailable("gateway answered ok:false without an error")
            }))
        }
    }
}

/// A frame from the gateway, after the lenient parse.
pub(crate) enum ServerMessage {
    Res { id: String, res: Response },
    Event(EventFrame),
}

/// Parses one text frame. Anything that is not a recognisable `res` or `event` is `None`
/// (ignored), never an error: a gateway may add frame kinds or fields.
pub(crate) fn parse_frame(text: &str) -> Option<ServerMessage> {
    let Value::Object(mut frame) = serde_json::from_str::<Value>(text).ok()? else {
        return None;
    };
    match frame.get("type").and_then(Value::as_str)? {
        "res" => {
            let id = frame.get("id").and_then(Value::as_str)?.to_string();
            let ok = frame.get("ok").and_then(Value::as_bool).unwrap_or(false);
            let payload = frame.remove("payload");
            let error = frame.remove("error").map(parse_error);
            Some(ServerMessage::Res {
                id,
                res: Response { ok, payload, error },
            })
        }
        "event" => {
            let event = frame.get("event").and_then(Value::as_str)?.to_string();
            Some(ServerMessage::Event(EventFrame {
                kind: EventTag::Event,
                event,
                payload: frame.remove("payload"),
                seq: frame.get("seq").and_then(Value::as_u64),
                state_version: frame
                    .remove("stateVersion")
                    .and_then(|v| serde_json::from_value::<StateVersion>(v).ok()),
            }))
        }
        _ => None,
    }
}

/// The error shape, or the closest thing to it when the gateway sent something odd.
fn parse_error(error: Value) -> ErrorShape {
    match serde_json::from_value::<ErrorShape>(error.clone()) {
        Ok(shape) => shape,
        Err(_) => {
            let code = error
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or(openclaw_protocol::codes::UNAVAILABLE);
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| error.to_string());
            ErrorShape::new(code, message)
        }
    }
}

/// A request waiting for its `res`.
struct Pending {
    tx: oneshot::Sender<Response>,
    expect_final: bool,
}

#[derive(Default)]
struct State {
    pending: HashMap<String, Pending>,
    events: VecDeque<EventFrame>,
    dropped_events: u64,
    /// Set once, when the socket closed.
    close: Option<(u16, String)>,
}

/// Shared between the reader task and the [`crate::GatewayClient`] handle.
#[derive(Default)]
pub(crate) struct Inbox {
    state: Mutex<State>,
    event_ready: Notify,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under this lock can panic half-way, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a waiter for `id`; `Err` with the close info once the socket has closed.
    pub fn register(
        &self,
        id: &str,
        expect_final: bool,
    ) -> Result<oneshot::Receiver<Response>, (u16, String)> {
        let mut state = self.lock();
        if let Some(close) = &state.close {
            return Err(close.clone());
        }
        let (tx, rx) = oneshot::channel();
        state
            .pending
            .insert(id.to_string(), Pending { tx, expect_final });
        Ok(rx)
    }

    /// Forgets the waiter for `id` (its request finished, timed out or was dropped).
    pub fn unregister(&self, id: &str) {
        self.lock().pending.remove(id);
    }

    /// Routes one parsed frame. Responses nobody waits for (late, unknown id) are dropped.
    pub fn deliver(&self, msg: ServerMessage) {
        match msg {
            ServerMessage::Res { id, res } => {
                let mut state = self.lock();
                let Some(pending) = state.pending.get(&id) else {
                    return;
                };
                // The interim answer of an expect-final request is swallowed; the waiter stays
                // registered for the final `res` with the same id.
                if pending.expect_final && res.is_accepted() {
                    return;
                }
                if let Some(pending) = state.pending.remove(&id) {
                    let _ = pending.tx.send(res);
                }
            }
            ServerMessage::Event(event) => {
                let mut state = self.lock();
                if state.events.len() >= EVENT_QUEUE_CAPACITY {
                    state.events.pop_front();
                    state.dropped_events += 1;
                }
                state.events.push_back(event);
                drop(state);
                self.event_ready.notify_one();
            }
        }
    }

    /// Records the close (the first one wins), fails every waiting request and wakes
    /// `next_event` so it can report the end after draining the queue.
    pub fn close(&self, code: u16, reason: String) {
        let mut state = self.lock();
        if state.close.is_none() {
            state.close = Some((code, reason));
        }
        // Dropping the senders fails every waiting receiver.
        state.pending.clear();
        drop(state);
        self.event_ready.notify_one();
    }

    pub fn close_info(&self) -> Option<(u16, String)> {
        self.lock().close.clone()
    }

    pub fn dropped_events(&self) -> u64 {
        self.lock().dropped_events
    }

    /// The next queued event; `None` once the queue is empty and the socket closed.
    pub async fn next_event(&self) -> Option<EventFrame> {
        loop {
            {
                let mut state = self.lock();
                if let Some(event) = state.events.pop_front() {
                    return Some(event);
                }
                if state.close.is_some() {
                    return None;
                }
            }
            // `notify_one` stores a permit when nobody waits, so a push between the check
            // above and this await is not lost.
            self.event_ready.notified().await;
        }
    }
}
