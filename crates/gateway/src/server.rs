//! The supervisor: binds the listeners (refusing clearly when the port is taken), runs one
//! *generation* of the gateway (state + HTTP/WS servers + periodic tasks) at a time, and reacts
//! to control messages: stop (SIGTERM/SIGINT), SIGUSR1, and config-file changes, which are
//! applied hot or by an in-process restart. A restart never loses the port: listeners whose
//! address is unchanged are handed over (duplicated fds), and new ones are bound before the
//! old generation is torn down, so a failed restart keeps the old gateway running.

use crate::sync::LockExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openclaw_config::reload::{ReloadPlan, changed_paths, plan};
use openclaw_config::{GatewaySettings, LoadedConfig, Paths, RunOverrides};
use openclaw_protocol::events::names as ev;
use openclaw_protocol::{Shutdown, Tick};
use tokio::sync::mpsc;

use crate::StartError;
use crate::hub::Audience;
use crate::logging::LogTarget;
use crate::state::{AppState, ShutdownKind, now_ms};

/// How long clients are told to wait before reconnecting after a restart.
pub const RESTART_EXPECTED_MS: u64 = 1_000;

/// What the supervisor reacts to.
#[derive(Debug)]
pub enum Control {
    Stop(&'static str),
    Usr1,
    /// The config file changed on disk (debounced), or an RPC wrote it.
    ConfigChanged,
}

/// Binds every address of the bind mode. The first address must bind; later ones (e.g. `::1`
/// where IPv6 is off) are best effort.
pub fn bind(settings: &GatewaySettings) -> Result<Vec<std::net::TcpListener>, StartError> {
    let mut port = settings.port;
    let mut out = Vec::new();
    for (i, ip) in settings.bind.addrs().into_iter().enumerate() {
        let addr = SocketAddr::new(ip, port);
        match std::net::TcpListener::bind(addr) {
            Ok(l) => {
                // With `--port 0` every address shares the port the first one got.
                if let Ok(a) = l.local_addr() {
                    port = a.port();
                }
                out.push(l)
            }
            Err(e) if i == 0 => {
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    return Err(StartError::PortInUse {
                        addr,
                        listeners: crate::portinfo::listeners(port),
                    });
                }
                return Err(StartError::Bind { addr, source: e });
            }
            Err(e) => {
                tracing::debug!(target: "gateway", "not listening on {addr}: {e}");
            }
        }
    }
    Ok(out)
}

/// Forwards SIGTERM/SIGINT/SIGUSR1 to the supervisor.
fn spawn_signals(tx: mpsc::Sender<Control>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int), Ok(mut usr1)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::user_defined1()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            let _ = tx.send(Control::Stop("SIGINT")).await;
            return;
        };
        loop {
            let msg = tokio::select! {
                _ = term.recv() => Control::Stop("SIGTERM"),
                _ = int.recv() => Control::Stop("SIGINT"),
                _ = usr1.recv() => Control::Usr1,
            };
            if tx.send(msg).await.is_err() {
                return;
            }
        }
    });
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = tx.send(Control::Stop("SIGINT")).await;
    });
}

fn spawn_periodic(state: &Arc<AppState>) {
    let s = state.clone();
    tokio::spawn(async move {
        let period = Duration::from_millis(s.settings().tick_interval_ms);
        let mut iv = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut stop = s.shutdown.subscribe();
        loop {
            tokio::select! {
                _ = iv.tick() => {
                    let payload = serde_json::to_string(&Tick { ts: now_ms() }).unwrap_or_default();
                    s.hub.broadcast(ev::TICK, &payload, None, true, Audience::Everyone);
                }
                _ = stop.changed() => return,
            }
        }
    });
    let s = state.clone();
    tokio::spawn(async move {
        let period = Duration::from_millis(s.settings().health_refresh_ms);
        let mut iv = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut stop = s.shutdown.subscribe();
        loop {
            tokio::select! {
                _ = iv.tick() => {
                    let json = s.refresh_health();
                    s.hub.broadcast(ev::HEALTH, &json, Some(s.state_version()), true, Audience::Everyone);
                }
                _ = stop.changed() => return,
            }
        }
    });
}

