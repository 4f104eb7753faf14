//! What lives as long as the process, across generations (an in-process restart builds a new
//! `AppState` but must keep these): the inbox's in-flight and recent-message books, the locks
//! that serialise `send` and config writes, and the reload debounce. The supervisor owns the
//! one [`Process`] and hands it to every generation; nothing here is a `static`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::inbox::InboxBook;

pub struct Process {
    pub inbox: Arc<InboxBook>,
    /// One `send` at a time, so its idempotency record is read-modify-written whole.
    pub send_lock: tokio::sync::Mutex<()>,
    /// One `config.set/patch/apply` at a time (base-hash check and write stay together).
    pub config_write_lock: tokio::sync::Mutex<()>,
    /// `gateway.reload.debounceMs` in force.
    pub debounce_ms: AtomicU64,
    /// Commands `exec` started (background sessions survive a restart; the exit kills them).
    pub jobs: crate::tools::jobs::Jobs,
}

impl Process {
    pub fn new(debounce_ms: u64) -> Arc<Process> {
        Arc::new(Process {
            inbox: Arc::default(),
            send_lock: tokio::sync::Mutex::new(()),
            config_write_lock: tokio::sync::Mutex::new(()),
            debounce_ms: AtomicU64::new(debounce_ms),
            jobs: Default::default(),
        })
    }
}
