//! The channel runtime of one gateway generation: every configured account runs as its own
//! supervised driver (a failure or panic is recorded in status and retried, never fatal);
//! inbound messages pass access control, become agent runs on the session the routing rules
//! give, are acknowledged once durably queued (the Telegram offset then advances), and the reply
//! goes back through the same channel, chunked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_channels::{
    Access, AccountConfig, CancelToken, ChannelDriver, ChannelStatus, Inbound, OutboundMessage,
    PairingStore, Supervised, accounts_from_config, check_access, session_key_for,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::runs::{RunSpec, Runs, Submitted};
use crate::state::AppState;

/// Inbound messages waiting for the router (backpressure on the drivers beyond this).
const INBOUND_QUEUE: usize = 256;
/// How long the router waits for a run to persist the user turn before acknowledging anyway.
const PERSIST_WAIT: Duration = Duration::from_secs(30);

struct Account {
    cfg: AccountConfig,
    supervised: Option<Supervised>,
    /// Why the account is not running (no token, disabled…).
    reason: Option<String>,
}

/// All channel accounts of one generation.
pub struct ChannelRuntime {
    accounts: Mutex<BTreeMap<(String, String), Account>>,
    cancel: CancelToken,
    pub config_error: Option<String>,
}

pub const LABELS: &[(&str, &str, &str)] = &[
    ("telegram", "Telegram", "Telegram Bot"),
    ("whatsapp", "WhatsApp", "WhatsApp Web"),
];

impl ChannelRuntime {
    /// Starts every configured, enabled account and the inbound router.
    pub fn start(state: &Arc<AppState>) -> Arc<ChannelRuntime> {
        let cfg = serde_json::to_value(&state.config().config).unwrap_or_default();
        let skip = openclaw_config::env::var("SKIP_CHANNELS").is_some();
        let (accounts, config_error) = match accounts_from_config(&cfg["channels"], &|k| {
            std::env::var(k).ok().filter(|v| !v.is_empty())
        }) {
            Ok(a) => (a, None),
            Err(e) => {
                tracing::error!(target: "channels", "channels config rejected: {e}");
                (Vec::new(), Some(e))
            }
        };
        let cancel = CancelToken::new();
        let (tx, rx) = mpsc::channel::<Inbound>(INBOUND_QUEUE);
        let mut map = BTreeMap::new();
        for a in accounts {
            let key = (a.channel.clone(), a.account_id.clone());
            let (supervised, reason) = if skip {
                (None, Some("skipped (OPENCLAW_SKIP_CHANNELS)".to_string()))
            } else if !a.enabled {
                (None, Some("disabled".to_string()))
            } else if !a.configured() {
                (None, Some("not configured".to_string()))
            } else {
                match make_driver(&a, &state.paths.state_dir) {
                    Ok(d) => {
                        tracing::info!(target: "channels", "starting {} account {}", a.channel, a.account_id);
                        (
                            Some(Supervised::spawn(d, tx.clone(), cancel.child_token())),
                            None,
                        )
                    }
                    Err(e) => {
                        tracing::error!(target: "channels", "{} account {} cannot start: {e}", a.channel, a.account_id);
                        (None, Some(e))
                    }
                }
            };
            map.insert(
                key,
                Account {
                    cfg: a,
                    supervised,
                    reason,
                },
            );
        }
        let rt = Arc::new(ChannelRuntime {
            accounts: Mutex::new(map),
            cancel,
            config_error,
        });
        tokio::spawn(route(state.clone(), rt.clone(), rx));
        rt
    }

