//! The soak's traffic: one driver per kind (connection waves, steady RPC clients, `chat.send`,
//! streamed OpenAI-compatible requests, Telegram DMs, node invokes), each paced, each stopping
//! at the run's deadline, and each counting what it did and what failed in the [`Tally`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use openclaw_testkit::telegram::FakeTelegram;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::sleep;

use super::client::{CALL_TIMEOUT, Conn, Role};
use crate::ws;

/// The Telegram user the gateway allows (its DMs start agent runs).
pub const TG_OWNER: i64 = 111;
/// How many error messages are kept per kind for the report.
const KEPT_ERRORS: usize = 5;
/// Turns after which a `chat.send` session is reset with `/new`, so transcripts (and the
/// prompts built from them) stay bounded and cannot pass for a leak.
const TURNS_PER_SESSION: u64 = 40;

/// Counts of done and failed operations per traffic kind, shared by every driver.
#[derive(Default)]
pub struct Tally {
    inner: Mutex<BTreeMap<&'static str, Count>>,
}

#[derive(Default, Clone)]
pub struct Count {
    pub ok: u64,
    pub errors: u64,
    pub samples: Vec<String>,
}

impl Tally {
    pub fn ok(&self, kind: &'static str) {
        self.add(kind, 1, None);
    }

    pub fn ok_n(&self, kind: &'static str, n: u64) {
        self.add(kind, n, None);
    }

    pub fn err(&self, kind: &'static str, e: &anyhow::Error) {
        eprintln!("  soak {kind}: {e:#}");
        self.add(kind, 0, Some(format!("{e:#}")));
    }

