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
    start_with(bin, serde_json::Value::Null).await
}

/// `start` with extra config sections.
pub async fn start_with(bin: &Path, extra: serde_json::Value) -> Result<Startup> {
    start_env(bin, extra, &[]).await
}

/// `start_with` with extra `OPENCLAW_*` environment variables for the gateway.
pub async fn start_env(
    bin: &Path,
    extra: serde_json::Value,
    env: &[(&str, &str)],
) -> Result<Startup> {
    let mut gateway = Gateway::spawn_env(bin, extra, env)?;
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
    open_retrying_as(port, ws::Hello::CLI).await
}

/// [`open_retrying`] as `hello`.
pub async fn open_retrying_as(port: u16, hello: ws::Hello) -> Result<(Ws, u64)> {
    let deadline = Instant::now() + OPEN_RETRY_LIMIT;
    let mut retries = 0u64;
    loop {
        match ws::open_as(port, &hello).await {
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

/// Config reload timings: the gateway's own figure (from its "in X.Xms" log line) and the
/// time from the file write to that line on stdout.
pub struct Reload {
    pub gateway_ms: Vec<f64>,
    pub end_to_end: Vec<Duration>,
}

/// Rewrites the config `count` times with a hot-reloadable change (`meta.bench`) and waits for
/// each `config reload applied` line.
pub fn reload(gateway: &Gateway, count: usize) -> Result<Reload> {
    let home = gateway
        .config_path
        .parent()
        .context("config path has a parent")?
        .to_path_buf();
    let mut out = Reload {
        gateway_ms: Vec::with_capacity(count),
        end_to_end: Vec::with_capacity(count),
    };
    for i in 0..count {
        let mut cfg = crate::gateway::base_config(&home);
        cfg["meta"] = serde_json::json!({ "bench": i });
        let text = serde_json::to_vec(&cfg)?;
        // Write-then-rename, as editors and our own config writes do.
        let tmp = home.join(".openclaw.json.bench");
        std::fs::write(&tmp, &text)?;
        gateway.skip_lines();
        let t0 = Instant::now();
        std::fs::rename(&tmp, &gateway.config_path)?;
        let line = gateway
            .wait_line("config reload applied", Duration::from_secs(5))
            .with_context(|| {
                format!(
                    "no reload line for change {i}; output:\n{}",
                    gateway.output_tail()
                )
            })?;
        out.end_to_end.push(t0.elapsed());
        let ms = line
            .rsplit(" in ")
            .next()
            .and_then(|s| s.trim().trim_end_matches("ms").parse::<f64>().ok())
            .with_context(|| format!("no timing in {line:?}"))?;
        out.gateway_ms.push(ms);
    }
    Ok(out)
}

/// Time from sending a streaming Chat Completions request to the first content delta.
async fn first_token(port: u16, path: &str, bearer: Option<&str>, body: &str) -> Result<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t0 = Instant::now();
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.set_nodelay(true)?;
    let auth = bearer
        .map(|b| format!("Authorization: Bearer {b}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let deadline = t0 + Duration::from_secs(10);
    loop {
        let n = tokio::time::timeout_at(deadline.into(), s.read(&mut chunk))
            .await
            .context("no first token within 10 s")??;
        if n == 0 {
            bail!(
                "stream ended before the first token: {}",
                String::from_utf8_lossy(&buf)
            );
        }
        buf.extend_from_slice(&chunk[..n]);
        if String::from_utf8_lossy(&buf).contains("\"content\":\"") {
            return Ok(t0.elapsed());
        }
    }
}

/// Time-to-first-token directly from the fake provider and through the gateway's
/// `/v1/chat/completions` (an agent run streaming from the same fake), `count` each.
pub async fn ttft(bin: &Path, count: usize) -> Result<(Sorted, Sorted)> {
    let fake = openclaw_testkit::FakeOpenAi::start().await;
    let extra = serde_json::json!({
        "gateway": {"http": {"endpoints": {"chatCompletions": {"enabled": true}}}},
        "models": {"providers": {"fake": {"baseUrl": fake.url(), "api": "openai-completions",
                                          "apiKey": "bench", "models": [{"id": "m"}]}}},
        "agents": {"defaults": {"model": {"primary": "fake/m"}}},
    });
    let s = start_with(bin, extra).await?;
    let fake_port = fake.addr().port();
    let direct_body = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let gw_body =
        r#"{"model":"openclaw","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    // Warm both paths (connection setup, lazily built HTTP clients, validators).
    for _ in 0..5 {
        first_token(fake_port, "/v1/chat/completions", None, direct_body).await?;
        first_token(
            s.port,
            "/v1/chat/completions",
            Some(crate::gateway::TOKEN),
            gw_body,
        )
        .await?;
    }
    let mut direct = Vec::with_capacity(count);
    let mut via = Vec::with_capacity(count);
    for _ in 0..count {
        direct.push(first_token(fake_port, "/v1/chat/completions", None, direct_body).await?);
        via.push(
            first_token(
                s.port,
                "/v1/chat/completions",
                Some(crate::gateway::TOKEN),
                gw_body,
            )
            .await?,
        );
    }
    drop(s);
    Ok((
        Sorted::from_durations(&direct),
        Sorted::from_durations(&via),
    ))
}

/// `node.invoke` round trips through the gateway: an operator invokes `system.which` on a
/// loopback node that answers at once. Returns the per-call latencies.
pub async fn node_invoke(bin: &Path, count: usize) -> Result<Sorted> {
    use openclaw_testkit::gateway::{Raw, connect_frame};
    use serde_json::json;
    let s = start(bin).await?;
    let url = format!("ws://127.0.0.1:{}", s.port);
    let token = crate::gateway::TOKEN;
    let hello = |role: &str, scopes: serde_json::Value, mode: &str, id: &str| {
        json!({"minProtocol": 3, "maxProtocol": 4,
               "client": {"id": id, "version": "bench", "platform": "linux", "mode": mode,
                          "instanceId": "bench-node"},
               "role": role, "scopes": scopes, "caps": ["system"], "commands": ["system.which"],
               "auth": {"token": token}})
    };
    let (mut op, _) = Raw::open(&url).await;
    op.send(&connect_frame(
        "c",
        hello("operator", json!(["operator.admin"]), "cli", "cli"),
    ))
    .await;
    if op.res("c").await["ok"] != true {
        bail!("operator connect refused");
    }
    let (mut node, _) = Raw::open(&url).await;
    node.send(&connect_frame(
        "c",
        hello("node", json!([]), "node", "node-host"),
    ))
    .await;
    if node.res("c").await["ok"] != true {
        bail!("node connect refused");
    }
    let ev = op.event("node.pair.requested").await;
    let node_id = ev["payload"]["nodeId"].clone();
    let r = op
        .req(
            "a",
            "node.pair.approve",
            Some(json!({"requestId": ev["payload"]["requestId"]})),
        )
        .await;
    if r["ok"] != true {
        bail!("node approval failed: {r}");
    }
    // The node answers every invoke request at once.
    let responder = tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            let f = node.frame().await;
            if f["event"] == "node.invoke.request" {
                n += 1;
                let p = &f["payload"];
                let res = json!({"type": "req", "id": format!("r{n}"), "method": "node.invoke.result",
                    "params": {"id": p["id"], "nodeId": p["nodeId"], "ok": true,
                               "payloadJSON": "{\"bins\":{\"sh\":\"/bin/sh\"}}"}});
                node.send(&res).await;
            }
        }
    });
    let mut out = Vec::with_capacity(count);
    for i in 0..count + 20 {
        let id = format!("i{i}");
        let t0 = Instant::now();
        let r = op
            .req(
                &id,
                "node.invoke",
                Some(json!({"nodeId": node_id, "command": "system.which",
                            "params": {"bins": ["sh"]}, "idempotencyKey": id})),
            )
            .await;
        let dt = t0.elapsed();
        if r["ok"] != true {
            responder.abort();
            bail!("node.invoke failed: {r}");
        }
        // The first calls warm up; they are not counted.
        if i >= 20 {
            out.push(dt);
        }
    }
    responder.abort();
    drop(s);
    Ok(Sorted::from_durations(&out))
}

/// The model's `exec {"command":"true"}` → its tool result: the gap between the `tool`
/// `start` and `result` events a `tool-events` client sees in an agent run on the fake
/// provider, `count` runs (after 5 warm-up runs).
pub async fn exec_latency(bin: &Path, count: usize) -> Result<Sorted> {
    use openclaw_testkit::Script;
    use openclaw_testkit::gateway::{Raw, connect_frame};
    use serde_json::json;
    let fake = openclaw_testkit::FakeOpenAi::start().await;
    let ws_dir = tempfile::tempdir()?;
    let extra = json!({
        "models": {"providers": {"fake": {"baseUrl": fake.url(), "api": "openai-completions",
                                          "apiKey": "bench", "models": [{"id": "m"}]}}},
        "agents": {"defaults": {"model": {"primary": "fake/m"}, "workspace": ws_dir.path()}},
    });
    let s = start_with(bin, extra).await?;
    let url = format!("ws://127.0.0.1:{}", s.port);
    let (mut op, _) = Raw::open(&url).await;
    op.send(&connect_frame(
        "c",
        json!({"minProtocol": 3, "maxProtocol": 4,
               "client": {"id": "cli", "version": "bench", "platform": "linux", "mode": "cli",
                          "instanceId": "bench-exec"},
               "role": "operator", "scopes": ["operator.admin"], "caps": ["tool-events"],
               "auth": {"token": crate::gateway::TOKEN}}),
    ))
    .await;
    if op.res("c").await["ok"] != true {
        bail!("operator connect refused");
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count + 5 {
        fake.push(Script::tool_call(
            format!("x{i}"),
            "exec",
            json!({"command": "true"}),
            "ok",
        ));
        let id = format!("e{i}");
        op.send(&json!({"type": "req", "id": id, "method": "agent",
            "params": {"message": "run true", "idempotencyKey": id,
                       "sessionKey": format!("bench-exec-{i}")}}))
            .await;
        let (mut started, mut took, mut finals) = (None, None, 0);
        while finals < 2 {
            let f = op.frame().await;
            if f["type"] == "res" && f["id"] == id.as_str() {
                if f["ok"] != true {
                    bail!("agent run failed: {f}");
                }
                finals += 1;
            } else if f["event"] == "agent" && f["payload"]["stream"] == "tool" {
                match f["payload"]["data"]["phase"].as_str() {
                    Some("start") => started = Some(Instant::now()),
                    Some("result") => took = started.map(|t| t.elapsed()),
                    _ => {}
                }
            }
        }
        let Some(dt) = took else {
            bail!("no tool start/result events for run {id}");
        };
        if i >= 5 {
            out.push(dt);
        }
    }
    drop(s);
    Ok(Sorted::from_durations(&out))
}
