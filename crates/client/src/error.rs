//! Everything that can go wrong between this client and a gateway, as one `thiserror` enum.

use std::path::PathBuf;

use openclaw_protocol::ErrorShape;

/// A failed connect or request.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket could not be opened (refused, DNS, bad URL, HTTP instead of a 101 upgrade…).
    #[error("gateway not reachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// No answer within the handshake or request timeout (milliseconds). The wording matches the
    /// official CLI's `gateway timeout after 10000ms`.
    #[error("gateway timeout after {0}ms")]
    Timeout(u64),
    /// `connect` was answered `ok:false`; `close` is the close frame that followed, if it came.
    #[error("gateway rejected connect: {error}{}", close_suffix(.close.as_ref()))]
    Handshake {
        error: ErrorShape,
        close: Option<(u16, String)>,
    },
    /// The socket closed before the awaited response arrived. `1005` = close frame without a
    /// code, `1006` = no close frame at all (the reason then says what broke).
    #[error("gateway closed the connection ({code}{})", reason_suffix(.reason))]
    Closed { code: u16, reason: String },
    /// A request was answered `ok:false`.
    #[error("{0}")]
    Rpc(ErrorShape),
    /// The gateway sent something this client cannot work with.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Local I/O on the device identity file; `action` names what failed
    /// (`read device identity`, `create the directory of`, `write`).
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The device identity path names a directory root, not a file.
    #[error("not a file path: {}", .0.display())]
    NotAFile(PathBuf),
}

impl ClientError {
    /// The protocol error of a rejected connect or request, if that is what this is.
    pub fn error_shape(&self) -> Option<&ErrorShape> {
        match self {
            ClientError::Handshake { error, .. } | ClientError::Rpc(error) => Some(error),
            _ => None,
        }
    }
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

fn close_suffix(close: Option<&(u16, String)>) -> String {
    match close {
        Some((code, reason)) => format!(" (closed {code}{})", reason_suffix(reason)),
        None => String::new(),
    }
}
