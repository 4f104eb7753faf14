//! Shared state of a running gateway, handed to every connection and method handler.

use crate::sync::LockExt;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use openclaw_config::{GatewaySettings, LoadedConfig, Paths};
use openclaw_protocol::{HeartbeatEvent, PresenceEntry, StateVersion};

use crate::auth::AuthLimiter;
use crate::device::DeviceStore;
use crate::hub::Hub;
use crate::logging::LogTarget;
use crate::presence::Presence;
use crate::registry::Registry;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How this generation of the gateway is ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShutdownKind {
    /// The process exits.
    Stop { reason: String },
    /// An in-process restart replaces this generation.
    Restart { reason: String },
}

pub struct AppState {
    settings: RwLock<Arc<GatewaySettings>>,
    config: RwLock<Arc<LoadedConfig>>,
    pub log_target: Option<LogTarget>,
    pub paths: Paths,
    pub version: String,
    pub started: Instant,
    pub boot_id: String,
    pub hostname: String,
    pub hub: Hub,
    pub presence: Mutex<Presence>,
    health_version: AtomicU64,
    health_json: RwLock<Arc<str>>,
    pub devices: DeviceStore,
    pub nodes: crate::nodes::Nodes,
    pub limiter: AuthLimiter,
    /// Unauthenticated sockets per address bucket (`trust::bucket`) and in total.
    preauth: Mutex<Preauth>,
    /// Open TCP connections of this generation (`listener`).
    pub connections: Arc<tokio::sync::Semaphore>,
    pub registry: Registry,
    pub runs: crate::runs::Runs,
    pub heartbeats: crate::heartbeat::Heartbeats,
    /// The cron scheduler (jobs loaded when the generation starts).
    pub cron: crate::cron::Cron,
    /// The channel runtime of this generation (set when it starts serving).
    pub channels: Mutex<Option<Arc<crate::channels::ChannelRuntime>>>,
    pub last_heartbeat: Mutex<Option<HeartbeatEvent>>,
    pub system_events: Mutex<VecDeque<String>>,
    pub shutdown: tokio::sync::watch::Sender<Option<ShutdownKind>>,
    control: std::sync::OnceLock<tokio::sync::mpsc::Sender<crate::server::Control>>,
    /// What outlives this generation (shared with the next one).
    pub process: Arc<crate::process::Process>,
    /// Prepared Control UI shells.
    pub control_ui: crate::control_ui::ControlUi,
    /// The canvas host (started with the generation, if enabled) and its capabilities.
    pub canvas: crate::canvas::CanvasHost,
    /// Control UI preferences per device (`users.prefs.*`).
    pub prefs: crate::prefs::PrefsStore,
    /// WhatsApp QR logins started over RPC (`web.login.*`).
    pub web_logins: crate::web_login::WebLogins,
    /// The one onboarding wizard over RPC (`wizard.*`).
    pub wizards: crate::wizard::WizardSessions,
    /// `<state>/exec-approvals.json`, the gateway host's exec policy.
    exec_approvals: crate::exec_approvals::file::Approvals,
    /// Exec approvals waiting for an operator.
    pub exec_pending: crate::exec_approvals::pending::PendingApprovals,
}

/// Max queued system-event texts kept for the main session.
pub const MAX_SYSTEM_EVENTS: usize = 20;

impl AppState {
    pub fn new(
        settings: GatewaySettings,
        paths: Paths,
        config: LoadedConfig,
        log_target: Option<LogTarget>,
        process: Arc<crate::process::Process>,
    ) -> Arc<Self> {
        let hostname = crate::sys::hostname();
        let version = env!("CARGO_PKG_VERSION").to_string();
        let ip = settings
            .bind
            .addrs()
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let platform = crate::sys::platform();
        let self_entry = PresenceEntry {
            host: Some(hostname.clone()),
            ip: Some(ip.clone()),
            version: Some(version.clone()),
            platform: Some(platform),
            device_family: Some(crate::sys::device_family().to_string()),
            model_identifier: Some(std::env::consts::ARCH.to_string()),
            mode: Some("gateway".into()),
            reason: Some("self".into()),
            text: Some(format!(
                "Gateway: {hostname} ({ip}) · app {version} · mode gateway · reason self"
            )),
            ts: now_ms(),
            ..Default::default()
        };
        let (shutdown, _) = tokio::sync::watch::channel(None);
        let limiter = AuthLimiter::new(settings.rate_limit);
        let devices = DeviceStore::open(paths.devices_dir());
        let nodes = crate::nodes::Nodes::open(paths.state_dir.join("nodes"));
        let prefs = crate::prefs::PrefsStore::new(&paths.state_dir);
        let cron = crate::cron::Cron::open(crate::cron::store_path(&paths, &config.config));
        let exec_approvals = crate::exec_approvals::file::Approvals::new(
            paths.state_dir.join(crate::exec_approvals::file::FILE_NAME),
        );
        let state = Arc::new(Self {
            exec_approvals,
            exec_pending: Default::default(),
            prefs,
            web_logins: Default::default(),
            wizards: Default::default(),
            process,
            settings: RwLock::new(Arc::new(settings)),
            config: RwLock::new(Arc::new(config)),
            log_target,
            paths,
            version,
            started: Instant::now(),
            boot_id: uuid::Uuid::new_v4().to_string(),
            hostname,
            hub: Hub::default(),
            presence: Mutex::new(Presence::new(self_entry)),
            health_version: AtomicU64::new(0),
            health_json: RwLock::new(Arc::from("{}")),
            devices,
            nodes,
            limiter,
            preauth: Mutex::new(Preauth::default()),
            connections: crate::listener::connection_cap(),
            registry: Registry::build(),
            runs: crate::runs::Runs::default(),
            heartbeats: crate::heartbeat::Heartbeats::default(),
            cron,
            channels: Mutex::new(None),
            last_heartbeat: Mutex::new(None),
            system_events: Mutex::new(VecDeque::new()),
            shutdown,
            control: std::sync::OnceLock::new(),
            control_ui: Default::default(),
            canvas: Default::default(),
        });
        state.refresh_health();
        state
    }

