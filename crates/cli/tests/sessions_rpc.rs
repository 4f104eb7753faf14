//! Sessions and models as clients see them, through the real binary against fake model
//! providers on loopback: `models.list` (catalog, availability, allowlist), `sessions.patch`
//! (every field, null clears, validation, model choice applied to the next run), `preview`,
//! `resolve`, `get`, `create`, `compact`, `chat.inject`, `sessions.changed` to subscribers,
//! and the WebChat restrictions.

mod common;

use common::*;
use openclaw_testkit::{FakeAnthropic, FakeOpenAi};
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];

/// The fake OpenAI-compatible provider `fake` (models `m1`, `m2`) as the default, plus
/// `extra` merged at the top level.
fn config(home: &Home, fake_url: &str, extra: Value) -> Value {
    let mut cfg = fake_model_config(home, fake_url);
    cfg["models"]["providers"]["fake"]["models"] = json!([
        {"id": "m1", "name": "Fake One", "contextWindow": 32000},
        {"id": "m2", "name": "Fake Two", "reasoning": true, "input": ["text", "image"]}
    ]);
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    cfg
}

fn start(cfg: impl FnOnce(&Home) -> Value) -> Gateway {
    let home = Home::new();
    home.write_config(&cfg(&home));
    Gateway::start_in(home, &["gateway", "--port", "0"], &[])
}

async fn call(raw: &mut Raw, method: &str, params: Value) -> Value {
    raw.call(method, params).await
}

fn ok(res: &Value) -> &Value {
    assert_eq!(res["ok"], true, "{res}");
    &res["payload"]
}

