//! Where state and config live: `~/.openclaw`, `--profile NAME` → `~/.openclaw-NAME`,
//! `--dev` → `~/.openclaw-dev`; `OPENCLAW_STATE_DIR` / `OPENCLAW_CONFIG_PATH` override.

use std::path::PathBuf;

use crate::env;

/// What the command line says about paths.
#[derive(Debug, Clone, Default)]
pub struct PathOptions {
    pub profile: Option<String>,
    pub dev: bool,
}

/// Resolved locations for one gateway instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub state_dir: PathBuf,
    pub config_path: PathBuf,
    /// The effective profile name (`dev` for `--dev`), if any.
    pub profile: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("invalid profile name {0:?}: use letters, digits, '-' and '_' (max 64)")]
    BadProfile(String),
}

fn valid_profile(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 64
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Paths {
    /// Resolves paths from CLI options and the environment (`OPENCLAW_PROFILE` too).
    pub fn resolve(opts: &PathOptions) -> Result<Self, PathError> {
        let profile = if opts.dev {
            Some("dev".to_string())
        } else {
            opts.profile.clone().or_else(|| env::var("PROFILE"))
        };
        if let Some(p) = &profile
            && !valid_profile(p)
        {
            return Err(PathError::BadProfile(p.clone()));
        }
        let state_dir = match env::var("STATE_DIR") {
            Some(dir) => expand_home(&dir),
            None => {
                let base = match profile.as_deref() {
                    None | Some("default") => ".openclaw".to_string(),
                    Some(p) => format!(".openclaw-{p}"),
                };
                env::home_dir().join(base)
            }
        };
        let config_path = match env::var("CONFIG_PATH") {
            Some(p) => expand_home(&p),
            None => state_dir.join("openclaw.json"),
        };
        Ok(Paths {
            state_dir,
            config_path,
            profile,
        })
    }

    pub fn devices_dir(&self) -> PathBuf {
        self.state_dir.join("devices")
    }

    /// The default agent workspace: `<state>/workspace`, `<state>/workspace-dev` for `--dev`
    /// (so a dev agent never shares files with the everyday one).
    pub fn workspace_dir(&self) -> PathBuf {
        match self.profile.as_deref() {
            Some("dev") => self.state_dir.join("workspace-dev"),
            _ => self.state_dir.join("workspace"),
        }
    }

    /// Where an agent's own state lives (`auth-profiles.json`, `models.json`).
    pub fn agent_dir(&self, agent_id: &str) -> PathBuf {
        self.state_dir.join("agents").join(agent_id).join("agent")
    }

    pub fn identity_path(&self) -> PathBuf {
        self.state_dir.join("identity").join("device.json")
    }

    /// Where a running gateway with no configured secret keeps its generated token (0600), so
    /// the local CLI of the same user can connect without the token being written to the config.
    pub fn runtime_token_path(&self) -> PathBuf {
        self.state_dir.join("gateway.runtime-token")
    }
}

/// Expands a leading `~/`.
pub fn expand_home(p: &str) -> PathBuf {
    if p == "~" {
        return env::home_dir();
    }
    match p.strip_prefix("~/") {
        Some(rest) => env::home_dir().join(rest),
        None => PathBuf::from(p),
    }
}
