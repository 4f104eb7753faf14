//! The methods a Control UI calls when it loads (the reference 2026.9.6 UI's start-up sequence,
//! with the params and the fields its code reads), their scopes, `sessions.changed` to
//! subscribers only, per-device `users.prefs`, the WhatsApp QR login over RPC (`web.login.*`,
//! with the phone simulated: no network) and `openclaw dashboard`.

mod common;

use common::*;
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

/// The scopes the reference Control UI asks for.
const UI_SCOPES: &[&str] = &[
    "operator.admin",
    "operator.read",
    "operator.write",
    "operator.approvals",
    "operator.questions",
    "operator.pairing",
];

fn ui_config(home: &Home, fake_url: &str) -> Value {
    let mut cfg = fake_model_config(home, fake_url);
    cfg["agents"]["list"] = json!([
        {"id": "main", "default": true, "name": "Molty",
         "identity": {"name": "Molty", "emoji": "🦞", "theme": "ocean"}},
        {"id": "ops", "model": "fake/m2", "workspace": home.path().join("ops-ws")}
    ]);
    cfg
}

/// Connects like the browser UI: client `openclaw-control-ui` in `webchat` mode, same-origin
/// `Origin`, the UI's scopes, the shared token, and a device identity (silently paired on
/// loopback).
async fn ui_connect(
    gw: &Gateway,
    key: &ed25519_dalek::SigningKey,
    scopes: &[&str],
) -> (Raw, Value) {
    let origin = format!("http://127.0.0.1:{}", gw.port);
    let (mut raw, ch) = Raw::open_with(&gw.url(), &[("origin", &origin)]).await;
    let nonce = ch["payload"]["nonce"].as_str().unwrap().to_string();
    let mut p = connect_params(Some(TOKEN), scopes);
    p["client"]["id"] = json!("openclaw-control-ui");
    p["client"]["mode"] = json!("webchat");
    signed(&mut p, key, &nonce, TOKEN);
    raw.send(&connect_frame("c", p)).await;
    let res = raw.res("c").await;
    (raw, res)
}

fn key(n: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[n; 32])
}

