//! Which run goes when: the idempotency registry (a retried key finds its run), one active run
//! per session, and what a message does when its session is busy (`messages.queue`, agent.md
//! §9): steered into the active run, queued as its own followup turn, collected with the other
//! queued messages into one turn after a quiet window, or interrupting the active run. Over
//! the cap the oldest waiting message is dropped (and summarized) or the newest refused.
//! Runs from other sources (HTTP API, hooks, heartbeat, replayed channel messages) queue in
//! plain order, at most [`MAX_QUEUED_PER_SESSION`] behind the active run.
//!
//! The bookkeeping does no I/O; `submit`/`finish`/`abort` add the spawning, the quiet-window
//! timer and the events.

use crate::sync::LockExt;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openclaw_agent::{CancelToken, SessionStore, Steering};
use openclaw_config::sections::QueueDrop;
use openclaw_protocol::ChatState;
use openclaw_protocol::ErrorShape;
use tokio::sync::watch;

use super::execute::{aborted_result, spawn_run};
use super::queue::{self, Mode, Origin, Settings};
use super::{Run, RunResult, RunSpec, RunStatus, Runs, Submitted};
use crate::state::{AppState, now_ms};

/// Idempotency entries are kept this long (§8) and at most this many.
const DEDUPE_TTL: Duration = Duration::from_secs(300);
const DEDUPE_MAX: usize = 1000;
/// Runs from non-message sources waiting behind the active one, per session.
pub const MAX_QUEUED_PER_SESSION: usize = 8;

/// How a waiting run leaves the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Plain order, no quiet window (HTTP API, hooks, heartbeat, replays).
    Fifo,
    /// Its own turn, after the quiet window.
    Followup,
    /// One turn with the other collected messages next to it, after the quiet window.
    Collect,
    /// Next, at once (the active run was aborted for it).
    Interrupt,
}

struct Item {
    run: Arc<Run>,
    spec: RunSpec,
    kind: Kind,
    /// The channel it came from: only messages of one channel are steered into or collected
    /// with each other, so every reply goes back where its message came from.
    channel: Option<String>,
}

/// The run a session is working on, and the runs whose messages it answers too.
struct Active {
    run: Arc<Run>,
    channel: Option<String>,
    /// Collected with it or summarized into its prompt.
    batch: Vec<Arc<Run>>,
    /// Steered into it, in the order they were pushed to its steering inbox.
    steered: Vec<(Arc<Run>, RunSpec)>,
}

#[derive(Default)]
struct SessionLane {
    active: Option<Active>,
    /// A timer is waiting out the quiet window: the session counts as busy.
    draining: bool,
    queued: VecDeque<Item>,
    last_enqueued: Option<Instant>,
    /// Quiet window of the latest message.
    debounce: Duration,
    /// Messages dropped over the cap under `summarize`: their runs and summary lines, carried
    /// by the next turn.
    dropped: Vec<Arc<Run>>,
    dropped_count: usize,
    summary: Vec<String>,
}

impl SessionLane {
    fn is_idle(&self) -> bool {
        self.active.is_none() && !self.draining && self.queued.iter().all(|i| i.run.is_done())
    }

    fn waiting(&self) -> usize {
        self.queued.iter().filter(|i| !i.run.is_done()).count()
    }

    fn pop_oldest_waiting(&mut self) -> Option<Item> {
        let at = self.queued.iter().position(|i| !i.run.is_done())?;
        self.queued.remove(at)
    }
}

/// The session lanes of one generation; a lane exists while it has work.
#[derive(Default)]
pub(super) struct Lanes(HashMap<String, SessionLane>);

/// How a submission is admitted.
#[derive(Debug, Clone)]
pub(super) enum Admit {
    /// Plain order behind the active run (at most [`MAX_QUEUED_PER_SESSION`]).
    Fifo,
    /// A user's message from `channel`: the queue mode decides.
    Message {
        settings: Settings,
        channel: Option<String>,
    },
}

/// What [`Runs::enqueue`] did with a spec.
pub(super) enum Enqueued {
    /// Its session was idle: the caller starts it now.
    Start(Arc<Run>),
    /// Waiting behind the session's active run.
    Queued(Arc<Run>),
    /// In the active run's steering inbox: answered by that run.
    Steered(Arc<Run>),
    /// The idempotency key is known: the existing run, nothing new queued.
    Existing(Arc<Run>),
}

