//! One agent turn: call the model (with retries, then fallback along the provider chain),
//! run the tool calls it asks for, feed the results back, and repeat until the model answers
//! without tool calls or `max_steps` model calls were made. Progress is reported as
//! [`RunEvent`]s; the messages produced are returned for the transcript — also on failure,
//! so a partial answer (abort, cut stream) is never lost.

use serde_json::{Map, Value};

use crate::messages::{AgentMessage, ContentPart, Usage, now_ms};
use crate::models::ProviderConfig;
use crate::provider::{
    CancelToken, ChatRequest, ProviderClient, ProviderError, StreamEvent, ToolSpec,
};
use crate::steering::Steering;
use crate::tools::{ToolCall, ToolContext, ToolOutput, ToolPolicy, ToolUpdates, invoke_tool};

/// What a turn reports while it runs (the gateway maps these to `agent` stream events).
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// Streamed assistant text. `text` is cumulative over the whole turn (texts of successive
    /// model calls are joined with a blank line, which arrives as part of a `delta`), so
    /// `text` always equals the concatenation of all `delta`s so far.
    AssistantDelta { text: String, delta: String },
    ToolStart {
        id: String,
        name: String,
        args: Value,
    },
    /// Partial output of a running tool (exec output so far, …).
    ToolUpdate {
        id: String,
        name: String,
        partial: Value,
    },
    ToolResult {
        id: String,
        name: String,
        result: String,
        is_error: bool,
    },
}

/// Everything one turn needs.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    /// `(provider, model id)` in order of preference (primary first).
    pub provider_chain: Vec<(ProviderConfig, String)>,
    pub system: Option<String>,
    /// Earlier messages of the session (the caller bounds their number/size).
    pub history: Vec<AgentMessage>,
    /// This turn's user message (not repeated in [`TurnOutcome::new_messages`]).
    pub user: AgentMessage,
    /// Tools to offer; those `policy` does not allow are neither offered nor run.
    pub tools: Vec<ToolSpec>,
    pub tool_ctx: ToolContext,
    pub policy: ToolPolicy,
    /// Most model calls in this turn (at least 1).
    pub max_steps: usize,
    pub max_tokens: Option<u64>,
    /// Messages sent while the turn runs, taken in before each model request (`steer` queue
    /// mode); `None` = the turn cannot be steered.
    pub steering: Option<Steering>,
}

/// A finished turn.
#[derive(Debug, Clone)]
pub struct TurnOutcome {
    /// Assistant and toolResult messages produced, in order (for the transcript).
    pub new_messages: Vec<AgentMessage>,
    /// All assistant text of the turn (equal to the last `AssistantDelta.text`).
    pub final_text: String,
    /// Provider and model of the last model call (after any fallback).
    pub provider: String,
    pub model: String,
    /// Summed over all model calls of the turn.
    pub usage: Usage,
    /// `stopReason` of the last model call; `toolUse` when `max_steps` ran out.
    pub stop_reason: String,
}

