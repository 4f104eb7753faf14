//! The provider client against the loopback OpenAI and Anthropic fakes over real HTTP:
//! streaming, request shapes, retries (429 + Retry-After, 5xx), cut streams, in-stream
//! errors, missing keys and prompt aborts.

mod common;

use std::time::{Duration, Instant};

use common::{
    AnyFake, anthropic_provider, chat, client, deltas, openai_provider, stream_once,
    stream_retrying,
};
use openclaw_agent::{AgentMessage, CancelToken, ProviderError, StreamEvent, ToolSpec};
use openclaw_testkit::{FakeAnthropic, FakeOpenAi, Script};
use serde_json::json;

#[tokio::test]
async fn openai_streams_text_and_sends_the_real_request_shape() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::text_in("Hello there, friend!", 4));
    let provider = openai_provider("fakeai", &fake.url());
    let mut req = chat("hi");
    req.tools = vec![ToolSpec {
        name: "read".into(),
        description: "Read a file".into(),
        parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
    }];
    let streamed = stream_once(&provider, &req).await;
    let events = streamed.events.clone();
    let msg = streamed.message();
    assert_eq!(deltas(&events).len(), 4, "{events:?}");
    assert_eq!(deltas(&events).concat(), "Hello there, friend!");
    assert_eq!(msg.text(), "Hello there, friend!");
    let AgentMessage::Assistant {
        stop_reason,
        usage,
        provider: p,
        api,
        model,
        ..
    } = &msg
    else {
        panic!("not an assistant message: {msg:?}");
    };
    assert_eq!(stop_reason.as_deref(), Some("stop"));
    assert_eq!(p.as_deref(), Some("fakeai"));
    assert_eq!(api.as_deref(), Some("openai-completions"));
    assert_eq!(model.as_deref(), Some("test-model"));
    let usage = usage.unwrap_or_default();
    assert!(usage.input > 0 && usage.output > 0);
    assert_eq!(usage.total_tokens, usage.input + usage.output);

    let rec = fake.recorded();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].path, "/v1/chat/completions");
    assert_eq!(
        rec[0].header("authorization"),
        Some("Bearer sk-test-openai")
    );
    assert_eq!(rec[0].header("x-test"), Some("yes"));
    let body = &rec[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "You are a test."})
    );
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": "hi"})
    );
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "read");
}

#[tokio::test]
async fn anthropic_streams_text_and_sends_the_real_request_shape() {
    let fake = FakeAnthropic::start().await;
    fake.push(Script::text_in("Bonjour tout le monde", 5));
    let provider = anthropic_provider("anthropic", &fake.url());
    let streamed = stream_once(&provider, &chat("salut")).await;
    assert_eq!(deltas(&streamed.events).len(), 5);
    let msg = streamed.message();
    assert_eq!(msg.text(), "Bonjour tout le monde");
    assert_eq!(msg.stop_reason(), Some("stop"));
    let usage = msg.usage().copied().unwrap_or_default();
    assert!(usage.input > 0 && usage.output > 0);

    let rec = fake.recorded();
    assert_eq!(rec[0].path, "/v1/messages");
    assert_eq!(rec[0].header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(rec[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(rec[0].header("authorization"), None);
    let body = &rec[0].body;
    assert_eq!(body["system"], "You are a test.");
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "salut"}]}])
    );
}

#[tokio::test]
async fn tool_calls_are_assembled_from_streamed_fragments() {
    for anthropic in AnyFake::both() {
        let fake = AnyFake::start(anthropic).await;
        fake.server().push(Script::ToolCall {
            id: "call_42".into(),
            name: "read".into(),
            arguments: json!({"path": "notes/todo.md", "limit": 10}),
            pieces: 4,
            then_text: None,
        });
        let streamed = stream_once(&fake.provider("p"), &chat("read it")).await;
        let events = streamed.events.clone();
        let msg = streamed.message();
        assert_eq!(msg.stop_reason(), Some("toolUse"), "anthropic={anthropic}");
        let call = StreamEvent::ToolCall {
            id: "call_42".into(),
            name: "read".into(),
            arguments: json!({"path": "notes/todo.md", "limit": 10}),
        };
        assert_eq!(events, vec![call], "anthropic={anthropic}");
        assert_eq!(msg.tool_calls().len(), 1);
    }
}

