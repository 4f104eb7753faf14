//! Helpers for the supervision tests: run the CLI with a temp HOME, never the real systemd
//! (a fake `systemctl`/`loginctl` script records every call), and snapshot directory trees to
//! prove files were (not) touched.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::common::{Home, run_bounded};

/// A fake `systemctl` (and `loginctl`): appends each call to `calls.log`; `mode` is `nobus`
/// (no user manager reachable, like a container) or `ok` (a manager whose unit state lives
/// in `state`: `active` after start/restart, `inactive` after stop/disable).
pub struct FakeSystemd {
    pub dir: tempfile::TempDir,
}

const SCRIPT: &str = r#"#!/bin/sh
dir="$(dirname "$0")"
echo "$(basename "$0") $*" >> "$dir/calls.log"
if [ "$(basename "$0")" = "loginctl" ]; then echo "Linger=no"; exit 0; fi
if [ "$(cat "$dir/mode")" = "nobus" ]; then
  echo "Failed to connect to bus: No medium found" >&2; exit 1
fi
shift # --user
case "$1" in
  show)
    state="$(cat "$dir/state" 2>/dev/null || echo inactive)"
    pid=0; [ "$state" = active ] && pid=4242
    printf 'LoadState=loaded\nActiveState=%s\nSubState=running\nMainPID=%s\nUnitFileState=enabled\n' "$state" "$pid";;
  start|restart) echo active > "$dir/state";;
  stop) echo inactive > "$dir/state";;
  disable) echo inactive > "$dir/state";;
esac
exit 0
"#;

impl FakeSystemd {
    pub fn new(mode: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for name in ["systemctl", "loginctl"] {
            let p = dir.path().join(name);
            std::fs::write(&p, SCRIPT).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let f = Self { dir };
        f.set_mode(mode);
        f
    }
    pub fn set_mode(&self, mode: &str) {
        std::fs::write(self.dir.path().join("mode"), mode).unwrap();
    }
    /// The calls so far, then forgets them.
    pub fn take_calls(&self) -> Vec<String> {
        let p = self.dir.path().join("calls.log");
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let _ = std::fs::remove_file(&p);
        text.lines().map(str::to_string).collect()
    }
    pub fn env(&self) -> Vec<(String, String)> {
        let p = |n: &str| self.dir.path().join(n).to_string_lossy().into_owned();
        vec![
            ("OPENCLAW_SYSTEMCTL".into(), p("systemctl")),
            ("OPENCLAW_LOGINCTL".into(), p("loginctl")),
            ("OPENCLAW_LAUNCHCTL".into(), "/nonexistent/launchctl".into()),
            ("OPENCLAW_SCHTASKS".into(), "/nonexistent/schtasks".into()),
            ("USER".into(), "tester".into()),
        ]
    }
}

/// Runs the binary in `home` with `env` added, `remove` removed, and no route to the real
/// user systemd or config dir (XDG/DBus variables cleared). Bounded; returns (code, out, err).
pub fn run(
    home: &Home,
    args: &[&str],
    env: &[(String, String)],
    remove: &[&str],
) -> (i32, String, String) {
    run_at(home, home.path(), args, env, remove)
}

/// Like [`run`], with HOME set to `home_path` (several gateways sharing one HOME).
pub fn run_at(
    home: &Home,
    home_path: &Path,
    args: &[&str],
    env: &[(String, String)],
    remove: &[&str],
) -> (i32, String, String) {
    let mut cmd = home.command(args);
    cmd.env("HOME", home_path);
    for k in [
        "XDG_CONFIG_HOME",
        "XDG_RUNTIME_DIR",
        "DBUS_SESSION_BUS_ADDRESS",
    ] {
        cmd.env_remove(k);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_bounded(cmd, Duration::from_secs(60));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !stderr.contains("panicked"),
        "openclaw {args:?} panicked:\n{stderr}"
    );
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// Parses stdout as JSON, with the output in the panic message when it is not.
pub fn json_of(out: &str, err: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}\nstderr:\n{err}"))
}

/// One entry of a tree snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
    Link(PathBuf),
}

/// Every entry under `root` by relative path (symlinks not followed).
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    fn walk(root: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, Node>) {
        let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
            return;
        };
        for e in entries.flatten() {
            let rel = rel.join(e.file_name());
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(
                    rel.clone(),
                    Node::Link(std::fs::read_link(e.path()).unwrap()),
                );
            } else if ft.is_dir() {
                out.insert(rel.clone(), Node::Dir);
                walk(root, &rel, out);
            } else {
                out.insert(rel.clone(), Node::File(std::fs::read(e.path()).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), &mut out);
    out
}

pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}
