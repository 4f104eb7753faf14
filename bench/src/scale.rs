//! The scale phases (issue 19, part 3), each on a fresh gateway and bounded in count and time:
//! many idle authenticated connections (RSS per connection, handshakes per second, and what one
//! presence change costs at two sizes, to show it grows linearly), clients that never read
//! (closed as slow consumers, memory far below `maxBufferedBytes` × N), and a burst of
//! `chat.send` on many sessions (queues bounded, `UNAVAILABLE` + `retryAfterMs` past the cap).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::sleep;
use tokio_tungstenite::tungstenite::Message;

use crate::gateway::Gateway;
use crate::phases;
use crate::ws::{self, Hello, Ws};

/// Handshakes in flight at once (the gateway allows 32 unauthenticated sockets per address).
const OPEN_CONCURRENCY: usize = 16;
/// How long to wait after the last connect before measuring: longer than the gateway's
/// largest presence coalescing gap (5 s), so the backlog of the connect burst is delivered and
/// the probe's change goes out at once.
const SETTLE: Duration = Duration::from_secs(7);
/// Upper bound for one presence change to reach every client.
const DELIVERY_LIMIT: Duration = Duration::from_secs(120);
/// Upper bound for a producing run or a burst to finish.
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// `SO_RCVBUF` of a client that never reads: small, so the gateway's queue (not the kernel)
/// holds what it does not take.
const SLOW_RECV_BUFFER: u32 = 4096;
/// What the slow consumers are sent: one run whose reply streams this many bytes in this many
/// chunks. Every `agent` assistant event carries the text so far, so one recipient is offered
/// about chunks × bytes / 2 (≈ 100 MB), twice `maxBufferedBytes`.
const SLOW_REPLY_BYTES: usize = 400_000;
const SLOW_REPLY_CHUNKS: usize = 500;

const PRESENCE_PREFIX: &str = r#"{"type":"event","event":"presence""#;
/// A tracked client (presence shows it), read-only.
const TRACKED: Hello = Hello {
    client: "gateway-client",
    mode: "backend",
    scopes: &["operator.read"],
    recv_buffer: None,
};
const ADMIN: Hello = Hello {
    client: "cli",
    mode: "cli",
    scopes: &["operator.admin"],
    recv_buffer: None,
};

/// Raises the bench's own soft open-files limit to its hard limit and returns the limit now
/// in force (the gateway raises its own at start).
pub fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

/// One presence change measured at `clients` connected clients.
pub struct Fanout {
    pub clients: usize,
    /// Size of the presence frame each client received.
    pub frame_bytes: usize,
    /// Clients that received the change.
    pub delivered: usize,
    /// `system-event` sent → the last client has the frame (includes the bench reading it).
    pub deliver: Duration,
    /// Gateway CPU time (user + system) spent meanwhile.
    pub gateway_cpu: Duration,
}

/// What holding many tracked idle connections cost.
pub struct Idle {
    pub clients: usize,
    pub rss_before_kb: u64,
    pub rss_held_kb: u64,
    pub open_time: Duration,
    pub retries: u64,
    /// Clients still connected when RSS was read.
    pub alive: usize,
    pub fanout: Vec<Fanout>,
}

impl Idle {
    pub fn handshakes_per_sec(&self) -> f64 {
        self.clients as f64 / self.open_time.as_secs_f64().max(1e-9)
    }
    pub fn rss_per_conn_bytes(&self) -> i64 {
        (self.rss_held_kb as i64 - self.rss_before_kb as i64) * 1024 / self.clients.max(1) as i64
    }
}

/// Which marker the current probe carries and how many holders have seen it.
#[derive(Default)]
struct Probe {
    marker: Mutex<String>,
    seen: AtomicUsize,
    frame_len: AtomicUsize,
}

