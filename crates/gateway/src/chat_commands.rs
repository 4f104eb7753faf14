//! Chat commands that change or show a session's settings: `/status`, `/model`, `/think`,
//! `/verbose`, `/help` and `/commands`. One implementation for every surface (WebChat's
//! `chat.send`, the `agent` method, channel messages), so a command behaves the same wherever it
//! is typed; `/new`, `/reset` and `/stop` stay with their callers because what they do depends on
//! the surface (an ack shape, a run to abort). A command never reaches the model: it is answered
//! here, and only its reply goes back.
//!
//! Who may use them is decided before this module: channel senders that passed access control,
//! operators with write scope. Every command here changes only the caller's own session.

use openclaw_agent::compaction::format_token_count;
use openclaw_agent::{SessionEntry, SessionStore};
use openclaw_protocol::sessions::levels;

use crate::agents::model_catalog;
use crate::methods::sessions::{resolved_model, session_changed};
use crate::state::AppState;

/// One chat command this gateway knows, as `commands.list` describes it.
pub(crate) struct CommandSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub description: &'static str,
    pub category: &'static str,
    pub accepts_args: bool,
    /// `(name, description, choices)` of its one argument.
    pub arg: Option<(&'static str, &'static str, &'static [&'static str])>,
}

/// Every chat command, in the order `/commands` and `commands.list` show them (the
/// reference's names, aliases and categories).
pub(crate) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "help",
        aliases: &["/help"],
        description: "Show available commands.",
        category: "status",
        accepts_args: false,
        arg: None,
    },
    CommandSpec {
        name: "commands",
        aliases: &["/commands"],
        description: "List all slash commands.",
        category: "status",
        accepts_args: false,
        arg: None,
    },
    CommandSpec {
        name: "status",
        aliases: &["/status"],
        description: "Show current status.",
        category: "status",
        accepts_args: true,
        arg: None,
    },
    CommandSpec {
        name: "stop",
        aliases: &["/stop"],
        description: "Stop the current run.",
        category: "session",
        accepts_args: false,
        arg: None,
    },
    CommandSpec {
        name: "reset",
        aliases: &["/reset"],
        description: "Reset the current session.",
        category: "session",
        accepts_args: true,
        arg: None,
    },
    CommandSpec {
        name: "new",
        aliases: &["/new"],
        description: "Start a new session.",
        category: "session",
        accepts_args: true,
        arg: None,
    },
    CommandSpec {
        name: "compact",
        aliases: &["/compact"],
        description: "Compact the session context.",
        category: "session",
        accepts_args: true,
        arg: Some((
            "instructions",
            "Extra compaction instructions",
            &[] as &[&str],
        )),
    },
    CommandSpec {
        name: "think",
        aliases: &["/think", "/thinking", "/t"],
        description: "Set thinking level.",
        category: "options",
        accepts_args: true,
        arg: Some(("level", "Thinking level", levels::THINKING)),
    },
    CommandSpec {
        name: "verbose",
        aliases: &["/verbose", "/v"],
        description: "Toggle verbose mode.",
        category: "options",
        accepts_args: true,
        arg: Some(("mode", "on, off, or full", levels::VERBOSE)),
    },
    CommandSpec {
        name: "model",
        aliases: &["/model"],
        description: "Show or set the model for this session.",
        category: "options",
        accepts_args: true,
        arg: Some(("model", "Model id or alias", &[] as &[&str])),
    },
];

/// A command of this module found at the start of a message: its name and what follows it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub name: &'static str,
    pub args: String,
}

/// Recognises `/think high`, `/think:high`, `/t high`, `/model openai/gpt-5`, … (the command
/// word is case-insensitive; Telegram's `@botname` suffix must already be gone). Only the
/// commands this module answers: `/new`, `/reset`, `/stop`, `/compact` are the callers'.
pub(crate) fn parse(text: &str) -> Option<Parsed> {
    let t = text.trim();
    if !t.starts_with('/') {
        return None;
    }
    let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    // `/think:high` is the same as `/think high`.
    let (word, inline) = match word.split_once(':') {
        Some((w, a)) => (w, a),
        None => (word, ""),
    };
    let word = word.to_ascii_lowercase();
    let spec = COMMANDS
        .iter()
        .filter(|c| {
            matches!(
                c.name,
                "help" | "commands" | "status" | "think" | "verbose" | "model"
            )
        })
        .find(|c| c.aliases.contains(&word.as_str()))?;
    let args = format!("{inline} {}", rest.trim()).trim().to_string();
    if !spec.accepts_args && !args.is_empty() {
        return None; // `/help me with this` is a message, not a command
    }
    Some(Parsed {
        name: spec.name,
        args,
    })
}

