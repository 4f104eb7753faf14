//! Agent tools that act, through the real binary with the fake provider scripting the tool
//! calls: `apply_patch` (multi-file patch, path escape, a patch that does not apply),
//! `web_fetch` (a loopback page only with the debug-build test knob; metadata and private
//! targets refused), `web_search` against a fake Brave API, `message` delivered once to the
//! fake Telegram per idempotency key (and to the run's own chat without a target), the session
//! tools (list, history, send with the bounded agent-to-agent exchange), `POST /tools/invoke`
//! with `sessions_list`, and the tool policy deciding what the model is offered.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::*;
use openclaw_testkit::telegram::{FAKE_TOKEN, FakeTelegram};
use openclaw_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];
const LOOPBACK_KNOB: (&str, &str) = ("OPENCLAW_TEST_WEB_FETCH_ALLOW_LOOPBACK", "1");

/// A minimal HTTP/1.1 server on loopback (one thread, one request per connection) standing in
/// for "the web" and for the Brave Search API; records each request head.
struct FakeWeb {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

type Route = fn(&str) -> (u16, &'static str, Vec<u8>);

impl FakeWeb {
    fn start(route: Route) -> FakeWeb {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 2048];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                seen.lock().unwrap().push(head);
                let (status, ct, body) = route(&path);
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(&body);
            }
        });
        FakeWeb { port, heads }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

const PAGE: &str = r#"<html><head><title>Fake Page</title><script>steal()</script></head>
<body><h1>Welcome</h1><p>The answer is <b>42</b>, see <a href="https://example.com/more">more</a>.</p></body></html>"#;

