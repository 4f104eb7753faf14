//! Shared helpers of the agent integration tests: provider configs pointing at the loopback
//! fakes, a client with short backoffs, and an event collector.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_agent::{
    AgentMessage, Api, CancelToken, ChatRequest, ProviderClient, ProviderConfig, ProviderError,
    RunEvent, StreamEvent,
};

pub fn openai_provider(id: &str, url: &str) -> ProviderConfig {
    ProviderConfig {
        id: id.to_string(),
        base_url: url.to_string(),
        api: Api::OpenAiCompletions,
        api_key: Some("sk-test-openai".to_string()),
        headers: vec![("X-Test".to_string(), "yes".to_string())],
        models: vec![],
    }
}

pub fn anthropic_provider(id: &str, url: &str) -> ProviderConfig {
    ProviderConfig {
        id: id.to_string(),
        base_url: url.to_string(),
        api: Api::AnthropicMessages,
        api_key: Some("sk-ant-test".to_string()),
        headers: vec![],
        models: vec![],
    }
}

/// A client with a 10 s idle timeout and 20 ms base backoff (retries stay fast).
pub fn client() -> ProviderClient {
    ProviderClient::new(Duration::from_secs(10)).with_retry_base(Duration::from_millis(20))
}

pub fn chat(text: &str) -> ChatRequest {
    ChatRequest {
        model: "test-model".to_string(),
        system: Some("You are a test.".to_string()),
        messages: vec![AgentMessage::user_text(text)],
        tools: vec![],
        max_tokens: Some(256),
    }
}

/// What one streamed call gave: its outcome and every event it emitted on the way.
pub struct Streamed {
    pub result: Result<AgentMessage, ProviderError>,
    pub events: Vec<StreamEvent>,
}

impl Streamed {
    /// The reply, or a panic naming the error.
    pub fn message(self) -> AgentMessage {
        self.result.unwrap_or_else(|e| panic!("stream failed: {e}"))
    }

    pub fn error(self) -> Option<ProviderError> {
        self.result.err()
    }
}

/// Which client entry point a test call goes through.
#[derive(Clone, Copy)]
pub enum Attempts {
    /// `ProviderClient::stream`: one request.
    One,
    /// `ProviderClient::stream_with_retries`: the retrying loop.
    Retrying,
}

/// Streams `req` through `provider` with a fresh cancel token, collecting the events.
pub async fn stream(provider: &ProviderConfig, req: &ChatRequest, attempts: Attempts) -> Streamed {
    let mut events = Vec::new();
    let (client, cancel) = (client(), CancelToken::new());
    let mut sink = |e| events.push(e);
    let result = match attempts {
        Attempts::One => client.stream(provider, req, &cancel, &mut sink).await,
        Attempts::Retrying => {
            client
                .stream_with_retries(provider, req, &cancel, &mut sink)
                .await
        }
    };
    Streamed { result, events }
}

pub async fn stream_once(provider: &ProviderConfig, req: &ChatRequest) -> Streamed {
    stream(provider, req, Attempts::One).await
}

pub async fn stream_retrying(provider: &ProviderConfig, req: &ChatRequest) -> Streamed {
    stream(provider, req, Attempts::Retrying).await
}

/// Collects stream events; `sink()` is the callback.
#[derive(Clone)]
pub struct Events<T>(pub Arc<Mutex<Vec<T>>>);

impl<T> Default for Events<T> {
    fn default() -> Self {
        Events(Arc::new(Mutex::new(Vec::new())))
    }
}

impl<T: Clone> Events<T> {
    pub fn push(&self, e: T) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }
    pub fn all(&self) -> Vec<T> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

pub fn deltas(events: &[StreamEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

pub fn run_texts(events: &[RunEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::AssistantDelta { text, delta } => Some((text.clone(), delta.clone())),
            _ => None,
        })
        .collect()
}

/// Either fake, so one test body covers both APIs.
pub enum AnyFake {
    OpenAi(openclaw_testkit::FakeOpenAi),
    Anthropic(openclaw_testkit::FakeAnthropic),
}

impl AnyFake {
    pub async fn start(anthropic: bool) -> AnyFake {
        if anthropic {
            AnyFake::Anthropic(openclaw_testkit::FakeAnthropic::start().await)
        } else {
            AnyFake::OpenAi(openclaw_testkit::FakeOpenAi::start().await)
        }
    }

    pub fn both() -> [bool; 2] {
        [false, true]
    }

    pub fn server(&self) -> &openclaw_testkit::FakeServer {
        match self {
            AnyFake::OpenAi(f) => f,
            AnyFake::Anthropic(f) => f,
        }
    }

    pub fn provider(&self, id: &str) -> ProviderConfig {
        match self {
            AnyFake::OpenAi(f) => openai_provider(id, &f.url()),
            AnyFake::Anthropic(f) => anthropic_provider(id, &f.url()),
        }
    }
}
