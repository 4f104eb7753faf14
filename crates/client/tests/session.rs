//! The client against scripted fake gateways, for what the transcripts do not show: timeouts,
//! an unreachable gateway, interim `accepted` answers, errors, closes mid-request, a signed
//! connect, garbage frames and the bounded event queue.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Seen, ServerWs, WAIT, accept, bind, challenge, drain, next_json, send_json};
use ed25519_dalek::{Signature, VerifyingKey};
use futures_util::SinkExt;
use openclaw_client::protocol::{ConnectParams, device_signature_payload};
use openclaw_client::{
    ClientError, ConnectOptions, DeviceIdentity, EVENT_QUEUE_CAPACITY, GatewayClient,
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const BARE_HELLO: &str = r#"{"type":"hello-ok","protocol":4}"#;

/// Challenge → connect → bare hello-ok; returns the client's connect frame.
async fn handshake(ws: &mut ServerWs, seen: &mut Seen, nonce: &str) -> Value {
    send_json(ws, &challenge(nonce)).await;
    let connect = next_json(ws, seen).await.expect("connect frame");
    let hello: Value = serde_json::from_str(BARE_HELLO).expect("hello json");
    send_json(
        ws,
        &json!({"type": "res", "id": connect["id"], "ok": true, "payload": hello}),
    )
    .await;
    connect
}

/// Serves one connection with `script` after the handshake.
async fn serve<F, Fut>(script: F) -> (String, JoinHandle<Seen>)
where
    F: FnOnce(ServerWs, Seen) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Seen> + Send,
{
    let (url, listener) = bind().await;
    let task = tokio::spawn(async move {
        let mut ws = accept(&listener).await;
        let mut seen = Seen::default();
        handshake(&mut ws, &mut seen, "nonce-1").await;
        script(ws, seen).await
    });
    (url, task)
}

async fn connect(url: String) -> GatewayClient {
    let (client, hello) = GatewayClient::connect(ConnectOptions::new(url))
        .await
        .expect("connect");
    assert_eq!(
        hello,
        serde_json::from_str::<Value>(BARE_HELLO).expect("json")
    );
    client
}

async fn finish(server: JoinHandle<Seen>) -> Seen {
    tokio::time::timeout(WAIT, server)
        .await
        .expect("server finished")
        .expect("fake server did not panic")
}

#[tokio::test]
async fn no_challenge_times_out_within_the_handshake_timeout() {
    let (url, listener) = bind().await;
    let server = tokio::spawn(async move {
        let mut ws = accept(&listener).await;
        // Silent: no challenge. Hold the socket until the client gives up.
        drain(&mut ws, &mut Seen::default()).await;
    });
    let started = Instant::now();
    let err = GatewayClient::connect(ConnectOptions {
        handshake_timeout: Duration::from_millis(300),
        ..ConnectOptions::new(url)
    })
    .await
    .expect_err("must time out");
    let elapsed = started.elapsed();
    assert!(matches!(err, ClientError::Timeout(300)), "{err:?}");
    assert_eq!(err.to_string(), "gateway timeout after 300ms");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let _ = tokio::time::timeout(WAIT, server).await;
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let (url, listener) = bind().await;
    drop(listener);
    let err = GatewayClient::connect(ConnectOptions::new(url.clone()))
        .await
        .expect_err("must fail");
    match &err {
        ClientError::Unreachable { url: got, reason } => {
            assert_eq!(got, &url);
            assert!(!reason.is_empty());
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("gateway not reachable at {url}: "))
    );
}

#[tokio::test]
async fn expect_final_skips_the_interim_accepted_answer() {
    let (url, server) = serve(|mut ws, mut seen| async move {
        for _ in 0..2 {
            let req = next_json(&mut ws, &mut seen).await.expect("agent req");
            let id = req["id"].clone();
            send_json(
                &mut ws,
                &json!({"type":"res","id":id,"ok":true,
                "payload":{"runId":"r1","status":"accepted","acceptedAt":1}}),
            )
            .await;
            send_json(
                &mut ws,
                &json!({"type":"event","event":"agent","seq":1,
                "payload":{"runId":"r1","stream":"lifecycle"}}),
            )
            .await;
            send_json(
                &mut ws,
                &json!({"type":"res","id":id,"ok":true,
                "payload":{"runId":"r1","status":"ok","summary":"done"}}),
            )
            .await;
        }
        drain(&mut ws, &mut seen).await;
        seen
    })
    .await;
    let client = connect(url).await;
    let params = Some(json!({"message": "hi", "idempotencyKey": "k1"}));

    let fin = client
        .request_expect_final("agent", params.clone(), WAIT)
        .await
        .expect("final");
    assert_eq!(fin["status"], "ok");
    assert_eq!(fin["summary"], "done");

    // A plain request takes the first answer; the late final one is dropped quietly.
    let first = client.request("agent", params, WAIT).await.expect("first");
    assert_eq!(first["status"], "accepted");

    client.close().await;
    let seen = finish(server).await;
    assert_eq!(seen.client_frames[1]["method"], "agent");
    assert_ne!(seen.client_frames[1]["id"], seen.client_frames[2]["id"]);
}

#[tokio::test]
async fn error_answers_missing_params_and_garbage_frames() {
    let (url, server) = serve(|mut ws, mut seen| async move {
        // Garbage first: none of it may disturb the session.
        for junk in [
            "hello",
            "[1,2]",
            "{\"type\":\"res\"}",
            "{\"type\":\"event\"}",
            "null",
        ] {
            ws.send(Message::text(junk)).await.expect("send junk");
        }
        ws.send(Message::binary(b"\xff\xfe".to_vec()))
            .await
            .expect("send binary");

        let req = next_json(&mut ws, &mut seen).await.expect("req");
        assert!(
            req.get("params").is_none(),
            "params None must omit the key: {req}"
        );
        send_json(
            &mut ws,
            &json!({"type":"res","id":req["id"],"ok":false,
            "error":{"code":"FORBIDDEN","message":"missing scope: operator.admin",
                     "details":{"code":"MISSING_SCOPE"}}}),
        )
        .await;

        let req = next_json(&mut ws, &mut seen).await.expect("req");
        // ok:false with a malformed error object still becomes an Rpc error.
        send_json(
            &mut ws,
            &json!({"type":"res","id":req["id"],"ok":false,"error":"boom"}),
        )
        .await;

        let req = next_json(&mut ws, &mut seen).await.expect("req");
        // ok:true without payload → null; sent as a binary frame (spec §1: UTF-8 JSON too).
        let res = json!({"type":"res","id":req["id"],"ok":true}).to_string();
        ws.send(Message::binary(res.into_bytes()))
            .await
            .expect("send");

        drain(&mut ws, &mut seen).await;
        seen
    })
    .await;
    let client = connect(url).await;

    let err = client
        .request("no.such", None, WAIT)
        .await
        .expect_err("rpc error");
    match &err {
        ClientError::Rpc(shape) => {
            assert_eq!(shape.code, "FORBIDDEN");
            assert_eq!(shape.detail_code(), Some("MISSING_SCOPE"));
        }
        other => panic!("expected Rpc, got {other:?}"),
    }
    assert_eq!(err.to_string(), "FORBIDDEN: missing scope: operator.admin");

    let err = client
        .request("x", None, WAIT)
        .await
        .expect_err("rpc error");
    assert!(matches!(err, ClientError::Rpc(_)), "{err:?}");

    let v = client
        .request("y", Some(json!({})), WAIT)
        .await
        .expect("ok");
    assert_eq!(v, Value::Null);

    client.close().await;
    finish(server).await;
}

#[tokio::test]
async fn server_close_fails_pending_requests_and_ends_events() {
    let (url, server) = serve(|mut ws, mut seen| async move {
        let _req = next_json(&mut ws, &mut seen).await.expect("req");
        send_json(
            &mut ws,
            &json!({"type":"event","event":"shutdown",
            "payload":{"reason":"restart","restartExpectedMs":1000}}),
        )
        .await;
        let frame = CloseFrame {
            code: CloseCode::Restart,
            reason: "service restart".into(),
        };
        ws.send(Message::Close(Some(frame))).await.expect("close");
        drain(&mut ws, &mut seen).await;
        seen
    })
    .await;
    let mut client = connect(url).await;
    assert_eq!(client.close_info(), None);

    let err = client
        .request("health", None, WAIT)
        .await
        .expect_err("closed");
    match &err {
        ClientError::Closed { code, reason } => {
            assert_eq!(*code, 1012);
            assert_eq!(reason, "service restart");
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "gateway closed the connection (1012: service restart)"
    );
    assert_eq!(
        client.close_info(),
        Some((1012, "service restart".to_string()))
    );

    // The event that came before the close is still delivered, then the stream ends.
    let ev = client.next_event().await.expect("shutdown event");
    assert_eq!(ev.event, "shutdown");
    assert!(client.next_event().await.is_none());

    // Requests after the close fail at once.
    let err = client
        .request("health", None, WAIT)
        .await
        .expect_err("closed");
    assert!(
        matches!(err, ClientError::Closed { code: 1012, .. }),
        "{err:?}"
    );
    client.close().await;
    finish(server).await;
}

#[tokio::test]
async fn request_timeout() {
    let (url, server) = serve(|mut ws, mut seen| async move {
        let _ignored = next_json(&mut ws, &mut seen).await;
        drain(&mut ws, &mut seen).await;
        seen
    })
    .await;
    let client = connect(url).await;
    let err = client
        .request("health", None, Duration::from_millis(100))
        .await
        .expect_err("timeout");
    assert!(matches!(err, ClientError::Timeout(100)), "{err:?}");
    client.close().await;
    finish(server).await;
}

#[tokio::test]
async fn full_event_queue_drops_the_oldest() {
    const EXTRA: usize = 6;
    let (url, server) = serve(|mut ws, mut seen| async move {
        let req = next_json(&mut ws, &mut seen).await.expect("req");
        for seq in 1..=(EVENT_QUEUE_CAPACITY + EXTRA) {
            send_json(
                &mut ws,
                &json!({"type":"event","event":"tick","seq":seq,"payload":{"ts":seq}}),
            )
            .await;
        }
        send_json(
            &mut ws,
            &json!({"type":"res","id":req["id"],"ok":true,"payload":{}}),
        )
        .await;
        drain(&mut ws, &mut seen).await;
        seen
    })
    .await;
    let mut client = connect(url).await;
    // The res comes after every event, so once it is here all events were routed.
    client.request("health", None, WAIT).await.expect("health");
    assert_eq!(client.dropped_events(), EXTRA as u64);
    let first = client.next_event().await.expect("event");
    assert_eq!(first.seq, Some(EXTRA as u64 + 1));
    client.close().await;
    finish(server).await;
}

#[tokio::test]
async fn device_signed_connect_verifies_against_the_challenge_nonce() {
    let (url, listener) = bind().await;
    let server = tokio::spawn(async move {
        let mut ws = accept(&listener).await;
        let mut seen = Seen::default();
        let connect = handshake(&mut ws, &mut seen, "b7e0c1f2-nonce").await;
        drain(&mut ws, &mut seen).await;
        connect
    });
    let identity = DeviceIdentity::from_seed([42; 32]);
    let opts = ConnectOptions {
        token: Some("tok123".to_string()),
        device: Some(identity.clone()),
        ..ConnectOptions::new(url)
    };
    let (client, _hello) = GatewayClient::connect(opts).await.expect("connect");
    client.close().await;
    let connect = tokio::time::timeout(WAIT, server)
        .await
        .expect("done")
        .expect("no panic");

    let params: ConnectParams =
        serde_json::from_value(connect["params"].clone()).expect("connect params");
    let device = params.device.clone().expect("device block");
    assert_eq!(device.id, identity.device_id());
    assert_eq!(device.nonce.as_deref(), Some("b7e0c1f2-nonce"));
    let payload = device_signature_payload(
        3,
        &device.id,
        &params,
        "operator",
        "tok123",
        "b7e0c1f2-nonce",
        device.signed_at,
    );
    let key: [u8; 32] = URL_SAFE_NO_PAD
        .decode(&device.public_key)
        .expect("b64url key")
        .try_into()
        .expect("32 bytes");
    let sig: [u8; 64] = URL_SAFE_NO_PAD
        .decode(&device.signature)
        .expect("b64url sig")
        .try_into()
        .expect("64 bytes");
    VerifyingKey::from_bytes(&key)
        .expect("key")
        .verify_strict(payload.as_bytes(), &Signature::from_bytes(&sig))
        .expect("signature verifies");
}

/// The CLI and the benchmark share one client across tasks and spawn its futures.
#[test]
fn client_and_its_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<GatewayClient>();
    send_sync::<ClientError>();
    send(&GatewayClient::connect(ConnectOptions::default()));
    let _ = |c: &'static GatewayClient| send(&c.request("health", None, WAIT));
    let _ = |c: &'static mut GatewayClient| send(&c.next_event());
}
