//! The durable hand-over between channel drivers and session lanes. An accepted inbound message
//! is written here (one 0600 file per message, write-then-rename + fsync) **before** the driver
//! is acknowledged, marked once its user turn is in the session transcript, and removed only
//! once it is answered (or its run ended without one and the error was reported), never
//! because it waited long or its lane was full. So a driver's cursor (the Telegram offset) can advance at once even while the
//! session lane is busy, and a crash or kill -9 in between loses nothing: the next generation
//! replays what is left.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::sync::LockExt;

/// One accepted inbound message waiting for its run to persist the user turn.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    pub run_id: String,
    pub agent_id: String,
    pub session_key: String,
    /// The user turn as the agent sees it (text plus media notes).
    pub message: String,
    pub channel: String,
    pub account_id: String,
    pub chat_id: String,
    pub thread_id: Option<String>,
    /// The channel's message id (dedupe of re-deliveries).
    #[serde(default)]
    pub message_id: String,
    /// Who sent it (`tools.elevated.allowFrom` is matched against it).
    #[serde(default)]
    pub sender_id: String,
    /// Unix ms; replay order.
    pub received_at: u64,
    /// Attachments still to download (after acknowledgement, before the run is queued).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<openclaw_channels::PendingMedia>,
    /// The user turn is in the transcript and the reply is not sent yet: a replay answers the
    /// turn without writing it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub turn_written: bool,
    /// The reply was being sent when the process stopped: whether the chat got it is unknown
    /// (the Bot API has no idempotency key), so a replay sends it again and says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replying: bool,
}

/// Recently accepted `(channel, account, chat, message id)` keys, bounded: a message delivered
/// twice (a driver re-delivering after a crash window, WhatsApp resending) runs once.
const RECENT_MAX: usize = 4096;

/// The inbox's bookkeeping that must outlive a generation (an in-process restart must neither
/// replay entries the previous generation's lanes still run nor forget recent message ids).
/// One per process, owned by [`crate::process::Process`].
#[derive(Default)]
pub struct InboxBook {
    /// Entries a live run of this process owns.
    in_flight: Mutex<HashSet<String>>,
    recent: Mutex<(VecDeque<String>, HashSet<String>)>,
}

fn recent_key(channel: &str, account: &str, chat: &str, message_id: &str) -> String {
    format!("{channel}\u{1f}{account}\u{1f}{chat}\u{1f}{message_id}")
}

impl InboxBook {
    /// Entries a live run of this process owns now (`gateway.runtimeStats`).
    pub fn in_flight_count(&self) -> usize {
        self.in_flight().len()
    }

    /// Records a message key; `false` when it was already seen recently. Empty ids are never
    /// considered duplicates.
    pub fn first_sighting(
        &self,
        channel: &str,
        account: &str,
        chat: &str,
        message_id: &str,
    ) -> bool {
        if message_id.is_empty() {
            return true;
        }
        let key = recent_key(channel, account, chat, message_id);
        let mut g = self.recent.locked();
        let (order, set) = &mut *g;
        if !set.insert(key.clone()) {
            return false;
        }
        order.push_back(key);
        if order.len() > RECENT_MAX
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
        }
        true
    }

    /// Undoes [`InboxBook::first_sighting`] for a message that was not accepted after all (so
    /// its re-delivery is processed).
    pub fn forget(&self, channel: &str, account: &str, chat: &str, message_id: &str) {
        let key = recent_key(channel, account, chat, message_id);
        let mut g = self.recent.locked();
        let (order, set) = &mut *g;
        if set.remove(&key) {
            order.retain(|k| k != &key);
        }
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.in_flight.locked()
    }
}

/// `$STATE_DIR/channels/inbox/`.
pub struct Inbox {
    dir: PathBuf,
    book: Arc<InboxBook>,
}

impl Inbox {
    pub fn new(state_dir: &Path, book: Arc<InboxBook>) -> Inbox {
        Inbox {
            dir: state_dir.join("channels").join("inbox"),
            book,
        }
    }

    fn path(&self, run_id: &str) -> PathBuf {
        let safe: String = run_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.json"))
    }

