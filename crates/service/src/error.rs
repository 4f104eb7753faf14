//! Everything that can go wrong generating or controlling a gateway service, as one enum whose
//! messages say what happened and what to do next.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid profile name {0:?}: use letters, digits, '-' and '_' (max 64)")]
    BadProfile(String),
    #[error("{what} must be an absolute path, got {value:?}")]
    NotAbsolute { what: &'static str, value: String },
    #[error("{what} contains {found} which a service definition cannot carry: {value:?}")]
    BadValue {
        what: String,
        found: String,
        value: String,
    },
    #[error("path is not valid UTF-8: {0}")]
    NonUtf8Path(PathBuf),
    #[error("service management is not supported on this OS ({0})")]
    Unsupported(String),
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot move {from} to {to}: {source}")]
    Move {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} already exists and {detail}; rerun with --force to rewrite it")]
    Conflict { path: PathBuf, detail: String },
    #[error(
        "{path} does not look like an OpenClaw gateway service ({detail}); not touching it (pass --force to remove it anyway)"
    )]
    Foreign { path: PathBuf, detail: String },
    #[error(
        "the gateway service is not installed ({path} does not exist); run `openclaw gateway install` first"
    )]
    NotInstalled { path: PathBuf },
    #[error("cannot reach the service manager: {detail}\n{hint}")]
    Unreachable { detail: String, hint: String },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    /// A supervisor tool (`systemctl`, `launchctl`, `schtasks`…) is not installed.
    #[error("{program} not found")]
    ToolNotFound { program: String },
    /// A supervisor tool could not be run or did not finish in time.
    #[error("cannot run {program}: {source}")]
    Run {
        program: String,
        source: std::io::Error,
    },
    /// launchd's per-user domain (`gui/<uid>`) needs a uid this process could not learn.
    #[error("cannot determine the user id for the launchd gui domain")]
    NoUid,
}
