//! Why a command could not get going (config that does not load, no device identity, a
//! service definition that cannot be built). Commands print it and end with an `Outcome`;
//! the message is what the user sees.

use std::path::PathBuf;

use openclaw_client::ClientError;
use openclaw_config::{ConfigError, ResolveError};
use openclaw_service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Resolve(#[from] ResolveError),
    #[error("cannot load device identity: {0}")]
    Identity(ClientError),
    #[error("cannot locate this binary: {0}")]
    CurrentExe(std::io::Error),
    #[error("the binary path is not valid UTF-8: {}", .0.display())]
    ExeNotUtf8(PathBuf),
    #[error("path is not valid UTF-8: {}", .0.display())]
    PathNotUtf8(PathBuf),
    #[error(
        "service management is not supported on this OS ({0}); run `openclaw gateway` under your own supervisor"
    )]
    UnsupportedOs(&'static str),
    #[error("{0}")]
    Service(#[from] ServiceError),
}
