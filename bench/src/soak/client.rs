//! The soak's protocol client: one socket, one request in flight, every wait bounded, and every
//! failure an `Err` (never a panic), so a misbehaving gateway shows up as a counted error
//! instead of ending the run.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::gateway::TOKEN;

/// Upper bound for one request → response (an agent run on the fake provider included).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound for the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Who connects.
#[derive(Clone, Copy)]
pub enum Role {
    /// An operator with `operator.admin` (every method the soak calls).
    Admin,
    /// A node host offering `system.which`.
    Node,
}

pub struct Conn {
    ws: WebSocketStream<TcpStream>,
    next_id: u64,
}

impl Conn {
    /// Opens a socket to 127.0.0.1:`port` and completes `connect`. `instance` tells clients
    /// apart in presence.
    pub async fn open(port: u16, role: Role, instance: &str) -> Result<Conn> {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, Self::handshake(port, role, instance))
            .await
            .map_err(|_| anyhow!("handshake took longer than {HANDSHAKE_TIMEOUT:?}"))?
    }

    async fn handshake(port: u16, role: Role, instance: &str) -> Result<Conn> {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .context("TCP connect")?;
        tcp.set_nodelay(true)?;
        let (ws, _) = client_async(format!("ws://127.0.0.1:{port}/"), tcp)
            .await
            .context("WebSocket upgrade")?;
        let mut c = Conn { ws, next_id: 0 };
        let first = c.frame().await?;
        if first["event"] != "connect.challenge" {
            bail!("first frame is not connect.challenge: {first}");
        }
        let params = match role {
            Role::Admin => json!({"minProtocol": 3, "maxProtocol": 4,
                "client": {"id": "cli", "version": "soak", "platform": "linux", "mode": "cli",
                           "instanceId": instance},
                "role": "operator", "scopes": ["operator.admin"], "auth": {"token": TOKEN}}),
            Role::Node => json!({"minProtocol": 3, "maxProtocol": 4,
                "client": {"id": "node-host", "version": "soak", "platform": "linux",
                           "mode": "node", "instanceId": instance},
                "role": "node", "scopes": [], "caps": ["system"], "commands": ["system.which"],
                "auth": {"token": TOKEN}}),
        };
        c.send(&json!({"type": "req", "id": "c", "method": "connect", "params": params}))
            .await?;
        loop {
            let f = c.frame().await?;
            if f["type"] == "res" && f["id"] == "c" {
                if f["ok"] != true {
                    bail!("connect refused: {}", f["error"]);
                }
                return Ok(c);
            }
        }
    }

    pub async fn send(&mut self, v: &Value) -> Result<()> {
        self.ws
            .send(Message::text(v.to_string()))
            .await
            .context("sending a frame")
    }

    /// The next JSON frame; a close or a read error is an error.
    pub async fn frame(&mut self) -> Result<Value> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    return serde_json::from_str(&t).context("frame is not JSON");
                }
                Some(Ok(Message::Close(c))) => bail!("closed by the gateway: {c:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(anyhow!(e).context("reading a frame")),
                None => bail!("closed by the gateway"),
            }
        }
    }

    /// Sends a request and returns its `payload`; events on the way are skipped. A `res` with
    /// `ok:false` is an error naming the method.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        self.next_id += 1;
        let id = format!("s{}", self.next_id);
        let exchange = async {
            self.send(&json!({"type": "req", "id": id, "method": method, "params": params}))
                .await?;
            loop {
                let f = self.frame().await?;
                if f["type"] != "res" || f["id"] != id.as_str() {
                    continue;
                }
                if f["ok"] != true {
                    bail!("{method} failed: {}", f["error"]);
                }
                return Ok(f["payload"].clone());
            }
        };
        tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| anyhow!("timeout: no {method} reply within {CALL_TIMEOUT:?}"))?
    }

    /// The next event named `name` within `within` (other frames skipped).
    pub async fn event(&mut self, name: &str, within: Duration) -> Result<Value> {
        let wait = async {
            loop {
                let f = self.frame().await?;
                if f["type"] == "event" && f["event"] == name {
                    return Ok(f);
                }
            }
        };
        tokio::time::timeout(within, wait)
            .await
            .map_err(|_| anyhow!("timeout: no {name} event within {within:?}"))?
    }

    /// Closes politely, waiting at most a second for the peer.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}