    /// The gateway host's exec approvals file.
    pub fn exec_approvals(&self) -> &crate::exec_approvals::file::Approvals {
        &self.exec_approvals
    }

    pub fn set_control(&self, tx: tokio::sync::mpsc::Sender<crate::server::Control>) {
        let _ = self.control.set(tx);
    }

    /// Asks the supervisor to re-read the config file now (after an RPC wrote it).
    pub fn request_reload(&self) {
        if let Some(tx) = self.control.get() {
            let _ = tx.try_send(crate::server::Control::ConfigChanged);
        }
    }

    /// The settings in force (hot reloads swap them).
    pub fn settings(&self) -> Arc<GatewaySettings> {
        match self.settings.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The config file as last loaded successfully.
    pub fn config(&self) -> Arc<LoadedConfig> {
        match self.config.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Swaps in a hot-reloaded config and its settings.
    pub fn apply_hot(&self, settings: GatewaySettings, config: LoadedConfig) {
        crate::runtime_token::sync(&self.paths, &settings);
        if let Ok(mut s) = self.settings.write() {
            *s = Arc::new(settings);
        }
        if let Ok(mut c) = self.config.write() {
            *c = Arc::new(config);
        }
        self.refresh_health();
    }

    pub fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn state_version(&self) -> StateVersion {
        StateVersion {
            presence: self.presence.locked().version(),
            health: self.health_version.load(Ordering::Relaxed),
        }
    }

    /// The cached health summary, serialized.
    pub fn health_json(&self) -> Arc<str> {
        self.health_json
            .read()
            .map(|h| h.clone())
            .unwrap_or_else(|_| Arc::from("{}"))
    }

    /// Rebuilds the cached health summary and bumps `stateVersion.health`.
    pub fn refresh_health(&self) -> Arc<str> {
        let summary = crate::methods::system::build_health(self);
        let json: Arc<str> = Arc::from(serde_json::to_string(&summary).unwrap_or_default());
        if let Ok(mut h) = self.health_json.write() {
            *h = json.clone();
        }
        self.health_version.fetch_add(1, Ordering::Relaxed);
        json
    }

    /// Reserves a pre-auth socket slot for `ip`; `None` when its address bucket or the whole
    /// gateway is over budget.
    pub fn try_preauth(self: &Arc<Self>, ip: IpAddr) -> Option<PreauthSlot> {
        let ip = crate::trust::bucket(ip);
        let settings = self.settings();
        let mut m = self.preauth.locked();
        if m.total >= settings.max_preauth_total {
            return None;
        }
        let n = m.per_ip.entry(ip).or_insert(0);
        if *n >= settings.max_preauth_per_ip {
            return None;
        }
        *n += 1;
        m.total += 1;
        Some(PreauthSlot {
            state: self.clone(),
            ip,
            released: false,
        })
    }

    /// Broadcasts the current presence list after a change: at once, or coalesced with the
    /// changes that follow within the gap (`presence::Fanout`).
    pub fn broadcast_presence(self: &Arc<Self>) {
        use crate::presence::FanoutSlot;
        let slot = self.presence.locked().fanout.request(Instant::now());
        match slot {
            FanoutSlot::Now => self.send_presence(),
            FanoutSlot::Scheduled => {}
            FanoutSlot::At(at) => match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    let state = self.clone();
                    rt.spawn(async move {
                        tokio::time::sleep_until(at.into()).await;
                        state.presence.locked().fanout.fire(Instant::now());
                        state.send_presence();
                    });
                }
                Err(_) => {
                    self.presence.locked().fanout.fire(Instant::now());
                    self.send_presence();
                }
            },
        }
    }

    /// Broadcasts the current presence list now, before anything else is queued (an explicit
    /// `system-event`: its caller gets the event before the reply, as from the reference).
    pub fn broadcast_presence_now(&self) {
        self.presence.locked().fanout.immediate(Instant::now());
        self.send_presence();
    }

    fn send_presence(&self) {
        let list = self.presence.locked().list(now_ms());
        let payload = serde_json::json!({ "presence": list }).to_string();
        let recipients = self.hub.broadcast(
            openclaw_protocol::events::names::PRESENCE,
            &payload,
            Some(self.state_version()),
            true,
            crate::hub::Audience::Everyone,
        );
        self.presence
            .locked()
            .fanout
            .sent((payload.len() * recipients) as u64);
    }
}

#[derive(Default)]
struct Preauth {
    per_ip: HashMap<IpAddr, usize>,
    total: usize,
}

/// A counted unauthenticated socket; released on handshake success or drop.
pub struct PreauthSlot {
    state: Arc<AppState>,
    ip: IpAddr,
    released: bool,
}

impl PreauthSlot {
    pub fn release(&mut self) {
        if self.released {
            return;
        }
        self.released = true;
        {
            let mut m = self.state.preauth.locked();
            m.total = m.total.saturating_sub(1);
            if let Some(n) = m.per_ip.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.per_ip.remove(&self.ip);
                }
            }
        }
    }
}

impl Drop for PreauthSlot {
    fn drop(&mut self) {
        self.release();
    }
}
