//! Crash-safe file operations for definitions: temp file + fsync + rename (0600), directories
//! created 0700, and moves that fall back to copy-verify-remove across file systems.

use std::io::Write;
use std::path::Path;

use crate::error::ServiceError;

/// Creates `dir` and its parents (new ones 0700). A file in the way is a clear error.
pub fn ensure_dir(dir: &Path) -> Result<(), ServiceError> {
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
    b.create(dir).map_err(|source| ServiceError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// Atomically replaces `path` with `bytes` (mode 0600): a crash leaves the old file or the new
/// one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ServiceError> {
    let err = |source| ServiceError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
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
    result.map_err(err)
}

/// Moves a file; across file systems it copies, verifies the copy byte for byte, then removes
/// the original. Refuses to overwrite an existing destination.
pub fn move_file(from: &Path, to: &Path) -> Result<(), ServiceError> {
    let err = |source| ServiceError::Move {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    };
    if to.exists() {
        return Err(err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "destination exists",
        )));
    }
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(_) => {
            let data = std::fs::read(from).map_err(err)?;
            write_atomic(to, &data)?;
            let copied = std::fs::read(to).map_err(err)?;
            if copied != data {
                return Err(err(std::io::Error::other("copy differs from the original")));
            }
            std::fs::remove_file(from).map_err(err)
        }
    }
}
