//! Session keys for inbound messages (channels.md §5.2): which agent session a chat lands in.

use crate::types::{ChatType, InboundMessage};

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
}
