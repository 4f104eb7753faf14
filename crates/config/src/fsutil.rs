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

/// Atomically replaces `path` with `data` (mode 0600). A crash leaves either the old or the new
/// content, never a torn file.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_private_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(data)?;
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

#[cfg(test)]
mod tests {
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
}