/// An admission and the queued runs it ended (dropped over the cap, or aborted by an
/// interrupt), which the caller announces.
pub(super) struct Admission {
    pub enqueued: Enqueued,
    pub ended: Vec<Arc<Run>>,
}

/// A run ended or cancelled by [`Runs::stop`].
pub(super) enum Stopped {
    /// It never started: it is now done (aborted).
    Queued(Arc<Run>),
    /// It was running: cancelled, it ends by itself.
    Running(Arc<Run>),
}

/// What a session does next.
pub(super) enum Next {
    /// Nothing waits (or another path already started the next run).
    Idle,
    /// Start this run now (it is the session's active run already).
    Start(Arc<Run>, Box<RunSpec>),
    /// Look again after the quiet window.
    Wait(Duration),
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

/// Ends a run that never started as aborted; `false` when it had ended already.
fn end_aborted(run: &Run) -> bool {
    if run.is_done() {
        return false;
    }
    run.cancel.cancel();
    let now = now_ms();
    let _ = run
        .status
        .send_replace(RunStatus::Done(Box::new(aborted_result(run, now, now))));
    true
}

fn mark_running(run: &Run, started_at: u64) {
    if !run.is_done() {
        let _ = run.status.send_replace(RunStatus::Running { started_at });
    }
}

/// The result of a run whose message `host` answered.
fn folded_result(run: &Run, host: &Run, r: &RunResult) -> RunResult {
    let mut out = r.clone();
    out.payload.run_id = run.run_id.clone();
    out.final_text = String::new();
    out.folded_into = Some(host.run_id.clone());
    out
}

impl Runs {
    /// Runs of a session that are queued, active, or answered by the active one.
    pub fn session_runs(&self, session_key: &str) -> Vec<Arc<Run>> {
        let lanes = self.lanes.locked();
        let Some(lane) = lanes.0.get(session_key) else {
            return Vec::new();
        };
        let mut out: Vec<Arc<Run>> = lane.queued.iter().map(|i| i.run.clone()).collect();
        out.extend(lane.dropped.iter().cloned());
        if let Some(a) = &lane.active {
            out.extend(a.batch.iter().cloned());
            out.extend(a.steered.iter().map(|(r, _)| r.clone()));
            out.push(a.run.clone());
        }
        out
    }

    /// (sessions with an active run, runs waiting, runs remembered for idempotency), for
    /// `gateway.runtimeStats`.
    pub fn counts(&self) -> (usize, usize, usize) {
        let (active, waiting) = {
            let lanes = self.lanes.locked();
            lanes.0.values().fold((0, 0), |(a, w), l| {
                (a + usize::from(l.active.is_some()), w + l.waiting())
            })
        };
        (active, waiting, self.by_key.locked().len())
    }

    fn register(&self, spec: &RunSpec) -> Result<Arc<Run>, Arc<Run>> {
        let mut map = self.by_key.locked();
        prune(&mut map);
        if let Some(existing) = map.get(&spec.run_id) {
            return Err(existing.clone());
        }
        let (status, _) = watch::channel(RunStatus::Queued);
        let run = Arc::new(Run {
            run_id: spec.run_id.clone(),
            session_key: spec.session_key.clone(),
            agent_id: spec.agent_id.clone(),
            accepted_at: now_ms(),
            status,
            cancel: CancelToken::new(),
            steering: Steering::new(),
            created: Instant::now(),
        });
        map.insert(spec.run_id.clone(), run.clone());
        Ok(run)
    }

    fn forget(&self, run_id: &str) {
        self.by_key.locked().remove(run_id);
    }

