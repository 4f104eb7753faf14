//! `POST /v1/responses` (OpenResponses; off unless `gateway.http.endpoints.responses.enabled`):
//! `input` as a string or message items, `instructions` as extra system prompt; the reply as a
//! `response` object, or streamed as `response.*` events.

use crate::sync::LockExt;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use openclaw_protocol::UsageTotals;
use serde_json::{Value, json};

use super::openai::{HttpRun, Turn, finished, split_turns, start_http_run};
use super::sse::{SseEvent, stream_run};
use super::{ApiError, json_response};
use crate::state::{AppState, now_ms};

/// `input` (and `instructions`) as one agent turn.
fn turn_of(req: &Value) -> Result<Turn, ApiError> {
    let mut extra: Vec<String> = req["instructions"]
        .as_str()
        .map(|s| vec![s.to_string()])
        .unwrap_or_default();
    match &req["input"] {
        Value::String(s) if !s.trim().is_empty() => Ok(Turn {
            extra,
            context: Vec::new(),
            message: s.clone(),
        }),
        Value::Array(items) => {
            let msgs: Vec<&Value> = items
                .iter()
                .filter(|i| i["type"].as_str().unwrap_or("message") == "message")
                .collect();
            let turn = split_turns(&msgs)
                .ok_or_else(|| ApiError::invalid_request("no user message in `input`"))?;
            extra.extend(turn.extra);
            Ok(Turn { extra, ..turn })
        }
        _ => Err(ApiError::invalid_request(
            "`input` must be a string or an array of items",
        )),
    }
}

pub(super) async fn respond(
    state: &Arc<AppState>,
    req: &Value,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let turn = turn_of(req)?;
    let id = format!("resp_{}", uuid::Uuid::new_v4().simple());
    let msg_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let created = now_ms() / 1000;
    let run = HttpRun::of(req, turn, &id);
    let (model, stream) = (run.model.to_string(), run.stream);
    let started = start_http_run(state, headers, run)?;
    let response_obj = move |status: &str, text: Option<&str>, usage: &UsageTotals| {
        let output = match text {
            Some(t) => {
                json!([{"type": "message", "id": msg_id, "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": t, "annotations": []}]}])
            }
            None => json!([]),
        };
        json!({"id": id, "object": "response", "created_at": created, "status": status, "model": model,
               "output": output,
               "usage": {"input_tokens": usage.input,
                         "output_tokens": usage.output,
                         "total_tokens": usage.total}})
    };
    if !stream {
        let payload = match finished(&started.run).await {
            Ok(p) => p,
            // A failed run is still a `response` object, with status `failed`.
            Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => {
                let mut v = response_obj("failed", None, &UsageTotals::default());
                v["error"] = json!({"code": "server_error", "message": e.message});
                return Ok(json_response(StatusCode::INTERNAL_SERVER_ERROR, v));
            }
            Err(e) => return Err(e),
        };
        let text = payload.text();
        let usage = payload.usage().copied().unwrap_or_default();
        return Ok(json_response(
            StatusCode::OK,
            response_obj("completed", Some(&text), &usage),
        ));
    }
    let event = |kind: &str, data: Value| Bytes::from(format!("event: {kind}\ndata: {data}\n\n"));
    let acc = std::sync::Mutex::new(String::new());
    Ok(stream_run(
        started.run,
        started.deltas,
        move |ev| match ev {
            SseEvent::Start => {
                let created = response_obj("in_progress", None, &UsageTotals::default());
                let first = event(
                    "response.created",
                    json!({"type": "response.created", "response": created}),
                );
                let second = event(
                    "response.in_progress",
                    json!({"type": "response.in_progress"}),
                );
                Bytes::from([first.as_ref(), second.as_ref()].concat())
            }
            SseEvent::Delta(d) => {
                {
                    let mut a = acc.locked();
                    a.push_str(&d);
                }
                event(
                    "response.output_text.delta",
                    json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": d}),
                )
            }
            SseEvent::End { ok, error } => {
                let text = acc.locked().clone();
                let mut out = if ok {
                    [
                    event("response.output_text.done", json!({"type": "response.output_text.done", "output_index": 0, "content_index": 0, "text": text})),
                    event("response.completed", json!({"type": "response.completed", "response": response_obj("completed", Some(&text), &UsageTotals::default())})),
                ]
                .concat()
                } else {
                    let mut failed = response_obj("failed", None, &UsageTotals::default());
                    failed["error"] =
                        json!({"code": "server_error", "message": error.unwrap_or_default()});
                    event(
                        "response.failed",
                        json!({"type": "response.failed", "response": failed}),
                    )
                    .to_vec()
                };
                out.extend_from_slice(b"data: [DONE]\n\n");
                Bytes::from(out)
            }
        },
    ))
}
