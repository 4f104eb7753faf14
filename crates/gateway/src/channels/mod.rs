//! The channel runtime of one gateway generation: every configured account runs as its own
//! supervised driver (a failure or panic is recorded in status and retried, never fatal);
//! inbound messages pass access control, become agent runs on the agent (`bindings`) and session
//! the routing rules give, are acknowledged once recorded in the durable inbox (the Telegram
//! offset then advances, even while the session lane is busy), and the reply goes back through
//! the same channel, chunked. Inbox entries left by a crash are replayed on start.
//!
//! `router` takes inbound messages to runs and replies, `history` keeps unmentioned group
//! messages for context, `commands` handles `/new`, `/reset` and `/stop`.

mod commands;
mod history;
mod router;

use crate::sync::LockExt;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_channels::{
    AccountConfig, CancelToken, ChannelDriver, ChannelStatus, Inbound, Supervised,
    accounts_from_config,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::error::GatewayError;
use crate::inbound_media::Downloads;
use crate::state::AppState;
use history::GroupHistory;

pub(crate) use router::{Arrival, submit};

/// Inbound messages waiting for the router (backpressure on the drivers beyond this).
const INBOUND_QUEUE: usize = 256;

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
    /// Unmentioned group messages not yet seen by the agent (channels.md §1.2, §5.3).
    history: GroupHistory,
    /// The router's queue, for accounts (re)started by `channels.start`.
    inbound: mpsc::Sender<Inbound>,
    /// Admitted messages whose attachments are downloading, per session, in order.
    downloads: Arc<Downloads>,
    state_dir: PathBuf,
    pub config_error: Option<String>,
}

pub const LABELS: &[(&str, &str, &str)] = &[
    ("telegram", "Telegram", "Telegram Bot"),
    ("whatsapp", "WhatsApp", "WhatsApp Web"),
];

impl ChannelRuntime {
    /// Starts every configured, enabled account and the inbound router.
    pub fn start(state: &Arc<AppState>) -> Arc<ChannelRuntime> {
        let loaded = state.config();
        let channels = loaded.config.channels.clone().unwrap_or(Value::Null);
        let skip = openclaw_config::env::var("SKIP_CHANNELS").is_some();
        let (accounts, config_error) = match accounts_from_config(&channels, &|k| {
            std::env::var(k).ok().filter(|v| !v.is_empty())
        }) {
            Ok(a) => (a, None),
            Err(e) => {
                tracing::error!(target: "channels", "channels config rejected: {e}");
                (Vec::new(), Some(e.to_string()))
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
                        (None, Some(e.0))
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
            history: GroupHistory::default(),
            inbound: tx,
            downloads: Arc::new(Downloads::default()),
            state_dir: state.paths.state_dir.clone(),
            config_error,
        });
        tokio::spawn(router::route(state.clone(), rt.clone(), rx));
        crate::inbound_media::spawn_sweeper(state.clone(), rt.cancel.clone());
        rt
    }

