//! The `/compact [instructions]` chat command (WebChat `chat.send`, the `agent` method,
//! channels): stop the session's active run, summarise the older part of its context with
//! the session's model (agent.md §6), and answer with one line in the reference's words
//! (`⚙️ Compacted (12k → 3.1k) • Context 3.1k/200k (2%)`). Runs outside the session's lane,
//! as the reference's command does, after the active run has ended.

use std::sync::Arc;
use std::time::Duration;

use openclaw_agent::compaction::{
    self, CompactError, CompactRequest, CompactionSettings, Trigger, format_token_count,
};
use openclaw_agent::{CancelToken, SessionStore, Transcript};
use openclaw_protocol::ui::SessionsChanged;

use super::Runs;
use crate::state::{AppState, now_ms};

/// How long `/compact` waits for the run it stopped to end (the reference's 15 s).
const STOP_WAIT: Duration = Duration::from_secs(15);

/// A `/compact` command: `/compact`, `/compact <instructions>` or `/compact: <instructions>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompactCommand {
    pub instructions: Option<String>,
}

/// Parses a `/compact` command (the command word case-insensitive); `None` for anything else.
pub(crate) fn compact_command(text: &str) -> Option<CompactCommand> {
    let t = text.trim();
    let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    let (word, rest) = match word.split_once(':') {
        Some((w, after)) => (w, format!("{after} {rest}")),
        None => (word, rest.to_string()),
    };
    if !word.eq_ignore_ascii_case("/compact") {
        return None;
    }
    let rest = rest.trim().trim_start_matches(':').trim();
    Some(CompactCommand {
        instructions: (!rest.is_empty()).then(|| rest.to_string()),
    })
}

/// A summarising compaction of a stored session that was written.
pub(crate) struct Summarized {
    pub session_id: String,
    pub tokens_before: u64,
    pub tokens_after: u64,
    pub first_kept_entry_id: Option<String>,
    pub window: u64,
}

/// Why a stored session was not summarised.
pub(crate) enum NotSummarized {
    /// No such session (or no session id yet).
    NoSession,
    /// Nothing older than the kept tail; `already` = the last entry is a compaction.
    Nothing {
        already: bool,
        tokens: u64,
        window: u64,
    },
    /// No model, the transcript, or the summary request failed.
    Failed {
        error: String,
        tokens: u64,
        window: u64,
    },
}

