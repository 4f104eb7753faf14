//! The token a gateway runs with when no secret is configured anywhere. "Nothing configured"
//! must not mean "no auth" (any web page could otherwise drive `/tools/invoke`), so each start
//! makes a random token that is never written to the config. It is kept in
//! `<state>/gateway.runtime-token` (0600 in the 0700 state dir), which only the same user can
//! read: that is how the local CLI connects without the user copying anything.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openclaw_config::{GatewaySettings, Paths};

/// 32 random bytes, base64url.
pub fn generate() -> String {
    let b: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(b)
}

/// Writes the token file while the generated token is in force, removes it otherwise.
pub fn sync(paths: &Paths, settings: &GatewaySettings) {
    let path = paths.runtime_token_path();
    match (&settings.auth, settings.auth_generated) {
        (openclaw_config::AuthMode::Token(t), true) => {
            if let Err(e) = openclaw_config::fsutil::ensure_private_dir(&paths.state_dir)
                .and_then(|_| openclaw_config::fsutil::write_atomic(&path, t.as_bytes()))
            {
                tracing::error!(target: "gateway", "cannot write {}: {e}; the local CLI will need --token", path.display());
            }
        }
        _ => remove(paths),
    }
}

/// Removes the token file (the gateway is stopping, or a configured secret took over).
pub fn remove(paths: &Paths) {
    match std::fs::remove_file(paths.runtime_token_path()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(target: "gateway", "cannot remove the runtime token file: {e}"),
    }
}
