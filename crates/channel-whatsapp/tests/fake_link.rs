//! The WhatsApp driver through the connection seam with a fake link (no phone): inbound routing,
//! reconnect with backoff, the liveness watchdog, logout handling, chunked sends and the host lock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openclaw_channel_whatsapp::{
    Link, LinkEvent, MediaRef, OutgoingMedia, ReconnectPolicy, WaInbound, WhatsAppDriver,
    to_inbound,
};
use openclaw_channels::{
    Access, AccountConfig, CancelToken, CappedFile, ChannelDriver, ChannelError, Inbound,
    OutboundMedia, OutboundMessage, PairingStore, check_access, is_too_large, session_key_for,
};
use openclaw_testkit::wait::wait_for;
use tokio::sync::mpsc;

/// Each `connect` pops a script: events to emit, then either keep the socket silent-open or close it.
#[derive(Default)]
struct FakeLink {
    scripts: Mutex<Vec<(Vec<LinkEvent>, bool)>>,
    connects: Mutex<Vec<Instant>>,
    disconnects: Mutex<u32>,
    sent: Mutex<Vec<(String, String)>>,
    sent_media: Mutex<Vec<(String, OutgoingMedia)>>,
    live: Mutex<Vec<mpsc::Sender<LinkEvent>>>,
    downloads: Mutex<u32>,
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
    async fn send_media(&self, jid: &str, media: OutgoingMedia) -> Result<String, ChannelError> {
        let mut s = self.sent_media.lock().unwrap();
        s.push((jid.to_string(), media));
        Ok(format!("P{}", s.len()))
    }
    async fn download(
        &self,
        media: &MediaRef,
        mut out: CappedFile,
    ) -> Result<CappedFile, ChannelError> {
        use std::io::Write;
        *self.downloads.lock().unwrap() += 1;
        // The fake's handle is the attachment's bytes, streamed in chunks like the real one.
        let bytes = media
            .handle
            .downcast_ref::<Vec<u8>>()
            .ok_or_else(|| ChannelError::Network("media expired".into()))?;
        for chunk in bytes.chunks(64 * 1024) {
            out.write_all(chunk).map_err(|e| {
                if is_too_large(&e) {
                    ChannelError::TooLarge(e.to_string())
                } else {
                    ChannelError::Io(e.to_string())
                }
            })?;
        }
        Ok(out)
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

/// A driver running in its own task, and the receiving end of what it routes.
struct Running {
    driver: Arc<WhatsAppDriver>,
    inbound: mpsc::Receiver<Inbound>,
    cancel: CancelToken,
    task: tokio::task::JoinHandle<Result<(), ChannelError>>,
}

impl Running {
    /// Runs `driver` with an inbound channel of `capacity`.
    fn spawn(driver: WhatsAppDriver, capacity: usize) -> Running {
        let driver = Arc::new(driver);
        let (tx, inbound) = mpsc::channel(capacity);
        let cancel = CancelToken::new();
        let (d, c) = (driver.clone(), cancel.clone());
        let task = tokio::spawn(async move { d.run(tx, c).await });
        Running {
            driver,
            inbound,
            cancel,
            task,
        }
    }

    /// Cancels the driver; it must stop cleanly.
    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.unwrap().unwrap();
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
    LinkEvent::Message(Box::new(to_inbound(&w, &[]).unwrap()), None)
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
    let mut running = Running::spawn(
        WhatsAppDriver::new(&cfg, link.clone(), policy(), None, true),
        4,
    );
    let (d, rx) = (running.driver.clone(), &mut running.inbound);

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
        .send(OutboundMessage::text("+15551234567", "abc defgh ij"))
        .await
        .unwrap();
    assert_eq!(sent.message_ids.len(), 3);
    let out = link.sent.lock().unwrap().clone();
    assert!(
        out.iter()
            .all(|(jid, t)| jid == "15551234567@s.whatsapp.net" && t.chars().count() <= 5)
    );
    assert!(matches!(
        d.send(OutboundMessage::text("@bob", "x")).await,
        Err(ChannelError::BadTarget(_))
    ));

    running.stop().await;
    assert!(!d.status().running);
    assert!(matches!(
        d.send(OutboundMessage::text("+15551234567", "x")).await,
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
    let err = d.send(OutboundMessage::text("+15551234567", "x")).await;
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
    let running = Running::spawn(
        WhatsAppDriver::new(&cfg, busy, policy(), Some(acct.clone()), true),
        4,
    );
    wait_for("first holder connected", || {
        running.driver.status().connected
    })
    .await;
    let b = WhatsAppDriver::new(&cfg, link, p, Some(acct), true);
    assert!(matches!(
        b.run(tx, CancelToken::new()).await,
        Err(ChannelError::Conflict(_))
    ));
    running.stop().await;
}

fn image(id: &str, bytes: Option<Vec<u8>>, declared: u64) -> LinkEvent {
    let w = WaInbound {
        account_id: "default".into(),
        chat_jid: "15551234567@s.whatsapp.net".into(),
        sender_jid: "15551234567@s.whatsapp.net".into(),
        id: id.into(),
        text: Some("see this".into()),
        media_kind: Some("image".into()),
        ..Default::default()
    };
    let handle: Arc<dyn std::any::Any + Send + Sync> = match bytes {
        Some(b) => Arc::new(b),
        None => Arc::new(()),
    };
    LinkEvent::Message(
        Box::new(to_inbound(&w, &[]).unwrap()),
        Some(MediaRef {
            kind: "image".into(),
            mime: Some("image/jpeg".into()),
            file_name: None,
            declared_size: Some(declared),
            handle,
        }),
    )
}

/// `text` with local `files` attached, to the linked test number; `roots` are the directories
/// local media may be read from.
fn with_files(
    text: &str,
    files: &[&std::path::Path],
    roots: &[&std::path::Path],
) -> OutboundMessage {
    OutboundMessage {
        chat_id: "+15551234567".into(),
        text: text.into(),
        media: files
            .iter()
            .map(|f| OutboundMedia {
                source: f.display().to_string(),
                mime: None,
            })
            .collect(),
        local_roots: roots.iter().map(|r| r.to_path_buf()).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn inbound_media_is_downloaded_under_the_cap_and_outbound_media_is_uploaded() {
    let state = tempfile::tempdir().unwrap();
    let media_dir = state.path().join("media/inbound");
    let link = Arc::new(FakeLink::default());
    let huge = vec![7u8; 2 * 1024 * 1024];
    *link.scripts.lock().unwrap() = vec![(
        vec![
            LinkEvent::Connected { self_jid: None },
            image("OK1", Some(vec![0xff, 0xd8, 0xff, 1, 2, 3]), 6),
            image("../../BIG", Some(vec![0; 10]), 2 * 1024 * 1024), // declared over the cap
            image("GONE", None, 6),                                 // download fails
            image("LIAR", Some(huge), 6),                           // declares 6 bytes, sends 2 MiB
        ],
        true,
    )];
    let mut cfg = AccountConfig::new("whatsapp", "default");
    cfg.media_max_mb = 1.0;
    cfg.text_chunk_limit = 10;
    let max = cfg.media_max_bytes();
    let mut running = Running::spawn(
        WhatsAppDriver::new(&cfg, link.clone(), policy(), None, true),
        8,
    );
    let (d, rx) = (running.driver.clone(), &mut running.inbound);

    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(rx.recv().await.unwrap().message);
    }
    // Announced, not downloaded: the consumer decides (after access control).
    assert_eq!(*link.downloads.lock().unwrap(), 0);
    assert!(!media_dir.exists());
    let ok = &got[0];
    assert_eq!(ok.text, "see this\n<media:image>");
    assert_eq!(ok.media.len(), 1);
    let p = &ok.media[0];
    assert_eq!(p.file_name, "wa-default-OK1.jpg");
    let dest = media_dir.join(&p.file_name);
    assert_eq!(d.download(p, &dest, max).await.unwrap(), 6);
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        vec![0xff, 0xd8, 0xff, 1, 2, 3]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let big = &got[1].media[0];
    assert!(!big.file_name.contains('/'), "{}", big.file_name);
    let err = d
        .download(big, &media_dir.join(&big.file_name), max)
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::TooLarge(_)), "{err}");
    assert_eq!(
        *link.downloads.lock().unwrap(),
        1,
        "refused before fetching"
    );
    let gone = &got[2].media[0];
    assert!(
        d.download(gone, &media_dir.join(&gone.file_name), max)
            .await
            .is_err()
    );
    let liar = &got[3].media[0];
    let err = d
        .download(liar, &media_dir.join(&liar.file_name), max)
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::TooLarge(_)), "{err}");
    // Only the good file is on disk: refused and cut-off downloads leave nothing.
    let files: Vec<_> = std::fs::read_dir(&media_dir).unwrap().collect();
    assert_eq!(files.len(), 1);

    // Outbound: the text rides as the caption of the first attachment; more text is chunked.
    let pic = state.path().join("chart.png");
    std::fs::write(&pic, b"\x89PNG....").unwrap();
    let doc = state.path().join("report.pdf");
    std::fs::write(&doc, b"%PDF-1.7").unwrap();
    let roots = [state.path()];
    let sent = d
        .send(with_files("the numbers", &[&pic, &doc], &roots))
        .await
        .unwrap();
    assert_eq!(sent.message_ids, vec!["P1", "P2"]);
    {
        let media = link.sent_media.lock().unwrap();
        assert_eq!(media[0].0, "15551234567@s.whatsapp.net");
        let (a, b) = (&media[0].1, &media[1].1);
        assert_eq!(
            (a.kind, a.mime.as_str(), a.caption.as_deref()),
            ("image", "image/png", Some("the numbers"))
        );
        assert_eq!(a.bytes, b"\x89PNG....");
        assert_eq!(
            (
                b.kind,
                b.mime.as_str(),
                b.file_name.as_str(),
                b.caption.as_deref()
            ),
            ("document", "application/pdf", "report.pdf", None)
        );
    }
    assert!(link.sent.lock().unwrap().is_empty(), "text went as caption");

    // Oversize media is refused before anything is sent.
    let huge = state.path().join("huge.bin");
    std::fs::write(&huge, vec![0u8; 1024 * 1024 + 1]).unwrap();
    let err = d
        .send(with_files("x", &[&pic, &huge], &roots))
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::TooLarge(_)), "{err}");
    assert_eq!(link.sent_media.lock().unwrap().len(), 2);

    // A local path outside the allowed roots is refused before anything is sent.
    let err = d.send(with_files("x", &[&pic], &[])).await.unwrap_err();
    assert!(
        matches!(&err, ChannelError::MediaAccess(m) if m.starts_with(openclaw_channels::LOCAL_MEDIA_NOT_ALLOWED)),
        "{err}"
    );
    assert_eq!(link.sent_media.lock().unwrap().len(), 2);
    assert!(link.sent.lock().unwrap().is_empty());

    running.stop().await;
}

