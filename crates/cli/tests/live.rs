//! Live operations against the real binary: config hot reload in every mode, invalid edits
//! kept out, in-process restarts (config change, SIGUSR1), `--force`, `logs --follow` across a
//! restart, and the config RPC with optimistic concurrency. Every wait is a condition with a
//! deadline.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(10);

fn live_config(home: &Home, extra: Value) -> Value {
    let mut cfg = token_config(home);
    cfg["gateway"]["reload"] = json!({"debounceMs": 50});
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    cfg
}

fn start_live(extra: Value, mode: Option<&str>) -> Gateway {
    let home = Home::new();
    let mut cfg = live_config(&home, extra);
    if let Some(m) = mode {
        cfg["gateway"]["reload"]["mode"] = json!(m);
    }
    home.write_config(&cfg);
    Gateway::start_in(home, &["gateway", "--port", "0"], &[])
}

fn edit(gw: &Gateway, f: impl FnOnce(&mut Value)) {
    let path = gw.home.config_path();
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut cfg);
    std::fs::write(&path, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
}

#[tokio::test]
async fn hybrid_applies_hot_changes_without_dropping_clients() {
    let mut gw = start_live(json!({}), None);
    let (mut raw, _) = connected(&gw.url(), &["operator.admin"]).await;
    edit(&gw, |c| c["logging"]["level"] = json!("debug"));
    gw.expect_line("config reload applied (hot: logging.level)");
    // Same socket still answers; debug lines now appear.
    assert_eq!(raw.req("h1", "health", None).await["ok"], true);
    gw.wait_for_line("⇄ res ✓ health", DEADLINE)
        .expect("debug level applied");
    // Auth token is hot too: new connects need the new token.
    edit(&gw, |c| {
        c["gateway"]["auth"]["token"] = json!("rotated-token-1234")
    });
    gw.expect_line("gateway.auth.token");
    let (mut other, _) = Raw::open(&gw.url()).await;
    other
        .send(&connect_frame(
            "c",
            connect_params(Some("rotated-token-1234"), &[]),
        ))
        .await;
    assert_eq!(other.res("c").await["ok"], true);
    assert_eq!(
        raw.req("h2", "health", None).await["ok"],
        true,
        "old connection kept"
    );
}

#[tokio::test]
async fn hybrid_restarts_on_port_change_and_clients_reconnect() {
    // The port comes from the config here: a `--port` flag would beat the file.
    let home = Home::new();
    let (first, second) = (reserve_port(), reserve_port());
    let mut cfg = live_config(&home, json!({}));
    cfg["gateway"]["port"] = json!(first.port());
    home.write_config(&cfg);
    let mut gw = Gateway::start_in(home, &["gateway"], &[]);
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    let new_port = second.port();
    edit(&gw, |c| c["gateway"]["port"] = json!(new_port));
    let ev = raw.event("shutdown").await;
    assert!(
        ev["payload"]["reason"]
            .as_str()
            .unwrap()
            .contains("gateway.port"),
        "{ev}"
    );
    assert!(ev["payload"]["restartExpectedMs"].as_u64().unwrap() > 0);
    assert_eq!(raw.closed().await, (1012, "service restart".into()));
    gw.expect_line("restarted:");
    connected(&format!("ws://127.0.0.1:{new_port}"), &[]).await;
    assert!(
        tokio_tungstenite::connect_async(gw.url()).await.is_err(),
        "old port closed"
    );
    assert!(gw.child.try_wait().unwrap().is_none(), "same process");
}

#[tokio::test]
async fn hot_mode_leaves_restart_changes_for_later() {
    let mut gw = start_live(json!({}), Some("hot"));
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    let other = reserve_port();
    edit(&gw, |c| c["gateway"]["port"] = json!(other.port()));
    gw.expect_line("needs a restart to take effect: gateway.port");
    assert_eq!(raw.req("h", "health", None).await["ok"], true);
    connected(&gw.url(), &[]).await;
}

