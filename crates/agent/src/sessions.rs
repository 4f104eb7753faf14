//! The session index `sessions.json` of one agent (`<state>/agents/<agentId>/sessions/`,
//! agent.md §4.4): session key → [`SessionEntry`], plus canonical session keys (§4.1).
//!
//! Every change is read-modify-write under a process-wide lock per directory (so two
//! `SessionStore` values for the same agent cannot lose each other's updates) and written
//! atomically (temp + fsync + rename, 0600 in a 0700 directory). Entries are kept as raw JSON
//! between reads, so fields and entries this code does not model survive a rewrite. A
//! `sessions.json` that is not valid JSON is set aside as `sessions.json.corrupt-<ts>` before
//! the next write instead of being silently overwritten.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::messages::now_ms;

/// One row of `sessions.json` (camelCase on disk; only `sessionId` is required).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEntry {
    pub session_id: String,
    #[serde(default)]
    pub updated_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_started_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_override: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_override: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_sent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_last_run: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawned_by: Option<String>,
    // Session settings `sessions.patch` writes (agent.md §4.3); `None` = not set (defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_usage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elevated_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_security: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_ask: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawn_depth: Option<u32>,
    /// `allow` | `deny`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_policy: Option<String>,
    /// `mention` | `always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_activation: Option<String>,
    /// Everything else (`origin`, `deliveryContext`, `skillsSnapshot` …), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SessionEntry {
    /// Archived sessions (2026.9 rows carry `archivedAt`) are out of use: deleting one needs
    /// less authority than deleting a live one.
    pub fn is_archived(&self) -> bool {
        self.extra
            .get("archivedAt")
            .is_some_and(|v| !v.is_null() && v != &Value::Bool(false))
    }
}

const INDEX_FILE: &str = "sessions.json";

/// Agent ids become directory names: lower-case `[a-z0-9_-]`, anything else → `-`.
pub fn normalize_agent_id(id: &str) -> String {
    let s: String = id
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() { "main".to_string() } else { s }
}

/// Canonical session key (agent.md §4.1), lower-case: empty or `"main"` →
/// `agent:<agent>:<mainKey>`; `agent:…` keys stay (`agent:<id>` alone gets `:<mainKey>`);
/// `global` and `unknown` stay; any other bare key → `agent:<agent>:<key>`.
pub fn canonical_session_key(input: &str, default_agent: &str, main_key: &str) -> String {
    let key = input.trim().to_lowercase();
    let agent = normalize_agent_id(default_agent);
    let main = match main_key.trim().to_lowercase() {
        m if m.is_empty() => "main".to_string(),
        m => m,
    };
    if key.is_empty() || key == "main" {
        return format!("agent:{agent}:{main}");
    }
    if let Some(rest) = key.strip_prefix("agent:") {
        let (id, tail) = rest.split_once(':').unwrap_or((rest, ""));
        let tail = if tail.is_empty() { main.as_str() } else { tail };
        return format!("agent:{}:{tail}", normalize_agent_id(id));
    }
    if key == "global" || key == "unknown" {
        return key;
    }
    format!("agent:{agent}:{key}")
}

/// One lock per index file, shared by every `SessionStore` of this process.
fn lock_for(dir: &Path) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let map = LOCKS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = map.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .entry(dir.to_path_buf())
        .or_insert_with(|| Arc::new(Mutex::new(())))
        .clone()
}

/// The session index of one agent.
#[derive(Debug, Clone)]
pub struct SessionStore {
    dir: PathBuf,
    lock: Arc<Mutex<()>>,
}

struct Index {
    map: Map<String, Value>,
    corrupt: bool,
}

fn archive_suffix() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H-%M-%S%.3fZ")
        .to_string()
}

fn parse_entry(v: &Value) -> Option<SessionEntry> {
    serde_json::from_value(v.clone()).ok()
}

impl SessionStore {
    /// The store of `agent_id` under `state_dir`. Nothing is read or created until used.
    pub fn open(state_dir: &Path, agent_id: &str) -> SessionStore {
        let dir = state_dir
            .join("agents")
            .join(normalize_agent_id(agent_id))
            .join("sessions");
        let lock = lock_for(&dir);
        SessionStore { dir, lock }
    }

