//! `openclaw node run|status`: the headless node host (spec nodes.md §2.8). It connects to a
//! gateway as `role:"node"` with its own device identity, declares the `system.*` commands it
//! implements, answers `node.invoke.request` events (a few at a time, so a slow `system.run`
//! never holds up a `system.which`), and reconnects forever with capped, jittered backoff.
//!
//! The files: `invoke` (one request → one result), `which`, `run` (`system.run`), `approvals`
//! (the exec approvals file), `state` (device token, `node.json`, pid file), `status`.

mod invoke;
mod run;
mod state;
mod status;

// The exec-approvals file model and program lookup are the gateway's too (its own `exec`).
use openclaw_gateway::exec_approvals::{file as approvals, which};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use openclaw_client::{ClientError, ConnectOptions, DeviceIdentity, GatewayClient};
use openclaw_config::{Paths, load_config};
use openclaw_protocol::{ClientId, ClientMode};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::Outcome;
use invoke::{Context, InvokeRequest, InvokeResult};
use state::{DeviceAuth, GatewayTarget, NodeConfig, PidFile};

pub use status::StatusArgs;

/// Invokes running at once; more wait for a slot.
const MAX_RUNNING: usize = 8;
/// Invokes accepted (running + waiting); beyond this the gateway is told the node is busy.
const MAX_ACCEPTED: usize = 64;
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// While a pairing request waits for an operator, retry no faster than this.
const PAIRING_RETRY: Duration = Duration::from_secs(10);
/// A session that lasted this long resets the backoff (a gateway restart reconnects fast; a
/// gateway that drops us at once keeps backing off).
const STABLE_SESSION: Duration = Duration::from_secs(30);
/// Budget for sending one `node.invoke.result` (and waiting for the gateway's ack).
const RESULT_TIMEOUT: Duration = Duration::from_secs(15);
const ROLE: &str = "node";
const DEFAULT_PORT: u16 = 18789;

#[derive(Args, Debug)]
pub struct NodeCmd {
    #[command(subcommand)]
    pub sub: NodeSub,
}

