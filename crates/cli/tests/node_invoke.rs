//! The node role over the wire, with a test client playing the node: its command surface
//! waits for operator approval, `node.list`/`describe` show it, and `node.invoke` is relayed to
//! it and back — with the spec's errors for a timeout, a disallowed or undeclared command, an
//! unknown or disconnected node, a node-side failure, a late or foreign result, and bad input.

mod common;

use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

/// Connects a node (loopback, token + device identity) declaring `commands`.
async fn node(url: &str, key: &SigningKey, commands: &[&str]) -> (Raw, String) {
    let (mut raw, ch) = Raw::open(url).await;
    let nonce = ch["payload"]["nonce"].as_str().unwrap().to_string();
    let mut p = json!({
        "minProtocol": 3, "maxProtocol": 4,
        "client": {"id": "node-host", "version": "2026.9.6", "platform": "linux",
                   "deviceFamily": "Linux", "mode": "node", "displayName": "vm"},
        "role": "node", "scopes": [], "caps": ["system"], "commands": commands,
        "permissions": {}, "pathEnv": "/usr/bin:/bin", "auth": {"token": TOKEN},
    });
    signed(&mut p, key, &nonce, TOKEN);
    let id = p["device"]["id"].as_str().unwrap().to_string();
    raw.send(&connect_frame("c", p)).await;
    let res = raw.res("c").await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["payload"]["auth"]["role"], "node");
    (raw, id)
}

/// The error message of an answer ("" when there is none).
fn msg(r: &Value) -> &str {
    r["error"]["message"].as_str().unwrap_or_default()
}

/// The next `node.invoke.request` the node receives.
async fn invoke_request(node: &mut Raw) -> Value {
    node.event("node.invoke.request").await["payload"].clone()
}

fn invoke(id: &str, node_id: &str, command: &str, params: Value, timeout_ms: u64) -> Value {
    json!({"type": "req", "id": id, "method": "node.invoke", "params": {
        "nodeId": node_id, "command": command, "params": params,
        "timeoutMs": timeout_ms, "idempotencyKey": format!("k-{id}")}})
}

async fn result(node: &mut Raw, id: &str, params: Value) -> Value {
    node.req(id, "node.invoke.result", Some(params)).await
}

