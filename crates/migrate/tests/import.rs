//! Importing a home the reference gateway 2026.9.6 wrote.
//!
//! The fixture `fixtures/reference-2026.9.6-home.tgz` was made by hand on 2026-12-02 with the
//! npm package `openclaw@2026.9.6` on Node 24.21.0, everything on loopback:
//! 1. `fixtures/make/fake_openai_tools.py 19602` (an OpenAI-compatible fake that answers a
//!    message containing `USE_TOOL` with an `ls` tool call) and `fake_telegram.py 19603` (a Bot
//!    API fake that delivers one DM from user 4242);
//! 2. `openclaw.json` with the fake provider, `channels.telegram` (`apiRoot` = the fake,
//!    `dmPolicy: pairing`), then `openclaw gateway run --bind loopback --port 19570`;
//! 3. `openclaw agent --agent main --message "hello fixture one"` (session `agent:main:main`) and
//!    `openclaw agent --session-key agent:main:fixture-tools --message "... USE_TOOL ..."` (three
//!    turns, the last with a tool call and its result);
//! 4. `openclaw pairing approve telegram <code>` (sender 4242 approved);
//! 5. `openclaw node run --host 127.0.0.1 --port 19570` (another HOME) and
//!    `openclaw nodes approve <requestId>` (a paired node with an approved surface);
//! 6. `node fixtures/make/pair_operator.mjs ws://127.0.0.1:19570 <token> 01…01` (an operator
//!    device with the Ed25519 seed 0x01×32, paired silently on loopback; its device token is in
//!    `operator.json`);
//! 7. `openclaw approvals allowlist add --agent main --gateway /usr/bin/echo`;
//! 8. `openclaw cron add --name "morning brief" --cron "0 9 * * *" --tz Europe/Berlin --session
//!    isolated --message "Summarise my day"` and `openclaw cron add --name "water reminder"
//!    --every 2h --session main --system-event "Drink water"`;
//! 9. the reference's own answers saved next to it (`ref_*.json`), then the gateway stopped with
//!    SIGTERM and `state/openclaw.sqlite` (+ its `-wal`, left non-empty on purpose) and
//!    `agents/main/agent/openclaw-agent.sqlite` packed.

use std::path::{Path, PathBuf};

use openclaw_migrate::{Kind, Status, apply, detect, import_pending, marker_path, plan};
use serde_json::Value;

fn unpack() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let tgz =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference-2026.9.6-home.tgz");
    let st = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let state = dir.path().join("home/.openclaw");
    (dir, state)
}

