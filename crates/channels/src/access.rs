//! Who may reach the agent (channels.md §1.1, §4, §5.3): DM policy + allowlists + the DM pairing
//! store, group policy + group/sender allowlists, and mention gating. Strangers never get through.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{AccountConfig, DmPolicy, GroupConfig, GroupPolicy, normalize_id};
use crate::types::{ChatType, InboundMessage};

/// Decision for one inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Allow,
    Deny(String),
    /// Unknown DM sender under `dmPolicy:"pairing"`: reply with the code **only when
    /// `first_time`** (a new request was just created); never run the agent.
    Pairing {
        code: String,
        first_time: bool,
    },
    /// Allowed group message that does not mention the bot: keep as pending group history,
    /// do not start a run.
    NotMentioned,
}

/// Pairing code alphabet: uppercase, without `0 O 1 I` (§4).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_TTL_MS: u64 = 60 * 60 * 1000;
const MAX_PENDING: usize = 3;
/// How long a store update waits for another process's lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A pending DM pairing request (`<channel>-pairing.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PairingRequest {
    pub id: String,
    pub code: String,
    pub created_at: String,
    pub last_seen_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default)]
    pub meta: serde_json::Value,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PairingFile {
    #[serde(default = "one")]
    version: u32,
    #[serde(default)]
    requests: Vec<PairingRequest>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AllowFile {
    #[serde(default = "one")]
    version: u32,
    #[serde(default)]
    allow_from: Vec<String>,
}

fn one() -> u32 {
    1
}

/// DM pairing store for one channel account under `$STATE_DIR/credentials/`. Files are re-read
/// on every lookup so `openclaw pairing approve` from another process takes effect at once;
/// writes are atomic 0600. Every read-modify-write holds an exclusive advisory lock on
/// `<channel>-pairing.lock` (the gateway and the CLI are different processes) and re-reads
/// under it, so concurrent requests and approvals never lose each other. A store file that
/// cannot be read or parsed is set aside as `<name>.corrupt-<ts>` before the next write, never
/// overwritten.
pub struct PairingStore {
    channel: String,
    account_id: String,
    dir: PathBuf,
}

impl PairingStore {
    pub fn new(state_dir: &Path, channel: &str, account_id: &str) -> PairingStore {
        PairingStore {
            channel: channel.to_string(),
            account_id: account_id.to_string(),
            dir: state_dir.join("credentials"),
        }
    }

    /// Takes the channel's cross-process store lock (released when the file is dropped; the
    /// kernel releases it if the process dies).
    fn lock(&self) -> std::io::Result<std::fs::File> {
        openclaw_config::fsutil::ensure_private_dir(&self.dir)?;
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let path = self.dir.join(format!("{}-pairing.lock", self.channel));
        let f = opts.open(&path)?;
        // Bounded: a holder that hangs must not stall the gateway's inbound router for good.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match f.try_lock() {
                Ok(()) => return Ok(f),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("{} is held by another process", path.display()),
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
    }

    pub fn pairing_path(&self) -> PathBuf {
        self.dir.join(format!("{}-pairing.json", self.channel))
    }

    /// `<channel>-allowFrom.json` for the default account, `<channel>-<acct>-allowFrom.json` otherwise.
    pub fn allow_path(&self) -> PathBuf {
        if self.account_id == "default" {
            self.dir.join(format!("{}-allowFrom.json", self.channel))
        } else {
            self.dir.join(format!(
                "{}-{}-allowFrom.json",
                self.channel, self.account_id
            ))
        }
    }

    /// Approved senders (also reads the `<channel>-default-allowFrom.json` alias).
    pub fn approved(&self) -> Vec<String> {
        let mut out = read_json::<AllowFile>(&self.allow_path()).allow_from;
        if self.account_id == "default" {
            let alias = self
                .dir
                .join(format!("{}-default-allowFrom.json", self.channel));
            out.extend(read_json::<AllowFile>(&alias).allow_from);
        }
        out
    }

    /// Pending, unexpired requests of this account.
    pub fn pending(&self) -> Vec<PairingRequest> {
        let now = crate::types::now_ms();
        read_json::<PairingFile>(&self.pairing_path())
            .requests
            .into_iter()
            .filter(|r| self.is_mine(r) && !expired(r, now))
            .collect()
    }

    fn is_mine(&self, r: &PairingRequest) -> bool {
        r.account_id.as_deref().unwrap_or("default") == self.account_id
    }

    /// Finds or creates the pending request for `sender`. `Ok(None)` when the pending list is
    /// full.
    pub fn request(
        &self,
        sender: &str,
        meta: serde_json::Value,
    ) -> std::io::Result<Option<(String, bool)>> {
        let _lock = self.lock()?;
        let path = self.pairing_path();
        let mut file = read_for_update::<PairingFile>(&path)?;
        let now = crate::types::now_ms();
        file.requests.retain(|r| !expired(r, now));
        let now_s = rfc3339(now);
        if let Some(r) = file.requests.iter_mut().find(|r| {
            r.id == sender && r.account_id.as_deref().unwrap_or("default") == self.account_id
        }) {
            r.last_seen_at = now_s;
            let code = r.code.clone();
            if let Err(e) = write_json(&path, &file) {
                tracing::warn!(error = %e, "cannot write pairing store");
            }
            return Ok(Some((code, false)));
        }
        if file.requests.iter().filter(|r| self.is_mine(r)).count() >= MAX_PENDING {
            return Ok(None);
        }
        let code = new_code();
        file.requests.push(PairingRequest {
            id: sender.to_string(),
            code: code.clone(),
            created_at: now_s.clone(),
            last_seen_at: now_s,
            account_id: (self.account_id != "default").then(|| self.account_id.clone()),
            meta,
        });
        // Not written ⇒ the code could never be approved: do not hand it out.
        write_json(&path, &file)?;
        Ok(Some((code, true)))
    }

    /// Approves a pending code: moves the sender into the allow store. Returns the sender id.
    pub fn approve(&self, code: &str) -> std::io::Result<Option<String>> {
        let _lock = self.lock()?;
        let path = self.pairing_path();
        let mut file = read_for_update::<PairingFile>(&path)?;
        let now = crate::types::now_ms();
        let Some(pos) = file.requests.iter().position(|r| {
            self.is_mine(r) && !expired(r, now) && r.code.eq_ignore_ascii_case(code.trim())
        }) else {
            return Ok(None);
        };
        let req = file.requests.remove(pos);
        let mut allow = read_for_update::<AllowFile>(&self.allow_path())?;
        if !allow.allow_from.contains(&req.id) {
            allow.allow_from.push(req.id.clone());
        }
        allow.version = 1;
        write_json(&self.allow_path(), &allow)?;
        write_json(&path, &file)?;
        Ok(Some(req.id))
    }
}

fn expired(r: &PairingRequest, now: u64) -> bool {
    chrono::DateTime::parse_from_rfc3339(&r.created_at)
        .map(|t| (t.timestamp_millis().max(0) as u64).saturating_add(CODE_TTL_MS) < now)
        .unwrap_or(true)
}

fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn new_code() -> String {
    (0..8)
        .map(|_| CODE_ALPHABET[rand::random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// A missing or corrupt file reads as empty (a corrupt store must not open the gate: empty
/// means "nobody approved"). The next write under the lock sets a corrupt file aside.
fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> T {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "pairing store file is not valid; read as empty");
            T::default()
        }),
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "cannot read pairing store file; read as empty");
            }
            T::default()
        }
    }
}

