//! Agent runs: idempotency (a retried `agent`/`chat.send` returns the same run, never runs
//! twice), one run at a time per session (a bounded queue behind it), cancellation, waiting,
//! and the events a run emits (`agent` stream per run, `chat` per session).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openclaw_agent::{
    AgentMessage, CancelToken, ContentPart, ProviderClient, Providers, RunEvent, SessionStore,
    ToolContext, ToolPolicy, TurnRequest, Usage, builtin_tools, model_chain, run_turn,
};
use openclaw_protocol::ErrorShape;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::hub::Audience;
use crate::state::{AppState, now_ms};

/// Idempotency entries are kept this long (§8) and at most this many.
const DEDUPE_TTL: Duration = Duration::from_secs(300);
const DEDUPE_MAX: usize = 1000;
/// Runs waiting behind the active one, per session.
pub const MAX_QUEUED_PER_SESSION: usize = 8;
/// Messages of history sent to the model.
const HISTORY_LIMIT: usize = 40;
/// Tool-call steps per run.
const MAX_STEPS: usize = 8;
/// Chat delta events are throttled to one per this interval per run.
const CHAT_DELTA_EVERY: Duration = Duration::from_millis(150);

/// Where a run stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    Queued,
    Running { started_at: u64 },
    Done(RunResult),
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub ok: bool,
    pub started_at: u64,
    pub ended_at: u64,
    /// The final `agent` response payload.
    pub payload: Value,
    pub error: Option<ErrorShape>,
    pub aborted: bool,
    /// The model's final text, before silent tokens are filtered (heartbeats read it).
    pub final_text: String,
}

/// One run, shared by the dedupe cache, the session queue, waiters and aborters.
pub struct Run {
    pub run_id: String,
    pub session_key: String,
    pub agent_id: String,
    pub accepted_at: u64,
    pub status: watch::Sender<RunStatus>,
    pub cancel: CancelToken,
    created: Instant,
}

impl Run {
    pub fn result(&self) -> Option<RunResult> {
        match &*self.status.borrow() {
            RunStatus::Done(r) => Some(r.clone()),
            _ => None,
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(&*self.status.borrow(), RunStatus::Done(_))
    }

    /// Waits for the end (bounded by `within`).
    pub async fn wait(&self, within: Duration) -> Option<RunResult> {
        tokio::time::timeout(within, self.done())
            .await
            .ok()
            .flatten()
    }

    /// Waits for the end, however long the run stays queued (a started run ends by its own
    /// timeout).
    pub async fn done(&self) -> Option<RunResult> {
        let mut rx = self.status.subscribe();
        loop {
            if let RunStatus::Done(r) = &*rx.borrow_and_update() {
                return Some(r.clone());
            }
            if rx.changed().await.is_err() {
                return None;
            }
        }
    }
}

/// The longest run timeout: the reference's timer-safe cap (2,147,000,000 ms, about 25 days).
/// It is also what 0 ("no timeout") means.
pub const MAX_RUN_TIMEOUT: Duration = Duration::from_millis(2_147_000_000);

/// A caller's run timeout in milliseconds, clamped to [1 s, [`MAX_RUN_TIMEOUT`]]; 0 = no timeout.
/// Callers may send any integer (`u64::MAX` included): it must become a usable deadline, not an
/// overflow later.
pub fn run_timeout_ms(ms: u64) -> Duration {
    if ms == 0 {
        return MAX_RUN_TIMEOUT;
    }
    Duration::from_millis(ms).clamp(Duration::from_secs(1), MAX_RUN_TIMEOUT)
}

/// [`run_timeout_ms`] for a timeout in seconds (`agent {timeout}`, `timeoutSeconds`).
pub fn run_timeout_secs(secs: u64) -> Duration {
    run_timeout_ms(secs.saturating_mul(1000))
}

/// What a new run needs.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub run_id: String,
    pub agent_id: String,
    pub session_key: String,
    pub message: String,
    pub extra_system_prompt: Option<String>,
    pub timeout: Duration,
    /// Text deltas for an HTTP stream (SSE); bounded by the model's output size.
    pub stream_tx: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    /// No session entry and no transcript (stateless OpenAI-style calls): nothing on disk
    /// grows per request.
    pub ephemeral: bool,
    /// Notified once the user turn is in the transcript (channels acknowledge inbound
    /// updates only then, so a crash neither loses nor duplicates a message).
    pub persisted: Option<Arc<tokio::sync::Notify>>,
}

