//! `openclaw nodes …` against the real gateway with a node speaking the wire protocol: its
//! pairing request shows in `nodes pending --json` (an array, as the reference prints it),
//! `nodes approve` admits its commands, `nodes status --json` shows it connected and paired,
//! `--node` finds it by id prefix, name or IP, and `nodes invoke` reaches it and prints the
//! `node.invoke` result.

mod common;

use std::time::Duration;

use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

const NODE_NAME: &str = "Build Box";

fn device_id(key: &SigningKey) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        key.verifying_key().to_bytes(),
    ))
}

/// A headless node's `connect` (role `node`, `system.which` declared), signed with `key`
/// over the challenge (v2 payload), from loopback.
async fn node_connect(url: &str, key: &SigningKey) -> (Raw, Value) {
    use base64::Engine;
    let (mut raw, ch) = Raw::open(url).await;
    let nonce = ch["payload"]["nonce"].as_str().unwrap().to_string();
    let id = device_id(key);
    let at = now_ms();
    let payload = format!("v2|{id}|node-host|node|node||{at}|{TOKEN}|{nonce}");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let sig = ed25519_dalek::Signer::sign(key, payload.as_bytes()).to_bytes();
    let params = json!({
        "minProtocol": 3, "maxProtocol": 4,
        "client": {"id": "node-host", "displayName": NODE_NAME, "version": "2026.9.6",
                   "platform": "linux", "deviceFamily": "Linux", "mode": "node"},
        "role": "node", "scopes": [], "caps": ["system"], "commands": ["system.which"],
        "permissions": {}, "pathEnv": "/usr/bin:/bin",
        "auth": {"token": TOKEN},
        "device": {"id": id, "publicKey": b64.encode(key.verifying_key().to_bytes()),
                   "signature": b64.encode(sig), "signedAt": at, "nonce": nonce},
    });
    raw.send(&connect_frame("c", params)).await;
    let res = raw.res("c").await;
    (raw, res)
}

/// Runs `openclaw nodes <args>` against the gateway on `port` (blocking: the node is not
/// served meanwhile).
fn nodes(home: &Home, port: &str, args: &[&str]) -> (i32, String, String) {
    let mut full = vec!["nodes"];
    full.extend_from_slice(args);
    run_cli(home, &full, &[("OPENCLAW_GATEWAY_PORT", port)])
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_approved_listed_and_invoked_through_the_cli() {
    let gw = Gateway::start();
    let port = gw.port.to_string();
    let key = SigningKey::from_bytes(&[31; 32]);
    let id = device_id(&key);
    let (mut node, res) = node_connect(&gw.url(), &key).await;
    assert_eq!(res["ok"], true, "{res}");

    // `nodes pending --json` is the array of requests.
    let (code, out, err) = nodes(&gw.home, &port, &["pending", "--json"]);
    assert_eq!(code, 0, "{err}");
    let pending = json_of(&out);
    let req = &pending
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {out}"))[0];
    assert_eq!(req["nodeId"], id.as_str(), "{out}");
    assert_eq!(req["displayName"], NODE_NAME, "{out}");
    let rid = req["requestId"].as_str().unwrap().to_string();

    let (code, out, _) = nodes(&gw.home, &port, &["approve", "no-such-request"]);
    assert_eq!(code, 1);
    let err = json_of(&out);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unknown node pairing requestId: no-such-request"),
        "{err}"
    );

    let (code, out, err) = nodes(&gw.home, &port, &["approve", &rid]);
    assert_eq!(code, 0, "{err}");
    let approved = json_of(&out);
    assert_eq!(approved["requestId"], rid.as_str(), "{approved}");
    assert_eq!(approved["node"]["nodeId"], id.as_str(), "{approved}");

    let (code, out, err) = nodes(&gw.home, &port, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let status = json_of(&out);
    assert!(status["ts"].is_number(), "{status}");
    let entry = &status["nodes"][0];
    assert_eq!(entry["nodeId"], id.as_str(), "{status}");
    assert_eq!(entry["connected"], true, "{status}");
    assert_eq!(entry["paired"], true, "{status}");
    assert!(
        entry["commands"]
            .as_array()
            .unwrap()
            .contains(&json!("system.which")),
        "{status}"
    );
    let (code, out, _) = nodes(&gw.home, &port, &["status", "--connected"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Known: 1 · Paired: 1 · Connected: 1"),
        "{out}"
    );

    let (code, out, err) = nodes(&gw.home, &port, &["describe", "--node", &id[..8], "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_of(&out)["nodeId"], id.as_str(), "{out}");

    // The invoke reaches the node, which answers; the CLI prints the gateway's result.
    let mut cmd = gw.home.command(&[
        "nodes",
        "invoke",
        "--node",
        "build-box",
        "--command",
        "system.which",
        "--params",
        r#"{"bins":["sh"]}"#,
    ]);
    cmd.env("OPENCLAW_GATEWAY_PORT", &port);
    let cli = tokio::task::spawn_blocking(move || run_bounded(cmd, Duration::from_secs(30)));
    let ev = node.event("node.invoke.request").await;
    let p = &ev["payload"];
    assert_eq!(p["nodeId"], id.as_str(), "{ev}");
    assert_eq!(p["command"], "system.which", "{ev}");
    assert_eq!(p["paramsJSON"], r#"{"bins":["sh"]}"#, "{ev}");
    let result = json!({"id": p["id"], "nodeId": id, "ok": true,
                        "payloadJSON": r#"{"bins":{"sh":"/bin/sh"}}"#});
    let ack = node.req("r1", "node.invoke.result", Some(result)).await;
    assert_eq!(ack["ok"], true, "{ack}");
    let done = cli.await.unwrap();
    let out = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["nodeId"], id.as_str(), "{v}");
    assert_eq!(v["payload"]["bins"]["sh"], "/bin/sh", "{v}");

    // Refusals: unknown node, exec-only command, bad params — JSON on stdout, exit 1.
    for (args, msg) in [
        (
            vec!["invoke", "--node", "zzz", "--command", "system.which"],
            "unknown node: zzz",
        ),
        (
            vec!["invoke", "--node", &id, "--command", "system.run"],
            "reserved for shell execution",
        ),
        (
            vec!["invoke", "--node", &id, "--command", "x", "--params", "{"],
            "--params must be valid JSON.",
        ),
    ] {
        let (code, out, _) = nodes(&gw.home, &port, &args);
        assert_eq!(code, 1, "{args:?}");
        let v = json_of(&out);
        assert_eq!(v["error"]["type"], "cli_error", "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(msg), "{v}");
    }

    let (code, out, err) = nodes(
        &gw.home,
        &port,
        &["rename", "--node", &id, "--name", "Renamed"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("node rename ok: {id} -> Renamed"));
    let (code, out, _) = nodes(&gw.home, &port, &["list", "--json"]);
    assert_eq!(code, 0);
    let list = json_of(&out);
    assert_eq!(list["pending"], json!([]), "{list}");
    assert_eq!(list["paired"][0]["displayName"], "Renamed", "{list}");
    assert!(list["paired"][0].get("token").is_none(), "{list}");

    let (code, out, err) = nodes(&gw.home, &port, &["remove", "--node", "renamed"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("Removed paired node {id}"));
    let (code, _, err) = nodes(&gw.home, &port, &["describe", "--node", "nobody"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("nodes describe failed: unknown node: nobody"),
        "{err}"
    );
}