#[tokio::test]
async fn rate_limit_honours_retry_after_then_succeeds() {
    for anthropic in AnyFake::both() {
        let fake = AnyFake::start(anthropic).await;
        fake.server().push(Script::rate_limited(1));
        fake.server().push(Script::text("after the wait"));
        let started = Instant::now();
        let msg = stream_retrying(&fake.provider("p"), &chat("x"))
            .await
            .message();
        let waited = started.elapsed();
        assert_eq!(msg.text(), "after the wait");
        assert!(
            waited >= Duration::from_millis(950),
            "Retry-After: 1 was not honoured (waited {waited:?})"
        );
        assert!(waited < Duration::from_secs(5), "waited {waited:?}");
        assert_eq!(fake.server().request_count(), 2);
    }
}

#[tokio::test]
async fn rate_limit_without_retry_is_reported() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::rate_limited(1));
    let err = stream_once(&openai_provider("openai", &fake.url()), &chat("x"))
        .await
        .error();
    match err {
        Some(ProviderError::RateLimited {
            retry_after,
            message,
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(1)));
            assert!(message.contains("Rate limit"), "{message}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn server_error_is_retried() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::server_error());
    fake.push(Script::server_error());
    fake.push(Script::text("third time lucky"));
    let msg = stream_retrying(&openai_provider("openai", &fake.url()), &chat("x"))
        .await
        .message();
    assert_eq!(msg.text(), "third time lucky");
    assert_eq!(fake.request_count(), 3);
}

#[tokio::test]
async fn retries_stop_after_three_attempts_and_never_retry_bad_requests() {
    let fake = FakeOpenAi::start().await;
    for _ in 0..4 {
        fake.push(Script::server_error());
    }
    let err = stream_retrying(&openai_provider("openai", &fake.url()), &chat("x"))
        .await
        .error();
    assert!(
        matches!(err, Some(ProviderError::Server { status: 500, .. })),
        "{err:?}"
    );
    assert_eq!(fake.request_count(), 3);

    let fake = FakeAnthropic::start().await;
    fake.push(Script::HttpError {
        status: 400,
        message: "prompt is too long: 300000 tokens > 200000 maximum".into(),
    });
    let err = stream_retrying(&anthropic_provider("anthropic", &fake.url()), &chat("x"))
        .await
        .error();
    match &err {
        Some(e @ ProviderError::BadRequest(m)) => {
            assert!(m.contains("prompt is too long"));
            assert_eq!(e.kind(), "context_length");
            assert!(!e.is_failover() && !e.is_retryable());
        }
        other => panic!("expected BadRequest, got {other:?}"),
    }
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn mid_stream_disconnect_is_an_error_not_a_truncated_success() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::disconnect("this reply is cut off"));
    let streamed = stream_retrying(&openai_provider("openai", &fake.url()), &chat("x")).await;
    let events = streamed.events;
    match streamed.result {
        Err(ProviderError::Network(_)) => {}
        other => panic!("expected a network/protocol error, got {other:?}"),
    }
    assert!(!deltas(&events).is_empty(), "some text was streamed first");
    assert_eq!(fake.request_count(), 1, "no retry after output was emitted");

    let fake = FakeAnthropic::start().await;
    fake.push(Script::disconnect("cut here too"));
    let res = stream_once(&anthropic_provider("anthropic", &fake.url()), &chat("x"))
        .await
        .result;
    assert!(
        matches!(
            res,
            Err(ProviderError::Network(_)) | Err(ProviderError::Protocol(_))
        ),
        "{res:?}"
    );
}

#[tokio::test]
async fn anthropic_error_event_maps_to_a_typed_error() {
    let fake = FakeAnthropic::start().await;
    fake.push(Script::stream_error("overloaded_error", "Overloaded"));
    fake.push(Script::text("recovered"));
    let provider = anthropic_provider("anthropic", &fake.url());
    let err = stream_once(&provider, &chat("x")).await.error();
    assert!(
        matches!(&err, Some(ProviderError::Server { status: 529, message }) if message == "Overloaded"),
        "{err:?}"
    );
    // Nothing was streamed before the error, so the retrying call tries again.
    fake.push(Script::stream_error("overloaded_error", "Overloaded"));
    fake.push(Script::text("recovered"));
    let msg = stream_retrying(&provider, &chat("x")).await.message();
    assert_eq!(msg.text(), "recovered");
}

