//! Handing freed heap back to the OS after bursts. glibc keeps what a burst of connections
//! freed inside its arenas, so RSS stayed at the burst's peak for good (measured: 22 MB idle,
//! 58 MB after 1,000 connections came and went, and still 58 MB an hour later). That memory is
//! reusable by us but not by anything else on a small machine. Once a burst is over —
//! [`BURST`] sockets closed, then a quiet [`QUIET`] — the freed pages are returned once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Closed sockets that make a burst worth a trim (a trim walks the whole heap: ~1 ms per
/// 10 MB, so it is not done for every few disconnects).
const BURST: usize = 64;
/// How long no further socket may close before the trim runs (so a trim never runs in the
/// middle of a burst, only after it).
const QUIET: Duration = Duration::from_secs(1);

static CLOSED: AtomicUsize = AtomicUsize::new(0);
static WAKE: Notify = Notify::const_new();
static STARTED: AtomicBool = AtomicBool::new(false);

/// Counts a closed WebSocket; the [`BURST`]th since the last trim wakes the reclaimer.
pub fn socket_closed() {
    if CLOSED.fetch_add(1, Ordering::Relaxed) + 1 == BURST {
        WAKE.notify_one();
    }
}

/// Starts the one reclaimer task of the process (later calls, e.g. after an in-process
/// restart, do nothing). It sleeps until a burst ends: no timer runs while nothing happens.
pub fn spawn_reclaimer() {
    if STARTED.swap(true, Ordering::Relaxed) {
        return;
    }
    tokio::spawn(async {
        loop {
            WAKE.notified().await;
            loop {
                let seen = CLOSED.load(Ordering::Relaxed);
                tokio::time::sleep(QUIET).await;
                if CLOSED.load(Ordering::Relaxed) == seen {
                    break;
                }
            }
            CLOSED.store(0, Ordering::Relaxed);
            let _ = tokio::task::spawn_blocking(trim).await;
            tracing::debug!(target: "gateway", "returned freed heap memory to the OS after a connection burst");
        }
    });
}

/// Returns free heap pages to the OS now (glibc only; other allocators decay on their own).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