#[derive(Default)]
struct SessionLane {
    active: Option<Arc<Run>>,
    queued: VecDeque<(Arc<Run>, RunSpec)>,
}

/// All runs of one gateway generation.
pub struct Runs {
    by_key: Mutex<HashMap<String, Arc<Run>>>,
    lanes: Mutex<HashMap<String, SessionLane>>,
    client: ProviderClient,
}

/// The outcome of submitting a run.
pub enum Submitted {
    /// A new run (started or queued).
    New(Arc<Run>),
    /// The same idempotency key was seen: the existing run.
    Existing(Arc<Run>),
}

impl Default for Runs {
    fn default() -> Self {
        Self {
            by_key: Mutex::new(HashMap::new()),
            lanes: Mutex::new(HashMap::new()),
            client: ProviderClient::new(Duration::from_secs(120)),
        }
    }
}

impl Runs {
    pub fn find(&self, run_id: &str) -> Option<Arc<Run>> {
        self.by_key.lock().ok()?.get(run_id).cloned()
    }

    /// Runs of a session that are queued or active.
    pub fn session_runs(&self, session_key: &str) -> Vec<Arc<Run>> {
        let Ok(lanes) = self.lanes.lock() else {
            return Vec::new();
        };
        let Some(lane) = lanes.get(session_key) else {
            return Vec::new();
        };
        lane.queued
            .iter()
            .map(|(r, _)| r.clone())
            .chain(lane.active.clone())
            .collect()
    }

    fn prune(map: &mut HashMap<String, Arc<Run>>) {
        map.retain(|_, r| !(r.is_done() && r.created.elapsed() > DEDUPE_TTL));
        if map.len() > DEDUPE_MAX {
            let mut done: Vec<(Instant, String)> = map
                .iter()
                .filter(|(_, r)| r.is_done())
                .map(|(k, r)| (r.created, k.clone()))
                .collect();
            done.sort();
            for (_, k) in done.into_iter().take(map.len() - DEDUPE_MAX) {
                map.remove(&k);
            }
        }
    }

    /// Registers a run (or returns the existing one for this idempotency key) and starts it
    /// when its session is idle.
    pub fn submit(state: &Arc<AppState>, spec: RunSpec) -> Result<Submitted, ErrorShape> {
        let runs = &state.runs;
        let run = {
            let mut map = runs
                .by_key
                .lock()
                .map_err(|_| ErrorShape::unavailable("run registry unavailable"))?;
            Self::prune(&mut map);
            if let Some(existing) = map.get(&spec.run_id) {
                return Ok(Submitted::Existing(existing.clone()));
            }
            let (status, _) = watch::channel(RunStatus::Queued);
            let run = Arc::new(Run {
                run_id: spec.run_id.clone(),
                session_key: spec.session_key.clone(),
                agent_id: spec.agent_id.clone(),
                accepted_at: now_ms(),
                status,
                cancel: CancelToken::new(),
                created: Instant::now(),
            });
            map.insert(spec.run_id.clone(), run.clone());
            run
        };
        let start_now = {
            let mut lanes = runs
                .lanes
                .lock()
                .map_err(|_| ErrorShape::unavailable("run queue unavailable"))?;
            let lane = lanes.entry(spec.session_key.clone()).or_default();
            if lane.active.is_none() {
                lane.active = Some(run.clone());
                true
            } else if lane.queued.len() >= MAX_QUEUED_PER_SESSION {
                drop(lanes);
                if let Ok(mut m) = runs.by_key.lock() {
                    m.remove(&spec.run_id);
                }
                return Err(ErrorShape::unavailable(format!(
                    "session {} has {MAX_QUEUED_PER_SESSION} runs queued; retry later",
                    spec.session_key
                ))
                .with_retry_after(1000));
            } else {
                lane.queued.push_back((run.clone(), spec.clone()));
                false
            }
        };
        if start_now {
            spawn_run(state.clone(), run.clone(), spec);
        }
        Ok(Submitted::New(run))
    }

