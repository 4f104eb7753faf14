//! The smallest client that speaks the gateway protocol: raw tokio-tungstenite, TCP_NODELAY,
//! one request in flight, and replies read only as far as `type`/`id`/`ok`. The bench measures
//! the server, so the client's own cost is kept as low as the protocol allows.

use std::borrow::Cow;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::gateway::TOKEN;

pub type Ws = WebSocketStream<TcpStream>;

/// Upper bound for one handshake (TCP + upgrade + challenge + connect → hello-ok).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound for one request → response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a handshake did not produce an authenticated socket.
#[derive(Debug)]
pub enum OpenError {
    /// Nothing listens yet (ECONNREFUSED).
    Refused,
    /// HTTP 503 at upgrade: too many unauthenticated sockets from this IP.
    Busy,
    /// `connect` answered `UNAVAILABLE` (the gateway is still starting).
    Starting,
    /// Anything else; not worth retrying.
    Failed(anyhow::Error),
}

impl OpenError {
    /// Refused, 503 and "starting" are expected while a gateway boots or is flooded.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, OpenError::Failed(_))
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Refused => f.write_str("connection refused"),
            OpenError::Busy => f.write_str("HTTP 503 at upgrade"),
            OpenError::Starting => f.write_str("gateway starting (UNAVAILABLE)"),
            OpenError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

/// The fields of a server frame the bench looks at; the payload is skipped unparsed.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(default)]
    ok: Option<bool>,
    #[serde(default)]
    error: Option<ErrorHead>,
}

#[derive(Deserialize)]
struct ErrorHead {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Who a bench connection says it is.
#[derive(Clone, Copy)]
pub struct Hello {
    /// `client.id` and `client.mode`: `cli` is not tracked in presence, `gateway-client` +
    /// `backend` is.
    pub client: &'static str,
    pub mode: &'static str,
    pub scopes: &'static [&'static str],
    /// `SO_RCVBUF` for the socket (a small one makes a client that stops reading show up at
    /// the gateway sooner); `None` keeps the system default.
    pub recv_buffer: Option<u32>,
}

impl Hello {
    /// The default: an untracked `cli` operator with read scope.
    pub const CLI: Hello = Hello {
        client: "cli",
        mode: "cli",
        scopes: &["operator.read"],
        recv_buffer: None,
    };
}

fn connect_frame(hello: &Hello) -> String {
    serde_json::json!({
        "type": "req",
        "id": "c1",
        "method": "connect",
        "params": {
            "minProtocol": 3,
            "maxProtocol": 4,
            "client": {"id": hello.client, "version": "bench", "platform": "linux", "mode": hello.mode},
            "role": "operator",
            "scopes": hello.scopes,
            "auth": {"token": TOKEN},
        },
    })
    .to_string()
}

/// Opens `ws://127.0.0.1:port/` and completes the handshake up to hello-ok.
pub async fn open(port: u16) -> Result<Ws, OpenError> {
    open_as(port, &Hello::CLI).await
}

/// [`open`] as `hello`, with small client-side buffers (the bench holds up to 10,000 sockets on
/// one thread).
pub async fn open_as(port: u16, hello: &Hello) -> Result<Ws, OpenError> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(port, hello)).await {
        Ok(r) => r,
        Err(_) => Err(OpenError::Failed(anyhow!(
            "handshake took longer than {HANDSHAKE_TIMEOUT:?}"
        ))),
    }
}

async fn tcp_connect(port: u16, recv_buffer: Option<u32>) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    if let Some(n) = recv_buffer {
        socket.set_recv_buffer_size(n)?;
    }
    socket
        .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .await
}