/// The current content for a read-modify-write (call with the store lock held). A file that
/// cannot be read or parsed is set aside first, so the write that follows does not destroy
/// it; if it cannot be set aside, the write is refused.
fn read_for_update<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> std::io::Result<T> {
    match openclaw_config::fsutil::read_json_or_set_aside(path) {
        Ok(read) => {
            if let Some((problem, kept)) = &read.set_aside {
                tracing::error!(path = %path.display(), kept = %kept.display(), "pairing store file is {problem}; set aside, starting an empty one");
            }
            Ok(read.value)
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "pairing store file not overwritten");
            Err(e)
        }
    }
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> std::io::Result<()> {
    let data = serde_json::to_vec_pretty(v).map_err(std::io::Error::other)?;
    openclaw_config::fsutil::write_atomic(path, &data)
}

fn listed(list: &[String], id: &str) -> bool {
    list.iter().any(|x| x == "*" || normalize_id(x) == id)
}

/// Applies the account's access rules to `msg` (see [`Access`]).
pub fn check_access(cfg: &AccountConfig, msg: &InboundMessage, store: &PairingStore) -> Access {
    let sender = normalize_id(&msg.sender_id);
    match msg.chat_type {
        ChatType::Direct => match cfg.dm_policy {
            DmPolicy::Disabled => Access::Deny("direct messages are disabled".into()),
            DmPolicy::Open => Access::Allow,
            DmPolicy::Allowlist if listed(&cfg.allow_from, &sender) => Access::Allow,
            DmPolicy::Allowlist => Access::Deny("sender not in allowFrom".into()),
            DmPolicy::Pairing => {
                if listed(&cfg.allow_from, &sender) || store.approved().contains(&sender) {
                    return Access::Allow;
                }
                let meta =
                    serde_json::json!({"name": msg.sender_name, "username": msg.sender_username});
                match store.request(&sender, meta) {
                    Ok(Some((code, first_time))) => Access::Pairing { code, first_time },
                    Ok(None) => Access::Deny("pairing queue full".into()),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot record a pairing request");
                        Access::Deny(format!("pairing store unavailable: {e}"))
                    }
                }
            }
        },
        ChatType::Group | ChatType::Channel => check_group(cfg, msg, &sender),
    }
}

