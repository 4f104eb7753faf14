//! Protocol conformance details found while probing the reference (issue 11, item 12): the
//! advertised event list covers every event we send, the scope of `config.schema`, of `agent`
//! with `/new` / `/reset` and of `sessions.delete` for archived sessions, the `/ready` and
//! `/startup` aliases, and `openclaw agent --timeout` in seconds.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

const READ: &[&str] = &["operator.read"];
const WRITE: &[&str] = &["operator.write"];
const ADMIN: &[&str] = &["operator.admin", "operator.read", "operator.write"];

async fn start_with_fake(fake: &FakeOpenAi, env: &[(&str, &str)]) -> Gateway {
    let home = Home::new();
    home.write_config(&fake_model_config(&home, &fake.url()));
    Gateway::start_in(home, &["gateway", "--port", "0"], env)
}

fn assert_missing_admin(res: &Value) {
    assert_eq!(res["ok"], false, "{res}");
    assert_eq!(res["error"]["code"], "FORBIDDEN", "{res}");
    assert_eq!(res["error"]["message"], "missing scope: operator.admin");
    assert_eq!(res["error"]["details"]["code"], "MISSING_SCOPE");
    assert_eq!(res["error"]["details"]["missingScope"], "operator.admin");
}

/// Reads frames, noting every event name, until `done` says the frame it was given ends the
/// wait.
async fn note_events_until(
    raw: &mut Raw,
    seen: &mut BTreeSet<String>,
    mut done: impl FnMut(&Value) -> bool,
) {
    loop {
        let f = raw.frame().await;
        if f["type"] == "event" {
            seen.insert(f["event"].as_str().unwrap().to_string());
        }
        if done(&f) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_ok_advertises_every_event_the_gateway_sends() {
    let fake = FakeOpenAi::start().await;
    fake.push(Script::text("a reply"));
    fake.push(Script::text("HEARTBEAT_OK"));
    let gw = start_with_fake(&fake, &[("OPENCLAW_TICK_INTERVAL_MS", "100")]).await;
    let (mut raw, _) = Raw::open(&gw.url()).await;
    let mut p = connect_params(Some(TOKEN), ADMIN);
    p["caps"] = json!(["tool-events"]);
    raw.send(&connect_frame("c1", p)).await;
    let hello = raw.res("c1").await;
    let advertised: BTreeSet<String> = hello["payload"]["features"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    let mut seen = BTreeSet::from(["connect.challenge".to_string()]);

    // An agent run (agent + chat events), a heartbeat, a tracked client's presence, ticks,
    // and the shutdown at the end.
    raw.send(&json!({"type": "req", "id": "a1", "method": "agent",
                     "params": {"message": "hi", "idempotencyKey": "ev-run"}}))
        .await;
    let mut answers = 0;
    note_events_until(&mut raw, &mut seen, |f| {
        if f["type"] == "res" && f["id"] == "a1" {
            answers += 1;
        }
        answers == 2
    })
    .await;
    raw.req("w", "wake", Some(json!({"mode": "now", "text": "check"})))
        .await;
    note_events_until(&mut raw, &mut seen, |f| f["event"] == "heartbeat").await;
    let (mut backend, _) = Raw::open(&gw.url()).await;
    let mut p = connect_params(Some(TOKEN), READ);
    p["client"]["id"] = json!("gateway-client");
    p["client"]["mode"] = json!("backend");
    backend.send(&connect_frame("c2", p)).await;
    assert_eq!(backend.res("c2").await["ok"], true);
    note_events_until(&mut raw, &mut seen, |f| f["event"] == "presence").await;
    note_events_until(&mut raw, &mut seen, |f| f["event"] == "tick").await;
    gw.signal(libc::SIGTERM);
    note_events_until(&mut raw, &mut seen, |f| f["event"] == "shutdown").await;

    for must in ["agent", "chat", "heartbeat"] {
        assert!(seen.contains(must), "{must} was not exercised: {seen:?}");
    }
    let missing: Vec<&String> = seen.difference(&advertised).collect();
    assert!(
        missing.is_empty(),
        "sent but not in hello-ok.features.events: {missing:?} (advertised {advertised:?})"
    );
}

#[tokio::test]
async fn config_schema_needs_only_read() {
    let gw = Gateway::start();
    let (mut raw, _) = connected(&gw.url(), READ).await;
    let res = raw.req("s", "config.schema", None).await;
    assert_eq!(res["ok"], true, "{res}");
    // Writing stays admin.
    let res = raw.req("w", "config.set", Some(json!({}))).await;
    assert_missing_admin(&res);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reset_commands_need_admin() {
    let fake = FakeOpenAi::start().await;
    let gw = start_with_fake(&fake, &[]).await;
    let (mut writer, _) = connected(&gw.url(), WRITE).await;
    for (i, message) in ["/new", "/reset", "/new start over"].iter().enumerate() {
        let id = format!("n{i}");
        let res = writer
            .req(
                &id,
                "agent",
                Some(json!({"message": message, "idempotencyKey": format!("reset-{i}")})),
            )
            .await;
        assert_missing_admin(&res);
    }
    // An ordinary turn is still the writer's to run.
    let res = writer
        .req(
            "ok",
            "agent",
            Some(json!({"message": "hello", "idempotencyKey": "plain"})),
        )
        .await;
    assert_eq!(res["ok"], true, "{res}");
    // An admin may reset.
    let (mut admin, _) = connected(&gw.url(), ADMIN).await;
    let res = admin
        .req(
            "a",
            "agent",
            Some(json!({"message": "/new", "idempotencyKey": "admin-reset"})),
        )
        .await;
    assert_eq!(res["ok"], true, "{res}");
}

/// `sessions.list` takes the filters the reference's 2026.9 Control UI sends (`archived`,
/// `hasBoard`, `spawnedBy`, `label`, `offset`, `configuredAgentsOnly`) and applies them.
#[tokio::test]
async fn sessions_list_applies_the_control_ui_filters() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let dir = home.state_dir().join("agents/main/sessions");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("sessions.json"),
        json!({
            "agent:main:old": {"sessionId": "11111111-1111-4111-8111-111111111111",
                               "updatedAt": 1, "archivedAt": 2},
            "agent:main:live": {"sessionId": "22222222-2222-4222-8222-222222222222",
                                "updatedAt": 3, "label": "work"},
            "agent:main:sub": {"sessionId": "33333333-3333-4333-8333-333333333333",
                               "updatedAt": 4, "spawnedBy": "agent:main:main"},
        })
        .to_string(),
    )
    .unwrap();
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut c, _) = connected(&gw.url(), READ).await;
    let mut keys = async |params: Value| -> Vec<String> {
        let res = c.req("l", "sessions.list", Some(params)).await;
        assert_eq!(res["ok"], true, "{res}");
        let mut k: Vec<String> = res["payload"]["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key"].as_str().unwrap().to_string())
            .collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(json!({"configuredAgentsOnly": true})).await,
        ["agent:main:live", "agent:main:sub"]
    );
    assert_eq!(keys(json!({"archived": true})).await, ["agent:main:old"]);
    assert_eq!(keys(json!({"archived": "all"})).await.len(), 3);
    assert!(keys(json!({"hasBoard": true})).await.is_empty());
    assert_eq!(keys(json!({"hasBoard": false})).await.len(), 2);
    assert_eq!(
        keys(json!({"spawnedBy": "agent:main:main"})).await,
        ["agent:main:sub"]
    );
    assert_eq!(keys(json!({"label": "work"})).await, ["agent:main:live"]);
    assert_eq!(keys(json!({"offset": 1, "limit": 5})).await.len(), 1);
    let res = c
        .req("b", "sessions.list", Some(json!({"archived": "some"})))
        .await;
    assert_eq!(res["ok"], false, "{res}");
}

