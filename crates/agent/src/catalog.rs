//! The model catalog clients see (`models.list`) and the one place a user's model choice
//! (`sessions.patch {model}`, `/model …`) is checked and resolved to `provider/model`.
//!
//! The catalog is built from [`Providers`] (config `models.providers` merged with the
//! built-ins) and the `agents` section: every model a configured provider lists, plus, for
//! built-in providers, the model refs the config names (primary, fallbacks, the
//! `agents.defaults.models` allowlist). A built-in provider shows up only when its env key is
//! present (agent.md §5.3) or the config names one of its models; a model is `available` when
//! its provider has a key, i.e. a run on it would not fail with "No API key found".
//!
//! No I/O: the caller passes the providers it resolved (with its env lookup).

use std::collections::BTreeMap;

use openclaw_config::OpenClawConfig;
use openclaw_config::sections::ModelDefinition;
use serde_json::Value;

use crate::models::{ModelRef, Providers, model_chain};

/// Thinking levels a reasoning model accepts (agent.md §5.1 `thinkingDefault` values).
pub const THINKING_LEVELS: &[&str] = &["off", "minimal", "low", "medium", "high", "xhigh"];

/// Context window of a model the config names without describing it (agent.md §5.2 default).
const DEFAULT_CONTEXT_WINDOW: u64 = 200_000;

/// Placeholder key of local Ollama (see `models.rs`): a key, but not a configured credential.
const OLLAMA: &str = "ollama";

/// One model of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogModel {
    pub provider: String,
    pub id: String,
    /// Display name (the id when the config gives none).
    pub name: String,
    pub context_window: u64,
    pub reasoning: bool,
    /// `["text"]` or `["text","image"]` …
    pub input: Vec<String>,
    /// A run on it would find an API key for its provider.
    pub available: bool,
    /// Its alias in `agents.defaults.models`, if any.
    pub alias: Option<String>,
    /// The agent's primary model.
    pub is_default: bool,
}

impl CatalogModel {
    pub fn model_ref(&self) -> ModelRef {
        ModelRef {
            provider: self.provider.clone(),
            model: self.id.clone(),
        }
    }

    /// The thinking levels offered for this model: `off` only unless it reasons.
    pub fn thinking_levels(&self) -> &'static [&'static str] {
        if self.reasoning {
            THINKING_LEVELS
        } else {
            &THINKING_LEVELS[..1]
        }
    }
}

/// Why a model choice was refused; the message is what the client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelChoiceError {
    #[error("invalid model: empty")]
    Empty,
    /// The allowlist (`agents.defaults.models`) is non-empty and does not hold it.
    #[error("model not allowed: {0}")]
    NotAllowed(String),
    /// No allowlist, and neither a known provider nor its model list has it.
    #[error("unknown model: {0}")]
    Unknown(String),
}

/// The catalog of one agent, with the allowlist and aliases it is checked against.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    models: Vec<CatalogModel>,
    /// `agents.defaults.models` keys, resolved (empty = everything in the catalog allowed).
    allowlist: Vec<ModelRef>,
    /// alias (lower-case) → ref.
    aliases: BTreeMap<String, ModelRef>,
    /// Providers known to this gateway whose model list is open (built-ins: any id).
    open_providers: Vec<String>,
    /// Provider of the agent's primary model: a bare model id means this provider.
    default_provider: String,
}

fn same_ref(a: &ModelRef, b: &ModelRef) -> bool {
    a.provider.eq_ignore_ascii_case(&b.provider) && a.model == b.model
}

fn input_of(def: &ModelDefinition) -> Vec<String> {
    def.rest
        .get("input")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec!["text".to_string()])
}

