//! The WhatsApp driver through the connection seam with a fake link (no phone): inbound routing,
//! reconnect with backoff, the liveness watchdog, logout handling, chunked sends and the host lock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openclaw_channel_whatsapp::{
    Link, LinkEvent, ReconnectPolicy, WaInbound, WhatsAppDriver, to_inbound,
};
use openclaw_channels::{AccountConfig, CancelToken, ChannelDriver, ChannelError, OutboundMessage};
use tokio::sync::mpsc;

/// Each `connect` pops a script: events to emit, then either keep the socket silent-open or close it.
#[derive(Default)]
struct FakeLink {
    scripts: Mutex<Vec<(Vec<LinkEvent>, bool)>>,
    connects: Mutex<Vec<Instant>>,
    disconnects: Mutex<u32>,
    sent: Mutex<Vec<(String, String)>>,
    live: Mutex<Vec<mpsc::Sender<LinkEvent>>>,
}

#[async_trait]
impl Link for FakeLink {
    async fn connect(&self) -> Result<mpsc::Receiver<LinkEvent>, ChannelError> {
        self.connects.lock().unwrap().push(Instant::now());
        let script = {
            let mut s = self.scripts.lock().unwrap();
            if s.is_empty() {
                None
            } else {
                Some(s.remove(0))
            }
        };
        let Some((events, keep_open)) = script else {
            return Err(ChannelError::Network("connect refused".into()));
        };
        let (tx, rx) = mpsc::channel(16);
        for e in events {
            tx.send(e).await.unwrap();
        }
        if keep_open {
            self.live.lock().unwrap().push(tx); // silent but open: only the watchdog can notice
        }
        Ok(rx)
    }
    async fn disconnect(&self) {
        *self.disconnects.lock().unwrap() += 1;
        self.live.lock().unwrap().clear();
    }
    async fn send_text(&self, jid: &str, text: &str) -> Result<String, ChannelError> {
        let mut s = self.sent.lock().unwrap();
        s.push((jid.to_string(), text.to_string()));
        Ok(format!("M{}", s.len()))
    }
    async fn composing(&self, _jid: &str) -> Result<(), ChannelError> {
        Ok(())
    }
    async fn logout(&self) -> Result<bool, ChannelError> {
        Ok(true)
    }
}

fn policy() -> ReconnectPolicy {
    ReconnectPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        factor: 2.0,
        jitter: 0.0,
        max_attempts: 0,
        watchdog: Duration::from_millis(300),
    }
}

