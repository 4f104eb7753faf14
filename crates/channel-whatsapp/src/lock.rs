//! One process per host per WhatsApp account: an exclusive, non-blocking `flock` on
//! `<authDir>/.lock`, released when the holder exits (also on kill -9, by the kernel).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use openclaw_channels::ChannelError;

/// Held for as long as the account's connection (or login) runs.
#[derive(Debug)]
pub struct AccountLock {
    _file: File,
    path: PathBuf,
}

impl AccountLock {
    /// Creates `dir` (0700) and takes the lock, or fails with `Conflict` naming the file.
    pub fn acquire(dir: &Path) -> Result<AccountLock, ChannelError> {
        openclaw_config::fsutil::ensure_private_dir(dir)?;
        let path = dir.join(".lock");
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(AccountLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(ChannelError::Conflict(format!(
                "another process holds this WhatsApp account ({})",
                path.display()
            ))),
            Err(TryLockError::Error(e)) => {
                Err(ChannelError::Io(format!("lock {}: {e}", path.display())))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let acct = dir.path().join("whatsapp/default");
        let a = AccountLock::acquire(&acct).unwrap();
        assert!(matches!(
            AccountLock::acquire(&acct),
            Err(ChannelError::Conflict(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&acct).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        drop(a);
        assert!(AccountLock::acquire(&acct).is_ok());
    }
}
