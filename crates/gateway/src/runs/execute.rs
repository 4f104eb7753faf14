//! One run's execution: its timeout, the model chain and the system prompt from the config,
//! the session transcript (context in, user turn written before the model is called, reply
//! after), compaction when the context outgrows the model's window (before the call, and once
//! more with a retry when the provider says the prompt is too long), the tool policy, and the
//! result the `agent` method answers with.

use std::sync::Arc;

use openclaw_agent::compaction::{self, CompactRequest, CompactionSettings, Trigger};
use openclaw_agent::{
    AgentMessage, ContentPart, Context, ModelRef, ProviderError, Providers, RunEvent, SessionStore,
    ToolContext, ToolPolicy, Transcript, TurnOutcome, TurnRequest, model_chain, run_turn,
};
use openclaw_protocol::ErrorShape;
use openclaw_protocol::ui::SessionsChanged;
use openclaw_protocol::{
    AgentEventData, AgentFinal, AgentMeta, AgentOutput, AgentOutputMeta, ChatMessage, ChatState,
    CompactionData, CompactionPhase, LifecycleData, LifecyclePhase, ReplyPayload, ToolData,
    ToolPhase,
};

use super::events::{RunEvents, chat_event, emit_agent, emit_chat, usage_totals};
use super::{Run, RunResult, RunSpec, RunStatus, Runs};
use crate::state::{AppState, now_ms};

/// Messages of history sent to the model.
const HISTORY_LIMIT: usize = 40;
/// Tool-call steps per run.
const MAX_STEPS: usize = 8;

pub(super) fn aborted_result(run: &Run, started_at: u64, ended_at: u64) -> RunResult {
    let e = ErrorShape::unavailable("run aborted");
    RunResult {
        ok: false,
        started_at,
        ended_at,
        payload: AgentFinal::error(&run.run_id, "aborted"),
        error: Some(e),
        aborted: true,
        final_text: String::new(),
        folded_into: None,
    }
}

fn lifecycle_data(phase: LifecyclePhase, started_at: u64) -> LifecycleData {
    LifecycleData {
        aborted: None,
        ended_at: None,
        error: None,
        phase,
        started_at,
        stop_reason: None,
    }
}

fn lifecycle(phase: LifecyclePhase, started_at: u64) -> AgentEventData {
    AgentEventData::Lifecycle(lifecycle_data(phase, started_at))
}

fn lifecycle_error(started_at: u64, ended_at: u64, error: &str) -> AgentEventData {
    AgentEventData::Lifecycle(LifecycleData {
        ended_at: Some(ended_at),
        error: Some(error.to_string()),
        ..lifecycle_data(LifecyclePhase::Error, started_at)
    })
}

/// Runs `run` on its own task, bounded by its timeout, then starts the session's next run.
pub(super) fn spawn_run(state: Arc<AppState>, run: Arc<Run>, spec: RunSpec) {
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
                    lifecycle_error(started_at, ended_at, &msg),
                );
                let mut ev = chat_event(&run, 1000, ChatState::Error);
                ev.error_message = Some(msg.clone());
                ev.error_kind = Some("timeout".into());
                emit_chat(&state, &ev);
                RunResult {
                    ok: false,
                    started_at,
                    ended_at,
                    payload: AgentFinal::error(&run.run_id, &msg),
                    error: Some(ErrorShape::new(
                        openclaw_protocol::codes::AGENT_TIMEOUT,
                        msg,
                    )),
                    aborted: false,
                    final_text: String::new(),
                    folded_into: None,
                }
            }
        };
        let ok = result.ok;
        let _ = run.status.send_replace(RunStatus::Done(Box::new(result)));
        Runs::finish(&state, &run);
        if !spec.ephemeral {
            super::events::emit_sessions_changed(
                &state,
                &SessionsChanged {
                    session_key: spec.session_key.clone(),
                    agent_id: spec.agent_id.clone(),
                    reason: None,
                    session_id: None,
                    phase: Some(if ok { "end" } else { "error" }.into()),
                    run_id: Some(run.run_id.clone()),
                    ts: now_ms(),
                },
            );
        }
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

/// A run that failed before or while calling the model: lifecycle error, chat error, result.
fn fail(ev: &mut RunEvents, run: &Run, started_at: u64, msg: String, kind: &str) -> RunResult {
    tracing::warn!(target: "agent", run_id = %run.run_id, "run failed: {msg}");
    let ended_at = now_ms();
    ev.agent(lifecycle_error(started_at, ended_at, &msg));
    ev.chat_error(&msg, kind);
    RunResult {
        ok: false,
        started_at,
        ended_at,
        payload: AgentFinal::error(&run.run_id, &msg),
        error: Some(ErrorShape::unavailable(msg)),
        aborted: false,
        final_text: String::new(),
        folded_into: None,
    }
}

