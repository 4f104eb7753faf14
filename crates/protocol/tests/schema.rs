//! The committed schema matches the types, and inbound frames are validated with the
//! reference's messages (cases from `crates/cli/tests/fixtures/d_probes_openclaw.jsonl`).

use openclaw_protocol::schema::{FrameError, parse_params, parse_request, protocol_schema_text};
use openclaw_protocol::{ConnectParams, EmptyParams, SystemEventParams, codes};
use serde_json::json;

const SCHEMA_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schema/protocol.schema.json"
);

#[test]
fn committed_schema_is_current() {
    let fresh = protocol_schema_text();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(SCHEMA_PATH, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(SCHEMA_PATH).unwrap_or_default();
    assert!(
        committed == fresh,
        "schema/protocol.schema.json is stale: run `UPDATE_SCHEMA=1 cargo test -p openclaw-protocol --test schema`"
    );
}

fn connect(extra: serde_json::Value) -> serde_json::Value {
    let mut p = json!({
        "minProtocol": 4, "maxProtocol": 4,
        "client": {"id": "cli", "version": "probe-0.1", "platform": "linux", "mode": "cli",
                   "instanceId": "1b9c3fbe-3134-4df2-9f4d-c4b4851fc834"},
        "caps": [], "auth": {"token": "t"}, "role": "operator", "scopes": ["operator.read"]
    });
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

#[test]
fn real_connect_frames_parse() {
    // The recorded reference transcripts, kept with the cli tests.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../cli/tests/fixtures");
    let text = std::fs::read_to_string(format!("{dir}/handshake_verbatim.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in [
        "connect req (c2s, openclaw CLI gateway call)",
        "v3 clawdbot connect req (c2s)",
    ] {
        let raw = serde_json::to_vec(&v[key]).unwrap();
        let frame = parse_request(&raw).expect(key);
        parse_params::<ConnectParams>("connect", frame.params.as_ref()).expect(key);
    }
    // The reference's 2026.9.6 Control UI (recorded against our gateway serving its assets)
    // adds `client.buildId` and `client.timeZone`.
    let raw = std::fs::read(format!("{dir}/control_ui_2026_9_6_connect.json")).unwrap();
    let frame = parse_request(&raw).expect("control ui connect");
    let p = parse_params::<ConnectParams>("connect", frame.params.as_ref()).expect("control ui");
    assert_eq!(p.client.time_zone.as_deref(), Some("UTC"));
    // openclaw-node sends commands/permissions/locale/userAgent and a v2-signed device.
    for line in std::fs::read_to_string(format!("{dir}/f_openclaw_node_client.jsonl"))
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["frame"]["method"] == "connect" {
            let frame = parse_request(&serde_json::to_vec(&v["frame"]).unwrap()).unwrap();
            parse_params::<ConnectParams>("connect", frame.params.as_ref()).unwrap();
        }
    }
}

#[test]
fn connect_param_errors_name_the_path() {
    let e = parse_params::<ConnectParams>(
        "connect",
        Some(&connect(json!({"client": {"id": "not-a-known-client", "version": "1", "platform": "linux", "mode": "cli"}}))),
    )
    .unwrap_err();
    assert_eq!(e.code, codes::INVALID_REQUEST);
    assert_eq!(
        e.message,
        "invalid connect params: at /client/id: must be equal to one of the allowed values"
    );

    let mut p = connect(json!({}));
    p.as_object_mut().unwrap().remove("client");
    let e = parse_params::<ConnectParams>("connect", Some(&p)).unwrap_err();
    assert_eq!(
        e.message,
        "invalid connect params: must have required property 'client'"
    );

    let e =
        parse_params::<ConnectParams>("connect", Some(&connect(json!({"bogus": 1})))).unwrap_err();
    assert_eq!(
        e.message,
        "invalid connect params: at root: unexpected property 'bogus'"
    );

    let e = parse_params::<ConnectParams>("connect", Some(&connect(json!({"minProtocol": "x"}))))
        .unwrap_err();
    assert_eq!(
        e.message,
        "invalid connect params: at /minProtocol: must be integer"
    );
}

#[test]
fn frame_errors() {
    assert!(matches!(parse_request(b"hello"), Err(FrameError::Json(_))));
    let e = parse_request(br#"{"type":"req"}"#).unwrap_err();
    assert_eq!(e.reply_id(), "invalid");
    let msg = e.to_string();
    assert!(msg.starts_with("invalid request frame: "), "{msg}");
    assert!(msg.contains("must have required property 'id'"), "{msg}");
    let e = parse_request(br#"{"type":"event","event":"x"}"#).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("unexpected property 'event'"), "{msg}");
    assert!(msg.contains("at /type"), "{msg}");
    let e = parse_request(br#"{"type":"req","id":"a1","method":""}"#).unwrap_err();
    assert_eq!(e.reply_id(), "a1");
    assert!(e.to_string().contains("at /method"), "{e}");
    let ok = parse_request(br#"{"type":"req","id":"1","method":"health"}"#).unwrap();
    assert_eq!(ok.method, "health");
    assert!(ok.params.is_none());
}

#[test]
fn method_params() {
    parse_params::<EmptyParams>("status", None).unwrap();
    let e = parse_params::<EmptyParams>("status", Some(&json!({"bogus": 1}))).unwrap_err();
    assert_eq!(
        e.message,
        "invalid status params: at root: unexpected property 'bogus'"
    );
    let e =
        parse_params::<SystemEventParams>("system-event", Some(&json!({"text": 5}))).unwrap_err();
    assert_eq!(
        e.message,
        "invalid system-event params: at /text: must be string"
    );
    let ok = parse_params::<SystemEventParams>(
        "system-event",
        Some(&json!({"text": "hi", "host": "box"})),
    )
    .unwrap();
    assert_eq!(ok.host.as_deref(), Some("box"));
}

/// Every definition compiles on its own (each validator carries only the definitions it can
/// reach, so a missed reference would show here).
#[test]
fn every_definition_compiles_with_only_what_it_reaches() {
    let failed = openclaw_protocol::schema::warm_up();
    assert!(failed.is_empty(), "{failed:?}");
}
