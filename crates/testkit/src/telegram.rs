//! A fake Telegram Bot API on loopback for driver and gateway tests: real HTTP +
//! JSON, long-poll `getUpdates` honouring `offset`, `sendMessage`/`sendChatAction`/uploads,
//! `getFile` + file download (streamed without a length, recorded as `download`, can be held
//! back to simulate a slow download), and injectable failures (409, 429 `retry_after`, 5xx,
//! 401, 400, dropped connections, bodies that are not the Bot API's: non-JSON, wrong shapes,
//! huge). Every request is recorded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::server::Serving;

/// A scripted failure for the next call of one method.
#[derive(Debug, Clone)]
pub enum FakeReply {
    /// `409 Conflict: terminated by other getUpdates request`.
    Conflict409,
    /// `429` with `parameters.retry_after`.
    TooMany { retry_after: u64 },
    /// `500 Internal Server Error` (JSON body).
    Server500,
    /// Headers sent, then the connection is cut mid-body.
    Drop,
    /// `401 Unauthorized`.
    Unauthorized401,
    /// The request is accepted and never answered (a silently dead long poll).
    Stall,
    /// Any Bot API error, e.g. `400 "Bad Request: can't parse entities: …"`.
    Error { code: u16, description: String },
    /// A body that is not the Bot API's: `status` with `body` as is (not JSON, JSON of the
    /// wrong shape, an HTML error page …).
    Garbage { status: u16, body: String },
    /// `200` with a body of `bytes` bytes that never becomes JSON (streamed, no length).
    Huge { bytes: usize },
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    pub method: String,
    pub body: Value,
    pub at: Instant,
}

struct Inner {
    updates: Vec<Value>,
    next_update_id: i64,
    next_message_id: i64,
    injections: HashMap<String, VecDeque<FakeReply>>,
    requests: Vec<FakeRequest>,
    files: HashMap<String, Vec<u8>>,
    /// File paths whose download is held until released.
    stalled: HashSet<String>,
    me: Value,
}

