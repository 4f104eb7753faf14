//! `gateway --force`: free the port by stopping whatever listens on it. Owners are found
//! natively in /proc (with `lsof` as a fallback where /proc is missing); only processes that
//! listen on that port are signalled: SIGTERM, a bounded wait, then SIGKILL, then give up.

use std::time::{Duration, Instant};

use crate::portinfo;

const TERM_WAIT: Duration = Duration::from_secs(5);
const KILL_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ForceError {
    #[error(
        "--force: port {port} is in use but its owner could not be found (another user's process, or a socket in another namespace); stop it by hand"
    )]
    OwnerUnknown { port: u16 },
    #[error("--force: port {port} is held by this very process")]
    OwnSelf { port: u16 },
    #[error("--force: pid {pid} ({command}) did not release port {port} after SIGTERM and SIGKILL")]
    WontExit {
        pid: u32,
        command: String,
        port: u16,
    },
    #[error("--force: cannot signal pid {pid}: {reason}")]
    Signal { pid: u32, reason: String },
}

/// Listeners on `port` with their pids: /proc first, then `lsof -nP -iTCP:<port> -sTCP:LISTEN -t`.
fn owners(port: u16) -> (bool, Vec<(u32, String)>) {
    let found = portinfo::listeners(port);
    let in_use = !found.is_empty();
    let mut pids: Vec<(u32, String)> = found
        .iter()
        .filter_map(|l| l.pid.map(|p| (p, l.command.clone().unwrap_or_default())))
        .collect();
    if pids.is_empty()
        && !std::path::Path::new("/proc/net/tcp").exists()
        && let Ok(out) = std::process::Command::new("lsof")
            .args(["-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN", "-t"])
            .output()
    {
        pids = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .map(|p| (p, String::new()))
            .collect();
    }
    pids.sort();
    pids.dedup();
    (in_use || !pids.is_empty(), pids)
}

fn port_free(port: u16) -> bool {
    owners(port).1.is_empty() && portinfo::listeners(port).is_empty()
}

fn signal(pid: u32, sig: i32) -> Result<(), ForceError> {
    // SAFETY: kill(2) with a pid we found listening on the port.
    let rc = unsafe { libc::kill(pid as i32, sig) };
    if rc == 0 {
        Ok(())
    } else {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ESRCH) {
            return Ok(());
        }
        Err(ForceError::Signal {
            pid,
            reason: err.to_string(),
        })
    }
}

fn wait_free(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if port_free(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    port_free(port)
}

/// Which processes to signal for `port`, given what the lookup found; refuses when nobody can
/// be named or when the holder is this process.
pub fn targets(
    port: u16,
    in_use: bool,
    pids: Vec<(u32, String)>,
    me: u32,
) -> Result<Vec<(u32, String)>, ForceError> {
    if !in_use {
        return Ok(Vec::new());
    }
    if pids.is_empty() {
        return Err(ForceError::OwnerUnknown { port });
    }
    if pids.iter().any(|(p, _)| *p == me) {
        return Err(ForceError::OwnSelf { port });
    }
    Ok(pids)
}

/// Frees `port` if something listens on it. Returns the pids that were stopped.
pub fn kill_port_owners(port: u16) -> Result<Vec<u32>, ForceError> {
    let (in_use, found) = owners(port);
    let pids = targets(port, in_use, found, std::process::id())?;
    if pids.is_empty() {
        return Ok(Vec::new());
    }
    for (pid, cmd) in &pids {
        tracing::warn!(target: "gateway", "--force: sending SIGTERM to pid {pid} ({cmd}) listening on port {port}");
        signal(*pid, libc::SIGTERM)?;
    }
    if wait_free(port, TERM_WAIT) {
        return Ok(pids.into_iter().map(|p| p.0).collect());
    }
    // Only processes that still listen on the port are escalated.
    let (_, still) = owners(port);
    for (pid, cmd) in &still {
        tracing::warn!(target: "gateway", "--force: pid {pid} ({cmd}) ignored SIGTERM; sending SIGKILL");
        signal(*pid, libc::SIGKILL)?;
    }
    if wait_free(port, KILL_WAIT) {
        return Ok(pids.into_iter().map(|p| p.0).collect());
    }
    let (pid, command) = owners(port)
        .1
        .into_iter()
        .next()
        .unwrap_or((0, String::new()));
    Err(ForceError::WontExit { pid, command, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_without_a_named_owner_or_when_it_is_us() {
        assert!(matches!(
            targets(1, true, vec![], 10),
            Err(ForceError::OwnerUnknown { port: 1 })
        ));
        assert!(matches!(
            targets(1, true, vec![(10, "me".into())], 10),
            Err(ForceError::OwnSelf { .. })
        ));
        assert!(targets(1, false, vec![], 10).unwrap().is_empty());
        assert_eq!(
            targets(1, true, vec![(7, "x".into())], 10).unwrap().len(),
            1
        );
    }

    #[test]
    fn an_unused_port_needs_nothing() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The listener above is dropped: nothing to stop, nothing signalled.
        assert!(kill_port_owners(port).unwrap().is_empty());
    }
}
