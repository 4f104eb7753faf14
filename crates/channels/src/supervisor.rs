//! Failure isolation for channel accounts: each driver runs in its own task; errors, unexpected
//! exits and panics are recorded in status and retried with capped exponential backoff + jitter,
//! so one broken channel never takes down the gateway or another channel.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::types::{CancelToken, ChannelDriver, ChannelStatus, Inbound, now_ms};

/// Capped exponential backoff with jitter: `delay(n) = min(max, initial × factor^n) ± jitter`.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub factor: f64,
    /// Fraction (0..=1) of the delay that is randomised, e.g. 0.25 ⇒ ±25 %.
    pub jitter: f64,
    attempt: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, factor: f64, jitter: f64) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            factor: factor.clamp(1.0, 10.0),
            jitter: jitter.clamp(0.0, 1.0),
            attempt: 0,
        }
    }

    /// The next delay; advances the attempt counter.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.initial.as_secs_f64() * self.factor.powi(self.attempt.min(64) as i32);
        let capped = base.min(self.max.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1);
        let spread = capped * self.jitter;
        let jittered = if spread > 0.0 {
            capped + (rand::random::<f64>() * 2.0 - 1.0) * spread
        } else {
            capped
        };
        Duration::from_secs_f64(jittered.clamp(0.0, self.max.as_secs_f64()))
    }

    /// Consecutive failures so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Call after a success (a healthy connection / completed poll).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Knobs of the supervisor; the defaults follow the brief (1 s → 60 s, ±20 %).
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    pub backoff: Backoff,
    /// A run that lasted at least this long counts as healthy: the backoff restarts at `initial`.
    pub healthy_after: Duration,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60), 2.0, 0.2),
            healthy_after: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Default)]
struct SupState {
    running: bool,
    last_error: Option<String>,
    last_error_at: Option<u64>,
    restarts: u64,
}

/// Handle to one supervised channel account.
pub struct Supervised {
    driver: Arc<dyn ChannelDriver>,
    state: Arc<Mutex<SupState>>,
    cancel: CancelToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Supervised {
    /// Starts supervising `driver` with the default backoff. Stops when `cancel` (or
    /// [`Supervised::stop`]) fires.
    pub fn spawn(
        driver: Arc<dyn ChannelDriver>,
        sink: mpsc::Sender<Inbound>,
        cancel: CancelToken,
    ) -> Supervised {
        Self::spawn_with(driver, sink, cancel, SupervisorConfig::default())
    }

    /// As [`Supervised::spawn`] with explicit backoff (tests use milliseconds).
    pub fn spawn_with(
        driver: Arc<dyn ChannelDriver>,
        sink: mpsc::Sender<Inbound>,
        cancel: CancelToken,
        cfg: SupervisorConfig,
    ) -> Supervised {
        let cancel = cancel.child_token();
        let state = Arc::new(Mutex::new(SupState::default()));
        let task = tokio::spawn(supervise(
            driver.clone(),
            sink,
            cancel.clone(),
            state.clone(),
            cfg,
        ));
        Supervised {
            driver,
            state,
            cancel,
            task: Mutex::new(Some(task)),
        }
    }

    pub fn driver(&self) -> Arc<dyn ChannelDriver> {
        self.driver.clone()
    }

    /// The driver's status merged with the supervisor's: `running` is the supervisor's view,
    /// `reconnects` adds restarts, and the most recent error of the two wins.
    pub fn status(&self) -> ChannelStatus {
        let mut st = self.driver.status();
        let sup = lock(&self.state);
        st.running = sup.running;
        st.reconnects = st.reconnects.saturating_add(sup.restarts);
        if sup.last_error_at.unwrap_or(0) >= st.last_error_at.unwrap_or(0)
            && sup.last_error.is_some()
        {
            st.last_error = sup.last_error.clone();
            st.last_error_at = sup.last_error_at;
        }
        if !sup.running {
            st.connected = false;
        }
        st
    }

    /// Stops this account only (e.g. `channels.stop`, logout) and waits for the task to end.
    pub async fn stop(&self) {
        self.cancel.cancel();
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn lock(m: &Mutex<SupState>) -> std::sync::MutexGuard<'_, SupState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn record_error(state: &Mutex<SupState>, msg: String) {
    let mut s = lock(state);
    s.last_error = Some(msg);
    s.last_error_at = Some(now_ms());
}

async fn supervise(
    driver: Arc<dyn ChannelDriver>,
    sink: mpsc::Sender<Inbound>,
    cancel: CancelToken,
    state: Arc<Mutex<SupState>>,
    mut cfg: SupervisorConfig,
) {
    let channel = driver.channel().to_string();
    let account = driver.account_id().to_string();
    loop {
        if cancel.is_cancelled() {
            break;
        }
        lock(&state).running = true;
        let started = Instant::now();
        let d = driver.clone();
        let (s, c) = (sink.clone(), cancel.clone());
        let mut handle = tokio::spawn(async move { d.run(s, c).await });
        let joined = tokio::select! {
            r = &mut handle => r,
            _ = cancel.cancelled() => {
                // Give the driver a moment to finish cleanly, then abort it.
                match tokio::time::timeout(Duration::from_secs(5), &mut handle).await {
                    Ok(r) => r,
                    Err(_) => { handle.abort(); break; }
                }
            }
        };
        lock(&state).running = false;
        let failure = match joined {
            Ok(Ok(())) if cancel.is_cancelled() => break,
            Ok(Ok(())) => "driver exited unexpectedly".to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(je) if je.is_panic() => format!("panic: {}", panic_message(je.into_panic())),
            Err(je) => format!("task failed: {je}"),
        };
        tracing::warn!(channel = %channel, account = %account, error = %failure, "channel task failed; restarting after backoff");
        record_error(&state, failure);
        if started.elapsed() >= cfg.healthy_after {
            cfg.backoff.reset();
        }
        let delay = cfg.backoff.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.cancelled() => break,
        }
        lock(&state).restarts += 1;
    }
    lock(&state).running = false;
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30), 2.0, 0.0);
        let d: Vec<u64> = (0..7).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(d, vec![1, 2, 4, 8, 16, 30, 30]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn backoff_jitter_stays_in_band() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(10), 2.0, 0.25);
        for _ in 0..100 {
            let d = b.next_delay().as_secs_f64();
            assert!((7.5..=10.0).contains(&d), "{d}");
        }
    }
}