/// Reads one idle connection until it closes, noting the probe's presence frame.
async fn hold(mut ws: Ws, probe: Arc<Probe>) {
    let mut last = String::new();
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Text(t) if t.starts_with(PRESENCE_PREFIX) => {
                let marker = probe.marker.lock().map(|m| m.clone()).unwrap_or_default();
                if !marker.is_empty() && marker != last && t.contains(marker.as_str()) {
                    probe.frame_len.store(t.len(), Ordering::Relaxed);
                    probe.seen.fetch_add(1, Ordering::Relaxed);
                    last = marker;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
}

/// Opens connections as `hello` until `holders` has `upto`, 16 handshakes at a time; each
/// opened socket is handed to `keep`. Returns the retries (HTTP 503 while over the pre-auth cap).
async fn open_upto<F>(port: u16, hello: Hello, have: usize, upto: usize, mut keep: F) -> Result<u64>
where
    F: FnMut(Ws),
{
    let mut opening = JoinSet::new();
    let mut launched = have;
    let mut retries = 0u64;
    // Each pass launches or collects one handshake: bounded by 2 × the count.
    for _ in 0..2 * (upto - have) + 1 {
        while opening.len() < OPEN_CONCURRENCY && launched < upto {
            opening.spawn(phases::open_retrying_as(port, hello));
            launched += 1;
        }
        let Some(joined) = opening.join_next().await else {
            break;
        };
        let (conn, r) = joined.context("handshake task")??;
        retries += r;
        keep(conn);
    }
    Ok(retries)
}

/// `clients` tracked idle connections on a fresh gateway; at each size in `probe_at` (ascending,
/// the last = `clients`) one presence change is measured after the gateway settles.
pub async fn idle(bin: &Path, probe_at: &[usize]) -> Result<Idle> {
    let clients = probe_at.last().copied().context("no sizes")?;
    let cap = (clients + 256).to_string();
    let s = phases::start_env(bin, Value::Null, &[("OPENCLAW_MAX_CONNECTIONS", &cap)]).await?;
    let mut gateway = s.gateway;
    let port = s.port;
    sleep(Duration::from_secs(1)).await;
    let (mut ctl, _) = phases::open_retrying_as(port, ADMIN).await?;
    let rss_before_kb = gateway.rss_kb()?;
    let probe = Arc::new(Probe::default());
    let mut holders = JoinSet::new();
    let mut open_time = Duration::ZERO;
    let mut retries = 0;
    let mut fanout = Vec::new();
    let mut rss_held_kb = rss_before_kb;
    let mut alive = 0;
    for (k, &n) in probe_at.iter().enumerate() {
        let t = Instant::now();
        let have = holders.len();
        retries += open_upto(port, TRACKED, have, n, |conn| {
            holders.spawn(hold(conn, probe.clone()));
        })
        .await?;
        open_time += t.elapsed();
        eprintln!(
            "  {n} open ({:.0} handshakes/s so far); settling",
            n as f64 / open_time.as_secs_f64().max(1e-9)
        );
        sleep(SETTLE).await;
        gateway.ensure_running()?;
        rss_held_kb = gateway.rss_kb()?;
        alive = n;
        while holders.try_join_next().is_some() {
            alive -= 1;
        }
        let f = presence_change(&gateway, &mut ctl, &probe, n, k).await?;
        eprintln!(
            "  presence change to {n}: {} B frame, {} delivered in {:.0} ms, gateway CPU {:.0} ms; VmRSS {rss_held_kb} KiB",
            f.frame_bytes,
            f.delivered,
            f.deliver.as_secs_f64() * 1e3,
            f.gateway_cpu.as_secs_f64() * 1e3
        );
        fanout.push(f);
    }
    holders.abort_all();
    Ok(Idle {
        clients,
        rss_before_kb,
        rss_held_kb,
        open_time,
        retries,
        alive,
        fanout,
    })
}

/// `n` untracked (`cli`) idle connections on a fresh gateway: what a connection itself costs,
/// without the presence traffic a tracked client receives (comparable with the 1000-connection
/// phase and the reference's figure).
pub async fn idle_untracked(bin: &Path, n: usize) -> Result<phases::Held> {
    let cap = (n + 256).to_string();
    let s = phases::start_env(bin, Value::Null, &[("OPENCLAW_MAX_CONNECTIONS", &cap)]).await?;
    let mut gateway = s.gateway;
    tokio::time::sleep_until((s.hello_ok_at + Duration::from_secs(1)).into()).await;
    phases::hold_idle(&mut gateway, s.port, n, Duration::from_secs(2)).await
}

/// One `system-event` (a presence change) and the time until every holder has its frame.
async fn presence_change(
    gateway: &Gateway,
    ctl: &mut Ws,
    probe: &Probe,
    clients: usize,
    k: usize,
) -> Result<Fanout> {
    let marker = format!("scale-probe-{k}-{}", std::process::id());
    if let Ok(mut m) = probe.marker.lock() {
        *m = marker.clone();
    }
    probe.seen.store(0, Ordering::Relaxed);
    let cpu0 = gateway.cpu_time()?;
    let t0 = Instant::now();
    ws::request_with(
        ctl,
        &format!("p{k}"),
        "system-event",
        json!({"text": marker, "instanceId": marker}),
    )
    .await?;
    let deadline = t0 + DELIVERY_LIMIT;
    while probe.seen.load(Ordering::Relaxed) < clients && Instant::now() < deadline {
        sleep(Duration::from_millis(2)).await;
    }
    let deliver = t0.elapsed();
    let gateway_cpu = gateway.cpu_time()?.saturating_sub(cpu0);
    Ok(Fanout {
        clients,
        frame_bytes: probe.frame_len.load(Ordering::Relaxed),
        delivered: probe.seen.load(Ordering::Relaxed),
        deliver,
        gateway_cpu,
    })
}

/// What clients that never read cost, and how they ended.
pub struct Slow {
    pub clients: usize,
    /// `closing slow consumer` decisions in the gateway's log.
    pub closed_by_gateway: usize,
    /// Clients that, reading afterwards, found the 1008 "slow consumer" close frame.
    pub saw_1008: usize,
    /// Clients whose connection ended (close frame, EOF or reset) within the read deadline.
    pub ended: usize,
    pub rss_before_kb: u64,
    pub rss_peak_kb: u64,
    pub rss_after_kb: u64,
    pub produce_time: Duration,
}

/// `clients` operator connections that stop reading after hello-ok while one run streams a
/// large reply to every operator; then each reads what reached it.
pub async fn slow_consumers(bin: &Path, clients: usize) -> Result<Slow> {
    let fake = openclaw_testkit::FakeOpenAi::start().await;
    let text: String = "slow consumer bench ".repeat(SLOW_REPLY_BYTES / 20);
    // Paced, so the producer (an operator too, and reading) keeps up with ~30 MB/s of events.
    fake.push(openclaw_testkit::Script::slow(
        text,
        SLOW_REPLY_CHUNKS,
        Duration::from_millis(6),
    ));
    let cap = (clients + 256).to_string();
    let s = phases::start_env(
        bin,
        fake_provider(&fake),
        &[("OPENCLAW_MAX_CONNECTIONS", &cap)],
    )
    .await?;
    let mut gateway = s.gateway;
    let port = s.port;
    let hello = Hello {
        recv_buffer: Some(SLOW_RECV_BUFFER),
        ..Hello::CLI
    };
    let mut idle = Vec::with_capacity(clients);
    open_upto(port, hello, 0, clients, |c| idle.push(c)).await?;
    let (mut producer, _) = phases::open_retrying_as(port, ADMIN).await?;
    sleep(Duration::from_secs(1)).await;
    let rss_before_kb = gateway.rss_kb()?;
    gateway.skip_lines();
    let t0 = Instant::now();
    let run = "scale-slow-1";
    ws::request_with(
        &mut producer,
        "s1",
        "chat.send",
        json!({"sessionKey": "scale-slow", "message": "stream a long answer", "idempotencyKey": run}),
    )
    .await?;
    wait_finals(&mut producer, &[run.to_string()], RUN_LIMIT).await?;
    let produce_time = t0.elapsed();
    // The gateway gives a slow consumer 1 s for its close frame, then drops it.
    sleep(Duration::from_secs(3)).await;
    gateway.ensure_running()?;
    let closed_by_gateway = gateway.count_lines("closing slow consumer");
    let rss_after_kb = gateway.rss_kb()?;
    let rss_peak_kb = gateway.rss_peak_kb()?;
    let mut readers = JoinSet::new();
    for ws in idle {
        readers.spawn(read_to_end(ws));
    }
    let (mut saw_1008, mut ended) = (0, 0);
    while let Some(r) = readers.join_next().await {
        let (is_1008, is_end) = r.context("reader task")?;
        saw_1008 += usize::from(is_1008);
        ended += usize::from(is_end);
    }
    Ok(Slow {
        clients,
        closed_by_gateway,
        saw_1008,
        ended,
        rss_before_kb,
        rss_peak_kb,
        rss_after_kb,
        produce_time,
    })
}

/// Reads a socket to its end (bounded): (saw close 1008, ended at all).
async fn read_to_end(mut ws: Ws) -> (bool, bool) {
    let read = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(c)))) => return (u16::from(c.code) == 1008, true),
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return (false, true),
                Some(Ok(_)) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .unwrap_or((false, false))
}

