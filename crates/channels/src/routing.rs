//! Routing of inbound messages: which agent answers (`bindings`, channels.md §5.1), which session
//! a chat lands in (§5.2), and configured mention patterns for group gating (§5.3).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use openclaw_config::OpenClawConfig;
use openclaw_config::sections::Binding;
use serde_json::Value;

use crate::config::normalize_id;
use crate::types::{ChatType, InboundMessage};

/// The agent for `msg` from `bindings` (the config value; anything but an array means none).
///
/// Specificity, first match within a tier: an exact `peer` match (`kind` + `id`), then an
/// explicit `accountId` match, then a channel-wide rule (`accountId: "*"`, or no `accountId`,
/// which matches the channel's default account only, as in the reference). Peer rules are
/// scoped to accounts the same way. `type: "acp"` entries are a different feature and skipped.
/// `None` when nothing matches: the caller uses its default agent.
pub fn resolve_binding(
    bindings: &[Binding],
    msg: &InboundMessage,
    default_account: &str,
) -> Option<String> {
    let eq = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    let mut best: Option<(u8, String)> = None;
    for b in bindings {
        if b.kind.as_deref().is_some_and(|t| t != "route") {
            continue;
        }
        let (agent, m) = (b.agent_id.as_str(), &b.matches);
        if agent.trim().is_empty() || !eq(&m.channel, &msg.channel) {
            continue;
        }
        let account_tier = match m.account_id.as_deref().map(str::trim) {
            Some("*") => 1,
            Some(a) if eq(a, &msg.account_id) => 2,
            Some(_) => continue,
            None if eq(default_account, &msg.account_id) => 1,
            None => continue,
        };
        let tier = match &m.peer {
            Some(peer) => {
                let kind = peer.kind.as_str();
                let kind_ok = match msg.chat_type {
                    ChatType::Direct => eq(kind, "direct") || eq(kind, "dm"),
                    ChatType::Group => eq(kind, "group"),
                    ChatType::Channel => eq(kind, "channel"),
                };
                let want = match &peer.id {
                    Value::String(s) => normalize_id(s),
                    other => other.to_string(),
                };
                let have = match msg.chat_type {
                    ChatType::Direct => &msg.sender_id,
                    _ => &msg.chat_id,
                };
                if !kind_ok || !eq(&want, have) {
                    continue;
                }
                3
            }
            None => account_tier,
        };
        if best.as_ref().is_none_or(|(t, _)| tier > *t) {
            best = Some((tier, agent.trim().to_ascii_lowercase()));
        }
    }
    best.map(|(_, a)| a)
}

#[derive(Debug, Default, Clone)]
pub struct MentionPatterns(Vec<regex::Regex>);

impl MentionPatterns {
    /// The agent's `groupChat.mentionPatterns` (`agents.list[]` entry for `agent_id`) when set,
    /// else `messages.groupChat.mentionPatterns`, from the whole config value.
    pub fn for_agent(cfg: &OpenClawConfig, agent_id: &str) -> MentionPatterns {
        let patterns: Vec<String> = cfg.mention_patterns(agent_id).to_vec();
        if patterns.is_empty() {
            return MentionPatterns::default();
        }
        // Compiled once per pattern list (this runs for every unmentioned group message); the
        // cache only grows with config edits and is dropped wholesale beyond a few entries.
        static CACHE: LazyLock<Mutex<HashMap<Vec<String>, MentionPatterns>>> =
            LazyLock::new(Default::default);
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = cache.get(&patterns) {
            return hit.clone();
        }
        let mut out = Vec::new();
        for p in &patterns {
            match regex::RegexBuilder::new(p)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
            {
                Ok(r) => out.push(r),
                Err(e) => {
                    tracing::warn!(target: "channels", "ignoring invalid mentionPattern {p:?}: {e}")
                }
            }
        }
        if cache.len() >= 32 {
            cache.clear();
        }
        let compiled = MentionPatterns(out);
        cache.insert(patterns, compiled.clone());
        compiled
    }

    pub fn matches(&self, text: &str) -> bool {
        self.0.iter().any(|r| r.is_match(text))
    }
}