fn snapshot(paths: &[PathBuf]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for p in paths {
        for suffix in ["", "-wal", "-shm"] {
            let f = PathBuf::from(format!("{}{suffix}", p.display()));
            if let Ok(b) = std::fs::read(&f) {
                out.push((f, b));
            }
        }
    }
    out
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn items(p: &openclaw_migrate::Plan, kind: Kind) -> Vec<(String, Status)> {
    p.items
        .iter()
        .filter(|i| i.kind == kind)
        .map(|i| (i.id.clone(), i.status.clone()))
        .collect()
}

#[test]
fn imports_everything_once_and_leaves_the_databases_untouched() {
    let (_dir, state) = unpack();
    let sources = detect(&state);
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(import_pending(&state));
    let before = snapshot(&sources);
    let files_before: Vec<PathBuf> = std::fs::read_dir(state.join("state"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();

    let p = plan(&state);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let sessions = items(&p, Kind::Session);
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert!(
        sessions.iter().all(|(_, s)| *s == Status::New),
        "{sessions:?}"
    );
    assert_eq!(items(&p, Kind::Device).len(), 2);
    assert_eq!(items(&p, Kind::NodeSurface).len(), 1);
    assert_eq!(
        items(&p, Kind::ApprovedSender),
        vec![("telegram/default/4242".to_string(), Status::New)]
    );
    assert_eq!(items(&p, Kind::ExecApprovals).len(), 1);
    // Only the user's two jobs; the heartbeat and plugin jobs are the reference's machinery.
    assert_eq!(
        items(&p, Kind::CronJob).len(),
        2,
        "{:?}",
        items(&p, Kind::CronJob)
    );
    let n = apply(&state, &p).unwrap();
    assert_eq!(n, p.new_items());

    // Sessions: the index points at transcripts holding every message in order.
    let index = json(&state.join("agents/main/sessions/sessions.json"));
    let tools = &index["agent:main:fixture-tools"];
    let sid = tools["sessionId"].as_str().unwrap();
    assert_eq!(sid, "24828724-79e4-4dac-aa50-a7b20aab2df1");
    let text =
        std::fs::read_to_string(state.join(format!("agents/main/sessions/{sid}.jsonl"))).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "session");
    let roles: Vec<&str> = lines
        .iter()
        .filter(|l| l["type"] == "message")
        .map(|l| l["message"]["role"].as_str().unwrap())
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
        ]
    );
    assert!(text.contains("\"toolCallId\":\"call_fx1\""));

    // Devices keep their tokens; the node keeps its approved surface.
    let paired = json(&state.join("devices/paired.json"));
    let op = &paired["34750f98bd59fcfc946da45aaabe933be154a4b5094e1c4abf42866505f3c97e"];
    assert_eq!(op["role"], "operator");
    assert_eq!(
        op["tokens"]["operator"]["token"],
        "_8TlNT1K5li8bo9BEgQznV-W02YOGYhcWSxMhJGwvrE"
    );
    let nodes = json(&state.join("nodes/paired.json"));
    let node = &nodes["fa0c347a7fffaa8c3836a3490471c037114741ca897b4ddf7cd8cbc670e7f056"];
    assert!(
        node["commands"]
            .as_array()
            .unwrap()
            .contains(&Value::from("system.run"))
    );
    let allow = json(&state.join("credentials/telegram-allowFrom.json"));
    assert_eq!(allow["allowFrom"], serde_json::json!(["4242"]));
    let approvals = json(&state.join("exec-approvals.json"));
    assert_eq!(
        approvals["agents"]["main"]["allowlist"][0]["pattern"],
        "/usr/bin/echo"
    );
    let cron = json(&state.join("cron/jobs.json"));
    let names: Vec<&str> = cron["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["morning brief", "water reminder"]);
    assert_eq!(cron["jobs"][0]["schedule"]["tz"], "Europe/Berlin");
    assert!(cron["jobs"][0]["state"].get("nextRunAtMs").is_none());

    // The databases are byte-identical and no file appeared next to them.
    assert!(snapshot(&sources) == before, "a reference database changed");
    let files_after: Vec<PathBuf> = std::fs::read_dir(state.join("state"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files_after.len(), files_before.len());
    assert!(marker_path(&state).exists());
    assert!(!import_pending(&state));

    // A second run finds everything present and writes nothing.
    let again = plan(&state);
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    assert!(again.is_noop(), "{:?}", again.items);
    assert!(
        again.items.iter().all(|i| i.status == Status::Present),
        "{:?}",
        again.items
    );
}

#[test]
fn data_of_ours_under_the_same_identity_is_a_reported_conflict_left_alone() {
    let (_dir, state) = unpack();
    let sessions = state.join("agents/main/sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let ours = r#"{"agent:main:main":{"sessionId":"ours-1","updatedAt":1}}"#;
    std::fs::write(sessions.join("sessions.json"), ours).unwrap();
    std::fs::write(
        state.join("exec-approvals.json"),
        r#"{"version":1,"agents":{}}"#,
    )
    .unwrap();
    let p = plan(&state);
    let main = p
        .items
        .iter()
        .find(|i| i.kind == Kind::Session && i.id == "main/agent:main:main")
        .unwrap();
    assert!(
        matches!(&main.status, Status::Conflict(m) if m.contains("ours-1")),
        "{main:?}"
    );
    assert!(matches!(
        &items(&p, Kind::ExecApprovals)[0].1,
        Status::Conflict(_)
    ));
    apply(&state, &p).unwrap();
    let index = json(&sessions.join("sessions.json"));
    assert_eq!(index["agent:main:main"]["sessionId"], "ours-1");
    assert!(index.get("agent:main:fixture-tools").is_some());
    assert_eq!(
        std::fs::read_to_string(state.join("exec-approvals.json")).unwrap(),
        r#"{"version":1,"agents":{}}"#
    );
}

#[test]
fn a_corrupt_or_unknown_database_is_named_and_nothing_is_taken_from_it() {
    let (_dir, state) = unpack();
    let agent_db = state.join("agents/main/agent/openclaw-agent.sqlite");
    let mut bytes = std::fs::read(&agent_db).unwrap();
    for b in bytes.iter_mut().skip(100).take(4000) {
        *b = 0x5a;
    }
    std::fs::write(&agent_db, &bytes).unwrap();
    let p = plan(&state);
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert!(
        p.errors[0].contains("openclaw-agent.sqlite"),
        "{}",
        p.errors[0]
    );
    assert!(items(&p, Kind::Session).is_empty());
    // The global database still imports.
    assert_eq!(items(&p, Kind::Device).len(), 2);
    apply(&state, &p).unwrap();
    assert!(
        std::fs::read(&agent_db).unwrap() == bytes,
        "the corrupt file changed"
    );
    assert!(!state.join("agents/main/sessions/sessions.json").exists());

    // An unknown schema version is refused by name.
    let (_dir2, state2) = unpack();
    let db = state2.join("state/openclaw.sqlite");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE schema_meta SET schema_version = 99 WHERE meta_key = 'primary'",
            [],
        )
        .unwrap();
    let p = plan(&state2);
    assert!(
        p.errors
            .iter()
            .any(|e| e.contains("schema version 99") && e.contains("openclaw.sqlite")),
        "{:?}",
        p.errors
    );
    assert!(items(&p, Kind::Device).is_empty());
}

#[test]
fn a_database_locked_by_another_process_is_refused_by_name() {
    let (_dir, state) = unpack();
    let db = state.join("state/openclaw.sqlite");
    // Another process's exclusive lock, as a writer mid-checkpoint holds it.
    let holder = rusqlite::Connection::open(&db).unwrap();
    // Opened in shared WAL mode first (that is when `-shm` appears), then held exclusively.
    holder
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE t_lock(x);")
        .unwrap();
    let p = plan(&state);
    assert!(
        p.errors
            .iter()
            .any(|e| e.contains("locked") && e.contains("state/openclaw.sqlite")),
        "{:?}",
        p.errors
    );
    assert!(items(&p, Kind::Device).is_empty());
    holder.execute_batch("ROLLBACK").unwrap();
}

/// With the reference still running (WAL open, `-shm` present) the snapshot goes through SQLite
/// in one read transaction; the data files are not changed by reading.
#[test]
fn a_live_database_is_read_through_sqlite_without_changing_its_data() {
    let (_dir, state) = unpack();
    let db = state.join("state/openclaw.sqlite");
    let other = rusqlite::Connection::open(&db).unwrap();
    other
        .query_row("SELECT count(*) FROM device_pairing_paired", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap();
    let main_before = std::fs::read(&db).unwrap();
    let p = plan(&state);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(items(&p, Kind::Device).len(), 2);
    assert!(
        std::fs::read(&db).unwrap() == main_before,
        "the database changed"
    );
    drop(other);
}
