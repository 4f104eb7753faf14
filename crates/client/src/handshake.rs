//! Opening the socket and the `connect.challenge` → `connect` → `hello-ok` exchange (spec §3.1),
//! done inline on the unsplit stream before the reader and writer tasks exist.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use openclaw_protocol::{RequestFrame, events::names};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::ClientError;
use crate::identity::now_ms;
use crate::inbox::{ABNORMAL_CLOSE, NO_STATUS_CLOSE, Response, ServerMessage, parse_frame};
use crate::options::ConnectOptions;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a rejected `connect` waits for the gateway's close frame (it follows at once).
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Runs the handshake within `opts.handshake_timeout`; returns the socket and the `hello-ok`
/// payload (not validated beyond `ok:true`: a bare `{type, protocol}` is enough, as for the
/// official CLI).
pub(crate) async fn handshake(
    opts: &ConnectOptions,
    connect_id: &str,
) -> Result<(Ws, Value), ClientError> {
    let deadline = deadline_after(opts.handshake_timeout);
    let timed_out = |_| ClientError::Timeout(millis(opts.handshake_timeout));

    let mut ws = timeout_at(deadline, open(&opts.url))
        .await
        .map_err(timed_out)??;
    let nonce = timeout_at(deadline, wait_for_challenge(&mut ws))
        .await
        .map_err(timed_out)??;

    let mut params = opts.connect_params();
    if let Some(device) = &opts.device {
        let nonce = nonce.as_deref().ok_or_else(|| {
            ClientError::Protocol("connect.challenge carried no nonce to sign".to_string())
        })?;
        params.device = Some(device.proof(&params, nonce, now_ms()));
    }
    let params = serde_json::to_value(&params)
        .map_err(|e| ClientError::Protocol(format!("cannot encode connect params: {e}")))?;
    let frame = serde_json::to_string(&RequestFrame::new(connect_id, "connect", Some(params)))
        .map_err(|e| ClientError::Protocol(format!("cannot encode connect: {e}")))?;
    timeout_at(deadline, ws.send(Message::text(frame)))
        .await
        .map_err(timed_out)?
        .map_err(|e| ClientError::Closed {
            code: ABNORMAL_CLOSE,
            reason: format!("cannot send connect: {e}"),
        })?;

    let res = timeout_at(deadline, wait_for_response(&mut ws, connect_id))
        .await
        .map_err(timed_out)??;
    match res.into_result() {
        Ok(hello) => Ok((ws, hello)),
        Err(error) => {
            let close = timeout(CLOSE_GRACE, wait_for_close(&mut ws))
                .await
                .ok()
                .flatten();
            Err(ClientError::Handshake { error, close })
        }
    }
}

async fn open(url: &str) -> Result<Ws, ClientError> {
    // Nagle off: frames are small request/response pairs where latency is everything.
    match tokio_tungstenite::connect_async_with_config(url, None, true).await {
        Ok((ws, _response)) => Ok(ws),
        Err(e) => Err(ClientError::Unreachable {
            url: url.to_string(),
            reason: match e {
                tungstenite::Error::Io(io) => io.to_string(),
                other => other.to_string(),
            },
        }),
    }
}

/// Waits for `connect.challenge`; returns its nonce (`None` if the payload had none).
async fn wait_for_challenge(ws: &mut Ws) -> Result<Option<String>, ClientError> {
    loop {
        let text = next_text(ws).await?;
        if let Some(ServerMessage::Event(event)) = parse_frame(&text)
            && event.event == names::CONNECT_CHALLENGE
        {
            let nonce = event
                .payload
                .as_ref()
                .and_then(|p| p.get("nonce"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            return Ok(nonce);
        }
    }
}

/// Waits for the `res` to `connect`; anything else before it is dropped (the gateway sends
/// nothing else before hello-ok).
async fn wait_for_response(ws: &mut Ws, id: &str) -> Result<Response, ClientError> {
    loop {
        let text = next_text(ws).await?;
        if let Some(ServerMessage::Res { id: got, res }) = parse_frame(&text)
            && got == id
        {
            return Ok(res);
        }
    }
}

/// The next text (or UTF-8 binary) frame; a close is an error carrying its code and reason.
async fn next_text(ws: &mut Ws) -> Result<String, ClientError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_string()),
            Some(Ok(Message::Binary(bytes))) => {
                if let Ok(text) = std::str::from_utf8(&bytes) {
                    return Ok(text.to_string());
                }
            }
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = close_parts(frame);
                return Err(ClientError::Closed { code, reason });
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                return Err(ClientError::Closed {
                    code: ABNORMAL_CLOSE,
                    reason: e.to_string(),
                });
            }
            None => {
                return Err(ClientError::Closed {
                    code: ABNORMAL_CLOSE,
                    reason: "connection lost without a close frame".to_string(),
                });
            }
        }
    }
}

/// Reads until the close frame; `None` if the socket ended without one.
async fn wait_for_close(ws: &mut Ws) -> Option<(u16, String)> {
    loop {
        match ws.next().await? {
            Ok(Message::Close(frame)) => return Some(close_parts(frame)),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// `(code, reason)` of a close frame; 1005 when it carried no code.
pub(crate) fn close_parts(frame: Option<tungstenite::protocol::CloseFrame>) -> (u16, String) {
    match frame {
        Some(f) => (u16::from(f.code), f.reason.as_str().to_string()),
        None => (NO_STATUS_CLOSE, String::new()),
    }
}

/// `now + d`, saturating far in the future instead of panicking on huge durations.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
