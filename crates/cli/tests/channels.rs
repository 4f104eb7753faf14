//! Channels through the real binary against a fake Telegram Bot API and a fake model, both on
//! loopback: a DM reaches the agent and the reply is delivered; strangers are ignored; kill -9
//! neither loses nor duplicates a message; a 409 loop leaves the gateway serving with the error
//! in `channels.status`; `send` is delivered once per idempotency key across a restart; bad
//! inputs get clear errors.

mod common;

use std::time::{Duration, Instant};

use common::*;
use openclaw_testkit::FakeOpenAi;
use openclaw_testkit::telegram::{FAKE_TOKEN, FakeReply, FakeTelegram};
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];
const OWNER: i64 = 111;

fn config(home: &Home, tg: &FakeTelegram, llm: &FakeOpenAi) -> Value {
    let mut cfg = fake_model_config(home, &llm.url());
    cfg["channels"] = json!({"telegram": {"botToken": FAKE_TOKEN, "apiRoot": tg.url(),
        "dmPolicy": "allowlist", "allowFrom": [OWNER.to_string()]}});
    cfg
}

/// The fakes and a gateway started on [`config`].
async fn started() -> (FakeTelegram, FakeOpenAi, Gateway) {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &tg, &llm));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    (tg, llm, gw)
}

/// The user turns of a session's transcript (`chat.history`), as JSON text.
async fn user_turns(raw: &mut Raw, session_key: &str) -> Vec<String> {
    let h = raw
        .req(
            "h",
            "chat.history",
            Some(json!({"sessionKey": session_key})),
        )
        .await;
    h["payload"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no history: {h}"))
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].to_string())
        .collect()
}