    /// Registers a run under its idempotency key and puts it in its session's lane as `admit`
    /// says. A refused run (full lane) forgets its key, so a retry can succeed.
    pub(super) fn enqueue(&self, spec: &RunSpec, admit: Admit) -> Result<Admission, ErrorShape> {
        let run = match self.register(spec) {
            Ok(run) => run,
            Err(existing) => {
                return Ok(Admission {
                    enqueued: Enqueued::Existing(existing),
                    ended: Vec::new(),
                });
            }
        };
        let channel = match &admit {
            Admit::Fifo => {
                // Not a chat turn: nothing is steered into it.
                let _ = run.steering.close();
                None
            }
            Admit::Message { channel, .. } => channel.clone(),
        };
        let mut ended = Vec::new();
        let mut lanes = self.lanes.locked();
        let lane = lanes.0.entry(spec.session_key.clone()).or_default();
        if lane.is_idle() {
            lane.queued.clear();
            lane.active = Some(Active {
                run: run.clone(),
                channel,
                batch: std::mem::take(&mut lane.dropped),
                steered: Vec::new(),
            });
            return Ok(Admission {
                enqueued: Enqueued::Start(run),
                ended,
            });
        }
        let settings = match admit {
            Admit::Fifo => {
                if lane.waiting() >= MAX_QUEUED_PER_SESSION {
                    drop(lanes);
                    self.forget(&spec.run_id);
                    return Err(ErrorShape::unavailable(format!(
                        "session {} has {MAX_QUEUED_PER_SESSION} runs queued; retry later",
                        spec.session_key
                    ))
                    .with_retry_after(1000));
                }
                lane.queued.push_back(Item {
                    run: run.clone(),
                    spec: spec.clone(),
                    kind: Kind::Fifo,
                    channel,
                });
                return Ok(Admission {
                    enqueued: Enqueued::Queued(run),
                    ended,
                });
            }
            Admit::Message { settings, .. } => settings,
        };
        lane.last_enqueued = Some(Instant::now());
        lane.debounce = settings.debounce;
        let kind = match settings.mode {
            Mode::Steer => {
                // Steering is bounded like the queue: past `cap` messages not yet taken in,
                // the next one is a followup, which the cap and `drop` policy below govern (a
                // burst on one busy session must not grow the inbox without limit).
                if let Some(active) = lane.active.as_mut()
                    && active.channel == channel
                    && active.run.steering.pending() < settings.cap
                    && active.run.steering.push(spec.message.clone()).is_ok()
                {
                    mark_running(&run, now_ms());
                    active.steered.push((run.clone(), spec.clone()));
                    return Ok(Admission {
                        enqueued: Enqueued::Steered(run),
                        ended,
                    });
                }
                // Not steerable (between runs, or the active run does not take steering):
                // its own turn after the current one.
                Kind::Followup
            }
            Mode::Followup => Kind::Followup,
            Mode::Collect => Kind::Collect,
            Mode::Interrupt => {
                if let Some(active) = &lane.active {
                    active.run.cancel.cancel();
                }
                for item in lane.queued.drain(..) {
                    if end_aborted(&item.run) {
                        ended.push(item.run);
                    }
                }
                for r in lane.dropped.drain(..) {
                    if end_aborted(&r) {
                        ended.push(r);
                    }
                }
                lane.dropped_count = 0;
                lane.summary.clear();
                Kind::Interrupt
            }
        };
        while lane.waiting() >= settings.cap {
            match settings.drop {
                QueueDrop::New => {
                    drop(lanes);
                    self.forget(&spec.run_id);
                    return Err(ErrorShape::unavailable(format!(
                        "session {} has {} messages queued (messages.queue.cap); retry later",
                        spec.session_key, settings.cap
                    ))
                    .with_retry_after(1000));
                }
                QueueDrop::Old => {
                    if let Some(old) = lane.pop_oldest_waiting()
                        && end_aborted(&old.run)
                    {
                        ended.push(old.run);
                    }
                }
                QueueDrop::Summarize => {
                    if let Some(old) = lane.pop_oldest_waiting() {
                        lane.summary.push(queue::summary_line(&old.spec.message));
                        lane.dropped_count += 1;
                        lane.dropped.push(old.run);
                        // The summary is bounded like the queue, so a flood cannot grow the
                        // next prompt without limit.
                        let over = lane.summary.len().saturating_sub(settings.cap);
                        lane.summary.drain(..over);
                    }
                }
            }
        }
        let item = Item {
            run: run.clone(),
            spec: spec.clone(),
            kind,
            channel,
        };
        if kind == Kind::Interrupt {
            lane.queued.push_front(item);
        } else {
            lane.queued.push_back(item);
        }
        Ok(Admission {
            enqueued: Enqueued::Queued(run),
            ended,
        })
    }

