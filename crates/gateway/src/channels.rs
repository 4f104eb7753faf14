//! The channel runtime of one gateway generation: every configured account runs as its own
//! supervised driver (a failure or panic is recorded in status and retried, never fatal);
//! inbound messages pass access control, become agent runs on the agent (`bindings`) and session
//! the routing rules give, are acknowledged once recorded in the durable inbox (the Telegram
//! offset then advances, even while the session lane is busy), and the reply goes back through
//! the same channel, chunked. Inbox entries left by a crash are replayed on start.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_channels::{
    Access, AccountConfig, CancelToken, ChannelDriver, ChannelStatus, ChatType, Inbound,
    InboundMessage, MentionPatterns, OutboundMessage, PairingStore, Supervised,
    accounts_from_config, check_access, resolve_binding, session_key_for,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::inbound_media::{Downloads, Job};
use crate::inbox::{Inbox, Pending};
use crate::runs::{RunSpec, Runs, Submitted};
use crate::state::AppState;

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
            history: GroupHistory::default(),
            inbound: tx,
            downloads: Arc::new(Downloads::default()),
            state_dir: state.paths.state_dir.clone(),
            config_error,
        });
        tokio::spawn(route(state.clone(), rt.clone(), rx));
        crate::inbound_media::spawn_sweeper(state.clone(), rt.cancel.clone());
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

    pub(crate) fn account_cfg(&self, channel: &str, account: &str) -> Option<AccountConfig> {
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

    /// Accounts whose channel is failing (configured, enabled and linked, but down with an error).
    pub fn failing(&self) -> Vec<String> {
        let Ok(m) = self.accounts.lock() else {
            return Vec::new();
        };
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
            .lock()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, a)| a.supervised.as_ref().map(|s| (k.clone(), s.driver())))
                    .collect()
            })
            .unwrap_or_default();
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
        f: impl FnOnce(&mut Account) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut m = self
            .accounts
            .lock()
            .map_err(|_| "channel registry unavailable".to_string())?;
        let a = m
            .get_mut(&(channel.to_string(), account.to_string()))
            .ok_or_else(|| format!("no {channel} account {account} is configured"))?;
        f(a)
    }

    /// `channels.start`: (re)starts a configured, enabled account. `Ok(false)` if it already runs.
    pub fn start_account(&self, channel: &str, account: &str) -> Result<bool, String> {
        self.with_account(channel, account, |a| {
            if a.supervised.is_some() {
                return Ok(false);
            }
            if !a.cfg.enabled {
                return Err(format!("{channel} account {account} is disabled in the config"));
            }
            if !a.cfg.configured() {
                return Err(format!("{channel} account {account} is not configured"));
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
    pub async fn stop_account(&self, channel: &str, account: &str) -> Result<bool, String> {
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
    pub async fn logout(&self, channel: &str, account: &str) -> Result<bool, String> {
        let sup = self.with_account(channel, account, |a| {
            a.reason = Some("logged out".into());
            Ok(a.supervised.take())
        })?;
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

/// Groups whose pending history is kept (the oldest-touched is dropped beyond this).
const HISTORY_GROUPS_MAX: usize = 256;
/// Longest line kept per pending message.
const HISTORY_LINE_MAX: usize = 2000;

/// Pending lines per group key, plus the keys in least-recently-touched order.
type HistoryMap = (
    BTreeMap<String, std::collections::VecDeque<String>>,
    Vec<String>,
);

/// Pending group history, in memory and bounded: at most `historyLimit` lines per group and
/// `HISTORY_GROUPS_MAX` groups.
#[derive(Default)]
struct GroupHistory(Mutex<HistoryMap>);

impl GroupHistory {
    fn key(m: &InboundMessage) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            m.channel,
            m.account_id,
            m.chat_id,
            m.thread_id.as_deref().unwrap_or("")
        )
    }

    fn record(&self, m: &InboundMessage, limit: usize) {
        if limit == 0 {
            return;
        }
        let key = Self::key(m);
        let mut line = with_sender(m);
        if line.chars().count() > HISTORY_LINE_MAX {
            line = line.chars().take(HISTORY_LINE_MAX).collect::<String>() + "…";
        }
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *g;
        order.retain(|k| k != &key);
        order.push(key.clone());
        if order.len() > HISTORY_GROUPS_MAX {
            let old = order.remove(0);
            map.remove(&old);
        }
        let q = map.entry(key).or_default();
        q.push_back(line);
        while q.len() > limit {
            q.pop_front();
        }
    }

    fn take(&self, m: &InboundMessage) -> Vec<String> {
        let key = Self::key(m);
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *g;
        order.retain(|k| k != &key);
        map.remove(&key).map(Vec::from).unwrap_or_default()
    }
}

/// Sends a short text back to the chat a message came from, without holding up the router.
fn reply_in_background(
    driver: Option<Arc<dyn ChannelDriver>>,
    to: &InboundMessage,
    text: String,
    what: &'static str,
) {
    let Some(d) = driver else { return };
    let out = OutboundMessage {
        chat_id: to.chat_id.clone(),
        thread_id: to.thread_id.clone(),
        text,
        media: vec![],
        reply_to: None,
        local_roots: Vec::new(),
    };
    tokio::spawn(async move {
        if let Err(e) = d.send(out).await {
            tracing::warn!(target: "channels", "{what} failed: {e}");
        }
    });
}

/// A slash command at the start of a message, with Telegram's `/cmd@botname` suffix removed.
struct Command {
    /// `/cmd rest…` (lower-cased command word).
    text: String,
    /// Explicitly addressed to this bot (`/cmd@botname`).
    addressed: bool,
}

fn command_text(text: &str, bot_username: Option<&str>) -> Option<Command> {
    let t = text.trim();
    if !t.starts_with('/') {
        return None;
    }
    let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    let (cmd, target) = match word.split_once('@') {
        Some((c, bot)) => (c, Some(bot)),
        None => (word, None),
    };
    let addressed =
        matches!((target, bot_username), (Some(t), Some(me)) if t.eq_ignore_ascii_case(me));
    if target.is_some() && !addressed && bot_username.is_some() {
        return None; // a command for another bot in the group
    }
    let rest = rest.trim();
    Some(Command {
        text: if rest.is_empty() {
            cmd.to_ascii_lowercase()
        } else {
            format!("{} {rest}", cmd.to_ascii_lowercase())
        },
        addressed,
    })
}

/// `text [from: Name (id)]`, the sender suffix of group messages.
fn with_sender(m: &InboundMessage) -> String {
    match &m.sender_name {
        Some(n) => format!("{} [from: {n} ({})]", m.text, m.sender_id),
        None => format!("{} [from: {}]", m.text, m.sender_id),
    }
}

/// `historyLimit` of the account, else `messages.groupChat.historyLimit`, else 50.
fn history_limit(acct: &AccountConfig, cfg: &Value) -> usize {
    acct.raw
        .get("historyLimit")
        .and_then(Value::as_u64)
        .or_else(|| cfg["messages"]["groupChat"]["historyLimit"].as_u64())
        .unwrap_or(50)
        .min(1000) as usize
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

/// Consumes inbound messages: agent selection, access control, durable inbox entry, ack, run;
/// each run's reply is delivered from its own task, so a busy session lane never holds up the
/// router or a driver's cursor.
async fn route(state: Arc<AppState>, rt: Arc<ChannelRuntime>, mut rx: mpsc::Receiver<Inbound>) {
    let state_dir: PathBuf = state.paths.state_dir.clone();
    let inbox = Arc::new(Inbox::new(&state_dir));
    replay(&state, &rt, &inbox);
    while let Some(Inbound { mut message, ack }) = rx.recv().await {
        let Some(cfg) = rt.account_cfg(&message.channel, &message.account_id) else {
            let _ = ack.send(());
            continue;
        };
        if !crate::inbox::first_sighting(
            &message.channel,
            &message.account_id,
            &message.chat_id,
            &message.message_id,
        ) {
            tracing::debug!(target: "channels", "{} message {} delivered twice; ignored", message.channel, message.message_id);
            let _ = ack.send(());
            continue;
        }
        let cfg_v = serde_json::to_value(&state.config().config).unwrap_or_default();
        let (agents, default_agent) = crate::agents::agents(&state);
        let default_account = rt
            .default_account(&message.channel)
            .unwrap_or_else(|| "default".into());
        let agent = match resolve_binding(&cfg_v["bindings"], &message, &default_account) {
            Some(a) if agents.contains(&a) => a,
            Some(a) => {
                tracing::warn!(target: "channels", "binding names unknown agent {a:?}; using {default_agent}");
                default_agent
            }
            None => default_agent,
        };
        let driver = rt.driver(&message.channel, &message.account_id);
        let bot_username = driver.as_ref().and_then(|d| d.status().bot_username);
        let command = command_text(&message.text, bot_username.as_deref());
        if message.chat_type != ChatType::Direct
            && !message.mentioned
            && (command.as_ref().is_some_and(|c| c.addressed)
                || MentionPatterns::for_agent(&cfg_v, &agent).matches(&message.text))
        {
            message.mentioned = true;
        }
        let store = PairingStore::new(&state_dir, &message.channel, &message.account_id);
        match check_access(&cfg, &message, &store) {
            Access::Allow => {}
            Access::Pairing { code, first_time } => {
                let _ = ack.send(());
                if first_time {
                    let text = format!(
                        "This bot needs pairing before it answers you. Your pairing code: {code}\nAsk the owner to run: openclaw pairing approve {} {code}",
                        message.channel
                    );
                    reply_in_background(driver, &message, text, "pairing reply");
                }
                continue;
            }
            Access::NotMentioned => {
                rt.history.record(&message, history_limit(&cfg, &cfg_v));
                let _ = ack.send(());
                continue;
            }
            Access::Deny(_) => {
                tracing::debug!(target: "channels", "{} message from {} not routed", message.channel, message.sender_id);
                let _ = ack.send(());
                continue;
            }
        }
        let dm_scope = cfg_v["session"]["dmScope"]
            .as_str()
            .unwrap_or("main")
            .to_string();
        let main_key = state.settings().main_key.clone();
        let key = session_key_for(&message, &agent, &main_key, &dm_scope);
        // Chat commands of allowed senders: `/new`, `/reset` (optionally followed by text), `/stop`.
        if let Some(cmd) = &command {
            let reply = if let Some((reply, rest)) = crate::agents::reset_command(&cmd.text) {
                let store = openclaw_agent::SessionStore::open(&state_dir, &agent);
                if let Err(e) = store.reset(&key) {
                    tracing::warn!(target: "channels", "cannot reset {key}: {e}");
                    Some(format!("⚠️ cannot reset the session: {e}"))
                } else if rest.is_empty() {
                    Some(reply.to_string())
                } else {
                    message.text = rest;
                    None
                }
            } else if cmd.text == "/stop" {
                let ids = Runs::abort(&state, &key, None);
                Some(if ids.is_empty() {
                    "Nothing is running.".to_string()
                } else {
                    "⏹️ Stopped.".to_string()
                })
            } else {
                None
            };
            if let Some(text) = reply {
                let _ = ack.send(());
                reply_in_background(driver, &message, text, "command reply");
                continue;
            }
        }
        let text = if message.chat_type == ChatType::Direct {
            message.text.clone()
        } else {
            let pending = rt.history.take(&message);
            let current = with_sender(&message);
            if pending.is_empty() {
                current
            } else {
                format!(
                    "[Chat messages since your last reply - for context]\n{}\n\n[Current message - respond to this]\n{current}",
                    pending.join("\n")
                )
            }
        };
        let pending = Pending {
            run_id: format!("{}-{}", message.channel, uuid::Uuid::new_v4()),
            agent_id: agent,
            session_key: key,
            message: text,
            channel: message.channel.clone(),
            account_id: message.account_id.clone(),
            chat_id: message.chat_id.clone(),
            thread_id: message.thread_id.clone(),
            message_id: message.message_id.clone(),
            received_at: crate::state::now_ms(),
            attachments: std::mem::take(&mut message.media),
        };
        // Durable before the driver is acknowledged; not acknowledged ⇒ redelivered later.
        let forget = || {
            crate::inbox::forget(
                &message.channel,
                &message.account_id,
                &message.chat_id,
                &message.message_id,
            )
        };
        if let Err(e) = inbox.put(&pending) {
            tracing::warn!(target: "channels", "cannot record inbound message: {e}");
            forget();
            drop(ack);
            continue;
        }
        if !pending.attachments.is_empty() || rt.downloads.busy(&pending.session_key) {
            // Durable, attachments included: acknowledge now so the driver keeps polling, and
            // let the session's download lane fetch them and queue the run, in order.
            let _ = ack.send(());
            let job = Job {
                pending,
                driver,
                max_bytes: cfg.media_max_bytes(),
            };
            rt.downloads.push(&state, &inbox, job);
            continue;
        }
        let run_id = pending.run_id.clone();
        match submit(&state, &inbox, pending, driver) {
            Ok(()) => {
                let _ = ack.send(());
            }
            Err(e) => {
                // Not acknowledged: the driver delivers it again, so the entry can go.
                tracing::warn!(target: "channels", "inbound message not queued: {e}");
                inbox.done(&run_id);
                forget();
                drop(ack);
            }
        }
    }
}

/// Queues the run for an inbox entry and spawns its delivery. On failure (the session's lane
/// is full) the entry is left as it is: the caller decides whether it is retried or dropped.
pub(crate) fn submit(
    state: &Arc<AppState>,
    inbox: &Arc<Inbox>,
    p: Pending,
    driver: Option<Arc<dyn ChannelDriver>>,
) -> Result<(), String> {
    let persisted = Arc::new(tokio::sync::Notify::new());
    let spec = RunSpec {
        run_id: p.run_id.clone(),
        agent_id: p.agent_id.clone(),
        session_key: p.session_key.clone(),
        message: p.message.clone(),
        extra_system_prompt: None,
        timeout: Duration::from_secs(600),
        stream_tx: None,
        ephemeral: false,
        persisted: Some(persisted.clone()),
    };
    match Runs::submit(state, spec) {
        Ok(Submitted::New(run) | Submitted::Existing(run)) => {
            tokio::spawn(deliver(run, persisted, inbox.clone(), p, driver));
            Ok(())
        }
        Err(e) => Err(e.message),
    }
}

/// Inbox entries an earlier process left (crash, kill -9 while the lane was busy): queued again,
/// oldest first, with their original run id, agent and session; replies go to the original chat.
/// An entry whose session lane is full is kept and retried, never dropped.
fn replay(state: &Arc<AppState>, rt: &Arc<ChannelRuntime>, inbox: &Arc<Inbox>) {
    let mut waiting = Vec::new();
    for p in inbox.pending() {
        if !inbox.claim(&p.run_id) {
            continue;
        }
        crate::inbox::first_sighting(&p.channel, &p.account_id, &p.chat_id, &p.message_id);
        tracing::info!(target: "channels", "replaying inbound {} message {} left from before a restart", p.channel, p.run_id);
        if !p.attachments.is_empty() || rt.downloads.busy(&p.session_key) {
            let max_bytes = rt
                .account_cfg(&p.channel, &p.account_id)
                .map(|c| c.media_max_bytes())
                .unwrap_or(0);
            let driver = rt.driver(&p.channel, &p.account_id);
            rt.downloads.push(
                state,
                inbox,
                Job {
                    pending: p,
                    driver,
                    max_bytes,
                },
            );
            continue;
        }
        waiting.push(p);
    }
    let waiting = submit_in_order(state, rt, inbox, waiting);
    if !waiting.is_empty() {
        tokio::spawn(retry_replay(
            state.clone(),
            rt.clone(),
            inbox.clone(),
            waiting,
        ));
    }
}

/// Submits replayed entries oldest first; returns those not accepted yet. Once one entry of a
/// session is refused, the later ones of that session wait too, so their order is kept.
fn submit_in_order(
    state: &Arc<AppState>,
    rt: &Arc<ChannelRuntime>,
    inbox: &Arc<Inbox>,
    entries: Vec<Pending>,
) -> Vec<Pending> {
    let mut blocked = std::collections::HashSet::new();
    let mut left = Vec::new();
    for p in entries {
        if blocked.contains(&p.session_key) {
            left.push(p);
            continue;
        }
        let driver = rt.driver(&p.channel, &p.account_id);
        if let Err(e) = submit(state, inbox, p.clone(), driver) {
            tracing::warn!(target: "channels", "replayed message {} not queued yet ({e}); will retry", p.run_id);
            blocked.insert(p.session_key.clone());
            left.push(p);
        }
    }
    left
}

/// Retries replayed entries whose lane was full until they are queued. When this generation
/// stops first, they are released to the next one (which replays them again).
async fn retry_replay(
    state: Arc<AppState>,
    rt: Arc<ChannelRuntime>,
    inbox: Arc<Inbox>,
    mut waiting: Vec<Pending>,
) {
    while !waiting.is_empty() {
        tokio::select! {
            _ = rt.cancel.cancelled() => {
                for p in &waiting {
                    inbox.release(&p.run_id);
                }
                return;
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        waiting = submit_in_order(&state, &rt, &inbox, waiting);
    }
}

/// How long a reply waits for its run once the user turn is written (the run's own timeout is
/// 600 s). `OPENCLAW_TEST_RUN_WAIT_MS` shortens it for tests.
fn run_wait() -> Duration {
    openclaw_config::env::var("TEST_RUN_WAIT_MS")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(660))
}

/// Clears the inbox entry once the user turn is in the transcript, keeps the typing indicator
/// up while the agent works, then sends the reply back to the same chat. However long the run
/// stays queued, the entry stays (a crash replays it). A run that ended before writing the
/// user turn (an error) has its entry cleared only once the error was reported to the chat;
/// otherwise the entry is left for the next start to retry.
async fn deliver(
    run: Arc<crate::runs::Run>,
    persisted: Arc<tokio::sync::Notify>,
    inbox: Arc<Inbox>,
    p: Pending,
    driver: Option<Arc<dyn ChannelDriver>>,
) {
    let turn_written = tokio::select! {
        biased;
        _ = persisted.notified() => true,
        _ = run.done() => false,
    };
    if turn_written {
        inbox.done(&p.run_id);
    } else if run.result().is_some_and(|r| r.aborted) {
        // Stopped (`/stop`, `chat.abort`) before it started: the user's own decision.
        inbox.done(&p.run_id);
        return;
    }
    let keep_for_retry = |why: &str| {
        tracing::warn!(target: "channels", "inbound message {} was not answered ({why}); kept for the next start", p.run_id);
        inbox.release(&p.run_id);
    };
    let Some(driver) = driver else {
        if !turn_written {
            keep_for_retry("no channel account to report the error to");
        }
        return;
    };
    let (chat_id, thread_id) = (p.chat_id, p.thread_id);
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
    let result = run.wait(run_wait()).await;
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
        local_roots: Vec::new(),
    };
    match driver.send(out).await {
        Ok(_) if !turn_written => inbox.done(&p.run_id),
        Ok(_) => {}
        Err(e) if !turn_written => keep_for_retry(&format!("the error reply failed: {e}")),
        Err(e) => tracing::warn!(target: "channels", "reply delivery failed: {e}"),
    }
}