/// Polls `channels.status` for up to `within` until the channel's first account has a
/// `lastError` containing `needle`; returns the whole status payload.
async fn status_with_error(raw: &mut Raw, channel: &str, needle: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let st = raw.req("s", "channels.status", None).await["payload"].clone();
        if st["channelAccounts"][channel][0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains(needle))
        {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in {channel} status: {st}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    let (tg, llm, gw) = started().await;
    tg.push_dm(OWNER, "hello bot");
    wait_for("the reply", || tg.replies_to(OWNER, "echo: hello bot") == 1).await;
    assert!(tg.count("sendChatAction") >= 1, "typing indicator sent");
    tg.push_dm(999, "let me in");
    tg.push_dm(OWNER, "second");
    wait_for("the second reply", || {
        tg.replies_to(OWNER, "echo: second") == 1
    })
    .await;
    assert_eq!(
        runs_for(&llm, "let me in"),
        0,
        "a stranger never reaches the agent"
    );
    assert_eq!(tg.replies_to(999, ""), 0);
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
    let (tg, llm, mut gw) = started().await;
    tg.push_dm(OWNER, "first message");
    wait_for("the model call", || runs_for(&llm, "first message") == 1).await;
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5)).expect("killed");
    tg.push_dm(OWNER, "while down");
    let gw = Gateway::start_in(gw.into_home(), &["gateway", "--port", "0"], &[]);
    wait_for("the queued message", || {
        tg.replies_to(OWNER, "echo: while down") == 1
    })
    .await;
    assert_eq!(
        runs_for(&llm, "first message"),
        1,
        "not processed twice after the restart"
    );
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let users = user_turns(&mut raw, "main").await;
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
    let st = status_with_error(&mut raw, "telegram", "conflict", Duration::from_secs(15)).await;
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
async fn a_panic_in_the_telegram_task_is_contained_and_the_message_redelivered() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &tg, &llm));
    let mut gw = Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("OPENCLAW_TEST_TELEGRAM_PANIC_TEXT", "boom")],
    );
    // A client connected before the panic must survive it.
    let (mut raw, _) = connected(&gw.url(), OP).await;
    tg.push_dm(OWNER, "boom");
    let acct = status_with_error(
        &mut raw,
        "telegram",
        "panic: injected fault",
        Duration::from_secs(15),
    )
    .await["channelAccounts"]["telegram"][0]
        .clone();
    assert!(acct["lastErrorAt"].as_u64().is_some(), "{acct}");
    // The supervised task restarts; the unacknowledged update is redelivered, answered once.
    wait_for("the redelivered message's reply", || {
        tg.replies_to(OWNER, "echo: boom") == 1
    })
    .await;
    tg.push_dm(OWNER, "after the panic");
    wait_for("a later reply", || {
        tg.replies_to(OWNER, "echo: after the panic") == 1
    })
    .await;
    assert_eq!(runs_for(&llm, "boom"), 1, "processed exactly once");
    assert_eq!(tg.replies_to(OWNER, "echo: boom"), 1);
    let st = raw.req("s2", "channels.status", None).await["payload"].clone();
    let acct = &st["channelAccounts"]["telegram"][0];
    assert_eq!(acct["running"], true, "{acct}");
    assert!(acct["reconnects"].as_u64().unwrap() >= 1, "{acct}");
    assert_eq!(raw.req("h", "health", None).await["ok"], true);
    assert!(
        gw.wait_exit(Duration::from_millis(1)).is_none(),
        "the gateway survived the panic"
    );
    gw.expect_line("channel task failed; restarting after backoff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_is_delivered_once_per_key_across_a_restart() {
    let (tg, _llm, gw) = started().await;
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
    assert_eq!(tg.replies_to(111, "ping once"), 1, "delivered exactly once");

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
    let (tg, _llm, gw) = started().await;
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
    assert_eq!(tg.replies_to(111, "from the cli"), 1);
    let (code, out, _) = run_cli(&gw.home, &["channels", "status"], &env);
    assert_eq!(code, 0);
    assert!(out.contains("telegram/default"), "{out}");
    let getme_before = tg.count("getMe");
    let (code, out, _) = run_cli(&gw.home, &["channels", "status", "--probe"], &env);
    assert_eq!(code, 0);
    assert!(out.contains("probe ok (@"), "{out}");
    assert_eq!(
        tg.count("getMe"),
        getme_before + 1,
        "a live getMe per account"
    );
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
    let (tg, _llm, gw) = started().await;
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
    assert_eq!(tg.replies_to(111, "echo: deliver me"), 1);
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

fn inbox_files(state_dir: &std::path::Path) -> usize {
    std::fs::read_dir(state_dir.join("channels/inbox"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_queued_behind_a_busy_session_is_acked_and_survives_kill_9() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    // The first run stays busy long enough to kill the gateway in the middle of it.
    llm.push(openclaw_testkit::Script::slow(
        "slow answer",
        2,
        Duration::from_secs(30),
    ));
    let home = Home::new();
    home.write_config(&config(&home, &tg, &llm));
    let home_dir = home.state_dir();
    let mut gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    tg.push_dm(OWNER, "first");
    wait_for("the first model call", || runs_for(&llm, "first") == 1).await;
    tg.push_dm(OWNER, "queued");
    // Acknowledged (the offset moved past it) while the main session is still busy: the inbox
    // holds it durably instead.
    wait_for("the queued update to be acknowledged", || {
        tg.pending_updates() == 0
    })
    .await;
    assert_eq!(runs_for(&llm, "queued"), 0, "still waiting for the lane");
    assert_eq!(inbox_files(&home_dir), 1, "recorded in the inbox");
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5)).expect("killed");

    let gw = Gateway::start_in(gw.into_home(), &["gateway", "--port", "0"], &[]);
    wait_for("the replayed message's reply", || {
        tg.replies_to(OWNER, "echo: queued") == 1
    })
    .await;
    assert_eq!(runs_for(&llm, "queued"), 1, "replayed exactly once");
    assert_eq!(
        runs_for(&llm, "first"),
        1,
        "the persisted turn is not re-run"
    );
    wait_for("the inbox to drain", || inbox_files(&home_dir) == 0).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let users = user_turns(&mut raw, "main").await;
    assert_eq!(
        users.iter().filter(|u| u.contains("queued")).count(),
        1,
        "{users:?}"
    );
}

/// A message queued behind a busy session keeps its inbox entry however long it waits (the
/// reference's 11 minutes, shortened by `OPENCLAW_TEST_RUN_WAIT_MS`), so kill -9 after the wait
/// still replays and answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_inbox_entry_survives_kill_9_after_the_run_wait() {
    const WAIT_MS: u64 = 1500;
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    llm.push(openclaw_testkit::Script::slow(
        "slow answer",
        2,
        Duration::from_secs(30),
    ));
    let home = Home::new();
    home.write_config(&config(&home, &tg, &llm));
    let home_dir = home.state_dir();
    let knob = [("OPENCLAW_TEST_RUN_WAIT_MS", "1500")];
    let mut gw = Gateway::start_in(home, &["gateway", "--port", "0"], &knob);
    tg.push_dm(OWNER, "first");
    wait_for("the first model call", || runs_for(&llm, "first") == 1).await;
    tg.push_dm(OWNER, "long-queued");
    wait_for("the queued update to be acknowledged", || {
        tg.pending_updates() == 0
    })
    .await;
    assert_eq!(inbox_files(&home_dir), 1, "recorded in the inbox");
    // The scenario itself is "waits longer than the run wait": let that time pass.
    tokio::time::sleep(Duration::from_millis(3 * WAIT_MS)).await;
    assert_eq!(
        runs_for(&llm, "long-queued"),
        0,
        "still waiting for the lane"
    );
    assert_eq!(
        inbox_files(&home_dir),
        1,
        "a queued entry stays past the run wait"
    );
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5)).expect("killed");

    let _gw = Gateway::start_in(gw.into_home(), &["gateway", "--port", "0"], &knob);
    wait_for("the replayed message's reply", || {
        tg.replies_to(OWNER, "echo: long-queued") == 1
    })
    .await;
    assert_eq!(runs_for(&llm, "long-queued"), 1, "replayed exactly once");
    wait_for("the inbox to drain", || inbox_files(&home_dir) == 0).await;
}