fn web_routes(path: &str) -> (u16, &'static str, Vec<u8>) {
    match path {
        "/page" => (200, "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
        "/image" => (200, "image/png", vec![0x89, b'P', b'N', b'G', 0, 0, 0, 13]),
        "/missing" => (404, "text/plain", b"nope".to_vec()),
        p if p.starts_with("/res/v1/web/search") => (
            200,
            "application/json",
            json!({"web": {"results": [
                {"title": "Rust Programming Language", "url": "https://www.rust-lang.org/",
                 "description": "A language <strong>empowering</strong> everyone", "age": "2 days ago",
                 "meta_url": {"hostname": "www.rust-lang.org"}},
                {"title": "Rust Book", "url": "https://doc.rust-lang.org/book/", "description": "Learn Rust"}
            ]}})
            .to_string()
            .into_bytes(),
        ),
        _ => (404, "text/plain", b"not found".to_vec()),
    }
}

fn start(fake: &FakeOpenAi, extra: Value, env: &[(&str, &str)]) -> Gateway {
    let home = Home::new();
    let mut cfg = fake_model_config(&home, &fake.url());
    merge(&mut cfg, extra);
    home.write_config(&cfg);
    Gateway::start_in(home, &["gateway", "--port", "0"], env)
}

/// Deep-merges `extra` into `cfg` (objects key by key, anything else replaced).
fn merge(cfg: &mut Value, extra: Value) {
    match (cfg, extra) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn agent_req(id: &str, message: &str, key: &str, session: &str) -> Value {
    json!({"type": "req", "id": id, "method": "agent",
           "params": {"message": message, "idempotencyKey": key, "sessionKey": session}})
}

/// Runs `agent` and returns its final `res`.
async fn run(raw: &mut Raw, id: &str, message: &str, session: &str) -> Value {
    raw.send(&agent_req(id, message, &format!("run-{id}"), session))
        .await;
    let mut acked = false;
    loop {
        let f = raw.frame().await;
        if f["type"] == "res" && f["id"] == id {
            if acked {
                return f;
            }
            acked = true;
        }
    }
}

/// A tool call that is followed by the next queued script (not by canned text).
fn call(id: &str, name: &str, args: Value) -> Script {
    Script::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: args,
        pieces: 2,
        then_text: None,
    }
}

/// The content of the tool result for `call_id`, as the model received it.
fn tool_result(fake: &FakeOpenAi, call_id: &str) -> String {
    for req in fake.requests().iter().rev() {
        for m in req["messages"].as_array().into_iter().flatten() {
            if m["role"] == "tool" && m["tool_call_id"] == call_id {
                return match &m["content"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
            }
        }
    }
    panic!("no tool result for {call_id}")
}

/// The tool names the model was offered in request `i`.
fn offered(fake: &FakeOpenAi, i: usize) -> Vec<String> {
    fake.requests()[i]["tools"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| t["function"]["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_patch_edits_several_files_and_refuses_escapes_and_bad_patches() {
    let fake = FakeOpenAi::start().await;
    let gw = start(&fake, json!({}), &[]);
    let ws = gw.home.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(
        ws.join("main.rs"),
        "fn main() {\n    println!(\"old\");\n}\n",
    )
    .unwrap();
    std::fs::write(ws.join("obsolete.txt"), "bye\n").unwrap();
    std::fs::write(ws.join("lib.rs"), "pub fn a() -> u8 {\n    1\n}\n").unwrap();
    let patch = "*** Begin Patch\n\
*** Add File: docs/README.md\n+# Title\n+body\n\
*** Update File: main.rs\n@@ fn main() {\n-    println!(\"old\");\n+    println!(\"new\");\n\
*** Delete File: obsolete.txt\n\
*** Update File: lib.rs\n*** Move to: src/lib.rs\n@@\n-    1\n+    2\n\
*** End Patch";
    fake.push(call("p1", "apply_patch", json!({"input": patch})));
    fake.push(call(
        "p2",
        "apply_patch",
        json!({"input": "*** Begin Patch\n*** Add File: ../outside.txt\n+x\n*** End Patch"}),
    ));
    fake.push(call(
        "p3",
        "apply_patch",
        json!({"input": "*** Begin Patch\n*** Add File: new2.txt\n+x\n*** Update File: main.rs\n@@\n-not in the file\n+y\n*** End Patch"}),
    ));
    fake.push(call(
        "p4",
        "apply_patch",
        json!({"input": "just some text"}),
    ));
    fake.push(call("p5", "apply_patch", json!({"patch": 7})));
    fake.push(Script::text("patched"));
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let fin = run(&mut raw, "a1", "patch it", "main").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"], "patched",
        "{fin}"
    );

    assert!(offered(&fake, 0).contains(&"apply_patch".to_string()));
    let ok = tool_result(&fake, "p1");
    assert!(
        ok.contains("A docs/README.md") && ok.contains("M main.rs"),
        "{ok}"
    );
    assert!(
        ok.contains("M src/lib.rs") && ok.contains("D obsolete.txt"),
        "{ok}"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("docs/README.md")).unwrap(),
        "# Title\nbody\n"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("main.rs")).unwrap(),
        "fn main() {\n    println!(\"new\");\n}\n"
    );
    assert!(!ws.join("obsolete.txt").exists() && !ws.join("lib.rs").exists());
    assert_eq!(
        std::fs::read_to_string(ws.join("src/lib.rs")).unwrap(),
        "pub fn a() -> u8 {\n    2\n}\n"
    );

    let escape = tool_result(&fake, "p2");
    assert!(escape.contains("escapes the workspace"), "{escape}");
    assert!(!gw.home.path().join("outside.txt").exists());
    let stale = tool_result(&fake, "p3");
    assert!(
        stale.contains("Failed to find expected lines in main.rs"),
        "{stale}"
    );
    assert!(
        !ws.join("new2.txt").exists(),
        "nothing of a failed patch is written"
    );
    let garbage = tool_result(&fake, "p4");
    assert!(garbage.contains("*** Begin Patch"), "{garbage}");
    let missing = tool_result(&fake, "p5");
    assert!(missing.contains("Provide a patch input"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_fetch_reads_a_page_only_where_the_guard_allows() {
    let web = FakeWeb::start(web_routes);
    let fake = FakeOpenAi::start().await;
    let gw = start(&fake, json!({}), &[LOOPBACK_KNOB]);
    fake.push(call("f1", "web_fetch", json!({"url": web.url("/page")})));
    fake.push(call(
        "f2",
        "web_fetch",
        json!({"url": web.url("/page"), "extractMode": "text", "maxChars": 100}),
    ));
    fake.push(call(
        "f3",
        "web_fetch",
        json!({"url": "http://169.254.169.254/latest/meta-data/"}),
    ));
    fake.push(call("f4", "web_fetch", json!({"url": "http://10.1.2.3/"})));
    fake.push(Script::text("fetched"));
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let fin = run(&mut raw, "w1", "read the page", "main").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"], "fetched",
        "{fin}"
    );
    // A run makes at most 8 model calls: the rest in a second run.
    fake.push(call("f5", "web_fetch", json!({"url": web.url("/image")})));
    fake.push(call("f6", "web_fetch", json!({"url": web.url("/missing")})));
    fake.push(call(
        "f7",
        "web_fetch",
        json!({"url": "file:///etc/passwd"}),
    ));
    fake.push(call("f8", "web_fetch", json!({})));
    fake.push(Script::text("fetched again"));
    let fin = run(&mut raw, "w2", "more pages", "main").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"], "fetched again",
        "{fin}"
    );

    let page = tool_result(&fake, "f1");
    assert!(page.contains("Title: Fake Page"), "{page}");
    assert!(page.contains("# Welcome"), "{page}");
    assert!(
        page.contains("The answer is 42, see [more](https://example.com/more)."),
        "{page}"
    );
    assert!(!page.contains("steal()"), "scripts are dropped: {page}");
    assert!(
        page.contains("untrusted"),
        "marked as external content: {page}"
    );
    let text = tool_result(&fake, "f2");
    assert!(
        text.contains("Welcome") && !text.contains("# Welcome"),
        "{text}"
    );
    assert!(!text.contains("]("), "{text}");
    for (id, why) in [("f3", "169.254.169.254"), ("f4", "10.1.2.3")] {
        let r = tool_result(&fake, id);
        assert!(r.contains("not a public address"), "{why}: {r}");
    }
    assert!(tool_result(&fake, "f5").contains("non-text content (image/png)"));
    assert!(tool_result(&fake, "f6").contains("Web fetch failed (404)"));
    assert!(tool_result(&fake, "f7").contains("only http and https"));
    assert!(tool_result(&fake, "f8").contains("`url`"));
    let fetched = web
        .heads()
        .iter()
        .filter(|h| h.starts_with("GET /page"))
        .count();
    assert_eq!(fetched, 2);
    drop(gw);

    // Without the knob the same loopback page is refused before any connection.
    let fake = FakeOpenAi::start().await;
    let gw = start(&fake, json!({}), &[]);
    fake.push(call("g1", "web_fetch", json!({"url": web.url("/page")})));
    fake.push(Script::text("refused"));
    let (mut raw, _) = connected(&gw.url(), OP).await;
    run(&mut raw, "w3", "read the page", "main").await;
    let r = tool_result(&fake, "g1");
    assert!(r.contains("not a public address"), "{r}");
    assert_eq!(
        web.heads()
            .iter()
            .filter(|h| h.starts_with("GET /page"))
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_search_asks_brave_only_when_a_key_is_configured() {
    let brave = FakeWeb::start(web_routes);
    let fake = FakeOpenAi::start().await;
    // No key: not offered.
    let gw = start(&fake, json!({}), &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    run(&mut raw, "s0", "hello", "main").await;
    let names = offered(&fake, 0);
    assert!(!names.contains(&"web_search".to_string()), "{names:?}");
    assert!(names.contains(&"web_fetch".to_string()), "{names:?}");
    let c = raw.call("tools.catalog", json!({})).await;
    assert!(!c["payload"].to_string().contains("\"web_search\""));
    drop(gw);

    let fake = FakeOpenAi::start().await;
    let search = json!({"tools": {"web": {"search": {"apiKey": "brave-test-key",
        "baseUrl": format!("http://127.0.0.1:{}", brave.port)}}}});
    let gw = start(&fake, search, &[]);
    fake.push(call(
        "q1",
        "web_search",
        json!({"query": "rust language", "count": 3}),
    ));
    fake.push(call("q2", "web_search", json!({"count": 3})));
    fake.push(Script::text("searched"));
    let (mut raw, _) = connected(&gw.url(), OP).await;
    run(&mut raw, "s1", "search", "main").await;
    assert!(offered(&fake, 0).contains(&"web_search".to_string()));
    let r = tool_result(&fake, "q1");
    assert!(
        r.contains("Rust Programming Language") && r.contains("https://www.rust-lang.org/"),
        "{r}"
    );
    assert!(
        r.contains("A language empowering everyone"),
        "markup stripped: {r}"
    );
    assert!(tool_result(&fake, "q2").contains("`query`"));
    let heads = brave.heads();
    let head = heads
        .iter()
        .find(|h| h.starts_with("GET /res/v1/web/search"))
        .expect("Brave was asked");
    assert!(
        head.contains("q=rust+language") || head.contains("q=rust%20language"),
        "{head}"
    );
    assert!(head.contains("count=3"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-subscription-token: brave-test-key"),
        "{head}"
    );
    let c = raw.call("tools.catalog", json!({})).await;
    let web = c["payload"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == "web")
        .cloned()
        .unwrap();
    let ids: Vec<&str> = web["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["web_search", "web_fetch"]);
}

async fn telegram_gateway(fake: &FakeOpenAi, tg: &FakeTelegram) -> Gateway {
    let extra = json!({"channels": {"telegram": {"botToken": FAKE_TOKEN, "apiRoot": tg.url(),
        "dmPolicy": "allowlist", "allowFrom": ["111"]}}});
    start(fake, extra, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_is_delivered_once_per_key_and_answers_the_runs_chat() {
    let tg = FakeTelegram::start().await;
    let fake = FakeOpenAi::start().await;
    let gw = telegram_gateway(&fake, &tg).await;
    let send = json!({"channel": "telegram", "to": "111", "message": "hello from a tool", "idempotencyKey": "note-1"});
    fake.push(call("m1", "message", send.clone()));
    fake.push(call("m2", "message", send));
    fake.push(call("m3", "message", json!({"message": "no target here"})));
    fake.push(call(
        "m4",
        "message",
        json!({"action": "react", "to": "111", "message": "x"}),
    ));
    fake.push(call("m5", "message", json!({"to": "111"})));
    fake.push(Script::text("sent"));
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let fin = run(&mut raw, "m", "tell the owner", "main").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"], "sent",
        "{fin}"
    );
    let first = tool_result(&fake, "m1");
    assert!(first.contains("Sent via telegram to 111"), "{first}");
    assert_eq!(
        tool_result(&fake, "m2"),
        first,
        "the retry returns the first result"
    );
    assert_eq!(
        tg.replies_to(111, "hello from a tool"),
        1,
        "delivered exactly once"
    );
    assert!(tool_result(&fake, "m3").contains("`to` is required"));
    assert!(tool_result(&fake, "m4").contains("`react` is not supported"));
    assert!(tool_result(&fake, "m5").contains("or `media` is required"));

    // A run started by a Telegram DM answers its own chat without naming it.
    fake.push(call(
        "m6",
        "message",
        json!({"message": "progress: halfway"}),
    ));
    fake.push(Script::text("all done"));
    tg.push_dm(111, "do the thing");
    wait_for("the reply", || tg.replies_to(111, "all done") == 1).await;
    assert_eq!(tg.replies_to(111, "progress: halfway"), 1);
    assert!(tool_result(&fake, "m6").contains("Sent via telegram"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_tools_list_read_and_talk_to_other_sessions() {
    let fake = FakeOpenAi::start().await;
    let gw = start(
        &fake,
        json!({"tools": {"sessions": {"visibility": "agent"}}}),
        &[],
    );
    let (mut raw, _) = connected(&gw.url(), OP).await;
    // A second session with one exchange (the fake echoes).
    run(&mut raw, "s1", "the side note", "side").await;
    fake.answer_matching("Agent-to-agent", Script::text("pong"));
    fake.push(call("l1", "sessions_list", json!({"messageLimit": 2})));
    fake.push(call(
        "h1",
        "sessions_history",
        json!({"sessionKey": "side", "limit": 5}),
    ));
    fake.push(call(
        "h2",
        "sessions_history",
        json!({"sessionKey": "nope"}),
    ));
    fake.push(call(
        "x1",
        "sessions_send",
        json!({"sessionKey": "side", "message": "ping", "timeoutSeconds": 60}),
    ));
    fake.push(call(
        "x2",
        "sessions_send",
        json!({"sessionKey": "main", "message": "me?"}),
    ));
    fake.push(call("x3", "sessions_send", json!({"message": "nowhere"})));
    fake.push(Script::text("talked"));
    let fin = run(&mut raw, "m1", "look around", "main").await;
    assert_eq!(
        fin["payload"]["result"]["payloads"][0]["text"], "talked",
        "{fin}"
    );

    let list: Value = serde_json::from_str(&tool_result(&fake, "l1")).unwrap();
    let keys: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"agent:main:side") && keys.contains(&"agent:main:main"),
        "{list}"
    );
    assert_eq!(list["limitApplied"], 100);
    let side = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "agent:main:side")
        .unwrap();
    assert_eq!(side["messages"][0]["text"], "the side note", "{side}");
    let history: Value = serde_json::from_str(&tool_result(&fake, "h1")).unwrap();
    assert_eq!(history["sessionKey"], "agent:main:side");
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        2,
        "{history}"
    );
    assert!(tool_result(&fake, "h2").contains("No session found"));
    let sent: Value = serde_json::from_str(&tool_result(&fake, "x1")).unwrap();
    assert_eq!(sent["status"], "ok", "{sent}");
    assert_eq!(sent["reply"], "pong");
    assert_eq!(sent["sessionKey"], "agent:main:side");
    assert!(tool_result(&fake, "x2").contains("cannot target the session it is called from"));
    assert!(tool_result(&fake, "x3").contains("sessionKey, label or agentId"));

    // The two sessions then answer each other, at most five turns.
    wait_for("five ping-pong turns", || {
        fake.requests()
            .iter()
            .filter(|r| r.to_string().contains("Agent-to-agent reply step"))
            .count()
            >= 5
    })
    .await;
    let turns: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.to_string())
        .filter(|t| t.contains("Agent-to-agent reply step"))
        .collect();
    for (i, t) in turns.iter().enumerate() {
        assert!(t.contains(&format!("Turn {} of 5", i + 1)), "turn {i}: {t}");
    }
    let h = raw
        .req("h", "chat.history", Some(json!({"sessionKey": "side"})))
        .await;
    assert!(
        h["payload"]["messages"].to_string().contains("ping"),
        "the message reached side"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_invoke_runs_sessions_list_as_documented() {
    let fake = FakeOpenAi::start().await;
    let tg = FakeTelegram::start().await;
    let gw = telegram_gateway(&fake, &tg).await;
    let (mut raw, _) = connected(&gw.url(), OP).await;
    run(&mut raw, "s1", "hi", "main").await;
    let auth = format!("Bearer {TOKEN}");
    let post = |body: &str| {
        http_request(
            gw.port,
            "POST",
            "/tools/invoke",
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            body,
        )
    };
    let (status, _, body) = post(
        r#"{"tool":"sessions_list","action":"json","args":{},"sessionKey":"main","dryRun":false}"#,
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ok"], true);
    let d = &v["result"]["details"];
    assert_eq!(d["count"], 1, "{d}");
    assert_eq!(d["hasMore"], false);
    assert_eq!(d["limitApplied"], 100);
    assert_eq!(d["sessions"][0]["key"], "agent:main:main");
    assert!(
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("agent:main:main")
    );
    // Denied over HTTP by default, as the reference: sessions_send, apply_patch.
    for tool in ["sessions_send", "apply_patch"] {
        let (status, _, body) = post(&format!(r#"{{"tool":"{tool}","args":{{}}}}"#));
        assert_eq!(status, 404, "{tool}: {body}");
        assert!(
            body.contains(&format!("Tool not available: {tool}")),
            "{body}"
        );
    }
    // `message` is reachable and keeps its idempotency.
    let msg = r#"{"tool":"message","args":{"channel":"telegram","to":"111","message":"from http","idempotencyKey":"h-1"}}"#;
    assert_eq!(post(msg).0, 200);
    assert_eq!(post(msg).0, 200);
    assert_eq!(tg.replies_to(111, "from http"), 1);
    let (status, _, body) =
        post(r#"{"tool":"sessions_history","args":{"sessionKey":"main","limit":"many"}}"#);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("limit must be a non-negative integer"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_groups_and_deny_decide_what_the_model_is_offered() {
    let fake = FakeOpenAi::start().await;
    let gw = start(&fake, json!({"tools": {"profile": "messaging"}}), &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    run(&mut raw, "p1", "hi", "main").await;
    let mut names = offered(&fake, 0);
    names.sort();
    assert_eq!(
        names,
        [
            "message",
            "session_status",
            "sessions_history",
            "sessions_list",
            "sessions_send"
        ],
        "the reference's messaging profile"
    );
    drop(gw);

    let fake = FakeOpenAi::start().await;
    let cfg = json!({
        "tools": {"deny": ["group:web"]},
        "agents": {"list": [{"id": "main", "tools": {"deny": ["message", "bash"], "allow": ["group:fs", "group:sessions", "message"]}}]}
    });
    let gw = start(&fake, cfg, &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    fake.push(call("d1", "message", json!({"to": "1", "message": "x"})));
    fake.push(Script::text("done"));
    run(&mut raw, "p2", "hi", "main").await;
    let names = offered(&fake, 0);
    for present in [
        "read",
        "apply_patch",
        "ls",
        "sessions_list",
        "sessions_send",
    ] {
        assert!(
            names.contains(&present.to_string()),
            "{present} missing: {names:?}"
        );
    }
    for absent in ["message", "web_fetch", "web_search"] {
        assert!(
            !names.contains(&absent.to_string()),
            "{absent} offered: {names:?}"
        );
    }
    assert!(
        tool_result(&fake, "d1").contains("message"),
        "a denied tool is refused when called"
    );
    // The catalog lists what exists (as the reference), the host families included.
    let c = raw.call("tools.catalog", json!({})).await;
    let all: Vec<String> = c["payload"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| {
            g["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_string())
        })
        .collect();
    for t in [
        "apply_patch",
        "web_fetch",
        "message",
        "sessions_list",
        "sessions_history",
        "sessions_send",
    ] {
        assert!(
            all.contains(&t.to_string()),
            "{t} not in the catalog: {all:?}"
        );
    }
}