fn msg(text: &str) -> LinkEvent {
    let w = WaInbound {
        account_id: "default".into(),
        chat_jid: "15551234567@s.whatsapp.net".into(),
        sender_jid: "15551234567@s.whatsapp.net".into(),
        id: "X1".into(),
        text: Some(text.into()),
        ..Default::default()
    };
    LinkEvent::Message(Box::new(to_inbound(&w, None).unwrap()))
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn routes_inbound_reconnects_and_watchdog_forces_reconnect() {
    let link = Arc::new(FakeLink::default());
    *link.scripts.lock().unwrap() = vec![
        (
            vec![LinkEvent::Connected { self_jid: None }, msg("hello")],
            false,
        ), // then closes
        (vec![LinkEvent::Connected { self_jid: None }], true), // then goes silent
        (
            vec![
                LinkEvent::Connected { self_jid: None },
                msg("after watchdog"),
            ],
            true,
        ),
    ];
    let mut cfg = AccountConfig::new("whatsapp", "default");
    cfg.text_chunk_limit = 5;
    let d = Arc::new(WhatsAppDriver::new(
        &cfg,
        link.clone(),
        policy(),
        None,
        true,
    ));
    let (tx, mut rx) = mpsc::channel(4);
    let cancel = CancelToken::new();
    let (dd, c) = (d.clone(), cancel.clone());
    let task = tokio::spawn(async move { dd.run(tx, c).await });

    let first = rx.recv().await.unwrap();
    assert_eq!(first.message.text, "hello");
    assert_eq!(first.message.chat_id, "+15551234567");
    let second = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.message.text, "after watchdog");
    let st = d.status();
    assert!(st.running && st.connected && st.linked);
    assert_eq!(st.reconnects, 2);
    assert!(st.last_error.unwrap().contains("watchdog: no activity"));
    assert!(*link.disconnects.lock().unwrap() >= 1);
    let connects = link.connects.lock().unwrap().clone();
    assert!(
        connects[1] - connects[0] >= Duration::from_millis(15),
        "backoff between reconnects"
    );

    let sent = d
        .send(OutboundMessage {
            chat_id: "+15551234567".into(),
            text: "abc defgh ij".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(sent.message_ids.len(), 3);
    let out = link.sent.lock().unwrap().clone();
    assert!(
        out.iter()
            .all(|(jid, t)| jid == "15551234567@s.whatsapp.net" && t.chars().count() <= 5)
    );
    assert!(matches!(
        d.send(OutboundMessage {
            chat_id: "@bob".into(),
            text: "x".into(),
            ..Default::default()
        })
        .await,
        Err(ChannelError::BadTarget(_))
    ));

    cancel.cancel();
    task.await.unwrap().unwrap();
    assert!(!d.status().running);
    assert!(matches!(
        d.send(OutboundMessage { chat_id: "+15551234567".into(), text: "x".into(), ..Default::default() }).await,
        Err(ChannelError::Unavailable(m)) if m.contains("No active WhatsApp Web listener")
    ));
}

#[tokio::test]
async fn logged_out_stops_with_not_linked_and_no_retry() {
    let link = Arc::new(FakeLink::default());
    *link.scripts.lock().unwrap() = vec![(vec![LinkEvent::LoggedOut("401".into())], true)];
    let d = WhatsAppDriver::new(
        &AccountConfig::new("whatsapp", "default"),
        link.clone(),
        policy(),
        None,
        true,
    );
    let (tx, _rx) = mpsc::channel(4);
    let err = d.run(tx, CancelToken::new()).await.unwrap_err();
    assert!(
        matches!(err, ChannelError::NotLinked(ref m) if m.contains("channels login")),
        "{err}"
    );
    assert_eq!(link.connects.lock().unwrap().len(), 1);
    assert!(!d.status().linked);
    let err = d
        .send(OutboundMessage {
            chat_id: "+15551234567".into(),
            text: "x".into(),
            ..Default::default()
        })
        .await;
    assert!(matches!(err, Err(ChannelError::NotLinked(_))));
}

#[tokio::test]
async fn gives_up_after_max_attempts_and_the_host_lock_is_exclusive() {
    let link = Arc::new(FakeLink::default()); // every connect fails
    let mut p = policy();
    p.max_attempts = 3;
    let dir = tempfile::tempdir().unwrap();
    let acct = dir.path().join("credentials/whatsapp/default");
    let cfg = AccountConfig::new("whatsapp", "default");
    let d = WhatsAppDriver::new(&cfg, link.clone(), p.clone(), Some(acct.clone()), true);
    let (tx, _rx) = mpsc::channel(4);
    let err = d.run(tx.clone(), CancelToken::new()).await.unwrap_err();
    assert!(matches!(err, ChannelError::Unavailable(_)), "{err}");
    assert_eq!(link.connects.lock().unwrap().len(), 4);
    assert!(d.status().last_error.unwrap().contains("connect refused"));

    // While one driver holds the account, a second one is refused.
    let busy = Arc::new(FakeLink::default());
    *busy.scripts.lock().unwrap() = vec![(vec![LinkEvent::Connected { self_jid: None }], true)];
    let a = Arc::new(WhatsAppDriver::new(
        &cfg,
        busy,
        policy(),
        Some(acct.clone()),
        true,
    ));
    let cancel = CancelToken::new();
    let (aa, c, t) = (a.clone(), cancel.clone(), tx.clone());
    let task = tokio::spawn(async move { aa.run(t, c).await });
    wait_for("first holder connected", || a.status().connected).await;
    let b = WhatsAppDriver::new(&cfg, link, p, Some(acct), true);
    assert!(matches!(
        b.run(tx, CancelToken::new()).await,
        Err(ChannelError::Conflict(_))
    ));
    cancel.cancel();
    task.await.unwrap().unwrap();
}
