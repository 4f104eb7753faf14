//! Live reload for the canvas (nodes.md §3.3): a watcher on the canvas root (dotfiles and
//! `node_modules` ignored) that, after 75 ms without further changes, sends the text frame
//! `reload` to every socket on `/__openclaw__/ws`. Those sockets only receive: their count is
//! capped, what they send is read (to see the close) under a tiny size limit and dropped.

use std::net::SocketAddr;
use std::path::{Component, Path};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use notify::{RecursiveMode, Watcher};
use tokio::sync::{broadcast, mpsc};

use crate::state::AppState;

/// Quiet period before a burst of changes becomes one `reload`.
const DEBOUNCE: Duration = Duration::from_millis(75);
/// Live-reload sockets open at once.
pub const MAX_RELOAD_SOCKETS: usize = 64;

/// Whether a changed path counts (not a dotfile, not under `node_modules`).
fn relevant(root: &Path, path: &Path) -> bool {
    let rel = path.strip_prefix(root).unwrap_or(path);
    !rel.components().any(|c| match c {
        Component::Normal(s) => {
            let s = s.to_string_lossy();
            s.starts_with('.') || s == "node_modules"
        }
        _ => false,
    })
}

/// Watches `root` until the generation ends; each debounced burst is sent on `reload`.
pub fn spawn_watcher(state: &Arc<AppState>, root: &Path, reload: broadcast::Sender<()>) {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let (tx, mut rx) = mpsc::channel::<()>(64);
    let watch_root = root.clone();
    let handler = move |res: notify::Result<notify::Event>| match res {
        Ok(ev) => {
            if ev.kind.is_access() {
                return;
            }
            if ev.paths.iter().any(|p| relevant(&watch_root, p)) {
                // A full channel already holds a pending trigger.
                let _ = tx.try_send(());
            }
        }
        Err(e) => {
            tracing::warn!(target: "canvas", "canvasHost watcher error: {e} (live reload may miss changes)");
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(target: "canvas", "canvasHost watcher error: {e} (live reload disabled)");
            return;
        }
    };
    if let Err(e) = watcher.watch(&root, RecursiveMode::Recursive) {
        tracing::warn!(target: "canvas", "canvasHost watcher error: {e} (live reload disabled; watching {})", root.display());
        return;
    }
    let mut stop = state.shutdown.subscribe();
    tokio::spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        loop {
            tokio::select! {
                got = rx.recv() => {
                    if got.is_none() {
                        return;
                    }
                    while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
                    let _ = reload.send(());
                }
                _ = stop.changed() => return,
            }
        }
    });
}

/// Counts a reload socket for as long as it lives.
struct SocketSlot(Arc<AtomicUsize>);

impl SocketSlot {
    fn take(count: &Arc<AtomicUsize>) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_RELOAD_SOCKETS).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(count.clone()))
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accepts an (already authorised) upgrade on `/__openclaw__/ws`.
pub async fn upgrade(
    state: Arc<AppState>,
    _peer: SocketAddr,
    reload: broadcast::Sender<()>,
    sockets: &Arc<AtomicUsize>,
    req: axum::extract::Request,
) -> Response<Body> {
    let Some(slot) = SocketSlot::take(sockets) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many live-reload sockets",
        )
            .into_response();
    };
    let (mut parts, _) = req.into_parts();
    let conn_slot = parts.extensions.remove::<crate::listener::ConnSlot>();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let mut rx = reload.subscribe();
    let mut stop = state.shutdown.subscribe();
    ws.max_message_size(1024)
        .max_frame_size(1024)
        .on_upgrade(move |mut socket| async move {
            let _slot = slot;
            let _conn = conn_slot;
            loop {
                tokio::select! {
                    r = rx.recv() => match r {
                        Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {
                            if socket.send(Message::Text("reload".into())).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    m = socket.recv() => match m {
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                        Some(Ok(_)) => {}
                    },
                    _ = stop.changed() => {
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotfiles_and_node_modules_do_not_reload() {
        let root = Path::new("/r");
        assert!(relevant(root, Path::new("/r/index.html")));
        assert!(relevant(root, Path::new("/r/a/b.js")));
        assert!(!relevant(root, Path::new("/r/.index.html.swp")));
        assert!(!relevant(root, Path::new("/r/.git/HEAD")));
        assert!(!relevant(root, Path::new("/r/node_modules/x/y.js")));
    }
}
