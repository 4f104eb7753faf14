//! The heartbeat runner (agent.md §10): every `agents.defaults.heartbeat.every` an agent turn on
//! the main session with the heartbeat prompt; `HEARTBEAT_OK` replies are suppressed; each beat
//! emits a `heartbeat` event and becomes `last-heartbeat`. `set-heartbeats` toggles it, `wake`
//! queues a system event and (mode `now`) beats at once.

use crate::sync::LockExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use openclaw_protocol::HeartbeatEvent;
use tokio::sync::Notify;

use crate::hub::Audience;
use crate::runs::{RunSpec, Runs, Submitted};
use crate::state::{AppState, now_ms};

/// Default prompt, sent verbatim as the user turn.
pub const PROMPT: &str = "Read HEARTBEAT.md if it exists (workspace context). Follow it strictly. Do not infer or repeat old tasks from prior chats. If nothing needs attention, reply HEARTBEAT_OK.";
const DEFAULT_EVERY: &str = "30m";
const ACK_MAX_CHARS: usize = 300;

/// Heartbeat switches shared by the runner and the methods.
#[derive(Default)]
pub struct Heartbeats {
    disabled: AtomicBool,
    wake: Notify,
}

impl Heartbeats {
    pub fn set_enabled(&self, on: bool) {
        self.disabled.store(!on, Ordering::Relaxed);
    }
    pub fn enabled(&self) -> bool {
        !self.disabled.load(Ordering::Relaxed)
    }
    pub fn wake_now(&self) {
        self.wake.notify_one();
    }
}

/// Parses `30m`, `1h`, `45s`, `500ms`, `1h30m`, `2d`; `0…` disables (None). A value too large
/// for a `Duration` (`99999999999999999999d`) is invalid (None), never a panic.
pub fn parse_every(s: &str) -> Option<Duration> {
    let s = s.trim();
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        let digits: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        if digits.is_empty() {
            return None;
        }
        num.clear();
        num.push_str(&digits);
        rest = &rest[digits.len()..];
        let unit: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        rest = &rest[unit.len()..];
        let n: f64 = num.parse().ok()?;
        let secs = match unit.as_str() {
            "ms" => n / 1000.0,
            "s" | "" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            "d" => n * 86400.0,
            _ => return None,
        };
        total = total.checked_add(Duration::try_from_secs_f64(secs).ok()?)?;
    }
    (!total.is_zero()).then_some(total)
}

fn heartbeat_config(state: &AppState) -> openclaw_config::sections::HeartbeatConfig {
    state
        .config()
        .config
        .agent_defaults()
        .heartbeat
        .unwrap_or_default()
}

/// The interval in force (None: disabled).
pub fn every(state: &AppState) -> Option<Duration> {
    let hb = heartbeat_config(state);
    parse_every(hb.every.as_deref().unwrap_or(DEFAULT_EVERY))
}

/// True when HEARTBEAT.md exists but holds nothing actionable (blank lines, headings only).
fn heartbeat_file_empty(state: &AppState, agent: &str) -> bool {
    let path = crate::agents::workspace_dir(state, agent).join("HEARTBEAT.md");
    match std::fs::read_to_string(path) {
        Ok(t) => t
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')),
        Err(_) => false,
    }
}

/// Strips `HEARTBEAT_OK` at the start or end; returns (rest, had_token).
fn strip_token(text: &str) -> (String, bool) {
    let t = text.trim();
    let mut had = false;
    let mut rest = t;
    if let Some(r) = rest.strip_prefix("HEARTBEAT_OK") {
        rest = r;
        had = true;
    }
    if let Some(r) = rest.strip_suffix("HEARTBEAT_OK") {
        rest = r;
        had = true;
    }
    (rest.trim().to_string(), had)
}

fn record(state: &AppState, ev: HeartbeatEvent) {
    let payload = serde_json::to_string(&ev).unwrap_or_default();
    {
        let mut last = state.last_heartbeat.locked();
        *last = Some(ev);
    }
    state.hub.broadcast(
        openclaw_protocol::events::names::HEARTBEAT,
        &payload,
        None,
        true,
        Audience::Everyone,
    );
}

