//! `setup` and the `--dev` auto-create: the config (mode local, loopback, a generated token)
//! and the agent workspace with its bootstrap files, created when missing. One code path for
//! both, so a dev workspace is never empty. Idempotent: an existing config is never rewritten
//! and an existing workspace file never overwritten.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Value, json};

use crate::bootstrap::seed_workspace;
use crate::fsutil::{ensure_private_dir, write_atomic};
use crate::paths::{Paths, expand_home};

/// A fresh random secret (32 bytes, base64url).
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What [`ensure_setup`] did.
#[derive(Debug, Clone)]
pub struct SetupReport {
    pub config_path: PathBuf,
    /// A config was written (none existed).
    pub config_created: bool,
    pub workspace: PathBuf,
    /// Bootstrap files created in the workspace (empty when all were there).
    pub created_files: Vec<String>,
}

/// The minimal local config `setup` writes: mode local, loopback, `port`, a generated token,
/// and the workspace.
pub fn baseline_config(port: u16, workspace: &Path) -> Value {
    json!({
        "gateway": {
            "mode": "local",
            "bind": "loopback",
            "port": port,
            "auth": { "mode": "token", "token": generate_token() },
        },
        "agents": { "defaults": { "workspace": workspace.to_string_lossy() } },
    })
}

/// The workspace an existing config names (`agents.defaults.workspace`), if it can be read.
fn configured_workspace(config_path: &Path) -> Option<PathBuf> {
    let raw = std::fs::read_to_string(config_path).ok()?;
    let v: Value = json5::from_str(&raw).ok()?;
    let ws = v.pointer("/agents/defaults/workspace")?.as_str()?.trim();
    (!ws.is_empty()).then(|| expand_home(ws))
}

/// Creates the config (when missing) and seeds the workspace: `workspace` when given, else the
/// one an existing config names, else the profile's default. `dev` picks the dev port.
pub fn ensure_setup(
    paths: &Paths,
    workspace: Option<&Path>,
    dev: bool,
) -> std::io::Result<SetupReport> {
    ensure_private_dir(&paths.state_dir)?;
    let exists = paths.config_path.exists();
    let workspace = match workspace {
        Some(w) => w.to_path_buf(),
        None => exists
            .then(|| configured_workspace(&paths.config_path))
            .flatten()
            .unwrap_or_else(|| paths.workspace_dir()),
    };
    let created_files = seed_workspace(&workspace)?;
    if !exists {
        let port = if dev {
            crate::DEV_PORT
        } else {
            crate::DEFAULT_PORT
        };
        let text = crate::edit::to_text(&baseline_config(port, &workspace));
        write_atomic(&paths.config_path, text.as_bytes())?;
    }
    Ok(SetupReport {
        config_path: paths.config_path.clone(),
        config_created: !exists,
        workspace,
        created_files,
    })
}

/// `--dev gateway`: [`ensure_setup`] with the dev defaults. Returns true when a config was
/// created.
pub fn ensure_dev_setup(paths: &Paths) -> std::io::Result<bool> {
    Ok(ensure_setup(paths, None, true)?.config_created)
}
