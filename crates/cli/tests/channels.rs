//! Channels through the real binary against a fake Telegram Bot API and a fake model, both on
//! loopback: a DM reaches the agent and the reply is delivered; strangers are ignored; kill -9
//! neither loses nor duplicates a message, also when it cuts a run, a reply on the wire or a
//! `send` (cases the chaos harness found); a 409 loop leaves the gateway serving with the error
//! in `channels.status`; `send` is delivered once per idempotency key across a restart; bad
//! inputs get clear errors.

mod common;

use std::time::{Duration, Instant};

use common::*;
use openclaw_testkit::telegram::{FAKE_TOKEN, FakeReply, FakeTelegram};
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];
const OWNER: i64 = 111;
/// `openclaw message send` to the owner's chat; the message text follows.
const SEND_TO_OWNER: &[&str] = &[
    "message",
    "send",
    "--channel",
    "telegram",
    "--target",
    "111",
    "--message",
];

fn config(home: &Home, tg: &FakeTelegram, llm: &FakeOpenAi) -> Value {
    let mut cfg = fake_model_config(home, &llm.url());
    cfg["channels"] = json!({"telegram": {"botToken": FAKE_TOKEN, "apiRoot": tg.url(),
        "dmPolicy": "allowlist", "allowFrom": [OWNER.to_string()]}});
    cfg
}

/// The fakes and a home whose config is [`config`] changed by `edit`.
async fn configured(edit: impl FnOnce(&mut Value)) -> (FakeTelegram, FakeOpenAi, Home) {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    let mut cfg = config(&home, &tg, &llm);
    edit(&mut cfg);
    home.write_config(&cfg);
    (tg, llm, home)
}

/// Groups are open, and a group message needs a mention to start a run.
fn open_groups_need_a_mention(cfg: &mut Value) {
    cfg["channels"]["telegram"]["groupPolicy"] = json!("open");
    cfg["channels"]["telegram"]["groups"] = json!({"*": {"requireMention": true}});
}

/// The gateway on an ephemeral port, with test `knobs` in its environment.
fn gateway(home: Home, knobs: &[(&str, &str)]) -> Gateway {
    Gateway::start_in(home, &["gateway", "--port", "0"], knobs)
}

/// The fakes and a gateway started on [`config`].
async fn started() -> (FakeTelegram, FakeOpenAi, Gateway) {
    let (tg, llm, home) = configured(|_| {}).await;
    (tg, llm, gateway(home, &[]))
}

/// kill -9; the home is kept for the next gateway.
fn kill_9(mut gw: Gateway) -> Home {
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5)).expect("killed");
    gw.into_home()
}

/// Waits until `chat` was sent exactly one message containing `text`.
async fn replied_once(tg: &FakeTelegram, chat: i64, text: &str) {
    wait_for(&format!("one reply {text:?} to {chat}"), || {
        tg.replies_to(chat, text) == 1
    })
    .await;
}

