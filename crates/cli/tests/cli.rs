//! The `openclaw` CLI commands against a running gateway (and a stopped one).

mod common;

use common::*;
use serde_json::{Value, json};

fn env_for(gw: &Gateway) -> Vec<(&'static str, String)> {
    vec![
        ("OPENCLAW_GATEWAY_TOKEN", TOKEN.to_string()),
        ("OPENCLAW_GATEWAY_PORT", gw.port.to_string()),
    ]
}

fn run(home: &Home, args: &[&str], env: &[(&'static str, String)]) -> (i32, String, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_cli(home, args, &env)
}

#[test]
fn gateway_call_with_url_and_token() {
    let gw = Gateway::start();
    let home = Home::new();
    let url = gw.url();
    let (code, out, err) = run(
        &home,
        &[
            "gateway", "call", "health", "--url", &url, "--token", TOKEN, "--json",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true);
    let (code, out, _) = run(
        &home,
        &["gateway", "call", "status", "--url", &url, "--token", TOKEN],
        &[],
    );
    assert_eq!(code, 0);
    assert!(serde_json::from_str::<Value>(&out).unwrap()["runtimeVersion"].is_string());
    let (code, out, _) = run(
        &home,
        &[
            "gateway",
            "call",
            "system-event",
            "--params",
            r#"{"text":"hello from cli"}"#,
            "--url",
            &url,
            "--token",
            TOKEN,
        ],
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!({"ok": true})
    );
}

#[test]
fn gateway_call_errors_exit_nonzero() {
    let gw = Gateway::start();
    let home = Home::new();
    let url = gw.url();
    // (what follows `gateway call`, the exit code — `None`: any failure —, the error).
    let cases: [(&[&str], Option<i32>, &str); 3] = [
        (
            &["no.such.method", "--token", TOKEN],
            Some(1),
            "unknown method: no.such.method",
        ),
        (
            &["status", "--params", "{not json", "--token", TOKEN],
            None,
            "invalid --params JSON",
        ),
        (&["health", "--token", "wrong"], Some(1), "token mismatch"),
    ];
    for (args, exit, says) in cases {
        let argv = [&["gateway", "call"][..], args, &["--url", &url]].concat();
        let (code, _, err) = run(&home, &argv, &[]);
        match exit {
            Some(want) => assert_eq!(code, want, "{argv:?}: {err}"),
            None => assert_ne!(code, 0, "{argv:?}: {err}"),
        }
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn gateway_call_uses_env_port_and_token() {
    let gw = Gateway::start();
    let home = Home::new();
    let (code, out, err) = run(
        &home,
        &["gateway", "call", "system-presence"],
        &env_for(&gw),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"] == "self")
    );
}

#[test]
fn gateway_call_reads_token_from_the_config() {
    let gw = Gateway::start();
    // Same HOME/state dir as the gateway: the CLI finds port via env and token via config.
    let (code, _, err) = run(
        &gw.home,
        &["gateway", "call", "health"],
        &[("OPENCLAW_GATEWAY_PORT", gw.port.to_string())],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn health_commands() {
    let gw = Gateway::start();
    let home = Home::new();
    let (code, out, err) = run(&home, &["health", "--json"], &env_for(&gw));
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["ok"], true);
    let (code, out, _) = run(&home, &["health"], &env_for(&gw));
    assert_eq!(code, 0);
    assert!(out.contains("Gateway healthy"), "{out}");
    let url = gw.url();
    let (code, out, _) = run(
        &home,
        &["gateway", "health", "--url", &url, "--token", TOKEN],
        &[],
    );
    assert_eq!(code, 0);
    assert!(out.contains("Gateway healthy"), "{out}");
}

#[test]
fn commands_fail_fast_when_the_gateway_is_down() {
    let home = Home::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = vec![
        ("OPENCLAW_GATEWAY_TOKEN", TOKEN.to_string()),
        ("OPENCLAW_GATEWAY_PORT", port.to_string()),
    ];
    for args in [
        vec!["health"],
        vec!["gateway", "health"],
        vec!["gateway", "call", "health"],
    ] {
        let (code, _, err) = run(&home, &args, &env);
        assert_eq!(code, 1, "{args:?}");
        assert!(
            err.contains(&format!("Gateway not reachable at ws://127.0.0.1:{port}")),
            "{err}"
        );
        assert!(err.contains("openclaw gateway"), "{err}");
    }
}

#[test]
fn cli_without_token_pairs_its_device_on_loopback() {
    // Shared secret explicitly off (`auth.mode: "none"`): the CLI proves a device identity,
    // auto-approved for a local client, and gets admin scopes. (With nothing configured the
    // gateway runs on a generated token instead; see tests/trust.rs.)
    let home = Home::new();
    home.write_config(&json!({"gateway": {"mode": "local", "auth": {"mode": "none"}}, "logging": {"file": home.log_path()}}));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let port = gw.port.to_string();
    let (code, out, err) = run(
        &gw.home,
        &["gateway", "call", "status"],
        &[("OPENCLAW_GATEWAY_PORT", port)],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("runtimeVersion"));
    assert!(gw.home.state_dir().join("identity/device.json").exists());
    assert!(gw.home.state_dir().join("devices/paired.json").exists());
}

#[test]
fn bad_profile_name_is_a_clear_error() {
    let home = Home::new();
    let (code, _, err) = run(&home, &["--profile", "../etc", "gateway", "health"], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("invalid profile name"), "{err}");
}
