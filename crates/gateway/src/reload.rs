//! Watches the config file for changes (its directory, so editors that write a temp file and
//! rename it are seen) and tells the supervisor after a quiet period (`gateway.reload.debounceMs`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::server::Control;

/// Starts watching `config_path`. Failures are logged; the gateway runs without hot reload.
pub fn spawn_watcher(
    config_path: &Path,
    control: mpsc::Sender<Control>,
    process: Arc<crate::process::Process>,
) {
    let Some(dir) = config_path.parent().map(Path::to_path_buf) else {
        return;
    };
    let Some(name) = config_path.file_name().map(|n| n.to_os_string()) else {
        return;
    };
    let (tx, mut rx) = mpsc::channel::<()>(64);
    let handler = move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            if ev.kind.is_access() {
                return;
            }
            if ev
                .paths
                .iter()
                .any(|p| p.file_name() == Some(name.as_os_str()))
            {
                // A full channel already holds a pending trigger.
                let _ = tx.try_send(());
            }
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(target: "reload", "config hot reload unavailable: {e}");
            return;
        }
    };
    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::warn!(target: "reload", "not watching {} for config changes: {e}", dir.display());
        return;
    }
    tokio::spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        while rx.recv().await.is_some() {
            let quiet = Duration::from_millis(process.debounce_ms.load(Ordering::Relaxed));
            while let Ok(Some(())) = tokio::time::timeout(quiet, rx.recv()).await {}
            if control.send(Control::ConfigChanged).await.is_err() {
                return;
            }
        }
    });
}