/// The context without this turn's user message (the last entry), as the runner wants it,
/// bounded to the newest [`HISTORY_LIMIT`] messages after the summary.
fn history_of(ctx: &Context) -> Vec<AgentMessage> {
    let mut messages = compaction::context_messages(ctx);
    messages.pop();
    let summary = usize::from(ctx.summary.is_some());
    let excess = messages.len().saturating_sub(HISTORY_LIMIT + summary);
    if excess > 0 {
        messages.drain(summary..summary + excess);
    }
    messages
}

/// One `run_turn`, its events mapped to `agent`/`chat` events (and the HTTP stream).
async fn turn(
    state: &AppState,
    run: &Run,
    spec: &RunSpec,
    ev: &mut RunEvents<'_>,
    req: TurnRequest,
) -> Result<TurnOutcome, (ProviderError, Vec<AgentMessage>)> {
    let mut on_event = |event: RunEvent| match event {
        RunEvent::AssistantDelta { text, delta } => {
            if let Some(tx) = &spec.stream_tx {
                let _ = tx.send(delta.clone());
            }
            ev.assistant_delta(&text, &delta);
        }
        RunEvent::ToolStart { id, name, args } => {
            ev.agent(AgentEventData::Tool(ToolData {
                args: Some(args),
                is_error: None,
                name,
                partial_result: None,
                phase: ToolPhase::Start,
                result: None,
                tool_call_id: id,
            }));
        }
        RunEvent::ToolUpdate { id, name, partial } => {
            ev.agent(AgentEventData::Tool(ToolData {
                args: None,
                is_error: None,
                name,
                partial_result: Some(partial),
                phase: ToolPhase::Update,
                result: None,
                tool_call_id: id,
            }));
        }
        RunEvent::ToolResult {
            id,
            name,
            result,
            is_error,
        } => {
            ev.agent(AgentEventData::Tool(ToolData {
                args: None,
                is_error: Some(is_error),
                name,
                partial_result: None,
                phase: ToolPhase::Result,
                result: Some(result),
                tool_call_id: id,
            }));
        }
    };
    run_turn(&state.runs.client, req, &run.cancel, &mut on_event).await
}

/// Compaction inside a run: `compaction` stream events around it, `compactionCount` after.
struct Compactor<'a> {
    state: &'a Arc<AppState>,
    spec: &'a RunSpec,
    run: &'a Run,
    chain: Vec<(openclaw_agent::ProviderConfig, String)>,
    system: String,
    settings: CompactionSettings,
    window: u64,
}

impl Compactor<'_> {
    /// Compacts `context` in place; true when a compaction entry was written. A failure is
    /// logged and leaves the context as it was (the model call decides what happens next).
    async fn run(
        &mut self,
        ev: &mut RunEvents<'_>,
        transcript: &mut Transcript,
        context: &mut Context,
        trigger: Trigger,
    ) -> bool {
        ev.agent(AgentEventData::Compaction(CompactionData {
            completed: None,
            phase: CompactionPhase::Start,
            tokens_after: None,
            tokens_before: None,
            will_retry: None,
        }));
        let req = CompactRequest {
            provider_chain: &self.chain,
            settings: self.settings,
            context_window: self.window,
            system: Some(&self.system),
            trigger,
            instructions: None,
        };
        let result = compaction::compact(
            &self.state.runs.client,
            transcript,
            context,
            &req,
            &self.run.cancel,
        )
        .await;
        let retry = trigger == Trigger::Overflow;
        let (completed, before, after) = match result {
            Ok(done) => {
                tracing::info!(target: "agent", run_id = %self.run.run_id, ?trigger,
                    tokens_before = done.tokens_before, tokens_after = done.tokens_after,
                    "auto-compaction complete");
                let store = SessionStore::open(&self.state.paths.state_dir, &self.spec.agent_id);
                if let Err(e) = store.update(&self.spec.session_key, |e| {
                    e.compaction_count = Some(e.compaction_count.unwrap_or(0) + 1);
                }) {
                    tracing::warn!(target: "agent", "cannot count the compaction: {e}");
                }
                let (before, after) = (done.tokens_before, done.tokens_after);
                *context = done.context;
                (true, Some(before), Some(after))
            }
            Err(e) => {
                tracing::warn!(target: "agent", run_id = %self.run.run_id, ?trigger,
                    "compaction failed: {e}");
                (false, None, None)
            }
        };
        ev.agent(AgentEventData::Compaction(CompactionData {
            completed: Some(completed),
            phase: CompactionPhase::End,
            tokens_after: after,
            tokens_before: before,
            will_retry: Some(retry && completed),
        }));
        completed
    }
}

