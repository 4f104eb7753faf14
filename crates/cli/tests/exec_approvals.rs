//! Exec approvals on the gateway host through the real binary: with `security: allowlist,
//! ask: on-miss`, a run watched by an operator client that can answer raises
//! `exec.approval.requested`; `allow-once` runs once, `deny` and the timeout refuse,
//! `allow-always` persists across a restart; a headless run is refused at once with the
//! fallback explanation and runs after `openclaw approvals allowlist add`; a restricted agent
//! is refused without asking; the RPCs' shapes and bad inputs.

mod common;

use std::path::PathBuf;

use common::*;
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

/// What the watching operator declares: it can answer exec approvals.
const APPROVER: &[&str] = &[
    "operator.admin",
    "operator.read",
    "operator.write",
    "operator.approvals",
];

fn config(home: &Home, fake: &FakeOpenAi, exec: Value) -> Value {
    let mut cfg = fake_model_config(home, &fake.url());
    cfg["tools"] = json!({"exec": exec});
    cfg
}

fn start_env(home: Home) -> Gateway {
    std::fs::create_dir_all(home.path().join("ws")).unwrap();
    Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("OPENCLAW_EXEC_APPROVAL_TIMEOUT_MS", "4000")],
    )
}

async fn approver(gw: &Gateway) -> Raw {
    let (mut raw, _) = Raw::open(&gw.url()).await;
    let mut p = connect_params(Some(TOKEN), APPROVER);
    p["caps"] = json!(["exec-approvals"]);
    raw.send(&connect_frame("c", p)).await;
    assert_eq!(raw.res("c").await["ok"], true);
    raw
}

fn agent_req(id: &str, message: &str) -> Value {
    json!({"type": "req", "id": id, "method": "agent",
        "params": {"message": message, "idempotencyKey": id}})
}

/// The tool result text of the model's request `n`.
fn tool_result(fake: &FakeOpenAi, n: usize) -> String {
    let req = &fake.requests()[n];
    req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .map(|m| m["content"].to_string())
        .unwrap_or_else(|| panic!("no tool message in request {n}: {req}"))
}

/// Runs `command` via the model on `runner`, answering the approval on `watcher` with
/// `decision` (`None`: no answer). Returns the tool result the model got.
async fn exec_with_answer(
    fake: &FakeOpenAi,
    runner: &mut Raw,
    watcher: &mut Raw,
    id: &str,
    command: &str,
    decision: Option<&str>,
) -> String {
    let before = fake.requests().len();
    fake.push(Script::tool_call(
        format!("call-{id}"),
        "exec",
        json!({"command": command}),
        "ok",
    ));
    runner.send(&agent_req(id, "please run")).await;
    let ev = watcher.event("exec.approval.requested").await;
    let approval = ev["payload"]["id"].as_str().unwrap().to_string();
    assert_eq!(ev["payload"]["request"]["command"], command, "{ev}");
    assert_eq!(ev["payload"]["request"]["host"], "gateway");
    let list = watcher.call("exec.approval.list", json!({})).await;
    assert!(
        list["payload"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == approval.as_str()),
        "{list}"
    );
    if let Some(d) = decision {
        let r = watcher
            .call(
                "exec.approval.resolve",
                json!({"id": approval, "decision": d}),
            )
            .await;
        assert_eq!(r["ok"], true, "{r}");
        let resolved = watcher.event("exec.approval.resolved").await;
        assert_eq!(resolved["payload"]["decision"], d);
    }
    // The run's final answer.
    let mut acked = false;
    loop {
        let f = runner.frame().await;
        if f["type"] == "res" && f["id"] == id {
            if acked {
                break;
            }
            acked = true;
        }
    }
    tool_result(fake, before + 1)
}

