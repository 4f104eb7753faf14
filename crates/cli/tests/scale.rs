//! Scale regressions against the real binary (issue 19, part 3): a client that stops reading is
//! dropped as a slow consumer and its connection freed even though it never reads again (it
//! used to stay registered forever, its task blocked on a write the client never took), and a
//! burst of connects is announced in a few coalesced presence broadcasts, not one per connect
//! to every client. (`chat.send` past the queue cap → `UNAVAILABLE` + `retryAfterMs` is
//! covered in `queue_modes.rs`.)

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A small `maxBufferedBytes` (larger than any one event of the test, so only a client that
/// stops reading overflows it), so a test overflows it in well under a second of events.
const TEST_MAX_BUFFERED: &str = "262144";

fn tracked_params(instance: &str) -> Value {
    let mut p = connect_params(Some(TOKEN), &["operator.read"]);
    p["client"] = json!({"id": "gateway-client", "version": "0.3.0", "platform": "linux",
                         "mode": "backend", "instanceId": instance});
    p
}

/// The presence entry of `instance`, as `system-presence` lists it now.
async fn presence_of(raw: &mut Raw, instance: &str) -> Option<Value> {
    let r = raw.call("system-presence", json!({})).await;
    r["payload"]
        .as_array()?
        .iter()
        .find(|e| e["instanceId"] == instance)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_as_a_slow_consumer_and_freed() {
    let fake = FakeOpenAi::start().await;
    // Every `agent` assistant event carries the text so far: ~20 MB offered to each operator,
    // more than the kernel's socket buffers and far more than the 256 KiB queue cap; no single
    // event is larger than ~100 KB.
    let text = "a long streamed answer ".repeat(4_400);
    fake.push(Script::text_in(text, 400));
    let home = Home::new();
    home.write_config(&fake_model_config(&home, &fake.url()));
    let gw = Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("OPENCLAW_MAX_BUFFERED_BYTES", TEST_MAX_BUFFERED)],
    );

    // The slow client: tracked in presence, a small receive buffer, and never read again
    // after its hello-ok.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket
        .connect(format!("127.0.0.1:{}", gw.port).parse().unwrap())
        .await
        .unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(gw.url(), tokio_tungstenite::MaybeTlsStream::Plain(tcp))
            .await
            .unwrap();
    let mut slow = Raw::from_ws(ws);
    let challenge = slow.frame().await;
    assert_eq!(challenge["event"], "connect.challenge");
    slow.send(&connect_frame("c", tracked_params("slow-1")))
        .await;
    let hello = slow.res("c").await;
    assert_eq!(hello["ok"], true, "{hello}");
    assert_eq!(hello["payload"]["policy"]["maxBufferedBytes"], 262144);

    let (mut op, _) = connected(&gw.url(), &["operator.admin"]).await;
    assert_eq!(
        presence_of(&mut op, "slow-1").await.unwrap()["reason"],
        "connect"
    );
    let r = op
        .call(
            "chat.send",
            json!({"sessionKey": "main", "message": "go", "idempotencyKey": "slow-run"}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    // The operator keeps reading until the run is over.
    loop {
        let f = op.frame().await;
        if f["event"] == "chat"
            && f["payload"]["runId"] == "slow-run"
            && f["payload"]["state"] != "delta"
        {
            assert_eq!(f["payload"]["state"], "final", "{f}");
            break;
        }
    }

    // Without reading a byte, the slow client's connection ends: its registration is gone
    // (presence says so), so its queue was released.
    let mut gone = false;
    for _ in 0..300 {
        if presence_of(&mut op, "slow-1").await.unwrap()["reason"] == "disconnect" {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the slow consumer is still registered");
    // The gateway said why.
    let mut gw = gw;
    assert!(
        gw.wait_for_line("closing slow consumer", Duration::from_secs(10))
            .is_some(),
        "{}",
        gw.output()
    );

    // Reading now, the client finds what the kernel held and then the end of the connection
    // (the close frame too, when it was taken within the gateway's 1 s grace).
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match slow.ws.next().await {
                Some(Ok(Message::Close(c))) => {
                    return c.map(|c| u16::from(c.code));
                }
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    match ended {
        Ok(Some(code)) => assert_eq!(code, 1008),
        Ok(None) => {}
        Err(_) => panic!("the slow consumer's socket is still open"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_connects_is_announced_in_coalesced_presence_broadcasts() {
    const CLIENTS: usize = 30;
    let gw = Gateway::start();
    let (mut watcher, _) = connected(&gw.url(), &["operator.read"]).await;
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let (mut c, _) = Raw::open(&gw.url()).await;
        c.send(&connect_frame("c", tracked_params(&format!("burst-{i}"))))
            .await;
        assert_eq!(c.res("c").await["ok"], true);
        clients.push(c);
    }
    // The watcher ends up with every client listed, in fewer broadcasts than connects.
    let mut broadcasts = 0;
    let mut last_version = 0;
    loop {
        let ev = watcher.event("presence").await;
        broadcasts += 1;
        let version = ev["stateVersion"]["presence"].as_u64().unwrap();
        assert!(version > last_version, "stateVersion only grows");
        last_version = version;
        let listed = ev["payload"]["presence"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["instanceId"]
                    .as_str()
                    .is_some_and(|i| i.starts_with("burst-"))
            })
            .count();
        if listed == CLIENTS {
            break;
        }
    }
    assert!(
        broadcasts < CLIENTS,
        "{broadcasts} presence broadcasts for {CLIENTS} connects"
    );
}

/// After a burst of closed sockets the gateway hands the freed heap back to the OS once (glibc
/// kept it otherwise: 1,000 connections that came and went left RSS at the burst's peak for
/// good). The trim is logged at debug level; that line is what this test waits for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_closed_connections_returns_freed_memory_once() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let mut gw = Gateway::start_in(home, &["gateway", "--port", "0", "--verbose"], &[]);
    let mut held = Vec::new();
    for _ in 0..70 {
        held.push(connected(&gw.url(), &["operator.read"]).await.0);
    }
    assert!(
        !gw.output().contains("returned freed heap memory"),
        "no trim while the connections are open"
    );
    drop(held);
    let line = gw.wait_for_line("returned freed heap memory", Duration::from_secs(20));
    assert!(
        line.is_some(),
        "no trim after 70 closed sockets:\n{}",
        gw.output()
    );
}
