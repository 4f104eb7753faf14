//! The wizard's outside checks, each bounded: one real request to the chosen model (its answer
//! or the provider's own error message), Ollama detection, and Telegram `getMe`.
//!
//! Endpoints a test must redirect: `OPENCLAW_OLLAMA_URL` (default `http://127.0.0.1:11434`)
//! and the Telegram API root (`channels.telegram.apiRoot` of the config, else
//! `OPENCLAW_TELEGRAM_API_ROOT`, else `https://api.telegram.org`), resolved by the caller.

use std::time::Duration;

use openclaw_agent::{
    AgentMessage, CancelToken, ChatRequest, ProviderClient, ProviderConfig, StreamEvent,
};
use serde_json::Value;

/// Where Ollama is looked for unless `OPENCLAW_OLLAMA_URL` says otherwise.
pub const DEFAULT_OLLAMA_URL: &str = "http://127.0.0.1:11434";
/// Where Telegram's Bot API is unless the config or `OPENCLAW_TELEGRAM_API_ROOT` says otherwise.
pub const DEFAULT_TELEGRAM_API_ROOT: &str = "https://api.telegram.org";
/// How long Ollama detection may take (a missing Ollama refuses at once; a black hole must not
/// stall the wizard).
pub const OLLAMA_TIMEOUT: Duration = Duration::from_millis(1500);
/// Bound on the live model test and on `getMe`.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// The prompt of the live test.
pub const LIVE_TEST_PROMPT: &str = "Say hello in one short sentence.";

/// One request to `model` of `provider`: the reply text, or the provider's error as the
/// runtime reports it (`authentication failed: Incorrect API key provided …`).
pub async fn live_test(provider: &ProviderConfig, model: &str) -> Result<String, String> {
    let client = ProviderClient::new(Duration::from_secs(30));
    let req = ChatRequest {
        model: model.to_string(),
        system: None,
        messages: vec![AgentMessage::user_text(LIVE_TEST_PROMPT)],
        tools: Vec::new(),
        max_tokens: Some(64),
    };
    let cancel = CancelToken::new();
    let mut ignore = |_: StreamEvent| {};
    let call = client.stream(provider, &req, &cancel, &mut ignore);
    match tokio::time::timeout(CHECK_TIMEOUT, call).await {
        Err(_) => Err(format!(
            "no answer from {} within {}s",
            provider.base_url,
            CHECK_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(msg)) => {
            if msg.stop_reason() == Some("error") {
                return Err(msg_error(&msg));
            }
            let text = msg.text();
            Ok(if text.trim().is_empty() {
                "(empty reply)".to_string()
            } else {
                text.trim().to_string()
            })
        }
    }
}

fn msg_error(msg: &AgentMessage) -> String {
    serde_json::to_value(msg)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "the model reported an error".to_string())
}

fn http(timeout: Duration) -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .no_proxy()
        .build()
        .ok()
}

/// The Ollama base URL (no trailing slash, no `/v1`).
pub fn ollama_url(env: &dyn Fn(&str) -> Option<String>) -> String {
    env("OPENCLAW_OLLAMA_URL")
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_OLLAMA_URL.to_string())
}

/// The models a reachable Ollama at `base` serves (`GET /api/tags`); `None` when it does not
/// answer within [`OLLAMA_TIMEOUT`].
pub async fn detect_ollama(base: &str) -> Option<Vec<String>> {
    let client = http(OLLAMA_TIMEOUT)?;
    let resp = client.get(format!("{base}/api/tags")).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let body: Value = resp.json().await.ok()?;
    Some(
        body.get("models")
            .and_then(Value::as_array)
            .map(|models| {
                models
                    .iter()
                    .filter_map(|m| m.get("name").or_else(|| m.get("model")))
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// Checks a bot token with `getMe`: the bot's `@username`, or Telegram's description of why not.
pub async fn telegram_get_me(api_root: &str, token: &str) -> Result<String, String> {
    let Some(client) = http(Duration::from_secs(15)) else {
        return Err("cannot build an HTTP client".into());
    };
    let root = api_root.trim_end_matches('/');
    let resp = client
        .get(format!("{root}/bot{token}/getMe"))
        .send()
        .await
        .map_err(|e| format!("cannot reach Telegram: {}", without_url(&e)))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if body.get("ok").and_then(Value::as_bool) == Some(true) {
        let name = body
            .pointer("/result/username")
            .and_then(Value::as_str)
            .unwrap_or("bot");
        return Ok(format!("@{name}"));
    }
    Err(body
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("Telegram answered HTTP {}", status.as_u16())))
}

/// A reqwest error without its URL: the URL carries the bot token.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "<telegram>");
    }
    s
}
