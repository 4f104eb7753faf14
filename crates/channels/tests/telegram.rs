//! The Telegram driver against the loopback fake Bot API: delivery + ack-gated offsets, crash
//! and restart without loss or duplicates, 409/429/5xx/dropped connections, sending (chunks,
//! HTML fallback, uploads), media download, and access control on real inbound messages.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openclaw_channels::telegram::{self, Tuning};
use openclaw_channels::{
    Access, AccountConfig, CancelToken, ChannelDriver, ChannelError, ChatType, DmPolicy, Inbound,
    OutboundMedia, OutboundMessage, PairingStore, Supervised, SupervisorConfig, check_access,
};
use openclaw_testkit::telegram::{FakeReply, FakeTelegram};
use openclaw_testkit::wait::wait_for;
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn cfg(fake: &FakeTelegram, token: &str) -> AccountConfig {
    let mut c = AccountConfig::new("telegram", "default");
    c.bot_token = Some(token.to_string());
    c.api_root = fake.url();
    c.dm_policy = DmPolicy::Allowlist;
    c.allow_from = vec!["42".into()];
    c
}

fn tuning() -> Tuning {
    Tuning {
        poll_timeout: Duration::from_secs(1),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        max_retry_after: Duration::from_secs(5),
        stall_grace: Duration::from_millis(500),
    }
}

fn fast_supervisor() -> SupervisorConfig {
    SupervisorConfig {
        backoff: openclaw_channels::Backoff::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
            2.0,
            0.0,
        ),
        healthy_after: Duration::from_secs(60),
    }
}

async fn recv(rx: &mut mpsc::Receiver<Inbound>) -> Inbound {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("timed out waiting for inbound")
        .expect("sink closed")
}

fn offset(state: &Path) -> Option<i64> {
    let b = std::fs::read(state.join("telegram/update-offset-default.json")).ok()?;
    serde_json::from_slice::<Value>(&b)
        .ok()?
        .get("lastUpdateId")?
        .as_i64()
}

/// A driver running in its own task, and the receiving end of what it delivers.
struct Running {
    driver: Arc<dyn ChannelDriver>,
    rx: mpsc::Receiver<Inbound>,
    cancel: CancelToken,
    task: tokio::task::JoinHandle<Result<(), ChannelError>>,
}

/// Runs a driver of account `c` keeping its state under `state`.
fn run_driver(c: &AccountConfig, state: &Path) -> Running {
    let driver = telegram::driver_with(c, state, tuning()).unwrap();
    let (tx, rx) = mpsc::channel(4);
    let cancel = CancelToken::new();
    let (d, cc) = (driver.clone(), cancel.clone());
    let task = tokio::spawn(async move { d.run(tx, cc).await });
    Running {
        driver,
        rx,
        cancel,
        task,
    }
}

impl Running {
    /// The driver's last error, `""` when none.
    fn last_error(&self) -> String {
        self.driver.status().last_error.unwrap_or_default()
    }
}

/// When each `getUpdates` reached the fake, in order.
fn poll_times(fake: &FakeTelegram) -> Vec<Instant> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "getUpdates")
        .map(|r| r.at)
        .collect()
}

/// The fake and a fresh state directory.
async fn fake_and_state() -> (FakeTelegram, tempfile::TempDir) {
    (FakeTelegram::start().await, tempfile::tempdir().unwrap())
}

/// A fake answering with the `failures` first, and a driver of bot `token` on it that got the
/// DM `text` from the allowed user through them.
async fn delivered_despite(
    failures: Vec<(&str, FakeReply)>,
    token: &str,
    text: &str,
) -> (FakeTelegram, tempfile::TempDir, Running) {
    let (fake, state) = fake_and_state().await;
    for (method, reply) in failures {
        fake.inject(method, reply);
    }
    fake.push_dm(42, text);
    let mut running = run_driver(&cfg(&fake, token), state.path());
    let m = recv(&mut running.rx).await;
    assert_eq!(m.message.text, text);
    (fake, state, running)
}

