//! `gateway status` against a running, a stopped and a wrongly-authenticated gateway, and the
//! service lifecycle (`install`, `start`, `stop`, `restart`, `uninstall`) against a fake user
//! systemd in a temp HOME — reachable or not, with half-written units and bad inputs.
#![cfg(unix)]

mod common;
mod sup;

use common::*;
use serde_json::{Value, json};
use sup::*;

fn s(v: &str) -> String {
    v.to_string()
}

fn port_env(port: u16) -> (String, String) {
    (s("OPENCLAW_GATEWAY_PORT"), port.to_string())
}

#[test]
fn status_json_against_a_running_gateway() {
    let gw = Gateway::start();
    let fake = FakeSystemd::new("nobus");
    // An error line in the gateway's log file is reported as the last error.
    let line = json!({"_meta": {"logLevelName": "ERROR"}, "time": "2026-11-23T10:00:00.000+00:00",
                      "message": "telegram: getUpdates failed"});
    use std::io::Write;
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(gw.home.log_path())
        .unwrap();
    writeln!(log, "{line}").unwrap();

    let mut env = fake.env();
    env.push(port_env(gw.port));
    let (code, out, err) = run(&gw.home, &["gateway", "status", "--json"], &env, &[]);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out, &err);
    let rpc = &v["rpc"];
    assert_eq!(rpc["ok"], true, "{v:#}");
    assert_eq!(rpc["kind"], "connect");
    assert_eq!(rpc["url"], gw.url());
    assert_eq!(rpc["capability"], "connected_no_operator_scope");
    assert_eq!(rpc["auth"], json!({"role": "operator", "scopes": []}));
    assert_eq!(rpc["server"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(rpc["server"]["connId"].is_string());
    assert_eq!(rpc["health"]["ok"], true);
    assert_eq!(rpc["connectFailure"], Value::Null);
    assert_eq!(v["gateway"]["probeUrl"], gw.url());
    assert_eq!(v["port"]["port"], gw.port);
    assert_eq!(v["port"]["status"], "busy");
    assert!(
        v["port"]["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["pid"] == gw.child.id()),
        "{:#}",
        v["port"]
    );
    assert_eq!(v["config"]["path"], json!(gw.home.config_path()));
    assert_eq!(v["config"]["valid"], true);
    assert_eq!(v["config"]["mode"], "local");
    assert_eq!(v["config"]["authMode"], "token");
    assert_eq!(v["service"]["installed"], false);
    assert_eq!(v["service"]["label"], "openclaw-gateway.service");
    assert_eq!(
        v["service"]["unitPath"],
        json!(
            gw.home
                .path()
                .join(".config/systemd/user/openclaw-gateway.service")
        )
    );
    assert!(
        v["service"]["supervisorError"]
            .as_str()
            .unwrap()
            .contains("Failed to connect to bus")
    );
    assert_eq!(v["logFile"], json!(gw.home.log_path()));
    assert_eq!(v["lastError"]["message"], "telegram: getUpdates failed");
    assert_eq!(v["extraServices"], json!([]));
    assert_eq!(v["profiles"], Value::Null);
    for key in [
        "cli",
        "service",
        "config",
        "gateway",
        "port",
        "rpc",
        "extraServices",
        "logFile",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }

    let (code, out, _) = run(&gw.home, &["gateway", "status"], &env, &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("Probe: {} → reachable", gw.url())),
        "{out}"
    );
    assert!(
        out.contains("last error: 2026-11-23T10:00:00.000+00:00 telegram"),
        "{out}"
    );
}

#[test]
fn status_json_against_a_stopped_gateway() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let fake = FakeSystemd::new("nobus");
    let stopped = reserve_port();
    let port = stopped.port();
    let mut env = fake.env();
    env.push(port_env(port));
    let (code, out, err) = run(&home, &["gateway", "status", "--json"], &env, &[]);
    assert_eq!(code, 0, "status could be determined: {err}");
    let v = json_of(&out, &err);
    assert_eq!(v["rpc"]["ok"], false);
    assert_eq!(v["rpc"]["kind"], "unreachable");
    assert_eq!(v["rpc"]["url"], format!("ws://127.0.0.1:{port}"));
    assert_eq!(v["rpc"]["connectFailure"]["kind"], "unreachable");
    assert!(
        v["rpc"]["error"]
            .as_str()
            .unwrap()
            .contains(&format!("Gateway not reachable at ws://127.0.0.1:{port}"))
    );
    assert_eq!(v["port"]["status"], "free");
    assert_eq!(v["port"]["listeners"], json!([]));

    let (code, out, _) = run(
        &home,
        &["gateway", "status", "--no-probe", "--json"],
        &env,
        &[],
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rpc"], Value::Null);
    assert_eq!(v["gateway"]["probeUrl"], Value::Null);
    assert_eq!(v["gateway"]["url"], format!("ws://127.0.0.1:{port}"));
}

#[test]
fn status_json_with_a_wrong_token() {
    let gw = Gateway::start();
    let home = Home::new();
    let fake = FakeSystemd::new("nobus");
    let url = gw.url();
    let (code, out, err) = run(
        &home,
        &[
            "gateway",
            "status",
            "--url",
            &url,
            "--token",
            "wrong",
            "--timeout",
            "5000",
            "--json",
        ],
        &fake.env(),
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out, &err);
    assert_eq!(v["rpc"]["ok"], false);
    assert_eq!(v["rpc"]["kind"], "auth");
    assert_eq!(v["rpc"]["url"], url);
    let f = &v["rpc"]["connectFailure"];
    assert_eq!(f["code"], "INVALID_REQUEST");
    assert_eq!(f["detailCode"], "AUTH_TOKEN_MISMATCH");
    assert_eq!(f["closeCode"], 1008);
    assert_eq!(v["port"]["status"], "busy");
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("refused our credentials")),
        "{:#}",
        v["warnings"]
    );
}

