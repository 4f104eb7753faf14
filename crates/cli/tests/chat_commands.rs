//! Chat commands through the real binary: `/status`, `/model`, `/think`, `/verbose`, `/help` and
//! `/commands` answered without a model run, from WebChat (`chat.send`), the `agent` method and
//! a Telegram DM (fake Bot API), with their effect visible in `sessions.list` and in the next
//! request the fake provider receives; `commands.list` describes them.

mod common;

use common::*;
use openclaw_testkit::FakeOpenAi;
use openclaw_testkit::telegram::{FAKE_TOKEN, FakeTelegram};
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];
const OWNER: i64 = 111;
const KEY: &str = "agent:main:main";

/// Provider `fake` with models `m1` (default) and `m2` (alias `Second`), and a Telegram account
/// that only the owner may use.
fn config(home: &Home, llm: &FakeOpenAi, tg: Option<&FakeTelegram>) -> Value {
    let mut cfg = fake_model_config(home, &llm.url());
    cfg["models"]["providers"]["fake"]["models"] = json!([
        {"id": "m1", "name": "Fake One", "contextWindow": 32000},
        {"id": "m2", "name": "Fake Two", "reasoning": true}
    ]);
    cfg["agents"]["defaults"]["models"] = json!({"fake/m1": {}, "fake/m2": {"alias": "Second"}});
    if let Some(tg) = tg {
        cfg["channels"] = json!({"telegram": {"botToken": FAKE_TOKEN, "apiRoot": tg.url(),
            "dmPolicy": "allowlist", "allowFrom": [OWNER.to_string()]}});
    }
    cfg
}

fn ok(res: &Value) -> &Value {
    assert_eq!(res["ok"], true, "{res}");
    &res["payload"]
}

/// `chat.send` of a command: acked with `status: ok` (no run) and answered by a `chat` final
/// whose text is returned.
async fn command(raw: &mut Raw, text: &str, idem: &str) -> String {
    let res = raw
        .call(
            "chat.send",
            json!({"sessionKey": KEY, "message": text, "idempotencyKey": idem}),
        )
        .await;
    assert_eq!(ok(&res)["status"], "ok", "{text}: {res}");
    loop {
        let ev = raw.event("chat").await;
        let p = &ev["payload"];
        if p["runId"] == idem {
            assert_eq!(p["state"], "final", "{ev}");
            return p["message"]["content"][0]["text"]
                .as_str()
                .unwrap()
                .to_string();
        }
    }
}

/// A normal message: waits for the run's final.
async fn chat(raw: &mut Raw, text: &str, idem: &str) {
    let res = raw
        .call(
            "chat.send",
            json!({"sessionKey": KEY, "message": text, "idempotencyKey": idem}),
        )
        .await;
    assert_eq!(ok(&res)["status"], "started", "{res}");
    loop {
        let ev = raw.event("chat").await;
        if ev["payload"]["runId"] == idem && ev["payload"]["state"] != "delta" {
            assert_eq!(ev["payload"]["state"], "final", "{ev}");
            return;
        }
    }
}

