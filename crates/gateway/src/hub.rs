//! The set of live connections and event fan-out. Each connection has an outbound queue whose
//! bytes are accounted: above `maxBufferedBytes` a `dropIfSlow` event is skipped for that
//! client and any other event closes it with 1008 "slow consumer" (§9), so a slow client can
//! never grow our memory without bound. `seq` is per connection and gap-free.
//!
//! A broadcast is rendered once into a [`SharedEvent`] that every recipient's queue points at;
//! only the `seq` is per connection, spliced in when the connection task writes the frame. So a
//! presence change to 10,000 clients costs one copy of the payload plus 10,000 queue entries,
//! not 10,000 copies (bytes are still accounted per connection, as the reference's
//! `bufferedAmount` is). A connection closed as a slow consumer is woken at once (even while it
//! waits on a write the client never reads) and drops its queue then.

use crate::sync::LockExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use openclaw_protocol::StateVersion;
use openclaw_protocol::connect::scopes;
use tokio::sync::{Notify, mpsc};

/// What the connection task writes to its socket.
#[derive(Debug)]
pub enum Outbound {
    Text(String),
    /// A broadcast event shared by every recipient, with this connection's `seq`.
    Event(Arc<SharedEvent>, u64),
    Close(u16, String),
}

impl Outbound {
    /// The frame text of a `Text` or `Event` (what the queue accounted for it).
    pub fn into_text(self) -> Option<String> {
        match self {
            Outbound::Text(t) => Some(t),
            Outbound::Event(e, seq) => Some(e.render(seq)),
            Outbound::Close(..) => None,
        }
    }

    /// Bytes this entry was accounted with in the connection's queue.
    pub fn accounted_len(&self) -> usize {
        match self {
            Outbound::Text(t) => t.len(),
            Outbound::Event(e, seq) => e.len_with(*seq),
            Outbound::Close(..) => 0,
        }
    }
}

/// `maxBufferedBytes`: the protocol's 50 MiB, or `OPENCLAW_MAX_BUFFERED_BYTES` (a test and
/// tuning knob; the production default is the reference's value).
pub fn max_buffered_bytes() -> usize {
    openclaw_config::env::var("MAX_BUFFERED_BYTES")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(openclaw_protocol::MAX_BUFFERED_BYTES)
}

/// One event frame rendered once for all its recipients, except the per-connection `seq`:
/// `head` + `,"seq":N` + `tail` is the frame (the same text [`event_text`] makes).
#[derive(Debug)]
pub struct SharedEvent {
    /// `{"type":"event","event":…,"payload":…`
    head: String,
    /// `,"stateVersion":{…}}` or `}`.
    tail: String,
}

