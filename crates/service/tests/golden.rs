//! The generated systemd unit, launchd plist and scheduled-task files, byte for byte, for the
//! default profile and a profile with awkward paths; plus `systemd-analyze verify` on a unit
//! that points at a real binary. `UPDATE_GOLDEN=1 cargo test -p openclaw-service --test golden`
//! rewrites the golden files.

use std::path::{Path, PathBuf};

use openclaw_service::control::parse_definition;
use openclaw_service::{GatewayServiceInput, Platform, ServiceSpec, launchd, schtasks, systemd};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares `actual` with the golden file `name` (rewriting it under `UPDATE_GOLDEN`).
fn check_golden(name: &str, actual: &[u8]) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{name} is stale or the generator changed:\n--- expected\n{}\n--- actual\n{}\nrun `UPDATE_GOLDEN=1 cargo test -p openclaw-service --test golden` and review the diff",
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual)
    );
}

fn spec(input: GatewayServiceInput<'_>) -> ServiceSpec {
    ServiceSpec::gateway(&input).unwrap()
}

fn unix_default(exe: &str) -> GatewayServiceInput<'_> {
    GatewayServiceInput {
        exe,
        port: 18789,
        profile: None,
        state_dir: "/home/me/.openclaw",
        config_path: "/home/me/.openclaw/openclaw.json",
        version: "2026.9.6",
        token: None,
    }
}

/// A profile whose paths need every kind of quoting: spaces, `%` (systemd specifiers),
/// `$` (variable expansion), `&` (XML), and a token with a space.
fn unix_work(exe: &str) -> GatewayServiceInput<'_> {
    GatewayServiceInput {
        exe,
        port: 19123,
        profile: Some("work"),
        state_dir: "/home/me/My 100% $tate & co/.openclaw-work",
        config_path: "/home/me/My 100% $tate & co/.openclaw-work/openclaw.json",
        version: "2026.9.6",
        token: Some("tok en\"x"),
    }
}

#[test]
fn systemd_units() {
    let d = spec(unix_default("/usr/local/bin/openclaw"));
    check_golden(
        "systemd-default.service",
        systemd::render_unit(&d).as_bytes(),
    );
    let w = spec(unix_work("/opt/Open Claw/bin/openclaw"));
    check_golden("systemd-work.service", systemd::render_unit(&w).as_bytes());
}

#[test]
fn launchd_plists() {
    let d = spec(GatewayServiceInput {
        state_dir: "/Users/me/.openclaw",
        config_path: "/Users/me/.openclaw/openclaw.json",
        ..unix_default("/opt/homebrew/bin/openclaw")
    });
    check_golden(
        "launchd-default.plist",
        launchd::render_plist(&d).as_bytes(),
    );
    let w = spec(unix_work(
        "/Applications/OpenClaw.app/Contents/MacOS/openclaw",
    ));
    check_golden("launchd-work.plist", launchd::render_plist(&w).as_bytes());
}

#[test]
fn scheduled_tasks() {
    let d = spec(GatewayServiceInput {
        exe: "C:\\Program Files\\OpenClaw\\openclaw.exe",
        port: 18789,
        profile: None,
        state_dir: "C:\\Users\\me\\.openclaw",
        config_path: "C:\\Users\\me\\.openclaw\\openclaw.json",
        version: "2026.9.6",
        token: None,
    });
    check_golden(
        "schtasks-default.cmd",
        schtasks::render_script(&d).unwrap().as_bytes(),
    );
    check_golden(
        "schtasks-default.xml",
        schtasks::render_task_xml(&d, "C:\\Users\\me\\.openclaw\\gateway.cmd").as_bytes(),
    );
    let w = spec(GatewayServiceInput {
        exe: "C:\\Users\\me\\AppData\\Local\\OpenClaw\\openclaw.exe",
        port: 19123,
        profile: Some("work"),
        state_dir: "C:\\Users\\me\\100% & co\\.openclaw-work",
        config_path: "C:\\Users\\me\\100% & co\\.openclaw-work\\openclaw.json",
        version: "2026.9.6",
        token: None,
    });
    check_golden(
        "schtasks-work.cmd",
        schtasks::render_script(&w).unwrap().as_bytes(),
    );
    check_golden(
        "schtasks-work.xml",
        schtasks::render_task_xml(&w, "C:\\Users\\me\\100% & co\\.openclaw-work\\gateway.cmd")
            .as_bytes(),
    );
}

