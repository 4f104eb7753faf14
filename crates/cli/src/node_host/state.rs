//! What the node host keeps in the state dir between runs: the device token the gateway issued
//! (`identity/device-auth.json`), the node's own settings (`node.json`: node id, display name,
//! last gateway) and, while it runs, its pid (`node-host.pid`) so `openclaw node status` can
//! tell. All written atomically, 0600 in 0700 directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openclaw_config::Paths;
use openclaw_config::fsutil::write_atomic;
use serde::{Deserialize, Serialize};

pub fn device_auth_path(paths: &Paths) -> PathBuf {
    paths.state_dir.join("identity").join("device-auth.json")
}

pub fn node_config_path(paths: &Paths) -> PathBuf {
    paths.state_dir.join("node.json")
}

pub fn pid_path(paths: &Paths) -> PathBuf {
    paths.state_dir.join("node-host.pid")
}

/// `identity/device-auth.json`, the reference's shape: tokens by role for one device.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceAuth {
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub device_id: String,
    #[serde(default)]
    pub tokens: BTreeMap<String, DeviceAuthEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceAuthEntry {
    pub token: String,
    pub role: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub updated_at_ms: u64,
}

impl DeviceAuth {
    /// The stored file, or empty when missing or unreadable (a token is only a shortcut: the
    /// device can always pair again).
    pub fn load(path: &Path) -> DeviceAuth {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The token for `role` when the file belongs to `device_id`.
    pub fn token(path: &Path, device_id: &str, role: &str) -> Option<String> {
        let auth = Self::load(path);
        if auth.device_id != device_id {
            return None;
        }
        auth.tokens
            .get(role)
            .map(|e| e.token.clone())
            .filter(|t| !t.is_empty())
    }

    /// Stores (or, with `token: None`, forgets) the token for `role`.
    pub fn store(
        path: &Path,
        device_id: &str,
        role: &str,
        token: Option<&str>,
        scopes: &[String],
    ) -> std::io::Result<()> {
        let mut auth = Self::load(path);
        if auth.device_id != device_id {
            auth = DeviceAuth::default();
        }
        auth.version = 1;
        auth.device_id = device_id.to_string();
        match token {
            Some(t) => {
                auth.tokens.insert(
                    role.to_string(),
                    DeviceAuthEntry {
                        token: t.to_string(),
                        role: role.to_string(),
                        scopes: scopes.to_vec(),
                        updated_at_ms: now_ms(),
                    },
                );
            }
            None => {
                if auth.tokens.remove(role).is_none() {
                    return Ok(());
                }
            }
        }
        let text = serde_json::to_vec_pretty(&auth).map_err(std::io::Error::other)?;
        write_atomic(path, &text)
    }
}

/// `node.json`: who this node is and where it last connected.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeConfig {
    #[serde(default)]
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayTarget {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub tls: bool,
}

impl GatewayTarget {
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{host}:{}", self.port)
    }
}

impl NodeConfig {
    pub fn load(path: &Path) -> NodeConfig {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(path, &text)
    }
}

/// The pid file of a running node host; removed when dropped (a clean exit).
pub struct PidFile(PathBuf);

impl PidFile {
    pub fn create(path: PathBuf) -> std::io::Result<PidFile> {
        write_atomic(&path, format!("{}\n", std::process::id()).as_bytes())?;
        Ok(PidFile(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only our own pid file: another host may have replaced it since.
        let ours = std::fs::read_to_string(&self.0)
            .ok()
            .is_some_and(|t| t.trim() == std::process::id().to_string());
        if ours {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// The pid in the pid file when that process is alive.
pub fn running_pid(paths: &Paths) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_path(paths))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    alive(pid).then_some(pid)
}

#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill(2) with signal 0 only checks that the process exists; no memory involved.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn alive(_pid: u32) -> bool {
    false
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_token_round_trip_is_per_device_and_private() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("identity").join("device-auth.json");
        assert_eq!(DeviceAuth::token(&p, "dev1", "node"), None);
        DeviceAuth::store(&p, "dev1", "node", Some("tok"), &[]).unwrap();
        assert_eq!(
            DeviceAuth::token(&p, "dev1", "node").as_deref(),
            Some("tok")
        );
        assert_eq!(DeviceAuth::token(&p, "dev2", "node"), None);
        assert_eq!(DeviceAuth::token(&p, "dev1", "operator"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        DeviceAuth::store(&p, "dev1", "node", None, &[]).unwrap();
        assert_eq!(DeviceAuth::token(&p, "dev1", "node"), None);
        std::fs::write(&p, "garbage").unwrap();
        assert_eq!(DeviceAuth::token(&p, "dev1", "node"), None);
    }

    #[test]
    fn target_urls() {
        let t = |host: &str, tls| GatewayTarget {
            host: host.into(),
            port: 18789,
            tls,
        };
        assert_eq!(t("127.0.0.1", false).url(), "ws://127.0.0.1:18789");
        assert_eq!(t("::1", true).url(), "wss://[::1]:18789");
        assert_eq!(t("gw.example", true).url(), "wss://gw.example:18789");
    }
}
