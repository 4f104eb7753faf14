//! One WebSocket connection: challenge → handshake (bounded in time and size) → request loop.
//! Requests are answered in order; events and replies share one byte-accounted queue so a
//! client that stops reading is dropped instead of growing memory.

use crate::sync::LockExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use openclaw_protocol::events::names as ev;
use openclaw_protocol::schema::{FrameError, parse_params, parse_request};
use openclaw_protocol::{
    ClientMode, ConnectChallenge, ConnectParams, ErrorShape, MAX_PREAUTH_PAYLOAD_BYTES,
    PresenceEntry, RequestFrame, ResponseFrame,
};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::frame_guard::{FrameGuard, Limit};
use crate::handshake::{self, Peer};
use crate::hub::{ConnHandle, Outbound};
use crate::registry::{MethodCtx, Reply};
use crate::state::{AppState, PreauthSlot, now_ms};

/// Close reasons are limited to 123 bytes by the WebSocket spec.
fn truncate_reason(s: &str) -> String {
    if s.len() <= 123 {
        return s.to_string();
    }
    let mut end = 123;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The upgraded socket, behind the pre-auth frame guard.
pub type Socket = WebSocketStream<FrameGuard<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>>;

/// How long a close waits for the peer's closing frame before dropping the TCP connection.
const CLOSE_DRAIN: Duration = Duration::from_secs(1);

/// Starts the closing handshake (RFC 6455 §5.5.1) and waits briefly for the client's answer,
/// so the client sees our code and a clean close instead of a dropped connection.
async fn close(socket: &mut Socket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: truncate_reason(reason).into(),
    };
    // Bounded: a client that reads nothing must not hold its task (and, across an in-process
    // restart, the old generation's state) forever while our close frame waits to be written.
    let sent = tokio::time::timeout(CLOSE_DRAIN, socket.close(Some(frame))).await;
    if matches!(sent, Ok(Ok(()))) {
        drain(socket).await;
    }
}

/// Answers a client's close frame (the library queued the echo; flushing sends it) and lets the
/// client end the TCP connection.
async fn answer_close(socket: &mut Socket) {
    let _ = tokio::time::timeout(CLOSE_DRAIN, socket.close(None)).await;
    drain(socket).await;
}

