//! Crash-safe file operations for definitions: temp file + fsync + rename (0600), directories
//! created 0700, and moves that fall back to copy-verify-remove across file systems.

use std::path::Path;

use crate::error::ServiceError;

/// Creates `dir` and its parents (new ones 0700). A file in the way is a clear error.
pub fn ensure_dir(dir: &Path) -> Result<(), ServiceError> {
    openclaw_config::fsutil::ensure_private_dir(dir).map_err(|source| ServiceError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// Atomically replaces `path` with `bytes` (mode 0600): a crash leaves the old file or the new
/// one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ServiceError> {
    openclaw_config::fsutil::write_atomic(path, bytes).map_err(|source| ServiceError::Write {
        path: path.to_path_buf(),
        source,
    })
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
