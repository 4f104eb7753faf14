//! `openclaw node run` / `openclaw node status`: our headless node host as a user runs it,
//! against our own gateway on loopback — connect as a node, survive a gateway restart, get
//! approved, answer `system.which` and refuse a `system.run` that the exec approvals do not
//! allow (and run nothing).

mod common;

use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use openclaw_client::{ConnectOptions, GatewayClient};
use serde_json::{Value, json};

/// A running `openclaw node run`, with its output lines collected.
struct NodeHost {
    child: Child,
    home: Home,
    lines: Arc<Mutex<Vec<String>>>,
}

impl NodeHost {
    /// Starts the node host in its own HOME/state dir, authenticating with the gateway token
    /// from the environment (as a user on another machine would).
    fn start(port: u16) -> NodeHost {
        bin();
        let home = Home::new();
        std::fs::create_dir_all(home.state_dir()).unwrap();
        let port = port.to_string();
        let mut cmd = home.command(&[
            "node",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--display-name",
            "test-node",
        ]);
        cmd.env("OPENCLAW_GATEWAY_TOKEN", TOKEN)
            .env("OPENCLAW_TEST_NODE_BACKOFF_MS", "300")
            .stdin(Stdio::null());
        let (child, lines) = spawn_captured(&mut cmd);
        NodeHost { child, home, lines }
    }

