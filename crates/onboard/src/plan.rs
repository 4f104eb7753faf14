//! What onboarding decided, and [`commit`]: the one place its files are written.
//!
//! Nothing is written before [`commit`]; it validates the new config first, then writes the
//! credentials (`agents/main/agent/auth-profiles.json`, 0600) and the config (atomic, the old
//! one kept as `openclaw.json.bak`), then seeds the workspace. The reference's layout: a
//! built-in provider's API key goes to the auth profile store (`<provider>:default`) with a
//! matching `auth.profiles` entry in the config; a custom provider's key sits in
//! `models.providers.<id>.apiKey`, as the reference's custom-provider onboarding writes it.

use std::path::{Path, PathBuf};

use openclaw_agent::{Api, AuthProfileStore};
use openclaw_config::Paths;
use openclaw_config::edit::{set_path, to_text};
use openclaw_config::fsutil::write_atomic;
use serde_json::{Map, Value, json};

/// The agent whose credentials onboarding stores (the default agent).
pub const DEFAULT_AGENT: &str = "main";

/// Where the key of the chosen model goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStore {
    /// This key, stored in `auth-profiles.json` as `<provider>:default`.
    Profile(String),
    /// The process env already has it; nothing is stored.
    Env,
    /// This key, stored as `models.providers.<id>.apiKey` (custom providers).
    Config(String),
    /// No key (Ollama, a keyless custom server).
    None,
}

/// The chosen model and how to reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPlan {
    pub provider: String,
    pub model: String,
    pub key: KeyStore,
    /// A `models.providers.<id>` entry to write (custom providers, Ollama at its URL).
    pub provider_entry: Option<ProviderEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEntry {
    pub base_url: String,
    pub api: Api,
}

