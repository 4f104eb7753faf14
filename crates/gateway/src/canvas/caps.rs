//! Canvas capabilities (nodes.md §3.4): a node connection gets a random token that opens the
//! canvas paths for a remote client without the gateway secret. One per connection (a refresh
//! replaces it, a disconnect removes it), valid for 10 minutes after its last use.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::state::now_ms;
use crate::sync::LockExt;

/// How long a capability lives after minting or its last use.
pub const CAPABILITY_TTL_MS: u64 = 600_000;

struct Entry {
    conn_id: String,
    expires_ms: u64,
    /// `scheme://host:port` the node reached us on, for the URL a refresh hands out.
    origin: String,
}

/// A freshly minted capability.
pub struct Minted {
    pub capability: String,
    pub expires_at_ms: u64,
    pub url: String,
}

#[derive(Default)]
pub struct Capabilities {
    by_cap: Mutex<HashMap<String, Entry>>,
}

impl Capabilities {
    /// Mints a capability for `conn_id`, replacing its previous one. `origin` of `None` keeps
    /// the origin the connection was given before (a refresh); `None` without one is `None`.
    pub fn mint(&self, conn_id: &str, origin: Option<String>) -> Option<Minted> {
        let now = now_ms();
        let mut m = self.by_cap.locked();
        let previous = m
            .iter()
            .find(|(_, e)| e.conn_id == conn_id)
            .map(|(k, e)| (k.clone(), e.origin.clone()));
        if let Some((k, _)) = &previous {
            m.remove(k);
        }
        let origin = origin.or(previous.map(|(_, o)| o))?;
        m.retain(|_, e| e.expires_ms > now || e.conn_id == conn_id);
        let bytes: [u8; 18] = rand::random();
        let capability = URL_SAFE_NO_PAD.encode(bytes);
        let expires_at_ms = now + CAPABILITY_TTL_MS;
        let url = format!("{origin}/__openclaw__/cap/{capability}");
        m.insert(
            capability.clone(),
            Entry {
                conn_id: conn_id.to_string(),
                expires_ms: expires_at_ms,
                origin,
            },
        );
        Some(Minted {
            capability,
            expires_at_ms,
            url,
        })
    }

    /// Whether `cap` is live; a use slides its expiry.
    pub fn admit(&self, cap: &str) -> bool {
        let now = now_ms();
        let mut m = self.by_cap.locked();
        match m.get_mut(cap) {
            Some(e) if e.expires_ms > now => {
                e.expires_ms = now + CAPABILITY_TTL_MS;
                true
            }
            _ => false,
        }
    }

    /// Forgets the capability of a closed connection.
    pub fn revoke(&self, conn_id: &str) {
        self.by_cap.locked().retain(|_, e| e.conn_id != conn_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_live_capability_per_connection() {
        let caps = Capabilities::default();
        assert!(caps.mint("c1", None).is_none(), "no origin known yet");
        let a = caps.mint("c1", Some("http://h:1".into())).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a.capability).unwrap().len(), 18);
        assert!(a.url.starts_with("http://h:1/__openclaw__/cap/"));
        assert!(caps.admit(&a.capability));
        let b = caps.mint("c1", None).unwrap();
        assert!(b.url.starts_with("http://h:1/"));
        assert!(!caps.admit(&a.capability), "a refresh replaces the old one");
        assert!(caps.admit(&b.capability));
        caps.revoke("c1");
        assert!(!caps.admit(&b.capability));
        assert!(!caps.admit("nope"));
    }
}
