//! Chat commands from allowed senders: `/new` and `/reset` (alone, or followed by text to run
//! in the fresh session), `/stop` and `/compact [instructions]`, with Telegram's
//! `/cmd@botname` addressing; the settings commands (`/status`, `/model`, `/think`, …) are
//! `crate::chat_commands`.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use crate::runs::Runs;
use crate::state::AppState;

/// A slash command at the start of a message, with Telegram's `/cmd@botname` suffix removed.
pub(super) struct Command {
    /// `/cmd rest…` (lower-cased command word).
    pub text: String,
    /// Explicitly addressed to this bot (`/cmd@botname`).
    pub addressed: bool,
}

pub(super) fn command_text(text: &str, bot_username: Option<&str>) -> Option<Command> {
    let t = text.trim();
    if !t.starts_with('/') {
        return None;
    }
    let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    let (cmd, target) = match word.split_once('@') {
        Some((c, bot)) => (c, Some(bot)),
        None => (word, None),
    };
    let addressed =
        matches!((target, bot_username), (Some(t), Some(me)) if t.eq_ignore_ascii_case(me));
    if target.is_some() && !addressed && bot_username.is_some() {
        return None; // a command for another bot in the group
    }
    let rest = rest.trim();
    Some(Command {
        text: if rest.is_empty() {
            cmd.to_ascii_lowercase()
        } else {
            format!("{} {rest}", cmd.to_ascii_lowercase())
        },
        addressed,
    })
}

/// What a chat command did.
pub(super) enum Outcome {
    /// Handled: this text goes back to the chat, no run.
    Reply(String),
    /// Handled: the reply is this future's text (a command that talks to the model).
    Later(Pin<Box<dyn Future<Output = String> + Send>>),
    /// The session was reset; this rest of the message runs in it.
    Continue(String),
    /// Not a command of ours: the message runs as it is.
    NotOurs,
}

/// Applies a command to the session `key` of `agent`.
pub(super) fn apply(
    state: &Arc<AppState>,
    state_dir: &Path,
    agent: &str,
    key: &str,
    cmd: &Command,
) -> Outcome {
    if let Some((reply, rest)) = crate::agents::reset_command(&cmd.text) {
        let store = openclaw_agent::SessionStore::open(state_dir, agent);
        if let Err(e) = store.reset(key) {
            tracing::warn!(target: "channels", "cannot reset {key}: {e}");
            Outcome::Reply(format!("⚠️ cannot reset the session: {e}"))
        } else if rest.is_empty() {
            Outcome::Reply(reply.to_string())
        } else {
            Outcome::Continue(rest)
        }
    } else if cmd.text == "/stop" {
        let ids = Runs::abort(state, key, None);
        Outcome::Reply(if ids.is_empty() {
            "Nothing is running.".to_string()
        } else {
            "⏹️ Stopped.".to_string()
        })
    } else if let Some(compact) = crate::runs::compact_command(&cmd.text) {
        let (state, agent, key) = (state.clone(), agent.to_string(), key.to_string());
        Outcome::Later(Box::pin(async move {
            crate::runs::compact_session(&state, &agent, &key, &compact).await
        }))
    } else if let Some(parsed) = crate::chat_commands::parse(&cmd.text) {
        Outcome::Reply(crate::chat_commands::run(state, agent, key, &parsed))
    } else {
        Outcome::NotOurs
    }
}
