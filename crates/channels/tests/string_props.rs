//! Property tests for the helpers that normalise caller strings (targets, `allowFrom` entries,
//! binding peers, mention patterns, session keys, reply chunking): every string of a tricky
//! alphabet up to three tokens long, plus random longer ones, must neither panic nor break the
//! helpers' invariants. Multi-byte characters sit where byte slicing used to cut
//! (`"@jürgen"` panicked `normalize_id`). The same helpers are fuzzed in `fuzz/` (`strings`).

use openclaw_channels::{
    Access, AccountConfig, ChatType, InboundMessage, MentionPatterns, PairingStore,
    accounts_from_config, check_access, chunk_text, normalize_id, resolve_binding, session_key_for,
    telegram,
};
use serde_json::json;

/// Pieces that stress prefix stripping and char boundaries: prefixes in both cases, 2-, 3- and
/// 4-byte characters, a combining mark, Unicode spaces, separators the parsers split on.
const TOKENS: &[&str] = &[
    "",
    "t",
    "g",
    ":",
    "T",
    "@",
    "ü",
    "€",
    "😀",
    "e\u{301}",
    " ",
    "\u{a0}",
    "\u{2003}",
    "1",
    "-",
    "_",
    "w",
    "*",
    "\n",
    "tg:",
    "TG:",
    "telegram:",
    "whatsapp:",
    "WhatsApp:",
    ":topic:",
    "tü",
    "t€",
    "whatsapp",
    "+",
    "g.us",
];

fn inputs() -> Vec<String> {
    let mut out = Vec::new();
    for a in TOKENS {
        for b in TOKENS {
            for c in TOKENS {
                out.push(format!("{a}{b}{c}"));
            }
        }
    }
    // Random longer strings of the same pieces (fixed seed: reproducible).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..5_000 {
        let mut s = String::new();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        for k in 0..(x % 12) {
            let i = ((x >> (k * 5)) as usize) % TOKENS.len();
            s.push_str(TOKENS[i]);
        }
        out.push(s);
    }
    out.push("@jürgen".into());
    out
}

fn dm(sender: &str) -> InboundMessage {
    InboundMessage {
        channel: "telegram".into(),
        account_id: "default".into(),
        chat_id: sender.into(),
        chat_type: ChatType::Direct,
        thread_id: Some(sender.into()),
        sender_id: sender.into(),
        sender_name: None,
        sender_username: None,
        message_id: "1".into(),
        text: sender.into(),
        mentioned: false,
        reply_to_bot: false,
        media: Vec::new(),
        timestamp_ms: 0,
    }
}

#[test]
fn normalize_id_is_total_and_only_strips_a_known_prefix() {
    for s in inputs() {
        let out = normalize_id(&s);
        let t = s.trim();
        assert!(
            t.contains(out.as_str()),
            "{s:?} -> {out:?} is not part of the input"
        );
        let prefixed = ["telegram:", "tg:", "whatsapp:"].iter().any(|p| {
            t.len() > p.len() && t.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p))
        });
        if !prefixed {
            assert_eq!(out, t, "{s:?} has no channel prefix, so it must stay as is");
        }
    }
    assert_eq!(normalize_id("@jürgen"), "@jürgen");
    assert_eq!(normalize_id(" TG:@jürgen "), "@jürgen");
    assert_eq!(normalize_id("whatsapp:+15551234567"), "+15551234567");
}

#[test]
fn telegram_targets_parse_or_fail_cleanly() {
    for s in inputs() {
        if let Ok((chat, topic)) = telegram::parse_target(&s) {
            assert!(chat.is_ascii(), "{s:?} -> {chat:?}");
            assert!(topic.is_none_or(|t| t.chars().all(|c| c.is_ascii_digit())));
        }
    }
    assert!(telegram::parse_target("@jürgen").is_err());
}

#[test]
fn allow_from_entries_load_and_match_their_own_sender() {
    let dir = tempfile::tempdir().unwrap();
    let store = PairingStore::new(dir.path(), "telegram", "default");
    for s in inputs() {
        let cfg =
            json!({"telegram": {"botToken": "1:x", "dmPolicy": "allowlist", "allowFrom": [s]}});
        let accounts = accounts_from_config(&cfg, &|_| None)
            .unwrap_or_else(|e| panic!("allowFrom [{s:?}] must load: {e}"));
        let a: &AccountConfig = &accounts[0];
        let access = check_access(a, &dm(&s), &store);
        // An entry normalising to a further prefix ("tg:tg:5") is stripped once more on match,
        // so only assert the plain cases.
        if normalize_id(&normalize_id(&s)) == normalize_id(&s) {
            assert!(matches!(access, Access::Allow), "{s:?}: {access:?}");
        }
    }
}

#[test]
fn bindings_mentions_session_keys_and_chunks_take_any_text() {
    // Every 5th input: compiling a mention regex per string is the slow part.
    for s in inputs().into_iter().step_by(5) {
        let bindings: Vec<openclaw_config::sections::Binding> =
            serde_json::from_value(json!([{"agentId": "a", "match": {"channel": "telegram",
                "peer": {"kind": "direct", "id": s}}}]))
            .unwrap();
        let _ = resolve_binding(&bindings, &dm(&s), "default");
        let cfg: openclaw_config::OpenClawConfig =
            serde_json::from_value(json!({"messages": {"groupChat": {"mentionPatterns": [s]}}}))
                .unwrap();
        let _ = MentionPatterns::for_agent(&cfg, &s).matches(&s);
        for scope in [
            "main",
            "per-peer",
            "per-channel-peer",
            "per-account-channel-peer",
        ] {
            let key = session_key_for(&dm(&s), &s, &s, scope);
            assert_eq!(key, key.to_lowercase());
        }
        for limit in [1, 2, 5] {
            let chunks = chunk_text(&s, limit);
            assert!(chunks.iter().all(|c| c.chars().count() <= limit), "{s:?}");
            let words = |t: &str| t.split_whitespace().collect::<String>();
            assert_eq!(
                words(&chunks.concat()),
                words(&s),
                "{s:?}: chunking lost or reordered text"
            );
        }
    }
}