#[tokio::test]
async fn group_messages_route_by_own_mention_through_the_seam() {
    // The linked account is +19998887777 (LID 4455@lid); the group mentions it by LID.
    let me = [
        "19998887777:5@s.whatsapp.net".to_string(),
        "4455@lid".to_string(),
    ];
    let group = |id: &str, mentions: Vec<String>| {
        let w = WaInbound {
            account_id: "default".into(),
            chat_jid: "120363403215116621@g.us".into(),
            is_group: true,
            sender_jid: "15550001111@s.whatsapp.net".into(),
            id: id.into(),
            text: Some("@bot what's up".into()),
            mentions,
            ..Default::default()
        };
        LinkEvent::Message(Box::new(to_inbound(&w, &me).unwrap()), None)
    };
    let link = Arc::new(FakeLink::default());
    *link.scripts.lock().unwrap() = vec![(
        vec![
            LinkEvent::Connected {
                self_jid: Some(me[0].clone()),
            },
            group("G1", vec!["4455@lid".into()]),
            group("G2", vec!["15550002222@s.whatsapp.net".into()]),
        ],
        true,
    )];
    let cfg = openclaw_channels::accounts_from_config(
        &serde_json::json!({"whatsapp": {
            "allowFrom": ["+15550001111"],
            "groupPolicy": "open",
            "groups": {"*": {"requireMention": true}}
        }}),
        &|_| None,
    )
    .unwrap()
    .remove(0);
    let mut running = Running::spawn(WhatsAppDriver::new(&cfg, link, policy(), None, true), 4);
    let (d, rx) = (running.driver.clone(), &mut running.inbound);
    let state = tempfile::tempdir().unwrap();
    let store = PairingStore::new(state.path(), "whatsapp", "default");

    let mentioned = rx.recv().await.unwrap().message;
    assert!(mentioned.mentioned);
    assert_eq!(check_access(&cfg, &mentioned, &store), Access::Allow);
    assert_eq!(
        session_key_for(&mentioned, "main", "main", "main"),
        "agent:main:whatsapp:group:120363403215116621@g.us"
    );
    let other = rx.recv().await.unwrap().message;
    assert!(!other.mentioned);
    assert_eq!(check_access(&cfg, &other, &store), Access::NotMentioned);
    assert_eq!(
        d.status().bot_username.as_deref(),
        Some("19998887777:5@s.whatsapp.net")
    );
    running.stop().await;
}

