//! On-disk state and config parsing: JSONL transcripts (round trip, torn lines, resets,
//! permissions), the `sessions.json` index (lifecycle, unknown fields, corruption,
//! concurrency), canonical keys, model refs/chains, providers, and the system prompt.

use std::collections::HashMap;
use std::path::Path;

use openclaw_agent::{
    AgentMessage, Api, ContentPart, ModelRef, Providers, SessionStore, Transcript, Usage,
    canonical_session_key, model_chain, system_prompt,
};
use openclaw_config::OpenClawConfig;
use openclaw_config::sections::ModelsConfig;
use serde_json::{Map, Value, json};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split('\n')
        .map(str::to_string)
        .collect()
}

#[cfg(unix)]
/// The names of the files in `dir` (none when it cannot be read).
fn file_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `Transcript::open_or_create`, which must succeed.
fn open_transcript(path: &Path, session_id: &str, cwd: &Path) -> Transcript {
    Transcript::open_or_create(path, session_id, cwd).unwrap_or_else(|e| panic!("{e}"))
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

fn sample_messages() -> Vec<AgentMessage> {
    vec![
        AgentMessage::user_text("read README.md"),
        AgentMessage::Assistant {
            content: vec![
                ContentPart::text("Let me look."),
                ContentPart::ToolCall {
                    id: "call_1".into(),
                    name: "read".into(),
                    arguments: json!({"path": "README.md"}),
                },
            ],
            api: Some("anthropic-messages".into()),
            provider: Some("anthropic".into()),
            model: Some("claude-opus-4-6".into()),
            usage: Some(Usage {
                input: 10,
                output: 5,
                cache_read: 0,
                cache_write: 0,
                total_tokens: 15,
            }),
            stop_reason: Some("toolUse".into()),
            error_message: None,
            timestamp: 1_737_264_001_000,
            extra: Map::new(),
        },
        AgentMessage::ToolResult {
            tool_call_id: "call_1".into(),
            tool_name: "read".into(),
            content: vec![ContentPart::text("# Readme")],
            details: Some(json!({"path": "README.md"})),
            is_error: false,
            timestamp: 1_737_264_001_500,
            extra: Map::new(),
        },
    ]
}

#[test]
fn transcript_round_trip_with_header_ids_and_permissions() {
    let dir = tmp();
    let path = dir.path().join("sessions/abc.jsonl");
    let mut t = open_transcript(&path, "abc", Path::new("/work/ws"));
    let msgs = sample_messages();
    let mut ids = Vec::new();
    for m in &msgs {
        ids.push(t.append_message(m).unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(
        Transcript::load_messages(&path).unwrap_or_else(|e| panic!("{e}")),
        msgs
    );

    let l = lines(&path);
    assert_eq!(l.len(), 5, "header + 3 entries + trailing empty");
    assert_eq!(l[4], "");
    let header: Value = serde_json::from_str(&l[0]).unwrap_or_default();
    assert_eq!(header["type"], "session");
    assert_eq!(header["version"], 3);
    assert_eq!(header["id"], "abc");
    assert_eq!(header["cwd"], "/work/ws");
    assert!(
        chrono::DateTime::parse_from_rfc3339(header["timestamp"].as_str().unwrap_or("")).is_ok()
    );
    let mut parent = Value::Null;
    for (i, line) in l[1..4].iter().enumerate() {
        let e: Value = serde_json::from_str(line).unwrap_or_default();
        assert_eq!(e["type"], "message");
        let id = e["id"].as_str().unwrap_or("");
        assert_eq!(id, ids[i]);
        assert_eq!(id.len(), 8);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(e["parentId"], parent);
        parent = Value::String(id.to_string());
        assert!(e["timestamp"].as_str().is_some_and(|s| s.ends_with('Z')));
    }
    let entry: Value = serde_json::from_str(&l[2]).unwrap_or_default();
    assert_eq!(entry["message"]["role"], "assistant");
    assert_eq!(entry["message"]["stopReason"], "toolUse");
    assert_eq!(entry["message"]["content"][1]["type"], "toolCall");

    // Reopening continues the chain without a second header.
    let mut t = open_transcript(&path, "abc", Path::new("/other"));
    t.append_message(&AgentMessage::user_text("again"))
        .unwrap_or_else(|e| panic!("{e}"));
    let l = lines(&path);
    assert_eq!(
        l.iter()
            .filter(|x| x.contains("\"type\":\"session\""))
            .count(),
        1
    );
    let last: Value = serde_json::from_str(&l[4]).unwrap_or_default();
    assert_eq!(last["parentId"], ids[2]);

    #[cfg(unix)]
    {
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("sessions")), 0o700);
    }
}

#[test]
fn torn_last_line_is_skipped_and_later_appends_stay_valid() {
    let dir = tmp();
    let path = dir.path().join("s.jsonl");
    let mut t = open_transcript(&path, "s", dir.path());
    let msgs = sample_messages();
    for m in &msgs {
        t.append_message(m).unwrap_or_else(|e| panic!("{e}"));
    }
    // A crash in the middle of a write: half a line, no newline.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        f.write_all(br#"{"type":"message","id":"deadbeef","parentId":null,"message":{"role":"us"#)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(
        Transcript::load_messages(&path).unwrap_or_else(|e| panic!("{e}")),
        msgs,
        "earlier lines intact, torn line skipped"
    );

    // The next writer (a new process) terminates the fragment before appending.
    let mut t = open_transcript(&path, "s", dir.path());
    let next = AgentMessage::user_text("after the crash");
    t.append_message(&next).unwrap_or_else(|e| panic!("{e}"));
    let l = lines(&path);
    assert!(
        l[4].ends_with(r#""role":"us"#),
        "fragment kept on its own line: {l:?}"
    );
    let appended: Value = serde_json::from_str(&l[5]).unwrap_or_else(|e| panic!("{e}: {}", l[5]));
    assert_eq!(appended["message"]["content"][0]["text"], "after the crash");
    let mut expected = msgs.clone();
    expected.push(next);
    assert_eq!(
        Transcript::load_messages(&path).unwrap_or_else(|e| panic!("{e}")),
        expected,
        "the torn line in the middle is skipped too"
    );

    // Even the same (stale) writer handle notices a fragment written by someone else.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"tor"))
        .unwrap_or_else(|e| panic!("{e}"));
    t.append_message(&AgentMessage::user_text("third"))
        .unwrap_or_else(|e| panic!("{e}"));
    let loaded = Transcript::load_messages(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.last().map(|m| m.text()), Some("third".to_string()));
    assert_eq!(loaded.len(), 5);
}

#[test]
fn reset_entries_start_a_new_window_and_foreign_entries_are_tolerated() {
    let dir = tmp();
    let path = dir.path().join("r.jsonl");
    // A reference-written file: string content, unknown entry types, unknown roles.
    let text = [
        r#"{"type":"session","version":3,"id":"r","timestamp":"2026-01-19T00:00:00.000Z","cwd":"/ws"}"#,
        r#"{"type":"message","id":"00000001","parentId":null,"timestamp":"2026-01-19T00:00:01.000Z","message":{"role":"user","content":"old","timestamp":1}}"#,
        r#"{"type":"model_change","id":"00000002","parentId":"00000001","timestamp":"2026-01-19T00:00:02.000Z","provider":"openai","modelId":"gpt"}"#,
        r#"{"type":"message","id":"00000003","parentId":"00000002","timestamp":"2026-01-19T00:00:03.000Z","message":{"role":"bashExecution","command":"ls"}}"#,
        r#"not json at all"#,
        "",
    ]
    .join("\n");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let loaded = Transcript::load_messages(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].text(), "old");

    let mut t = open_transcript(&path, "r", dir.path());
    t.append_entry(json!({"type": "reset"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        Transcript::load_messages(&path)
            .unwrap_or_default()
            .is_empty()
    );
    t.append_message(&AgentMessage::user_text("new"))
        .unwrap_or_else(|e| panic!("{e}"));
    let loaded = Transcript::load_messages(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.iter().map(|m| m.text()).collect::<Vec<_>>(), ["new"]);
    assert!(
        Transcript::load_messages(&dir.path().join("missing.jsonl"))
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
}

#[test]
fn trim_lines_archives_and_keeps_the_tail() {
    let dir = tmp();
    let path = dir.path().join("t.jsonl");
    let mut t = open_transcript(&path, "t", dir.path());
    for i in 0..10 {
        t.append_message(&AgentMessage::user_text(format!("m{i}")))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(Transcript::trim_lines(&path, 100).ok(), Some(None));
    let (archive, kept) = Transcript::trim_lines(&path, 3)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("should trim"));
    assert_eq!(kept, 3);
    assert!(archive.display().to_string().ends_with(".bak"));
    assert_eq!(lines(&archive).len(), 12);
    let texts: Vec<String> = Transcript::load_messages(&path)
        .unwrap_or_default()
        .iter()
        .map(|m| m.text())
        .collect();
    assert_eq!(texts, ["m7", "m8", "m9"]);
    assert!(lines(&path)[0].contains("\"type\":\"session\""));
}

#[test]
fn session_store_lifecycle() {
    let state = tmp();
    let store = SessionStore::open(state.path(), "Main");
    assert_eq!(store.dir(), state.path().join("agents/main/sessions"));
    assert!(store.get("agent:main:main").is_none());
    assert!(store.list().is_empty());
    assert!(
        store
            .update("agent:main:main", |_| {})
            .ok()
            .flatten()
            .is_none()
    );

    let a = store
        .get_or_create("agent:main:main")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(uuid::Uuid::parse_str(&a.session_id).is_ok_and(|u| u.get_version_num() == 4));
    assert_eq!(
        store
            .get_or_create("AGENT:MAIN:MAIN")
            .ok()
            .map(|e| e.session_id),
        Some(a.session_id.clone())
    );
    assert_eq!(
        store.transcript_path(&a),
        store.dir().join(format!("{}.jsonl", a.session_id))
    );
    let index = store.dir().join("sessions.json");
    #[cfg(unix)]
    {
        assert_eq!(mode(&index), 0o600);
        assert_eq!(mode(&store.dir()), 0o700);
    }

    let b = store
        .get_or_create("agent:main:other")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(a.session_id, b.session_id);
    let updated = store
        .update("agent:main:main", |e| {
            e.label = Some("Work".into());
            e.input_tokens = Some(100);
            e.updated_at = b.updated_at + 10;
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("entry exists"));
    assert_eq!(updated.label.as_deref(), Some("Work"));
    let keys: Vec<String> = store.list().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        ["agent:main:main", "agent:main:other"],
        "updatedAt desc"
    );
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(&index).unwrap_or_default()).unwrap_or_default();
    assert_eq!(on_disk["agent:main:main"]["label"], "Work");
    assert_eq!(on_disk["agent:main:main"]["inputTokens"], 100);
    assert_eq!(
        on_disk["agent:main:main"]["sessionId"],
        a.session_id.as_str()
    );

    // Reset: new id, settings kept, counters cleared, old transcript archived.
    let old_path = store.transcript_path(&updated);
    let mut t = open_transcript(&old_path, &a.session_id, state.path());
    t.append_message(&AgentMessage::user_text("before reset"))
        .unwrap_or_else(|e| panic!("{e}"));
    let reset = store
        .reset("agent:main:main")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(reset.session_id, a.session_id);
    assert_eq!(reset.label.as_deref(), Some("Work"));
    assert_eq!(reset.input_tokens, None);
    assert!(!old_path.exists());
    let archived = file_names(&store.dir());
    assert!(
        archived
            .iter()
            .any(|n| n.starts_with(&format!("{}.jsonl.reset.", a.session_id))),
        "{archived:?}"
    );
    assert_eq!(
        store.get("agent:main:main").map(|e| e.session_id),
        Some(reset.session_id.clone())
    );

    // Delete with transcript archiving.
    let new_path = store.transcript_path(&reset);
    open_transcript(&new_path, &reset.session_id, state.path());
    let (deleted, archived) = store
        .delete("agent:main:main", true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(deleted);
    assert_eq!(archived.len(), 1);
    assert!(archived[0].contains(".jsonl.deleted."));
    assert!(Path::new(&archived[0]).exists() && !new_path.exists());
    assert!(store.get("agent:main:main").is_none());
    assert_eq!(
        store.delete("agent:main:main", true).ok(),
        Some((false, vec![]))
    );
    assert_eq!(store.list().len(), 1);
    #[cfg(unix)]
    assert_eq!(mode(&index), 0o600);
}

#[test]
fn session_store_keeps_unknown_fields_and_sets_corrupt_files_aside() {
    let state = tmp();
    let store = SessionStore::open(state.path(), "main");
    std::fs::create_dir_all(store.dir()).unwrap_or_else(|e| panic!("{e}"));
    let index = store.dir().join("sessions.json");
    let original = json!({
        "agent:main:main": {"sessionId": "s1", "updatedAt": 5, "skillsSnapshot": {"a": 1},
            "origin": {"provider": "telegram"}, "thinkingLevel": "low"},
        "agent:main:weird": {"no": "session id"}
    });
    std::fs::write(&index, original.to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store.list().len(),
        1,
        "unreadable rows are skipped, not fatal"
    );
    store
        .update("agent:main:main", |e| e.model = Some("gpt".into()))
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value =
        serde_json::from_slice(&std::fs::read(&index).unwrap_or_default()).unwrap_or_default();
    assert_eq!(v["agent:main:main"]["skillsSnapshot"], json!({"a": 1}));
    assert_eq!(v["agent:main:main"]["origin"]["provider"], "telegram");
    assert_eq!(v["agent:main:main"]["thinkingLevel"], "low");
    assert_eq!(v["agent:main:main"]["model"], "gpt");
    assert_eq!(v["agent:main:weird"], json!({"no": "session id"}));
    // The broken row gets a session when used, keeping its other fields.
    let fixed = store
        .get_or_create("agent:main:weird")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!fixed.session_id.is_empty());
    assert_eq!(fixed.extra.get("no"), Some(&json!("session id")));

    std::fs::write(&index, b"{ this is not json").unwrap_or_else(|e| panic!("{e}"));
    assert!(store.list().is_empty());
    store
        .get_or_create("agent:main:main")
        .unwrap_or_else(|e| panic!("{e}"));
    let aside = file_names(&store.dir());
    let aside = aside
        .iter()
        .find(|n| n.starts_with("sessions.json.corrupt-"))
        .unwrap_or_else(|| panic!("corrupt index was not kept"));
    assert_eq!(
        std::fs::read(store.dir().join(aside)).unwrap_or_default(),
        b"{ this is not json"
    );
}

#[test]
fn concurrent_updates_through_separate_stores_are_not_lost() {
    let state = tmp();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let dir = state.path().to_path_buf();
            std::thread::spawn(move || {
                let store = SessionStore::open(&dir, "main");
                for j in 0..10 {
                    store
                        .get_or_create(&format!("agent:main:k{i}-{j}"))
                        .unwrap_or_else(|e| panic!("{e}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap_or_else(|_| panic!("thread panicked"));
    }
    assert_eq!(SessionStore::open(state.path(), "main").list().len(), 80);
}

#[test]
fn canonical_session_keys() {
    for (key, agent, main_key, want) in [
        ("main", "main", "main", "agent:main:main"),
        ("MAIN", "Ops", "main", "agent:ops:main"),
        ("main", "ops", "home", "agent:ops:home"),
        (
            "Agent:Main:Telegram:Group:-100",
            "x",
            "main",
            "agent:main:telegram:group:-100",
        ),
        (
            "whatsapp:dm:+1555",
            "main",
            "main",
            "agent:main:whatsapp:dm:+1555",
        ),
        ("  My Chat ", "main", "main", "agent:main:my chat"),
        ("global", "main", "main", "global"),
    ] {
        assert_eq!(
            canonical_session_key(key, agent, main_key),
            want,
            "{key:?} {agent:?} {main_key:?}"
        );
    }
}

#[test]
fn model_refs_split_on_the_first_slash() {
    let r = ModelRef::parse("openrouter/anthropic/claude-sonnet-4-5");
    assert_eq!(
        r,
        Some(ModelRef {
            provider: "openrouter".into(),
            model: "anthropic/claude-sonnet-4-5".into()
        })
    );
    assert_eq!(
        r.map(|r| r.to_string()).as_deref(),
        Some("openrouter/anthropic/claude-sonnet-4-5")
    );
    assert_eq!(
        ModelRef::parse(" Anthropic/claude-opus-4-6 ").map(|r| (r.provider, r.model)),
        Some(("anthropic".into(), "claude-opus-4-6".into()))
    );
    for bad in ["claude", "/x", "x/", "", "/"] {
        assert_eq!(ModelRef::parse(bad), None, "{bad:?}");
    }
}

fn agents_cfg(agents: Value) -> OpenClawConfig {
    serde_json::from_value(json!({"agents": agents})).unwrap_or_else(|e| panic!("{e}"))
}

fn models_cfg(models: Value) -> ModelsConfig {
    serde_json::from_value(models).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn model_chain_from_both_config_forms() {
    let r = |s: &str| ModelRef::parse(s).unwrap_or_else(|| panic!("{s}"));
    // String form: primary only.
    let agents = agents_cfg(json!({"defaults": {"model": "openai/gpt-5.2"}}));
    assert_eq!(model_chain(&agents, "main"), vec![r("openai/gpt-5.2")]);
    // Object form: primary + fallbacks, duplicates dropped.
    let agents = agents_cfg(
        json!({"defaults": {"model": {"primary": "anthropic/claude-opus-4-6",
        "fallbacks": ["openai/gpt-5.2", "anthropic/claude-opus-4-6", "openrouter/x/y"]}},
        "list": [
            {"id": "main", "default": true},
            {"id": "ops", "model": "groq/llama-3"},
            {"id": "solo", "model": {"primary": "xai/grok-4", "fallbacks": []}},
            {"id": "mix", "model": {"fallbacks": ["openai/gpt-4o"]}}
        ]}),
    );
    assert_eq!(
        model_chain(&agents, "main"),
        vec![
            r("anthropic/claude-opus-4-6"),
            r("openai/gpt-5.2"),
            r("openrouter/x/y")
        ]
    );
    // Per-agent string: own primary, default fallbacks.
    assert_eq!(
        model_chain(&agents, "OPS"),
        vec![
            r("groq/llama-3"),
            r("openai/gpt-5.2"),
            r("anthropic/claude-opus-4-6"),
            r("openrouter/x/y")
        ]
    );
    // Per-agent object with explicit empty fallbacks.
    assert_eq!(model_chain(&agents, "solo"), vec![r("xai/grok-4")]);
    // Per-agent fallbacks only: default primary.
    assert_eq!(
        model_chain(&agents, "mix"),
        vec![r("anthropic/claude-opus-4-6"), r("openai/gpt-4o")]
    );
    assert!(model_chain(&OpenClawConfig::default(), "main").is_empty());
}

#[test]
fn providers_merge_builtins_config_and_env() {
    let env: HashMap<&str, &str> = [("OPENAI_API_KEY", "sk-env"), ("GROQ_API_KEY", "")].into();
    let lookup = |k: &str| env.get(k).map(|v| v.to_string());
    let p = Providers::from_config(None, &lookup).unwrap_or_else(|e| panic!("{e}"));
    let openai = p.get("openai").unwrap_or_else(|| panic!("openai built-in"));
    assert_eq!(openai.base_url, "https://api.openai.com/v1");
    assert_eq!(openai.api, Api::OpenAiCompletions);
    assert_eq!(openai.api_key.as_deref(), Some("sk-env"));
    let anthropic = p
        .get("anthropic")
        .unwrap_or_else(|| panic!("anthropic built-in"));
    assert_eq!(anthropic.base_url, "https://api.anthropic.com");
    assert_eq!(anthropic.api, Api::AnthropicMessages);
    assert_eq!(anthropic.api_key, None);
    assert_eq!(
        p.get("groq").and_then(|g| g.api_key.clone()),
        None,
        "empty env is no key"
    );
    for id in ["openrouter", "xai", "ollama"] {
        assert!(p.get(id).is_some(), "{id}");
    }
    assert_eq!(
        p.get("ollama").map(|o| o.base_url.as_str()),
        Some("http://127.0.0.1:11434/v1")
    );

    let models = json!({"providers": {
        "lmstudio": {"baseUrl": "http://localhost:1234/v1/", "apiKey": "lm-key", "api": "openai-completions",
            "headers": {"X-Foo": "bar"},
            "models": [{"id": "minimax-m2.1", "name": "MiniMax", "contextWindow": 100000, "maxTokens": 4096, "reasoning": true},
                       {"id": "tiny"}]},
        "openai": {"baseUrl": "https://proxy.example/v1", "apiKey": "sk-config"},
        "gemini-native": {"baseUrl": "https://x", "api": "google-generative-ai"}
    }});
    let p = Providers::from_config(Some(&models_cfg(models)), &lookup)
        .unwrap_or_else(|e| panic!("{e}"));
    let lm = p
        .get("lmstudio")
        .unwrap_or_else(|| panic!("custom provider"));
    assert_eq!(lm.base_url, "http://localhost:1234/v1");
    assert_eq!(lm.api_key.as_deref(), Some("lm-key"));
    assert_eq!(lm.headers, vec![("X-Foo".to_string(), "bar".to_string())]);
    let m = lm
        .model_info("minimax-m2.1")
        .unwrap_or_else(|| panic!("model"));
    assert_eq!(
        (m.context_window, m.max_tokens, m.reasoning),
        (100_000, 4096, true)
    );
    let tiny = lm.model_info("tiny").unwrap_or_else(|| panic!("model"));
    assert_eq!(
        (tiny.context_window, tiny.max_tokens, tiny.reasoning),
        (200_000, 8192, false)
    );
    let openai = p.get("openai").unwrap_or_else(|| panic!("openai"));
    assert_eq!(openai.base_url, "https://proxy.example/v1");
    assert_eq!(
        openai.api_key.as_deref(),
        Some("sk-config"),
        "config key wins over env"
    );
    assert_eq!(openai.api, Api::OpenAiCompletions);
    assert!(p.get("gemini-native").is_none(), "unsupported API skipped");
    assert!(p.get("anthropic").is_some(), "merge keeps built-ins");

    let chain = p.chain(&[r_("lmstudio/tiny"), r_("nope/x"), r_("openai/gpt-5.2")]);
    assert_eq!(
        chain
            .iter()
            .map(|(p, m)| format!("{}/{m}", p.id))
            .collect::<Vec<_>>(),
        ["lmstudio/tiny", "openai/gpt-5.2"]
    );

    let replace =
        json!({"mode": "replace", "providers": {"local": {"baseUrl": "http://127.0.0.1:1/v1"}}});
    let p = Providers::from_config(Some(&models_cfg(replace)), &lookup)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.iter().count(), 1);
    assert_eq!(
        p.get("local").map(|l| l.api.clone()),
        Some(Api::OpenAiCompletions)
    );

    let custom = models_cfg(json!({"providers": {"custom": {"apiKey": "k"}}}));
    let err = Providers::from_config(Some(&custom), &lookup)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("models.providers.custom.baseUrl"), "{err}");
    // A model without an id never reaches here: the typed section refuses it at load.
    let no_id = json!({"providers": {"x": {"baseUrl": "u", "models": [{"name": "no id"}]}}});
    assert!(serde_json::from_value::<ModelsConfig>(no_id).is_err());
}

fn r_(s: &str) -> ModelRef {
    ModelRef::parse(s).unwrap_or_else(|| panic!("{s}"))
}

#[test]
fn system_prompt_includes_bootstrap_files_in_order() {
    let root = tmp();
    let ws = root.path().join("workspace");
    let prompt = system_prompt(&ws, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(ws.is_dir());
    #[cfg(unix)]
    assert_eq!(mode(&ws), 0o700);
    assert!(prompt.starts_with("You are a personal assistant running inside OpenClaw."));
    assert!(prompt.contains(&format!(
        "[MISSING] Expected at: {}",
        ws.join("AGENTS.md").display()
    )));
    assert!(!prompt.contains("BOOTSTRAP.md"));

    std::fs::write(ws.join("SOUL.md"), "Be kind.").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(ws.join("AGENTS.md"), "Follow the rules.").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(ws.join("USER.md"), "   \n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(ws.join("TOOLS.md"), "z".repeat(30_000)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(ws.join("BOOTSTRAP.md"), "Say hello first.").unwrap_or_else(|e| panic!("{e}"));
    let prompt =
        system_prompt(&ws, Some("You are in a group chat.")).unwrap_or_else(|e| panic!("{e}"));
    let agents = prompt.find("## AGENTS.md").unwrap_or(usize::MAX);
    let soul = prompt.find("## SOUL.md").unwrap_or(usize::MAX);
    let tools = prompt.find("## TOOLS.md").unwrap_or(usize::MAX);
    let boot = prompt.find("## BOOTSTRAP.md").unwrap_or(usize::MAX);
    assert!(
        agents < soul && soul < tools && tools < boot,
        "{agents} {soul} {tools} {boot}"
    );
    assert!(prompt.contains("Follow the rules.") && prompt.contains("Be kind."));
    assert!(!prompt.contains("## USER.md"), "empty files are skipped");
    assert!(prompt.contains("truncated"));
    assert!(prompt.len() < 25_000, "{}", prompt.len());
    assert!(prompt.contains("You are in a group chat."));
}
