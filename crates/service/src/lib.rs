//! Per-user supervision of the gateway: the systemd user unit, the launchd agent and the
//! Windows scheduled task, generated from one [`ServiceSpec`], and the commands that install,
//! start, stop and inspect them.
//!
//! Generation (`naming`, `spec`, `systemd`, `launchd`, `schtasks`, `plan`) does no I/O and is
//! byte-stable, so every platform's definition is tested on any OS. [`control`] is the only
//! module that touches files or runs supervisor commands, always through a
//! [`control::Runner`] so tests can substitute a fake.

pub mod control;
pub mod error;
pub mod launchd;
pub mod naming;
pub mod plan;
pub mod schtasks;
pub mod spec;
pub mod systemd;

pub use error::ServiceError;
pub use naming::ServiceNames;
pub use plan::{Artifact, Locations, Plan, Platform, plan, primary_path};
pub use spec::{GatewayServiceInput, ServiceSpec};