/// Runs a parsed command on session `key` of `agent` and returns the reply text.
pub(crate) fn run(state: &AppState, agent: &str, key: &str, cmd: &Parsed) -> String {
    let store = SessionStore::open(&state.paths.state_dir, agent);
    match cmd.name {
        "help" => help(),
        "commands" => commands_text(),
        "status" => status(state, agent, key, &store),
        "think" => think(state, key, &store, &cmd.args),
        "verbose" => verbose(state, key, &store, &cmd.args),
        "model" => model(state, agent, key, &store, &cmd.args),
        _ => format!("Unknown command /{}.", cmd.name),
    }
}

fn help() -> String {
    [
        "ℹ️ Commands",
        "/status — model, tokens and session",
        "/model [id|alias] — show or set this session's model",
        "/think <level> — thinking level (off, minimal, low, medium, high, xhigh)",
        "/verbose on|off|full — verbose mode",
        "/compact [instructions] — summarise older turns to free context",
        "/new, /reset — start a fresh session",
        "/stop — stop the current run",
        "/commands — every command",
    ]
    .join("\n")
}

fn commands_text() -> String {
    let mut out = vec!["ℹ️ Slash commands".to_string()];
    for c in COMMANDS {
        out.push(format!("{} — {}", c.aliases.join(", "), c.description));
    }
    out.join("\n")
}

/// `provider/model` of the model the session's next run starts on.
fn model_label(state: &AppState, agent: &str, entry: &SessionEntry) -> String {
    let resolved = resolved_model(state, agent, entry);
    match (resolved.model_provider, resolved.model) {
        (Some(p), Some(m)) => format!("{p}/{m}"),
        _ => "unknown".to_string(),
    }
}

fn status(state: &AppState, agent: &str, key: &str, store: &SessionStore) -> String {
    let entry = store.get(key);
    let shown = entry.clone().unwrap_or_default();
    let resolved = resolved_model(state, agent, &shown);
    let model = model_label(state, agent, &shown);
    let overridden = shown.model_override.is_some();
    let catalog = model_catalog(state, agent);
    let window = resolved
        .model_provider
        .as_ref()
        .zip(resolved.model.as_ref())
        .and_then(|(p, m)| {
            catalog.find(&openclaw_agent::ModelRef {
                provider: p.clone(),
                model: m.clone(),
            })
        })
        .map(|m| m.context_window)
        .or(shown.context_tokens);
    let mut lines = vec![format!("🦞 OpenClaw {}", env!("CARGO_PKG_VERSION"))];
    lines.push(format!(
        "🧠 Model: {model}{}",
        if overridden {
            " (session override)"
        } else {
            ""
        }
    ));
    let (input, output) = (
        shown.input_tokens.unwrap_or(0),
        shown.output_tokens.unwrap_or(0),
    );
    lines.push(format!(
        "🧮 Tokens: {} in / {} out",
        format_token_count(input),
        format_token_count(output)
    ));
    let used = shown.total_tokens.unwrap_or(input + output);
    let context = match window {
        Some(w) if w > 0 => format!(
            "📚 Context: {}/{} ({}%)",
            format_token_count(used),
            format_token_count(w),
            (used.saturating_mul(100) / w).min(100)
        ),
        _ => format!("📚 Context: {}", format_token_count(used)),
    };
    lines.push(format!(
        "{context} · 🧹 Compactions: {}",
        shown.compaction_count.unwrap_or(0)
    ));
    lines.push(match &entry {
        Some(e) => format!("🧵 Session: {key} ({})", e.session_id),
        None => format!("🧵 Session: {key} (no messages yet)"),
    });
    lines.push(format!(
        "⚙️ Think: {} · Verbose: {}",
        shown.thinking_level.as_deref().unwrap_or("off"),
        shown.verbose_level.as_deref().unwrap_or("off"),
    ));
    lines.join("\n")
}

/// Stores one session setting and tells `sessions.subscribe` subscribers.
fn save(
    state: &AppState,
    key: &str,
    store: &SessionStore,
    change: impl FnOnce(&mut SessionEntry),
) -> Result<(), String> {
    store
        .upsert(key, |e| {
            change(e);
            e.updated_at = openclaw_agent::now_ms();
        })
        .map_err(|e| format!("⚠️ Cannot save the session setting: {e}"))?;
    session_changed(state, key, "patch");
    Ok(())
}

fn think(state: &AppState, key: &str, store: &SessionStore, args: &str) -> String {
    let current = store
        .get(key)
        .and_then(|e| e.thinking_level)
        .unwrap_or_else(|| "off".into());
    let wanted = args.trim().to_ascii_lowercase();
    if wanted.is_empty() {
        return format!(
            "Current thinking level: {current}.\nOptions: {}.",
            levels::THINKING.join(", ")
        );
    }
    // The reference's spellings: `highest`/`max` are `high`, `on` is `low`.
    let level = match wanted.as_str() {
        "highest" | "max" => "high",
        "on" => "low",
        other => other,
    };
    if !levels::THINKING.contains(&level) {
        return format!(
            "Unrecognized thinking level \"{wanted}\". Valid levels: {}.",
            levels::THINKING.join(", ")
        );
    }
    let value = (level != "off").then(|| level.to_string());
    match save(state, key, store, |e| e.thinking_level = value) {
        Ok(()) if level == "off" => "Thinking disabled.".to_string(),
        Ok(()) => format!("Thinking level set to {level}."),
        Err(e) => e,
    }
}