#[tokio::test]
async fn dm_reaches_sink_and_offset_advances_only_after_ack() {
    let (fake, state) = fake_and_state().await;
    let c = cfg(&fake, "2001:A");
    let id = fake.push_dm(42, "hello <bot>");
    let Running {
        driver: d,
        mut rx,
        cancel,
        task,
    } = run_driver(&c, state.path());

    let inbound = recv(&mut rx).await;
    let m = &inbound.message;
    assert_eq!(
        (m.channel.as_str(), m.chat_id.as_str(), m.sender_id.as_str()),
        ("telegram", "42", "42")
    );
    assert_eq!(m.chat_type, ChatType::Direct);
    assert_eq!(m.text, "hello <bot>");
    assert_eq!(m.sender_username.as_deref(), Some("alice"));
    let store = PairingStore::new(state.path(), "telegram", "default");
    assert_eq!(check_access(&c, m, &store), Access::Allow);

    // Not acknowledged yet: nothing persisted, even after a while.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(offset(state.path()), None);
    inbound.ack.send(()).unwrap();
    wait_for("offset persisted", || offset(state.path()) == Some(id)).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = state.path().join("telegram/update-offset-default.json");
        assert_eq!(
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let st = d.status();
    assert!(st.running && st.connected && st.last_inbound_at.is_some());
    assert_eq!(st.bot_username.as_deref(), Some("openclaw_test_bot"));

    // A stranger is delivered by the driver but denied by the allowlist.
    fake.push_dm(7, "let me in");
    let stranger = recv(&mut rx).await;
    assert!(matches!(
        check_access(&c, &stranger.message, &store),
        Access::Deny(_)
    ));
    stranger.ack.send(()).unwrap();

    cancel.cancel();
    assert!(task.await.unwrap().is_ok());
    assert!(!d.status().running);
}

#[tokio::test]
async fn crash_between_receive_and_ack_neither_loses_nor_duplicates() {
    let (fake, state) = fake_and_state().await;
    let c = cfg(&fake, "2002:A");
    let u1 = fake.push_dm(42, "one");
    let u2 = fake.push_dm(42, "two");

    let Running {
        driver: d1,
        mut rx,
        task: task1,
        ..
    } = run_driver(&c, state.path());
    let first = recv(&mut rx).await;
    assert_eq!(first.message.text, "one");
    first.ack.send(()).unwrap();
    wait_for("u1 persisted", || offset(state.path()) == Some(u1)).await;
    let second = recv(&mut rx).await;
    assert_eq!(second.message.text, "two");
    // kill -9: the task vanishes between receiving "two" and acknowledging it.
    task1.abort();
    let _ = task1.await;
    drop(second);
    drop(d1);
    assert_eq!(offset(state.path()), Some(u1));

    let u3 = fake.push_dm(42, "three");
    let Running {
        mut rx,
        cancel: c2,
        task: task2,
        ..
    } = run_driver(&c, state.path());
    let again = recv(&mut rx).await;
    assert_eq!(
        again.message.text, "two",
        "the un-acked update is redelivered, the acked one is not"
    );
    again.ack.send(()).unwrap();
    let third = recv(&mut rx).await;
    assert_eq!(third.message.text, "three");
    third.ack.send(()).unwrap();
    wait_for("u3 persisted", || offset(state.path()) == Some(u3)).await;
    assert!(u2 < u3);
    c2.cancel();
    task2.await.unwrap().unwrap();
    assert!(rx.try_recv().is_err(), "no duplicates");
}

#[tokio::test]
async fn dropped_ack_ends_the_run_and_the_supervisor_redelivers() {
    let (fake, state) = fake_and_state().await;
    let c = cfg(&fake, "2003:A");
    fake.push_dm(42, "retry me");
    let d = telegram::driver_with(&c, state.path(), tuning()).unwrap();
    let (tx, mut rx) = mpsc::channel(4);
    let sup = Supervised::spawn_with(d, tx, CancelToken::new(), fast_supervisor());
    drop(recv(&mut rx).await); // consumer failed before hand-over
    let again = recv(&mut rx).await;
    assert_eq!(again.message.text, "retry me");
    again.ack.send(()).unwrap();
    let st = sup.status();
    assert!(
        st.last_error
            .unwrap_or_default()
            .contains("not acknowledged")
    );
    assert!(st.reconnects >= 1);
    sup.stop().await;
}

#[tokio::test]
async fn conflict_409_is_reported_and_backed_off_not_a_tight_loop() {
    let (fake, state) = fake_and_state().await;
    for _ in 0..100 {
        fake.inject("getUpdates", FakeReply::Conflict409);
    }
    let d = telegram::driver_with(&cfg(&fake, "2004:A"), state.path(), tuning()).unwrap();
    let (tx, _rx) = mpsc::channel(4);
    let sup = Supervised::spawn_with(d, tx, CancelToken::new(), fast_supervisor());
    wait_for("conflict in status", || {
        sup.status()
            .last_error
            .is_some_and(|e| e.contains("another poller uses this bot token"))
    })
    .await;
    // Backed off, not a tight loop: each retry waits at least the backoff's lower bound
    // (50 ms doubling to the 400 ms cap, minus 20 % jitter). Lower bounds only: the wait is
    // on the polls themselves, so a slow machine cannot fail this.
    wait_for("six getUpdates attempts", || fake.count("getUpdates") >= 6).await;
    let polls = poll_times(&fake);
    for (i, pair) in polls.windows(2).take(5).enumerate() {
        let floor = Duration::from_millis((50u64 << i).min(400) * 8 / 10);
        let gap = pair[1] - pair[0];
        assert!(gap >= floor, "retry {i} after {gap:?}, below {floor:?}");
    }
    let st = sup.status();
    assert!(st.running, "the process keeps the channel running");
    assert!(!st.connected);
    sup.stop().await;
}

#[tokio::test]
async fn rate_limit_retry_after_is_honoured() {
    let (fake, _state, running) = delivered_despite(
        vec![("getUpdates", FakeReply::TooMany { retry_after: 1 })],
        "2005:A",
        "after the wait",
    )
    .await;
    let polls = poll_times(&fake);
    assert!(polls.len() >= 2);
    let gap = polls[1] - polls[0];
    assert!(
        gap >= Duration::from_millis(950),
        "retry_after not honoured: {gap:?}"
    );
    assert!(running.last_error().contains("retry after 1s"));
    running.cancel.cancel();
}

#[tokio::test]
async fn a_stalled_long_poll_is_abandoned_and_polling_resumes() {
    let (fake, _state, running) = delivered_despite(
        vec![("getUpdates", FakeReply::Stall)],
        "2009:A",
        "after the stall",
    )
    .await;
    assert!(
        fake.count("getUpdates") >= 2,
        "the stalled poll was retried"
    );
    let err = running.last_error();
    assert!(err.contains("getUpdates"), "the stall is visible: {err}");
    running.cancel.cancel();
}

#[tokio::test]
async fn server_errors_and_dropped_connections_are_recovered() {
    let failures = vec![
        ("getMe", FakeReply::Drop),
        ("getUpdates", FakeReply::Server500),
        ("getUpdates", FakeReply::Drop),
        (
            "getUpdates",
            FakeReply::Error {
                code: 200,
                description: "not json".into(),
            },
        ),
    ];
    let (fake, _state, running) = delivered_despite(failures, "2006:A", "still here").await;
    assert!(fake.count("getUpdates") >= 4);
    assert!(!running.last_error().is_empty());
    running.cancel.cancel();
}

#[tokio::test]
async fn unauthorized_get_me_is_fatal_with_the_reference_message() {
    let (fake, state) = fake_and_state().await;
    fake.inject("getMe", FakeReply::Unauthorized401);
    let d = telegram::driver_with(&cfg(&fake, "2007:A"), state.path(), tuning()).unwrap();
    let (tx, _rx) = mpsc::channel(4);
    let err = d.run(tx, CancelToken::new()).await.unwrap_err();
    assert!(
        matches!(err, ChannelError::Unauthorized(ref m) if m == "getMe returned 401"),
        "{err}"
    );
    assert!(
        d.status()
            .last_error
            .unwrap()
            .contains("getMe returned 401")
    );
}

#[tokio::test]
async fn one_poller_per_bot_token_in_process() {
    let (fake, state) = fake_and_state().await;
    let a = run_driver(&cfg(&fake, "2008:A"), state.path());
    let b = telegram::driver_with(&cfg(&fake, "2008:A"), state.path(), tuning()).unwrap();
    wait_for("first poller running", || fake.count("getUpdates") > 0).await;
    let (tx, _rx) = mpsc::channel(4);
    let err = b.run(tx, CancelToken::new()).await.unwrap_err();
    assert!(matches!(err, ChannelError::Conflict(_)), "{err}");
    a.cancel.cancel();
}

#[tokio::test]
async fn send_chunks_long_text_and_falls_back_to_plain_text() {
    let (fake, state) = fake_and_state().await;
    let mut c = cfg(&fake, "2009:A");
    c.text_chunk_limit = 100_000; // clamped to Telegram's 4096
    let d = telegram::driver_with(&c, state.path(), tuning()).unwrap();
    let para = "word ".repeat(500);
    let text = format!("**Title** & <stuff>\n\n{para}\n\n{para}\n\n{para}\n\n{para}");
    let sent = d
        .send(OutboundMessage {
            chat_id: "42".into(),
            text: text.clone(),
            reply_to: Some("5".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let msgs = fake.sent_messages();
    assert_eq!(sent.message_ids.len(), msgs.len());
    assert!(msgs.len() >= 3);
    let mut words = 0;
    for m in &msgs {
        let t = m["text"].as_str().unwrap();
        assert!(t.chars().count() <= 4096);
        assert_eq!(m["parse_mode"], "HTML");
        words += t.matches("word").count();
    }
    assert_eq!(words, 2000, "no content lost");
    assert!(
        msgs[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("<b>Title</b> &amp; &lt;stuff&gt;")
    );
    assert_eq!(msgs[0]["reply_parameters"]["message_id"], 5);
    assert!(msgs[1].get("reply_parameters").is_none());

    fake.inject(
        "sendMessage",
        FakeReply::Error {
            code: 400,
            description: "Bad Request: can't parse entities: Unsupported start tag".into(),
        },
    );
    let before = fake.sent_messages().len();
    d.send(OutboundMessage {
        chat_id: "-1001:topic:7".into(),
        thread_id: Some("7".into()),
        text: "a <b> c".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let msgs = fake.sent_messages();
    assert_eq!(msgs.len(), before + 2);
    let retry = &msgs[before + 1];
    assert_eq!(retry["text"], "a <b> c");
    assert!(retry.get("parse_mode").is_none());
    assert_eq!(retry["message_thread_id"], 7);
    assert_eq!(retry["chat_id"], -1001);
    assert!(d.status().last_outbound_at.is_some());

    let err = d.send(OutboundMessage::text("+15551234567", "x")).await;
    assert!(matches!(err, Err(ChannelError::BadTarget(_))));
}

#[tokio::test]
async fn typing_and_media_out() {
    let (fake, state) = fake_and_state().await;
    let mut c = cfg(&fake, "2010:A");
    c.media_max_mb = 0.001; // ~1 KiB
    let d = telegram::driver_with(&c, state.path(), tuning()).unwrap();
    d.typing("42", Some("9")).await.unwrap();
    let req = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "sendChatAction")
        .unwrap();
    assert_eq!(
        req.body,
        json!({"chat_id": 42, "action": "typing", "message_thread_id": 9})
    );

    let small = state.path().join("report.pdf");
    std::fs::write(&small, vec![b'x'; 100]).unwrap();
    let media = vec![
        OutboundMedia {
            source: small.to_string_lossy().into(),
            mime: Some("application/pdf".into()),
        },
        OutboundMedia {
            source: "https://example.com/cat.jpg".into(),
            mime: None,
        },
    ];
    let sent = d
        .send(OutboundMessage {
            chat_id: "42".into(),
            text: "see *this*".into(),
            media,
            local_roots: vec![state.path().to_path_buf()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(sent.message_ids.len(), 2);
    let msgs = fake.sent_messages();
    assert_eq!(msgs[0]["_method"], "sendDocument");
    assert_eq!(msgs[0]["document"]["_size"], 100);
    assert_eq!(msgs[0]["caption"], "see <i>this</i>");
    assert_eq!(msgs[1]["_method"], "sendPhoto");
    assert_eq!(msgs[1]["photo"], "https://example.com/cat.jpg");

    let big = state.path().join("big.bin");
    std::fs::write(&big, vec![0u8; 4096]).unwrap();
    let err = d
        .send(OutboundMessage {
            chat_id: "42".into(),
            media: vec![OutboundMedia {
                source: big.to_string_lossy().into(),
                mime: None,
            }],
            local_roots: vec![state.path().to_path_buf()],
            ..Default::default()
        })
        .await;
    assert!(matches!(err, Err(ChannelError::TooLarge(_))), "{err:?}");
    let err = d
        .send(OutboundMessage {
            chat_id: "42".into(),
            media: vec![OutboundMedia {
                source: state
                    .path()
                    .join("nonexistent.png")
                    .to_string_lossy()
                    .into(),
                mime: None,
            }],
            local_roots: vec![state.path().to_path_buf()],
            ..Default::default()
        })
        .await;
    assert!(matches!(err, Err(ChannelError::Io(_))), "{err:?}");
    // Outside the roots: refused before anything is sent, even with text that would go first.
    let before = fake.sent_messages().len();
    let err = d
        .send(OutboundMessage {
            chat_id: "42".into(),
            text: "x".repeat(2000), // too long for a caption: would be sent as text first
            media: vec![OutboundMedia {
                source: small.to_string_lossy().into(),
                mime: None,
            }],
            ..Default::default()
        })
        .await;
    assert!(
        matches!(&err, Err(ChannelError::MediaAccess(m)) if m.starts_with(openclaw_channels::LOCAL_MEDIA_NOT_ALLOWED)),
        "{err:?}"
    );
    assert_eq!(fake.sent_messages().len(), before, "nothing was sent");
}

#[tokio::test]
async fn inbound_photos_are_announced_and_download_the_largest_size_on_request() {
    let (fake, state) = fake_and_state().await;
    let small = fake.add_file("s.jpg", b"small".to_vec());
    let large = fake.add_file("l.jpg", b"\xff\xd8 large jpeg".to_vec());
    fake.push_update(json!({"message": {"message_id": 7, "date": 1,
        "chat": {"id": 42, "type": "private"}, "from": {"id": 42, "first_name": "A"},
        "caption": "my cat",
        "photo": [{"file_id": small, "width": 90, "height": 90, "file_size": 5},
                  {"file_id": large, "width": 1280, "height": 1280, "file_size": 13}]}}));
    let Running {
        driver: d,
        mut rx,
        cancel,
        ..
    } = run_driver(&cfg(&fake, "2012:A"), state.path());
    let a = recv(&mut rx).await;
    let m = &a.message;
    assert_eq!(m.text, "my cat\n<media:image>");
    assert_eq!(m.media.len(), 1);
    let p = &m.media[0];
    assert_eq!(
        (
            p.kind.as_str(),
            p.mime.as_deref(),
            p.declared_size,
            p.reference.as_str()
        ),
        ("image", Some("image/jpeg"), Some(13), large.as_str())
    );
    assert!(p.file_name.ends_with("photo.jpg"), "{}", p.file_name);
    // Announced only: nothing was fetched before the consumer (access control) asked.
    assert_eq!((fake.count("getFile"), fake.count("download")), (0, 0));
    let dest = state.path().join("media/inbound").join(&p.file_name);
    assert_eq!(d.download(p, &dest, 1000).await.unwrap(), 13);
    assert_eq!(std::fs::read(&dest).unwrap(), b"\xff\xd8 large jpeg");
    a.ack.send(()).unwrap();
    cancel.cancel();
}

#[tokio::test]
async fn inbound_downloads_are_capped_whatever_the_sender_declares() {
    let (fake, state) = fake_and_state().await;
    let mut c = cfg(&fake, "2011:A");
    c.media_max_mb = 0.001; // ~1 KiB
    let max = c.media_max_bytes();
    let ok_id = fake.add_file("notes.txt", b"file body".to_vec());
    let big_id = fake.add_file("big.bin", vec![0u8; 4096]);
    let doc = |file_id: &str, size: Option<u64>| {
        let mut d =
            json!({"file_id": file_id, "file_name": "notes.txt", "mime_type": "text/plain"});
        if let Some(s) = size {
            d["file_size"] = json!(s);
        }
        json!({"message": {"message_id": 1, "date": 1, "chat": {"id": -100, "type": "supergroup"},
            "from": {"id": 42, "first_name": "A"}, "caption": "@OpenClaw_Test_Bot look", "document": d,
            "caption_entities": [{"type": "mention", "offset": 0, "length": 18}],
            "is_topic_message": true, "message_thread_id": 3}})
    };
    fake.push_update(doc(&ok_id, Some(9)));
    fake.push_update(doc(&big_id, Some(4096))); // refused from the declared size
    fake.push_update(doc(&big_id, Some(9))); // lies: refused while streaming
    let Running {
        driver: d,
        mut rx,
        cancel,
        ..
    } = run_driver(&c, state.path());
    let inbound = state.path().join("media/inbound");

    let a = recv(&mut rx).await;
    let m = &a.message;
    assert_eq!(m.chat_type, ChatType::Group);
    assert_eq!(m.thread_id.as_deref(), Some("3"));
    assert!(m.mentioned);
    assert_eq!(m.media.len(), 1);
    let dest = inbound.join(&m.media[0].file_name);
    assert_eq!(d.download(&m.media[0], &dest, max).await.unwrap(), 9);
    assert_eq!(std::fs::read(&dest).unwrap(), b"file body");
    assert_eq!(m.media[0].mime.as_deref(), Some("text/plain"));
    a.ack.send(()).unwrap();

    let b = recv(&mut rx).await;
    let before = fake.count("getFile");
    let err = d
        .download(&b.message.media[0], &inbound.join("declared.bin"), max)
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::TooLarge(_)), "{err}");
    assert_eq!(
        fake.count("getFile"),
        before,
        "refused before asking Telegram"
    );
    b.ack.send(()).unwrap();

    let b = recv(&mut rx).await;
    let err = d
        .download(&b.message.media[0], &inbound.join("liar.bin"), max)
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::TooLarge(_)), "{err}");
    b.ack.send(()).unwrap();
    let left: Vec<_> = std::fs::read_dir(&inbound)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "partial downloads are removed: {left:?}");
    cancel.cancel();
}
