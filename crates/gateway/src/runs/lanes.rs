//! Which run goes when: the idempotency registry (a retried key finds its run), one active run
//! per session with at most [`MAX_QUEUED_PER_SESSION`] waiting behind it, and aborting queued
//! or active runs. The bookkeeping does no I/O; `submit`/`finish`/`abort` add the spawning and
//! the events.

use crate::sync::LockExt;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openclaw_agent::CancelToken;
use openclaw_protocol::ChatState;
use openclaw_protocol::ErrorShape;
use tokio::sync::watch;

use super::execute::{aborted_result, spawn_run};
use super::{Run, RunSpec, RunStatus, Runs, Submitted};
use crate::state::{AppState, now_ms};

/// Idempotency entries are kept this long (§8) and at most this many.
const DEDUPE_TTL: Duration = Duration::from_secs(300);
const DEDUPE_MAX: usize = 1000;
/// Runs waiting behind the active one, per session.
pub const MAX_QUEUED_PER_SESSION: usize = 8;

#[derive(Default)]
struct SessionLane {
    active: Option<Arc<Run>>,
    queued: VecDeque<(Arc<Run>, RunSpec)>,
}

/// The session lanes of one generation; a lane exists while it has an active run.
#[derive(Default)]
pub(super) struct Lanes(HashMap<String, SessionLane>);

/// What [`Runs::enqueue`] did with a spec.
pub(super) enum Enqueued {
    /// Its session was idle: the caller starts it now.
    Start(Arc<Run>),
    /// Waiting behind the session's active run.
    Queued(Arc<Run>),
    /// The idempotency key is known: the existing run, nothing new queued.
    Existing(Arc<Run>),
}

/// A run ended or cancelled by [`Runs::stop`].
pub(super) enum Stopped {
    /// It never started: it is now done (aborted).
    Queued(Arc<Run>),
    /// It was running: cancelled, it ends by itself.
    Running(Arc<Run>),
}

fn prune(map: &mut HashMap<String, Arc<Run>>) {
    map.retain(|_, r| !(r.is_done() && r.created.elapsed() > DEDUPE_TTL));
    if map.len() > DEDUPE_MAX {
        let mut done: Vec<(Instant, String)> = map
            .iter()
            .filter(|(_, r)| r.is_done())
            .map(|(k, r)| (r.created, k.clone()))
            .collect();
        done.sort();
        for (_, k) in done.into_iter().take(map.len() - DEDUPE_MAX) {
            map.remove(&k);
        }
    }
}

impl Runs {
    /// Runs of a session that are queued or active.
    pub fn session_runs(&self, session_key: &str) -> Vec<Arc<Run>> {
        let lanes = self.lanes.locked();
        let Some(lane) = lanes.0.get(session_key) else {
            return Vec::new();
        };
        lane.queued
            .iter()
            .map(|(r, _)| r.clone())
            .chain(lane.active.clone())
            .collect()
    }

    /// Registers a run under its idempotency key and puts it in its session's lane. A full
    /// lane refuses it (UNAVAILABLE, retry later) and forgets the key, so a retry can succeed.
    pub(super) fn enqueue(&self, spec: &RunSpec) -> Result<Enqueued, ErrorShape> {
        let run = {
            let mut map = self.by_key.locked();
            prune(&mut map);
            if let Some(existing) = map.get(&spec.run_id) {
                return Ok(Enqueued::Existing(existing.clone()));
            }
            let (status, _) = watch::channel(RunStatus::Queued);
            let run = Arc::new(Run {
                run_id: spec.run_id.clone(),
                session_key: spec.session_key.clone(),
                agent_id: spec.agent_id.clone(),
                accepted_at: now_ms(),
                status,
                cancel: CancelToken::new(),
                created: Instant::now(),
            });
            map.insert(spec.run_id.clone(), run.clone());
            run
        };
        let mut lanes = self.lanes.locked();
        let lane = lanes.0.entry(spec.session_key.clone()).or_default();
        if lane.active.is_none() {
            lane.active = Some(run.clone());
            Ok(Enqueued::Start(run))
        } else if lane.queued.len() >= MAX_QUEUED_PER_SESSION {
            drop(lanes);
            {
                let mut m = self.by_key.locked();
                m.remove(&spec.run_id);
            }
            Err(ErrorShape::unavailable(format!(
                "session {} has {MAX_QUEUED_PER_SESSION} runs queued; retry later",
                spec.session_key
            ))
            .with_retry_after(1000))
        } else {
            lane.queued.push_back((run.clone(), spec.clone()));
            Ok(Enqueued::Queued(run))
        }
    }

    /// Ends the session's active run and makes the next queued one (not aborted meanwhile)
    /// active; the caller starts it.
    pub(super) fn next_after(&self, session_key: &str) -> Option<(Arc<Run>, RunSpec)> {
        let mut lanes = self.lanes.locked();
        let lane = lanes.0.get_mut(session_key)?;
        lane.active = None;
        let mut next = None;
        while let Some((run, spec)) = lane.queued.pop_front() {
            if run.is_done() {
                continue;
            }
            lane.active = Some(run.clone());
            next = Some((run, spec));
            break;
        }
        if lane.active.is_none() {
            lanes.0.remove(session_key);
        }
        next
    }

    /// Cancels the queued and active runs of a session (or only `run_id`); queued ones end
    /// here as aborted.
    pub(super) fn stop(&self, session_key: &str, run_id: Option<&str>) -> Vec<Stopped> {
        let mut out = Vec::new();
        for run in self.session_runs(session_key) {
            if run_id.is_some_and(|id| id != run.run_id) || run.is_done() {
                continue;
            }
            run.cancel.cancel();
            if matches!(&*run.status.borrow(), RunStatus::Queued) {
                let now = now_ms();
                let _ = run
                    .status
                    .send_replace(RunStatus::Done(Box::new(aborted_result(&run, now, now))));
                out.push(Stopped::Queued(run));
            } else {
                out.push(Stopped::Running(run));
            }
        }
        out
    }