    /// Marks the session's active run finished and starts the next queued one.
    fn finish(state: &Arc<AppState>, session_key: &str) {
        let next = {
            let Ok(mut lanes) = state.runs.lanes.lock() else {
                return;
            };
            let Some(lane) = lanes.get_mut(session_key) else {
                return;
            };
            lane.active = None;
            // Skip runs aborted while queued.
            let mut next = None;
            while let Some((run, spec)) = lane.queued.pop_front() {
                if run.is_done() {
                    continue;
                }
                lane.active = Some(run.clone());
                next = Some((run, spec));
                break;
            }
            if lane.active.is_none() {
                lanes.remove(session_key);
            }
            next
        };
        if let Some((run, spec)) = next {
            spawn_run(state.clone(), run, spec);
        }
    }

    /// Aborts the queued and active runs of a session (or one run). Returns the aborted ids.
    pub fn abort(state: &Arc<AppState>, session_key: &str, run_id: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        for run in state.runs.session_runs(session_key) {
            if run_id.is_some_and(|id| id != run.run_id) || run.is_done() {
                continue;
            }
            run.cancel.cancel();
            if matches!(&*run.status.borrow(), RunStatus::Queued) {
                // Never started: end it here.
                let now = now_ms();
                let result = aborted_result(&run, now, now);
                let _ = run.status.send_replace(RunStatus::Done(result));
                emit_chat(
                    state,
                    &run,
                    1,
                    "aborted",
                    None,
                    json!({"stopReason": "aborted"}),
                );
            }
            out.push(run.run_id.clone());
        }
        out
    }

    pub fn client(&self) -> &ProviderClient {
        &self.client
    }
}

fn aborted_result(run: &Run, started_at: u64, ended_at: u64) -> RunResult {
    let e = ErrorShape::unavailable("run aborted");
    RunResult {
        ok: false,
        started_at,
        ended_at,
        payload: json!({"runId": run.run_id, "status": "error", "summary": "aborted"}),
        error: Some(e),
        aborted: true,
        final_text: String::new(),
    }
}

/// Sends an `agent` event (seq per run) to operators.
fn emit_agent(state: &AppState, run: &Run, seq: &mut u64, stream: &str, data: Value) {
    *seq += 1;
    let payload = json!({
        "runId": run.run_id,
        "seq": *seq,
        "stream": stream,
        "ts": now_ms(),
        "data": data,
        "sessionKey": run.session_key,
    });
    let audience = if stream == "tool" {
        Audience::ToolEvents
    } else {
        Audience::Operators
    };
    state.hub.broadcast(
        openclaw_protocol::events::names::AGENT,
        &payload.to_string(),
        None,
        stream == "assistant",
        audience,
    );
}

/// Sends a `chat` event for the run's session.
fn emit_chat(
    state: &AppState,
    run: &Run,
    seq: u64,
    chat_state: &str,
    text: Option<&str>,
    extra: Value,
) {
    let mut payload = json!({
        "runId": run.run_id,
        "sessionKey": run.session_key,
        "seq": seq,
        "state": chat_state,
    });
    if let Some(t) = text {
        payload["message"] = json!({
            "role": "assistant",
            "content": [{"type": "text", "text": t}],
            "timestamp": now_ms(),
        });
    }
    if let (Some(obj), Some(more)) = (payload.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            obj.insert(k.clone(), v.clone());
        }
    }
    state.hub.broadcast(
        openclaw_protocol::events::names::CHAT,
        &payload.to_string(),
        None,
        chat_state == "delta",
        Audience::Operators,
    );
}

