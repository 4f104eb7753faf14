//! The scheduler under load of numbers, not of runs: a gateway holding 10,000 scheduled jobs
//! (none due during the phase) against one holding none — RSS growth, how often the one cron
//! timer woke (`cron.status.timerWakeups`), and the voluntary context switches of all the process's threads
//! and CPU time over the same idle window, as per-minute rates.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::phases;
use crate::ws;

/// What an idle gateway with `jobs` scheduled jobs costs.
pub struct CronIdle {
    pub jobs: usize,
    pub rss_kb: u64,
    pub timer_wakeups_per_min: f64,
    pub ctx_switches_per_min: f64,
    pub cpu_pct: f64,
}

/// A jobs file in the reference's shape: `every` jobs of 1–24 h and Berlin/UTC cron jobs, all
/// first due at least a day after `now`.
fn jobs_file(n: usize, now_ms: u64) -> Value {
    let day = 86_400_000u64;
    let jobs: Vec<Value> = (0..n)
        .map(|i| {
            let id = format!("bench-{i:05}");
            let (schedule, next) = if i % 2 == 0 {
                let every = 3_600_000 * (1 + (i as u64 % 24));
                (
                    json!({"kind": "every", "everyMs": every, "anchorMs": now_ms + day}),
                    now_ms + day,
                )
            } else {
                let tz = if i % 4 == 1 { "Europe/Berlin" } else { "UTC" };
                (
                    json!({"kind": "cron", "expr": format!("{} {} * * *", i % 60, i % 24), "tz": tz}),
                    now_ms + day + (i as u64 % 3600) * 1000,
                )
            };
            json!({
                "id": id, "name": format!("job {i}"), "enabled": true,
                "createdAtMs": now_ms, "updatedAtMs": now_ms,
                "schedule": schedule, "sessionTarget": "isolated", "wakeMode": "now",
                "payload": {"kind": "agentTurn", "message": format!("check {i}")},
                "delivery": {"mode": "none"},
                "state": {"nextRunAtMs": next},
            })
        })
        .collect();
    json!({"version": 1, "jobs": jobs})
}

/// (voluntary context switches of all its threads, utime+stime clock ticks) of a process.
fn proc_counters(pid: u32) -> Result<(u64, u64)> {
    let mut switches = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))?.flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        switches += status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    Ok((switches, ticks))
}

/// Starts a gateway on a jobs file of `n` jobs, lets it settle, and watches it idle for
/// `window`.
pub async fn idle_with_jobs(bin: &Path, n: usize, window: Duration) -> Result<CronIdle> {
    let dir = tempfile::tempdir().context("temp dir for the jobs file")?;
    let store = dir.path().join("jobs.json");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    std::fs::write(&store, serde_json::to_vec(&jobs_file(n, now_ms))?)?;
    let s = phases::start_with(bin, json!({"cron": {"store": store}})).await?;
    let mut gateway = s.gateway;
    tokio::time::sleep_until((s.hello_ok_at + Duration::from_secs(1)).into()).await;
    let (mut conn, _) = phases::open_retrying(s.port).await?;
    let before = ws::request(&mut conn, "s1", "cron.status").await?;
    let jobs = before["jobs"].as_u64().unwrap_or(0) as usize;
    let (sw0, t0) = proc_counters(gateway.pid())?;
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let after = ws::request(&mut conn, "s2", "cron.status").await?;
    let (sw1, t1) = proc_counters(gateway.pid())?;
    let elapsed = started.elapsed().as_secs_f64();
    gateway.ensure_running()?;
    let rss_kb = gateway.rss_kb()?;
    ws::close(conn).await;
    let per_min = |d: f64| d * 60.0 / elapsed;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let wake = |v: &Value| v["timerWakeups"].as_u64().unwrap_or(0) as f64;
    Ok(CronIdle {
        jobs,
        rss_kb,
        timer_wakeups_per_min: per_min(wake(&after) - wake(&before)),
        ctx_switches_per_min: per_min(sw1.saturating_sub(sw0) as f64),
        cpu_pct: (t1.saturating_sub(t0) as f64 / hz) / elapsed * 100.0,
    })
}