#[tokio::test]
async fn a_node_is_approved_then_invoked_with_every_error_case() {
    let gw = Gateway::start();
    let url = gw.url();
    let (mut op, _) = connected(&url, &["operator.admin"]).await;
    let key = SigningKey::from_bytes(&[31; 32]);
    let (mut n, node_id) = node(
        &url,
        &key,
        &["system.which", "system.run", "camera.snap", "system.which"],
    )
    .await;

    let ask = |id: &str, cmd: &str, params: Value, t: u64| invoke(id, &node_id, cmd, params, t);
    // The surface awaits approval: filtered, announced, and nothing can be invoked yet.
    let ev = op.event("node.pair.requested").await;
    let request_id = ev["payload"]["requestId"].as_str().unwrap().to_string();
    assert_eq!(ev["payload"]["nodeId"], node_id);
    assert_eq!(
        ev["payload"]["commands"],
        json!(["system.which", "system.run"])
    );
    assert_eq!(
        ev["payload"]["requiredApproveScopes"],
        json!(["operator.pairing", "operator.admin"])
    );
    let list = op.call("node.list", json!({})).await;
    let entry = &list["payload"]["nodes"][0];
    assert_eq!(entry["nodeId"], node_id, "{list}");
    assert_eq!(entry["approvalState"], "pending-approval");
    assert_eq!(entry["connected"], true);
    assert_eq!(entry["paired"], true);
    assert_eq!(entry["commands"], json!([]));
    op.send(&ask("i0", "system.which", json!({}), 5000)).await;
    let r = op.res("i0").await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
    assert!(msg(&r).contains(&request_id), "{r}");
    // The node host's inventory update is refused with the same hint until approval.
    let inv = n.call("node.runnerInventory.update", json!({})).await;
    assert!(
        inv["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&request_id)
    );

    let pending = op.req("pl", "node.pair.list", None).await;
    assert_eq!(pending["payload"]["pending"][0]["requestId"], request_id);
    let (mut writer, _) = connected(&url, &["operator.pairing", "operator.write"]).await;
    let r = writer
        .call("node.pair.approve", json!({"requestId": request_id}))
        .await;
    assert_eq!(
        r["error"]["message"], "missing scope: operator.admin",
        "{r}"
    );
    let r = op
        .call("node.pair.approve", json!({"requestId": request_id}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        op.event("node.pair.resolved").await["payload"]["decision"],
        "approved"
    );
    let d = op.call("node.describe", json!({"nodeId": node_id})).await;
    assert_eq!(d["payload"]["approvalState"], "approved", "{d}");
    assert_eq!(
        d["payload"]["commands"],
        json!(["system.which", "system.run"])
    );
    assert_eq!(d["payload"]["caps"], json!(["system"]));
    assert_eq!(d["payload"]["pathEnv"], "/usr/bin:/bin");
    assert!(d["payload"]["ts"].as_u64().is_some());
    let inv = n.call("node.runnerInventory.update", json!({})).await;
    assert_eq!(inv["ok"], true, "{inv}");

    // A round trip.
    op.send(&ask("i1", "system.which", json!({"bins": ["sh"]}), 5000))
        .await;
    let req = invoke_request(&mut n).await;
    assert_eq!(req["command"], "system.which");
    assert_eq!(req["nodeId"], node_id);
    assert_eq!(req["paramsJSON"], r#"{"bins":["sh"]}"#);
    assert_eq!(req["idempotencyKey"], "k-i1");
    let ack = result(
        &mut n,
        "r1",
        json!({"id": req["id"], "nodeId": node_id, "ok": true,
               "payloadJSON": r#"{"bins":{"sh":"/usr/bin/sh"}}"#}),
    )
    .await;
    assert_eq!(ack["payload"], json!({"ok": true}));
    let r = op.res("i1").await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        r["payload"]["payload"],
        json!({"bins": {"sh": "/usr/bin/sh"}})
    );
    assert_eq!(
        r["payload"]["payloadJSON"],
        r#"{"bins":{"sh":"/usr/bin/sh"}}"#
    );
    assert_eq!(r["payload"]["command"], "system.which");

    // The node reports a failure.
    op.send(&ask("i2", "system.run", json!({"command": ["ls"]}), 5000))
        .await;
    let req = invoke_request(&mut n).await;
    result(
        &mut n,
        "r2",
        json!({"id": req["id"], "nodeId": node_id, "ok": false,
               "error": {"code": "SYSTEM_RUN_DENIED", "message": "SYSTEM_RUN_DENIED: approval required"}}),
    )
    .await;
    let r = op.res("i2").await;
    assert_eq!(r["error"]["code"], "UNAVAILABLE", "{r}");
    assert_eq!(
        r["error"]["message"],
        "SYSTEM_RUN_DENIED: approval required"
    );
    assert_eq!(
        r["error"]["details"]["nodeError"]["code"],
        "SYSTEM_RUN_DENIED"
    );

    // Timeout; the late result is acknowledged and dropped.
    op.send(&ask("i3", "system.which", json!({}), 200)).await;
    let late = invoke_request(&mut n).await;
    let r = op.res("i3").await;
    assert_eq!(r["error"]["message"], "node invoke timed out", "{r}");
    assert_eq!(r["error"]["details"]["nodeError"]["code"], "TIMEOUT");
    let ack = result(
        &mut n,
        "r3",
        json!({"id": late["id"], "nodeId": node_id, "ok": true, "payloadJSON": "{}"}),
    )
    .await;
    assert_eq!(ack["payload"], json!({"ok": true, "ignored": true}));

    // A result naming another node is refused.
    op.send(&ask("i4", "system.which", json!({}), 5000)).await;
    let req = invoke_request(&mut n).await;
    let bad = result(
        &mut n,
        "r4",
        json!({"id": req["id"], "nodeId": "someone-else", "ok": true}),
    )
    .await;
    assert_eq!(bad["error"]["message"], "nodeId mismatch", "{bad}");
    // An oversized result is refused, and the caller is told instead of waiting.
    let huge = format!("\"{}\"", "x".repeat(9 * 1024 * 1024));
    let big = result(
        &mut n,
        "r5",
        json!({"id": req["id"], "nodeId": node_id, "ok": true, "payloadJSON": huge}),
    )
    .await;
    assert_eq!(big["error"]["code"], "INVALID_REQUEST", "{}", big["error"]);
    let r = op.res("i4").await;
    assert_eq!(r["error"]["code"], "UNAVAILABLE");
    assert!(msg(&r).contains("too large"));

    // Commands outside the allowlist or the declaration, and bad input.
    let cases = [
        (
            "camera.snap",
            "requires explicit gateway.nodes.allowCommands opt-in",
        ),
        (
            "fs.listDir",
            "is not in the allowlist for platform \"linux\"",
        ),
        ("system.notify", "command not declared by node"),
        ("system.execApprovals.get", "use exec.approvals.node.*"),
    ];
    for (i, (cmd, want)) in cases.iter().enumerate() {
        let id = format!("x{i}");
        op.send(&invoke(&id, &node_id, cmd, json!({}), 1000)).await;
        let r = op.res(&id).await;
        assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{cmd}: {r}");
        assert!(msg(&r).contains(want), "{cmd}: {r}");
    }
    op.send(&invoke(
        "u",
        "no-such-node",
        "system.which",
        json!({}),
        1000,
    ))
    .await;
    assert_eq!(op.res("u").await["error"]["message"], "unknown nodeId");
    let r = op
        .call(
            "node.invoke",
            json!({"nodeId": node_id, "command": "system.which"}),
        )
        .await;
    assert!(msg(&r).starts_with("invalid node.invoke params"), "{r}");
    // A node may call only node methods.
    let r = n.req("s", "status", None).await;
    assert_eq!(r["error"]["message"], "unauthorized role: node", "{r}");

    // Disconnect mid-call: the caller is told, and the node then reads as not connected.
    op.send(&ask("i6", "system.which", json!({}), 10_000)).await;
    invoke_request(&mut n).await;
    drop(n);
    let r = op.res("i6").await;
    assert_eq!(
        r["error"]["message"], "node disconnected (system.which)",
        "{r}"
    );
    // The session is forgotten before its invokes are failed, so this sees it gone.
    op.send(&ask("i7", "system.which", json!({}), 1000)).await;
    let r = op.res("i7").await;
    assert_eq!(r["error"]["message"], "node not connected", "{r}");
    assert_eq!(r["error"]["details"]["code"], "NOT_CONNECTED");

    // The approval survives a restart of the node: it reconnects with its commands ready.
    let (_n2, _) = node(&url, &key, &["system.which", "system.run"]).await;
    let d = op.call("node.describe", json!({"nodeId": node_id})).await;
    assert_eq!(
        d["payload"]["commands"],
        json!(["system.which", "system.run"]),
        "{d}"
    );
    assert_eq!(d["payload"]["connected"], true);
}

#[tokio::test]
async fn removing_a_node_drops_its_role_and_connection() {
    let gw = Gateway::start();
    let url = gw.url();
    let (mut op, _) = connected(&url, &["operator.admin"]).await;
    let key = SigningKey::from_bytes(&[32; 32]);
    let (mut n, node_id) = node(&url, &key, &["system.which"]).await;
    let ev = op.event("node.pair.requested").await;
    let rid = ev["payload"]["requestId"].clone();
    let r = op.call("node.pair.reject", json!({"requestId": rid})).await;
    assert_eq!(r["payload"]["nodeId"], node_id, "{r}");
    let r = op
        .call(
            "node.rename",
            json!({"nodeId": node_id, "displayName": "Build box"}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let r = op
        .call("node.pair.remove", json!({"nodeId": node_id}))
        .await;
    assert_eq!(r["payload"], json!({"nodeId": node_id}), "{r}");
    assert_eq!(n.closed().await.0, 1008);
    let devices = op.req("dl", "device.pair.list", None).await;
    assert_eq!(devices["payload"]["paired"], json!([]), "{devices}");
    let r = op
        .call("node.pair.remove", json!({"nodeId": node_id}))
        .await;
    assert_eq!(r["error"]["message"], "unknown nodeId");
}

#[tokio::test]
async fn rpc_node_pairing_of_older_nodes() {
    let gw = Gateway::start();
    let (mut op, _) = connected(&gw.url(), &["operator.admin"]).await;
    let params = json!({"nodeId": "legacy-1", "displayName": "Old Mac", "platform": "darwin",
                        "commands": ["system.which", "camera.snap"], "caps": ["system"]});
    let r = op.call("node.pair.request", params.clone()).await;
    assert_eq!(r["payload"]["status"], "pending", "{r}");
    assert_eq!(r["payload"]["created"], true);
    assert_eq!(r["payload"]["request"]["commands"], json!(["system.which"]));
    let ev = op.event("node.pair.requested").await;
    assert_eq!(ev["payload"]["nodeId"], "legacy-1");
    let again = op.call("node.pair.request", params).await;
    assert_eq!(again["payload"]["created"], false);
    assert_eq!(
        again["payload"]["request"]["requestId"],
        r["payload"]["request"]["requestId"]
    );
    let ok = op
        .call(
            "node.pair.approve",
            json!({"requestId": r["payload"]["request"]["requestId"]}),
        )
        .await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert!(ok["payload"]["node"].get("token").is_none(), "{ok}");
    let listed = op.req("l", "node.pair.list", None).await;
    assert!(listed["payload"]["paired"][0].get("token").is_none());
    let v = op
        .call(
            "node.pair.verify",
            json!({"nodeId": "legacy-1", "token": "wrong"}),
        )
        .await;
    assert_eq!(v["payload"], json!({"ok": false}), "{v}");
    let bad = op
        .call("node.pair.request", json!({"nodeId": "x", "bogus": 1}))
        .await;
    assert_eq!(bad["error"]["code"], "INVALID_REQUEST", "{bad}");
}

#[tokio::test]
async fn exec_approvals_are_relayed_to_the_node_for_admins_only() {
    let gw = Gateway::start();
    let url = gw.url();
    let (mut op, _) = connected(&url, &["operator.admin"]).await;
    let key = SigningKey::from_bytes(&[33; 32]);
    let (mut n, node_id) = node(
        &url,
        &key,
        &[
            "system.which",
            "system.execApprovals.get",
            "system.execApprovals.set",
        ],
    )
    .await;
    let (mut writer, _) = connected(&url, &["operator.write"]).await;
    let r = writer
        .call("exec.approvals.node.get", json!({"nodeId": node_id}))
        .await;
    assert_eq!(msg(&r), "missing scope: operator.admin", "{r}");

    op.send(
        &json!({"type": "req", "id": "g", "method": "exec.approvals.node.get",
                    "params": {"nodeId": node_id}}),
    )
    .await;
    let req = invoke_request(&mut n).await;
    assert_eq!(req["command"], "system.execApprovals.get");
    let snapshot =
        r#"{"path":"/x/exec-approvals.json","exists":false,"hash":"h0","file":{"version":1}}"#;
    result(
        &mut n,
        "r",
        json!({"id": req["id"], "nodeId": node_id, "ok": true, "payloadJSON": snapshot}),
    )
    .await;
    let g = op.res("g").await;
    assert_eq!(g["payload"]["hash"], "h0", "{g}");
    assert_eq!(g["payload"]["exists"], false);

    op.send(
        &json!({"type": "req", "id": "s", "method": "exec.approvals.node.set",
                    "params": {"nodeId": node_id, "file": {"version": 1}, "baseHash": "h0"}}),
    )
    .await;
    let req = invoke_request(&mut n).await;
    assert_eq!(req["command"], "system.execApprovals.set");
    assert_eq!(
        serde_json::from_str::<Value>(req["paramsJSON"].as_str().unwrap()).unwrap(),
        json!({"file": {"version": 1}, "baseHash": "h0"})
    );
    result(
        &mut n,
        "r2",
        json!({"id": req["id"], "nodeId": node_id, "ok": false,
               "error": {"code": "INVALID_REQUEST", "message": "baseHash is stale"}}),
    )
    .await;
    let s = op.res("s").await;
    assert_eq!(msg(&s), "baseHash is stale", "{s}");
    let r = op
        .call("exec.approvals.node.get", json!({"nodeId": "nope"}))
        .await;
    assert_eq!(msg(&r), "unknown nodeId");
}