fn check_group(cfg: &AccountConfig, msg: &InboundMessage, sender: &str) -> Access {
    let group = cfg
        .groups
        .as_ref()
        .and_then(|g| g.get(&msg.chat_id).or_else(|| g.get("*")));
    let topic: Option<&GroupConfig> = group.and_then(|g| {
        msg.thread_id
            .as_ref()
            .and_then(|t| g.topics.get(t).or_else(|| g.topics.get("*")))
    });
    let pick = |f: &dyn Fn(&GroupConfig) -> Option<bool>| topic.and_then(f).or(group.and_then(f));
    let policy = topic
        .and_then(|t| t.group_policy)
        .or(group.and_then(|g| g.group_policy))
        .unwrap_or(cfg.group_policy);
    if policy == GroupPolicy::Disabled {
        return Access::Deny("groups are disabled".into());
    }
    if pick(&|g| g.enabled) == Some(false) {
        return Access::Deny("group is disabled".into());
    }
    if cfg.groups.is_some() && group.is_none() && policy == GroupPolicy::Allowlist {
        return Access::Deny("group not in groups allowlist".into());
    }
    let specific = topic
        .and_then(|t| t.allow_from.as_ref())
        .or(group.and_then(|g| g.allow_from.as_ref()));
    let senders = match (policy, specific) {
        (_, Some(list)) => Some(list),
        (GroupPolicy::Allowlist, None) => {
            Some(cfg.group_allow_from.as_ref().unwrap_or(&cfg.allow_from))
        }
        _ => None,
    };
    // A configured group id vouches for its members when no sender list is given.
    let group_listed = group.is_some();
    if let Some(list) = senders
        && !listed(list, sender)
        && !(list.is_empty() && group_listed)
    {
        return Access::Deny("sender not allowed in this group".into());
    }
    let require_mention = pick(&|g| g.require_mention).unwrap_or(true);
    if require_mention && !(msg.mentioned || msg.reply_to_bot) {
        return Access::NotMentioned;
    }
    Access::Allow
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::accounts_from_config;
    use serde_json::json;

    fn msg(chat_type: ChatType, chat: &str, sender: &str) -> InboundMessage {
        InboundMessage {
            channel: "telegram".into(),
            account_id: "default".into(),
            chat_id: chat.into(),
            chat_type,
            thread_id: None,
            sender_id: sender.into(),
            sender_name: Some("Alice".into()),
            sender_username: None,
            message_id: "1".into(),
            text: "hi".into(),
            mentioned: false,
            reply_to_bot: false,
            media: vec![],
            timestamp_ms: 0,
        }
    }

    fn cfg(v: serde_json::Value) -> AccountConfig {
        accounts_from_config(&json!({"telegram": v}), &|_| None)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn allowlist_denies_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let store = PairingStore::new(dir.path(), "telegram", "default");
        let c = cfg(json!({"dmPolicy": "allowlist", "allowFrom": ["42"]}));
        assert_eq!(
            check_access(&c, &msg(ChatType::Direct, "42", "42"), &store),
            Access::Allow
        );
        assert!(matches!(
            check_access(&c, &msg(ChatType::Direct, "7", "7"), &store),
            Access::Deny(_)
        ));
    }

    #[test]
    fn pairing_flow_creates_one_code_and_approval_admits() {
        let dir = tempfile::tempdir().unwrap();
        let store = PairingStore::new(dir.path(), "telegram", "default");
        let c = cfg(json!({}));
        let m = msg(ChatType::Direct, "7", "7");
        let Access::Pairing {
            code,
            first_time: true,
        } = check_access(&c, &m, &store)
        else {
            panic!("expected a new pairing request")
        };
        assert_eq!(code.len(), 8);
        assert!(code.chars().all(|ch| CODE_ALPHABET.contains(&(ch as u8))));
        assert_eq!(
            check_access(&c, &m, &store),
            Access::Pairing {
                code: code.clone(),
                first_time: false
            }
        );
        let pending = store.pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].id, "7");
        assert_eq!(pending[0].meta["name"], "Alice");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.pairing_path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            store.approve(&code.to_lowercase()).unwrap().as_deref(),
            Some("7")
        );
        assert_eq!(check_access(&c, &m, &store), Access::Allow);
        assert!(store.pending().is_empty());
        // Pairing never grants group access.
        let g = msg(ChatType::Group, "-100", "7");
        assert!(matches!(check_access(&c, &g, &store), Access::Deny(_)));
    }

    /// Seeds `n` pending requests (one per account, so the per-account bound does not apply)
    /// straight into the pairing file; returns `(account, code, sender)`.
    fn seed(dir: &Path, n: usize) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let mut requests = Vec::new();
        let now = rfc3339(crate::types::now_ms());
        for i in 0..n {
            let (acct, code, sender) =
                (format!("a{}", i % 4), format!("CODE{i:04}"), format!("{i}"));
            requests.push(
                json!({"id": sender, "code": code, "createdAt": now, "lastSeenAt": now,
                                 "accountId": acct, "meta": {}}),
            );
            out.push((acct, code, sender));
        }
        std::fs::create_dir_all(dir.join("credentials")).unwrap();
        std::fs::write(
            dir.join("credentials/telegram-pairing.json"),
            json!({"version": 1, "requests": requests}).to_string(),
        )
        .unwrap();
        out
    }

    #[test]
    fn concurrent_approvals_and_requests_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let seeded = seed(dir.path(), 24);
        // Each thread uses its own store value, as the gateway (one per message) and each
        // `openclaw pairing approve` process do: only the file lock orders them.
        std::thread::scope(|s| {
            for (acct, code, _) in &seeded {
                let d = dir.path();
                s.spawn(move || {
                    let store = PairingStore::new(d, "telegram", acct);
                    assert!(store.approve(code).unwrap().is_some(), "{code}");
                });
            }
            for i in 0..3 {
                let d = dir.path();
                s.spawn(move || {
                    let store = PairingStore::new(d, "telegram", "newcomers");
                    let got = store.request(&format!("new{i}"), json!({})).unwrap();
                    assert!(matches!(got, Some((_, true))));
                });
            }
        });
        for acct in ["a0", "a1", "a2", "a3"] {
            let store = PairingStore::new(dir.path(), "telegram", acct);
            let mut approved = store.approved();
            approved.sort();
            let mut want: Vec<String> = seeded
                .iter()
                .filter(|(a, _, _)| a == acct)
                .map(|(_, _, s)| s.clone())
                .collect();
            want.sort();
            assert_eq!(approved, want, "{acct}");
            assert!(store.pending().is_empty(), "{acct}");
        }
        let newcomers = PairingStore::new(dir.path(), "telegram", "newcomers").pending();
        assert_eq!(newcomers.len(), 3, "{newcomers:?}");
    }

    #[test]
    fn a_corrupt_store_file_is_set_aside_before_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let seeded = seed(dir.path(), 1);
        let store = PairingStore::new(dir.path(), "telegram", &seeded[0].0);
        std::fs::write(store.allow_path(), b"[\"42\", broken").unwrap();
        assert!(
            store.approved().is_empty(),
            "corrupt reads as nobody approved"
        );
        assert_eq!(
            store.approve(&seeded[0].1).unwrap().as_deref(),
            Some(seeded[0].2.as_str())
        );
        assert_eq!(store.approved(), vec![seeded[0].2.clone()]);
        let aside: Vec<Vec<u8>> = std::fs::read_dir(dir.path().join("credentials"))
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .contains("-allowFrom.json.corrupt-")
            })
            .map(|e| std::fs::read(e.path()).unwrap())
            .collect();
        assert_eq!(aside, vec![b"[\"42\", broken".to_vec()]);
    }

    #[test]
    fn pending_list_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = PairingStore::new(dir.path(), "telegram", "default");
        let c = cfg(json!({}));
        for s in ["1", "2", "3"] {
            assert!(matches!(
                check_access(&c, &msg(ChatType::Direct, s, s), &store),
                Access::Pairing { .. }
            ));
        }
        assert_eq!(
            check_access(&c, &msg(ChatType::Direct, "4", "4"), &store),
            Access::Deny("pairing queue full".into())
        );
    }

    #[test]
    fn groups_gate_by_id_sender_and_mention() {
        let dir = tempfile::tempdir().unwrap();
        let store = PairingStore::new(dir.path(), "telegram", "default");
        let c = cfg(json!({"groups": {"-100": {}}, "groupAllowFrom": ["42"]}));
        let mut m = msg(ChatType::Group, "-100", "42");
        assert_eq!(check_access(&c, &m, &store), Access::NotMentioned);
        m.mentioned = true;
        assert_eq!(check_access(&c, &m, &store), Access::Allow);
        m.sender_id = "7".into();
        assert!(matches!(check_access(&c, &m, &store), Access::Deny(_)));
        let other = InboundMessage {
            chat_id: "-200".into(),
            mentioned: true,
            ..msg(ChatType::Group, "-200", "42")
        };
        assert!(matches!(check_access(&c, &other, &store), Access::Deny(_)));

        let open = cfg(json!({"groupPolicy": "open", "groups": {"*": {"requireMention": false}}}));
        assert_eq!(
            check_access(&open, &msg(ChatType::Group, "-5", "9"), &store),
            Access::Allow
        );
        let off = cfg(json!({"groupPolicy": "disabled"}));
        assert!(matches!(
            check_access(&off, &msg(ChatType::Group, "-5", "9"), &store),
            Access::Deny(_)
        ));
    }
}
