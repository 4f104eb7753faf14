//! Switching from the reference: a home the reference gateway 2026.9.6 wrote (its SQLite state;
//! how the fixture was made is told in `crates/migrate/tests/import.rs`) is imported by
//! `openclaw doctor --non-interactive`, and then our gateway on that home shows the old
//! conversations, admits the paired operator device with the device token the reference
//! issued (from a remote address, where nothing is paired silently), lets the approved
//! Telegram sender through, and a second `doctor` finds nothing to do. The reference's
//! databases are byte-identical afterwards.

use std::path::{Path, PathBuf};
use std::time::Duration;

use openclaw_testkit::gateway::*;
use openclaw_testkit::telegram::{FAKE_TOKEN, FakeTelegram};
use openclaw_testkit::wait::wait_for;
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

const FIXTURE: &str = "../migrate/tests/fixtures/reference-2026.9.6-home.tgz";
/// The operator device paired on the reference (seed 0x01 × 32) and the token it was issued.
const OPERATOR_ID: &str = "34750f98bd59fcfc946da45aaabe933be154a4b5094e1c4abf42866505f3c97e";
const OPERATOR_TOKEN: &str = "_8TlNT1K5li8bo9BEgQznV-W02YOGYhcWSxMhJGwvrE";
/// The Telegram user the reference's owner approved (`openclaw pairing approve telegram …`).
const APPROVED: i64 = 4242;

/// Unpacks the fixture's state (`state/`, `agents/`) into `home`'s state dir.
fn unpack_into(home: &Home) {
    let tmp = tempfile::tempdir().unwrap();
    let tgz = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let st = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(st.success());
    let from = tmp.path().join("home/.openclaw");
    let to = home.state_dir();
    for rel in [
        "state/openclaw.sqlite",
        "state/openclaw.sqlite-wal",
        "agents/main/agent/openclaw-agent.sqlite",
    ] {
        let dst = to.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(from.join(rel), &dst).unwrap();
    }
}

fn databases(home: &Home) -> Vec<(PathBuf, Vec<u8>)> {
    [
        "state/openclaw.sqlite",
        "state/openclaw.sqlite-wal",
        "agents/main/agent/openclaw-agent.sqlite",
    ]
    .iter()
    .map(|rel| {
        let p = home.state_dir().join(rel);
        let b = std::fs::read(&p).unwrap();
        (p, b)
    })
    .collect()
}

