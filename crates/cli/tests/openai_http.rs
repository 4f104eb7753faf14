//! The OpenAI-compatible HTTP surface as OpenAI's clients see it, through the real binary and a
//! fake provider on loopback: the `/v1/responses` stream in the Responses API's full event
//! sequence (lifecycle events sharing one `response`, the item and part opened and closed,
//! `sequence_number` increasing) on success, failure and abort, and `GET /v1/models[/{id}]`.
//! The official `openai` Python package drives both when it is installed (CI installs it):
//! `client.responses.stream(...)`, `client.responses.create(stream=True)`,
//! `client.responses.create(...).output_text`, `client.models.list()` / `.retrieve()`.

mod common;

use std::time::Duration;

use common::*;
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

fn start(fake: &FakeOpenAi, endpoints: Value) -> Gateway {
    let home = Home::new();
    let mut cfg = fake_model_config(&home, &fake.url());
    cfg["gateway"]["http"] = json!({ "endpoints": endpoints });
    cfg["agents"]["list"] = json!([{"id": "main", "default": true}, {"id": "ops"}]);
    home.write_config(&cfg);
    Gateway::start_in(home, &["gateway", "--port", "0"], &[])
}

fn http(port: u16, method: &str, path: &str, auth: bool, body: &str) -> (u16, String, String) {
    let bearer = format!("Bearer {TOKEN}");
    let mut headers = vec![("Content-Type", "application/json")];
    if auth {
        headers.push(("authorization", bearer.as_str()));
    }
    http_request(port, method, path, &headers, body)
}

/// The SSE events of a body: (event name, data), `[DONE]` left out.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut name = String::new();
    for line in body.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_string();
        } else if let Some(d) = line.strip_prefix("data: ")
            && d != "[DONE]"
        {
            out.push((name.clone(), serde_json::from_str(d).unwrap()));
        }
    }
    out
}

/// Checks what every Responses stream must hold: each event's `type` is its SSE name,
/// `sequence_number` counts up from 0, lifecycle events carry the same response id, and the
/// item/part events name the one message item. Returns the event types in order.
fn check_stream(events: &[(String, Value)]) -> Vec<String> {
    let id = events[0].1["response"]["id"].as_str().unwrap().to_string();
    let item = events
        .iter()
        .find(|(n, _)| n == "response.output_item.added")
        .map(|(_, d)| d["item"]["id"].as_str().unwrap().to_string())
        .unwrap();
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str(), "{data}");
        assert_eq!(data["sequence_number"], i as u64, "{data}");
        if data.get("response").is_some() {
            assert_eq!(data["response"]["id"], id.as_str(), "{data}");
            assert_eq!(data["response"]["object"], "response");
        }
        if data.get("item_id").is_some() {
            assert_eq!(data["item_id"], item.as_str());
            assert_eq!(data["output_index"], 0);
            assert_eq!(data["content_index"], 0);
        }
    }
    events.iter().map(|(n, _)| n.clone()).collect()
}

fn python_openai() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import openai"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have the openai package (installed by .ci/run)"
        );
        eprintln!("SKIP openai client check: python3 with the `openai` package is not installed");
    }
    ok
}

