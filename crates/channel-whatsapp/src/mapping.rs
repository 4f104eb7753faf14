//! Pure WhatsApp ⇄ channel-model mapping (no library types): targets (§3.9), JID ⇄ E.164, and
//! the inbound envelope from plain message fields, so it is unit-tested without a phone.

use openclaw_channels::{ChannelError, ChatType, InboundMessage};

/// Plain fields of one library message (`MessageInfo` + text), filled by the real adapter.
#[derive(Debug, Clone, Default)]
pub struct WaInbound {
    pub account_id: String,
    /// `…@s.whatsapp.net`, `…@g.us`, `…@lid`, `status@broadcast`, …
    pub chat_jid: String,
    pub sender_jid: String,
    /// Phone-number JID for a LID sender, when the library knows it.
    pub sender_pn_jid: Option<String>,
    pub is_group: bool,
    pub from_me: bool,
    pub id: String,
    pub push_name: String,
    pub text: Option<String>,
    /// `image` | `video` | `audio` | `document` | `sticker` when the message carries media.
    pub media_kind: Option<String>,
    /// JIDs mentioned in the message (`contextInfo.mentionedJid`).
    pub mentions: Vec<String>,
    /// Author JID of the quoted message, if any.
    pub quoted_author: Option<String>,
    pub timestamp_secs: i64,
}

/// `15551234567@s.whatsapp.net` (optionally with `:device`) → `+15551234567`.
pub fn jid_to_e164(jid: &str) -> Option<String> {
    let (user, server) = jid.split_once('@')?;
    if server != "s.whatsapp.net" && server != "c.us" {
        return None;
    }
    let digits = user.split(':').next()?;
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then(|| format!("+{digits}"))
}

/// Chat id (`+E164` or a JID) → JID string the library can parse.
pub fn chat_id_to_jid(chat_id: &str) -> Result<String, ChannelError> {
    if chat_id.contains('@') {
        return Ok(chat_id.to_string());
    }
    let digits = chat_id.strip_prefix('+').unwrap_or(chat_id);
    if (6..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(format!("{digits}@s.whatsapp.net"))
    } else {
        Err(bad(chat_id))
    }
}

fn bad(target: &str) -> ChannelError {
    ChannelError::BadTarget(format!(
        "unknown WhatsApp target {target:?}: expected an E.164 number (+15551234567), <number>@s.whatsapp.net or <id>@g.us"
    ))
}

/// Parses a WhatsApp target into a chat id: `+E164` for people, the JID for groups.
pub fn parse_target(target: &str) -> Result<(String, Option<String>), ChannelError> {
    let t = openclaw_channels::normalize_id(target);
    let t = t.trim();
    if let Some((user, server)) = t.split_once('@') {
        let user_ok = !user.is_empty()
            && user
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == ':');
        return match server {
            "g.us" if user_ok => Ok((t.to_string(), None)),
            "s.whatsapp.net" | "c.us" => {
                jid_to_e164(t).map(|e| (e, None)).ok_or_else(|| bad(target))
            }
            "lid" if user_ok => Ok((t.to_string(), None)),
            _ => Err(bad(target)),
        };
    }
    if t.starts_with('-') {
        return Err(bad(target)); // Telegram-style group ids are not WhatsApp targets
    }
    let digits: String = t
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits);
    if (6..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok((format!("+{digits}"), None))
    } else {
        Err(bad(target))
    }
}