fn ok(res: &Value) -> &Value {
    assert_eq!(res["ok"], true, "{res}");
    &res["payload"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_ui_startup_sequence_answers_with_what_the_ui_reads() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&ui_config(&home, &fake.url()));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut ui, hello) = ui_connect(&gw, &key(7), UI_SCOPES).await;
    let hello = ok(&hello).clone();
    let methods = strings(&hello["features"]["methods"]);
    for m in [
        "agent.identity.get",
        "agents.list",
        "sessions.subscribe",
        "update.status",
        "users.prefs.get",
        "users.prefs.set",
        "exec.approval.list",
        "plugin.approval.list",
        "openclaw.approval.list",
        "question.list",
        "openclaw.setup.detect",
        "plugin.surface.refresh",
        "plugins.controlUi.list",
        "sessions.observer.visibility",
    ] {
        assert!(methods.contains(&m), "{m} advertised");
    }
    assert!(strings(&hello["features"]["events"]).contains(&"sessions.changed"));

    // In the order the reference UI calls them, with its params.
    let r = ui
        .call("agent.identity.get", json!({"agentId": "main"}))
        .await;
    assert_eq!(
        ok(&r),
        &json!({"agentId": "main", "name": "Molty", "nameSource": "agent", "avatar": "🦞", "emoji": "🦞"})
    );
    let r = ui.call("agents.list", json!({})).await;
    let list = ok(&r);
    assert_eq!(list["defaultId"], "main");
    assert_eq!(list["mainKey"], "main");
    assert_eq!(list["scope"], "per-sender");
    let agents = list["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2);
    assert_eq!(agents[0]["id"], "main");
    assert_eq!(agents[0]["name"], "Molty");
    assert_eq!(
        agents[0]["identity"],
        json!({"name": "Molty", "emoji": "🦞", "theme": "ocean"})
    );
    assert_eq!(agents[0]["model"]["primary"], "fake/m1");
    assert!(agents[0]["workspace"].as_str().unwrap().ends_with("/ws"));
    assert_eq!(agents[1]["id"], "ops");
    assert_eq!(agents[1]["model"]["primary"], "fake/m2");
    assert!(
        agents[1]["workspace"]
            .as_str()
            .unwrap()
            .ends_with("/ops-ws")
    );
    assert!(agents[1].get("identity").is_none());

    ok(&ui.call("config.get", json!({})).await);
    let r = ui.call("sessions.list", json!({})).await;
    assert!(ok(&r)["sessions"].is_array());
    let r = ui.call("sessions.subscribe", json!({})).await;
    assert_eq!(ok(&r), &json!({"subscribed": true}));
    let r = ui.call("update.status", json!({})).await;
    let st = ok(&r);
    assert_eq!(st["updateAvailable"], Value::Null);
    assert_eq!(st["sentinel"], Value::Null);
    assert!(st.get("activeRun").is_none() && st.get("lastRun").is_none());
    let r = ui.call("users.prefs.get", json!({})).await;
    assert_eq!(ok(&r), &json!({"status": "ok", "entries": {}}));
    for m in [
        "exec.approval.list",
        "plugin.approval.list",
        "openclaw.approval.list",
    ] {
        let r = ui.call(m, json!({})).await;
        assert_eq!(ok(&r), &json!([]), "{m}");
    }
    let r = ui.call("question.list", json!({})).await;
    assert_eq!(ok(&r), &json!({"questions": []}));
    let r = ui.call("openclaw.setup.detect", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["setupComplete"], true);
    assert_eq!(d["configuredModel"], "fake/m1");
    assert_eq!(d["candidates"][0]["kind"], "existing-model");
    assert_eq!(d["candidates"][0]["modelRef"], "fake/m1");
    assert_eq!(d["manualProviders"], json!([]));
    assert!(d["workspace"].as_str().unwrap().ends_with("/ws"));
    let observed = format!("http://127.0.0.1:{}/", gw.port);
    let r = ui
        .call(
            "plugin.surface.refresh",
            json!({"surface": "canvas", "observedUrl": observed}),
        )
        .await;
    assert_eq!(
        ok(&r),
        &json!({"surface": "canvas", "pluginSurfaceUrls": {"canvas": format!("http://127.0.0.1:{}", gw.port)}})
    );
    let r = ui.call("plugins.controlUi.list", json!({})).await;
    let c = ok(&r);
    assert_eq!(c["plugins"], json!([]));
    assert_eq!(c["diagnostics"], json!([]));
    assert_eq!(c["revision"].as_str().unwrap().len(), 64);
    let r = ui
        .call("sessions.observer.visibility", json!({"visible": true}))
        .await;
    assert_eq!(ok(&r), &json!({"ok": true}));

    // The reference's answers to bad input.
    let r = ui.call("plugin.surface.refresh", json!({})).await;
    assert_eq!(r["error"]["message"], "surface required");
    let r = ui
        .call("plugin.surface.refresh", json!({"surface": "nope"}))
        .await;
    assert_eq!(r["error"]["code"], "UNAVAILABLE");
    assert_eq!(r["error"]["message"], "nope plugin surface unavailable");
    let r = ui.call("sessions.observer.visibility", json!({})).await;
    assert_eq!(
        r["error"]["message"],
        "invalid sessions.observer.visibility params: must have required property 'visible'"
    );
    let r = ui
        .call("agent.identity.get", json!({"agentId": "nobody"}))
        .await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");
    let r = ui
        .call(
            "agent.identity.get",
            json!({"sessionKey": "agent:ops:main"}),
        )
        .await;
    assert_eq!(
        ok(&r),
        &json!({"agentId": "ops", "name": "Assistant", "nameSource": "default", "avatar": "A"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_are_the_reference_ones() {
    let gw = Gateway::start();
    let (mut reader, _) = connected(&gw.url(), &["operator.read"]).await;
    for m in [
        "agent.identity.get",
        "agents.list",
        "sessions.subscribe",
        "users.prefs.get",
        "plugins.controlUi.list",
    ] {
        let r = reader.call(m, json!({})).await;
        assert_eq!(r["ok"], true, "{m}: {r}");
    }
    for (m, scope) in [
        ("update.status", "operator.admin"),
        ("openclaw.setup.detect", "operator.admin"),
        ("web.login.start", "operator.admin"),
        ("web.login.wait", "operator.admin"),
        ("exec.approval.list", "operator.approvals"),
        ("plugin.approval.list", "operator.approvals"),
        ("openclaw.approval.list", "operator.approvals"),
        ("question.list", "operator.questions"),
        ("users.prefs.set", "operator.write"),
    ] {
        let r = reader.call(m, json!({})).await;
        assert_eq!(r["error"]["code"], "FORBIDDEN", "{m}: {r}");
        assert_eq!(
            r["error"]["message"],
            format!("missing scope: {scope}"),
            "{m}"
        );
    }
    // The narrow scopes alone are enough for their queues.
    let (mut approver, _) = connected(&gw.url(), &["operator.approvals"]).await;
    let r = approver.call("exec.approval.list", json!({})).await;
    assert_eq!(r["payload"], json!([]), "{r}");
    let (mut asker, _) = connected(&gw.url(), &["operator.questions"]).await;
    let r = asker.call("question.list", json!({})).await;
    assert_eq!(r["payload"], json!({"questions": []}), "{r}");
    // A token-only client proves no device: prefs have nowhere durable to live.
    let r = reader.call("users.prefs.get", json!({})).await;
    assert_eq!(r["payload"], json!({"status": "no_durable_identity"}));
}

/// Frames up to the answer of one `health` request: whatever was queued for this socket
/// before it.
async fn frames_until_health(raw: &mut Raw, id: &str) -> Vec<Value> {
    raw.send(&json!({"type": "req", "id": id, "method": "health"}))
        .await;
    let mut seen = Vec::new();
    loop {
        let f = raw.frame().await;
        if f["type"] == "res" && f["id"] == id {
            return seen;
        }
        seen.push(f);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_changed_reaches_subscribers_only() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::text("hello"));
    let home = Home::new();
    home.write_config(&fake_model_config(&home, &fake.url()));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let ops = &["operator.admin", "operator.read", "operator.write"];
    let (mut sub, _) = connected(&gw.url(), ops).await;
    let (mut other, _) = connected(&gw.url(), ops).await;
    let r = sub.call("sessions.subscribe", json!({})).await;
    assert_eq!(r["payload"]["subscribed"], true);

    // A run ends: its session changed.
    let r = other
        .call(
            "chat.send",
            json!({"sessionKey": "main", "message": "hi", "idempotencyKey": "run-a"}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let e = sub.event("sessions.changed").await;
    assert_eq!(e["payload"]["sessionKey"], "agent:main:main");
    assert_eq!(e["payload"]["agentId"], "main");
    assert_eq!(e["payload"]["phase"], "end");
    assert_eq!(e["payload"]["runId"], "run-a");
    assert!(e["payload"]["ts"].as_u64().unwrap() > 0);

    // A reset.
    let r = other
        .call("sessions.reset", json!({"key": "main", "reason": "new"}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let e = sub.event("sessions.changed").await;
    assert_eq!(e["payload"]["sessionKey"], "agent:main:main");
    assert_eq!(e["payload"]["reason"], "new");
    assert!(e["seq"].as_u64().is_some());

    // The non-subscriber saw neither.
    let seen = frames_until_health(&mut other, "h1").await;
    assert!(
        seen.iter().all(|f| f["event"] != "sessions.changed"),
        "{seen:?}"
    );

    // Unsubscribed: the next reset reaches nobody.
    let r = sub.call("sessions.unsubscribe", json!({})).await;
    assert_eq!(r["payload"]["subscribed"], false);
    other.call("sessions.reset", json!({"key": "main"})).await;
    let (mut again, _) = connected(&gw.url(), ops).await;
    let r = again.call("sessions.subscribe", json!({})).await;
    assert_eq!(r["payload"]["subscribed"], true);
    again.call("sessions.reset", json!({"key": "main"})).await;
    assert_eq!(
        again.event("sessions.changed").await["payload"]["reason"],
        "reset"
    );
    // `/new` typed in a chat, and a deleted session.
    let r = again
        .call(
            "chat.send",
            json!({"sessionKey": "main", "message": "/new", "idempotencyKey": "n1"}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        again.event("sessions.changed").await["payload"]["reason"],
        "new"
    );
    let r = again
        .call(
            "chat.send",
            json!({"sessionKey": "agent:main:side", "message": "x", "idempotencyKey": "s1"}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let e = again.event("sessions.changed").await;
    assert_eq!(e["payload"]["sessionKey"], "agent:main:side");
    assert_eq!(e["payload"]["runId"], "s1");
    let r = again
        .call("sessions.delete", json!({"key": "agent:main:side"}))
        .await;
    assert_eq!(r["payload"]["deleted"], true, "{r}");
    let e = again.event("sessions.changed").await;
    assert_eq!(e["payload"]["reason"], "delete");
    assert_eq!(e["payload"]["sessionKey"], "agent:main:side");
    let seen = frames_until_health(&mut sub, "h2").await;
    assert!(
        seen.iter().all(|f| f["event"] != "sessions.changed"),
        "{seen:?}"
    );

    // With sessions.list params the list comes along.
    let r = sub.call("sessions.subscribe", json!({"limit": 5})).await;
    assert_eq!(r["payload"]["subscribed"], true);
    assert!(r["payload"]["list"]["sessions"].is_array(), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_prefs_are_kept_per_device_in_a_private_file() {
    let gw = Gateway::start();
    let (mut a, res) = ui_connect(&gw, &key(1), UI_SCOPES).await;
    ok(&res);
    let r = a
        .call(
            "users.prefs.set",
            json!({"entries": {"theme": "dark", "chat.split": 0.4}}),
        )
        .await;
    assert_eq!(r["payload"], json!({"status": "ok"}), "{r}");
    // Compare-and-set: a stale expectation changes nothing.
    let r = a
        .call(
            "users.prefs.set",
            json!({"entries": {"theme": "light"}, "expectedEntries": {"theme": "solar"}}),
        )
        .await;
    assert_eq!(r["payload"], json!({"status": "conflict"}));
    let r = a
        .call(
            "users.prefs.set",
            json!({"entries": {"theme": "light", "chat.split": null}, "expectedEntries": {"theme": "dark"}}),
        )
        .await;
    assert_eq!(r["payload"], json!({"status": "ok"}));
    let r = a.call("users.prefs.get", json!({})).await;
    assert_eq!(
        r["payload"],
        json!({"status": "ok", "entries": {"theme": "light"}})
    );
    let r = a.call("users.prefs.get", json!({"keys": ["nope"]})).await;
    assert_eq!(r["payload"], json!({"status": "ok", "entries": {}}));

    // Another device has its own; the first one's survive a reconnect.
    let (mut b, _) = ui_connect(&gw, &key(2), UI_SCOPES).await;
    let r = b.call("users.prefs.get", json!({})).await;
    assert_eq!(r["payload"], json!({"status": "ok", "entries": {}}));
    drop(a);
    let (mut a2, _) = ui_connect(&gw, &key(1), UI_SCOPES).await;
    let r = a2.call("users.prefs.get", json!({})).await;
    assert_eq!(r["payload"]["entries"], json!({"theme": "light"}));
    let file = gw.home.state_dir().join("users").join("prefs.json");
    assert_eq!(file_mode(&file), 0o600);

    // Bounded: more than 32 entries at once is refused.
    let many: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("k{i}"), json!(i))).collect();
    let r = a2.call("users.prefs.set", json!({"entries": many})).await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
}

const QR: &str = "2@AbCdEf0123456789,Tm9pc2VLZXlCYXNlNjQ=,SWRlbnRpdHlLZXk=,QWR2U2VjcmV0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_qr_login_over_rpc() {
    use base64::Engine;
    let gw = Gateway::start_with_env(&[("OPENCLAW_TEST_WHATSAPP_LOGIN_QR", QR)]);
    let (mut ui, _) = connected(&gw.url(), &["operator.admin"]).await;
    let r = ui
        .call(
            "web.login.wait",
            json!({"channel": "whatsapp", "timeoutMs": 10}),
        )
        .await;
    assert_eq!(r["payload"]["connected"], false, "{r}");

    let r = ui
        .call(
            "web.login.start",
            json!({"channel": "whatsapp", "force": false, "timeoutMs": 30000}),
        )
        .await;
    let p = ok(&r);
    assert_eq!(p["connected"], false);
    let url = p["qrDataUrl"].as_str().unwrap().to_string();
    let png = base64::engine::general_purpose::STANDARD
        .decode(url.strip_prefix("data:image/png;base64,").unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(url.len() < 16_384);

    // Nobody scanned yet: the wait ends at its deadline, still not connected.
    let r = ui
        .call(
            "web.login.wait",
            json!({"channel": "whatsapp", "timeoutMs": 50, "currentQrDataUrl": url}),
        )
        .await;
    assert_eq!(r["payload"]["connected"], false, "{r}");
    // Starting again joins the same login (same QR).
    let r = ui.call("web.login.start", json!({})).await;
    assert_eq!(r["payload"]["qrDataUrl"], url.as_str());

    // The phone confirms: the waiting call answers connected, and the link marker exists.
    let dir = gw.home.state_dir().join("credentials/whatsapp/default");
    std::fs::write(dir.join("test-scanned"), b"").unwrap();
    let r = ui
        .call(
            "web.login.wait",
            json!({"channel": "whatsapp", "timeoutMs": 20000, "currentQrDataUrl": url}),
        )
        .await;
    assert_eq!(r["payload"]["connected"], true, "{r}");
    assert!(dir.join("linked").exists());

    // Other channels have no QR login.
    let r = ui
        .call("web.login.start", json!({"channel": "telegram"}))
        .await;
    assert_eq!(
        r["error"]["message"],
        "web login is not supported by provider telegram"
    );
    let r = ui.call("web.login.start", json!({"channel": "fax"})).await;
    assert_eq!(r["error"]["message"], "web login provider is not available");
}

#[test]
fn dashboard_prints_the_url_with_the_token() {
    let home = Home::new();
    let mut cfg = token_config(&home);
    cfg["gateway"]["port"] = json!(18999);
    cfg["gateway"]["controlUi"] = json!({"basePath": "/openclaw/"});
    home.write_config(&cfg);
    let (code, out, err) = run_cli(&home, &["dashboard", "--no-open"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        format!("Dashboard URL: http://127.0.0.1:18999/openclaw/#token={TOKEN}")
    );
    let (code, out, _) = run_cli(
        &home,
        &["dashboard", "--no-open", "--json"],
        &[("OPENCLAW_GATEWAY_TOKEN", "a b/c")],
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["url"], "http://127.0.0.1:18999/openclaw/#token=a%20b%2Fc");
    assert_eq!(v["httpUrl"], "http://127.0.0.1:18999/openclaw/");
    assert_eq!(v["wsUrl"], "ws://127.0.0.1:18999");
    assert_eq!(v["tokenIncluded"], true);

    // --open hands the URL to $BROWSER (here a script that records it).
    let record = home.path().join("opened.txt");
    let browser = home.path().join("browser.sh");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > {}\n", record.display()),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&browser).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&browser, perms).unwrap();
    let (code, _, err) = run_cli(
        &home,
        &["dashboard", "--open"],
        &[("BROWSER", browser.to_str().unwrap())],
    );
    assert_eq!(code, 0, "{err}");
    wait_for_blocking("the browser script ran", || {
        std::fs::read_to_string(&record).is_ok_and(|t| !t.is_empty())
    });
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        format!("http://127.0.0.1:18999/openclaw/#token={TOKEN}")
    );
    let (code, _, _) = run_cli(&home, &["dashboard", "--open", "--no-open"], &[]);
    assert_eq!(code, 2, "conflicting flags are a usage error");
}
