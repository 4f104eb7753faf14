//! Turns the loaded config plus CLI flags and env into the settings the daemon runs with,
//! applying the reference's precedence and start-up guards.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use serde_json::Value;

use crate::load::LoadedConfig;
use crate::model::{AuthModeSetting, BindSetting, GatewayMode, ReloadMode};
use crate::{DEFAULT_PORT, DEV_PORT, env};

/// Flags of `openclaw gateway run` that override the file.
#[derive(Debug, Clone, Default)]
pub struct RunOverrides {
    pub port: Option<u16>,
    pub bind: Option<String>,
    pub token: Option<String>,
    pub password: Option<String>,
    pub auth: Option<String>,
    pub allow_unconfigured: bool,
    pub dev: bool,
    /// A random token the daemon made for this process; used only when no token or password is
    /// configured anywhere (so that "no secret configured" never means "no auth").
    pub runtime_token: Option<String>,
}

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindMode {
    Loopback,
    Lan,
    Auto,
    Custom(IpAddr),
}

impl BindMode {
    pub fn name(&self) -> &'static str {
        match self {
            BindMode::Loopback => "loopback",
            BindMode::Lan => "lan",
            BindMode::Auto => "auto",
            BindMode::Custom(_) => "custom",
        }
    }

    /// Addresses to bind. `auto` stays on loopback: we never widen exposure implicitly.
    pub fn addrs(&self) -> Vec<IpAddr> {
        match self {
            BindMode::Loopback | BindMode::Auto => {
                vec![
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(Ipv6Addr::LOCALHOST),
                ]
            }
            BindMode::Lan => vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)],
            BindMode::Custom(ip) => vec![*ip],
        }
    }

    pub fn is_loopback(&self) -> bool {
        self.addrs().iter().all(IpAddr::is_loopback)
    }
}

/// Shared-secret auth.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// No shared secret: clients need a (paired) device identity.
    None,
    Token(String),
    Password(String),
}

impl AuthMode {
    pub fn name(&self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Token(_) => "token",
            AuthMode::Password(_) => "password",
        }
    }
}

impl std::fmt::Debug for AuthMode {
    // Never print secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthMode::{}", self.name())
    }
}

/// `gateway.auth.rateLimit` with defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max_attempts: u32,
    pub window_ms: u64,
    pub lockout_ms: u64,
    pub exempt_loopback: bool,
}