    /// Registers a run (or returns the existing one for this idempotency key) and starts it
    /// when its session is idle.
    pub fn submit(state: &Arc<AppState>, spec: RunSpec) -> Result<Submitted, ErrorShape> {
        Ok(match state.runs.enqueue(&spec)? {
            Enqueued::Start(run) => {
                spawn_run(state.clone(), run.clone(), spec);
                Submitted::New(run)
            }
            Enqueued::Queued(run) => Submitted::New(run),
            Enqueued::Existing(run) => Submitted::Existing(run),
        })
    }

    /// Marks the session's active run finished and starts the next queued one.
    pub(super) fn finish(state: &Arc<AppState>, session_key: &str) {
        if let Some((run, spec)) = state.runs.next_after(session_key) {
            spawn_run(state.clone(), run, spec);
        }
    }

    /// Aborts the queued and active runs of a session (or one run). Returns the aborted ids.
    pub fn abort(state: &Arc<AppState>, session_key: &str, run_id: Option<&str>) -> Vec<String> {
        state
            .runs
            .stop(session_key, run_id)
            .into_iter()
            .map(|s| match s {
                Stopped::Queued(run) => {
                    let mut ev = super::events::chat_event(&run, 1, ChatState::Aborted);
                    ev.stop_reason = Some("aborted".into());
                    super::events::emit_chat(state, &ev);
                    run.run_id.clone()
                }
                Stopped::Running(run) => run.run_id.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(run_id: &str, session: &str) -> RunSpec {
        RunSpec {
            run_id: run_id.into(),
            agent_id: "main".into(),
            session_key: session.into(),
            message: "hi".into(),
            extra_system_prompt: None,
            timeout: Duration::from_secs(1),
            stream_tx: None,
            ephemeral: true,
            persisted: None,
        }
    }

    fn ids(runs: &[Arc<Run>]) -> Vec<&str> {
        runs.iter().map(|r| r.run_id.as_str()).collect()
    }

    #[test]
    fn first_run_starts_the_rest_queue_in_order_and_the_ninth_waiting_is_refused() {
        let runs = Runs::default();
        assert!(matches!(
            runs.enqueue(&spec("r0", "s")),
            Ok(Enqueued::Start(_))
        ));
        for i in 1..=MAX_QUEUED_PER_SESSION {
            let queued = runs.enqueue(&spec(&format!("r{i}"), "s"));
            assert!(matches!(queued, Ok(Enqueued::Queued(_))), "r{i}");
        }
        let Err(full) = runs.enqueue(&spec("r9", "s")) else {
            panic!("a ninth queued run must be refused");
        };
        assert_eq!(full.code, openclaw_protocol::codes::UNAVAILABLE);
        assert_eq!(full.retry_after_ms, Some(1000));
        // The refused key is forgotten: a retry is a new submission, not a duplicate.
        assert!(runs.find("r9").is_none());
        // Another session is not held up by this one.
        assert!(matches!(
            runs.enqueue(&spec("o0", "other")),
            Ok(Enqueued::Start(_))
        ));

        let mut order = Vec::new();
        while let Some((run, spec)) = runs.next_after("s") {
            assert_eq!(run.run_id, spec.run_id);
            order.push(run.run_id.clone());
        }
        let expected: Vec<String> = (1..=MAX_QUEUED_PER_SESSION)
            .map(|i| format!("r{i}"))
            .collect();
        assert_eq!(order, expected);
        assert!(runs.session_runs("s").is_empty());
        // An idle session starts the next run at once.
        assert!(matches!(
            runs.enqueue(&spec("r10", "s")),
            Ok(Enqueued::Start(_))
        ));
    }

    #[test]
    fn a_known_idempotency_key_returns_the_same_run() {
        let runs = Runs::default();
        let Ok(Enqueued::Start(first)) = runs.enqueue(&spec("k", "s")) else {
            panic!("first submission starts");
        };
        let Ok(Enqueued::Existing(again)) = runs.enqueue(&spec("k", "s")) else {
            panic!("same key must find the run");
        };
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(ids(&runs.session_runs("s")), ["k"]);
    }

    #[test]
    fn abort_ends_queued_runs_cancels_the_active_one_and_skips_aborted_ones_later() {
        let runs = Runs::default();
        for id in ["a", "b", "c"] {
            assert!(runs.enqueue(&spec(id, "s")).is_ok());
        }
        let stopped = runs.stop("s", Some("b"));
        assert!(matches!(stopped.as_slice(), [Stopped::Queued(r)] if r.run_id == "b"));
        let b = runs.find("b").expect("b is registered");
        let result = b.result().expect("an aborted queued run is done");
        assert!(result.aborted && !result.ok);
        assert!(!runs.find("a").expect("a").cancel.is_cancelled());

        // `b` is skipped: `c` follows `a`.
        let (next, _) = runs.next_after("s").expect("c is next");
        assert_eq!(next.run_id, "c");
        // As `spawn_run` does once the run's task starts.
        next.status
            .send_replace(RunStatus::Running { started_at: 0 });

        let stopped = runs.stop("s", None);
        assert!(matches!(stopped.as_slice(), [Stopped::Running(r)] if r.run_id == "c"));
        assert!(next.cancel.is_cancelled());
        // A run that is already done is not aborted twice.
        assert!(runs.stop("s", Some("b")).is_empty());
        assert!(runs.next_after("s").is_none());
        assert!(runs.session_runs("s").is_empty());
    }
}