fn spawn_run(state: Arc<AppState>, run: Arc<Run>, spec: RunSpec) {
    tokio::spawn(async move {
        let started_at = now_ms();
        let _ = run.status.send_replace(RunStatus::Running { started_at });
        let outcome =
            tokio::time::timeout(spec.timeout, execute(&state, &run, &spec, started_at)).await;
        let ended_at = now_ms();
        let result = match outcome {
            Ok(r) => r,
            Err(_) => {
                run.cancel.cancel();
                let msg = format!("run timed out after {}s", spec.timeout.as_secs());
                let mut seq = 1000;
                emit_agent(
                    &state,
                    &run,
                    &mut seq,
                    "lifecycle",
                    json!({"phase": "error", "startedAt": started_at, "endedAt": ended_at, "error": msg}),
                );
                emit_chat(
                    &state,
                    &run,
                    1000,
                    "error",
                    None,
                    json!({"errorMessage": msg, "errorKind": "timeout"}),
                );
                RunResult {
                    ok: false,
                    started_at,
                    ended_at,
                    payload: json!({"runId": run.run_id, "status": "error", "summary": msg}),
                    error: Some(ErrorShape::new(
                        openclaw_protocol::codes::AGENT_TIMEOUT,
                        msg,
                    )),
                    aborted: false,
                    final_text: String::new(),
                }
            }
        };
        let _ = run.status.send_replace(RunStatus::Done(result));
        Runs::finish(&state, &spec.session_key);
    });
}

fn text_message(text: &str) -> AgentMessage {
    AgentMessage::User {
        content: vec![ContentPart::Text {
            text: text.to_string(),
        }],
        timestamp: now_ms(),
    }
}

/// Texts that never reach a user.
fn is_silent(text: &str) -> bool {
    let t = text.trim();
    t == "NO_REPLY" || t == "HEARTBEAT_OK"
}