    /// `<state>/agents/<agentId>/sessions`.
    pub fn dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// `sessions.json` (reported as `path` by `sessions.list`).
    pub fn index_path(&self) -> PathBuf {
        self.dir.join(INDEX_FILE)
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn load(&self) -> Index {
        let path = self.index_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "cannot read session index");
                }
                return Index {
                    map: Map::new(),
                    corrupt: false,
                };
            }
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Index {
                map: Map::new(),
                corrupt: false,
            };
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Index {
                map,
                corrupt: false,
            },
            Ok(_) | Err(_) => {
                tracing::warn!(path = %path.display(), "session index is not a JSON object; treating it as empty");
                Index {
                    map: Map::new(),
                    corrupt: true,
                }
            }
        }
    }

    fn save(&self, index: &Index) -> std::io::Result<()> {
        let path = self.index_path();
        openclaw_config::fsutil::ensure_private_dir(&self.dir)?;
        if index.corrupt && path.exists() {
            let aside = self
                .dir
                .join(format!("{INDEX_FILE}.corrupt-{}", archive_suffix()));
            std::fs::rename(&path, &aside)?;
            tracing::warn!(path = %aside.display(), "kept the unreadable session index aside");
        }
        let mut data = serde_json::to_vec_pretty(&index.map).map_err(std::io::Error::other)?;
        data.push(b'\n');
        openclaw_config::fsutil::write_atomic(&path, &data)
    }

    fn new_entry(&self) -> SessionEntry {
        let session_id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        SessionEntry {
            session_file: Some(
                self.dir
                    .join(format!("{session_id}.jsonl"))
                    .display()
                    .to_string(),
            ),
            session_id,
            updated_at: now,
            session_started_at: Some(now),
            ..SessionEntry::default()
        }
    }

    pub fn get(&self, key: &str) -> Option<SessionEntry> {
        let _g = self.guard();
        self.load()
            .map
            .get(&key.to_lowercase())
            .and_then(parse_entry)
    }

    /// The entry of `key`, creating it (new UUID v4 `sessionId`) when unseen.
    pub fn get_or_create(&self, key: &str) -> std::io::Result<SessionEntry> {
        let key = key.to_lowercase();
        let _g = self.guard();
        let mut index = self.load();
        if let Some(entry) = index.map.get(&key).and_then(parse_entry)
            && !entry.session_id.is_empty()
        {
            return Ok(entry);
        }
        let fresh = self.new_entry();
        // Keep whatever an unusable old row carried besides the broken fields.
        let mut value = serde_json::to_value(&fresh).map_err(std::io::Error::other)?;
        if let (Some(Value::Object(old)), Value::Object(new)) = (index.map.get(&key), &mut value) {
            for (k, v) in old {
                new.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let entry = parse_entry(&value).unwrap_or(fresh);
        index.map.insert(
            key,
            serde_json::to_value(&entry).map_err(std::io::Error::other)?,
        );
        self.save(&index)?;
        Ok(entry)
    }

    /// Applies `f` to the entry of `key` and saves it; `None` when there is no such entry.
    /// `f` decides about `updatedAt`.
    pub fn update(
        &self,
        key: &str,
        f: impl FnOnce(&mut SessionEntry),
    ) -> std::io::Result<Option<SessionEntry>> {
        let key = key.to_lowercase();
        let _g = self.guard();
        let mut index = self.load();
        let Some(mut entry) = index.map.get(&key).and_then(parse_entry) else {
            return Ok(None);
        };
        f(&mut entry);
        index.map.insert(
            key,
            serde_json::to_value(&entry).map_err(std::io::Error::other)?,
        );
        self.save(&index)?;
        Ok(Some(entry))
    }

    /// Applies `f` to the entry of `key`, creating the entry first (new `sessionId`) when
    /// there is none, and saves it — one read-modify-write under the lock, so a concurrent
    /// writer cannot slip between the creation and the change. `f` decides about `updatedAt`.
    pub fn upsert(
        &self,
        key: &str,
        f: impl FnOnce(&mut SessionEntry),
    ) -> std::io::Result<SessionEntry> {
        let key = key.to_lowercase();
        let _g = self.guard();
        let mut index = self.load();
        let mut entry = match index.map.get(&key).and_then(parse_entry) {
            Some(e) if !e.session_id.is_empty() => e,
            _ => {
                let fresh = self.new_entry();
                // Keep whatever an unusable old row carried besides the broken fields.
                let mut value = serde_json::to_value(&fresh).map_err(std::io::Error::other)?;
                if let (Some(Value::Object(old)), Value::Object(new)) =
                    (index.map.get(&key), &mut value)
                {
                    for (k, v) in old {
                        new.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                parse_entry(&value).unwrap_or(fresh)
            }
        };
        f(&mut entry);
        index.map.insert(
            key,
            serde_json::to_value(&entry).map_err(std::io::Error::other)?,
        );
        self.save(&index)?;
        Ok(entry)
    }

    /// All readable entries, most recently updated first.
    pub fn list(&self) -> Vec<(String, SessionEntry)> {
        let _g = self.guard();
        let mut rows: Vec<(String, SessionEntry)> = self
            .load()
            .map
            .iter()
            .filter_map(|(k, v)| parse_entry(v).map(|e| (k.clone(), e)))
            .collect();
        rows.sort_by(|a, b| b.1.updated_at.cmp(&a.1.updated_at).then(a.0.cmp(&b.0)));
        rows
    }

    /// Starts a new session for `key` (creating the entry if missing): new `sessionId` and
    /// transcript file; labels, routing and level settings are kept, token counts and
    /// `systemSent`/`abortedLastRun` cleared. The old transcript is kept, renamed to
    /// `<sessionId>.jsonl.reset.<timestamp>`.
    pub fn reset(&self, key: &str) -> std::io::Result<SessionEntry> {
        let key = key.to_lowercase();
        let _g = self.guard();
        let mut index = self.load();
        let old = index.map.get(&key).and_then(parse_entry);
        let fresh = self.new_entry();
        let entry = match &old {
            Some(old) => SessionEntry {
                session_id: fresh.session_id.clone(),
                session_file: fresh.session_file.clone(),
                updated_at: fresh.updated_at,
                session_started_at: fresh.session_started_at,
                input_tokens: None,
                output_tokens: None,
                total_tokens: None,
                context_tokens: None,
                compaction_count: None,
                system_sent: None,
                aborted_last_run: None,
                ..old.clone()
            },
            None => fresh,
        };
        if let Some(old) = &old {
            let path = self.transcript_path(old);
            if path.exists() {
                let archived =
                    PathBuf::from(format!("{}.reset.{}", path.display(), archive_suffix()));
                std::fs::rename(&path, &archived)?;
            }
        }
        index.map.insert(
            key,
            serde_json::to_value(&entry).map_err(std::io::Error::other)?,
        );
        self.save(&index)?;
        Ok(entry)
    }

    /// Removes `key`. With `delete_transcript` its transcript is archived as
    /// `<sessionId>.jsonl.deleted.<timestamp>` (never unlinked). Returns whether the key
    /// existed and the archived paths.
    pub fn delete(
        &self,
        key: &str,
        delete_transcript: bool,
    ) -> std::io::Result<(bool, Vec<String>)> {
        let key = key.to_lowercase();
        let _g = self.guard();
        let mut index = self.load();
        let Some(old) = index.map.remove(&key) else {
            return Ok((false, Vec::new()));
        };
        self.save(&index)?;
        let mut archived = Vec::new();
        if delete_transcript && let Some(entry) = parse_entry(&old) {
            let path = self.transcript_path(&entry);
            if path.exists() {
                let to = PathBuf::from(format!("{}.deleted.{}", path.display(), archive_suffix()));
                std::fs::rename(&path, &to)?;
                archived.push(to.display().to_string());
            }
        }
        Ok((true, archived))
    }

    /// The transcript of `entry`: its `sessionFile` when set (relative paths are inside the
    /// sessions dir), else `<dir>/<sessionId>.jsonl`.
    pub fn transcript_path(&self, entry: &SessionEntry) -> PathBuf {
        if let Some(file) = entry
            .session_file
            .as_deref()
            .filter(|f| !f.trim().is_empty())
        {
            let p = Path::new(file);
            return if p.is_absolute() {
                p.to_path_buf()
            } else {
                self.dir.join(p)
            };
        }
        // A session id is a file name, never a path.
        let safe: String = entry
            .session_id
            .chars()
            .map(|c| {
                if c == '/' || c == '\\' || c == '\0' {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let safe = if safe.starts_with('.') {
            format!("_{safe}")
        } else {
            safe
        };
        self.dir.join(format!("{safe}.jsonl"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_keys() {
        let c = |k| canonical_session_key(k, "Main", "main");
        assert_eq!(c("main"), "agent:main:main");
        assert_eq!(c(""), "agent:main:main");
        assert_eq!(c(" MAIN "), "agent:main:main");
        assert_eq!(c("Agent:Ops:Telegram:DM:123"), "agent:ops:telegram:dm:123");
        assert_eq!(c("agent:ops"), "agent:ops:main");
        assert_eq!(c("my-chat"), "agent:main:my-chat");
        assert_eq!(c("global"), "global");
        assert_eq!(
            canonical_session_key("main", "ops", "work"),
            "agent:ops:work"
        );
    }

    #[test]
    fn upsert_creates_then_changes_and_keeps_unknown_fields() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::open(dir.path(), "main");
        let e = store
            .upsert("agent:main:x", |e| e.label = Some("one".into()))
            .unwrap();
        assert!(!e.session_id.is_empty());
        let path = store.index_path();
        let mut raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        raw["agent:main:x"]["custom"] = Value::from(7);
        std::fs::write(&path, serde_json::to_vec(&raw).unwrap()).unwrap();
        let again = store
            .upsert("agent:main:x", |e| e.send_policy = Some("deny".into()))
            .unwrap();
        assert_eq!(again.session_id, e.session_id);
        assert_eq!(again.label.as_deref(), Some("one"));
        assert_eq!(again.send_policy.as_deref(), Some("deny"));
        assert_eq!(again.extra.get("custom"), Some(&Value::from(7)));
    }

    #[test]
    fn transcript_path_never_leaves_the_dir() {
        let store = SessionStore::open(Path::new("/state"), "../../etc");
        assert_eq!(store.dir(), Path::new("/state/agents/------etc/sessions"));
        let e = SessionEntry {
            session_id: "../x".into(),
            ..SessionEntry::default()
        };
        assert_eq!(
            store.transcript_path(&e),
            Path::new("/state/agents/------etc/sessions/_.._x.jsonl")
        );
    }
}