#[tokio::test]
async fn an_unlinked_account_never_connects_until_login_writes_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let acct = dir.path().join("credentials/whatsapp/default");
    std::fs::create_dir_all(&acct).unwrap();
    let marker = acct.join("linked");
    let link = Arc::new(FakeLink::default());
    *link.scripts.lock().unwrap() = vec![(vec![LinkEvent::Connected { self_jid: None }], true)];
    let running = Running::spawn(
        WhatsAppDriver::new(
            &AccountConfig::new("whatsapp", "default"),
            link.clone(),
            policy(),
            Some(acct.clone()),
            false,
        )
        .with_link_marker(marker.clone()),
        4,
    );
    let d = running.driver.clone();
    wait_for("the not-linked status", || {
        d.status()
            .last_error
            .is_some_and(|e| e.contains("channels login --channel whatsapp"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        link.connects.lock().unwrap().is_empty(),
        "no socket while unlinked"
    );
    let st = d.status();
    assert!(st.running && !st.linked && !st.connected);
    // While waiting it does not hold the account lock: a login can take it.
    drop(openclaw_channel_whatsapp::AccountLock::acquire(&acct).expect("lock is free"));
    std::fs::write(&marker, b"{}").unwrap();
    wait_for("connected after the link", || d.status().connected).await;
    assert!(d.status().linked);
    assert_eq!(link.connects.lock().unwrap().len(), 1);
    // Logout removes the marker again.
    d.logout().await.unwrap();
    assert!(!marker.exists());
    running.stop().await;
}
