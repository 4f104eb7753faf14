//! The cron scheduler through the real binary, with a test clock (`OPENCLAW_TEST_CLOCK` names a
//! file holding "now" in epoch ms; the tests move time by writing it, never by sleeping), a
//! fake model and a fake Telegram on loopback: an `every` job fires on its slots and its reply
//! reaches the chat once; a Berlin cron job fires at 09:00 local on both sides of the DST
//! change; an `at` job with `deleteAfterRun` runs once and disappears; kill -9 while a job is
//! due or running, then a restart, gives exactly one completed run and one message; a reminder
//! created by the `cron` tool from a Telegram DM answers in that DM; `cron.update` re-arms the
//! (real) timer; a reference-shaped jobs file lists as the reference listed it; bad inputs
//! name their field; the CLI speaks the same methods.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use openclaw_testkit::telegram::{FAKE_TOKEN, FakeTelegram};
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];
const OWNER: i64 = 111;
/// 2027-01-15T08:00:00Z: an arbitrary "now" for the test clock.
const T0: u64 = 1_800_000_000_000;

/// A test clock file set to `ms`.
struct Clock(PathBuf);

impl Clock {
    fn new(home: &Home, ms: u64) -> Clock {
        let c = Clock(home.path().join("clock"));
        c.set(ms);
        c
    }
    fn set(&self, ms: u64) {
        let tmp = self.0.with_extension("tmp");
        std::fs::write(&tmp, ms.to_string()).unwrap();
        std::fs::rename(&tmp, &self.0).unwrap();
    }
    fn env(&self) -> String {
        self.0.display().to_string()
    }
}

fn start(home: Home, clock: &Clock) -> Gateway {
    let env = clock.env();
    Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("OPENCLAW_TEST_CLOCK", env.as_str())],
    )
}

fn telegram_config(home: &Home, tg: &FakeTelegram, llm: &FakeOpenAi) -> Value {
    let mut cfg = fake_model_config(home, &llm.url());
    cfg["channels"] = json!({"telegram": {"botToken": FAKE_TOKEN, "apiRoot": tg.url(),
        "dmPolicy": "allowlist", "allowFrom": [OWNER.to_string()]}});
    cfg
}

fn kill_9(mut gw: Gateway) -> Home {
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5)).expect("killed");
    gw.into_home()
}

async fn ok(raw: &mut Raw, method: &str, params: Value) -> Value {
    let r = raw.call(method, params).await;
    assert_eq!(r["ok"], true, "{method} failed: {r}");
    r["payload"].clone()
}

