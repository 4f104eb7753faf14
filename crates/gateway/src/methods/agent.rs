//! Agent family: `agent` (two responses on one id: `accepted`, then the final result),
//! `agent.wait`, `chat.send` / `chat.history` / `chat.abort` (the session methods live in
//! `sessions.rs`).

use crate::sync::LockExt;
use std::time::Duration;

use openclaw_agent::{SessionStore, Transcript, canonical_session_key};
use openclaw_protocol::agent::names;
use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::{
    AgentFinal, AgentOutput, AgentOutputMeta, AgentParams, AgentWaitParams, ChatAbortParams,
    ChatEvent, ChatHistoryParams, ChatMessage, ChatSendParams, ChatState, ErrorShape, ReplyPayload,
};
use serde_json::{Value, json};

use super::sessions::{reset_reason, session_changed};
use crate::agents::{agent_of_key, agents, reset_command, resolve_agent, session_key};
use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};
use crate::runs::{RunSpec, Runs, Submitted, run_timeout_ms, run_timeout_secs};
use crate::state::now_ms;

pub fn register(out: &mut Vec<MethodSpec>) {
    let write = Access::Scope(scopes::WRITE);
    let read = Access::Scope(scopes::READ);
    let admin = Access::Scope(scopes::ADMIN);
    for (name, access, handler) in [
        (names::AGENT, write, agent as crate::registry::Handler),
        (names::AGENT_WAIT, write, agent_wait),
        (names::CHAT_SEND, write, chat_send),
        (names::CHAT_HISTORY, read, chat_history),
        (names::CHAT_ABORT, write, chat_abort),
        (names::SET_HEARTBEATS, admin, set_heartbeats),
        ("wake", write, wake),
    ] {
        out.push(MethodSpec {
            name,
            access,
            handler,
        });
    }
}

fn final_frame(payload: &AgentFinal) -> Value {
    serde_json::to_value(payload).unwrap_or_default()
}

/// The final `agent` result of a chat command answered without a run.
fn command_final(run_id: &str, text: String) -> Value {
    final_frame(&AgentFinal {
        result: Some(AgentOutput {
            meta: AgentOutputMeta::default(),
            payloads: vec![ReplyPayload {
                media_url: None,
                text,
            }],
        }),
        run_id: run_id.to_string(),
        status: "ok".into(),
        summary: "completed".into(),
    })
}

