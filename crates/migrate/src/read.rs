//! Reading the reference's SQLite files without touching them: each database is snapshotted
//! into a private temporary directory (see [`take_snapshot`]) and only the snapshot is queried,
//! so WAL replay happens on the copy and the originals' data stays byte-identical. A database
//! another process holds locked is refused (the reference is still running), and so is one
//! whose schema version we do not know.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::Error;

/// `schema_meta` versions this importer understands (role `global` for `state/openclaw.sqlite`,
/// role `agent` for `agents/<id>/agent/openclaw-agent.sqlite`), as written by 2026.9.x.
pub const KNOWN_GLOBAL_VERSIONS: &[i64] = &[18];
pub const KNOWN_AGENT_VERSIONS: &[i64] = &[23];

/// An opened snapshot of one reference database.
pub struct Snapshot {
    pub conn: Connection,
    /// The original file (for messages).
    pub path: PathBuf,
    /// Keeps the copy alive while the connection is used.
    _dir: TempDir,
}

/// A temporary directory removed on drop (no extra dependency for this one use).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> Result<TempDir, std::io::Error> {
    let base = std::env::temp_dir();
    for n in 0..100u32 {
        let p = base.join(format!(
            "openclaw-migrate-{}-{}-{n}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        match std::fs::create_dir(&p) {
            Ok(()) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700))?;
                }
                return Ok(TempDir(p));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("cannot create a temporary directory"))
}

/// Which database: the global state or one agent's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Global,
    Agent,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Global => "global",
            Role::Agent => "agent",
        }
    }

    fn known(self) -> &'static [i64] {
        match self {
            Role::Global => KNOWN_GLOBAL_VERSIONS,
            Role::Agent => KNOWN_AGENT_VERSIONS,
        }
    }
}

fn sqlite_err(path: &Path, e: rusqlite::Error) -> Error {
    let locked = matches!(
        &e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    if locked {
        Error::Locked(path.to_path_buf())
    } else {
        Error::Database {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}

/// Takes a consistent snapshot of the database at `path` into `copy`.
///
/// A `-shm` file means a process may have the database open (the reference running): then the
/// snapshot is taken through SQLite itself, read-only, inside one read transaction (the backup
/// API), so a concurrent checkpoint cannot tear it; a database held in exclusive mode answers
/// "busy" and is refused as locked. Without `-shm` nobody has it open in WAL mode, and the files
/// are copied as they are — opening them in place would create a `-shm` next to them.
fn take_snapshot(path: &Path, copy: &Path) -> Result<(), Error> {
    let shm = PathBuf::from(format!("{}-shm", path.display()));
    if shm.is_file() {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let src = Connection::open_with_flags(path, flags).map_err(|e| sqlite_err(path, e))?;
        src.busy_timeout(std::time::Duration::from_millis(1500))
            .map_err(|e| sqlite_err(path, e))?;
        let mut dst = Connection::open(copy).map_err(|e| sqlite_err(path, e))?;
        let backup =
            rusqlite::backup::Backup::new(&src, &mut dst).map_err(|e| sqlite_err(path, e))?;
        // Bounded: a database that stays busy (held exclusively) is refused, never waited on.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        loop {
            use rusqlite::backup::StepResult;
            match backup.step(1024).map_err(|e| sqlite_err(path, e))? {
                StepResult::Done => return Ok(()),
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked => {
                    if std::time::Instant::now() >= deadline {
                        return Err(Error::Locked(path.to_path_buf()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                _ => return Err(Error::Locked(path.to_path_buf())),
            }
        }
    }
    std::fs::copy(path, copy).map_err(|e| Error::Io(path.to_path_buf(), e))?;
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    if wal.is_file() {
        let to = PathBuf::from(format!("{}-wal", copy.display()));
        std::fs::copy(&wal, &to).map_err(|e| Error::Io(wal.clone(), e))?;
    }
    Ok(())
}

/// Opens a snapshot of the database at `path` and checks its `schema_meta` version.
pub fn open(path: &Path, role: Role) -> Result<Snapshot, Error> {
    let dir = temp_dir().map_err(|e| Error::Io(path.to_path_buf(), e))?;
    let copy = dir.0.join("db.sqlite");
    take_snapshot(path, &copy)?;
    let conn = Connection::open(&copy).map_err(|e| sqlite_err(path, e))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| sqlite_err(path, e))?;
    if check != "ok" {
        return Err(Error::Database {
            path: path.to_path_buf(),
            message: format!("integrity check failed: {check}"),
        });
    }
    let version: Option<i64> = conn
        .query_row(
            "SELECT schema_version FROM schema_meta WHERE meta_key = 'primary' AND role = ?1",
            [role.name()],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| sqlite_err(path, e))?;
    match version {
        Some(v) if role.known().contains(&v) => {}
        Some(v) => {
            return Err(Error::UnknownSchema {
                path: path.to_path_buf(),
                found: v.to_string(),
                known: role.known().iter().map(i64::to_string).collect(),
            });
        }
        None => {
            return Err(Error::UnknownSchema {
                path: path.to_path_buf(),
                found: "none (no schema_meta primary row)".into(),
                known: role.known().iter().map(i64::to_string).collect(),
            });
        }
    }
    Ok(Snapshot {
        conn,
        path: path.to_path_buf(),
        _dir: dir,
    })
}

impl Snapshot {
    /// Runs `sql` with `params` and maps each row; errors name the original file.
    pub fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, Error> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| sqlite_err(&self.path, e))?;
        let rows = stmt
            .query_map(params, map)
            .map_err(|e| sqlite_err(&self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<T>>>()
            .map_err(|e| sqlite_err(&self.path, e))
    }

    /// Whether `table` exists (older 2026.9 files may lack newer tables).
    pub fn has_table(&self, table: &str) -> bool {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |_| Ok(()),
            )
            .optional()
            .ok()
            .flatten()
            .is_some()
    }
}