impl Catalog {
    /// The catalog `agent_id` sees under `cfg`, with `providers` already resolved from the
    /// same config (and the process env).
    pub fn build(cfg: &OpenClawConfig, providers: &Providers, agent_id: &str) -> Catalog {
        let defaults = cfg.agent_defaults();
        let chain = model_chain(cfg, agent_id);
        let primary = chain
            .first()
            .cloned()
            .or_else(|| ModelRef::parse(crate::models::DEFAULT_MODEL_REF));
        let default_provider = primary
            .as_ref()
            .map(|r| r.provider.clone())
            .unwrap_or_else(|| "anthropic".to_string());

        let mut aliases = BTreeMap::new();
        let mut allowlist = Vec::new();
        for (key, spec) in defaults.models.iter().flatten() {
            let Some(r) = ModelRef::parse(key) else {
                continue;
            };
            if let Some(alias) = spec.get("alias").and_then(Value::as_str) {
                let alias = alias.trim().to_lowercase();
                if !alias.is_empty() {
                    aliases.insert(alias, r.clone());
                }
            }
            if !allowlist.iter().any(|a| same_ref(a, &r)) {
                allowlist.push(r);
            }
        }

        let raw_defs: BTreeMap<String, &Vec<ModelDefinition>> = cfg
            .models
            .as_ref()
            .and_then(|m| m.providers.as_ref())
            .map(|p| {
                p.iter()
                    .filter_map(|(id, spec)| {
                        spec.models
                            .as_ref()
                            .map(|m| (id.trim().to_ascii_lowercase(), m))
                    })
                    .collect()
            })
            .unwrap_or_default();

        let mut models: Vec<CatalogModel> = Vec::new();
        let mut open_providers = Vec::new();
        for p in providers.iter() {
            let has_key = p.api_key.as_deref().is_some_and(|k| !k.trim().is_empty());
            if p.models.is_empty() {
                open_providers.push(p.id.clone());
                continue;
            }
            let defs = raw_defs.get(&p.id);
            for m in &p.models {
                let input = defs
                    .and_then(|d| d.iter().find(|d| d.id.trim() == m.id))
                    .map(input_of)
                    .unwrap_or_else(|| vec!["text".to_string()]);
                models.push(CatalogModel {
                    provider: p.id.clone(),
                    id: m.id.clone(),
                    name: m.name.clone().unwrap_or_else(|| m.id.clone()),
                    context_window: m.context_window,
                    reasoning: m.reasoning,
                    input,
                    available: has_key,
                    alias: None,
                    is_default: false,
                });
            }
        }
        // Built-in providers list no models of their own: the refs the config names stand for
        // them, and a provider whose key is present shows at least the default model.
        let named: Vec<ModelRef> = chain
            .iter()
            .cloned()
            .chain(allowlist.iter().cloned())
            .chain(primary.iter().cloned())
            .collect();
        for r in named {
            let Some(p) = providers.get(&r.provider) else {
                continue;
            };
            if !p.models.is_empty() || models.iter().any(|m| same_ref(&m.model_ref(), &r)) {
                continue;
            }
            let configured_key = p.api_key.as_deref().is_some_and(|k| !k.trim().is_empty());
            // Unnamed-by-config local Ollama stays out unless the config names it.
            let named_by_config = chain
                .iter()
                .chain(allowlist.iter())
                .any(|c| same_ref(c, &r));
            if !named_by_config && (!configured_key || p.id == OLLAMA) {
                continue;
            }
            models.push(CatalogModel {
                provider: p.id.clone(),
                id: r.model.clone(),
                name: r.model.clone(),
                context_window: DEFAULT_CONTEXT_WINDOW,
                reasoning: false,
                input: vec!["text".to_string()],
                available: configured_key,
                alias: None,
                is_default: false,
            });
        }
        for m in &mut models {
            let r = m.model_ref();
            m.alias = aliases
                .iter()
                .find(|(_, a)| same_ref(a, &r))
                .map(|(alias, _)| {
                    // Report the alias as written in the config.
                    defaults
                        .models
                        .iter()
                        .flatten()
                        .find_map(|(_, spec)| {
                            spec.get("alias")
                                .and_then(Value::as_str)
                                .filter(|s| s.trim().eq_ignore_ascii_case(alias))
                                .map(|s| s.trim().to_string())
                        })
                        .unwrap_or_else(|| alias.clone())
                });
            m.is_default = primary.as_ref().is_some_and(|p| same_ref(p, &r));
        }
        Catalog {
            models,
            allowlist,
            aliases,
            open_providers,
            default_provider,
        }
    }

    /// Every model of the catalog (configured providers first, by provider id).
    pub fn models(&self) -> &[CatalogModel] {
        &self.models
    }

    /// What a client is offered: the allowlist when `agents.defaults.models` is non-empty
    /// (entries the catalog does not describe get defaults), else the whole catalog.
    pub fn visible(&self) -> Vec<CatalogModel> {
        if self.allowlist.is_empty() {
            return self.models.clone();
        }
        self.allowlist
            .iter()
            .map(|r| {
                self.find(r).cloned().unwrap_or_else(|| CatalogModel {
                    provider: r.provider.clone(),
                    id: r.model.clone(),
                    name: r.model.clone(),
                    context_window: DEFAULT_CONTEXT_WINDOW,
                    reasoning: false,
                    input: vec!["text".to_string()],
                    available: false,
                    alias: self
                        .aliases
                        .iter()
                        .find(|(_, a)| same_ref(a, r))
                        .map(|(k, _)| k.clone()),
                    is_default: false,
                })
            })
            .collect()
    }

    /// The catalog entry of `r`.
    pub fn find(&self, r: &ModelRef) -> Option<&CatalogModel> {
        self.models.iter().find(|m| same_ref(&m.model_ref(), r))
    }