fn agent<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<AgentParams>(names::AGENT, params)?;
        let state = &ctx.state;
        let agent_id = resolve_agent(state, p.agent_id.as_deref())?;
        // Session: explicit key → an existing sessionId → the agent's main session.
        let key = match (&p.session_key, &p.session_id) {
            (None, Some(id)) => {
                let store = SessionStore::open(&state.paths.state_dir, &agent_id);
                store
                    .list()
                    .into_iter()
                    .find(|(_, e)| e.session_id == *id)
                    .map(|(k, _)| k)
                    .ok_or_else(|| {
                        ErrorShape::invalid_request(format!("unknown sessionId: {id}"))
                    })?
            }
            _ => session_key(state, &agent_id, p.session_key.as_deref()),
        };
        // `deliver`: the final reply also goes out through a channel to `replyTo`/`to`.
        let delivery = if p.deliver == Some(true) {
            let target = p.reply_to.clone().or(p.to.clone()).ok_or_else(|| {
                ErrorShape::invalid_request(
                    "deliver needs `to` (or `replyTo`): the target to send the reply to",
                )
            })?;
            Some((
                p.reply_channel.clone().or(p.channel.clone()),
                p.reply_account_id.clone().or(p.account_id.clone()),
                target,
            ))
        } else {
            None
        };
        let mut message = p.message.clone();
        // `/new` and `/reset` start a fresh session first; alone they reply without a run.
        if let Some((text, rest)) = reset_command(&message) {
            // Resetting a session discards its context: admin, as in the reference.
            ctx.require_admin()?;
            let store = SessionStore::open(&state.paths.state_dir, &agent_id);
            store
                .reset(&key)
                .map_err(|e| ErrorShape::unavailable(format!("cannot reset the session: {e}")))?;
            session_changed(state, &key, reset_reason(&message));
            if rest.is_empty() {
                return Ok(command_reply(&p.idempotency_key, text.to_string()));
            }
            message = rest;
        }
        if let Some(cmd) = crate::runs::compact_command(&message) {
            let (state, run_id) = (state.clone(), p.idempotency_key.clone());
            return Ok(Reply::TwoPhase {
                ack: json!({"runId": run_id, "status": "accepted", "acceptedAt": now_ms()}),
                rest: Box::pin(async move {
                    let text = crate::runs::compact_session(&state, &agent_id, &key, &cmd).await;
                    (true, command_final(&run_id, text), None)
                }),
            });
        }
        if let Some(cmd) = crate::chat_commands::parse(&message) {
            let text = crate::chat_commands::run(state, &agent_id, &key, &cmd);
            return Ok(command_reply(&p.idempotency_key, text));
        }
        let timeout = run_timeout_secs(
            p.timeout
                .unwrap_or_else(|| crate::runs::default_run_timeout_secs(state)),
        );
        let spec = RunSpec {
            run_id: p.idempotency_key.clone(),
            agent_id,
            session_key: key,
            message,
            extra_system_prompt: p.extra_system_prompt.clone(),
            timeout,
            stream_tx: None,
            ephemeral: false,
            persisted: None,
            resume: false,
            origin: None,
        };
        // A busy session applies `messages.queue` (byChannel by the caller's `channel`).
        let origin = crate::runs::queue::Origin {
            channel: p.channel.clone(),
        };
        let run = match Runs::submit_message(state, spec, &origin)? {
            Submitted::New(r) | Submitted::Existing(r) => r,
        };
        let ack = json!({"runId": run.run_id, "status": "accepted", "acceptedAt": run.accepted_at});
        let wait_for = timeout.saturating_add(Duration::from_secs(30));
        let state = state.clone();
        Ok(Reply::TwoPhase {
            ack,
            rest: Box::pin(async move {
                match run.wait(wait_for).await {
                    Some(r) => {
                        let (ok, mut payload, error) = (r.ok, r.payload.clone(), r.error.clone());
                        if let (true, Some((channel, account, to))) = (ok, delivery) {
                            let text = r.final_text.trim().to_string();
                            let delivered = if text.is_empty()
                                || text == "NO_REPLY"
                                || text == "HEARTBEAT_OK"
                            {
                                Ok(json!(null))
                            } else {
                                crate::methods::channels::deliver(
                                    &state,
                                    channel.as_deref(),
                                    account.as_deref(),
                                    &to,
                                    text,
                                )
                                .await
                            };
                            let meta = payload.result.as_mut().map(|r| &mut r.meta);
                            match (delivered, meta) {
                                (Ok(d), Some(meta)) => meta.delivery = Some(d),
                                (Err(e), Some(meta)) if p.best_effort_deliver == Some(true) => {
                                    meta.delivery_error = Some(e.message);
                                }
                                (Err(e), _) => {
                                    payload.status = "error".into();
                                    payload.summary = format!("delivery failed: {}", e.message);
                                    return (false, final_frame(&payload), Some(e));
                                }
                                (Ok(_), None) => {}
                            }
                        }
                        (ok, final_frame(&payload), error)
                    }
                    None => (
                        false,
                        final_frame(&AgentFinal::error(&run.run_id, "run did not finish")),
                        Some(ErrorShape::new(
                            openclaw_protocol::codes::AGENT_TIMEOUT,
                            "run did not finish in time",
                        )),
                    ),
                }
            }),
        })
    })
}

/// The two `agent` responses for a command answered without a run: the ack, then a final
/// whose one payload is the command's reply.
fn command_reply(run_id: &str, text: String) -> Reply {
    let payload = command_final(run_id, text);
    Reply::TwoPhase {
        ack: json!({"runId": run_id, "status": "accepted", "acceptedAt": now_ms()}),
        rest: Box::pin(async move { (true, payload, None) }),
    }
}

