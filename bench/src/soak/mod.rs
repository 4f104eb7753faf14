//! `openclaw-bench soak`: one gateway under mixed traffic for N minutes (connection waves,
//! steady RPC clients, `chat.send`, streamed OpenAI-compatible requests, Telegram DMs through
//! the fake Bot API, a cron job, node invokes), sampled every second (RSS, fds, the gateway's
//! task and queue counts), judged against the criteria in `bench/README.md`, and written out
//! as a JSON line, a samples file and an SVG plot. Callable from tests (`run`).

mod client;
mod plot;
mod probe;
mod traffic;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use openclaw_testkit::FakeOpenAi;
use openclaw_testkit::telegram::{FAKE_TOKEN, FakeTelegram};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use self::client::{Conn, Role};
pub use self::probe::Sample;
use self::traffic::{Ctx, Tally};
use crate::stats::round;

/// RSS after warm-up must stay within this band (max - min), MiB.
pub const RSS_BAND_MAX_MIB: f64 = 8.0;
/// |RSS slope| after warm-up, MiB per hour; judged only on runs of at least
/// [`SLOPE_MIN_SPAN`] after warm-up: RSS moves in steps (the allocator taking a few MiB at
/// once during a connection wave), and over a shorter window one such step reads as a steep
/// slope (a 2.8 MiB step 12 minutes into a 20-minute debug run gave 17 MiB/h).
pub const RSS_SLOPE_MAX_MIB_H: f64 = 6.0;
pub const SLOPE_MIN_SPAN: Duration = Duration::from_secs(30 * 60);
/// Own fds (all minus sockets to the fake upstreams) after the clients left vs. before.
pub const FD_TOLERANCE: i64 = 2;
/// Tasks after the clients left vs. before, plus one per extra pooled upstream connection.
pub const TASK_TOLERANCE: i64 = 3;
/// Longest wait for the gateway to settle after the traffic (connections gone, runs idle).
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
/// Longest the drivers may take to stop after the deadline (one call timeout and then some).
const STOP_LIMIT: Duration = Duration::from_secs(60);
/// Interval of the cron job.
const CRON_EVERY_MS: u64 = 5000;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub bin: PathBuf,
    /// Traffic time (warm-up included).
    pub duration: Duration,
    /// Where `soak-<timestamp>.json` and `.svg` go.
    pub out: PathBuf,
    /// Connections per wave, and how long a wave is held.
    pub wave_size: usize,
    pub wave_hold: Duration,
    /// Parallel steady RPC clients and `chat.send` sessions.
    pub steady_clients: usize,
    pub chat_sessions: usize,
}

impl Options {
    pub fn new(bin: PathBuf, minutes: f64) -> Options {
        Options {
            bin,
            duration: Duration::from_secs_f64((minutes * 60.0).max(10.0)),
            out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/soak"),
            wave_size: 300,
            wave_hold: Duration::from_secs(15),
            steady_clients: 4,
            chat_sessions: 3,
        }
    }

    /// The first 20% of the run or 30 s, whichever is less.
    pub fn warmup(&self) -> Duration {
        (self.duration / 5).min(Duration::from_secs(30))
    }
}

/// The outcome.
pub struct Report {
    /// The one JSON line (also in the samples file).
    pub line: Value,
    pub pass: bool,
    pub reasons: Vec<String>,
    pub json_path: PathBuf,
    pub svg_path: PathBuf,
}

/// Samples taken by the background sampler (and the end ones).
type Samples = Arc<Mutex<Vec<Sample>>>;

