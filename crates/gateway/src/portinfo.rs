//! Who listens on a TCP port, read natively from /proc (Linux): used to say which process holds
//! the port when the gateway cannot bind.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One listening socket and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub pid: Option<u32>,
    pub command: Option<String>,
    pub addr: SocketAddr,
}

fn parse_hex_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => {
            let n = u32::from_str_radix(ip, 16).ok()?;
            IpAddr::V4(Ipv4Addr::from(u32::from_be(n)))
        }
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).ok()?;
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Socket inodes listening on `port` (state 0A = LISTEN).
fn listening_inodes(port: u16) -> Vec<(u64, SocketAddr)> {
    let mut out = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != "0A" {
                continue;
            }
            let Some(addr) = parse_hex_addr(cols[1]) else {
                continue;
            };
            if addr.port() != port {
                continue;
            }
            if let Ok(inode) = cols[9].parse::<u64>() {
                out.push((inode, addr));
            }
        }
    }
    out
}

/// Processes listening on `port` on this host, as far as /proc lets us see.
pub fn listeners(port: u16) -> Vec<Listener> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return Vec::new();
    }
    let wanted: HashMap<u64, SocketAddr> = inodes.iter().copied().collect();
    let mut found: HashMap<u64, (u32, String)> = HashMap::new();
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                let Ok(link) = std::fs::read_link(fd.path()) else {
                    continue;
                };
                let link = link.to_string_lossy();
                let Some(inode) = link
                    .strip_prefix("socket:[")
                    .and_then(|s| s.strip_suffix(']'))
                    .and_then(|s| s.parse::<u64>().ok())
                else {
                    continue;
                };
                if wanted.contains_key(&inode) {
                    let comm = std::fs::read_to_string(p.path().join("comm"))
                        .map(|s| s.trim().to_string())
                        .unwrap_or_default();
                    found.insert(inode, (pid, comm));
                }
            }
        }
    }
    inodes
        .into_iter()
        .map(|(inode, addr)| {
            let owner = found.get(&inode);
            Listener {
                pid: owner.map(|o| o.0),
                command: owner.map(|o| o.1.clone()),
                addr,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_addresses() {
        assert_eq!(
            parse_hex_addr("0100007F:4965").unwrap(),
            "127.0.0.1:18789".parse().unwrap()
        );
        assert_eq!(
            parse_hex_addr("00000000000000000000000001000000:4965").unwrap(),
            "[::1]:18789".parse().unwrap()
        );
    }

    #[test]
    fn finds_our_own_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let found = listeners(port);
        if std::path::Path::new("/proc/net/tcp").exists() {
            assert!(
                found.iter().any(|x| x.pid == Some(std::process::id())),
                "{found:?}"
            );
        }
    }
}
