//! The gateway daemon: one port serving the WebSocket protocol and HTTP.
//!
//! Path of a frame: `http::fallback` upgrades → `conn::serve` sends `connect.challenge`,
//! validates the first frame (`openclaw_protocol::schema`), runs `handshake::process`, then
//! loops: inbound text → `parse_request` → `registry.authorize` → `methods::*` handler → reply
//! queued on the connection's byte-accounted queue (`hub::ConnHandle`) → socket.

pub mod agents;
pub mod auth;
pub mod canvas;
pub mod channels;
pub mod chat_commands;
pub mod config_check;
pub mod conn;
pub mod control_ui;
pub mod cron;
pub mod device;
pub mod error;
pub mod exec_approvals;
pub mod force;
pub mod frame_guard;
pub mod handshake;
pub mod heartbeat;
pub mod http;
pub mod http_api;
pub mod http_gate;
pub mod hub;
pub mod inbound_media;
pub mod inbox;
pub mod listener;
pub mod logging;
pub mod memory;
pub mod methods;
pub mod nodes;
pub mod pair_files;
pub mod portinfo;
pub mod prefs;
pub mod presence;
pub mod process;
pub mod registry;
pub mod reload;
pub mod runs;
pub mod runtime_token;
pub mod server;
pub mod state;
pub mod static_files;
pub mod sync;
pub mod sys;
pub mod tools;
pub mod trust;
pub mod web_login;
pub mod wizard;

use std::net::SocketAddr;

use openclaw_config::{ConfigError, Paths, ResolveError, RunOverrides};

pub use state::AppState;

/// How `openclaw gateway run` was invoked.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub paths: Option<Paths>,
    pub overrides: RunOverrides,
    pub verbose: bool,
    /// `--force`: stop whatever listens on the port first.
    pub force: bool,
}

/// Why the gateway could not start (each maps to a message and an exit code).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Paths(#[from] openclaw_config::paths::PathError),
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Resolve(#[from] ResolveError),
    #[error("cannot prepare the --dev profile: {0}")]
    Dev(std::io::Error),
    #[error("{}", port_in_use_message(.addr, .listeners))]
    PortInUse {
        addr: SocketAddr,
        listeners: Vec<portinfo::Listener>,
    },
    #[error("{0}")]
    Force(#[from] force::ForceError),
    #[error("Gateway failed to start: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

fn port_in_use_message(addr: &SocketAddr, listeners: &[portinfo::Listener]) -> String {
    let mut s = format!(
        "Gateway failed to start: another gateway instance is already listening on ws://{addr} (EADDRINUSE)\n\
         If the gateway is supervised, stop it with: openclaw gateway stop\n\
         Port {} is already in use.",
        addr.port()
    );
    for l in listeners {
        match (l.pid, &l.command) {
            (Some(pid), Some(cmd)) => s.push_str(&format!("\n- pid {pid}: {cmd} ({})", l.addr)),
            _ => s.push_str(&format!("\n- unknown process ({})", l.addr)),
        }
    }
    s
}

impl StartError {
    /// Config problems and start guards exit 78 (EX_CONFIG) as the reference; the rest 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Paths(_) | StartError::Config(_) | StartError::Resolve(_) => 78,
            _ => 1,
        }
    }
}

/// Loads config, applies guards, binds, and serves until SIGTERM/SIGINT (restarting in-process
/// on SIGUSR1 and on config changes that need it).
pub async fn run(opts: RunOptions) -> Result<(), StartError> {
    let paths = match opts.paths {
        Some(p) => p,
        None => Paths::resolve(&Default::default())?,
    };
    if opts.overrides.dev {
        let created = openclaw_config::dev::ensure_dev_setup(&paths).map_err(StartError::Dev)?;
        if created {
            eprintln!("created dev config at {}", paths.config_path.display());
        }
    }
    let loaded = config_check::load(&paths.config_path)?;
    let mut overrides = opts.overrides;
    // No configured secret never means no auth: this token guards this process only.
    overrides.runtime_token = Some(runtime_token::generate());
    let settings = openclaw_config::resolve::resolve_gateway(&loaded, &overrides)?;

    let mut log_dir_warning = None;
    let target = Some(match &settings.log_file {
        Some(f) => logging::LogTarget::File(f.clone()),
        None => {
            let (dir, warning) = logging::daily_log_dir(&paths.state_dir);
            log_dir_warning = warning;
            logging::LogTarget::Daily(dir)
        }
    });
    let mut secrets = Vec::new();
    match &settings.auth {
        openclaw_config::AuthMode::Token(t) | openclaw_config::AuthMode::Password(t) => {
            secrets.push(t.clone())
        }
        openclaw_config::AuthMode::None => {}
    }
    logging::init(
        opts.verbose,
        settings.log_level.as_deref(),
        target.clone(),
        sys::hostname(),
        secrets,
    );
    if let Some(w) = log_dir_warning {
        tracing::warn!(target: "gateway", "{w}");
    }
    if let Some(t) = &target {
        logging::prune_old_logs(t);
    }
    tracing::info!(target: "gateway", "loading configuration… {}", paths.config_path.display());
    if !loaded.exists {
        tracing::info!(target: "gateway", "no config file; running on defaults (--allow-unconfigured)");
    }
    if settings.auth_generated {
        tracing::warn!(
            target: "gateway",
            "auth token was missing. Generated a runtime token for this startup without changing config; the local CLI reads it from {} (set gateway.auth.token for other clients)",
            paths.runtime_token_path().display()
        );
    }
    let process = process::Process::new(settings.reload_debounce_ms);

    let listeners = match server::bind(&settings) {
        Err(StartError::PortInUse { .. }) if opts.force => {
            let pids = force::kill_port_owners(settings.port)?;
            tracing::info!(target: "gateway", "--force: stopped {pids:?}; port {} is free", settings.port);
            server::bind(&settings)?
        }
        other => other?,
    };
    let (control_tx, control_rx) = tokio::sync::mpsc::channel(32);
    let sup = server::Supervisor {
        paths,
        overrides,
        log_target: target,
        control_tx,
        process,
    };
    sup.run(settings, loaded, listeners, control_rx).await
}
