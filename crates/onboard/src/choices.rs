//! The providers onboarding offers (the reference's `--auth-choice` values we support), with
//! the env var each reads and the model a fresh setup starts with.

use openclaw_agent::Api;

/// One selectable provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderChoice {
    /// `--auth-choice` value.
    pub auth_choice: &'static str,
    /// Provider id in model refs (`openai/…`).
    pub provider: &'static str,
    pub label: &'static str,
    /// The env var the runtime also reads.
    pub env_var: Option<&'static str>,
    /// Default model id (without the provider prefix).
    pub default_model: &'static str,
}

/// The built-in providers that take an API key.
pub const KEYED: &[ProviderChoice] = &[
    ProviderChoice {
        auth_choice: "openai-api-key",
        provider: "openai",
        label: "OpenAI",
        env_var: Some("OPENAI_API_KEY"),
        default_model: "gpt-6-astra",
    },
    ProviderChoice {
        auth_choice: "anthropic-api-key",
        provider: "anthropic",
        label: "Anthropic",
        env_var: Some("ANTHROPIC_API_KEY"),
        default_model: "claude-opus-4-6",
    },
    ProviderChoice {
        auth_choice: "openrouter-api-key",
        provider: "openrouter",
        label: "OpenRouter",
        env_var: Some("OPENROUTER_API_KEY"),
        default_model: "auto",
    },
    ProviderChoice {
        auth_choice: "groq-api-key",
        provider: "groq",
        label: "Groq",
        env_var: Some("GROQ_API_KEY"),
        default_model: "llama-3.3-70b-versatile",
    },
    ProviderChoice {
        auth_choice: "xai-api-key",
        provider: "xai",
        label: "xAI (Grok)",
        env_var: Some("XAI_API_KEY"),
        default_model: "grok-4",
    },
];

/// `--auth-choice` values that are not a keyed built-in.
pub const OLLAMA: &str = "ollama";
pub const CUSTOM: &str = "custom-api-key";
pub const SKIP: &str = "skip";

/// The default Ollama model when none is detected (the reference's).
pub const OLLAMA_DEFAULT_MODEL: &str = "gemma4";

/// Every `--auth-choice` value this build accepts.
pub fn supported_auth_choices() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = KEYED.iter().map(|c| c.auth_choice).collect();
    out.extend([OLLAMA, CUSTOM, SKIP]);
    out
}

pub fn keyed(auth_choice_or_provider: &str) -> Option<&'static ProviderChoice> {
    KEYED
        .iter()
        .find(|c| c.auth_choice == auth_choice_or_provider || c.provider == auth_choice_or_provider)
}

/// `--custom-compatibility` → the provider's wire API.
pub fn compatibility_api(value: &str) -> Option<Api> {
    match value.trim().to_ascii_lowercase().as_str() {
        "openai" | "" => Some(Api::OpenAiCompletions),
        "openai-responses" => Some(Api::OpenAiResponses),
        "anthropic" => Some(Api::AnthropicMessages),
        _ => None,
    }
}

/// The provider id the reference derives from a custom base URL: `custom-<host>[-<port>]`,
/// lower-case, runs of other characters as `-`.
pub fn custom_provider_id(base_url: &str) -> String {
    let Ok(url) = reqwest::Url::parse(base_url.trim()) else {
        return "custom".to_string();
    };
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let mut id = format!("custom-{host}");
    if let Some(port) = url.port() {
        id.push_str(&format!("-{port}"));
    }
    normalize_id(&id).unwrap_or_else(|| "custom".to_string())
}

/// A provider id from free text: lower-case, runs of other characters as `-`; `None` when
/// nothing usable is left.
pub fn normalize_id(raw: &str) -> Option<String> {
    let mut out = String::new();
    for c in raw.trim().to_ascii_lowercase().chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_follow_the_reference() {
        assert_eq!(
            custom_provider_id("http://127.0.0.1:4010/v1"),
            "custom-127-0-0-1-4010"
        );
        assert_eq!(
            custom_provider_id("https://llm.example.com/v1"),
            "custom-llm-example-com"
        );
        assert_eq!(custom_provider_id("not a url"), "custom");
    }
}