#[derive(Subcommand, Debug)]
pub enum NodeSub {
    /// Run the headless node host in the foreground.
    Run(RunArgs),
    /// Show the node host's identity, gateway target and whether it is running.
    Status(StatusArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Gateway host (default: the last one used, else 127.0.0.1).
    #[arg(long)]
    pub host: Option<String>,
    /// Gateway port (default: the last one used, else 18789).
    #[arg(long)]
    pub port: Option<u16>,
    /// Use TLS (wss://) for the gateway connection.
    #[arg(long, conflicts_with = "no_tls")]
    pub tls: bool,
    /// Do not use TLS, even if the last run did.
    #[arg(long)]
    pub no_tls: bool,
    /// Name shown in `nodes list` (default: the host name).
    #[arg(long)]
    pub display_name: Option<String>,
    /// Override the node instance id (default: generated once and kept in node.json).
    #[arg(long)]
    pub node_id: Option<String>,
}

pub async fn node(paths: &Paths, cmd: NodeCmd) -> Outcome {
    match cmd.sub {
        NodeSub::Run(args) => run(paths, args).await,
        NodeSub::Status(args) => status::status(paths, args),
    }
}

/// Everything a connection attempt needs, fixed for the life of the process.
struct Setup {
    url: String,
    node_id: String,
    display_name: String,
    identity: DeviceIdentity,
    token: Option<String>,
    password: Option<String>,
    device_auth_path: std::path::PathBuf,
    path_env: String,
}

impl Setup {
    /// Options for one attempt; the stored device token is re-read each time (a previous
    /// session may have been issued one, or it may have been dropped as stale).
    fn connect_options(&self) -> (ConnectOptions, bool) {
        let device_token = if self.token.is_none() && self.password.is_none() {
            DeviceAuth::token(&self.device_auth_path, &self.identity.device_id(), ROLE)
        } else {
            None
        };
        let presented_device_token = device_token.is_some();
        let (platform, family) = platform_identity();
        let opts = ConnectOptions {
            url: self.url.clone(),
            token: self.token.clone(),
            password: self.password.clone(),
            device_token,
            client_id: ClientId::NodeHost,
            client_mode: ClientMode::Node,
            platform: platform.to_string(),
            device_family: family.map(str::to_string),
            model_identifier: None,
            display_name: Some(self.display_name.clone()),
            instance_id: Some(self.node_id.clone()),
            role: ROLE.to_string(),
            scopes: Vec::new(),
            caps: vec!["system".to_string()],
            commands: Some(invoke::COMMANDS.iter().map(|c| c.to_string()).collect()),
            permissions: Some(Default::default()),
            path_env: Some(self.path_env.clone()),
            device: Some(self.identity.clone()),
            ..ConnectOptions::default()
        };
        (opts, presented_device_token)
    }
}

/// `client.platform` / `deviceFamily` as the reference node host sends them.
fn platform_identity() -> (&'static str, Option<&'static str>) {
    match std::env::consts::OS {
        "linux" => ("linux", Some("Linux")),
        "macos" => ("macos", Some("Mac")),
        "windows" => ("windows", Some("Windows")),
        other => (other, None),
    }
}

async fn run(paths: &Paths, args: RunArgs) -> Outcome {
    let node_cfg_path = state::node_config_path(paths);
    let mut node_cfg = NodeConfig::load(&node_cfg_path);
    let saved = node_cfg.gateway.clone();
    let target = GatewayTarget {
        host: args
            .host
            .clone()
            .or_else(|| saved.as_ref().map(|g| g.host.clone()))
            .unwrap_or_else(|| "127.0.0.1".to_string()),
        port: args
            .port
            .or_else(|| saved.as_ref().map(|g| g.port))
            .unwrap_or(DEFAULT_PORT),
        tls: args.tls || (!args.no_tls && saved.as_ref().is_some_and(|g| g.tls)),
    };
    let node_id = args
        .node_id
        .clone()
        .or_else(|| node_cfg.node_id.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let display_name = args
        .display_name
        .clone()
        .or_else(|| node_cfg.display_name.clone())
        .unwrap_or_else(host_name);
    node_cfg.version = 1;
    node_cfg.node_id = Some(node_id.clone());
    if args.display_name.is_some() {
        node_cfg.display_name = args.display_name.clone();
    }
    node_cfg.gateway = Some(target.clone());
    if let Err(e) = node_cfg.save(&node_cfg_path) {
        eprintln!(
            "node host: cannot save {}: {e} (continuing)",
            node_cfg_path.display()
        );
    }

    let identity = match DeviceIdentity::load_or_create(&paths.identity_path()) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("cannot load device identity: {e}");
            return Outcome::Failed;
        }
    };
    let loaded = match load_config(&paths.config_path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Failed;
        }
    };
    let (mut token, password) = crate::rpc::shared_secrets(&loaded);
    if token.is_none() && password.is_none() && is_loopback(&target.host) {
        // A gateway on this machine without a configured secret runs on a generated token.
        token = crate::rpc::runtime_token(paths);
    }
    let path_env = which::node_path_env();
    let setup = Setup {
        url: target.url(),
        node_id,
        display_name,
        identity,
        token,
        password,
        device_auth_path: state::device_auth_path(paths),
        path_env: path_env.clone(),
    };
    let _pid = match PidFile::create(state::pid_path(paths)) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("node host: cannot write pid file: {e} (continuing)");
            None
        }
    };
    let ctx = Arc::new(Context {
        approvals: approvals::Approvals::new(paths.state_dir.join(approvals::FILE_NAME)),
        path_env,
    });
    eprintln!(
        "node host: node {} ({}) device {}; commands: {}",
        setup.node_id,
        setup.display_name,
        setup.identity.device_id(),
        invoke::COMMANDS.join(", ")
    );
    let mut shutdown: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(shutdown_signal());
    connection_loop(&setup, ctx, &mut shutdown).await;
    eprintln!("node host stopped");
    Outcome::Done
}

