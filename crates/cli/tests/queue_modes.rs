//! Queue modes for a busy session (`messages.queue`, agent.md §9) through the real binary: a
//! first run is kept busy by a slow fake model reply while a second message arrives, and the
//! model requests show what the mode did — `collect` makes one followup turn of the queued
//! messages, `steer` puts the message into the same run's next model request (skipping the
//! tool call that had not started; a followup when the active run cannot take it), `followup`
//! runs each message as its own turn, `interrupt` aborts the active run; `cap` with `drop`;
//! `byChannel` for Telegram.

mod common;

use std::time::Duration;

use common::*;
use openclaw_testkit::telegram::{FAKE_TOKEN, FakeTelegram};
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];
const OWNER: i64 = 111;

/// A first reply that keeps its run busy for a few seconds (a second message arrives meanwhile).
fn busy_reply() -> Script {
    Script::slow("first reply", 6, Duration::from_millis(700))
}

async fn start(fake: &FakeOpenAi, queue: Option<Value>) -> Gateway {
    let home = Home::new();
    let mut cfg = fake_model_config(&home, &fake.url());
    if let Some(q) = queue {
        cfg["messages"] = json!({"queue": q});
    }
    home.write_config(&cfg);
    Gateway::start_in(home, &["gateway", "--port", "0"], &[])
}

