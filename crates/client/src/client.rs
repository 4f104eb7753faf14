//! [`GatewayClient`]: one authenticated connection, with a reader task that routes responses
//! by id and a writer task that owns the socket's write half.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use openclaw_protocol::{EventFrame, RequestFrame};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::error::ClientError;
use crate::handshake::{Ws, close_parts, deadline_after, handshake, millis};
use crate::inbox::{ABNORMAL_CLOSE, Inbox, parse_frame};
use crate::options::ConnectOptions;

/// Frames queued for the writer task; a full queue makes `request` wait (backpressure), it
/// never drops a request.
const OUTBOUND_CAPACITY: usize = 256;
/// How long `close` waits for the gateway to answer our close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A connected, authenticated gateway session.
///
/// `request` takes `&self`, so one client can be shared (e.g. in an `Arc`) by tasks issuing
/// concurrent requests; responses are matched by id. Dropping the client closes the socket
/// (normal close, 1000) in the background.
pub struct GatewayClient {
    hello: Value,
    inbox: Arc<Inbox>,
    outbound: mpsc::Sender<Message>,
    /// Request ids are `"<n>:<uuid>"` like the official CLI's; `1` is the `connect`.
    next_id: AtomicU64,
    reader: JoinHandle<()>,
}

impl GatewayClient {
    /// Opens the socket, waits for `connect.challenge`, sends `connect` (signed when
    /// `opts.device` is set) and waits for its answer, all within `opts.handshake_timeout`.
    /// Returns the client and the `hello-ok` payload (v3, v4 or bare `{type, protocol}`).
    pub async fn connect(opts: ConnectOptions) -> Result<(GatewayClient, Value), ClientError> {
        let (ws, hello) = handshake(&opts, &request_id(1)).await?;
        let (sink, stream) = ws.split();
        let inbox = Arc::new(Inbox::default());
        let (outbound, outbound_rx) = mpsc::channel(OUTBOUND_CAPACITY);
        tokio::spawn(write_loop(sink, outbound_rx));
        let reader = tokio::spawn(read_loop(stream, Arc::clone(&inbox)));
        let client = GatewayClient {
            hello: hello.clone(),
            inbox,
            outbound,
            next_id: AtomicU64::new(2),
            reader,
        };
        Ok((client, hello))
    }

    /// The `hello-ok` payload this session was opened with.
    pub fn hello(&self) -> &Value {
        &self.hello
    }

    /// Sends `method` and waits up to `timeout` for its `res`. `params: None` leaves the
    /// `params` key out. `ok:false` becomes [`ClientError::Rpc`]; a missing payload is `null`.
    pub async fn request(
        &self,
        method: &str,
        params: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        self.call(method, params, timeout, false).await
    }

    /// Like [`Self::request`], but an `ok:true` answer whose `payload.status` is `"accepted"`
    /// is interim: keep waiting (within the same `timeout`) for the final `res` with that id.
    pub async fn request_expect_final(
        &self,
        method: &str,
        params: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        self.call(method, params, timeout, true).await
    }

    /// The next broadcast event, in arrival order; `None` once the connection has closed and
    /// every queued event was taken. At most [`crate::EVENT_QUEUE_CAPACITY`] events are kept;
    /// beyond that the oldest is dropped (see [`Self::dropped_events`]).
    pub async fn next_event(&mut self) -> Option<EventFrame> {
        self.inbox.next_event().await
    }

    /// [`Self::next_event`] for a client shared in an `Arc` (a node answers invokes from other
    /// tasks while one task takes events). Only one task should take events.
    pub async fn next_event_shared(&self) -> Option<EventFrame> {
        self.inbox.next_event().await
    }

    /// How many events were dropped because nobody took them in time.
    pub fn dropped_events(&self) -> u64 {
        self.inbox.dropped_events()
    }

    /// `(code, reason)` once the connection has closed: the gateway's close frame, `1005` for
    /// a close frame without a code, `1006` (reason = what broke) when there was none.
    pub fn close_info(&self) -> Option<(u16, String)> {
        self.inbox.close_info()
    }

