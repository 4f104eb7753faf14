//! The exec approvals file (`<state>/exec-approvals.json`, nodes.md §2.7, agent.md §7.4): what
//! a host may start. The same model serves the node host (`system.run`, its file replaced only
//! through `system.execApprovals.set`, compare-and-swap on its hash) and the gateway's own
//! `exec` tool (`exec.approvals.get/set`, `allow-always`).
//!
//! A file that does not parse means `deny` for everything (and is left alone for the owner to
//! repair). What a missing field means is the host's choice ([`HostDefaults`]): the node host
//! is deliberately stricter than the reference (allowlist, so nothing runs until the owner
//! allowlists it); the gateway keeps the reference's `full`/`off`/`deny`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::which::Executable;

pub const FILE_NAME: &str = "exec-approvals.json";
/// A policy file is a few KiB; anything this large is not one (and is not read into memory).
const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// The agent whose policy applies when a run names none (the reference's implicit agent key).
const DEFAULT_AGENT: &str = "default";
/// Entries under this agent key apply to every agent.
const WILDCARD_AGENT: &str = "*";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Deny,
    Allowlist,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ask {
    #[serde(rename = "off")]
    Off,
    #[serde(rename = "on-miss")]
    OnMiss,
    #[serde(rename = "always")]
    Always,
}

