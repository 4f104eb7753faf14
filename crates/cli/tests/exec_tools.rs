//! The `exec` and `process` tools through the real binary, driven by a fake model that
//! scripts tool calls: output back to the model, background sessions (`yieldMs`, `process
//! poll/kill`), no child surviving the gateway's exit, `/stop` killing the whole process
//! group, and bad inputs (missing command, huge, binary and non-UTF-8 output) coming back to
//! the model as clear tool errors.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];

async fn start(fake: &FakeOpenAi) -> Gateway {
    let home = Home::new();
    home.write_config(&fake_model_config(&home, &fake.url()));
    std::fs::create_dir_all(home.path().join("ws")).unwrap();
    Gateway::start_in(home, &["gateway", "--port", "0"], &[])
}

fn agent_req(id: &str, message: &str) -> Value {
    json!({"type": "req", "id": id, "method": "agent",
        "params": {"message": message, "idempotencyKey": id}})
}

/// Sends an agent request and waits for its final `res`.
async fn run(raw: &mut Raw, id: &str, message: &str) -> Value {
    raw.send(&agent_req(id, message)).await;
    let mut acked = false;
    loop {
        let f = raw.frame().await;
        if f["type"] == "res" && f["id"] == id {
            if acked {
                return f;
            }
            acked = true;
        }
    }
}

/// The tool result text the model received in request `n` (0-based).
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

fn alive(pid: i32) -> bool {
    // Gone, or a zombie nobody reaped yet, counts as dead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn tool(id: &str, name: &str, args: Value) -> Script {
    Script::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: args,
        pieces: 2,
        then_text: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_output_returns_to_the_model() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::tool_call(
        "c1",
        "exec",
        json!({"command": "echo hello-from-exec; pwd"}),
        "done",
    ));
    let gw = start(&fake).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let fin = run(&mut raw, "r1", "run it").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"], "done",
        "{fin}"
    );
    let result = tool_result(&fake, 1);
    assert!(result.contains("hello-from-exec"), "{result}");
    // It ran in the agent workspace.
    let ws = std::fs::canonicalize(gw.home.path().join("ws")).unwrap();
    assert!(result.contains(&ws.display().to_string()), "{result}");
}

