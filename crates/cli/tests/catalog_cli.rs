//! Catalogs as clients see them, through the real binary: the `tools.catalog` method (shape of
//! the reference's recorded answer, params validated), and the CLI commands built on the
//! gateway's answers, `openclaw sessions`, `openclaw agents list`, `openclaw models status` and
//! `openclaw models set` (which refuses a model no provider offers and changes what the running
//! gateway uses), each in `--json` and human form.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use openclaw_testkit::FakeOpenAi;
use serde_json::{Value, json};

fn start(fake: &FakeOpenAi) -> Gateway {
    let home = Home::new();
    let mut cfg = fake_model_config(&home, &fake.url());
    cfg["models"]["providers"]["fake"]["models"] =
        json!([{"id": "m1", "name": "Fake One"}, {"id": "m2", "name": "Fake Two"}]);
    cfg["agents"]["defaults"]["model"]["fallbacks"] = json!(["fake/m2"]);
    cfg["agents"]["list"] = json!([
        {"id": "main", "default": true, "identity": {"name": "Claw", "emoji": "🦞"}},
        {"id": "ops", "name": "Operations", "model": "fake/m2"}
    ]);
    cfg["bindings"] =
        json!([{"agentId": "ops", "match": {"channel": "telegram", "accountId": "work"}}]);
    home.write_config(&cfg);
    Gateway::start_in(home, &["gateway", "--port", "0"], &[])
}

