//! The fakes' raw wire output, read over a plain TCP socket (no HTTP client library), so the
//! frames other tests rely on are pinned down: SSE framing, terminators, error bodies,
//! non-streaming replies, the echo default, and request recording.

use std::time::Duration;

use openclaw_testkit::{FakeAnthropic, FakeOpenAi, FakeServer, Script};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one HTTP/1.1 POST and returns the whole raw response (headers + body).
/// `{"stream": true}` to the OpenAI fake's chat completions: the raw response.
async fn openai_stream(fake: &FakeServer) -> String {
    post(
        fake.addr(),
        "/v1/chat/completions",
        &json!({"stream": true}),
    )
    .await
}

async fn post(addr: std::net::SocketAddr, path: &str, body: &Value) -> String {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let body = body.to_string();
    let req = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nauthorization: Bearer k\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "response did not finish");
    String::from_utf8_lossy(&out).into_owned()
}

fn data_lines(raw: &str) -> Vec<String> {
    raw.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn openai_stream_frames_end_with_done_and_carry_usage() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::text_in("abcdef", 3));
    assert!(fake.url().ends_with("/v1"));
    let body = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": "hi"}]});
    let raw = post(fake.addr(), "/v1/chat/completions", &body).await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(
        raw.to_ascii_lowercase()
            .contains("content-type: text/event-stream")
    );
    let data = data_lines(&raw);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "abcdef");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["total_tokens"].as_u64().unwrap_or(0) > 0);

    let rec = fake.recorded();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].path, "/v1/chat/completions");
    assert_eq!(rec[0].header("Authorization"), Some("Bearer k"));
    assert_eq!(fake.requests()[0], body);
}

#[tokio::test]
async fn openai_echo_default_json_reply_and_errors() {
    let fake = FakeOpenAi::start().await;
    // Not streaming: one chat.completion document with the echo.
    let raw = post(
        fake.addr(),
        "/v1/chat/completions",
        &json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "ping"}]}]}),
    )
    .await;
    let body: Value = raw
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|b| serde_json::from_str(b.trim()).ok())
        .unwrap_or_else(|| panic!("{raw}"));
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "echo: ping");

    fake.push(Script::rate_limited(1));
    let raw = openai_stream(&fake).await;
    assert!(raw.starts_with("HTTP/1.1 429"), "{raw}");
    assert!(raw.to_ascii_lowercase().contains("retry-after: 1"));
    assert!(raw.contains("\"code\":\"rate_limit_exceeded\""));

    fake.push(Script::server_error());
    let raw = openai_stream(&fake).await;
    assert!(raw.starts_with("HTTP/1.1 500"), "{raw}");
    assert!(fake.wait_for_requests(3, Duration::from_secs(1)).await);
    assert_eq!(fake.pending(), 0);
}

#[tokio::test]
async fn openai_tool_call_then_text() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::tool_call(
        "call_1",
        "read",
        json!({"path": "a"}),
        "done",
    ));
    let raw = openai_stream(&fake).await;
    let data = data_lines(&raw);
    let args: String = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(args, r#"{"path":"a"}"#);
    assert!(raw.contains("\"finish_reason\":\"tool_calls\""));
    // The follow-up text was queued for the next request.
    assert_eq!(fake.pending(), 1);
    let raw = openai_stream(&fake).await;
    assert!(raw.contains("\"content\":\"d"), "{raw}");
}

#[tokio::test]
async fn anthropic_stream_uses_named_events_in_order() {
    let fake = FakeAnthropic::start().await;
    let body = json!({"model": "claude", "max_tokens": 10, "stream": true,
        "messages": [{"role": "user", "content": "hello"}]});
    let raw = post(fake.addr(), "/v1/messages", &body).await;
    let events: Vec<&str> = raw
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        events,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let text: String = data_lines(&raw)
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "echo: hello");
    assert!(raw.contains("\"stop_reason\":\"end_turn\""));

    fake.push(Script::stream_error("overloaded_error", "Overloaded"));
    let raw = post(fake.addr(), "/v1/messages", &body).await;
    assert!(raw.contains("event: error"));
    assert!(raw.contains(r#""type":"overloaded_error""#), "{raw}");

    fake.push(Script::rate_limited(2));
    let raw = post(fake.addr(), "/v1/messages", &body).await;
    assert!(raw.starts_with("HTTP/1.1 429"));
    assert!(raw.contains("rate_limit_error"));
}