/// One running generation: its state and server tasks.
struct Generation {
    state: Arc<AppState>,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Generation {
    /// Serves on duplicates of `listeners` (the supervisor keeps the originals).
    fn start(state: Arc<AppState>, listeners: &[std::net::TcpListener]) -> Self {
        let app = crate::http::router(state.clone());
        let mut servers = Vec::new();
        for l in listeners {
            let listener = match l
                .try_clone()
                .and_then(|c| c.set_nonblocking(true).map(|_| c))
                .and_then(tokio::net::TcpListener::from_std)
            {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(target: "gateway", "cannot serve on a listener: {e}");
                    continue;
                }
            };
            servers.push(tokio::spawn(crate::listener::serve(
                listener,
                app.clone(),
                state.clone(),
            )));
        }
        crate::runtime_token::sync(&state.paths, &state.settings());
        spawn_periodic(&state);
        crate::canvas::start(&state);
        crate::heartbeat::spawn(&state);
        let channels = crate::channels::ChannelRuntime::start(&state);
        {
            let mut c = state.channels.locked();
            *c = Some(channels);
        }
        crate::cron::spawn(&state);
        state.refresh_health();
        Self { state, servers }
    }

    /// Tells clients, closes their sockets, and stops the servers (bounded in time).
    async fn end(self, kind: ShutdownKind) {
        let (reason, restart_ms, code, close_reason) = match &kind {
            ShutdownKind::Stop { .. } => (
                "gateway stopping".to_string(),
                None,
                1001,
                "gateway shutting down",
            ),
            ShutdownKind::Restart { reason } => (
                reason.clone(),
                Some(RESTART_EXPECTED_MS),
                1012,
                "service restart",
            ),
        };
        let payload = serde_json::to_string(&Shutdown {
            reason,
            restart_expected_ms: restart_ms,
        })
        .unwrap_or_default();
        let st = &self.state;
        // Channel accounts stop first, so a new generation can take them over.
        let channels = st.channels.locked().take();
        if let Some(c) = channels {
            c.stop().await;
        }
        st.hub
            .broadcast(ev::SHUTDOWN, &payload, None, false, Audience::Everyone);
        st.hub.close_all(code, close_reason);
        let _ = st.shutdown.send(Some(kind));
        let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
        while st.hub.count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for s in self.servers {
            let _ = tokio::time::timeout(Duration::from_millis(200), s).await;
        }
    }
}

