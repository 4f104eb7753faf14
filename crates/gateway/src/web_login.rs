//! WhatsApp QR login driven over RPC (`web.login.start` / `web.login.wait`, the Control UI's
//! Channels page): the same login as `openclaw channels login --channel whatsapp`, run by the
//! gateway on its own task, its QR handed to the browser as a PNG data URL. At most one login
//! per account and [`MAX_LOGINS`] at once; each ends by itself after [`LOGIN_LIFETIME`].
//! A configured account's driver waits for the link marker the login writes and then connects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_channels::AccountConfig;
use openclaw_protocol::ErrorShape;
use openclaw_protocol::ui::{WebLoginResult, WebLoginStartParams, WebLoginWaitParams};
use tokio::sync::watch;

use crate::state::AppState;
use crate::sync::LockExt;

const CHANNEL: &str = "whatsapp";
/// Logins in progress at once (account ids come from callers, so the map is capped).
pub const MAX_LOGINS: usize = 8;
/// How long a started login waits for the phone before giving up.
const LOGIN_LIFETIME: Duration = Duration::from_secs(180);
const START_WAIT_DEFAULT_MS: u64 = 30_000;
const WAIT_DEFAULT_MS: u64 = 120_000;
const WAIT_MAX_MS: u64 = 300_000;

const LINKED: &str = "✅ Linked! WhatsApp is ready.";

/// The outcome of a finished login: `Err` carries the reason.
type Done = Option<Result<(), String>>;

struct Login {
    /// The latest QR as a data URL (WhatsApp rotates it while nobody scans).
    qr: watch::Receiver<Option<String>>,
    done: watch::Receiver<Done>,
    task: tokio::task::AbortHandle,
}

impl Drop for Login {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Logins in progress, by account id.
#[derive(Default)]
pub struct WebLogins {
    by_account: Mutex<HashMap<String, Arc<Login>>>,
}

impl WebLogins {
    fn get(&self, account: &str) -> Option<Arc<Login>> {
        self.by_account.locked().get(account).cloned()
    }