    /// Stops every driver (bounded), so a restarted generation can take the accounts over.
    pub async fn stop(&self) {
        self.cancel.cancel();
        let sups: Vec<Supervised> = self
            .accounts
            .lock()
            .map(|mut m| m.values_mut().filter_map(|a| a.supervised.take()).collect())
            .unwrap_or_default();
        for s in sups {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.stop()).await;
        }
    }

    fn account_cfg(&self, channel: &str, account: &str) -> Option<AccountConfig> {
        self.accounts
            .lock()
            .ok()?
            .get(&(channel.to_string(), account.to_string()))
            .map(|a| a.cfg.clone())
    }

    /// The running driver of an account.
    pub fn driver(&self, channel: &str, account: &str) -> Option<Arc<dyn ChannelDriver>> {
        self.accounts
            .lock()
            .ok()?
            .get(&(channel.to_string(), account.to_string()))
            .and_then(|a| a.supervised.as_ref().map(Supervised::driver))
    }

    /// Configured channel ids, in a stable order.
    pub fn channels(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .accounts
            .lock()
            .map(|m| m.keys().map(|(c, _)| c.clone()).collect())
            .unwrap_or_default();
        v.dedup();
        v
    }

    /// The default account of a channel (`default`, else the first).
    pub fn default_account(&self, channel: &str) -> Option<String> {
        let m = self.accounts.lock().ok()?;
        let ids: Vec<&String> = m
            .keys()
            .filter(|(c, _)| c == channel)
            .map(|(_, a)| a)
            .collect();
        ids.iter()
            .find(|a| a.as_str() == "default")
            .or(ids.first())
            .map(|s| s.to_string())
    }

    fn status_of(a: &Account) -> ChannelStatus {
        match &a.supervised {
            Some(s) => s.status(),
            None => ChannelStatus {
                configured: a.cfg.configured(),
                last_error: a.reason.clone(),
                ..Default::default()
            },
        }
    }

    /// Accounts whose channel is failing (configured and enabled, but down with an error).
    pub fn failing(&self) -> Vec<String> {
        let Ok(m) = self.accounts.lock() else {
            return Vec::new();
        };
        m.iter()
            .filter(|(_, a)| a.supervised.is_some())
            .filter_map(|((c, id), a)| {
                let st = Self::status_of(a);
                (!st.connected && st.last_error.is_some()).then(|| format!("{c}:{id}"))
            })
            .collect()
    }

    /// `channels.status` result.
    pub fn status_json(&self) -> Value {
        let Ok(m) = self.accounts.lock() else {
            return json!({});
        };
        let mut order = Vec::new();
        let mut channels = serde_json::Map::new();
        let mut accounts = serde_json::Map::new();
        let mut defaults = serde_json::Map::new();
        for ((channel, id), a) in m.iter() {
            let st = Self::status_of(a);
            let mut row = serde_json::to_value(&st).unwrap_or_else(|_| json!({}));
            row["accountId"] = json!(id);
            row["enabled"] = json!(a.cfg.enabled);
            row["dmPolicy"] = json!(format!("{:?}", a.cfg.dm_policy).to_ascii_lowercase());
            if let Some(src) = &a.cfg.token_source {
                row["tokenSource"] = json!(src);
            }
            if !order.contains(channel) {
                order.push(channel.clone());
                channels.insert(
                    channel.clone(),
                    json!({"configured": st.configured, "running": st.running, "connected": st.connected,
                           "linked": st.linked, "lastError": st.last_error}),
                );
            }
            if let Some(list) = accounts
                .entry(channel.clone())
                .or_insert_with(|| json!([]))
                .as_array_mut()
            {
                list.push(row);
            }
            defaults.entry(channel.clone()).or_insert_with(|| json!(id));
        }
        let labels: serde_json::Map<String, Value> = LABELS
            .iter()
            .filter(|(id, _, _)| order.iter().any(|o| o == id))
            .map(|(id, l, _)| (id.to_string(), json!(l)))
            .collect();
        let details: serde_json::Map<String, Value> = LABELS
            .iter()
            .filter(|(id, _, _)| order.iter().any(|o| o == id))
            .map(|(id, _, d)| (id.to_string(), json!(d)))
            .collect();
        json!({
            "ts": crate::state::now_ms(),
            "channelOrder": order,
            "channelLabels": labels,
            "channelDetailLabels": details,
            "channels": channels,
            "channelAccounts": accounts,
            "channelDefaultAccountId": defaults,
        })
    }

    /// Stops an account and logs it out.
    pub async fn logout(&self, channel: &str, account: &str) -> Result<bool, String> {
        let sup = {
            let mut m = self
                .accounts
                .lock()
                .map_err(|_| "channel registry unavailable".to_string())?;
            let a = m
                .get_mut(&(channel.to_string(), account.to_string()))
                .ok_or_else(|| format!("no {channel} account {account} is configured"))?;
            a.reason = Some("logged out".into());
            a.supervised.take()
        };
        match sup {
            Some(s) => {
                let driver = s.driver();
                let _ = tokio::time::timeout(Duration::from_secs(5), s.stop()).await;
                driver.logout().await.map_err(|e| e.to_string())
            }
            None => Ok(false),
        }
    }
}

fn make_driver(
    a: &AccountConfig,
    state_dir: &std::path::Path,
) -> Result<Arc<dyn ChannelDriver>, String> {
    match a.channel.as_str() {
        "telegram" => openclaw_channels::telegram::driver(a, state_dir).map_err(|e| e.to_string()),
        "whatsapp" => openclaw_channel_whatsapp::driver(a, state_dir).map_err(|e| e.to_string()),
        other => Err(format!("channel {other} is not supported by this gateway")),
    }
}

