//! Broadcasts against the real binary: `tick` with per-connection gap-free `seq`, presence
//! deltas on connect/disconnect/system-event, and the `shutdown` event on SIGTERM.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

fn fast_ticks() -> Gateway {
    let home = Home::new();
    home.write_config(&token_config(&home));
    Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("OPENCLAW_TICK_INTERVAL_MS", "100")],
    )
}

#[tokio::test]
async fn ticks_arrive_with_contiguous_seq() {
    let gw = fast_ticks();
    let (mut raw, hello) = connected(&gw.url(), &["operator.read"]).await;
    assert_eq!(
        hello["policy"]["tickIntervalMs"], 100,
        "advertises the interval it uses"
    );
    let mut last_seq = 0;
    let mut ticks = 0;
    while ticks < 3 {
        let f = raw.frame().await;
        assert_eq!(f["type"], "event");
        let seq = f["seq"].as_u64().expect("broadcast events carry seq");
        assert_eq!(seq, last_seq + 1, "seq is gap-free per connection: {f}");
        last_seq = seq;
        if f["event"] == "tick" {
            assert!(f["payload"]["ts"].as_u64().is_some());
            ticks += 1;
        }
    }
}

#[tokio::test]
async fn presence_deltas_on_connect_disconnect_and_system_event() {
    let gw = Gateway::start();
    let (mut watcher, hello) = connected(&gw.url(), &["operator.admin"]).await;
    let v0 = hello["snapshot"]["stateVersion"]["presence"]
        .as_u64()
        .unwrap();

    // A backend client (tracked in presence; cli clients are not).
    let (mut other, _) = Raw::open(&gw.url()).await;
    let mut p = connect_params(Some(TOKEN), &["operator.read"]);
    p["client"] = json!({"id": "gateway-client", "version": "0.3.0", "platform": "linux", "mode": "backend",
                          "displayName": "worker-1", "instanceId": "inst-42"});
    other.send(&connect_frame("c", p)).await;
    assert_eq!(other.res("c").await["ok"], true);
    let ev = watcher.event("presence").await;
    let v1 = ev["stateVersion"]["presence"].as_u64().unwrap();
    assert!(v1 > v0, "presence version bumps");
    let entry = ev["payload"]["presence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["instanceId"] == "inst-42")
        .cloned()
        .expect("new client listed");
    assert_eq!(entry["reason"], "connect");
    assert_eq!(entry["host"], "worker-1");
    assert_eq!(entry["mode"], "backend");

    other.ws.close(None).await.unwrap();
    let ev = loop {
        let ev = watcher.event("presence").await;
        let e = ev["payload"]["presence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["instanceId"] == "inst-42")
            .cloned();
        if e.as_ref().is_some_and(|e| e["reason"] == "disconnect") {
            break ev;
        }
    };
    assert!(ev["stateVersion"]["presence"].as_u64().unwrap() > v1);

    watcher
        .send(&json!({"type": "req", "id": "e1", "method": "system-event",
                      "params": {"text": "Node: lab-pi online", "host": "lab-pi"}}))
        .await;
    // The broadcast is queued before the reply on the same connection.
    let ev = watcher.event("presence").await;
    assert_eq!(watcher.res("e1").await["payload"], json!({"ok": true}));
    assert!(
        ev["payload"]["presence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["host"] == "lab-pi")
    );
    let list = watcher.req("p1", "system-presence", None).await;
    let list = list["payload"].as_array().unwrap();
    assert!(
        list.iter()
            .any(|e| e["reason"] == "self" && e["mode"] == "gateway")
    );
    assert!(list.iter().any(|e| e["text"] == "Node: lab-pi online"));
    let status = watcher.req("s1", "status", None).await;
    assert_eq!(
        status["payload"]["queuedSystemEvents"],
        json!(["Node: lab-pi online"])
    );
    assert!(
        status["payload"]["processMemory"]["rssBytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(
        watcher.req("l1", "last-heartbeat", None).await["payload"],
        json!(null)
    );
}

#[tokio::test]
async fn sigterm_sends_shutdown_then_closes_and_exits_zero() {
    let mut gw = Gateway::start();
    let (mut a, _) = connected(&gw.url(), &["operator.read"]).await;
    let (mut b, _) = connected(&gw.url(), &["operator.admin"]).await;
    gw.signal(libc::SIGTERM);
    for raw in [&mut a, &mut b] {
        let ev = raw.event("shutdown").await;
        assert!(
            ev["payload"]["reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty())
        );
        assert!(ev["seq"].as_u64().is_some());
        let (code, _) = raw.closed().await;
        assert_eq!(code, 1001);
    }
    let status = gw
        .wait_exit(Duration::from_secs(5))
        .expect("exits promptly after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(gw.output().contains("signal SIGTERM received"));
}

#[tokio::test]
async fn sigint_also_stops_cleanly() {
    let mut gw = Gateway::start();
    gw.signal(libc::SIGINT);
    let status = gw
        .wait_exit(Duration::from_secs(5))
        .expect("exits after SIGINT");
    assert_eq!(status.code(), Some(0));
}