impl SharedEvent {
    pub fn new(event: &str, payload_json: &str, state_version: Option<StateVersion>) -> Self {
        let mut head = String::with_capacity(payload_json.len() + 48);
        head.push_str(r#"{"type":"event","event":"#);
        head.push_str(&serde_json::to_string(event).unwrap_or_else(|_| "\"\"".into()));
        head.push_str(r#","payload":"#);
        head.push_str(payload_json);
        let mut tail = String::new();
        if let Some(sv) = state_version {
            tail.push_str(&format!(
                ",\"stateVersion\":{{\"presence\":{},\"health\":{}}}",
                sv.presence, sv.health
            ));
        }
        tail.push('}');
        Self { head, tail }
    }

    /// Length of the frame with `seq`, without rendering it.
    pub fn len_with(&self, seq: u64) -> usize {
        self.head.len() + r#","seq":"#.len() + decimal_len(seq) + self.tail.len()
    }

    /// The frame text with `seq`.
    pub fn render(&self, seq: u64) -> String {
        let mut s = String::with_capacity(self.len_with(seq));
        s.push_str(&self.head);
        s.push_str(r#","seq":"#);
        s.push_str(&seq.to_string());
        s.push_str(&self.tail);
        s
    }
}

fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

/// Which clients may see an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// Pairing events: operators with `operator.pairing` or admin; never nodes.
    Pairing,
    /// Agent and chat streams: operators with read, write or admin.
    Operators,
    /// Agent `tool` events: operators that declared the `tool-events` cap.
    ToolEvents,
    /// `sessions.changed`: connections that called `sessions.subscribe` (and not
    /// `sessions.unsubscribe` since); the subscription ends with the connection.
    SessionSubscribers,
    /// Exec approval events: operators with `operator.approvals` or admin.
    Approvals,
}

/// The hub's view of one authenticated connection.
pub struct ConnHandle {
    pub conn_id: String,
    pub role: String,
    pub scopes: Vec<String>,
    tx: mpsc::UnboundedSender<Outbound>,
    queued: Arc<AtomicUsize>,
    seq: Mutex<u64>,
    closing: AtomicBool,
    /// Woken when the connection is closed as a slow consumer.
    slow: Notify,
    max_buffered: usize,
    /// The client declared the `tool-events` cap.
    pub tool_events: AtomicBool,
    /// The client subscribed to `sessions.changed`.
    pub session_events: AtomicBool,
    /// The verified device identity of the client, if it proved one.
    pub device_id: Option<String>,
    /// The client can answer exec approvals (the reference's `canDeliverApprovals`: the
    /// Control UI, the native apps, or the `approvals`/`exec-approvals` cap).
    pub approval_client: AtomicBool,
}

impl ConnHandle {
    pub fn new(
        conn_id: String,
        role: String,
        scopes: Vec<String>,
        tx: mpsc::UnboundedSender<Outbound>,
        queued: Arc<AtomicUsize>,
        max_buffered: usize,
    ) -> Self {
        Self {
            conn_id,
            role,
            scopes,
            tx,
            queued,
            seq: Mutex::new(0),
            closing: AtomicBool::new(false),
            slow: Notify::new(),
            max_buffered,
            tool_events: AtomicBool::new(false),
            session_events: AtomicBool::new(false),
            device_id: None,
            approval_client: AtomicBool::new(false),
        }
    }

    pub fn with_device(mut self, device_id: Option<String>) -> Self {
        self.device_id = device_id;
        self
    }

    fn sees(&self, audience: Audience) -> bool {
        match audience {
            Audience::Everyone => true,
            Audience::ToolEvents => {
                self.tool_events.load(Ordering::Relaxed) && self.sees(Audience::Operators)
            }
            Audience::SessionSubscribers => {
                self.session_events.load(Ordering::Relaxed) && self.sees(Audience::Operators)
            }
            Audience::Operators => {
                self.role == "operator"
                    && self
                        .scopes
                        .iter()
                        .any(|s| s == scopes::ADMIN || s == scopes::READ || s == scopes::WRITE)
            }
            Audience::Approvals => {
                self.role == "operator"
                    && self
                        .scopes
                        .iter()
                        .any(|s| s == scopes::ADMIN || s == scopes::APPROVALS)
            }
            Audience::Pairing => {
                self.role == "operator"
                    && self
                        .scopes
                        .iter()
                        .any(|s| s == scopes::ADMIN || s == scopes::PAIRING)
            }
        }
    }

    /// Queues a response or other frame that must not be dropped (replies are bounded by the
    /// requests a client sends; a client that stops reading is closed here).
    pub fn send_text(&self, text: String) -> bool {
        if self.closing.load(Ordering::Relaxed) {
            return false;
        }
        if self.queued.load(Ordering::Relaxed) + text.len() > self.max_buffered {
            self.close_slow();
            return false;
        }
        self.queued.fetch_add(text.len(), Ordering::Relaxed);
        self.tx.send(Outbound::Text(text)).is_ok()
    }

    /// Marks the connection closing and wakes its task, which drops the queue at once and
    /// closes with 1008 "slow consumer" (not queued behind the bytes the client is not reading).
    fn close_slow(&self) {
        if !self.closing.swap(true, Ordering::Relaxed) {
            tracing::warn!(target: "ws", "closing slow consumer conn={}", self.conn_id);
            // A stored permit: the task sees it even if it is not waiting yet.
            self.slow.notify_one();
        }
    }

    /// Resolves once this connection has been closed as a slow consumer.
    pub async fn slow_consumer(&self) {
        self.slow.notified().await;
    }

    /// Sends an event with the next `seq` of this connection.
    pub fn send_event(
        &self,
        event: &str,
        payload_json: &str,
        state_version: Option<StateVersion>,
        drop_if_slow: bool,
    ) {
        self.send_shared(
            event,
            &Arc::new(SharedEvent::new(event, payload_json, state_version)),
            drop_if_slow,
        );
    }

    /// Queues a shared event frame with the next `seq` of this connection.
    fn send_shared(&self, event: &str, frame: &Arc<SharedEvent>, drop_if_slow: bool) {
        debug_assert!(
            openclaw_protocol::events::names::ALL.contains(&event),
            "event {event:?} is sent but not advertised in hello-ok.features.events"
        );
        if self.closing.load(Ordering::Relaxed) {
            return;
        }
        let mut seq = self.seq.locked();
        let len = frame.len_with(*seq + 1);
        if self.queued.load(Ordering::Relaxed) + len > self.max_buffered {
            if !drop_if_slow {
                self.close_slow();
            }
            return;
        }
        *seq += 1;
        self.queued.fetch_add(len, Ordering::Relaxed);
        let _ = self.tx.send(Outbound::Event(frame.clone(), *seq));
    }

    pub fn close(&self, code: u16, reason: &str) {
        if !self.closing.swap(true, Ordering::Relaxed) {
            let _ = self.tx.send(Outbound::Close(code, reason.to_string()));
        }
    }
}

/// Formats an event frame around an already-serialized payload.
pub fn event_text(
    event: &str,
    payload_json: &str,
    seq: Option<u64>,
    state_version: Option<StateVersion>,
) -> String {
    let frame = SharedEvent::new(event, payload_json, state_version);
    match seq {
        Some(seq) => frame.render(seq),
        None => frame.head + &frame.tail,
    }
}

#[derive(Default)]
pub struct Hub {
    conns: RwLock<HashMap<String, Arc<ConnHandle>>>,
}

impl Hub {
    pub fn register(&self, h: Arc<ConnHandle>) {
        if let Ok(mut m) = self.conns.write() {
            m.insert(h.conn_id.clone(), h);
        }
    }

    pub fn unregister(&self, conn_id: &str) {
        if let Ok(mut m) = self.conns.write() {
            m.remove(conn_id);
        }
    }

    pub fn count(&self) -> usize {
        self.conns.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Bytes queued for sending over all connections (`gateway.runtimeStats`).
    pub fn queued_bytes(&self) -> usize {
        self.conns
            .read()
            .map(|m| m.values().map(|c| c.queued.load(Ordering::Relaxed)).sum())
            .unwrap_or(0)
    }

    fn snapshot(&self) -> Vec<Arc<ConnHandle>> {
        self.conns
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Sends `event` to every connection in `audience`; the frame is rendered once and shared
    /// by every queue. Returns how many connections it was queued for.
    pub fn broadcast(
        &self,
        event: &str,
        payload_json: &str,
        state_version: Option<StateVersion>,
        drop_if_slow: bool,
        audience: Audience,
    ) -> usize {
        let frame = Arc::new(SharedEvent::new(event, payload_json, state_version));
        let mut recipients = 0;
        for c in self.snapshot() {
            if c.sees(audience) {
                c.send_shared(event, &frame, drop_if_slow);
                recipients += 1;
            }
        }
        recipients
    }

    /// Whether any connected client can answer an exec approval now (else a run is
    /// headless and `askFallback` applies at once).
    pub fn has_approvers(&self) -> bool {
        self.snapshot()
            .iter()
            .any(|c| c.approval_client.load(Ordering::Relaxed) && c.sees(Audience::Approvals))
    }

    /// The live connection `conn_id`, if still registered.
    pub fn get(&self, conn_id: &str) -> Option<Arc<ConnHandle>> {
        self.conns.read().ok().and_then(|m| m.get(conn_id).cloned())
    }

    /// Whether a connection of this device is open.
    pub fn has_device(&self, device_id: &str) -> bool {
        self.snapshot()
            .iter()
            .any(|c| c.device_id.as_deref() == Some(device_id))
    }

    /// Closes the connections of a device (of one role, when given): after its pairing or
    /// token was withdrawn, it must prove itself again.
    pub fn close_device(&self, device_id: &str, role: Option<&str>, code: u16, reason: &str) {
        for c in self.snapshot() {
            if c.device_id.as_deref() == Some(device_id) && role.is_none_or(|r| c.role == r) {
                c.close(code, reason);
            }
        }
    }

    /// Closes every connection with `code`/`reason`.
    pub fn close_all(&self, code: u16, reason: &str) {
        for c in self.snapshot() {
            c.close(code, reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(max: usize) -> (Arc<ConnHandle>, mpsc::UnboundedReceiver<Outbound>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let h = ConnHandle::new(
            "c1".into(),
            "operator".into(),
            vec![],
            tx,
            Arc::new(AtomicUsize::new(0)),
            max,
        );
        (Arc::new(h), rx)
    }

    #[test]
    fn seq_is_per_connection_and_gap_free() {
        let (h, mut rx) = handle(1 << 20);
        h.send_event("tick", r#"{"ts":1}"#, None, true);
        h.send_event(
            "presence",
            r#"{"presence":[]}"#,
            Some(StateVersion {
                presence: 2,
                health: 1,
            }),
            true,
        );
        let a = rx.try_recv().unwrap().into_text().unwrap();
        let b = rx.try_recv().unwrap().into_text().unwrap();
        assert_eq!(
            a,
            r#"{"type":"event","event":"tick","payload":{"ts":1},"seq":1}"#
        );
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["seq"], 2);
        assert_eq!(v["stateVersion"]["presence"], 2);
    }

    #[test]
    fn slow_consumer_drops_then_closes() {
        let (h, mut rx) = handle(450);
        let big = format!("\"{}\"", "x".repeat(250));
        h.send_event("tick", &big, None, true); // fits
        h.send_event("tick", &big, None, true); // over: dropped, connection kept
        assert!(matches!(rx.try_recv(), Ok(Outbound::Event(..))));
        assert!(rx.try_recv().is_err());
        h.send_event("shutdown", &big, None, false); // over and not droppable: closed
        // Not queued behind what the client is not reading: the task is woken at once.
        assert!(rx.try_recv().is_err());
        let woken = futures_util::FutureExt::now_or_never(h.slow_consumer());
        assert!(woken.is_some(), "the connection task is told at once");
        h.send_event("tick", r#"{"ts":1}"#, None, true);
        assert!(rx.try_recv().is_err(), "nothing is queued once closing");
    }

    #[test]
    fn a_broadcast_frame_is_shared_and_renders_the_event_frame() {
        let (a, mut ra) = handle(1 << 20);
        let (b, mut rb) = handle(1 << 20);
        b.send_event("tick", r#"{"ts":0}"#, None, true);
        let sv = Some(StateVersion {
            presence: 3,
            health: 4,
        });
        let frame = Arc::new(SharedEvent::new("presence", r#"{"presence":[]}"#, sv));
        a.send_shared("presence", &frame, true);
        b.send_shared("presence", &frame, true);
        assert_eq!(Arc::strong_count(&frame), 3, "one copy, two queue entries");
        let _ = rb.try_recv();
        for (rx, seq) in [(&mut ra, 1), (&mut rb, 2)] {
            let out = rx.try_recv().unwrap();
            let len = out.accounted_len();
            let text = out.into_text().unwrap();
            assert_eq!(text.len(), len, "accounted = written");
            assert_eq!(
                text,
                format!(
                    r#"{{"type":"event","event":"presence","payload":{{"presence":[]}},"seq":{seq},"stateVersion":{{"presence":3,"health":4}}}}"#
                )
            );
        }
    }
}
