//! Server-sent events for streamed runs: one task forwards a run's text deltas as they arrive
//! (bounded channel to the socket), ends with the endpoint's closing event and `[DONE]`, and
//! cancels the run when the client goes away. Each endpoint only renders its own events.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use openclaw_protocol::UsageTotals;

use super::ApiError;
use crate::runs::Run;

/// How a streamed run ended, as the endpoints render it.
pub(super) struct RunEnd {
    pub ok: bool,
    /// The run was aborted (`chat.abort`, the session's `/stop`), not failed.
    pub aborted: bool,
    pub error: Option<String>,
    pub usage: UsageTotals,
}

/// What an endpoint renders into SSE bytes.
pub(super) enum SseEvent {
    Start,
    Delta(String),
    End(RunEnd),
}

/// A `200 text/event-stream` response streaming `run`: the start event, every delta from
/// `deltas` as it arrives, then the end event (each rendered by `render`).
pub(super) fn stream_run(
    run: Arc<Run>,
    deltas: mpsc::UnboundedReceiver<String>,
    render: impl Fn(SseEvent) -> Bytes + Send + 'static,
) -> Response {
    let body = stream_body(run, deltas, render);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .unwrap_or_else(|_| {
            ApiError::api(StatusCode::INTERNAL_SERVER_ERROR, "stream setup failed").into_response()
        })
}

fn stream_body(
    run: Arc<Run>,
    mut deltas: mpsc::UnboundedReceiver<String>,
    render: impl Fn(SseEvent) -> Bytes + Send + 'static,
) -> Body {
    let (tx, out_rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        if tx.send(Ok(render(SseEvent::Start))).await.is_err() {
            run.cancel.cancel();
            return;
        }
        let mut status = run.status.subscribe();
        loop {
            tokio::select! {
                d = deltas.recv() => match d {
                    Some(d) => if tx.send(Ok(render(SseEvent::Delta(d)))).await.is_err() {
                        // The client went away: stop the run.
                        run.cancel.cancel();
                        return;
                    },
                    None => break,
                },
                _ = status.changed() => {
                    if run.is_done() {
                        while let Ok(d) = deltas.try_recv() {
                            let _ = tx.send(Ok(render(SseEvent::Delta(d)))).await;
                        }
                        break;
                    }
                }
            }
        }
        let result = run.wait(Duration::from_secs(660)).await;
        let end = match result {
            Some(r) => RunEnd {
                ok: r.ok,
                aborted: r.aborted,
                usage: r.payload.usage().copied().unwrap_or_default(),
                error: r.error.map(|e| e.message),
            },
            None => RunEnd {
                ok: false,
                aborted: false,
                error: Some("agent run did not finish".into()),
                usage: UsageTotals::default(),
            },
        };
        let _ = tx.send(Ok(render(SseEvent::End(end)))).await;
    });
    Body::from_stream(receiver_stream(out_rx))
}

/// A `Stream` over an mpsc receiver (avoids another dependency).
fn receiver_stream(
    mut rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