async fn runs_of(raw: &mut Raw, id: &str) -> Vec<Value> {
    ok(raw, "cron.runs", json!({"id": id})).await["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls `cron.runs` until the job has `n` finished runs (bounded).
async fn wait_runs(raw: &mut Raw, id: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = runs_of(raw, id).await;
        if runs.len() >= n {
            assert_eq!(runs.len(), n, "more runs than expected: {runs:?}");
            return runs;
        }
        assert!(
            Instant::now() < deadline,
            "waited for {n} runs of {id}: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// The next `cron` event with this action.
async fn cron_event(raw: &mut Raw, action: &str) -> Value {
    loop {
        let ev = raw.event("cron").await;
        if ev["payload"]["action"] == action {
            return ev;
        }
    }
}

async fn job(raw: &mut Raw, id: &str) -> Option<Value> {
    let list = ok(raw, "cron.list", json!({"includeDisabled": true})).await;
    list["jobs"]
        .as_array()
        .and_then(|a| a.iter().find(|j| j["id"] == id).cloned())
}

/// Regression (found by the soak, issue 19): every run of an isolated job starts on a fresh
/// transcript. Before, each firing appended to one transcript, so the prompt of run N carried
/// all N-1 earlier turns and grew without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_runs_each_start_on_a_fresh_transcript() {
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&fake_model_config(&home, &llm.url()));
    let clock = Clock::new(&home, T0);
    let gw = start(home, &clock);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let added = ok(
        &mut raw,
        "cron.add",
        json!({"name": "fresh", "schedule": {"kind": "every", "everyMs": 60_000},
               "sessionTarget": "isolated", "wakeMode": "now",
               "payload": {"kind": "agentTurn", "message": "tick 4242"},
               "delivery": {"mode": "none"}}),
    )
    .await;
    let id = added["id"].as_str().unwrap().to_string();
    for (n, at) in [(1, T0 + 60_000), (2, T0 + 120_000), (3, T0 + 180_000)] {
        clock.set(at);
        let runs = wait_runs(&mut raw, &id, n).await;
        assert!(runs.iter().all(|r| r["status"] == "ok"), "{runs:?}");
    }
    let requests = llm.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    for r in &requests {
        let mentions = r["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m.to_string().contains("tick 4242"))
            .count();
        assert_eq!(mentions, 1, "an isolated run saw earlier runs: {r}");
    }
    // The session key stays the job's; only the transcript behind it is new each run.
    let runs = runs_of(&mut raw, &id).await;
    assert!(
        runs.iter()
            .all(|r| r["sessionKey"] == format!("agent:main:cron:{id}")),
        "{runs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_fires_on_schedule_and_its_reply_is_delivered_once() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&telegram_config(&home, &tg, &llm));
    let clock = Clock::new(&home, T0);
    let gw = start(home, &clock);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let added = ok(
        &mut raw,
        "cron.add",
        json!({"name": "every-minute", "schedule": {"kind": "every", "everyMs": 60_000},
               "sessionTarget": "isolated", "wakeMode": "now",
               "payload": {"kind": "agentTurn", "message": "ping 7070"},
               "delivery": {"mode": "announce", "channel": "telegram", "to": OWNER.to_string()}}),
    )
    .await;
    let id = added["id"].as_str().unwrap().to_string();
    assert_eq!(added["schedule"]["anchorMs"], T0);
    assert_eq!(added["nextRunAtMs"], T0 + 60_000);
    assert_eq!(added["state"]["nextRunAtMs"], T0 + 60_000);
    assert_eq!(
        added["deliveryPreview"]["label"],
        format!("telegram → {OWNER}")
    );
    // Not yet due: nothing runs.
    clock.set(T0 + 59_000);
    assert!(runs_of(&mut raw, &id).await.is_empty());
    clock.set(T0 + 60_000);
    let started = cron_event(&mut raw, "started").await;
    assert_eq!(started["payload"]["jobId"], id.as_str());
    let runs = wait_runs(&mut raw, &id, 1).await;
    assert_eq!(runs[0]["status"], "ok", "{runs:?}");
    assert_eq!(runs[0]["deliveryStatus"], "delivered");
    assert_eq!(runs[0]["runId"], format!("cron:{id}:{}", T0 + 60_000));
    assert_eq!(runs[0]["sessionKey"], format!("agent:main:cron:{id}"));
    assert!(runs[0]["durationMs"].is_u64());
    wait_for("one reply in the chat", || {
        tg.replies_to(OWNER, "ping 7070") == 1
    })
    .await;
    let j = job(&mut raw, &id).await.unwrap();
    assert_eq!(j["nextRunAtMs"], T0 + 120_000);
    assert_eq!(j["state"]["lastRunStatus"], "ok");
    // The `finished` event carries status and duration.
    let finished = cron_event(&mut raw, "finished").await;
    assert_eq!(finished["payload"]["status"], "ok");
    assert!(finished["payload"]["durationMs"].is_u64());
    // A long gap: one run, then the next slot after now (no burst of the nine missed ones).
    clock.set(T0 + 10 * 60_000 + 5);
    let runs = wait_runs(&mut raw, &id, 2).await;
    assert_eq!(runs[0]["status"], "ok");
    let j = job(&mut raw, &id).await.unwrap();
    assert_eq!(j["nextRunAtMs"], T0 + 11 * 60_000);
    assert_eq!(runs_of(&mut raw, &id).await.len(), 2);
    wait_for("second reply", || tg.replies_to(OWNER, "ping 7070") == 2).await;
    // The transcript of the job's own session holds its turns.
    let h = ok(
        &mut raw,
        "chat.history",
        json!({"sessionKey": format!("agent:main:cron:{id}")}),
    )
    .await;
    assert!(h["messages"].to_string().contains("ping 7070"), "{h}");
}

/// 2026-03-28T08:00Z = 09:00 CET; 2026-03-29T07:00Z = 09:00 CEST (clocks went forward that
/// night); 2026-10-25 they go back: 2026-10-24T07:00Z (CEST) then 2026-10-25T08:00Z (CET).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_berlin_cron_job_fires_at_nine_local_across_dst_changes() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis() as u64
    };
    let clock = Clock::new(&home, at("2026-03-28T07:00:00Z"));
    let gw = start(home, &clock);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let added = ok(
        &mut raw,
        "cron.add",
        json!({"name": "morning", "schedule": {"kind": "cron", "expr": "0 9 * * *", "tz": "Europe/Berlin"},
               "sessionTarget": "main", "wakeMode": "next-heartbeat",
               "payload": {"kind": "systemEvent", "text": "good morning"}}),
    )
    .await;
    let id = added["id"].as_str().unwrap().to_string();
    let expected = [
        "2026-03-28T08:00:00Z",
        "2026-03-29T07:00:00Z",
        "2026-03-30T07:00:00Z",
    ];
    assert_eq!(added["nextRunAtMs"], at(expected[0]));
    for (i, slot) in expected.iter().enumerate().take(2) {
        clock.set(at(slot));
        let runs = wait_runs(&mut raw, &id, i + 1).await;
        assert_eq!(runs[0]["runAtMs"], at(slot));
        assert_eq!(runs[0]["status"], "ok");
        let j = job(&mut raw, &id).await.unwrap();
        assert_eq!(
            j["nextRunAtMs"],
            at(expected[i + 1]),
            "after the run at {slot}"
        );
    }
    // The system event went to the main session's queue (heartbeat path).
    let status = ok(&mut raw, "status", json!({})).await;
    assert!(status.to_string().contains("good morning"), "{status}");
    // Autumn: back from CEST to CET.
    clock.set(at("2026-10-24T06:00:00Z"));
    ok(
        &mut raw,
        "cron.update",
        json!({"id": id, "patch": {"schedule": {"kind": "cron", "expr": "0 9 * * *", "tz": "Europe/Berlin"}}}),
    )
    .await;
    let j = job(&mut raw, &id).await.unwrap();
    assert_eq!(j["nextRunAtMs"], at("2026-10-24T07:00:00Z"));
    clock.set(at("2026-10-24T07:00:00Z"));
    wait_runs(&mut raw, &id, 3).await;
    let j = job(&mut raw, &id).await.unwrap();
    assert_eq!(j["nextRunAtMs"], at("2026-10-25T08:00:00Z"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_at_job_with_delete_after_run_fires_once_and_disappears() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let clock = Clock::new(&home, T0);
    let gw = start(home, &clock);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let added = ok(
        &mut raw,
        "cron.add",
        json!({"name": "once", "schedule": {"kind": "at", "at": "+5m"}, "deleteAfterRun": true,
               "sessionTarget": "main", "wakeMode": "next-heartbeat",
               "payload": {"kind": "systemEvent", "text": "only once"}}),
    )
    .await;
    let id = added["id"].as_str().unwrap().to_string();
    assert_eq!(added["nextRunAtMs"], T0 + 300_000);
    assert_eq!(added["schedule"]["at"], "2027-01-15T08:05:00.000Z");
    clock.set(T0 + 300_000);
    let runs = wait_runs(&mut raw, &id, 1).await;
    assert_eq!(runs[0]["status"], "ok");
    wait_for_job_gone(&mut raw, &id).await;
    let jobs_file = gw.home.state_dir().join("cron").join("jobs.json");
    assert!(!std::fs::read_to_string(&jobs_file).unwrap().contains(&id));
    assert_eq!(file_mode(&jobs_file) & 0o777, 0o600);
    clock.set(T0 + 3_600_000);
    assert_eq!(runs_of(&mut raw, &id).await.len(), 1);
    assert_eq!(ok(&mut raw, "cron.status", json!({})).await["jobs"], 0);
}

async fn wait_for_job_gone(raw: &mut Raw, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while job(raw, id).await.is_some() {
        assert!(Instant::now() < deadline, "job {id} still listed");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_a_job_is_due_then_restart_runs_it_once() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&telegram_config(&home, &tg, &llm));
    let clock = Clock::new(&home, T0);
    let gw = start(home, &clock);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let added = ok(
        &mut raw,
        "cron.add",
        json!({"name": "hourly", "schedule": {"kind": "every", "everyMs": 3_600_000},
               "payload": {"kind": "agentTurn", "message": "hourly 5151"},
               "delivery": {"mode": "announce", "channel": "telegram", "to": OWNER.to_string()}}),
    )
    .await;
    let id = added["id"].as_str().unwrap().to_string();
    // 1. Killed in the middle of the run (the model is still streaming).
    llm.push(Script::slow("slow answer", 50, Duration::from_millis(200)));
    clock.set(T0 + 3_600_000);
    assert!(
        llm.wait_for_requests(1, Duration::from_secs(20)).await,
        "the run did not start"
    );
    let home = kill_9(gw);
    assert_eq!(tg.replies_to(OWNER, "hourly 5151"), 0);
    let gw = start(home, &clock);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let runs = wait_runs(&mut raw, &id, 1).await;
    assert_eq!(runs[0]["status"], "ok");
    assert_eq!(runs[0]["runId"], format!("cron:{id}:{}", T0 + 3_600_000));
    wait_for("one reply", || tg.replies_to(OWNER, "hourly 5151") == 1).await;
    let j = job(&mut raw, &id).await.unwrap();
    assert_eq!(j["nextRunAtMs"], T0 + 2 * 3_600_000);
    assert!(j["state"].get("runningAtMs").is_none(), "{j}");
    // 2. Down while the job fell due (three slots): one run at the next start, not three.
    let home = kill_9(gw);
    clock.set(T0 + 4 * 3_600_000 + 10);
    let gw = start(home, &clock);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    wait_runs(&mut raw, &id, 2).await;
    wait_for("second reply", || tg.replies_to(OWNER, "hourly 5151") == 2).await;
    let j = job(&mut raw, &id).await.unwrap();
    assert_eq!(j["nextRunAtMs"], T0 + 5 * 3_600_000);
    assert_eq!(runs_of(&mut raw, &id).await.len(), 2);
    assert_eq!(tg.replies_to(OWNER, "hourly 5151"), 2);
    drop(gw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_set_by_the_cron_tool_from_a_chat_answers_in_that_chat() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&telegram_config(&home, &tg, &llm));
    let clock = Clock::new(&home, T0);
    let gw = start(home, &clock);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    llm.push(Script::tool_call(
        "call_cron",
        "cron",
        json!({"action": "add", "job": {"name": "stretch",
               "schedule": {"kind": "at", "at": "20m"},
               "payload": {"kind": "agentTurn", "message": "Reminder 3131: stretch"}}}),
        "Okay, I will remind you in 20 minutes.",
    ));
    tg.push_dm(OWNER, "remind me in 20 minutes to stretch");
    wait_for("the confirmation", || {
        tg.replies_to(OWNER, "I will remind you") == 1
    })
    .await;
    let list = ok(&mut raw, "cron.list", json!({})).await;
    let j = list["jobs"][0].clone();
    assert_eq!(j["name"], "stretch", "{list}");
    assert_eq!(j["delivery"]["channel"], "telegram");
    assert_eq!(j["delivery"]["to"], OWNER.to_string());
    assert_eq!(j["nextRunAtMs"], T0 + 1_200_000);
    let id = j["id"].as_str().unwrap().to_string();
    clock.set(T0 + 1_200_000);
    wait_for("the reminder in the chat", || {
        tg.replies_to(OWNER, "Reminder 3131") == 1
    })
    .await;
    wait_for_job_gone(&mut raw, &id).await;
}

/// Real time, no test clock: the timer sleeps up to a minute while nothing is due; an update
/// that makes the job due soon must wake it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_update_rearms_the_timer() {
    let gw = Gateway::start();
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let added = ok(
        &mut raw,
        "cron.add",
        json!({"name": "later", "schedule": {"kind": "every", "everyMs": 3_600_000},
               "sessionTarget": "main", "wakeMode": "next-heartbeat",
               "payload": {"kind": "systemEvent", "text": "tick"}}),
    )
    .await;
    let id = added["id"].as_str().unwrap().to_string();
    let r = ok(
        &mut raw,
        "cron.update",
        json!({"id": id, "patch": {"schedule": {"kind": "every", "everyMs": 300}}}),
    )
    .await;
    assert_eq!(r["schedule"]["everyMs"], 300);
    // Well within the timer's 60 s sleep: only a re-armed timer runs it.
    let deadline = Instant::now() + Duration::from_secs(15);
    while runs_of(&mut raw, &id).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the update did not re-arm the timer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ok(
        &mut raw,
        "cron.update",
        json!({"jobId": id, "patch": {"enabled": false}}),
    )
    .await;
    assert_eq!(job(&mut raw, &id).await.unwrap()["enabled"], false);
    let r = ok(&mut raw, "cron.remove", json!({"id": id})).await;
    assert_eq!(r["removed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_jobs_file_loads_and_lists_unchanged() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let dir = home.state_dir().join("cron");
    std::fs::create_dir_all(&dir).unwrap();
    let written = fixture("cron/jobs.json");
    std::fs::write(dir.join("jobs.json"), &written).unwrap();
    // Before every job's next run (as when the reference recorded its list).
    let clock = Clock::new(&home, 1_796_137_530_000);
    let gw = start(home, &clock);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let mut list = ok(&mut raw, "cron.list", json!({"includeDisabled": true})).await;
    let revision = list
        .as_object_mut()
        .unwrap()
        .remove("snapshotRevision")
        .unwrap();
    assert!(
        revision.as_str().unwrap().starts_with("sha256:"),
        "{revision}"
    );
    let mut reference: Value = serde_json::from_str(&fixture("cron.list.json")).unwrap();
    reference
        .as_object_mut()
        .unwrap()
        .remove("snapshotRevision");
    assert_eq!(list, reference);
    let status = ok(&mut raw, "cron.status", json!({})).await;
    assert_eq!(status["jobs"], 4);
    assert_eq!(status["nextWakeAtMs"], 1_796_137_653_962u64);
    // Nothing changed, so nothing was rewritten.
    assert_eq!(
        std::fs::read_to_string(dir.join("jobs.json")).unwrap(),
        written
    );
    // A change keeps what this gateway does not interpret.
    let r = ok(
        &mut raw,
        "cron.update",
        json!({"id": "1599a94c-dc06-4ff2-8035-b7e55347f041", "patch": {"name": "renamed"}}),
    )
    .await;
    assert_eq!(r["scheduledToolPolicy"]["mode"], "trusted");
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("jobs.json")).unwrap()).unwrap();
    assert_eq!(file["version"], 1);
    assert_eq!(file["jobs"][0]["declarationKey"], "heartbeat:main");
    assert_eq!(file["jobs"][0]["payload"]["kind"], "heartbeat");
    assert_eq!(file["jobs"][1]["name"], "renamed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_invalid_request_naming_the_field() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let clock = Clock::new(&home, T0);
    let gw = start(home, &clock);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let base = json!({"name": "x", "sessionTarget": "main", "wakeMode": "now",
                      "payload": {"kind": "systemEvent", "text": "t"}});
    let with = |k: &str, v: Value| {
        let mut p = base.clone();
        p[k] = v;
        p
    };
    let cases = [
        (
            with("schedule", json!({"kind": "cron", "expr": "61 * * * *"})),
            "/schedule/expr",
        ),
        (
            with(
                "schedule",
                json!({"kind": "cron", "expr": "0 9 * * *", "tz": "Mars/Olympus"}),
            ),
            "/schedule/tz",
        ),
        (
            with(
                "schedule",
                json!({"kind": "at", "at": (T0 - 1000).to_string()}),
            ),
            "/schedule/at",
        ),
        (
            with("schedule", json!({"kind": "at", "at": "whenever"})),
            "/schedule/at",
        ),
        (
            {
                let mut p = with("schedule", json!({"kind": "every", "everyMs": 1000}));
                p["sessionTarget"] = json!("isolated");
                p["payload"] = json!({"kind": "agentTurn", "message": "m"});
                p["delivery"] = json!({"mode": "announce", "channel": "carrier-pigeon", "to": "1"});
                p
            },
            "/delivery/channel",
        ),
        (
            with("schedule", json!({"kind": "every", "everyMs": 0})),
            "/schedule",
        ),
        (base.clone(), "schedule"),
    ];
    for (params, field) in cases {
        let r = raw.call("cron.add", params.clone()).await;
        assert_eq!(r["ok"], false, "{params}: {r}");
        assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
        let msg = r["error"]["message"].as_str().unwrap();
        assert!(msg.contains(field), "{field} not named in {msg:?}");
    }
    let r = raw
        .call(
            "cron.update",
            json!({"id": "nope", "patch": {"enabled": false}}),
        )
        .await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
    let r = raw.call("cron.runs", json!({"id": "../etc"})).await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
    let r = raw.call("cron.run", json!({})).await;
    assert!(
        r["error"]["message"].as_str().unwrap().contains("id"),
        "{r}"
    );
    // Nothing was stored.
    assert_eq!(ok(&mut raw, "cron.status", json!({})).await["jobs"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_adds_lists_runs_and_removes_jobs() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let clock = Clock::new(&home, T0);
    let gw = start(home, &clock);
    let port = gw.port.to_string();
    let cli = |args: &[&str]| {
        let (code, out, err) = tokio::task::block_in_place(|| {
            run_cli(&gw.home, args, &[("OPENCLAW_GATEWAY_PORT", port.as_str())])
        });
        assert_eq!(code, 0, "{args:?}: {out}\n{err}");
        out
    };
    let out = cli(&[
        "cron",
        "add",
        "--name",
        "cap-job",
        "--every",
        "1h",
        "--session",
        "isolated",
        "--message",
        "ping 4141",
        "--no-deliver",
        "--json",
    ]);
    let added: Value = serde_json::from_str(&out).unwrap();
    // The reference's shape for the same command (its own extras aside).
    let reference: Value = serde_json::from_str(&fixture("cron_add_cli.json")).unwrap();
    for key in [
        "name",
        "enabled",
        "sessionTarget",
        "wakeMode",
        "deliveryPreview",
    ] {
        assert_eq!(added[key], reference[key], "{key}");
    }
    assert_eq!(
        added["schedule"]["everyMs"],
        reference["schedule"]["everyMs"]
    );
    assert_eq!(added["payload"]["message"], reference["payload"]["message"]);
    assert_eq!(added["delivery"]["mode"], "none");
    let id = added["id"].as_str().unwrap().to_string();
    let list: Value = serde_json::from_str(&cli(&["cron", "list", "--json"])).unwrap();
    assert_eq!(list["jobs"][0]["id"], id.as_str());
    assert_eq!(list["total"], 1);
    let status: Value = serde_json::from_str(&cli(&["cron", "status", "--json"])).unwrap();
    assert_eq!(status["jobs"], 1);
    assert_eq!(status["nextWakeAtMs"], T0 + 3_600_000);
    cli(&[
        "cron",
        "edit",
        &id,
        "--system-event",
        "hi",
        "--session",
        "main",
    ]);
    let run: Value = serde_json::from_str(&cli(&["cron", "run", &id, "--json"])).unwrap();
    assert_eq!(run["enqueued"], true);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let runs: Value =
            serde_json::from_str(&cli(&["cron", "runs", "--id", &id, "--json"])).unwrap();
        if runs["total"] == 1 {
            assert_eq!(runs["entries"][0]["status"], "ok");
            assert_eq!(runs["entries"][0]["action"], "finished");
            break;
        }
        assert!(Instant::now() < deadline, "no run: {runs}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A forced run does not move the schedule.
    let status: Value = serde_json::from_str(&cli(&["cron", "status", "--json"])).unwrap();
    assert_eq!(status["nextWakeAtMs"], T0 + 3_600_000);
    let human = cli(&["cron", "list"]);
    assert!(human.contains("cap-job"), "{human}");
    cli(&["cron", "rm", &id]);
    let list: Value = serde_json::from_str(&cli(&["cron", "list", "--json"])).unwrap();
    assert_eq!(list["total"], 0);
}
