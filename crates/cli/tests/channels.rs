//! Channels through the real binary against a fake Telegram Bot API and a fake model, both on
//! loopback: a DM reaches the agent and the reply is delivered; strangers are ignored; kill -9
//! neither loses nor duplicates a message; a 409 loop leaves the gateway serving with the error
//! in `channels.status`; `send` is delivered once per idempotency key across a restart; bad
//! inputs get clear errors.

mod common;

use std::time::{Duration, Instant};

use common::*;
use openclaw_channels::fake_telegram::{FAKE_TOKEN, FakeReply, FakeTelegram};
use openclaw_testkit::FakeOpenAi;
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];
const OWNER: i64 = 111;

fn config(home: &Home, tg: &FakeTelegram, llm: &FakeOpenAi) -> Value {
    let mut cfg = token_config(home);
    cfg["models"] = json!({"providers": {"fake": {"baseUrl": llm.url(), "api": "openai-completions",
        "apiKey": "k", "models": [{"id": "m1"}]}}});
    cfg["agents"] =
        json!({"defaults": {"model": {"primary": "fake/m1"}, "workspace": home.path().join("ws")}});
    cfg["channels"] = json!({"telegram": {"botToken": FAKE_TOKEN, "apiRoot": tg.url(),
        "dmPolicy": "allowlist", "allowFrom": [OWNER.to_string()]}});
    cfg
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn replies_to(tg: &FakeTelegram, chat: i64, text: &str) -> usize {
    tg.sent_messages()
        .iter()
        .filter(|m| {
            m["chat_id"].to_string().trim_matches('"') == chat.to_string()
                && m["text"].as_str().is_some_and(|t| t.contains(text))
        })
        .count()
}

/// Model requests whose last user turn is `text`.
fn runs_for(llm: &FakeOpenAi, text: &str) -> usize {
    llm.requests()
        .iter()
        .filter(|r| {
            r["messages"]
                .as_array()
                .and_then(|m| m.iter().rev().find(|x| x["role"] == "user"))
                .is_some_and(|u| u["content"].to_string().contains(text))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dm_reaches_the_agent_and_strangers_are_ignored() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &tg, &llm));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    tg.push_dm(OWNER, "hello bot");
    wait_until("the reply", || {
        replies_to(&tg, OWNER, "echo: hello bot") == 1
    })
    .await;
    assert!(tg.count("sendChatAction") >= 1, "typing indicator sent");
    tg.push_dm(999, "let me in");
    tg.push_dm(OWNER, "second");
    wait_until("the second reply", || {
        replies_to(&tg, OWNER, "echo: second") == 1
    })
    .await;
    assert_eq!(
        runs_for(&llm, "let me in"),
        0,
        "a stranger never reaches the agent"
    );
    assert_eq!(replies_to(&tg, 999, ""), 0);
    // Status over WS.
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let st = raw.req("s", "channels.status", None).await["payload"].clone();
    assert_eq!(st["channelOrder"], json!(["telegram"]));
    let acct = &st["channelAccounts"]["telegram"][0];
    assert_eq!(acct["accountId"], "default");
    assert_eq!(acct["running"], true);
    assert!(acct["lastInboundAt"].as_u64().is_some(), "{acct}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_neither_loses_nor_duplicates() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &tg, &llm));
    let mut gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    tg.push_dm(OWNER, "first message");
    wait_until("the model call", || runs_for(&llm, "first message") == 1).await;
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5)).expect("killed");
    tg.push_dm(OWNER, "while down");
    let gw = Gateway::start_in(gw.into_home(), &["gateway", "--port", "0"], &[]);
    wait_until("the queued message", || {
        replies_to(&tg, OWNER, "echo: while down") == 1
    })
    .await;
    assert_eq!(
        runs_for(&llm, "first message"),
        1,
        "not processed twice after the restart"
    );
    let (mut raw, _) = connected(&gw.url(), OP).await;
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
    assert_eq!(
        users.iter().filter(|u| u.contains("first message")).count(),
        1,
        "{users:?}"
    );
    assert_eq!(
        users.iter().filter(|u| u.contains("while down")).count(),
        1,
        "{users:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflict_409_is_reported_and_the_gateway_keeps_serving() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    for _ in 0..50 {
        tg.inject("getUpdates", FakeReply::Conflict409);
    }
    let home = Home::new();
    home.write_config(&config(&home, &tg, &llm));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let st = loop {
        let st = raw.req("s", "channels.status", None).await["payload"].clone();
        if st["channelAccounts"]["telegram"][0]["lastError"]
            .as_str()
            .is_some_and(|e| e.to_lowercase().contains("conflict"))
        {
            break st;
        }
        assert!(Instant::now() < deadline, "no conflict in status: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(st["channelAccounts"]["telegram"][0]["connected"], false);
    // Backed off, not a tight loop.
    let calls = tg.count("getUpdates");
    assert!(calls < 30, "{calls} getUpdates calls: no backoff");
    // The gateway and its clients are fine.
    assert_eq!(raw.req("h", "health", None).await["ok"], true);
    let h = raw.req("h2", "health", None).await;
    assert!(h["payload"]["channels"]["telegram"].is_object(), "{h}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_is_delivered_once_per_key_across_a_restart() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &tg, &llm));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let params = json!({"channel": "telegram", "to": "111", "message": "ping once", "idempotencyKey": "send-1"});
    let first = {
        let (mut raw, _) = connected(&gw.url(), OP).await;
        let r = raw.req("s", "send", Some(params.clone())).await;
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["payload"]["channel"], "telegram");
        assert_eq!(r["payload"]["runId"], "send-1");
        r["payload"].clone()
    };
    let gw = Gateway::start_in(gw.into_home(), &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let r = raw.req("s2", "send", Some(params)).await;
    assert_eq!(r["payload"], first, "the cached result");
    assert_eq!(
        replies_to(&tg, 111, "ping once"),
        1,
        "delivered exactly once"
    );

    // Bad inputs get clear errors.
    let bad = |p: Value| {
        json!({"to": "111", "message": "x", "idempotencyKey": "k"})
            .as_object()
            .unwrap()
            .clone()
            .into_iter()
            .chain(p.as_object().unwrap().clone())
            .collect::<serde_json::Map<_, _>>()
    };
    let r = raw
        .req(
            "b1",
            "send",
            Some(Value::Object(bad(json!({"channel": "carrier-pigeon"})))),
        )
        .await;
    assert_eq!(r["error"]["message"], "unsupported channel: carrier-pigeon");
    let r = raw
        .req(
            "b2",
            "send",
            Some(Value::Object(bad(
                json!({"channel": "telegram", "to": "not a target!"}),
            ))),
        )
        .await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
    let r = raw
        .req(
            "b3",
            "send",
            Some(json!({"to": "111", "idempotencyKey": "k3", "channel": "telegram"})),
        )
        .await;
    assert_eq!(
        r["error"]["message"],
        "invalid send params: text or media is required"
    );
    let r = raw
        .req(
            "b4",
            "send",
            Some(Value::Object(bad(json!({"channel": "whatsapp"})))),
        )
        .await;
    assert_eq!(r["error"]["code"], "NOT_LINKED", "{r}");
    let r = raw
        .req(
            "b5",
            "send",
            Some(Value::Object(bad(json!({"channel": "webchat"})))),
        )
        .await;
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("unsupported channel: webchat")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_send_cli() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &tg, &llm));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let port = gw.port.to_string();
    let env = [("OPENCLAW_GATEWAY_PORT", port.as_str())];
    let (code, out, err) = run_cli(
        &gw.home,
        &[
            "message",
            "send",
            "--channel",
            "telegram",
            "--target",
            "111",
            "--message",
            "from the cli",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Sent via telegram"), "{out}");
    assert_eq!(replies_to(&tg, 111, "from the cli"), 1);
    let (code, out, _) = run_cli(&gw.home, &["channels", "status"], &env);
    assert_eq!(code, 0);
    assert!(out.contains("telegram/default"), "{out}");
    drop(gw);
    let (code, _, err) = run_cli(
        &Home::new(),
        &[
            "message",
            "send",
            "--channel",
            "telegram",
            "--target",
            "111",
            "--message",
            "x",
        ],
        &env,
    );
    assert_eq!(code, 1, "fails fast when the gateway is down");
    assert!(err.contains("not reachable"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_deliver_sends_the_reply_through_the_channel() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &tg, &llm));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let port = gw.port.to_string();
    let env = [("OPENCLAW_GATEWAY_PORT", port.as_str())];
    let (code, out, err) = run_cli(
        &gw.home,
        &[
            "agent",
            "--message",
            "deliver me",
            "--deliver",
            "--to",
            "111",
            "--channel",
            "telegram",
            "--json",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["result"]["meta"]["delivery"]["channel"], "telegram",
        "{v}"
    );
    assert_eq!(replies_to(&tg, 111, "echo: deliver me"), 1);
    // Delivery without a target is a clear error.
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let r = raw
        .req(
            "a",
            "agent",
            Some(json!({"message": "x", "idempotencyKey": "d2", "deliver": true})),
        )
        .await;
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deliver needs `to`"),
        "{r}"
    );
}