    /// Durably records `p` (returns once it is on disk) and marks it owned by this process.
    pub fn put(&self, p: &Pending) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(p).map_err(std::io::Error::other)?;
        openclaw_config::fsutil::write_atomic(&self.path(&p.run_id), &bytes)?;
        self.book.in_flight().insert(p.run_id.clone());
        Ok(())
    }

    /// Marks a replayed entry as owned by this process; `false` if it already is.
    pub fn claim(&self, run_id: &str) -> bool {
        self.book.in_flight().insert(run_id.to_string())
    }

    /// Gives up this process's claim but keeps the file: the next start (or generation)
    /// replays it.
    pub fn release(&self, run_id: &str) {
        self.book.in_flight().remove(run_id);
    }

    /// The user turn of `p` is in the transcript: the entry stays (so a crash before the reply
    /// is sent answers it on the next start) but a replay must not write the turn again.
    pub fn turn_written(&self, p: &Pending) -> std::io::Result<()> {
        self.rewrite(&Pending {
            turn_written: true,
            ..p.clone()
        })
    }

    /// The reply of `p` is about to be sent: a crash from here on leaves it unknown whether the
    /// chat got it.
    pub fn replying(&self, p: &Pending) -> std::io::Result<()> {
        self.rewrite(&Pending {
            turn_written: true,
            replying: true,
            ..p.clone()
        })
    }

    fn rewrite(&self, p: &Pending) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(p).map_err(std::io::Error::other)?;
        openclaw_config::fsutil::write_atomic(&self.path(&p.run_id), &bytes)
    }

    /// The message is answered (or it will never run): forget it.
    pub fn done(&self, run_id: &str) {
        self.book.in_flight().remove(run_id);
        match std::fs::remove_file(self.path(run_id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(target: "channels", "cannot clear inbox entry {run_id}: {e}"),
        }
    }

    /// Everything left by an earlier process or generation and not owned by a live run here,
    /// oldest first. Unreadable entries are moved
    /// aside (`.bad`) with a warning rather than blocking the rest.
    pub fn pending(&self) -> Vec<Pending> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let owned = path
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|s| self.book.in_flight().contains(s));
            if owned {
                continue;
            }
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Pending>(&b).map_err(|e| e.to_string()))
            {
                Ok(p) => out.push(p),
                Err(err) => {
                    tracing::warn!(target: "channels", "unreadable inbox entry {}: {err}", path.display());
                    let _ = std::fs::rename(&path, path.with_extension("bad"));
                }
            }
        }
        out.sort_by(|a, b| (a.received_at, &a.run_id).cmp(&(b.received_at, &b.run_id)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, at: u64) -> Pending {
        Pending {
            run_id: id.into(),
            agent_id: "main".into(),
            session_key: "agent:main:main".into(),
            message: "hi".into(),
            channel: "telegram".into(),
            account_id: "default".into(),
            chat_id: "1".into(),
            thread_id: None,
            message_id: String::new(),
            sender_id: String::new(),
            received_at: at,
            attachments: Vec::new(),
            turn_written: false,
            replying: false,
        }
    }

    #[test]
    fn duplicates_are_recognised_within_the_window() {
        let book = InboxBook::default();
        assert!(book.first_sighting("telegram", "a", "1", "10"));
        assert!(!book.first_sighting("telegram", "a", "1", "10"));
        assert!(book.first_sighting("telegram", "a", "2", "10"));
        book.forget("telegram", "a", "2", "10");
        assert!(book.first_sighting("telegram", "a", "2", "10"));
        assert!(book.first_sighting("telegram", "a", "1", ""));
        assert!(book.first_sighting("telegram", "a", "1", ""));
        for i in 0..RECENT_MAX {
            book.first_sighting("x", "a", "1", &i.to_string());
        }
        assert!(
            book.first_sighting("telegram", "a", "1", "10"),
            "forgotten after the window"
        );
    }

    #[test]
    fn put_pending_done_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let book = Arc::new(InboxBook::default());
        let inbox = Inbox::new(dir.path(), book.clone());
        assert!(inbox.pending().is_empty());
        inbox.put(&p("telegram-b", 2)).unwrap();
        inbox.put(&p("telegram-a", 1)).unwrap();
        // Owned by live runs of this process: not replayed.
        assert!(inbox.pending().is_empty());
        book.in_flight().remove("telegram-a");
        book.in_flight().remove("telegram-b");
        std::fs::write(dir.path().join("channels/inbox/junk.json"), b"{torn").unwrap();
        let got = inbox.pending();
        assert_eq!(got, vec![p("telegram-a", 1), p("telegram-b", 2)]);
        assert!(dir.path().join("channels/inbox/junk.bad").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let f = dir.path().join("channels/inbox/telegram-a.json");
            assert_eq!(
                std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(inbox.claim("telegram-a") && !inbox.claim("telegram-a"));
        inbox.done("telegram-a");
        inbox.done("telegram-a");
        assert_eq!(inbox.pending(), vec![p("telegram-b", 2)]);
        // Ids cannot escape the directory.
        inbox.put(&p("../../x", 3)).unwrap();
        assert!(dir.path().join("channels/inbox/______x.json").exists());
    }
}
