//! What the soak samples every second: the gateway's VmRSS and open fds from /proc (sockets to
//! the fake upstream servers counted apart, since an HTTP client's idle pool legitimately keeps
//! some for a while), and the gateway's own counts from `gateway.runtimeStats`.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;

/// One sample.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Milliseconds since the traffic started (negative before it).
    pub t_ms: i64,
    pub rss_kb: u64,
    /// Of `rss_kb`: anonymous memory (heap, stacks). The rest is file pages, mostly the
    /// binary's code, which grows as traffic reaches code paths for the first time.
    pub anon_kb: u64,
    pub fds: u64,
    /// Of `fds`: TCP sockets whose peer is one of the fake upstream servers.
    pub fds_upstream: u64,
    /// `gateway.runtimeStats` (null when the call failed).
    pub stats: Value,
}

impl Sample {
    /// Fds the gateway holds for its own sake and its clients.
    pub fn fds_own(&self) -> u64 {
        self.fds.saturating_sub(self.fds_upstream)
    }

    pub fn stat(&self, key: &str) -> Option<u64> {
        self.stats[key].as_u64()
    }
}

/// VmRSS of `pid` in KiB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    status_kb(pid, "VmRSS:")
}

/// RssAnon of `pid` in KiB.
pub fn anon_kb(pid: u32) -> Option<u64> {
    status_kb(pid, "RssAnon:")
}

fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// (open fds, of which TCP sockets to a peer on one of `upstream_ports` of 127.0.0.1).
pub fn fds(pid: u32, upstream_ports: &[u16]) -> (u64, u64) {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return (0, 0);
    };
    let mut total = 0u64;
    let mut sockets = HashSet::new();
    for e in dir.flatten() {
        total += 1;
        if let Ok(target) = std::fs::read_link(e.path())
            && let Some(inode) = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
        {
            sockets.insert(inode.to_string());
        }
    }
    let mut upstream = 0u64;
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode …
            let (Some(rem), Some(inode)) = (cols.get(2), cols.get(9)) else {
                continue;
            };
            if !sockets.contains(*inode) {
                continue;
            }
            let port = rem
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if port.is_some_and(|p| upstream_ports.contains(&p)) {
                upstream += 1;
            }
        }
    }
    (total, upstream)
}
