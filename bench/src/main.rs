//! `openclaw-bench`: starts the release gateway on loopback, measures startup, memory,
//! connect latency and `health` throughput the way `../shared/spec/observed-reference.md`
//! measured the reference, and prints exactly one JSON line on stdout (progress on stderr).
//! `openclaw-bench soak` runs the soak instead (`openclaw_bench::soak`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use openclaw_bench::host::Host;
use openclaw_bench::stats::{Sorted, round};
use openclaw_bench::{cron, phases, scale, soak};
use serde_json::json;

const USAGE: &str = "usage: openclaw-bench [--bin PATH] [--quick] [--reps N] [--scale-only]
       openclaw-bench soak [--minutes N] [--bin PATH] [--out DIR]

  --bin PATH   gateway binary (default: <workspace>/target/release/openclaw)
  --quick      smoke run: 3 startup reps, 2 s load phases
  --reps N     startup reps (default 10, 3 with --quick)
  --scale-only only the scale phases (idle connections, slow consumers, chat.send burst);
               with --quick, small ones
  soak         mixed traffic for --minutes (default 2, may be fractional) against one
               gateway; writes soak-<timestamp>.json and .svg to --out (default
               <workspace>/target/soak) and exits 1 when a pass criterion failed

Prints one JSON line on stdout; progress goes to stderr.";

/// Upper bound on `soak --minutes`: a day.
const MAX_SOAK_MINUTES: f64 = 24.0 * 60.0;

/// Idle connections held in the memory phase.
const HELD_CONNECTIONS: usize = 1000;
/// Sequential handshakes in the latency phase.
const CONNECT_SAMPLES: usize = 200;
/// Load phase concurrency levels (connections, one request in flight each).
const LOAD_WIDE: usize = 32;
/// Streamed completions timed per path in the TTFT phase.
const TTFT_SAMPLES: usize = 100;
/// `node.invoke` round trips measured (after 20 unmeasured ones).
const NODE_INVOKE_SAMPLES: usize = 500;
/// `exec true` runs measured (each one agent run with one tool call).
const EXEC_SAMPLES: usize = 100;
/// Hot config changes timed in the reload phase.
const RELOADS: usize = 20;
/// Scheduled jobs in the cron phase.
const CRON_JOBS: usize = 10_000;
/// Upper bound on --reps, so a typo cannot run for hours.
const MAX_REPS: usize = 1000;
/// Tracked idle connections: a presence change is measured at each size (full, `--quick`).
const SCALE_IDLE: [usize; 2] = [1000, 10_000];
const SCALE_IDLE_QUICK: [usize; 2] = [100, 1000];
/// Clients that never read (full, `--quick`).
const SLOW_CONSUMERS: usize = 1000;
const SLOW_CONSUMERS_QUICK: usize = 50;
/// The `chat.send` burst: requests, sessions, per-session queue cap (full, `--quick`).
const BURST: (usize, usize, usize) = (1000, 100, 5);
const BURST_QUICK: (usize, usize, usize) = (100, 10, 5);

struct Args {
    bin: PathBuf,
    quick: bool,
    reps: usize,
    scale_only: bool,
    /// `Some` for `openclaw-bench soak`.
    soak: Option<soak::Options>,
}

impl Args {
    fn load_duration(&self) -> Duration {
        Duration::from_secs(if self.quick { 2 } else { 5 })
    }
}

/// `None` when only the usage was asked for.
fn parse_args() -> Result<Option<Args>> {
    let mut bin = None;
    let mut quick = false;
    let mut reps = None;
    let mut scale_only = false;
    let mut soak_cmd = false;
    let mut minutes = 2.0f64;
    let mut out = None;
    let mut it = std::env::args().skip(1).peekable();
    if it.peek().map(String::as_str) == Some("soak") {
        it.next();
        soak_cmd = true;
    }
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bin" => bin = Some(PathBuf::from(it.next().context("--bin needs a path")?)),
            "--minutes" if soak_cmd => {
                minutes = it
                    .next()
                    .context("--minutes needs a number")?
                    .parse()
                    .context("--minutes needs a number")?;
                if !(minutes > 0.0 && minutes <= MAX_SOAK_MINUTES) {
                    bail!("--minutes must be above 0 and at most {MAX_SOAK_MINUTES}");
                }
            }
            "--out" if soak_cmd => {
                out = Some(PathBuf::from(it.next().context("--out needs a dir")?))
            }
            "--quick" => quick = true,
            "--scale-only" => scale_only = true,
            "--reps" => {
                let n: usize = it
                    .next()
                    .context("--reps needs a number")?
                    .parse()
                    .context("--reps needs a number")?;
                if !(1..=MAX_REPS).contains(&n) {
                    bail!("--reps must be between 1 and {MAX_REPS}");
                }
                reps = Some(n);
            }
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return Ok(None);
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    let bin = match bin {
        Some(b) => b,
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/openclaw"),
    };
    if !bin.is_file() {
        bail!(
            "gateway binary not found at {}; build it with `cargo build --release -p openclaw-cli` or pass --bin PATH",
            bin.display()
        );
    }
    let bin = bin.canonicalize().unwrap_or(bin);
    let reps = reps.unwrap_or(if quick { 3 } else { 10 });
    let soak = soak_cmd.then(|| {
        let mut o = soak::Options::new(bin.clone(), minutes);
        if let Some(dir) = out {
            o.out = dir;
        }
        o
    });
    Ok(Some(Args {
        bin,
        quick,
        reps,
        scale_only,
        soak,
    }))
}

