//! Waiting on observable conditions with a deadline, the one way tests wait: a test that
//! sleeps a fixed time and then asserts is either slow or flaky, so waits poll a condition
//! (the short pause only paces the polling) and fail loudly, naming what never happened.

use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// Polls `f` until it holds; panics naming `what` after [`DEADLINE`].
pub async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`wait_for`] for synchronous tests (blocks the thread between polls).
pub fn wait_for_blocking(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