    /// Resolves a user's choice — `provider/model`, a bare model id, or an alias — to the
    /// ref a run will use, or says why not. With an allowlist only its entries (and their
    /// aliases) pass; without one, a model of the catalog or any id of a built-in provider
    /// (whose full model list this gateway does not know).
    pub fn resolve(&self, raw: &str) -> Result<ModelRef, ModelChoiceError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(ModelChoiceError::Empty);
        }
        let r = if let Some(r) = self.aliases.get(&raw.to_lowercase()) {
            r.clone()
        } else if let Some(r) = ModelRef::parse(raw) {
            r
        } else {
            // A bare id: the one provider that lists it, else the default provider.
            let pool: Vec<ModelRef> = if self.allowlist.is_empty() {
                self.models.iter().map(CatalogModel::model_ref).collect()
            } else {
                self.allowlist.clone()
            };
            let hits: Vec<&ModelRef> = pool.iter().filter(|r| r.model == raw).collect();
            match hits.as_slice() {
                [one] => (*one).clone(),
                _ => ModelRef {
                    provider: self.default_provider.clone(),
                    model: raw.to_string(),
                },
            }
        };
        if !self.allowlist.is_empty() {
            return match self.allowlist.iter().find(|a| same_ref(a, &r)) {
                Some(a) => Ok(a.clone()),
                None => Err(ModelChoiceError::NotAllowed(r.to_string())),
            };
        }
        if let Some(m) = self.find(&r) {
            return Ok(m.model_ref());
        }
        if self
            .open_providers
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&r.provider))
        {
            return Ok(r);
        }
        Err(ModelChoiceError::Unknown(r.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: Value) -> OpenClawConfig {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn catalog(v: Value, env: &[(&str, &str)]) -> Catalog {
        let c = cfg(v);
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let providers = Providers::from_config(c.models.as_ref(), &lookup).unwrap();
        Catalog::build(&c, &providers, "main")
    }

    fn two_providers() -> Value {
        json!({
            "models": {"providers": {
                "fake": {"baseUrl": "http://127.0.0.1:1/v1", "apiKey": "k",
                         "models": [{"id": "m1", "name": "Fake One", "contextWindow": 32000},
                                    {"id": "m2", "reasoning": true, "input": ["text", "image"]}]},
                "nokey": {"baseUrl": "http://127.0.0.1:2/v1", "models": [{"id": "x"}]}
            }},
            "agents": {"defaults": {"model": {"primary": "fake/m1"}}}
        })
    }

    #[test]
    fn configured_models_with_availability_and_default() {
        let c = catalog(two_providers(), &[]);
        let ids: Vec<String> = c
            .models()
            .iter()
            .map(|m| m.model_ref().to_string())
            .collect();
        assert_eq!(ids, ["fake/m1", "fake/m2", "nokey/x"]);
        let m1 = &c.models()[0];
        assert_eq!(
            (
                m1.name.as_str(),
                m1.context_window,
                m1.available,
                m1.is_default
            ),
            ("Fake One", 32000, true, true)
        );
        let m2 = &c.models()[1];
        assert!(m2.reasoning);
        assert_eq!(m2.input, ["text", "image"]);
        assert_eq!(m2.thinking_levels().len(), THINKING_LEVELS.len());
        assert!(!c.models()[2].available, "no key, not usable");
    }

    #[test]
    fn builtin_provider_appears_with_its_env_key() {
        let without = catalog(json!({}), &[]);
        assert!(without.models().is_empty(), "{:?}", without.models());
        let with = catalog(json!({}), &[("ANTHROPIC_API_KEY", "sk")]);
        let ids: Vec<String> = with
            .models()
            .iter()
            .map(|m| m.model_ref().to_string())
            .collect();
        assert_eq!(ids, ["anthropic/claude-opus-4-6"]);
        assert!(with.models()[0].available);
    }

    #[test]
    fn resolve_without_allowlist() {
        let c = catalog(two_providers(), &[]);
        let r = |s| c.resolve(s).map(|r| r.to_string());
        assert_eq!(r("fake/m2"), Ok("fake/m2".into()));
        assert_eq!(r("m2"), Ok("fake/m2".into()));
        assert_eq!(r(" FAKE/m1 "), Ok("fake/m1".into()));
        assert_eq!(
            r("fake/nope"),
            Err(ModelChoiceError::Unknown("fake/nope".into()))
        );
        assert_eq!(
            r("nowhere/x"),
            Err(ModelChoiceError::Unknown("nowhere/x".into()))
        );
        // Built-in providers accept any id: their model list is not known here.
        assert_eq!(r("openai/gpt-5.2"), Ok("openai/gpt-5.2".into()));
        assert_eq!(r(""), Err(ModelChoiceError::Empty));
    }

    #[test]
    fn resolve_with_allowlist_and_aliases() {
        let mut v = two_providers();
        v["agents"]["defaults"]["models"] = json!({
            "fake/m2": {"alias": "Thinker"},
            "openai/gpt-5.2": {}
        });
        let c = catalog(v, &[]);
        let r = |s| c.resolve(s).map(|r| r.to_string());
        assert_eq!(r("thinker"), Ok("fake/m2".into()));
        assert_eq!(r("m2"), Ok("fake/m2".into()));
        assert_eq!(r("openai/gpt-5.2"), Ok("openai/gpt-5.2".into()));
        assert_eq!(
            r("fake/m1"),
            Err(ModelChoiceError::NotAllowed("fake/m1".into()))
        );
        let visible: Vec<String> = c
            .visible()
            .iter()
            .map(|m| m.model_ref().to_string())
            .collect();
        assert_eq!(visible, ["fake/m2", "openai/gpt-5.2"]);
        assert_eq!(c.visible()[0].alias.as_deref(), Some("Thinker"));
    }
}
