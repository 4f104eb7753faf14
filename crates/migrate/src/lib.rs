//! Carrying a reference 2026.9 home over (agent.md §4.6): the reference keeps sessions,
//! transcripts, pairings, approved senders, exec approvals and cron jobs in SQLite
//! (`state/openclaw.sqlite` and `agents/<id>/agent/openclaw-agent.sqlite`, WAL mode); we keep
//! them in the JSON/JSONL files of the 2026.3 era. [`plan`] reads the databases without
//! touching them ([`read`]) and works out, item by item, what is new, what we already hold
//! (identical) and what conflicts with data of ours; [`apply`] writes only the new items, each
//! file atomically (transcripts before the indexes that point at them), then a marker.
//! A second run finds every item present and writes nothing. Conflicts are reported and both
//! sides are left as they are, as the `~/.clawdbot` migration does.

pub mod read;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use read::{Role, Snapshot};

/// Why a database could not be read. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{0} is locked by another process (is the reference gateway still running? stop it, then retry)"
    )]
    Locked(PathBuf),
    #[error("{path}: {message}")]
    Database { path: PathBuf, message: String },
    #[error(
        "{path}: schema version {found} is not one this importer knows ({}); nothing was imported from it. Upgrade openclaw, or import with the reference version that wrote it",
        known.join(", ")
    )]
    UnknownSchema {
        path: PathBuf,
        found: String,
        known: Vec<String>,
    },
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: cannot read our own file: {1}")]
    OurFile(PathBuf, String),
}

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Session,
    Transcript,
    Device,
    PendingDevice,
    NodeSurface,
    ApprovedSender,
    PairingRequest,
    ExecApprovals,
    CronJob,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Session => "session",
            Kind::Transcript => "transcript",
            Kind::Device => "paired device",
            Kind::PendingDevice => "pending device",
            Kind::NodeSurface => "node surface",
            Kind::ApprovedSender => "approved sender",
            Kind::PairingRequest => "pairing request",
            Kind::ExecApprovals => "exec approvals",
            Kind::CronJob => "cron job",
        }
    }
}

/// An item's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not in our files yet: [`apply`] writes it.
    New,
    /// Already in our files, the same.
    Present,
    /// Our files hold something else under the same identity: left alone, reported.
    Conflict(String),
    /// Not importable (e.g. a compressed transcript): left alone, reported.
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct Item {
    pub kind: Kind,
    pub id: String,
    pub status: Status,
}

/// Everything found, and the files [`apply`] would write.
#[derive(Debug, Default)]
pub struct Plan {
    /// The reference databases found (read or not).
    pub sources: Vec<PathBuf>,
    pub items: Vec<Item>,
    /// Databases that could not be read: nothing was taken from them.
    pub errors: Vec<String>,
    /// Whole new contents of our files, in write order.
    writes: Vec<(PathBuf, Vec<u8>)>,
}

impl Plan {
    pub fn count(&self, pred: impl Fn(&Status) -> bool) -> usize {
        self.items.iter().filter(|i| pred(&i.status)).count()
    }

    pub fn new_items(&self) -> usize {
        self.count(|s| *s == Status::New)
    }

    /// Nothing to write (every item present, conflicting or skipped).
    pub fn is_noop(&self) -> bool {
        self.writes.is_empty()
    }
}

/// The reference 2026.9 databases under `state_dir` (none when it never ran there).
pub fn detect(state_dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let global = state_dir.join("state/openclaw.sqlite");
    if global.is_file() {
        found.push(global);
    }
    found.extend(agent_dbs(state_dir).into_iter().map(|(_, p)| p));
    found
}

/// Where the marker of a finished import lives.
pub fn marker_path(state_dir: &Path) -> PathBuf {
    state_dir.join("migrations/reference-sqlite.json")
}

/// Reference databases exist and no import was recorded: what the gateway mentions at start.
pub fn import_pending(state_dir: &Path) -> bool {
    !detect(state_dir).is_empty() && !marker_path(state_dir).exists()
}

fn agent_dbs(state_dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(state_dir.join("agents")) else {
        return out;
    };
    for e in dir.flatten() {
        let db = e.path().join("agent/openclaw-agent.sqlite");
        if db.is_file() {
            out.push((e.file_name().to_string_lossy().into_owned(), db));
        }
    }
    out.sort();
    out
}