/// The text of the last user message of a recorded model request.
fn last_user(req: &Value) -> String {
    let msgs = req["messages"].as_array().cloned().unwrap_or_default();
    let Some(u) = msgs.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &u["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

async fn chat_send(raw: &mut Raw, message: &str, key: &str) -> Value {
    raw.req(
        key,
        "chat.send",
        Some(json!({"sessionKey": "main", "message": message, "idempotencyKey": key})),
    )
    .await
}

/// `agent.wait` for a run (up to 60 s); its payload.
async fn wait_run(raw: &mut Raw, run_id: &str) -> Value {
    raw.req(
        &format!("w-{run_id}"),
        "agent.wait",
        Some(json!({"runId": run_id, "timeoutMs": 60_000})),
    )
    .await["payload"]
        .clone()
}

fn agent_req(id: &str, message: &str, key: &str) -> Value {
    json!({"type": "req", "id": id, "method": "agent",
           "params": {"message": message, "idempotencyKey": key}})
}

/// Reads frames until the final (second) `res` of every id in `ids`; returns those finals by
/// id and the `agent` lifecycle events seen meanwhile as `runId:phase`.
async fn finals(raw: &mut Raw, ids: &[&str]) -> (Vec<(String, Value)>, Vec<String>) {
    let mut acks = std::collections::HashSet::new();
    let mut done = Vec::new();
    let mut lifecycle = Vec::new();
    while done.len() < ids.len() {
        let f = raw.frame().await;
        if f["type"] == "res" {
            let id = f["id"].as_str().unwrap_or_default().to_string();
            if !ids.contains(&id.as_str()) {
                continue;
            }
            if acks.insert(id.clone()) {
                assert_eq!(f["payload"]["status"], "accepted", "{f}");
            } else {
                done.push((id, f));
            }
        } else if f["event"] == "agent" && f["payload"]["stream"] == "lifecycle" {
            lifecycle.push(format!(
                "{}:{}",
                f["payload"]["runId"].as_str().unwrap_or_default(),
                f["payload"]["data"]["phase"].as_str().unwrap_or_default()
            ));
        }
    }
    (done, lifecycle)
}

fn final_of<'a>(finals: &'a [(String, Value)], id: &str) -> &'a Value {
    &finals
        .iter()
        .find(|(i, _)| i == id)
        .unwrap_or_else(|| panic!("no final for {id}"))
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_makes_one_followup_turn_of_the_queued_messages() {
    let fake = FakeOpenAi::start().await;
    fake.push(busy_reply());
    let gw = start(&fake, Some(json!({"mode": "collect", "debounceMs": 200}))).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let r = chat_send(&mut raw, "first", "c1").await;
    assert_eq!(r["payload"], json!({"runId": "c1", "status": "started"}));
    assert!(fake.wait_for_requests(1, Duration::from_secs(10)).await);
    for (text, key) in [("second", "c2"), ("third", "c3")] {
        let r = chat_send(&mut raw, text, key).await;
        // A queued message keeps the ack's shape: its own run id.
        assert_eq!(r["payload"], json!({"runId": key, "status": "started"}));
    }
    for key in ["c1", "c2", "c3"] {
        assert_eq!(wait_run(&mut raw, key).await["status"], "ok", "{key}");
    }
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2, "exactly one followup request");
    assert_eq!(
        last_user(&reqs[1]),
        "[Queued messages while agent was busy]\n\n---\nQueued #1\nsecond\n\n---\nQueued #2\nthird"
    );
    // The collected turn is in the transcript once.
    let h = raw
        .req("h", "chat.history", Some(json!({"sessionKey": "main"})))
        .await;
    let users: Vec<String> = h["payload"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].to_string())
        .collect();
    assert_eq!(users.len(), 2, "{users:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steer_reaches_the_same_run_at_its_next_boundary_by_default() {
    let fake = FakeOpenAi::start().await;
    // The first model call decides on a tool slowly; the message arrives before the tool runs.
    fake.push(Script::slow_tool_call(
        "call_1",
        "ls",
        json!({"path": "."}),
        Duration::from_millis(700),
    ));
    fake.push(Script::text("steered answer"));
    // No `messages.queue`: the reference 2026.9 default (steer).
    let gw = start(&fake, None).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    raw.send(&agent_req("a1", "first", "s1")).await;
    assert!(fake.wait_for_requests(1, Duration::from_secs(10)).await);
    raw.send(&agent_req("a2", "second", "s2")).await;
    let (done, lifecycle) = finals(&mut raw, &["a1", "a2"]).await;
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2, "no second run: {lifecycle:?}");
    assert_eq!(last_user(&reqs[1]), "second");
    // The tool call that had not started was skipped, with a result so the turn stays valid.
    let tool = reqs[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .cloned()
        .expect("a tool result");
    assert!(
        tool["content"]
            .to_string()
            .contains("Skipped due to queued user message."),
        "{tool}"
    );
    // One run: its lifecycle only; the steered message answers with that run's result.
    assert_eq!(lifecycle, ["s1:start", "s1:end"]);
    let first = final_of(&done, "a1");
    assert_eq!(first["payload"]["status"], "ok");
    assert_eq!(
        first["payload"]["result"]["payloads"][0]["text"],
        "steered answer"
    );
    let second = final_of(&done, "a2");
    assert_eq!(second["ok"], true, "{second}");
    assert_eq!(second["payload"]["runId"], "s2");
    assert_eq!(second["payload"]["status"], "ok");
    // The steered text is in the transcript, after the tool step.
    let h = raw
        .req("h", "chat.history", Some(json!({"sessionKey": "main"})))
        .await;
    let roles: Vec<&str> = h["payload"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        roles,
        ["user", "assistant", "toolResult", "user", "assistant"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steer_becomes_a_followup_when_the_active_run_cannot_take_it() {
    let fake = FakeOpenAi::start().await;
    fake.push(busy_reply());
    let home = Home::new();
    let mut cfg = fake_model_config(&home, &fake.url());
    cfg["gateway"]["http"] = json!({"endpoints": {"chatCompletions": {"enabled": true}}});
    home.write_config(&cfg);
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    // An OpenAI-compatible HTTP call on the main session: not a chat turn, not steerable.
    let port = gw.port;
    let http_call = tokio::task::spawn_blocking(move || {
        http_request(
            port,
            "POST",
            "/v1/chat/completions",
            &[
                ("authorization", &format!("Bearer {TOKEN}")),
                ("content-type", "application/json"),
                ("x-openclaw-session-key", "main"),
            ],
            &json!({"model": "openclaw:main", "messages": [{"role": "user", "content": "via http"}]})
                .to_string(),
        )
    });
    assert!(fake.wait_for_requests(1, Duration::from_secs(10)).await);
    let r = chat_send(&mut raw, "second", "f2").await;
    assert_eq!(r["payload"]["runId"], "f2");
    assert_eq!(wait_run(&mut raw, "f2").await["status"], "ok");
    let (status, _, _) = http_call.await.expect("http call");
    assert_eq!(status, 200);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(last_user(&reqs[0]), "via http");
    assert_eq!(last_user(&reqs[1]), "second", "its own turn, after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followup_runs_each_message_as_its_own_turn_in_order() {
    let fake = FakeOpenAi::start().await;
    fake.push(busy_reply());
    let gw = start(&fake, Some(json!({"mode": "followup", "debounceMs": 0}))).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    raw.send(&agent_req("a1", "first", "f1")).await;
    assert!(fake.wait_for_requests(1, Duration::from_secs(10)).await);
    raw.send(&agent_req("a2", "second", "f2")).await;
    raw.send(&agent_req("a3", "third", "f3")).await;
    let (done, lifecycle) = finals(&mut raw, &["a1", "a2", "a3"]).await;
    assert_eq!(
        lifecycle,
        [
            "f1:start", "f1:end", "f2:start", "f2:end", "f3:start", "f3:end"
        ]
    );
    let users: Vec<String> = fake.requests().iter().map(last_user).collect();
    assert_eq!(users, ["first", "second", "third"]);
    assert_eq!(
        final_of(&done, "a3")["payload"]["result"]["payloads"][0]["text"],
        "echo: third"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_aborts_the_active_run_and_runs_the_newest_message() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::slow(
        "a long answer",
        50,
        Duration::from_millis(200),
    ));
    let gw = start(&fake, Some(json!({"mode": "interrupt"}))).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    raw.send(&agent_req("a1", "first", "i1")).await;
    assert!(fake.wait_for_requests(1, Duration::from_secs(10)).await);
    raw.send(&agent_req("a2", "second", "i2")).await;
    let (done, lifecycle) = finals(&mut raw, &["a1", "a2"]).await;
    let first = final_of(&done, "a1");
    assert_eq!(first["ok"], false, "{first}");
    assert_eq!(first["payload"]["status"], "error");
    let second = final_of(&done, "a2");
    assert_eq!(second["payload"]["status"], "ok", "{second}");
    assert_eq!(
        second["payload"]["result"]["payloads"][0]["text"],
        "echo: second"
    );
    assert_eq!(lifecycle, ["i1:start", "i1:end", "i2:start", "i2:end"]);
    let users: Vec<String> = fake.requests().iter().map(last_user).collect();
    assert_eq!(users, ["first", "second"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_cap_new_is_refused_and_summarize_tells_the_next_turn() {
    // drop: new — the message over the cap is refused with a retry hint.
    let fake = FakeOpenAi::start().await;
    fake.push(busy_reply());
    let q = json!({"mode": "followup", "debounceMs": 0, "cap": 1, "drop": "new"});
    let gw = start(&fake, Some(q)).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    chat_send(&mut raw, "first", "n1").await;
    assert!(fake.wait_for_requests(1, Duration::from_secs(10)).await);
    assert_eq!(chat_send(&mut raw, "second", "n2").await["ok"], true);
    let refused = chat_send(&mut raw, "third", "n3").await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["error"]["code"], "UNAVAILABLE");
    assert_eq!(refused["error"]["retryAfterMs"], 1000);
    assert_eq!(wait_run(&mut raw, "n2").await["status"], "ok");
    let users: Vec<String> = fake.requests().iter().map(last_user).collect();
    assert_eq!(users, ["first", "second"]);
    drop(gw);

    // drop: summarize (the default) — the oldest waiting message is dropped and summarized
    // into the next turn, which answers it too.
    let fake = FakeOpenAi::start().await;
    fake.push(busy_reply());
    let gw = start(
        &fake,
        Some(json!({"mode": "followup", "debounceMs": 0, "cap": 1})),
    )
    .await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    chat_send(&mut raw, "first", "s1").await;
    assert!(fake.wait_for_requests(1, Duration::from_secs(10)).await);
    chat_send(&mut raw, "second   message", "s2").await;
    chat_send(&mut raw, "third", "s3").await;
    assert_eq!(wait_run(&mut raw, "s3").await["status"], "ok");
    assert_eq!(wait_run(&mut raw, "s2").await["status"], "ok");
    let users: Vec<String> = fake.requests().iter().map(last_user).collect();
    assert_eq!(
        users,
        [
            "first",
            "[Queue overflow] Dropped 1 message due to cap.\nSummary:\n- second message\n\nthird"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_follows_its_by_channel_mode_and_gets_one_reply_per_turn() {
    let tg = FakeTelegram::start().await;
    let fake = FakeOpenAi::start().await;
    fake.push(busy_reply());
    let home = Home::new();
    let mut cfg = fake_model_config(&home, &fake.url());
    cfg["channels"] = json!({"telegram": {"botToken": FAKE_TOKEN, "apiRoot": tg.url(),
        "dmPolicy": "allowlist", "allowFrom": [OWNER.to_string()]}});
    // Steer everywhere, but Telegram collects.
    cfg["messages"] = json!({"queue": {"mode": "steer", "byChannel": {"telegram": "collect"},
        "debounceMsByChannel": {"telegram": 200}}});
    home.write_config(&cfg);
    let _gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    tg.push_dm(OWNER, "first");
    assert!(fake.wait_for_requests(1, Duration::from_secs(15)).await);
    tg.push_dm(OWNER, "second");
    tg.push_dm(OWNER, "third");
    let collected =
        "[Queued messages while agent was busy]\n\n---\nQueued #1\nsecond\n\n---\nQueued #2\nthird";
    wait_for("the collected reply", || {
        tg.replies_to(OWNER, &format!("echo: {collected}")) == 1
    })
    .await;
    assert_eq!(tg.replies_to(OWNER, "first reply"), 1);
    let users: Vec<String> = fake.requests().iter().map(last_user).collect();
    assert_eq!(users, ["first", collected]);
    // One reply per turn: nothing was sent for the two collected messages themselves.
    assert_eq!(tg.count("sendMessage"), 2);
    // Typing was shown while the messages waited and ran.
    assert!(tg.count("sendChatAction") >= 1);
}