#[tokio::test]
async fn openai_in_stream_error_is_reported() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::stream_error("server_error", "boom"));
    let err = stream_once(&openai_provider("openai", &fake.url()), &chat("x"))
        .await
        .error();
    assert!(matches!(err, Some(ProviderError::Server { .. })), "{err:?}");
}

#[tokio::test]
async fn missing_api_key_fails_with_the_reference_message() {
    let fake = FakeOpenAi::start().await;
    let mut provider = openai_provider("openrouter", &fake.url());
    provider.api_key = None;
    let err = stream_retrying(&provider, &chat("x")).await.error();
    let err = err.unwrap_or_else(|| panic!("expected an error"));
    assert!(matches!(err, ProviderError::NoApiKey(_)));
    assert_eq!(
        err.to_string(),
        "No API key found for provider \"openrouter\""
    );
    assert_eq!(fake.request_count(), 0, "no request without a key");
}

#[tokio::test]
async fn abort_mid_stream_returns_promptly() {
    for anthropic in AnyFake::both() {
        let fake = AnyFake::start(anthropic).await;
        fake.server().push(Script::slow(
            "one two three four five six",
            6,
            Duration::from_millis(400),
        ));
        let provider = fake.provider("p");
        let cancel = CancelToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let c2 = cancel.clone();
        let task = tokio::spawn(async move {
            let mut cb = |e: StreamEvent| {
                let _ = tx.send(e);
            };
            client()
                .stream_with_retries(&provider, &chat("x"), &c2, &mut cb)
                .await
        });
        // Wait for the first delta, then abort.
        let first = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert!(
            matches!(first, Ok(Some(StreamEvent::TextDelta(_)))),
            "{first:?}"
        );
        let aborted_at = Instant::now();
        cancel.cancel();
        let r = tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .unwrap_or_else(|_| panic!("abort did not return promptly"))
            .unwrap_or_else(|e| panic!("task panicked: {e}"));
        assert!(
            aborted_at.elapsed() < Duration::from_millis(300),
            "abort took {:?}",
            aborted_at.elapsed()
        );
        assert!(matches!(r, Err(ProviderError::Aborted)), "{r:?}");
    }
}

#[tokio::test]
async fn abort_during_retry_backoff() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::rate_limited(20));
    let cancel = CancelToken::new();
    let c2 = cancel.clone();
    let provider = openai_provider("openai", &fake.url());
    let task = tokio::spawn(async move {
        client()
            .stream_with_retries(&provider, &chat("x"), &c2, &mut |_| {})
            .await
    });
    assert!(fake.wait_for_requests(1, Duration::from_secs(5)).await);
    cancel.cancel();
    let r = tokio::time::timeout(Duration::from_secs(2), task).await;
    assert!(matches!(r, Ok(Ok(Err(ProviderError::Aborted)))), "{r:?}");
}

#[tokio::test]
async fn unreachable_provider_is_a_network_error() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        l.local_addr().map(|a| a.port()).unwrap_or(1)
    };
    let provider = openai_provider("openai", &format!("http://127.0.0.1:{port}/v1"));
    let err = stream_once(&provider, &chat("x")).await.error();
    let err = err.unwrap_or_else(|| panic!("expected an error"));
    assert!(matches!(err, ProviderError::Network(_)), "{err:?}");
    assert!(err.is_failover() && err.is_retryable());
}

#[tokio::test]
async fn default_echo_and_history_are_sent() {
    let fake = FakeOpenAi::start().await;
    let mut req = chat("second question");
    req.messages = vec![
        AgentMessage::user_text("first question"),
        AgentMessage::assistant_text("first answer"),
        AgentMessage::user_text("second question"),
    ];
    let msg = stream_once(&openai_provider("openai", &fake.url()), &req)
        .await
        .message();
    assert_eq!(msg.text(), "echo: second question");
    let body = &fake.requests()[0];
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|x| x["role"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(body["messages"][2]["content"], "first answer");
}
