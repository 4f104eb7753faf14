//! Where a stranger's bytes meet our disk. Every inbound attachment is streamed into a
//! [`CappedFile`]: created fresh (0600 in a 0700 directory, never through a symlink), refusing
//! any write past the cap whatever size the sender declared, and removed unless the download
//! finished, so an aborted or oversize download leaves nothing behind.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A file being downloaded under a byte cap; deleted on drop unless [`CappedFile::finish`]ed.
#[derive(Debug)]
pub struct CappedFile {
    file: File,
    path: PathBuf,
    pos: u64,
    len: u64,
    max: u64,
    done: bool,
}

impl CappedFile {
    /// Creates `path` empty. A leftover of an earlier attempt (a replayed download) is
    /// replaced; the parent directory is created private.
    pub fn create(path: &Path, max: u64) -> io::Result<CappedFile> {
        if let Some(dir) = path.parent() {
            openclaw_config::fsutil::ensure_private_dir(dir)?;
        }
        if std::fs::symlink_metadata(path).is_ok() {
            std::fs::remove_file(path)?;
        }
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        Ok(CappedFile {
            file: opts.open(path)?,
            path: path.to_path_buf(),
            pos: 0,
            len: 0,
            max,
            done: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the file so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Shortens the file (a downloader restarting an attempt empties it first).
    pub fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.len = self.len.min(len);
        Ok(())
    }

    /// Flushes to disk and keeps the file; returns its size.
    pub fn finish(mut self) -> io::Result<u64> {
        self.file.sync_all()?;
        self.done = true;
        Ok(self.len)
    }
}

impl Write for CappedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pos.saturating_add(buf.len() as u64) > self.max {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("more than {} bytes (mediaMaxMb)", self.max),
            ));
        }
        let n = self.file.write(buf)?;
        self.pos += n as u64;
        self.len = self.len.max(self.pos);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for CappedFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.file.seek(to)?;
        Ok(self.pos)
    }
}

impl Drop for CappedFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// `id` with every character outside `[A-Za-z0-9._-]` replaced by `_`, safe as one path
/// component's text (callers decide about empty and leading-dot results).
pub fn path_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether `e` is a [`CappedFile`] refusing to grow past its cap.
pub fn is_too_large(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::FileTooLarge
}

/// `<prefix>-<parts…>-<name>` restricted to `[A-Za-z0-9._-]` (no separators, no leading dot),
/// so a sender-chosen id or file name can never leave the media directory.
pub fn inbound_file_name(parts: &[&str], name: &str) -> String {
    let safe = |s: &str, n: usize| -> String { path_safe(s).chars().take(n).collect() };
    let mut out: Vec<String> = parts
        .iter()
        .map(|p| safe(p, 64).replace('.', "_"))
        .collect();
    let name = safe(name, 80);
    if !name.is_empty() {
        out.push(name);
    }
    out.join("-").trim_start_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_holds_and_unfinished_files_vanish() {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media/inbound");
        let p = media.join("a.bin");
        let mut f = CappedFile::create(&p, 10).unwrap();
        f.write_all(b"0123456789").unwrap();
        let e = f.write_all(b"x").unwrap_err();
        assert!(is_too_large(&e), "{e}");
        drop(f);
        assert!(!p.exists(), "an aborted download leaves no file");

        let mut f = CappedFile::create(&p, 10).unwrap();
        f.write_all(b"abc").unwrap();
        f.truncate(0).unwrap();
        f.rewind().unwrap();
        f.write_all(b"0123456789").unwrap();
        assert_eq!(f.finish().unwrap(), 10);
        assert_eq!(std::fs::read(&p).unwrap(), b"0123456789");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&p), 0o600);
            assert_eq!(mode(&media), 0o700);
            // A symlink planted at the destination is replaced, not followed.
            let victim = dir.path().join("victim");
            std::fs::write(&victim, b"keep").unwrap();
            let q = media.join("b.bin");
            std::os::unix::fs::symlink(&victim, &q).unwrap();
            let mut f = CappedFile::create(&q, 10).unwrap();
            f.write_all(b"new").unwrap();
            f.finish().unwrap();
            assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        }
    }

    #[test]
    fn file_names_stay_in_the_directory() {
        assert_eq!(
            inbound_file_name(&["tg", "default", "1001"], "photo.jpg"),
            "tg-default-1001-photo.jpg"
        );
        let n = inbound_file_name(&["wa", "../x", "a/b"], "../../etc/passwd");
        assert!(!n.contains('/') && !n.starts_with('.'), "{n}");
    }
}
