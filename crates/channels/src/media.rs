//! Outbound attachment loading shared by drivers that must upload bytes themselves (WhatsApp):
//! a local file or an http(s) URL, read under the account's size cap, with a MIME guess.

use std::path::Path;
use std::time::Duration;

use crate::types::ChannelError;

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

/// Reads `source` (local path or http(s) URL) refusing anything over `max` bytes, without ever
/// buffering more than `max` (+ one chunk) in memory.
pub async fn load_media(source: &str, max: u64) -> Result<LoadedMedia, ChannelError> {
    if source.starts_with("http://") || source.starts_with("https://") {
        return load_url(source, max).await;
    }
    let path = Path::new(source);
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| ChannelError::Io(format!("media {source}: {e}")))?;
    if !meta.is_file() {
        return Err(ChannelError::Io(format!(
            "media {source}: not a regular file"
        )));
    }
    if meta.len() > max {
        return Err(too_large(source, meta.len(), max));
    }
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| ChannelError::Io(format!("media {source}: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(too_large(source, bytes.len() as u64, max));
    }
    let file_name = path
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

async fn load_url(url: &str, max: u64) -> Result<LoadedMedia, ChannelError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| ChannelError::Network(e.to_string()))?;
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| ChannelError::Network(format!("media {url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(ChannelError::Network(format!(
            "media {url}: HTTP {}",
            resp.status().as_u16()
        )));
    }
    if let Some(len) = resp.content_length()
        && len > max
    {
        return Err(too_large(url, len, max));
    }
    let mime = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
        .filter(|s| !s.is_empty() && s != "application/octet-stream");
    let mut bytes = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ChannelError::Network(format!("media {url}: {e}")))?
    {
        if (bytes.len() + chunk.len()) as u64 > max {
            return Err(too_large(url, (bytes.len() + chunk.len()) as u64, max));
        }
        bytes.extend_from_slice(&chunk);
    }
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let file_name = path
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty() && !s.contains(':'))
        .unwrap_or("file")
        .to_string();
    let mime = mime.or_else(|| guess_mime(&file_name).map(String::from));
    Ok(LoadedMedia {
        bytes,
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
        let p = dir.path().join("pic.PNG");
        std::fs::write(&p, vec![7u8; 100]).unwrap();
        let m = load_media(p.to_str().unwrap(), 100).await.unwrap();
        assert_eq!(
            (m.bytes.len(), m.file_name.as_str(), m.mime.as_deref()),
            (100, "pic.PNG", Some("image/png"))
        );
        assert!(matches!(
            load_media(p.to_str().unwrap(), 99).await,
            Err(ChannelError::TooLarge(_))
        ));
        assert!(matches!(
            load_media(dir.path().to_str().unwrap(), 1000).await,
            Err(ChannelError::Io(m)) if m.contains("not a regular file")
        ));
        assert!(matches!(
            load_media("/nonexistent/x.jpg", 1000).await,
            Err(ChannelError::Io(_))
        ));
        assert_eq!(guess_mime("a.tar.zip"), Some("application/zip"));
        assert_eq!(guess_mime("noext"), None);
    }
}
