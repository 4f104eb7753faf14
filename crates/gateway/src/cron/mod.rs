//! The cron scheduler: jobs from `cron/jobs.json` (`store`), their next run times
//! (`schedule`), one timer task per generation that sleeps until the earliest due job (never a
//! timer per job) and is re-armed when jobs change, and the runs themselves (`run`).
//!
//! Guarantees:
//! - A job never runs twice at once (the in-memory running set), and at most
//!   `cron.maxConcurrentRuns` jobs run together.
//! - Missed runs after downtime run once, then the schedule continues from now (no burst):
//!   `every` jumps to its next grid slot after the run, `cron` to the next match.
//! - Crash safety: `state.runningAtMs` is persisted before a run starts and `nextRunAtMs` is
//!   advanced only when it ends, so a process killed mid-run finds the job still due on the
//!   next start and runs it once more with the same run id (`cron:<jobId>:<slotMs>`); the
//!   reply's delivery is idempotent per run id (the `send` dedupe record), so the chat gets it
//!   once. A run that finished is recorded before anything else can happen, so it never repeats.

pub mod run;
pub mod schedule;
pub mod store;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use openclaw_protocol::ErrorShape;
use openclaw_protocol::cron::{
    CronAddParams, CronDelivery, CronEvent, CronJob, CronJobPatch, CronJobState, CronPayload,
    CronSchedule, StoredPayload, StoredSchedule,
};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use crate::hub::Audience;
use crate::state::AppState;
use crate::sync::LockExt;

/// The longest the timer sleeps (a config change or a clock jump is noticed by then).
const MAX_TIMER: Duration = Duration::from_secs(60);
/// How often the timer re-reads the test clock.
const TEST_CLOCK_POLL: Duration = Duration::from_millis(20);

/// The scheduler of one generation.
pub struct Cron {
    path: PathBuf,
    inner: std::sync::Mutex<Inner>,
    rearm: Notify,
    manual_seq: AtomicU64,
    /// Timer wake-ups so far (the benchmark reads it via `cron.status`).
    wakeups: AtomicU64,
}

#[derive(Default)]
struct Inner {
    jobs: Vec<CronJob>,
    unreadable: Vec<Value>,
    running: HashSet<String>,
    /// The jobs file could not be read: nothing is written over it.
    load_error: Option<String>,
}

/// `invalid <method> params: at <path>: <message>`.
pub fn invalid(method: &str, path: &str, message: &str) -> ErrorShape {
    ErrorShape::invalid_request(format!("invalid {method} params: at {path}: {message}"))
}

/// The jobs file in force: `cron.store`, else `<state>/cron/jobs.json`.
pub fn store_path(
    paths: &openclaw_config::Paths,
    cfg: &openclaw_config::OpenClawConfig,
) -> PathBuf {
    match cfg.cron.as_ref().and_then(|c| c.store.as_deref()) {
        Some(s) if !s.trim().is_empty() => {
            let s = s.trim();
            match s.strip_prefix("~/") {
                Some(rest) => std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .join(rest),
                None => PathBuf::from(s),
            }
        }
        _ => paths.state_dir.join("cron").join("jobs.json"),
    }
}

fn scheduled(job: &CronJob) -> Option<&CronSchedule> {
    match &job.schedule {
        StoredSchedule::Known(s) => Some(s),
        StoredSchedule::Other(_) => None,
    }
}

