//! Outbound attachment loading shared by every driver that uploads bytes itself: a local file
//! or an http(s) URL, read under the account's size cap, with a MIME guess.
//!
//! A `send` caller or an agent reply names the file, so a local path is a request to read the
//! gateway host's disk: it is honoured only under the allowed roots (the agent workspace,
//! `<state>/media`, `mediaLocalRoots`). The canonical path must be under a canonical root, the
//! final component is opened with `O_NOFOLLOW` (a symlink swapped in after the check fails)
//! and, on Linux, the opened descriptor's real path is checked against the roots again; only
//! regular files are read. URLs go through `openclaw_netguard` (public addresses only, checked
//! after DNS and on every redirect, streamed under the cap).

use std::io::Read;
use std::path::{Path, PathBuf};

use openclaw_netguard::{FetchError, Guard};

use crate::types::ChannelError;

/// The reference's wording for a local path outside the allowed roots.
pub const LOCAL_MEDIA_NOT_ALLOWED: &str = "Local media path is not under an allowed directory";

/// A loaded attachment.
#[derive(Debug, Clone)]
pub struct LoadedMedia {
    pub bytes: Vec<u8>,
    /// Last path segment (sanitised by the caller where it matters).
    pub file_name: String,
    /// From the HTTP `Content-Type`, else guessed from the file name.
    pub mime: Option<String>,
}

fn too_large(source: &str, size: u64, max: u64) -> ChannelError {
    ChannelError::TooLarge(format!(
        "media {source} is {size} bytes; mediaMaxMb allows {max}"
    ))
}

/// Whether `source` is fetched over the network rather than read from disk.
pub fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// Reads `source` (local path under one of `local_roots`, or http(s) URL) refusing anything
/// over `max` bytes, without ever buffering more than `max` (+ one chunk) in memory.
pub async fn load_media(
    source: &str,
    local_roots: &[PathBuf],
    max: u64,
) -> Result<LoadedMedia, ChannelError> {
    if is_url(source) {
        return load_url(source, max, &Guard::default()).await;
    }
    let (src, roots) = (source.to_string(), local_roots.to_vec());
    tokio::task::spawn_blocking(move || load_local(&src, &roots, max))
        .await
        .map_err(|e| ChannelError::Io(format!("media {source}: {e}")))?
}

fn not_allowed(source: &str) -> ChannelError {
    ChannelError::MediaAccess(format!("{LOCAL_MEDIA_NOT_ALLOWED}: {source}"))
}

/// The blocking part of [`load_media`] for a local path.
fn load_local(source: &str, roots: &[PathBuf], max: u64) -> Result<LoadedMedia, ChannelError> {
    let raw = Path::new(source.strip_prefix("file://").unwrap_or(source));
    let path = if raw.is_absolute() {
        raw.to_path_buf()
    } else {
        // Relative paths mean "in the workspace" (the first root), never the gateway's cwd.
        roots.first().ok_or_else(|| not_allowed(source))?.join(raw)
    };
    let canon_roots: Vec<PathBuf> = roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .collect();
    let under = |p: &Path| canon_roots.iter().any(|r| p.starts_with(r));
    let canonical = match std::fs::canonicalize(&path) {
        Ok(c) => c,
        // Say "not found" only inside the roots: outside, existence is nobody's business.
        Err(e)
            if {
                let p = lexical(&path);
                under(&p) || roots.iter().any(|r| p.starts_with(lexical(r)))
            } =>
        {
            return Err(ChannelError::Io(format!("media {source}: {e}")));
        }
        Err(_) => return Err(not_allowed(source)),
    };
    if !under(&canonical) {
        return Err(not_allowed(source));
    }
    let file = open_nofollow(&canonical).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            not_allowed(source) // the last component became a symlink after the check
        } else {
            ChannelError::Io(format!("media {source}: {e}"))
        }
    })?;
    if let Some(real) = fd_path(&file)
        && !under(&real)
    {
        return Err(not_allowed(source)); // a directory on the way was swapped meanwhile
    }
    let meta = file
        .metadata()
        .map_err(|e| ChannelError::Io(format!("media {source}: {e}")))?;
    if !meta.is_file() {
        return Err(ChannelError::Io(format!(
            "media {source}: not a regular file"
        )));
    }
    if meta.len() > max {
        return Err(too_large(source, meta.len(), max));
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ChannelError::Io(format!("media {source}: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(too_large(source, bytes.len() as u64, max));
    }
    let file_name = canonical
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .to_string();
    let mime = guess_mime(&file_name).map(String::from);
    Ok(LoadedMedia {
        bytes,
        file_name,
        mime,
    })
}

/// `path` with `.` and `..` resolved by name (no file system access).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Opens read-only without following a final symlink; non-blocking so a FIFO cannot hang us.
fn open_nofollow(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    opts.open(path)
}

/// The path the kernel has for an open file (Linux), to re-check it after `open`.
fn fd_path(file: &std::fs::File) -> Option<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        None
    }
}

