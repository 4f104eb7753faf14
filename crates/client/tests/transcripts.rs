//! The client against replays of the real gateways' recorded sessions: it must complete the
//! v4 (openclaw) and v3 (clawdbot) handshakes, get the `health` answer and the broadcast events,
//! and report a protocol-mismatch rejection with the gateway's close code.

mod common;

use std::time::Duration;

use common::{Step, WAIT, load_transcript, replay};
use openclaw_client::protocol::{ConnectParams, codes, detail_codes, schema};
use openclaw_client::{ClientError, ConnectOptions, GatewayClient};
use serde_json::{Value, json};

/// The recorded payload of the server frame answering the recorded client frame with `method`.
fn recorded_res_payload(steps: &[Step], method: &str) -> Value {
    let id = steps
        .iter()
        .find_map(|s| match s {
            Step::Expect(f) if f["method"] == method => f["id"].as_str().map(str::to_string),
            _ => None,
        })
        .expect("recorded request");
    steps
        .iter()
        .find_map(|s| match s {
            Step::Send(f) if f["type"] == "res" && f["id"] == id.as_str() => {
                Some(f["payload"].clone())
            }
            _ => None,
        })
        .expect("recorded response")
}

fn recorded_events(steps: &[Step], name: &str) -> Vec<Value> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Send(f) if f["type"] == "event" && f["event"] == name => Some(f.clone()),
            _ => None,
        })
        .collect()
}

/// Our connect frame must pass the gateway's own frame and params validation.
fn assert_valid_connect(frame: &Value) {
    let req = schema::parse_request(frame.to_string().as_bytes()).expect("valid req frame");
    assert_eq!(req.method, "connect");
    assert!(req.id.starts_with("1:"), "CLI-style id, got {}", req.id);
    let params: ConnectParams =
        schema::parse_params("connect", req.params.as_ref()).expect("valid connect params");
    assert_eq!(params.min_protocol, 3);
    assert_eq!(params.max_protocol, 4);
}

/// Replays `file` and checks the hello-ok, the `health` answer and the recorded `health`
/// events.
async fn health_session(file: &str, events_wanted: usize) {
    let steps = load_transcript(file);
    let (url, server) = replay(steps.clone()).await;

    let opts = ConnectOptions {
        token: Some("<TOKEN>".to_string()),
        ..ConnectOptions::new(url)
    };
    let (mut client, hello) = GatewayClient::connect(opts).await.expect("connect");
    let recorded_hello = recorded_res_payload(&steps, "connect");
    assert_eq!(hello, recorded_hello);
    assert_eq!(client.hello(), &recorded_hello);

    let health = client
        .request("health", Some(json!({})), WAIT)
        .await
        .expect("health");
    assert_eq!(health, recorded_res_payload(&steps, "health"));

    let recorded = recorded_events(&steps, "health");
    assert_eq!(recorded.len(), events_wanted);
    for want in &recorded {
        let got = tokio::time::timeout(WAIT, client.next_event())
            .await
            .expect("event in time")
            .expect("event before close");
        assert_eq!(got.event, "health");
        assert_eq!(
            Some(&got.payload.clone().unwrap_or_default()),
            want.get("payload")
        );
        assert_eq!(got.seq, want["seq"].as_u64());
        let sv = got.state_version.expect("stateVersion");
        assert_eq!(
            sv.presence,
            want["stateVersion"]["presence"].as_u64().unwrap_or(0)
        );
        assert_eq!(
            sv.health,
            want["stateVersion"]["health"].as_u64().unwrap_or(0)
        );
    }
    assert_eq!(client.dropped_events(), 0);

    client.close().await;
    let seen = tokio::time::timeout(WAIT, server)
        .await
        .expect("server finished")
        .expect("fake server did not panic");
    assert_valid_connect(&seen.client_frames[0]);
    assert_eq!(seen.client_frames[0]["params"]["auth"]["token"], "<TOKEN>");
    assert_eq!(seen.client_frames[1]["method"], "health");
    assert_eq!(seen.client_frames[1]["params"], json!({}));
    assert_eq!(seen.client_close, Some((1000, String::new())));
}

#[tokio::test]
async fn v4_openclaw_gateway_call_health() {
    // challenge (with capabilities) → full v4 hello-ok → health event (seq 1) → health res.
    health_session("a_cli_gateway_call_health.jsonl", 1).await;
}

#[tokio::test]
async fn v3_clawdbot_gateway_call_health() {
    // challenge without capabilities → v3 hello-ok → health events with seq 3, 4 and
    // stateVersion around the health res.
    health_session("c_clawdbot_cli_vs_clawdbot_gw.jsonl", 2).await;
}

#[tokio::test]
async fn protocol_mismatch_is_a_handshake_error_with_the_close_code() {
    let steps = load_transcript("c_clawdbot_cli_vs_openclaw_gw.jsonl");
    let (url, server) = replay(steps).await;
    let err = GatewayClient::connect(ConnectOptions::new(url))
        .await
        .expect_err("connect must fail");
    match &err {
        ClientError::Handshake { error, close } => {
            assert_eq!(error.code, codes::INVALID_REQUEST);
            assert_eq!(error.message, "protocol mismatch");
            assert_eq!(error.detail_code(), Some(detail_codes::PROTOCOL_MISMATCH));
            assert_eq!(
                error
                    .details
                    .as_ref()
                    .and_then(|d| d.get("expectedProtocol")),
                Some(&json!(4))
            );
            assert_eq!(close, &Some((1002, "protocol mismatch".to_string())));
        }
        other => panic!("expected Handshake, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "gateway rejected connect: INVALID_REQUEST: protocol mismatch (closed 1002: protocol mismatch)"
    );
    let seen = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server finished")
        .expect("fake server did not panic");
    assert_eq!(seen.client_frames.len(), 1);
}
