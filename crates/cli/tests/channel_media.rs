//! Media across the trust boundary, through the real binary against the loopback fake Telegram
//! Bot API: `send` uploads local files only from the allowed roots (workspace, `<state>/media`,
//! `mediaLocalRoots`) and refuses everything else before anything reaches the chat; inbound
//! attachments are fetched only for admitted senders, capped whatever the sender declares,
//! downloaded off the poll loop (in order per session), and swept after `media.ttlHours`.

mod common;

use std::time::Duration;

use common::*;
use openclaw_testkit::FakeOpenAi;
use openclaw_testkit::telegram::{FAKE_TOKEN, FakeTelegram};
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];
const OWNER: i64 = 111;
const FRIEND: i64 = 222;

fn config(
    home: &Home,
    tg: &FakeTelegram,
    llm: &FakeOpenAi,
    extra_root: Option<&std::path::Path>,
) -> Value {
    let mut cfg = token_config(home);
    cfg["models"] = json!({"providers": {"fake": {"baseUrl": llm.url(), "api": "openai-completions",
        "apiKey": "k", "models": [{"id": "m1"}]}}});
    cfg["agents"] =
        json!({"defaults": {"model": {"primary": "fake/m1"}, "workspace": home.path().join("ws")}});
    cfg["channels"] = json!({"telegram": {"botToken": FAKE_TOKEN, "apiRoot": tg.url(),
        "dmPolicy": "allowlist", "allowFrom": [OWNER.to_string(), FRIEND.to_string()]}});
    cfg["session"] = json!({"dmScope": "per-peer"});
    if let Some(r) = extra_root {
        cfg["channels"]["telegram"]["mediaLocalRoots"] = json!([r]);
    }
    cfg
}

fn uploads(tg: &FakeTelegram) -> Vec<Value> {
    tg.sent_messages()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_reads_local_media_only_under_the_allowed_roots() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    let extra = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    home.write_config(&config(&home, &tg, &llm, Some(extra.path())));
    let ws = home.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("report.pdf"), b"%PDF-1.7 in the workspace").unwrap();
    let private = outside.path().join("notes.txt");
    std::fs::write(&private, b"private").unwrap();
    std::os::unix::fs::symlink(home.config_path(), ws.join("innocent.pdf")).unwrap();
    std::os::unix::fs::symlink(outside.path(), ws.join("subdir")).unwrap();
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    wait_for("the poller", || tg.count("getUpdates") >= 1).await;
    let state = gw.home.state_dir();

    let send = |id: &str, media: &str| {
        json!({"channel": "telegram", "to": OWNER.to_string(), "message": "here you go",
               "mediaUrl": media, "idempotencyKey": id})
    };
    let refused = [
        gw.home.config_path().display().to_string(), // tokens and API keys
        state.join("devices/paired.json").display().to_string(),
        private.display().to_string(),
        ws.join("innocent.pdf").display().to_string(), // symlink in the workspace → config
        ws.join("subdir/notes.txt").display().to_string(), // through a symlinked directory
        format!("{}/../openclaw.json", ws.display()),
        "/etc/passwd".to_string(),
    ];
    for (i, path) in refused.iter().enumerate() {
        let r = raw
            .req(&format!("r{i}"), "send", Some(send(&format!("k{i}"), path)))
            .await;
        assert_eq!(r["ok"], false, "{path}: {r}");
        assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{path}: {r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Local media path is not under an allowed directory"),
            "{path}: {r}"
        );
    }
    assert!(
        uploads(&tg).is_empty(),
        "nothing reached the chat: {:?}",
        uploads(&tg)
    );

    // Under the roots it is still sent: workspace, <state>/media, mediaLocalRoots.
    std::fs::create_dir_all(state.join("media")).unwrap();
    std::fs::write(state.join("media/chart.png"), b"\x89PNG chart").unwrap();
    std::fs::write(extra.path().join("extra.pdf"), b"%PDF extra").unwrap();
    for (i, path) in [
        ws.join("report.pdf"),
        state.join("media/chart.png"),
        extra.path().join("extra.pdf"),
    ]
    .iter()
    .enumerate()
    {
        let r = raw
            .req(
                &format!("ok{i}"),
                "send",
                Some(send(&format!("ok{i}"), &path.display().to_string())),
            )
            .await;
        assert_eq!(r["ok"], true, "{}: {r}", path.display());
    }
    let sent = uploads(&tg);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(sent[0]["_method"], "sendDocument");
    assert_eq!(sent[0]["document"]["_size"], 25);
    assert_eq!(sent[1]["_method"], "sendPhoto");
    assert_eq!(sent[2]["document"]["_file"], "extra.pdf");
}