/// Builds the session key for `msg` (lower-cased), given the resolved agent id, `session.mainKey`
/// (default `main`) and `session.dmScope` (`main` | `per-peer` | `per-channel-peer` |
/// `per-account-channel-peer`; unknown values behave like `main`).
///
/// DMs with scope `main` share the owner's main session `agent:<agentId>:<mainKey>`; groups and
/// channels are always isolated per chat (plus `:topic:<id>` for Telegram forum topics).
pub fn session_key_for(
    msg: &InboundMessage,
    agent_id: &str,
    main_key: &str,
    dm_scope: &str,
) -> String {
    let agent = if agent_id.trim().is_empty() {
        "main"
    } else {
        agent_id.trim()
    };
    let main_key = if main_key.trim().is_empty() {
        "main"
    } else {
        main_key.trim()
    };
    let ch = &msg.channel;
    let key = match msg.chat_type {
        ChatType::Direct => {
            let peer = &msg.sender_id;
            match dm_scope {
                "per-peer" => format!("agent:{agent}:dm:{peer}"),
                "per-channel-peer" => format!("agent:{agent}:{ch}:dm:{peer}"),
                "per-account-channel-peer" => {
                    format!("agent:{agent}:{ch}:{}:dm:{peer}", msg.account_id)
                }
                _ => format!("agent:{agent}:{main_key}"),
            }
        }
        ChatType::Group => {
            let mut k = format!("agent:{agent}:{ch}:group:{}", msg.chat_id);
            if let Some(t) = &msg.thread_id {
                k.push_str(&format!(":topic:{t}"));
            }
            k
        }
        ChatType::Channel => format!("agent:{agent}:{ch}:channel:{}", msg.chat_id),
    };
    key.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(
        channel: &str,
        chat_type: ChatType,
        chat: &str,
        sender: &str,
        thread: Option<&str>,
    ) -> InboundMessage {
        InboundMessage {
            channel: channel.into(),
            account_id: "Work".into(),
            chat_id: chat.into(),
            chat_type,
            thread_id: thread.map(String::from),
            sender_id: sender.into(),
            sender_name: None,
            sender_username: None,
            message_id: "1".into(),
            text: String::new(),
            mentioned: false,
            reply_to_bot: false,
            media: vec![],
            timestamp_ms: 0,
        }
    }

    #[test]
    fn bindings_pick_the_most_specific_rule() {
        let b: Vec<Binding> = serde_json::from_value(serde_json::json!([
            {"agentId": "chan", "match": {"channel": "telegram"}},
            {"agentId": "acct", "match": {"channel": "telegram", "accountId": "work"}},
            {"agentId": "peer", "match": {"channel": "telegram", "accountId": "*", "peer": {"kind": "direct", "id": "telegram:42"}}},
            {"agentId": "grp", "match": {"channel": "telegram", "accountId": "*", "peer": {"kind": "group", "id": -100}}},
            {"agentId": "acp", "type": "acp", "match": {"channel": "telegram", "accountId": "*"}},
            {"agentId": "wa", "match": {"channel": "whatsapp", "accountId": "*"}}
        ]))
        .unwrap();
        let mut dm = m("telegram", ChatType::Direct, "42", "42", None);
        dm.account_id = "work".into();
        assert_eq!(resolve_binding(&b, &dm, "default").as_deref(), Some("peer"));
        dm.sender_id = "7".into();
        assert_eq!(resolve_binding(&b, &dm, "default").as_deref(), Some("acct"));
        // No accountId ⇒ only the channel's default account.
        dm.account_id = "default".into();
        assert_eq!(resolve_binding(&b, &dm, "default").as_deref(), Some("chan"));
        dm.account_id = "other".into();
        assert_eq!(resolve_binding(&b, &dm, "default"), None);
        let mut g = m("telegram", ChatType::Group, "-100", "7", None);
        g.account_id = "other".into();
        assert_eq!(resolve_binding(&b, &g, "default").as_deref(), Some("grp"));
        let w = m("whatsapp", ChatType::Direct, "+1", "+1", None);
        assert_eq!(resolve_binding(&b, &w, "default").as_deref(), Some("wa"));
        assert_eq!(resolve_binding(&[], &w, "default"), None);
    }

    #[test]
    fn mention_patterns_agent_first_then_global() {
        let cfg: OpenClawConfig = serde_json::from_value(serde_json::json!({
            "messages": {"groupChat": {"mentionPatterns": ["\\bclaw(dia)?\\b", "(unclosed"]}},
            "agents": {"list": [{"id": "Ops", "groupChat": {"mentionPatterns": ["^ops[,:]"]}}]}
        }))
        .unwrap();
        let g = MentionPatterns::for_agent(&cfg, "main");
        assert!(g.matches("hey CLAWDIA, status?") && g.matches("claw do this"));
        assert!(!g.matches("clawing at the door"));
        let o = MentionPatterns::for_agent(&cfg, "ops");
        assert!(o.matches("Ops: deploy") && !o.matches("claw"));
        assert!(
            !MentionPatterns::for_agent(&OpenClawConfig::default(), "main").matches("anything")
        );
    }

    #[test]
    fn keys_follow_the_spec_table() {
        let dm = m("telegram", ChatType::Direct, "123456789", "123456789", None);
        assert_eq!(
            session_key_for(&dm, "main", "main", "main"),
            "agent:main:main"
        );
        assert_eq!(
            session_key_for(&dm, "main", "main", "per-peer"),
            "agent:main:dm:123456789"
        );
        assert_eq!(
            session_key_for(&dm, "main", "main", "per-channel-peer"),
            "agent:main:telegram:dm:123456789"
        );
        assert_eq!(
            session_key_for(&dm, "Ops", "main", "per-account-channel-peer"),
            "agent:ops:telegram:work:dm:123456789"
        );
        let topic = m(
            "telegram",
            ChatType::Group,
            "-1001234567890",
            "1",
            Some("42"),
        );
        assert_eq!(
            session_key_for(&topic, "main", "main", "main"),
            "agent:main:telegram:group:-1001234567890:topic:42"
        );
        let wa = m(
            "whatsapp",
            ChatType::Group,
            "120363403215116621@g.us",
            "+1",
            None,
        );
        assert_eq!(
            session_key_for(&wa, "main", "main", "per-peer"),
            "agent:main:whatsapp:group:120363403215116621@g.us"
        );
        let ch = m("telegram", ChatType::Channel, "-1009", "-1009", None);
        assert_eq!(
            session_key_for(&ch, "main", "main", "main"),
            "agent:main:telegram:channel:-1009"
        );
    }

    #[test]
    fn within_a_tier_the_first_rule_wins_and_peer_rules_keep_their_account_scope() {
        let b: Vec<Binding> = serde_json::from_value(serde_json::json!([
            {"agentId": "", "match": {"channel": "telegram", "accountId": "work"}},
            {"agentId": " First ", "type": "route", "match": {"channel": "Telegram", "accountId": " WORK "}},
            {"agentId": "second", "match": {"channel": "telegram", "accountId": "work"}},
            {"agentId": "elsewhere", "match": {"channel": "telegram", "accountId": "other",
                                               "peer": {"kind": "dm", "id": "42"}}},
            {"agentId": "chan", "match": {"channel": "telegram", "accountId": "*",
                                          "peer": {"kind": "channel", "id": "-1009"}}}
        ]))
        .unwrap();
        let mut dm = m("telegram", ChatType::Direct, "42", "42", None);
        dm.account_id = "work".into();
        // An empty agentId is no rule; ids are trimmed and lower-cased; the peer rule is for
        // another account, so the account tier decides, first match first.
        assert_eq!(
            resolve_binding(&b, &dm, "default").as_deref(),
            Some("first")
        );
        dm.account_id = "other".into();
        assert_eq!(
            resolve_binding(&b, &dm, "default").as_deref(),
            Some("elsewhere"),
            "`dm` is an alias of `direct`"
        );
        let ch = m("telegram", ChatType::Channel, "-1009", "-1009", None);
        assert_eq!(resolve_binding(&b, &ch, "default").as_deref(), Some("chan"));
        // A peer rule of the wrong kind does not match the same id.
        let mut g = m("telegram", ChatType::Group, "-1009", "5", None);
        g.account_id = "other".into();
        assert_eq!(resolve_binding(&b, &g, "default"), None);
    }

    #[test]
    fn blank_agent_and_main_key_default_to_main_and_unknown_scopes_share_main() {
        let dm = m("telegram", ChatType::Direct, "9", "9", None);
        assert_eq!(session_key_for(&dm, " ", "", "main"), "agent:main:main");
        assert_eq!(
            session_key_for(&dm, "main", "Home", "per-everything"),
            "agent:main:home"
        );
        let g = m("telegram", ChatType::Group, "-5", "9", None);
        assert_eq!(
            session_key_for(&g, "Main", "main", "per-peer"),
            "agent:main:telegram:group:-5",
            "groups ignore dmScope and have no topic suffix without a thread"
        );
    }
}