fn listening_line(listeners: &[std::net::TcpListener]) -> String {
    listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|a| format!("ws://{a}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn same_addresses(a: &GatewaySettings, b: &GatewaySettings, bound_port: u16) -> bool {
    a.bind == b.bind && (b.port == bound_port || b.port == 0 && a.port == 0)
}

/// Everything the supervisor needs across generations.
pub struct Supervisor {
    pub paths: Paths,
    pub overrides: RunOverrides,
    pub log_target: Option<LogTarget>,
    pub control_tx: mpsc::Sender<Control>,
    /// What outlives every generation.
    pub process: Arc<crate::process::Process>,
}

impl Supervisor {
    fn new_state(&self, settings: GatewaySettings, config: LoadedConfig) -> Arc<AppState> {
        let state = AppState::new(
            settings,
            self.paths.clone(),
            config,
            self.log_target.clone(),
            self.process.clone(),
        );
        state.set_control(self.control_tx.clone());
        state
    }

    /// Runs until a stop signal. `listeners` are bound already for `settings`.
    pub async fn run(
        self,
        settings: GatewaySettings,
        config: LoadedConfig,
        mut listeners: Vec<std::net::TcpListener>,
        mut control_rx: mpsc::Receiver<Control>,
    ) -> Result<(), StartError> {
        spawn_signals(self.control_tx.clone());
        if let Some(n) = crate::listener::raise_nofile_limit() {
            tracing::debug!(target: "gateway", "open-files limit {n}");
        }
        crate::memory::spawn_reclaimer();
        crate::reload::spawn_watcher(
            &self.paths.config_path,
            self.control_tx.clone(),
            self.process.clone(),
        );
        let mut bound_port = listeners
            .first()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
            .unwrap_or(settings.port);
        let state = self.new_state(settings, config);
        tracing::info!(
            target: "gateway",
            "listening on {} (PID {}, auth {}, bind {}; {}ms)",
            listening_line(&listeners),
            std::process::id(),
            state.settings().auth.name(),
            state.settings().bind.name(),
            state.uptime_ms()
        );
        if let Some(t) = &self.log_target {
            tracing::info!(target: "gateway", "log file: {}", t.path_for_today().display());
        }
        if openclaw_migrate::import_pending(&self.paths.state_dir) {
            // A reference 2026.9 home: its sessions, pairings and jobs live in SQLite we do not
            // read at run time. Say once per start how to carry them over.
            tracing::warn!(
                target: "gateway",
                "found the reference gateway's 2026.9 state (state/openclaw.sqlite, agents/*/agent/openclaw-agent.sqlite) not imported yet: run `openclaw doctor` to see what carries over and `openclaw doctor --non-interactive` to import it (read-only on the reference's files)"
            );
        }
        // Temp files of atomic writes a killed process never renamed: litter, never state.
        let state_dir = self.paths.state_dir.clone();
        tokio::task::spawn_blocking(move || {
            let n = openclaw_config::fsutil::sweep_stale_temps(&state_dir, 4);
            if n > 0 {
                tracing::info!(target: "gateway", "removed {n} temp files left by an earlier process");
            }
        });
        let mut current = Generation::start(state, &listeners);
        tracing::info!(target: "gateway", "ready");
        // Compile the protocol validators now, off the accept path.
        tokio::task::spawn_blocking(openclaw_protocol::schema::warm_up);

        while let Some(msg) = control_rx.recv().await {
            match msg {
                Control::Stop(sig) => {
                    tracing::info!(target: "gateway", "signal {sig} received; shutting down");
                    current
                        .end(ShutdownKind::Stop {
                            reason: sig.to_string(),
                        })
                        .await;
                    crate::runtime_token::remove(&self.paths);
                    // No command `exec` started outlives the gateway.
                    self.process.jobs.kill_all_blocking();
                    tracing::info!(target: "gateway", "gateway stopped");
                    return Ok(());
                }
                Control::Usr1 => {
                    if !current.state.settings().restart_allowed {
                        tracing::warn!(target: "gateway", "SIGUSR1 ignored: restarts are disabled (commands.restart=false)");
                        continue;
                    }
                    tracing::info!(target: "gateway", "SIGUSR1 received; restarting in-process");
                    let Some(loaded) = self.load_valid() else {
                        continue;
                    };
                    if let Some((next, l)) = self
                        .restart(&current, loaded, &listeners, bound_port, "SIGUSR1")
                        .await
                    {
                        current = next;
                        if let Some(l) = l {
                            bound_port = port_of(&l, bound_port);
                            listeners = l;
                        }
                    }
                }
                Control::ConfigChanged => {
                    let started = Instant::now();
                    let Some(loaded) = self.load_valid() else {
                        continue;
                    };
                    let old = current.state.config();
                    let old_v = serde_json::to_value(&old.config).unwrap_or_default();
                    let new_v = serde_json::to_value(&loaded.config).unwrap_or_default();
                    let changed = changed_paths(&old_v, &new_v);
                    let Ok(new_settings) =
                        openclaw_config::resolve::resolve_gateway(&loaded, &self.overrides)
                            .inspect_err(|e| {
                                tracing::error!(target: "reload", "config reload rejected ({}): {e}; keeping the running config", loaded.path.display());
                            })
                    else {
                        continue;
                    };
                    match plan(new_settings.reload_mode, &changed) {
                        ReloadPlan::Nothing => {
                            if !changed.is_empty() {
                                tracing::info!(target: "reload", "config changed ({}); reload mode is off", changed.join(", "));
                            }
                        }
                        ReloadPlan::Hot { ignored } => {
                            let running = current.state.settings();
                            let mut s = new_settings;
                            // Listening addresses only change on restart.
                            s.port = running.port;
                            s.bind = running.bind.clone();
                            crate::logging::set_verbose_level(s.log_level.as_deref());
                            current.state.apply_hot(s, loaded);
                            let hot: Vec<&String> =
                                changed.iter().filter(|p| !ignored.contains(p)).collect();
                            tracing::info!(
                                target: "reload",
                                "config reload applied (hot: {}) in {:.1}ms",
                                hot.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                                started.elapsed().as_secs_f64() * 1000.0
                            );
                            if !ignored.is_empty() {
                                tracing::warn!(target: "reload", "config change needs a restart to take effect: {} (gateway.reload.mode=hot)", ignored.join(", "));
                            }
                        }
                        ReloadPlan::Restart { because } => {
                            let reason = format!("config change ({})", because.join(", "));
                            tracing::info!(target: "reload", "restarting in-process: {reason}");
                            if let Some((next, l)) = self
                                .restart(&current, loaded, &listeners, bound_port, &reason)
                                .await
                            {
                                current = next;
                                if let Some(l) = l {
                                    bound_port = port_of(&l, bound_port);
                                    listeners = l;
                                }
                                tracing::info!(target: "reload", "restart complete in {:.1}ms", started.elapsed().as_secs_f64() * 1000.0);
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Loads the config file; an invalid file is logged and `None` keeps the running config.
    fn load_valid(&self) -> Option<LoadedConfig> {
        match crate::config_check::load(&self.paths.config_path) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::error!(target: "reload", "config reload skipped (invalid config): {e}; keeping the last good config");
                None
            }
        }
    }

    /// Starts a new generation from `loaded`. Returns it and, when the addresses changed, the
    /// new listeners; `None` (with a log line) keeps the current generation running.
    async fn restart(
        &self,
        current: &Generation,
        loaded: LoadedConfig,
        listeners: &[std::net::TcpListener],
        bound_port: u16,
        reason: &str,
    ) -> Option<(Generation, Option<Vec<std::net::TcpListener>>)> {
        let settings = match openclaw_config::resolve::resolve_gateway(&loaded, &self.overrides) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(target: "gateway", "restart aborted: {e}; keeping the running gateway");
                return None;
            }
        };
        let running = current.state.settings();
        let new_listeners = if same_addresses(&running, &settings, bound_port) {
            None
        } else {
            match bind(&settings) {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::error!(target: "gateway", "restart aborted: {e}; keeping the running gateway on port {bound_port}");
                    return None;
                }
            }
        };
        crate::logging::set_verbose_level(settings.log_level.as_deref());
        // End the old generation first; the listening sockets stay open meanwhile (the
        // supervisor holds them), so new connections wait in the backlog instead of failing.
        let old = Generation {
            state: current.state.clone(),
            servers: Vec::new(),
        };
        old.end(ShutdownKind::Restart {
            reason: reason.to_string(),
        })
        .await;
        let state = self.new_state(settings, loaded);
        let serve_on = new_listeners.as_deref().unwrap_or(listeners);
        let next = Generation::start(state, serve_on);
        tracing::info!(
            target: "gateway",
            "listening on {} (PID {}, restarted: {reason})",
            listening_line(serve_on),
            std::process::id()
        );
        Some((next, new_listeners))
    }
}

fn port_of(l: &[std::net::TcpListener], fallback: u16) -> u16 {
    l.first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
        .unwrap_or(fallback)
}