async fn execute(
    state: &Arc<AppState>,
    run: &Arc<Run>,
    spec: &RunSpec,
    started_at: u64,
) -> RunResult {
    let mut ev = RunEvents::new(state, run);
    ev.agent(lifecycle(LifecyclePhase::Start, started_at));

    let config = state.config();
    let chain = match session_chain(
        state,
        &config.config,
        &spec.agent_id,
        (!spec.ephemeral).then_some(spec.session_key.as_str()),
    ) {
        Ok(chain) => chain,
        Err(e) => return fail(&mut ev, run, started_at, e, "unknown"),
    };
    if chain.is_empty() {
        return fail(
            &mut ev,
            run,
            started_at,
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
                    &mut ev,
                    run,
                    started_at,
                    format!("cannot prepare the workspace {}: {e}", workspace.display()),
                    "unknown",
                );
            }
        };
    let user = text_message(&spec.message);
    let mut persisted = None;
    // The model's view of the session: last compaction summary + kept messages + this turn.
    let mut context = Context::default();
    let mut session_id = spec.run_id.clone();
    let store = SessionStore::open(&state.paths.state_dir, &spec.agent_id);
    if !spec.ephemeral {
        let entry = match store.get_or_create(&spec.session_key) {
            Ok(e) => e,
            Err(e) => {
                return fail(
                    &mut ev,
                    run,
                    started_at,
                    format!("cannot open the session store: {e}"),
                    "unknown",
                );
            }
        };
        session_id = entry.session_id.clone();
        let transcript_path = store.transcript_path(&entry);
        context = Transcript::load_context(&transcript_path).unwrap_or_default();
        let mut transcript =
            match Transcript::open_or_create(&transcript_path, &entry.session_id, &workspace) {
                Ok(t) => t,
                Err(e) => {
                    return fail(
                        &mut ev,
                        run,
                        started_at,
                        format!("cannot open the transcript: {e}"),
                        "unknown",
                    );
                }
            };
        // A resumed turn is already the transcript's last message: the model sees it once, as
        // this turn's user message, and it is not written twice.
        let resumed = spec.resume
            && context.entries.last().is_some_and(|e| {
                matches!(e.message, AgentMessage::User { .. }) && e.message.text() == spec.message
            });
        if resumed {
            context.entries.pop();
        }
        // Written before the model is called (it survives a crash of this process); the fsync
        // comes with the reply's lines, so the model call is not delayed by a disk flush.
        let appended = if resumed {
            Ok(String::new())
        } else {
            transcript.append_message_unsynced(&user)
        };
        match appended {
            Ok(id) if resumed => {
                let _ = id;
            }
            Ok(id) => context
                .entries
                .push(compaction::context_entry(id, user.clone())),
            Err(e) => {
                return fail(
                    &mut ev,
                    run,
                    started_at,
                    format!("cannot write the transcript: {e}"),
                    "unknown",
                );
            }
        }
        persisted = Some(transcript);
    }
    if let Some(n) = &spec.persisted {
        n.notify_one();
    }

    // The agent's own `tools` section narrows the global one (agent.md §7.2).
    let policy = ToolPolicy::for_agent(&config.config, &spec.agent_id);
    let tool_ctx = ToolContext {
        workspace,
        host: Some(crate::tools::RunTools::for_run(state, spec)),
    };
    let tools: Vec<_> = tool_ctx
        .tools()
        .into_iter()
        .filter(|t| policy.allows(&t.name))
        .collect();
    let (first, first_model) = &chain[0];
    let window = compaction::context_window(first, first_model);
    let settings =
        CompactionSettings::resolve(config.config.agent_defaults().compaction.as_ref(), window);
    let mut compactor = Compactor {
        state,
        spec,
        run,
        chain: chain.clone(),
        system: system.clone(),
        settings,
        window,
    };
    if let Some(transcript) = persisted.as_mut() {
        let tokens = compaction::estimate_context_tokens(Some(&system), &context);
        if settings.should_compact(tokens, window) {
            compactor
                .run(&mut ev, transcript, &mut context, Trigger::Threshold)
                .await;
        }
    }
    let req = TurnRequest {
        provider_chain: chain,
        system: Some(system),
        history: history_of(&context),
        user,
        tools,
        tool_ctx,
        policy,
        max_steps: MAX_STEPS,
        max_tokens: None,
        steering: Some(run.steering.clone()),
    };
    let mut outcome = turn(state, run, spec, &mut ev, req.clone()).await;
    // The provider said the prompt is too long: compact once and retry once (agent.md §5.4).
    // Only before anything of the turn was produced; a second overflow is the run's error.
    if let (Err((err, partial)), Some(transcript)) = (&outcome, persisted.as_mut())
        && err.is_context_overflow()
        && partial.is_empty()
        && compactor
            .run(&mut ev, transcript, &mut context, Trigger::Overflow)
            .await
    {
        let retry = TurnRequest {
            history: history_of(&context),
            ..req
        };
        outcome = turn(state, run, spec, &mut ev, retry).await;
    }
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
            ev.agent(AgentEventData::Lifecycle(LifecycleData {
                ended_at: Some(ended_at),
                stop_reason: Some(out.stop_reason.clone()),
                ..lifecycle_data(LifecyclePhase::End, started_at)
            }));
            let silent = is_silent(&out.final_text);
            ev.chat(ChatState::Final, |c| {
                c.message = (!silent).then(|| ChatMessage::assistant(&out.final_text, now_ms()));
                c.usage = Some(usage_totals(usage));
                c.stop_reason = Some(out.stop_reason.clone());
            });
            let payloads = if silent || out.final_text.is_empty() {
                Vec::new()
            } else {
                vec![ReplyPayload {
                    media_url: None,
                    text: out.final_text.clone(),
                }]
            };
            RunResult {
                ok: true,
                started_at,
                ended_at,
                payload: AgentFinal {
                    result: Some(AgentOutput {
                        meta: AgentOutputMeta {
                            aborted: Some(false),
                            agent_meta: Some(AgentMeta {
                                model: out.model.clone(),
                                provider: out.provider.clone(),
                                session_id,
                                usage: usage_totals(usage),
                            }),
                            duration_ms: ended_at.saturating_sub(started_at),
                            stop_reason: Some(out.stop_reason.clone()),
                            ..Default::default()
                        },
                        payloads,
                    }),
                    run_id: run.run_id.clone(),
                    status: "ok".into(),
                    summary: "completed".into(),
                },
                error: None,
                aborted: false,
                final_text: out.final_text.clone(),
                folded_into: None,
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
                ev.agent(AgentEventData::Lifecycle(LifecycleData {
                    aborted: Some(true),
                    ended_at: Some(ended_at),
                    stop_reason: Some("aborted".into()),
                    ..lifecycle_data(LifecyclePhase::End, started_at)
                }));
                ev.chat(ChatState::Aborted, |c| {
                    c.stop_reason = Some("aborted".into())
                });
                return aborted_result(run, started_at, ended_at);
            }
            fail(&mut ev, run, started_at, err.to_string(), err.kind())
        }
    }
}

