//! Paths, profiles, the JSON5 config file and its resolution into gateway settings.
//!
//! This crate opens no sockets. Loading is two-phase: [`load::load_config`] parses and validates
//! the file into [`model::OpenClawConfig`] (unknown or ill-typed keys are errors naming the key
//! path; every section the daemon reads is typed in [`model`] or [`sections`]), then [`resolve::resolve_gateway`] applies precedence (CLI > env > file > defaults) and
//! produces the [`resolve::GatewaySettings`] the daemon runs with.

pub mod bootstrap;
pub mod dev;
pub mod edit;
pub mod env;
pub mod fsutil;
pub mod legacy;
pub mod load;
pub mod model;
pub mod paths;
pub mod redact;
pub mod reload;
pub mod resolve;
pub mod sections;

pub use load::{ConfigError, LoadedConfig, load_config};
pub use model::OpenClawConfig;
pub use paths::{PathOptions, Paths};
pub use resolve::{AuthMode, BindMode, GatewaySettings, ResolveError, RunOverrides};

/// The port the gateway listens on when nothing else says otherwise.
pub const DEFAULT_PORT: u16 = 18789;
/// The `--dev` profile's default port.
pub const DEV_PORT: u16 = 19001;
