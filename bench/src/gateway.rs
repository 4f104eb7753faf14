//! A gateway under test: the release binary started with a fresh temp HOME and state dir,
//! and always stopped — on drop (so also on error and panic unwinding), and through
//! `PR_SET_PDEATHSIG` if the bench itself is killed.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Shared token every gateway is configured with.
pub const TOKEN: &str = "bench-token-5f0c2a9e7d";

/// How many lines of the gateway's output are kept for error messages.
const TAIL_LINES: usize = 40;

/// A running gateway process and its private HOME.
pub struct Gateway {
    child: Child,
    /// Just before `spawn()`: the start of the startup measurement.
    pub spawned_at: Instant,
    port_rx: Receiver<u16>,
    port: Option<u16>,
    tail: Arc<Mutex<VecDeque<String>>>,
    /// Every stdout line, for phases that wait on a log line (bounded by what the phase reads).
    lines_rx: Receiver<String>,
    pub config_path: std::path::PathBuf,
    // Dropped after the process is killed (fields drop after `Drop::drop`).
    _home: tempfile::TempDir,
}

impl Gateway {
    /// Starts `bin gateway run --port 0` with a config file in a fresh temp dir; `extra`
    /// top-level sections are merged over the base config.
    /// `env`: extra `OPENCLAW_*` environment variables.
    pub fn spawn_env(bin: &Path, extra: serde_json::Value, env: &[(&str, &str)]) -> Result<Self> {
        let home = tempfile::Builder::new()
            .prefix("openclaw-bench-")
            .tempdir()
            .context("creating temp HOME")?;
        let config_path = home.path().join("openclaw.json");
        let mut config = base_config(home.path());
        if let (Some(cfg), Some(more)) = (config.as_object_mut(), extra.as_object()) {
            for (k, v) in more {
                match (cfg.get_mut(k), v) {
                    (Some(serde_json::Value::Object(a)), serde_json::Value::Object(b)) => {
                        a.extend(b.clone());
                    }
                    _ => {
                        cfg.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        std::fs::write(&config_path, serde_json::to_vec(&config)?)
            .context("writing gateway config")?;

        let mut cmd = Command::new(bin);
        cmd.args(["gateway", "run", "--port", "0"]);
        // The caller's OPENCLAW_* settings (port, token, profile…) must not leak in.
        let inherited: Vec<OsString> = std::env::vars_os()
            .map(|(k, _)| k)
            .filter(|k| k.to_string_lossy().starts_with("OPENCLAW_"))
            .collect();
        for k in inherited {
            cmd.env_remove(k);
        }
        cmd.env("HOME", home.path())
            .env("OPENCLAW_STATE_DIR", home.path().join("state"))
            .env("OPENCLAW_CONFIG_PATH", &config_path)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group, so `Drop` can kill the whole tree at once.
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                // The gateway dies with the thread that spawned it (the bench's main thread),
                // even when the bench is SIGKILLed and no destructor runs.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }

        let spawned_at = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;

        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let (lines_tx, lines_rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            drain_lines(out, Arc::clone(&tail), Some(port_tx), Some(lines_tx));
        }
        if let Some(err) = child.stderr.take() {
            drain_lines(err, Arc::clone(&tail), None, None);
        }
        Ok(Gateway {
            child,
            spawned_at,
            port_rx,
            port: None,
            tail,
            lines_rx,
            config_path,
            _home: home,
        })
    }

    /// Waits up to `within` for a stdout line containing `pat`.
    pub fn wait_line(&self, pat: &str, within: std::time::Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.lines_rx.recv_timeout(left) {
                Ok(l) if l.contains(pat) => return Some(l),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Drops stdout lines read so far.
    pub fn skip_lines(&self) {
        while self.lines_rx.try_recv().is_ok() {}
    }

    /// Counts the stdout lines read so far that contain `pat` (and drops them all).
    pub fn count_lines(&self, pat: &str) -> usize {
        let mut n = 0;
        while let Ok(l) = self.lines_rx.try_recv() {
            if l.contains(pat) {
                n += 1;
            }
        }
        n
    }

    /// CPU time the gateway has used so far (user + system), from `/proc/<pid>/stat`.
    pub fn cpu_time(&self) -> Result<std::time::Duration> {
        let path = format!("/proc/{}/stat", self.pid());
        let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .with_context(|| format!("unexpected {path}"))?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f
            .get(11)
            .zip(f.get(12))
            .and_then(|(u, s)| Some(u.parse::<u64>().ok()? + s.parse::<u64>().ok()?))
            .with_context(|| format!("no utime/stime in {path}"))?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        Ok(std::time::Duration::from_secs_f64(ticks as f64 / hz))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port from the `listening on ws://127.0.0.1:PORT` line, once it has been printed.
    pub fn poll_port(&mut self) -> Option<u16> {
        if self.port.is_none() {
            self.port = self.port_rx.try_recv().ok();
        }
        self.port
    }

    /// Fails (with the last output lines) if the process has exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "gateway exited ({status}); last output:\n{}",
                self.output_tail()
            );
        }
        Ok(())
    }

    /// Resident set size of the gateway process (VmRSS), in KiB.
    pub fn rss_kb(&self) -> Result<u64> {
        self.status_kb("VmRSS:")
    }

    /// The highest resident set size the gateway process has had (VmHWM), in KiB.
    pub fn rss_peak_kb(&self) -> Result<u64> {
        self.status_kb("VmHWM:")
    }

    fn status_kb(&self, field: &str) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in {path}"))
    }

    pub fn output_tail(&self) -> String {
        let tail = self.tail.lock().map(|t| t.clone()).unwrap_or_default();
        Vec::from(tail).join("\n")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain syscall; the negative pid names the process group created at spawn,
        // which holds only the gateway and anything it started.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `stream` line by line until EOF on its own thread (a full pipe would stall the
/// gateway), keeping the last lines and reporting the first listening port seen.
fn drain_lines(
    stream: impl Read + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
    mut port_tx: Option<Sender<u16>>,
    lines_tx: Option<Sender<String>>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        // Ends at EOF, which comes at the latest when the process is killed.
        while matches!(reader.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
            let line = String::from_utf8_lossy(&buf).trim_end().to_string();
            buf.clear();
            if port_tx.is_some()
                && let Some(port) = listening_port(&line)
                && let Some(tx) = port_tx.take()
            {
                let _ = tx.send(port);
            }
            if let Some(tx) = &lines_tx {
                let _ = tx.send(line.clone());
            }
            if let Ok(mut t) = tail.lock() {
                if t.len() == TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    });
}

/// The config every bench gateway runs with; `meta.bench` is what the reload phase changes.
pub fn base_config(home: &Path) -> serde_json::Value {
    serde_json::json!({
        "gateway": {"mode": "local", "bind": "loopback", "auth": {"token": TOKEN},
                    "reload": {"debounceMs": 0}},
        "logging": {"file": home.join("gw.log")},
    })
}

/// The port after the first `ws://127.0.0.1:` in `line`.
fn listening_port(line: &str) -> Option<u16> {
    const MARK: &str = "ws://127.0.0.1:";
    let rest = &line[line.find(MARK)? + MARK.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::listening_port;

    #[test]
    fn parses_the_first_loopback_port() {
        let line = "2026-11-23T17:53:03Z [gateway] listening on ws://127.0.0.1:41234, ws://[::1]:41235 (PID 7)";
        assert_eq!(listening_port(line), Some(41234));
        assert_eq!(listening_port("listening on ws://[::1]:5"), None);
        assert_eq!(listening_port("ws://127.0.0.1:"), None);
    }
}
