//! One cron run: a `main` job queues its system event for the main session and wakes the
//! heartbeat; an `isolated` job runs an agent turn in `agent:<agentId>:cron:<jobId>` (with the
//! job's model and thinking level) and announces the reply to its channel chat through the
//! idempotent send path (keyed by run id, so a run repeated after a crash is delivered once).
//! The end of every run is recorded in the job's state, its run log and a `cron` event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openclaw_agent::SessionStore;
use openclaw_protocol::cron::{
    CronDelivery, CronEvent, CronJob, CronPayload, CronRunLogEntry, CronSchedule, StoredPayload,
    StoredSchedule,
};

use super::{emit, schedule, store};
use crate::runs::{RunOrigin, RunSpec, Runs, Submitted};
use crate::state::AppState;
use crate::sync::LockExt;

/// The default run timeout of an agent turn.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// How a run ended.
#[derive(Debug, Default)]
struct Outcome {
    /// `ok`, `error` or `skipped`.
    status: &'static str,
    error: Option<String>,
    summary: Option<String>,
    delivered: Option<bool>,
    /// `delivered`, `not-delivered`, `not-requested`.
    delivery_status: Option<&'static str>,
    delivery_error: Option<String>,
    session_key: Option<String>,
}

impl Outcome {
    fn ok(summary: impl Into<String>) -> Self {
        Outcome {
            status: "ok",
            summary: Some(summary.into()),
            delivery_status: Some("not-requested"),
            ..Default::default()
        }
    }
    fn error(e: impl Into<String>) -> Self {
        Outcome {
            status: "error",
            error: Some(e.into()),
            delivery_status: Some("not-requested"),
            ..Default::default()
        }
    }
}

/// Runs `job` (already marked running) and records the end.
pub async fn run_job(state: Arc<AppState>, job: CronJob, run_id: String, slot: Option<u64>) {
    let run_at = schedule::now_ms();
    let started = Instant::now();
    emit(
        &state,
        &CronEvent {
            job_id: job.id.clone(),
            action: "started".into(),
            run_id: Some(run_id.clone()),
            run_at_ms: Some(run_at),
            duration_ms: None,
            status: None,
            error: None,
            summary: None,
            next_run_at_ms: None,
            session_key: None,
        },
    );
    let outcome = match &job.payload {
        StoredPayload::Known(CronPayload::SystemEvent { text, .. }) => {
            system_event(&state, &job, text)
        }
        StoredPayload::Known(CronPayload::AgentTurn {
            message,
            model,
            thinking,
            timeout_seconds,
            ..
        }) => {
            let timeout = timeout_seconds
                .filter(|t| *t > 0.0)
                .map(|t| crate::runs::run_timeout_ms((t * 1000.0) as u64))
                .unwrap_or(DEFAULT_TIMEOUT);
            agent_turn(
                &state,
                &job,
                &run_id,
                message,
                model.as_deref(),
                thinking.as_deref(),
                timeout,
            )
            .await
        }
        StoredPayload::Other(v) if v.get("kind").and_then(|k| k.as_str()) == Some("heartbeat") => {
            state.heartbeats.wake_now();
            Outcome::ok("heartbeat requested")
        }
        StoredPayload::Other(v) => Outcome {
            status: "skipped",
            error: Some(format!(
                "payload kind {} is not run by this gateway",
                v.get("kind").and_then(|k| k.as_str()).unwrap_or("?")
            )),
            ..Default::default()
        },
    };
    finish(
        &state,
        &job,
        &run_id,
        slot,
        run_at,
        started.elapsed(),
        outcome,
    );
}

fn system_event(state: &AppState, job: &CronJob, text: &str) -> Outcome {
    {
        let mut q = state.system_events.locked();
        if q.len() >= crate::state::MAX_SYSTEM_EVENTS {
            q.pop_front();
        }
        q.push_back(text.to_string());
    }
    if job.wake_mode != "next-heartbeat" {
        state.heartbeats.wake_now();
    }
    Outcome::ok(text.chars().take(200).collect::<String>())
}

/// A resolved delivery target.
struct Target {
    channel: String,
    account: Option<String>,
    to: String,
    thread: Option<String>,
}

