//! The bench as a library, so tests can drive it: the main bench's phases and the soak
//! (`soak::run`, which CI runs for two minutes from `crates/cli/tests/soak.rs`).

pub mod cron;
pub mod gateway;
pub mod host;
pub mod phases;
pub mod scale;
pub mod soak;
pub mod stats;
pub mod ws;
