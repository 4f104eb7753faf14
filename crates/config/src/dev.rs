//! `--dev`: an isolated profile that creates its own config, token and workspace when missing,
//! so `openclaw --dev gateway` runs on a fresh machine with no setup.

use base64::Engine;
use serde_json::json;

use crate::fsutil::{ensure_private_dir, write_atomic};
use crate::paths::Paths;

/// A fresh random secret (32 bytes, base64url).
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Creates the dev config (mode local, loopback, port 19001, a random token) and workspace if
/// missing. Returns true when a config was created. An existing config is never touched.
pub fn ensure_dev_setup(paths: &Paths) -> std::io::Result<bool> {
    ensure_private_dir(&paths.state_dir)?;
    let workspace = paths.workspace_dir();
    ensure_private_dir(&workspace)?;
    if paths.config_path.exists() {
        return Ok(false);
    }
    let config = json!({
        "gateway": {
            "mode": "local",
            "bind": "loopback",
            "port": crate::DEV_PORT,
            "auth": { "mode": "token", "token": generate_token() },
        },
        "agents": { "defaults": { "workspace": workspace.to_string_lossy() } },
    });
    let mut text = serde_json::to_string_pretty(&config).unwrap_or_default();
    text.push('\n');
    write_atomic(&paths.config_path, text.as_bytes())?;
    Ok(true)
}
