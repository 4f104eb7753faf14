//! Durable Telegram update watermark (channels.md §2.3):
//! `$STATE_DIR/telegram/update-offset-<accountId>.json` = `{"version":2,"lastUpdateId":N,"botId":"…"}`,
//! written atomically (temp + fsync + rename, 0600) only after an update was acknowledged.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Offset file for one account and bot.
pub struct OffsetStore {
    path: PathBuf,
    bot_id: String,
}

/// `[^a-z0-9._-]` → `_` (lower-cased), empty → `default`.
pub fn sanitize_account_id(id: &str) -> String {
    let s = crate::download::path_safe(&id.to_lowercase());
    if s.is_empty() { "default".into() } else { s }
}

/// Digits before `:` in a bot token.
pub fn bot_id_of(token: &str) -> String {
    token
        .split(':')
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

impl OffsetStore {
    pub fn new(state_dir: &Path, account_id: &str, token: &str) -> OffsetStore {
        OffsetStore {
            path: state_dir.join("telegram").join(format!(
                "update-offset-{}.json",
                sanitize_account_id(account_id)
            )),
            bot_id: bot_id_of(token),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last acknowledged update id, or `None` (fresh start) when missing, corrupt, or
    /// written for another bot (v1 files without `botId` count as another bot).
    pub fn load(&self) -> Option<i64> {
        let bytes = std::fs::read(&self.path).ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        let stored_bot = v.get("botId").and_then(Value::as_str);
        if stored_bot != Some(self.bot_id.as_str()) {
            tracing::info!(path = %self.path.display(), "telegram offset belongs to another bot; starting fresh");
            return None;
        }
        v.get("lastUpdateId").and_then(Value::as_i64)
    }

    pub fn save(&self, last_update_id: i64) -> std::io::Result<()> {
        let body = json!({"version": 2, "lastUpdateId": last_update_id, "botId": self.bot_id});
        openclaw_config::fsutil::write_atomic(&self.path, body.to_string().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bot_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let s = OffsetStore::new(dir.path(), "Work Bot", "123:abc");
        assert_eq!(s.load(), None);
        s.save(41).unwrap();
        assert_eq!(s.load(), Some(41));
        assert!(s.path().ends_with("telegram/update-offset-work_bot.json"));
        let raw: Value = serde_json::from_slice(&std::fs::read(s.path()).unwrap()).unwrap();
        assert_eq!(
            raw,
            json!({"version": 2, "lastUpdateId": 41, "botId": "123"})
        );
        assert_eq!(
            OffsetStore::new(dir.path(), "Work Bot", "999:zzz").load(),
            None
        );
        std::fs::write(s.path(), b"{\"version\":1,\"lastUpdateId\":5}").unwrap();
        assert_eq!(s.load(), None);
        std::fs::write(s.path(), b"\xff\xfe garbage").unwrap();
        assert_eq!(s.load(), None);
    }
}