impl ModelPlan {
    pub fn model_ref(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

/// Gateway auth as chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayAuth {
    Token(String),
    Password(String),
}

/// Everything onboarding decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// `None` = keep the model config as it is (`--auth-choice skip`).
    pub model: Option<ModelPlan>,
    pub auth: Option<GatewayAuth>,
    pub bind: Option<String>,
    pub port: Option<u16>,
    pub workspace: Option<PathBuf>,
    pub telegram: Option<TelegramPlan>,
    pub skip_bootstrap: bool,
    pub install_daemon: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramPlan {
    pub token: String,
    /// Written as `channels.telegram.apiRoot` when not Telegram's own.
    pub api_root: Option<String>,
}

/// What [`commit`] wrote.
#[derive(Debug, Clone)]
pub struct CommitReport {
    pub config_path: PathBuf,
    pub auth_store: Option<PathBuf>,
    pub workspace: PathBuf,
    pub model_ref: Option<String>,
    pub created_files: Vec<String>,
    /// The gateway's shared secret mode (`token` | `password`).
    pub auth_mode: String,
    pub port: u16,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("the existing config {path} cannot be read ({message}); fix or move it first")]
    Existing { path: PathBuf, message: String },
    #[error("the resulting config would be invalid: {0}")]
    Invalid(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    AuthStore(String),
}

/// The current config as JSON (`{}` when there is none).
pub fn read_existing(path: &Path) -> Result<Value, CommitError> {
    match std::fs::read_to_string(path) {
        Ok(raw) => json5::from_str(&raw).map_err(|e| CommitError::Existing {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(CommitError::Existing {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

fn set(doc: &mut Value, path: &str, v: Value) -> Result<(), CommitError> {
    set_path(doc, path, v).map_err(|e| CommitError::Invalid(format!("{path}: {e}")))
}

/// The config `plan` turns `existing` into (pure; [`commit`] writes it).
pub fn apply(
    existing: &Value,
    plan: &Plan,
    paths: &Paths,
    dev: bool,
) -> Result<Value, CommitError> {
    let mut doc = if existing.is_object() {
        existing.clone()
    } else {
        json!({})
    };
    // A fresh config gets every gateway basic spelled out; an existing one only what the plan
    // changes (a key added for nothing would restart a running gateway on reload).
    let fresh = doc.get("gateway").is_none();
    if doc.pointer("/gateway/mode").and_then(Value::as_str) != Some("local") {
        set(&mut doc, "gateway.mode", json!("local"))?;
    }
    if let Some(bind) = plan
        .bind
        .clone()
        .or_else(|| fresh.then(|| "loopback".to_string()))
    {
        set(&mut doc, "gateway.bind", json!(bind))?;
    }
    let default_port = if dev {
        openclaw_config::DEV_PORT
    } else {
        openclaw_config::DEFAULT_PORT
    };
    if let Some(port) = plan.port.or(fresh.then_some(default_port)) {
        set(&mut doc, "gateway.port", json!(port))?;
    }
    match &plan.auth {
        Some(GatewayAuth::Token(t)) => {
            if doc.pointer("/gateway/auth/mode").and_then(Value::as_str) != Some("token") {
                set(&mut doc, "gateway.auth.mode", json!("token"))?;
            }
            if doc.pointer("/gateway/auth/token").and_then(Value::as_str) != Some(t.as_str()) {
                set(&mut doc, "gateway.auth.token", json!(t))?;
            }
        }
        Some(GatewayAuth::Password(p)) => {
            set(&mut doc, "gateway.auth.mode", json!("password"))?;
            set(&mut doc, "gateway.auth.password", json!(p))?;
        }
        None => {}
    }
    let workspace = plan
        .workspace
        .clone()
        .or_else(|| {
            str_at(&doc, "/agents/defaults/workspace")
                .map(|w| openclaw_config::paths::expand_home(&w))
        })
        .unwrap_or_else(|| paths.workspace_dir());
    set(
        &mut doc,
        "agents.defaults.workspace",
        json!(workspace.to_string_lossy()),
    )?;
    if let Some(m) = &plan.model {
        apply_model(&mut doc, m)?;
    }
    if let Some(t) = &plan.telegram {
        set(&mut doc, "channels.telegram.enabled", json!(true))?;
        set(&mut doc, "channels.telegram.botToken", json!(t.token))?;
        if let Some(root) = &t.api_root {
            set(&mut doc, "channels.telegram.apiRoot", json!(root))?;
        }
    }
    Ok(doc)
}

fn str_at(doc: &Value, pointer: &str) -> Option<String> {
    doc.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn apply_model(doc: &mut Value, m: &ModelPlan) -> Result<(), CommitError> {
    let model_ref = m.model_ref();
    if let Some(entry) = &m.provider_entry {
        let base = format!("models.providers.{}", m.provider);
        if doc.pointer("/models/mode").is_none() {
            set(doc, "models.mode", json!("merge"))?;
        }
        set(doc, &format!("{base}.baseUrl"), json!(entry.base_url))?;
        set(doc, &format!("{base}.api"), json!(entry.api.as_str()))?;
        if let KeyStore::Config(key) = &m.key {
            set(doc, &format!("{base}.apiKey"), json!(key))?;
        }
        let models_ptr = format!("/models/providers/{}/models", m.provider);
        let mut models = doc
            .pointer(&models_ptr)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !models
            .iter()
            .any(|e| e.get("id").and_then(Value::as_str) == Some(&m.model))
        {
            models.push(json!({
                "id": m.model,
                "name": format!("{} (Custom Provider)", m.model),
                "contextWindow": openclaw_agent::models::DEFAULT_CONTEXT_WINDOW,
                "maxTokens": 8192,
                "input": ["text"],
                "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
                "reasoning": false,
            }));
        }
        set(doc, &format!("{base}.models"), Value::Array(models))?;
    }
    if let KeyStore::Profile(_) = &m.key {
        let id = format!("{}:default", m.provider);
        let profiles = doc
            .pointer_mut("/auth/profiles")
            .and_then(Value::as_object_mut)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut profiles: Map<String, Value> = profiles;
        profiles.insert(id, json!({"provider": m.provider, "mode": "api_key"}));
        set(doc, "auth.profiles", Value::Object(profiles))?;
    }
    // Keep configured fallbacks; the chosen model becomes the primary.
    let fallbacks = doc
        .pointer("/agents/defaults/model/fallbacks")
        .cloned()
        .filter(Value::is_array);
    let mut model = json!({"primary": model_ref});
    if let Some(f) = fallbacks {
        model["fallbacks"] = f;
    }
    set(doc, "agents.defaults.model", model)?;
    // An allowlist (`agents.defaults.models`) must allow the new primary.
    if let Some(allow) = doc
        .pointer_mut("/agents/defaults/models")
        .and_then(Value::as_object_mut)
    {
        allow.entry(model_ref).or_insert_with(|| json!({}));
    }
    Ok(())
}

/// Writes `plan`: validates the resulting config, then credentials, config, workspace.
pub fn commit(paths: &Paths, dev: bool, plan: &Plan) -> Result<CommitReport, CommitError> {
    let existing = read_existing(&paths.config_path)?;
    let doc = apply(&existing, plan, paths, dev)?;
    let text = to_text(&doc);
    let parsed = openclaw_config::load::parse_config(&paths.config_path, &text)
        .map_err(|e| CommitError::Invalid(e.to_string()))?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    openclaw_agent::Providers::from_config(parsed.models.as_ref(), &env)
        .map_err(|e| CommitError::Invalid(e.to_string()))?;

    let mut auth_store = None;
    if let Some(m) = &plan.model
        && let KeyStore::Profile(key) = &m.key
    {
        let dir = paths.agent_dir(DEFAULT_AGENT);
        let mut store =
            AuthProfileStore::load(&dir).map_err(|e| CommitError::AuthStore(e.to_string()))?;
        store.set_api_key(&m.provider, key);
        let path = dir.join(openclaw_agent::auth_profiles::FILE_NAME);
        write_atomic(&path, store.to_text().as_bytes()).map_err(|source| CommitError::Write {
            path: path.clone(),
            source,
        })?;
        auth_store = Some(path);
    }
    if existing != doc || !paths.config_path.exists() {
        openclaw_config::edit::write_config(&paths.config_path, &text)
            .map_err(|e| CommitError::Invalid(e.to_string()))?;
    }
    let workspace = str_at(&doc, "/agents/defaults/workspace")
        .map(|w| openclaw_config::paths::expand_home(&w))
        .unwrap_or_else(|| paths.workspace_dir());
    let created_files = if plan.skip_bootstrap {
        Vec::new()
    } else {
        openclaw_config::bootstrap::seed_workspace(&workspace).map_err(|source| {
            CommitError::Write {
                path: workspace.clone(),
                source,
            }
        })?
    };
    Ok(CommitReport {
        config_path: paths.config_path.clone(),
        auth_store,
        workspace,
        model_ref: plan.model.as_ref().map(ModelPlan::model_ref),
        created_files,
        auth_mode: str_at(&doc, "/gateway/auth/mode").unwrap_or_else(|| "token".into()),
        port: doc
            .pointer("/gateway/port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(if dev {
                openclaw_config::DEV_PORT
            } else {
                openclaw_config::DEFAULT_PORT
            }),
    })
}
