//! Model providers and model refs: the built-in provider catalogue merged with the config's
//! `models` section (agent.md §5.2–5.3), and the `agents.*.model` chain (primary, fallbacks).
//!
//! No I/O: API keys come from the config value or from an `env` lookup function the caller
//! passes in, so tests never touch the process environment.

use std::collections::BTreeMap;

use openclaw_config::OpenClawConfig;
use openclaw_config::sections::{ModelDefinition, ModelSpec, ModelsConfig, ModelsMode};
use serde_json::Value;

use crate::error::AgentError;

/// The model used when neither `agents.defaults.model` nor the agent names one.
pub const DEFAULT_MODEL_REF: &str = "anthropic/claude-opus-4-6";

/// Default context window and output cap of a model entry that does not say (agent.md §5.2).
pub const DEFAULT_CONTEXT_WINDOW: u64 = 200_000;
const DEFAULT_MAX_TOKENS: u64 = 8192;

/// The wire API a provider speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Api {
    /// `POST {baseUrl}/chat/completions` (OpenAI and most compatible servers).
    OpenAiCompletions,
    /// `openai-responses`: served over Chat Completions, which every OpenAI model also speaks
    /// (the Responses wire format is not implemented).
    OpenAiResponses,
    /// `POST {baseUrl}/v1/messages`.
    AnthropicMessages,
}

impl Api {
    /// Parses the config spelling (`"openai-completions"` …); `None` for APIs not implemented.
    pub fn parse(s: &str) -> Option<Api> {
        match s {
            "openai-completions" => Some(Api::OpenAiCompletions),
            "openai-responses" | "openai-codex-responses" | "azure-openai-responses" => {
                Some(Api::OpenAiResponses)
            }
            "anthropic-messages" => Some(Api::AnthropicMessages),
            _ => None,
        }
    }

    /// The config / transcript spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Api::OpenAiCompletions => "openai-completions",
            Api::OpenAiResponses => "openai-responses",
            Api::AnthropicMessages => "anthropic-messages",
        }
    }
}

/// One resolved provider: where to send requests and with which key.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub id: String,
    pub base_url: String,
    pub api: Api,
    pub api_key: Option<String>,
    /// Extra HTTP headers sent with every request.
    pub headers: Vec<(String, String)>,
    pub models: Vec<ModelInfo>,
}

impl ProviderConfig {
    /// The catalogue entry of `model`, if the provider lists it.
    pub fn model_info(&self, model: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.id == model)
    }
}

/// A model entry of `models.providers.<id>.models[]`.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub id: String,
    pub name: Option<String>,
    pub context_window: u64,
    pub max_tokens: u64,
    pub reasoning: bool,
}

/// `provider/model`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    pub provider: String,
    pub model: String,
}

impl ModelRef {
    /// Splits on the **first** `/` (model ids may contain `/`, e.g.
    /// `openrouter/anthropic/claude-sonnet-4-5`). `None` without a `/` or with an empty half.
    pub fn parse(s: &str) -> Option<ModelRef> {
        let (provider, model) = s.trim().split_once('/')?;
        let provider = provider.trim();
        let model = model.trim();
        if provider.is_empty() || model.is_empty() {
            return None;
        }
        Some(ModelRef {
            provider: provider.to_ascii_lowercase(),
            model: model.to_string(),
        })
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

/// Built-in providers: (id, base URL, API, env var holding the key).
const BUILTINS: &[(&str, &str, Api, &str)] = &[
    (
        "anthropic",
        "https://api.anthropic.com",
        Api::AnthropicMessages,
        "ANTHROPIC_API_KEY",
    ),
    (
        "openai",
        "https://api.openai.com/v1",
        Api::OpenAiCompletions,
        "OPENAI_API_KEY",
    ),
    (
        "openrouter",
        "https://openrouter.ai/api/v1",
        Api::OpenAiCompletions,
        "OPENROUTER_API_KEY",
    ),
    (
        "groq",
        "https://api.groq.com/openai/v1",
        Api::OpenAiCompletions,
        "GROQ_API_KEY",
    ),
    (
        "xai",
        "https://api.x.ai/v1",
        Api::OpenAiCompletions,
        "XAI_API_KEY",
    ),
    (
        "cerebras",
        "https://api.cerebras.ai/v1",
        Api::OpenAiCompletions,
        "CEREBRAS_API_KEY",
    ),
    (
        "mistral",
        "https://api.mistral.ai/v1",
        Api::OpenAiCompletions,
        "MISTRAL_API_KEY",
    ),
    (
        "google",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        Api::OpenAiCompletions,
        "GEMINI_API_KEY",
    ),
    (
        "moonshot",
        "https://api.moonshot.ai/v1",
        Api::OpenAiCompletions,
        "MOONSHOT_API_KEY",
    ),
    (
        "minimax",
        "https://api.minimax.io/anthropic",
        Api::AnthropicMessages,
        "MINIMAX_API_KEY",
    ),
    (
        "vercel-ai-gateway",
        "https://ai-gateway.vercel.sh/v1",
        Api::OpenAiCompletions,
        "AI_GATEWAY_API_KEY",
    ),
    (
        "ollama",
        "http://127.0.0.1:11434/v1",
        Api::OpenAiCompletions,
        "OLLAMA_API_KEY",
    ),
];

/// The env var a built-in provider reads its key from (`models status` reports it).
pub fn builtin_env_var(provider: &str) -> Option<&'static str> {
    BUILTINS.iter().find(|b| b.0 == provider).map(|b| b.3)
}

/// Local Ollama needs no key; requests carry this placeholder when `OLLAMA_API_KEY` is unset.
const OLLAMA_PLACEHOLDER_KEY: &str = "ollama-local";

/// The providers a run can use, keyed by id.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    by_id: BTreeMap<String, ProviderConfig>,
}