/// Where an isolated job's reply goes: `Ok(None)` = not requested; `Err` = requested but
/// unresolvable. No `delivery` means "announce to the last chat" (as the reference).
fn target(state: &AppState, job: &CronJob, agent: &str) -> Result<Option<Target>, String> {
    let d = job.delivery.clone().unwrap_or(CronDelivery {
        mode: "announce".into(),
        channel: Some("last".into()),
        ..Default::default()
    });
    match d.mode.as_str() {
        "none" => return Ok(None),
        "webhook" => return Err("webhook delivery is not supported by this gateway".into()),
        _ => {}
    }
    let thread = d.thread_id.as_ref().and_then(|t| match t {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let explicit = d
        .channel
        .as_deref()
        .filter(|c| !c.eq_ignore_ascii_case("last"));
    if let (Some(to), Some(channel)) = (d.to.as_deref(), explicit) {
        return Ok(Some(Target {
            channel: channel.to_ascii_lowercase(),
            account: d.account_id.clone(),
            to: to.to_string(),
            thread,
        }));
    }
    // `last`: the main session's last chat.
    let main = format!("agent:{agent}:{}", state.settings().main_key);
    let last = SessionStore::open(&state.paths.state_dir, agent).get(&main);
    let last_channel = last.as_ref().and_then(|e| e.last_channel.clone());
    let last_to = last.as_ref().and_then(|e| e.last_to.clone());
    let channel = explicit.map(str::to_string).or(last_channel);
    match (channel, d.to.clone().or(last_to)) {
        (Some(channel), Some(to)) => Ok(Some(Target {
            channel: channel.to_ascii_lowercase(),
            account: d
                .account_id
                .clone()
                .or_else(|| last.and_then(|e| e.last_account_id)),
            to,
            thread,
        })),
        (None, Some(to)) => Ok(Some(Target {
            channel: String::new(),
            account: d.account_id.clone(),
            to,
            thread,
        })),
        _ => Err("no delivery target (set delivery.channel and delivery.to)".into()),
    }
}

/// Applies the job's model and thinking level to its session (the run reads them there).
fn apply_overrides(
    state: &AppState,
    agent: &str,
    key: &str,
    model: Option<&str>,
    thinking: Option<&str>,
) {
    if model.is_none() && thinking.is_none() {
        return;
    }
    let store = SessionStore::open(&state.paths.state_dir, agent);
    let r = store.upsert(key, |e| {
        if let Some((p, m)) = model.and_then(|m| m.split_once('/')) {
            e.provider_override = Some(p.to_string());
            e.model_override = Some(m.to_string());
        }
        if let Some(t) = thinking {
            e.thinking_level = Some(t.to_string());
        }
    });
    if let Err(e) = r {
        tracing::warn!(target: "cron", "cannot apply the job's model/thinking to {key}: {e}");
    }
}

async fn agent_turn(
    state: &Arc<AppState>,
    job: &CronJob,
    run_id: &str,
    message: &str,
    model: Option<&str>,
    thinking: Option<&str>,
    timeout: Duration,
) -> Outcome {
    let (ids, default) = crate::agents::agents(state);
    let agent = job
        .agent_id
        .clone()
        .filter(|a| ids.contains(a))
        .unwrap_or(default);
    let session_key = format!("agent:{agent}:cron:{}", job.id);
    apply_overrides(state, &agent, &session_key, model, thinking);
    let target = target(state, job, &agent);
    let origin = match &target {
        Ok(Some(t)) if !t.channel.is_empty() => Some(RunOrigin {
            channel: t.channel.clone(),
            account_id: t.account.clone().unwrap_or_else(|| "default".into()),
            to: t.to.clone(),
            thread_id: t.thread.clone(),
            // A scheduled run has no sender: nothing elevated is allowed on its behalf.
            sender_id: None,
        }),
        _ => None,
    };
    let spec = RunSpec {
        run_id: run_id.to_string(),
        agent_id: agent,
        session_key: session_key.clone(),
        message: message.to_string(),
        extra_system_prompt: None,
        timeout,
        stream_tx: None,
        ephemeral: false,
        persisted: None,
        resume: false,
        origin,
    };
    let run = match Runs::submit(state, spec) {
        Ok(Submitted::New(r) | Submitted::Existing(r)) => r,
        Err(e) => {
            let mut o = Outcome::error(e.message);
            o.session_key = Some(session_key);
            return o;
        }
    };
    let result = run.wait(timeout + Duration::from_secs(60)).await;
    let mut out = match result {
        Some(r) if r.ok => {
            let text = r.final_text.trim().to_string();
            let mut o = Outcome::ok(text.chars().take(200).collect::<String>());
            deliver(state, &mut o, target, run_id, text).await;
            o
        }
        Some(r) => Outcome::error(
            r.error
                .map(|e| e.message)
                .unwrap_or_else(|| "the agent run failed".into()),
        ),
        None => Outcome::error("the agent run did not finish in time"),
    };
    out.session_key = Some(session_key);
    out
}

async fn deliver(
    state: &Arc<AppState>,
    o: &mut Outcome,
    target: Result<Option<Target>, String>,
    run_id: &str,
    text: String,
) {
    let t = match target {
        Ok(None) => return,
        Ok(Some(_)) if matches!(text.as_str(), "" | "NO_REPLY" | "HEARTBEAT_OK") => {
            o.delivery_status = Some("not-delivered");
            o.delivered = Some(false);
            o.delivery_error = Some("silent reply".into());
            return;
        }
        Ok(Some(t)) => t,
        Err(e) => {
            o.delivery_status = Some("not-delivered");
            o.delivered = Some(false);
            o.delivery_error = Some(e);
            return;
        }
    };
    let channel = (!t.channel.is_empty()).then_some(t.channel.as_str());
    match crate::methods::channels::deliver_once(
        state,
        &format!("cron:{run_id}"),
        channel,
        t.account.as_deref(),
        &t.to,
        t.thread.as_deref(),
        text,
    )
    .await
    {
        Ok(_) => {
            o.delivered = Some(true);
            o.delivery_status = Some("delivered");
        }
        Err(e) => {
            tracing::warn!(target: "cron", "cron delivery failed: {}", e.message);
            o.delivered = Some(false);
            o.delivery_status = Some("not-delivered");
            o.delivery_error = Some(e.message);
        }
    }
}

/// Records the end: job state (next run from now, never a burst of missed slots), one-shot
/// jobs deleted or disabled, the run log line, the `finished` event; re-arms the timer.
fn finish(
    state: &Arc<AppState>,
    job: &CronJob,
    run_id: &str,
    slot: Option<u64>,
    run_at: u64,
    took: Duration,
    o: Outcome,
) {
    let now = schedule::now_ms();
    let duration_ms = took.as_millis() as u64;
    let mut next = None;
    {
        let mut inner = state.cron.inner.locked();
        inner.running.remove(&job.id);
        if let Some(idx) = inner.jobs.iter().position(|j| j.id == job.id) {
            let j = &mut inner.jobs[idx];
            let st = &mut j.state;
            st.running_at_ms = None;
            st.last_run_at_ms = Some(run_at);
            st.last_run_status = Some(o.status.into());
            st.last_status = Some(o.status.into());
            st.last_error = o.error.clone();
            st.last_duration_ms = Some(duration_ms);
            st.consecutive_errors = Some(if o.status == "error" {
                st.consecutive_errors.unwrap_or(0) + 1
            } else {
                0
            });
            st.last_delivered = o.delivered;
            st.last_delivery_status = o.delivery_status.map(str::to_string);
            st.last_delivery_error = o.delivery_error.clone();
            let one_shot = matches!(j.schedule, StoredSchedule::Known(CronSchedule::At { .. }));
            if one_shot {
                st.next_run_at_ms = None;
                if o.status == "ok" && j.delete_after_run.unwrap_or(true) {
                    inner.jobs.remove(idx);
                } else {
                    j.enabled = false;
                }
            } else if slot.is_some() || st.next_run_at_ms.is_none_or(|t| t <= now) {
                // A scheduled run (or a manual one that was due anyway) moves to the next
                // slot after now: missed slots are not replayed.
                if let StoredSchedule::Known(s) = &j.schedule {
                    st.next_run_at_ms = schedule::next_after(s, now.max(slot.unwrap_or(0)));
                }
                next = st.next_run_at_ms;
            } else {
                next = st.next_run_at_ms;
            }
        }
        if let Err(e) = state.cron.save(&inner) {
            tracing::error!(target: "cron", "{}", e.message);
        }
    }
    let entry = CronRunLogEntry {
        ts: now,
        job_id: job.id.clone(),
        action: "finished".into(),
        status: Some(o.status.into()),
        error: o.error.clone(),
        summary: o.summary.clone(),
        delivered: o.delivered,
        delivery_status: o.delivery_status.map(str::to_string),
        delivery_error: o.delivery_error.clone(),
        session_key: o.session_key.clone(),
        run_id: Some(run_id.to_string()),
        run_at_ms: Some(run_at),
        duration_ms: Some(duration_ms),
        next_run_at_ms: next,
        job_name: Some(job.name.clone()),
        rest: Default::default(),
    };
    if let Err(e) = store::append_run(&state.cron.path, &entry) {
        tracing::warn!(target: "cron", "cannot append the run log of {}: {e}", job.id);
    }
    emit(
        state,
        &CronEvent {
            job_id: job.id.clone(),
            action: "finished".into(),
            run_id: Some(run_id.to_string()),
            run_at_ms: Some(run_at),
            duration_ms: Some(duration_ms),
            status: Some(o.status.into()),
            error: o.error,
            summary: o.summary,
            next_run_at_ms: next,
            session_key: o.session_key,
        },
    );
    state.cron.rearm.notify_one();
}