#[test]
fn a_quote_in_a_windows_value_is_a_clear_error() {
    let s = spec(GatewayServiceInput {
        exe: "C:\\x\\openclaw.exe",
        token: Some("a\"b"),
        ..unix_default("/x")
    });
    let e = schtasks::render_script(&s).unwrap_err().to_string();
    assert!(e.contains("double quote"), "{e}");
}

/// What we write, we read back the same: the audit in `doctor`/`status` depends on it.
#[test]
fn definitions_parse_back_to_their_spec() {
    for s in [
        spec(unix_default("/usr/local/bin/openclaw")),
        spec(unix_work("/opt/Open Claw/bin/openclaw")),
    ] {
        for (platform, text, companion) in [
            (Platform::Systemd, systemd::render_unit(&s), None),
            (Platform::Launchd, launchd::render_plist(&s), None),
        ] {
            let d = parse_definition(platform, &text, companion);
            assert!(d.problems.is_empty(), "{platform:?}: {:?}", d.problems);
            assert_eq!(d.program.as_ref(), Some(&s.program), "{platform:?}");
            assert_eq!(d.env, s.env, "{platform:?}");
            assert!(d.ours());
        }
    }
    let w = spec(GatewayServiceInput {
        exe: "C:\\Program Files\\OpenClaw\\openclaw.exe",
        state_dir: "C:\\Users\\me\\100% & co\\.openclaw-work",
        config_path: "C:\\Users\\me\\100% & co\\.openclaw-work\\openclaw.json",
        profile: Some("work"),
        ..unix_default("/x")
    });
    let script = schtasks::render_script(&w).unwrap();
    let xml = schtasks::render_task_xml(&w, "C:\\x\\gateway.cmd");
    let d = parse_definition(Platform::Schtasks, &xml, Some(&script));
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(d.program.as_ref(), Some(&w.program));
    assert_eq!(d.env, w.env);
}

fn systemd_analyze() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("systemd-analyze"))
            .find(|p| p.is_file())
    })
}

/// Runs `systemd-analyze verify` on `unit`; `None` when it cannot run here at all.
fn verify(tool: &Path, unit: &Path) -> Option<(bool, String)> {
    let out = std::process::Command::new(tool)
        .arg("verify")
        .arg(unit)
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if stderr.contains("Failed to initialize manager") {
        eprintln!("skipping systemd-analyze verify: it cannot initialize here ({stderr})");
        return None;
    }
    Some((out.status.success(), stderr))
}

/// `systemd-analyze verify` accepts the generated unit, including a binary path with spaces,
/// `%` and `$` (it resolves ExecStart, so the quoting is checked for real). It also checks
/// that the binary exists, so the unit points at this test's own executable.
#[test]
fn generated_units_pass_systemd_analyze_verify() {
    let Some(tool) = systemd_analyze() else {
        eprintln!(
            "skipping: systemd-analyze not found (install the `systemd` package to run this check)"
        );
        return;
    };
    let real_exe = std::env::current_exe().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("Open Claw 100% $bin");
    std::fs::create_dir_all(&odd).unwrap();
    let linked = odd.join("openclaw");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&real_exe, &linked).unwrap();
    let state = dir.path().join("My 100% $tate");
    let cases = [
        (real_exe.to_str().unwrap().to_string(), None),
        (linked.to_str().unwrap().to_string(), Some("work")),
    ];
    for (exe, profile) in &cases {
        let config = state.join("openclaw.json");
        let s = spec(GatewayServiceInput {
            exe,
            port: 18789,
            profile: *profile,
            state_dir: state.to_str().unwrap(),
            config_path: config.to_str().unwrap(),
            version: "2026.9.6",
            token: Some("secret token"),
        });
        let unit = dir.path().join(&s.names.systemd_unit);
        std::fs::write(&unit, systemd::render_unit(&s)).unwrap();
        let Some((ok, stderr)) = verify(&tool, &unit) else {
            return;
        };
        assert!(ok, "systemd-analyze verify {}: {stderr}", unit.display());
        let name = unit.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !stderr.lines().any(|l| l.contains(&name)),
            "warnings about {name}:\n{stderr}"
        );
    }
    // The check is real: a unit whose binary does not exist is rejected.
    let s = spec(unix_default("/nonexistent/openclaw"));
    let unit = dir.path().join("openclaw-gateway.service");
    std::fs::write(&unit, systemd::render_unit(&s)).unwrap();
    if let Some((ok, stderr)) = verify(&tool, &unit) {
        assert!(!ok, "verify accepted a missing binary: {stderr}");
    }
}