fn unit_path(home: &Home, name: &str) -> std::path::PathBuf {
    home.path().join(".config/systemd/user").join(name)
}

#[test]
fn install_without_a_user_systemd_writes_the_unit_and_exits_nonzero() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let fake = FakeSystemd::new("nobus");
    let (code, out, err) = run(
        &home,
        &["gateway", "install", "--port", "18999"],
        &fake.env(),
        &[],
    );
    assert_eq!(code, 1, "{out}{err}");
    let unit = unit_path(&home, "openclaw-gateway.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        text.contains(&format!("ExecStart={} gateway --port 18999\n", bin())),
        "{text}"
    );
    assert!(text.contains("Restart=always\n"));
    for line in [
        "Environment=OPENCLAW_SERVICE_MARKER=openclaw",
        "Environment=OPENCLAW_SERVICE_KIND=gateway",
        &format!(
            "Environment=OPENCLAW_SERVICE_VERSION={}",
            env!("CARGO_PKG_VERSION")
        ),
        &format!(
            "Environment=OPENCLAW_STATE_DIR={}",
            home.state_dir().display()
        ),
        &format!(
            "Environment=OPENCLAW_CONFIG_PATH={}",
            home.config_path().display()
        ),
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    assert_eq!(mode(&unit), 0o600);
    assert!(out.contains("Installed openclaw-gateway.service"), "{out}");
    assert!(
        err.contains("Could not enable or start openclaw-gateway.service"),
        "{err}"
    );
    assert!(
        err.contains("not reachable (Failed to connect to bus"),
        "{err}"
    );
    assert!(
        err.contains("systemctl --user enable --now openclaw-gateway.service"),
        "{err}"
    );
    assert_eq!(fake.take_calls(), ["systemctl --user daemon-reload"]);

    let (code, out, err) = run(
        &home,
        &["gateway", "install", "--port", "18999", "--json"],
        &fake.env(),
        &[],
    );
    assert_eq!(code, 1);
    let v = json_of(&out, &err);
    assert_eq!(v["ok"], false);
    assert_eq!(v["install"]["written"], false);
    assert_eq!(v["install"]["activation"]["status"], "unreachable");
}