    fn add(&self, kind: &'static str, ok: u64, err: Option<String>) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let c = m.entry(kind).or_default();
        c.ok += ok;
        if let Some(e) = err {
            c.errors += 1;
            if c.samples.len() < KEPT_ERRORS {
                c.samples.push(e);
            }
        }
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, Count> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// What every driver needs.
pub struct Ctx {
    pub port: u16,
    pub tally: Tally,
    /// Drivers start no new operation after this instant.
    pub until: Instant,
    pub wave_size: usize,
    pub wave_hold: Duration,
}

impl Ctx {
    fn running(&self) -> bool {
        Instant::now() < self.until
    }

    /// Sleeps `d`, or less when the deadline comes first; `false` once it has passed.
    async fn pause(&self, d: Duration) -> bool {
        let left = self.until.saturating_duration_since(Instant::now());
        sleep(d.min(left)).await;
        self.running()
    }
}

/// Handshakes in flight at once in a wave (half the per-IP pre-auth limit).
const WAVE_CONCURRENCY: usize = 16;

/// Bursts of `wave_size` read-only connections held `wave_hold`, then closed, with a pause
/// between bursts. A held socket the gateway closes is an unexpected close.
pub async fn waves(ctx: Arc<Ctx>) {
    let gap = Duration::from_secs(5);
    while ctx.running() && Instant::now() + ctx.wave_hold < ctx.until {
        match one_wave(&ctx).await {
            Ok(n) => ctx.tally.ok_n("ws_wave_conns", n as u64),
            Err(e) => ctx.tally.err("ws_wave_conns", &e),
        }
        if !ctx.pause(gap).await {
            break;
        }
    }
}

async fn one_wave(ctx: &Ctx) -> Result<usize> {
    let mut opening = JoinSet::new();
    let mut conns = Vec::with_capacity(ctx.wave_size);
    let mut launched = 0;
    let mut first_err = None;
    while launched < ctx.wave_size || !opening.is_empty() {
        while opening.len() < WAVE_CONCURRENCY && launched < ctx.wave_size {
            opening.spawn(crate::phases::open_retrying(ctx.port));
            launched += 1;
        }
        match opening.join_next().await {
            Some(Ok(Ok((c, _)))) => conns.push(c),
            Some(Ok(Err(e))) => {
                first_err.get_or_insert(e);
            }
            Some(Err(e)) => {
                first_err.get_or_insert(anyhow!(e).context("handshake task"));
            }
            None => break,
        }
    }
    let opened = conns.len();
    // Each holder reads until the hold ends; finishing earlier means the gateway closed it.
    let mut holders = JoinSet::new();
    for c in conns {
        let hold = ctx.wave_hold;
        holders.spawn(async move {
            match tokio::time::timeout(hold, ws::drain(c)).await {
                Ok(()) => Err(anyhow!("a held wave connection was closed by the gateway")),
                Err(_) => Ok(()),
            }
        });
    }
    let mut closed_early = 0;
    while let Some(r) = holders.join_next().await {
        if !matches!(r, Ok(Ok(()))) {
            closed_early += 1;
        }
    }
    // Dropping the streams (timeout cancelled `drain`) closed the TCP connections.
    if let Some(e) = first_err {
        return Err(e.context(format!("{opened} of {} opened", ctx.wave_size)));
    }
    if closed_early > 0 {
        bail!("unexpected close: {closed_early} of {opened} held connections");
    }
    Ok(opened)
}

/// A steady client: `health` and `status` alternately, one every `every`.
pub async fn steady(ctx: Arc<Ctx>, i: usize) {
    let every = Duration::from_millis(500);
    let mut conn = None;
    let mut n = 0u64;
    while ctx.running() {
        let c = match conn.take() {
            Some(c) => c,
            None => match Conn::open(ctx.port, Role::Admin, &format!("soak-steady-{i}")).await {
                Ok(c) => c,
                Err(e) => {
                    ctx.tally.err("rpc", &e);
                    if !ctx.pause(every).await {
                        break;
                    }
                    continue;
                }
            },
        };
        let mut c = c;
        n += 1;
        let method = if n.is_multiple_of(2) {
            "status"
        } else {
            "health"
        };
        match c.call(method, json!({})).await {
            Ok(_) => {
                ctx.tally.ok("rpc");
                conn = Some(c);
            }
            Err(e) => ctx.tally.err("rpc", &e),
        }
        if !ctx.pause(every).await {
            break;
        }
    }
    if let Some(c) = conn {
        c.close().await;
    }
}

/// `chat.send` on session `soak-<i>` and `agent.wait` for its end, every couple of seconds;
/// the session is reset with `/new` every [`TURNS_PER_SESSION`] turns.
pub async fn chat(ctx: Arc<Ctx>, i: usize, tag: &str) {
    let every = Duration::from_secs(2);
    let mut conn = None;
    let mut n = 0u64;
    while ctx.running() {
        let mut c = match conn.take() {
            Some(c) => c,
            None => match Conn::open(ctx.port, Role::Admin, &format!("soak-chat-{i}")).await {
                Ok(c) => c,
                Err(e) => {
                    ctx.tally.err("chat", &e);
                    if !ctx.pause(every).await {
                        break;
                    }
                    continue;
                }
            },
        };
        n += 1;
        match chat_turn(&mut c, i, n, tag).await {
            Ok(()) => {
                ctx.tally.ok("chat");
                conn = Some(c);
            }
            Err(e) => ctx.tally.err("chat", &e),
        }
        if !ctx.pause(every).await {
            break;
        }
    }
    if let Some(c) = conn {
        c.close().await;
    }
}

/// One `chat.send` turn that must end `ok`.
pub async fn chat_turn(c: &mut Conn, session: usize, n: u64, tag: &str) -> Result<()> {
    let key = format!("soak-{session}");
    if n.is_multiple_of(TURNS_PER_SESSION) {
        c.call(
            "chat.send",
            json!({"sessionKey": key, "message": "/new", "idempotencyKey": format!("{tag}-new-{session}-{n}")}),
        )
        .await?;
    }
    let run_id = format!("{tag}-chat-{session}-{n}");
    let r = c
        .call(
            "chat.send",
            json!({"sessionKey": key, "message": format!("soak turn {n}"), "idempotencyKey": run_id}),
        )
        .await?;
    if r["status"] != "started" && r["status"] != "ok" {
        bail!("chat.send answered {r}");
    }
    let w = c
        .call(
            "agent.wait",
            json!({"runId": run_id, "timeoutMs": CALL_TIMEOUT.as_millis() as u64 - 2000}),
        )
        .await?;
    if w["status"] != "ok" {
        bail!("run {run_id} ended {w}");
    }
    Ok(())
}

/// A streamed `/v1/chat/completions` request about every second.
pub async fn http_stream(ctx: Arc<Ctx>) {
    let every = Duration::from_secs(1);
    while ctx.running() {
        match stream_once(ctx.port).await {
            Ok(()) => ctx.tally.ok("http_stream"),
            Err(e) => ctx.tally.err("http_stream", &e),
        }
        if !ctx.pause(every).await {
            break;
        }
    }
}

/// One streamed completion read to its end (`data: [DONE]` and EOF, the request asks for
/// `Connection: close`).
pub async fn stream_once(port: u16) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.set_nodelay(true)?;
        let body =
            r#"{"model":"openclaw","stream":true,"messages":[{"role":"user","content":"soak"}]}"#;
        let req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            crate::gateway::TOKEN,
            body.len()
        );
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::with_capacity(8192);
        s.read_to_end(&mut buf).await?;
        let text = String::from_utf8_lossy(&buf);
        if !text.starts_with("HTTP/1.1 200") {
            bail!("answered {}", text.lines().next().unwrap_or("nothing"));
        }
        if !text.contains("[DONE]") {
            bail!("stream ended without [DONE]");
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(CALL_TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow!("timeout: streamed completion not done within {CALL_TIMEOUT:?}"))?
}

/// A Telegram DM from the allowed user every few seconds; each must get a reply
/// (`sendMessage`) within the call timeout.
pub async fn telegram(ctx: Arc<Ctx>, tg: Arc<FakeTelegram>) {
    let every = Duration::from_secs(3);
    let mut n = 0u64;
    while ctx.running() {
        n += 1;
        match telegram_once(&tg, n).await {
            Ok(()) => ctx.tally.ok("telegram"),
            Err(e) => ctx.tally.err("telegram", &e),
        }
        if !ctx.pause(every).await {
            break;
        }
    }
}

/// Pushes one DM and waits for one more `sendMessage`.
pub async fn telegram_once(tg: &FakeTelegram, n: u64) -> Result<()> {
    let before = tg.count("sendMessage");
    tg.push_dm(TG_OWNER, &format!("soak dm {n}"));
    let deadline = Instant::now() + CALL_TIMEOUT;
    while tg.count("sendMessage") <= before {
        if Instant::now() >= deadline {
            bail!("timeout: no Telegram reply within {CALL_TIMEOUT:?}");
        }
        sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A node that answers `system.which`, and an operator that invokes it about every second.
/// The node is paired on its first connection (the operator approves the request).
pub async fn nodes(ctx: Arc<Ctx>) {
    let every = Duration::from_secs(1);
    let setup = async {
        let op = Conn::open(ctx.port, Role::Admin, "soak-invoker").await?;
        let (node, node_id) = node_connect(ctx.port).await?;
        anyhow::Ok((op, node, node_id))
    };
    let (mut op, node, node_id) = match setup.await {
        Ok(x) => x,
        Err(e) => {
            ctx.tally.err("node_invoke", &e);
            return;
        }
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let responder = tokio::spawn(answer_invokes(node, stop_rx));
    let mut n = 0u64;
    while ctx.running() {
        n += 1;
        let r = op
            .call(
                "node.invoke",
                json!({"nodeId": node_id, "command": "system.which", "params": {"bins": ["sh"]},
                       "idempotencyKey": format!("soak-inv-{n}")}),
            )
            .await;
        match r {
            Ok(_) => ctx.tally.ok("node_invoke"),
            Err(e) => ctx.tally.err("node_invoke", &e),
        }
        if !ctx.pause(every).await {
            break;
        }
    }
    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(5), responder).await {
        Ok(Ok(Some(node))) => node.close().await,
        Ok(Ok(None)) => ctx.tally.err(
            "node_invoke",
            &anyhow!("unexpected close: the node connection ended"),
        ),
        Ok(Err(e)) => ctx.tally.err("node_invoke", &anyhow!(e)),
        Err(_) => ctx.tally.err(
            "node_invoke",
            &anyhow!("timeout: node responder did not stop"),
        ),
    }
    op.close().await;
}

/// Connects the node; approves its pairing request when one comes (a node paired before
/// connects without one). Returns the node's connection and id.
async fn node_connect(port: u16) -> Result<(Conn, String)> {
    let mut watcher = Conn::open(port, Role::Admin, "soak-pairing").await?;
    let node = Conn::open(port, Role::Node, "soak-node").await?;
    let node_id = match watcher
        .event("node.pair.requested", Duration::from_secs(5))
        .await
    {
        Ok(ev) => {
            let p = &ev["payload"];
            watcher
                .call("node.pair.approve", json!({"requestId": p["requestId"]}))
                .await?;
            p["nodeId"]
                .as_str()
                .context("nodeId in pair request")?
                .to_string()
        }
        Err(_) => {
            let list = watcher.call("node.list", json!({})).await?;
            list["nodes"]
                .as_array()
                .and_then(|a| a.iter().find(|n| n["connected"] == true))
                .and_then(|n| n["nodeId"].as_str())
                .map(str::to_string)
                .context("no pairing request and no connected node")?
        }
    };
    watcher.close().await;
    Ok((node, node_id))
}

/// Answers every invoke request at once until told to stop; returns the connection (`None`
/// when the gateway closed it).
async fn answer_invokes(
    mut node: Conn,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> Option<Conn> {
    let mut n = 0u64;
    loop {
        let f = tokio::select! {
            _ = &mut stop => return Some(node),
            f = node.frame() => f,
        };
        let Ok(f) = f else { return None };
        if f["event"] != "node.invoke.request" {
            continue;
        }
        n += 1;
        let p = &f["payload"];
        let res = json!({"type": "req", "id": format!("r{n}"), "method": "node.invoke.result",
            "params": {"id": p["id"], "nodeId": p["nodeId"], "ok": true,
                       "payloadJSON": "{\"bins\":{\"sh\":\"/bin/sh\"}}"}});
        if node.send(&res).await.is_err() {
            return None;
        }
    }
}

/// Adds an `every` cron job (isolated agent turn, no delivery); returns its id.
pub async fn cron_add(c: &mut Conn, every_ms: u64) -> Result<String> {
    let job = c
        .call(
            "cron.add",
            json!({"name": "soak", "schedule": {"kind": "every", "everyMs": every_ms},
                   "sessionTarget": "isolated", "wakeMode": "now",
                   "payload": {"kind": "agentTurn", "message": "soak cron"},
                   "delivery": {"mode": "none"}}),
        )
        .await?;
    job["id"]
        .as_str()
        .map(str::to_string)
        .context("cron.add returned no id")
}

/// Counts the job's runs, (all, failed), and removes it.
pub async fn cron_finish(c: &mut Conn, id: &str) -> Result<(u64, u64)> {
    let all = c.call("cron.runs", json!({"id": id, "limit": 1})).await?;
    let failed = c
        .call(
            "cron.runs",
            json!({"id": id, "limit": 200, "statuses": ["error"]}),
        )
        .await?;
    c.call("cron.remove", json!({"id": id})).await?;
    let total = |v: &Value| v["total"].as_u64().unwrap_or(0);
    Ok((total(&all), total(&failed)))
}
