//! Reading the config file: JSON5 → `${ENV}` substitution → strict typed validation.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::OpenClawConfig;

/// A config file that parsed and validated.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub path: PathBuf,
    /// False when the file does not exist (defaults apply).
    pub exists: bool,
    pub raw: String,
    /// sha256 hex of the raw file text (`baseHash` for optimistic concurrency).
    pub hash: String,
    pub config: OpenClawConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: JSON5 parse error: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config {path}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error(
        "invalid config {path}: {key}: missing environment variable {var} (referenced as ${{{var}}})"
    )]
    MissingEnv {
        path: PathBuf,
        key: String,
        var: String,
    },
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Loads the config at `path`. A missing file yields defaults with `exists: false`.
pub fn load_config(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let raw = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LoadedConfig {
                path: path.to_path_buf(),
                exists: false,
                raw: String::new(),
                hash: sha256_hex(""),
                config: OpenClawConfig::default(),
            });
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let config = parse_config(path, &raw)?;
    Ok(LoadedConfig {
        path: path.to_path_buf(),
        exists: true,
        hash: sha256_hex(&raw),
        raw,
        config,
    })
}

/// Parses config text (JSON5) and validates it strictly.
pub fn parse_config(path: &Path, raw: &str) -> Result<OpenClawConfig, ConfigError> {
    let mut value: Value = if raw.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        json5::from_str(raw).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?
    };
    if !value.is_object() {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            key: "<root>".into(),
            message: "the config must be a JSON object".into(),
        });
    }
    substitute_env(&mut value, &mut Vec::new()).map_err(|(key, MissingVar(var))| {
        ConfigError::MissingEnv {
            path: path.to_path_buf(),
            key,
            var,
        }
    })?;
    let config: OpenClawConfig = serde_path_to_error::deserialize(&value).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::Invalid {
            path: path.to_path_buf(),
            key: if key == "." { "<root>".into() } else { key },
            message: e.into_inner().to_string(),
        }
    })?;
    config
        .check_sections()
        .map_err(|(key, message)| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        })?;
    Ok(config)
}