    /// Ends the session's active run: closes its steering inbox and returns the runs it
    /// answered besides its own (steered messages it never took in go back to the front of
    /// the queue, in order), then decides what comes next.
    pub(super) fn finish_active(&self, session_key: &str) -> (Vec<Arc<Run>>, Next) {
        let mut lanes = self.lanes.locked();
        let Some(lane) = lanes.0.get_mut(session_key) else {
            return (Vec::new(), Next::Idle);
        };
        let mut answered = Vec::new();
        if let Some(active) = lane.active.take() {
            let (taken, _left) = active.run.steering.close();
            answered = active.batch;
            let mut steered = active.steered;
            let left = steered.split_off(taken.min(steered.len()));
            answered.extend(steered.into_iter().map(|(r, _)| r));
            for (run, spec) in left.into_iter().rev() {
                if run.cancel.is_cancelled() {
                    // Stopped with its session (`/stop`, `chat.abort`): not run later.
                    end_aborted(&run);
                    continue;
                }
                let _ = run.status.send_replace(RunStatus::Queued);
                lane.queued.push_front(Item {
                    run,
                    spec,
                    kind: Kind::Followup,
                    channel: active.channel.clone(),
                });
            }
        }
        let next = Self::next_in(lanes.0.get_mut(session_key), Instant::now());
        if matches!(next, Next::Idle) {
            lanes.0.retain(|k, l| k != session_key || !l.is_idle());
        }
        (answered, next)
    }

    /// After the quiet window: what comes next (nothing, when another run started meanwhile).
    pub(super) fn after_quiet(&self, session_key: &str) -> Next {
        let mut lanes = self.lanes.locked();
        let Some(lane) = lanes.0.get_mut(session_key) else {
            return Next::Idle;
        };
        lane.draining = false;
        if lane.active.is_some() {
            return Next::Idle;
        }
        let next = Self::next_in(Some(lane), Instant::now());
        if matches!(next, Next::Idle) {
            lanes.0.retain(|k, l| k != session_key || !l.is_idle());
        }
        next
    }

