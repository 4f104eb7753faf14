//! Session transcripts: append-only JSONL in the pi-coding-agent v3 format (agent.md §4.5).
//!
//! Crash safety: every entry is one `write` of a complete line followed by `fsync`, so a crash
//! can at worst leave a torn *last* line. Readers skip unparsable lines with a warning instead
//! of failing, and a writer that finds the file not ending in `\n` first terminates the torn
//! fragment, so it stays on its own (skipped) line and never corrupts the next entry.
//! Files are 0600 in 0700 directories.
//!
//! Compaction (agent.md §6) never rewrites the file: it appends a `compaction` entry naming the
//! first entry it keeps, and [`Transcript::load_context`] builds what the model sees from the
//! last such entry on. A crash before that line is complete leaves the old context in force.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::messages::AgentMessage;

/// Transcript format version written in the header.
pub const VERSION: u64 = 3;

/// An open transcript file.
#[derive(Debug)]
pub struct Transcript {
    path: PathBuf,
    /// `id` of the last entry (the `parentId` of the next one).
    last_id: Option<String>,
    /// The file does not end with `\n` (torn last line): the next append starts with one.
    needs_newline: bool,
    /// fsync after each append (off only inside `append_message_unsynced`).
    sync: bool,
}

fn iso_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn new_entry_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

fn open_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

