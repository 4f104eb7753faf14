//! `POST /v1/responses` (OpenResponses; off unless `gateway.http.endpoints.responses.enabled`):
//! `input` as a string or message items, `instructions` as extra system prompt; the reply as a
//! `response` object, or streamed as the Responses API's full event sequence (lifecycle events
//! carrying the same `response` object, the one message item and its one `output_text` part
//! opened, streamed and closed, every event numbered by `sequence_number`), because the official
//! SDKs' stream helpers accumulate exactly those events and refuse a stream that skips any.

use crate::sync::LockExt;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use openclaw_protocol::UsageTotals;
use serde_json::{Value, json};

use super::openai::{HttpRun, Turn, finished, split_turns, start_http_run};
use super::sse::{RunEnd, SseEvent, stream_run};
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

/// What every `response` object of one request shares; only status, output, usage and error vary.
struct ResponseShape {
    id: String,
    msg_id: String,
    created_at: u64,
    model: String,
    instructions: Value,
}

/// How the one assistant message stands.
#[derive(Clone, Copy)]
enum ItemStatus {
    InProgress,
    Completed,
    Incomplete,
}

impl ItemStatus {
    fn as_str(self) -> &'static str {
        match self {
            ItemStatus::InProgress => "in_progress",
            ItemStatus::Completed => "completed",
            ItemStatus::Incomplete => "incomplete",
        }
    }
}

impl ResponseShape {
    /// The assistant message item (`output[0]`).
    fn message(&self, status: ItemStatus, text: Option<&str>) -> Value {
        let content = match text {
            Some(t) => json!([output_text(t)]),
            None => json!([]),
        };
        json!({"type": "message", "id": self.msg_id, "status": status.as_str(), "role": "assistant",
               "content": content})
    }

    /// A `response` object in the API's shape (the fields the SDKs read, with the values a
    /// plain text turn has).
    fn response(&self, status: &str, output: Vec<Value>, usage: &UsageTotals) -> Value {
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": null,
            "incomplete_details": null,
            "instructions": self.instructions,
            "max_output_tokens": null,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": true,
            "previous_response_id": null,
            "reasoning": {"effort": null, "summary": null},
            "store": false,
            "temperature": null,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": null,
            "truncation": "disabled",
            "usage": usage_of(usage),
            "user": null,
            "metadata": {},
        })
    }
}

fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

fn usage_of(u: &UsageTotals) -> Value {
    json!({"input_tokens": u.input,
           "input_tokens_details": {"cached_tokens": u.cache_read},
           "output_tokens": u.output,
           "output_tokens_details": {"reasoning_tokens": 0},
           "total_tokens": u.total})
}

/// The stream's running state: the next `sequence_number` and the text so far.
struct StreamState {
    seq: u64,
    text: String,
}

impl StreamState {
    /// One SSE event: `event: <type>` and the data with its `type` and `sequence_number`.
    fn event(&mut self, kind: &str, mut data: Value, out: &mut Vec<u8>) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        out.extend_from_slice(format!("event: {kind}\ndata: {data}\n\n").as_bytes());
    }
}

/// Renders the run's stream as Responses API events (see the module doc).
fn render_stream(shape: ResponseShape) -> impl Fn(SseEvent) -> Bytes + Send + 'static {
    let state = std::sync::Mutex::new(StreamState {
        seq: 0,
        text: String::new(),
    });
    move |ev| {
        let mut st = state.locked();
        let mut out = Vec::new();
        let none = UsageTotals::default();
        let (item, msg_id) = (0, shape.msg_id.as_str());
        match ev {
            SseEvent::Start => {
                let r = shape.response("in_progress", Vec::new(), &none);
                st.event("response.created", json!({"response": r}), &mut out);
                st.event("response.in_progress", json!({"response": r}), &mut out);
                st.event(
                    "response.output_item.added",
                    json!({"output_index": item, "item": shape.message(ItemStatus::InProgress, None)}),
                    &mut out,
                );
                st.event(
                    "response.content_part.added",
                    json!({"item_id": msg_id, "output_index": item, "content_index": 0,
                           "part": output_text("")}),
                    &mut out,
                );
            }
            SseEvent::Delta(d) => {
                st.text.push_str(&d);
                st.event(
                    "response.output_text.delta",
                    json!({"item_id": msg_id, "output_index": item, "content_index": 0,
                           "delta": d, "logprobs": []}),
                    &mut out,
                );
            }
            SseEvent::End(RunEnd {
                ok,
                aborted,
                error,
                usage,
            }) => {
                let text = std::mem::take(&mut st.text);
                let status = if ok {
                    ItemStatus::Completed
                } else {
                    ItemStatus::Incomplete
                };
                // The part and the item are closed on every path, so a client's accumulated
                // snapshot never holds an unfinished item.
                if ok {
                    st.event(
                        "response.output_text.done",
                        json!({"item_id": msg_id, "output_index": item, "content_index": 0,
                               "text": text, "logprobs": []}),
                        &mut out,
                    );
                }
                st.event(
                    "response.content_part.done",
                    json!({"item_id": msg_id, "output_index": item, "content_index": 0,
                           "part": output_text(&text)}),
                    &mut out,
                );
                let message = shape.message(status, Some(&text));
                st.event(
                    "response.output_item.done",
                    json!({"output_index": item, "item": message}),
                    &mut out,
                );
                if ok {
                    let r = shape.response("completed", vec![message], &usage);
                    st.event("response.completed", json!({"response": r}), &mut out);
                } else if aborted {
                    // Stopped, not broken: what was produced so far, marked incomplete.
                    let mut r = shape.response("incomplete", vec![message], &usage);
                    r["incomplete_details"] = json!({"reason": "aborted"});
                    st.event("response.incomplete", json!({"response": r}), &mut out);
                } else {
                    let mut r = shape.response("failed", vec![message], &usage);
                    r["error"] = json!({"code": "server_error",
                                        "message": error.unwrap_or_else(|| "agent run failed".into())});
                    st.event("response.failed", json!({"response": r}), &mut out);
                }
                // The reference ends every stream with `[DONE]`; the SDKs stop reading there.
                out.extend_from_slice(b"data: [DONE]\n\n");
            }
        }
        Bytes::from(out)
    }
}

pub(super) async fn respond(
    state: &Arc<AppState>,
    req: &Value,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let turn = turn_of(req)?;
    let id = format!("resp_{}", uuid::Uuid::new_v4().simple());
    let run = HttpRun::of(req, turn, &id);
    let shape = ResponseShape {
        id: id.clone(),
        msg_id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        created_at: now_ms() / 1000,
        model: run.model.to_string(),
        instructions: req["instructions"].clone(),
    };
    let stream = run.stream;
    let started = start_http_run(state, headers, run)?;
    if stream {
        return Ok(stream_run(
            started.run,
            started.deltas,
            render_stream(shape),
        ));
    }
    match finished(&started.run).await {
        Ok(payload) => {
            let text = payload.text();
            let usage = payload.usage().copied().unwrap_or_default();
            let message = shape.message(ItemStatus::Completed, Some(&text));
            Ok(json_response(
                StatusCode::OK,
                shape.response("completed", vec![message], &usage),
            ))
        }
        // A failed run is still a `response` object, with status `failed`.
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => {
            let mut v = shape.response("failed", Vec::new(), &UsageTotals::default());
            v["error"] = json!({"code": "server_error", "message": e.message});
            Ok(json_response(StatusCode::INTERNAL_SERVER_ERROR, v))
        }
        Err(e) => Err(e),
    }
}