    /// The next run of an idle lane: the front message (after the quiet window for followups
    /// and collected ones), a collected batch as one prompt, the overflow summary prepended.
    fn next_in(lane: Option<&mut SessionLane>, now: Instant) -> Next {
        let Some(lane) = lane else {
            return Next::Idle;
        };
        while lane.queued.front().is_some_and(|i| i.run.is_done()) {
            lane.queued.pop_front();
        }
        let Some(front) = lane.queued.front() else {
            // Dropped runs with nothing left to carry them: they end unanswered.
            for r in lane.dropped.drain(..) {
                end_aborted(&r);
            }
            lane.dropped_count = 0;
            lane.summary.clear();
            return Next::Idle;
        };
        if matches!(front.kind, Kind::Followup | Kind::Collect)
            && let Some(last) = lane.last_enqueued
        {
            let quiet_at = last + lane.debounce;
            if now < quiet_at {
                lane.draining = true;
                return Next::Wait(quiet_at - now);
            }
        }
        let summary = queue::overflow_summary(lane.dropped_count, &lane.summary);
        let mut batch: Vec<Arc<Run>> = std::mem::take(&mut lane.dropped);
        lane.dropped_count = 0;
        lane.summary.clear();
        let channel = front.channel.clone();
        let (run, mut spec) = if front.kind == Kind::Collect {
            let mut items = Vec::new();
            while let Some(i) = lane.queued.front() {
                if i.run.is_done() {
                    lane.queued.pop_front();
                    continue;
                }
                if i.kind != Kind::Collect || i.channel != channel {
                    break;
                }
                items.extend(lane.queued.pop_front());
            }
            let texts: Vec<&str> = items.iter().map(|i| i.spec.message.as_str()).collect();
            let prompt = queue::collect_prompt(&texts, summary.as_deref());
            let Some(host) = items.pop() else {
                return Next::Idle;
            };
            batch.extend(items.into_iter().map(|i| i.run));
            let mut spec = host.spec;
            spec.message = prompt;
            (host.run, spec)
        } else {
            let Some(item) = lane.queued.pop_front() else {
                return Next::Idle;
            };
            let mut spec = item.spec;
            if let Some(s) = summary {
                spec.message = format!("{s}\n\n{}", spec.message);
            }
            (item.run, spec)
        };
        lane.draining = false;
        let now_ms = now_ms();
        for r in &batch {
            mark_running(r, now_ms);
        }
        // Its run id stays what its sender was told; the prompt may now carry others.
        spec.run_id = run.run_id.clone();
        lane.active = Some(Active {
            run: run.clone(),
            channel,
            batch,
            steered: Vec::new(),
        });
        Next::Start(run, Box::new(spec))
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
                end_aborted(&run);
                out.push(Stopped::Queued(run));
            } else {
                out.push(Stopped::Running(run));
            }
        }
        out
    }

    /// Registers a run (or returns the existing one for this idempotency key) and starts it
    /// when its session is idle; otherwise it waits in plain order. For runs that are not a
    /// user's chat message (HTTP API, hooks, heartbeat, replays).
    pub fn submit(state: &Arc<AppState>, spec: RunSpec) -> Result<Submitted, ErrorShape> {
        Self::admit(state, spec, Admit::Fifo)
    }

    /// [`Runs::submit`] for a user's message (`agent`, `chat.send`, a channel message): when
    /// its session is busy, `messages.queue` decides (steer, followup, collect, interrupt).
    pub fn submit_message(
        state: &Arc<AppState>,
        spec: RunSpec,
        origin: &Origin,
    ) -> Result<Submitted, ErrorShape> {
        let config = state.config();
        let queue_cfg = config
            .config
            .messages
            .as_ref()
            .and_then(|m| m.queue.as_ref());
        // The per-session `/queue` override is read only when it can matter.
        let busy = !state.runs.session_runs(&spec.session_key).is_empty();
        let entry = busy
            .then(|| {
                SessionStore::open(&state.paths.state_dir, &spec.agent_id).get(&spec.session_key)
            })
            .flatten();
        let settings = queue::resolve(queue_cfg, entry.as_ref(), origin);
        let channel = origin.channel.clone();
        Self::admit(state, spec, Admit::Message { settings, channel })
    }

    fn admit(state: &Arc<AppState>, spec: RunSpec, admit: Admit) -> Result<Submitted, ErrorShape> {
        let Admission { enqueued, ended } = state.runs.enqueue(&spec, admit)?;
        for run in ended {
            announce_aborted(state, &run);
        }
        Ok(match enqueued {
            Enqueued::Start(run) => {
                spawn_run(state.clone(), run.clone(), spec);
                Submitted::New(run)
            }
            Enqueued::Queued(run) | Enqueued::Steered(run) => Submitted::New(run),
            Enqueued::Existing(run) => Submitted::Existing(run),
        })
    }

    /// Marks the session's active run `host` finished: the runs it answered end with its
    /// result, and the next message starts (after the quiet window when it asks for one).
    pub(super) fn finish(state: &Arc<AppState>, host: &Arc<Run>) {
        let (answered, next) = state.runs.finish_active(&host.session_key);
        if let Some(result) = host.result() {
            for run in answered {
                if run.is_done() {
                    continue;
                }
                let r = folded_result(&run, host, &result);
                let chat_state = if r.aborted {
                    ChatState::Aborted
                } else if r.ok {
                    ChatState::Final
                } else {
                    ChatState::Error
                };
                let aborted = r.aborted;
                let _ = run.status.send_replace(RunStatus::Done(Box::new(r)));
                // Clients waiting on this run id see it end; the answer itself (message,
                // usage) is in the events of `host`.
                let mut ev = super::events::chat_event(&run, 1, chat_state);
                ev.stop_reason = aborted.then(|| "aborted".into());
                super::events::emit_chat(state, &ev);
            }
        }
        drive(state.clone(), host.session_key.clone(), next);
    }

    /// Aborts the queued and active runs of a session (or one run). Returns the aborted ids.
    pub fn abort(state: &Arc<AppState>, session_key: &str, run_id: Option<&str>) -> Vec<String> {
        state
            .runs
            .stop(session_key, run_id)
            .into_iter()
            .map(|s| match s {
                Stopped::Queued(run) => {
                    announce_aborted(state, &run);
                    run.run_id.clone()
                }
                Stopped::Running(run) => run.run_id.clone(),
            })
            .collect()
    }
}

/// The `chat` event of a run that ended before it started.
fn announce_aborted(state: &AppState, run: &Run) {
    let mut ev = super::events::chat_event(run, 1, ChatState::Aborted);
    ev.stop_reason = Some("aborted".into());
    super::events::emit_chat(state, &ev);
}

