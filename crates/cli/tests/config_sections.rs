//! Every config section the daemon reads is typed and checked before a generation starts: a
//! broken `models`, `channels`, `bindings` or `hooks` section stops a start with its key path
//! (exit 78), is skipped on reload while the last good config keeps serving, and is refused by
//! `config.patch` before anything is written.

mod common;

use common::*;
use serde_json::{Value, json};

/// (section, broken value, key path the error must name).
fn broken_sections() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "models",
            json!({"providers": {"custom": {"apiKey": "k", "models": [{"id": "m"}]}}}),
            "models.providers.custom.baseUrl",
        ),
        (
            "models",
            json!({"providers": {"p": {"baseUrl": "http://127.0.0.1:9", "models": [{"name": "no id"}]}}}),
            "models.providers.p.models[0]",
        ),
        (
            "channels",
            json!({"telegram": {"botToken": "1:x", "dmPolicy": "everyone"}}),
            "channels.telegram.dmPolicy",
        ),
        ("bindings", json!([{"agentId": "main"}]), "bindings[0]"),
        ("hooks", json!({"enabled": "yes"}), "hooks.enabled"),
    ]
}

#[test]
fn a_broken_section_stops_the_start_with_its_key_path() {
    for (section, value, key) in broken_sections() {
        let home = Home::new();
        let mut cfg = token_config(&home);
        cfg[section] = value;
        home.write_config(&cfg);
        let (code, _out, err) = run_cli(&home, &["gateway", "--port", "0"], &[]);
        assert_eq!(code, 78, "{section}: {err}");
        assert!(err.contains(key), "{section}: expected {key} in {err}");
    }
}

#[tokio::test]
async fn a_broken_section_on_reload_keeps_the_running_config() {
    let home = Home::new();
    let mut good = token_config(&home);
    good["gateway"]["reload"] = json!({"debounceMs": 50});
    home.write_config(&good);
    let mut gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    for (i, (section, value, key)) in broken_sections().into_iter().enumerate() {
        let mut cfg = good.clone();
        cfg[section] = value;
        gw.home.write_config(&cfg);
        // One edit can be seen as more than one file event: wait for this section's line.
        let line = gw.expect_line(key);
        assert!(
            line.contains("config reload skipped (invalid config)"),
            "{section}: {line}"
        );
        let h = raw.req(&format!("h{i}"), "health", None).await;
        assert_eq!(h["ok"], true, "{section}: still serving: {h}");
    }
    // The last good config is still the one in force: a valid edit applies on top of it.
    let mut cfg = good.clone();
    cfg["hooks"] = json!({"enabled": false});
    gw.home.write_config(&cfg);
    gw.expect_line("config reload applied");
}

#[tokio::test]
async fn config_patch_refuses_a_broken_section_before_writing() {
    let gw = Gateway::start();
    let (mut raw, _) = connected(&gw.url(), &["operator.admin"]).await;
    let before = std::fs::read_to_string(gw.home.config_path()).unwrap();
    let got = raw.req("g", "config.get", None).await;
    let hash = got["payload"]["hash"].as_str().unwrap().to_string();
    let patch = json!({"models": {"providers": {"custom": {"apiKey": "k"}}}}).to_string();
    let r = raw
        .req(
            "p",
            "config.patch",
            Some(json!({"raw": patch, "baseHash": hash})),
        )
        .await;
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error"]["message"], "invalid config", "{r}");
    assert_eq!(
        r["error"]["details"]["issues"][0]["path"], "models.providers.custom.baseUrl",
        "{r}"
    );
    assert_eq!(
        std::fs::read_to_string(gw.home.config_path()).unwrap(),
        before
    );
}