/// What a burst of `chat.send` did.
pub struct Burst {
    pub sent: usize,
    pub sessions: usize,
    pub cap: usize,
    pub accepted: usize,
    /// Refused with `UNAVAILABLE` and a `retryAfterMs`.
    pub refused: usize,
    pub other_errors: usize,
    /// Accepted runs that ended (chat `final`/`error`/`aborted`) within the deadline.
    pub completed: usize,
    pub rss_peak_kb: u64,
    pub elapsed: Duration,
}

/// `count` `chat.send` requests spread over `sessions` sessions, all sent at once on 10
/// connections, on a gateway whose provider answers slowly (queue mode `followup`, drop `new`,
/// `cap` as given): every session runs one turn and queues up to `cap`, the rest are refused.
pub async fn chat_burst(bin: &Path, count: usize, sessions: usize, cap: usize) -> Result<Burst> {
    let fake = openclaw_testkit::FakeOpenAi::start().await;
    for _ in 0..count {
        fake.push(openclaw_testkit::Script::slow(
            "a slow answer",
            2,
            Duration::from_millis(250),
        ));
    }
    let mut extra = fake_provider(&fake);
    extra["messages"] =
        json!({"queue": {"mode": "followup", "debounceMs": 0, "cap": cap, "drop": "new"}});
    let s = phases::start_env(bin, extra, &[]).await?;
    let gateway = s.gateway;
    let port = s.port;
    const CONNS: usize = 10;
    let mut conns = Vec::with_capacity(CONNS);
    for _ in 0..CONNS {
        conns.push(phases::open_retrying_as(port, ADMIN).await?.0);
    }
    let t0 = Instant::now();
    for i in 0..count {
        let frame = json!({"type": "req", "id": format!("b{i}"), "method": "chat.send",
            "params": {"sessionKey": format!("scale-burst-{}", i % sessions),
                       "message": format!("burst message {i}"), "idempotencyKey": format!("burst-{i}")}});
        conns[i % CONNS]
            .send(Message::text(frame.to_string()))
            .await
            .context("sending chat.send")?;
    }
    let mut workers = JoinSet::new();
    for (c, ws) in conns.into_iter().enumerate() {
        let ids: Vec<usize> = (c..count).step_by(CONNS).collect();
        workers.spawn(burst_replies(ws, ids));
    }
    let (mut accepted, mut refused, mut other_errors, mut completed) = (0, 0, 0, 0);
    while let Some(r) = workers.join_next().await {
        let b = r.context("burst task")??;
        accepted += b.0;
        refused += b.1;
        other_errors += b.2;
        completed += b.3;
    }
    Ok(Burst {
        sent: count,
        sessions,
        cap,
        accepted,
        refused,
        other_errors,
        completed,
        rss_peak_kb: gateway.rss_peak_kb()?,
        elapsed: t0.elapsed(),
    })
}