fn main() -> Result<()> {
    let Some(args) = parse_args()? else {
        return Ok(());
    };
    // The main bench measures latency from one thread; the soak's clients and fakes share
    // two, so the bench side does not become the bottleneck of hundreds of connections.
    let rt = if args.soak.is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    rt.block_on(async_main(args))
}

async fn async_main(args: Args) -> Result<()> {
    // Returning (rather than dying on the signal) drops every `Gateway`, which kills it.
    if let Some(opts) = &args.soak {
        let report = tokio::select! {
            r = soak::run(opts) => r?,
            _ = tokio::signal::ctrl_c() => bail!("interrupted"),
        };
        eprintln!(
            "soak: {} ({}, {})",
            if report.pass { "pass" } else { "FAIL" },
            report.json_path.display(),
            report.svg_path.display()
        );
        for r in &report.reasons {
            eprintln!("  - {r}");
        }
        println!("{}", report.line);
        if !report.pass {
            std::process::exit(1);
        }
        return Ok(());
    }
    tokio::select! {
        r = run(&args) => r,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}

async fn run(args: &Args) -> Result<()> {
    let nofile = scale::raise_nofile();
    let host = Host::probe(&args.bin)?;
    eprintln!(
        "openclaw-bench: {} ({}, {} bytes) on {} ({} cores)",
        args.bin.display(),
        host.version,
        host.binary_bytes,
        host.cpu,
        host.cores
    );
    if args.scale_only {
        let mut line = json!({
            "version": host.version,
            "cpu": host.cpu,
            "cores": host.cores,
            "quick": args.quick,
        });
        let scale_line = run_scale(args, nofile).await?;
        if let (Some(l), Some(c)) = (line.as_object_mut(), scale_line.as_object()) {
            l.extend(c.clone());
        }
        println!("{line}");
        return Ok(());
    }

    eprintln!(
        "startup: {} reps (spawn -> first hello-ok, VmRSS 1 s later)",
        args.reps
    );
    let mut startup = Vec::with_capacity(args.reps);
    let mut idle_rss = Vec::with_capacity(args.reps);
    for rep in 1..=args.reps {
        let (t, rss) = phases::startup_rep(&args.bin).await?;
        eprintln!(
            "  rep {rep}: hello-ok after {:.2} ms, idle VmRSS {rss} KiB",
            t.as_secs_f64() * 1e3
        );
        startup.push(t);
        idle_rss.push(rss as f64);
    }
    let startup = Sorted::from_durations(&startup);
    let idle_rss = Sorted::new(idle_rss);

    eprintln!("memory: {HELD_CONNECTIONS} idle authenticated connections on a fresh gateway");
    let held = {
        let s = phases::start(&args.bin).await?;
        let mut gateway = s.gateway;
        tokio::time::sleep_until((s.hello_ok_at + Duration::from_secs(1)).into()).await;
        phases::hold_idle(
            &mut gateway,
            s.port,
            HELD_CONNECTIONS,
            Duration::from_secs(1),
        )
        .await?
    };
    let delta_kb = held.rss_held_kb as i64 - held.rss_before_kb as i64;
    eprintln!(
        "  opened {} in {:.0} ms ({} retries), {} alive; VmRSS {} -> {} KiB",
        held.opened,
        held.open_time.as_secs_f64() * 1e3,
        held.retries,
        held.alive,
        held.rss_before_kb,
        held.rss_held_kb
    );

    eprintln!("latency and load on a fresh gateway");
    let s = phases::start(&args.bin).await?;
    let mut gateway = s.gateway;
    tokio::time::sleep_until((s.hello_ok_at + Duration::from_secs(1)).into()).await;
    let connect = Sorted::from_durations(&phases::connect_latency(s.port, CONNECT_SAMPLES).await?);
    eprintln!(
        "  connect x{CONNECT_SAMPLES}: p50 {:.3} ms, p99 {:.3} ms",
        connect.median(),
        connect.percentile(99.0)
    );
    let c1 = phases::health_load(s.port, 1, args.load_duration()).await?;
    eprintln!(
        "  health C=1: {:.0} req/s, p99 {:.3} ms",
        c1.rps(),
        c1.latencies.percentile(99.0)
    );
    let wide = phases::health_load(s.port, LOAD_WIDE, args.load_duration()).await?;
    eprintln!(
        "  health C={LOAD_WIDE}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms",
        wide.rps(),
        wide.latencies.percentile(50.0),
        wide.latencies.percentile(99.0)
    );
    gateway.ensure_running()?;
    let rss_after_load_kb = gateway.rss_kb()?;
    eprintln!("config reload: {RELOADS} hot changes (write → applied)");
    // Blocking waits are fine here: nothing else runs on the bench's runtime in this phase.
    let reload = phases::reload(&gateway, RELOADS)?;
    let reload_gw = Sorted::new(reload.gateway_ms.clone());
    let reload_e2e = Sorted::from_durations(&reload.end_to_end);
    eprintln!(
        "  gateway time p50 {:.3} ms, max {:.3} ms; write → applied p50 {:.2} ms",
        reload_gw.median(),
        reload_gw.max(),
        reload_e2e.median()
    );
    drop(gateway);

    eprintln!("agent streaming: time-to-first-token, fake provider direct vs through the gateway");
    let (direct, via) = phases::ttft(&args.bin, TTFT_SAMPLES).await?;
    let overhead_p50 = via.median() - direct.median();
    let overhead_p99 = via.percentile(99.0) - direct.percentile(99.0);
    eprintln!(
        "  direct p50 {:.3} ms, via gateway p50 {:.3} ms → overhead p50 {:.3} ms, p99 {:.3} ms",
        direct.median(),
        via.median(),
        overhead_p50,
        overhead_p99
    );

    eprintln!("node.invoke: {NODE_INVOKE_SAMPLES} round trips operator → gateway → node → back");
    let invoke = phases::node_invoke(&args.bin, NODE_INVOKE_SAMPLES).await?;
    eprintln!(
        "  p50 {:.3} ms, p99 {:.3} ms",
        invoke.median(),
        invoke.percentile(99.0)
    );

    let cron_window = Duration::from_secs(if args.quick { 5 } else { 60 });
    eprintln!(
        "cron: idle for {}s with 0 and with {CRON_JOBS} scheduled jobs",
        cron_window.as_secs()
    );
    let cron_empty = cron::idle_with_jobs(&args.bin, 0, cron_window).await?;
    let cron_full = cron::idle_with_jobs(&args.bin, CRON_JOBS, cron_window).await?;
    eprintln!(
        "  VmRSS {} -> {} KiB; timer wake-ups/min {:.1} -> {:.1}; ctx switches/min {:.0} -> {:.0}; CPU {:.2}% -> {:.2}%",
        cron_empty.rss_kb,
        cron_full.rss_kb,
        cron_empty.timer_wakeups_per_min,
        cron_full.timer_wakeups_per_min,
        cron_empty.ctx_switches_per_min,
        cron_full.ctx_switches_per_min,
        cron_empty.cpu_pct,
        cron_full.cpu_pct
    );

    eprintln!("exec tool: {EXEC_SAMPLES} runs of `true` (tool start → tool result)");
    let exec = phases::exec_latency(&args.bin, EXEC_SAMPLES).await?;
    eprintln!(
        "  p50 {:.3} ms, p99 {:.3} ms",
        exec.median(),
        exec.percentile(99.0)
    );

    let mut line = json!({
        "version": host.version,
        "binary_bytes": host.binary_bytes,
        "cpu": host.cpu,
        "cores": host.cores,
        "quick": args.quick,
        "reps": args.reps,
        "startup_hello_ok_ms": round(startup.median(), 3),
        "startup_hello_ok_min_ms": round(startup.min(), 3),
        "startup_hello_ok_max_ms": round(startup.max(), 3),
        "idle_rss_kb": idle_rss.median().round() as u64,
        "rss_1000_before_kb": held.rss_before_kb,
        "rss_1000_idle_kb": held.rss_held_kb,
        "rss_1000_delta_kb": delta_kb,
        "rss_per_conn_bytes": delta_kb * 1024 / held.opened as i64,
        "open_1000_ms": round(held.open_time.as_secs_f64() * 1e3, 1),
        "open_1000_retries": held.retries,
        "alive_1000": held.alive,
        "connect_p50_ms": round(connect.percentile(50.0), 3),
        "connect_p99_ms": round(connect.percentile(99.0), 3),
        "health_c1_rps": round(c1.rps(), 1),
        "health_c1_p50_ms": round(c1.latencies.percentile(50.0), 3),
        "health_c1_p99_ms": round(c1.latencies.percentile(99.0), 3),
        "health_c32_rps": round(wide.rps(), 1),
        "health_c32_p50_ms": round(wide.latencies.percentile(50.0), 3),
        "health_c32_p99_ms": round(wide.latencies.percentile(99.0), 3),
        "health_secs": args.load_duration().as_secs(),
        "health_errors": c1.errors + wide.errors,
        "rss_after_load_kb": rss_after_load_kb,
        "reload_gateway_p50_ms": round(reload_gw.median(), 3),
        "reload_gateway_max_ms": round(reload_gw.max(), 3),
        "reload_e2e_p50_ms": round(reload_e2e.median(), 2),
        "reload_e2e_max_ms": round(reload_e2e.max(), 2),
        "ttft_direct_p50_ms": round(direct.median(), 3),
        "ttft_gateway_p50_ms": round(via.median(), 3),
        "ttft_overhead_p50_ms": round(overhead_p50, 3),
        "ttft_overhead_p99_ms": round(overhead_p99, 3),
        "node_invoke_p50_ms": round(invoke.median(), 3),
        "node_invoke_p99_ms": round(invoke.percentile(99.0), 3),
        "exec_true_p50_ms": round(exec.median(), 3),
        "exec_true_p99_ms": round(exec.percentile(99.0), 3),
    });
    // A second object: one `json!` this long exceeds the macro recursion limit.
    let cron_line = json!({
        "cron_jobs": cron_full.jobs,
        "cron_idle_secs": cron_window.as_secs(),
        "cron_0_rss_kb": cron_empty.rss_kb,
        "cron_10k_rss_kb": cron_full.rss_kb,
        "cron_10k_rss_delta_kb": cron_full.rss_kb as i64 - cron_empty.rss_kb as i64,
        "cron_10k_timer_wakeups_per_min": round(cron_full.timer_wakeups_per_min, 2),
        "cron_0_ctx_switches_per_min": round(cron_empty.ctx_switches_per_min, 1),
        "cron_10k_ctx_switches_per_min": round(cron_full.ctx_switches_per_min, 1),
        "cron_10k_idle_cpu_pct": round(cron_full.cpu_pct, 3),
    });
    let scale_line = run_scale(args, nofile).await?;
    for extra in [cron_line, scale_line] {
        if let (Some(l), Some(c)) = (line.as_object_mut(), extra.as_object()) {
            l.extend(c.clone());
        }
    }
    println!("{line}");
    Ok(())
}

/// The scale phases (issue 19 part 3) and their fields of the JSON line.
async fn run_scale(args: &Args, nofile: u64) -> Result<serde_json::Value> {
    let sizes = if args.quick {
        SCALE_IDLE_QUICK
    } else {
        SCALE_IDLE
    };
    eprintln!("scale: {} untracked (cli) idle connections", sizes[1]);
    let plain = scale::idle_untracked(&args.bin, sizes[1]).await?;
    let plain_per_conn =
        (plain.rss_held_kb as i64 - plain.rss_before_kb as i64) * 1024 / plain.opened as i64;
    let plain_rate = plain.opened as f64 / plain.open_time.as_secs_f64().max(1e-9);
    eprintln!(
        "  opened {} in {:.1} s ({plain_rate:.0} handshakes/s, {} retries), {} alive; VmRSS {} -> {} KiB ({plain_per_conn} B per connection)",
        plain.opened,
        plain.open_time.as_secs_f64(),
        plain.retries,
        plain.alive,
        plain.rss_before_kb,
        plain.rss_held_kb
    );
    eprintln!(
        "scale: {} tracked idle connections (bench open-files limit {nofile}); one presence change measured at {} and {}",
        sizes[1], sizes[0], sizes[1]
    );
    let idle = scale::idle(&args.bin, &sizes).await?;
    eprintln!(
        "  {} open in {:.1} s ({:.0} handshakes/s, {} retries), {} alive; VmRSS {} -> {} KiB ({} B per connection)",
        idle.clients,
        idle.open_time.as_secs_f64(),
        idle.handshakes_per_sec(),
        idle.retries,
        idle.alive,
        idle.rss_before_kb,
        idle.rss_held_kb,
        idle.rss_per_conn_bytes()
    );
    let slow_n = if args.quick {
        SLOW_CONSUMERS_QUICK
    } else {
        SLOW_CONSUMERS
    };
    eprintln!("scale: {slow_n} clients that never read while a run streams a large reply");
    let slow = scale::slow_consumers(&args.bin, slow_n).await?;
    eprintln!(
        "  produced in {:.1} s; gateway closed {} as slow consumers; clients: {} saw 1008, {} ended; VmRSS {} KiB, peak {} KiB, after {} KiB",
        slow.produce_time.as_secs_f64(),
        slow.closed_by_gateway,
        slow.saw_1008,
        slow.ended,
        slow.rss_before_kb,
        slow.rss_peak_kb,
        slow.rss_after_kb
    );
    let (count, sessions, cap) = if args.quick { BURST_QUICK } else { BURST };
    eprintln!(
        "scale: {count} chat.send on {sessions} sessions at once (slow provider, followup, cap {cap}, drop new)"
    );
    let burst = scale::chat_burst(&args.bin, count, sessions, cap).await?;
    eprintln!(
        "  accepted {}, refused {} (UNAVAILABLE + retryAfterMs), other errors {}, completed {} in {:.1} s; peak VmRSS {} KiB",
        burst.accepted,
        burst.refused,
        burst.other_errors,
        burst.completed,
        burst.elapsed.as_secs_f64(),
        burst.rss_peak_kb
    );
    let mut out = json!({
        "scale_cli_conns": plain.opened,
        "scale_cli_alive": plain.alive,
        "scale_cli_rss_before_kb": plain.rss_before_kb,
        "scale_cli_rss_held_kb": plain.rss_held_kb,
        "scale_cli_rss_per_conn_bytes": plain_per_conn,
        "scale_cli_open_s": round(plain.open_time.as_secs_f64(), 2),
        "scale_cli_handshakes_per_s": round(plain_rate, 1),
        "scale_idle_conns": idle.clients,
        "scale_idle_alive": idle.alive,
        "scale_idle_rss_before_kb": idle.rss_before_kb,
        "scale_idle_rss_held_kb": idle.rss_held_kb,
        "scale_idle_rss_per_conn_bytes": idle.rss_per_conn_bytes(),
        "scale_idle_open_s": round(idle.open_time.as_secs_f64(), 2),
        "scale_idle_handshakes_per_s": round(idle.handshakes_per_sec(), 1),
        "scale_idle_open_retries": idle.retries,
        "scale_slow_clients": slow.clients,
        "scale_slow_closed_by_gateway": slow.closed_by_gateway,
        "scale_slow_saw_1008": slow.saw_1008,
        "scale_slow_ended": slow.ended,
        "scale_slow_rss_before_kb": slow.rss_before_kb,
        "scale_slow_rss_peak_kb": slow.rss_peak_kb,
        "scale_slow_rss_after_kb": slow.rss_after_kb,
        "scale_slow_bound_kb": (openclaw_bench_max_buffered() * slow.clients as u64) / 1024,
        "scale_burst_sent": burst.sent,
        "scale_burst_sessions": burst.sessions,
        "scale_burst_cap": burst.cap,
        "scale_burst_accepted": burst.accepted,
        "scale_burst_refused_retry_after": burst.refused,
        "scale_burst_other_errors": burst.other_errors,
        "scale_burst_completed": burst.completed,
        "scale_burst_s": round(burst.elapsed.as_secs_f64(), 2),
        "scale_burst_rss_peak_kb": burst.rss_peak_kb,
    });
    if let Some(o) = out.as_object_mut() {
        for f in &idle.fanout {
            let n = f.clients;
            o.insert(
                format!("scale_presence_{n}_frame_bytes"),
                json!(f.frame_bytes),
            );
            o.insert(format!("scale_presence_{n}_delivered"), json!(f.delivered));
            o.insert(
                format!("scale_presence_{n}_deliver_ms"),
                json!(round(f.deliver.as_secs_f64() * 1e3, 1)),
            );
            o.insert(
                format!("scale_presence_{n}_gateway_cpu_ms"),
                json!(round(f.gateway_cpu.as_secs_f64() * 1e3, 1)),
            );
        }
    }
    Ok(out)
}

/// `maxBufferedBytes` (the protocol's 50 MiB; the bench never sets the override).
fn openclaw_bench_max_buffered() -> u64 {
    52_428_800
}
