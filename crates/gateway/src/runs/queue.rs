//! What a message does when its session is busy (agent.md §9, `messages.queue`): the settings
//! that apply to one message (per-session `/queue` override > `byChannel` > `mode` > default,
//! as the reference 2026.9 resolves them) and the prompts the reference builds for a collected
//! batch and for messages dropped over the cap. Pure: no I/O, no locks.

use std::time::Duration;

use openclaw_agent::SessionEntry;
use openclaw_config::sections::{QueueConfig, QueueDrop, QueueMode};
use serde_json::Value;

/// The reference 2026.9 defaults: `effectiveQueueMode` is `steer` in its `sessions.list`
/// (transcripts/reference-2026.9.6), a built-in 500 ms quiet window, 20 waiting, `summarize`.
pub const DEFAULT_MODE: Mode = Mode::Steer;
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(500);
pub const DEFAULT_CAP: usize = 20;
pub const DEFAULT_DROP: QueueDrop = QueueDrop::Summarize;

/// The four behaviours (legacy spellings folded in: `queue` and `steer-backlog` steer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Steer,
    Followup,
    Collect,
    Interrupt,
}

impl From<QueueMode> for Mode {
    fn from(m: QueueMode) -> Mode {
        match m {
            QueueMode::Steer | QueueMode::Queue | QueueMode::SteerBacklog => Mode::Steer,
            QueueMode::Followup => Mode::Followup,
            QueueMode::Collect => Mode::Collect,
            QueueMode::Interrupt => Mode::Interrupt,
        }
    }
}

/// The settings one message is queued with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub mode: Mode,
    pub debounce: Duration,
    pub cap: usize,
    pub drop: QueueDrop,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: DEFAULT_MODE,
            debounce: DEFAULT_DEBOUNCE,
            cap: DEFAULT_CAP,
            drop: DEFAULT_DROP,
        }
    }
}

/// Where a message came from, for `byChannel` / `debounceMsByChannel`.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// Channel id as the config names it (`telegram`, `webchat`, …).
    pub channel: Option<String>,
}

impl Origin {
    pub fn channel(id: &str) -> Origin {
        Origin {
            channel: Some(id.to_string()),
        }
    }
}

fn stored_u64(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// Resolves the settings for a message from `channel` (the session entry's stored `/queue`
/// override first: `queueMode`, `queueDebounceMs`, `queueCap`, `queueDrop`).
pub fn resolve(
    cfg: Option<&QueueConfig>,
    session: Option<&SessionEntry>,
    origin: &Origin,
) -> Settings {
    let channel = origin
        .channel
        .as_deref()
        .map(|c| c.trim().to_ascii_lowercase());
    let extra = |k: &str| session.and_then(|e| e.extra.get(k));
    let session_mode = extra("queueMode")
        .and_then(Value::as_str)
        .and_then(QueueMode::parse);
    let by_channel = |map: Option<&std::collections::BTreeMap<String, QueueMode>>| {
        let c = channel.as_deref()?;
        map?.iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(c))
            .map(|(_, m)| *m)
    };
    let mode = session_mode
        .or_else(|| by_channel(cfg.and_then(|q| q.by_channel.as_ref())))
        .or_else(|| cfg.and_then(|q| q.mode))
        .map(Mode::from)
        .unwrap_or(DEFAULT_MODE);
    let channel_debounce = channel.as_deref().and_then(|c| {
        cfg.and_then(|q| q.debounce_ms_by_channel.as_ref())?
            .iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(c))
            .map(|(_, v)| *v)
    });
    let debounce_ms = stored_u64(extra("queueDebounceMs"))
        .or(channel_debounce)
        .or_else(|| cfg.and_then(|q| q.debounce_ms));
    let cap = stored_u64(extra("queueCap"))
        .or_else(|| cfg.and_then(|q| q.cap))
        .filter(|c| *c >= 1)
        .map(|c| usize::try_from(c).unwrap_or(usize::MAX));
    let drop = extra("queueDrop")
        .and_then(Value::as_str)
        .and_then(QueueDrop::parse)
        .or_else(|| cfg.and_then(|q| q.drop));
    Settings {
        mode,
        // A config number never reaches `Instant + Duration` unchecked: at most a day.
        debounce: debounce_ms
            .map(|ms| Duration::from_millis(ms.min(86_400_000)))
            .unwrap_or(DEFAULT_DEBOUNCE),
        cap: cap.unwrap_or(DEFAULT_CAP),
        drop: drop.unwrap_or(DEFAULT_DROP),
    }
}