/// More entries left for one session than its lane takes (1 running + 8 queued) are all
/// replayed in turn: a full lane at replay means "later", never "drop".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_retries_entries_when_the_lane_is_full_instead_of_dropping_them() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &tg, &llm));
    let home_dir = home.state_dir();
    let inbox = home_dir.join("channels/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let n = 12;
    for i in 0..n {
        let entry = json!({"runId": format!("telegram-left-{i:02}"), "agentId": "main",
            "sessionKey": "agent:main:main", "message": format!("left-{i:02}-over"),
            "channel": "telegram", "accountId": "default", "chatId": OWNER.to_string(),
            "threadId": null, "messageId": format!("{}", 500 + i), "receivedAt": 1_000 + i});
        std::fs::write(
            inbox.join(format!("telegram-left-{i:02}.json")),
            entry.to_string(),
        )
        .unwrap();
    }
    let _gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    for i in 0..n {
        let text = format!("echo: left-{i:02}-over");
        wait_for(&format!("the reply to {text}"), || {
            tg.replies_to(OWNER, &text) == 1
        })
        .await;
    }
    wait_for("the inbox to drain", || inbox_files(&home_dir) == 0).await;
    for i in 0..n {
        assert_eq!(runs_for(&llm, &format!("left-{i:02}-over")), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindings_and_mention_patterns_route_group_messages() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    let mut cfg = config(&home, &tg, &llm);
    cfg["agents"]["list"] = json!([{"id": "main", "default": true}, {"id": "ops"}]);
    cfg["bindings"] = json!([{"agentId": "ops", "match": {"channel": "telegram",
        "peer": {"kind": "group", "id": "-1001"}}}]);
    cfg["messages"] = json!({"groupChat": {"mentionPatterns": ["\\bclaw\\b"]}});
    cfg["channels"]["telegram"]["groupPolicy"] = json!("open");
    cfg["channels"]["telegram"]["groups"] = json!({"*": {"requireMention": true}});
    home.write_config(&cfg);
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let group = |id: i64, text: &str| {
        json!({"message": {"message_id": id, "date": 1_700_000_000,
            "chat": {"id": -1001, "type": "supergroup", "title": "Ops"},
            "from": {"id": OWNER, "is_bot": false, "first_name": "Alice"},
            "text": text}})
    };
    tg.push_update(group(1, "just chatting"));
    tg.push_update(group(2, "Claw, how is the deploy?"));
    wait_for("the reply in the group", || {
        tg.replies_to(-1001, "how is the deploy? [from: Alice (111)]") == 1
    })
    .await;
    // The unmentioned message started no run; it reached the agent only as pending context.
    let reqs = llm.requests();
    assert_eq!(reqs.len(), 1, "one run for two group messages");
    let user = reqs[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .unwrap()["content"]
        .to_string();
    assert!(
        user.contains("[Chat messages since your last reply - for context]")
            && user.contains("just chatting [from: Alice (111)]")
            && user.contains("[Current message - respond to this]"),
        "{user}"
    );
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let users = user_turns(&mut raw, "agent:ops:telegram:group:-1001").await;
    assert!(
        users.iter().any(|u| u.contains("deploy")),
        "the bound agent's group session holds the turn: {users:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_stop_and_start_an_account() {
    let (tg, _llm, gw) = started().await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let r = raw
        .req("1", "channels.stop", Some(json!({"channel": "telegram"})))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        r["payload"],
        json!({"channel": "telegram", "accountId": "default", "stopped": true, "wasRunning": true})
    );
    let st = raw.req("2", "channels.status", None).await["payload"].clone();
    let acct = &st["channelAccounts"]["telegram"][0];
    assert_eq!(
        (acct["running"].clone(), acct["connected"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(acct["lastError"], "stopped (channels.stop)");
    // Stopped: nothing is polled.
    tg.push_dm(OWNER, "while stopped");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(tg.pending_updates(), 1);
    let r = raw
        .req(
            "3",
            "channels.start",
            Some(json!({"channel": "telegram", "accountId": "default"})),
        )
        .await;
    assert_eq!(r["payload"]["started"], true, "{r}");
    assert_eq!(r["payload"]["alreadyRunning"], false, "{r}");
    wait_for("the reply after start", || {
        tg.replies_to(OWNER, "echo: while stopped") == 1
    })
    .await;
    let again = raw
        .req("4", "channels.start", Some(json!({"channel": "telegram"})))
        .await;
    assert_eq!(again["payload"]["alreadyRunning"], true, "{again}");
    for (id, params, want) in [
        (
            "5",
            json!({"channel": "signal"}),
            "unsupported channel signal",
        ),
        (
            "6",
            json!({"channel": "telegram", "accountId": "nope"}),
            "no telegram account nope",
        ),
        (
            "7",
            json!({"channel": "telegram", "extra": 1}),
            "unexpected property 'extra'",
        ),
    ] {
        let r = raw.req(id, "channels.stop", Some(params)).await;
        assert_eq!(r["ok"], false, "{r}");
        assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
        assert!(
            r["error"]["message"].as_str().unwrap().contains(want),
            "{r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlinked_whatsapp_account_waits_for_login_without_connecting() {
    let home = Home::new();
    let mut cfg = token_config(&home);
    cfg["channels"] = json!({"whatsapp": {"dmPolicy": "allowlist", "allowFrom": ["+15551234567"]}});
    home.write_config(&cfg);
    let state_dir = home.state_dir();
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let acct = status_with_error(
        &mut raw,
        "whatsapp",
        "openclaw channels login --channel whatsapp",
        Duration::from_secs(10),
    )
    .await["channelAccounts"]["whatsapp"][0]
        .clone();
    assert_eq!(acct["linked"], false, "{acct}");
    assert_eq!(acct["connected"], false, "{acct}");
    // No session store was created: nothing was opened towards WhatsApp.
    assert!(
        !state_dir
            .join("credentials/whatsapp/default/wa.db")
            .exists()
    );
    let r = raw
        .req(
            "send",
            "send",
            Some(
                json!({"channel": "whatsapp", "to": "+15551234567", "message": "hi",
                "idempotencyKey": "wa-1"}),
            ),
        )
        .await;
    assert_eq!(r["error"]["code"], "NOT_LINKED", "{r}");
    // Waiting for the user is not a failure: the gateway is ready.
    let port = gw.port;
    let status = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        buf
    })
    .await
    .unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_utf8_text_gets_clear_errors() {
    use futures_util::SinkExt;
    let (tg, _llm, gw) = started().await;
    // Over WS: a binary frame whose message text is not UTF-8 is answered, not dropped.
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let mut frame = br#"{"type":"req","id":"u1","method":"send","params":{"channel":"telegram","to":"111","idempotencyKey":"u","message":""#.to_vec();
    frame.extend_from_slice(b"caf\xe9 \xff");
    frame.extend_from_slice(br#""}}"#);
    raw.ws
        .send(tokio_tungstenite::tungstenite::Message::Binary(
            frame.into(),
        ))
        .await
        .unwrap();
    let r = raw.res("u1").await;
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("UTF-8"),
        "{r}"
    );
    assert_eq!(raw.req("h", "health", None).await["ok"], true);
    assert_eq!(tg.replies_to(111, "caf"), 0, "nothing was sent");

    // On the command line: clap refuses the argument with a clear message; no panic.
    let port = gw.port.to_string();
    let out = tokio::task::spawn_blocking({
        let mut cmd = gw.home.command(&[
            "message",
            "send",
            "--channel",
            "telegram",
            "--target",
            "111",
            "--message",
        ]);
        use std::os::unix::ffi::OsStrExt;
        cmd.arg(std::ffi::OsStr::from_bytes(b"caf\xe9"))
            .env("OPENCLAW_GATEWAY_PORT", &port);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("UTF-8"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_commands_reset_and_stop_without_a_model_call() {
    use openclaw_testkit::telegram::FAKE_BOT_USERNAME;
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    let mut cfg = config(&home, &tg, &llm);
    cfg["channels"]["telegram"]["groupPolicy"] = json!("open");
    cfg["channels"]["telegram"]["groups"] = json!({"*": {"requireMention": true}});
    home.write_config(&cfg);
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    tg.push_dm(OWNER, "remember the number 7");
    wait_for("the first reply", || {
        tg.replies_to(OWNER, "echo: remember the number 7") == 1
    })
    .await;
    tg.push_dm(OWNER, "/new");
    wait_for("the reset reply", || {
        tg.replies_to(OWNER, "✅ New session started.") == 1
    })
    .await;
    assert_eq!(llm.requests().len(), 1, "a bare /new calls no model");
    tg.push_dm(OWNER, "/reset what was the number?");
    wait_for("the reply after /reset", || {
        tg.replies_to(OWNER, "echo: what was the number?") == 1
    })
    .await;
    let last = llm.requests().last().cloned().unwrap();
    let turns = last["messages"].to_string();
    assert!(
        !turns.contains("remember the number 7"),
        "the reset session starts empty: {turns}"
    );
    tg.push_dm(OWNER, "/stop");
    wait_for("the stop reply", || {
        tg.replies_to(OWNER, "Nothing is running.") == 1
    })
    .await;
    // In a group that needs a mention, a command addressed to this bot works; one for
    // another bot is not ours.
    let group = |id: i64, text: &str| {
        json!({"message": {"message_id": id, "date": 1_700_000_000,
            "chat": {"id": -1002, "type": "supergroup", "title": "G"},
            "from": {"id": OWNER, "is_bot": false, "first_name": "Alice"}, "text": text}})
    };
    tg.push_update(group(900, "/new@SomeOtherBot"));
    tg.push_update(group(901, &format!("/new@{FAKE_BOT_USERNAME}")));
    wait_for("the group reset reply", || {
        tg.replies_to(-1002, "✅ New session started.") == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        tg.replies_to(-1002, "✅"),
        1,
        "the other bot's command was not ours"
    );
    assert_eq!(llm.requests().len(), 2, "no model calls for commands");
    drop(gw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_pairs_with_a_code_the_owner_approves() {
    const STRANGER: i64 = 999;
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    let mut cfg = config(&home, &tg, &llm);
    cfg["channels"]["telegram"]["dmPolicy"] = json!("pairing");
    home.write_config(&cfg);
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    tg.push_dm(STRANGER, "hello?");
    wait_for("the pairing code", || {
        tg.replies_to(STRANGER, "Your pairing code:") == 1
    })
    .await;
    let text = tg
        .sent_messages()
        .iter()
        .find_map(|m| {
            m["text"]
                .as_str()
                .filter(|t| t.contains("pairing code"))
                .map(String::from)
        })
        .unwrap();
    let code: String = text
        .split("Your pairing code: ")
        .nth(1)
        .unwrap()
        .chars()
        .take(8)
        .collect();
    assert_eq!(code.len(), 8, "{text}");
    tg.push_dm(STRANGER, "hello again?");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        tg.replies_to(STRANGER, "pairing code"),
        1,
        "the code is sent once"
    );
    assert_eq!(
        llm.requests().len(),
        0,
        "a stranger never reaches the agent"
    );

    let home = &gw.home;
    let port = gw.port.to_string();
    let env = [("OPENCLAW_GATEWAY_PORT", port.as_str())];
    let (c, out, err) =
        tokio::task::block_in_place(|| run_cli(home, &["pairing", "list", "telegram"], &env));
    assert_eq!(c, 0, "{err}");
    assert!(out.contains(&code) && out.contains("999"), "{out}");
    let (c, _, err) = tokio::task::block_in_place(|| {
        run_cli(home, &["pairing", "approve", "telegram", "WRONG234"], &env)
    });
    assert_eq!(c, 1);
    assert!(err.contains("no pending telegram pairing request"), "{err}");
    let (c, _, err) =
        tokio::task::block_in_place(|| run_cli(home, &["pairing", "list", "carrier-pigeon"], &env));
    assert_eq!(c, 2);
    assert!(err.contains("unknown channel"), "{err}");
    let (c, out, err) = tokio::task::block_in_place(|| {
        run_cli(
            home,
            &[
                "pairing",
                "approve",
                "telegram",
                &code.to_lowercase(),
                "--notify",
            ],
            &env,
        )
    });
    assert_eq!(c, 0, "{err}");
    assert!(out.contains("Approved telegram sender 999"), "{out}");
    assert_eq!(tg.replies_to(STRANGER, "You are approved"), 1);
    tg.push_dm(STRANGER, "now?");
    wait_for("the approved sender's reply", || {
        tg.replies_to(STRANGER, "echo: now?") == 1
    })
    .await;
}

/// `openclaw pairing approve` processes running at once (and the gateway, which writes the
/// same files) take the pairing store's file lock: no approval is lost.
#[test]
fn concurrent_pairing_approvals_from_many_processes_lose_none() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let creds = home.state_dir().join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    let n = 16;
    let now = "2999-01-01T00:00:00.000Z"; // never expires during the test
    let requests: Vec<Value> = (0..n)
        .map(|i| {
            json!({"id": format!("{}", 7000 + i), "code": format!("APPR{i:04}"),
                        "createdAt": now, "lastSeenAt": now, "meta": {}})
        })
        .collect();
    std::fs::write(
        creds.join("telegram-pairing.json"),
        json!({"version": 1, "requests": requests}).to_string(),
    )
    .unwrap();
    let children: Vec<_> = (0..n)
        .map(|i| {
            home.command(&["pairing", "approve", "telegram", &format!("APPR{i:04}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let allow: Value =
        serde_json::from_slice(&std::fs::read(creds.join("telegram-allowFrom.json")).unwrap())
            .unwrap();
    let mut got: Vec<String> = allow["allowFrom"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    got.sort();
    let want: Vec<String> = (0..n).map(|i| format!("{}", 7000 + i)).collect();
    assert_eq!(got, want);
    let pending: Value =
        serde_json::from_slice(&std::fs::read(creds.join("telegram-pairing.json")).unwrap())
            .unwrap();
    assert_eq!(pending["requests"], json!([]), "{pending}");
}