fn agent_wait<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<AgentWaitParams>(names::AGENT_WAIT, params)?;
        let within = Duration::from_millis(p.timeout_ms.unwrap_or(30_000).min(3_600_000));
        let Some(run) = ctx.state.runs.find(&p.run_id) else {
            tokio::time::sleep(within.min(Duration::from_millis(50))).await;
            return Ok(Reply::Json(json!({"runId": p.run_id, "status": "timeout"})));
        };
        Ok(Reply::Json(match run.wait(within).await {
            Some(r) => {
                let mut v = json!({
                    "runId": run.run_id,
                    "status": if r.ok { "ok" } else { "error" },
                    "startedAt": r.started_at,
                    "endedAt": r.ended_at,
                });
                if let Some(e) = &r.error {
                    v["error"] = json!(e.message);
                }
                v
            }
            None => json!({"runId": run.run_id, "status": "timeout"}),
        }))
    })
}

fn chat_send<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ChatSendParams>(names::CHAT_SEND, params)?;
        let state = &ctx.state;
        let (_, default) = agents(state);
        let key = canonical_session_key(&p.session_key, &default, &state.settings().main_key);
        let agent_id = agent_of_key(state, &key);
        let trimmed = p.message.trim();
        if trimmed == "/stop" {
            let ids = Runs::abort(state, &key, None);
            return Ok(Reply::Json(
                json!({"ok": true, "aborted": !ids.is_empty(), "runIds": ids}),
            ));
        }
        if let Some(cmd) = crate::runs::compact_command(trimmed) {
            // Answered like a run: `started` now, the reply as this runId's chat `final`.
            let (state, run_id) = (state.clone(), p.idempotency_key.clone());
            tokio::spawn(async move {
                let text = crate::runs::compact_session(&state, &agent_id, &key, &cmd).await;
                let mut event = ChatEvent::new(&run_id, &key, 1, ChatState::Final);
                event.message = Some(ChatMessage::assistant(&text, now_ms()));
                crate::runs::emit_chat(&state, &event);
            });
            return Ok(Reply::Json(
                json!({"runId": p.idempotency_key, "status": "started"}),
            ));
        }
        if let Some((text, _)) = reset_command(trimmed).filter(|(_, rest)| rest.is_empty()) {
            let store = SessionStore::open(&state.paths.state_dir, &agent_id);
            store
                .reset(&key)
                .map_err(|e| ErrorShape::unavailable(format!("cannot reset the session: {e}")))?;
            session_changed(state, &key, reset_reason(trimmed));
            let mut event = ChatEvent::new(&p.idempotency_key, &key, 1, ChatState::Final);
            event.message = Some(ChatMessage::assistant(text, now_ms()));
            crate::runs::emit_chat(state, &event);
            return Ok(Reply::Json(
                json!({"runId": p.idempotency_key, "status": "ok"}),
            ));
        }
        // Settings commands (`/status`, `/model`, `/think`, …) answer without a run.
        if let Some(cmd) = crate::chat_commands::parse(trimmed) {
            let text = crate::chat_commands::run(state, &agent_id, &key, &cmd);
            let mut event = ChatEvent::new(&p.idempotency_key, &key, 1, ChatState::Final);
            event.message = Some(ChatMessage::assistant(&text, now_ms()));
            crate::runs::emit_chat(state, &event);
            return Ok(Reply::Json(
                json!({"runId": p.idempotency_key, "status": "ok"}),
            ));
        }
        if trimmed.is_empty() {
            return Err(ErrorShape::invalid_request(
                "invalid chat.send params: message is empty",
            ));
        }
        let timeout = match p.timeout_ms {
            Some(ms) => run_timeout_ms(ms),
            None => crate::runs::default_run_timeout(state),
        };
        let spec = RunSpec {
            run_id: p.idempotency_key.clone(),
            agent_id,
            session_key: key,
            message: p.message.clone(),
            extra_system_prompt: None,
            timeout,
            stream_tx: None,
            ephemeral: false,
            persisted: None,
            resume: false,
            origin: None,
        };
        let origin = crate::runs::queue::Origin::channel("webchat");
        let submitted = Runs::submit_message(state, spec, &origin)?;
        Ok(Reply::Json(match submitted {
            Submitted::New(r) => json!({"runId": r.run_id, "status": "started"}),
            Submitted::Existing(r) => match r.result() {
                None => json!({"runId": r.run_id, "status": "in_flight"}),
                Some(res) => {
                    json!({"runId": r.run_id, "status": if res.ok { "ok" } else { "error" }})
                }
            },
        }))
    })
}