impl Cron {
    /// Loads the jobs file; jobs without a next run time get one (in memory; the file is only
    /// rewritten when something changes).
    pub fn open(path: PathBuf) -> Cron {
        let mut inner = Inner::default();
        match store::load(&path) {
            Ok(l) => {
                inner.jobs = l.jobs;
                inner.unreadable = l.unreadable;
            }
            Err(e) => {
                tracing::error!(target: "cron", "cannot read {}: {e}; cron jobs are not scheduled", path.display());
                inner.load_error = Some(e.to_string());
            }
        }
        let now = schedule::now_ms();
        for job in &mut inner.jobs {
            if job.enabled
                && job.state.next_run_at_ms.is_none()
                && let Some(s) = scheduled(job)
            {
                job.state.next_run_at_ms = schedule::first_run(s, now);
            }
        }
        crate::memory::trim();
        Cron {
            path,
            inner: std::sync::Mutex::new(inner),
            rearm: Notify::new(),
            manual_seq: AtomicU64::new(0),
            wakeups: AtomicU64::new(0),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Saves the jobs (refused while the file on disk could not be read).
    fn save(&self, inner: &Inner) -> Result<(), ErrorShape> {
        if let Some(e) = &inner.load_error {
            return Err(ErrorShape::unavailable(format!(
                "the cron store could not be read ({e}); fix or move it first"
            )));
        }
        store::save(&self.path, &inner.jobs, &inner.unreadable).map_err(|e| {
            tracing::error!(target: "cron", "cannot write {}: {e}", self.path.display());
            ErrorShape::unavailable(format!("cannot write the cron store: {e}"))
        })
    }

    /// Every job (a snapshot).
    pub fn jobs(&self) -> Vec<CronJob> {
        self.inner.locked().jobs.clone()
    }

    pub fn job(&self, id: &str) -> Option<CronJob> {
        self.inner
            .locked()
            .jobs
            .iter()
            .find(|j| j.id == id)
            .cloned()
    }

    /// Jobs running now (`gateway.runtimeStats`).
    pub fn running_count(&self) -> usize {
        self.inner.locked().running.len()
    }

    pub fn is_running(&self, id: &str) -> bool {
        self.inner.locked().running.contains(id)
    }

    pub fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// The earliest next run of an enabled job.
    pub fn next_wake(&self) -> Option<u64> {
        self.inner
            .locked()
            .jobs
            .iter()
            .filter(|j| j.enabled && scheduled(j).is_some())
            .filter_map(|j| j.state.next_run_at_ms)
            .min()
    }
}

/// `cron.enabled` (default true) and not switched off by `OPENCLAW_SKIP_CRON`.
pub fn enabled(state: &AppState) -> bool {
    openclaw_config::env::var("SKIP_CRON").is_none()
        && state
            .config()
            .config
            .cron
            .as_ref()
            .and_then(|c| c.enabled)
            .unwrap_or(true)
}

fn max_concurrent(state: &AppState) -> usize {
    state
        .config()
        .config
        .cron
        .as_ref()
        .and_then(|c| c.max_concurrent_runs)
        .map(|n| n.max(1) as usize)
        .unwrap_or(1)
}

/// Sends a `cron` event to operators.
pub fn emit(state: &AppState, ev: &CronEvent) {
    let payload = serde_json::to_string(ev).unwrap_or_default();
    state.hub.broadcast(
        openclaw_protocol::events::names::CRON,
        &payload,
        None,
        true,
        Audience::Operators,
    );
}

fn changed(state: &AppState, job_id: &str, action: &str, next: Option<u64>) {
    state.cron.rearm.notify_one();
    emit(
        state,
        &CronEvent {
            job_id: job_id.to_string(),
            action: action.into(),
            run_id: None,
            run_at_ms: None,
            duration_ms: None,
            status: None,
            error: None,
            summary: None,
            next_run_at_ms: next,
            session_key: None,
        },
    );
}

/// The timer task of one generation: starts what is due, sleeps until the earliest next run
/// (or a change), and stops with the generation.
pub fn spawn(state: &Arc<AppState>) {
    let s = state.clone();
    tokio::spawn(async move {
        let mut stop = s.shutdown.subscribe();
        loop {
            s.cron.wakeups.fetch_add(1, Ordering::Relaxed);
            let wait = tick(&s).map(Duration::from_millis).unwrap_or(MAX_TIMER);
            let mut wait = wait.min(MAX_TIMER);
            if schedule::test_clock_active() {
                wait = wait.min(TEST_CLOCK_POLL);
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = s.cron.rearm.notified() => {}
                _ = stop.changed() => return,
            }
        }
    });
}

/// Starts the due jobs (oldest slot first, within the concurrency limit); returns the
/// milliseconds until the next job is due (None: nothing scheduled).
fn tick(state: &Arc<AppState>) -> Option<u64> {
    if !enabled(state) {
        return None;
    }
    let now = schedule::now_ms();
    let max = max_concurrent(state);
    let mut starts = Vec::new();
    let next = {
        let mut inner = state.cron.inner.locked();
        if inner.load_error.is_some() {
            return None;
        }
        let mut due: Vec<(u64, usize)> = inner
            .jobs
            .iter()
            .enumerate()
            .filter(|(_, j)| j.enabled && scheduled(j).is_some())
            .filter(|(_, j)| !inner.running.contains(&j.id))
            .filter_map(|(i, j)| j.state.next_run_at_ms.filter(|t| *t <= now).map(|t| (t, i)))
            .collect();
        due.sort();
        for (slot, i) in due {
            if inner.running.len() >= max {
                break;
            }
            let id = inner.jobs[i].id.clone();
            inner.running.insert(id);
            inner.jobs[i].state.running_at_ms = Some(now);
            starts.push((inner.jobs[i].clone(), slot));
        }
        if !starts.is_empty()
            && let Err(e) = state.cron.save(&inner)
        {
            tracing::error!(target: "cron", "{}", e.message);
        }
        inner
            .jobs
            .iter()
            .filter(|j| j.enabled && scheduled(j).is_some() && !inner.running.contains(&j.id))
            .filter_map(|j| j.state.next_run_at_ms)
            .filter(|t| *t > now)
            .min()
    };
    for (job, slot) in starts {
        let run_id = format!("cron:{}:{slot}", job.id);
        tokio::spawn(run::run_job(state.clone(), job, run_id, Some(slot)));
    }
    next.map(|t| t.saturating_sub(now))
}

/// Whether `channel` may be named in a delivery (`last` or a channel this gateway has).
fn known_channel(channel: &str) -> bool {
    let c = channel.to_ascii_lowercase();
    c == "last" || crate::channels::LABELS.iter().any(|(id, _, _)| *id == c)
}

fn check_delivery(method: &str, base: &str, d: &CronDelivery) -> Result<(), ErrorShape> {
    if let Some(c) = &d.channel
        && !known_channel(c)
    {
        return Err(invalid(
            method,
            &format!("{base}/channel"),
            &format!("unknown channel: {c}"),
        ));
    }
    Ok(())
}

fn check_target(
    method: &str,
    base: &str,
    target: &str,
    payload: &CronPayload,
) -> Result<(), ErrorShape> {
    match (target, payload) {
        ("main", CronPayload::AgentTurn { .. }) => Err(invalid(
            method,
            &format!("{base}/payload/kind"),
            "main jobs need a systemEvent payload",
        )),
        ("isolated", CronPayload::SystemEvent { .. }) => Err(invalid(
            method,
            &format!("{base}/payload/kind"),
            "isolated jobs need an agentTurn payload",
        )),
        _ => Ok(()),
    }
}

fn check_agent(
    state: &AppState,
    method: &str,
    path: &str,
    agent: Option<&str>,
) -> Result<(), ErrorShape> {
    if let Some(a) = agent {
        let (ids, _) = crate::agents::agents(state);
        if !ids.iter().any(|i| i.eq_ignore_ascii_case(a)) {
            return Err(invalid(method, path, &format!("unknown agent id: {a}")));
        }
    }
    Ok(())
}

/// Creates a job (`cron.add`, the `cron` tool).
pub fn add(state: &AppState, method: &str, p: CronAddParams) -> Result<CronJob, ErrorShape> {
    let now = schedule::now_ms();
    let sched = schedule::normalize(&p.schedule, now)
        .map_err(|e| invalid(method, &format!("/schedule/{}", e.field), &e.message))?;
    let target = p.session_target.clone().unwrap_or_else(|| {
        match p.payload {
            CronPayload::SystemEvent { .. } => "main",
            CronPayload::AgentTurn { .. } => "isolated",
        }
        .into()
    });
    check_target(method, "", &target, &p.payload)?;
    if let Some(d) = &p.delivery {
        check_delivery(method, "/delivery", d)?;
    }
    check_agent(state, method, "/agentId", p.agent_id.as_deref())?;
    let mut rest = Map::new();
    for (k, v) in [
        ("declarationKey", p.declaration_key.map(Value::String)),
        ("displayName", p.display_name.map(Value::String)),
        ("failureAlert", p.failure_alert),
    ] {
        if let Some(v) = v {
            rest.insert(k.into(), v);
        }
    }
    let enabled = p.enabled.unwrap_or(true);
    let is_at = matches!(sched, CronSchedule::At { .. });
    let job = CronJob {
        id: uuid::Uuid::new_v4().to_string(),
        agent_id: p.agent_id.map(|a| a.to_ascii_lowercase()),
        session_key: p.session_key,
        name: p.name,
        description: p.description,
        enabled,
        // One-shot jobs go away after a successful run unless told otherwise (as the reference).
        delete_after_run: p.delete_after_run.or(is_at.then_some(true)),
        created_at_ms: now,
        updated_at_ms: now,
        state: CronJobState {
            next_run_at_ms: if enabled {
                schedule::first_run(&sched, now)
            } else {
                None
            },
            ..Default::default()
        },
        schedule: StoredSchedule::Known(sched),
        session_target: target,
        wake_mode: p.wake_mode.unwrap_or_else(|| "now".into()),
        payload: StoredPayload::Known(p.payload),
        delivery: p.delivery,
        rest,
    };
    {
        let mut inner = state.cron.inner.locked();
        inner.jobs.push(job.clone());
        if let Err(e) = state.cron.save(&inner) {
            inner.jobs.retain(|j| j.id != job.id);
            return Err(e);
        }
    }
    changed(state, &job.id, "added", job.state.next_run_at_ms);
    Ok(job)
}

/// Merges `patch` onto `base` (`null` removes a key).
fn merge(base: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            base.remove(k);
        } else {
            base.insert(k.clone(), v.clone());
        }
    }
}

