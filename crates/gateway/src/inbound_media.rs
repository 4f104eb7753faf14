//! Inbound attachments after the access decision. The router records an admitted message with
//! its attachments still *announced* (durable inbox entry), acknowledges the driver (so the
//! Telegram poll loop goes on polling while a slow download runs), and hands the message to its
//! session's download lane here: attachments are streamed to `<state>/media/inbound/` under
//! `mediaMaxMb` by the driver, then the run is queued. One lane per session keeps the messages
//! of a chat in order (a text sent after a photo waits for the photo). A sweep deletes inbound
//! files older than `media.ttlHours` (default 7 days).

use crate::sync::LockExt;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use openclaw_channels::{CancelToken, ChannelDriver};
use tokio::sync::Semaphore;

use crate::inbox::{Inbox, Pending};
use crate::state::AppState;

/// Downloads running at once across all sessions.
const CONCURRENT_DOWNLOADS: usize = 4;
/// Upper bound for one attachment, whatever the driver's own timeouts.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// Attempts to queue the run when the session lane is full (then the entry waits for the next
/// start in the inbox).
const SUBMIT_ATTEMPTS: u32 = 10;

/// A message waiting in its session's download lane.
#[derive(Clone)]
pub struct Job {
    pub pending: Pending,
    pub driver: Option<Arc<dyn ChannelDriver>>,
    /// The account's `mediaMaxMb` in bytes.
    pub max_bytes: u64,
}

/// The per-session download lanes of one gateway generation.
pub struct Downloads {
    lanes: Mutex<HashMap<String, VecDeque<Job>>>,
    permits: Arc<Semaphore>,
}

impl Default for Downloads {
    fn default() -> Self {
        Downloads {
            lanes: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(CONCURRENT_DOWNLOADS)),
        }
    }
}

impl Downloads {
    /// Whether messages of `session_key` are waiting for a download (a later message of the
    /// session must then queue behind them).
    pub fn busy(&self, session_key: &str) -> bool {
        self.lanes.locked().contains_key(session_key)
    }

    /// Appends `job` to its session's lane, starting the lane's worker when there is none.
    pub fn push(self: &Arc<Self>, state: &Arc<AppState>, inbox: &Arc<Inbox>, job: Job) {
        let key = job.pending.session_key.clone();
        let start = {
            let mut lanes = self.lanes.locked();
            let lane = lanes.entry(key.clone()).or_default();
            lane.push_back(job);
            lane.len() == 1
        };
        if start {
            tokio::spawn(run_lane(self.clone(), state.clone(), inbox.clone(), key));
        }
    }

    /// The next job of a lane (left in place while it runs, so `busy` stays true); removes the
    /// lane when it is empty.
    fn front(&self, key: &str, finished: bool) -> Option<Job> {
        let mut lanes = self.lanes.locked();
        let lane = lanes.get_mut(key)?;
        if finished {
            lane.pop_front();
        }
        match lane.front() {
            Some(j) => Some(j.clone()),
            None => {
                lanes.remove(key);
                None
            }
        }
    }
}

async fn run_lane(downloads: Arc<Downloads>, state: Arc<AppState>, inbox: Arc<Inbox>, key: String) {
    let mut finished = false;
    while let Some(job) = downloads.front(&key, finished) {
        finished = true;
        let Job {
            mut pending,
            driver,
            max_bytes,
        } = job;
        if !pending.attachments.is_empty() {
            let notes = fetch_all(&downloads, &state, driver.as_deref(), &pending, max_bytes).await;
            pending.message.push_str(&notes);
            pending.attachments.clear(); // the notes say what became of them
        }
        submit_retrying(&state, &inbox, pending, driver).await;
    }
}

/// Downloads every attachment of `p`; returns the notes for the user turn (`[media: path]`, or
/// why an attachment is missing).
async fn fetch_all(
    downloads: &Downloads,
    state: &AppState,
    driver: Option<&dyn ChannelDriver>,
    p: &Pending,
    max: u64,
) -> String {
    let dir = inbound_dir(&state.paths.state_dir);
    let mut notes = String::new();
    for a in &p.attachments {
        let dest = dir.join(&a.file_name);
        let result = match driver {
            None => Err("the channel is not running".to_string()),
            Some(d) => {
                let _permit = downloads.permits.acquire().await;
                match tokio::time::timeout(DOWNLOAD_TIMEOUT, d.download(a, &dest, max)).await {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => {
                        let _ = std::fs::remove_file(&dest);
                        Err("download timed out".to_string())
                    }
                }
            }
        };
        match result {
            Ok(_) => notes.push_str(&format!("\n[media: {}]", dest.display())),
            Err(why) => {
                tracing::warn!(target: "channels", "inbound {} of {} message {} not downloaded: {why}", a.kind, p.channel, p.message_id);
                notes.push_str(&format!("\n[{} not downloaded: {why}]", a.kind));
            }
        }
    }
    notes
}