#[test]
fn service_lifecycle_with_a_working_service_manager() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let fake = FakeSystemd::new("ok");
    let env = fake.env();
    let unit = unit_path(&home, "openclaw-gateway.service");

    let (code, out, err) = run(&home, &["gateway", "install"], &env, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Enabled and started openclaw-gateway.service"),
        "{out}"
    );
    assert!(err.contains("loginctl enable-linger tester"), "{err}");
    assert_eq!(
        fake.take_calls(),
        [
            "systemctl --user daemon-reload",
            "systemctl --user enable openclaw-gateway.service",
            "systemctl --user restart openclaw-gateway.service",
            "loginctl show-user tester --property=Linger",
        ]
    );
    let before = std::fs::metadata(&unit).unwrap().modified().unwrap();
    let bytes = std::fs::read(&unit).unwrap();

    // Identical and running: a no-op.
    let (code, out, _) = run(&home, &["gateway", "install"], &env, &[]);
    assert_eq!(code, 0);
    assert!(out.contains("already installed and up to date"), "{out}");
    assert!(out.contains("is running; nothing to do"), "{out}");
    assert!(
        fake.take_calls()
            .iter()
            .all(|c| !c.contains("restart") && !c.contains("enable"))
    );
    assert_eq!(
        std::fs::metadata(&unit).unwrap().modified().unwrap(),
        before
    );

    // A different definition needs --force.
    let (code, _, err) = run(&home, &["gateway", "install", "--port", "18998"], &env, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--force") && err.contains("--port 18998"),
        "{err}"
    );
    assert_eq!(std::fs::read(&unit).unwrap(), bytes);
    let (code, out, _) = run(
        &home,
        &["gateway", "install", "--port", "18998", "--force"],
        &env,
        &[],
    );
    assert_eq!(code, 0);
    assert!(out.contains("Rewrote openclaw-gateway.service"), "{out}");

    let status = |fake: &FakeSystemd| {
        let (code, out, err) = run(
            &home,
            &["gateway", "status", "--no-probe", "--json"],
            &fake.env(),
            &[],
        );
        assert_eq!(code, 0, "{err}");
        json_of(&out, &err)["service"].clone()
    };
    let st = status(&fake);
    assert_eq!(st["installed"], true);
    assert_eq!(st["ours"], true);
    assert_eq!(st["running"], true);
    assert_eq!(st["enabled"], true);
    assert_eq!(st["pid"], 4242);
    assert_eq!(st["port"], 18998);
    assert_eq!(st["command"][0], bin());

    fake.take_calls();
    for (verb, word) in [
        ("stop", "Stopped"),
        ("start", "Started"),
        ("restart", "Restarted"),
    ] {
        let (code, out, err) = run(&home, &["gateway", verb], &env, &[]);
        assert_eq!(code, 0, "{verb}: {err}");
        assert!(
            out.contains(&format!("{word} openclaw-gateway.service")),
            "{out}"
        );
        if verb == "stop" {
            assert_eq!(status(&fake)["running"], false);
        }
    }
    let calls = fake.take_calls();
    for verb in ["stop", "start", "restart"] {
        assert!(
            calls.contains(&format!("systemctl --user {verb} openclaw-gateway.service")),
            "{calls:?}"
        );
    }

    let (code, out, _) = run(&home, &["gateway", "uninstall"], &env, &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("Removed {}", unit.display())),
        "{out}"
    );
    assert!(!unit.exists());
    assert!(fake.take_calls().contains(&s(
        "systemctl --user disable --now openclaw-gateway.service"
    )));
    let (code, out, _) = run(&home, &["gateway", "uninstall"], &env, &[]);
    assert_eq!(code, 0);
    assert!(out.contains("is not installed"), "{out}");
    let (code, _, err) = run(&home, &["gateway", "start"], &env, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("not installed") && err.contains("openclaw gateway install"),
        "{err}"
    );
}

#[test]
fn restart_refuses_a_config_the_gateway_would_reject() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let fake = FakeSystemd::new("ok");
    let (code, _, err) = run(&home, &["gateway", "install"], &fake.env(), &[]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(
        home.config_path(),
        "{ gateway: { mode: 'local', bogus: 1 } }",
    )
    .unwrap();
    fake.take_calls();
    let (code, _, err) = run(&home, &["gateway", "restart"], &fake.env(), &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Not restarting openclaw-gateway.service") && err.contains("bogus"),
        "{err}"
    );
    assert!(fake.take_calls().iter().all(|c| !c.contains("restart")));
    // Stopping is always allowed.
    let (code, _, _) = run(&home, &["gateway", "stop"], &fake.env(), &[]);
    assert_eq!(code, 0);
}

