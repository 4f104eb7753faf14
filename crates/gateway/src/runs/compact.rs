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
    let store = SessionStore::open(&state.paths.state_dir, agent_id);
    let Some(entry) = store.get(key) else {
        return "⚙️ Compaction unavailable (missing session id).".into();
    };
    let config = state.config();
    let chain = match super::execute::session_chain(state, &config.config, agent_id, Some(key)) {
        Ok(chain) => chain,
        Err(e) => return format!("⚙️ Compaction failed: {e}"),
    };
    let Some((first, first_model)) = chain.first() else {
        return "⚙️ Compaction failed: no model configured".into();
    };
    let window = compaction::context_window(first, first_model);
    let settings =
        CompactionSettings::resolve(config.config.agent_defaults().compaction.as_ref(), window);
    let workspace = crate::agents::workspace_dir(state, agent_id);
    let system = openclaw_agent::system_prompt(&workspace, None).ok();
    let path = store.transcript_path(&entry);
    let context = Transcript::load_context(&path).unwrap_or_default();
    let current = compaction::estimate_context_tokens(system.as_deref(), &context);
    let mut transcript = match Transcript::open_or_create(&path, &entry.session_id, &workspace) {
        Ok(t) => t,
        Err(e) => return format!("⚙️ Compaction failed: cannot open the transcript: {e}"),
    };
    let req = CompactRequest {
        provider_chain: &chain,
        settings,
        context_window: window,
        system: system.as_deref(),
        trigger: Trigger::Manual,
        instructions: cmd.instructions.as_deref(),
    };
    let result = compaction::compact(
        &state.runs.client,
        &mut transcript,
        &context,
        &req,
        &CancelToken::new(),
    )
    .await;
    let (label, tokens) = match result {
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
            (
                format!(
                    "Compacted ({} → {})",
                    format_token_count(done.tokens_before),
                    format_token_count(done.tokens_after)
                ),
                done.tokens_after,
            )
        }
        Err(CompactError::NothingToCompact) => {
            ("Compaction skipped: nothing to compact".into(), current)
        }
        Err(e) => {
            tracing::warn!(target: "agent", "/compact of {key} failed: {e}");
            (format!("Compaction failed: {e}"), current)
        }
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