#[tokio::test]
async fn sessions_delete_of_an_archived_session_needs_only_write_with_archived_only() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let dir = home.state_dir().join("agents/main/sessions");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("sessions.json"),
        json!({
            "agent:main:old": {"sessionId": "11111111-1111-4111-8111-111111111111",
                               "updatedAt": 1, "archivedAt": 2},
            "agent:main:live": {"sessionId": "22222222-2222-4222-8222-222222222222",
                                "updatedAt": 3},
        })
        .to_string(),
    )
    .unwrap();
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);

    // Below write nothing changes: the reference names admin (probe `scope-denied`).
    let (mut reader, _) = connected(&gw.url(), READ).await;
    let res = reader
        .req("r", "sessions.delete", Some(json!({"key": "old"})))
        .await;
    assert_missing_admin(&res);

    let (mut writer, _) = connected(&gw.url(), WRITE).await;
    let res = writer
        .req("l", "sessions.delete", Some(json!({"key": "live"})))
        .await;
    assert_missing_admin(&res);
    // The reference 2026.9.6 rule: write scope only with `archivedOnly: true` (what its CLI's
    // `sessions delete` sends for an archived session); without it, admin.
    let res = writer
        .req("o0", "sessions.delete", Some(json!({"key": "old"})))
        .await;
    assert_missing_admin(&res);
    let res = writer
        .req(
            "o",
            "sessions.delete",
            Some(json!({"key": "old", "archivedOnly": true})),
        )
        .await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["payload"]["deleted"], true);

    let (mut admin, _) = connected(&gw.url(), ADMIN).await;
    let res = admin
        .req("a", "sessions.delete", Some(json!({"key": "live"})))
        .await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["payload"]["deleted"], true);
}