/// Reads the answers to requests `ids` on one connection, then waits for the accepted runs to
/// end: (accepted, refused with retryAfterMs, other errors, completed).
async fn burst_replies(mut ws: Ws, ids: Vec<usize>) -> Result<(usize, usize, usize, usize)> {
    let mut pending: std::collections::HashSet<String> =
        ids.iter().map(|i| format!("b{i}")).collect();
    let mut runs = Vec::new();
    let (mut refused, mut other) = (0, 0);
    let deadline = Instant::now() + RUN_LIMIT;
    // Chat events of runs that end before their ack is read are kept.
    let mut ended = std::collections::HashSet::new();
    while !pending.is_empty() {
        let v = next_json(&mut ws, deadline).await?;
        if v["type"] == "res" {
            let Some(id) = v["id"].as_str() else { continue };
            if !pending.remove(id) {
                continue;
            }
            if v["ok"] == true {
                runs.push(format!("burst-{}", &id[1..]));
            } else if v["error"]["code"] == "UNAVAILABLE" && v["error"]["retryAfterMs"].is_u64() {
                refused += 1;
            } else {
                other += 1;
            }
        } else if let Some(run) = run_end(&v) {
            ended.insert(run);
        }
    }
    let accepted = runs.len();
    let left: Vec<String> = runs.into_iter().filter(|r| !ended.contains(r)).collect();
    let completed = accepted - left.len() + wait_finals(&mut ws, &left, RUN_LIMIT).await?;
    Ok((accepted, refused, other, completed))
}

