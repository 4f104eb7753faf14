//! Fake gateways for the client tests: a replayer of the real recorded transcripts (kept in
//! `crates/cli/tests/fixtures/`, copied from `shared/protocol/transcripts/`), and a scripted server for cases no transcript covers.
//! Both speak real WebSocket on 127.0.0.1:0.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{WebSocketStream, accept_async};

pub type ServerWs = WebSocketStream<TcpStream>;

/// Upper bound for any single wait in these tests (never a fixed sleep).
pub const WAIT: Duration = Duration::from_secs(10);

/// The recorded reference transcripts, shared with the cli tests.
pub fn transcripts_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cli/tests/fixtures"
    ))
}

/// Reads a transcript file; a missing one fails the test.
pub fn read_transcript_file(name: &str) -> String {
    let path = transcripts_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// One step of a recorded session, seen from the server.
#[derive(Debug, Clone)]
pub enum Step {
    /// A frame the real gateway sent.
    Send(Value),
    /// A frame the real client sent (the fake waits for ours instead).
    Expect(Value),
    /// The gateway closed the socket with this code and reason.
    Close(u16, String),
}

/// The server side of a `.jsonl` transcript: frames in order, plus a server-initiated close
/// (a server close recorded *after* the client's is only the echo and is left out).
pub fn load_transcript(name: &str) -> Vec<Step> {
    let text = read_transcript_file(name);
    let mut steps = Vec::new();
    let mut client_closed = false;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line).expect("transcript line is JSON");
        match (entry.get("dir").and_then(Value::as_str), entry.get("event")) {
            (Some("s2c"), _) => steps.push(Step::Send(entry["frame"].clone())),
            (Some("c2s"), _) => steps.push(Step::Expect(entry["frame"].clone())),
            (None, Some(ev)) if ev == "close" => match entry["by"].as_str() {
                Some("client") => client_closed = true,
                Some("server") if !client_closed => steps.push(Step::Close(
                    entry["code"]
                        .as_u64()
                        .and_then(|c| u16::try_from(c).ok())
                        .expect("close code"),
                    entry["reason"].as_str().unwrap_or_default().to_string(),
                )),
                _ => {}
            },
            _ => {}
        }
    }
    steps
}

/// What the fake saw of our client.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every text frame the client sent, parsed.
    pub client_frames: Vec<Value>,
    /// The client's close frame, if it sent one.
    pub client_close: Option<(u16, String)>,
}

/// Binds 127.0.0.1:0 and returns the `ws://` url and the listener.
pub async fn bind() -> (String, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"));
    (format!("ws://{addr}"), listener)
}

/// Accepts one WebSocket connection.
pub async fn accept(listener: &TcpListener) -> ServerWs {
    let (tcp, _) = listener
        .accept()
        .await
        .unwrap_or_else(|e| panic!("accept: {e}"));
    accept_async(tcp)
        .await
        .unwrap_or_else(|e| panic!("ws accept: {e}"))
}

/// Serves one connection replaying `steps`: recorded server frames are sent in order, with the
/// `id` of each `res` replaced by the id of the client request it answers (matched by position
/// to the recorded client frame). Panics (failing the join) if the client sends a different
/// method than the recorded client did.
pub async fn replay(steps: Vec<Step>) -> (String, JoinHandle<Seen>) {
    let (url, listener) = bind().await;
    let task = tokio::spawn(async move {
        let mut ws = accept(&listener).await;
        let mut seen = Seen::default();
        let mut ids = std::collections::HashMap::<String, String>::new();
        for step in steps {
            match step {
                Step::Send(mut frame) => {
                    if let Some(actual) = frame["id"].as_str().and_then(|id| ids.get(id)) {
                        frame["id"] = Value::String(actual.clone());
                    }
                    send_json(&mut ws, &frame).await;
                }
                Step::Expect(recorded) => {
                    let Some(ours) = next_json(&mut ws, &mut seen).await else {
                        return seen;
                    };
                    assert_eq!(
                        ours["method"], recorded["method"],
                        "client sent {ours} where the recorded client sent {recorded}"
                    );
                    if let (Some(old), Some(new)) = (recorded["id"].as_str(), ours["id"].as_str()) {
                        ids.insert(old.to_string(), new.to_string());
                    }
                }
                Step::Close(code, reason) => {
                    let frame = CloseFrame {
                        code: CloseCode::from(code),
                        reason: reason.into(),
                    };
                    let _ = ws.send(Message::Close(Some(frame))).await;
                }
            }
        }
        drain(&mut ws, &mut seen).await;
        seen
    });
    (url, task)
}

pub async fn send_json(ws: &mut ServerWs, frame: &Value) {
    ws.send(Message::text(frame.to_string()))
        .await
        .unwrap_or_else(|e| panic!("fake server send: {e}"));
}

/// The next JSON text frame from the client; `None` when it closed.
pub async fn next_json(ws: &mut ServerWs, seen: &mut Seen) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap_or_else(|_| panic!("client sent nothing within {WAIT:?}"))?;
        match msg {
            Ok(Message::Text(text)) => {
                let value: Value = serde_json::from_str(text.as_str())
                    .unwrap_or_else(|e| panic!("client sent non-JSON {text:?}: {e}"));
                seen.client_frames.push(value.clone());
                return Some(value);
            }
            Ok(Message::Close(frame)) => {
                seen.client_close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                return None;
            }
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// Reads until the client closes or the socket ends.
pub async fn drain(ws: &mut ServerWs, seen: &mut Seen) {
    while next_json(ws, seen).await.is_some() {}
}

/// A `connect.challenge` event with `nonce`.
pub fn challenge(nonce: &str) -> Value {
    serde_json::json!({
        "type": "event",
        "event": "connect.challenge",
        "payload": {"nonce": nonce, "ts": 1_795_456_402_154_u64},
    })
}