/// Runs the soak; `Err` only when it could not run at all (the gateway did not start, the
/// output could not be written). Traffic failures are counted and fail the report instead.
pub async fn run(opts: &Options) -> Result<Report> {
    let llm = FakeOpenAi::start().await;
    let tg = Arc::new(FakeTelegram::start().await);
    let upstream = [llm.addr().port(), tg_port(&tg)?];
    let workspace = tempfile::Builder::new()
        .prefix("openclaw-soak-ws-")
        .tempdir()?;
    let extra = json!({
        "gateway": {"http": {"endpoints": {"chatCompletions": {"enabled": true}}}},
        "models": {"providers": {"fake": {"baseUrl": llm.url(), "api": "openai-completions",
                                          "apiKey": "soak", "models": [{"id": "m"}]}}},
        "agents": {"defaults": {"model": {"primary": "fake/m"}, "workspace": workspace.path()}},
        "channels": {"telegram": {"botToken": FAKE_TOKEN, "apiRoot": tg.url(),
                                  "dmPolicy": "allowlist",
                                  "allowFrom": [traffic::TG_OWNER.to_string()]}},
    });
    let started = crate::phases::start_with(&opts.bin, extra).await?;
    let mut gateway = started.gateway;
    let port = started.port;
    let pid = gateway.pid();
    let tally = Tally::default();
    eprintln!(
        "soak: gateway pid {pid} on 127.0.0.1:{port}, {:.1} min of traffic",
        opts.duration.as_secs_f64() / 60.0
    );

    // The monitor stays connected from before the baseline to after the end sample, so it
    // is in both and cancels out.
    let mut monitor = Conn::open(port, Role::Admin, "soak-monitor").await?;

    // Priming: one of each request kind, so lazily built clients and caches exist before the
    // baseline is taken.
    let prime = async {
        let mut c = Conn::open(port, Role::Admin, "soak-prime").await?;
        traffic::chat_turn(&mut c, 0, 1, "prime").await?;
        c.close().await;
        traffic::stream_once(port).await?;
        traffic::telegram_once(&tg, 0).await?;
        anyhow::Ok(())
    };
    if let Err(e) = prime.await {
        tally.err("prime", &e);
    }
    let base = settle(pid, &upstream, &mut monitor, None, &mut gateway).await;
    eprintln!(
        "soak: baseline rss {} KiB, fds {} ({} upstream), tasks {:?}",
        base.rss_kb,
        base.fds,
        base.fds_upstream,
        base.stat("tasks")
    );

    let cron_id = {
        let mut c = Conn::open(port, Role::Admin, "soak-cron").await?;
        let id = traffic::cron_add(&mut c, CRON_EVERY_MS).await;
        c.close().await;
        id
    };

    // Traffic and the sampler.
    let t0 = Instant::now();
    let samples: Samples = Arc::new(Mutex::new(vec![Sample {
        t_ms: -1,
        ..base.clone()
    }]));
    let ctx = Arc::new(Ctx {
        port,
        tally,
        until: t0 + opts.duration,
        wave_size: opts.wave_size,
        wave_hold: opts.wave_hold,
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(sample_loop(
        pid,
        upstream,
        monitor,
        t0,
        Arc::clone(&samples),
        stop_rx,
    ));
    let mut drivers = JoinSet::new();
    drivers.spawn(traffic::waves(Arc::clone(&ctx)));
    for i in 0..opts.steady_clients {
        drivers.spawn(traffic::steady(Arc::clone(&ctx), i));
    }
    for i in 1..=opts.chat_sessions {
        drivers.spawn(traffic::chat(Arc::clone(&ctx), i, "soak"));
    }
    drivers.spawn(traffic::http_stream(Arc::clone(&ctx)));
    drivers.spawn(traffic::telegram(Arc::clone(&ctx), Arc::clone(&tg)));
    drivers.spawn(traffic::nodes(Arc::clone(&ctx)));
    let hard_stop = ctx.until + STOP_LIMIT;
    let mut last_progress = Instant::now();
    loop {
        // Wakes at least every second to drop the gateway's buffered output lines and to
        // notice a dead gateway.
        match tokio::time::timeout(Duration::from_secs(1), drivers.join_next()).await {
            Ok(None) => break,
            Ok(Some(Err(e))) => ctx.tally.err("driver", &anyhow::anyhow!(e)),
            Ok(Some(Ok(()))) | Err(_) => {}
        }
        gateway.skip_lines();
        if let Err(e) = gateway.ensure_running() {
            ctx.tally.err("gateway", &e);
            drivers.abort_all();
            break;
        }
        if Instant::now() >= hard_stop {
            ctx.tally.err(
                "driver",
                &anyhow::anyhow!("timeout: {} drivers still running", drivers.len()),
            );
            drivers.abort_all();
            break;
        }
        if last_progress.elapsed() >= Duration::from_secs(30) {
            last_progress = Instant::now();
            let s = samples.lock().map(|s| s.last().cloned()).ok().flatten();
            if let Some(s) = s {
                eprintln!(
                    "  t={:>4}s rss {} KiB fds {} tasks {:?} conns {:?}",
                    s.t_ms / 1000,
                    s.rss_kb,
                    s.fds,
                    s.stat("tasks"),
                    s.stat("connections")
                );
            }
        }
    }
    let traffic_ms = t0.elapsed().as_millis() as i64;

    let mut cron_runs = (0, 0);
    match cron_id {
        Ok(id) => {
            let fin = async {
                let mut c = Conn::open(port, Role::Admin, "soak-cron").await?;
                let r = traffic::cron_finish(&mut c, &id).await;
                c.close().await;
                r
            };
            match fin.await {
                Ok(r) => cron_runs = r,
                Err(e) => ctx.tally.err("cron", &e),
            }
        }
        Err(e) => ctx.tally.err("cron", &e),
    }

    let _ = stop_tx.send(true);
    let mut monitor = match tokio::time::timeout(Duration::from_secs(10), sampler).await {
        Ok(Ok(m)) => m,
        _ => bail!("the sampler did not stop"),
    };
    let end = settle(pid, &upstream, &mut monitor, Some(&base), &mut gateway).await;
    monitor.close().await;
    let end = Sample {
        t_ms: t0.elapsed().as_millis() as i64,
        ..end
    };
    let running = gateway.ensure_running();
    let samples = {
        let mut s = samples.lock().map(|s| s.clone()).unwrap_or_default();
        s.push(end.clone());
        s
    };
    let counts = ctx.tally.snapshot();
    judge(JudgeIn {
        opts,
        samples: &samples,
        base: &base,
        end: &end,
        traffic_ms,
        counts: &counts,
        cron_runs,
        gateway_running: running.err().map(|e| format!("{e:#}")),
    })
}

fn tg_port(tg: &FakeTelegram) -> Result<u16> {
    tg.url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .context("fake Telegram URL has no port")
}

/// One sample now.
async fn sample_now(pid: u32, upstream: &[u16], monitor: &mut Conn, t_ms: i64) -> Sample {
    let (fds, fds_upstream) = probe::fds(pid, upstream);
    let stats = monitor
        .call("gateway.runtimeStats", json!({}))
        .await
        .unwrap_or(Value::Null);
    Sample {
        t_ms,
        rss_kb: probe::rss_kb(pid).unwrap_or(0),
        anon_kb: probe::anon_kb(pid).unwrap_or(0),
        fds,
        fds_upstream,
        stats,
    }
}

/// Samples every second until told to stop; returns the monitor connection.
async fn sample_loop(
    pid: u32,
    upstream: [u16; 2],
    mut monitor: Conn,
    t0: Instant,
    out: Samples,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Conn {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.changed() => return monitor,
            _ = tick.tick() => {}
        }
        let s = sample_now(
            pid,
            &upstream,
            &mut monitor,
            t0.elapsed().as_millis() as i64,
        )
        .await;
        if let Ok(mut v) = out.lock() {
            v.push(s);
        }
    }
}

/// Waits (at most [`SETTLE_LIMIT`]) until only the monitor is connected, no run is active or
/// queued, and — after the traffic, given `base` — own fds and tasks are back near the
/// baseline; returns the last sample either way.
async fn settle(
    pid: u32,
    upstream: &[u16],
    monitor: &mut Conn,
    base: Option<&Sample>,
    gateway: &mut crate::gateway::Gateway,
) -> Sample {
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        gateway.skip_lines();
        let s = sample_now(pid, upstream, monitor, -1).await;
        let idle = s.stat("connections") == Some(1)
            && s.stat("runsActive") == Some(0)
            && s.stat("runsQueued") == Some(0)
            && s.stat("cronRunning") == Some(0);
        let back = base.is_none_or(|b| {
            fd_delta(b, &s).abs() <= FD_TOLERANCE && task_delta(b, &s) <= task_allowance(b, &s)
        });
        if (idle && back) || Instant::now() >= deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn fd_delta(base: &Sample, end: &Sample) -> i64 {
    end.fds_own() as i64 - base.fds_own() as i64
}

fn task_delta(base: &Sample, end: &Sample) -> i64 {
    end.stat("tasks").unwrap_or(u64::MAX / 2) as i64 - base.stat("tasks").unwrap_or(0) as i64
}

/// Each pooled upstream connection has a driver task of its own.
fn task_allowance(base: &Sample, end: &Sample) -> i64 {
    TASK_TOLERANCE + (end.fds_upstream as i64 - base.fds_upstream as i64).max(0)
}

struct JudgeIn<'a> {
    opts: &'a Options,
    samples: &'a [Sample],
    base: &'a Sample,
    end: &'a Sample,
    traffic_ms: i64,
    counts: &'a BTreeMap<&'static str, traffic::Count>,
    cron_runs: (u64, u64),
    gateway_running: Option<String>,
}

/// The traffic kinds that must each have happened at least once.
const KINDS: &[&str] = &[
    "ws_wave_conns",
    "rpc",
    "chat",
    "http_stream",
    "telegram",
    "node_invoke",
];

fn judge(j: JudgeIn<'_>) -> Result<Report> {
    let warmup_ms = j.opts.warmup().as_millis() as i64;
    let post: Vec<&Sample> = j
        .samples
        .iter()
        .filter(|s| s.t_ms >= warmup_ms && s.t_ms <= j.traffic_ms && s.rss_kb > 0)
        .collect();
    let mib = |kb: u64| kb as f64 / 1024.0;
    let rss_post: Vec<f64> = post.iter().map(|s| mib(s.rss_kb)).collect();
    let rss_min = rss_post.iter().copied().fold(f64::INFINITY, f64::min);
    let rss_max = rss_post.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let rss_base = rss_post.first().copied().unwrap_or(0.0);
    let rss_last = rss_post.last().copied().unwrap_or(0.0);
    let band = rss_max - rss_min;
    let slope = slope_mib_per_hour(&post, |s| s.rss_kb);
    // Reported, not judged: how much of the RSS change is allocated memory.
    let anon_post: Vec<f64> = post.iter().map(|s| mib(s.anon_kb)).collect();
    let anon_band = anon_post.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - anon_post.iter().copied().fold(f64::INFINITY, f64::min);
    let anon_slope = slope_mib_per_hour(&post, |s| s.anon_kb);
    let span = Duration::from_millis((j.traffic_ms - warmup_ms).max(0) as u64);
    let fds_peak = j.samples.iter().map(|s| s.fds).max().unwrap_or(0);
    let max_queued = j
        .samples
        .iter()
        .filter_map(|s| s.stat("queuedBytes"))
        .max()
        .unwrap_or(0);
    let max_conns = j
        .samples
        .iter()
        .filter_map(|s| s.stat("connections"))
        .max()
        .unwrap_or(0);
    let max_tasks = j
        .samples
        .iter()
        .filter_map(|s| s.stat("tasks"))
        .max()
        .unwrap_or(0);

    let mut reasons = Vec::new();
    if let Some(e) = &j.gateway_running {
        reasons.push(format!("gateway died: {e}"));
    }
    if post.len() < 2 {
        reasons.push(format!("only {} samples after warm-up", post.len()));
    } else if band > RSS_BAND_MAX_MIB {
        reasons.push(format!(
            "RSS band after warm-up {band:.1} MiB > {RSS_BAND_MAX_MIB} MiB"
        ));
    }
    let slope_judged = span >= SLOPE_MIN_SPAN;
    if slope_judged && slope.abs() > RSS_SLOPE_MAX_MIB_H {
        reasons.push(format!(
            "RSS slope {slope:.2} MiB/h, |slope| > {RSS_SLOPE_MAX_MIB_H} MiB/h"
        ));
    }
    let fd_d = fd_delta(j.base, j.end);
    if fd_d.abs() > FD_TOLERANCE {
        reasons.push(format!(
            "own fds {} after the clients left vs {} before (±{FD_TOLERANCE})",
            j.end.fds_own(),
            j.base.fds_own()
        ));
    }
    let task_d = task_delta(j.base, j.end);
    if task_d > task_allowance(j.base, j.end) {
        reasons.push(format!(
            "tasks {:?} after the clients left vs {:?} before (allowed +{})",
            j.end.stat("tasks"),
            j.base.stat("tasks"),
            task_allowance(j.base, j.end)
        ));
    }
    if j.end.stat("connections") != Some(1) {
        reasons.push(format!(
            "{:?} connections after the clients left (only the monitor should remain)",
            j.end.stat("connections")
        ));
    }
    for key in ["runsActive", "runsQueued", "inboxPending", "queuedBytes"] {
        if j.end.stat(key).is_some_and(|v| v > 0) {
            reasons.push(format!("{key} = {:?} after the traffic", j.end.stat(key)));
        }
    }
    let mut errors_total = 0;
    let mut counts = serde_json::Map::new();
    let mut errors = serde_json::Map::new();
    let mut error_samples = serde_json::Map::new();
    for (k, c) in j.counts {
        counts.insert(k.to_string(), json!(c.ok));
        errors.insert(k.to_string(), json!(c.errors));
        if c.errors > 0 {
            error_samples.insert(k.to_string(), json!(c.samples));
            reasons.push(format!(
                "{} {k} errors, e.g. {:?}",
                c.errors,
                c.samples.first()
            ));
        }
        errors_total += c.errors;
    }
    for k in KINDS {
        if j.counts.get(k).is_none_or(|c| c.ok == 0) {
            reasons.push(format!("no successful {k} traffic"));
        }
    }
    let (cron_all, cron_failed) = j.cron_runs;
    counts.insert("cron_runs".into(), json!(cron_all));
    errors.insert("cron_runs".into(), json!(cron_failed));
    errors_total += cron_failed;
    if cron_failed > 0 {
        reasons.push(format!("{cron_failed} cron runs failed"));
    }
    if cron_all == 0 {
        reasons.push("the cron job never ran".into());
    }
    let pass = reasons.is_empty();

    let line = json!({
        "kind": "soak",
        "minutes": round(j.traffic_ms as f64 / 60_000.0, 2),
        "samples": j.samples.len(),
        "warmup_s": j.opts.warmup().as_secs(),
        "rss_start_kb": j.base.rss_kb,
        "rss_baseline_mib": round(rss_base, 2),
        "rss_min_mib": round(finite(rss_min), 2),
        "rss_max_mib": round(finite(rss_max), 2),
        "rss_last_mib": round(rss_last, 2),
        "rss_end_kb": j.end.rss_kb,
        "rss_band_mib": round(finite(band), 2),
        "rss_slope_mib_h": round(slope, 2),
        "rss_slope_judged": slope_judged,
        "anon_start_kb": j.base.anon_kb,
        "anon_end_kb": j.end.anon_kb,
        "anon_band_mib": round(finite(anon_band), 2),
        "anon_slope_mib_h": round(anon_slope, 2),
        "fds_start": j.base.fds,
        "fds_peak": fds_peak,
        "fds_end": j.end.fds,
        "fds_upstream_start": j.base.fds_upstream,
        "fds_upstream_end": j.end.fds_upstream,
        "tasks_start": j.base.stat("tasks"),
        "tasks_peak": max_tasks,
        "tasks_end": j.end.stat("tasks"),
        "connections_peak": max_conns,
        "queued_bytes_max": max_queued,
        "end_stats": j.end.stats,
        "counts": counts,
        "errors": errors,
        "errors_total": errors_total,
        "error_samples": error_samples,
        "pass": pass,
        "reasons": reasons,
    });

    std::fs::create_dir_all(&j.opts.out)
        .with_context(|| format!("creating {}", j.opts.out.display()))?;
    let stamp = utc_stamp();
    let json_path = j.opts.out.join(format!("soak-{stamp}.json"));
    let svg_path = j.opts.out.join(format!("soak-{stamp}.svg"));
    let full = json!({"summary": line, "samples": j.samples});
    std::fs::write(&json_path, serde_json::to_vec_pretty(&full)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let title = format!(
        "openclaw soak {stamp}: {:.1} min, RSS band {:.1} MiB, {}",
        j.traffic_ms as f64 / 60_000.0,
        finite(band),
        if pass { "pass" } else { "FAIL" }
    );
    std::fs::write(&svg_path, plot::svg(j.samples, warmup_ms, &title))
        .with_context(|| format!("writing {}", svg_path.display()))?;
    Ok(Report {
        line,
        pass,
        reasons,
        json_path,
        svg_path,
    })
}

fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// Least-squares slope of `kb` (RSS, or its anonymous part) over time, in MiB per hour.
fn slope_mib_per_hour(samples: &[&Sample], kb: impl Fn(&Sample) -> u64) -> f64 {
    let n = samples.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let xs: Vec<f64> = samples
        .iter()
        .map(|s| s.t_ms as f64 / 3_600_000.0)
        .collect();
    let ys: Vec<f64> = samples.iter().map(|s| kb(s) as f64 / 1024.0).collect();
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

/// `YYYYmmddTHHMMSSZ` for now (UTC), without a date library.
fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t_ms: i64, rss_kb: u64) -> Sample {
        Sample {
            t_ms,
            rss_kb,
            anon_kb: 0,
            fds: 0,
            fds_upstream: 0,
            stats: Value::Null,
        }
    }

    #[test]
    fn slope_is_mib_per_hour() {
        // +1 MiB per minute = 60 MiB/h.
        let v: Vec<Sample> = (0..10)
            .map(|i| s(i * 60_000, 10_240 + i as u64 * 1024))
            .collect();
        let r: Vec<&Sample> = v.iter().collect();
        assert!((slope_mib_per_hour(&r, |s| s.rss_kb) - 60.0).abs() < 1e-6);
        let flat: Vec<Sample> = (0..10).map(|i| s(i * 1000, 5000)).collect();
        let r: Vec<&Sample> = flat.iter().collect();
        assert_eq!(slope_mib_per_hour(&r, |s| s.rss_kb), 0.0);
    }

    #[test]
    fn stamp_has_the_expected_shape() {
        let st = utc_stamp();
        assert_eq!(st.len(), 16, "{st}");
        assert!(st.starts_with("20") && st.ends_with('Z') && st.as_bytes()[8] == b'T');
    }
}