fn nullable_string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// Applies a patch (`cron.update`, the `cron` tool); re-arms the timer.
pub fn update(
    state: &AppState,
    method: &str,
    id: &str,
    patch: CronJobPatch,
) -> Result<CronJob, ErrorShape> {
    let now = schedule::now_ms();
    let mut inner = state.cron.inner.locked();
    let Some(idx) = inner.jobs.iter().position(|j| j.id == id) else {
        return Err(ErrorShape::invalid_request(format!(
            "unknown cron job id: {id}"
        )));
    };
    let old = inner.jobs[idx].clone();
    let mut job = old.clone();
    if let Some(n) = patch.name {
        job.name = n;
    }
    if let Some(d) = patch.description {
        job.description = Some(d);
    }
    if let Some(v) = patch.display_name {
        match nullable_string(&v) {
            Some(s) => job.rest.insert("displayName".into(), Value::String(s)),
            None => job.rest.remove("displayName"),
        };
    }
    if let Some(v) = patch.agent_id {
        let a = nullable_string(&v).map(|a| a.to_ascii_lowercase());
        check_agent(state, method, "/patch/agentId", a.as_deref())?;
        job.agent_id = a;
    }
    if let Some(v) = patch.session_key {
        job.session_key = nullable_string(&v);
    }
    if let Some(e) = patch.enabled {
        job.enabled = e;
    }
    if let Some(d) = patch.delete_after_run {
        job.delete_after_run = Some(d);
    }
    if let Some(t) = patch.session_target {
        job.session_target = t;
    }
    if let Some(w) = patch.wake_mode {
        job.wake_mode = w;
    }
    if let Some(v) = patch.failure_alert {
        if v.is_null() {
            job.rest.remove("failureAlert");
        } else {
            job.rest.insert("failureAlert".into(), v);
        }
    }
    let mut rescheduled = false;
    if let Some(s) = &patch.schedule {
        let s = schedule::normalize(s, now)
            .map_err(|e| invalid(method, &format!("/patch/schedule/{}", e.field), &e.message))?;
        job.schedule = StoredSchedule::Known(s);
        rescheduled = true;
    }
    if let Some(p) = &patch.payload {
        let mut base = match serde_json::to_value(&job.payload) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if p.get("kind").is_some_and(|k| Some(k) != base.get("kind")) {
            base = Map::new();
        }
        merge(&mut base, p);
        let parsed: CronPayload = serde_json::from_value(Value::Object(base))
            .map_err(|e| invalid(method, "/patch/payload", &e.to_string()))?;
        job.payload = StoredPayload::Known(parsed);
    }
    if let Some(d) = &patch.delivery {
        let mut base = match job.delivery.as_ref().map(serde_json::to_value) {
            Some(Ok(Value::Object(m))) => m,
            _ => Map::new(),
        };
        merge(&mut base, d);
        base.entry("mode").or_insert_with(|| json!("announce"));
        let parsed: CronDelivery = serde_json::from_value(Value::Object(base))
            .map_err(|e| invalid(method, "/patch/delivery", &e.to_string()))?;
        check_delivery(method, "/patch/delivery", &parsed)?;
        job.delivery = Some(parsed);
    }
    if let Some(st) = &patch.state {
        let mut base = match serde_json::to_value(&job.state) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        merge(&mut base, st);
        job.state = serde_json::from_value(Value::Object(base))
            .map_err(|e| invalid(method, "/patch/state", &e.to_string()))?;
    }
    if let StoredPayload::Known(p) = &job.payload {
        check_target(method, "/patch", &job.session_target, p)?;
    }
    let enabled_now = job.enabled && !old.enabled;
    if (rescheduled || enabled_now) && patch.state.is_none() {
        job.state.next_run_at_ms = scheduled(&job).and_then(|s| schedule::first_run(s, now));
    }
    job.updated_at_ms = now;
    inner.jobs[idx] = job.clone();
    if let Err(e) = state.cron.save(&inner) {
        inner.jobs[idx] = old;
        return Err(e);
    }
    drop(inner);
    changed(state, id, "updated", job.state.next_run_at_ms);
    Ok(job)
}

