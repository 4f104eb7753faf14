//! The cli integration tests' view of the shared harness in `openclaw-testkit` (temp HOME,
//! spawned gateway on an ephemeral port, raw protocol session), pointed at this crate's
//! `openclaw` binary, plus the recorded reference transcripts kept in `tests/fixtures/`.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;

pub use openclaw_testkit::gateway::*;
pub use openclaw_testkit::wait::{wait_for, wait_for_blocking};

/// The binary under test; also handed to the harness (see [`Home`]).
pub fn bin() -> &'static str {
    set_bin(env!("CARGO_BIN_EXE_openclaw"));
    env!("CARGO_BIN_EXE_openclaw")
}

/// Frames recorded from the reference gateway (copied from `shared/protocol/transcripts/`,
/// names unchanged), so the tests that compare against them always run.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

/// The text of a fixture; a missing fixture fails the test.
pub fn fixture(name: &str) -> String {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}
