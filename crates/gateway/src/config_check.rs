//! The daemon's one way to accept a config. `openclaw-config` parses the file and checks every
//! typed section (key-path errors); the rules only the domain crates know are checked here: a
//! custom model provider needs a `baseUrl` (the built-in catalogue lives in `openclaw-agent`),
//! and every channel account must resolve (`openclaw-channels`). Start, reload and the
//! `config.*` writes all go through [`check`], so a broken section is refused before a
//! generation starts and the last good config keeps running.

use std::path::Path;

use openclaw_config::{ConfigError, LoadedConfig, OpenClawConfig};

/// Loads `path` and checks it whole.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let loaded = openclaw_config::load_config(path)?;
    check(path, &loaded.config)?;
    Ok(loaded)
}

/// The domain rules of an already parsed config.
pub fn check(path: &Path, cfg: &OpenClawConfig) -> Result<(), ConfigError> {
    let invalid = |key: String, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        key,
        message,
    };
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Err(openclaw_agent::AgentError::Config { path, message }) =
        openclaw_agent::models::Providers::from_config(cfg.models.as_ref(), &env)
    {
        return Err(invalid(path, message));
    }
    if let Some(channels) = &cfg.channels
        && let Err(e) = openclaw_channels::accounts_from_config(channels, &env)
    {
        let (key, message) = e.parts();
        return Err(invalid(key.to_string(), message.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(text: &str) -> Result<(), ConfigError> {
        let path = Path::new("/c.json");
        let cfg = openclaw_config::load::parse_config(path, text)?;
        check(path, &cfg)
    }

    #[test]
    fn domain_rules_name_their_key_path() {
        let e = check_text(r#"{"models": {"providers": {"custom": {"apiKey": "k"}}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("models.providers.custom.baseUrl"), "{e}");
        let e = check_text(r#"{"channels": {"telegram": {"dmPolicy": "everyone"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("channels.telegram.dmPolicy"), "{e}");
        check_text(r#"{"models": {"providers": {"openai": {"apiKey": "k"}}}, "channels": {"telegram": {"dmPolicy": "open", "allowFrom": ["*"]}}}"#)
            .unwrap();
    }
}