/// Connect, serve, back off, forever (until `shutdown`).
async fn connection_loop(
    setup: &Setup,
    ctx: Arc<Context>,
    shutdown: &mut Pin<Box<dyn Future<Output = ()> + Send>>,
) {
    let mut backoff = Backoff::from_env();
    loop {
        let (opts, presented_device_token) = setup.connect_options();
        let attempt = tokio::select! {
            r = GatewayClient::connect(opts) => r,
            _ = &mut *shutdown => return,
        };
        let delay = match attempt {
            Ok((client, hello)) => {
                // Stored first, so whoever sees "connected" finds the token on disk.
                remember_device_token(setup, &hello);
                eprintln!("node host gateway connected: {}", setup.url);
                let started = Instant::now();
                let client = Arc::new(client);
                let ended = serve(Arc::clone(&client), Arc::clone(&ctx), shutdown).await;
                let (code, reason) = client
                    .close_info()
                    .unwrap_or((1006, "connection lost".to_string()));
                match ended {
                    Ended::Shutdown => {
                        if let Ok(c) = Arc::try_unwrap(client) {
                            c.close().await;
                        }
                        return;
                    }
                    Ended::Closed => {
                        eprintln!("node host gateway closed ({code}): {reason}");
                    }
                }
                if started.elapsed() >= STABLE_SESSION {
                    backoff.reset();
                }
                backoff.next_delay()
            }
            Err(e) => {
                let delay = backoff.next_delay();
                report_connect_error(setup, &e, presented_device_token, delay)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = &mut *shutdown => return,
        }
    }
}

/// Logs a failed connect in one line and picks the wait before the next attempt.
fn report_connect_error(
    setup: &Setup,
    e: &ClientError,
    presented_device_token: bool,
    delay: Duration,
) -> Duration {
    let shape = e.error_shape();
    let detail = |k: &str| {
        shape
            .and_then(|s| s.details.as_ref())
            .and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if shape.is_some_and(|s| s.code == "NOT_PAIRED")
        && let Some(request_id) = detail("requestId")
    {
        let delay = delay.max(PAIRING_RETRY.min(Backoff::from_env().cap));
        eprintln!(
            "node host gateway connect failed: pairing required (request {request_id}); approve it on the gateway: `openclaw devices approve {request_id}` (or `openclaw nodes approve {request_id}`); retrying in {}s",
            delay.as_secs().max(1)
        );
        return delay;
    }
    eprintln!(
        "node host gateway connect failed: {e}; retrying in {} ms",
        delay.as_millis()
    );
    // A stored device token the gateway no longer accepts (revoked, rotated, other gateway):
    // forget it, so the next attempt asks for pairing instead of failing the same way forever.
    let token_refused =
        detail("code").is_some_and(|c| c.contains("MISMATCH") || c.contains("DEVICE_TOKEN"));
    if presented_device_token && token_refused {
        let _ = DeviceAuth::store(
            &setup.device_auth_path,
            &setup.identity.device_id(),
            ROLE,
            None,
            &[],
        );
        eprintln!("node host: the stored device token was refused; dropped it");
    }
    delay
}

/// Keeps `hello-ok.auth.deviceToken` for the next connect.
fn remember_device_token(setup: &Setup, hello: &Value) {
    let Some(auth) = hello.get("auth") else {
        return;
    };
    let Some(token) = auth.get("deviceToken").and_then(Value::as_str) else {
        return;
    };
    if token.is_empty() {
        return;
    }
    let scopes: Vec<String> = auth
        .get("scopes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let device_id = setup.identity.device_id();
    if DeviceAuth::token(&setup.device_auth_path, &device_id, ROLE).as_deref() == Some(token) {
        return;
    }
    if let Err(e) = DeviceAuth::store(
        &setup.device_auth_path,
        &device_id,
        ROLE,
        Some(token),
        &scopes,
    ) {
        eprintln!("node host: cannot store the device token: {e}");
    }
}

enum Ended {
    Closed,
    Shutdown,
}

/// Answers invokes until the connection closes or `shutdown` fires.
async fn serve(
    client: Arc<GatewayClient>,
    ctx: Arc<Context>,
    shutdown: &mut Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Ended {
    let slots = Arc::new(Semaphore::new(MAX_RUNNING));
    let mut tasks: JoinSet<()> = JoinSet::new();
    let ended = loop {
        tokio::select! {
            ev = client.next_event_shared() => {
                let Some(ev) = ev else { break Ended::Closed };
                if ev.event != "node.invoke.request" {
                    continue;
                }
                let req = match invoke::parse_request(ev.payload.as_ref()) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("node host: ignoring an unanswerable node.invoke.request: {e}");
                        continue;
                    }
                };
                let client = Arc::clone(&client);
                if tasks.len() >= MAX_ACCEPTED {
                    let busy = InvokeResult::Err {
                        code: "UNAVAILABLE".to_string(),
                        message: format!("node busy ({MAX_ACCEPTED} invokes in progress)"),
                    };
                    tasks.spawn(async move { send_result(&client, &req, &busy).await });
                    continue;
                }
                let ctx = Arc::clone(&ctx);
                let slots = Arc::clone(&slots);
                tasks.spawn(async move {
                    let result = match slots.acquire_owned().await {
                        Ok(_permit) => invoke::dispatch(&ctx, &req).await,
                        Err(_) => return,
                    };
                    send_result(&client, &req, &result).await;
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = &mut *shutdown => break Ended::Shutdown,
        }
    };
    // The gateway has failed these invokes already; stop their work (children are killed).
    tasks.shutdown().await;
    ended
}

async fn send_result(client: &GatewayClient, req: &InvokeRequest, result: &InvokeResult) {
    let params = result.to_params(req);
    if let Err(e) = client
        .request("node.invoke.result", Some(params), RESULT_TIMEOUT)
        .await
    {
        eprintln!(
            "node host: node.invoke.result for {} ({}) not delivered: {e}",
            req.id, req.command
        );
    }
}

/// Capped exponential backoff with "equal jitter": the wait is half the step plus a random
/// part of the other half, so reconnecting nodes spread out instead of arriving together.
struct Backoff {
    attempt: u32,
    base: Duration,
    cap: Duration,
}

impl Backoff {
    /// `OPENCLAW_TEST_NODE_BACKOFF_MS` lowers the cap (tests only).
    fn from_env() -> Self {
        let cap = std::env::var("OPENCLAW_TEST_NODE_BACKOFF_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(BACKOFF_CAP);
        Backoff {
            attempt: 0,
            base: BACKOFF_BASE.min(cap),
            cap,
        }
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next_delay(&mut self) -> Duration {
        let step = self
            .base
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let jitter = if jitter_ms == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(rand::random::<u64>() % (jitter_ms + 1))
        };
        half + jitter
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The machine's host name without a trailing `.local` (the reference's fallback name).
fn host_name() -> String {
    let mut buf = [0u8; 256];
    #[cfg(unix)]
    {
        // SAFETY: gethostname writes at most `buf.len()` bytes into our buffer.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            buf[0] = 0;
        }
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    let name = name
        .strip_suffix(".local")
        .map(str::to_string)
        .unwrap_or(name);
    if name.is_empty() {
        "openclaw".to_string()
    } else {
        name
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let mut b = Backoff {
            attempt: 0,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
        };
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(500) && delays[0] <= Duration::from_secs(1));
        for d in &delays[6..] {
            assert!(
                *d >= Duration::from_secs(15) && *d <= Duration::from_secs(30),
                "{d:?}"
            );
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("[::1]"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("10.0.0.1"));
        assert!(!is_loopback("gw.example"));
    }
}
