//! Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory.
//! Files are 0600, directories created here 0700. A state file that cannot be read or parsed is
//! set aside ([`set_aside_corrupt`]) rather than overwritten.

use std::io::Write;
use std::path::Path;

/// Creates `dir` (and parents) with mode 0700 where it does not exist yet.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Removes the temp files [`write_atomic`] leaves when its process is killed between creating
/// and renaming one (`.<name>.<pid>.<n>.tmp` whose process is gone), in `dir` and its
/// subdirectories down to `depth` levels. Never touches a live process's temp file, nor
/// anything else. Returns how many were removed.
pub fn sweep_stale_temps(dir: &Path, depth: usize) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in rd.flatten() {
        let path = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            if depth > 0 {
                removed += sweep_stale_temps(&path, depth - 1);
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if stale_temp_pid(&name).is_some_and(|pid| !process_alive(pid))
            && std::fs::remove_file(&path).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// The writer's pid of a [`write_atomic`] temp file name (`.<name>.<pid>.<n>.tmp`).
fn stale_temp_pid(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = inner.rsplitn(3, '.');
    let n = parts.next()?;
    let pid = parts.next()?;
    parts.next().filter(|rest| !rest.is_empty())?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// Whether process `pid` exists (`/proc` where there is one; elsewhere assumed alive, so
/// nothing is removed).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Atomically replaces `path` with `data` (mode 0600). A crash leaves either the old or the new
/// content, never a torn file.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    ensure_private_dir(path.parent().unwrap_or(Path::new(".")))?;
    replace(path, data, Mode::Private)
}

/// Atomically replaces a user's file (a workspace file an agent tool writes): like
/// [`write_atomic`], but an existing file keeps its mode, a new one gets the default (umask)
/// mode, and no directory is created. The rename replaces the directory entry itself, so a
/// symlink swapped in after the path was resolved is replaced, not followed.
pub fn replace_keeping_mode(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let keep = std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.permissions());
    replace(path, data, Mode::Keep(keep))
}

enum Mode {
    Private,
    Keep(Option<std::fs::Permissions>),
}

/// Temp file in the same directory, fsync, rename over `path`, fsync the directory; the temp
/// file is removed on any failure.
fn replace(path: &Path, data: &[u8], mode: Mode) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        if matches!(mode, Mode::Private) {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(data)?;
        if let Mode::Keep(Some(perms)) = &mode {
            f.set_permissions(perms.clone())?;
        }
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Moves an unreadable or unparsable state file out of the way as
/// `<name>.corrupt-<UTC timestamp>` (the session index's convention), next to it, so its bytes
/// survive for inspection and the next write of `path` cannot destroy them. An earlier
/// set-aside copy is never replaced (a counter is appended instead). Returns the new path.
pub fn set_aside_corrupt(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let ts = chrono::Utc::now().format("%Y-%m-%dT%H-%M-%S%.3fZ");
    for n in 0..1000u32 {
        let aside = if n == 0 {
            dir.join(format!("{name}.corrupt-{ts}"))
        } else {
            dir.join(format!("{name}.corrupt-{ts}-{n}"))
        };
        if std::fs::symlink_metadata(&aside).is_ok() {
            continue;
        }
        std::fs::rename(path, &aside)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        return Ok(aside);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("too many set-aside copies of {}", path.display()),
    ))
}

/// What [`read_json_or_set_aside`] found.
pub struct JsonRead<T> {
    /// The parsed content; the default when the file was missing, blank or set aside.
    pub value: T,
    /// Set when the file was unreadable or unparsable: why, and where its bytes were kept.
    pub set_aside: Option<(String, std::path::PathBuf)>,
}

/// Reads a JSON state file. Missing or blank ⇒ the default. Unreadable or unparsable ⇒ set
/// aside ([`set_aside_corrupt`]) and the default, so the next write cannot destroy it; `Err`
/// when it could not even be set aside (the caller must then refuse to overwrite it).
pub fn read_json_or_set_aside<T: serde::de::DeserializeOwned + Default>(
    path: &Path,
) -> std::io::Result<JsonRead<T>> {
    let problem = match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => String::new(),
        Ok(b) => match serde_json::from_slice(&b) {
            Ok(value) => {
                return Ok(JsonRead {
                    value,
                    set_aside: None,
                });
            }
            Err(e) => format!("not valid: {e}"),
        },
        Err(e) => format!("unreadable: {e}"),
    };
    if problem.is_empty() {
        return Ok(JsonRead {
            value: T::default(),
            set_aside: None,
        });
    }
    match set_aside_corrupt(path) {
        Ok(kept) => Ok(JsonRead {
            value: T::default(),
            set_aside: Some((problem, kept)),
        }),
        Err(e) => Err(std::io::Error::other(format!(
            "{} is {problem} and cannot be set aside ({e})",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stale_temps_of_dead_writers_are_swept_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a");
        std::fs::create_dir_all(&sub).unwrap();
        // pid 0 is never a process's; our own pid is alive.
        let dead = sub.join(".jobs.json.0.123.tmp");
        let live = sub.join(format!(".jobs.json.{}.9.tmp", std::process::id()));
        let other = [
            sub.join("jobs.json"),
            sub.join("x.tmp"),
            sub.join(".x.y.tmp"),
        ];
        for p in [&dead, &live].into_iter().chain(other.iter()) {
            std::fs::write(p, b"{").unwrap();
        }
        assert_eq!(super::sweep_stale_temps(dir.path(), 2), 1);
        assert!(!dead.exists());
        assert!(live.exists());
        assert!(other.iter().all(|p| p.exists()));
    }

    use super::*;

    #[test]
    fn set_aside_never_replaces_an_earlier_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paired.json");
        std::fs::write(&path, b"garbage one").unwrap();
        let first = set_aside_corrupt(&path).unwrap();
        std::fs::write(&path, b"garbage two").unwrap();
        let second = set_aside_corrupt(&path).unwrap();
        assert_ne!(first, second);
        assert!(!path.exists());
        assert_eq!(std::fs::read(&first).unwrap(), b"garbage one");
        assert_eq!(std::fs::read(&second).unwrap(), b"garbage two");
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("paired.json.corrupt-"), "{name}");
    }

    #[test]
    fn json_read_defaults_missing_and_sets_aside_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.json");
        let r = read_json_or_set_aside::<Vec<u32>>(&path).unwrap();
        assert!(r.value.is_empty() && r.set_aside.is_none());
        std::fs::write(&path, b"[1,2]").unwrap();
        assert_eq!(
            read_json_or_set_aside::<Vec<u32>>(&path).unwrap().value,
            [1, 2]
        );
        std::fs::write(&path, b"{torn").unwrap();
        let r = read_json_or_set_aside::<Vec<u32>>(&path).unwrap();
        let (problem, kept) = r.set_aside.unwrap();
        assert!(problem.starts_with("not valid"), "{problem}");
        assert_eq!(std::fs::read(kept).unwrap(), b"{torn");
        assert!(!path.exists() && r.value.is_empty());
    }
}