fn run_python(script: &str) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_stream_is_the_full_event_sequence() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::text_in("one two three", 3));
    let gw = start(&fake, json!({"responses": {"enabled": true}}));
    let req = json!({"model": "openclaw", "stream": true, "input": "hi"});
    let (status, head, body) = http(gw.port, "POST", "/v1/responses", true, &req.to_string());
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("text/event-stream"));
    let events = sse_events(&body);
    let types = check_stream(&events);
    let deltas = types
        .iter()
        .filter(|t| *t == "response.output_text.delta")
        .count();
    assert!(deltas >= 1, "{types:?}");
    let expected: Vec<&str> = [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    .into_iter()
    .chain(std::iter::repeat_n("response.output_text.delta", deltas))
    .chain([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ])
    .collect();
    assert_eq!(types, expected);
    assert!(body.contains("data: [DONE]"), "{body}");
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "one two three");
    let by = |name: &str| &events.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(by("response.created")["response"]["status"], "in_progress");
    assert_eq!(
        by("response.in_progress")["response"]["status"],
        "in_progress"
    );
    assert_eq!(by("response.output_text.done")["text"], "one two three");
    assert_eq!(
        by("response.output_item.done")["item"]["content"][0]["text"],
        "one two three"
    );
    assert_eq!(
        by("response.output_item.done")["item"]["status"],
        "completed"
    );
    let done = &by("response.completed")["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"][0]["content"][0]["text"], "one two three");
    assert!(done["usage"]["total_tokens"].is_u64(), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_ends_the_stream_with_response_failed() {
    let fake = FakeOpenAi::start().await;
    for _ in 0..4 {
        fake.push(Script::stream_error("server_error", "the model broke"));
    }
    let gw = start(&fake, json!({"responses": {"enabled": true}}));
    let req = json!({"model": "openclaw", "stream": true, "input": "hi"});
    let (status, _, body) = http(gw.port, "POST", "/v1/responses", true, &req.to_string());
    assert_eq!(status, 200, "{body}");
    let events = sse_events(&body);
    let types = check_stream(&events);
    assert_eq!(types.last().unwrap(), "response.failed", "{types:?}");
    assert!(!types.contains(&"response.completed".to_string()));
    // The item is closed before the response fails, so no client holds an open item.
    assert!(types.contains(&"response.output_item.done".to_string()));
    let failed = &events.last().unwrap().1["response"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "server_error");
    assert!(
        failed["error"]["message"].as_str().unwrap().len() > 3,
        "{failed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_run_ends_the_stream_with_response_incomplete() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::slow(
        "a b c d e f g h",
        8,
        Duration::from_millis(400),
    ));
    let gw = start(&fake, json!({"responses": {"enabled": true}}));
    let port = gw.port;
    let streaming = std::thread::spawn(move || {
        let bearer = format!("Bearer {TOKEN}");
        let req = json!({"model": "openclaw", "stream": true, "input": "slow please"});
        http_request(
            port,
            "POST",
            "/v1/responses",
            &[
                ("Content-Type", "application/json"),
                ("authorization", &bearer),
                ("x-openclaw-session-key", "resp-abort"),
            ],
            &req.to_string(),
        )
    });
    assert!(fake.wait_for_requests(1, Duration::from_secs(10)).await);
    let (mut raw, _) = connected(&gw.url(), &["operator.admin", "operator.write"]).await;
    let r = raw
        .req(
            "abort",
            "chat.abort",
            Some(json!({"sessionKey": "agent:main:resp-abort"})),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let (status, _, body) = streaming.join().unwrap();
    assert_eq!(status, 200, "{body}");
    let events = sse_events(&body);
    let types = check_stream(&events);
    assert_eq!(types.last().unwrap(), "response.incomplete", "{types:?}");
    let r = &events.last().unwrap().1["response"];
    assert_eq!(r["status"], "incomplete");
    assert_eq!(r["output"][0]["status"], "incomplete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdk_streams_and_parses_responses() {
    let fake = FakeOpenAi::start().await;
    let gw = start(
        &fake,
        json!({"responses": {"enabled": true}, "chatCompletions": {"enabled": true}}),
    );
    if !python_openai() {
        return;
    }
    let script = format!(
        r#"
import openai
c = openai.OpenAI(base_url="http://127.0.0.1:{port}/v1", api_key="{TOKEN}", max_retries=0)
with c.responses.stream(model="openclaw", input="helper stream") as s:
    kinds = [e.type for e in s]
    final = s.get_final_response()
print("HELPER:" + final.output_text)
print("HELPER_KINDS:" + ",".join(kinds))
seqs = []
text = ""
for e in c.responses.create(model="openclaw/ops", input="raw stream", stream=True):
    seqs.append(e.sequence_number)
    if e.type == "response.output_text.delta":
        text += e.delta
print("RAW:" + text)
print("SEQ_OK:" + str(seqs == list(range(len(seqs)))))
r = c.responses.create(model="openclaw", input="not streamed")
print("PLAIN:" + r.output_text + ":" + r.status)
"#,
        port = gw.port
    );
    let out = run_python(&script);
    assert!(out.contains("HELPER:echo: helper stream"), "{out}");
    assert!(
        out.contains("HELPER_KINDS:response.created,response.in_progress,response.output_item.added,response.content_part.added,response.output_text.delta"),
        "{out}"
    );
    assert!(out.contains("response.completed\n"), "{out}");
    assert!(out.contains("RAW:echo: raw stream"), "{out}");
    assert!(out.contains("SEQ_OK:True"), "{out}");
    assert!(out.contains("PLAIN:echo: not streamed:completed"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_endpoint_lists_the_agent_model_ids() {
    let fake = FakeOpenAi::start().await;
    let gw = start(&fake, json!({}));
    let (status, _, body) = http(gw.port, "GET", "/v1/models", true, "");
    assert_eq!(
        (status, body.as_str()),
        (404, "Not Found"),
        "off with both endpoints"
    );
    drop(gw);
    // Either OpenAI-compatible endpoint turns it on.
    let gw = start(&fake, json!({"responses": {"enabled": true}}));
    let (status, _, _) = http(gw.port, "GET", "/v1/models", false, "");
    assert_eq!(status, 401, "same auth as the other endpoints");
    let (status, head, body) = http(gw.port, "GET", "/v1/models", true, "");
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("application/json"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "openclaw",
            "openclaw/default",
            "openclaw/main",
            "openclaw/ops"
        ]
    );
    let first = &v["data"][0];
    assert_eq!(first["object"], "model");
    assert_eq!(first["owned_by"], "openclaw");
    assert_eq!(first["created"], 0);
    let (status, _, body) = http(gw.port, "GET", "/v1/models/openclaw%2Fops", true, "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["id"],
        "openclaw/ops"
    );
    let (status, _, body) = http(gw.port, "GET", "/v1/models/openclaw/main", true, "");
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = http(gw.port, "GET", "/v1/models/openclaw:nobody", true, "");
    assert_eq!(status, 404, "well-formed but not listed: {body}");
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert_eq!(e["error"]["message"], "Model 'openclaw:nobody' not found.");
    let (status, _, body) = http(gw.port, "GET", "/v1/models/gpt-4o", true, "");
    assert_eq!(status, 400, "{body}");
    let (status, head, _) = http(gw.port, "POST", "/v1/models", true, "{}");
    assert_eq!(status, 405);
    assert!(head.contains("allow: get"), "{head}");
    if !python_openai() {
        return;
    }
    let script = format!(
        r#"
import openai
c = openai.OpenAI(base_url="http://127.0.0.1:{port}/v1", api_key="{TOKEN}", max_retries=0)
print("IDS:" + ",".join(m.id for m in c.models.list()))
print("ONE:" + c.models.retrieve("openclaw/main").owned_by)
"#,
        port = gw.port
    );
    let out = run_python(&script);
    assert!(
        out.contains("IDS:openclaw,openclaw/default,openclaw/main,openclaw/ops"),
        "{out}"
    );
    assert!(out.contains("ONE:openclaw"), "{out}");
}