/// `openclaw <args>` against the running gateway (its port in the environment).
fn cli(gw: &Gateway, args: &[&str]) -> (i32, String, String) {
    let port = gw.port.to_string();
    tokio::task::block_in_place(|| {
        run_cli(&gw.home, args, &[("OPENCLAW_GATEWAY_PORT", port.as_str())])
    })
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

/// Polls `channels.status` for up to 15 s until the channel's first account has a
/// `lastError` containing `needle`; returns that account's status.
async fn account_with_error(raw: &mut Raw, channel: &str, needle: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let st = raw.req("s", "channels.status", None).await["payload"].clone();
        let acct = &st["channelAccounts"][channel][0];
        if acct["lastError"]
            .as_str()
            .is_some_and(|e| e.contains(needle))
        {
            return acct.clone();
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
    replied_once(&tg, OWNER, "echo: hello bot").await;
    assert!(tg.count("sendChatAction") >= 1, "typing indicator sent");
    tg.push_dm(999, "let me in");
    tg.push_dm(OWNER, "second");
    replied_once(&tg, OWNER, "echo: second").await;
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

/// Found by the chaos harness (`tests/chaos.rs`): a message whose run was cut by kill -9 after
/// its user turn was written lost its reply for good (the inbox entry was cleared with the turn).
/// Now the entry stays until the reply is out, and the restart answers the turn it finds at the
/// end of the transcript without writing it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_neither_loses_nor_duplicates() {
    let (tg, llm, gw) = started().await;
    // Still streaming when the gateway dies.
    llm.push(Script::slow(
        "never finished",
        50,
        Duration::from_millis(200),
    ));
    tg.push_dm(OWNER, "first message");
    wait_for("the model call", || runs_for(&llm, "first message") == 1).await;
    let home = kill_9(gw);
    tg.push_dm(OWNER, "while down");
    let gw = gateway(home, &[]);
    replied_once(&tg, OWNER, "echo: while down").await;
    replied_once(&tg, OWNER, "echo: first message").await;
    assert_eq!(tg.replies_to(OWNER, "never finished"), 0);
    assert_eq!(
        runs_for(&llm, "first message"),
        2,
        "asked again once: its answer never came"
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
    assert_eq!(inbox_files(&gw.home.state_dir()), 0);
}

/// Found by the chaos harness: a kill while the reply was on its way to Telegram. The turn is
/// answered in the transcript, so the restart sends that answer without asking the model again;
/// whether the first copy arrived cannot be known (the Bot API has no idempotency key), so it
/// is sent again and the log says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_the_reply_is_sent_resends_the_answer_without_a_new_run() {
    let (tg, llm, gw) = started().await;
    tg.inject("sendMessage", FakeReply::Stall);
    tg.push_dm(OWNER, "answer me");
    wait_for("the reply on the wire", || {
        tg.replies_to(OWNER, "echo: answer me") == 1
    })
    .await;
    let home = kill_9(gw);
    let mut gw = gateway(home, &[]);
    wait_for("the answer sent again", || {
        tg.replies_to(OWNER, "echo: answer me") == 2
    })
    .await;
    gw.expect_line("may already have been delivered before the restart");
    assert_eq!(
        runs_for(&llm, "answer me"),
        1,
        "the model is not asked again"
    );
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let users = user_turns(&mut raw, "main").await;
    assert_eq!(users.iter().filter(|u| u.contains("answer me")).count(), 1);
    wait_for("the inbox entry cleared", || {
        inbox_files(&gw.home.state_dir()) == 0
    })
    .await;
}

/// Found by the chaos harness: kill -9 between Telegram taking a `send` and the idempotency
/// record being written made the client's retry deliver it twice. The record is now written
/// (`sending`) before the channel is called; a retry that finds it unfinished is told the
/// outcome is unknown and nothing is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_cut_by_a_crash_is_never_sent_twice() {
    let (tg, _llm, home) = configured(|_| {}).await;
    // What a process killed while sending leaves behind.
    let dedupe = home.state_dir().join("channels").join("send-dedupe.json");
    std::fs::create_dir_all(dedupe.parent().unwrap()).unwrap();
    std::fs::write(
        &dedupe,
        json!({"send:cut-1": {"ts": now_ms(), "sending": true}}).to_string(),
    )
    .unwrap();
    let gw = gateway(home, &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let params = |key: &str, text: &str| json!({"channel": "telegram", "to": "111", "message": text, "idempotencyKey": key});
    let r = raw
        .req("s1", "send", Some(params("cut-1", "maybe sent")))
        .await;
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error"]["code"], "UNAVAILABLE", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("delivery outcome unknown")),
        "{r}"
    );
    assert_eq!(tg.replies_to(111, "maybe sent"), 0);
    // Other keys are unaffected, and a finished key answers from its record.
    let r = raw
        .req("s2", "send", Some(params("fresh-1", "fresh")))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let again = raw
        .req("s3", "send", Some(params("fresh-1", "fresh")))
        .await;
    assert_eq!(again["payload"], r["payload"]);
    assert_eq!(tg.replies_to(111, "fresh"), 1);
    let record: Value = serde_json::from_slice(&std::fs::read(&dedupe).unwrap()).unwrap();
    assert!(record["send:fresh-1"]["result"].is_object(), "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflict_409_is_reported_and_the_gateway_keeps_serving() {
    let (tg, _llm, home) = configured(|_| {}).await;
    for _ in 0..50 {
        tg.inject("getUpdates", FakeReply::Conflict409);
    }
    let gw = gateway(home, &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let acct = account_with_error(&mut raw, "telegram", "conflict").await;
    assert_eq!(acct["connected"], false);
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
    let (tg, llm, home) = configured(|_| {}).await;
    let mut gw = gateway(home, &[("OPENCLAW_TEST_TELEGRAM_PANIC_TEXT", "boom")]);
    // A client connected before the panic must survive it.
    let (mut raw, _) = connected(&gw.url(), OP).await;
    tg.push_dm(OWNER, "boom");
    let acct = account_with_error(&mut raw, "telegram", "panic: injected fault").await;
    assert!(acct["lastErrorAt"].as_u64().is_some(), "{acct}");
    // The supervised task restarts; the unacknowledged update is redelivered, answered once.
    replied_once(&tg, OWNER, "echo: boom").await;
    tg.push_dm(OWNER, "after the panic");
    replied_once(&tg, OWNER, "echo: after the panic").await;
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
    let gw = gateway(gw.into_home(), &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let r = raw.req("s2", "send", Some(params)).await;
    assert_eq!(r["payload"], first, "the cached result");
    assert_eq!(tg.replies_to(111, "ping once"), 1, "delivered exactly once");

    // Bad inputs get clear errors: `params` over a valid send, and what the error says.
    enum Says {
        Code(&'static str),
        Message(&'static str),
        MessageStart(&'static str),
    }
    let bad = |p: Value| {
        let mut params = json!({"to": "111", "message": "x", "idempotencyKey": "k"});
        params
            .as_object_mut()
            .unwrap()
            .extend(p.as_object().unwrap().clone());
        params
    };
    for (id, params, says) in [
        (
            "b1",
            bad(json!({"channel": "carrier-pigeon"})),
            Says::Message("unsupported channel: carrier-pigeon"),
        ),
        (
            "b2",
            bad(json!({"channel": "telegram", "to": "not a target!"})),
            Says::Code("INVALID_REQUEST"),
        ),
        (
            "b3",
            json!({"to": "111", "idempotencyKey": "k3", "channel": "telegram"}),
            Says::Message("invalid send params: text or media is required"),
        ),
        (
            "b4",
            bad(json!({"channel": "whatsapp"})),
            Says::Code("NOT_LINKED"),
        ),
        (
            "b5",
            bad(json!({"channel": "webchat"})),
            Says::MessageStart("unsupported channel: webchat"),
        ),
    ] {
        let r = raw.req(id, "send", Some(params)).await;
        let (code, message) = (&r["error"]["code"], r["error"]["message"].as_str());
        match says {
            Says::Code(want) => assert_eq!(code, want, "{r}"),
            Says::Message(want) => assert_eq!(message, Some(want), "{r}"),
            Says::MessageStart(want) => assert!(message.unwrap().starts_with(want), "{r}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_send_cli() {
    let (tg, _llm, gw) = started().await;
    let (code, out, err) = cli(&gw, &[SEND_TO_OWNER, &["from the cli"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Sent via telegram"), "{out}");
    assert_eq!(tg.replies_to(111, "from the cli"), 1);
    let (code, out, _) = cli(&gw, &["channels", "status"]);
    assert_eq!(code, 0);
    assert!(out.contains("telegram/default"), "{out}");
    let getme_before = tg.count("getMe");
    let (code, out, _) = cli(&gw, &["channels", "status", "--probe"]);
    assert_eq!(code, 0);
    assert!(out.contains("probe ok (@"), "{out}");
    assert_eq!(
        tg.count("getMe"),
        getme_before + 1,
        "a live getMe per account"
    );
    let port = gw.port.to_string();
    drop(gw);
    let (code, _, err) = run_cli(
        &Home::new(),
        &[SEND_TO_OWNER, &["x"]].concat(),
        &[("OPENCLAW_GATEWAY_PORT", port.as_str())],
    );
    assert_eq!(code, 1, "fails fast when the gateway is down");
    assert!(err.contains("not reachable"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_deliver_sends_the_reply_through_the_channel() {
    let (tg, _llm, gw) = started().await;
    let (code, out, err) = cli(
        &gw,
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

/// A gateway (with `knobs`) whose main session is busy with a slow first run, and `text` sent
/// behind it: acknowledged to Telegram (the offset moved past it) and held in the inbox (as is
/// the busy run's message until its reply is out).
async fn queued_behind_a_busy_run(
    text: &str,
    knobs: &[(&str, &str)],
) -> (FakeTelegram, FakeOpenAi, Gateway) {
    let (tg, llm, home) = configured(|_| {}).await;
    // The first run stays busy long enough to kill the gateway in the middle of it.
    llm.push(openclaw_testkit::Script::slow(
        "slow answer",
        2,
        Duration::from_secs(30),
    ));
    let gw = gateway(home, knobs);
    tg.push_dm(OWNER, "first");
    wait_for("the first model call", || runs_for(&llm, "first") == 1).await;
    tg.push_dm(OWNER, text);
    wait_for("the queued update to be acknowledged", || {
        tg.pending_updates() == 0
    })
    .await;
    assert_eq!(
        inbox_files(&gw.home.state_dir()),
        2,
        "recorded in the inbox, beside the busy run's own entry (kept until its reply is out)"
    );
    (tg, llm, gw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_queued_behind_a_busy_session_is_acked_and_survives_kill_9() {
    let (tg, llm, gw) = queued_behind_a_busy_run("queued", &[]).await;
    let home_dir = gw.home.state_dir();
    // Acknowledged while the main session is still busy: the inbox holds it durably instead.
    assert_eq!(runs_for(&llm, "queued"), 0, "still waiting for the lane");

    let gw = gateway(kill_9(gw), &[]);
    replied_once(&tg, OWNER, "echo: queued").await;
    assert_eq!(runs_for(&llm, "queued"), 1, "replayed exactly once");
    // The cut run is answered after the restart: the model is asked once more, the turn is
    // not written twice.
    replied_once(&tg, OWNER, "echo: first").await;
    assert_eq!(runs_for(&llm, "first"), 2);
    wait_for("the inbox to drain", || inbox_files(&home_dir) == 0).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let users = user_turns(&mut raw, "main").await;
    assert_eq!(
        users.iter().filter(|u| u.contains("queued")).count(),
        1,
        "{users:?}"
    );
    assert_eq!(
        users.iter().filter(|u| u.contains("first")).count(),
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
    let knob = [("OPENCLAW_TEST_RUN_WAIT_MS", "1500")];
    let (tg, llm, gw) = queued_behind_a_busy_run("long-queued", &knob).await;
    let home_dir = gw.home.state_dir();
    // The scenario itself is "waits longer than the run wait": let that time pass.
    tokio::time::sleep(Duration::from_millis(3 * WAIT_MS)).await;
    assert_eq!(
        runs_for(&llm, "long-queued"),
        0,
        "still waiting for the lane"
    );
    // The busy run's entry went with its "did not answer in time" reply; the queued one stays.
    wait_for("the busy run's entry cleared", || {
        inbox_files(&home_dir) == 1
    })
    .await;
    assert_eq!(
        runs_for(&llm, "long-queued"),
        0,
        "a queued entry stays past the run wait"
    );
    let _gw = gateway(kill_9(gw), &knob);
    replied_once(&tg, OWNER, "echo: long-queued").await;
    assert_eq!(runs_for(&llm, "long-queued"), 1, "replayed exactly once");
    wait_for("the inbox to drain", || inbox_files(&home_dir) == 0).await;
}

/// More entries left for one session than its lane takes (1 running + 8 queued) are all
/// replayed in turn: a full lane at replay means "later", never "drop".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_retries_entries_when_the_lane_is_full_instead_of_dropping_them() {
    let (tg, llm, home) = configured(|_| {}).await;
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
    let _gw = gateway(home, &[]);
    for i in 0..n {
        let text = format!("echo: left-{i:02}-over");
        replied_once(&tg, OWNER, &text).await;
    }
    wait_for("the inbox to drain", || inbox_files(&home_dir) == 0).await;
    for i in 0..n {
        assert_eq!(runs_for(&llm, &format!("left-{i:02}-over")), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindings_and_mention_patterns_route_group_messages() {
    let (tg, llm, home) = configured(|cfg| {
        cfg["agents"]["list"] = json!([{"id": "main", "default": true}, {"id": "ops"}]);
        cfg["bindings"] = json!([{"agentId": "ops", "match": {"channel": "telegram",
            "peer": {"kind": "group", "id": "-1001"}}}]);
        cfg["messages"] = json!({"groupChat": {"mentionPatterns": ["\\bclaw\\b"]}});
        open_groups_need_a_mention(cfg);
    })
    .await;
    let gw = gateway(home, &[]);
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
    replied_once(&tg, OWNER, "echo: while stopped").await;
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
    let gw = gateway(home, &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let acct = account_with_error(
        &mut raw,
        "whatsapp",
        "openclaw channels login --channel whatsapp",
    )
    .await;
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
    let (status, head, body) =
        tokio::task::block_in_place(|| http_request(gw.port, "GET", "/readyz", &[], ""));
    assert_eq!(status, 200, "{head}{body}");
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
        let mut cmd = gw.home.command(SEND_TO_OWNER);
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
    let (tg, llm, home) = configured(open_groups_need_a_mention).await;
    let gw = gateway(home, &[]);
    tg.push_dm(OWNER, "remember the number 7");
    replied_once(&tg, OWNER, "echo: remember the number 7").await;
    tg.push_dm(OWNER, "/new");
    replied_once(&tg, OWNER, "✅ New session started.").await;
    assert_eq!(llm.requests().len(), 1, "a bare /new calls no model");
    tg.push_dm(OWNER, "/reset what was the number?");
    replied_once(&tg, OWNER, "echo: what was the number?").await;
    let last = llm.requests().last().cloned().unwrap();
    let turns = last["messages"].to_string();
    assert!(
        !turns.contains("remember the number 7"),
        "the reset session starts empty: {turns}"
    );
    tg.push_dm(OWNER, "/stop");
    replied_once(&tg, OWNER, "Nothing is running.").await;
    // In a group that needs a mention, a command addressed to this bot works; one for
    // another bot is not ours.
    let group = |id: i64, text: &str| {
        json!({"message": {"message_id": id, "date": 1_700_000_000,
            "chat": {"id": -1002, "type": "supergroup", "title": "G"},
            "from": {"id": OWNER, "is_bot": false, "first_name": "Alice"}, "text": text}})
    };
    tg.push_update(group(900, "/new@SomeOtherBot"));
    tg.push_update(group(901, &format!("/new@{FAKE_BOT_USERNAME}")));
    replied_once(&tg, -1002, "✅ New session started.").await;
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
    let (tg, llm, home) =
        configured(|cfg| cfg["channels"]["telegram"]["dmPolicy"] = json!("pairing")).await;
    let gw = gateway(home, &[]);
    tg.push_dm(STRANGER, "hello?");
    replied_once(&tg, STRANGER, "Your pairing code:").await;
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

    let (c, out, err) = cli(&gw, &["pairing", "list", "telegram"]);
    assert_eq!(c, 0, "{err}");
    assert!(out.contains(&code) && out.contains("999"), "{out}");
    let (c, _, err) = cli(&gw, &["pairing", "approve", "telegram", "WRONG234"]);
    assert_eq!(c, 1);
    assert!(err.contains("no pending telegram pairing request"), "{err}");
    let (c, _, err) = cli(&gw, &["pairing", "list", "carrier-pigeon"]);
    assert_eq!(c, 2);
    assert!(err.contains("unknown channel"), "{err}");
    let lower = code.to_lowercase();
    let (c, out, err) = cli(&gw, &["pairing", "approve", "telegram", &lower, "--notify"]);
    assert_eq!(c, 0, "{err}");
    assert!(out.contains("Approved telegram sender 999"), "{out}");
    assert_eq!(tg.replies_to(STRANGER, "You are approved"), 1);
    tg.push_dm(STRANGER, "now?");
    replied_once(&tg, STRANGER, "echo: now?").await;
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
