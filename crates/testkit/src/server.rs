//! The shared HTTP side of the fakes: an axum server on `127.0.0.1:0`, the script queue, the
//! request log, and turning a rendered [`Reply`] into a (possibly slow or broken) response.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;
use tokio::sync::Notify;

use crate::Script;

/// Which API a fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    OpenAi,
    Anthropic,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    /// Header names lower-case.
    pub headers: Vec<(String, String)>,
    /// The JSON body (`Value::Null` when it was not JSON).
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a flavor renders for one request.
pub(crate) enum Reply {
    /// An SSE body: `frames` sent one by one (each already `…\n\n`-terminated), paced by
    /// `pacing`.
    Sse { frames: Vec<String>, pacing: Pacing },
    /// A complete response.
    Json {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Value,
    },
}

/// How a streamed reply is paced: a wait before each frame, and whether the connection drops
/// after the last one (no terminator) or stays open and silent (`hang`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Pacing {
    pub delay: Duration,
    pub disconnect: bool,
    pub hang: bool,
}

impl Reply {
    /// A complete stream, sent without delay.
    pub(crate) fn sse(frames: Vec<String>) -> Reply {
        Reply::Sse {
            frames,
            pacing: Pacing::default(),
        }
    }

    /// A complete JSON response without extra headers.
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply::Json {
            status,
            headers: vec![],
            body,
        }
    }

    /// HTTP 429 carrying the API's error `body` and, when scripted, a `Retry-After` header.
    pub(crate) fn rate_limited(retry_after: &Option<String>, body: Value) -> Reply {
        Reply::Json {
            status: 429,
            headers: retry_after
                .iter()
                .map(|v| ("retry-after", v.clone()))
                .collect(),
            body,
        }
    }
}

/// A scripted tool call, as both APIs render it.
pub(crate) struct ToolCall<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub arguments: &'a Value,
    pub pieces: usize,
}

/// What differs between the model APIs when a [`Script`] is rendered; [`render`] does the rest.
pub(crate) trait Api {
    /// A complete (non-streamed) text reply.
    fn text_message(&self, text: &str) -> Reply;
    /// The SSE frames of a text reply in `chunks` pieces; without `complete` the stream stops
    /// after the text (no stop frames).
    fn text_frames(&self, text: &str, chunks: usize, complete: bool) -> Vec<String>;
    fn tool_message(&self, call: &ToolCall) -> Reply;
    fn tool_frames(&self, call: &ToolCall) -> Vec<String>;
    fn rate_limited_body(&self) -> Value;
    fn http_error_body(&self, status: u16, message: &str) -> Value;
    fn stream_error_frames(&self, kind: &str, message: &str) -> Vec<String>;
}

/// Renders `script` as `api` answers it, streamed when the request asked for a stream.
fn render(api: &impl Api, script: &Script, streaming: bool) -> Reply {
    match script {
        Script::Text { text, chunks }
        | Script::Slow { text, chunks, .. }
        | Script::Disconnect { text, chunks }
        | Script::Hang { text, chunks } => {
            let pacing = script.pacing();
            let cut = pacing.disconnect || pacing.hang;
            if !streaming && !cut {
                return api.text_message(text);
            }
            Reply::Sse {
                frames: api.text_frames(text, *chunks, !cut),
                pacing,
            }
        }
        Script::ToolCall {
            id,
            name,
            arguments,
            pieces,
            ..
        }
        | Script::SlowToolCall {
            id,
            name,
            arguments,
            pieces,
            ..
        } => {
            let call = ToolCall {
                id,
                name,
                arguments,
                pieces: *pieces,
            };
            if streaming {
                // Paced only for `SlowToolCall` (`pacing()` is the default otherwise).
                Reply::Sse {
                    frames: api.tool_frames(&call),
                    pacing: script.pacing(),
                }
            } else {
                api.tool_message(&call)
            }
        }
        Script::RateLimited { retry_after } => {
            Reply::rate_limited(retry_after, api.rate_limited_body())
        }
        Script::HttpError { status, message } => {
            Reply::json(*status, api.http_error_body(*status, message))
        }
        Script::StreamError { kind, message } => Reply::sse(api.stream_error_frames(kind, message)),
    }
}

struct Shared {
    flavor: Flavor,
    queue: Mutex<VecDeque<Script>>,
    /// (needle, script): requests whose body contains the needle, answered ahead of the queue.
    matching: Mutex<Vec<(String, Script)>>,
    recorded: Mutex<Vec<Recorded>>,
    arrived: Notify,
    counter: Mutex<u64>,
}

