//! Log output in the reference's two formats: readable lines on stdout
//! (`2026-11-23T17:53:03.279+00:00 [gateway] message`) and tslog-style JSON lines in the log
//! file (`/tmp/openclaw/openclaw-YYYY-MM-DD.log` by default, dir 0700, file 0600).
//! Configured secrets are masked on both outputs as a last line of defence.
//!
//! `/tmp` is shared with every local user, so the default directory is used only when it is a
//! real directory (not a symlink), ours, and writable by nobody else; otherwise the gateway
//! warns and logs to `<state>/logs` instead. Log files are opened with `O_NOFOLLOW`, so a
//! planted symlink cannot redirect our lines into another file.

use crate::error::GatewayError;
use crate::sync::LockExt;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::Context;

/// The reference's default log directory.
pub const DEFAULT_LOG_DIR: &str = "/tmp/openclaw";

/// Test knob: replaces [`DEFAULT_LOG_DIR`] (same checks and fallback apply).
pub const LOG_DIR_ENV: &str = "OPENCLAW_TEST_LOG_DIR";

/// The directory for daily log files: the default (or [`LOG_DIR_ENV`]) when it is safe, else
/// `<state_dir>/logs` (0700). The second value is a warning to log when the default was
/// refused.
pub fn daily_log_dir(state_dir: &Path) -> (PathBuf, Option<String>) {
    let preferred = std::env::var_os(LOG_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_LOG_DIR));
    match ensure_safe_dir(&preferred) {
        Ok(()) => (preferred, None),
        Err(why) => {
            let fallback = state_dir.join("logs");
            let warning = format!(
                "log directory {} refused ({why}); logging to {} instead",
                preferred.display(),
                fallback.display()
            );
            (fallback, Some(warning))
        }
    }
}