    fn remove(&self, account: &str) {
        self.by_account.locked().remove(account);
    }
}

/// Checks `channel` (only WhatsApp logs in with a QR), as the reference words it.
fn check_channel(channel: Option<&str>) -> Result<(), ErrorShape> {
    match channel.map(str::to_ascii_lowercase).as_deref() {
        None | Some(CHANNEL) | Some("web") => Ok(()),
        Some(c) if crate::channels::LABELS.iter().any(|(id, _, _)| *id == c) => Err(
            ErrorShape::invalid_request(format!("web login is not supported by provider {c}")),
        ),
        Some(_) => Err(ErrorShape::invalid_request(
            "web login provider is not available",
        )),
    }
}

/// The account (`accountId`, else the configured default, else `default`) and its config.
fn account(state: &AppState, requested: Option<&str>) -> (String, AccountConfig) {
    let rt = state.channels.locked().clone();
    let id = requested
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .or_else(|| rt.as_ref().and_then(|r| r.default_account(CHANNEL)))
        .unwrap_or_else(|| "default".into());
    let cfg = rt
        .as_ref()
        .and_then(|r| r.account_cfg(CHANNEL, &id))
        .unwrap_or_else(|| AccountConfig::new(CHANNEL, &id));
    (id, cfg)
}

fn result(connected: bool, message: impl Into<String>, qr: Option<String>) -> WebLoginResult {
    WebLoginResult {
        connected,
        message: message.into(),
        qr_data_url: qr,
    }
}

/// After a successful login: a configured account that is not running starts (a running one
/// is waiting for the link marker and connects by itself).
fn after_link(state: &AppState, account: &str) {
    state.web_logins.remove(account);
    let rt = state.channels.locked().clone();
    if let Some(rt) = rt.filter(|r| r.account_cfg(CHANNEL, account).is_some())
        && let Err(e) = rt.start_account(CHANNEL, account)
    {
        tracing::warn!(target: "channels", "whatsapp {account} linked but not started: {e}");
    }
}

/// `web.login.start`: starts (or, unless `force`, joins) the account's login and answers with
/// its QR once WhatsApp sent one.
pub async fn start(
    state: Arc<AppState>,
    p: WebLoginStartParams,
) -> Result<WebLoginResult, ErrorShape> {
    check_channel(p.channel.as_deref())?;
    let (id, cfg) = account(&state, p.account_id.as_deref());
    let force = p.force == Some(true);
    let linked = openclaw_channel_whatsapp::is_linked(&cfg, &state.paths.state_dir);
    if force {
        state.web_logins.remove(&id);
        let rt = state.channels.locked().clone();
        if let Some(rt) = rt.filter(|r| linked && r.account_cfg(CHANNEL, &id).is_some()) {
            rt.logout(CHANNEL, &id)
                .await
                .map_err(|e| ErrorShape::unavailable(format!("cannot unlink WhatsApp: {e}")))?;
        }
    } else if linked {
        return Ok(result(
            true,
            format!("WhatsApp is already linked (account {id}). Use force to link again."),
            None,
        ));
    }
    let login = match state.web_logins.get(&id) {
        Some(l) if l.done.borrow().is_none() => l,
        _ => spawn(&state, &id, cfg)?,
    };
    let within = Duration::from_millis(
        p.timeout_ms
            .unwrap_or(START_WAIT_DEFAULT_MS)
            .min(WAIT_MAX_MS),
    );
    let (mut qr, mut done) = (login.qr.clone(), login.done.clone());
    let _ = tokio::time::timeout(within, async {
        tokio::select! {
            _ = qr.wait_for(Option::is_some) => {}
            _ = done.wait_for(Option::is_some) => {}
        }
    })
    .await;
    let finished = done.borrow().clone();
    match finished {
        Some(Ok(())) => {
            after_link(&state, &id);
            Ok(result(true, LINKED, None))
        }
        Some(Err(e)) => {
            state.web_logins.remove(&id);
            Err(ErrorShape::unavailable(format!(
                "WhatsApp login failed: {e}"
            )))
        }
        None => match qr.borrow().clone() {
            Some(url) => Ok(result(
                false,
                "Scan this QR in WhatsApp → Linked Devices.",
                Some(url),
            )),
            None => Ok(result(
                false,
                "Waiting for WhatsApp to send a QR code; call web.login.start again.",
                None,
            )),
        },
    }
}

fn spawn(state: &Arc<AppState>, id: &str, cfg: AccountConfig) -> Result<Arc<Login>, ErrorShape> {
    let mut map = state.web_logins.by_account.locked();
    map.retain(|_, l| l.done.borrow().is_none());
    if map.len() >= MAX_LOGINS {
        return Err(ErrorShape::unavailable(format!(
            "too many WhatsApp logins in progress (at most {MAX_LOGINS})"
        )));
    }
    let (qr_tx, qr_rx) = watch::channel(None);
    let (done_tx, done_rx) = watch::channel(None);
    let state_dir = state.paths.state_dir.clone();
    let account = id.to_string();
    let task = tokio::spawn(async move {
        let prompt: Arc<dyn Fn(openclaw_channel_whatsapp::LoginPrompt) + Send + Sync> =
            Arc::new(move |p| {
                if let openclaw_channel_whatsapp::LoginPrompt::Qr(payload) = p {
                    match openclaw_channel_whatsapp::qr_png_data_url(&payload) {
                        Ok(url) => {
                            qr_tx.send_replace(Some(url));
                        }
                        Err(e) => {
                            tracing::warn!(target: "channels", "whatsapp QR not rendered: {e}")
                        }
                    }
                }
            });
        let outcome =
            openclaw_channel_whatsapp::login(&cfg, &state_dir, None, LOGIN_LIFETIME, prompt).await;
        match &outcome {
            Ok(()) => tracing::info!(target: "channels", "whatsapp {account} linked over RPC"),
            Err(e) => tracing::warn!(target: "channels", "whatsapp {account} login failed: {e}"),
        }
        done_tx.send_replace(Some(outcome.map_err(|e| e.to_string())));
    })
    .abort_handle();
    let login = Arc::new(Login {
        qr: qr_rx,
        done: done_rx,
        task,
    });
    map.insert(id.to_string(), login.clone());
    Ok(login)
}

/// `web.login.wait`: waits for the account's login to finish, or for a QR other than the one
/// the caller shows (`currentQrDataUrl`), or for `timeoutMs`.
pub async fn wait(
    state: Arc<AppState>,
    p: WebLoginWaitParams,
) -> Result<WebLoginResult, ErrorShape> {
    check_channel(p.channel.as_deref())?;
    let (id, cfg) = account(&state, p.account_id.as_deref());
    let Some(login) = state.web_logins.get(&id) else {
        return Ok(
            if openclaw_channel_whatsapp::is_linked(&cfg, &state.paths.state_dir) {
                result(true, LINKED, None)
            } else {
                result(
                    false,
                    "No WhatsApp login in progress; call web.login.start.",
                    None,
                )
            },
        );
    };
    let within = Duration::from_millis(p.timeout_ms.unwrap_or(WAIT_DEFAULT_MS).min(WAIT_MAX_MS));
    let shown = p.current_qr_data_url.clone();
    let (mut qr, mut done) = (login.qr.clone(), login.done.clone());
    let _ = tokio::time::timeout(within, async {
        tokio::select! {
            _ = qr.wait_for(|q| shown.is_some() && q.is_some() && *q != shown) => {}
            _ = done.wait_for(Option::is_some) => {}
        }
    })
    .await;
    let finished = done.borrow().clone();
    Ok(match finished {
        Some(Ok(())) => {
            after_link(&state, &id);
            result(true, LINKED, None)
        }
        Some(Err(e)) => {
            state.web_logins.remove(&id);
            result(false, format!("WhatsApp login failed: {e}"), None)
        }
        None => {
            let current = qr.borrow().clone();
            if shown.is_some() && current.is_some() && current != shown {
                result(
                    false,
                    "New QR code: scan it in WhatsApp → Linked Devices.",
                    current,
                )
            } else {
                result(false, "Still waiting for the QR scan.", None)
            }
        }
    })
}