/// The run id of a `chat` event that ends its run.
fn run_end(v: &Value) -> Option<String> {
    if v["type"] != "event" || v["event"] != "chat" {
        return None;
    }
    let state = v["payload"]["state"].as_str()?;
    if !matches!(state, "final" | "error" | "aborted") {
        return None;
    }
    v["payload"]["runId"].as_str().map(String::from)
}

/// Waits until every run in `runs` has ended; returns how many did within `limit`.
async fn wait_finals(ws: &mut Ws, runs: &[String], limit: Duration) -> Result<usize> {
    let mut left: std::collections::HashSet<&str> = runs.iter().map(String::as_str).collect();
    let deadline = Instant::now() + limit;
    while !left.is_empty() {
        let v = match next_json_skipping_agent(ws, deadline).await {
            Ok(v) => v,
            Err(e) if Instant::now() >= deadline => {
                eprintln!("  {} runs did not end: {e:#}", left.len());
                break;
            }
            Err(e) => return Err(e),
        };
        if let Some(run) = run_end(&v) {
            left.remove(run.as_str());
        }
    }
    Ok(runs.len() - left.len())
}

/// Like [`next_json`], but `agent` events (one per streamed chunk, each carrying the text so
/// far) are skipped unparsed: a producer that parses 100 MB of them falls behind and is itself
/// closed as a slow consumer.
async fn next_json_skipping_agent(ws: &mut Ws, deadline: Instant) -> Result<Value> {
    const AGENT: &str = r#"{"type":"event","event":"agent""#;
    loop {
        let msg = tokio::time::timeout_at(deadline.into(), ws.next())
            .await
            .context("deadline passed")?;
        match msg {
            Some(Ok(Message::Text(t))) if t.starts_with(AGENT) => {}
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).context("not JSON"),
            Some(Ok(Message::Close(c))) => bail!("closed by the gateway: {c:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => bail!("read failed: {e}"),
            None => bail!("closed by the gateway"),
        }
    }
}

async fn next_json(ws: &mut Ws, deadline: Instant) -> Result<Value> {
    loop {
        let msg = tokio::time::timeout_at(deadline.into(), ws.next())
            .await
            .context("deadline passed")?;
        match msg {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).context("not JSON"),
            Some(Ok(Message::Close(c))) => bail!("closed by the gateway: {c:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => bail!("read failed: {e}"),
            None => bail!("closed by the gateway"),
        }
    }
}

/// Config sections pointing the default agent at the fake provider.
fn fake_provider(fake: &openclaw_testkit::FakeOpenAi) -> Value {
    json!({
        "models": {"providers": {"fake": {"baseUrl": fake.url(), "api": "openai-completions",
                                          "apiKey": "bench", "models": [{"id": "m"}]}}},
        "agents": {"defaults": {"model": {"primary": "fake/m"}}},
    })
}
