//! First run through the real binary: `setup` (idempotent, `--dev` too), `onboard
//! --non-interactive` (files, the live model test, a wrong key saving nothing, refused flags)
//! and the interactive wizard driven in a pseudo-terminal against the fake OpenAI provider
//! (the live test shows the fake's answer, `openclaw agent` then uses the stored setup, and
//! Ctrl-C at every prompt leaves the config byte-identical).

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

/// Provider env keys the wizard would detect: removed so the tests see a clean machine.
const PROVIDER_VARS: &[&str] = &[
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENROUTER_API_KEY",
    "GROQ_API_KEY",
    "XAI_API_KEY",
];

/// A command for the binary with a clean provider env and Ollama pointed at a closed port.
fn cmd(home: &Home, args: &[&str]) -> Command {
    bin();
    let mut c = home.command(args);
    for v in PROVIDER_VARS {
        c.env_remove(v);
    }
    // Nothing listens on port 9 of loopback: detection fails at once, never a real Ollama.
    c.env("OPENCLAW_OLLAMA_URL", "http://127.0.0.1:9");
    c
}

fn run(home: &Home, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = cmd(home, args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run_bounded(c, Duration::from_secs(60));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn custom_args<'a>(url: &'a str, key: &'a str) -> Vec<&'a str> {
    vec![
        "onboard",
        "--non-interactive",
        "--accept-risk",
        "--auth-choice",
        "custom-api-key",
        "--custom-base-url",
        url,
        "--custom-model-id",
        "m1",
        "--custom-api-key",
        key,
        "--json",
    ]
}

/// Runs `openclaw agent --message <msg>` against a gateway started from the home's config.
fn agent_through_gateway(home: Home, dev: bool, msg: &str) -> (Home, i32, String, String) {
    // Port 0, read back from the listening line: no reserved port to lose in between.
    let mut gw_args = vec!["gateway", "--port", "0"];
    if dev {
        gw_args.insert(0, "--dev");
    }
    let gw = Gateway::start_in(home, &gw_args, &[]);
    let port = gw.port.to_string();
    let mut agent_args = vec!["agent", "--message", msg];
    if dev {
        agent_args.insert(0, "--dev");
    }
    let (code, out, err) = run(&gw.home, &agent_args, &[("OPENCLAW_GATEWAY_PORT", &port)]);
    (gw.into_home(), code, out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_setup_then_gateway_then_agent_and_setup_twice_changes_nothing() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    let (code, out, err) = run(&home, &["--dev", "setup"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let state = home.state_dir();
    let cfg = read_json(&state.join("openclaw.json"));
    assert_eq!(cfg["gateway"]["mode"], "local");
    assert_eq!(cfg["gateway"]["bind"], "loopback");
    assert_eq!(cfg["gateway"]["port"], 19001);
    assert!(cfg["gateway"]["auth"]["token"].as_str().unwrap().len() >= 32);
    let ws = state.join("workspace-dev");
    for f in [
        "AGENTS.md",
        "SOUL.md",
        "TOOLS.md",
        "IDENTITY.md",
        "USER.md",
        "HEARTBEAT.md",
        "BOOTSTRAP.md",
    ] {
        assert!(ws.join(f).is_file(), "{f} seeded");
    }
    assert_eq!(file_mode(state.join("openclaw.json")), 0o600);
    let before = snapshot(&state);
    let (code, out, _) = run(&home, &["--dev", "setup"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("Config OK"), "{out}");
    assert_eq!(snapshot(&state), before, "setup twice changes nothing");

    // A model, then the dev gateway and the dev agent.
    let url = fake.url();
    let mut args = vec!["--dev"];
    args.extend(custom_args(&url, "sk-dev"));
    let (code, out, err) = run(&home, &args, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let (_home, code, out, err) = agent_through_gateway(home, true, "hi");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "echo: hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_interactive_custom_provider_and_the_agent_uses_it() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    let (code, out, err) = run(&home, &custom_args(&fake.url(), "sk-custom"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    let summary: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["ok"], true);
    let port = fake.addr().port();
    let id = format!("custom-127-0-0-1-{port}");
    assert_eq!(summary["model"], format!("{id}/m1"));
    assert!(
        summary["modelTest"]["reply"]
            .as_str()
            .unwrap()
            .starts_with("echo: "),
        "{summary}"
    );
    let cfg = read_json(&home.config_path());
    assert_eq!(
        cfg["agents"]["defaults"]["model"]["primary"],
        format!("{id}/m1")
    );
    let p = &cfg["models"]["providers"][&id];
    assert_eq!(p["baseUrl"], fake.url());
    assert_eq!(p["api"], "openai-completions");
    assert_eq!(p["apiKey"], "sk-custom");
    assert_eq!(p["models"][0]["id"], "m1");
    assert_eq!(fake.request_count(), 1, "one live request");
    let (_home, code, out, err) = agent_through_gateway(home, false, "hi");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "echo: hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_key_is_stored_in_auth_profiles_and_runs_use_it() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    // The built-in `openai` provider pointed at the fake (no key in the config).
    home.write_config(&json!({
        "gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN}},
        "models": {"providers": {"openai": {"baseUrl": fake.url()}}}
    }));
    let (code, out, err) = run(
        &home,
        &[
            "onboard",
            "--non-interactive",
            "--accept-risk",
            "--auth-choice",
            "openai-api-key",
            "--openai-api-key",
            "sk-onboarded",
            "--skip-channels",
            "--skip-daemon",
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    let store_path = home
        .state_dir()
        .join("agents/main/agent/auth-profiles.json");
    assert_eq!(file_mode(&store_path), 0o600);
    let store = read_json(&store_path);
    assert_eq!(
        store["profiles"]["openai:default"],
        json!({"type": "api_key", "provider": "openai", "key": "sk-onboarded"})
    );
    let raw_cfg = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(
        !raw_cfg.contains("sk-onboarded"),
        "the key is not in the config"
    );
    let cfg = read_json(&home.config_path());
    assert_eq!(
        cfg["auth"]["profiles"]["openai:default"],
        json!({"provider": "openai", "mode": "api_key"})
    );
    assert_eq!(cfg["gateway"]["auth"]["token"], TOKEN, "the token is kept");
    let (_home, code, out, err) = agent_through_gateway(home, false, "hello");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "echo: hello");
    let rec = fake.recorded();
    assert_eq!(rec.len(), 2);
    for r in rec {
        assert_eq!(r.header("authorization"), Some("Bearer sk-onboarded"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_reports_the_provider_message_and_saves_nothing() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::HttpError {
        status: 401,
        message:
            "Incorrect API key provided: sk-wrong. You can find your API key at the dashboard."
                .into(),
    });
    let home = Home::new();
    home.write_config(
        &json!({"gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN}}}),
    );
    let before = snapshot(home.path());
    let (code, out, err) = run(&home, &custom_args(&fake.url(), "sk-wrong"), &[]);
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("Incorrect API key provided"), "{msg}");
    assert!(msg.contains("Nothing was saved"), "{msg}");
    assert_eq!(snapshot(home.path()), before, "nothing written");
}

#[test]
fn unsupported_flags_are_refused_by_name() {
    let home = Home::new();
    let (code, _, err) = run(&home, &["onboard", "--gemini-api-key", "x"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--gemini-api-key") && err.contains("does not support"),
        "{err}"
    );
    let (code, _, err) = run(
        &home,
        &["onboard", "--non-interactive", "--auth-choice", "skip"],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("--accept-risk"), "{err}");
    let (code, _, err) = run(
        &home,
        &[
            "onboard",
            "--non-interactive",
            "--accept-risk",
            "--auth-choice",
            "gemini-api-key",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("not supported") && err.contains("custom-api-key"),
        "{err}"
    );
    let (code, _, err) = run(&home, &["onboard", "--mode", "remote"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("remote"), "{err}");
    let (code, _, err) = run(
        &home,
        &["--profile", "p1", "setup", "--tailscale", "serve"],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--tailscale") && err.contains("does not support"),
        "{err}"
    );
    let (code, _, err) = run(&home, &["health", "--tailscale"], &[]);
    assert_eq!(code, 2);
    assert!(!err.contains("onboarding flag"), "{err}");
    let (code, _, err) = run(&home, &["onboard", "--no-such-flag"], &[]);
    assert_eq!(code, 2, "{err}");
    // Without a terminal the interactive wizard says how to script it.
    let (code, _, err) = run(&home, &["onboard"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--non-interactive"), "{err}");
    assert!(!home.config_path().exists());
}

// ---- the interactive wizard in a pseudo-terminal ----

/// A child on a pseudo-terminal (its controlling terminal), with everything it printed.
struct Pty {
    master: std::fs::File,
    child: Child,
    out: Arc<Mutex<String>>,
    seen: usize,
}

impl Pty {
    fn spawn(mut c: Command) -> Pty {
        let (mut m, mut s) = (0, 0);
        let ws = libc::winsize {
            ws_row: 50,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let rc =
            unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
        assert_eq!(rc, 0, "openpty");
        let slave = unsafe { OwnedFd::from_raw_fd(s) };
        c.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()))
            .env("TERM", "xterm")
            .env_remove("NO_COLOR");
        unsafe {
            c.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY as _, 0);
                Ok(())
            });
        }
        let child = c.spawn().unwrap();
        drop(slave);
        let master = unsafe { std::fs::File::from_raw_fd(m) };
        let mut reader = master.try_clone().unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Pty {
            master,
            child,
            out,
            seen: 0,
        }
    }

    /// Waits (bounded) until `pat` appears after what was already matched.
    fn expect(&mut self, pat: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            {
                let out = self.out.lock().unwrap();
                if let Some(i) = out[self.seen..].find(pat) {
                    self.seen += i + pat.len();
                    return;
                }
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "{pat:?} never appeared; output:\n{}",
                    self.out.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("wizard did not exit; output:\n{}", self.out.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

const DOWN: &str = "\x1b[B";

/// The prompts of the OpenAI-compatible path, each with the keys that answer it.
fn custom_path(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Continue?", "\r".into()),
        (
            "Which model should answer?",
            format!("{}\r", DOWN.repeat(6)),
        ),
        ("Base URL of the OpenAI-compatible API", format!("{url}\r")),
        ("Which API does it speak?", "\r".into()),
        ("API key (leave empty", "sk-tty\r".into()),
        ("Model id", "m1\r".into()),
        ("How do clients prove", "\r".into()),
        ("Connect a chat app now?", "\r".into()),
        ("Install the gateway as a per-user service", "\r".into()),
        ("Save?", "\r".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_wizard_in_a_terminal_then_the_agent_answers() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::text("Hello from the fake model!"));
    let home = Home::new();
    let mut pty = Pty::spawn(cmd(&home, &["onboard"]));
    for (i, (prompt, keys)) in custom_path(&fake.url()).into_iter().enumerate() {
        pty.expect(prompt);
        pty.send(&keys);
        if i == 5 {
            pty.expect("answered: Hello from the fake model!");
        }
    }
    pty.expect("Saved");
    assert_eq!(pty.wait(), 0, "{}", pty.out.lock().unwrap());
    let cfg = read_json(&home.config_path());
    let id = format!("custom-127-0-0-1-{}", fake.addr().port());
    assert_eq!(
        cfg["agents"]["defaults"]["model"]["primary"],
        format!("{id}/m1")
    );
    assert_eq!(cfg["models"]["providers"][&id]["apiKey"], "sk-tty");
    assert!(home.state_dir().join("workspace/AGENTS.md").is_file());

    // The scripted setup writes the same files.
    let scripted = Home::new();
    let (code, out, err) = run(&scripted, &custom_args(&fake.url(), "sk-tty"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    let mut a = cfg.clone();
    let mut b = read_json(&scripted.config_path());
    for v in [&mut a, &mut b] {
        v["gateway"]["auth"]["token"] = json!("<token>");
        v["agents"]["defaults"]["workspace"] = json!("<ws>");
    }
    assert_eq!(
        a, b,
        "interactive and --non-interactive write the same config"
    );
    let names = |h: &Home| -> Vec<PathBuf> {
        snapshot(&h.state_dir())
            .into_keys()
            .map(|p| p.strip_prefix(h.state_dir()).unwrap().to_path_buf())
            .collect()
    };
    assert_eq!(names(&home), names(&scripted));

    let (_home, code, out, err) = agent_through_gateway(home, false, "hi");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "echo: hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_at_every_prompt_leaves_the_config_byte_identical() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&json!({
        "gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN}},
        "agents": {"defaults": {"workspace": home.path().join("ws")}}
    }));
    let before = snapshot(home.path());
    let path = custom_path(&fake.url());
    for stop in 0..path.len() {
        let mut pty = Pty::spawn(cmd(&home, &["onboard"]));
        for (prompt, keys) in &path[..stop] {
            pty.expect(prompt);
            pty.send(keys);
        }
        pty.expect(path[stop].0);
        pty.send("\x03");
        let code = pty.wait();
        assert_ne!(code, 0, "interrupted at {:?}", path[stop].0);
        assert_eq!(
            snapshot(home.path()),
            before,
            "Ctrl-C at {:?} changed files",
            path[stop].0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_ollama_is_detected_and_used() {
    // The fake serves Ollama's `/api/tags` and the OpenAI API under `/v1`, as Ollama does.
    let fake = FakeOpenAi::start().await;
    let ollama = format!("http://{}", fake.addr());
    let home = Home::new();
    let (code, out, err) = run(
        &home,
        &[
            "onboard",
            "--non-interactive",
            "--accept-risk",
            "--auth-choice",
            "ollama",
            "--json",
        ],
        &[("OPENCLAW_OLLAMA_URL", &ollama)],
    );
    assert_eq!(code, 0, "{out}{err}");
    let cfg = read_json(&home.config_path());
    let model_ref = format!("ollama/{}", openclaw_testkit::FAKE_OLLAMA_MODEL);
    assert_eq!(cfg["agents"]["defaults"]["model"]["primary"], model_ref);
    assert_eq!(
        cfg["models"]["providers"]["ollama"]["baseUrl"],
        format!("{ollama}/v1")
    );
    let (_home, code, out, err) = agent_through_gateway(home, false, "hi");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "echo: hi");

    // No Ollama: a clear error, nothing written.
    let home = Home::new();
    let (code, out, _) = run(
        &home,
        &[
            "onboard",
            "--non-interactive",
            "--accept-risk",
            "--auth-choice",
            "ollama",
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("Ollama is not reachable at http://127.0.0.1:9"),
        "{out}"
    );
    assert!(!home.config_path().exists());
}

#[test]
fn configure_reruns_one_section() {
    let home = Home::new();
    home.write_config(
        &json!({"gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN}}}),
    );
    let (code, _, err) = run(&home, &["configure", "--section", "plugins"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("model, gateway and channels"), "{err}");
    let mut pty = Pty::spawn(cmd(&home, &["configure", "--section", "gateway"]));
    pty.expect("How do clients prove");
    pty.send(&format!("{DOWN}\r"));
    pty.expect("Password clients must present");
    pty.send("correct horse battery\r");
    pty.expect("Save?");
    pty.send("\r");
    pty.expect("Saved");
    assert_eq!(pty.wait(), 0, "{}", pty.out.lock().unwrap());
    let cfg = read_json(&home.config_path());
    assert_eq!(cfg["gateway"]["auth"]["mode"], "password");
    assert_eq!(cfg["gateway"]["auth"]["password"], "correct horse battery");
    assert!(cfg.get("models").is_none(), "other sections untouched");
}