async fn execute(
    state: &Arc<AppState>,
    run: &Arc<Run>,
    spec: &RunSpec,
    started_at: u64,
) -> RunResult {
    let mut seq = 0u64;
    emit_agent(
        state,
        run,
        &mut seq,
        "lifecycle",
        json!({"phase": "start", "startedAt": started_at}),
    );
    let fail = |state: &Arc<AppState>, seq: &mut u64, msg: String, kind: &str| {
        let ended_at = now_ms();
        emit_agent(
            state,
            run,
            seq,
            "lifecycle",
            json!({"phase": "error", "startedAt": started_at, "endedAt": ended_at, "error": msg}),
        );
        emit_chat(
            state,
            run,
            *seq,
            "error",
            None,
            json!({"errorMessage": msg, "errorKind": kind}),
        );
        RunResult {
            ok: false,
            started_at,
            ended_at,
            payload: json!({"runId": run.run_id, "status": "error", "summary": msg}),
            error: Some(ErrorShape::unavailable(msg)),
            aborted: false,
            final_text: String::new(),
        }
    };

    let config = state.config();
    let cfg_value = serde_json::to_value(&config.config).unwrap_or_default();
    let models = cfg_value.get("models").cloned().unwrap_or(Value::Null);
    let agents = cfg_value.get("agents").cloned().unwrap_or(Value::Null);
    let tools_cfg = cfg_value.get("tools").cloned().unwrap_or(Value::Null);
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let providers = match Providers::from_config(&models, &env) {
        Ok(p) => p,
        Err(e) => {
            return fail(
                state,
                &mut seq,
                format!("invalid models config: {e}"),
                "unknown",
            );
        }
    };
    let chain: Vec<_> = model_chain(&agents, &spec.agent_id)
        .into_iter()
        .filter_map(|r| {
            providers
                .get(&r.provider)
                .map(|p| (p.clone(), r.model.clone()))
        })
        .collect();
    if chain.is_empty() {
        return fail(
            state,
            &mut seq,
            "no model configured: set agents.defaults.model.primary to \"provider/model\" (and models.providers.<id> for a custom endpoint)".into(),
            "unknown",
        );
    }

    let workspace = crate::agents::workspace_dir(state, &spec.agent_id);
    let system =
        match openclaw_agent::system_prompt(&workspace, spec.extra_system_prompt.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                return fail(
                    state,
                    &mut seq,
                    format!("cannot prepare the workspace {}: {e}", workspace.display()),
                    "unknown",
                );
            }
        };
    let user = text_message(&spec.message);
    let mut persisted = None;
    let mut history = Vec::new();
    let mut session_id = spec.run_id.clone();
    let store = SessionStore::open(&state.paths.state_dir, &spec.agent_id);
    if !spec.ephemeral {
        let entry = match store.get_or_create(&spec.session_key) {
            Ok(e) => e,
            Err(e) => {
                return fail(
                    state,
                    &mut seq,
                    format!("cannot open the session store: {e}"),
                    "unknown",
                );
            }
        };
        session_id = entry.session_id.clone();
        let transcript_path = store.transcript_path(&entry);
        let loaded =
            openclaw_agent::Transcript::load_messages(&transcript_path).unwrap_or_default();
        let skip = loaded.len().saturating_sub(HISTORY_LIMIT);
        history = loaded.into_iter().skip(skip).collect();
        let mut transcript = match openclaw_agent::Transcript::open_or_create(
            &transcript_path,
            &entry.session_id,
            &workspace,
        ) {
            Ok(t) => t,
            Err(e) => {
                return fail(
                    state,
                    &mut seq,
                    format!("cannot open the transcript: {e}"),
                    "unknown",
                );
            }
        };
        // Written before the model is called (it survives a crash of this process); the fsync
        // comes with the reply's lines, so the model call is not delayed by a disk flush.
        if let Err(e) = transcript.append_message_unsynced(&user) {
            return fail(
                state,
                &mut seq,
                format!("cannot write the transcript: {e}"),
                "unknown",
            );
        }
        persisted = Some(transcript);
    }
    if let Some(n) = &spec.persisted {
        n.notify_one();
    }

    // The agent's own `tools` section narrows the global one (agent.md §7.2).
    let policy = ToolPolicy::for_agent(&tools_cfg, &agents, &spec.agent_id);
    let tools: Vec<_> = builtin_tools()
        .into_iter()
        .filter(|t| policy.allows(&t.name))
        .collect();
    let req = TurnRequest {
        provider_chain: chain,
        system: Some(system),
        history,
        user,
        tools,
        tool_ctx: ToolContext { workspace },
        policy,
        max_steps: MAX_STEPS,
        max_tokens: None,
    };
    let mut last_delta = Instant::now() - CHAT_DELTA_EVERY;
    let mut chat_seq = 0u64;
    let mut pending_text: Option<String> = None;
    let state2 = state.clone();
    let run2 = run.clone();
    let mut on_event = |ev: RunEvent| match ev {
        RunEvent::AssistantDelta { text, delta } => {
            if let Some(tx) = &spec.stream_tx {
                let _ = tx.send(delta.clone());
            }
            emit_agent(
                &state2,
                &run2,
                &mut seq,
                "assistant",
                json!({"text": text, "delta": delta}),
            );
            if last_delta.elapsed() >= CHAT_DELTA_EVERY {
                last_delta = Instant::now();
                chat_seq += 1;
                emit_chat(
                    &state2,
                    &run2,
                    chat_seq,
                    "delta",
                    Some(&text),
                    json!({"deltaText": delta}),
                );
                pending_text = None;
            } else {
                pending_text = Some(text);
            }
        }
        RunEvent::ToolStart { id, name, args } => {
            emit_agent(
                &state2,
                &run2,
                &mut seq,
                "tool",
                json!({"phase": "start", "name": name, "toolCallId": id, "args": args}),
            );
        }
        RunEvent::ToolResult {
            id,
            name,
            result,
            is_error,
        } => {
            emit_agent(
                &state2,
                &run2,
                &mut seq,
                "tool",
                json!({"phase": "result", "name": name, "toolCallId": id, "result": result, "isError": is_error}),
            );
        }
    };
    let outcome = run_turn(&state.runs.client, req, &run.cancel, &mut on_event).await;
    let _ = pending_text;
    let ended_at = now_ms();
    match outcome {
        Ok(out) => {
            if let Some(transcript) = persisted.as_mut() {
                for m in &out.new_messages {
                    if let Err(e) = transcript.append_message(m) {
                        tracing::error!(target: "agent", "transcript write failed for run {}: {e}", run.run_id);
                    }
                }
            }
            let usage = &out.usage;
            let _ = (!spec.ephemeral).then(|| {
                store.update(&spec.session_key, |e| {
                    e.updated_at = ended_at;
                    e.model = Some(out.model.clone());
                    e.model_provider = Some(out.provider.clone());
                    e.input_tokens = Some(usage.input);
                    e.output_tokens = Some(usage.output);
                    e.total_tokens = Some(usage.total_tokens);
                    e.aborted_last_run = Some(false);
                })
            });
            emit_agent(
                state,
                run,
                &mut seq,
                "lifecycle",
                json!({"phase": "end", "startedAt": started_at, "endedAt": ended_at, "stopReason": out.stop_reason}),
            );
            let silent = is_silent(&out.final_text);
            chat_seq += 1;
            emit_chat(
                state,
                run,
                chat_seq,
                "final",
                (!silent).then_some(out.final_text.as_str()),
                json!({"usage": usage_json(usage), "stopReason": out.stop_reason}),
            );
            let payloads = if silent || out.final_text.is_empty() {
                json!([])
            } else {
                json!([{"text": out.final_text, "mediaUrl": null}])
            };
            RunResult {
                ok: true,
                started_at,
                ended_at,
                payload: json!({
                    "runId": run.run_id,
                    "status": "ok",
                    "summary": "completed",
                    "result": {
                        "payloads": payloads,
                        "meta": {
                            "durationMs": ended_at.saturating_sub(started_at),
                            "agentMeta": {
                                "sessionId": session_id,
                                "provider": out.provider,
                                "model": out.model,
                                "usage": usage_json(usage),
                            },
                            "aborted": false,
                            "stopReason": out.stop_reason,
                        }
                    }
                }),
                error: None,
                aborted: false,
                final_text: out.final_text.clone(),
            }
        }
        Err((err, partial)) => {
            if let Some(transcript) = persisted.as_mut() {
                for m in &partial {
                    let _ = transcript.append_message(m);
                }
            }
            if run.cancel.is_cancelled() {
                if !spec.ephemeral {
                    let _ = store.update(&spec.session_key, |e| {
                        e.updated_at = ended_at;
                        e.aborted_last_run = Some(true);
                    });
                }
                emit_agent(
                    state,
                    run,
                    &mut seq,
                    "lifecycle",
                    json!({"phase": "end", "startedAt": started_at, "endedAt": ended_at, "aborted": true, "stopReason": "aborted"}),
                );
                chat_seq += 1;
                emit_chat(
                    state,
                    run,
                    chat_seq,
                    "aborted",
                    None,
                    json!({"stopReason": "aborted"}),
                );
                return aborted_result(run, started_at, ended_at);
            }
            fail(state, &mut seq, err.to_string(), err.kind())
        }
    }
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "input": u.input,
        "output": u.output,
        "cacheRead": u.cache_read,
        "cacheWrite": u.cache_write,
        "total": u.total_tokens,
    })
}