/// Removes a job (and its run log); false when there was none.
pub fn remove(state: &AppState, id: &str) -> Result<bool, ErrorShape> {
    let mut inner = state.cron.inner.locked();
    let Some(idx) = inner.jobs.iter().position(|j| j.id == id) else {
        return Ok(false);
    };
    let old = inner.jobs.remove(idx);
    if let Err(e) = state.cron.save(&inner) {
        inner.jobs.insert(idx, old);
        return Err(e);
    }
    drop(inner);
    store::remove_runs(&state.cron.path, id);
    changed(state, id, "removed", None);
    Ok(true)
}

/// `cron.run`: `force` runs now whatever the schedule, `due` only when due, `if-enabled` only
/// when enabled. A job already running is not started again.
pub fn run_now(state: &Arc<AppState>, id: &str, mode: &str) -> Result<Value, ErrorShape> {
    let now = schedule::now_ms();
    let (job, run_id, slot) = {
        let mut inner = state.cron.inner.locked();
        let Some(idx) = inner.jobs.iter().position(|j| j.id == id) else {
            return Err(ErrorShape::invalid_request(format!(
                "unknown cron job id: {id}"
            )));
        };
        let job = &inner.jobs[idx];
        if inner.running.contains(id) {
            return Ok(json!({"ok": true, "ran": false, "reason": "already-running"}));
        }
        let due = job.enabled && job.state.next_run_at_ms.is_some_and(|t| t <= now);
        match mode {
            "due" if !due => return Ok(json!({"ok": true, "ran": false, "reason": "not-due"})),
            "if-enabled" if !job.enabled => {
                return Ok(json!({"ok": true, "ran": false, "reason": "disabled"}));
            }
            _ => {}
        }
        let (run_id, slot) = if mode == "due" {
            let slot = job.state.next_run_at_ms.unwrap_or(now);
            (format!("cron:{id}:{slot}"), Some(slot))
        } else {
            let n = state.cron.manual_seq.fetch_add(1, Ordering::Relaxed) + 1;
            (format!("manual:{id}:{now}:{n}"), None)
        };
        inner.running.insert(id.to_string());
        inner.jobs[idx].state.running_at_ms = Some(now);
        let job = inner.jobs[idx].clone();
        if let Err(e) = state.cron.save(&inner) {
            tracing::error!(target: "cron", "{}", e.message);
        }
        (job, run_id, slot)
    };
    tokio::spawn(run::run_job(state.clone(), job, run_id.clone(), slot));
    Ok(json!({"ok": true, "enqueued": true, "runId": run_id, "processInstanceId": state.boot_id}))
}
