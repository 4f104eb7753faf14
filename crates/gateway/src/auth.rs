//! Shared-secret checks (constant time) and the per-address failure limiter: a doubling tarpit
//! (250 ms → 5 s, as the reference) plus a lockout after `maxAttempts` failures in `windowMs`
//! (loopback exempt from the lockout by default). Memory is bounded: at most `MAX_TRACKED`
//! addresses are remembered.

use crate::sync::LockExt;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openclaw_config::resolve::RateLimit;
use subtle::ConstantTimeEq;

const MAX_TRACKED: usize = 4096;
const TARPIT_START_MS: u64 = 250;
const TARPIT_CAP_MS: u64 = 5_000;

/// Constant-time equality of two secrets (length is not hidden, content is).
pub fn secret_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[derive(Debug, Clone)]
struct Entry {
    consecutive: u32,
    window_start: Instant,
    in_window: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// What to do with a connect from an address before checking its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    Locked { retry_after_ms: u64 },
}

pub struct AuthLimiter {
    cfg: RateLimit,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

impl AuthLimiter {
    pub fn new(cfg: RateLimit) -> Self {
        Self {
            cfg,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, ip: IpAddr) -> Gate {
        let ip = crate::trust::bucket(ip);
        let map = self.entries.locked();
        match map.get(&ip).and_then(|e| e.locked_until) {
            Some(until) => {
                let now = Instant::now();
                if until > now {
                    Gate::Locked {
                        retry_after_ms: (until - now).as_millis() as u64,
                    }
                } else {
                    Gate::Open
                }
            }
            None => Gate::Open,
        }
    }

    /// Records a failure; returns how long to hold the answer (the tarpit). `local` clients
    /// (see `trust`) are exempt from the lockout when `exemptLoopback` is on.
    pub fn fail(&self, ip: IpAddr, local: bool) -> Duration {
        let ip = crate::trust::bucket(ip);
        let now = Instant::now();
        let mut map = self.entries.locked();
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            // Forget the stalest address to stay bounded.
            if let Some(oldest) = map.iter().min_by_key(|(_, e)| e.last).map(|(k, _)| *k) {
                map.remove(&oldest);
            }
        }
        let e = map.entry(ip).or_insert(Entry {
            consecutive: 0,
            window_start: now,
            in_window: 0,
            locked_until: None,
            last: now,
        });
        e.last = now;
        e.consecutive = e.consecutive.saturating_add(1);
        if now.duration_since(e.window_start) > Duration::from_millis(self.cfg.window_ms) {
            e.window_start = now;
            e.in_window = 0;
        }
        e.in_window = e.in_window.saturating_add(1);
        let exempt = local && self.cfg.exempt_loopback;
        if !exempt && e.in_window >= self.cfg.max_attempts {
            e.locked_until = Some(lock_end(now, self.cfg.lockout_ms));
        }
        let shift = (e.consecutive - 1).min(16);
        Duration::from_millis((TARPIT_START_MS << shift).min(TARPIT_CAP_MS))
    }

    /// A success clears the address's record.
    pub fn succeed(&self, ip: IpAddr) {
        let ip = crate::trust::bucket(ip);
        {
            let mut map = self.entries.locked();
            map.remove(&ip);
        }
    }
}

/// `now + lockout_ms`, never panicking (we hold the map's lock here): a lockout too long for
/// the clock is as good as forever, so it saturates at a century.
fn lock_end(now: Instant, lockout_ms: u64) -> Instant {
    const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(Duration::from_millis(lockout_ms).min(FOREVER))
        .or_else(|| now.checked_add(Duration::from_secs(24 * 3600)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> RateLimit {
        RateLimit {
            max_attempts: 3,
            window_ms: 60_000,
            lockout_ms: 300_000,
            exempt_loopback: true,
        }
    }

    #[test]
    fn tarpit_doubles_and_caps() {
        let l = AuthLimiter::new(cfg());
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let delays: Vec<u64> = (0..7)
            .map(|_| l.fail(ip, true).as_millis() as u64)
            .collect();
        assert_eq!(delays, vec![250, 500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(l.check(ip), Gate::Open, "loopback is exempt from lockout");
        l.succeed(ip);
        assert_eq!(l.fail(ip, true).as_millis(), 250);
    }

    #[test]
    fn remote_addresses_lock_out() {
        let l = AuthLimiter::new(cfg());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..3 {
            l.fail(ip, false);
        }
        assert!(matches!(l.check(ip), Gate::Locked { .. }));
    }

    #[test]
    fn a_huge_lockout_saturates_instead_of_panicking() {
        let l = AuthLimiter::new(RateLimit {
            lockout_ms: u64::MAX,
            window_ms: u64::MAX,
            ..cfg()
        });
        let ip: IpAddr = "192.0.2.8".parse().unwrap();
        for _ in 0..4 {
            l.fail(ip, false);
        }
        match l.check(ip) {
            Gate::Locked { retry_after_ms } => assert!(retry_after_ms > 1_000_000_000),
            Gate::Open => panic!("not locked"),
        }
    }

    #[test]
    fn secrets_compare() {
        assert!(secret_eq("abc", "abc"));
        assert!(!secret_eq("abc", "abd"));
        assert!(!secret_eq("abc", "abcd"));
    }
}