    fn count(&self, pat: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(pat))
            .count()
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn wait_lines(&self, pat: &str, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.count(pat) < n {
            assert!(
                std::time::Instant::now() < deadline,
                "node host never printed {pat:?} {n} time(s); output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NodeHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_gateway_on(port: u16, home: Home) -> Gateway {
    let port = port.to_string();
    Gateway::start_in(home, &["gateway", "--port", &port], &[])
}

fn token_home() -> Home {
    bin();
    let home = Home::new();
    home.write_config(&token_config(&home));
    home
}

async fn operator(url: &str) -> GatewayClient {
    let opts = ConnectOptions {
        token: Some(TOKEN.to_string()),
        scopes: [
            "operator.admin",
            "operator.read",
            "operator.write",
            "operator.approvals",
            "operator.pairing",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        ..ConnectOptions::new(url)
    };
    GatewayClient::connect(opts)
        .await
        .expect("operator connects")
        .0
}

#[test]
fn node_host_connects_reports_status_and_reconnects_after_a_gateway_restart() {
    let reserved = reserve_port();
    let port = reserved.port();
    let gw = start_gateway_on(port, token_home());
    let node = NodeHost::start(port);
    node.wait_lines(
        &format!("node host gateway connected: ws://127.0.0.1:{port}"),
        1,
    );

    // `node status` in the node's state dir: running, its pid, the gateway it targets.
    let (code, out, err) = run_cli(&node.home, &["node", "status", "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["running"], true, "{out}");
    assert_eq!(status["pid"], node.child.id());
    assert_eq!(status["gateway"], format!("ws://127.0.0.1:{port}"));
    assert_eq!(status["displayName"], "test-node");
    assert!(
        status["deviceId"].as_str().is_some_and(|d| d.len() == 64),
        "{out}"
    );
    let (code, text, _) = run_cli(&node.home, &["node", "status"], &[]);
    assert_eq!(code, 0);
    assert!(text.contains("Node host: running"), "{text}");

    // The gateway goes away: the node logs the close once and keeps trying, without a storm.
    let home = gw.into_home();
    node.wait_lines("node host gateway closed (", 1);
    node.wait_lines("node host gateway connect failed", 2);
    // Back on the same port: the node reconnects by itself.
    let _gw = start_gateway_on(port, home);
    node.wait_lines("node host gateway connected", 2);
    drop(reserved);
}

/// A loopback TCP proxy that adds `X-Forwarded-For: <client>` to each upgrade request, so the
/// gateway (trusting 127.0.0.1 as a proxy) sees a remote client; nothing leaves loopback.
async fn forwarding_proxy(gateway_port: u16, client: &'static str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                    if inbound.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let (line, rest) = text.split_once("\r\n").unwrap();
                let head = format!("{line}\r\nX-Forwarded-For: {client}\r\n{rest}");
                let Ok(mut outbound) =
                    tokio::net::TcpStream::connect(("127.0.0.1", gateway_port)).await
                else {
                    return;
                };
                if outbound.write_all(head.as_bytes()).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    port
}

/// A node on another machine: its device is not paired, so the gateway says NOT_PAIRED; the
/// node prints the request id with the approve commands, keeps retrying, and gets in once an
/// operator approves — without a restart.
#[tokio::test]
async fn a_remote_node_prints_the_pairing_hint_and_connects_once_approved() {
    let gw = tokio::task::spawn_blocking(|| {
        bin();
        proxied_gateway(json!({}), &[])
    })
    .await
    .unwrap();
    let port = forwarding_proxy(gw.port, "203.0.113.7").await;
    let node = NodeHost::start(port);
    let hint = "pairing required (request ";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let line = loop {
        let found = node
            .lines
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|l| l.contains(hint))
            .cloned();
        if let Some(l) = found {
            break l;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pairing hint; node output:\n{}",
            node.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let rest = &line[line.find(hint).unwrap() + hint.len()..];
    let request_id = rest.split(')').next().unwrap().to_string();
    assert!(
        line.contains(&format!("`openclaw devices approve {request_id}`"))
            && line.contains(&format!("`openclaw nodes approve {request_id}`")),
        "{line}"
    );
    assert_eq!(node.count("node host gateway connected"), 0);

    let op = operator(&gw.url()).await;
    op.request(
        "device.pair.approve",
        Some(json!({"requestId": request_id})),
        Duration::from_secs(10),
    )
    .await
    .expect("approve the node's device");
    tokio::task::spawn_blocking(move || {
        node.wait_lines(
            &format!("node host gateway connected: ws://127.0.0.1:{port}"),
            1,
        );
        // The gateway issued a device token on that hello; the node keeps it (0600).
        let auth = node
            .home
            .state_dir()
            .join("identity")
            .join("device-auth.json");
        let stored: Value = serde_json::from_slice(&std::fs::read(&auth).unwrap()).unwrap();
        assert!(
            stored["tokens"]["node"]["token"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
    })
    .await
    .unwrap();
    op.close().await;
}

#[test]
fn node_status_without_a_node_host() {
    let home = Home::new();
    let (code, out, err) = run_cli(&home, &["node", "status", "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["running"], false);
    assert_eq!(status["nodeConfigExists"], false);
    assert_eq!(status["execApprovalsExists"], false);
    assert!(status.get("deviceId").is_none());
}

/// Our node host through our gateway: pending → approve → `node.list` → `node.invoke`.
#[tokio::test]
async fn node_host_is_approved_and_answers_invokes_through_the_gateway() {
    let gw = tokio::task::spawn_blocking(|| {
        let home = token_home();
        Gateway::start_in(home, &["gateway", "--port", "0"], &[])
    })
    .await
    .unwrap();
    let node = NodeHost::start(gw.port);
    let op = operator(&gw.url()).await;

    // The node's command surface waits for an operator: approve its request.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let request_id = loop {
        if let Some(id) = node_pending(&op).await {
            break id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pending request for the node; node output:\n{}",
            node.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    op.request(
        "node.pair.approve",
        Some(json!({"requestId": request_id})),
        Duration::from_secs(10),
    )
    .await
    .expect("approve");

    // Connected, paired, with the commands we implement.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let node_id = loop {
        let list = op
            .request("node.list", Some(json!({})), Duration::from_secs(10))
            .await
            .unwrap();
        let found = list["nodes"].as_array().and_then(|nodes| {
            nodes
                .iter()
                .find(|n| n["displayName"] == "test-node" && n["connected"] == true)
                .cloned()
        });
        if let Some(n) = found {
            let commands = n["commands"].as_array().cloned().unwrap_or_default();
            if commands.iter().any(|c| c == "system.which") {
                assert_eq!(n["paired"], true, "{n}");
                assert!(commands.iter().any(|c| c == "system.run"), "{n}");
                break n["nodeId"].as_str().unwrap().to_string();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node never listed as connected with its commands: {list}\nnode output:\n{}",
            node.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let which = op
        .request(
            "node.invoke",
            Some(json!({"nodeId": node_id, "command": "system.which",
                "params": {"bins": ["sh", "surely-not-a-real-binary-xyz"]},
                "idempotencyKey": "which-1"})),
            Duration::from_secs(20),
        )
        .await
        .expect("system.which");
    let sh = which["payload"]["bins"]["sh"].as_str().unwrap_or_default();
    assert!(sh.starts_with('/') && sh.ends_with("/sh"), "{which}");
    assert!(
        which["payload"]["bins"]
            .get("surely-not-a-real-binary-xyz")
            .is_none()
    );

    // Not in the (absent, so empty) approvals allowlist: refused, and nothing ran.
    let marker = node.home.path().join("ran");
    let run = op
        .request(
            "node.invoke",
            Some(json!({"nodeId": node_id, "command": "system.run",
                "params": {"command": ["touch", marker.to_str().unwrap()]},
                "idempotencyKey": "run-1"})),
            Duration::from_secs(20),
        )
        .await;
    let err = run.expect_err("system.run must be refused");
    let shape = err.error_shape().expect("protocol error").clone();
    let text = serde_json::to_string(&shape).unwrap();
    assert!(text.contains("SYSTEM_RUN_DENIED"), "{text}");
    assert!(!marker.exists(), "the refused command ran");

    // The node's owner allowlists `sleep`: a slow run does not hold up other invokes.
    let sleep = which_path(&op, &node_id, "sleep").await;
    std::fs::write(
        node.home.state_dir().join("exec-approvals.json"),
        json!({"version": 1, "agents": {"*": {"allowlist": [sleep]}}}).to_string(),
    )
    .unwrap();
    let done = {
        let run = op.request(
            "node.invoke",
            Some(json!({"nodeId": node_id, "command": "system.run",
                "params": {"command": ["sleep", "3"]}, "idempotencyKey": "run-2"})),
            Duration::from_secs(30),
        );
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => panic!("the slow run finished before a which sent after it: {r:?}"),
            sh = which_path(&op, &node_id, "sh") => assert!(sh.starts_with('/'), "{sh}"),
        }
        run.await.expect("allowlisted run")
    };
    assert_eq!(done["payload"]["success"], true, "{done}");
    assert_eq!(done["payload"]["exitCode"], 0, "{done}");
    op.close().await;
}

/// The node's `system.which` answer for one name, made canonical (what the allowlist sees).
async fn which_path(op: &GatewayClient, node_id: &str, bin: &str) -> String {
    let r = op
        .request(
            "node.invoke",
            Some(json!({"nodeId": node_id, "command": "system.which",
                "params": {"bins": [bin]}, "idempotencyKey": format!("which-{bin}")})),
            Duration::from_secs(20),
        )
        .await
        .expect("system.which");
    let found = r["payload"]["bins"][bin]
        .as_str()
        .expect("found")
        .to_string();
    std::fs::canonicalize(&found)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The pending node request for our node (display name `test-node`), if any.
async fn node_pending(op: &GatewayClient) -> Option<String> {
    let list = op
        .request("node.pair.list", Some(json!({})), Duration::from_secs(10))
        .await
        .ok()?;
    list["pending"]
        .as_array()?
        .iter()
        .find(|r| r["displayName"] == "test-node")
        .and_then(|r| r["requestId"].as_str())
        .map(str::to_string)
}