async fn handshake(port: u16, hello: &Hello) -> Result<Ws, OpenError> {
    let tcp = match tcp_connect(port, hello.recv_buffer).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(OpenError::Refused);
        }
        Err(e) => return Err(OpenError::Failed(anyhow!(e).context("TCP connect"))),
    };
    tcp.set_nodelay(true)
        .map_err(|e| OpenError::Failed(e.into()))?;
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let mut ws = match client_async_with_config(
        format!("ws://127.0.0.1:{port}/"),
        tcp,
        Some(config),
    )
    .await
    {
        Ok((ws, _)) => ws,
        Err(WsError::Http(res)) if res.status().as_u16() == 503 => return Err(OpenError::Busy),
        Err(e) => return Err(OpenError::Failed(anyhow!(e).context("WebSocket upgrade"))),
    };

    let first = next_text(&mut ws).await.map_err(OpenError::Failed)?;
    let head = parse_head(&first).map_err(OpenError::Failed)?;
    if head.kind != "event" || head.event.as_deref() != Some("connect.challenge") {
        return Err(OpenError::Failed(anyhow!(
            "first frame is not connect.challenge: {}",
            excerpt(&first)
        )));
    }

    ws.send(Message::text(connect_frame(hello)))
        .await
        .map_err(|e| OpenError::Failed(anyhow!(e).context("sending connect")))?;
    // Bounded by HANDSHAKE_TIMEOUT in `open`.
    loop {
        let text = next_text(&mut ws).await.map_err(OpenError::Failed)?;
        let head = parse_head(&text).map_err(OpenError::Failed)?;
        if head.kind != "res" || head.id.as_deref() != Some("c1") {
            continue;
        }
        if head.ok == Some(true) {
            return Ok(ws);
        }
        return Err(match head.error {
            Some(e) if e.code == "UNAVAILABLE" => OpenError::Starting,
            Some(e) => OpenError::Failed(anyhow!("connect refused: {} {}", e.code, e.message)),
            None => OpenError::Failed(anyhow!("connect failed: {}", excerpt(&text))),
        });
    }
}

/// Sends one `health` request and waits for its `res`, skipping events in between.
pub async fn health(ws: &mut Ws, id: &str) -> Result<()> {
    let frame = format!(r#"{{"type":"req","id":"{id}","method":"health"}}"#);
    let exchange = async {
        ws.send(Message::text(frame))
            .await
            .context("sending health")?;
        loop {
            let text = next_text(ws).await?;
            let head = parse_head(&text)?;
            if head.kind != "res" {
                continue;
            }
            if head.id.as_deref() != Some(id) {
                bail!("reply to an unexpected id: {}", excerpt(&text));
            }
            if head.ok != Some(true) {
                bail!("health failed: {}", excerpt(&text));
            }
            return Ok(());
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow!("no health reply within {REQUEST_TIMEOUT:?}"))?
}

/// Reads frames until the socket closes, answering pings; keeps an idle connection honest.
pub async fn drain(mut ws: Ws) {
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_close() {
            break;
        }
    }
}

/// Closes politely without waiting long for the peer.
pub async fn close(mut ws: Ws) {
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}

/// The next text frame; pings are answered by tungstenite itself.
async fn next_text(ws: &mut Ws) -> Result<Utf8Bytes> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t),
            Some(Ok(Message::Close(c))) => bail!("socket closed by the gateway: {c:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(anyhow!(e).context("reading a frame")),
            None => bail!("socket closed by the gateway"),
        }
    }
}

fn parse_head(text: &str) -> Result<Head<'_>> {
    serde_json::from_str(text).with_context(|| format!("unparseable frame: {}", excerpt(text)))
}

fn excerpt(text: &str) -> &str {
    match text.char_indices().nth(300) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Sends one request without params and returns its `payload` (events in between skipped).
pub async fn request(ws: &mut Ws, id: &str, method: &str) -> Result<serde_json::Value> {
    let frame = format!(r#"{{"type":"req","id":"{id}","method":"{method}"}}"#);
    exchange(ws, id, method, frame).await
}

/// [`request`] with `params`.
pub async fn request_with(
    ws: &mut Ws,
    id: &str,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value> {
    let frame = serde_json::json!({"type": "req", "id": id, "method": method, "params": params})
        .to_string();
    exchange(ws, id, method, frame).await
}

async fn exchange(ws: &mut Ws, id: &str, method: &str, frame: String) -> Result<serde_json::Value> {
    let exchange = async {
        ws.send(Message::text(frame))
            .await
            .with_context(|| format!("sending {method}"))?;
        loop {
            let text = next_text(ws).await?;
            let v: serde_json::Value = serde_json::from_str(&text).context("reply is not JSON")?;
            if v["type"] != "res" || v["id"] != id {
                continue;
            }
            if v["ok"] != true {
                bail!("{method} failed: {}", excerpt(&text));
            }
            return Ok(v["payload"].clone());
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow!("no {method} reply within {REQUEST_TIMEOUT:?}"))?
}