#[test]
fn half_written_units_and_bad_inputs_give_clear_errors() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let fake = FakeSystemd::new("ok");
    let unit = unit_path(&home, "openclaw-gateway.service");
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    let cut = format!(
        "[Unit]\nDescription=OpenClaw Gateway\n\n[Service]\nExecStart={} gateway --po",
        bin()
    );
    std::fs::write(&unit, &cut).unwrap();

    let (code, _, err) = run(&home, &["gateway", "install"], &fake.env(), &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("is incomplete or damaged (no [Install] section)"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    let (code, out, _) = run(
        &home,
        &["gateway", "status", "--no-probe", "--json"],
        &fake.env(),
        &[],
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["service"]["damaged"], "no [Install] section");
    let (code, _, err) = run(&home, &["gateway", "uninstall"], &fake.env(), &[]);
    assert_eq!(code, 1);
    assert!(err.contains("not touching it"), "{err}");
    assert_eq!(std::fs::read_to_string(&unit).unwrap(), cut);
    let (code, _, _) = run(&home, &["gateway", "install", "--force"], &fake.env(), &[]);
    assert_eq!(code, 0);
    assert!(
        std::fs::read_to_string(&unit)
            .unwrap()
            .contains("[Install]")
    );

    let (code, _, err) = run(
        &home,
        &["--profile", "bad/name", "gateway", "install"],
        &fake.env(),
        &["OPENCLAW_STATE_DIR"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("invalid profile name"), "{err}");

    // A file where ~/.config should be.
    let blocked = Home::new();
    blocked.write_config(&token_config(&blocked));
    std::fs::write(blocked.path().join(".config"), "x").unwrap();
    let (code, _, err) = run(&blocked, &["gateway", "install"], &fake.env(), &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot create directory") && err.contains(".config"),
        "{err}"
    );

    // A read-only unit directory (meaningless as root, who may write anyway).
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let ro = Home::new();
        ro.write_config(&token_config(&ro));
        let dir = ro.path().join(".config/systemd/user");
        std::fs::create_dir_all(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        let (code, _, err) = run(&ro, &["gateway", "install"], &fake.env(), &[]);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(code, 1);
        assert!(
            err.contains("cannot write") && err.contains("Permission denied"),
            "{err}"
        );
    } else {
        eprintln!("running as root: skipping the read-only directory case");
    }
}

#[test]
fn status_deep_lists_profiles_and_legacy_services() {
    let home = Home::new();
    let fake = FakeSystemd::new("nobus");
    let shared_hold = reserve_port();
    let shared = shared_hold.port();
    for p in ["a", "b"] {
        let dir = home.path().join(format!(".openclaw-{p}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("openclaw.json"),
            json!({"gateway": {"mode": "local", "port": shared}}).to_string(),
        )
        .unwrap();
    }
    let units = home.path().join(".config/systemd/user");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(
        units.join("clawdbot-gateway.service"),
        "[Service]\nExecStart=/usr/bin/node /opt/clawdbot/index.js gateway --port 18789\n[Install]\nWantedBy=default.target\n",
    )
    .unwrap();
    let (code, out, err) = run(
        &home,
        &[
            "--profile",
            "a",
            "gateway",
            "status",
            "--deep",
            "--no-probe",
            "--json",
        ],
        &fake.env(),
        &["OPENCLAW_STATE_DIR"],
    );
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out, &err);
    let profiles = v["profiles"].as_array().unwrap();
    let a = profiles.iter().find(|p| p["profile"] == "a").unwrap();
    assert_eq!(a["current"], true);
    assert_eq!(a["port"], shared);
    assert_eq!(a["service"]["name"], "openclaw-gateway-a.service");
    let b = profiles.iter().find(|p| p["profile"] == "b").unwrap();
    assert_eq!(b["current"], false);
    assert_eq!(b["stateDir"], json!(home.path().join(".openclaw-b")));
    let legacy = &v["extraServices"][0];
    assert_eq!(legacy["name"], "clawdbot-gateway.service");
    assert_eq!(legacy["legacy"], true);
    let warnings = strings(&v["warnings"]);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("profiles a, b all use port")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("legacy service clawdbot-gateway.service")),
        "{warnings:?}"
    );
    assert!(v["processes"].is_array());
}

#[test]
fn probe_reports_reachable_gateways_and_fails_when_none_answers() {
    let gw = Gateway::start();
    let fake = FakeSystemd::new("nobus");
    let mut env = fake.env();
    env.push(port_env(gw.port));
    let (code, out, err) = run(&gw.home, &["gateway", "probe", "--json"], &env, &[]);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out, &err);
    assert_eq!(v["ok"], true);
    assert_eq!(v["targets"][0]["target"], "local");
    assert_eq!(v["targets"][0]["url"], gw.url());
    assert_eq!(v["targets"][0]["ok"], true);

    let nobody = reserve_port();
    let mut env = fake.env();
    env.push(port_env(nobody.port()));
    let (code, out, _) = run(&gw.home, &["gateway", "probe"], &env, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("No gateway answered"), "{out}");
}

#[test]
fn overall_status_summarizes() {
    let gw = Gateway::start();
    let fake = FakeSystemd::new("nobus");
    let mut env = fake.env();
    env.push(port_env(gw.port));
    let (code, out, err) = run(&gw.home, &["status", "--json"], &env, &[]);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out, &err);
    assert_eq!(v["rpc"]["ok"], true);
    assert!(
        v["status"]["runtimeVersion"].is_string(),
        "{:#}",
        v["status"]
    );
    let (code, out, _) = run(&gw.home, &["status"], &env, &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Gateway: ") && out.contains("reachable"),
        "{out}"
    );
}
