//! The agent runtime through the real binary, against a fake OpenAI-compatible provider on
//! loopback: the two-phase `agent` method and its events, idempotent retries, per-session
//! queueing, abort, crash-safe transcripts (kill -9 mid-run), chat methods, sessions, the
//! OpenAI-compatible HTTP endpoint (also with the official `openai` Python client), `/tools/invoke`
//! policy, hooks auth, heartbeats, and `openclaw agent`.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

fn agent_config(home: &Home, fake_url: &str, extra: Value) -> Value {
    let mut cfg = fake_model_config(home, fake_url);
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    cfg
}

async fn start_with(fake: &FakeOpenAi, extra: Value) -> Gateway {
    let home = Home::new();
    home.write_config(&agent_config(&home, &fake.url(), extra));
    Gateway::start_in(home, &["gateway", "--port", "0"], &[])
}

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];

fn agent_req(id: &str, message: &str, key: &str) -> Value {
    json!({"type": "req", "id": id, "method": "agent", "params": {"message": message, "idempotencyKey": key}})
}

/// Collects frames until the second `res` for `id`; returns (ack, final, events in order).
async fn run_agent(raw: &mut Raw, id: &str) -> (Value, Value, Vec<Value>) {
    let mut ack = None;
    let mut events = Vec::new();
    loop {
        let f = raw.frame().await;
        if f["type"] == "res" && f["id"] == id {
            match ack {
                None => ack = Some(f),
                Some(a) => return (a, f, events),
            }
        } else if f["type"] == "event" && (f["event"] == "agent" || f["event"] == "chat") {
            events.push(f);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phase_agent_with_streamed_events() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::text_in("Hello from the fake model", 4));
    let gw = start_with(&fake, json!({})).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    raw.send(&agent_req("a1", "hi there", "run-1")).await;
    let (ack, fin, events) = run_agent(&mut raw, "a1").await;
    assert_eq!(ack["payload"]["runId"], "run-1");
    assert_eq!(ack["payload"]["status"], "accepted");
    assert!(ack["payload"]["acceptedAt"].as_u64().is_some());
    assert_eq!(fin["ok"], true, "{fin}");
    let p = &fin["payload"];
    assert_eq!(p["status"], "ok");
    assert_eq!(p["summary"], "completed");
    assert_eq!(
        p["result"]["payloads"][0]["text"],
        "Hello from the fake model"
    );
    assert_eq!(p["result"]["meta"]["agentMeta"]["provider"], "fake");
    assert_eq!(p["result"]["meta"]["agentMeta"]["model"], "m1");
    // agent stream: lifecycle start → assistant deltas → lifecycle end, seq strictly increasing.
    let agent: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "agent")
        .map(|e| &e["payload"])
        .collect();
    assert_eq!(agent.first().unwrap()["stream"], "lifecycle");
    assert_eq!(agent.first().unwrap()["data"]["phase"], "start");
    assert_eq!(agent.last().unwrap()["data"]["phase"], "end");
    assert!(agent.iter().filter(|e| e["stream"] == "assistant").count() >= 2);
    let seqs: Vec<u64> = agent.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
    let last_text = agent
        .iter()
        .rev()
        .find(|e| e["stream"] == "assistant")
        .unwrap()["data"]["text"]
        .clone();
    assert_eq!(last_text, "Hello from the fake model");
    // chat: exactly one terminal final with the message.
    let finals: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "chat" && e["payload"]["state"] == "final")
        .collect();
    assert_eq!(finals.len(), 1);
    assert_eq!(
        finals[0]["payload"]["message"]["content"][0]["text"],
        "Hello from the fake model"
    );
    assert_eq!(finals[0]["payload"]["sessionKey"], "agent:main:main");
    // The provider got the system prompt and the user turn.
    let req = &fake.requests()[0];
    assert_eq!(req["model"], "m1");
    assert_eq!(req["stream"], true);
    let msgs = req["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "system");
    assert!(
        msgs.iter()
            .any(|m| m["role"] == "user" && m["content"].to_string().contains("hi there"))
    );
    // History and sessions.
    let h = raw
        .req("h", "chat.history", Some(json!({"sessionKey": "main"})))
        .await;
    let m = h["payload"]["messages"].as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["role"], "user");
    assert_eq!(m[1]["role"], "assistant");
    let s = raw.req("s", "sessions.list", None).await;
    assert_eq!(s["payload"]["sessions"][0]["key"], "agent:main:main");
    assert_eq!(s["payload"]["count"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retry_returns_the_same_run() {
    let fake = FakeOpenAi::start().await;
    let gw = start_with(&fake, json!({})).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    raw.send(&agent_req("a1", "once", "same-key")).await;
    let (_, first, _) = run_agent(&mut raw, "a1").await;
    raw.send(&agent_req("a2", "once", "same-key")).await;
    let (ack, again, _) = run_agent(&mut raw, "a2").await;
    assert_eq!(ack["payload"]["runId"], "same-key");
    assert_eq!(again["payload"], first["payload"]);
    assert_eq!(fake.request_count(), 1, "never ran twice");
    // agent.wait on the finished run resolves at once.
    let w = raw
        .req(
            "w",
            "agent.wait",
            Some(json!({"runId": "same-key", "timeoutMs": 1000})),
        )
        .await;
    assert_eq!(w["payload"]["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_queue_per_session_and_abort() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::slow("first reply", 5, Duration::from_millis(100)));
    fake.push(Script::text("second reply"));
    // Each message its own turn (the default, steer, would answer "two" inside q1: see
    // queue_modes.rs).
    let gw = start_with(
        &fake,
        json!({"messages": {"queue": {"mode": "followup", "debounceMs": 0}}}),
    )
    .await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    raw.send(&agent_req("a1", "one", "q1")).await;
    raw.send(&agent_req("a2", "two", "q2")).await;
    let mut order = Vec::new();
    let mut finals = 0;
    while finals < 2 {
        let f = raw.frame().await;
        if f["event"] == "agent" && f["payload"]["stream"] == "lifecycle" {
            order.push(format!(
                "{}:{}",
                f["payload"]["runId"].as_str().unwrap(),
                f["payload"]["data"]["phase"].as_str().unwrap()
            ));
        }
        if f["type"] == "res" && f["payload"]["status"] == "ok" {
            finals += 1;
        }
    }
    assert_eq!(
        order,
        vec!["q1:start", "q1:end", "q2:start", "q2:end"],
        "one run at a time per session"
    );

    // Abort a slow run.
    fake.push(Script::slow(
        "this takes a while",
        50,
        Duration::from_millis(100),
    ));
    raw.send(&agent_req("a3", "slow", "q3")).await;
    raw.event("agent").await; // lifecycle start
    let r = raw
        .req("x", "chat.abort", Some(json!({"sessionKey": "main"})))
        .await;
    assert_eq!(r["payload"]["aborted"], true);
    assert_eq!(r["payload"]["runIds"], json!(["q3"]));
    loop {
        let f = raw.frame().await;
        if f["type"] == "res" && f["id"] == "a3" && f["payload"]["status"] != "accepted" {
            assert_eq!(f["ok"], false);
            assert_eq!(f["payload"]["status"], "error");
            break;
        }
    }
    // Wrong session for a run id.
    let r = raw
        .req(
            "y",
            "chat.abort",
            Some(json!({"sessionKey": "other", "runId": "q1"})),
        )
        .await;
    assert_eq!(r["error"]["message"], "runId does not match sessionKey");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_send_streams_chat_events_and_dedupes() {
    let fake = FakeOpenAi::start().await;
    let gw = start_with(&fake, json!({})).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let r = raw
        .req(
            "c1",
            "chat.send",
            Some(json!({"sessionKey": "main", "message": "ping", "idempotencyKey": "cs-1"})),
        )
        .await;
    assert_eq!(r["payload"], json!({"runId": "cs-1", "status": "started"}));
    let fin = loop {
        let e = raw.event("chat").await;
        if e["payload"]["state"] == "final" {
            break e;
        }
    };
    assert_eq!(
        fin["payload"]["message"]["content"][0]["text"],
        "echo: ping"
    );
    let w = raw
        .req("w", "agent.wait", Some(json!({"runId": "cs-1"})))
        .await;
    assert_eq!(w["payload"]["status"], "ok");
    let r = raw
        .req(
            "c2",
            "chat.send",
            Some(json!({"sessionKey": "main", "message": "ping", "idempotencyKey": "cs-1"})),
        )
        .await;
    assert_eq!(r["payload"]["status"], "ok");
    assert_eq!(fake.request_count(), 1);
    // /new resets the session without a model run.
    let r = raw
        .req(
            "c3",
            "chat.send",
            Some(json!({"sessionKey": "main", "message": "/new", "idempotencyKey": "cs-2"})),
        )
        .await;
    assert_eq!(r["payload"]["status"], "ok");
    let h = raw
        .req("h", "chat.history", Some(json!({"sessionKey": "main"})))
        .await;
    assert_eq!(h["payload"]["messages"], json!([]));
    // Bad params name the path.
    let r = raw
        .req(
            "c4",
            "chat.send",
            Some(json!({"sessionKey": "main", "message": "x"})),
        )
        .await;
    assert_eq!(
        r["error"]["message"],
        "invalid chat.send params: must have required property 'idempotencyKey'"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_errors_retries_and_missing_model() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::rate_limited(1));
    fake.push(Script::text("after the retry"));
    let gw = start_with(&fake, json!({})).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    raw.send(&agent_req("a1", "x", "r429")).await;
    let (_, fin, _) = run_agent(&mut raw, "a1").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"], "after the retry",
        "{fin}"
    );
    assert_eq!(fake.request_count(), 2);

    // No model configured: a clear error on the run, not at startup.
    let gw2 = Gateway::start();
    let (mut raw2, _) = connected(&gw2.url(), OP).await;
    raw2.send(&agent_req("a1", "x", "nomodel")).await;
    let (_, fin, _) = run_agent(&mut raw2, "a1").await;
    assert_eq!(fin["ok"], false);
    assert!(
        fin["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no model configured"),
        "{fin}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcript_survives_kill_9_mid_run() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::text("first answer"));
    fake.push(Script::slow(
        "never finishes",
        100,
        Duration::from_millis(200),
    ));
    let home = Home::new();
    home.write_config(&agent_config(&home, &fake.url(), json!({})));
    let mut gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    {
        let (mut raw, _) = connected(&gw.url(), OP).await;
        raw.send(&agent_req("a1", "question one", "k1")).await;
        run_agent(&mut raw, "a1").await;
        raw.send(&agent_req("a2", "question two", "k2")).await;
        raw.event("agent").await;
        assert!(fake.wait_for_requests(2, Duration::from_secs(5)).await);
    }
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5)).expect("killed");
    // A torn last line, as a crash during a write would leave.
    let sessions = gw.home.state_dir().join("agents/main/sessions");
    let transcript = std::fs::read_dir(&sessions)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("transcript file");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    f.write_all(b"{\"type\":\"message\",\"id\":\"torn").unwrap();
    drop(f);
    let gw = Gateway::start_in(gw.into_home(), &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let h = raw
        .req("h", "chat.history", Some(json!({"sessionKey": "main"})))
        .await;
    let texts: Vec<String> = h["payload"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].to_string())
        .collect();
    assert!(texts[0].contains("question one"), "{texts:?}");
    assert!(texts[1].contains("first answer"), "{texts:?}");
    assert!(texts[2].contains("question two"), "{texts:?}");
    assert_eq!(texts.len(), 3, "torn line skipped: {texts:?}");
    // And the session keeps working after the torn line.
    fake.push(Script::text("third answer"));
    raw.send(&agent_req("a3", "question three", "k3")).await;
    let (_, fin, _) = run_agent(&mut raw, "a3").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"],
        "third answer"
    );
    let h = raw
        .req("h2", "chat.history", Some(json!({"sessionKey": "main"})))
        .await;
    assert_eq!(h["payload"]["messages"].as_array().unwrap().len(), 5);
}

/// `http_request` with a JSON content type (callers' headers follow and may add more).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    http_request(port, method, path, &all, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_completions_endpoint() {
    let fake = FakeOpenAi::start().await;
    // Disabled by default: 404 as the reference.
    let gw = start_with(&fake, json!({})).await;
    let (status, _, body) = http(
        gw.port,
        "POST",
        "/v1/chat/completions",
        &[("authorization", &format!("Bearer {TOKEN}"))],
        "{}",
    );
    assert_eq!((status, body.as_str()), (404, "Not Found"));
    drop(gw);

    let gw = start_with(&fake, json!({})).await;
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(gw.home.config_path()).unwrap()).unwrap();
    drop(gw);
    cfg["gateway"]["http"] = json!({"endpoints": {"chatCompletions": {"enabled": true}}});
    let home = Home::new();
    cfg["logging"]["file"] = json!(home.log_path());
    home.write_config(&cfg);
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let auth = format!("Bearer {TOKEN}");
    let (status, _, body) = http(
        gw.port,
        "POST",
        "/v1/chat/completions",
        &[("authorization", "Bearer nope")],
        "{}",
    );
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["type"],
        "unauthorized"
    );
    let (status, _, body) = http(
        gw.port,
        "POST",
        "/v1/chat/completions",
        &[("authorization", &auth)],
        "{not json",
    );
    assert_eq!(status, 400, "{body}");
    let req = json!({"model": "openclaw:main", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello api"}]});
    let (status, _, body) = http(
        gw.port,
        "POST",
        "/v1/chat/completions",
        &[("authorization", &auth)],
        &req.to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: hello api");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let mut sreq = req.clone();
    sreq["stream"] = json!(true);
    let (status, head, body) = http(
        gw.port,
        "POST",
        "/v1/chat/completions",
        &[("authorization", &auth)],
        &sreq.to_string(),
    );
    assert_eq!(status, 200);
    assert!(head.contains("text/event-stream"));
    let chunks: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "echo: hello api");
    assert!(body.contains("data: [DONE]"), "{body}");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );

    // The official Python client, when available (CI installs it).
    let script = format!(
        r#"
import openai
c = openai.OpenAI(base_url="http://127.0.0.1:{port}/v1", api_key="{TOKEN}")
r = c.chat.completions.create(model="openclaw:main", messages=[{{"role":"user","content":"from python"}}])
print("NONSTREAM:" + r.choices[0].message.content)
s = c.chat.completions.create(model="openclaw:main", messages=[{{"role":"user","content":"streamed"}}], stream=True)
print("STREAM:" + "".join((ch.choices[0].delta.content or "") for ch in s if ch.choices))
"#,
        port = gw.port
    );
    let probe = std::process::Command::new("python3")
        .args(["-c", "import openai"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have the openai package (installed by .ci/run)"
        );
        eprintln!(
            "SKIP openai client check: python3 with the `openai` package is not installed here"
        );
        return;
    }
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("NONSTREAM:echo: from python"), "{stdout}");
    assert!(stdout.contains("STREAM:echo: streamed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_invoke_honours_policy_and_the_workspace() {
    let fake = FakeOpenAi::start().await;
    let gw = start_with(&fake, json!({"tools": {"deny": ["write"]}})).await;
    let ws = gw.home.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("notes.txt"), "remember the milk").unwrap();
    let auth = format!("Bearer {TOKEN}");
    let (status, _, _) = http(
        gw.port,
        "POST",
        "/tools/invoke",
        &[],
        r#"{"tool":"read","args":{"path":"notes.txt"}}"#,
    );
    assert_eq!(status, 401);
    let (status, _, body) = http(
        gw.port,
        "POST",
        "/tools/invoke",
        &[("authorization", &auth)],
        r#"{"tool":"read","args":{"path":"notes.txt"}}"#,
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ok"], true);
    assert!(
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("remember the milk")
    );
    let (status, _, body) = http(
        gw.port,
        "POST",
        "/tools/invoke",
        &[("authorization", &auth)],
        r#"{"tool":"write","args":{"path":"x.txt","content":"no"}}"#,
    );
    assert_eq!(status, 404, "denied by policy: {body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["type"],
        "not_found"
    );
    let (status, _, body) = http(
        gw.port,
        "POST",
        "/tools/invoke",
        &[("authorization", &auth)],
        r#"{"tool":"read","args":{"path":"../../etc/passwd"}}"#,
    );
    assert_eq!(status, 400, "traversal refused: {body}");
    let (status, _, _) = http(
        gw.port,
        "POST",
        "/tools/invoke",
        &[("authorization", &auth)],
        r#"{"tool":"nope"}"#,
    );
    assert_eq!(status, 404);
    let (status, _, _) = http(
        gw.port,
        "POST",
        "/tools/invoke",
        &[("authorization", &auth)],
        r#"{"args":{}}"#,
    );
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_need_their_own_token() {
    let fake = FakeOpenAi::start().await;
    let gw = start_with(
        &fake,
        json!({"hooks": {"enabled": true, "token": "hook-secret-1"}}),
    )
    .await;
    let (status, _, _) = http(
        gw.port,
        "POST",
        "/hooks/wake",
        &[("authorization", "Bearer wrong")],
        r#"{"text":"x"}"#,
    );
    assert_eq!(status, 401);
    let (status, _, _) = http(
        gw.port,
        "POST",
        "/hooks/wake",
        &[("authorization", &format!("Bearer {TOKEN}"))],
        r#"{"text":"x"}"#,
    );
    assert_eq!(status, 401, "the gateway token is not the hook token");
    let (status, _, body) = http(
        gw.port,
        "POST",
        "/hooks/wake",
        &[("x-openclaw-token", "hook-secret-1")],
        r#"{"text":"wake up","mode":"next-heartbeat"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = http(
        gw.port,
        "POST",
        "/hooks/agent",
        &[("authorization", "Bearer hook-secret-1")],
        r#"{"message":"from a webhook"}"#,
    );
    assert_eq!(status, 202, "{body}");
    assert!(serde_json::from_str::<Value>(&body).unwrap()["runId"].is_string());
    assert!(fake.wait_for_requests(1, Duration::from_secs(10)).await);
    let (status, _, _) = http(
        gw.port,
        "GET",
        "/hooks/wake",
        &[("authorization", "Bearer hook-secret-1")],
        "",
    );
    assert_eq!(status, 405);
    let (status, _, _) = http(
        gw.port,
        "POST",
        "/hooks/wake",
        &[("authorization", "Bearer hook-secret-1")],
        r#"{"mode":"now"}"#,
    );
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_ok_is_suppressed_and_recorded() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::text("HEARTBEAT_OK"));
    let gw = start_with(&fake, json!({})).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let r = raw
        .req(
            "w",
            "wake",
            Some(json!({"mode": "now", "text": "check things"})),
        )
        .await;
    assert_eq!(r["payload"]["ok"], true);
    let ev = raw.event("heartbeat").await;
    assert_eq!(ev["payload"]["status"], "ok-token", "{ev}");
    let last = raw.req("l", "last-heartbeat", None).await;
    assert_eq!(last["payload"]["status"], "ok-token");
    let r = raw
        .req("s", "set-heartbeats", Some(json!({"enabled": false})))
        .await;
    assert_eq!(r["payload"], json!({"ok": true, "enabled": false}));
    raw.req("w2", "wake", Some(json!({"text": "again"}))).await;
    let ev = raw.event("heartbeat").await;
    assert_eq!(ev["payload"]["status"], "skipped");
    assert_eq!(ev["payload"]["reason"], "disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_agent_prints_the_reply() {
    let fake = FakeOpenAi::start().await;
    let gw = start_with(&fake, json!({})).await;
    let env = [("OPENCLAW_GATEWAY_PORT", gw.port.to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out, err) = run_cli(&gw.home, &["agent", "--message", "cli says hi"], &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "echo: cli says hi");
    let (code, out, _) = run_cli(
        &gw.home,
        &["agent", "--message", "json please", "--json"],
        &env,
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["result"]["payloads"][0]["text"], "echo: json please");
    drop(gw);
    let (code, _, err) = run_cli(&Home::new(), &["agent", "--message", "x"], &env);
    assert_eq!(code, 1);
    assert!(err.contains("not reachable"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_run_in_the_workspace_and_stream_to_tool_event_clients() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::tool_call(
        "call_1",
        "read",
        json!({"path": "notes.txt"}),
        "The note says: buy milk",
    ));
    let gw = start_with(&fake, json!({})).await;
    let ws = gw.home.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("notes.txt"), "buy milk").unwrap();
    // One client asks for tool events, one does not.
    let (mut plain, _) = connected(&gw.url(), OP).await;
    let (mut tools, _) = Raw::open(&gw.url()).await;
    let mut p = connect_params(Some(TOKEN), OP);
    p["caps"] = json!(["tool-events"]);
    tools.send(&connect_frame("c", p)).await;
    assert_eq!(tools.res("c").await["ok"], true);

    plain
        .send(&agent_req("a1", "what does my note say?", "tool-run"))
        .await;
    let (_, fin, events) = run_agent(&mut plain, "a1").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"], "The note says: buy milk",
        "{fin}"
    );
    assert!(
        !events.iter().any(|e| e["payload"]["stream"] == "tool"),
        "no tool events without the cap"
    );
    // The second model call carried the tool result.
    let second = &fake.requests()[1];
    assert!(
        second["messages"].to_string().contains("buy milk"),
        "{second}"
    );
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let e = tools.event("agent").await;
        if e["payload"]["stream"] == "tool" {
            seen.push(e["payload"]["data"]["phase"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen, vec!["start", "result"]);
    // The transcript keeps the tool call and its result.
    let h = plain
        .req("h", "chat.history", Some(json!({"sessionKey": "main"})))
        .await;
    let roles: Vec<&str> = h["payload"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["user", "assistant", "toolResult", "assistant"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_reset_and_delete() {
    let fake = FakeOpenAi::start().await;
    let gw = start_with(&fake, json!({})).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let mut a = json!({"type": "req", "id": "a1", "method": "agent", "params": {"message": "hi", "idempotencyKey": "s1", "sessionKey": "side"}});
    raw.send(&a).await;
    run_agent(&mut raw, "a1").await;
    let list = raw.req("l", "sessions.list", None).await;
    assert!(
        list["payload"]["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["key"] == "agent:main:side")
    );
    let r = raw
        .req("r", "sessions.reset", Some(json!({"key": "side"})))
        .await;
    assert_eq!(r["payload"]["ok"], true);
    let h = raw
        .req("h", "chat.history", Some(json!({"sessionKey": "side"})))
        .await;
    assert_eq!(h["payload"]["messages"], json!([]));
    a["id"] = json!("a2");
    a["params"]["idempotencyKey"] = json!("s2");
    raw.send(&a).await;
    run_agent(&mut raw, "a2").await;
    let d = raw
        .req("d", "sessions.delete", Some(json!({"key": "side"})))
        .await;
    assert_eq!(d["payload"]["deleted"], true, "{d}");
    assert!(!d["payload"]["archived"].as_array().unwrap().is_empty());
    let d = raw
        .req("d2", "sessions.delete", Some(json!({"key": "main"})))
        .await;
    assert_eq!(
        d["error"]["message"],
        "Cannot delete the main session (agent:main:main)."
    );
    // Reader scope cannot delete.
    let (mut reader, _) = connected(&gw.url(), &["operator.read"]).await;
    let d = reader
        .req("d3", "sessions.delete", Some(json!({"key": "x"})))
        .await;
    assert_eq!(d["error"]["code"], "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_endpoint() {
    let fake = FakeOpenAi::start().await;
    let gw = start_with(&fake, json!({})).await;
    let auth = format!("Bearer {TOKEN}");
    let (status, _, body) = http(
        gw.port,
        "POST",
        "/v1/responses",
        &[("authorization", &auth)],
        r#"{"input":"x"}"#,
    );
    assert_eq!(
        (status, body.as_str()),
        (404, "Not Found"),
        "disabled by default"
    );
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(gw.home.config_path()).unwrap()).unwrap();
    let home = gw.into_home();
    cfg["gateway"]["http"] = json!({"endpoints": {"responses": {"enabled": true}}});
    home.write_config(&cfg);
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (status, _, body) = http(
        gw.port,
        "POST",
        "/v1/responses",
        &[("authorization", &auth)],
        r#"{"model":"openclaw","input":"hello responses","instructions":"be brief"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(
        v["output"][0]["content"][0]["text"],
        "echo: hello responses"
    );
    let req = r#"{"model":"openclaw","stream":true,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"streamed resp"}]}]}"#;
    let (status, head, body) = http(
        gw.port,
        "POST",
        "/v1/responses",
        &[("authorization", &auth)],
        req,
    );
    assert_eq!(status, 200);
    assert!(head.contains("text/event-stream"));
    assert!(body.contains("event: response.created"));
    assert!(body.contains("event: response.completed"));
    let deltas: String = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|d| d["type"] == "response.output_text.delta")
        .filter_map(|d| d["delta"].as_str().map(str::to_string))
        .collect();
    assert_eq!(deltas, "echo: streamed resp");
    let (status, _, _) = http(
        gw.port,
        "POST",
        "/v1/responses",
        &[("authorization", &auth)],
        r#"{"input":42}"#,
    );
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_id_resumes_a_session() {
    let fake = FakeOpenAi::start().await;
    let gw = start_with(&fake, json!({})).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let a = json!({"type": "req", "id": "a1", "method": "agent", "params": {"message": "one", "idempotencyKey": "sid-1", "sessionKey": "notes"}});
    raw.send(&a).await;
    let (_, fin, _) = run_agent(&mut raw, "a1").await;
    let sid = fin["payload"]["result"]["meta"]["agentMeta"]["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let env = [("OPENCLAW_GATEWAY_PORT", gw.port.to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out, err) = run_cli(
        &gw.home,
        &["agent", "--message", "two", "--session-id", &sid],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "echo: two");
    let h = raw
        .req("h", "chat.history", Some(json!({"sessionKey": "notes"})))
        .await;
    assert_eq!(
        h["payload"]["messages"].as_array().unwrap().len(),
        4,
        "same session"
    );
    let r = raw
        .req(
            "x",
            "agent",
            Some(json!({"message": "x", "idempotencyKey": "sid-x", "sessionId": "nope"})),
        )
        .await;
    assert_eq!(r["error"]["message"], "unknown sessionId: nope");
}

/// `agents.list[].tools` restricts that agent everywhere a tool can run: `/tools/invoke` with the
/// agent's session key and the agent's own runs. The default agent keeps `write`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_agent_cannot_write_via_tools_invoke_or_in_a_run() {
    let fake = FakeOpenAi::start().await;
    // The model asks the restricted agent to write anyway.
    fake.push(Script::tool_call(
        "call_w",
        "write",
        json!({"path": "from-run.txt", "content": "pwned"}),
        "I could not write it.",
    ));
    let home = Home::new();
    let ops_ws = home.path().join("ws-ops");
    let mut cfg = agent_config(&home, &fake.url(), json!({}));
    cfg["agents"]["list"] = json!([
        {"id": "main", "default": true},
        {"id": "ops", "workspace": ops_ws, "tools": {"deny": ["write"]}},
        {"id": "reader", "workspace": ops_ws, "tools": {"allow": ["read", "ls"]}}
    ]);
    home.write_config(&cfg);
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let main_ws = gw.home.path().join("ws");
    let auth = format!("Bearer {TOKEN}");
    let invoke = |key: &str, file: &str| {
        let body = json!({"tool": "write", "sessionKey": key,
                          "args": {"path": file, "content": "data"}});
        http(
            gw.port,
            "POST",
            "/tools/invoke",
            &[("authorization", &auth)],
            &body.to_string(),
        )
    };
    for (key, file) in [
        ("agent:ops:main", "denied.txt"),
        ("agent:reader:main", "not-allowed.txt"),
    ] {
        let (status, _, body) = invoke(key, file);
        assert_eq!(status, 404, "{key}: {body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"]["message"],
            "Tool not available: write"
        );
        assert!(!ops_ws.join(file).exists() && !main_ws.join(file).exists());
    }
    // An unknown agent in the key is refused, not given a workspace of its own.
    let (status, _, body) = invoke("agent:../../x:main", "escape.txt");
    assert_eq!(status, 400, "{body}");
    // The default agent (by its key or without one) still writes.
    let (status, _, body) = invoke("agent:main:main", "allowed.txt");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        std::fs::read_to_string(main_ws.join("allowed.txt")).unwrap(),
        "data"
    );

    // A run of the restricted agent: `write` is neither offered nor run.
    let (mut raw, _) = connected(&gw.url(), OP).await;
    raw.send(
        &json!({"type": "req", "id": "r1", "method": "agent", "params": {
        "message": "write a file", "agentId": "ops", "idempotencyKey": "ops-run"}}),
    )
    .await;
    let (_, fin, _) = run_agent(&mut raw, "r1").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"], "I could not write it.",
        "{fin}"
    );
    assert!(!ops_ws.join("from-run.txt").exists());
    assert!(!main_ws.join("from-run.txt").exists());
    let reqs = fake.requests();
    let offered: Vec<String> = reqs[0]["tools"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !offered.contains(&"write".to_string()) && offered.contains(&"read".to_string()),
        "{offered:?}"
    );
    let tool_result = reqs[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .cloned()
        .unwrap_or_default();
    assert!(
        tool_result["content"]
            .to_string()
            .contains("Tool not available: write"),
        "{tool_result}"
    );
}
