//! Presence (§11): who is connected, keyed by device id / instance id / connection id, with a
//! 5-minute TTL, at most 200 entries, and a "self" entry for the gateway host.

use std::collections::HashMap;

use openclaw_protocol::PresenceEntry;

const TTL_MS: u64 = 5 * 60 * 1000;
const MAX_ENTRIES: usize = 200;

pub struct Presence {
    entries: HashMap<String, PresenceEntry>,
    self_entry: PresenceEntry,
    version: u64,
}

impl Presence {
    pub fn new(self_entry: PresenceEntry) -> Self {
        Self {
            entries: HashMap::new(),
            self_entry,
            version: 1,
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
}