fn inbound_files(state: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(state.join("media/inbound"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// A private-chat photo (one size) from `from`.
fn photo(tg: &FakeTelegram, from: i64, file_id: &str, declared: u64, caption: &str) {
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(50_000);
    let message_id = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    tg.push_update(
        json!({"message": {"message_id": message_id, "date": 1_700_000_000,
        "chat": {"id": from, "type": "private"}, "from": {"id": from, "first_name": "P"},
        "caption": caption,
        "photo": [{"file_id": file_id, "width": 800, "height": 600, "file_size": declared}]}}),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_media_is_fetched_after_access_control_capped_and_off_the_poll_loop() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    let mut cfg = config(&home, &tg, &llm, None);
    cfg["channels"]["telegram"]["mediaMaxMb"] = json!(1);
    home.write_config(&cfg);
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let state = gw.home.state_dir();

    // A stranger's photo is never fetched: no getFile, no download, nothing on disk.
    let bait = tg.add_file("bait.jpg", vec![1u8; 1000]);
    photo(&tg, 999, &bait, 1000, "look at this");
    tg.push_dm(OWNER, "first");
    wait_for("the owner's reply", || {
        tg.replies_to(OWNER, "echo: first") == 1
    })
    .await;
    assert_eq!((tg.count("getFile"), tg.count("download")), (0, 0));
    assert!(inbound_files(&state).is_empty());

    // A lying declared size: cut off at mediaMaxMb while streaming, nothing left behind, and
    // the agent is told.
    let liar = tg.add_file("liar.jpg", vec![0u8; 2 * 1024 * 1024 + 10]);
    photo(&tg, OWNER, &liar, 10, "tiny, promise");
    wait_for("the reply to the liar", || {
        tg.replies_to(OWNER, "image not downloaded") == 1
    })
    .await;
    assert_eq!(tg.count("download"), 1);
    assert!(
        inbound_files(&state).is_empty(),
        "{:?}",
        inbound_files(&state)
    );

    // A stalled download holds neither the poll loop nor other sessions.
    let slow = tg.add_file("slow.jpg", b"\xff\xd8 slow jpeg".to_vec());
    tg.stall_file(&slow);
    photo(&tg, OWNER, &slow, 13, "slow one");
    wait_for("the stalled download to start", || {
        tg.count("download") == 2
    })
    .await;
    tg.push_dm(OWNER, "after the photo"); // same session: must wait for the photo
    tg.push_dm(FRIEND, "meanwhile");
    wait_for("the friend's reply", || {
        tg.replies_to(FRIEND, "echo: meanwhile") == 1
    })
    .await;
    wait_for("both updates acknowledged", || tg.pending_updates() == 0).await;
    assert_eq!(tg.replies_to(OWNER, "slow one"), 0);
    tg.release_files();
    wait_for("the photo's reply", || {
        tg.replies_to(OWNER, "slow one") == 1
    })
    .await;
    wait_for("the later reply", || {
        tg.replies_to(OWNER, "echo: after the photo") == 1
    })
    .await;
    // In order within the session: the photo's run came before the later text's.
    let order: Vec<usize> = ["slow one", "after the photo"]
        .iter()
        .map(|t| {
            llm.requests()
                .iter()
                .position(|r| {
                    r["messages"]
                        .as_array()
                        .and_then(|m| m.iter().rev().find(|x| x["role"] == "user"))
                        .is_some_and(|u| u["content"].to_string().contains(t))
                })
                .unwrap()
        })
        .collect();
    assert!(order[0] < order[1], "{order:?}");
    let files = inbound_files(&state);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), b"\xff\xd8 slow jpeg");
    assert_eq!(file_mode(&files[0]), 0o600);
    let path = files[0].display().to_string();
    assert!(
        llm.requests().iter().any(|r| r.to_string().contains(&path)),
        "the agent saw the file path"
    );
}

fn age(path: &std::path::Path, days: u64) {
    let t = std::time::SystemTime::now() - Duration::from_secs(days * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_inbound_media_is_swept() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    let mut cfg = config(&home, &tg, &llm, None);
    cfg["media"] = json!({"ttlHours": 48});
    home.write_config(&cfg);
    let inbound = home.state_dir().join("media/inbound");
    std::fs::create_dir_all(&inbound).unwrap();
    for (name, days) in [("old.jpg", 3), ("fresh.jpg", 1)] {
        std::fs::write(inbound.join(name), b"x").unwrap();
        age(&inbound.join(name), days);
    }
    let gw = Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("OPENCLAW_TEST_MEDIA_SWEEP_MS", "100")],
    );
    wait_for("the sweep at start", || !inbound.join("old.jpg").exists()).await;
    // And periodically afterwards.
    std::fs::write(inbound.join("later.jpg"), b"x").unwrap();
    age(&inbound.join("later.jpg"), 5);
    wait_for("the periodic sweep", || !inbound.join("later.jpg").exists()).await;
    assert!(
        inbound.join("fresh.jpg").exists(),
        "younger than media.ttlHours"
    );
    drop(gw);
}