/// Replaces `${VAR}` (VAR = `[A-Z_][A-Z0-9_]*`) in every string; `$${VAR}` is a literal `${VAR}`.
/// A missing or empty variable is an error naming the key path and the variable.
fn substitute_env(v: &mut Value, path: &mut Vec<String>) -> Result<(), (String, MissingVar)> {
    match v {
        Value::String(s) if s.contains("${") => {
            *s = substitute_str(s).map_err(|var| (path.join("."), var))?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                substitute_env(item, path)?;
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                path.push(k.clone());
                substitute_env(item, path)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// An environment variable a `${VAR}` names that is unset or empty.
#[derive(Debug, PartialEq)]
struct MissingVar(String);

fn substitute_str(s: &str) -> Result<String, MissingVar> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("${") {
        let escaped = pos > 0 && rest.as_bytes()[pos - 1] == b'$';
        let after = &rest[pos + 2..];
        let end = after.find('}');
        let name = end.map(|e| &after[..e]);
        let valid = name.is_some_and(|n| {
            let mut chars = n.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
                && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        });
        match (valid, name, end) {
            (true, Some(name), Some(end)) => {
                if escaped {
                    out.push_str(&rest[..pos - 1]);
                    out.push_str("${");
                    out.push_str(name);
                    out.push('}');
                } else {
                    out.push_str(&rest[..pos]);
                    match std::env::var(name) {
                        Ok(val) if !val.is_empty() => out.push_str(&val),
                        _ => return Err(MissingVar(name.to_string())),
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(&rest[..pos + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json5_with_comments_and_trailing_commas() {
        let c = parse_config(
            Path::new("x"),
            "// hi\n{ gateway: { mode: 'local', port: 1234, }, }",
        )
        .unwrap();
        assert_eq!(c.gateway().port, Some(1234));
    }

    #[test]
    fn unknown_key_names_its_path() {
        let e = parse_config(
            Path::new("/c.json"),
            r#"{"gateway": {"auth": {"tokn": "x"}}}"#,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("gateway.auth"), "{msg}");
        assert!(msg.contains("tokn"), "{msg}");
    }

    #[test]
    fn ill_typed_key_names_its_path() {
        let e = parse_config(Path::new("/c.json"), r#"{"gateway": {"port": "abc"}}"#).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("gateway.port"), "{msg}");
        let e = parse_config(Path::new("/c.json"), r#"{"bogusTop": 1}"#).unwrap_err();
        assert!(e.to_string().contains("bogusTop"), "{e}");
    }

    #[test]
    fn broken_sections_name_their_key_path() {
        for (text, key) in [
            (
                r#"{"models": {"providers": {"x": {"baseUrl": 5}}}}"#,
                "models.providers.x.baseUrl",
            ),
            (r#"{"models": {"mode": "bogus"}}"#, "models.mode"),
            (
                r#"{"models": {"providers": {"x": {"models": [{"id": ""}]}}}}"#,
                "models.providers.x.models[0].id",
            ),
            (
                r#"{"models": {"providers": {"x": {"models": [{"id": "m", "maxTokens": -1}]}}}}"#,
                "models.providers.x.models[0].maxTokens",
            ),
            (r#"{"bindings": [{"agentId": "a"}]}"#, "bindings[0]"),
            (r#"{"bindings": {"agentId": "a"}}"#, "bindings"),
            (
                r#"{"bindings": [{"agentId": "a", "match": {"channel": "telegram", "peer": {"kind": "group", "id": true}}}]}"#,
                "bindings[0].match.peer.id",
            ),
            (r#"{"hooks": {"enabled": "yes"}}"#, "hooks.enabled"),
            (r#"{"tools": {"deny": "exec"}}"#, "tools.deny"),
            (
                r#"{"agents": {"list": [{"id": "a", "tools": {"allow": [1]}}]}}"#,
                "agents.list[0].tools.allow[0]",
            ),
            (
                r#"{"gateway": {"http": {"endpoints": {"responses": {"enabled": 1}}}}}"#,
                "gateway.http.endpoints.responses.enabled",
            ),
            (
                r#"{"messages": {"groupChat": {"historyLimit": "many"}}}"#,
                "messages.groupChat.historyLimit",
            ),
            (r#"{"media": {"ttlHours": -2}}"#, "media.ttlHours"),
        ] {
            let e = parse_config(Path::new("/c.json"), text).unwrap_err();
            match &e {
                ConfigError::Invalid { key: k, .. } => assert!(k.starts_with(key), "{text}: {e}"),
                other => panic!("{text}: {other}"),
            }
        }
    }

    #[test]
    fn typed_sections_keep_unknown_keys() {
        let text = r#"{"models": {"mode": "merge", "future": 1, "providers": {"p": {"baseUrl": "http://x", "extra": {"a": 1}, "models": [{"id": "m", "contextWindow": 200000, "cost": {"input": 1.5}}]}}},
            "agents": {"defaults": {"model": {"primary": "p/m", "fallbacks": ["q/n"]}, "thinkingDefault": "low"}, "list": [{"id": "a", "identity": {"name": "A"}}]},
            "bindings": [{"agentId": "a", "match": {"channel": "telegram", "peer": {"kind": "group", "id": -100}}, "comment": "x"}],
            "commands": {"native": "auto", "restart": true, "nativeSkills": "auto"}}"#;
        let c = parse_config(Path::new("/c.json"), text).unwrap();
        let back = serde_json::to_value(&c).unwrap();
        let orig: Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, orig);
    }

    #[test]
    fn parse_error_is_clear() {
        let e = parse_config(Path::new("/c.json"), "{ gateway: ").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
    }

    #[test]
    fn env_substitution() {
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("OPENCLAW_TEST_SUBST_TOKEN", "s3cret") };
        assert_eq!(
            substitute_str("a-${OPENCLAW_TEST_SUBST_TOKEN}-b").unwrap(),
            "a-s3cret-b"
        );
        assert_eq!(
            substitute_str("$${OPENCLAW_TEST_SUBST_TOKEN}").unwrap(),
            "${OPENCLAW_TEST_SUBST_TOKEN}"
        );
        assert_eq!(substitute_str("${lower}").unwrap(), "${lower}");
        assert_eq!(
            substitute_str("${OPENCLAW_TEST_NOPE_X}").unwrap_err(),
            MissingVar("OPENCLAW_TEST_NOPE_X".into())
        );
    }
}
