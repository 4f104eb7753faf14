//! Several gateways on one host: two profiles run side by side, each with its own port,
//! config, state dir, log and service unit, and acting on one never touches the other's files.
#![cfg(unix)]

mod common;
mod sup;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::json;
use sup::*;

struct Profile {
    name: &'static str,
    port: u16,
    token: String,
    dir: PathBuf,
    /// Keeps `port` from being handed to anyone else before the profile's gateway binds it.
    _hold: ReservedPort,
}

fn write_profile(home: &Path, name: &'static str) -> Profile {
    let dir = home.join(format!(".openclaw-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let hold = reserve_port();
    let port = hold.port();
    let token = format!("token-for-{name}-0123456789abcdef");
    std::fs::write(
        dir.join("openclaw.json"),
        json!({
            "gateway": {"mode": "local", "port": port, "auth": {"mode": "token", "token": token}},
            "logging": {"file": dir.join("gateway.log")},
        })
        .to_string(),
    )
    .unwrap();
    Profile {
        name,
        port,
        token,
        dir,
        _hold: hold,
    }
}

/// A state dir's files, minus the gateway's own log (which it appends to on its own).
fn files(dir: &Path) -> BTreeMap<PathBuf, Node> {
    let mut s = snapshot(dir);
    s.remove(Path::new("gateway.log"));
    s
}

#[test]
fn two_profiles_run_side_by_side_without_touching_each_other() {
    let home = Home::new();
    let h = home.path().to_path_buf();
    let hs = h.to_string_lossy().into_owned();
    let a = write_profile(&h, "a");
    let b = write_profile(&h, "b");
    let gw_a = Gateway::start_in(
        home,
        &["--profile", "a", "gateway"],
        &[("OPENCLAW_STATE_DIR", "")],
    );
    let gw_b = Gateway::start_in(
        Home::new(),
        &["--profile", "b", "gateway"],
        &[("OPENCLAW_STATE_DIR", ""), ("HOME", &hs)],
    );
    assert_eq!((gw_a.port, gw_b.port), (a.port, b.port));
    let fake = FakeSystemd::new("ok");

    // Everything one profile does, against its own gateway.
    let act = |p: &Profile| {
        let env = fake.env();
        let run_p = |args: &[&str]| {
            let mut full = vec!["--profile", p.name];
            full.extend_from_slice(args);
            run_at(&gw_a.home, &h, &full, &env, &["OPENCLAW_STATE_DIR"])
        };
        let (code, out, err) = run_p(&["gateway", "status", "--json"]);
        assert_eq!(code, 0, "{err}");
        let v = json_of(&out, &err);
        assert_eq!(v["rpc"]["ok"], true, "{v:#}");
        assert_eq!(v["rpc"]["url"], format!("ws://127.0.0.1:{}", p.port));
        assert_eq!(v["config"]["path"], json!(p.dir.join("openclaw.json")));
        assert_eq!(v["stateDir"], json!(p.dir));
        let (code, _, err) = run_p(&["gateway", "call", "health"]);
        assert_eq!(code, 0, "{err}");
        let (code, _, err) = run_p(&["gateway", "install"]);
        assert_eq!(code, 0, "{err}");
        let (code, out, err) = run_p(&["doctor", "--non-interactive", "--json"]);
        assert_eq!(code, 0, "{out}{err}");
    };

    for (acting, other) in [(&a, &b), (&b, &a)] {
        let before = files(&other.dir);
        act(acting);
        assert_eq!(
            files(&other.dir),
            before,
            "profile {} touched profile {}'s files",
            acting.name,
            other.name
        );
    }

    // Two units, each carrying its own profile, state dir and port.
    let units = h.join(".config/systemd/user");
    for p in [&a, &b] {
        let text =
            std::fs::read_to_string(units.join(format!("openclaw-gateway-{}.service", p.name)))
                .unwrap();
        assert!(
            text.contains(&format!("gateway --port {}\n", p.port)),
            "{text}"
        );
        assert!(
            text.contains(&format!("Environment=OPENCLAW_PROFILE={}\n", p.name)),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "Environment=OPENCLAW_STATE_DIR={}\n",
                p.dir.display()
            )),
            "{text}"
        );
        assert!(!text.contains(&p.token), "no token unless --token is given");
    }
    assert!(!units.join("openclaw-gateway.service").exists());
    // Each log went to its own profile.
    assert!(a.dir.join("gateway.log").exists() && b.dir.join("gateway.log").exists());

    // `status --deep` lists both, each listening on its own port with its own pid.
    let (code, out, err) = run_at(
        &gw_a.home,
        &h,
        &["--profile", "a", "gateway", "status", "--deep", "--json"],
        &fake.env(),
        &["OPENCLAW_STATE_DIR"],
    );
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out, &err);
    for (p, gw) in [(&a, &gw_a), (&b, &gw_b)] {
        let entry = v["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["profile"] == p.name)
            .unwrap_or_else(|| panic!("profile {} missing: {:#}", p.name, v["profiles"]))
            .clone();
        assert_eq!(entry["port"], p.port);
        assert_eq!(entry["listening"], true);
        assert!(
            entry["listeners"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["pid"] == gw.child.id()),
            "{entry:#}"
        );
        assert_eq!(entry["service"]["installed"], true);
    }
    let warnings = strings(&v["warnings"]);
    assert!(
        !warnings.iter().any(|w| w.contains("all use port")),
        "{warnings:?}"
    );
    let services: Vec<&str> = v["extraServices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(services, ["openclaw-gateway-b.service"]);
}
