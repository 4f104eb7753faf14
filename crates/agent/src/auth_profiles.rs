//! The reference's per-agent credential store, `agents/<id>/agent/auth-profiles.json`
//! (agent.md §5.3): `{version, profiles: {"<provider>:<name>": {type:"api_key", provider, key}
//! | {type:"token", provider, token} | {type:"oauth", …}}}`. `onboard` writes API keys here
//! (0600, never into the config or a log) and every run reads them, so a key stored by
//! onboarding is the key `openclaw agent` uses.
//!
//! Precedence of a provider's key (agent.md §5.3): a stored profile (in `auth.order[provider]`
//! order when the config gives one, else `<provider>:default` first, then by id) beats the env
//! var and `models.providers.<id>.apiKey`. OAuth profiles are kept on disk untouched but not
//! used (no OAuth flow is implemented).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::models::Providers;

/// The store's file name inside an agent dir.
pub const FILE_NAME: &str = "auth-profiles.json";
/// The store format version the reference writes.
pub const STORE_VERSION: u64 = 1;

/// The whole file. Unknown keys (usage stats, OAuth fields) are kept on rewrite.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AuthProfileStore {
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Map<String, Value>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthStoreError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid auth profile store: {message}")]
    Parse { path: PathBuf, message: String },
}

impl AuthProfileStore {
    /// The store of `agent_dir`; an absent file is an empty store.
    pub fn load(agent_dir: &Path) -> Result<AuthProfileStore, AuthStoreError> {
        let path = agent_dir.join(FILE_NAME);
        let raw = match std::fs::read_to_string(&path) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AuthProfileStore::default());
            }
            Err(source) => return Err(AuthStoreError::Read { path, source }),
        };
        serde_json::from_str(&raw).map_err(|e| AuthStoreError::Parse {
            path,
            message: e.to_string(),
        })
    }

    /// Sets `<provider>:default` to an API key profile (replacing one of that id).
    pub fn set_api_key(&mut self, provider: &str, key: &str) -> String {
        let id = format!("{provider}:default");
        let mut profile = Map::new();
        profile.insert("type".into(), Value::from("api_key"));
        profile.insert("provider".into(), Value::from(provider));
        profile.insert("key".into(), Value::from(key));
        self.profiles.insert(id.clone(), profile);
        self.version = Some(self.version.unwrap_or(STORE_VERSION));
        id
    }

    /// The file's text (pretty JSON, trailing newline).
    pub fn to_text(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        s.push('\n');
        s
    }

    /// The usable secret of `provider`: `order` (from `auth.order[provider]`) first, then
    /// `<provider>:default`, then the other profiles of that provider by id.
    pub fn key_for(&self, provider: &str, order: &[String]) -> Option<String> {
        let default_id = format!("{provider}:default");
        let mut ids: Vec<&str> = order.iter().map(String::as_str).collect();
        ids.push(&default_id);
        ids.extend(self.profiles.keys().map(String::as_str));
        ids.into_iter().find_map(|id| {
            let p = self.profiles.get(id)?;
            let owner = p.get("provider").and_then(Value::as_str).unwrap_or("");
            if !owner.eq_ignore_ascii_case(provider) {
                return None;
            }
            let field = match p.get("type").and_then(Value::as_str) {
                Some("api_key") => "key",
                Some("token") => "token",
                _ => return None,
            };
            p.get(field)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
        })
    }
}

/// `auth.order` of the config (`{<provider>: [profile ids]}`), tolerant of any other shape.
pub fn auth_order(auth: Option<&Value>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Some(order) = auth.and_then(|a| a.get("order")).and_then(Value::as_object) else {
        return out;
    };
    for (provider, ids) in order {
        let ids = ids
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        out.insert(provider.to_ascii_lowercase(), ids);
    }
    out
}

impl Providers {
    /// Gives every provider with a stored profile that profile's key (see the module doc).
    pub fn apply_auth_profiles(
        &mut self,
        store: &AuthProfileStore,
        order: &BTreeMap<String, Vec<String>>,
    ) {
        if store.profiles.is_empty() {
            return;
        }
        for p in self.iter_mut() {
            let ids = order.get(&p.id).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(key) = store.key_for(&p.id, ids) {
                p.api_key = Some(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_key_beats_env_and_keeps_unknown_fields() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join(FILE_NAME),
            json!({"version": 1, "profiles": {
                "openai:default": {"type": "api_key", "provider": "openai", "key": "sk-stored"},
                "anthropic:me": {"type": "oauth", "provider": "anthropic", "access": "x"}
            }, "usageStats": {"openai:default": {"lastUsed": 1}}})
            .to_string(),
        )
        .unwrap();
        let store = AuthProfileStore::load(tmp.path()).unwrap();
        let env = |k: &str| (k == "OPENAI_API_KEY").then(|| "sk-env".to_string());
        let mut providers = Providers::from_config(None, &env).unwrap();
        providers.apply_auth_profiles(&store, &BTreeMap::new());
        assert_eq!(
            providers.get("openai").unwrap().api_key.as_deref(),
            Some("sk-stored")
        );
        assert_eq!(providers.get("anthropic").unwrap().api_key, None);
        assert!(store.to_text().contains("usageStats"));
    }
}