#[test]
fn ready_and_startup_are_aliases_of_the_z_probes() {
    let gw = Gateway::start();
    for (alias, probe, key) in [
        ("/ready", "/readyz", "ready"),
        ("/startup", "/startupz", "status"),
    ] {
        let (status, _, body) = http_request(gw.port, "GET", alias, &[], "");
        assert_eq!(status, 200, "{alias}: {body}");
        let got: Value = serde_json::from_str(&body).unwrap();
        let (_, _, body) = http_request(gw.port, "GET", probe, &[], "");
        let want: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(got[key], want[key], "{alias} vs {probe}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_agent_timeout_is_the_run_timeout_in_seconds() {
    let fake = FakeOpenAi::start().await;
    // Far slower than the one-second run timeout asked for below.
    fake.push(Script::Slow {
        text: "too late".into(),
        chunks: 30,
        delay: Duration::from_secs(1),
    });
    let gw = start_with_fake(&fake, &[]).await;
    let port = gw.port.to_string();
    let env = [("OPENCLAW_GATEWAY_PORT", port.as_str())];
    let (code, out, err) = run_cli(
        &gw.home,
        &["agent", "--message", "take your time", "--timeout", "1"],
        &env,
    );
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("run timed out after 1s"), "{err}");
    assert_eq!(fake.requests().len(), 1, "the run reached the model");
    // A timeout long enough for the answer gets it.
    let (code, out, err) = run_cli(
        &gw.home,
        &["agent", "--message", "quick", "--timeout", "30"],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "echo: quick");
}

/// Reads one WebSocket frame the server wrote (never masked): (fin, opcode, payload).
async fn read_server_frame(s: &mut tokio::net::TcpStream) -> (bool, u8, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(head[1] & 0x80, 0, "server frames are never masked");
    let len = match head[1] & 0x7f {
        126 => s.read_u16().await.unwrap() as usize,
        127 => s.read_u64().await.unwrap() as usize,
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await.unwrap();
    (head[0] & 0x80 != 0, head[0] & 0x0f, payload)
}

/// A long answer (the hello-ok is one) goes out as a text frame plus continuation frames of at
/// most 2 KiB each, which every client reassembles: the socket's write buffer keeps the size of
/// the largest frame it ever held, so an idle connection stays small after a big answer.
#[tokio::test]
async fn long_messages_are_sent_as_small_fragments_of_one_text_message() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::start();
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(s.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let (fin, op, _) = read_server_frame(&mut s).await;
    assert!(fin && op == 1, "connect.challenge is one text frame");

    let connect = connect_frame("c1", connect_params(Some(TOKEN), ADMIN)).to_string();
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | 126];
    frame.extend_from_slice(&(connect.len() as u16).to_be_bytes());
    frame.extend_from_slice(&mask);
    frame.extend(connect.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).await.unwrap();

    let mut message = Vec::new();
    let mut frames = 0;
    loop {
        let (fin, op, payload) = read_server_frame(&mut s).await;
        assert_eq!(
            op,
            if frames == 0 { 1 } else { 0 },
            "text, then continuations"
        );
        assert!(payload.len() <= 2048, "a frame of {} bytes", payload.len());
        message.extend_from_slice(&payload);
        frames += 1;
        if fin {
            break;
        }
    }
    let hello: Value = serde_json::from_slice(&message).unwrap();
    assert_eq!(hello["ok"], true, "{hello}");
    assert_eq!(hello["payload"]["type"], "hello-ok");
    assert!(
        frames > 1,
        "the hello-ok ({} bytes) is longer than one frame",
        message.len()
    );
}
