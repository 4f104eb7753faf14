//! Whole turns against the loopback fakes: the tool loop (model asks for `read`, gets the
//! file, answers), fallback along the provider chain, policy-denied tools, the step limit,
//! and aborts / cut streams that keep the partial answer.

mod common;

use std::time::Duration;

use common::{AnyFake, Events, client, openai_provider, run_texts};
use openclaw_agent::{
    AgentMessage, CancelToken, ProviderConfig, ProviderError, RunEvent, ToolContext, ToolPolicy,
    TurnOutcome, TurnRequest, builtin_tools, run_turn,
};
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

fn turn(
    chain: Vec<(ProviderConfig, String)>,
    workspace: &std::path::Path,
    text: &str,
) -> TurnRequest {
    TurnRequest {
        provider_chain: chain,
        system: Some("system prompt here".into()),
        history: vec![
            AgentMessage::user_text("earlier"),
            AgentMessage::assistant_text("earlier answer"),
        ],
        user: AgentMessage::user_text(text),
        tools: builtin_tools(),
        tool_ctx: ToolContext::workspace_only(workspace.to_path_buf()),
        policy: ToolPolicy::default(),
        max_steps: 8,
        max_tokens: None,
        steering: None,
    }
}

async fn run(
    req: TurnRequest,
) -> (
    Result<TurnOutcome, (ProviderError, Vec<AgentMessage>)>,
    Vec<RunEvent>,
) {
    let events = Events::default();
    let sink = events.clone();
    let r = run_turn(&client(), req, &CancelToken::new(), &mut |e| sink.push(e)).await;
    (r, events.all())
}

fn roles(msgs: &[AgentMessage]) -> Vec<&'static str> {
    msgs.iter().map(|m| m.role()).collect()
}