/// `bash` is `exec`'s alias: a model calling it by that name runs the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bash_alias_runs_exec() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::tool_call(
        "b1",
        "bash",
        json!({"command": "echo via-bash-alias"}),
        "done",
    ));
    let gw = start(&fake).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let fin = run(&mut raw, "rb", "run it").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"], "done",
        "{fin}"
    );
    let result = tool_result(&fake, 1);
    assert!(result.contains("via-bash-alias"), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yield_ms_gives_a_session_that_process_polls_and_kills() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::tool_call(
        "c1",
        "exec",
        json!({"command": "echo started-bg; echo $$ > bg.pid; exec sleep 300", "yieldMs": 300}),
        "backgrounded",
    ));
    let gw = start(&fake).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    run(&mut raw, "r1", "start it").await;
    let first = tool_result(&fake, 1);
    assert!(first.contains("still running"), "{first}");
    let session = first
        .split("session ")
        .nth(1)
        .and_then(|s| s.split([',', ' ']).next())
        .unwrap()
        .to_string();
    let pid_file = gw.home.path().join("ws/bg.pid");
    wait_for("the background pid file", || read_pid(&pid_file).is_some()).await;
    let pid = read_pid(&pid_file).unwrap();
    assert!(alive(pid));

    fake.push(Script::tool_call(
        "c2",
        "process",
        json!({"action": "poll", "sessionId": session}),
        "polled",
    ));
    run(&mut raw, "r2", "poll it").await;
    let poll = tool_result(&fake, 3);
    assert!(poll.contains("started-bg"), "{poll}");
    assert!(poll.contains("still running"), "{poll}");

    fake.push(Script::tool_call(
        "c3",
        "process",
        json!({"action": "list"}),
        "listed",
    ));
    run(&mut raw, "r3", "list them").await;
    assert!(tool_result(&fake, 5).contains(&session));

    fake.push(Script::tool_call(
        "c4",
        "process",
        json!({"action": "kill", "sessionId": session}),
        "killed",
    ));
    run(&mut raw, "r4", "kill it").await;
    assert!(tool_result(&fake, 7).contains("Killed session"));
    wait_for("the killed process to be gone", || !alive(pid)).await;

    // An unknown session is a clear error.
    fake.push(Script::tool_call(
        "c5",
        "process",
        json!({"action": "poll", "sessionId": "nope"}),
        "ok",
    ));
    run(&mut raw, "r5", "poll nothing").await;
    assert!(tool_result(&fake, 9).contains("no session nope"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_child_survives_the_gateway_exit() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::tool_call(
        "c1",
        "exec",
        json!({"command": "sleep 300 & echo $! > grandchild.pid; echo $$ > child.pid; wait",
               "background": true}),
        "left running",
    ));
    let mut gw = start(&fake).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    run(&mut raw, "r1", "start it").await;
    let ws = gw.home.path().join("ws");
    wait_for("both pid files", || {
        read_pid(&ws.join("child.pid")).is_some() && read_pid(&ws.join("grandchild.pid")).is_some()
    })
    .await;
    let child = read_pid(&ws.join("child.pid")).unwrap();
    let grandchild = read_pid(&ws.join("grandchild.pid")).unwrap();
    assert!(alive(child) && alive(grandchild));
    drop(raw);
    gw.signal(libc::SIGTERM);
    assert!(
        gw.wait_exit(Duration::from_secs(15)).is_some(),
        "gateway did not exit"
    );
    wait_for("no child after the gateway's exit", || {
        !alive(child) && !alive(grandchild)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_mid_command_kills_the_process_group() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::tool_call(
        "c1",
        "exec",
        json!({"command": "sleep 300 & echo $! > g.pid; echo $$ > c.pid; wait"}),
        "never",
    ));
    let gw = start(&fake).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    raw.send(&agent_req("r1", "run forever")).await;
    let ws = gw.home.path().join("ws");
    wait_for("both pid files", || {
        read_pid(&ws.join("c.pid")).is_some() && read_pid(&ws.join("g.pid")).is_some()
    })
    .await;
    let (c, g) = (
        read_pid(&ws.join("c.pid")).unwrap(),
        read_pid(&ws.join("g.pid")).unwrap(),
    );
    let (mut other, _) = connected(&gw.url(), OP).await;
    let stop = other
        .req(
            "s",
            "chat.send",
            Some(json!({"sessionKey": "main", "message": "/stop", "idempotencyKey": "stop-1"})),
        )
        .await;
    assert_eq!(stop["payload"]["aborted"], true, "{stop}");
    wait_for("the command's group to be killed", || {
        !alive(c) && !alive(g)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_clear_tool_errors() {
    let fake = FakeOpenAi::start().await;
    fake.push(tool("c1", "exec", json!({})));
    fake.push(tool(
        "c2",
        "exec",
        json!({"command": "head -c 300000 /dev/zero | tr '\\0' a"}),
    ));
    fake.push(tool("c3", "exec", json!({"command": "printf 'a\\0b'"})));
    fake.push(tool(
        "c4",
        "exec",
        json!({"command": "printf 'ok\\377\\376'"}),
    ));
    fake.push(tool("c5", "exec", json!({"command": "exit 3"})));
    fake.push(tool(
        "c6",
        "exec",
        json!({"command": "true", "workdir": "/etc"}),
    ));
    fake.push(tool(
        "c7",
        "exec",
        json!({"command": "true", "env": {"LD_PRELOAD": "/x.so"}}),
    ));
    fake.push(Script::text("all done"));
    let gw = start(&fake).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let fin = run(&mut raw, "r1", "try things").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"], "all done",
        "{fin}"
    );
    let results: Vec<String> = (1..=7).map(|n| tool_result(&fake, n)).collect();
    assert!(results[0].contains("command is required"), "{}", results[0]);
    assert!(results[1].contains("[output truncated"), "{}", results[1]);
    assert!(results[1].len() < 120_000, "capped");
    assert!(results[2].contains("binary output"), "{}", results[2]);
    assert!(results[3].contains("not valid UTF-8"), "{}", results[3]);
    assert!(results[4].contains("exited with code 3"), "{}", results[4]);
    assert!(
        results[5].contains("inside the workspace"),
        "{}",
        results[5]
    );
    assert!(results[6].contains("LD_PRELOAD"), "{}", results[6]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pty_gives_the_command_a_terminal() {
    let fake = FakeOpenAi::start().await;
    let probe = "if [ -t 0 ] && [ -t 1 ]; then echo on-a-tty; else echo no-tty; fi";
    fake.push(tool("p1", "exec", json!({"command": probe, "pty": true})));
    fake.push(tool("p2", "exec", json!({"command": probe})));
    fake.push(Script::text("checked"));
    let gw = start(&fake).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    run(&mut raw, "r1", "check the terminal").await;
    let with = tool_result(&fake, 1);
    let without = tool_result(&fake, 2);
    assert!(with.contains("on-a-tty"), "{with}");
    assert!(without.contains("no-tty"), "{without}");
}
