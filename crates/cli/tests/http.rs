//! Same-port HTTP against the real binary: probes with the observed bodies and headers, 404
//! for the rest, and the per-address cap on unauthenticated sockets (503 at the upgrade).

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

#[test]
fn probes_answer_without_auth() {
    let gw = Gateway::start();
    for path in ["/healthz", "/health"] {
        let (status, head, body) = http_request(gw.port, "GET", path, &[], "");
        assert_eq!(status, 200);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            serde_json::json!({"ok": true, "status": "live"})
        );
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains("cache-control: no-store"));
        assert!(head.contains("x-content-type-options: nosniff"));
        assert!(head.contains("referrer-policy: no-referrer"));
        assert!(head.contains("permissions-policy: camera=(), microphone=(self), geolocation=()"));
    }
    let (status, _, body) = http_request(gw.port, "GET", "/readyz", &[], "");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], true);
    assert_eq!(v["failing"], serde_json::json!([]));
    assert!(v["uptimeMs"].as_u64().is_some());
    let (status, _, body) = http_request(gw.port, "GET", "/startupz", &[], "");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["status"], "started");
    assert!(v["version"].is_string());
}

#[test]
fn other_paths_are_404_text() {
    let gw = Gateway::start();
    // Paths the Control UI never claims (`/__openclaw__/…`, `/v1/…`) or refuses (traversal).
    for path in [
        "/__openclaw__/nope",
        "/v1/chat/completions",
        "/../../etc/passwd",
    ] {
        let (status, head, body) = http_request(gw.port, "GET", path, &[], "");
        assert_eq!(status, 404, "{path}");
        assert!(head.contains("text/plain"));
        assert_eq!(body, "Not Found");
    }
}

#[tokio::test]
async fn too_many_unauthenticated_sockets_get_503() {
    let gw = Gateway::start_with_env(&[("OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP", "2")]);
    let (_a, _) = Raw::open(&gw.url()).await;
    let (_b, _) = Raw::open(&gw.url()).await;
    let err = tokio_tungstenite::connect_async(gw.url())
        .await
        .expect_err("third pre-auth socket refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 503),
        other => panic!("expected HTTP 503, got {other:?}"),
    }
    // Authenticating frees the slot.
    drop(_a);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if tokio_tungstenite::connect_async(gw.url()).await.is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "slot not released after close"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