fn chat_history<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ChatHistoryParams>(names::CHAT_HISTORY, params)?;
        let state = &ctx.state;
        let (_, default) = agents(state);
        let key = canonical_session_key(&p.session_key, &default, &state.settings().main_key);
        let store = SessionStore::open(&state.paths.state_dir, &agent_of_key(state, &key));
        let limit = p.limit.unwrap_or(200) as usize;
        let max_chars = p.max_chars.map(|m| m as usize);
        let Some(entry) = store.get(&key) else {
            return Ok(Reply::Json(
                json!({"sessionKey": key, "sessionId": null, "messages": []}),
            ));
        };
        let path = store.transcript_path(&entry);
        let messages = tokio::task::spawn_blocking(move || Transcript::load_messages(&path))
            .await
            .map_err(|e| ErrorShape::unavailable(e.to_string()))?
            .map_err(|e| ErrorShape::unavailable(format!("cannot read the transcript: {e}")))?;
        let start = messages.len().saturating_sub(limit);
        let mut out: Vec<Value> = messages[start..]
            .iter()
            .map(|m| serde_json::to_value(m).unwrap_or(Value::Null))
            .collect();
        // Bound the reply: 6 MiB total, long texts cut to maxChars.
        const MAX_BYTES: usize = 6 * 1024 * 1024;
        let mut total = 0usize;
        for m in out.iter_mut().rev() {
            if let Some(max) = max_chars {
                truncate_texts(m, max);
            }
            let len = m.to_string().len();
            if total + len > MAX_BYTES {
                *m = json!({"role": m["role"].clone(), "content": [{"type": "text", "text": "[chat.history omitted: message too large]"}]});
            }
            total += len.min(MAX_BYTES);
        }
        Ok(Reply::Json(
            json!({"sessionKey": key, "sessionId": entry.session_id, "messages": out}),
        ))
    })
}

fn truncate_texts(v: &mut Value, max: usize) {
    if let Some(parts) = v["content"].as_array_mut() {
        for part in parts {
            if let Some(t) = part["text"].as_str()
                && t.chars().count() > max
            {
                part["text"] = json!(t.chars().take(max).collect::<String>());
            }
        }
    }
}

fn chat_abort<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ChatAbortParams>(names::CHAT_ABORT, params)?;
        let state = &ctx.state;
        let (_, default) = agents(state);
        let key = canonical_session_key(&p.session_key, &default, &state.settings().main_key);
        if let Some(run) = p.run_id.as_deref().and_then(|id| state.runs.find(id))
            && run.session_key != key
        {
            return Err(ErrorShape::invalid_request(
                "runId does not match sessionKey",
            ));
        }
        let ids = Runs::abort(state, &key, p.run_id.as_deref());
        Ok(Reply::Json(
            json!({"ok": true, "aborted": !ids.is_empty(), "runIds": ids}),
        ))
    })
}

fn set_heartbeats<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p =
            parse_params::<openclaw_protocol::SetHeartbeatsParams>(names::SET_HEARTBEATS, params)?;
        ctx.state.heartbeats.set_enabled(p.enabled);
        Ok(Reply::Json(json!({"ok": true, "enabled": p.enabled})))
    })
}

fn wake<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<openclaw_protocol::WakeParams>("wake", params)?;
        {
            let mut q = ctx.state.system_events.locked();
            if q.len() >= crate::state::MAX_SYSTEM_EVENTS {
                q.pop_front();
            }
            q.push_back(p.text.clone());
        }
        if p.mode.as_deref().unwrap_or("now") == "now" {
            ctx.state.heartbeats.wake_now();
        }
        Ok(Reply::Json(json!({"ok": true})))
    })
}