async fn drain(socket: &mut Socket) {
    let _ = tokio::time::timeout(CLOSE_DRAIN, async {
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
}

/// Why a read ended the connection, and how to close it.
async fn end_after_read_error(
    socket: &mut Socket,
    limit: &Limit,
    e: &tokio_tungstenite::tungstenite::Error,
    conn_id: &str,
) {
    use tokio_tungstenite::tungstenite::Error as E;
    use tokio_tungstenite::tungstenite::error::CapacityError;
    if limit.tripped() || matches!(e, E::Capacity(CapacityError::MessageTooLong { .. })) {
        tracing::debug!(target: "ws", "frame too large conn={conn_id}");
        close(socket, 1009, "").await;
        return;
    }
    tracing::debug!(target: "ws", "read error conn={conn_id}: {e}");
    if matches!(e, E::Protocol(_) | E::Utf8(_)) {
        close(socket, 1002, "").await;
    }
}

/// What one read from the socket means for the connection loop.
enum Incoming {
    Data(Vec<u8>),
    /// A control frame: read on.
    Skip,
    /// The client closed (answered), the stream ended, or a read error closed it.
    Ended,
}

async fn incoming(
    socket: &mut Socket,
    msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    limit: &Limit,
    conn_id: &str,
) -> Incoming {
    match msg {
        Some(Ok(Message::Text(t))) => Incoming::Data(t.as_bytes().to_vec()),
        Some(Ok(Message::Binary(b))) => Incoming::Data(b.to_vec()),
        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Incoming::Skip,
        Some(Ok(Message::Close(_))) => {
            answer_close(socket).await;
            Incoming::Ended
        }
        None => Incoming::Ended,
        Some(Err(e)) => {
            end_after_read_error(socket, limit, &e, conn_id).await;
            Incoming::Ended
        }
    }
}

/// Answers a first request that is not a valid `connect` with `err`, then closes with 1008.
async fn refuse_first_request(socket: &mut Socket, id: &str, err: ErrorShape) {
    let _ = socket
        .send(Message::Text(
            res_text(&ResponseFrame::err(id, err.clone())).into(),
        ))
        .await;
    close(socket, 1008, &err.message).await;
}

/// Largest frame we write. A longer message goes out as continuation frames (RFC 6455 §5.4;
/// every client library reassembles them): the socket's write buffer keeps the capacity of the
/// largest frame it ever held, so without this one big answer (a `chat.history`, a hello-ok)
/// would stay allocated for the connection's whole life.
const MAX_FRAME_BYTES: usize = 2048;

/// Sends one text message, fragmented above [`MAX_FRAME_BYTES`].
async fn send_text(
    socket: &mut Socket,
    text: String,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    if text.len() <= MAX_FRAME_BYTES {
        return socket.send(Message::Text(text.into())).await;
    }
    let bytes = tokio_tungstenite::tungstenite::Bytes::from(text);
    let mut at = 0;
    while at < bytes.len() {
        let end = (at + MAX_FRAME_BYTES).min(bytes.len());
        let opcode = if at == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        let frame = Frame::message(bytes.slice(at..end), opcode, end == bytes.len());
        socket.feed(Message::Frame(frame)).await?;
        at = end;
    }
    socket.flush().await
}

fn res_text(frame: &ResponseFrame) -> String {
    serde_json::to_string(frame).unwrap_or_default()
}

/// `{"type":"res","id":…,"ok":true,"payload":<raw>}` without re-parsing a cached payload.
fn res_ok_raw(id: &str, payload: &str) -> String {
    let id = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into());
    let mut s = String::with_capacity(payload.len() + id.len() + 40);
    s.push_str(r#"{"type":"res","id":"#);
    s.push_str(&id);
    s.push_str(r#","ok":true,"payload":"#);
    s.push_str(payload);
    s.push('}');
    s
}

/// Socket facts captured at upgrade time.
pub struct Upgrade {
    pub peer: SocketAddr,
    /// See `trust::Client::local`.
    pub local: bool,
    pub origin: Option<String>,
    pub host: Option<String>,
}

/// Drives one socket to completion.
///
/// The handshake runs in its own boxed future: its state (challenge, the connect frame, the
/// hello-ok being built) is large and short-lived, and an idle connection should only keep
/// what the request loop needs.
pub async fn serve(
    state: Arc<AppState>,
    socket: Socket,
    up: Upgrade,
    slot: PreauthSlot,
    limit: Arc<Limit>,
) {
    if let Some(session) = Box::pin(open(state, socket, up, slot, &limit)).await {
        session.run(&limit).await;
    }
}

/// An authenticated connection: what its request loop needs, and nothing of the handshake.
struct Session {
    socket: Socket,
    rx: mpsc::UnboundedReceiver<Outbound>,
    queued: Arc<AtomicUsize>,
    handle: Arc<ConnHandle>,
    ctx: MethodCtx,
    /// Dropped last: undoes the hub/presence/node registration.
    registration: Registration,
}

/// Challenge → connect → hello-ok. `None` when the socket was closed or refused.
async fn open(
    state: Arc<AppState>,
    mut socket: Socket,
    up: Upgrade,
    mut slot: PreauthSlot,
    limit: &Limit,
) -> Option<Session> {
    let conn_id = uuid::Uuid::new_v4().to_string();
    let nonce = uuid::Uuid::new_v4().to_string();
    let challenge = ConnectChallenge {
        nonce: nonce.clone(),
        ts: now_ms(),
        capabilities: None,
    };
    let text = crate::hub::event_text(
        ev::CONNECT_CHALLENGE,
        &serde_json::to_string(&challenge).unwrap_or_default(),
        None,
        None,
    );
    if socket.send(Message::Text(text.into())).await.is_err() {
        return None;
    }
    let peer = Peer {
        ip: up.peer.ip(),
        local: up.local,
        origin: up.origin,
        host: up.host,
        nonce,
        conn_id: conn_id.clone(),
    };
    let mut shutdown = state.shutdown.subscribe();
    let deadline = tokio::time::sleep(Duration::from_millis(state.settings().handshake_timeout_ms));
    tokio::pin!(deadline);

    // Handshake phase.
    let (connect_req, params) = loop {
        let msg = tokio::select! {
            m = socket.next() => m,
            _ = &mut deadline => {
                tracing::debug!(target: "ws", "handshake timeout conn={conn_id}");
                close(&mut socket, 1000, "").await;
                return None;
            }
            _ = shutdown.changed() => {
                close(&mut socket, 1001, "gateway shutting down").await;
                return None;
            }
        };
        let data = match incoming(&mut socket, msg, limit, &conn_id).await {
            Incoming::Data(d) => d,
            Incoming::Skip => continue,
            Incoming::Ended => return None,
        };
        if data.len() > MAX_PREAUTH_PAYLOAD_BYTES {
            close(&mut socket, 1009, "").await;
            return None;
        }
        let frame = match parse_request(&data) {
            Ok(f) => f,
            Err(FrameError::Json(e)) => {
                tracing::debug!(target: "ws", "parse-error before connect conn={conn_id}: {e}");
                close(&mut socket, 1000, "").await;
                return None;
            }
            Err(e @ FrameError::Invalid { .. }) => {
                tracing::debug!(target: "ws", "{e} conn={conn_id}");
                close(&mut socket, 1008, "invalid request frame").await;
                return None;
            }
        };
        if frame.method != "connect" {
            let err =
                ErrorShape::invalid_request("invalid handshake: first request must be connect");
            refuse_first_request(&mut socket, &frame.id, err).await;
            return None;
        }
        match parse_params::<ConnectParams>("connect", frame.params.as_ref()) {
            Ok(p) => break (frame, p),
            Err(err) => {
                refuse_first_request(&mut socket, &frame.id, err).await;
                return None;
            }
        }
    };

    let accepted = match handshake::process(&state, &peer, &params) {
        Ok(a) => a,
        Err(refusal) => {
            tracing::info!(
                target: "ws",
                "closed before connect conn={conn_id} code={} reason={} client={}",
                refusal.close_code,
                refusal.error.message,
                params.client.id.as_str()
            );
            if !refusal.delay.is_zero() {
                tokio::time::sleep(refusal.delay).await;
            }
            let _ = socket
                .send(Message::Text(
                    res_text(&ResponseFrame::err(&connect_req.id, refusal.error)).into(),
                ))
                .await;
            close(&mut socket, refusal.close_code, &refusal.close_reason).await;
            return None;
        }
    };
    slot.release();
    limit.lift();

    let params = Arc::new(params);
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let handle = Arc::new(
        ConnHandle::new(
            conn_id.clone(),
            accepted.role.clone(),
            accepted.scopes.clone(),
            tx,
            queued.clone(),
            crate::hub::max_buffered_bytes(),
        )
        .with_device(accepted.device_id.clone()),
    );
    let wants_tools = params
        .caps
        .as_ref()
        .is_some_and(|c| c.iter().any(|x| x == "tool-events"));
    handle
        .tool_events
        .store(wants_tools, std::sync::atomic::Ordering::Relaxed);
    use openclaw_protocol::ClientId;
    let approver = params
        .caps
        .as_ref()
        .is_some_and(|c| c.iter().any(|x| x == "approvals" || x == "exec-approvals"))
        || matches!(
            params.client.id,
            ClientId::ControlUi | ClientId::Macos | ClientId::Ios | ClientId::Android
        );
    handle
        .approval_client
        .store(approver, std::sync::atomic::Ordering::Relaxed);
    let mut registration = Registration {
        state: state.clone(),
        conn_id: conn_id.clone(),
        presence: None,
        node: None,
    };
    // A node is registered before its hello-ok goes out, so a client that sees the node
    // connected can invoke it at once (what is queued for it is sent after the hello-ok).
    if accepted.role == openclaw_protocol::roles::NODE {
        registration.node = Some(crate::nodes::session::connect(
            &state,
            &handle,
            &params,
            &peer.ip.to_string(),
        ));
    }
    let hello_json = serde_json::to_value(&accepted.hello).unwrap_or_default();
    let hello_text = res_text(&ResponseFrame::ok(&connect_req.id, hello_json));
    if send_text(&mut socket, hello_text).await.is_err() {
        return None;
    }
    state.hub.register(handle.clone());
    tracing::info!(
        target: "ws",
        "connected conn={conn_id} client={} mode={} protocol={} role={} scopes={}",
        params.client.id.as_str(),
        params.client.mode.as_str(),
        accepted.protocol,
        accepted.role,
        accepted.scopes.join(",")
    );
    // A health event follows hello-ok, as the reference does.
    handle.send_event(
        ev::HEALTH,
        &state.health_json(),
        Some(state.state_version()),
        true,
    );
    let tracked = !matches!(params.client.mode, ClientMode::Cli | ClientMode::Probe);
    let presence_key = params
        .device
        .as_ref()
        .map(|d| d.id.clone())
        .or_else(|| params.client.instance_id.clone())
        .unwrap_or_else(|| conn_id.clone());
    if tracked {
        upsert_presence(
            &state,
            &presence_key,
            &params,
            &accepted.role,
            &accepted.scopes,
            peer.ip,
            "connect",
        );
        registration.presence = Some(PresenceOnDrop {
            key: presence_key,
            params: params.clone(),
            role: accepted.role.clone(),
            scopes: accepted.scopes.clone(),
            ip: peer.ip,
        });
    }

    let ctx = MethodCtx {
        state: state.clone(),
        conn_id: conn_id.clone(),
        role: accepted.role.clone(),
        scopes: accepted.scopes.clone(),
        remote_ip: peer.ip.to_string(),
        connect: params.clone(),
    };

    Some(Session {
        socket,
        rx,
        queued,
        handle,
        ctx,
        registration,
    })
}

impl Session {
    async fn run(self, limit: &Limit) {
        let Session {
            mut socket,
            mut rx,
            queued,
            handle,
            ctx,
            registration,
        } = self;
        let conn_id = ctx.conn_id.clone();
        loop {
            tokio::select! {
                biased;
                _ = handle.slow_consumer() => {
                    end_slow_consumer(&mut socket, &mut rx, &queued).await;
                    break;
                }
                out = rx.recv() => match out {
                    Some(Outbound::Close(code, reason)) => {
                        close(&mut socket, code, &reason).await;
                        break;
                    }
                    Some(out) => {
                        let len = out.accounted_len();
                        let text = out.into_text().unwrap_or_default();
                        // A client that stops reading blocks this write; being closed as a
                        // slow consumer must still end it.
                        tokio::select! {
                            biased;
                            sent = send_text(&mut socket, text) => {
                                queued.fetch_sub(len, Ordering::Relaxed);
                                if sent.is_err() { break; }
                            }
                            _ = handle.slow_consumer() => {
                                queued.fetch_sub(len, Ordering::Relaxed);
                                end_slow_consumer(&mut socket, &mut rx, &queued).await;
                                break;
                            }
                        }
                    }
                    None => break,
                },
                msg = socket.next() => {
                    let data = match incoming(&mut socket, msg, limit, &conn_id).await {
                        Incoming::Data(d) => d,
                        Incoming::Skip => continue,
                        Incoming::Ended => break,
                    };
                    match parse_request(&data) {
                        // Boxed: a handler's future is only as big as it needs to be while it
                        // runs, instead of sizing every idle connection's task for the largest.
                        Ok(frame) => Box::pin(dispatch(&ctx, &handle, frame)).await,
                        Err(FrameError::Json(e)) => {
                            if let Some(id) = non_utf8_request_id(&data) {
                                // A request we can identify but not read: answer it, never leave
                                // the caller waiting.
                                let err = ErrorShape::invalid_request(
                                    "invalid request frame: text is not valid UTF-8",
                                );
                                handle.send_text(res_text(&ResponseFrame::err(id, err)));
                            } else {
                                tracing::debug!(target: "ws", "parse-error conn={conn_id}: {e}");
                            }
                        }
                        Err(e) => {
                            let err = ErrorShape::invalid_request(e.to_string());
                            handle.send_text(res_text(&ResponseFrame::err(e.reply_id(), err)));
                        }
                    }
                }
            }
        }
        drop(registration);
        tracing::debug!(target: "ws", "closed conn={conn_id}");
    }
}

/// Frees what a slow consumer had queued at once, then closes with 1008 "slow consumer" as far
/// as the client takes it within [`CLOSE_DRAIN`] (1 s, the reference's
/// `WEBSOCKET_CLOSE_GRACE_MS`); a client that never reads gets its TCP connection dropped.
async fn end_slow_consumer(
    socket: &mut Socket,
    rx: &mut mpsc::UnboundedReceiver<Outbound>,
    queued: &AtomicUsize,
) {
    rx.close();
    while let Ok(out) = rx.try_recv() {
        queued.fetch_sub(out.accounted_len(), Ordering::Relaxed);
    }
    close(socket, 1008, "slow consumer").await;
}

/// Undoes a connection's registration however its task ends — normally, or by a panic in a
/// handler — so the hub never keeps a dead connection and presence shows the disconnect.
struct Registration {
    state: Arc<AppState>,
    conn_id: String,
    presence: Option<PresenceOnDrop>,
    /// The node id of a `role: node` connection.
    node: Option<String>,
}

struct PresenceOnDrop {
    key: String,
    params: Arc<ConnectParams>,
    role: String,
    scopes: Vec<String>,
    ip: std::net::IpAddr,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.state.hub.unregister(&self.conn_id);
        self.state.canvas.caps.revoke(&self.conn_id);
        self.state.wizards.forget_conn(&self.conn_id);
        if let Some(node_id) = &self.node {
            self.state.nodes.unregister(node_id, &self.conn_id);
        }
        if let Some(p) = &self.presence {
            upsert_presence(
                &self.state,
                &p.key,
                &p.params,
                &p.role,
                &p.scopes,
                p.ip,
                "disconnect",
            );
        }
    }
}

fn upsert_presence(
    state: &Arc<AppState>,
    key: &str,
    p: &ConnectParams,
    role: &str,
    scopes: &[String],
    ip: std::net::IpAddr,
    reason: &str,
) {
    let c = &p.client;
    let entry = PresenceEntry {
        host: c
            .display_name
            .clone()
            .or_else(|| Some(c.id.as_str().to_string())),
        ip: Some(ip.to_string()),
        version: Some(c.version.clone()),
        platform: Some(c.platform.clone()),
        device_family: c.device_family.clone(),
        model_identifier: c.model_identifier.clone(),
        mode: Some(c.mode.as_str().to_string()),
        reason: Some(reason.to_string()),
        ts: now_ms(),
        device_id: p.device.as_ref().map(|d| d.id.clone()),
        roles: Some(vec![role.to_string()]),
        scopes: Some(scopes.to_vec()),
        instance_id: c.instance_id.clone(),
        ..Default::default()
    };
    {
        let mut pres = state.presence.locked();
        pres.upsert(key, entry);
    }
    state.broadcast_presence();
}

async fn dispatch(ctx: &MethodCtx, handle: &Arc<ConnHandle>, frame: RequestFrame) {
    let started = std::time::Instant::now();
    let result = match ctx
        .state
        .registry
        .authorize(&frame.method, &ctx.role, &ctx.scopes)
    {
        Ok(spec) => (spec.handler)(ctx, frame.params.as_ref()).await,
        Err(e) => Err(e),
    };
    if let Ok(Reply::Deferred(work)) = result {
        spawn_final(handle, frame.id, work);
        return;
    }
    let ok = result.is_ok();
    let mut rest = None;
    let text = match result {
        Ok(Reply::Raw(raw)) => res_ok_raw(&frame.id, &raw),
        Ok(Reply::Json(v)) => res_text(&ResponseFrame::ok(&frame.id, v)),
        Ok(Reply::TwoPhase { ack, rest: work }) => {
            rest = Some(work);
            res_text(&ResponseFrame::ok(&frame.id, ack))
        }
        Ok(Reply::Deferred(_)) => return,
        Err(e) => {
            // The gateway's own failures (a full disk, a channel down) belong in the log too,
            // not only in the caller's answer.
            if e.code == openclaw_protocol::codes::UNAVAILABLE {
                tracing::warn!(target: "ws", "{} failed: {}", frame.method, e.message);
            }
            res_text(&ResponseFrame::err(&frame.id, e))
        }
    };
    tracing::debug!(
        target: "ws",
        "⇄ res {} {} {}ms conn={} id={}",
        if ok { "✓" } else { "✗" },
        frame.method,
        started.elapsed().as_millis(),
        ctx.conn_id,
        frame.id
    );
    handle.send_text(text);
    // The final answer of a two-phase reply reuses the request id. It is spawned only after
    // the ack is queued, so the ack always comes first (a retry of a finished run resolves at
    // once).
    if let Some(work) = rest {
        spawn_final(handle, frame.id, work);
    }
}

/// Sends the later answer of a request when `work` ends.
fn spawn_final(handle: &Arc<ConnHandle>, id: String, work: crate::registry::FinalFuture) {
    let handle = handle.clone();
    tokio::spawn(async move {
        let (ok, payload, error) = work.await;
        let mut f = ResponseFrame::ok(&id, payload);
        f.ok = ok;
        f.error = error;
        handle.send_text(res_text(&f));
    });
}

/// The `id` of a request frame whose only defect is invalid UTF-8 (binary frames can carry any
/// bytes); `None` for anything else, which is dropped like any unparsable frame.
fn non_utf8_request_id(data: &[u8]) -> Option<String> {
    if std::str::from_utf8(data).is_ok() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(data)).ok()?;
    if v.get("type").and_then(serde_json::Value::as_str) != Some("req") {
        return None;
    }
    v.get("id")
        .and_then(serde_json::Value::as_str)
        .filter(|id| !id.is_empty())
        .map(String::from)
}
