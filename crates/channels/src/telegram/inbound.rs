//! Telegram `Update` JSON → `InboundMessage`: chat kind, topic, sender, mention / reply-to-bot
//! detection, and photos/documents as [`PendingMedia`] references (downloaded later, by the
//! gateway, only for senders access control admits: see `TelegramDriver::download`).
//! Malformed updates yield `None` (skipped, offset still advances), never a panic.

use serde_json::Value;

use super::{BotInfo, TelegramDriver};
use crate::download::inbound_file_name;
use crate::types::{ChatType, InboundMessage, PendingMedia};

pub(crate) fn to_inbound(d: &TelegramDriver, u: &Value, me: &BotInfo) -> Option<InboundMessage> {
    let update_id = u.get("update_id").and_then(Value::as_i64)?;
    let m = u.get("message").or_else(|| u.get("channel_post"))?;
    let chat = m.get("chat")?;
    let chat_id = chat.get("id").and_then(Value::as_i64)?;
    let chat_type = match chat.get("type").and_then(Value::as_str) {
        Some("private") => ChatType::Direct,
        Some("channel") => ChatType::Channel,
        _ => ChatType::Group,
    };
    let thread_id = (m.get("is_topic_message").and_then(Value::as_bool) == Some(true))
        .then(|| m.get("message_thread_id").and_then(Value::as_i64))
        .flatten()
        .map(|t| t.to_string());
    let from = m.get("from");
    let sender_id = from
        .and_then(|f| f.get("id"))
        .and_then(Value::as_i64)
        .unwrap_or(chat_id)
        .to_string();
    let sender_name = from.and_then(|f| {
        let first = f.get("first_name").and_then(Value::as_str).unwrap_or("");
        let last = f.get("last_name").and_then(Value::as_str).unwrap_or("");
        let n = format!("{first} {last}").trim().to_string();
        (!n.is_empty()).then_some(n)
    });
    let sender_username = from
        .and_then(|f| f.get("username"))
        .and_then(Value::as_str)
        .map(String::from);
    let (mut text, entities) = match m.get("text").and_then(Value::as_str) {
        Some(t) => (t.to_string(), m.get("entities")),
        None => (
            m.get("caption")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            m.get("caption_entities"),
        ),
    };
    let mentioned = is_mentioned(&text, entities, me);
    let reply_to_bot = m
        .pointer("/reply_to_message/from/id")
        .and_then(Value::as_i64)
        .is_some_and(|id| id == me.id && me.id != 0);

    let mut media = Vec::new();
    let mut notes = Vec::new();
    let wanted = if let Some(photos) = m.get("photo").and_then(Value::as_array) {
        // Sizes ascending; the last is the original resolution.
        photos.last().map(|p| {
            (
                p,
                "photo",
                Some("image/jpeg".to_string()),
                "photo.jpg".to_string(),
            )
        })
    } else if let Some(doc) = m.get("document") {
        let mime = doc
            .get("mime_type")
            .and_then(Value::as_str)
            .map(String::from);
        let name = doc
            .get("file_name")
            .and_then(Value::as_str)
            .unwrap_or("bin")
            .to_string();
        Some((doc, "document", mime, name))
    } else {
        None
    };
    if let Some((file, kind, mime, name)) = wanted {
        if let Some(file_id) = file.get("file_id").and_then(Value::as_str) {
            media.push(PendingMedia {
                kind: if kind == "photo" { "image" } else { "document" }.into(),
                mime,
                file_name: inbound_file_name(
                    &["tg", &d.cfg.account_id, &update_id.to_string()],
                    &name,
                ),
                declared_size: file.get("file_size").and_then(Value::as_u64),
                reference: file_id.to_string(),
            });
        }
        notes.push(format!(
            "<media:{}>",
            if kind == "photo" { "image" } else { "document" }
        ));
    }
    for (key, placeholder) in [
        ("voice", "audio"),
        ("audio", "audio"),
        ("video", "video"),
        ("video_note", "video"),
        ("animation", "video"),
        ("sticker", "sticker"),
    ] {
        if m.get(key).is_some() {
            notes.push(format!("<media:{placeholder}>"));
        }
    }
    if !notes.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&notes.join("\n"));
    }
    if text.is_empty() && media.is_empty() {
        return None; // service messages (joins, pins, …)
    }
    Some(InboundMessage {
        channel: "telegram".into(),
        account_id: d.cfg.account_id.clone(),
        chat_id: chat_id.to_string(),
        chat_type,
        thread_id,
        sender_id,
        sender_name,
        sender_username,
        message_id: m
            .get("message_id")
            .map(|v| v.to_string())
            .unwrap_or_default(),
        text,
        mentioned,
        reply_to_bot,
        media,
        timestamp_ms: m
            .get("date")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .saturating_mul(1000),
    })
}

/// `@botname` mention entity (offsets are UTF-16 units) or a `text_mention` of the bot.
fn is_mentioned(text: &str, entities: Option<&Value>, me: &BotInfo) -> bool {
    let Some(list) = entities.and_then(Value::as_array) else {
        return false;
    };
    let utf16: Vec<u16> = text.encode_utf16().collect();
    let handle = format!("@{}", me.username).to_lowercase();
    list.iter()
        .any(|e| match e.get("type").and_then(Value::as_str) {
            Some("mention") => {
                let off = e.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
                let len = e.get("length").and_then(Value::as_u64).unwrap_or(0) as usize;
                utf16
                    .get(off..off.saturating_add(len))
                    .map(|s| String::from_utf16_lossy(s).to_lowercase() == handle)
                    .unwrap_or(false)
                    && !me.username.is_empty()
            }
            Some("text_mention") => e.pointer("/user/id").and_then(Value::as_i64) == Some(me.id),
            _ => false,
        })
}