fn verbose(state: &AppState, key: &str, store: &SessionStore, args: &str) -> String {
    let current = store
        .get(key)
        .and_then(|e| e.verbose_level)
        .unwrap_or_else(|| "off".into());
    let wanted = args.trim().to_ascii_lowercase();
    // Without an argument the command toggles, as its description says.
    let level = match wanted.as_str() {
        "" if current == "off" => "on",
        "" => "off",
        "true" | "yes" | "1" => "on",
        "false" | "no" | "0" => "off",
        other => other,
    };
    if !levels::VERBOSE.contains(&level) {
        return format!(
            "Unrecognized verbose level \"{wanted}\". Valid levels: {}.",
            levels::VERBOSE.join(", ")
        );
    }
    let value = (level != "off").then(|| level.to_string());
    match save(state, key, store, |e| e.verbose_level = value) {
        Ok(()) => match level {
            "off" => "Verbose logging disabled.".to_string(),
            "full" => "Verbose logging set to full.".to_string(),
            _ => "Verbose logging enabled.".to_string(),
        },
        Err(e) => e,
    }
}

fn model(state: &AppState, agent: &str, key: &str, store: &SessionStore, args: &str) -> String {
    let mut words: Vec<&str> = args.split_whitespace().collect();
    // `-s` (session) is the only scope a chat command may change here; agent and global
    // defaults are config edits (`openclaw models set`).
    if words.iter().any(|w| matches!(*w, "-a" | "-g")) {
        return "Only this session's model can be set from chat (-s). Use `openclaw models set <model>` to change the default.".to_string();
    }
    words.retain(|w| *w != "-s");
    let catalog = model_catalog(state, agent);
    let current = model_label(state, agent, &store.get(key).unwrap_or_default());
    match words.as_slice() {
        [] | ["list"] | ["status"] => {
            let mut lines = vec![format!("Current model: {current}")];
            let visible = catalog.visible();
            if !visible.is_empty() {
                lines.push("Available:".to_string());
                for m in visible.iter().take(30) {
                    let alias = m
                        .alias
                        .as_ref()
                        .map(|a| format!(" (alias {a})"))
                        .unwrap_or_default();
                    let usable = if m.available { "" } else { " — no API key" };
                    lines.push(format!("• {}/{}{alias}{usable}", m.provider, m.id));
                }
                if visible.len() > 30 {
                    lines.push(format!("… and {} more", visible.len() - 30));
                }
            }
            lines.push(
                "Set with /model <provider/model or alias>; /model default clears it.".into(),
            );
            lines.join("\n")
        }
        ["default"] | ["reset"] | ["clear"] => {
            match save(state, key, store, |e| {
                e.provider_override = None;
                e.model_override = None;
                e.extra.remove("authProfileOverride");
            }) {
                Ok(()) => format!(
                    "Model reset to the default ({}).",
                    model_label(state, agent, &SessionEntry::default())
                ),
                Err(e) => e,
            }
        }
        [choice] => match catalog.resolve(choice) {
            Ok(r) => match save(state, key, store, |e| {
                e.provider_override = Some(r.provider.clone());
                e.model_override = Some(r.model.clone());
                e.extra.remove("authProfileOverride");
            }) {
                Ok(()) => format!("Model set to {r}."),
                Err(e) => e,
            },
            Err(e) => format!("⚠️ {e}. Send /model to see the choices."),
        },
        _ => "Usage: /model [provider/model | alias | default]".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognised_with_their_aliases_and_inline_arguments() {
        let p = |t: &str| parse(t).map(|p| (p.name, p.args));
        assert_eq!(p("/think high"), Some(("think", "high".into())));
        assert_eq!(p("/think:high"), Some(("think", "high".into())));
        assert_eq!(p("/T  medium "), Some(("think", "medium".into())));
        assert_eq!(p("/thinking"), Some(("think", String::new())));
        assert_eq!(p("/v"), Some(("verbose", String::new())));
        assert_eq!(
            p("/model openai/gpt-5 -s"),
            Some(("model", "openai/gpt-5 -s".into()))
        );
        assert_eq!(p("/status"), Some(("status", String::new())));
        assert_eq!(p("/help"), Some(("help", String::new())));
        // Not ours, or not commands at all.
        assert_eq!(p("/help me with this"), None);
        assert_eq!(p("/new"), None);
        assert_eq!(p("/stop"), None);
        assert_eq!(p("/thinker"), None);
        assert_eq!(p("think high"), None);
        assert_eq!(p("/compact"), None);
    }

    #[test]
    fn counts_read_like_the_reference() {
        assert_eq!(format_token_count(999), "999");
        assert_eq!(format_token_count(1234), "1.2k");
        assert_eq!(format_token_count(200_000), "200k");
        assert_eq!(format_token_count(2_500_000), "2.5m");
    }
}