fn is_silent(text: &str) -> bool {
    matches!(text.trim(), "" | "NO_REPLY" | "HEARTBEAT_OK")
}

/// Consumes inbound messages: access control, run, ack, reply.
async fn route(state: Arc<AppState>, rt: Arc<ChannelRuntime>, mut rx: mpsc::Receiver<Inbound>) {
    let state_dir: PathBuf = state.paths.state_dir.clone();
    while let Some(Inbound { message, ack }) = rx.recv().await {
        let Some(cfg) = rt.account_cfg(&message.channel, &message.account_id) else {
            let _ = ack.send(());
            continue;
        };
        let store = PairingStore::new(&state_dir, &message.channel, &message.account_id);
        let driver = rt.driver(&message.channel, &message.account_id);
        match check_access(&cfg, &message, &store) {
            Access::Allow => {}
            Access::Pairing { code, first_time } => {
                let _ = ack.send(());
                if first_time && let Some(d) = driver {
                    let text = format!(
                        "This bot needs pairing before it answers you. Your pairing code: {code}\nAsk the owner to run: openclaw pairing approve {} {code}",
                        message.channel
                    );
                    let out = OutboundMessage {
                        chat_id: message.chat_id.clone(),
                        thread_id: message.thread_id.clone(),
                        text,
                        media: vec![],
                        reply_to: None,
                    };
                    if let Err(e) = d.send(out).await {
                        tracing::warn!(target: "channels", "pairing reply failed: {e}");
                    }
                }
                continue;
            }
            Access::NotMentioned | Access::Deny(_) => {
                tracing::debug!(target: "channels", "{} message from {} not routed", message.channel, message.sender_id);
                let _ = ack.send(());
                continue;
            }
        }
        let (_, agent) = crate::methods::agent::agents(&state);
        let cfg_v = serde_json::to_value(&state.config().config).unwrap_or_default();
        let dm_scope = cfg_v["session"]["dmScope"]
            .as_str()
            .unwrap_or("main")
            .to_string();
        let main_key = state.settings().main_key.clone();
        let key = session_key_for(&message, &agent, &main_key, &dm_scope);
        let mut text = message.text.clone();
        for m in &message.media {
            text.push_str(&format!("\n[media: {}]", m.path.display()));
        }
        let persisted = Arc::new(tokio::sync::Notify::new());
        let spec = RunSpec {
            run_id: format!("{}-{}", message.channel, uuid::Uuid::new_v4()),
            agent_id: agent,
            session_key: key,
            message: text,
            extra_system_prompt: None,
            timeout: Duration::from_secs(600),
            stream_tx: None,
            ephemeral: false,
            persisted: Some(persisted.clone()),
        };
        let run = match Runs::submit(&state, spec) {
            Ok(Submitted::New(r) | Submitted::Existing(r)) => r,
            Err(e) => {
                // Not acknowledged: the driver re-delivers after its backoff.
                tracing::warn!(target: "channels", "inbound message not queued: {}", e.message);
                drop(ack);
                continue;
            }
        };
        // Ack once the user turn is durable (or the run already ended).
        tokio::select! {
            _ = persisted.notified() => {}
            _ = run.wait(PERSIST_WAIT) => {}
        }
        let _ = ack.send(());
        let Some(driver) = driver else { continue };
        let chat_id = message.chat_id.clone();
        let thread_id = message.thread_id.clone();
        tokio::spawn(async move {
            // Typing indicator while the agent works (Telegram expires it after ~5 s).
            let typing = {
                let d = driver.clone();
                let (c, t) = (chat_id.clone(), thread_id.clone());
                let run = run.clone();
                tokio::spawn(async move {
                    while !run.is_done() {
                        let _ = d.typing(&c, t.as_deref()).await;
                        tokio::time::sleep(Duration::from_secs(4)).await;
                    }
                })
            };
            let result = run.wait(Duration::from_secs(660)).await;
            typing.abort();
            let reply = match result {
                Some(r) if r.ok => {
                    if is_silent(&r.final_text) {
                        return;
                    }
                    r.final_text
                }
                Some(r) if r.aborted => return,
                Some(r) => format!(
                    "⚠️ {}",
                    r.error
                        .map(|e| e.message)
                        .unwrap_or_else(|| "the agent run failed".into())
                ),
                None => "⚠️ the agent did not answer in time".into(),
            };
            let out = OutboundMessage {
                chat_id,
                thread_id,
                text: reply,
                media: vec![],
                reply_to: None,
            };
            if let Err(e) = driver.send(out).await {
                tracing::warn!(target: "channels", "reply delivery failed: {e}");
            }
        });
    }
}