/// Summarises the older part of the stored session `key` of `agent_id` with the session's
/// model chain (agent.md §6): writes the `compaction` entry, counts it (`compactionCount`) and
/// tells `sessions.subscribe` subscribers. The caller makes sure no run of the session is
/// active (`/compact` stops it; `sessions.compact` refuses).
pub(crate) async fn summarize_session(
    state: &Arc<AppState>,
    agent_id: &str,
    key: &str,
    instructions: Option<&str>,
) -> Result<Summarized, NotSummarized> {
    let store = SessionStore::open(&state.paths.state_dir, agent_id);
    let Some(entry) = store.get(key).filter(|e| !e.session_id.is_empty()) else {
        return Err(NotSummarized::NoSession);
    };
    let config = state.config();
    let failed = |error: String, tokens: u64, window: u64| NotSummarized::Failed {
        error,
        tokens,
        window,
    };
    let chain = super::execute::session_chain(state, &config.config, agent_id, Some(key))
        .map_err(|e| failed(e, 0, 0))?;
    let Some((first, first_model)) = chain.first() else {
        return Err(failed("no model configured".into(), 0, 0));
    };
    let window = compaction::context_window(first, first_model);
    let settings =
        CompactionSettings::resolve(config.config.agent_defaults().compaction.as_ref(), window);
    let workspace = crate::agents::workspace_dir(state, agent_id);
    let system = openclaw_agent::system_prompt(&workspace, None).ok();
    let path = store.transcript_path(&entry);
    let context = Transcript::load_context(&path).unwrap_or_default();
    let current = compaction::estimate_context_tokens(system.as_deref(), &context);
    let mut transcript = Transcript::open_or_create(&path, &entry.session_id, &workspace)
        .map_err(|e| failed(format!("cannot open the transcript: {e}"), current, window))?;
    let req = CompactRequest {
        provider_chain: &chain,
        settings,
        context_window: window,
        system: system.as_deref(),
        trigger: Trigger::Manual,
        instructions,
    };
    let result = compaction::compact(
        &state.runs.client,
        &mut transcript,
        &context,
        &req,
        &CancelToken::new(),
    )
    .await;
    match result {
        Ok(done) => {
            if let Err(e) = store.update(key, |e| {
                e.compaction_count = Some(e.compaction_count.unwrap_or(0) + 1);
            }) {
                tracing::warn!(target: "agent", "cannot count the compaction of {key}: {e}");
            }
            super::events::emit_sessions_changed(
                state,
                &SessionsChanged {
                    session_key: key.to_string(),
                    agent_id: agent_id.to_string(),
                    reason: Some("compact".into()),
                    session_id: Some(entry.session_id.clone()),
                    phase: None,
                    run_id: None,
                    ts: now_ms(),
                },
            );
            Ok(Summarized {
                session_id: entry.session_id.clone(),
                tokens_before: done.tokens_before,
                tokens_after: done.tokens_after,
                first_kept_entry_id: done
                    .context
                    .summary
                    .as_ref()
                    .map(|c| c.first_kept_entry_id.clone()),
                window,
            })
        }
        Err(CompactError::NothingToCompact) => Err(NotSummarized::Nothing {
            // Nothing new since the last compaction (kept entries only).
            already: context.summary.is_some()
                && context.entries.iter().all(|e| !e.usage_is_current),
            tokens: current,
            window,
        }),
        Err(e) => {
            tracing::warn!(target: "agent", "compaction of {key} failed: {e}");
            Err(failed(e.to_string(), current, window))
        }
    }
}

/// Runs `/compact` on the session `key` of `agent_id`; returns the reply text.
pub(crate) async fn compact_session(
    state: &Arc<AppState>,
    agent_id: &str,
    key: &str,
    cmd: &CompactCommand,
) -> String {
    for id in Runs::abort(state, key, None) {
        if let Some(run) = state.runs.find(&id) {
            let _ = run.wait(STOP_WAIT).await;
        }
    }
    let (label, tokens, window) =
        match summarize_session(state, agent_id, key, cmd.instructions.as_deref()).await {
            Ok(done) => (
                format!(
                    "Compacted ({} → {})",
                    format_token_count(done.tokens_before),
                    format_token_count(done.tokens_after)
                ),
                done.tokens_after,
                done.window,
            ),
            Err(NotSummarized::NoSession) => {
                return "⚙️ Compaction unavailable (missing session id).".into();
            }
            Err(NotSummarized::Nothing { tokens, window, .. }) => (
                "Compaction skipped: nothing to compact".into(),
                tokens,
                window,
            ),
            Err(NotSummarized::Failed {
                error, window: 0, ..
            }) => {
                return format!("⚙️ Compaction failed: {error}");
            }
            Err(NotSummarized::Failed {
                error,
                tokens,
                window,
            }) => (format!("Compaction failed: {error}"), tokens, window),
        };
    let pct = ((tokens.saturating_mul(100) + window / 2) / window.max(1)).min(999);
    format!(
        "⚙️ {label} • Context {}/{} ({pct}%)",
        format_token_count(tokens),
        format_token_count(window)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_command_and_its_instructions() {
        let none = Some(CompactCommand { instructions: None });
        assert_eq!(compact_command("/compact"), none);
        assert_eq!(compact_command("  /COMPACT  "), none);
        assert_eq!(
            compact_command("/compact focus on the plan"),
            Some(CompactCommand {
                instructions: Some("focus on the plan".into())
            })
        );
        assert_eq!(
            compact_command("/compact: decisions"),
            Some(CompactCommand {
                instructions: Some("decisions".into())
            })
        );
        assert_eq!(compact_command("/compaction"), None);
        assert_eq!(compact_command("please /compact"), None);
    }
}