/// Our file's JSON, or `default` when it does not exist; unreadable JSON is an error (we never
/// overwrite a file we cannot read).
fn read_ours(path: &Path, default: Value) -> Result<Value, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::OurFile(path.to_path_buf(), e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(default),
        Err(e) => Err(Error::Io(path.to_path_buf(), e)),
    }
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}

fn parse_obj(text: Option<String>) -> Map<String, Value> {
    text.and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

fn parse_val(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// Reads every reference database under `state_dir` and decides each item's fate against our
/// files. Reads only.
pub fn plan(state_dir: &Path) -> Plan {
    let mut plan = Plan {
        sources: detect(state_dir),
        ..Plan::default()
    };
    for (agent, db) in agent_dbs(state_dir) {
        let result = read::open(&db, Role::Agent)
            .and_then(|snap| plan_sessions(state_dir, &agent, &snap, &mut plan));
        if let Err(e) = result {
            plan.errors.push(e.to_string());
        }
    }
    let global = state_dir.join("state/openclaw.sqlite");
    if global.is_file() {
        let result = read::open(&global, Role::Global).and_then(|snap| {
            plan_devices(state_dir, &snap, &mut plan)?;
            plan_channels(state_dir, &snap, &mut plan)?;
            plan_exec_approvals(state_dir, &snap, &mut plan)?;
            plan_cron(state_dir, &snap, &mut plan)
        });
        if let Err(e) = result {
            plan.errors.push(e.to_string());
        }
    }
    plan
}

/// Writes the plan's new items (each file atomically, 0600) and the marker. Returns how many
/// items were imported.
pub fn apply(state_dir: &Path, plan: &Plan) -> Result<usize, Error> {
    for (path, data) in &plan.writes {
        if let Some(dir) = path.parent() {
            openclaw_config::fsutil::ensure_private_dir(dir)
                .map_err(|e| Error::Io(dir.to_path_buf(), e))?;
        }
        openclaw_config::fsutil::write_atomic(path, data)
            .map_err(|e| Error::Io(path.clone(), e))?;
    }
    let marker = marker_path(state_dir);
    let record = json!({
        "version": 1,
        "importedAtMs": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        "sources": plan.sources.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "imported": plan.new_items(),
        "present": plan.count(|s| *s == Status::Present),
        "conflicts": plan.items.iter().filter(|i| matches!(i.status, Status::Conflict(_)))
            .map(|i| json!({"kind": i.kind.label(), "id": i.id})).collect::<Vec<_>>(),
        "errors": plan.errors,
    });
    if let Some(dir) = marker.parent() {
        openclaw_config::fsutil::ensure_private_dir(dir)
            .map_err(|e| Error::Io(dir.to_path_buf(), e))?;
    }
    openclaw_config::fsutil::write_atomic(&marker, &pretty(&record))
        .map_err(|e| Error::Io(marker.clone(), e))?;
    Ok(plan.new_items())
}

// ---- sessions and transcripts -------------------------------------------------------------

struct SessionRow {
    key: String,
    session_id: String,
    entry: Map<String, Value>,
    label: Option<String>,
    archived_at: Option<i64>,
}

fn plan_sessions(
    state_dir: &Path,
    agent: &str,
    snap: &Snapshot,
    plan: &mut Plan,
) -> Result<(), Error> {
    let rows = snap.rows(
        "SELECT session_key, current_session_id, entry_json, label, archived_at FROM session_nodes ORDER BY session_key",
        [],
        |r| {
            Ok(SessionRow {
                key: r.get(0)?,
                session_id: r.get(1)?,
                entry: parse_obj(r.get(2)?),
                label: r.get(3)?,
                archived_at: r.get(4)?,
            })
        },
    )?;
    let dir = state_dir.join("agents").join(agent).join("sessions");
    let index_path = dir.join("sessions.json");
    let mut index = read_ours(&index_path, json!({}))?;
    let mut index_changed = false;
    for row in rows {
        let transcript = dir.join(format!("{}.jsonl", safe_file(&row.session_id)));
        // Every window of the key (earlier ones after a reset too), current one last.
        let mut windows = snap.rows(
            "SELECT session_id FROM session_windows WHERE session_key = ?1 ORDER BY created_at",
            [&row.key],
            |r| r.get::<_, String>(0),
        )?;
        windows.retain(|w| *w != row.session_id);
        windows.push(row.session_id.clone());
        for window in &windows {
            let path = dir.join(format!("{}.jsonl", safe_file(window)));
            let status = match transcript_lines(snap, window)? {
                Err(why) => Status::Skipped(why),
                Ok(data) => match std::fs::read(&path) {
                    // Imported before (and maybe continued since: our runs append).
                    Ok(ours) if ours.starts_with(&data) => Status::Present,
                    Ok(_) => {
                        Status::Conflict(format!("{} exists with other content", path.display()))
                    }
                    Err(_) => {
                        plan.writes.push((path.clone(), data));
                        Status::New
                    }
                },
            };
            plan.items.push(Item {
                kind: Kind::Transcript,
                id: format!("{agent}/{window}"),
                status,
            });
        }
        let mut entry = row.entry;
        entry.insert("sessionId".into(), json!(row.session_id));
        if let Some(label) = row.label.filter(|l| !l.is_empty()) {
            entry.entry("label").or_insert(json!(label));
        }
        if let Some(at) = row.archived_at {
            entry.entry("archivedAt").or_insert(json!(at));
        }
        let status = match index.get(&row.key) {
            Some(ours) if ours["sessionId"] == json!(row.session_id) => Status::Present,
            Some(ours) => Status::Conflict(format!(
                "we hold session {} for this key",
                ours["sessionId"].as_str().unwrap_or("?")
            )),
            None if !transcript.exists() && !plan.writes.iter().any(|(p, _)| *p == transcript) => {
                Status::Skipped("its transcript could not be imported".into())
            }
            None => {
                if let Some(map) = index.as_object_mut() {
                    map.insert(row.key.clone(), Value::Object(entry));
                    index_changed = true;
                }
                Status::New
            }
        };
        plan.items.push(Item {
            kind: Kind::Session,
            id: format!("{agent}/{}", row.key),
            status,
        });
    }
    if index_changed {
        plan.writes.push((index_path, pretty(&index)));
    }
    Ok(())
}

/// A session id as a file name (ids are UUIDs; anything else is made safe).
fn safe_file(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The JSONL transcript of one window: the reference's event lines in `seq` order (they are
/// the same entries our transcripts hold). `Err` = not importable.
fn transcript_lines(snap: &Snapshot, session_id: &str) -> Result<Result<Vec<u8>, String>, Error> {
    let events = snap.rows(
        "SELECT seq, event_json, event_zstd IS NOT NULL FROM transcript_events WHERE session_id = ?1 ORDER BY seq",
       [session_id],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, bool>(2)?)),
    )?;
    let mut out = Vec::new();
    for (seq, json, compressed) in events {
        match json {
            Some(line) if !compressed => {
                // One JSON object per line, as our transcripts store them.
                let v: Value = serde_json::from_str(&line).map_err(|e| Error::Database {
                    path: snap.path.clone(),
                    message: format!("transcript event {session_id}#{seq} is not JSON: {e}"),
                })?;
                out.extend(serde_json::to_vec(&v).unwrap_or_default());
                out.push(b'\n');
            }
            _ => {
                return Ok(Err(format!(
                    "event #{seq} is zstd-compressed (not supported yet); the session was left in the reference's database"
                )));
            }
        }
    }
    Ok(Ok(out))
}

// ---- devices and node surfaces ------------------------------------------------------------

fn plan_devices(state_dir: &Path, snap: &Snapshot, plan: &mut Plan) -> Result<(), Error> {
    let paired_path = state_dir.join("devices/paired.json");
    let pending_path = state_dir.join("devices/pending.json");
    let nodes_path = state_dir.join("nodes/paired.json");
    let mut paired = read_ours(&paired_path, json!({}))?;
    let mut pending = read_ours(&pending_path, json!({}))?;
    let mut nodes = read_ours(&nodes_path, json!({}))?;
    let (mut paired_changed, mut pending_changed, mut nodes_changed) = (false, false, false);

    if snap.has_table("device_pairing_paired") {
        let rows = snap.rows(
            "SELECT device_id, public_key, display_name, operator_label, platform, device_family, client_id, client_mode, role, roles_json, scopes_json, approved_scopes_json, remote_ip, tokens_json, node_surface_json, created_at_ms, approved_at_ms FROM device_pairing_paired ORDER BY approved_at_ms, device_id",
            [],
            |r| {
                let mut d = Map::new();
                let id: String = r.get(0)?;
                d.insert("deviceId".into(), json!(id));
                d.insert("publicKey".into(), json!(r.get::<_, String>(1)?));
                for (i, k) in [(2, "displayName"), (3, "operatorLabel"), (4, "platform"), (6, "clientId"), (7, "clientMode"), (8, "role"), (12, "remoteIp")] {
                    if let Some(v) = r.get::<_, Option<String>>(i)? {
                        d.insert(k.into(), json!(v));
                    }
                }
                for (i, k) in [(9, "roles"), (10, "scopes"), (11, "approvedScopes")] {
                    let v = parse_val(r.get(i)?);
                    d.insert(k.into(), if v.is_array() { v } else { json!([]) });
                }
                let tokens = parse_val(r.get(13)?);
                d.insert("tokens".into(), if tokens.is_object() { tokens } else { json!({}) });
                d.insert("createdAtMs".into(), json!(r.get::<_, i64>(15)?));
                d.insert("approvedAtMs".into(), json!(r.get::<_, i64>(16)?));
                let family: Option<String> = r.get(5)?;
                let surface = parse_val(r.get(14)?);
                Ok((id, d, family, surface))
            },
        )?;
        for (id, device, family, surface) in rows {
            let status = match paired.get(&id) {
                Some(ours) if ours["publicKey"] == device["publicKey"] => Status::Present,
                Some(_) => Status::Conflict("we hold another key for this device id".into()),
                None => {
                    if let Some(m) = paired.as_object_mut() {
                        m.insert(id.clone(), Value::Object(device.clone()));
                        paired_changed = true;
                    }
                    Status::New
                }
            };
            plan.items.push(Item {
                kind: Kind::Device,
                id: id.clone(),
                status,
            });
            if let Value::Object(s) = surface {
                let mut node = Map::new();
                node.insert("nodeId".into(), json!(id));
                for k in ["clientId", "clientMode", "displayName", "platform"] {
                    if let Some(v) = device.get(k) {
                        node.insert(k.into(), v.clone());
                    }
                }
                for k in ["displayName", "version", "modelIdentifier"] {
                    if let Some(v) = s.get(k).filter(|v| v.is_string()) {
                        node.insert(k.into(), v.clone());
                    }
                }
                if let Some(f) = &family {
                    node.insert("deviceFamily".into(), json!(f));
                }
                for k in ["caps", "commands"] {
                    node.insert(
                        k.into(),
                        s.get(k)
                            .filter(|v| v.is_array())
                            .cloned()
                            .unwrap_or(json!([])),
                    );
                }
                node.insert(
                    "createdAtMs".into(),
                    s.get("createdAtMs")
                        .cloned()
                        .unwrap_or(device["createdAtMs"].clone()),
                );
                node.insert(
                    "approvedAtMs".into(),
                    s.get("approvedAtMs")
                        .cloned()
                        .unwrap_or(device["approvedAtMs"].clone()),
                );
                let status = match nodes.get(&id) {
                    Some(ours)
                        if ours["commands"] == node["commands"] && ours["caps"] == node["caps"] =>
                    {
                        Status::Present
                    }
                    Some(_) => {
                        Status::Conflict("we hold another approved surface for this node".into())
                    }
                    None => {
                        if let Some(m) = nodes.as_object_mut() {
                            m.insert(id.clone(), Value::Object(node));
                            nodes_changed = true;
                        }
                        Status::New
                    }
                };
                plan.items.push(Item {
                    kind: Kind::NodeSurface,
                    id,
                    status,
                });
            }
        }
    }
    if snap.has_table("device_pairing_pending") {
        let rows = snap.rows(
            "SELECT request_id, device_id, public_key, display_name, platform, client_id, client_mode, role, roles_json, scopes_json, remote_ip, silent, is_repair, ts FROM device_pairing_pending ORDER BY ts",
            [],
            |r| {
                let mut d = Map::new();
                let id: String = r.get(0)?;
                d.insert("requestId".into(), json!(id));
                d.insert("deviceId".into(), json!(r.get::<_, String>(1)?));
                d.insert("publicKey".into(), json!(r.get::<_, String>(2)?));
                for (i, k) in [(3, "displayName"), (4, "platform"), (5, "clientId"), (6, "clientMode"), (10, "remoteIp")] {
                    if let Some(v) = r.get::<_, Option<String>>(i)? {
                        d.insert(k.into(), json!(v));
                    }
                }
                d.insert("role".into(), json!(r.get::<_, Option<String>>(7)?.unwrap_or_else(|| "operator".into())));
                for (i, k) in [(8, "roles"), (9, "scopes")] {
                    let v = parse_val(r.get(i)?);
                    d.insert(k.into(), if v.is_array() { v } else { json!([]) });
                }
                d.insert("silent".into(), json!(r.get::<_, Option<i64>>(11)?.unwrap_or(0) != 0));
                d.insert("isRepair".into(), json!(r.get::<_, Option<i64>>(12)?.unwrap_or(0) != 0));
                d.insert("ts".into(), json!(r.get::<_, i64>(13)?));
                Ok((id, d))
            },
        )?;
        for (id, req) in rows {
            let status = if pending.get(&id).is_some() {
                Status::Present
            } else {
                if let Some(m) = pending.as_object_mut() {
                    m.insert(id.clone(), Value::Object(req));
                    pending_changed = true;
                }
                Status::New
            };
            plan.items.push(Item {
                kind: Kind::PendingDevice,
                id,
                status,
            });
        }
    }
    if paired_changed {
        plan.writes.push((paired_path, pretty(&paired)));
    }
    if pending_changed {
        plan.writes.push((pending_path, pretty(&pending)));
    }
    if nodes_changed {
        plan.writes.push((nodes_path, pretty(&nodes)));
    }
    Ok(())
}

// ---- channel pairing ----------------------------------------------------------------------

fn allow_file(state_dir: &Path, channel: &str, account: &str) -> PathBuf {
    let dir = state_dir.join("credentials");
    if account == "default" {
        dir.join(format!("{}-allowFrom.json", safe_file(channel)))
    } else {
        dir.join(format!(
            "{}-{}-allowFrom.json",
            safe_file(channel),
            safe_file(account)
        ))
    }
}

fn plan_channels(state_dir: &Path, snap: &Snapshot, plan: &mut Plan) -> Result<(), Error> {
    if snap.has_table("channel_pairing_allow_entries") {
        let rows = snap.rows(
            "SELECT channel_key, account_id, entry FROM channel_pairing_allow_entries ORDER BY channel_key, account_id, sort_order, entry",
            [],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
        )?;
        let mut by_file: BTreeMap<PathBuf, Vec<(String, String, String)>> = BTreeMap::new();
        for (ch, acct, entry) in rows {
            by_file
                .entry(allow_file(state_dir, &ch, &acct))
                .or_default()
                .push((ch, acct, entry));
        }
        for (path, entries) in by_file {
            let mut ours = read_ours(&path, json!({"version": 1, "allowFrom": []}))?;
            let mut changed = false;
            for (ch, acct, entry) in entries {
                let list = ours
                    .as_object_mut()
                    .map(|o| o.entry("allowFrom").or_insert(json!([])));
                let status = match list.and_then(Value::as_array_mut) {
                    Some(list) if list.iter().any(|v| v.as_str() == Some(entry.as_str())) => {
                        Status::Present
                    }
                    Some(list) => {
                        list.push(json!(entry));
                        changed = true;
                        Status::New
                    }
                    None => Status::Conflict(format!("{} has no allowFrom list", path.display())),
                };
                plan.items.push(Item {
                    kind: Kind::ApprovedSender,
                    id: format!("{ch}/{acct}/{entry}"),
                    status,
                });
            }
            if changed {
                plan.writes.push((path, pretty(&ours)));
            }
        }
    }
    if snap.has_table("channel_pairing_requests") {
        let rows = snap.rows(
            "SELECT channel_key, account_id, request_id, code, created_at, last_seen_at, meta_json FROM channel_pairing_requests ORDER BY channel_key, created_at",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    parse_val(r.get(6)?),
                ))
            },
        )?;
        let mut by_channel: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (ch, acct, id, code, created, seen, meta) in rows {
            let mut req = json!({"id": id, "code": code, "createdAt": created, "lastSeenAt": seen,
                "meta": if meta.is_null() { json!({}) } else { meta }});
            if acct != "default" {
                req["accountId"] = json!(acct);
            }
            by_channel.entry(ch).or_default().push(req);
        }
        for (ch, reqs) in by_channel {
            let path = state_dir
                .join("credentials")
                .join(format!("{}-pairing.json", safe_file(&ch)));
            let mut ours = read_ours(&path, json!({"version": 1, "requests": []}))?;
            let mut changed = false;
            for req in reqs {
                let id = req["id"].as_str().unwrap_or_default().to_string();
                let list = ours
                    .as_object_mut()
                    .map(|o| o.entry("requests").or_insert(json!([])));
                let status = match list.and_then(Value::as_array_mut) {
                    Some(list) if list.iter().any(|r| r["id"] == req["id"]) => Status::Present,
                    Some(list) => {
                        list.push(req);
                        changed = true;
                        Status::New
                    }
                    None => Status::Conflict(format!("{} has no requests list", path.display())),
                };
                plan.items.push(Item {
                    kind: Kind::PairingRequest,
                    id: format!("{ch}/{id}"),
                    status,
                });
            }
            if changed {
                plan.writes.push((path, pretty(&ours)));
            }
        }
    }
    Ok(())
}