/// An axum app served on 127.0.0.1:0 until dropped (every fake's listener).
pub(crate) struct Serving {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Serving {
    /// Binds an ephemeral loopback port and serves `app` there; `fake` names it in panics.
    pub(crate) async fn start(fake: &str, app: Router) -> Serving {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("{fake}: cannot bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("{fake}: no local address: {e}"),
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Serving { addr, task }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The model `GET /api/tags` lists (as a local Ollama would).
pub const FAKE_OLLAMA_MODEL: &str = "fake-llama:latest";

async fn ollama_tags() -> axum::Json<Value> {
    axum::Json(serde_json::json!({"models": [
        {"name": FAKE_OLLAMA_MODEL, "model": FAKE_OLLAMA_MODEL, "size": 1, "digest": "fake"}
    ]}))
}

/// A running fake; stops when dropped.
pub struct FakeServer {
    serving: Serving,
    shared: Arc<Shared>,
}

impl FakeServer {
    pub(crate) async fn start(flavor: Flavor) -> FakeServer {
        let shared = Arc::new(Shared {
            flavor,
            queue: Mutex::new(VecDeque::new()),
            matching: Mutex::new(Vec::new()),
            recorded: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            counter: Mutex::new(0),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(handle))
            .route("/chat/completions", post(handle))
            .route("/v1/messages", post(handle))
            // Ollama's model list, so a `FakeOpenAi` doubles as a local Ollama (which serves
            // the OpenAI API under `/v1`) for onboarding's detection.
            .route("/api/tags", axum::routing::get(ollama_tags))
            .with_state(shared.clone());
        FakeServer {
            serving: Serving::start("fake server", app).await,
            shared,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.serving.addr
    }

    /// Queues how the next unanswered request is answered.
    pub fn push(&self, script: Script) {
        lock(&self.shared.queue).push_back(script);
    }

    /// Answers every later request whose JSON body contains `needle` with `script`, ahead of
    /// (and without consuming) the queue: for requests the code under test makes on its own,
    /// such as a summary request in the middle of a conversation.
    pub fn answer_matching(&self, needle: impl Into<String>, script: Script) {
        lock(&self.shared.matching).push((needle.into(), script));
    }

    /// Drops every [`Self::answer_matching`] rule.
    pub fn forget_matching(&self) {
        lock(&self.shared.matching).clear();
    }

    /// Scripts not used yet.
    pub fn pending(&self) -> usize {
        lock(&self.shared.queue).len()
    }

    /// JSON bodies of all requests so far, in arrival order.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.shared.recorded)
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    /// All requests so far with path and headers.
    pub fn recorded(&self) -> Vec<Recorded> {
        lock(&self.shared.recorded).clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.shared.recorded).len()
    }

    /// Waits until at least `n` requests arrived; false on timeout.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            if self.request_count() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.request_count() >= n;
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    lock(&shared.recorded).push(Recorded {
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: json.clone(),
    });
    shared.arrived.notify_waiters();
    let seq = {
        let mut c = lock(&shared.counter);
        *c += 1;
        *c
    };
    let text = json.to_string();
    let matched = lock(&shared.matching)
        .iter()
        .find(|(needle, _)| text.contains(needle.as_str()))
        .map(|(_, script)| script.clone());
    let script = if matched.is_some() {
        matched
    } else {
        let mut q = lock(&shared.queue);
        let s = q.pop_front();
        if let Some(Script::ToolCall {
            then_text: Some(t), ..
        }) = &s
        {
            q.push_front(Script::text(t.clone()));
        }
        s
    };
    let streaming = json.get("stream").and_then(Value::as_bool) == Some(true);
    let reply = match shared.flavor {
        Flavor::OpenAi => {
            let script = script.unwrap_or_else(|| crate::openai::echo(&json));
            render(&crate::openai::api(&json, seq), &script, streaming)
        }
        Flavor::Anthropic => {
            let script = script.unwrap_or_else(|| crate::anthropic::echo(&json));
            render(&crate::anthropic::api(&json, seq), &script, streaming)
        }
    };
    respond(reply)
}

fn respond(reply: Reply) -> Response {
    match reply {
        Reply::Json {
            status,
            headers,
            body,
        } => {
            let mut b = Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header("content-type", "application/json");
            for (k, v) in headers {
                b = b.header(k, v);
            }
            b.body(Body::from(body.to_string()))
                .unwrap_or_else(|_| Response::new(Body::empty()))
        }
        Reply::Sse { frames, pacing } => {
            let Pacing {
                delay,
                disconnect,
                hang,
            } = pacing;
            let state = (frames.into_iter(), delay, disconnect, false);
            let stream = futures_util::stream::unfold(
                state,
                move |(mut frames, delay, disconnect, done)| async move {
                    if done {
                        return None;
                    }
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    match frames.next() {
                        Some(f) => Some((
                            Ok::<Bytes, std::io::Error>(Bytes::from(f)),
                            (frames, delay, disconnect, false),
                        )),
                        None if disconnect => {
                            // Let the last chunk reach the client, then break the chunked body:
                            // hyper drops the connection without the terminating chunk.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Some((
                                Err(std::io::Error::other("fake: connection dropped")),
                                (frames, delay, disconnect, true),
                            ))
                        }
                        None if hang => std::future::pending().await,
                        None => None,
                    }
                },
            );
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| Response::new(Body::empty()))
        }
    }
}