impl Transcript {
    /// Opens an existing transcript (keeping its header) or creates it with the header line
    /// `{type:"session", version:3, id, timestamp, cwd}`.
    pub fn open_or_create(
        path: &Path,
        session_id: &str,
        cwd: &Path,
    ) -> std::io::Result<Transcript> {
        if let Some(dir) = path.parent() {
            openclaw_config::fsutil::ensure_private_dir(dir)?;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.len() > 0 => {
                let text = std::fs::read(path)?;
                let needs_newline = text.last() != Some(&b'\n');
                let last_id = String::from_utf8_lossy(&text)
                    .lines()
                    .rev()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .find_map(|v| {
                        let is_entry = v.get("type").and_then(Value::as_str) != Some("session");
                        v.get("id")
                            .and_then(Value::as_str)
                            .filter(|_| is_entry)
                            .map(str::to_string)
                    });
                Ok(Transcript {
                    path: path.to_path_buf(),
                    last_id,
                    needs_newline,
                    sync: true,
                })
            }
            Ok(_) | Err(_) => {
                let header = json!({
                    "type": "session",
                    "version": VERSION,
                    "id": session_id,
                    "timestamp": iso_now(),
                    "cwd": cwd.display().to_string(),
                });
                let mut line = header.to_string();
                line.push('\n');
                let mut f = open_options()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(path)?;
                f.write_all(line.as_bytes())?;
                f.sync_all()?;
                if let Some(dir) = path.parent()
                    && let Ok(d) = std::fs::File::open(dir)
                {
                    let _ = d.sync_all();
                }
                Ok(Transcript {
                    path: path.to_path_buf(),
                    last_id: None,
                    needs_newline: false,
                    sync: true,
                })
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `{type:"message", id, parentId, timestamp, message}`; returns the entry id.
    pub fn append_message(&mut self, msg: &AgentMessage) -> std::io::Result<String> {
        let message = serde_json::to_value(msg).map_err(std::io::Error::other)?;
        self.append_entry(json!({"type": "message", "message": message}))
    }

    /// Like [`Transcript::append_message`] without the fsync: the line is in the kernel's page
    /// cache, so it survives the process being killed, but not a power loss until the next
    /// synced append (which flushes it too). Used for the user turn, so the model call is not
    /// delayed by a disk flush.
    pub fn append_message_unsynced(&mut self, msg: &AgentMessage) -> std::io::Result<String> {
        self.sync = false;
        let r = self.append_message(msg);
        self.sync = true;
        r
    }

    /// Appends any entry object (`reset`, `model_change`, `custom` …). `id`, `parentId` and
    /// `timestamp` are filled in unless present; returns the entry id.
    pub fn append_entry(&mut self, entry: Value) -> std::io::Result<String> {
        let Value::Object(mut map) = entry else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a transcript entry must be a JSON object",
            ));
        };
        let id = match map.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                let id = new_entry_id();
                map.insert("id".into(), Value::String(id.clone()));
                id
            }
        };
        map.entry("parentId")
            .or_insert_with(|| self.last_id.clone().map_or(Value::Null, Value::String));
        map.entry("timestamp")
            .or_insert_with(|| Value::String(iso_now()));
        // Key order on disk: type, id, parentId, timestamp, then the rest (as the reference).
        let mut ordered = serde_json::Map::new();
        for k in ["type", "id", "parentId", "timestamp"] {
            if let Some(v) = map.remove(k) {
                ordered.insert(k.to_string(), v);
            }
        }
        ordered.extend(map);
        let mut line = String::new();
        let mut f = open_options().append(true).create(true).open(&self.path)?;
        if self.needs_newline || !ends_with_newline(&self.path)? {
            line.push('\n');
        }
        line.push_str(&Value::Object(ordered).to_string());
        line.push('\n');
        f.write_all(line.as_bytes())?;
        if self.sync {
            f.sync_data()?;
        }
        self.needs_newline = false;
        self.last_id = Some(id.clone());
        Ok(id)
    }

    /// Messages of the current window (after the last `reset` entry), oldest first. A missing
    /// file is an empty transcript. Unparsable lines — a torn last line after a crash, or
    /// garbage in the middle — are skipped with a warning; entries of other types and messages
    /// with roles this runtime does not model are skipped silently.
    pub fn load_messages(path: &Path) -> std::io::Result<Vec<AgentMessage>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.split('\n').collect();
        let last_index = lines.iter().rposition(|l| !l.trim().is_empty());
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let v: Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    let which = if Some(i) == last_index { "last" } else { "a" };
                    tracing::warn!(path = %path.display(), line = i + 1, error = %e,
                        "skipping {which} unparsable transcript line");
                    continue;
                }
            };
            match v.get("type").and_then(Value::as_str) {
                Some("reset") => out.clear(),
                Some("message") => {
                    let Some(m) = v.get("message") else { continue };
                    match serde_json::from_value::<AgentMessage>(m.clone()) {
                        Ok(msg) => out.push(msg),
                        Err(e) => {
                            let known = matches!(
                                m.get("role").and_then(Value::as_str),
                                Some("user" | "assistant" | "toolResult")
                            );
                            if known {
                                tracing::warn!(path = %path.display(), line = i + 1, error = %e,
                                    "skipping malformed transcript message");
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Appends `{type:"compaction", summary, firstKeptEntryId, tokensBefore}` (synced, like
    /// every reply line; it also flushes an unsynced user line before it). Returns its id.
    pub fn append_compaction(
        &mut self,
        summary: &str,
        first_kept_entry_id: &str,
        tokens_before: u64,
    ) -> std::io::Result<String> {
        self.append_entry(json!({
            "type": "compaction",
            "summary": summary,
            "firstKeptEntryId": first_kept_entry_id,
            "tokensBefore": tokens_before,
        }))
    }

    /// The model's view of the current window (after the last `reset`): the last compaction's
    /// summary, if any, and the message entries it keeps (from its `firstKeptEntryId` on, plus
    /// everything appended after it), with their entry ids, oldest first. Unparsable lines are
    /// skipped as in [`Transcript::load_messages`]. A `firstKeptEntryId` that names no message
    /// keeps only what follows the compaction entry.
    pub fn load_context(path: &Path) -> std::io::Result<Context> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Context::default()),
            Err(e) => return Err(e),
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut window: Vec<ContextEntry> = Vec::new();
        let mut compaction: Option<(Compaction, usize)> = None;
        for line in text.split('\n') {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            match v.get("type").and_then(Value::as_str) {
                Some("reset") => {
                    window.clear();
                    compaction = None;
                }
                Some("compaction") => {
                    let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
                    let (Some(summary), Some(first_kept)) =
                        (field("summary"), field("firstKeptEntryId"))
                    else {
                        continue;
                    };
                    let c = Compaction {
                        summary,
                        first_kept_entry_id: first_kept,
                        tokens_before: v.get("tokensBefore").and_then(Value::as_u64).unwrap_or(0),
                    };
                    compaction = Some((c, window.len()));
                }
                Some("message") => {
                    let Some(msg) = v
                        .get("message")
                        .and_then(|m| serde_json::from_value::<AgentMessage>(m.clone()).ok())
                    else {
                        continue;
                    };
                    window.push(ContextEntry {
                        id: v.get("id").and_then(Value::as_str).map(str::to_string),
                        message: msg,
                        usage_is_current: true,
                    });
                }
                _ => {}
            }
        }
        let Some((c, at)) = compaction else {
            return Ok(Context {
                summary: None,
                entries: window,
            });
        };
        let start = window[..at]
            .iter()
            .position(|e| e.id.as_deref() == Some(c.first_kept_entry_id.as_str()))
            .unwrap_or(at);
        let mut entries = window.split_off(start);
        for e in entries.iter_mut().take(at - start) {
            e.usage_is_current = false;
        }
        Ok(Context {
            summary: Some(c),
            entries,
        })
    }

    /// `sessions.compact`'s line trim (agent.md §4.3): when the file has more than `max_lines`
    /// non-empty lines, copy it to `<file>.bak` (first free `.bak`, `.bak.1` …) and rewrite it
    /// atomically with the header plus the last `max_lines` lines. Returns the archive path
    /// and the number of lines kept, or `None` when nothing had to be trimmed.
    pub fn trim_lines(path: &Path, max_lines: usize) -> std::io::Result<Option<(PathBuf, usize)>> {
        let text = std::fs::read_to_string(path)?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() <= max_lines {
            return Ok(None);
        }
        let header = lines
            .first()
            .filter(|l| {
                serde_json::from_str::<Value>(l)
                    .is_ok_and(|v| v.get("type").and_then(Value::as_str) == Some("session"))
            })
            .copied();
        let body: Vec<&str> = match header {
            Some(_) => lines[1..].to_vec(),
            None => lines.clone(),
        };
        let keep = &body[body.len().saturating_sub(max_lines)..];
        let mut archive = PathBuf::from(format!("{}.bak", path.display()));
        let mut n = 1;
        while archive.exists() {
            archive = PathBuf::from(format!("{}.bak.{n}", path.display()));
            n += 1;
        }
        openclaw_config::fsutil::write_atomic(&archive, text.as_bytes())?;
        let mut out = String::new();
        for l in header.into_iter().chain(keep.iter().copied()) {
            out.push_str(l);
            out.push('\n');
        }
        openclaw_config::fsutil::write_atomic(path, out.as_bytes())?;
        Ok(Some((archive, keep.len())))
    }
}

/// The last `compaction` entry of a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Compaction {
    pub summary: String,
    pub first_kept_entry_id: String,
    pub tokens_before: u64,
}

/// One message entry of the model's context.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextEntry {
    /// The entry `id` (absent only in hand-written files).
    pub id: Option<String>,
    pub message: AgentMessage,
    /// False for messages kept from before the last compaction: an assistant `usage` there
    /// measured the larger context that compaction replaced.
    pub usage_is_current: bool,
}

/// What [`Transcript::load_context`] returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The last compaction of the window, if any.
    pub summary: Option<Compaction>,
    pub entries: Vec<ContextEntry>,
}

/// Whether a non-empty file ends with `\n` (another writer may have left a torn line since we
/// opened it).
fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b)?;
    Ok(b[0] == b'\n')
}