struct Shared {
    inner: Mutex<Inner>,
    notify: Notify,
    released: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running fake. Dropping it stops the server.
pub struct FakeTelegram {
    serving: Serving,
    shared: Arc<Shared>,
}

/// The bot the fake answers `getMe` with.
pub const FAKE_BOT_ID: i64 = 123456;
pub const FAKE_BOT_USERNAME: &str = "openclaw_test_bot";
/// A token whose bot id matches [`FAKE_BOT_ID`].
pub const FAKE_TOKEN: &str = "123456:TEST-TOKEN";

impl FakeTelegram {
    /// Binds 127.0.0.1:0 and serves until dropped.
    pub async fn start() -> FakeTelegram {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                updates: Vec::new(),
                next_update_id: 1000,
                next_message_id: 1,
                injections: HashMap::new(),
                requests: Vec::new(),
                files: HashMap::new(),
                stalled: HashSet::new(),
                me: json!({"id": FAKE_BOT_ID, "is_bot": true, "first_name": "OpenClaw", "username": FAKE_BOT_USERNAME}),
            }),
            notify: Notify::new(),
            released: Notify::new(),
        });
        let app = Router::new()
            .route("/file/{bot}/{*path}", get(file))
            .route("/{bot}/{method}", any(method))
            .with_state(shared.clone());
        FakeTelegram {
            serving: Serving::start("fake telegram", app).await,
            shared,
        }
    }

    /// API root to put in `channels.telegram.apiRoot`.
    pub fn url(&self) -> String {
        format!("http://{}", self.serving.addr)
    }

    /// Queues an update; assigns `update_id` when missing. Wakes parked `getUpdates`.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let id = {
            let mut g = self.shared.lock();
            let id = match update.get("update_id").and_then(Value::as_i64) {
                Some(id) => id,
                None => {
                    let id = g.next_update_id;
                    update["update_id"] = json!(id);
                    id
                }
            };
            g.next_update_id = g.next_update_id.max(id + 1);
            g.updates.push(update);
            id
        };
        self.shared.notify.notify_waiters();
        id
    }

    /// Convenience: a private-chat text message from user `from` (message ids are unique per
    /// fake, as Telegram's are per chat).
    pub fn push_dm(&self, from: i64, text: &str) -> i64 {
        let message_id = self.shared.lock().next_update_id;
        self.push_update(json!({"message": {
            "message_id": message_id, "date": 1_700_000_000,
            "chat": {"id": from, "type": "private", "first_name": "Alice"},
            "from": {"id": from, "is_bot": false, "first_name": "Alice", "username": "alice"},
            "text": text,
        }}))
    }

    /// Scripts a failure for the next call of `method` (FIFO per method).
    pub fn inject(&self, method: &str, reply: FakeReply) {
        self.shared
            .lock()
            .injections
            .entry(method.to_string())
            .or_default()
            .push_back(reply);
    }

    /// Serves `bytes` at a `getFile` path; returns the `file_id`.
    pub fn add_file(&self, name: &str, bytes: Vec<u8>) -> String {
        let mut g = self.shared.lock();
        let id = format!("file-{}", g.files.len() + 1);
        g.files.insert(format!("documents/{id}-{name}"), bytes);
        id
    }

    /// Holds the download of `file_id` (after `getFile`) until [`FakeTelegram::release_files`].
    pub fn stall_file(&self, file_id: &str) {
        let mut g = self.shared.lock();
        let prefix = format!("documents/{file_id}-");
        let paths: Vec<String> = g
            .files
            .keys()
            .filter(|p| p.starts_with(&prefix))
            .cloned()
            .collect();
        g.stalled.extend(paths);
    }

    /// Lets every held download proceed.
    pub fn release_files(&self) {
        self.shared.lock().stalled.clear();
        self.shared.released.notify_waiters();
    }

    pub fn requests(&self) -> Vec<FakeRequest> {
        self.shared.lock().requests.clone()
    }

    /// Number of recorded calls of `method`.
    pub fn count(&self, method: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.method == method)
            .count()
    }

    /// How many sent messages went to `chat` with `text` in them.
    pub fn replies_to(&self, chat: i64, text: &str) -> usize {
        self.sent_messages()
            .iter()
            .filter(|m| {
                m["chat_id"].to_string().trim_matches('"') == chat.to_string()
                    && m["text"].as_str().is_some_and(|t| t.contains(text))
            })
            .count()
    }

    /// Bodies of `sendMessage`, `sendPhoto` and `sendDocument` calls, in order (including failed ones).
    pub fn sent_messages(&self) -> Vec<Value> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| {
                matches!(
                    r.method.as_str(),
                    "sendMessage" | "sendPhoto" | "sendDocument"
                )
            })
            .map(|r| {
                let mut b = r.body.clone();
                b["_method"] = json!(r.method);
                b
            })
            .collect()
    }

    /// Updates not yet confirmed by an `offset`.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

fn api_error(code: u16, description: &str, extra: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(p) = extra {
        body["parameters"] = p;
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(body)).into_response()
}

fn render(reply: FakeReply) -> Response {
    match reply {
        FakeReply::Garbage { status, body } => Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        FakeReply::Huge { bytes } => {
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let chunks = bytes.div_ceil(chunk.len());
            let stream = futures_util::stream::iter(
                (0..chunks).map(move |_| Ok::<Bytes, std::io::Error>(chunk.clone())),
            );
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        FakeReply::Conflict409 => api_error(
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            None,
        ),
        FakeReply::TooMany { retry_after } => api_error(
            429,
            &format!("Too Many Requests: retry after {retry_after}"),
            Some(json!({"retry_after": retry_after})),
        ),
        FakeReply::Server500 => api_error(500, "Internal Server Error", None),
        FakeReply::Unauthorized401 => api_error(401, "Unauthorized", None),
        FakeReply::Error { code, description } => api_error(code, &description, None),
        FakeReply::Stall => StatusCode::GATEWAY_TIMEOUT.into_response(), // after the wait below
        FakeReply::Drop => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"{\"ok\":tr")),
                Err(std::io::Error::other("connection dropped by fake")),
            ];
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, "200")
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