/// One dropped message as the summary shows it: whitespace collapsed, at most 160 characters.
pub fn summary_line(text: &str) -> String {
    const LIMIT: usize = 160;
    let cleaned = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.chars().count() <= LIMIT {
        return cleaned;
    }
    let cut: String = cleaned.chars().take(LIMIT - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The reference's overflow notice: `[Queue overflow] Dropped N message(s) due to cap.` and
/// the kept summary lines.
pub fn overflow_summary(dropped: usize, lines: &[String]) -> Option<String> {
    if dropped == 0 {
        return None;
    }
    let plural = if dropped == 1 { "" } else { "s" };
    let mut out = format!("[Queue overflow] Dropped {dropped} message{plural} due to cap.");
    if !lines.is_empty() {
        out.push_str("\nSummary:");
        for l in lines {
            out.push_str("\n- ");
            out.push_str(l);
        }
    }
    Some(out)
}

/// The one prompt a collected batch runs with, in the reference's layout:
/// `[Queued messages while agent was busy]`, the overflow summary if any, then
/// `---\nQueued #i\n<text>` per message, blocks joined by a blank line.
pub fn collect_prompt(texts: &[&str], summary: Option<&str>) -> String {
    let mut blocks = vec!["[Queued messages while agent was busy]".to_string()];
    blocks.extend(summary.map(str::to_string));
    for (i, t) in texts.iter().enumerate() {
        blocks.push(format!("---\nQueued #{}\n{t}", i + 1).trim().to_string());
    }
    blocks.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: Value) -> QueueConfig {
        serde_json::from_value(v).expect("queue config")
    }

    #[test]
    fn defaults_are_the_reference_2026_9_ones() {
        let s = resolve(None, None, &Origin::default());
        assert_eq!(s, Settings::default());
        assert_eq!(s.mode, Mode::Steer);
        assert_eq!(s.debounce, Duration::from_millis(500));
        assert_eq!((s.cap, s.drop), (20, QueueDrop::Summarize));
    }

    #[test]
    fn session_override_beats_channel_beats_mode() {
        let q = cfg(
            json!({"mode": "followup", "byChannel": {"telegram": "collect"},
            "debounceMs": 10, "debounceMsByChannel": {"telegram": 20}, "cap": 0, "drop": "new"}),
        );
        let tg = Origin::channel("Telegram");
        let s = resolve(Some(&q), None, &tg);
        assert_eq!(s.mode, Mode::Collect);
        assert_eq!(s.debounce, Duration::from_millis(20));
        assert_eq!(s.cap, DEFAULT_CAP, "a cap below 1 is ignored");
        assert_eq!(s.drop, QueueDrop::New);
        let web = resolve(Some(&q), None, &Origin::channel("webchat"));
        assert_eq!(
            (web.mode, web.debounce),
            (Mode::Followup, Duration::from_millis(10))
        );
        let mut entry: SessionEntry = serde_json::from_value(json!({"sessionId": "s",
            "queueMode": "interrupt", "queueCap": 3, "queueDrop": "old"}))
        .expect("entry");
        let s = resolve(Some(&q), Some(&entry), &tg);
        assert_eq!(
            (s.mode, s.cap, s.drop),
            (Mode::Interrupt, 3, QueueDrop::Old)
        );
        entry.extra.insert("queueMode".into(), json!("nonsense"));
        assert_eq!(resolve(Some(&q), Some(&entry), &tg).mode, Mode::Collect);
        // Legacy spellings steer.
        let legacy = cfg(json!({"mode": "steer+backlog"}));
        assert_eq!(resolve(Some(&legacy), None, &tg).mode, Mode::Steer);
    }

    #[test]
    fn prompts_have_the_reference_layout() {
        assert_eq!(
            collect_prompt(&["one", "two"], None),
            "[Queued messages while agent was busy]\n\n---\nQueued #1\none\n\n---\nQueued #2\ntwo"
        );
        let summary = overflow_summary(2, &["a  b\nc".to_string(), "d".into()]);
        assert_eq!(
            summary.as_deref(),
            Some("[Queue overflow] Dropped 2 messages due to cap.\nSummary:\n- a  b\nc\n- d")
        );
        assert_eq!(summary_line("a  b\nc"), "a b c");
        assert_eq!(summary_line(&"x".repeat(200)).chars().count(), 160);
        assert!(overflow_summary(0, &[]).is_none());
        assert_eq!(
            overflow_summary(1, &[]).as_deref(),
            Some("[Queue overflow] Dropped 1 message due to cap.")
        );
    }
}
