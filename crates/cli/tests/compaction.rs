//! Compaction (agent.md §6) through the real binary against a fake OpenAI-compatible provider
//! with a small context window: a conversation driven past `contextWindow − reserveTokens`
//! is summarised (a `compaction` transcript entry; the next request carries the summary, not
//! the dropped turns), a provider "maximum context length" answer is met with exactly one
//! compaction and one retry (a second one fails the run with `context_length`), `/compact`
//! works from `chat.send`, and a kill -9 while the summary is being written leaves a
//! transcript the restarted gateway reads and extends.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];
/// Only the summary request contains this (the compaction prompt's heading).
const SUMMARY_REQUEST: &str = "Messages to summarise";
const SUMMARY: &str = "SUMMARY-7f3: the user sent long numbered notes";

/// The fake provider with a `contextWindow`, and `agents.defaults.compaction`.
fn config(home: &Home, fake: &FakeOpenAi, window: u64, compaction: Value) -> Value {
    let mut cfg = fake_model_config(home, &fake.url());
    cfg["models"]["providers"]["fake"]["models"] =
        json!([{"id": "m1", "name": "Fake One", "contextWindow": window}]);
    cfg["agents"]["defaults"]["compaction"] = compaction;
    cfg
}

fn start(fake: &FakeOpenAi, window: u64, compaction: Value) -> Gateway {
    let home = Home::new();
    home.write_config(&config(&home, fake, window, compaction));
    Gateway::start_in(home, &["gateway", "--port", "0"], &[])
}

fn sessions_dir(home: &Home) -> PathBuf {
    home.state_dir().join("agents/main/sessions")
}

fn transcript_path(home: &Home) -> PathBuf {
    std::fs::read_dir(sessions_dir(home))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("transcript file")
}