/// The file as stored. Unknown keys are kept (the reference's schema is loose), so a file
/// written by a newer client survives a round trip through this node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalsFile {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<Socket>,
    #[serde(default)]
    pub defaults: Policy,
    #[serde(default)]
    pub agents: BTreeMap<String, AgentPolicy>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Socket {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<Ask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask_fallback: Option<Security>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_allow_skills: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<Ask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask_fallback: Option<Security>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_allow_skills: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowlist: Option<Vec<AllowEntry>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One allowlist entry; the short form `"pattern"` is stored as `{pattern}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "AllowEntryForm")]
#[serde(rename_all = "camelCase")]
pub struct AllowEntry {
    pub pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AllowEntryForm {
    Short(String),
    Full {
        pattern: String,
        #[serde(default, rename = "argPattern")]
        arg_pattern: Option<String>,
        #[serde(default)]
        source: Option<String>,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
}

impl From<AllowEntryForm> for AllowEntry {
    fn from(f: AllowEntryForm) -> Self {
        match f {
            AllowEntryForm::Short(pattern) => AllowEntry {
                pattern,
                arg_pattern: None,
                source: None,
                extra: Map::new(),
            },
            AllowEntryForm::Full {
                pattern,
                arg_pattern,
                source,
                extra,
            } => AllowEntry {
                pattern,
                arg_pattern,
                source,
                extra,
            },
        }
    }
}

impl ApprovalsFile {
    /// What a missing file means (and what `get` shows for it).
    pub fn empty() -> Self {
        ApprovalsFile {
            version: 1,
            socket: None,
            defaults: Policy::default(),
            agents: BTreeMap::new(),
            extra: Map::new(),
        }
    }

    /// What an unreadable or malformed file means: nothing runs.
    fn fail_closed() -> Self {
        let mut f = Self::empty();
        f.defaults.security = Some(Security::Deny);
        f.defaults.ask = Some(Ask::Off);
        f.defaults.ask_fallback = Some(Security::Deny);
        f
    }

    /// Parses and checks a file (from disk or from `system.execApprovals.set`); the error names
    /// the offending key path.
    pub fn from_value(v: Value) -> Result<Self, String> {
        let file: ApprovalsFile = serde_path_to_error::deserialize(v).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                e.inner().to_string()
            } else {
                format!("{path}: {}", e.inner())
            }
        })?;
        if file.version != 1 {
            return Err(format!("version: expected 1, got {}", file.version));
        }
        for (agent, policy) in &file.agents {
            for (i, entry) in policy.allowlist.iter().flatten().enumerate() {
                if entry.pattern.trim().is_empty() {
                    return Err(format!(
                        "agents.{agent}.allowlist[{i}].pattern: expected a non-empty string"
                    ));
                }
            }
        }
        Ok(file)
    }

    /// The node host's resolution (missing fields: allowlist, ask off, fallback deny).
    pub fn resolve(&self, agent_id: Option<&str>) -> Resolved {
        self.resolve_with(agent_id, HostDefaults::NODE)
    }

    /// The policy that applies to `agent_id`: the agent's own fields, then the `*` agent's,
    /// then `defaults`, then `host`'s. The allowlist is the `*` agent's entries followed by
    /// the agent's.
    pub fn resolve_with(&self, agent_id: Option<&str>, host: HostDefaults) -> Resolved {
        let key = agent_id
            .filter(|a| !a.trim().is_empty())
            .unwrap_or(DEFAULT_AGENT);
        let agent = self.agents.get(key);
        let wildcard = self.agents.get(WILDCARD_AGENT);
        let pick = |f: fn(&AgentPolicy) -> Option<Security>, d: Option<Security>, fb| {
            agent
                .and_then(f)
                .or_else(|| wildcard.and_then(f))
                .or(d)
                .unwrap_or(fb)
        };
        let security = pick(|a| a.security, self.defaults.security, host.security);
        let ask_fallback = pick(
            |a| a.ask_fallback,
            self.defaults.ask_fallback,
            host.ask_fallback,
        );
        let ask = agent
            .and_then(|a| a.ask)
            .or_else(|| wildcard.and_then(|a| a.ask))
            .or(self.defaults.ask)
            .unwrap_or(host.ask);
        let mut allowlist = Vec::new();
        if key != WILDCARD_AGENT {
            allowlist.extend(
                wildcard
                    .and_then(|a| a.allowlist.clone())
                    .unwrap_or_default(),
            );
        }
        allowlist.extend(agent.and_then(|a| a.allowlist.clone()).unwrap_or_default());
        Resolved {
            security,
            ask,
            ask_fallback,
            allowlist,
        }
    }

    /// Appends `entry` to `agent_id`'s allowlist unless an entry with the same pattern and
    /// argument rule is already there (`allow-always`, `approvals allowlist add`).
    pub fn add_entry(&mut self, agent_id: &str, entry: AllowEntry) -> bool {
        let list = self
            .agents
            .entry(agent_id.to_string())
            .or_default()
            .allowlist
            .get_or_insert_with(Vec::new);
        if list
            .iter()
            .any(|e| e.pattern == entry.pattern && e.arg_pattern == entry.arg_pattern)
        {
            return false;
        }
        list.push(entry);
        true
    }

    /// The file as `get` shows it: the socket token never leaves the host.
    fn redacted(&self) -> Self {
        let mut f = self.clone();
        f.socket = f
            .socket
            .and_then(|s| s.path.filter(|p| !p.trim().is_empty()))
            .map(|path| Socket {
                path: Some(path),
                token: None,
            });
        f
    }
}

/// What a host assumes for the fields a file leaves out.
#[derive(Debug, Clone, Copy)]
pub struct HostDefaults {
    pub security: Security,
    pub ask: Ask,
    pub ask_fallback: Security,
}

impl HostDefaults {
    /// The node host: nothing runs until its owner allowlists it.
    pub const NODE: HostDefaults = HostDefaults {
        security: Security::Allowlist,
        ask: Ask::Off,
        ask_fallback: Security::Deny,
    };
    /// The gateway host: the reference's `resolvedDefaults` (`full`, `off`, `deny`).
    pub const GATEWAY: HostDefaults = HostDefaults {
        security: Security::Full,
        ask: Ask::Off,
        ask_fallback: Security::Deny,
    };
}

/// The effective policy for one run. (`askFallback` is the gateway's business: it applies
/// when an approval it asked for times out or no one can answer; the node only sees approved
/// or not.)
#[derive(Debug, Clone)]
pub struct Resolved {
    pub security: Security,
    pub ask: Ask,
    pub ask_fallback: Security,
    pub allowlist: Vec<AllowEntry>,
}

/// Whether a run may start; a refusal carries the reference's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
}

/// Shells and launchers that run *another* program: allowlisting their path must not allow
/// whatever they are told to start, so they only pass a bare `*` entry (or `security: full`).
const WRAPPERS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "mksh",
    "fish",
    "csh",
    "tcsh",
    "ash",
    "busybox",
    "env",
    "nice",
    "nohup",
    "timeout",
    "stdbuf",
    "setsid",
    "xargs",
    "sudo",
    "doas",
    "su",
    "chroot",
    "time",
    "command",
    "exec",
    "builtin",
    "ionice",
    "taskset",
    "cmd",
    "cmd.exe",
    "powershell",
    "powershell.exe",
    "pwsh",
    "pwsh.exe",
    "nu",
];

impl Resolved {
    /// The decision for `argv` whose first element resolved to `exe` (`None`: not found).
    /// `approved` is the gateway's word that an operator approved this run; it counts only
    /// where the owner asked for asking (`ask` not `off`), never against `deny`.
    pub fn decide(&self, argv: &[String], exe: Option<&Executable>, approved: bool) -> Decision {
        if self.security == Security::Deny {
            return Decision::Deny("SYSTEM_RUN_DISABLED: security=deny".to_string());
        }
        let satisfied = self.security == Security::Full || self.matches(argv, exe);
        let approved_by_ask = approved && self.ask != Ask::Off;
        let requires_ask = match self.ask {
            Ask::Always => true,
            Ask::OnMiss => self.security == Security::Allowlist && !satisfied,
            Ask::Off => false,
        };
        if requires_ask && !approved_by_ask {
            return Decision::Deny("SYSTEM_RUN_DENIED: approval required".to_string());
        }
        if self.security == Security::Allowlist && !satisfied && !approved_by_ask {
            return Decision::Deny("SYSTEM_RUN_DENIED: allowlist miss".to_string());
        }
        Decision::Allow
    }

    /// The reference's matching: a bare `*` entry matches anything; a pattern with a path
    /// selector (`/`, `\`, `~`) is a glob (`*` within a segment, `**` across, `?` one char)
    /// over the executable's real path; a bare name pattern is a glob over the executable's
    /// name, and only when the command did not name a path itself. `argPattern` (a regex over
    /// the arguments joined by spaces) narrows an entry; `allow-always` entries need one.
    pub fn matches(&self, argv: &[String], exe: Option<&Executable>) -> bool {
        let bare_wild = self.allowlist.iter().any(|e| {
            e.pattern.trim() == "*"
                && e.arg_pattern.is_none()
                && e.source.as_deref() != Some("allow-always")
        });
        if bare_wild {
            return true;
        }
        let Some(exe) = exe else {
            return false;
        };
        let raw = argv.first().map(String::as_str).unwrap_or("");
        if is_wrapper(raw) || is_wrapper(&exe.name()) {
            return false;
        }
        let real = exe.real.to_string_lossy();
        let args = argv.get(1..).unwrap_or_default().join(" ");
        self.allowlist.iter().any(|entry| {
            let pattern = entry.pattern.trim();
            if pattern.is_empty() || pattern == "*" {
                return false;
            }
            let path_hit = if has_path_selector(pattern) {
                glob_match(&expand_tilde(pattern), &real)
            } else {
                !has_path_selector(raw)
                    && (glob_match(pattern, raw) || glob_match(pattern, &exe.name()))
            };
            if !path_hit {
                return false;
            }
            match entry.arg_pattern.as_deref() {
                None => entry.source.as_deref() != Some("allow-always"),
                Some(re) => regex::Regex::new(re).is_ok_and(|re| re.is_match(&args)),
            }
        })
    }
}

fn is_wrapper(program: &str) -> bool {
    let base = program.rsplit(['/', '\\']).next().unwrap_or(program);
    WRAPPERS.contains(&base.to_ascii_lowercase().as_str())
}

fn has_path_selector(s: &str) -> bool {
    s.contains('/') || s.contains('\\') || s.contains('~')
}

fn expand_tilde(pattern: &str) -> String {
    match pattern.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}{rest}", openclaw_config::env::home_dir().display())
        }
        _ => pattern.to_string(),
    }
}

/// Glob over a whole string: `**` any run, `*` any run without `/`, `?` one char but `/`.
pub fn glob_match(pattern: &str, target: &str) -> bool {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            other => re.push_str(&regex::escape(other.encode_utf8(&mut [0; 4]))),
        }
    }
    re.push('$');
    regex::Regex::new(&re).is_ok_and(|re| re.is_match(target))
}

/// What `system.execApprovals.get/set` answer: `{path, exists, hash, file}`.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub path: String,
    pub exists: bool,
    pub hash: String,
    pub file: ApprovalsFile,
}

/// Why reading or writing the file failed; `code` is the protocol error code to answer with.
#[derive(Debug)]
pub struct StoreError {
    pub code: &'static str,
    pub message: String,
}

impl StoreError {
    fn invalid(message: impl Into<String>) -> Self {
        StoreError {
            code: "INVALID_REQUEST",
            message: format!("INVALID_REQUEST: {}", message.into()),
        }
    }
    fn unavailable(message: impl Into<String>) -> Self {
        StoreError {
            code: "UNAVAILABLE",
            message: message.into(),
        }
    }
}

/// The file on disk; `set` is serialized so two concurrent writers cannot both pass the hash
/// check.
pub struct Approvals {
    path: PathBuf,
    write_lock: Mutex<()>,
}

/// What is on disk right now: the parsed file (fail-closed when malformed) and its raw hash.
struct OnDisk {
    exists: bool,
    hash: String,
    file: ApprovalsFile,
    malformed: bool,
}

impl Approvals {
    pub fn new(path: PathBuf) -> Self {
        Approvals {
            path,
            write_lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The policy file as it stands (missing → empty, malformed → deny everything).
    pub fn load(&self) -> Result<ApprovalsFile, StoreError> {
        Ok(self.read()?.file)
    }

    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let disk = self.read()?;
        Ok(self.snapshot_of(disk))
    }

    /// Replaces the file when `base_hash` matches what is on disk (a missing file needs none).
    /// The socket token already on disk is kept when the new file names none.
    pub async fn set(
        &self,
        file: ApprovalsFile,
        base_hash: Option<&str>,
    ) -> Result<Snapshot, StoreError> {
        let _guard = self.write_lock.lock().await;
        let current = self.read()?;
        let base = base_hash.map(str::trim).filter(|h| !h.is_empty());
        if current.exists {
            match base {
                None => {
                    return Err(StoreError::invalid(
                        "exec approvals base hash required; reload and retry",
                    ));
                }
                Some(h) if h != current.hash => {
                    return Err(StoreError::invalid(
                        "exec approvals changed; reload and retry",
                    ));
                }
                Some(_) => {}
            }
        } else if base.is_some_and(|h| h != current.hash) {
            return Err(StoreError::invalid(
                "exec approvals changed; reload and retry",
            ));
        }
        self.write(file, &current)
    }

    /// Changes the file in place (`allow-always`): `change` returns whether it changed
    /// anything. A malformed file is the owner's to repair and is never overwritten.
    pub async fn update(
        &self,
        change: impl FnOnce(&mut ApprovalsFile) -> bool,
    ) -> Result<Snapshot, StoreError> {
        let _guard = self.write_lock.lock().await;
        let current = self.read()?;
        if current.malformed {
            return Err(StoreError::unavailable(format!(
                "{} is malformed; fix it before changing it",
                self.path.display()
            )));
        }
        let mut next = current.file.clone();
        if !change(&mut next) {
            return Ok(self.snapshot_of(current));
        }
        self.write(next, &current)
    }

    fn write(&self, file: ApprovalsFile, current: &OnDisk) -> Result<Snapshot, StoreError> {
        let mut next = file;
        let kept_token = current.file.socket.as_ref().and_then(|s| s.token.clone());
        if let Some(token) = kept_token {
            let socket = next.socket.get_or_insert_with(Socket::default);
            if socket.token.as_deref().is_none_or(|t| t.trim().is_empty()) {
                socket.token = Some(token);
            }
        }
        let mut text = serde_json::to_string_pretty(&next)
            .map_err(|e| StoreError::unavailable(format!("cannot encode exec approvals: {e}")))?;
        text.push('\n');
        openclaw_config::fsutil::write_atomic(&self.path, text.as_bytes()).map_err(|e| {
            StoreError::unavailable(format!("cannot write {}: {e}", self.path.display()))
        })?;
        Ok(self.snapshot_of(OnDisk {
            exists: true,
            hash: sha256_hex(text.as_bytes()),
            file: next,
            malformed: false,
        }))
    }

    fn snapshot_of(&self, disk: OnDisk) -> Snapshot {
        Snapshot {
            path: self.path.display().to_string(),
            exists: disk.exists,
            hash: disk.hash,
            file: disk.file.redacted(),
        }
    }

    fn read(&self) -> Result<OnDisk, StoreError> {
        use std::io::Read;
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(OnDisk {
                    exists: false,
                    hash: sha256_hex(b""),
                    file: ApprovalsFile::empty(),
                    malformed: false,
                });
            }
            Err(e) => {
                return Err(StoreError::unavailable(format!(
                    "cannot read {}: {e}",
                    self.path.display()
                )));
            }
        };
        let mut raw = Vec::new();
        f.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut raw)
            .map_err(|e| {
                StoreError::unavailable(format!("cannot read {}: {e}", self.path.display()))
            })?;
        let hash = sha256_hex(&raw);
        let parsed = if raw.len() as u64 > MAX_FILE_BYTES {
            None
        } else {
            serde_json::from_slice::<Value>(&raw)
                .ok()
                .and_then(|v| ApprovalsFile::from_value(v).ok())
        };
        if parsed.is_none() {
            // The owner must learn why nothing runs (the node host's log is its stderr).
            eprintln!(
                "exec approvals: {} is malformed; every command is denied until it is fixed",
                self.path.display()
            );
        }
        Ok(OnDisk {
            exists: true,
            hash,
            malformed: parsed.is_none(),
            file: parsed.unwrap_or_else(ApprovalsFile::fail_closed),
        })
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn exe(path: &str) -> Executable {
        Executable {
            path: PathBuf::from(path),
            real: PathBuf::from(path),
        }
    }

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn policy(file: Value) -> Resolved {
        ApprovalsFile::from_value(file).unwrap().resolve(None)
    }

    #[test]
    fn missing_file_default_denies_everything() {
        let r = ApprovalsFile::empty().resolve(None);
        assert_eq!(r.security, Security::Allowlist);
        let d = r.decide(&argv(&["ls"]), Some(&exe("/usr/bin/ls")), false);
        assert_eq!(
            d,
            Decision::Deny("SYSTEM_RUN_DENIED: allowlist miss".into())
        );
        // The gateway's "approved" does not override an owner who never asked to be asked.
        let d = r.decide(&argv(&["ls"]), Some(&exe("/usr/bin/ls")), true);
        assert!(matches!(d, Decision::Deny(_)));
    }

    #[test]
    fn path_and_name_patterns() {
        let r = policy(json!({"version":1,"agents":{"*":{"allowlist":[
            "/usr/bin/e*", {"pattern":"ls"}, {"pattern":"/opt/**/tool"}
        ]}}}));
        let ok = |a: &[&str], p: &str| r.decide(&argv(a), Some(&exe(p)), false) == Decision::Allow;
        assert!(ok(&["echo", "hi"], "/usr/bin/echo"));
        assert!(!ok(&["cat"], "/usr/bin/cat"));
        assert!(ok(&["ls", "-l"], "/usr/bin/ls"));
        // A bare name pattern does not cover a command that names a path itself.
        assert!(!ok(&["./ls"], "/home/u/ls"));
        assert!(ok(&["/opt/a/b/tool"], "/opt/a/b/tool"));
        assert!(!ok(&["/opt/tool2"], "/opt/tool2"));
        // `*` stays within one path segment.
        assert!(!ok(&["/usr/bin/sub/e"], "/usr/bin/sub/e"));
        assert!(!ok(&["x"], "/nowhere"));
        assert_eq!(
            r.decide(&argv(&["nope"]), None, false),
            Decision::Deny("SYSTEM_RUN_DENIED: allowlist miss".into())
        );
    }

    #[test]
    fn wrappers_need_a_bare_star() {
        let r = policy(json!({"version":1,"defaults":{"security":"allowlist"},
            "agents":{"default":{"allowlist":["/usr/bin/sh", "/usr/bin/env"]}}}));
        assert!(matches!(
            r.decide(
                &argv(&["sh", "-c", "rm -rf /"]),
                Some(&exe("/usr/bin/sh")),
                false
            ),
            Decision::Deny(_)
        ));
        assert!(matches!(
            r.decide(&argv(&["env", "rm"]), Some(&exe("/usr/bin/env")), false),
            Decision::Deny(_)
        ));
        let star = policy(json!({"version":1,"agents":{"*":{"allowlist":["*"]}}}));
        assert_eq!(
            star.decide(
                &argv(&["sh", "-c", "true"]),
                Some(&exe("/usr/bin/sh")),
                false
            ),
            Decision::Allow
        );
    }

    #[test]
    fn arg_patterns_and_allow_always() {
        let r = policy(json!({"version":1,"agents":{"*":{"allowlist":[
            {"pattern":"/usr/bin/git","argPattern":"^status( |$)"},
            {"pattern":"/usr/bin/ls","source":"allow-always"}
        ]}}}));
        let d = |a: &[&str], p: &str| r.decide(&argv(a), Some(&exe(p)), false);
        assert_eq!(d(&["git", "status"], "/usr/bin/git"), Decision::Allow);
        assert!(matches!(
            d(&["git", "push"], "/usr/bin/git"),
            Decision::Deny(_)
        ));
        assert!(matches!(d(&["ls"], "/usr/bin/ls"), Decision::Deny(_)));
    }

    #[test]
    fn security_and_ask() {
        let deny = policy(json!({"version":1,"defaults":{"security":"deny"}}));
        assert_eq!(
            deny.decide(&argv(&["ls"]), Some(&exe("/usr/bin/ls")), true),
            Decision::Deny("SYSTEM_RUN_DISABLED: security=deny".into())
        );
        let full = policy(json!({"version":1,"defaults":{"security":"full"}}));
        assert_eq!(full.decide(&argv(&["ls"]), None, false), Decision::Allow);
        let always = policy(json!({"version":1,"defaults":{"security":"full","ask":"always"}}));
        assert_eq!(
            always.decide(&argv(&["ls"]), None, false),
            Decision::Deny("SYSTEM_RUN_DENIED: approval required".into())
        );
        assert_eq!(always.decide(&argv(&["ls"]), None, true), Decision::Allow);
        let on_miss = policy(json!({"version":1,"defaults":{"ask":"on-miss"}}));
        assert_eq!(
            on_miss.decide(&argv(&["ls"]), Some(&exe("/usr/bin/ls")), true),
            Decision::Allow
        );
        // Agent fields beat the wildcard, which beats defaults.
        let f = ApprovalsFile::from_value(json!({"version":1,"defaults":{"security":"full"},
            "agents":{"*":{"security":"deny"},"ops":{"security":"full"}}}))
        .unwrap();
        assert_eq!(f.resolve(Some("ops")).security, Security::Full);
        assert_eq!(f.resolve(Some("other")).security, Security::Deny);
    }

    #[test]
    fn bad_files_are_refused_with_a_path() {
        let e = ApprovalsFile::from_value(json!({"version":1,"defaults":{"security":"bogus"}}))
            .unwrap_err();
        assert!(e.starts_with("defaults.security:"), "{e}");
        assert!(ApprovalsFile::from_value(json!({"version":2})).is_err());
        assert!(
            ApprovalsFile::from_value(json!({"version":1,"agents":{"a":{"allowlist":[" "]}}}))
                .is_err()
        );
        assert!(ApprovalsFile::from_value(json!([1])).is_err());
        // Unknown keys survive.
        let f = ApprovalsFile::from_value(json!({"version":1,"future":{"x":1}})).unwrap();
        assert_eq!(serde_json::to_value(&f).unwrap()["future"]["x"], 1);
    }

    #[tokio::test]
    async fn snapshot_and_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let store = Approvals::new(dir.path().join("state").join(FILE_NAME));
        let s0 = store.snapshot().unwrap();
        assert!(!s0.exists);
        let file = ApprovalsFile::from_value(json!({"version":1,
            "socket":{"path":"/x.sock","token":"secret"},
            "agents":{"*":{"allowlist":["/usr/bin/true"]}}}))
        .unwrap();
        let s1 = store.set(file.clone(), None).await.unwrap();
        assert!(s1.exists);
        assert_ne!(s1.hash, s0.hash);
        // The token is on disk but never in a snapshot.
        let on_disk = std::fs::read_to_string(store.path()).unwrap();
        assert!(on_disk.contains("secret"));
        assert!(!serde_json::to_string(&s1).unwrap().contains("secret"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A stale or missing base hash is refused and nothing changes.
        let e = store.set(file.clone(), Some(&s0.hash)).await.unwrap_err();
        assert!(e.message.contains("changed"), "{}", e.message);
        let e = store.set(file.clone(), None).await.unwrap_err();
        assert!(e.message.contains("base hash required"), "{}", e.message);
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), on_disk);
        // The right hash wins; the token stays although the new file names none.
        let mut next = file;
        next.socket = None;
        let s2 = store.set(next, Some(&s1.hash)).await.unwrap();
        assert_eq!(store.snapshot().unwrap().hash, s2.hash);
        assert!(
            std::fs::read_to_string(store.path())
                .unwrap()
                .contains("secret")
        );
    }

    #[test]
    fn malformed_file_fails_closed_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "{not json").unwrap();
        let store = Approvals::new(path.clone());
        let f = store.load().unwrap();
        assert_eq!(f.resolve(None).security, Security::Deny);
        let s = store.snapshot().unwrap();
        assert!(s.exists);
        assert_eq!(s.hash, sha256_hex(b"{not json"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }
}