/// Library message → envelope. `None` for own echoes, status/broadcast chats and empty messages.
/// `self_jids` are the linked account's JIDs (phone-number and LID forms): a mention of either
/// counts as a mention of the bot, a quote of either as a reply to the bot.
pub fn to_inbound(m: &WaInbound, self_jids: &[String]) -> Option<InboundMessage> {
    if m.from_me || m.chat_jid.ends_with("@broadcast") || m.chat_jid.ends_with("@newsletter") {
        return None;
    }
    let sender_jid = m.sender_pn_jid.as_deref().unwrap_or(&m.sender_jid);
    let sender_id = jid_to_e164(sender_jid).unwrap_or_else(|| sender_jid.to_string());
    let (chat_id, chat_type) = if m.is_group {
        (m.chat_jid.clone(), ChatType::Group)
    } else {
        (sender_id.clone(), ChatType::Direct)
    };
    let mut text = m.text.clone().unwrap_or_default();
    if let Some(kind) = &m.media_kind {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("<media:{kind}>"));
    }
    if text.trim().is_empty() {
        return None;
    }
    let user_of = |j: &str| j.split(['@', ':']).next().unwrap_or("").to_string();
    let me: Vec<String> = self_jids
        .iter()
        .map(|j| user_of(j))
        .filter(|u| !u.is_empty())
        .collect();
    let is_me = |j: &str| me.contains(&user_of(j));
    let mentioned = m.mentions.iter().any(|j| is_me(j));
    let reply_to_bot = m.quoted_author.as_deref().is_some_and(is_me);
    Some(InboundMessage {
        channel: "whatsapp".into(),
        account_id: m.account_id.clone(),
        chat_id,
        chat_type,
        thread_id: None,
        sender_id,
        sender_name: (!m.push_name.is_empty()).then(|| m.push_name.clone()),
        sender_username: None,
        message_id: m.id.clone(),
        text,
        mentioned,
        reply_to_bot,
        media: Vec::new(),
        timestamp_ms: (m.timestamp_secs.max(0) as u64).saturating_mul(1000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(parse_target("+15551234567").unwrap().0, "+15551234567");
        assert_eq!(parse_target("15551234567").unwrap().0, "+15551234567");
        assert_eq!(
            parse_target("whatsapp:+1 555-123-4567").unwrap().0,
            "+15551234567"
        );
        assert_eq!(
            parse_target("15551234567@s.whatsapp.net").unwrap().0,
            "+15551234567"
        );
        assert_eq!(
            parse_target("120363403215116621@g.us").unwrap().0,
            "120363403215116621@g.us"
        );
        for b in [
            "@alice",
            "alice",
            "",
            "123",
            "x@g.us",
            "1@example.com",
            "-100123",
        ] {
            assert!(
                matches!(parse_target(b), Err(ChannelError::BadTarget(_))),
                "{b}"
            );
        }
        assert_eq!(
            chat_id_to_jid("+15551234567").unwrap(),
            "15551234567@s.whatsapp.net"
        );
        assert_eq!(chat_id_to_jid("1203@g.us").unwrap(), "1203@g.us");
        assert!(chat_id_to_jid("nope").is_err());
    }

    fn base() -> WaInbound {
        WaInbound {
            account_id: "default".into(),
            chat_jid: "15551234567@s.whatsapp.net".into(),
            sender_jid: "15551234567:3@s.whatsapp.net".into(),
            id: "ABC".into(),
            push_name: "Bob".into(),
            text: Some("hi".into()),
            timestamp_secs: 1_700_000_000,
            ..Default::default()
        }
    }

    #[test]
    fn direct_message_maps_to_e164() {
        let m = to_inbound(&base(), &["19998887777@s.whatsapp.net".into()]).unwrap();
        assert_eq!(
            (m.chat_id.as_str(), m.sender_id.as_str()),
            ("+15551234567", "+15551234567")
        );
        assert_eq!(m.chat_type, ChatType::Direct);
        assert_eq!(m.sender_name.as_deref(), Some("Bob"));
        assert_eq!(m.timestamp_ms, 1_700_000_000_000);
        assert!(!m.mentioned);
    }

    #[test]
    fn group_mentions_media_and_lid_senders() {
        let w = WaInbound {
            chat_jid: "1203@g.us".into(),
            is_group: true,
            sender_jid: "987654@lid".into(),
            sender_pn_jid: Some("15550001111@s.whatsapp.net".into()),
            text: Some("look".into()),
            media_kind: Some("image".into()),
            mentions: vec!["19998887777@s.whatsapp.net".into()],
            ..base()
        };
        let m = to_inbound(&w, &["19998887777:12@s.whatsapp.net".into()]).unwrap();
        assert_eq!(m.chat_id, "1203@g.us");
        assert_eq!(m.chat_type, ChatType::Group);
        assert_eq!(m.sender_id, "+15550001111");
        assert_eq!(m.text, "look\n<media:image>");
        assert!(m.mentioned);
        // LID-addressed groups mention the LID form of the account.
        let lid = WaInbound {
            mentions: vec!["4455@lid".into()],
            quoted_author: Some("4455:7@lid".into()),
            ..w.clone()
        };
        let me = [
            "19998887777@s.whatsapp.net".to_string(),
            "4455@lid".to_string(),
        ];
        let m = to_inbound(&lid, &me).unwrap();
        assert!(m.mentioned && m.reply_to_bot);
        let m = to_inbound(&lid, &me[..1]).unwrap();
        assert!(!m.mentioned && !m.reply_to_bot);
    }

    #[test]
    fn echoes_broadcasts_and_empty_messages_are_dropped() {
        let dropped = [
            WaInbound {
                from_me: true,
                ..base()
            },
            WaInbound {
                chat_jid: "status@broadcast".into(),
                ..base()
            },
            WaInbound {
                text: None,
                ..base()
            },
        ];
        for w in &dropped {
            assert!(to_inbound(w, &[]).is_none(), "{w:?}");
        }
    }
}