/// Creates `dir` 0700 when missing, then checks (without following a symlink) that it is a
/// directory owned by us that no one else can write to. A directory someone else made first
/// fails the check instead of being used.
pub fn ensure_safe_dir(dir: &Path) -> Result<(), GatewayError> {
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        openclaw_config::fsutil::ensure_private_dir(parent)
            .map_err(|e| GatewayError(e.to_string()))?;
    }
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    match b.create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(GatewayError::from(format!("cannot create it: {e}"))),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| GatewayError(e.to_string()))?;
    if meta.file_type().is_symlink() {
        return Err(GatewayError::from("it is a symlink"));
    }
    if !meta.is_dir() {
        return Err(GatewayError::from("it is not a directory"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(GatewayError::from(format!(
                "owned by uid {}, not by us (uid {me})",
                meta.uid()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(GatewayError::from(format!(
                "mode {:o} lets other users write to it",
                meta.mode() & 0o7777
            )));
        }
    }
    Ok(())
}

/// Where file logs go: a fixed file (`logging.file`) or a daily file in a directory.
#[derive(Debug, Clone)]
pub enum LogTarget {
    File(PathBuf),
    Daily(PathBuf),
}

impl LogTarget {
    pub fn path_for_today(&self) -> PathBuf {
        match self {
            LogTarget::File(p) => p.clone(),
            LogTarget::Daily(dir) => dir.join(format!(
                "openclaw-{}.log",
                chrono::Local::now().format("%Y-%m-%d")
            )),
        }
    }
}

struct FileState {
    path: PathBuf,
    file: Option<std::fs::File>,
    written: u64,
    capped: bool,
}

/// The tracing layer writing both outputs.
pub struct GatewayLogLayer {
    console_max: Level,
    file_max: Level,
    target: Option<LogTarget>,
    file: Mutex<FileState>,
    hostname: String,
    secrets: Vec<String>,
}

impl GatewayLogLayer {
    pub fn new(
        verbose: bool,
        target: Option<LogTarget>,
        hostname: String,
        secrets: Vec<String>,
    ) -> Self {
        let level = if verbose { Level::DEBUG } else { Level::INFO };
        Self {
            console_max: level,
            file_max: level,
            target,
            file: Mutex::new(FileState {
                path: PathBuf::new(),
                file: None,
                written: 0,
                capped: false,
            }),
            hostname,
            secrets: secrets.into_iter().filter(|s| s.len() >= 4).collect(),
        }
    }

    fn redact(&self, mut s: String) -> String {
        for secret in &self.secrets {
            if s.contains(secret.as_str()) {
                s = s.replace(secret.as_str(), "***");
            }
        }
        s
    }

    fn write_file(&self, line: &str) {
        let Some(target) = &self.target else { return };
        let mut st = self.file.locked();
        let path = target.path_for_today();
        if st.file.is_none() || st.path != path {
            let first_try = st.path != path;
            st.file = match open_log_file(&path) {
                Ok(f) => Some(f),
                Err(e) => {
                    // Once per path (not through tracing: we are inside the subscriber).
                    if first_try {
                        eprintln!("cannot open log file {}: {e}", path.display());
                    }
                    None
                }
            };
            st.written = st
                .file
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .map(|m| m.len())
                .unwrap_or(0);
            st.capped = false;
            st.path = path;
        }
        if st.written >= MAX_FILE_BYTES {
            if !st.capped {
                st.capped = true;
                if let Some(f) = st.file.as_mut() {
                    let _ = f.write_all(b"{\"message\":\"log file size limit reached; further lines today go to stdout only\"}\n");
                }
            }
            return;
        }
        st.written += line.len() as u64;
        if let Some(f) = st.file.as_mut() {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// Daily log files kept (older `openclaw-YYYY-MM-DD.log` files are removed).
pub const RETAIN_DAYS: i64 = 7;
/// A day's file stops growing past this size (a line says so once).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Removes daily log files older than [`RETAIN_DAYS`].
pub fn prune_old_logs(target: &LogTarget) {
    let LogTarget::Daily(dir) = target else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let cutoff = chrono::Local::now().date_naive() - chrono::Duration::days(RETAIN_DAYS);
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(date) = name
            .to_str()
            .and_then(|n| n.strip_prefix("openclaw-"))
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            continue;
        };
        if date < cutoff {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Opens (appends to) a log file, creating its directory 0700 and the file 0600. A symlink at
/// `path` is refused (`O_NOFOLLOW`): the file it points to stays untouched.
pub fn open_log_file(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        openclaw_config::fsutil::ensure_private_dir(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    opts.open(path)
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={:?}", field.name(), value);
        }
    }
}

fn level_id(level: &Level) -> (u8, &'static str) {
    match *level {
        Level::TRACE => (1, "TRACE"),
        Level::DEBUG => (2, "DEBUG"),
        Level::INFO => (3, "INFO"),
        Level::WARN => (4, "WARN"),
        Level::ERROR => (5, "ERROR"),
    }
}

/// The subsystem shown in brackets: our own targets are short names (`gateway`, `ws`…);
/// dependency targets are reduced to their crate name.
fn subsystem(target: &str) -> &str {
    target.split("::").next().unwrap_or(target)
}

impl<S: Subscriber> Layer<S> for GatewayLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = meta.level();
        let to_console = level <= &self.console_max;
        let to_file = self.target.is_some() && level <= &self.file_max;
        if !to_console && !to_file {
            return;
        }
        let target = meta.target();
        // Dependencies only speak at warn and above unless verbose.
        if target.contains("::")
            && level > &Level::WARN
            && LevelFilter::current() < LevelFilter::DEBUG
        {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let text = self.redact(format!("{}{}", fields.message, fields.rest));
        let sub = subsystem(target);
        let now = chrono::Local::now();
        let time = now.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
        if to_console {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{time} [{sub}] {text}");
        }
        if to_file {
            let (id, name) = level_id(level);
            let sub_json = json!({ "subsystem": sub }).to_string();
            let line = json!({
                "0": sub_json,
                "1": text,
                "_meta": {
                    "runtime": "rust",
                    "runtimeVersion": env!("CARGO_PKG_VERSION"),
                    "hostname": self.hostname,
                    "date": now.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                    "logLevelId": id,
                    "logLevelName": name,
                    "name": sub_json,
                    "parentNames": ["openclaw"],
                },
                "time": time,
                "hostname": self.hostname,
                "message": text,
            });
            let mut s = line.to_string();
            s.push('\n');
            self.write_file(&s);
        }
    }
}

type FilterHandle = tracing_subscriber::reload::Handle<LevelFilter, tracing_subscriber::Registry>;

static FILTER: OnceLock<(FilterHandle, bool)> = OnceLock::new();

/// Parses `logging.level` (`trace|debug|info|warn|error|silent|fatal`).
fn parse_level(level: Option<&str>) -> LevelFilter {
    match level.map(|l| l.trim().to_ascii_lowercase()).as_deref() {
        Some("trace") => LevelFilter::TRACE,
        Some("debug") => LevelFilter::DEBUG,
        Some("warn") => LevelFilter::WARN,
        Some("error") | Some("fatal") => LevelFilter::ERROR,
        Some("silent") | Some("off") => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    }
}

/// Changes the log level at run time (hot reload of `logging.level`); `--verbose` wins.
pub fn set_verbose_level(level: Option<&str>) {
    if let Some((handle, verbose)) = FILTER.get() {
        let lf = if *verbose {
            LevelFilter::DEBUG
        } else {
            parse_level(level)
        };
        let _ = handle.modify(|f| *f = lf);
    }
}

/// Installs the global subscriber. Safe to call once per process.
pub fn init(
    verbose: bool,
    level: Option<&str>,
    target: Option<LogTarget>,
    hostname: String,
    secrets: Vec<String>,
) -> bool {
    use tracing_subscriber::prelude::*;
    let lf = if verbose {
        LevelFilter::DEBUG
    } else {
        parse_level(level)
    };
    let (filter, handle) = tracing_subscriber::reload::Layer::new(lf);
    let layer = GatewayLogLayer::new(true, target, hostname, secrets);
    let ok = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init()
        .is_ok();
    if ok {
        let _ = FILTER.set((handle, verbose));
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_only_old_daily_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("openclaw-2000-01-01.log");
        let today = dir.path().join(format!(
            "openclaw-{}.log",
            chrono::Local::now().format("%Y-%m-%d")
        ));
        let other = dir.path().join("notes.txt");
        for p in [&old, &today, &other] {
            std::fs::write(p, "x").unwrap();
        }
        prune_old_logs(&LogTarget::Daily(dir.path().to_path_buf()));
        assert!(!old.exists());
        assert!(today.exists() && other.exists());
    }

    #[test]
    fn a_symlinked_log_file_is_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("profile");
        std::fs::write(&victim, "export PATH=/usr/bin\n").unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o700)).unwrap();
        let target = LogTarget::Daily(logs.clone());
        std::os::unix::fs::symlink(&victim, target.path_for_today()).unwrap();
        assert!(open_log_file(&target.path_for_today()).is_err());
        let layer = GatewayLogLayer::new(false, Some(target), "h".into(), Vec::new());
        layer.write_file("{\"message\":\"hello\"}\n");
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "export PATH=/usr/bin\n"
        );
    }

    #[test]
    fn unsafe_log_dirs_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh");
        assert_eq!(ensure_safe_dir(&fresh), Ok(()));
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);

        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_safe_dir(&open).unwrap_err();
        assert!(e.0.contains("lets other users write"), "{e}");

        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        assert_eq!(
            ensure_safe_dir(&link),
            Err(GatewayError::from("it is a symlink".to_string()))
        );

        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert_eq!(
            ensure_safe_dir(&file),
            Err(GatewayError::from("it is not a directory".to_string()))
        );
    }
}