    /// Stops every driver (bounded), so a restarted generation can take the accounts over.
    pub async fn stop(&self) {
        self.cancel.cancel();
        let sups: Vec<Supervised> = self
            .accounts
            .locked()
            .values_mut()
            .filter_map(|a| a.supervised.take())
            .collect();
        for s in sups {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.stop()).await;
        }
    }

    pub(crate) fn account_cfg(&self, channel: &str, account: &str) -> Option<AccountConfig> {
        self.accounts
            .locked()
            .get(&(channel.to_string(), account.to_string()))
            .map(|a| a.cfg.clone())
    }

    /// The running driver of an account.
    pub fn driver(&self, channel: &str, account: &str) -> Option<Arc<dyn ChannelDriver>> {
        self.accounts
            .locked()
            .get(&(channel.to_string(), account.to_string()))
            .and_then(|a| a.supervised.as_ref().map(Supervised::driver))
    }

    /// Configured channel ids, in a stable order.
    pub fn channels(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .accounts
            .locked()
            .keys()
            .map(|(c, _)| c.clone())
            .collect();
        v.dedup();
        v
    }

    /// The default account of a channel (`default`, else the first).
    pub fn default_account(&self, channel: &str) -> Option<String> {
        let m = self.accounts.locked();
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

    /// Accounts whose channel is failing (configured, enabled and linked, but down with an error).
    pub fn failing(&self) -> Vec<String> {
        let m = self.accounts.locked();
        m.iter()
            .filter(|(_, a)| a.supervised.is_some())
            .filter_map(|((c, id), a)| {
                let st = Self::status_of(a);
                // An unlinked account waits for the user (`channels login`); it is not failing.
                (st.linked && !st.connected && st.last_error.is_some()).then(|| format!("{c}:{id}"))
            })
            .collect()
    }

    /// `channels.status {probe:true}`: a live check of every running account, concurrently,
    /// each bounded by `timeout`.
    pub async fn probe_all(&self, timeout: Duration) -> BTreeMap<(String, String), Value> {
        let drivers: Vec<((String, String), Arc<dyn ChannelDriver>)> = self
            .accounts
            .locked()
            .iter()
            .filter_map(|(k, a)| a.supervised.as_ref().map(|s| (k.clone(), s.driver())))
            .collect();
        let probes = drivers.into_iter().map(|(k, d)| async move {
            let v = tokio::time::timeout(timeout, d.probe(timeout))
                .await
                .unwrap_or_else(|_| json!({"ok": false, "error": format!("probe timed out after {} ms", timeout.as_millis())}));
            (k, v)
        });
        futures_util::future::join_all(probes)
            .await
            .into_iter()
            .collect()
    }

    /// `channels.status` result (with `probes` from [`Self::probe_all`] when asked for).
    pub fn status_json(&self, probes: &BTreeMap<(String, String), Value>) -> Value {
        let m = self.accounts.locked();
        let mut order = Vec::new();
        let mut channels = serde_json::Map::new();
        let mut accounts = serde_json::Map::new();
        let mut defaults = serde_json::Map::new();
        for ((channel, id), a) in m.iter() {
            let st = Self::status_of(a);
            let mut row = serde_json::to_value(&st).unwrap_or_else(|_| json!({}));
            row["accountId"] = json!(id);
            if let Some(p) = probes.get(&(channel.clone(), id.clone())) {
                row["probe"] = p.clone();
            }
            row["enabled"] = json!(a.cfg.enabled);
            row["dmPolicy"] = json!(format!("{:?}", a.cfg.dm_policy).to_ascii_lowercase());
            if let Some(src) = &a.cfg.token_source {
                row["tokenSource"] = json!(src);
            }
            if !order.contains(channel) {
                order.push(channel.clone());
                let mut summary = json!({"configured": st.configured, "running": st.running,
                    "connected": st.connected, "linked": st.linked, "lastError": st.last_error});
                if let Some(p) = probes.get(&(channel.clone(), id.clone())) {
                    summary["probe"] = p.clone();
                }
                channels.insert(channel.clone(), summary);
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

    /// Runs `f` on one account's entry under the registry lock.
    fn with_account<T>(
        &self,
        channel: &str,
        account: &str,
        f: impl FnOnce(&mut Account) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        let mut m = self.accounts.locked();
        let a = m
            .get_mut(&(channel.to_string(), account.to_string()))
            .ok_or_else(|| GatewayError(format!("no {channel} account {account} is configured")))?;
        f(a)
    }

    /// `channels.start`: (re)starts a configured, enabled account. `Ok(false)` if it already runs.
    pub fn start_account(&self, channel: &str, account: &str) -> Result<bool, GatewayError> {
        self.with_account(channel, account, |a| {
            if a.supervised.is_some() {
                return Ok(false);
            }
            if !a.cfg.enabled {
                return Err(GatewayError::from(format!("{channel} account {account} is disabled in the config")));
            }
            if !a.cfg.configured() {
                return Err(GatewayError::from(format!("{channel} account {account} is not configured")));
            }
            let d = make_driver(&a.cfg, &self.state_dir)?;
            tracing::info!(target: "channels", "starting {channel} account {account} (channels.start)");
            a.supervised = Some(Supervised::spawn(
                d,
                self.inbound.clone(),
                self.cancel.child_token(),
            ));
            a.reason = None;
            Ok(true)
        })
    }

    /// `channels.stop`: stops an account's driver (bounded); `Ok(false)` if it was not running.
    pub async fn stop_account(&self, channel: &str, account: &str) -> Result<bool, GatewayError> {
        let sup = self.with_account(channel, account, |a| {
            let sup = a.supervised.take();
            if sup.is_some() {
                a.reason = Some("stopped (channels.stop)".into());
            }
            Ok(sup)
        })?;
        match sup {
            Some(s) => {
                tracing::info!(target: "channels", "stopping {channel} account {account} (channels.stop)");
                let _ = tokio::time::timeout(Duration::from_secs(5), s.stop()).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Stops an account and logs it out.
    pub async fn logout(&self, channel: &str, account: &str) -> Result<bool, GatewayError> {
        let sup = self.with_account(channel, account, |a| {
            a.reason = Some("logged out".into());
            Ok(a.supervised.take())
        })?;
        match sup {
            Some(s) => {
                let driver = s.driver();
                let _ = tokio::time::timeout(Duration::from_secs(5), s.stop()).await;
                driver
                    .logout()
                    .await
                    .map_err(|e| GatewayError(e.to_string()))
            }
            None => Ok(false),
        }
    }
}

/// Where outbound local media may come from when `agent_id` sends through `account`: the
/// agent's workspace (first: relative paths resolve there), `<state>/media` and the account's
/// `mediaLocalRoots`. Everything else on the host (config, device keys, credentials) is off
/// limits to a `send` caller or an agent reply.
pub fn media_local_roots(
    state: &AppState,
    agent_id: &str,
    account: Option<&AccountConfig>,
) -> Vec<PathBuf> {
    let mut roots = vec![
        crate::agents::workspace_dir(state, agent_id),
        state.paths.state_dir.join("media"),
    ];
    if let Some(a) = account {
        roots.extend(a.media_local_roots.iter().cloned());
    }
    roots
}

fn make_driver(
    a: &AccountConfig,
    state_dir: &std::path::Path,
) -> Result<Arc<dyn ChannelDriver>, GatewayError> {
    match a.channel.as_str() {
        "telegram" => openclaw_channels::telegram::driver(a, state_dir)
            .map_err(|e| GatewayError(e.to_string())),
        "whatsapp" => {
            openclaw_channel_whatsapp::driver(a, state_dir).map_err(|e| GatewayError(e.to_string()))
        }
        other => Err(GatewayError::from(format!(
            "channel {other} is not supported by this gateway"
        ))),
    }
}
