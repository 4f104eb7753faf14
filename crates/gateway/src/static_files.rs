//! The one implementation of the rules for serving files from a directory someone else fills
//! (`gateway.controlUi.root`, the canvas root): a URL path becomes a list of plain segments
//! (percent-decoded once, malformed escapes kept literally) or is refused — any `..` segment,
//! encoded or not, a NUL, a backslash, and (when asked) a dotfile segment; the file is then
//! looked up component by component under the canonical root, so a symlink is either refused
//! outright (`Symlinks::Refuse`) or followed only while its target stays under the root. Also
//! the content types both servers use.

use std::path::{Path, PathBuf};

/// Largest file either server will read into memory.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// How symlinks inside the root are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symlinks {
    /// Any symlink on the way is refused (canvas: its root is written by agents).
    Refuse,
    /// Followed, as long as the real path stays under the real root (Control UI root).
    StayInside,
}

/// The rules a server applies.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub symlinks: Symlinks,
    /// Refuse segments starting with `.` (canvas).
    pub dotfiles_hidden: bool,
}

/// Where a request lands.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A regular file, by its real path.
    File(PathBuf),
    /// A directory, by its real path.
    Dir(PathBuf),
    /// Nothing there.
    Missing,
    /// The request breaks a rule (traversal, symlink, dotfile, escape).
    Refused,
}

/// Percent-decodes `s` once; an escape that is not two hex digits stays as it is.
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                b.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The segments of a URL path relative to a root, or `None` when the path breaks a rule.
/// Empty and `.` segments are dropped; a trailing `/` is reported so callers can serve the
/// directory's index.
pub fn segments(url_path: &str, rules: Rules) -> Option<(Vec<String>, bool)> {
    let decoded = String::from_utf8(percent_decode(url_path)).ok()?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return None;
    }
    let trailing = decoded.is_empty() || decoded.ends_with('/');
    let mut out = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => return None,
            s if rules.dotfiles_hidden && s.starts_with('.') => return None,
            s => out.push(s.to_string()),
        }
    }
    Some((out, trailing))
}

/// Looks `segments` up under `root`, component by component.
pub fn lookup(root: &Path, segments: &[String], rules: Rules) -> Lookup {
    let Ok(real_root) = root.canonicalize() else {
        return Lookup::Missing;
    };
    let mut path = real_root.clone();
    for seg in segments {
        path.push(seg);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(_) => return Lookup::Missing,
        };
        if meta.file_type().is_symlink() && rules.symlinks == Symlinks::Refuse {
            return Lookup::Refused;
        }
    }
    let Ok(real) = path.canonicalize() else {
        return Lookup::Missing;
    };
    if !real.starts_with(&real_root) {
        return Lookup::Refused;
    }
    match std::fs::metadata(&real) {
        Ok(m) if m.is_dir() => Lookup::Dir(real),
        Ok(m) if m.is_file() => Lookup::File(real),
        Ok(_) => Lookup::Refused,
        Err(_) => Lookup::Missing,
    }
}

/// Reads a file found by [`lookup`], bounded by [`MAX_FILE_BYTES`].
pub async fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let f = tokio::fs::File::open(path).await?;
    let mut buf = Vec::new();
    f.take(MAX_FILE_BYTES + 1).read_to_end(&mut buf).await?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other("file too large to serve"));
    }
    Ok(buf)
}

/// The file's lowercase extension.
pub fn extension(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// The content type for a file name, by extension.
pub fn content_type(name: &str) -> &'static str {
    match extension(name).as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" | "cjs" => "application/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json; charset=utf-8",
        "webmanifest" => "application/manifest+json; charset=utf-8",
        "txt" | "md" => "text/plain; charset=utf-8",
        "xml" => "application/xml; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANVAS: Rules = Rules {
        symlinks: Symlinks::Refuse,
        dotfiles_hidden: true,
    };
    const UI: Rules = Rules {
        symlinks: Symlinks::StayInside,
        dotfiles_hidden: false,
    };

    #[test]
    fn traversal_in_any_spelling_is_refused() {
        for p in [
            "../x",
            "a/../../x",
            "%2e%2e/x",
            "%2E%2E%2Fetc",
            "a/%2e%2E",
            "a\\..\\b",
            "a%5c..%5cb",
            "a%00b",
        ] {
            assert_eq!(segments(p, UI), None, "{p}");
        }
        // Decoded once: a double-encoded dot-dot is a literal (and missing) name.
        assert_eq!(
            segments("%252e%252e/x", UI),
            Some((vec!["%2e%2e".to_string(), "x".to_string()], false))
        );
        assert_eq!(segments(".env", CANVAS), None);
        assert_eq!(segments("a/.git/config", CANVAS), None);
        assert!(segments(".well-known/x", UI).is_some());
        assert_eq!(
            segments("a/./b/", UI),
            Some((vec!["a".to_string(), "b".to_string()], true))
        );
        assert_eq!(percent_decode("%zz%4"), b"%zz%4".to_vec());
    }

    #[test]
    fn symlinks_are_refused_or_kept_inside() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "s").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a.txt"), "a").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.path().join("out"))
            .unwrap();
        std::os::unix::fs::symlink(root.path().join("a.txt"), root.path().join("in")).unwrap();
        let seg = |s: &str| vec![s.to_string()];
        assert!(matches!(
            lookup(root.path(), &seg("a.txt"), CANVAS),
            Lookup::File(_)
        ));
        assert_eq!(lookup(root.path(), &seg("in"), CANVAS), Lookup::Refused);
        assert!(matches!(
            lookup(root.path(), &seg("in"), UI),
            Lookup::File(_)
        ));
        assert_eq!(lookup(root.path(), &seg("out"), UI), Lookup::Refused);
        assert_eq!(lookup(root.path(), &seg("nope"), UI), Lookup::Missing);
        assert!(matches!(lookup(root.path(), &[], UI), Lookup::Dir(_)));
    }

    #[test]
    fn types_by_extension() {
        assert_eq!(
            content_type("a/b.WEBMANIFEST"),
            "application/manifest+json; charset=utf-8"
        );
        assert_eq!(content_type("x.woff2"), "font/woff2");
        assert_eq!(content_type("x.wasm"), "application/wasm");
        assert_eq!(
            content_type("x.mjs"),
            "application/javascript; charset=utf-8"
        );
        assert_eq!(content_type(".bashrc"), "application/octet-stream");
        assert_eq!(content_type("README"), "application/octet-stream");
    }
}