async fn read_body(req: Request) -> Value {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if is_multipart {
        let mut out = serde_json::Map::new();
        if let Ok(mut mp) = Multipart::from_request(req, &()).await {
            while let Ok(Some(field)) = mp.next_field().await {
                let name = field.name().unwrap_or("").to_string();
                let file_name = field.file_name().map(String::from);
                let data = field.bytes().await.unwrap_or_default();
                let v = match file_name {
                    Some(f) => json!({"_file": f, "_size": data.len()}),
                    None => json!(String::from_utf8_lossy(&data)),
                };
                out.insert(name, v);
            }
        }
        return Value::Object(out);
    }
    let bytes = axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    if bytes.is_empty() {
        return json!({});
    }
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| json!({"_raw": String::from_utf8_lossy(&bytes)}))
}

async fn method(
    State(s): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    req: Request,
) -> Response {
    if !bot.starts_with("bot") {
        return api_error(404, "Not Found", None);
    }
    let body = read_body(req).await;
    let injected = {
        let mut g = s.lock();
        g.requests.push(FakeRequest {
            method: method.clone(),
            body: body.clone(),
            at: Instant::now(),
        });
        g.injections.get_mut(&method).and_then(VecDeque::pop_front)
    };
    if let Some(r) = injected {
        if matches!(r, FakeReply::Stall) {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
        return render(r);
    }
    match method.as_str() {
        "getMe" => ok(s.lock().me.clone()),
        "getUpdates" => get_updates(&s, &body).await,
        "sendMessage" | "sendPhoto" | "sendDocument" => {
            let mut g = s.lock();
            let id = g.next_message_id;
            g.next_message_id += 1;
            ok(
                json!({"message_id": id, "date": 1_700_000_000, "chat": {"id": body.get("chat_id").cloned().unwrap_or(Value::Null)},
                      "text": body.get("text").cloned().unwrap_or(Value::Null)}),
            )
        }
        "getFile" => {
            let id = body.get("file_id").and_then(Value::as_str).unwrap_or("");
            let g = s.lock();
            match g
                .files
                .iter()
                .find(|(p, _)| p.starts_with(&format!("documents/{id}-")))
            {
                Some((p, b)) => ok(json!({"file_id": id, "file_path": p, "file_size": b.len()})),
                None => api_error(400, "Bad Request: invalid file_id", None),
            }
        }
        _ => ok(json!(true)),
    }
}

async fn get_updates(s: &Shared, body: &Value) -> Response {
    let offset = body.get("offset").and_then(Value::as_i64);
    let timeout = body
        .get("timeout")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(60);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = s.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut g = s.lock();
            if let Some(o) = offset {
                g.updates.retain(|u| {
                    u.get("update_id")
                        .and_then(Value::as_i64)
                        .unwrap_or(i64::MAX)
                        >= o
                });
            }
            if !g.updates.is_empty() {
                let batch: Vec<Value> = g.updates.iter().take(100).cloned().collect();
                return ok(Value::Array(batch));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return ok(json!([]));
        }
    }
}

async fn file(State(s): State<Arc<Shared>>, Path((bot, path)): Path<(String, String)>) -> Response {
    if !bot.starts_with("bot") {
        return StatusCode::NOT_FOUND.into_response();
    }
    s.lock().requests.push(FakeRequest {
        method: "download".into(),
        body: json!({"path": path}),
        at: Instant::now(),
    });
    loop {
        let released = s.released.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        if !s.lock().stalled.contains(&path) {
            break;
        }
        released.await;
    }
    let Some(bytes) = s.lock().files.get(&path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Streamed without Content-Length, as a hostile server might: only the body's real size
    // counts.
    let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(16 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