fn cli(gw: &Gateway, args: &[&str]) -> (i32, String, String) {
    let port = gw.port.to_string();
    run_cli(&gw.home, args, &[("OPENCLAW_GATEWAY_PORT", port.as_str())])
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_catalog_has_the_reference_shape() {
    let fake = FakeOpenAi::start().await;
    let gw = start(&fake);
    let reference: Value = serde_json::from_str(&fixture("tools.catalog.json")).unwrap();
    let (mut raw, hello) = connected(&gw.url(), &["operator.read"]).await;
    assert!(
        strings(&hello["features"]["methods"]).contains(&"tools.catalog"),
        "advertised"
    );
    let c = raw.call("tools.catalog", json!({})).await;
    assert_eq!(c["ok"], true, "{c}");
    let c = &c["payload"];
    assert_eq!(keys(c), keys(&reference));
    assert_eq!(c["agentId"], "main");
    assert_eq!(c["profiles"], reference["profiles"], "same profile options");
    let ref_groups: Vec<&Value> = reference["groups"].as_array().unwrap().iter().collect();
    let core_group = ref_groups.iter().find(|g| g["source"] == "core").unwrap();
    let core_tool = &core_group["tools"][0];
    let groups = c["groups"].as_array().unwrap();
    assert!(!groups.is_empty());
    let mut seen = Vec::new();
    for g in groups {
        assert_eq!(keys(g), keys(core_group), "{g}");
        let same = ref_groups.iter().find(|r| r["id"] == g["id"]).unwrap();
        assert_eq!(
            g["label"], same["label"],
            "section labels as the reference's"
        );
        for t in g["tools"].as_array().unwrap() {
            assert_eq!(keys(t), keys(core_tool), "{t}");
            seen.push(t["id"].as_str().unwrap().to_string());
            // Where the reference lists the same tool, the default profiles agree.
            if let Some(r) = same["tools"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == t["id"])
            {
                assert_eq!(t["defaultProfiles"], r["defaultProfiles"], "{t}");
            }
        }
    }
    for tool in ["read", "write", "edit", "ls", "session_status"] {
        assert!(
            seen.contains(&tool.to_string()),
            "{tool} missing from {seen:?}"
        );
    }
    // Another agent, plugins off: same tools, that agent's id.
    let c = raw
        .call(
            "tools.catalog",
            json!({"agentId": "OPS", "includePlugins": false}),
        )
        .await;
    assert_eq!(c["payload"]["agentId"], "ops", "{c}");
    let c = raw
        .call("tools.catalog", json!({"agentId": "nobody"}))
        .await;
    assert_eq!(c["error"]["code"], "INVALID_REQUEST", "{c}");
    assert!(
        c["error"]["message"].as_str().unwrap().contains("nobody"),
        "{c}"
    );
    let c = raw.call("tools.catalog", json!({"agentId": 7})).await;
    assert_eq!(c["error"]["code"], "INVALID_REQUEST");
    assert!(
        c["error"]["message"].as_str().unwrap().contains("agentId"),
        "{c}"
    );
    let c = raw.call("tools.catalog", json!({"extra": true})).await;
    assert_eq!(c["error"]["code"], "INVALID_REQUEST", "closed params: {c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_command_lists_the_gateways_sessions() {
    let fake = FakeOpenAi::start().await;
    let gw = start(&fake);
    let (code, out, err) = cli(&gw, &["agent", "--message", "hello"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cli(&gw, &["sessions", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    for k in [
        "path",
        "count",
        "totalCount",
        "limitApplied",
        "hasMore",
        "activeMinutes",
        "sessions",
    ] {
        assert!(v.get(k).is_some(), "{k} missing: {v}");
    }
    assert!(
        v["path"].as_str().unwrap().ends_with("sessions.json"),
        "{v}"
    );
    assert_eq!(v["limitApplied"], 100);
    assert_eq!(v["hasMore"], false);
    assert_eq!(v["activeMinutes"], Value::Null);
    assert!(v["count"].as_u64().unwrap() >= 1, "{v}");
    assert_eq!(v["count"], v["totalCount"]);
    let row = &v["sessions"][0];
    for k in [
        "key",
        "kind",
        "agentId",
        "updatedAt",
        "ageMs",
        "sessionId",
        "model",
        "modelProvider",
        "totalTokens",
        "totalTokensFresh",
        "contextTokens",
    ] {
        assert!(row.get(k).is_some(), "{k} missing from {row}");
    }
    assert_eq!(row["agentId"], "main");
    assert_eq!(row["model"], "m1", "{row}");
    assert_eq!(row["modelProvider"], "fake");
    // Limits, the active window and other agents.
    let (code, out, _) = cli(
        &gw,
        &["sessions", "--json", "--limit", "1", "--active", "60"],
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["count"], 1);
    assert_eq!(v["activeMinutes"], 60);
    let (code, out, _) = cli(&gw, &["sessions", "--json", "--agent", "ops"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["count"], 0, "{v}");
    let (code, out, _) = cli(&gw, &["sessions", "--json", "--all-agents"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["allAgents"], true);
    assert_eq!(v["path"], Value::Null);
    let stores: Vec<&str> = v["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["agentId"].as_str().unwrap())
        .collect();
    assert_eq!(stores, ["main", "ops"]);
    // Human form.
    let (code, out, _) = cli(&gw, &["sessions"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Session store: "), "{out}");
    assert!(out.contains("Sessions listed: "), "{out}");
    assert!(
        out.contains("Kind") && out.contains("Tokens (ctx %)"),
        "{out}"
    );
    assert!(out.contains("direct") || out.contains("unknown"), "{out}");
    assert!(out.contains(" m1 "), "{out}");
    let (code, out, _) = cli(&gw, &["sessions", "--agent", "ops"]);
    assert_eq!(code, 0);
    assert!(out.contains("No sessions found."), "{out}");
    // Refused arguments, with the reference's words.
    let (code, _, err) = cli(&gw, &["sessions", "--active", "0"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--active must be a positive number of minutes"),
        "{err}"
    );
    let (code, _, err) = cli(&gw, &["sessions", "--limit", "lots"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--limit must be a positive integer or \"all\""),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_list_shows_each_agent() {
    let fake = FakeOpenAi::start().await;
    let gw = start(&fake);
    let (code, out, err) = cli(&gw, &["agents", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let a = v.as_array().unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0]["id"], "main");
    assert_eq!(a[0]["isDefault"], true);
    assert_eq!(a[0]["identityName"], "Claw");
    assert_eq!(a[0]["model"], "fake/m1");
    assert_eq!(a[0]["bindings"], 0);
    assert_eq!(a[0]["routes"], json!(["default (no explicit rules)"]));
    assert!(
        a[0]["agentDir"]
            .as_str()
            .unwrap()
            .ends_with("agents/main/agent")
    );
    assert_eq!(a[1]["id"], "ops");
    assert_eq!(a[1]["name"], "Operations");
    assert_eq!(a[1]["isDefault"], false);
    assert_eq!(a[1]["model"], "fake/m2");
    assert_eq!(a[1]["bindings"], 1);
    assert_eq!(a[1]["routes"], json!(["telegram accountId=work"]));
    let (code, out, _) = cli(&gw, &["agents", "list"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Agents:\n- main (default)\n"), "{out}");
    assert!(out.contains("- ops (Operations)"), "{out}");
    assert!(out.contains("  Model: fake/m2"), "{out}");
    assert!(out.contains("  Routing rules: 1"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_status_and_set() {
    let fake = FakeOpenAi::start().await;
    let gw = start(&fake);
    let (code, out, err) = cli(&gw, &["models", "status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    for k in [
        "configPath",
        "agentDir",
        "defaultModel",
        "resolvedDefault",
        "fallbacks",
        "imageModel",
        "imageFallbacks",
        "aliases",
        "allowed",
        "auth",
    ] {
        assert!(v.get(k).is_some(), "{k} missing: {v}");
    }
    assert_eq!(v["defaultModel"], "fake/m1");
    assert_eq!(v["resolvedDefault"], "fake/m1");
    assert_eq!(v["fallbacks"], json!(["fake/m2"]));
    assert_eq!(v["imageModel"], Value::Null);
    assert_eq!(
        v["auth"]["missingProvidersInUse"],
        json!([]),
        "fake has a key: {v}"
    );
    assert_eq!(v["auth"]["providers"][0]["provider"], "fake");
    let (code, out, _) = cli(&gw, &["models", "status", "--plain"]);
    assert_eq!((code, out.trim()), (0, "fake/m1"));
    let (code, out, _) = cli(&gw, &["models", "status"]);
    assert_eq!(code, 0);
    assert!(out.contains("Default       : fake/m1"), "{out}");
    assert!(out.contains("Fallbacks (1) : fake/m2"), "{out}");

    // Unknown models are refused and the config is left alone.
    let before = std::fs::read_to_string(gw.home.config_path()).unwrap();
    let (code, _, err) = cli(&gw, &["models", "set", "fake/m9"]);
    assert_eq!(code, 1);
    assert!(err.contains("Unknown model: fake/m9"), "{err}");
    assert!(err.contains("Invalid model: fake/m9"), "{err}");
    let (code, _, err) = cli(&gw, &["models", "set", "nowhere/x"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("provider \"nowhere\" is not configured"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(gw.home.config_path()).unwrap(),
        before
    );

    // A known one becomes the default, keeping the fallbacks; the running gateway follows.
    let (code, out, err) = cli(&gw, &["models", "set", "fake/m2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Default model: fake/m2"), "{out}");
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(gw.home.config_path()).unwrap()).unwrap();
    assert_eq!(cfg["agents"]["defaults"]["model"]["primary"], "fake/m2");
    assert_eq!(
        cfg["agents"]["defaults"]["model"]["fallbacks"],
        json!(["fake/m2"])
    );
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    // Polled with a deadline: the gateway's file watcher applies the change.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = raw.call("agents.list", json!({})).await;
        let primary = r["payload"]["agents"][0]["model"]["primary"].clone();
        if primary == "fake/m2" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gateway still on {primary}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, out, _) = cli(&gw, &["models", "status", "--plain"]);
    assert_eq!((code, out.trim()), (0, "fake/m2"));
}
