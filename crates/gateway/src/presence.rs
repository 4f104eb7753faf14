//! Presence (§11): who is connected, keyed by device id / instance id / connection id, with a
//! 5-minute TTL, at most 200 entries, and a "self" entry for the gateway host.
//!
//! Every connect and disconnect changes presence, and every change goes to every client: a burst
//! of N connects would cost N broadcasts to up to N clients, each carrying the whole list (up to
//! 200 entries, ~40 KB) — quadratic (the reference sends one per change, serialized per
//! recipient). [`Fanout`] coalesces them: the first change after a quiet gap goes out at once,
//! the changes within the gap become one broadcast of the then-current list at its end, and the
//! gap grows with what the last broadcast cost, so presence traffic stays under
//! [`FANOUT_BYTES_PER_SEC`] however many clients are connected.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use openclaw_protocol::PresenceEntry;

const TTL_MS: u64 = 5 * 60 * 1000;
const MAX_ENTRIES: usize = 200;

/// The shortest gap between two presence broadcasts.
const FANOUT_MIN_GAP: Duration = Duration::from_millis(250);
/// The longest: a client's presence view is never staler than this.
const FANOUT_MAX_GAP: Duration = Duration::from_secs(5);
/// Presence bytes (payload × recipients) the gateway sends per second at most, on average.
pub const FANOUT_BYTES_PER_SEC: u64 = 128 * 1024 * 1024;

/// When the next presence broadcast may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanoutSlot {
    /// Now: the gap since the last one has passed.
    Now,
    /// At this instant: schedule one broadcast then (the list is read when it is sent).
    At(Instant),
    /// A broadcast is already scheduled; it will carry this change too.
    Scheduled,
}

/// The coalescing state of presence broadcasts (no I/O; the caller sends and schedules).
#[derive(Debug)]
pub struct Fanout {
    last: Option<Instant>,
    gap: Duration,
    pending: bool,
}

impl Default for Fanout {
    fn default() -> Self {
        Self {
            last: None,
            gap: FANOUT_MIN_GAP,
            pending: false,
        }
    }
}

impl Fanout {
    /// A change happened at `now`: when should it be broadcast?
    pub fn request(&mut self, now: Instant) -> FanoutSlot {
        if self.pending {
            return FanoutSlot::Scheduled;
        }
        match self.last {
            Some(t) if now < t + self.gap => {
                self.pending = true;
                FanoutSlot::At(t + self.gap)
            }
            _ => {
                self.last = Some(now);
                FanoutSlot::Now
            }
        }
    }

    /// A broadcast goes out at `now` outside the coalescing (an explicit `system-event`, whose
    /// caller expects the event before the reply); later changes are gapped from it.
    pub fn immediate(&mut self, now: Instant) {
        self.last = Some(now);
    }

    /// The scheduled broadcast goes out at `now`.
    pub fn fire(&mut self, now: Instant) {
        self.pending = false;
        self.last = Some(now);
    }

    /// A broadcast queued `bytes` in all (payload × recipients): the next gap is as long as
    /// sending that takes at [`FANOUT_BYTES_PER_SEC`].
    pub fn sent(&mut self, bytes: u64) {
        let secs = bytes as f64 / FANOUT_BYTES_PER_SEC as f64;
        self.gap = Duration::from_secs_f64(secs).clamp(FANOUT_MIN_GAP, FANOUT_MAX_GAP);
    }
}

pub struct Presence {
    entries: HashMap<String, PresenceEntry>,
    self_entry: PresenceEntry,
    version: u64,
    pub fanout: Fanout,
}

impl Presence {
    pub fn new(self_entry: PresenceEntry) -> Self {
        Self {
            entries: HashMap::new(),
            self_entry,
            version: 1,
            fanout: Fanout::default(),
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Inserts or replaces the entry under `key` (lowercased); bumps the version.
    pub fn upsert(&mut self, key: &str, mut entry: PresenceEntry) {
        let key = key.to_ascii_lowercase();
        if let Some(old) = self.entries.get(&key) {
            // Roles and scopes accumulate across connections of one device.
            for (mine, theirs) in [
                (&mut entry.roles, &old.roles),
                (&mut entry.scopes, &old.scopes),
            ] {
                if let (Some(m), Some(t)) = (mine.as_mut(), theirs.as_ref()) {
                    for x in t {
                        if !m.contains(x) {
                            m.push(x.clone());
                        }
                    }
                }
            }
        }
        self.entries.insert(key, entry);
        if self.entries.len() > MAX_ENTRIES
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.ts)
                .map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
        self.version += 1;
    }

    /// Current entries, newest first, self included; expired ones are pruned.
    pub fn list(&mut self, now: u64) -> Vec<PresenceEntry> {
        self.entries
            .retain(|_, e| now.saturating_sub(e.ts) <= TTL_MS);
        self.self_entry.ts = now;
        let mut out: Vec<PresenceEntry> = self.entries.values().cloned().collect();
        out.push(self.self_entry.clone());
        out.sort_by_key(|e| std::cmp::Reverse(e.ts));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts: u64) -> PresenceEntry {
        PresenceEntry {
            ts,
            roles: Some(vec!["operator".into()]),
            ..Default::default()
        }
    }

    #[test]
    fn upsert_bumps_version_and_prunes() {
        let mut p = Presence::new(PresenceEntry {
            reason: Some("self".into()),
            ..Default::default()
        });
        let v0 = p.version();
        p.upsert("ABC", entry(1_000));
        assert_eq!(p.version(), v0 + 1);
        assert_eq!(p.list(2_000).len(), 2);
        assert_eq!(p.list(1_000 + TTL_MS + 1).len(), 1, "expired entry pruned");
    }

    #[test]
    fn fanout_sends_the_first_change_at_once_and_coalesces_the_rest() {
        let mut f = Fanout::default();
        let t0 = Instant::now();
        assert_eq!(f.request(t0), FanoutSlot::Now);
        f.sent(1_000);
        let at = t0 + FANOUT_MIN_GAP;
        assert_eq!(f.request(t0 + Duration::from_millis(1)), FanoutSlot::At(at));
        for ms in 2..100 {
            assert_eq!(
                f.request(t0 + Duration::from_millis(ms)),
                FanoutSlot::Scheduled
            );
        }
        f.fire(at);
        // 10,000 recipients of a 40 KB list: the gap grows with the bytes (~3 s)…
        let bytes = 10_000 * 40_000;
        f.sent(bytes);
        let gap = Duration::from_secs_f64(bytes as f64 / FANOUT_BYTES_PER_SEC as f64);
        assert_eq!(
            f.request(at + Duration::from_secs(1)),
            FanoutSlot::At(at + gap)
        );
        f.fire(at + gap);
        // …up to the cap.
        f.sent(1 << 40);
        assert_eq!(
            f.request(at + gap),
            FanoutSlot::At(at + gap + FANOUT_MAX_GAP)
        );
        // Quiet for longer than the gap: the next change goes out at once again.
        let mut g = Fanout::default();
        assert_eq!(g.request(t0), FanoutSlot::Now);
        assert_eq!(g.request(t0 + FANOUT_MIN_GAP), FanoutSlot::Now);
    }
}