impl Providers {
    /// From the config's `models` section (`None` when unset) merged with the built-ins.
    ///
    /// * `models.mode: "replace"` drops the built-ins; `"merge"` (default) keeps them and lets
    ///   `models.providers.<id>` override single fields of a built-in of the same id.
    /// * API key: `models.providers.<id>.apiKey` (a string; `${ENV}` was substituted by the
    ///   config loader), else the provider's env var (`OPENAI_API_KEY` …).
    /// * A provider whose `api` is not implemented here is skipped with a warning rather than
    ///   failing the whole config.
    pub fn from_config(
        models: Option<&ModelsConfig>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Providers, AgentError> {
        let env_key = |var: &str| env(var).filter(|v| !v.trim().is_empty());
        let mut by_id = BTreeMap::new();
        if models.and_then(|m| m.mode) != Some(ModelsMode::Replace) {
            for (id, base, api, var) in BUILTINS {
                let mut key = env_key(var);
                if *id == "ollama" && key.is_none() {
                    key = Some(OLLAMA_PLACEHOLDER_KEY.to_string());
                }
                by_id.insert(
                    id.to_string(),
                    ProviderConfig {
                        id: id.to_string(),
                        base_url: base.to_string(),
                        api: api.clone(),
                        api_key: key,
                        headers: Vec::new(),
                        models: Vec::new(),
                    },
                );
            }
        }
        let Some(providers) = models.and_then(|m| m.providers.as_ref()) else {
            return Ok(Providers { by_id });
        };
        for (raw_id, spec) in providers {
            let id = raw_id.trim().to_ascii_lowercase();
            let path = format!("models.providers.{raw_id}");
            let builtin = by_id.remove(&id);
            let builtin_var = BUILTINS.iter().find(|b| b.0 == id).map(|b| b.3);
            let base_url = match spec.base_url.as_deref().map(str::trim) {
                Some(s) if !s.is_empty() => s.trim_end_matches('/').to_string(),
                _ => match &builtin {
                    Some(b) => b.base_url.clone(),
                    None => {
                        return Err(AgentError::config(
                            format!("{path}.baseUrl"),
                            "required for a custom provider",
                        ));
                    }
                },
            };
            let api = match spec.api.as_deref() {
                Some(s) => match Api::parse(s) {
                    Some(api) => api,
                    None => {
                        tracing::warn!(provider = %id, api = %s, "model API not supported; provider skipped");
                        continue;
                    }
                },
                None => match &builtin {
                    Some(b) => b.api.clone(),
                    None => Api::OpenAiCompletions,
                },
            };
            let api_key = match &spec.api_key {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
                Some(Value::String(_)) | None | Some(Value::Null) => None,
                Some(_) => {
                    tracing::warn!(provider = %id, "models.providers.<id>.apiKey is not a plain string; ignored");
                    None
                }
            }
            .or_else(|| builtin.as_ref().and_then(|b| b.api_key.clone()))
            .or_else(|| builtin_var.and_then(env_key));
            let mut headers = builtin
                .as_ref()
                .map(|b| b.headers.clone())
                .unwrap_or_default();
            for (k, v) in spec.headers.iter().flatten() {
                headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
                headers.push((k.clone(), v.clone()));
            }
            let models = match &spec.models {
                None => builtin.map(|b| b.models).unwrap_or_default(),
                Some(list) => list.iter().map(model_info).collect(),
            };
            by_id.insert(
                id.clone(),
                ProviderConfig {
                    id,
                    base_url,
                    api,
                    api_key,
                    headers,
                    models,
                },
            );
        }
        Ok(Providers { by_id })
    }

    pub fn get(&self, id: &str) -> Option<&ProviderConfig> {
        self.by_id.get(id).or_else(|| {
            let lower = id.to_ascii_lowercase();
            self.by_id.get(&lower)
        })
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut ProviderConfig> {
        self.by_id.values_mut()
    }

    /// All providers, by id.
    pub fn iter(&self) -> impl Iterator<Item = &ProviderConfig> {
        self.by_id.values()
    }

    /// Resolves refs to `(provider, model id)` pairs for [`crate::TurnRequest::provider_chain`];
    /// refs naming an unknown provider are skipped with a warning.
    pub fn chain(&self, refs: &[ModelRef]) -> Vec<(ProviderConfig, String)> {
        refs.iter()
            .filter_map(|r| match self.get(&r.provider) {
                Some(p) => Some((p.clone(), r.model.clone())),
                None => {
                    tracing::warn!(model = %r, "unknown model provider; skipped");
                    None
                }
            })
            .collect()
    }
}

fn model_info(m: &ModelDefinition) -> ModelInfo {
    ModelInfo {
        id: m.id.trim().to_string(),
        name: m.name.clone(),
        context_window: ModelDefinition::whole(&m.context_window).unwrap_or(DEFAULT_CONTEXT_WINDOW),
        max_tokens: ModelDefinition::whole(&m.max_tokens).unwrap_or(DEFAULT_MAX_TOKENS),
        reasoning: m.reasoning.unwrap_or(false),
    }
}

/// The ordered model refs of `agent_id` (primary first, then fallbacks, no duplicates).
///
/// `agents` is the config's whole `agents` section. The agent's own `model` (string = primary
/// only, or `{primary, fallbacks}`) wins over `agents.defaults.model`; fallbacks come from the
/// agent when it sets `fallbacks`, else from the defaults. Aliases declared in
/// `agents.defaults.models` (`{"provider/model": {alias}}`) are resolved, and a bare model id
/// without a provider means `anthropic` (agent.md §5.1). Empty when nothing is configured (the
/// caller may use [`DEFAULT_MODEL_REF`]).
pub fn model_chain(cfg: &OpenClawConfig, agent_id: &str) -> Vec<ModelRef> {
    let defaults = cfg.agent_defaults();
    let agent_model = cfg.agent_entry(agent_id).and_then(|a| a.model.as_ref());
    let (d_primary, d_fallbacks) = defaults
        .model
        .as_ref()
        .map(ModelSpec::parts)
        .unwrap_or_default();
    let (a_primary, a_fallbacks) = agent_model.map(ModelSpec::parts).unwrap_or_default();
    let primary = a_primary.or(d_primary);
    let fallbacks = a_fallbacks.or(d_fallbacks).unwrap_or_default();
    let aliases = defaults.models.as_ref();
    let mut out: Vec<ModelRef> = Vec::new();
    for raw in primary.into_iter().chain(fallbacks) {
        let Some(r) = resolve_ref(&raw, aliases) else {
            continue;
        };
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

fn resolve_ref(raw: &str, aliases: Option<&BTreeMap<String, Value>>) -> Option<ModelRef> {
    if let Some(aliases) = aliases {
        for (key, spec) in aliases {
            let alias = spec.get("alias").and_then(Value::as_str);
            if alias.is_some_and(|a| a.eq_ignore_ascii_case(raw)) {
                return ModelRef::parse(key);
            }
        }
    }
    ModelRef::parse(raw).or_else(|| {
        (!raw.is_empty()).then(|| ModelRef {
            provider: "anthropic".to_string(),
            model: raw.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_spellings_round_trip() {
        for s in [
            "openai-completions",
            "openai-responses",
            "anthropic-messages",
        ] {
            assert_eq!(Api::parse(s).map(|a| a.as_str()), Some(s));
        }
        assert_eq!(Api::parse("google-generative-ai"), None);
    }

    #[test]
    fn aliases_and_bare_models() {
        let agents = json!({"defaults": {
            "model": {"primary": "Opus", "fallbacks": ["gpt-5.2", "openai/gpt-5.2"]},
            "models": {"anthropic/claude-opus-4-6": {"alias": "Opus"}}
        }});
        let cfg: OpenClawConfig = serde_json::from_value(json!({"agents": agents})).unwrap();
        let chain = model_chain(&cfg, "main");
        assert_eq!(
            chain,
            vec![
                ModelRef::parse("anthropic/claude-opus-4-6").unwrap_or_else(|| unreachable!()),
                ModelRef {
                    provider: "anthropic".into(),
                    model: "gpt-5.2".into()
                },
                ModelRef {
                    provider: "openai".into(),
                    model: "gpt-5.2".into()
                },
            ]
        );
    }
}
