//! Fuzz target for the helpers that normalise caller strings: `send` targets, `allowFrom`
//! entries, binding peers, mention patterns, session keys and reply chunking. Any of them may
//! see text from a WebSocket client, a chat message or the config file; none may panic
//! (`normalize_id("@jürgen")` did, by slicing bytes inside `ü`).
//!
//! The input is split on NUL into up to four strings, so one run can mix a target, an
//! allowlist entry, a sender and a mention pattern.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_agent::sessions::{canonical_session_key, normalize_agent_id};
use openclaw_channels::{
    AccountConfig, ChatType, DmPolicy, InboundMessage, MentionPatterns, PairingStore, check_access,
    chunk_text, normalize_id, resolve_binding, session_key_for, telegram,
};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(4, '\0');
    let a = parts.next().unwrap_or("");
    let b = parts.next().unwrap_or(a);
    let c = parts.next().unwrap_or(b);
    let d = parts.next().unwrap_or(c);

    let n = normalize_id(a);
    assert!(a.trim().contains(n.as_str()));
    let _ = telegram::parse_target(a);

    let msg = InboundMessage {
        channel: "telegram".into(),
        account_id: c.into(),
        chat_id: a.into(),
        chat_type: if d.len() % 2 == 0 {
            ChatType::Direct
        } else {
            ChatType::Group
        },
        thread_id: Some(d.into()),
        sender_id: b.into(),
        sender_name: None,
        sender_username: None,
        message_id: "1".into(),
        text: d.into(),
        mentioned: false,
        reply_to_bot: false,
        media: Vec::new(),
        timestamp_ms: 0,
    };
    let mut account = AccountConfig::new("telegram", "default");
    account.dm_policy = DmPolicy::Allowlist;
    account.allow_from = vec![normalize_id(c)];
    // Allowlist and group decisions never touch the pairing store's files.
    let store = PairingStore::new(std::path::Path::new("/nonexistent"), "telegram", "default");
    let _ = check_access(&account, &msg, &store);
    let bindings = json!([{"agentId": c, "match": {"channel": a, "accountId": b,
        "peer": {"kind": d, "id": a}}}]);
    let _ = resolve_binding(&bindings, &msg, c);
    let cfg = json!({"messages": {"groupChat": {"mentionPatterns": [d]}}});
    let _ = MentionPatterns::for_agent(&cfg, c).matches(a);
    for scope in [
        "main",
        "per-peer",
        "per-channel-peer",
        "per-account-channel-peer",
    ] {
        let _ = session_key_for(&msg, c, d, scope);
    }
    let _ = canonical_session_key(a, b, c);
    let _ = normalize_agent_id(d);
    let limit = (data.first().copied().unwrap_or(1) % 64) as usize;
    for chunk in chunk_text(a, limit) {
        assert!(chunk.chars().count() <= limit.max(1));
    }
});