/// One beat.
pub async fn beat(state: &Arc<AppState>) {
    let started = Instant::now();
    let skipped = |reason: &str| HeartbeatEvent {
        ts: now_ms(),
        status: "skipped".into(),
        to: None,
        preview: None,
        duration_ms: Some(0),
        reason: Some(reason.into()),
        channel: None,
    };
    if !state.heartbeats.enabled() {
        return record(state, skipped("disabled"));
    }
    let (_, agent) = crate::agents::agents(state);
    if heartbeat_file_empty(state, &agent) {
        return record(state, skipped("empty-heartbeat-file"));
    }
    let key = format!("agent:{agent}:{}", state.settings().main_key);
    if !state.runs.session_runs(&key).is_empty() {
        return record(state, skipped("session-busy"));
    }
    let hb = heartbeat_config(state);
    let prompt = hb.prompt.as_deref().unwrap_or(PROMPT).to_string();
    let spec = RunSpec {
        run_id: format!("heartbeat-{}", uuid::Uuid::new_v4()),
        agent_id: agent,
        session_key: key,
        message: prompt,
        extra_system_prompt: None,
        timeout: Duration::from_secs(600),
        stream_tx: None,
        ephemeral: false,
        persisted: None,
        resume: false,
        origin: None,
    };
    let run = match Runs::submit(state, spec) {
        Ok(Submitted::New(r) | Submitted::Existing(r)) => r,
        Err(e) => {
            let mut ev = skipped("queue-full");
            ev.status = "failed".into();
            ev.reason = Some(e.message);
            return record(state, ev);
        }
    };
    let result = run.wait(Duration::from_secs(660)).await;
    let duration_ms = Some(started.elapsed().as_millis() as u64);
    let ev = match result {
        Some(r) if r.ok => {
            let text = r.final_text.clone();
            let (rest, had) = strip_token(&text);
            let ack_max = hb
                .ack_max_chars
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                .unwrap_or(ACK_MAX_CHARS);
            let (status, preview) = if text.trim().is_empty() {
                ("ok-empty", None)
            } else if had && rest.chars().count() <= ack_max {
                ("ok-token", None)
            } else {
                // An alert. No delivery route exists yet: recorded with a preview, not sent.
                ("skipped", Some(rest.chars().take(200).collect::<String>()))
            };
            HeartbeatEvent {
                ts: now_ms(),
                status: status.into(),
                to: None,
                preview,
                duration_ms,
                reason: (status == "skipped").then(|| "no-delivery-target".into()),
                channel: None,
            }
        }
        Some(r) => HeartbeatEvent {
            ts: now_ms(),
            status: "failed".into(),
            to: None,
            preview: None,
            duration_ms,
            reason: r.error.map(|e| e.message),
            channel: None,
        },
        None => HeartbeatEvent {
            ts: now_ms(),
            status: "failed".into(),
            to: None,
            preview: None,
            duration_ms,
            reason: Some("timeout".into()),
            channel: None,
        },
    };
    record(state, ev);
}

/// The runner task of one generation: waits `every` (re-read each time, so hot reloads apply)
/// or a wake, then beats; stops with the generation.
pub fn spawn(state: &Arc<AppState>) {
    let s = state.clone();
    tokio::spawn(async move {
        let mut stop = s.shutdown.subscribe();
        loop {
            let wait = every(&s).unwrap_or(Duration::from_secs(3600));
            let enabled = every(&s).is_some();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {
                    if enabled {
                        beat(&s).await;
                    }
                }
                _ = s.heartbeats.wake.notified() => beat(&s).await,
                _ = stop.changed() => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_every("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_every("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_every("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_every("0m"), None);
        assert_eq!(parse_every("soon"), None);
        // Too large for a Duration: invalid, not a panic.
        assert_eq!(parse_every("99999999999999999999999d"), None);
        assert_eq!(parse_every("18446744073709551615s5s"), None);
        assert_eq!(parse_every("1.5.5m"), None);
    }

    #[test]
    fn strips_the_token() {
        assert_eq!(strip_token("HEARTBEAT_OK"), (String::new(), true));
        assert_eq!(
            strip_token("All good. HEARTBEAT_OK"),
            ("All good.".into(), true)
        );
        assert_eq!(
            strip_token("Disk is full!"),
            ("Disk is full!".into(), false)
        );
    }
}
