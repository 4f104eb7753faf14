//! Starting the binary: the reference's refusals with their messages and exit codes, port and
//! bind precedence, `--dev`, and log output (stdout lines and the JSON-lines file, no secrets).

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

#[test]
fn missing_config_is_refused_with_78() {
    let home = Home::new();
    let (code, _out, err) = run_cli(&home, &["gateway", "--port", "0"], &[]);
    assert_eq!(code, 78);
    assert!(err.contains("Missing config. Run `openclaw setup` or set gateway.mode=local (or pass --allow-unconfigured)."), "{err}");
}

#[test]
fn non_local_mode_is_refused_with_78() {
    let home = Home::new();
    home.write_config(&json!({"gateway": {"mode": "remote"}}));
    let (code, _, err) = run_cli(&home, &["gateway", "--port", "0"], &[]);
    assert_eq!(code, 78);
    assert!(
        err.contains("Gateway start blocked: set gateway.mode=local (current: remote)"),
        "{err}"
    );
}

#[test]
fn lan_bind_without_auth_is_refused() {
    let home = Home::new();
    home.write_config(&json!({"gateway": {"mode": "local", "bind": "lan"}}));
    let (code, _, err) = run_cli(&home, &["gateway", "--port", "0"], &[]);
    assert_eq!(code, 78);
    assert!(
        err.to_lowercase()
            .contains("refusing to bind gateway to lan without auth"),
        "{err}"
    );
    // The CLI flag beats the config: --bind loopback starts.
    let gw = Gateway::start_in(home, &["gateway", "--port", "0", "--bind", "loopback"], &[]);
    assert!(gw.output().contains("bind loopback"), "{}", gw.output());
}

#[test]
fn unknown_and_ill_typed_keys_name_the_path() {
    let home = Home::new();
    home.write_config(&json!({"gateway": {"mode": "local", "auth": {"tokn": "x"}}}));
    let (code, _, err) = run_cli(&home, &["gateway", "--port", "0"], &[]);
    assert_eq!(code, 78);
    assert!(
        err.contains("gateway.auth") && err.contains("tokn"),
        "{err}"
    );
    home.write_config(&json!({"gateway": {"mode": "local", "port": "abc"}}));
    let (code, _, err) = run_cli(&home, &["gateway"], &[]);
    assert_eq!(code, 78);
    assert!(err.contains("gateway.port"), "{err}");
    std::fs::write(home.config_path(), "{ gateway: { mode: 'local', ").unwrap();
    let (code, _, err) = run_cli(&home, &["gateway"], &[]);
    assert_eq!(code, 78);
    assert!(err.contains("JSON5 parse error"), "{err}");
}

#[test]
fn tailnet_is_not_supported_yet() {
    let home = Home::new();
    let (code, _, err) = run_cli(
        &home,
        &[
            "gateway",
            "--allow-unconfigured",
            "--bind",
            "tailnet",
            "--port",
            "0",
        ],
        &[],
    );
    assert_eq!(code, 78);
    assert!(err.contains("not supported yet"), "{err}");
}

#[test]
fn taken_port_is_refused_at_once_naming_the_owner() {
    let gw = Gateway::start();
    let home = Home::new();
    home.write_config(&token_config(&home));
    let port = gw.port.to_string();
    let (code, _, err) = run_cli(&home, &["gateway", "--port", &port], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "another gateway instance is already listening on ws://127.0.0.1:{port}"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("pid {}", gw.child.id())),
        "names the owning pid: {err}"
    );
}

#[test]
fn port_precedence_cli_env_config() {
    let holds = [reserve_port(), reserve_port(), reserve_port()];
    let [p_cli, p_env, p_cfg] = holds.each_ref().map(ReservedPort::port);
    let mk = || {
        let home = Home::new();
        let mut cfg = token_config(&home);
        cfg["gateway"]["port"] = json!(p_cfg);
        home.write_config(&cfg);
        home
    };
    let env_port = p_env.to_string();
    let cli_port = p_cli.to_string();
    let gw = Gateway::start_in(
        mk(),
        &["gateway", "--port", &cli_port],
        &[("OPENCLAW_GATEWAY_PORT", &env_port)],
    );
    assert_eq!(gw.port, p_cli);
    drop(gw);
    let gw = Gateway::start_in(mk(), &["gateway"], &[("OPENCLAW_GATEWAY_PORT", &env_port)]);
    assert_eq!(gw.port, p_env);
    drop(gw);
    let gw = Gateway::start_in(mk(), &["gateway"], &[]);
    assert_eq!(gw.port, p_cfg);
    drop(gw);
    // Legacy env name is honoured too.
    let gw = Gateway::start_in(mk(), &["gateway"], &[("CLAWDBOT_GATEWAY_PORT", &env_port)]);
    assert_eq!(gw.port, p_env);
}