/// Fetches a URL through `guard` (see the module docs) under `max` bytes.
pub async fn load_url(url: &str, max: u64, guard: &Guard) -> Result<LoadedMedia, ChannelError> {
    let fetched = guard.fetch(url, max).await.map_err(|e| match e {
        FetchError::TooLarge { url, max } => {
            ChannelError::TooLarge(format!("media {url} exceeds mediaMaxMb ({max} bytes)"))
        }
        FetchError::Blocked(m) | FetchError::BadUrl(m) => {
            ChannelError::MediaAccess(format!("media URL refused: {m}"))
        }
        other => ChannelError::Network(format!("media {other}")),
    })?;
    let path = fetched.final_url.path();
    let file_name = path
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty() && !s.contains(':'))
        .unwrap_or("file")
        .to_string();
    let mime = fetched
        .content_type
        .filter(|s| s != "application/octet-stream")
        .or_else(|| guess_mime(&file_name).map(String::from));
    Ok(LoadedMedia {
        bytes: fetched.bytes,
        file_name,
        mime,
    })
}

/// MIME type from a file name's extension (the common attachment types only).
pub fn guess_mime(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "3gp" => "video/3gpp",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        "zip" => "application/zip",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_files_are_capped_and_typed() {
        let dir = tempfile::tempdir().unwrap();
        let roots = vec![dir.path().to_path_buf()];
        let p = dir.path().join("pic.PNG");
        std::fs::write(&p, vec![7u8; 100]).unwrap();
        let m = load_media(p.to_str().unwrap(), &roots, 100).await.unwrap();
        assert_eq!(
            (m.bytes.len(), m.file_name.as_str(), m.mime.as_deref()),
            (100, "pic.PNG", Some("image/png"))
        );
        assert!(matches!(
            load_media(p.to_str().unwrap(), &roots, 99).await,
            Err(ChannelError::TooLarge(_))
        ));
        assert!(matches!(
            load_media(dir.path().to_str().unwrap(), &roots, 1000).await,
            Err(ChannelError::Io(m)) if m.contains("not a regular file")
        ));
        let missing = dir.path().join("x.jpg");
        assert!(matches!(
            load_media(missing.to_str().unwrap(), &roots, 1000).await,
            Err(ChannelError::Io(_))
        ));
        // Relative paths are resolved in the first root (the workspace).
        assert_eq!(
            load_media("pic.PNG", &roots, 100)
                .await
                .unwrap()
                .bytes
                .len(),
            100
        );
        assert_eq!(guess_mime("a.tar.zip"), Some("application/zip"));
    }

    #[tokio::test]
    async fn local_paths_outside_the_roots_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let roots = vec![root.path().to_path_buf()];
        let secret = outside.path().join("openclaw.json");
        std::fs::write(&secret, b"{token: 'x'}").unwrap();
        let refused = |r: Result<LoadedMedia, ChannelError>| matches!(r, Err(ChannelError::MediaAccess(m)) if m.starts_with(LOCAL_MEDIA_NOT_ALLOWED));
        assert!(refused(
            load_media(secret.to_str().unwrap(), &roots, 1000).await
        ));
        // `..` out of the root, a missing file outside (no existence oracle), no roots at all.
        let dotdot = format!(
            "{}/../{}/openclaw.json",
            root.path().display(),
            outside.path().file_name().unwrap().to_str().unwrap()
        );
        assert!(refused(load_media(&dotdot, &roots, 1000).await));
        let dotdot_missing = format!("{}/../missing.json", root.path().display());
        assert!(refused(load_media(&dotdot_missing, &roots, 1000).await));
        assert!(refused(
            load_media("/nonexistent/x.jpg", &roots, 1000).await
        ));
        assert!(refused(
            load_media(secret.to_str().unwrap(), &[], 1000).await
        ));
        assert!(refused(load_media("rel.png", &[], 1000).await));
        // A symlink inside the root pointing outside, directly or through a directory.
        #[cfg(unix)]
        {
            let link = root.path().join("innocent.png");
            std::os::unix::fs::symlink(&secret, &link).unwrap();
            assert!(refused(
                load_media(link.to_str().unwrap(), &roots, 1000).await
            ));
            let dir_link = root.path().join("sub");
            std::os::unix::fs::symlink(outside.path(), &dir_link).unwrap();
            let via = dir_link.join("openclaw.json");
            assert!(refused(
                load_media(via.to_str().unwrap(), &roots, 1000).await
            ));
            // The final-component check itself: O_NOFOLLOW refuses a symlink it is handed.
            let e = open_nofollow(&link).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
            // A symlink that stays inside the root is fine.
            let inside = root.path().join("real.png");
            std::fs::write(&inside, b"png").unwrap();
            let alias = root.path().join("alias.png");
            std::os::unix::fs::symlink(&inside, &alias).unwrap();
            assert_eq!(
                load_media(alias.to_str().unwrap(), &roots, 1000)
                    .await
                    .unwrap()
                    .bytes,
                b"png"
            );
        }
        // URLs to private addresses are refused by the net guard.
        assert!(matches!(
            load_media("http://169.254.169.254/latest/meta-data/", &roots, 1000).await,
            Err(ChannelError::MediaAccess(_))
        ));
        assert_eq!(guess_mime("noext"), None);
    }
}