// ---- exec approvals -----------------------------------------------------------------------

fn plan_exec_approvals(state_dir: &Path, snap: &Snapshot, plan: &mut Plan) -> Result<(), Error> {
    if !snap.has_table("exec_approvals_config") {
        return Ok(());
    }
    let rows = snap.rows(
        "SELECT raw_json FROM exec_approvals_config WHERE config_key = 'current'",
        [],
        |r| r.get::<_, String>(0),
    )?;
    let Some(raw) = rows.into_iter().next() else {
        return Ok(());
    };
    let theirs: Value = serde_json::from_str(&raw).map_err(|e| Error::Database {
        path: snap.path.clone(),
        message: format!("exec approvals are not JSON: {e}"),
    })?;
    let path = state_dir.join("exec-approvals.json");
    let status = match read_ours(&path, Value::Null)? {
        Value::Null => {
            plan.writes.push((path, pretty(&theirs)));
            Status::New
        }
        ours if ours == theirs => Status::Present,
        _ => Status::Conflict(format!("{} already holds other approvals", path.display())),
    };
    plan.items.push(Item {
        kind: Kind::ExecApprovals,
        id: "exec-approvals.json".into(),
        status,
    });
    Ok(())
}

// ---- cron ---------------------------------------------------------------------------------

fn plan_cron(state_dir: &Path, snap: &Snapshot, plan: &mut Plan) -> Result<(), Error> {
    if !snap.has_table("cron_jobs") {
        return Ok(());
    }
    // Jobs a plugin or the heartbeat declared (`declaration_key`) are the reference's own
    // machinery, recreated by whoever runs; only the user's jobs carry over.
    let rows = snap.rows(
        "SELECT job_id, job_json, state_json FROM cron_jobs WHERE declaration_key IS NULL ORDER BY sort_order, updated_at, job_id",
        [],
        |r| Ok((r.get::<_, String>(0)?, parse_obj(r.get(1)?), parse_obj(r.get(2)?))),
    )?;
    if rows.is_empty() {
        return Ok(());
    }
    let path = state_dir.join("cron/jobs.json");
    let mut ours = read_ours(&path, json!({"version": 1, "jobs": []}))?;
    let mut changed = false;
    for (id, mut job, mut state) in rows {
        // Our scheduler computes the next run from the schedule (no burst of missed runs).
        state.remove("nextRunAtMs");
        state.remove("runningAtMs");
        job.insert("state".into(), Value::Object(state));
        job.insert("id".into(), json!(id));
        let list = ours
            .as_object_mut()
            .map(|o| o.entry("jobs").or_insert(json!([])));
        let status = match list.and_then(Value::as_array_mut) {
            Some(list) => match list.iter().find(|j| j["id"] == json!(id)) {
                Some(j) if j["schedule"] == job["schedule"] && j["payload"] == job["payload"] => {
                    Status::Present
                }
                Some(_) => Status::Conflict("we hold another job with this id".into()),
                None => {
                    list.push(Value::Object(job));
                    changed = true;
                    Status::New
                }
            },
            None => Status::Conflict(format!("{} has no jobs list", path.display())),
        };
        plan.items.push(Item {
            kind: Kind::CronJob,
            id,
            status,
        });
    }
    if changed {
        plan.writes.push((path, pretty(&ours)));
    }
    Ok(())
}
