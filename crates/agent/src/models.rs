//! Model providers and model refs: the built-in provider catalogue merged with the config's
//! `models` section (agent.md §5.2–5.3), and the `agents.*.model` chain (primary, fallbacks).
//!
//! No I/O: API keys come from the config value or from an `env` lookup function the caller
//! passes in, so tests never touch the process environment.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::AgentError;

/// The model used when neither `agents.defaults.model` nor the agent names one.
pub const DEFAULT_MODEL_REF: &str = "anthropic/claude-opus-4-6";

/// Default context window and output cap of a model entry that does not say (agent.md §5.2).
const DEFAULT_CONTEXT_WINDOW: u64 = 200_000;
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

/// Local Ollama needs no key; requests carry this placeholder when `OLLAMA_API_KEY` is unset.
const OLLAMA_PLACEHOLDER_KEY: &str = "ollama-local";

/// The providers a run can use, keyed by id.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    by_id: BTreeMap<String, ProviderConfig>,
}

impl Providers {
    /// From the config's `models` section (may be `Null`) merged with the built-ins.
    ///
    /// * `models.mode: "replace"` drops the built-ins; `"merge"` (default) keeps them and lets
    ///   `models.providers.<id>` override single fields of a built-in of the same id.
    /// * API key: `models.providers.<id>.apiKey` (a string; `${ENV}` was substituted by the
    ///   config loader), else the provider's env var (`OPENAI_API_KEY` …).
    /// * A provider whose `api` is not implemented here is skipped with a warning rather than
    ///   failing the whole config.
    pub fn from_config(
        models: &Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Providers, AgentError> {
        let env_key = |var: &str| env(var).filter(|v| !v.trim().is_empty());
        let mut by_id = BTreeMap::new();
        let replace = models.get("mode").and_then(Value::as_str) == Some("replace");
        if !replace {
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
        let providers = match models.get("providers") {
            None | Some(Value::Null) => return Ok(Providers { by_id }),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(AgentError::config("models.providers", "expected an object"));
            }
        };
        for (raw_id, spec) in providers {
            let id = raw_id.trim().to_ascii_lowercase();
            let path = format!("models.providers.{raw_id}");
            let Some(obj) = spec.as_object() else {
                return Err(AgentError::config(path, "expected an object"));
            };
            let builtin = by_id.remove(&id);
            let builtin_var = BUILTINS.iter().find(|b| b.0 == id).map(|b| b.3);
            let base_url = match obj.get("baseUrl") {
                Some(Value::String(s)) if !s.trim().is_empty() => {
                    s.trim().trim_end_matches('/').to_string()
                }
                Some(Value::String(_)) | None | Some(Value::Null) => match &builtin {
                    Some(b) => b.base_url.clone(),
                    None => {
                        return Err(AgentError::config(
                            format!("{path}.baseUrl"),
                            "required for a custom provider",
                        ));
                    }
                },
                Some(_) => {
                    return Err(AgentError::config(
                        format!("{path}.baseUrl"),
                        "expected a string",
                    ));
                }
            };
            let api = match obj.get("api") {
                Some(Value::String(s)) => match Api::parse(s) {
                    Some(api) => api,
                    None => {
                        tracing::warn!(provider = %id, api = %s, "model API not supported; provider skipped");
                        continue;
                    }
                },
                None | Some(Value::Null) => match &builtin {
                    Some(b) => b.api.clone(),
                    None => Api::OpenAiCompletions,
                },
                Some(_) => {
                    return Err(AgentError::config(
                        format!("{path}.api"),
                        "expected a string",
                    ));
                }
            };
            let api_key = match obj.get("apiKey") {
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
            match obj.get("headers") {
                None | Some(Value::Null) => {}
                Some(Value::Object(h)) => {
                    for (k, v) in h {
                        let Some(v) = v.as_str() else {
                            return Err(AgentError::config(
                                format!("{path}.headers.{k}"),
                                "expected a string",
                            ));
                        };
                        headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
                        headers.push((k.clone(), v.to_string()));
                    }
                }
                Some(_) => {
                    return Err(AgentError::config(
                        format!("{path}.headers"),
                        "expected an object",
                    ));
                }
            }
            let models = match obj.get("models") {
                None | Some(Value::Null) => builtin.map(|b| b.models).unwrap_or_default(),
                Some(Value::Array(list)) => list
                    .iter()
                    .enumerate()
                    .map(|(i, m)| parse_model(m, &format!("{path}.models[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                Some(_) => {
                    return Err(AgentError::config(
                        format!("{path}.models"),
                        "expected an array",
                    ));
                }
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

fn parse_model(m: &Value, path: &str) -> Result<ModelInfo, AgentError> {
    let Some(obj) = m.as_object() else {
        return Err(AgentError::config(path, "expected an object"));
    };
    let Some(id) = obj
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(AgentError::config(format!("{path}.id"), "required string"));
    };
    let num = |key: &str, default: u64| -> Result<u64, AgentError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .ok_or_else(|| {
                    AgentError::config(format!("{path}.{key}"), "expected a positive number")
                }),
        }
    };
    Ok(ModelInfo {
        id: id.to_string(),
        name: obj.get("name").and_then(Value::as_str).map(str::to_string),
        context_window: num("contextWindow", DEFAULT_CONTEXT_WINDOW)?,
        max_tokens: num("maxTokens", DEFAULT_MAX_TOKENS)?,
        reasoning: obj
            .get("reasoning")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// The ordered model refs of `agent_id` (primary first, then fallbacks, no duplicates).
///
/// `agents` is the config's whole `agents` section. The agent's own `model` (string = primary
/// only, or `{primary, fallbacks}`) wins over `agents.defaults.model`; fallbacks come from the
/// agent when it sets `fallbacks`, else from the defaults. Aliases declared in
/// `agents.defaults.models` (`{"provider/model": {alias}}`) are resolved, and a bare model id
/// without a provider means `anthropic` (agent.md §5.1). Empty when nothing is configured (the
/// caller may use [`DEFAULT_MODEL_REF`]).
pub fn model_chain(agents: &Value, agent_id: &str) -> Vec<ModelRef> {
    let defaults = agents.get("defaults").and_then(|d| d.get("model"));
    let agent_model = agents
        .get("list")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter().find(|a| {
                a.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| id.trim().eq_ignore_ascii_case(agent_id.trim()))
            })
        })
        .and_then(|a| a.get("model"));
    let (d_primary, d_fallbacks) = split_model_spec(defaults);
    let (a_primary, a_fallbacks) = split_model_spec(agent_model);
    let primary = a_primary.or(d_primary);
    let fallbacks = a_fallbacks.or(d_fallbacks).unwrap_or_default();
    let aliases = agents
        .get("defaults")
        .and_then(|d| d.get("models"))
        .and_then(Value::as_object);
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

/// `(primary, fallbacks)` of a `model` value; fallbacks is `None` when the key is absent.
fn split_model_spec(v: Option<&Value>) -> (Option<String>, Option<Vec<String>>) {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => (Some(s.trim().to_string()), None),
        Some(Value::Object(o)) => {
            let primary = o
                .get("primary")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            let fallbacks = o.get("fallbacks").and_then(Value::as_array).map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            });
            (primary, fallbacks)
        }
        _ => (None, None),
    }
}

fn resolve_ref(raw: &str, aliases: Option<&serde_json::Map<String, Value>>) -> Option<ModelRef> {
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
        let chain = model_chain(&agents, "main");
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
