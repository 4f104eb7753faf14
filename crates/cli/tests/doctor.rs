//! `openclaw doctor`: lossless, idempotent migration of a clawdbot-era HOME, conflicts left
//! alone, permission and auth findings, legacy services retired into a backup.
#![cfg(unix)]

mod common;
mod sup;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{Value, json};
use sup::*;

const LEGACY_CONFIG: &str = "// clawdbot 2026.1 config\n{\n  gateway: { mode: 'local', auth: { token: 'f3a9c2e17b6d4a58e0c1d2b3' } },\n}\n";

/// A clawdbot-era state dir with config, credentials, sessions, identity, a script and binary.
fn seed_clawdbot(root: &Path) {
    let files: &[(&str, &[u8])] = &[
        ("clawdbot.json", LEGACY_CONFIG.as_bytes()),
        (
            "credentials/whatsapp/default/creds.json",
            b"{\"noiseKey\":\"abc\"}",
        ),
        ("credentials/telegram-allowFrom.json", b"[\"123\"]"),
        ("agents/main/agent/auth-profiles.json", b"{\"profiles\":{}}"),
        (
            "agents/main/sessions/sessions.json",
            b"{\"agent:main:main\":{\"sessionId\":\"s1\"}}",
        ),
        (
            "agents/main/sessions/s1.jsonl",
            b"{\"type\":\"session\",\"id\":\"s1\"}\n{\"type\":\"message\"}\n",
        ),
        ("identity/device.json", b"{\"deviceId\":\"d\"}"),
        ("devices/paired.json", b"{}"),
        ("workspace/AGENTS.md", b"# agents\n"),
        ("workspace/skills/run.sh", b"#!/bin/sh\necho hi\n"),
        ("media/blob.bin", &[0u8, 1, 2, 255, 254, 0, 10]),
    ];
    for (rel, data) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    }
    std::fs::create_dir_all(root.join("cron/runs")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        root.join("workspace/skills/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("AGENTS.md", root.join("workspace/README.md")).unwrap();
}

fn doctor(home: &Home, args: &[&str], extra: &[(String, String)]) -> (i32, Value, String) {
    let fake = FakeSystemd::new("nobus");
    let mut env = fake.env();
    env.extend(extra.iter().cloned());
    let mut full = vec!["doctor", "--json"];
    full.extend_from_slice(args);
    let (code, out, err) = run(home, &full, &env, &["OPENCLAW_STATE_DIR"]);
    (code, json_of(&out, &err), err)
}

fn backups(home: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(home)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".clawdbot.migrated-")
        })
        .collect();
    out.sort();
    out
}

#[test]
fn migrates_a_clawdbot_home_losslessly_and_idempotently() {
    let home = Home::new();
    let legacy = home.path().join(".clawdbot");
    seed_clawdbot(&legacy);
    let before = snapshot(&legacy);

    let (code, v, err) = doctor(&home, &["--non-interactive"], &[]);
    assert_eq!(code, 0, "{v:#}\n{err}");
    assert_eq!(v["mode"], "non-interactive");
    let m = &v["migrations"][0];
    assert_eq!(m["kind"], "state-dir", "{v:#}");
    assert_eq!(m["status"], "applied");
    assert_eq!(m["from"], json!(legacy));
    let target = home.path().join(".openclaw");
    assert_eq!(m["to"], json!(target));
    assert_eq!(m["files"], 11);

    // The new state dir holds every byte, with the config under its new name.
    assert!(!legacy.exists());
    let mut expected = before.clone();
    let cfg = expected.remove(Path::new("clawdbot.json")).unwrap();
    expected.insert(PathBuf::from("openclaw.json"), cfg);
    assert_eq!(snapshot(&target), expected);
    // The original tree is kept, untouched, as the backup.
    let b = backups(home.path());
    assert_eq!(b.len(), 1);
    assert_eq!(m["backup"], json!(b[0]));
    assert_eq!(snapshot(&b[0]), before);
    // Private modes; scripts stay executable.
    assert_eq!(mode(&target), 0o700);
    assert_eq!(mode(&target.join("openclaw.json")), 0o600);
    assert_eq!(mode(&target.join("credentials/whatsapp")), 0o700);
    assert_eq!(mode(&target.join("workspace/skills/run.sh")), 0o700);
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "config.parse" && c["level"] == "ok"),
        "{v:#}"
    );

    // The migrated config is the one in use.
    let fake = FakeSystemd::new("nobus");
    let (code, out, _) = run(
        &home,
        &["config", "get", "gateway.mode"],
        &fake.env(),
        &["OPENCLAW_STATE_DIR"],
    );
    assert_eq!((code, out.trim()), (0, "local"));

    // A second run changes nothing.
    let after = snapshot(&target);
    let (code, v2, _) = doctor(&home, &["--non-interactive"], &[]);
    assert_eq!(code, 0);
    assert_eq!(v2["migrations"], json!([]));
    assert_eq!(snapshot(&target), after);
    assert_eq!(backups(home.path()), b);
    assert_eq!(snapshot(&b[0]), before);
    assert!(!legacy.exists());
}