fn tool_names(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|x| {
                    x.pointer("/function/name")
                        .or_else(|| x.get("name"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn tool_loop_reads_a_workspace_file_then_answers() {
    for anthropic in AnyFake::both() {
        let ws = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(ws.path().join("notes.txt"), "the secret is 42\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let fake = AnyFake::start(anthropic).await;
        fake.server().push(Script::tool_call(
            "call_1",
            "read",
            json!({"path": "notes.txt"}),
            "The file says 42.",
        ));
        let chain = vec![(fake.provider("p"), "m1".to_string())];
        let (r, events) = run(turn(chain, ws.path(), "what is in notes.txt?")).await;
        let out = r.unwrap_or_else(|(e, _)| panic!("turn failed: {e}"));
        assert_eq!(out.final_text, "The file says 42.");
        assert_eq!(out.stop_reason, "stop");
        assert_eq!(out.provider, "p");
        assert_eq!(out.model, "m1");
        assert_eq!(
            roles(&out.new_messages),
            ["assistant", "toolResult", "assistant"]
        );
        let AgentMessage::ToolResult {
            tool_call_id,
            tool_name,
            is_error,
            ..
        } = &out.new_messages[1]
        else {
            panic!("expected a tool result");
        };
        assert_eq!(
            (tool_call_id.as_str(), tool_name.as_str(), *is_error),
            ("call_1", "read", false)
        );
        assert!(out.new_messages[1].text().contains("the secret is 42"));
        assert!(out.usage.output > 0 && out.usage.input > 0);

        // Events: tool start/result in order, then the streamed answer.
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| match e {
                RunEvent::ToolStart { .. } => "start",
                RunEvent::ToolResult { .. } => "result",
                RunEvent::AssistantDelta { .. } => "delta",
                RunEvent::ToolUpdate { .. } => "update",
            })
            .collect();
        assert_eq!(kinds[..2], ["start", "result"], "{kinds:?}");
        assert!(matches!(&events[0], RunEvent::ToolStart { id, name, args }
            if id == "call_1" && name == "read" && args == &json!({"path": "notes.txt"})));
        assert!(
            matches!(&events[1], RunEvent::ToolResult { result, is_error: false, .. }
            if result.contains("the secret is 42"))
        );
        let texts = run_texts(&events);
        assert_eq!(
            texts.last().map(|t| t.0.as_str()),
            Some("The file says 42.")
        );
        let concat: String = texts.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(concat, "The file says 42.");

        // The second request carried history, the call and its result.
        let reqs = fake.server().requests();
        assert_eq!(reqs.len(), 2);
        let second = reqs[1].to_string();
        assert!(second.contains("the secret is 42"), "{second}");
        assert!(second.contains("earlier answer"));
        assert!(tool_names(&reqs[0]).contains(&"read".to_string()));
        if anthropic {
            assert_eq!(reqs[1]["system"], "system prompt here");
            let last = &reqs[1]["messages"].as_array().cloned().unwrap_or_default();
            let last = last.last().cloned().unwrap_or_default();
            assert_eq!(last["role"], "user");
            assert_eq!(last["content"][0]["type"], "tool_result");
            assert_eq!(last["content"][0]["tool_use_id"], "call_1");
        } else {
            assert_eq!(reqs[1]["messages"][0]["content"], "system prompt here");
            let msgs = reqs[1]["messages"].as_array().cloned().unwrap_or_default();
            let tool = msgs
                .iter()
                .find(|m| m["role"] == "tool")
                .cloned()
                .unwrap_or_default();
            assert_eq!(tool["tool_call_id"], "call_1");
            let call = msgs
                .iter()
                .find(|m| m.get("tool_calls").is_some())
                .cloned()
                .unwrap_or_default();
            assert_eq!(
                call["tool_calls"][0]["function"]["arguments"],
                r#"{"path":"notes.txt"}"#
            );
        }
    }
}

#[tokio::test]
async fn falls_back_to_the_next_provider_on_failover_errors() {
    let ws = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for first_failure in [
        Script::HttpError {
            status: 401,
            message: "Incorrect API key provided".into(),
        },
        // A Retry-After beyond the 30 s cap is not waited for: fall back at once.
        Script::rate_limited(120),
    ] {
        let primary = FakeOpenAi::start().await;
        let backup = AnyFake::start(true).await;
        primary.push(first_failure.clone());
        backup.server().push(Script::text("from the backup"));
        let chain = vec![
            (
                openai_provider("openai", &primary.url()),
                "gpt-x".to_string(),
            ),
            (backup.provider("anthropic"), "claude-y".to_string()),
        ];
        let started = std::time::Instant::now();
        let (r, _) = run(turn(chain, ws.path(), "hello")).await;
        let out = r.unwrap_or_else(|(e, _)| panic!("turn failed: {e}"));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(out.final_text, "from the backup");
        assert_eq!(
            (out.provider.as_str(), out.model.as_str()),
            ("anthropic", "claude-y")
        );
        assert_eq!(
            primary.request_count(),
            1,
            "{first_failure:?} is not retried"
        );
        assert_eq!(backup.server().request_count(), 1);
    }
}

#[tokio::test]
async fn falls_back_when_the_primary_has_no_api_key_but_not_on_bad_requests() {
    let ws = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let backup = FakeOpenAi::start().await;
    let mut keyless = openai_provider("anthropic", "http://127.0.0.1:9/v1");
    keyless.api_key = None;
    let chain = vec![
        (keyless.clone(), "claude".to_string()),
        (openai_provider("openai", &backup.url()), "gpt".to_string()),
    ];
    let (r, _) = run(turn(chain, ws.path(), "ping")).await;
    let out = r.unwrap_or_else(|(e, _)| panic!("turn failed: {e}"));
    assert_eq!(out.final_text, "echo: ping");

    // Only the keyless provider: the reference error.
    let (r, _) = run(turn(vec![(keyless, "claude".into())], ws.path(), "ping")).await;
    match r {
        Err((e, partial)) => {
            assert_eq!(e.to_string(), "No API key found for provider \"anthropic\"");
            assert!(partial.is_empty());
        }
        Ok(o) => panic!("expected an error, got {o:?}"),
    }

    // A bad request is the model's answer to this input: no fallback.
    let primary = FakeOpenAi::start().await;
    primary.push(Script::HttpError {
        status: 400,
        message: "Invalid 'messages'".into(),
    });
    let backup = FakeOpenAi::start().await;
    let chain = vec![
        (openai_provider("openai", &primary.url()), "a".to_string()),
        (openai_provider("other", &backup.url()), "b".to_string()),
    ];
    let (r, _) = run(turn(chain, ws.path(), "ping")).await;
    assert!(matches!(r, Err((ProviderError::BadRequest(_), _))), "{r:?}");
    assert_eq!(backup.request_count(), 0);
}

#[tokio::test]
async fn denied_tools_are_neither_offered_nor_run() {
    let ws = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(ws.path().join("secret.txt"), "classified").unwrap_or_else(|e| panic!("{e}"));
    let fake = FakeOpenAi::start().await;
    // The model asks for `read` anyway.
    fake.push(Script::tool_call(
        "call_9",
        "read",
        json!({"path": "secret.txt"}),
        "I could not read it.",
    ));
    let mut req = turn(
        vec![(openai_provider("openai", &fake.url()), "m".into())],
        ws.path(),
        "read secret.txt",
    );
    req.policy = ToolPolicy::from_config(Some(
        &serde_json::from_value(json!({"deny": ["read"]})).unwrap_or_else(|e| panic!("{e}")),
    ));
    let (r, events) = run(req).await;
    let out = r.unwrap_or_else(|(e, _)| panic!("turn failed: {e}"));
    let offered = tool_names(&fake.requests()[0]);
    assert!(!offered.contains(&"read".to_string()), "{offered:?}");
    assert!(offered.contains(&"write".to_string()));
    assert!(events.iter().any(
        |e| matches!(e, RunEvent::ToolResult { result, is_error: true, .. }
        if result == "Tool not available: read")
    ));
    let result = &out.new_messages[1];
    assert!(!result.text().contains("classified"));
    assert_eq!(out.final_text, "I could not read it.");
}

#[tokio::test]
async fn step_limit_stops_a_tool_loop() {
    let ws = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fake = FakeOpenAi::start().await;
    for i in 0..5 {
        fake.push(Script::ToolCall {
            id: format!("c{i}"),
            name: "ls".into(),
            arguments: json!({}),
            pieces: 1,
            then_text: None,
        });
    }
    let mut req = turn(
        vec![(openai_provider("openai", &fake.url()), "m".into())],
        ws.path(),
        "loop forever",
    );
    req.max_steps = 2;
    let (r, _) = run(req).await;
    let out = r.unwrap_or_else(|(e, _)| panic!("turn failed: {e}"));
    assert_eq!(fake.request_count(), 2);
    assert_eq!(out.stop_reason, "toolUse");
    assert_eq!(
        roles(&out.new_messages),
        ["assistant", "toolResult", "assistant", "toolResult"]
    );
}

#[tokio::test]
async fn abort_mid_stream_keeps_the_partial_answer() {
    let ws = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fake = AnyFake::start(false).await;
    fake.server().push(Script::slow(
        "alpha beta gamma delta",
        4,
        Duration::from_millis(300),
    ));
    let req = turn(vec![(fake.provider("p"), "m".into())], ws.path(), "go");
    let cancel = CancelToken::new();
    let c2 = cancel.clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        run_turn(&client(), req, &c2, &mut |e| {
            let _ = tx.send(e);
        })
        .await
    });
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    let Ok(Some(RunEvent::AssistantDelta { text, .. })) = first else {
        panic!("no delta: {first:?}");
    };
    cancel.cancel();
    let r = tokio::time::timeout(Duration::from_millis(500), task)
        .await
        .unwrap_or_else(|_| panic!("abort was not prompt"))
        .unwrap_or_else(|e| panic!("{e}"));
    match r {
        Err((ProviderError::Aborted, partial)) => {
            assert_eq!(partial.len(), 1);
            assert_eq!(partial[0].stop_reason(), Some("aborted"));
            assert!(partial[0].text().starts_with(&text), "{partial:?}");
        }
        other => panic!("expected Aborted, got {other:?}"),
    }
}

#[tokio::test]
async fn cut_stream_is_an_error_with_the_partial_text_and_no_fallback() {
    let ws = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let primary = FakeOpenAi::start().await;
    primary.push(Script::disconnect("half an answ"));
    let backup = FakeOpenAi::start().await;
    let chain = vec![
        (openai_provider("a", &primary.url()), "m".to_string()),
        (openai_provider("b", &backup.url()), "m".to_string()),
    ];
    let (r, _) = run(turn(chain, ws.path(), "go")).await;
    match r {
        Err((ProviderError::Network(_), partial)) => {
            assert_eq!(partial.len(), 1);
            assert_eq!(partial[0].stop_reason(), Some("error"));
            assert_eq!(partial[0].text(), "half an answ");
        }
        other => panic!("expected a network error, got {other:?}"),
    }
    assert_eq!(
        backup.request_count(),
        0,
        "streamed text is never duplicated by a fallback"
    );
}

#[tokio::test]
async fn empty_chain_is_an_error() {
    let ws = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (r, _) = run(turn(vec![], ws.path(), "x")).await;
    assert!(matches!(r, Err((ProviderError::BadRequest(_), _))));
}

/// A host tool (the gateway's seam): offered next to the built-ins, called with its args, its
/// partial output reported as `ToolUpdate` events before the result, the result fed back.
#[derive(Debug)]
struct EchoHost;

impl openclaw_agent::ToolHost for EchoHost {
    fn specs(&self) -> Vec<openclaw_agent::ToolSpec> {
        vec![openclaw_agent::ToolSpec {
            name: "echo_twice".into(),
            description: "echo".into(),
            parameters: json!({"type": "object", "properties": {"text": {"type": "string"}}}),
        }]
    }

    fn call(&self, call: openclaw_agent::ToolCall) -> Option<openclaw_agent::ToolFuture> {
        if call.name != "echo_twice" {
            return None;
        }
        Some(Box::pin(async move {
            let text = call.args["text"].as_str().unwrap_or_default().to_string();
            call.updates.send(json!({"partial": text.clone()}));
            // Give the runner a chance to forward the update before the result.
            tokio::time::sleep(Duration::from_millis(20)).await;
            openclaw_agent::ToolOutput {
                content: format!("{text}{text}"),
                is_error: false,
                details: Value::Null,
            }
        }))
    }
}

#[tokio::test]
async fn host_tools_are_offered_called_and_stream_updates() {
    let ws = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fake = FakeOpenAi::start().await;
    fake.push(Script::tool_call(
        "call_h",
        "echo_twice",
        json!({"text": "ab"}),
        "done",
    ));
    let provider = openai_provider("p", &fake.url());
    let mut req = turn(vec![(provider, "m1".to_string())], ws.path(), "go");
    req.tool_ctx.host = Some(std::sync::Arc::new(EchoHost));
    req.tools = req.tool_ctx.tools();
    let (r, events) = run(req).await;
    let out = r.unwrap_or_else(|(e, _)| panic!("turn failed: {e}"));
    assert_eq!(out.final_text, "done");
    let first = fake.requests();
    assert!(
        tool_names(&first[0]).contains(&"echo_twice".to_string()),
        "host tool not offered: {:?}",
        tool_names(&first[0])
    );
    assert!(out.new_messages[1].text().contains("abab"));
    let update = events.iter().position(
        |e| matches!(e, RunEvent::ToolUpdate { id, partial, .. } if id == "call_h" && partial["partial"] == "ab"),
    );
    let result = events
        .iter()
        .position(|e| matches!(e, RunEvent::ToolResult { id, .. } if id == "call_h"));
    assert!(
        matches!((update, result), (Some(u), Some(r)) if u < r),
        "{events:?}"
    );
}