#[tokio::test]
async fn restart_mode_restarts_on_any_change() {
    let mut gw = start_live(json!({}), Some("restart"));
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    edit(&gw, |c| c["logging"]["level"] = json!("debug"));
    let ev = raw.event("shutdown").await;
    assert!(ev["payload"]["restartExpectedMs"].as_u64().is_some());
    assert_eq!(raw.closed().await.0, 1012);
    gw.expect_line("restarted:");
    connected(&gw.url(), &[]).await;
}

#[tokio::test]
async fn off_mode_ignores_changes() {
    let mut gw = start_live(json!({}), Some("off"));
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    let other = reserve_port();
    edit(&gw, |c| c["gateway"]["port"] = json!(other.port()));
    gw.expect_line("reload mode is off");
    assert_eq!(raw.req("h", "health", None).await["ok"], true);
    connected(&gw.url(), &[]).await;
}

#[tokio::test]
async fn invalid_edit_keeps_the_last_good_config_until_fixed() {
    let mut gw = start_live(json!({}), None);
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    let path = gw.home.config_path();
    std::fs::write(&path, "{ gateway: { mode: 'local', auth: { token: ").unwrap();
    let line = gw.expect_line("config reload skipped (invalid config)");
    assert!(line.contains("openclaw.json"), "names the file: {line}");
    assert_eq!(raw.req("h", "health", None).await["ok"], true);
    connected(&gw.url(), &[]).await;
    // An unknown key is reported with its path.
    let home_log = gw.home.log_path();
    let mut cfg = live_config(&gw.home, json!({}));
    cfg["gateway"]["bnd"] = json!("lan");
    std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
    gw.expect_line("gateway.bnd");
    // Fixing the file applies it.
    let mut cfg = live_config(&gw.home, json!({}));
    cfg["logging"] = json!({"file": home_log, "level": "debug"});
    std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
    gw.expect_line("config reload applied (hot: logging.level)");
    assert_eq!(raw.req("h2", "health", None).await["ok"], true);
}

#[tokio::test]
async fn sigusr1_restarts_when_allowed() {
    let mut gw = start_live(json!({"commands": {"restart": true}}), None);
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    gw.signal(libc::SIGUSR1);
    let ev = raw.event("shutdown").await;
    assert_eq!(ev["payload"]["reason"], "SIGUSR1");
    assert!(ev["payload"]["restartExpectedMs"].as_u64().is_some());
    assert_eq!(raw.closed().await.0, 1012);
    gw.expect_line("restarted: SIGUSR1");
    connected(&gw.url(), &[]).await;
}

#[tokio::test]
async fn sigusr1_is_ignored_when_restarts_are_disabled() {
    let mut gw = start_live(json!({"commands": {"restart": false}}), None);
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    gw.signal(libc::SIGUSR1);
    gw.expect_line("SIGUSR1 ignored");
    assert_eq!(
        raw.req("h", "health", None).await["ok"],
        true,
        "connection kept"
    );
}

#[test]
fn force_frees_a_port_held_by_another_gateway() {
    let mut first = Gateway::start();
    let port = first.port.to_string();
    let home = Home::new();
    home.write_config(&token_config(&home));
    let mut second = Gateway::start_in(home, &["gateway", "--port", &port, "--force"], &[]);
    assert_eq!(second.port, first.port);
    let status = first.wait_exit(DEADLINE).expect("first gateway stopped");
    assert_eq!(status.code(), Some(0), "stopped with SIGTERM, cleanly");
    assert!(
        second
            .wait_for_line("--force: sending SIGTERM to pid", DEADLINE)
            .is_some(),
        "{}",
        second.output()
    );
}

/// Collects a child's stdout lines.
fn spawn_lines(mut cmd: std::process::Command) -> (std::process::Child, Arc<Mutex<Vec<String>>>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    for s in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(s).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
    }
    (child, lines)
}