#[test]
fn dev_profile_creates_config_token_and_workspace() {
    let home = Home::new();
    let hold = reserve_port();
    let port = hold.port().to_string();
    // No OPENCLAW_STATE_DIR: --dev uses ~/.openclaw-dev under the temp HOME.
    let gw = Gateway::start_in(
        home,
        &["--dev", "gateway"],
        &[("OPENCLAW_STATE_DIR", ""), ("OPENCLAW_GATEWAY_PORT", &port)],
    );
    let dev_dir = gw.home.path().join(".openclaw-dev");
    let cfg_path = dev_dir.join("openclaw.json");
    let cfg: Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    assert_eq!(cfg["gateway"]["mode"], "local");
    assert_eq!(cfg["gateway"]["port"], 19001);
    let token = cfg["gateway"]["auth"]["token"].as_str().unwrap();
    assert!(token.len() >= 32);
    assert!(dev_dir.join("workspace-dev").join("AGENTS.md").is_file());
    assert_eq!(file_mode(&cfg_path), 0o600);
    assert_eq!(gw.port.to_string(), port, "env beats the dev config's port");
}

#[test]
fn dev_never_rewrites_an_existing_config() {
    let home = Home::new();
    let dev_dir = home.path().join(".openclaw-dev");
    std::fs::create_dir_all(&dev_dir).unwrap();
    // An existing dev config is never rewritten.
    std::fs::write(
        dev_dir.join("openclaw.json"),
        r#"{"gateway":{"mode":"remote"}}"#,
    )
    .unwrap();
    let mut c = home.command(&["--dev", "gateway"]);
    c.env_remove("OPENCLAW_STATE_DIR");
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("current: remote"));
}

#[test]
fn logs_go_to_stdout_and_json_file_without_secrets() {
    let mut gw = Gateway::start();
    // Let the process write and flush its start lines.
    gw.wait_for_line("ready", Duration::from_secs(10))
        .expect("ready line");
    let out = gw.output();
    let line = out
        .lines()
        .find(|l| l.contains("[gateway] listening on"))
        .expect("stdout line");
    // 2026-11-23T17:53:03.279+00:00 [gateway] …
    assert!(
        line.as_bytes()[4] == b'-' && line.as_bytes()[10] == b'T',
        "{line}"
    );
    assert!(!out.contains(TOKEN), "token leaked to stdout");
    let log = std::fs::read_to_string(gw.home.log_path()).unwrap();
    assert!(!log.contains(TOKEN), "token leaked to the log file");
    let first: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(first["0"], "{\"subsystem\":\"gateway\"}");
    assert!(first["1"].is_string());
    assert_eq!(first["_meta"]["logLevelName"], "INFO");
    assert_eq!(first["_meta"]["logLevelId"], 3);
    assert!(
        first["time"].is_string() && first["hostname"].is_string() && first["message"].is_string()
    );
    assert_eq!(file_mode(gw.home.log_path()), 0o600);
}

#[tokio::test]
async fn verbose_adds_debug_lines() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let mut gw = Gateway::start_in(home, &["gateway", "--port", "0", "--verbose"], &[]);
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    raw.req("h1", "health", None).await;
    assert!(
        gw.wait_for_line("⇄ res ✓ health", Duration::from_secs(5))
            .is_some(),
        "{}",
        gw.output()
    );
}

#[test]
fn profile_isolates_state_and_config() {
    let home = Home::new();
    let dir = home.path().join(".openclaw-work");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("openclaw.json"),
        serde_json::to_string(&json!({"gateway": {"mode": "local", "auth": {"token": TOKEN}}, "logging": {"file": home.log_path()}})).unwrap(),
    )
    .unwrap();
    let gw = Gateway::start_in(
        home,
        &["--profile", "work", "gateway", "--port", "0"],
        &[("OPENCLAW_STATE_DIR", "")],
    );
    assert!(
        gw.output().contains(".openclaw-work/openclaw.json"),
        "{}",
        gw.output()
    );
    // The default profile's state dir was not touched.
    assert!(!gw.home.path().join(".openclaw").exists());
}

#[tokio::test]
async fn custom_and_lan_binds() {
    let home = Home::new();
    let mut cfg = token_config(&home);
    cfg["gateway"]["bind"] = json!("custom");
    cfg["gateway"]["customBindHost"] = json!("127.0.0.1");
    home.write_config(&cfg);
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    assert!(gw.output().contains("bind custom"), "{}", gw.output());
    connected(&gw.url(), &[]).await;
    drop(gw);

    // lan with a token listens on every interface; we reach it over loopback.
    let home = Home::new();
    home.write_config(&token_config(&home));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0", "--bind", "lan"], &[]);
    assert!(gw.output().contains("ws://0.0.0.0:"), "{}", gw.output());
    connected(&gw.url(), &[]).await;

    let home = Home::new();
    let mut cfg = token_config(&home);
    cfg["gateway"]["bind"] = json!("custom");
    home.write_config(&cfg);
    let (code, _, err) = run_cli(&home, &["gateway", "--port", "0"], &[]);
    assert_eq!(code, 78);
    assert!(err.contains("customBindHost"), "{err}");
}