    /// Sends a normal close (1000) and waits briefly for the gateway's answer.
    pub async fn close(mut self) {
        let frame = Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }));
        if timeout(CLOSE_WAIT, self.outbound.send(frame)).await.is_ok() {
            let _ = timeout(CLOSE_WAIT, &mut self.reader).await;
        }
    }

    async fn call(
        &self,
        method: &str,
        params: Option<Value>,
        timeout: Duration,
        expect_final: bool,
    ) -> Result<Value, ClientError> {
        let deadline = deadline_after(timeout);
        let timed_out = |_| ClientError::Timeout(millis(timeout));
        let id = request_id(self.next_id.fetch_add(1, Ordering::Relaxed));
        let text = serde_json::to_string(&RequestFrame::new(id.as_str(), method, params))
            .map_err(|e| ClientError::Protocol(format!("cannot encode {method} request: {e}")))?;

        let rx = self
            .inbox
            .register(&id, expect_final)
            .map_err(|(code, reason)| ClientError::Closed { code, reason })?;
        // Unregisters on every exit, including the caller dropping this future.
        let _waiter = Waiter {
            inbox: &self.inbox,
            id: &id,
        };
        if timeout_at(deadline, self.outbound.send(Message::text(text)))
            .await
            .map_err(timed_out)?
            .is_err()
        {
            return Err(self.closed_error());
        }
        match timeout_at(deadline, rx).await.map_err(timed_out)? {
            Ok(res) => res.into_result().map_err(ClientError::Rpc),
            Err(_) => Err(self.closed_error()),
        }
    }

    fn closed_error(&self) -> ClientError {
        let (code, reason) = self.close_info().unwrap_or_else(|| {
            (
                ABNORMAL_CLOSE,
                "connection lost without a close frame".to_string(),
            )
        });
        ClientError::Closed { code, reason }
    }
}

impl Drop for GatewayClient {
    fn drop(&mut self) {
        // The writer task ends by itself (sending a normal close) when `outbound` is dropped.
        self.reader.abort();
    }
}

impl std::fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayClient")
            .field("close_info", &self.close_info())
            .finish_non_exhaustive()
    }
}

struct Waiter<'a> {
    inbox: &'a Inbox,
    id: &'a str,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.inbox.unregister(self.id);
    }
}

fn request_id(n: u64) -> String {
    format!("{n}:{}", uuid::Uuid::new_v4())
}

/// Owns the read half: routes every frame to the inbox, records the close. Ping/pong and the
/// close reply are handled by tungstenite while this keeps reading.
async fn read_loop(mut stream: SplitStream<Ws>, inbox: Arc<Inbox>) {
    while let Some(msg) = stream.next().await {
        match msg {
            Ok(Message::Text(text)) => deliver(&inbox, text.as_str()),
            // Spec §1: binary frames are UTF-8 JSON too.
            Ok(Message::Binary(bytes)) => {
                if let Ok(text) = std::str::from_utf8(&bytes) {
                    deliver(&inbox, text);
                }
            }
            Ok(Message::Close(frame)) => {
                let (code, reason) = close_parts(frame);
                inbox.close(code, reason);
            }
            Ok(_) => {}
            Err(e) => {
                inbox.close(ABNORMAL_CLOSE, e.to_string());
                return;
            }
        }
    }
    inbox.close(
        ABNORMAL_CLOSE,
        "connection lost without a close frame".to_string(),
    );
}

fn deliver(inbox: &Inbox, text: &str) {
    // Non-JSON and unknown frames are ignored, as the reference client does.
    if let Some(msg) = parse_frame(text) {
        inbox.deliver(msg);
    }
}

/// Owns the write half. Ends after sending a close frame, on a write error, or when the client
/// is dropped (then it sends the normal close itself).
async fn write_loop(mut sink: SplitSink<Ws, Message>, mut outbound: mpsc::Receiver<Message>) {
    while let Some(msg) = outbound.recv().await {
        let closing = matches!(msg, Message::Close(_));
        if sink.send(msg).await.is_err() || closing {
            return;
        }
    }
    let normal = Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }));
    let _ = timeout(CLOSE_WAIT, sink.send(normal)).await;
}