/// The real path of the `printf` program on PATH (what an allowlist pattern must name).
fn printf_real() -> PathBuf {
    for dir in std::env::var("PATH").unwrap().split(':') {
        let c = PathBuf::from(dir).join("printf");
        if c.is_file() {
            return std::fs::canonicalize(c).unwrap();
        }
    }
    panic!("no printf on PATH");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_run_asks_and_honours_each_decision() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(
        &home,
        &fake,
        json!({"security": "allowlist", "ask": "on-miss"}),
    ));
    let gw = start_env(home);
    let mut watcher = approver(&gw).await;
    let (mut runner, _) = connected(&gw.url(), &["operator.admin"]).await;

    let out = exec_with_answer(
        &fake,
        &mut runner,
        &mut watcher,
        "once",
        "printf allowed-once",
        Some("allow-once"),
    )
    .await;
    assert!(out.contains("allowed-once"), "{out}");

    let out = exec_with_answer(
        &fake,
        &mut runner,
        &mut watcher,
        "deny",
        "printf denied-run",
        Some("deny"),
    )
    .await;
    assert!(out.contains("user-denied"), "{out}");
    assert!(
        !out.contains("denied-run\\n") && out.contains("Exec denied"),
        "{out}"
    );

    // Nobody answers: the timeout refuses (askFallback deny).
    let out = exec_with_answer(
        &fake,
        &mut runner,
        &mut watcher,
        "timeout",
        "printf timed-out-run",
        None,
    )
    .await;
    assert!(out.contains("approval-timeout"), "{out}");

    // Answered once: a second answer is refused, an unknown id too.
    let r = watcher
        .call(
            "exec.approval.resolve",
            json!({"id": "no-such-id", "decision": "deny"}),
        )
        .await;
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");
    let r = watcher
        .call(
            "exec.approval.resolve",
            json!({"id": "x", "decision": "maybe"}),
        )
        .await;
    assert_eq!(r["error"]["message"], "invalid decision", "{r}");
    let r = watcher
        .call("exec.approval.resolve", json!({"id": "x"}))
        .await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("decision"),
        "{r}"
    );

    // allow-always runs it and adds it to the allowlist.
    let out = exec_with_answer(
        &fake,
        &mut runner,
        &mut watcher,
        "always",
        "printf always-ok",
        Some("allow-always"),
    )
    .await;
    assert!(out.contains("always-ok"), "{out}");
    let file = std::fs::read_to_string(gw.home.state_dir().join("exec-approvals.json")).unwrap();
    assert!(file.contains("allow-always"), "{file}");
    assert_eq!(
        file_mode(gw.home.state_dir().join("exec-approvals.json")) & 0o777,
        0o600
    );

    // After a restart the same command runs without asking (the watcher would see a request
    // and the run would end refused by the timeout otherwise).
    drop(watcher);
    drop(runner);
    let home = gw.into_home();
    let gw = start_env(home);
    let _watcher = approver(&gw).await;
    let (mut runner, _) = connected(&gw.url(), &["operator.admin"]).await;
    let before = fake.requests().len();
    fake.push(Script::tool_call(
        "again",
        "exec",
        json!({"command": "printf always-ok"}),
        "ok",
    ));
    let fin = runner
        .req(
            "again",
            "agent",
            Some(json!({"message": "again", "idempotencyKey": "again"})),
        )
        .await;
    assert_eq!(fin["ok"], true);
    let mut done = false;
    while !done {
        let f = runner.frame().await;
        done = f["type"] == "res" && f["id"] == "again";
    }
    let out = tool_result(&fake, before + 1);
    assert!(
        out.contains("always-ok") && !out.contains("denied"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_run_is_refused_at_once_then_runs_after_allowlist_add() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(
        &home,
        &fake,
        json!({"security": "allowlist", "ask": "on-miss"}),
    ));
    let gw = start_env(home);
    let env = [("OPENCLAW_GATEWAY_PORT", gw.port.to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    fake.push(Script::tool_call(
        "h1",
        "exec",
        json!({"command": "printf headless-ok"}),
        "refused",
    ));
    let started = std::time::Instant::now();
    let (code, _, err) = run_cli(&gw.home, &["agent", "--message", "run it"], &env);
    assert_eq!(code, 0, "{err}");
    // Refused at once: well before the approval timeout (4 s).
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    let out = tool_result(&fake, 1);
    assert!(
        out.contains("Headless runs cannot wait for interactive exec approval"),
        "{out}"
    );
    assert!(out.contains("askFallback=deny"), "{out}");

    let binary = printf_real();
    let (code, stdout, err) = run_cli(
        &gw.home,
        &[
            "approvals",
            "allowlist",
            "add",
            "--agent",
            "main",
            "--gateway",
            binary.to_str().unwrap(),
            "--json",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let snap: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        snap["file"]["agents"]["main"]["allowlist"][0]["pattern"],
        binary.to_str().unwrap(),
        "{snap}"
    );

    fake.push(Script::tool_call(
        "h2",
        "exec",
        json!({"command": "printf headless-ok"}),
        "ran",
    ));
    let (code, _, err) = run_cli(&gw.home, &["agent", "--message", "again"], &env);
    assert_eq!(code, 0, "{err}");
    let out = tool_result(&fake, 3);
    assert!(
        out.contains("headless-ok") && !out.contains("denied"),
        "{out}"
    );

    // `get --json` shows the reference's shape; `remove` takes it away again.
    let (code, stdout, _) = run_cli(&gw.home, &["approvals", "get", "--gateway", "--json"], &env);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    for key in [
        "path",
        "exists",
        "hash",
        "file",
        "resolvedDefaults",
        "effectivePolicy",
    ] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    assert_eq!(v["resolvedDefaults"]["security"], "full");
    let (code, stdout, _) = run_cli(
        &gw.home,
        &[
            "approvals",
            "allowlist",
            "remove",
            "--agent",
            "main",
            "--gateway",
            binary.to_str().unwrap(),
            "--json",
        ],
        &env,
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["file"]["agents"].get("main").is_none(), "{v}");
    let (code, stdout, _) = run_cli(&gw.home, &["approvals", "pending", "--json"], &env);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap(),
        json!({"approvals": []})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_agent_is_refused_without_asking() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    let mut cfg = config(&home, &fake, json!({"ask": "always"}));
    cfg["agents"]["list"] = json!([{"id": "main", "default": true,
        "tools": {"exec": {"security": "deny"}}}]);
    home.write_config(&cfg);
    let gw = start_env(home);
    let mut watcher = approver(&gw).await;
    fake.push(Script::tool_call(
        "r1",
        "exec",
        json!({"command": "printf nope"}),
        "refused",
    ));
    let fin = watcher
        .req(
            "a",
            "agent",
            Some(json!({"message": "run", "idempotencyKey": "a"})),
        )
        .await;
    assert_eq!(fin["ok"], true);
    // Every frame up to the final answer: no approval was requested.
    loop {
        let f = watcher.frame().await;
        assert_ne!(f["event"], "exec.approval.requested", "{f}");
        if f["type"] == "res" && f["id"] == "a" {
            break;
        }
    }
    let out = tool_result(&fake, 1);
    assert!(out.contains("security=deny"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_file_rpcs_compare_and_swap() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&config(&home, &fake, json!({})));
    let gw = start_env(home);
    let (mut raw, _) = connected(&gw.url(), &["operator.admin"]).await;
    let got = raw.call("exec.approvals.get", json!({})).await;
    assert_eq!(got["ok"], true, "{got}");
    let fixture: Value = serde_json::from_str(&fixture("exec.approvals.get.json")).unwrap();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&got["payload"]), keys(&fixture));
    assert_eq!(
        got["payload"]["resolvedDefaults"],
        fixture["resolvedDefaults"]
    );
    assert_eq!(got["payload"]["exists"], false);
    let hash = got["payload"]["hash"].as_str().unwrap().to_string();
    let file =
        json!({"version": 1, "agents": {"*": {"allowlist": [{"pattern": "/usr/bin/true"}]}}});
    let set = raw
        .call(
            "exec.approvals.set",
            json!({"file": file, "baseHash": hash}),
        )
        .await;
    assert_eq!(set["ok"], true, "{set}");
    // The old hash is stale now.
    let stale = raw
        .call(
            "exec.approvals.set",
            json!({"file": file, "baseHash": hash}),
        )
        .await;
    assert_eq!(stale["ok"], false);
    assert!(
        stale["error"]["message"]
            .as_str()
            .unwrap()
            .contains("changed"),
        "{stale}"
    );
    let bad = raw
        .call(
            "exec.approvals.set",
            json!({"file": {"version": 1, "defaults": {"security": "bogus"}}}),
        )
        .await;
    assert_eq!(bad["error"]["code"], "INVALID_REQUEST");
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("defaults.security"),
        "{bad}"
    );
    let missing = raw.call("exec.approvals.set", json!({})).await;
    assert_eq!(missing["error"]["code"], "INVALID_REQUEST");
    let wait = raw
        .call("exec.approval.waitDecision", json!({"id": "none"}))
        .await;
    assert_eq!(wait["error"]["code"], "INVALID_REQUEST");
    // Only operators with approvals (or admin) see the queue.
    let (mut reader, _) = connected(&gw.url(), &["operator.read"]).await;
    let r = reader.call("exec.approval.list", json!({})).await;
    assert_eq!(r["ok"], false);
}