async fn row(raw: &mut Raw) -> Value {
    let res = raw.call("sessions.list", json!({})).await;
    ok(&res)["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == KEY)
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webchat_commands_change_the_session_without_a_run() {
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &llm, None));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;

    let status = command(&mut raw, "/status", "c1").await;
    assert!(status.contains("Model: fake/m1"), "{status}");
    assert!(status.contains("Think: off"), "{status}");
    assert!(status.contains(KEY), "{status}");

    let help = command(&mut raw, "/help", "c2").await;
    for c in [
        "/status", "/model", "/think", "/verbose", "/compact", "/new", "/stop",
    ] {
        assert!(help.contains(c), "{c} in {help}");
    }
    let all = command(&mut raw, "/commands", "c3").await;
    assert!(all.contains("/think, /thinking, /t"), "{all}");

    // /model: listing, an alias, a refusal that changes nothing, and back to the default.
    let list = command(&mut raw, "/model", "c4").await;
    assert!(list.contains("Current model: fake/m1"), "{list}");
    assert!(
        list.contains("fake/m2 (alias second)") || list.contains("fake/m2 (alias Second)"),
        "{list}"
    );
    let set = command(&mut raw, "/model Second", "c5").await;
    assert_eq!(set, "Model set to fake/m2.");
    let refused = command(&mut raw, "/model other/x9", "c6").await;
    assert!(refused.contains("not allowed"), "{refused}");
    let r = row(&mut raw).await;
    assert_eq!(r["modelOverride"], "m2", "{r}");
    assert_eq!(r["providerOverride"], "fake", "{r}");
    assert_eq!(llm.requests().len(), 0, "no command reached the model");

    // The next run uses the session's model.
    chat(&mut raw, "hello after /model", "r1").await;
    assert_eq!(llm.requests().len(), 1);
    assert_eq!(llm.requests()[0]["model"], "m2");
    let back = command(&mut raw, "/model default", "c7").await;
    assert!(back.contains("fake/m1"), "{back}");
    chat(&mut raw, "hello again", "r2").await;
    assert_eq!(llm.requests()[1]["model"], "m1");

    // /think and /verbose, with aliases, inline form and a refused level.
    assert_eq!(
        command(&mut raw, "/think high", "c8").await,
        "Thinking level set to high."
    );
    assert_eq!(row(&mut raw).await["thinkingLevel"], "high");
    assert_eq!(
        command(&mut raw, "/t:low", "c9").await,
        "Thinking level set to low."
    );
    let bad = command(&mut raw, "/think loud", "c10").await;
    assert!(
        bad.starts_with("Unrecognized thinking level \"loud\""),
        "{bad}"
    );
    assert_eq!(row(&mut raw).await["thinkingLevel"], "low");
    assert_eq!(
        command(&mut raw, "/verbose on", "c11").await,
        "Verbose logging enabled."
    );
    assert_eq!(row(&mut raw).await["verboseLevel"], "on");
    assert_eq!(
        command(&mut raw, "/v", "c12").await,
        "Verbose logging disabled."
    );
    let status = command(&mut raw, "/status", "c13").await;
    assert!(status.contains("Think: low · Verbose: off"), "{status}");
    assert_eq!(llm.requests().len(), 2, "still only the two real runs");

    // A message that only looks like a command is a message.
    chat(&mut raw, "/help me write a poem", "r3").await;
    assert_eq!(llm.requests().len(), 3);

    // `/new` and `/compact` answer the same way (`/stop` answers like `chat.abort`).
    assert_eq!(
        command(&mut raw, "/new", "c14").await,
        "✅ New session started."
    );
    // `/compact` may have to wait for a run to stop, so it is acked as started.
    let res = raw
        .call(
            "chat.send",
            json!({"sessionKey": KEY, "message": "/compact", "idempotencyKey": "c15"}),
        )
        .await;
    assert_eq!(ok(&res)["status"], "started", "{res}");
    loop {
        let ev = raw.event("chat").await;
        if ev["payload"]["runId"] == "c15" {
            let text = ev["payload"]["message"]["content"][0]["text"]
                .as_str()
                .unwrap_or("");
            assert!(text.contains("Compaction skipped"), "{ev}");
            break;
        }
    }
    let res = raw
        .call(
            "chat.send",
            json!({"sessionKey": KEY, "message": "/stop", "idempotencyKey": "c16"}),
        )
        .await;
    assert_eq!(ok(&res)["aborted"], false, "{res}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_method_answers_commands_in_its_final() {
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &llm, None));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    raw.send(&json!({"type": "req", "id": "a1", "method": "agent",
        "params": {"message": "/think medium", "idempotencyKey": "a1"}}))
        .await;
    let ack = raw.res("a1").await;
    assert_eq!(ok(&ack)["status"], "accepted", "{ack}");
    let fin = raw.res("a1").await;
    assert_eq!(
        ok(&fin)["result"]["payloads"][0]["text"],
        "Thinking level set to medium.",
        "{fin}"
    );
    assert_eq!(row(&mut raw).await["thinkingLevel"], "medium");
    assert_eq!(llm.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_list_describes_the_commands_in_the_reference_shape() {
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &llm, None));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    let res = raw.call("commands.list", json!({})).await;
    let ours = ok(&res)["commands"].as_array().unwrap().clone();
    let recorded: Value =
        serde_json::from_str(&fixture("commands.list.json")).expect("recorded commands.list");
    let reference = recorded["commands"].as_array().unwrap();
    for c in &ours {
        let name = c["name"].as_str().unwrap();
        let theirs = reference
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} is a reference command"));
        for k in ["nativeName", "category", "source", "scope", "acceptsArgs"] {
            assert_eq!(c[k], theirs[k], "{name}.{k}");
        }
        // Every alias we accept is one the reference accepts.
        for a in c["textAliases"].as_array().unwrap() {
            assert!(
                theirs["textAliases"].as_array().unwrap().contains(a),
                "{name}: {a}"
            );
        }
    }
    let names: Vec<&str> = ours.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for n in [
        "help", "commands", "status", "stop", "reset", "new", "compact", "think", "verbose",
        "model",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let think = ours.iter().find(|c| c["name"] == "think").unwrap();
    assert_eq!(think["args"][0]["choices"][0]["value"], "off");
    let res = raw
        .call("commands.list", json!({"includeArgs": false}))
        .await;
    assert!(ok(&res)["commands"][0].get("args").is_none());
    let res = raw.call("commands.list", json!({"agentId": "ghost"})).await;
    assert_eq!(res["error"]["code"], "INVALID_REQUEST", "{res}");
    let res = raw
        .call("commands.list", json!({"scope": "everywhere"}))
        .await;
    assert_eq!(res["error"]["code"], "INVALID_REQUEST", "{res}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_commands_reply_in_the_chat_and_strangers_get_nothing() {
    let llm = FakeOpenAi::start().await;
    let tg = FakeTelegram::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &llm, Some(&tg)));
    let _gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    tg.push_dm(OWNER, "/think high");
    wait_for("think reply", || {
        tg.replies_to(OWNER, "Thinking level set to high.") == 1
    })
    .await;
    tg.push_dm(OWNER, "/model Second");
    wait_for("model reply", || {
        tg.replies_to(OWNER, "Model set to fake/m2.") == 1
    })
    .await;
    tg.push_dm(OWNER, "/status");
    wait_for("status reply", || {
        tg.replies_to(OWNER, "Model: fake/m2 (session override)") == 1
    })
    .await;
    assert_eq!(tg.replies_to(OWNER, "Think: high"), 1);
    // Every other command answers in the chat too, without a run.
    for (command, reply) in [
        ("/verbose on", "Verbose logging enabled."),
        ("/help", "/verbose on|off|full"),
        ("/commands", "/think, /thinking, /t"),
        ("/compact", "Compaction skipped"),
        ("/stop", "Nothing is running."),
    ] {
        tg.push_dm(OWNER, command);
        wait_for(command, || tg.replies_to(OWNER, reply) == 1).await;
    }
    assert_eq!(llm.requests().len(), 0, "no command reached the model");
    // A stranger's command is not answered and changes nothing.
    tg.push_dm(999, "/think off");
    tg.push_dm(OWNER, "real question");
    wait_for("reply to the question", || {
        tg.replies_to(OWNER, "echo: real question") == 1
    })
    .await;
    assert_eq!(tg.replies_to(999, ""), 0);
    assert_eq!(llm.requests().len(), 1, "only the real question ran");
    assert_eq!(llm.requests()[0]["model"], "m2");
    // `/new` starts a fresh session; the settings were the old session's.
    tg.push_dm(OWNER, "/new");
    wait_for("new session", || {
        tg.replies_to(OWNER, "New session started.") == 1
    })
    .await;
}
