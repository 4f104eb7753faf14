//! Device pairing administration over the wire: a remote device (through a trusted proxy) is
//! refused with a request id, an operator lists and approves it, and it connects at once with
//! what it asked for; removal and token revocation cut it off; the store survives kill -9;
//! approvals never exceed the approver's scopes; bad input gets protocol errors.

mod common;

use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

const REMOTE: &str = "203.0.113.5";

/// Connects as a remote device with `key`, presenting `token` (shared or device token) and
/// asking for `scopes`; returns the socket and the `connect` answer.
async fn remote_connect(
    url: &str,
    key: &SigningKey,
    auth: Value,
    token: &str,
    scopes: &[&str],
) -> (Raw, Value) {
    device_connect_from(url, REMOTE, key, scopes, auth, token).await
}

async fn shared(url: &str, key: &SigningKey, scopes: &[&str]) -> (Raw, Value) {
    remote_connect(url, key, json!({"token": TOKEN}), TOKEN, scopes).await
}

fn request_id(res: &Value) -> String {
    assert_eq!(res["error"]["code"], "NOT_PAIRED", "{res}");
    res["error"]["details"]["requestId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn approve_admits_at_once_and_remove_or_revoke_cut_off() {
    let gw = proxied_gateway(json!({}), &[]);
    let (mut admin, _) = connected(&gw.url(), &["operator.admin"]).await;
    let key = SigningKey::from_bytes(&[21; 32]);

    let (_, res) = shared(&gw.url(), &key, &["operator.read", "operator.write"]).await;
    let first = request_id(&res);
    let device_id = res["error"]["details"]["deviceId"]
        .as_str()
        .unwrap()
        .to_string();
    // A retry refreshes the same request; asking for something else replaces it.
    let (_, res) = shared(&gw.url(), &key, &["operator.read", "operator.write"]).await;
    assert_eq!(request_id(&res), first);
    let (_, res) = shared(&gw.url(), &key, &["operator.read"]).await;
    let id = request_id(&res);
    assert_ne!(id, first);

    let list = admin.call("device.pair.list", json!({})).await;
    let pending = list["payload"]["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{list}");
    let p = &pending[0];
    assert_eq!(p["requestId"], id);
    assert_eq!(p["deviceId"], device_id);
    assert_eq!(p["remoteIp"], REMOTE);
    assert_eq!(p["role"], "operator");
    assert_eq!(p["roles"], json!(["operator"]));
    assert_eq!(p["scopes"], json!(["operator.read"]));
    assert_eq!(p["isRepair"], false);
    assert_eq!(p["silent"], false);
    assert_eq!(list["payload"]["paired"], json!([]));

    let ok = admin
        .call("device.pair.approve", json!({"requestId": id}))
        .await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["payload"]["requestId"], id);
    assert_eq!(ok["payload"]["device"]["deviceId"], device_id);
    assert!(ok["payload"]["device"].get("approvedScopes").is_none());
    let ev = admin.event("device.pair.resolved").await;
    assert_eq!(ev["payload"]["decision"], "superseded");
    assert_eq!(ev["payload"]["requestId"], first);
    let ev = admin.event("device.pair.resolved").await;
    assert_eq!(ev["payload"]["decision"], "approved");
    assert_eq!(ev["payload"]["requestId"], id);

    // Admitted without a restart, with exactly what it asked for, and given a device token.
    let (mut dev, res) = shared(&gw.url(), &key, &["operator.read"]).await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["payload"]["auth"]["scopes"], json!(["operator.read"]));
    let device_token = res["payload"]["auth"]["deviceToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(dev.req("s", "status", None).await["ok"], true);
    let w = dev.call("system-event", json!({"text": "x"})).await;
    assert_eq!(w["ok"], false, "{w}");

    // The device token alone admits it too; revoking it closes the socket and refuses it.
    let by_token = json!({"deviceToken": device_token});
    let (mut dev2, res) = remote_connect(
        &gw.url(),
        &key,
        by_token.clone(),
        &device_token,
        &["operator.read"],
    )
    .await;
    assert_eq!(res["ok"], true, "{res}");
    let r = admin
        .call(
            "device.token.revoke",
            json!({"deviceId": device_id, "role": "operator"}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert!(r["payload"]["revokedAtMs"].as_u64().is_some());
    assert_eq!(dev2.closed().await.0, 1008);
    let (_, res) =
        remote_connect(&gw.url(), &key, by_token, &device_token, &["operator.read"]).await;
    assert_eq!(res["ok"], false, "{res}");
    assert_eq!(res["error"]["code"], "INVALID_REQUEST", "{res}");
    // The shared secret does not bring a revoked role back: it needs approval again.
    assert_eq!(dev.closed().await.0, 1008);
    let (_, res) = shared(&gw.url(), &key, &["operator.read"]).await;
    assert_eq!(res["error"]["details"]["reason"], "role-upgrade", "{res}");
    let again = request_id(&res);
    let ok = admin
        .call("device.pair.approve", json!({"requestId": again}))
        .await;
    assert_eq!(ok["ok"], true, "{ok}");
    let (mut dev, res) = shared(&gw.url(), &key, &["operator.read"]).await;
    assert_eq!(res["ok"], true, "{res}");
    assert_ne!(res["payload"]["auth"]["deviceToken"], json!(device_token));

    // Removal forgets the device: open sockets close, the next connect needs pairing again.
    let listed = admin.req("l2", "device.pair.list", None).await;
    let paired = &listed["payload"]["paired"][0];
    assert_eq!(paired["deviceId"], device_id);
    assert_eq!(paired["connected"], true);
    assert_eq!(paired["tokens"][0]["role"], "operator");
    assert!(paired["tokens"][0].get("token").is_none(), "{paired}");
    let rm = admin
        .call("device.pair.remove", json!({"deviceId": device_id}))
        .await;
    assert_eq!(rm["payload"], json!({"deviceId": device_id}));
    assert_eq!(dev.closed().await.0, 1008);
    let (_, res) = shared(&gw.url(), &key, &["operator.read"]).await;
    request_id(&res);
}

#[tokio::test]
async fn an_approval_survives_kill_9() {
    let gw = proxied_gateway(json!({}), &[]);
    let key = SigningKey::from_bytes(&[22; 32]);
    let (_, res) = shared(&gw.url(), &key, &["operator.read"]).await;
    let id = request_id(&res);
    let (mut admin, _) = connected(&gw.url(), &["operator.pairing", "operator.read"]).await;
    let ok = admin
        .call("device.pair.approve", json!({"requestId": id}))
        .await;
    assert_eq!(ok["ok"], true, "{ok}");
    gw.signal(libc::SIGKILL);
    let mut gw = gw;
    gw.wait_exit(WAIT).expect("killed");
    let home = gw.into_home();
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (_, res) = shared(&gw.url(), &key, &["operator.read"]).await;
    assert_eq!(res["ok"], true, "{res}");
}

#[tokio::test]
async fn approvals_never_exceed_the_approver_and_bad_input_is_refused() {
    let gw = proxied_gateway(json!({}), &[]);
    let key = SigningKey::from_bytes(&[23; 32]);
    let (_, res) = shared(&gw.url(), &key, &["operator.admin"]).await;
    let id = request_id(&res);

    let (mut pairer, _) = connected(&gw.url(), &["operator.pairing"]).await;
    let r = pairer
        .call("device.pair.approve", json!({"requestId": id}))
        .await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
    assert_eq!(r["error"]["message"], "missing scope: operator.admin");
    // A reader cannot reach the pairing methods at all.
    let (mut reader, _) = connected(&gw.url(), &["operator.read"]).await;
    let r = reader.req("l", "device.pair.list", None).await;
    assert_eq!(
        r["error"]["message"], "missing scope: operator.pairing",
        "{r}"
    );

    let (mut admin, _) = connected(&gw.url(), &["operator.admin"]).await;
    let cases = [
        (
            "device.pair.approve",
            json!({"requestId": "nope"}),
            "unknown requestId",
        ),
        (
            "device.pair.reject",
            json!({"requestId": "nope"}),
            "unknown requestId",
        ),
        (
            "device.pair.remove",
            json!({"deviceId": "nope"}),
            "unknown deviceId",
        ),
        (
            "device.pair.rename",
            json!({"deviceId": "nope", "label": "  "}),
            "label required",
        ),
        (
            "device.token.revoke",
            json!({"deviceId": "nope", "role": "operator"}),
            "unknown deviceId/role",
        ),
    ];
    for (i, (method, params, msg)) in cases.iter().enumerate() {
        let r = admin
            .req(&format!("b{i}"), method, Some(params.clone()))
            .await;
        assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{method}: {r}");
        assert_eq!(r["error"]["message"], *msg, "{method}: {r}");
    }
    for (i, (method, params)) in [
        ("device.pair.approve", json!({"requestId": id, "extra": 1})),
        ("device.pair.approve", json!({})),
        (
            "device.pair.rename",
            json!({"deviceId": "d", "label": "x".repeat(65)}),
        ),
        (
            "device.token.rotate",
            json!({"deviceId": 5, "role": "operator"}),
        ),
    ]
    .iter()
    .enumerate()
    {
        let r = admin
            .req(&format!("p{i}"), method, Some(params.clone()))
            .await;
        let m = r["error"]["message"].as_str().unwrap_or_default();
        assert!(m.starts_with(&format!("invalid {method} params")), "{r}");
    }
    // The admin may approve it; rejecting a decided request is an unknown id.
    let r = admin
        .call("device.pair.approve", json!({"requestId": id}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let r = admin
        .call("device.pair.reject", json!({"requestId": id}))
        .await;
    assert_eq!(r["error"]["message"], "unknown requestId");
}

#[tokio::test]
async fn a_device_asks_for_more_scopes_and_waits_for_the_decision() {
    let gw = proxied_gateway(json!({}), &[]);
    let (mut admin, _) = connected(&gw.url(), &["operator.admin"]).await;
    let key = SigningKey::from_bytes(&[24; 32]);
    let (_, res) = shared(&gw.url(), &key, &["operator.read"]).await;
    let id = request_id(&res);
    let ok = admin
        .call("device.pair.approve", json!({"requestId": id}))
        .await;
    assert_eq!(ok["ok"], true, "{ok}");
    let (mut dev, res) = shared(&gw.url(), &key, &["operator.read"]).await;
    assert_eq!(res["ok"], true, "{res}");

    let up = dev
        .call(
            "device.scopes.requestUpgrade",
            json!({"scopes": ["operator.write"]}),
        )
        .await;
    assert_eq!(up["payload"]["status"], "pending", "{up}");
    let rid = up["payload"]["requestId"].as_str().unwrap().to_string();
    // (The first pairing request was announced too; skip to this one.)
    let ev = loop {
        let ev = admin.event("device.pair.requested").await;
        if ev["payload"]["requestId"] == rid.as_str() {
            break ev;
        }
    };
    assert_eq!(ev["payload"]["isRepair"], true);
    // The wait answers only once an operator decides; the socket stays usable meanwhile.
    dev.send(
        &json!({"type": "req", "id": "w", "method": "device.scopes.waitUpgrade",
                     "params": {"requestId": rid}}),
    )
    .await;
    assert_eq!(dev.req("s", "status", None).await["ok"], true);
    let ok = admin
        .call("device.pair.approve", json!({"requestId": rid}))
        .await;
    assert_eq!(ok["ok"], true, "{ok}");
    let w = dev.res("w").await;
    assert_eq!(w["payload"]["status"], "approved", "{w}");
    assert!(
        w["payload"]["deviceToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let scopes = w["payload"]["scopes"].as_array().unwrap();
    assert!(scopes.contains(&json!("operator.write")), "{w}");
    // The device now connects with write.
    let (_, res) = shared(&gw.url(), &key, &["operator.read", "operator.write"]).await;
    assert_eq!(res["ok"], true, "{res}");

    let bad = dev
        .call("device.scopes.waitUpgrade", json!({"requestId": "nope"}))
        .await;
    assert_eq!(bad["error"]["message"], "unknown requestId", "{bad}");
}
