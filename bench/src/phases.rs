//! The measurements, one function per phase, each bounded in iterations and in time:
//! startup, idle RSS, 1000 held connections, sequential connect latency and closed-loop
//! `health` load. Each returns raw numbers; `main` turns them into the JSON line.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::task::JoinSet;
use tokio::time::sleep;

use crate::gateway::Gateway;
use crate::stats::Sorted;
use crate::ws::{self, OpenError, Ws};

/// Upper bound for spawn → first hello-ok.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);
/// Handshakes in flight at once: half the per-IP pre-auth limit of 32.
const OPEN_CONCURRENCY: usize = 16;
/// Upper bound for opening one connection, retries on 503 included.
const OPEN_RETRY_LIMIT: Duration = Duration::from_secs(30);
/// Cap on requests per connection in a load phase (the deadline normally ends it first).
const MAX_REQUESTS_PER_CONN: u64 = 10_000_000;

/// One gateway spawn measured up to its first hello-ok.
pub struct Startup {
    pub gateway: Gateway,
    pub port: u16,
    pub hello_ok: Duration,
    pub hello_ok_at: Instant,
}

/// Spawns a gateway and polls `connect` in a tight loop (1 ms between refused attempts)
/// until the first hello-ok; the connection is closed again.
pub async fn start(bin: &Path) -> Result<Startup> {
    let mut gateway = Gateway::spawn(bin)?;
    let t0 = gateway.spawned_at;
    let deadline = t0 + STARTUP_LIMIT;
    let mut attempts = 0u64;
    loop {
        if Instant::now() >= deadline {
            bail!(
                "no hello-ok within {STARTUP_LIMIT:?} ({attempts} attempts); last output:\n{}",
                gateway.output_tail()
            );
        }
        gateway.ensure_running()?;
        let Some(port) = gateway.poll_port() else {
            sleep(Duration::from_millis(1)).await;
            continue;
        };
        attempts += 1;
        match ws::open(port).await {
            Ok(conn) => {
                let hello_ok_at = Instant::now();
                drop(conn);
                return Ok(Startup {
                    gateway,
                    port,
                    hello_ok: hello_ok_at - t0,
                    hello_ok_at,
                });
            }
            Err(e) if e.is_retryable() => sleep(Duration::from_millis(1)).await,
            Err(e) => bail!(
                "connect to the fresh gateway failed: {e}; last output:\n{}",
                gateway.output_tail()
            ),
        }
    }
}

/// Startup time and VmRSS 1 s after the first hello-ok, for one fresh gateway.
pub async fn startup_rep(bin: &Path) -> Result<(Duration, u64)> {
    let s = start(bin).await?;
    sleep_until(s.hello_ok_at + Duration::from_secs(1)).await;
    let mut gateway = s.gateway;
    gateway.ensure_running()?;
    Ok((s.hello_ok, gateway.rss_kb()?))
}

/// Opens one authenticated connection, retrying 503 / refused / starting.
/// Returns the socket and how many attempts had to be retried.
pub async fn open_retrying(port: u16) -> Result<(Ws, u64)> {
    let deadline = Instant::now() + OPEN_RETRY_LIMIT;
    let mut retries = 0u64;
    loop {
        match ws::open(port).await {
            Ok(conn) => return Ok((conn, retries)),
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                retries += 1;
                let pause = if matches!(e, OpenError::Busy) { 5 } else { 1 };
                sleep(Duration::from_millis(pause)).await;
            }
            Err(e) => bail!("opening a connection failed after {retries} retries: {e}"),
        }
    }
}

/// What holding many idle connections cost.
pub struct Held {
    pub rss_before_kb: u64,
    pub rss_held_kb: u64,
    pub opened: usize,
    pub alive: usize,
    pub open_time: Duration,
    pub retries: u64,
}

/// Opens `n` connections (16 handshakes at a time), keeps reading them as a real client
/// would, waits `settle`, and reads VmRSS. All are closed when this returns.
pub async fn hold_idle(
    gateway: &mut Gateway,
    port: u16,
    n: usize,
    settle: Duration,
) -> Result<Held> {
    let rss_before_kb = gateway.rss_kb()?;
    let started = Instant::now();
    let mut opening = JoinSet::new();
    let mut holders = JoinSet::new();
    let mut launched = 0usize;
    let mut retries = 0u64;
    // Each pass launches or collects one handshake: at most 2n passes.
    for _ in 0..2 * n + 1 {
        while opening.len() < OPEN_CONCURRENCY && launched < n {
            opening.spawn(open_retrying(port));
            launched += 1;
        }
        let Some(joined) = opening.join_next().await else {
            break;
        };
        let (conn, r) = joined.context("handshake task")??;
        retries += r;
        holders.spawn(ws::drain(conn));
    }
    let open_time = started.elapsed();
    let opened = holders.len();
    if opened < n {
        bail!("only {opened} of {n} connections opened");
    }
    sleep(settle).await;
    gateway.ensure_running()?;
    let rss_held_kb = gateway.rss_kb()?;
    // A drain task that finished means the gateway closed that socket.
    let mut alive = opened;
    while holders.try_join_next().is_some() {
        alive -= 1;
    }
    holders.abort_all();
    Ok(Held {
        rss_before_kb,
        rss_held_kb,
        opened,
        alive,
        open_time,
        retries,
    })
}

/// `count` sequential open → hello-ok latencies on a fresh socket each.
pub async fn connect_latency(port: u16, count: usize) -> Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let t = Instant::now();
        let conn = ws::open(port)
            .await
            .map_err(|e| anyhow::anyhow!("connect #{i} failed: {e}"))?;
        samples.push(t.elapsed());
        ws::close(conn).await;
    }
    Ok(samples)
}

/// Result of one closed-loop load phase.
pub struct Load {
    pub latencies: Sorted,
    pub elapsed: Duration,
    pub errors: u64,
}

impl Load {
    pub fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// `conns` connections each send `health`, wait for the reply, and send the next one,
/// until `duration` has passed.
pub async fn health_load(port: u16, conns: usize, duration: Duration) -> Result<Load> {
    let mut sockets = Vec::with_capacity(conns);
    for _ in 0..conns {
        sockets.push(open_retrying(port).await?.0);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = JoinSet::new();
    for (c, mut conn) in sockets.into_iter().enumerate() {
        workers.spawn(async move {
            let mut lat = Vec::with_capacity(64 * 1024);
            let mut errors = 0u64;
            let mut n = 0u64;
            while n < MAX_REQUESTS_PER_CONN && Instant::now() < deadline {
                let id = format!("h{c}-{n}");
                let t = Instant::now();
                match ws::health(&mut conn, &id).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(e) => {
                        eprintln!("  connection {c}: {e:#}");
                        errors += 1;
                        break;
                    }
                }
                n += 1;
            }
            (lat, errors, Instant::now(), conn)
        });
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut last_reply = started;
    let mut done = Vec::with_capacity(conns);
    while let Some(joined) = workers.join_next().await {
        let (lat, e, finished, conn) = joined.context("load task")?;
        all.extend(lat);
        errors += e;
        last_reply = last_reply.max(finished);
        done.push(conn);
    }
    // Closing happens after the clock stopped.
    for conn in done {
        ws::close(conn).await;
    }
    let elapsed = last_reply - started;
    Ok(Load {
        latencies: Sorted::from_durations(&all),
        elapsed,
        errors,
    })
}

async fn sleep_until(t: Instant) {
    tokio::time::sleep_until(t.into()).await;
}