#[test]
fn report_mode_only_reports() {
    let home = Home::new();
    let legacy = home.path().join(".clawdbot");
    seed_clawdbot(&legacy);
    let before = snapshot(&legacy);
    let (code, v, _) = doctor(&home, &[], &[]);
    assert_eq!(code, 0);
    assert_eq!(v["mode"], "report");
    assert_eq!(v["migrations"][0]["status"], "pending");
    assert_eq!(snapshot(&legacy), before);
    assert!(!home.path().join(".openclaw").exists());
}

#[test]
fn conflicting_state_is_reported_and_left_alone() {
    let home = Home::new();
    let legacy = home.path().join(".clawdbot");
    seed_clawdbot(&legacy);
    let target = home.path().join(".openclaw");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("openclaw.json"), "{gateway:{mode:'local'}}").unwrap();
    let (before_legacy, before_target) = (snapshot(&legacy), snapshot(&target));
    let (code, v, _) = doctor(&home, &["--non-interactive"], &[]);
    assert_eq!(code, 0, "{v:#}");
    let m = &v["migrations"][0];
    assert_eq!(m["status"], "conflict");
    assert_eq!(m["conflicts"], json!(["openclaw.json"]));
    assert_eq!(snapshot(&legacy), before_legacy);
    assert_eq!(snapshot(&target), before_target);
    assert!(backups(home.path()).is_empty());
}

#[test]
fn permissions_auth_env_and_legacy_services() {
    let home = Home::new();
    let state = home.path().join(".openclaw");
    std::fs::create_dir_all(&state).unwrap();
    let config = state.join("openclaw.json");
    std::fs::write(
        &config,
        r#"{"gateway": {"mode": "local", "auth": {"token": "abc"}}}"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let units = home.path().join(".config/systemd/user");
    std::fs::create_dir_all(&units).unwrap();
    let legacy_unit = "[Service]\nExecStart=/usr/bin/node /opt/clawdbot/index.js gateway\n[Install]\nWantedBy=default.target\n";
    std::fs::write(units.join("clawdbot-gateway.service"), legacy_unit).unwrap();
    let env = [("CLAWDBOT_GATEWAY_PORT".to_string(), "18789".to_string())];

    let find = |v: &Value, id: &str| -> Value {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id} in {v:#}"))
    };
    let (code, v, _) = doctor(&home, &[], &env);
    assert_eq!(code, 0, "warnings only: {v:#}");
    let perm = find(&v, "config.permissions");
    assert_eq!(
        (perm["level"].clone(), perm["fixed"].clone()),
        (json!("warn"), json!(false))
    );
    assert_eq!(mode(&config), 0o644);
    assert!(
        find(&v, "auth.token")["message"]
            .as_str()
            .unwrap()
            .contains("weak")
    );
    assert!(
        find(&v, "env.legacy")["message"]
            .as_str()
            .unwrap()
            .contains("CLAWDBOT_GATEWAY_PORT")
    );
    assert_eq!(find(&v, "service.legacy")["fixed"], false);

    let (code, v, _) = doctor(&home, &["--fix"], &env);
    assert_eq!(code, 0);
    assert_eq!(find(&v, "config.permissions")["fixed"], true);
    assert_eq!(mode(&config), 0o600);
    assert_eq!(find(&v, "service.legacy")["fixed"], true);
    assert!(!units.join("clawdbot-gateway.service").exists());
    let moved: Vec<_> = std::fs::read_dir(state.join("backups/services"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(std::fs::read_to_string(&moved[0]).unwrap(), legacy_unit);

    // Beyond loopback a weak token is an error.
    std::fs::write(
        &config,
        r#"{"gateway": {"mode": "local", "bind": "lan", "auth": {"token": "abc"}}}"#,
    )
    .unwrap();
    let (code, v, _) = doctor(&home, &[], &[]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(find(&v, "auth.token")["level"], "error");
    assert_eq!(v["ok"], false);
    // And without any auth it is the reference's start refusal.
    std::fs::write(&config, r#"{"gateway": {"mode": "local", "bind": "lan"}}"#).unwrap();
    let (code, v, _) = doctor(&home, &[], &[]);
    assert_eq!(code, 1);
    assert!(
        find(&v, "auth.exposure")["message"]
            .as_str()
            .unwrap()
            .contains("Refusing to bind gateway to lan without auth")
    );
}

#[test]
fn invalid_config_is_an_error_naming_the_key() {
    let home = Home::new();
    let state = home.path().join(".openclaw");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("openclaw.json"), "{ gateway: { prot: 1 } }").unwrap();
    let (code, v, _) = doctor(&home, &["--non-interactive"], &[]);
    assert_eq!(code, 1);
    let c = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "config.parse")
        .unwrap()
        .clone();
    assert_eq!(c["level"], "error");
    assert!(c["message"].as_str().unwrap().contains("prot"), "{c}");
}