/// Everything the daemon needs to start.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    pub port: u16,
    pub bind: BindMode,
    pub auth: AuthMode,
    /// The token is [`RunOverrides::runtime_token`]: nothing was configured.
    pub auth_generated: bool,
    pub rate_limit: RateLimit,
    pub allowed_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` (or `X-Real-IP`, when allowed) names the client.
    pub trusted_proxies: Vec<IpAddr>,
    pub allow_real_ip_fallback: bool,
    pub handshake_timeout_ms: u64,
    pub tick_interval_ms: u64,
    pub health_refresh_ms: u64,
    pub max_preauth_per_ip: usize,
    /// Unauthenticated sockets in total (`OPENCLAW_MAX_PREAUTH_CONNECTIONS`).
    pub max_preauth_total: usize,
    pub reload_mode: ReloadMode,
    pub reload_debounce_ms: u64,
    /// `commands.restart`: whether SIGUSR1 may restart the gateway (default on, as the reference).
    pub restart_allowed: bool,
    pub log_file: Option<PathBuf>,
    pub log_level: Option<String>,
    pub workspace: Option<String>,
    pub main_key: String,
    pub session_scope: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error(
        "Missing config. Run `openclaw setup` or set gateway.mode=local (or pass --allow-unconfigured)."
    )]
    MissingConfig,
    #[error(
        "Gateway start blocked: set gateway.mode=local (current: {0}) or pass --allow-unconfigured."
    )]
    NotLocal(String),
    #[error(
        "Refusing to bind gateway to {0} without auth.\nSet OPENCLAW_GATEWAY_TOKEN or OPENCLAW_GATEWAY_PASSWORD, or pass --token/--password (or set gateway.auth.token in the config)."
    )]
    NoAuthBeyondLoopback(String),
    #[error(
        "gateway.auth has both a token and a password: set gateway.auth.mode to \"token\" or \"password\" (or pass --auth)."
    )]
    BothSecrets,
    #[error(
        "gateway.auth.mode is \"{0}\" but no {0} is set: set gateway.auth.{0}, OPENCLAW_GATEWAY_{1}, or pass --{0}."
    )]
    MissingSecret(&'static str, &'static str),
    #[error("gateway.auth.mode \"trusted-proxy\" is not supported yet by this gateway")]
    TrustedProxyUnsupported,
    #[error(
        "bind mode \"tailnet\" is not supported yet by this gateway; use loopback, lan, auto or custom"
    )]
    TailnetUnsupported,
    #[error("invalid bind mode {0:?}: expected loopback, lan, auto, tailnet or custom")]
    BadBind(String),
    #[error("invalid auth mode {0:?}: expected token, password or none")]
    BadAuth(String),
    #[error(
        "gateway.bind is \"custom\" but gateway.customBindHost is missing or not an IP address ({0:?})"
    )]
    BadCustomHost(String),
    #[error("invalid port {0:?}: expected 1-65535")]
    BadPort(String),
    #[error("gateway.trustedProxies: {0:?} is not an IP address")]
    BadTrustedProxy(String),
    #[error("{key} must be a string or an env SecretRef ({{source:\"env\", id:\"VAR\"}})")]
    BadSecret { key: String },
}

impl ResolveError {
    /// The reference exits 78 (EX_CONFIG) for its start guards.
    pub fn exit_code(&self) -> i32 {
        78
    }
}

fn secret_value(v: &Value, key: &str) -> Result<Option<String>, ResolveError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Object(o) if o.get("source").and_then(Value::as_str) == Some("env") => Ok(o
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| std::env::var(id).ok())
            .filter(|s| !s.is_empty())),
        _ => Err(ResolveError::BadSecret { key: key.into() }),
    }
}

/// The longest tick / health-refresh period accepted from the environment (one day).
const MAX_PERIOD_MS: u64 = 24 * 3600 * 1000;

fn env_u64(name: &str) -> Option<u64> {
    env::var(name).and_then(|v| v.trim().parse().ok())
}

/// The port precedence: `--port` > `OPENCLAW_GATEWAY_PORT` > `gateway.port` > 18789 (19001 `--dev`).
pub fn resolve_port(
    cli: Option<u16>,
    loaded: &LoadedConfig,
    dev: bool,
) -> Result<u16, ResolveError> {
    if let Some(p) = cli {
        return Ok(p);
    }
    if let Some(v) = env::var("GATEWAY_PORT") {
        return match v.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(ResolveError::BadPort(v)),
        };
    }
    if let Some(p) = loaded.config.gateway.as_ref().and_then(|g| g.port) {
        return Ok(p);
    }
    Ok(if dev { DEV_PORT } else { DEFAULT_PORT })
}

/// Applies precedence and the start guards (mode, auth beyond loopback).
pub fn resolve_gateway(
    loaded: &LoadedConfig,
    o: &RunOverrides,
) -> Result<GatewaySettings, ResolveError> {
    let g = loaded.config.gateway();
    if !o.allow_unconfigured {
        if !loaded.exists {
            return Err(ResolveError::MissingConfig);
        }
        match g.mode {
            Some(GatewayMode::Local) => {}
            Some(GatewayMode::Remote) => return Err(ResolveError::NotLocal("remote".into())),
            None => return Err(ResolveError::NotLocal("unset".into())),
        }
    }
    let port = resolve_port(o.port, loaded, o.dev)?;

    let bind_setting = match o.bind.as_deref() {
        Some(b) => match b {
            "loopback" => BindSetting::Loopback,
            "lan" => BindSetting::Lan,
            "auto" => BindSetting::Auto,
            "tailnet" => BindSetting::Tailnet,
            "custom" => BindSetting::Custom,
            other => return Err(ResolveError::BadBind(other.into())),
        },
        None => g.bind.unwrap_or(BindSetting::Loopback),
    };
    let bind = match bind_setting {
        BindSetting::Loopback => BindMode::Loopback,
        BindSetting::Lan => BindMode::Lan,
        BindSetting::Auto => BindMode::Auto,
        BindSetting::Tailnet => return Err(ResolveError::TailnetUnsupported),
        BindSetting::Custom => {
            let host = g.custom_bind_host.clone().unwrap_or_default();
            BindMode::Custom(
                host.parse()
                    .map_err(|_| ResolveError::BadCustomHost(host.clone()))?,
            )
        }
    };

    let auth_cfg = g.auth.clone().unwrap_or_default();
    let token = match &o.token {
        Some(t) if !t.is_empty() => Some(t.clone()),
        _ => match env::var("GATEWAY_TOKEN") {
            Some(t) => Some(t),
            None => secret_value(
                auth_cfg.token.as_ref().unwrap_or(&Value::Null),
                "gateway.auth.token",
            )?,
        },
    };
    let password = match &o.password {
        Some(p) if !p.is_empty() => Some(p.clone()),
        _ => match env::var("GATEWAY_PASSWORD") {
            Some(p) => Some(p),
            None => secret_value(
                auth_cfg.password.as_ref().unwrap_or(&Value::Null),
                "gateway.auth.password",
            )?,
        },
    };
    let mode = match o.auth.as_deref() {
        Some("token") => Some(AuthModeSetting::Token),
        Some("password") => Some(AuthModeSetting::Password),
        Some("none") => Some(AuthModeSetting::None),
        Some(other) => return Err(ResolveError::BadAuth(other.into())),
        None => auth_cfg.mode,
    };
    let auth = match mode {
        Some(AuthModeSetting::Token) => {
            AuthMode::Token(token.ok_or(ResolveError::MissingSecret("token", "TOKEN"))?)
        }
        Some(AuthModeSetting::Password) => {
            AuthMode::Password(password.ok_or(ResolveError::MissingSecret("password", "PASSWORD"))?)
        }
        Some(AuthModeSetting::None) => AuthMode::None,
        Some(AuthModeSetting::TrustedProxy) => return Err(ResolveError::TrustedProxyUnsupported),
        None => match (token, password) {
            (Some(_), Some(_)) => return Err(ResolveError::BothSecrets),
            (Some(t), None) => AuthMode::Token(t),
            (None, Some(p)) => AuthMode::Password(p),
            // Beyond loopback a generated token is no answer: the start guard below refuses.
            (None, None) => match &o.runtime_token {
                Some(t) if bind.is_loopback() => AuthMode::Token(t.clone()),
                _ => AuthMode::None,
            },
        },
    };
    let auth_generated = match (&auth, &o.runtime_token) {
        (AuthMode::Token(t), Some(r)) => t == r,
        _ => false,
    };
    if auth == AuthMode::None && !bind.is_loopback() {
        return Err(ResolveError::NoAuthBeyondLoopback(bind.name().into()));
    }

    let rl = auth_cfg.rate_limit.clone().unwrap_or_default();
    let cfg = &loaded.config;
    let logging = cfg.logging.clone().unwrap_or_default();
    Ok(GatewaySettings {
        port,
        bind,
        auth,
        auth_generated,
        rate_limit: RateLimit {
            max_attempts: rl.max_attempts.unwrap_or(10),
            window_ms: rl.window_ms.unwrap_or(60_000),
            lockout_ms: rl.lockout_ms.unwrap_or(300_000),
            exempt_loopback: rl.exempt_loopback.unwrap_or(true),
        },
        allowed_origins: g
            .control_ui
            .as_ref()
            .and_then(|c| c.allowed_origins.clone())
            .unwrap_or_default(),
        trusted_proxies: g
            .trusted_proxies
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|p| {
                p.parse()
                    .map_err(|_| ResolveError::BadTrustedProxy(p.clone()))
            })
            .collect::<Result<_, _>>()?,
        allow_real_ip_fallback: g.allow_real_ip_fallback.unwrap_or(false),
        handshake_timeout_ms: env_u64("HANDSHAKE_TIMEOUT_MS").unwrap_or(15_000),
        // Periods feed `Instant + period`: kept within a day so no value can overflow it.
        tick_interval_ms: env_u64("TICK_INTERVAL_MS")
            .unwrap_or(30_000)
            .clamp(10, MAX_PERIOD_MS),
        health_refresh_ms: env_u64("HEALTH_REFRESH_INTERVAL_MS")
            .unwrap_or(60_000)
            .clamp(10, MAX_PERIOD_MS),
        max_preauth_per_ip: env_u64("MAX_PREAUTH_CONNECTIONS_PER_IP").unwrap_or(32) as usize,
        max_preauth_total: env_u64("MAX_PREAUTH_CONNECTIONS").unwrap_or(512) as usize,
        reload_mode: g
            .reload
            .as_ref()
            .and_then(|r| r.mode)
            .unwrap_or(ReloadMode::Hybrid),
        reload_debounce_ms: g.reload.as_ref().and_then(|r| r.debounce_ms).unwrap_or(300),
        restart_allowed: cfg
            .commands
            .as_ref()
            .and_then(|c| c.restart)
            .unwrap_or(true),
        log_file: logging.file.as_deref().map(crate::paths::expand_home),
        log_level: logging.level,
        workspace: cfg
            .agents
            .as_ref()
            .and_then(|a| a.defaults.as_ref())
            .and_then(|d| d.workspace.clone()),
        main_key: cfg
            .session
            .as_ref()
            .and_then(|s| s.main_key.clone())
            .unwrap_or_else(|| "main".into()),
        session_scope: cfg
            .session
            .as_ref()
            .and_then(|s| s.scope.clone())
            .unwrap_or_else(|| "per-sender".into()),
    })
}