/// Queues the run, waiting out a full session lane for a while. The entry is first rewritten
/// with the download notes (so a replay does not fetch again) and stays on disk until the user
/// turn is persisted; a run that never gets queued is released to the next start's replay.
async fn submit_retrying(
    state: &Arc<AppState>,
    inbox: &Arc<Inbox>,
    p: Pending,
    driver: Option<Arc<dyn ChannelDriver>>,
) {
    if let Err(err) = inbox.put(&p) {
        tracing::warn!(target: "channels", "cannot update inbound message {}: {err}", p.run_id);
    }
    for attempt in 1..=SUBMIT_ATTEMPTS {
        match crate::channels::submit(
            state,
            inbox,
            p.clone(),
            driver.clone(),
            crate::channels::Arrival::Live,
        ) {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(target: "channels", "inbound message {} not queued yet ({e}); attempt {attempt}", p.run_id);
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
        }
    }
    inbox.release(&p.run_id);
}

/// `<state>/media/inbound`.
pub fn inbound_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("media").join("inbound")
}

/// `media.ttlHours` (the reference's key), clamped to 1 h … 7 days; default 7 days.
pub fn retention(cfg: &openclaw_config::OpenClawConfig) -> Duration {
    let hours = cfg
        .media
        .as_ref()
        .and_then(|m| m.ttl_hours())
        .filter(|h| h.is_finite())
        .unwrap_or(168.0)
        .clamp(1.0, 168.0);
    Duration::from_secs_f64(hours * 3600.0)
}

/// How often the sweep runs (hourly; `OPENCLAW_TEST_MEDIA_SWEEP_MS` shortens it for tests).
fn sweep_interval() -> Duration {
    std::env::var("OPENCLAW_TEST_MEDIA_SWEEP_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(|ms| Duration::from_millis(ms.max(10)))
        .unwrap_or(Duration::from_secs(3600))
}

/// Deletes inbound files (not directories) last modified more than `ttl` ago; returns how
/// many went. Symlinks are removed, never followed.
pub fn sweep(dir: &Path, ttl: Duration) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let Some(cutoff) = SystemTime::now().checked_sub(ttl) else {
        return 0;
    };
    let mut removed = 0;
    for e in rd.flatten() {
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        if meta.is_dir() {
            continue;
        }
        if meta.modified().is_ok_and(|m| m < cutoff) && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Sweeps at start and then periodically until `cancel` (the generation's shutdown).
pub fn spawn_sweeper(state: Arc<AppState>, cancel: CancelToken) {
    tokio::spawn(async move {
        let every = sweep_interval();
        loop {
            let dir = inbound_dir(&state.paths.state_dir);
            let ttl = retention(&state.config().config);
            let n = tokio::task::spawn_blocking(move || sweep(&dir, ttl))
                .await
                .unwrap_or(0);
            if n > 0 {
                tracing::info!(target: "channels", "removed {n} inbound media file(s) older than {} h", ttl.as_secs() / 3600);
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = cancel.cancelled() => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_defaults_to_a_week_and_is_clamped() {
        let h =
            |v: serde_json::Value| retention(&serde_json::from_value(v).unwrap()).as_secs() / 3600;
        assert_eq!(h(serde_json::json!({})), 168);
        assert_eq!(h(serde_json::json!({"media": {"ttlHours": 24}})), 24);
        assert_eq!(h(serde_json::json!({"media": {"ttlHours": 0}})), 1);
        assert_eq!(h(serde_json::json!({"media": {"ttlHours": 100000}})), 168);
    }

    #[test]
    fn the_sweep_removes_only_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.jpg");
        let new = dir.path().join("new.jpg");
        std::fs::write(&old, b"o").unwrap();
        std::fs::write(&new, b"n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let week_ago = SystemTime::now() - Duration::from_secs(8 * 24 * 3600);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(week_ago)
            .unwrap();
        assert_eq!(sweep(dir.path(), Duration::from_secs(7 * 24 * 3600)), 1);
        assert!(!old.exists() && new.exists() && dir.path().join("sub").exists());
        assert_eq!(
            sweep(&dir.path().join("missing"), Duration::from_secs(1)),
            0
        );
    }
}
