//! WhatsApp Web (multi-device) channel. The only crate that links `whatsapp-rust` (pinned
//! `=0.7.0`, no `simd`): everything it exports is non-generic (`Arc<dyn ChannelDriver>`, plain
//! functions) so library monomorphisation never lands in the gateway/CLI crates.
//!
//! Layout: `link` (connection seam + reconnect/backoff/watchdog loop, library-free), `driver`
//! (`WhatsAppDriver`: lock, status, chunked sends over any `Link`), `mapping` (pure targets/JID/
//! envelope mapping), `lock` (one process per host per account), `qr` (terminal QR), `real`
//! (feature `real`, default on: the whatsapp-rust `Link` and `login`).
//!
//! Gateway use: `driver(&account_cfg, &state_dir)?` → `Supervised::spawn(..)`.
//! CLI `openclaw channels login --channel whatsapp [--account id] [--phone +1555…]`:
//! `login(&account_cfg, &state_dir, phone, timeout, Arc::new(|p| match p {
//! LoginPrompt::Qr(s) => println!("{}", render_qr(&s).unwrap_or(s)), LoginPrompt::PairCode(c) => println!("{c}") }))`.
//! Run it while the gateway is stopped (the account lock refuses otherwise), then restart the
//! channel. Session store: `$STATE_DIR/credentials/whatsapp/<accountId>/wa.db` (0600 in 0700),
//! or `channels.whatsapp.accounts.<id>.authDir`.

mod driver;
mod error;
mod link;
mod lock;
mod mapping;
mod qr;
#[cfg(feature = "real")]
mod real;

use std::path::{Path, PathBuf};

pub use driver::WhatsAppDriver;
pub use error::LoginError;
pub use link::{
    Link, LinkEvent, MediaPolicy, MediaRef, MediaRefs, OutgoingMedia, ReconnectPolicy, StatusCell,
    Watchdog, run_link,
};
pub use lock::AccountLock;
pub use mapping::{WaInbound, chat_id_to_jid, jid_to_e164, parse_target, to_inbound};
pub use qr::{qr_png_data_url, render_qr};
#[cfg(feature = "real")]
pub use real::{LoginPrompt, LoginStep, RealLink, login_prompt};

use openclaw_channels::AccountConfig;
#[cfg(feature = "real")]
use openclaw_channels::{ChannelDriver, ChannelError};

/// `authDir` from config, else `$STATE_DIR/credentials/whatsapp/<accountId>`.
pub fn auth_dir(cfg: &AccountConfig, state_dir: &Path) -> PathBuf {
    match cfg.raw.get("authDir").and_then(serde_json::Value::as_str) {
        Some(d) if !d.trim().is_empty() => PathBuf::from(d),
        _ => state_dir
            .join("credentials")
            .join("whatsapp")
            .join(sanitize(&cfg.account_id)),
    }
}

fn sanitize(id: &str) -> String {
    let s = openclaw_channels::path_safe(id);
    if s.is_empty() || s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

/// `<authDir>/linked`: written by a successful `channels login`, removed by logout or when the
/// phone unlinks the device. Without it the gateway never opens a socket for the account.
pub fn link_marker(cfg: &AccountConfig, state_dir: &Path) -> PathBuf {
    auth_dir(cfg, state_dir).join(LINK_MARKER)
}

pub(crate) const LINK_MARKER: &str = "linked";

/// Whether the account is linked (login completed and not logged out since).
pub fn is_linked(cfg: &AccountConfig, state_dir: &Path) -> bool {
    let dir = auth_dir(cfg, state_dir);
    dir.join(LINK_MARKER).exists()
        && std::fs::metadata(dir.join("wa.db")).is_ok_and(|m| m.len() > 0)
}

/// The live driver for one account (`web.reconnect` from `cfg.raw["reconnect"]` if present).
#[cfg(feature = "real")]
pub fn driver(
    cfg: &AccountConfig,
    state_dir: &Path,
) -> Result<std::sync::Arc<dyn ChannelDriver>, ChannelError> {
    let dir = auth_dir(cfg, state_dir);
    let link = std::sync::Arc::new(RealLink::new(&cfg.account_id, dir.clone()));
    let policy = ReconnectPolicy::from_json(cfg.raw.get("reconnect"));
    Ok(std::sync::Arc::new(
        WhatsAppDriver::new(cfg, link, policy, Some(dir), is_linked(cfg, state_dir))
            .with_link_marker(link_marker(cfg, state_dir)),
    ))
}

/// QR / pairing-code login for one account (see the crate docs).
#[cfg(feature = "real")]
pub async fn login(
    cfg: &AccountConfig,
    state_dir: &Path,
    phone: Option<String>,
    timeout: std::time::Duration,
    prompt: std::sync::Arc<dyn Fn(LoginPrompt) + Send + Sync>,
) -> Result<(), ChannelError> {
    #[cfg(feature = "test-login")]
    if let Ok(payload) = std::env::var("OPENCLAW_TEST_WHATSAPP_LOGIN_QR") {
        return test_login(&auth_dir(cfg, state_dir), payload, timeout, prompt).await;
    }
    real::login(&auth_dir(cfg, state_dir), phone, timeout, prompt).await
}

/// The login flow with the phone simulated (feature `test-login`, see Cargo.toml): the QR is
/// shown, and `<authDir>/test-scanned` appearing stands for the phone confirming the link.
#[cfg(all(feature = "real", feature = "test-login"))]
async fn test_login(
    dir: &Path,
    payload: String,
    timeout: std::time::Duration,
    prompt: std::sync::Arc<dyn Fn(LoginPrompt) + Send + Sync>,
) -> Result<(), ChannelError> {
    let _lock = AccountLock::acquire(dir)?;
    prompt(LoginPrompt::Qr(payload));
    let deadline = tokio::time::Instant::now() + timeout;
    while !dir.join("test-scanned").exists() {
        if tokio::time::Instant::now() >= deadline {
            return Err(ChannelError::Unavailable(format!(
                "no phone confirmed the link within {}s",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let stamp = format!("{{\"linkedAt\":{}}}\n", openclaw_channels::now_ms());
    openclaw_config::fsutil::write_atomic(&dir.join(LINK_MARKER), stamp.as_bytes())?;
    Ok(())
}
