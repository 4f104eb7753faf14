//! The steering inbox of a running turn: messages a user sends while the agent works, which the
//! runner takes in at its next boundary (before a model request; a pending message also skips
//! the tool calls of the current step that have not started). The inbox is open until the
//! owner closes it at the end of the turn; what arrived but was never taken in is handed back
//! by [`Steering::close`], so nothing sent is lost between "accepted" and "the turn ended".

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct Inbox {
    closed: bool,
    pending: VecDeque<String>,
    /// Messages taken in by the runner so far.
    taken: usize,
}

/// A cloneable handle on one turn's inbox (the caller keeps one, the runner another).
#[derive(Debug, Clone, Default)]
pub struct Steering(Arc<Mutex<Inbox>>);

impl Steering {
    /// An open inbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        // A poisoned lock only means a panic elsewhere; the queue itself is still consistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `text` for the running turn; `Err(text)` once the inbox is closed (the turn
    /// ended, or is ending), so the caller can run it as a turn of its own.
    pub fn push(&self, text: String) -> Result<(), String> {
        let mut inbox = self.inbox();
        if inbox.closed {
            return Err(text);
        }
        inbox.pending.push_back(text);
        Ok(())
    }

    /// Messages waiting to be taken in.
    pub fn pending(&self) -> usize {
        self.inbox().pending.len()
    }

    /// Whether the inbox still accepts messages.
    pub fn is_open(&self) -> bool {
        !self.inbox().closed
    }

    /// Takes all waiting messages (the runner, at a boundary).
    pub fn take(&self) -> Vec<String> {
        let mut inbox = self.inbox();
        let out: Vec<String> = inbox.pending.drain(..).collect();
        inbox.taken += out.len();
        out
    }

    /// Closes the inbox; returns how many messages were taken in and the ones that never were
    /// (in the order they arrived).
    pub fn close(&self) -> (usize, Vec<String>) {
        let mut inbox = self.inbox();
        inbox.closed = true;
        let left = inbox.pending.drain(..).collect();
        (inbox.taken, left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_messages_are_counted_and_the_rest_is_handed_back_on_close() {
        let s = Steering::new();
        assert!(s.push("a".into()).is_ok());
        assert_eq!(s.take(), ["a"]);
        assert!(s.push("b".into()).is_ok());
        assert!(s.push("c".into()).is_ok());
        assert_eq!(s.pending(), 2);
        let (taken, left) = s.close();
        assert_eq!(taken, 1);
        assert_eq!(left, ["b", "c"]);
        assert_eq!(s.push("d".into()), Err("d".to_string()));
        assert!(!s.is_open());
    }
}