fn wait_lines(lines: &Arc<Mutex<Vec<String>>>, pat: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if lines.lock().unwrap().iter().any(|l| l.contains(pat)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn logs_follow_prints_new_lines_and_survives_a_restart() {
    let mut gw = start_live(json!({"commands": {"restart": true}}), None);
    let home = Home::new();
    let mut cmd = home.command(&["logs", "--follow", "--interval", "100", "--limit", "5"]);
    cmd.env("OPENCLAW_GATEWAY_PORT", gw.port.to_string())
        .env("OPENCLAW_GATEWAY_TOKEN", TOKEN);
    let (mut child, lines) = spawn_lines(cmd);
    assert!(
        wait_lines(&lines, "[gateway]", DEADLINE),
        "initial lines: {:?}",
        lines.lock().unwrap()
    );
    // A new line shows up within a second.
    edit(&gw, |c| c["logging"]["level"] = json!("info"));
    let before = Instant::now();
    gw.expect_line("config reload applied");
    assert!(
        wait_lines(&lines, "config reload applied", Duration::from_secs(5)),
        "{:?}",
        lines.lock().unwrap()
    );
    let took = before.elapsed();
    eprintln!("follow latency {took:?}");
    // Restart the gateway in-process: the follower reconnects and keeps printing.
    gw.signal(libc::SIGUSR1);
    gw.expect_line("restarted: SIGUSR1");
    assert!(
        wait_lines(&lines, "restarted: SIGUSR1", DEADLINE),
        "{:?}",
        lines.lock().unwrap()
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn config_rpc_with_optimistic_concurrency() {
    let gw = start_live(json!({}), None);
    let (mut a, _) = connected(&gw.url(), &["operator.admin"]).await;
    let (mut b, _) = connected(&gw.url(), &["operator.admin"]).await;
    let got = a.req("g", "config.get", None).await["payload"].clone();
    assert_eq!(got["exists"], true);
    assert_eq!(got["valid"], true);
    let hash = got["hash"].as_str().unwrap().to_string();
    let mut cfg: Value = got["parsed"].clone();

    cfg["logging"]["level"] = json!("debug");
    let ra = a
        .req(
            "s1",
            "config.set",
            Some(json!({"raw": cfg.to_string(), "baseHash": hash})),
        )
        .await;
    assert_eq!(ra["ok"], true, "{ra}");
    cfg["logging"]["level"] = json!("warn");
    let rb = b
        .req(
            "s2",
            "config.set",
            Some(json!({"raw": cfg.to_string(), "baseHash": hash})),
        )
        .await;
    assert_eq!(rb["ok"], false);
    assert_eq!(
        rb["error"]["message"],
        "config changed since last load; re-run config.get and retry"
    );
    // Nothing lost: the winner's content is on disk, with a backup and 0600.
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(gw.home.config_path()).unwrap()).unwrap();
    assert_eq!(on_disk["logging"]["level"], "debug");
    assert!(gw.home.state_dir().join("openclaw.json.bak").exists());
    assert_eq!(file_mode(gw.home.config_path()), 0o600);

    // Missing base hash, invalid content, merge patch.
    let r = a.req("s3", "config.set", Some(json!({"raw": "{}"}))).await;
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("base hash required")
    );
    let hash = a.req("g2", "config.get", None).await["payload"]["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let r = a
        .req(
            "s4",
            "config.set",
            Some(json!({"raw": "{\"gateway\":{\"prot\":1}}", "baseHash": hash})),
        )
        .await;
    assert_eq!(r["error"]["message"], "invalid config");
    assert!(
        r["error"]["details"]["issues"][0]["path"]
            .as_str()
            .unwrap()
            .contains("gateway")
    );
    let r = a
        .req(
            "p1",
            "config.patch",
            Some(json!({"raw": "{logging: {level: null}, meta: {note: 'x'}}", "baseHash": hash})),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(gw.home.config_path()).unwrap()).unwrap();
    assert!(on_disk["logging"].get("level").is_none());
    assert_eq!(on_disk["meta"]["note"], "x");
    assert_eq!(
        on_disk["gateway"]["auth"]["token"], TOKEN,
        "untouched keys kept"
    );

    let s = a.req("sc", "config.schema", None).await;
    assert!(
        s["payload"]["schema"]["properties"]["gateway"].is_object(),
        "{}",
        s["payload"]
    );
    // Readers without admin see secrets redacted.
    let (mut reader, _) = connected(&gw.url(), &["operator.read"]).await;
    let got = reader.req("g", "config.get", None).await;
    assert_eq!(
        got["payload"]["parsed"]["gateway"]["auth"]["token"],
        "__OPENCLAW_REDACTED__"
    );
    assert!(!got["payload"]["raw"].as_str().unwrap().contains(TOKEN));
    let r = reader
        .req("s", "config.set", Some(json!({"raw": "{}"})))
        .await;
    assert_eq!(r["error"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn logs_tail_rpc() {
    let gw = start_live(json!({}), None);
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    let r = raw.req("t", "logs.tail", Some(json!({"limit": 3}))).await["payload"].clone();
    assert!(r["file"].as_str().unwrap().ends_with("gw.log"));
    assert!(r["lines"].as_array().unwrap().len() <= 3);
    let cursor = r["cursor"].as_u64().unwrap();
    assert!(cursor > 0 && cursor <= r["size"].as_u64().unwrap());
    let r = raw
        .req("t2", "logs.tail", Some(json!({"limit": "abc"})))
        .await;
    assert_eq!(
        r["error"]["message"],
        "invalid logs.tail params: at /limit: must be integer"
    );
    let r = raw.req("t3", "logs.tail", Some(json!({"bogus": 1}))).await;
    assert_eq!(
        r["error"]["message"],
        "invalid logs.tail params: at root: unexpected property 'bogus'"
    );
}

#[test]
fn config_cli_get_set_unset() {
    let home = Home::new();
    home.write_config(&json!({"gateway": {"mode": "local"}}));
    let (code, out, err) = run_cli(&home, &["config", "set", "gateway.port", "19999"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Updated gateway.port"));
    let (code, out, _) = run_cli(&home, &["config", "get", "gateway.port"], &[]);
    assert_eq!((code, out.trim()), (0, "19999"));
    let (code, out, _) = run_cli(&home, &["config", "get", "gateway.mode"], &[]);
    assert_eq!((code, out.trim()), (0, "local"));
    let (code, _, err) = run_cli(&home, &["config", "set", "gateway.prot", "1"], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("gateway.prot") || err.contains("prot"),
        "{err}"
    );
    let (code, _, _) = run_cli(&home, &["config", "unset", "gateway.port"], &[]);
    assert_eq!(code, 0);
    let (code, _, err) = run_cli(&home, &["config", "get", "gateway.port"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("not set"));
    assert_eq!(file_mode(home.config_path()), 0o600);
}

#[tokio::test]
async fn restart_onto_a_taken_port_keeps_the_old_gateway() {
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = blocker.local_addr().unwrap().port();
    let home = Home::new();
    let first = reserve_port();
    let mut cfg = live_config(&home, json!({}));
    cfg["gateway"]["port"] = json!(first.port());
    home.write_config(&cfg);
    let mut gw = Gateway::start_in(home, &["gateway"], &[]);
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    edit(&gw, |c| c["gateway"]["port"] = json!(taken));
    let line = gw.expect_line("restart aborted");
    assert!(line.contains(&taken.to_string()), "{line}");
    assert_eq!(
        raw.req("h", "health", None).await["ok"],
        true,
        "old generation still serving"
    );
    connected(&gw.url(), &[]).await;
    drop(blocker);
}