/// Starts what [`Next`] says, waiting out a quiet window on a timer task.
fn drive(state: Arc<AppState>, session_key: String, next: Next) {
    match next {
        Next::Idle => {}
        Next::Start(run, spec) => spawn_run(state, run, *spec),
        Next::Wait(d) => {
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                let next = state.runs.after_quiet(&session_key);
                drive(state, session_key, next);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(run_id: &str, session: &str, message: &str) -> RunSpec {
        RunSpec {
            run_id: run_id.into(),
            agent_id: "main".into(),
            session_key: session.into(),
            message: message.into(),
            extra_system_prompt: None,
            timeout: Duration::from_secs(1),
            stream_tx: None,
            ephemeral: true,
            persisted: None,
            resume: false,
            origin: None,
        }
    }

    fn spec(run_id: &str, session: &str) -> RunSpec {
        spec_with(run_id, session, "hi")
    }

    fn ids(runs: &[Arc<Run>]) -> Vec<&str> {
        runs.iter().map(|r| r.run_id.as_str()).collect()
    }

    fn msg(mode: Mode) -> Admit {
        Admit::Message {
            settings: Settings {
                mode,
                debounce: Duration::ZERO,
                ..Settings::default()
            },
            channel: None,
        }
    }

    fn enqueue(runs: &Runs, s: &RunSpec, admit: Admit) -> Enqueued {
        runs.enqueue(s, admit).expect("admitted").enqueued
    }

    /// Ends the active run as `spawn_run` does and returns what comes next.
    fn finish(runs: &Runs, session: &str) -> (Vec<Arc<Run>>, Next) {
        runs.finish_active(session)
    }

    fn started(next: Next) -> (Arc<Run>, RunSpec) {
        match next {
            Next::Start(r, s) => (r, *s),
            Next::Idle => panic!("expected a start, got idle"),
            Next::Wait(_) => panic!("expected a start, got a wait"),
        }
    }

    #[test]
    fn first_run_starts_the_rest_queue_in_order_and_the_ninth_waiting_is_refused() {
        let runs = Runs::default();
        assert!(matches!(
            enqueue(&runs, &spec("r0", "s"), Admit::Fifo),
            Enqueued::Start(_)
        ));
        for i in 1..=MAX_QUEUED_PER_SESSION {
            let queued = enqueue(&runs, &spec(&format!("r{i}"), "s"), Admit::Fifo);
            assert!(matches!(queued, Enqueued::Queued(_)), "r{i}");
        }
        let Err(full) = runs.enqueue(&spec("r9", "s"), Admit::Fifo) else {
            panic!("a ninth queued run must be refused");
        };
        assert_eq!(full.code, openclaw_protocol::codes::UNAVAILABLE);
        assert_eq!(full.retry_after_ms, Some(1000));
        // The refused key is forgotten: a retry is a new submission, not a duplicate.
        assert!(runs.find("r9").is_none());
        // Another session is not held up by this one.
        assert!(matches!(
            enqueue(&runs, &spec("o0", "other"), Admit::Fifo),
            Enqueued::Start(_)
        ));

        let mut order = Vec::new();
        while let (_, Next::Start(run, spec)) = finish(&runs, "s") {
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
            enqueue(&runs, &spec("r10", "s"), Admit::Fifo),
            Enqueued::Start(_)
        ));
    }

    #[test]
    fn a_known_idempotency_key_returns_the_same_run() {
        let runs = Runs::default();
        let Enqueued::Start(first) = enqueue(&runs, &spec("k", "s"), msg(Mode::Steer)) else {
            panic!("first submission starts");
        };
        let Enqueued::Existing(again) = enqueue(&runs, &spec("k", "s"), msg(Mode::Steer)) else {
            panic!("same key must find the run");
        };
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(ids(&runs.session_runs("s")), ["k"]);
    }

    #[test]
    fn abort_ends_queued_runs_cancels_the_active_one_and_skips_aborted_ones_later() {
        let runs = Runs::default();
        for id in ["a", "b", "c"] {
            assert!(runs.enqueue(&spec(id, "s"), Admit::Fifo).is_ok());
        }
        let stopped = runs.stop("s", Some("b"));
        assert!(matches!(stopped.as_slice(), [Stopped::Queued(r)] if r.run_id == "b"));
        let b = runs.find("b").expect("b is registered");
        let result = b.result().expect("an aborted queued run is done");
        assert!(result.aborted && !result.ok);
        assert!(!runs.find("a").expect("a").cancel.is_cancelled());

        // `b` is skipped: `c` follows `a`.
        let (next, _) = started(finish(&runs, "s").1);
        assert_eq!(next.run_id, "c");
        // As `spawn_run` does once the run's task starts.
        next.status
            .send_replace(RunStatus::Running { started_at: 0 });

        let stopped = runs.stop("s", None);
        assert!(matches!(stopped.as_slice(), [Stopped::Running(r)] if r.run_id == "c"));
        assert!(next.cancel.is_cancelled());
        // A run that is already done is not aborted twice.
        assert!(runs.stop("s", Some("b")).is_empty());
        assert!(matches!(finish(&runs, "s").1, Next::Idle));
        assert!(runs.session_runs("s").is_empty());
    }

    #[test]
    fn steer_goes_into_the_active_run_and_what_it_never_took_in_runs_after() {
        let runs = Runs::default();
        let Enqueued::Start(host) = enqueue(&runs, &spec("h", "s"), msg(Mode::Steer)) else {
            panic!("starts");
        };
        let steer = |id: &str| {
            let e = enqueue(&runs, &spec_with(id, "s", id), msg(Mode::Steer));
            assert!(matches!(e, Enqueued::Steered(_)), "{id}");
        };
        // The runner takes in s1 at a boundary; s2 arrives after the last one.
        steer("s1");
        assert_eq!(host.steering.take(), ["s1"]);
        steer("s2");
        let (answered, next) = finish(&runs, "s");
        assert_eq!(ids(&answered), ["s1"]);
        let (run, queued) = started(next);
        assert_eq!((run.run_id.as_str(), queued.message.as_str()), ("s2", "s2"));
        // A run that does not take steering (a heartbeat, an HTTP call) gets followups.
        let runs = Runs::default();
        assert!(matches!(
            enqueue(&runs, &spec("hb", "t"), Admit::Fifo),
            Enqueued::Start(_)
        ));
        assert!(matches!(
            enqueue(&runs, &spec("m", "t"), msg(Mode::Steer)),
            Enqueued::Queued(_)
        ));
    }

    #[test]
    fn steering_past_the_cap_becomes_followups_bounded_by_the_cap() {
        let runs = Runs::default();
        let steer = |cap: usize| Admit::Message {
            settings: Settings {
                mode: Mode::Steer,
                debounce: Duration::ZERO,
                cap,
                drop: QueueDrop::New,
            },
            channel: None,
        };
        let Enqueued::Start(host) = enqueue(&runs, &spec("h", "s"), steer(2)) else {
            panic!("starts");
        };
        for id in ["s1", "s2"] {
            assert!(matches!(
                enqueue(&runs, &spec(id, "s"), steer(2)),
                Enqueued::Steered(_)
            ));
        }
        // The inbox holds `cap` untaken messages: the next ones queue as followups…
        for id in ["f1", "f2"] {
            assert!(matches!(
                enqueue(&runs, &spec(id, "s"), steer(2)),
                Enqueued::Queued(_)
            ));
        }
        // …until the followup queue is full too.
        let Err(full) = runs.enqueue(&spec("f3", "s"), steer(2)) else {
            panic!("past both caps the message is refused");
        };
        assert_eq!(full.code, openclaw_protocol::codes::UNAVAILABLE);
        assert_eq!(full.retry_after_ms, Some(1000));
        assert_eq!(host.steering.pending(), 2);
        // Once the runner takes them in, steering accepts again.
        assert_eq!(host.steering.take().len(), 2);
        assert!(matches!(
            enqueue(&runs, &spec("s3", "s"), steer(2)),
            Enqueued::Steered(_)
        ));
    }

    #[test]
    fn collect_makes_one_turn_of_all_queued_messages_after_the_quiet_window() {
        let runs = Runs::default();
        let quiet = Admit::Message {
            settings: Settings {
                mode: Mode::Collect,
                debounce: Duration::from_secs(3600),
                ..Settings::default()
            },
            channel: None,
        };
        assert!(matches!(
            enqueue(&runs, &spec("a", "s"), quiet.clone()),
            Enqueued::Start(_)
        ));
        for id in ["b", "c"] {
            assert!(matches!(
                enqueue(
                    &runs,
                    &spec_with(id, "s", &format!("text {id}")),
                    quiet.clone()
                ),
                Enqueued::Queued(_)
            ));
        }
        assert!(matches!(finish(&runs, "s").1, Next::Wait(_)));
        // While the window runs the session is busy: a new message queues, nothing starts.
        assert!(matches!(
            enqueue(&runs, &spec_with("d", "s", "text d"), quiet.clone()),
            Enqueued::Queued(_)
        ));
        assert!(matches!(runs.after_quiet("s"), Next::Wait(_)));
        // Once quiet, one run (the newest message's id) carries all three texts.
        let later = Instant::now() + Duration::from_secs(7200);
        let mut lanes = runs.lanes.locked();
        let (run, spec) = started(Runs::next_in(lanes.0.get_mut("s"), later));
        drop(lanes);
        assert_eq!(run.run_id, "d");
        assert_eq!(
            spec.message,
            queue::collect_prompt(&["text b", "text c", "text d"], None)
        );
        let (answered, next) = finish(&runs, "s");
        assert_eq!(ids(&answered), ["b", "c"]);
        assert!(matches!(next, Next::Idle));
    }

    #[test]
    fn interrupt_aborts_the_active_run_and_everything_waiting() {
        let runs = Runs::default();
        let Enqueued::Start(a) = enqueue(&runs, &spec("a", "s"), msg(Mode::Followup)) else {
            panic!("starts");
        };
        assert!(matches!(
            enqueue(&runs, &spec("b", "s"), msg(Mode::Followup)),
            Enqueued::Queued(_)
        ));
        let adm = runs
            .enqueue(&spec("c", "s"), msg(Mode::Interrupt))
            .expect("ok");
        assert!(matches!(adm.enqueued, Enqueued::Queued(_)));
        assert_eq!(ids(&adm.ended), ["b"]);
        assert!(a.cancel.is_cancelled());
        let (run, _) = started(finish(&runs, "s").1);
        assert_eq!(run.run_id, "c");
    }

    #[test]
    fn over_the_cap_old_drops_new_refuses_summarize_tells_the_next_turn() {
        let with = |drop| Admit::Message {
            settings: Settings {
                mode: Mode::Followup,
                debounce: Duration::ZERO,
                cap: 2,
                drop,
            },
            channel: None,
        };
        for drop in [QueueDrop::Old, QueueDrop::New, QueueDrop::Summarize] {
            let runs = Runs::default();
            let admit = with(drop);
            assert!(runs.enqueue(&spec("a", "s"), admit.clone()).is_ok());
            for id in ["q1", "q2"] {
                assert!(runs.enqueue(&spec_with(id, "s", id), admit.clone()).is_ok());
            }
            let third = runs.enqueue(&spec_with("q3", "s", "q3"), admit);
            match drop {
                QueueDrop::New => {
                    let Err(e) = third else {
                        panic!("refused");
                    };
                    assert_eq!(e.retry_after_ms, Some(1000));
                    assert!(runs.find("q3").is_none());
                }
                QueueDrop::Old => {
                    let ended = third.expect("admitted").ended;
                    assert_eq!(ids(&ended), ["q1"]);
                    let r = runs.find("q1").and_then(|r| r.result()).expect("done");
                    assert!(r.aborted);
                    let (run, spec) = started(finish(&runs, "s").1);
                    assert_eq!((run.run_id.as_str(), spec.message.as_str()), ("q2", "q2"));
                }
                QueueDrop::Summarize => {
                    assert!(third.expect("admitted").ended.is_empty());
                    let (run, spec) = started(finish(&runs, "s").1);
                    assert_eq!(run.run_id, "q2");
                    assert_eq!(
                        spec.message,
                        "[Queue overflow] Dropped 1 message due to cap.\nSummary:\n- q1\n\nq2"
                    );
                    // q1 is answered by the run that carried its summary.
                    let (answered, _) = finish(&runs, "s");
                    assert_eq!(ids(&answered), ["q1"]);
                }
            }
        }
    }
}
