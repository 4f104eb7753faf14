//! Clients that are not on loopback, seen through a trusted proxy (`gateway.trustedProxies` +
//! `X-Forwarded-For`): pairing is required for new devices, a shared secret without a device
//! gets no scopes, failed auth locks the address out, and browser Origins are checked.

mod common;

use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

const REMOTE: &str = "203.0.113.9";

#[tokio::test]
async fn new_remote_device_needs_pairing() {
    let gw = proxied_gateway(json!({}), &[]);
    let (mut admin, _) = connected(&gw.url(), &["operator.admin"]).await;

    let key = SigningKey::from_bytes(&[3; 32]);
    let (mut raw, ch) = Raw::open_with(&gw.url(), &[("x-forwarded-for", REMOTE)]).await;
    let nonce = ch["payload"]["nonce"].as_str().unwrap().to_string();
    let mut p = connect_params(Some(TOKEN), &["operator.read"]);
    signed(&mut p, &key, &nonce, TOKEN);
    raw.send(&connect_frame("c", p)).await;
    let res = raw.res("c").await;
    assert_eq!(res["error"]["code"], "NOT_PAIRED", "{res}");
    assert_eq!(
        res["error"]["message"],
        "pairing required: device is not approved yet"
    );
    let d = &res["error"]["details"];
    assert_eq!(d["code"], "PAIRING_REQUIRED");
    assert_eq!(d["reason"], "not-paired");
    let request_id = d["requestId"].as_str().unwrap().to_string();
    assert_eq!(raw.closed().await, (1008, "pairing required".into()));

    // Operators with the pairing scope are told, and the request is stored.
    let ev = admin.event("device.pair.requested").await;
    assert_eq!(ev["payload"]["requestId"], request_id);
    assert_eq!(ev["payload"]["remoteIp"], REMOTE);
    let pending: Value = serde_json::from_str(
        &std::fs::read_to_string(gw.home.state_dir().join("devices/pending.json")).unwrap(),
    )
    .unwrap();
    assert!(pending.get(&request_id).is_some(), "{pending}");
}

#[tokio::test]
async fn remote_shared_secret_without_device_gets_no_scopes() {
    let gw = proxied_gateway(json!({}), &[]);
    let (mut raw, res) = token_only_hello(&gw.url(), &[("x-forwarded-for", REMOTE)]).await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["payload"]["auth"]["scopes"], json!([]));
    let r = raw.req("s", "status", None).await;
    assert_eq!(r["error"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn repeated_failures_lock_a_remote_address_out() {
    let gw = proxied_gateway(
        json!({"auth": {"mode": "token", "token": TOKEN, "rateLimit": {"maxAttempts": 2}}}),
        &[],
    );
    for _ in 0..2 {
        let (mut raw, _) = Raw::open_with(&gw.url(), &[("x-forwarded-for", REMOTE)]).await;
        raw.send(&connect_frame("c", connect_params(Some("wrong"), &[])))
            .await;
        assert_eq!(
            raw.res("c").await["error"]["details"]["code"],
            "AUTH_TOKEN_MISMATCH"
        );
    }
    // Even the right token is refused while locked.
    let (mut raw, _) = Raw::open_with(&gw.url(), &[("x-forwarded-for", REMOTE)]).await;
    raw.send(&connect_frame("c", connect_params(Some(TOKEN), &[])))
        .await;
    let res = raw.res("c").await;
    assert_eq!(
        res["error"]["details"]["code"], "AUTH_RATE_LIMITED",
        "{res}"
    );
    assert!(res["error"]["retryAfterMs"].as_u64().unwrap() > 0);
    assert_eq!(res["error"]["retryable"], true);
    // Another address is unaffected.
    connected(&gw.url(), &[]).await;
}

#[tokio::test]
async fn foreign_browser_origins_are_refused() {
    let gw = proxied_gateway(
        json!({"controlUi": {"allowedOrigins": ["https://ok.example"]}}),
        &[],
    );
    let (mut raw, _) = Raw::open_with(&gw.url(), &[("origin", "https://evil.example")]).await;
    raw.send(&connect_frame("c", connect_params(Some(TOKEN), &[])))
        .await;
    let res = raw.res("c").await;
    assert_eq!(
        res["error"]["message"],
        "origin not allowed (https://evil.example)"
    );
    assert_eq!(
        res["error"]["details"]["code"],
        "CONTROL_UI_ORIGIN_NOT_ALLOWED"
    );
    assert_eq!(raw.closed().await.0, 1008);
    let (mut raw, _) = Raw::open_with(&gw.url(), &[("origin", "https://ok.example")]).await;
    raw.send(&connect_frame("c", connect_params(Some(TOKEN), &[])))
        .await;
    assert_eq!(raw.res("c").await["ok"], true);
}
