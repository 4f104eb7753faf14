//! Group messages the agent has not seen (not mentioned, so not answered), kept in memory and
//! bounded, and handed to the next run of that group as context (channels.md §1.2, §5.3).

use crate::sync::LockExt;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use openclaw_channels::{AccountConfig, InboundMessage};
use serde_json::Value;

/// Groups whose pending history is kept (the oldest-touched is dropped beyond this).
const HISTORY_GROUPS_MAX: usize = 256;
/// Longest line kept per pending message.
const HISTORY_LINE_MAX: usize = 2000;

/// Pending lines per group key, plus the keys in least-recently-touched order.
type HistoryMap = (BTreeMap<String, VecDeque<String>>, Vec<String>);

/// Pending group history, in memory and bounded: at most `historyLimit` lines per group and
/// `HISTORY_GROUPS_MAX` groups.
#[derive(Default)]
pub(super) struct GroupHistory(Mutex<HistoryMap>);

impl GroupHistory {
    fn key(m: &InboundMessage) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            m.channel,
            m.account_id,
            m.chat_id,
            m.thread_id.as_deref().unwrap_or("")
        )
    }

    pub(super) fn record(&self, m: &InboundMessage, limit: usize) {
        if limit == 0 {
            return;
        }
        let key = Self::key(m);
        let mut line = with_sender(m);
        if line.chars().count() > HISTORY_LINE_MAX {
            line = line.chars().take(HISTORY_LINE_MAX).collect::<String>() + "…";
        }
        let mut g = self.0.locked();
        let (map, order) = &mut *g;
        order.retain(|k| k != &key);
        order.push(key.clone());
        if order.len() > HISTORY_GROUPS_MAX {
            let old = order.remove(0);
            map.remove(&old);
        }
        let q = map.entry(key).or_default();
        q.push_back(line);
        while q.len() > limit {
            q.pop_front();
        }
    }

    pub(super) fn take(&self, m: &InboundMessage) -> Vec<String> {
        let key = Self::key(m);
        let mut g = self.0.locked();
        let (map, order) = &mut *g;
        order.retain(|k| k != &key);
        map.remove(&key).map(Vec::from).unwrap_or_default()
    }
}

/// `text [from: Name (id)]`, the sender suffix of group messages.
pub(super) fn with_sender(m: &InboundMessage) -> String {
    match &m.sender_name {
        Some(n) => format!("{} [from: {n} ({})]", m.text, m.sender_id),
        None => format!("{} [from: {}]", m.text, m.sender_id),
    }
}

/// `historyLimit` of the account, else `messages.groupChat.historyLimit`, else 50.
pub(super) fn history_limit(acct: &AccountConfig, cfg: &openclaw_config::OpenClawConfig) -> usize {
    acct.raw
        .get("historyLimit")
        .and_then(Value::as_u64)
        .or_else(|| {
            cfg.messages
                .as_ref()
                .and_then(|m| m.group_chat.as_ref())
                .and_then(|g| g.history_limit)
        })
        .unwrap_or(50)
        .min(1000) as usize
}
