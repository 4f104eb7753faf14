//! The scheduler's files: `cron/jobs.json` (`{version: 1, jobs: [...]}`, the reference's file
//! store, job state inline; written atomically, 0600) and one run log per job
//! (`cron/runs/<jobId>.jsonl`, append-only with fsync, trimmed to its last lines when it grows
//! past a cap, a torn last line skipped on read).

use std::io::Write;
use std::path::{Path, PathBuf};

use openclaw_protocol::cron::{CronJob, CronRunLogEntry, CronStoreFile};
use serde_json::Value;

/// A run log is trimmed when it grows past this many bytes…
const RUN_LOG_MAX_BYTES: u64 = 2 * 1024 * 1024;
/// …to its newest this many lines.
const RUN_LOG_KEEP_LINES: usize = 2000;

/// What a jobs file held: the jobs this gateway understood, and rows it could not read (kept
/// and written back as they were, so a newer or damaged row is never dropped).
#[derive(Debug, Default)]
pub struct Loaded {
    pub jobs: Vec<CronJob>,
    pub unreadable: Vec<Value>,
}

/// One row of the file: a job, or anything else (kept verbatim).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Row {
    Job(Box<CronJob>),
    Other(Value),
}

#[derive(serde::Deserialize)]
struct RowsFile {
    #[serde(default)]
    jobs: Vec<Row>,
}

/// Reads the jobs file (missing = no jobs; unparsable = an error, so it is never overwritten).
/// Rows are read straight into jobs (no whole-file JSON tree), so a large file leaves no large
/// parse garbage behind.
pub fn load(path: &Path) -> std::io::Result<Loaded> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(e),
    };
    let bare_array = text.trim_start().starts_with('[');
    let parsed = if bare_array {
        serde_json::from_str::<Vec<Row>>(&text)
    } else {
        serde_json::from_str::<RowsFile>(&text).map(|f| f.jobs)
    };
    // The reference also reads JSON5.
    let rows = match parsed {
        Ok(rows) => rows,
        Err(_) => {
            let value: Value = json5::from_str(&text)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
            let rows = match value {
                Value::Array(rows) => rows,
                other => {
                    serde_json::from_value::<CronStoreFile>(other)
                        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?
                        .jobs
                }
            };
            rows.into_iter()
                .map(|r| match serde_json::from_value::<CronJob>(r.clone()) {
                    Ok(j) => Row::Job(Box::new(j)),
                    Err(_) => Row::Other(r),
                })
                .collect()
        }
    };
    drop(text);
    let mut out = Loaded {
        jobs: Vec::with_capacity(rows.len()),
        unreadable: Vec::new(),
    };
    for row in rows {
        match row {
            Row::Job(job) => out.jobs.push(*job),
            Row::Other(v) => {
                tracing::warn!(target: "cron", "cron job row kept but not scheduled (not a job this gateway reads)");
                out.unreadable.push(v);
            }
        }
    }
    out.jobs.shrink_to_fit();
    Ok(out)
}

/// Writes the jobs file atomically (0600 in a 0700 directory).
pub fn save(path: &Path, jobs: &[CronJob], unreadable: &[Value]) -> std::io::Result<()> {
    let mut rows: Vec<Value> = Vec::with_capacity(jobs.len() + unreadable.len());
    for j in jobs {
        rows.push(serde_json::to_value(j).map_err(std::io::Error::other)?);
    }
    rows.extend(unreadable.iter().cloned());
    let file = CronStoreFile {
        version: 1,
        jobs: rows,
    };
    let text = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    openclaw_config::fsutil::write_atomic(path, &text)
}

/// `cron/runs/<jobId>.jsonl` next to the jobs file; `None` for an id that is not a plain
/// file name.
pub fn run_log_path(jobs_path: &Path, job_id: &str) -> Option<PathBuf> {
    if job_id.is_empty() || job_id.contains(['/', '\\', '\0']) || job_id == "." || job_id == ".." {
        return None;
    }
    Some(
        jobs_path
            .parent()?
            .join("runs")
            .join(format!("{job_id}.jsonl")),
    )
}

/// Appends one entry (fsynced); trims the file past its cap.
pub fn append_run(jobs_path: &Path, entry: &CronRunLogEntry) -> std::io::Result<()> {
    let Some(path) = run_log_path(jobs_path, &entry.job_id) else {
        return Ok(());
    };
    if let Some(dir) = path.parent() {
        openclaw_config::fsutil::ensure_private_dir(dir)?;
    }
    let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path)?;
    f.write_all(&line)?;
    f.sync_data()?;
    if f.metadata()?.len() > RUN_LOG_MAX_BYTES {
        let text = std::fs::read_to_string(&path)?;
        let lines: Vec<&str> = text.lines().collect();
        let keep = &lines[lines.len().saturating_sub(RUN_LOG_KEEP_LINES)..];
        let mut out = keep.join("\n");
        out.push('\n');
        openclaw_config::fsutil::write_atomic(&path, out.as_bytes())?;
    }
    Ok(())
}

/// A job's run log, oldest first (unreadable lines skipped).
pub fn read_runs(jobs_path: &Path, job_id: &str) -> Vec<CronRunLogEntry> {
    let Some(path) = run_log_path(jobs_path, job_id) else {
        return Vec::new();
    };
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<CronRunLogEntry>(l).ok())
        .collect()
}

/// Every job's run log (`cron.runs {scope: "all"}`), oldest first.
pub fn read_all_runs(jobs_path: &Path) -> Vec<CronRunLogEntry> {
    let Some(dir) = jobs_path.parent().map(|d| d.join("runs")) else {
        return Vec::new();
    };
    let mut out: Vec<CronRunLogEntry> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".jsonl").map(str::to_string)
        })
        .flat_map(|id| read_runs(jobs_path, &id))
        .collect();
    out.sort_by_key(|e| e.ts);
    out
}

/// Deletes a removed job's run log.
pub fn remove_runs(jobs_path: &Path, job_id: &str) {
    if let Some(p) = run_log_path(jobs_path, job_id) {
        let _ = std::fs::remove_file(p);
    }
}