fn doctor_json(home: &Home) -> Value {
    let (code, out, err) = run_cli(home, &["doctor", "--non-interactive", "--json"], &[]);
    let v: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("doctor output ({e}): {out}\n{err}"));
    assert!(code == 0 || code == 1, "doctor exit {code}: {err}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_home_carries_over_after_doctor() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    let mut cfg = fake_model_config(&home, &llm.url());
    cfg["gateway"]["trustedProxies"] = json!(["127.0.0.1"]);
    cfg["channels"] = json!({"telegram": {"botToken": FAKE_TOKEN, "apiRoot": tg.url(),
        "dmPolicy": "pairing"}});
    home.write_config(&cfg);
    unpack_into(&home);
    let before = databases(&home);

    // Plain doctor reports what would carry over and changes nothing.
    let (_, out, _) = run_cli(&home, &["doctor"], &[]);
    assert!(out.contains("not imported yet"), "{out}");
    assert!(!home.state_dir().join("devices/paired.json").exists());

    let report = doctor_json(&home);
    let imported = report["referenceImport"]["imported"].as_u64().unwrap_or(0);
    assert!(imported >= 8, "{report}");
    assert!(
        report["referenceImport"]["errors"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{report}"
    );

    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), &["operator.read", "operator.write"]).await;
    // Every message of the session with the tool call, in order.
    let h = raw
        .req(
            "h",
            "chat.history",
            Some(json!({"sessionKey": "agent:main:fixture-tools"})),
        )
        .await;
    let roles: Vec<&str> = h["payload"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{h}"))
        .iter()
        .map(|m| m["role"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        roles,
        [
            "user",
            "assistant",
            "user",
            "assistant",
            "user",
            "assistant",
            "toolResult",
            "assistant"
        ],
        "{h}"
    );
    let list = raw.req("l", "sessions.list", Some(json!({}))).await;
    let keys: Vec<&str> = list["payload"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"agent:main:main") && keys.contains(&"agent:main:fixture-tools"),
        "{keys:?}"
    );

    // Both of the user's cron jobs, with their schedules (the reference's own heartbeat and
    // plugin jobs are not carried over); the next run is ours to compute.
    let cron = raw.req("c", "cron.list", Some(json!({}))).await;
    let jobs = cron["payload"]["jobs"]
        .as_array()
        .unwrap_or_else(|| panic!("{cron}"));
    let by_name = |n: &str| {
        jobs.iter()
            .find(|j| j["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("no job {n}: {cron}"))
    };
    assert_eq!(jobs.len(), 2, "{cron}");
    let brief = by_name("morning brief");
    assert_eq!(
        brief["schedule"],
        json!({"kind": "cron", "expr": "0 9 * * *", "tz": "Europe/Berlin"})
    );
    assert_eq!(brief["payload"]["message"], "Summarise my day");
    let water = by_name("water reminder");
    assert_eq!(water["schedule"]["kind"], "every");
    assert_eq!(water["schedule"]["everyMs"], 7_200_000);
    assert_eq!(water["payload"]["text"], "Drink water");

    // The exec allowlist entry is the gateway's exec policy now.
    let (mut admin, _) = connected(&gw.url(), &["operator.admin"]).await;
    let ap = admin.req("x", "exec.approvals.get", Some(json!({}))).await;
    assert_eq!(
        ap["payload"]["file"]["agents"]["main"]["allowlist"][0]["pattern"], "/usr/bin/echo",
        "{ap}"
    );

    // The paired operator device, from a remote address, with only its old device token.
    let key = ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]);
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            key.verifying_key().to_bytes()
        )),
        OPERATOR_ID
    );
    let (_dev, res) = device_connect_from(
        &gw.url(),
        "203.0.113.9",
        &key,
        &["operator.read"],
        json!({"deviceToken": OPERATOR_TOKEN}),
        OPERATOR_TOKEN,
    )
    .await;
    assert_eq!(res["ok"], true, "{res}");
    // A stranger's key with the same token is not admitted.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[2u8; 32]);
    let (_s, res) = device_connect_from(
        &gw.url(),
        "203.0.113.9",
        &stranger,
        &["operator.read"],
        json!({"deviceToken": OPERATOR_TOKEN}),
        OPERATOR_TOKEN,
    )
    .await;
    assert_eq!(res["ok"], false, "{res}");

    // The approved Telegram sender reaches the agent; a stranger gets a pairing code instead.
    llm.push(Script::text("hello again, Ann"));
    tg.push_dm(APPROVED, "are you still there?");
    wait_for("the approved sender's reply", || {
        tg.replies_to(APPROVED, "hello again, Ann") == 1
    })
    .await;
    tg.push_dm(777, "who are you?");
    wait_for("a pairing code for the stranger", || {
        tg.replies_to(777, "pairing code") >= 1
    })
    .await;
    assert_eq!(tg.replies_to(777, "hello again"), 0);

    // A second doctor finds everything present; the reference's files never changed.
    drop(raw);
    let mut gw = gw;
    gw.signal(libc::SIGTERM);
    assert!(gw.wait_exit(Duration::from_secs(10)).is_some());
    let home = gw.into_home();
    let again = doctor_json(&home);
    assert_eq!(again["referenceImport"]["imported"], 0, "{again}");
    assert!(
        again["referenceImport"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "present"),
        "{again}"
    );
    assert!(databases(&home) == before, "a reference database changed");
}