/// Runs one turn (see the module doc). Fallback to the next `(provider, model)` happens on
/// [`ProviderError::is_failover`] errors that survive the retries, but only while nothing of
/// that model call was streamed yet (no duplicated text). Cancel → `Err(Aborted)` promptly,
/// also during a stream or a tool. On error, the messages produced so far are returned with
/// it, including the partial assistant text of the interrupted call (`stopReason`
/// `aborted`/`error`).
pub async fn run_turn(
    client: &ProviderClient,
    req: TurnRequest,
    cancel: &CancelToken,
    on_event: &mut (dyn FnMut(RunEvent) + Send),
) -> Result<TurnOutcome, (ProviderError, Vec<AgentMessage>)> {
    let TurnRequest {
        provider_chain,
        system,
        mut history,
        user,
        tools,
        tool_ctx,
        policy,
        max_steps,
        max_tokens,
        steering,
    } = req;
    if provider_chain.is_empty() {
        return Err((
            ProviderError::BadRequest("no model provider is configured".into()),
            Vec::new(),
        ));
    }
    let tools: Vec<ToolSpec> = tools
        .into_iter()
        .filter(|t| policy.allows(&t.name))
        .collect();
    history.push(user);
    let mut new_messages: Vec<AgentMessage> = Vec::new();
    let mut usage = Usage::default();
    let mut text_so_far = String::new();
    let mut chain_pos = 0usize;
    let max_steps = max_steps.max(1);

    for step in 0..max_steps {
        // Steering boundary: what the user sent meanwhile joins the conversation before the
        // model is asked again (and is written to the transcript with the turn).
        for text in steering.as_ref().map(Steering::take).unwrap_or_default() {
            let msg = AgentMessage::User {
                content: vec![ContentPart::Text { text }],
                timestamp: now_ms(),
            };
            history.push(msg.clone());
            new_messages.push(msg);
        }
        let assistant = loop {
            let (provider, model) = &provider_chain[chain_pos];
            let chat = ChatRequest {
                model: model.clone(),
                system: system.clone(),
                messages: history.clone(),
                tools: tools.clone(),
                max_tokens,
            };
            let mut step_text = String::new();
            let result = {
                let mut on_stream = |ev: StreamEvent| {
                    if let StreamEvent::TextDelta(chunk) = ev {
                        let delta = if step_text.is_empty() && !text_so_far.is_empty() {
                            format!("\n\n{chunk}")
                        } else {
                            chunk.clone()
                        };
                        step_text.push_str(&chunk);
                        text_so_far.push_str(&delta);
                        on_event(RunEvent::AssistantDelta {
                            text: text_so_far.clone(),
                            delta,
                        });
                    }
                };
                client
                    .stream_with_retries(provider, &chat, cancel, &mut on_stream)
                    .await
            };
            match result {
                Ok(msg) => break msg,
                Err(err) => {
                    if step_text.is_empty()
                        && err.is_failover()
                        && chain_pos + 1 < provider_chain.len()
                    {
                        let (next, next_model) = &provider_chain[chain_pos + 1];
                        tracing::warn!(from = %format!("{}/{}", provider.id, model),
                            to = %format!("{}/{}", next.id, next_model), error = %err,
                            "model failed; falling back");
                        chain_pos += 1;
                        continue;
                    }
                    if !step_text.is_empty() {
                        let aborted = matches!(err, ProviderError::Aborted);
                        new_messages.push(AgentMessage::Assistant {
                            content: vec![ContentPart::Text { text: step_text }],
                            api: Some(provider.api.as_str().to_string()),
                            provider: Some(provider.id.clone()),
                            model: Some(model.clone()),
                            usage: None,
                            stop_reason: Some(if aborted { "aborted" } else { "error" }.into()),
                            error_message: (!aborted).then(|| err.to_string()),
                            timestamp: now_ms(),
                            extra: Map::new(),
                        });
                    }
                    return Err((err, new_messages));
                }
            }
        };
        if let Some(u) = assistant.usage() {
            usage.add(u);
        }
        let calls: Vec<(String, String, Value)> = assistant
            .tool_calls()
            .into_iter()
            .map(|(id, name, args)| (id.to_string(), name.to_string(), args.clone()))
            .collect();
        let stop_reason = assistant.stop_reason().unwrap_or("stop").to_string();
        history.push(assistant.clone());
        new_messages.push(assistant);

        let steered = || steering.as_ref().is_some_and(|s| s.pending() > 0);
        if calls.is_empty() && steered() && step + 1 < max_steps {
            // A message arrived while the answer streamed: answer it in the same turn.
            continue;
        }
        if calls.is_empty() {
            let (provider, model) = &provider_chain[chain_pos];
            return Ok(TurnOutcome {
                new_messages,
                final_text: text_so_far,
                provider: provider.id.clone(),
                model: model.clone(),
                usage,
                stop_reason,
            });
        }

        for (id, name, args) in calls {
            if cancel.is_cancelled() {
                return Err((ProviderError::Aborted, new_messages));
            }
            on_event(RunEvent::ToolStart {
                id: id.clone(),
                name: name.clone(),
                args: args.clone(),
            });
            // A model may call a tool by its alias (`bash` for `exec`): the offered name runs.
            let run_as = if tools.iter().any(|t| t.name == name) {
                name.clone()
            } else {
                crate::tools::canonical_tool_name(&name)
            };
            let offered = tools.iter().any(|t| t.name == run_as) && policy.allows(&run_as);
            // A steering message skips the calls that have not started; each still gets a
            // result, so the transcript pairs every call.
            let output = if steered() {
                ToolOutput::error("Skipped due to queued user message.")
            } else if offered {
                let (updates, mut partials) = ToolUpdates::channel();
                let call = ToolCall {
                    id: id.clone(),
                    name: run_as.clone(),
                    args: args.clone(),
                    cancel: cancel.child_token(),
                    updates,
                };
                let fut = invoke_tool(call, &tool_ctx);
                tokio::pin!(fut);
                loop {
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return Err((ProviderError::Aborted, new_messages)),
                        out = &mut fut => break out,
                        Some(partial) = partials.recv() => on_event(RunEvent::ToolUpdate {
                            id: id.clone(),
                            name: name.clone(),
                            partial,
                        }),
                    }
                }
            } else {
                ToolOutput::error(format!("Tool not available: {name}"))
            };
            tracing::debug!(tool = %name, is_error = output.is_error, "tool finished");
            on_event(RunEvent::ToolResult {
                id: id.clone(),
                name: name.clone(),
                result: output.content.clone(),
                is_error: output.is_error,
            });
            let msg = AgentMessage::ToolResult {
                tool_call_id: id,
                tool_name: name,
                content: vec![ContentPart::Text {
                    text: output.content,
                }],
                details: (!output.details.is_null()).then_some(output.details),
                is_error: output.is_error,
                timestamp: now_ms(),
                extra: Map::new(),
            };
            history.push(msg.clone());
            new_messages.push(msg);
        }
        if step + 1 == max_steps {
            tracing::warn!(
                max_steps,
                "turn stopped: step limit reached with tool calls pending"
            );
        }
    }
    let (provider, model) = &provider_chain[chain_pos];
    Ok(TurnOutcome {
        new_messages,
        final_text: text_so_far,
        provider: provider.id.clone(),
        model: model.clone(),
        usage,
        stop_reason: "toolUse".to_string(),
    })
}