/// The models a run on `session` tries, in order, with their providers (agent.md §5.1): the
/// session's override (`sessions.patch {model}`, `/model`) → the agent's model → the defaults;
/// the configured chain stays behind the override as its fallbacks. `/compact` summarises with
/// the same chain. Refs naming no known provider are left out; an invalid `models` section is
/// the error.
pub(super) fn session_chain(
    state: &AppState,
    config: &openclaw_config::OpenClawConfig,
    agent_id: &str,
    session: Option<&str>,
) -> Result<Vec<(openclaw_agent::ProviderConfig, String)>, String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut providers = Providers::from_config(config.models.as_ref(), &env)
        .map_err(|e| format!("invalid models config: {e}"))?;
    crate::agents::apply_stored_keys(state, config, agent_id, &mut providers);
    let mut refs = model_chain(config, agent_id);
    if let Some(r) = session
        .and_then(|key| SessionStore::open(&state.paths.state_dir, agent_id).get(key))
        .and_then(|e| {
            Some(ModelRef {
                provider: e.provider_override?,
                model: e.model_override?,
            })
        })
    {
        if providers.get(&r.provider).is_some() {
            refs.retain(|c| c != &r);
            refs.insert(0, r);
        } else {
            tracing::warn!(model = %r, "session model override names an unknown provider; ignored");
        }
    }
    Ok(refs
        .into_iter()
        .filter_map(|r| providers.get(&r.provider).map(|p| (p.clone(), r.model)))
        .collect())
}