/// Parsable transcript lines.
fn entries(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn compactions(path: &Path) -> Vec<Value> {
    entries(path)
        .into_iter()
        .filter(|e| e["type"] == "compaction")
        .collect()
}

fn compaction_count(home: &Home) -> u64 {
    let text = std::fs::read_to_string(sessions_dir(home).join("sessions.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["agent:main:main"]["compactionCount"]
        .as_u64()
        .unwrap_or(0)
}

/// Runs `message` through `agent`; returns (final res, agent/chat events of the run).
async fn turn(raw: &mut Raw, id: &str, message: &str) -> (Value, Vec<Value>) {
    raw.send(&json!({"type": "req", "id": id, "method": "agent",
        "params": {"message": message, "idempotencyKey": id}}))
        .await;
    let mut acked = false;
    let mut events = Vec::new();
    loop {
        let f = raw.frame().await;
        if f["type"] == "res" && f["id"] == id {
            if acked {
                return (f, events);
            }
            acked = true;
        } else if f["type"] == "event" && (f["event"] == "agent" || f["event"] == "chat") {
            events.push(f);
        }
    }
}

fn compaction_events(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["event"] == "agent" && e["payload"]["stream"] == "compaction")
        .map(|e| e["payload"]["data"].clone())
        .collect()
}

/// The texts of the messages a model request carried (system prompt excluded).
fn request_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .map(|m| m["content"].to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn long_note(i: usize) -> String {
    format!("note-{i}: {}", "lorem ipsum dolor sit amet ".repeat(110))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_past_the_window_is_compacted() {
    let fake = FakeOpenAi::start().await;
    fake.answer_matching(SUMMARY_REQUEST, Script::text(SUMMARY));
    // Threshold 6000 − 1500 = 4500 tokens; each turn adds ~1500 (a 3000-char note, echoed).
    let gw = start(
        &fake,
        6000,
        json!({"reserveTokens": 1500, "keepRecentTokens": 1200}),
    );
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let path = sessions_dir(&gw.home);
    let mut compacted_at = None;
    for i in 0..8 {
        let (fin, events) = turn(&mut raw, &format!("t{i}"), &long_note(i)).await;
        assert_eq!(fin["ok"], true, "{fin}");
        let phases = compaction_events(&events);
        if !phases.is_empty() {
            assert_eq!(phases.len(), 2, "{phases:?}");
            assert_eq!(phases[0], json!({"phase": "start"}));
            assert_eq!(phases[1]["phase"], "end");
            assert_eq!(phases[1]["completed"], true);
            assert_eq!(phases[1]["willRetry"], false);
            assert!(
                phases[1]["tokensAfter"].as_u64() < phases[1]["tokensBefore"].as_u64(),
                "{phases:?}"
            );
            compacted_at = Some(i);
            break;
        }
    }
    let at = compacted_at.expect("a compaction within 8 long turns");
    assert!(at >= 1, "the first turn fits the window");
    assert!(path.exists());
    let transcript = transcript_path(&gw.home);
    let cs = compactions(&transcript);
    assert_eq!(cs.len(), 1, "{cs:?}");
    let c = &cs[0];
    assert_eq!(c["summary"], SUMMARY);
    assert!(c["tokensBefore"].as_u64().unwrap() > 4500, "{c}");
    assert!(c["id"].is_string() && c["parentId"].is_string() && c["timestamp"].is_string());
    // firstKeptEntryId names a message of the transcript, written before the compaction.
    let all = entries(&transcript);
    let kept = all
        .iter()
        .position(|e| e["id"] == c["firstKeptEntryId"])
        .expect("kept entry");
    let at_c = all.iter().position(|e| e["type"] == "compaction").unwrap();
    assert!(kept < at_c && all[kept]["type"] == "message", "{all:?}");

    // The summary request carried the dropped turns; the turn's own request after it carries
    // the summary and not the first note.
    let reqs = fake.requests();
    let s = reqs
        .iter()
        .position(|r| r.to_string().contains(SUMMARY_REQUEST))
        .expect("summary request");
    assert!(reqs[s].to_string().contains("note-0:"));
    assert_eq!(
        reqs[s]["tools"],
        Value::Null,
        "no tools offered to the summariser"
    );
    let next = request_text(&reqs[s + 1]);
    assert!(next.contains(SUMMARY), "{next}");
    assert!(!next.contains("note-0:"), "dropped turn sent again");
    assert!(
        next.contains(&format!("note-{at}:")),
        "the current turn is kept"
    );
    assert_eq!(compaction_count(&gw.home), 1);

    // The next turn builds on the compacted context too; chat.history still shows everything.
    let (fin, _) = turn(&mut raw, "after", "and now?").await;
    assert_eq!(fin["ok"], true);
    let last = request_text(fake.requests().last().unwrap());
    assert!(last.contains(SUMMARY) && !last.contains("note-0:"));
    let h = raw
        .req("h", "chat.history", Some(json!({"sessionKey": "main"})))
        .await;
    let history = h["payload"]["messages"].to_string();
    assert!(history.contains("note-0:") && history.contains("and now?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_overflow_answer_compacts_once_and_retries_once() {
    let fake = FakeOpenAi::start().await;
    fake.answer_matching(SUMMARY_REQUEST, Script::text(SUMMARY));
    let gw = start(&fake, 200_000, json!({}));
    let (mut raw, _) = connected(&gw.url(), OP).await;
    for (i, m) in ["first question", "second question"].iter().enumerate() {
        let (fin, _) = turn(&mut raw, &format!("q{i}"), m).await;
        assert_eq!(fin["ok"], true);
    }
    let overflow = || {
        Script::HttpError {
        status: 400,
        message: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.".into(),
    }
    };
    fake.push(overflow());
    let before = fake.request_count();
    let (fin, events) = turn(&mut raw, "q2", "third question").await;
    assert_eq!(fin["ok"], true, "{fin}");
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"],
        "echo: third question"
    );
    // The refused call, the summary, the retry: nothing more.
    let reqs = fake.requests();
    assert_eq!(reqs.len(), before + 3, "{}", reqs.len());
    assert!(reqs[before + 1].to_string().contains(SUMMARY_REQUEST));
    let retry = request_text(&reqs[before + 2]);
    assert!(retry.contains(SUMMARY) && retry.contains("third question"));
    assert!(!retry.contains("first question"), "{retry}");
    let phases = compaction_events(&events);
    assert_eq!(phases.len(), 2, "{phases:?}");
    assert_eq!(phases[1]["willRetry"], true);
    assert_eq!(phases[1]["completed"], true);
    let transcript = transcript_path(&gw.home);
    assert_eq!(compactions(&transcript).len(), 1);
    assert_eq!(compaction_count(&gw.home), 1);

    // A second overflow after the retry ends the run: errorKind context_length.
    fake.push(overflow());
    fake.push(overflow());
    let before = fake.request_count();
    let (fin, events) = turn(&mut raw, "q3", "fourth question").await;
    assert_eq!(fin["ok"], false, "{fin}");
    assert_eq!(fake.request_count(), before + 3);
    let err = events
        .iter()
        .find(|e| e["event"] == "chat" && e["payload"]["state"] == "error")
        .expect("chat error");
    assert_eq!(err["payload"]["errorKind"], "context_length", "{err}");
    assert_eq!(compactions(&transcript).len(), 2);
    assert_eq!(fake.pending(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_compact_from_chat_send() {
    let fake = FakeOpenAi::start().await;
    fake.answer_matching(SUMMARY_REQUEST, Script::text(SUMMARY));
    let gw = start(&fake, 200_000, json!({"keepRecentTokens": 20}));
    let (mut raw, _) = connected(&gw.url(), OP).await;
    for (i, m) in ["alpha topic", "beta topic", "gamma topic"]
        .iter()
        .enumerate()
    {
        let (fin, _) = turn(&mut raw, &format!("c{i}"), m).await;
        assert_eq!(fin["ok"], true);
    }
    let r = raw
        .req(
            "s",
            "chat.send",
            Some(
                json!({"sessionKey": "main", "message": "/compact keep the topic names",
                "idempotencyKey": "cmp-1"}),
            ),
        )
        .await;
    assert_eq!(r["payload"], json!({"runId": "cmp-1", "status": "started"}));
    let fin = loop {
        let e = raw.event("chat").await;
        if e["payload"]["runId"] == "cmp-1" && e["payload"]["state"] == "final" {
            break e;
        }
    };
    let text = fin["payload"]["message"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.starts_with("⚙️ Compacted ("), "{text}");
    assert!(
        text.contains(" • Context ") && text.ends_with("%)"),
        "{text}"
    );
    let summary_req = fake
        .requests()
        .into_iter()
        .find(|r| r.to_string().contains(SUMMARY_REQUEST))
        .expect("summary request");
    let s = summary_req.to_string();
    assert!(s.contains("keep the topic names") && s.contains("alpha topic"));
    let transcript = transcript_path(&gw.home);
    assert_eq!(compactions(&transcript).len(), 1);
    assert_eq!(compaction_count(&gw.home), 1);
    // The command is no conversation turn; the next turn sees the summary.
    let (fin, _) = turn(&mut raw, "c9", "delta topic").await;
    assert_eq!(fin["ok"], true);
    let last = request_text(fake.requests().last().unwrap());
    assert!(
        last.contains(SUMMARY) && !last.contains("alpha topic"),
        "{last}"
    );
    assert!(!last.contains("/compact"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_compaction_leaves_a_loadable_transcript() {
    let fake = FakeOpenAi::start().await;
    // The summary never finishes in time: the gateway dies while waiting for it.
    fake.answer_matching(
        SUMMARY_REQUEST,
        Script::slow("never finished", 100, Duration::from_millis(300)),
    );
    let home = Home::new();
    home.write_config(&config(
        &home,
        &fake,
        6000,
        json!({"reserveTokens": 1500, "keepRecentTokens": 1200}),
    ));
    let mut gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let mut sent = 0;
    {
        let (mut raw, _) = connected(&gw.url(), OP).await;
        loop {
            assert!(sent < 8, "no compaction within 8 long turns");
            let id = format!("k{sent}");
            raw.send(&json!({"type": "req", "id": id, "method": "agent",
                "params": {"message": long_note(sent), "idempotencyKey": id}}))
                .await;
            sent += 1;
            // Either the run ends, or its summary request is held by the fake.
            let compacting = loop {
                let f = raw.frame().await;
                if f["type"] == "event"
                    && f["event"] == "agent"
                    && f["payload"]["stream"] == "compaction"
                {
                    break true;
                }
                if f["type"] == "res" && f["id"] == id && f["payload"]["status"] != "accepted" {
                    break false;
                }
            };
            if compacting {
                let n = fake.request_count();
                let held = fake
                    .requests()
                    .last()
                    .is_some_and(|r| r.to_string().contains(SUMMARY_REQUEST));
                assert!(held || fake.wait_for_requests(n + 1, Duration::from_secs(10)).await);
                break;
            }
        }
    }
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5)).expect("killed");
    let transcript = transcript_path(&gw.home);
    assert!(compactions(&transcript).is_empty());
    // As a crash in the middle of writing the compaction line would leave it.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    f.write_all(b"{\"type\":\"compaction\",\"id\":\"torn\",\"summary\":\"half")
        .unwrap();
    drop(f);

    fake.forget_matching();
    fake.answer_matching(SUMMARY_REQUEST, Script::text(SUMMARY));
    let gw = Gateway::start_in(gw.into_home(), &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let h = raw
        .req("h", "chat.history", Some(json!({"sessionKey": "main"})))
        .await;
    let messages = h["payload"]["messages"].as_array().unwrap().clone();
    // Every finished turn (user + reply) and the last user turn, whose reply never came.
    assert_eq!(messages.len(), 2 * sent - 1, "{messages:?}");
    assert!(messages[0].to_string().contains("note-0:"));
    assert!(
        messages
            .last()
            .unwrap()
            .to_string()
            .contains(&format!("note-{}:", sent - 1))
    );
    // A new turn works (and may compact now, with a summary that arrives).
    let (fin, _) = turn(&mut raw, "again", "still there?").await;
    assert_eq!(fin["ok"], true, "{fin}");
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"],
        "echo: still there?"
    );
    let ok = entries(&transcript);
    assert!(
        ok.iter().all(|e| e["id"] != "torn"),
        "the torn line stays unparsable"
    );
}

/// `sessions.compact` without `maxLines` summarises with the model (what the reference CLI's
/// `openclaw sessions compact <key>` sends), answers with the reference's result shape, and
/// a second call reports that the session is already compacted (`ok:false`, so that CLI
/// exits non-zero instead of claiming work it did not do).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_compact_rpc_summarises_like_the_reference() {
    let fake = FakeOpenAi::start().await;
    fake.answer_matching(SUMMARY_REQUEST, Script::text(SUMMARY));
    let gw = start(&fake, 200_000, json!({"keepRecentTokens": 20}));
    let (mut raw, _) = connected(&gw.url(), OP).await;
    for (i, m) in ["alpha topic", "beta topic", "gamma topic"]
        .iter()
        .enumerate()
    {
        let (fin, _) = turn(&mut raw, &format!("r{i}"), m).await;
        assert_eq!(fin["ok"], true);
    }
    let r = raw
        .req(
            "c1",
            "sessions.compact",
            Some(json!({"key": "agent:main:main", "agentId": "main"})),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let p = &r["payload"];
    assert_eq!(
        (&p["ok"], &p["compacted"], &p["key"]),
        (&json!(true), &json!(true), &json!("agent:main:main")),
        "{p}"
    );
    let (before, after) = (
        p["result"]["tokensBefore"].as_u64().unwrap(),
        p["result"]["tokensAfter"].as_u64().unwrap(),
    );
    assert!(after < before, "{p}");
    assert!(p["result"]["firstKeptEntryId"].is_string(), "{p}");
    assert_eq!(compactions(&transcript_path(&gw.home)).len(), 1);
    assert_eq!(compaction_count(&gw.home), 1);

    let r = raw
        .req("c2", "sessions.compact", Some(json!({"key": "main"})))
        .await;
    assert_eq!(
        (&r["payload"]["ok"], &r["payload"]["compacted"]),
        (&json!(false), &json!(false)),
        "{r}"
    );
    assert_eq!(r["payload"]["reason"], "Already compacted", "{r}");
    assert_eq!(compactions(&transcript_path(&gw.home)).len(), 1);
    // An agent that does not own the key is refused, naming both.
    let r = raw
        .req(
            "c3",
            "sessions.compact",
            Some(json!({"key": "agent:main:main", "agentId": "nobody"})),
        )
        .await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
}