fn err(res: &Value) -> (&str, &str) {
    assert_eq!(res["ok"], false, "{res}");
    (
        res["error"]["code"].as_str().unwrap(),
        res["error"]["message"].as_str().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_list_reports_the_catalog_in_the_reference_shape() {
    let fake = FakeOpenAi::start().await;
    let gw = start(|h| {
        let mut cfg = config(h, &fake.url(), json!({}));
        // A second configured provider without a key: listed, not available.
        cfg["models"]["providers"]["nokey"] =
            json!({"baseUrl": fake.url(), "models": [{"id": "x1"}]});
        cfg
    });
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let res = call(&mut raw, "models.list", json!({})).await;
    let models = ok(&res)["models"].as_array().unwrap().clone();
    let ids: Vec<String> = models
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["provider"].as_str().unwrap(),
                m["id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(ids, ["fake/m1", "fake/m2", "nokey/x1"]);

    // Every key the reference reports for a model is there, with the same types.
    let recorded: Value = serde_json::from_str(&fixture("models.list.json")).unwrap();
    let reference = &recorded["models"][0];
    for (k, v) in reference.as_object().unwrap() {
        let ours = &models[0][k];
        assert_eq!(
            std::mem::discriminant(ours),
            std::mem::discriminant(v),
            "{k}: ours {ours}, reference {v}"
        );
    }
    let m1 = &models[0];
    assert_eq!(m1["name"], "Fake One");
    assert_eq!(m1["contextWindow"], 32000);
    assert_eq!(m1["reasoning"], false);
    assert_eq!(m1["input"], json!(["text"]));
    assert_eq!(m1["tags"], json!(["default"]));
    assert_eq!(m1["thinkingLevels"], json!([{"id": "off", "label": "off"}]));
    assert_eq!(m1["thinkingDefault"], "off");
    assert_eq!(m1["available"], true);
    let m2 = &models[1];
    assert_eq!(m2["reasoning"], true);
    assert_eq!(m2["input"], json!(["text", "image"]));
    assert!(m2["thinkingLevels"].as_array().unwrap().len() > 1);
    assert!(m2.get("tags").is_none(), "{m2}");
    assert_eq!(models[2]["available"], false);
    assert_eq!(models[2]["unavailableReason"], "missing-auth");

    let res = call(&mut raw, "models.list", json!({"provider": "nokey"})).await;
    assert_eq!(ok(&res)["models"].as_array().unwrap().len(), 1);
    let res = call(&mut raw, "models.list", json!({"bogus": 1})).await;
    let (code, msg) = err(&res);
    assert_eq!(code, "INVALID_REQUEST");
    assert!(msg.contains("bogus"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_list_shows_the_allowlist_with_aliases_and_env_keyed_builtins() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    let mut cfg = config(&home, &fake.url(), json!({}));
    cfg["agents"]["defaults"]["models"] = json!({
        "fake/m2": {"alias": "Thinker"},
        "anthropic/claude-opus-4-6": {}
    });
    home.write_config(&cfg);
    let gw = Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("ANTHROPIC_API_KEY", "sk-ant-test")],
    );
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let res = call(&mut raw, "models.list", json!({})).await;
    let models = ok(&res)["models"].as_array().unwrap().clone();
    let ids: Vec<String> = models
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["provider"].as_str().unwrap(),
                m["id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(ids, ["anthropic/claude-opus-4-6", "fake/m2"]);
    assert_eq!(models[0]["available"], true, "the env key makes it usable");
    assert_eq!(models[1]["alias"], "Thinker");
    // `view: all` shows the whole catalog, the allowlist aside.
    let res = call(&mut raw, "models.list", json!({"view": "all"})).await;
    assert!(ok(&res)["models"].as_array().unwrap().len() >= 3, "{res}");
}

/// `chat.send` on `key` and wait for its `chat` final; returns the final's payload.
async fn send_and_wait(raw: &mut Raw, key: &str, message: &str, idem: &str) -> Value {
    let res = call(
        raw,
        "chat.send",
        json!({"sessionKey": key, "message": message, "idempotencyKey": idem}),
    )
    .await;
    assert_eq!(ok(&res)["status"], "started", "{res}");
    loop {
        let ev = raw.event("chat").await;
        let p = &ev["payload"];
        if p["runId"] == idem && p["state"] != "delta" {
            assert_eq!(p["state"], "final", "{ev}");
            return p.clone();
        }
    }
}

/// Waits (bounded) for a `sessions.changed` for `key` with `reason`; returns its payload.
async fn changed(raw: &mut Raw, key: &str, reason: &str) -> Value {
    loop {
        let ev = raw.event("sessions.changed").await;
        let p = &ev["payload"];
        if p["sessionKey"] == key && p["reason"] == reason {
            return p.clone();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_sets_every_field_clears_with_null_and_names_bad_paths() {
    let fake = FakeOpenAi::start().await;
    let gw = start(|h| config(h, &fake.url(), json!({})));
    let (mut raw, _) = connected(&gw.url(), OP).await;
    ok(&call(&mut raw, "sessions.subscribe", json!({})).await);
    let key = "agent:main:explicit:s1";
    let res = call(
        &mut raw,
        "sessions.patch",
        json!({
            "key": key, "label": "  first  ", "thinkingLevel": "HIGH", "fastMode": true,
            "verboseLevel": "on", "traceLevel": "on", "reasoningLevel": "stream",
            "responseUsage": "on", "elevatedLevel": "ask", "execHost": "gateway",
            "execSecurity": "allowlist", "execAsk": "on-miss", "execNode": "node-1",
            "model": "fake/m2", "spawnedBy": "agent:main:main", "spawnDepth": 1,
            "sendPolicy": "deny", "groupActivation": "always"
        }),
    )
    .await;
    let p = ok(&res).clone();
    // The reference's top-level shape.
    let recorded: Value = serde_json::from_str(&fixture("sessions.patch.json")).unwrap();
    for k in recorded.as_object().unwrap().keys() {
        assert!(p.get(k).is_some(), "missing {k}: {p}");
    }
    assert_eq!(p["ok"], true);
    assert_eq!(p["key"], key);
    assert!(
        p["path"].as_str().unwrap().ends_with("sessions.json"),
        "{p}"
    );
    assert_eq!(
        p["resolved"],
        json!({"modelProvider": "fake", "model": "m2"})
    );
    let e = &p["entry"];
    assert!(!e["sessionId"].as_str().unwrap().is_empty(), "created: {e}");
    for (field, want) in [
        ("label", json!("first")),
        ("thinkingLevel", json!("high")),
        ("fastMode", json!(true)),
        ("verboseLevel", json!("on")),
        ("traceLevel", json!("on")),
        ("reasoningLevel", json!("stream")),
        ("responseUsage", json!("tokens")),
        ("elevatedLevel", json!("ask")),
        ("execHost", json!("gateway")),
        ("execSecurity", json!("allowlist")),
        ("execAsk", json!("on-miss")),
        ("execNode", json!("node-1")),
        ("providerOverride", json!("fake")),
        ("modelOverride", json!("m2")),
        ("spawnedBy", json!("agent:main:main")),
        ("spawnDepth", json!(1)),
        ("sendPolicy", json!("deny")),
        ("groupActivation", json!("always")),
    ] {
        assert_eq!(e[field], want, "{field}: {e}");
    }
    changed(&mut raw, key, "patch").await;
    // The row as sessions.list shows it carries the same settings.
    let list = call(&mut raw, "sessions.list", json!({})).await;
    let row = ok(&list)["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .cloned()
        .unwrap();
    assert_eq!(row["label"], "first");
    assert_eq!(row["sendPolicy"], "deny");

    // null clears; untouched fields stay.
    let res = call(
        &mut raw,
        "sessions.patch",
        json!({"key": key, "label": null, "thinkingLevel": null, "model": null,
               "sendPolicy": null, "fastMode": null}),
    )
    .await;
    let p = ok(&res).clone();
    let e = &p["entry"];
    for gone in [
        "label",
        "thinkingLevel",
        "providerOverride",
        "modelOverride",
        "sendPolicy",
        "fastMode",
    ] {
        assert!(e.get(gone).is_none(), "{gone} not cleared: {e}");
    }
    assert_eq!(e["verboseLevel"], "on");
    assert_eq!(
        p["resolved"],
        json!({"modelProvider": "fake", "model": "m1"})
    );

    // Bad input: INVALID_REQUEST naming the path (or the refused value).
    for (params, needle) in [
        (
            json!({"key": key, "thinkingLevel": "extreme"}),
            "/thinkingLevel",
        ),
        (json!({"key": key, "verboseLevel": "loud"}), "/verboseLevel"),
        (json!({"key": key, "execAsk": "sometimes"}), "/execAsk"),
        (json!({"key": key, "sendPolicy": "maybe"}), "/sendPolicy"),
        (
            json!({"key": key, "responseUsage": "all"}),
            "/responseUsage",
        ),
        (json!({"key": key, "spawnDepth": -1}), "/spawnDepth"),
        (json!({"key": key, "label": "x".repeat(513)}), "/label"),
        (json!({"key": key, "label": "   "}), "/label"),
        (json!({"key": key, "model": "fake/nope"}), "fake/nope"),
        (json!({"key": key, "model": "nowhere/m"}), "nowhere/m"),
        (json!({"key": key, "model": ""}), "/model"),
        (json!({"key": key, "colour": "red"}), "colour"),
        (json!({"label": "x"}), "key"),
        (
            json!({"key": key, "spawnedBy": "agent:main:other"}),
            "spawnedBy",
        ),
    ] {
        let res = call(&mut raw, "sessions.patch", params.clone()).await;
        let (code, msg) = err(&res);
        assert_eq!(code, "INVALID_REQUEST", "{params}");
        assert!(msg.contains(needle), "{params}: {msg}");
    }
    // A label is one session's.
    ok(&call(
        &mut raw,
        "sessions.patch",
        json!({"key": key, "label": "mine"}),
    )
    .await);
    let res = call(
        &mut raw,
        "sessions.patch",
        json!({"key": "agent:main:explicit:s2", "label": "mine"}),
    )
    .await;
    assert!(err(&res).1.contains("label already in use"), "{res}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_run_uses_the_patched_model_and_unknown_models_are_refused() {
    let fake = FakeOpenAi::start().await;
    let claude = FakeAnthropic::start().await;
    let gw = start(|h| {
        let mut cfg = config(h, &fake.url(), json!({}));
        cfg["models"]["providers"]["claude"] = json!({
            "baseUrl": claude.url(), "api": "anthropic-messages", "apiKey": "sk-ant",
            "models": [{"id": "c1", "name": "Claude One"}]
        });
        cfg["agents"]["defaults"]["models"] = json!({
            "fake/m1": {}, "claude/c1": {"alias": "Sonnet"}
        });
        cfg
    });
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let key = "agent:main:explicit:runs";

    let fin = send_and_wait(&mut raw, key, "first", "r1").await;
    assert_eq!(fin["message"]["content"][0]["text"], "echo: first");
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(fake.requests()[0]["model"], "m1");

    // The alias resolves through the allowlist; the next run goes to the other provider.
    let res = call(
        &mut raw,
        "sessions.patch",
        json!({"key": key, "model": "sonnet"}),
    )
    .await;
    assert_eq!(
        ok(&res)["resolved"],
        json!({"modelProvider": "claude", "model": "c1"})
    );
    let fin = send_and_wait(&mut raw, key, "second", "r2").await;
    assert_eq!(fin["message"]["content"][0]["text"], "echo: second");
    assert_eq!(claude.requests().len(), 1);
    assert_eq!(claude.requests()[0]["model"], "c1");
    assert_eq!(
        fake.requests().len(),
        1,
        "the default provider was not asked"
    );
    // The session row records what answered.
    let list = call(&mut raw, "sessions.list", json!({})).await;
    let row = ok(&list)["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .cloned()
        .unwrap();
    assert_eq!(
        (row["modelProvider"].clone(), row["model"].clone()),
        (json!("claude"), json!("c1"))
    );

    // Outside the allowlist: refused, and the override stays as it was.
    let res = call(
        &mut raw,
        "sessions.patch",
        json!({"key": key, "model": "fake/m2"}),
    )
    .await;
    let (code, msg) = err(&res);
    assert_eq!(code, "INVALID_REQUEST");
    assert_eq!(msg, "model not allowed: fake/m2");
    let res = call(
        &mut raw,
        "sessions.patch",
        json!({"key": key, "model": "gpt-9"}),
    )
    .await;
    assert_eq!(err(&res).0, "INVALID_REQUEST");

    // Clearing the override sends the next run back to the agent's model.
    ok(&call(
        &mut raw,
        "sessions.patch",
        json!({"key": key, "model": null}),
    )
    .await);
    send_and_wait(&mut raw, key, "third", "r3").await;
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(claude.requests().len(), 1);
}

/// Connects as client `id` in `mode` (shared token, a device paired silently on loopback).
async fn webchat_connect(gw: &Gateway, id: &str, mode: &str, seed: u8) -> Raw {
    // Browsers send their Origin; a native client in webchat mode does not.
    let origin = format!("http://127.0.0.1:{}", gw.port);
    let headers: &[(&str, &str)] = if id.contains("ui") {
        &[("origin", &origin)]
    } else {
        &[]
    };
    let (mut raw, ch) = Raw::open_with(&gw.url(), headers).await;
    let nonce = ch["payload"]["nonce"].as_str().unwrap().to_string();
    let mut p = connect_params(Some(TOKEN), OP);
    p["client"]["id"] = json!(id);
    p["client"]["mode"] = json!(mode);
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    signed(&mut p, &key, &nonce, TOKEN);
    raw.send(&connect_frame("c", p)).await;
    let res = raw.res("c").await;
    assert_eq!(res["ok"], true, "{res}");
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_hear_patch_reset_delete_and_webchat_may_not_mutate() {
    let fake = FakeOpenAi::start().await;
    let gw = start(|h| config(h, &fake.url(), json!({})));
    let (mut admin, _) = connected(&gw.url(), OP).await;
    let (mut watcher, _) = connected(&gw.url(), &["operator.read"]).await;
    ok(&call(&mut watcher, "sessions.subscribe", json!({})).await);
    let key = "agent:main:explicit:ev";

    ok(&call(
        &mut admin,
        "sessions.patch",
        json!({"key": key, "label": "ev"}),
    )
    .await);
    changed(&mut watcher, key, "patch").await;
    ok(&call(&mut admin, "sessions.reset", json!({"key": key})).await);
    changed(&mut watcher, key, "reset").await;
    ok(&call(&mut admin, "sessions.delete", json!({"key": key})).await);
    changed(&mut watcher, key, "delete").await;

    // A patch needs write scope at least (a read-only watcher has none).
    let res = call(&mut watcher, "sessions.patch", json!({"key": key})).await;
    assert!(err(&res).1.contains("operator.write"), "{res}");

    // WebChat: by client id, and by mode.
    ok(&call(
        &mut admin,
        "sessions.patch",
        json!({"key": key, "label": "keep"}),
    )
    .await);
    for (id, mode, seed) in [("webchat-ui", "ui", 11), ("gateway-client", "webchat", 12)] {
        let mut web = webchat_connect(&gw, id, mode, seed).await;
        let res = call(
            &mut web,
            "sessions.patch",
            json!({"key": key, "label": "nope"}),
        )
        .await;
        let (code, msg) = err(&res);
        assert_eq!(code, "INVALID_REQUEST");
        assert!(
            msg.contains("webchat clients cannot patch sessions"),
            "{msg}"
        );
        let res = call(&mut web, "sessions.delete", json!({"key": key})).await;
        assert!(
            err(&res)
                .1
                .contains("webchat clients cannot delete sessions"),
            "{res}"
        );
    }
    // Nothing changed.
    let res = call(&mut admin, "sessions.resolve", json!({"label": "keep"})).await;
    assert_eq!(ok(&res)["key"], key);
    // The Control UI connects in webchat mode and still may.
    let mut ui = webchat_connect(&gw, "openclaw-control-ui", "webchat", 13).await;
    ok(&call(
        &mut ui,
        "sessions.patch",
        json!({"key": key, "label": "ui"}),
    )
    .await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_resolve_get_create_compact_and_inject() {
    let fake = FakeOpenAi::start().await;
    let gw = start(|h| config(h, &fake.url(), json!({})));
    let (mut raw, _) = connected(&gw.url(), OP).await;
    ok(&call(&mut raw, "sessions.subscribe", json!({})).await);
    let key = "agent:main:explicit:cap-s1";
    send_and_wait(&mut raw, key, "ping 4040", "p1").await;

    // preview: the recorded reference answer, ts aside.
    let res = call(
        &mut raw,
        "sessions.preview",
        json!({"keys": [key, "agent:main:explicit:none"]}),
    )
    .await;
    let p = ok(&res).clone();
    let mut recorded: Value = serde_json::from_str(&fixture("sessions.preview.json")).unwrap();
    recorded["previews"][0]["items"][1]["text"] = json!("echo: ping 4040");
    assert_eq!(p["previews"][0], recorded["previews"][0]);
    assert_eq!(
        p["previews"][1],
        json!({"key": "agent:main:explicit:none", "status": "missing", "items": []})
    );
    let res = call(
        &mut raw,
        "sessions.preview",
        json!({"keys": [key], "limit": 1, "maxChars": 20}),
    )
    .await;
    assert_eq!(
        ok(&res)["previews"][0]["items"],
        json!([{"role": "assistant", "text": "echo: ping 4040"}])
    );
    let res = call(&mut raw, "sessions.preview", json!({"keys": []})).await;
    assert!(err(&res).1.contains("/keys"), "{res}");
    let res = call(
        &mut raw,
        "sessions.preview",
        json!({"keys": [key], "maxChars": 5}),
    )
    .await;
    assert!(err(&res).1.contains("/maxChars"), "{res}");

    // resolve: by key, sessionId, label; unknown ones refused.
    let res = call(&mut raw, "sessions.resolve", json!({"key": key})).await;
    assert_eq!(ok(&res)["key"], key);
    let sid = ok(&call(&mut raw, "sessions.get", json!({"key": key})).await)["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let res = call(&mut raw, "sessions.resolve", json!({"sessionId": sid})).await;
    assert_eq!(ok(&res)["key"], key);
    ok(&call(
        &mut raw,
        "sessions.patch",
        json!({"key": key, "label": "captured"}),
    )
    .await);
    let res = call(&mut raw, "sessions.resolve", json!({"label": "captured"})).await;
    assert_eq!(ok(&res)["key"], key);
    for params in [
        json!({"key": "agent:main:explicit:none"}),
        json!({"label": "nobody"}),
        json!({}),
        json!({"key": key, "label": "captured"}),
    ] {
        let res = call(&mut raw, "sessions.resolve", params.clone()).await;
        assert_eq!(err(&res).0, "INVALID_REQUEST", "{params}");
    }

    // get: the transcript's messages, last `limit`.
    let res = call(
        &mut raw,
        "sessions.get",
        json!({"sessionKey": key, "limit": 1}),
    )
    .await;
    let msgs = ok(&res)["messages"].as_array().unwrap().clone();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["role"], "assistant");
    let res = call(
        &mut raw,
        "sessions.get",
        json!({"key": "agent:main:explicit:none"}),
    )
    .await;
    assert_eq!(err(&res).0, "INVALID_REQUEST");

    // chat.inject: an assistant note in the transcript, a chat final, no model call.
    let calls = fake.requests().len();
    let res = call(
        &mut raw,
        "chat.inject",
        json!({"sessionKey": key, "message": "note to self", "label": "memo"}),
    )
    .await;
    let id = ok(&res)["messageId"].as_str().unwrap().to_string();
    assert!(!id.is_empty());
    let ev = loop {
        let ev = raw.event("chat").await;
        if ev["payload"]["runId"]
            .as_str()
            .unwrap()
            .starts_with("inject-")
        {
            break ev;
        }
    };
    assert_eq!(ev["payload"]["state"], "final");
    assert_eq!(ev["payload"]["sessionKey"], key);
    assert!(
        ev["payload"]["message"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("note to self")
    );
    let res = call(&mut raw, "sessions.get", json!({"key": key})).await;
    let last = ok(&res)["messages"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(last["role"], "assistant");
    assert_eq!(last["content"][0]["text"], "[memo]\n\nnote to self");
    assert_eq!(fake.requests().len(), calls);
    let res = call(
        &mut raw,
        "chat.inject",
        json!({"sessionKey": "agent:main:explicit:none", "message": "x"}),
    )
    .await;
    assert_eq!(err(&res).0, "INVALID_REQUEST");

    // compact: a line trim with an archive.
    let res = call(
        &mut raw,
        "sessions.compact",
        json!({"key": key, "maxLines": 2}),
    )
    .await;
    let p = ok(&res).clone();
    assert_eq!(p["compacted"], true, "{p}");
    assert_eq!(p["kept"], 2);
    assert!(std::path::Path::new(p["archived"].as_str().unwrap()).exists());
    changed(&mut raw, key, "compact").await;
    let res = call(&mut raw, "sessions.get", json!({"key": key})).await;
    assert_eq!(ok(&res)["messages"].as_array().unwrap().len(), 2);
    // Without maxLines it summarises with the model; two lines are too few to summarise.
    let res = call(&mut raw, "sessions.compact", json!({"key": key})).await;
    assert_eq!(ok(&res)["compacted"], false);
    assert_eq!(ok(&res)["ok"], false);
    assert_eq!(ok(&res)["reason"], "Nothing to compact (session too small)");
    let res = call(
        &mut raw,
        "sessions.compact",
        json!({"key": "agent:main:explicit:none"}),
    )
    .await;
    assert_eq!(ok(&res)["reason"], "no sessionId");

    // create: a new session with label and model; a message starts a run on it.
    let res = call(
        &mut raw,
        "sessions.create",
        json!({"label": "fresh", "model": "fake/m2", "message": "hello there"}),
    )
    .await;
    let p = ok(&res).clone();
    let new_key = p["key"].as_str().unwrap().to_string();
    assert!(new_key.starts_with("agent:main:"), "{p}");
    assert_eq!(p["entry"]["label"], "fresh");
    assert_eq!(p["entry"]["modelOverride"], "m2");
    assert_eq!(p["runStarted"], true);
    let run_id = p["runId"].as_str().unwrap().to_string();
    loop {
        let ev = raw.event("chat").await;
        if ev["payload"]["runId"] == run_id.as_str() && ev["payload"]["state"] == "final" {
            break;
        }
    }
    assert_eq!(fake.requests().last().unwrap()["model"], "m2");
    let res = call(&mut raw, "sessions.create", json!({"key": new_key})).await;
    assert_eq!(err(&res).0, "INVALID_REQUEST");
    let res = call(&mut raw, "sessions.create", json!({"model": "fake/nope"})).await;
    assert_eq!(err(&res).0, "INVALID_REQUEST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_needs_admin_only_beyond_the_chat_settings_and_the_catalog_is_published() {
    let fake = FakeOpenAi::start().await;
    let gw = start(|h| config(h, &fake.url(), json!({})));
    // A write-scoped operator (the reference CLI's `gateway call`) may set what a chat user
    // may set: label, model, thinking, fast mode.
    let (mut raw, hello) = connected(&gw.url(), &["operator.read", "operator.write"]).await;
    let caps = &hello["features"]["capabilities"];
    assert!(
        caps.as_array()
            .is_some_and(|c| c.contains(&json!("published-model-catalog"))),
        "{hello}"
    );
    let key = "agent:main:main";
    let res = call(
        &mut raw,
        "sessions.patch",
        json!({"key": key, "label": "mine", "model": "fake/m2", "thinkingLevel": "low", "fastMode": true}),
    )
    .await;
    assert_eq!(ok(&res)["entry"]["label"], "mine");
    // What the agent may do is an admin's call.
    for field in [
        json!({"execSecurity": "full"}),
        json!({"sendPolicy": "deny"}),
    ] {
        let mut params = json!({"key": key});
        params
            .as_object_mut()
            .unwrap()
            .extend(field.as_object().unwrap().clone());
        let res = call(&mut raw, "sessions.patch", params).await;
        assert_eq!(res["error"]["code"], "FORBIDDEN", "{res}");
    }
    let (mut admin, _) = connected(&gw.url(), OP).await;
    let res = call(
        &mut admin,
        "sessions.patch",
        json!({"key": key, "sendPolicy": "deny"}),
    )
    .await;
    assert_eq!(ok(&res)["entry"]["sendPolicy"], "deny");
}

/// What the reference CLI's `openclaw sessions archive|delete <key>` sends (2026.9.6,
/// `sessions-lifecycle`): `sessions.list {archived:"all", includeGlobal, includeUnknown,
/// configuredAgentsOnly}`, then `sessions.patch {key, agentId, expectedSessionId,
/// archived:true}` (expects `entry.archivedAt`) and `sessions.delete {key, agentId,
/// expectedSessionId, deleteTranscript:true, archivedOnly:true}` — all with write scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_then_delete_as_the_reference_cli_does_with_write_scope() {
    let fake = FakeOpenAi::start().await;
    let gw = start(|h| config(h, &fake.url(), json!({})));
    let (mut raw, _) = connected(&gw.url(), &["operator.read", "operator.write"]).await;
    let key = "agent:main:scratch-1";
    send_and_wait(&mut raw, key, "hello", "lc-1").await;
    let listed = call(
        &mut raw,
        "sessions.list",
        json!({"limit": 100, "archived": "all", "includeGlobal": true, "includeUnknown": true,
            "configuredAgentsOnly": true}),
    )
    .await;
    let row = ok(&listed)["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .cloned()
        .unwrap_or_else(|| panic!("{listed}"));
    let sid = row["sessionId"].as_str().unwrap().to_string();

    // A stale session id is refused and changes nothing.
    let res = call(
        &mut raw,
        "sessions.patch",
        json!({"key": key, "agentId": "main", "expectedSessionId": "other", "archived": true}),
    )
    .await;
    assert!(err(&res).1.contains("changed before the patch"), "{res}");
    // Deleting a live session with archivedOnly is refused (archive it first).
    let res = call(
        &mut raw,
        "sessions.delete",
        json!({"key": key, "agentId": "main", "expectedSessionId": sid,
            "deleteTranscript": true, "archivedOnly": true}),
    )
    .await;
    assert!(err(&res).1.contains("is not archived"), "{res}");
    // Without archivedOnly a delete is an admin's call.
    let res = call(&mut raw, "sessions.delete", json!({"key": key})).await;
    assert_eq!(res["error"]["code"], "FORBIDDEN", "{res}");

    let res = call(
        &mut raw,
        "sessions.patch",
        json!({"key": key, "agentId": "main", "expectedSessionId": sid, "archived": true}),
    )
    .await;
    assert!(ok(&res)["entry"]["archivedAt"].is_u64(), "{res}");
    // Archived sessions leave the default list and stay in `archived: true`.
    let res = call(&mut raw, "sessions.list", json!({})).await;
    assert!(
        !ok(&res)["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == key),
        "{res}"
    );
    let res = call(&mut raw, "sessions.list", json!({"archived": true})).await;
    assert!(
        ok(&res)["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == key),
        "{res}"
    );
    // The main session cannot be archived.
    let res = call(
        &mut raw,
        "sessions.patch",
        json!({"key": "main", "archived": true}),
    )
    .await;
    assert!(err(&res).1.contains("main session"), "{res}");

    let res = call(
        &mut raw,
        "sessions.delete",
        json!({"key": key, "agentId": "main", "expectedSessionId": sid,
            "deleteTranscript": true, "archivedOnly": true}),
    )
    .await;
    let p = ok(&res);
    assert_eq!(
        (&p["deleted"], &p["key"]),
        (&json!(true), &json!(key)),
        "{p}"
    );
    let archived = p["archived"].as_array().unwrap();
    assert_eq!(archived.len(), 1, "{p}");
    assert!(std::path::Path::new(archived[0].as_str().unwrap()).exists());
    let res = call(&mut raw, "sessions.get", json!({"key": key})).await;
    assert!(
        res["error"].is_object() || ok(&res)["messages"].as_array().is_some_and(Vec::is_empty),
        "{res}"
    );
}
