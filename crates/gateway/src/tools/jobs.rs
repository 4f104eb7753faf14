//! The processes `exec` starts on the gateway host, foreground or background, and the
//! registry `process` manages. Each command is `sh -c <command>` in its own process group
//! (so a kill reaches everything it started), with its output read into a bounded buffer
//! (the newest [`RETAINED_BYTES`] kept). One supervisor task per job owns the child: it ends
//! the group on timeout or on request (SIGTERM, then SIGKILL after [`KILL_GRACE`]) and records
//! the exit. The registry is process-wide ([`crate::process::Process`]): an in-process restart
//! keeps the sessions it knows, and the gateway's exit kills every group still running.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::{Notify, watch};

use crate::state::now_ms;
use crate::sync::LockExt;

/// Output kept per job (the newest bytes; older ones are counted, not kept).
pub const RETAINED_BYTES: usize = 1024 * 1024;
/// Jobs the registry keeps (running and finished); a new one beyond this evicts the oldest
/// finished job, and is refused when all are running.
pub const MAX_JOBS: usize = 64;
/// Between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_millis(1500);
/// How long pipes still held by a grandchild may keep a finished job's readers alive.
const DRAIN_GRACE: Duration = Duration::from_millis(300);

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// Ended by `process kill`, an abort or the gateway's exit.
    pub killed: bool,
}

/// A job's output so far.
#[derive(Debug, Default)]
struct Output {
    buf: Vec<u8>,
    /// Bytes ever produced.
    total: u64,
    /// `total` at the last `poll` (what `poll` shows is what came after).
    polled: u64,
}

impl Output {
    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        self.buf.extend_from_slice(chunk);
        if self.buf.len() > RETAINED_BYTES {
            let cut = self.buf.len() - RETAINED_BYTES;
            self.buf.drain(..cut);
        }
    }

    /// The retained bytes produced after byte `from` (of `total`), and whether some of them
    /// were no longer retained.
    fn since(&self, from: u64) -> (Vec<u8>, bool) {
        let start_of_buf = self.total - self.buf.len() as u64;
        if from >= self.total {
            return (Vec::new(), false);
        }
        if from < start_of_buf {
            return (self.buf.clone(), true);
        }
        let skip = usize::try_from(from - start_of_buf).unwrap_or(0);
        (self.buf.get(skip..).unwrap_or_default().to_vec(), false)
    }
}

/// One command started by `exec`.
pub struct Job {
    pub id: String,
    pub command: String,
    pub cwd: PathBuf,
    pub agent_id: String,
    pub pid: Option<u32>,
    pub started_at_ms: u64,
    output: Mutex<Output>,
    /// Wakes whoever streams this job's output.
    pub output_changed: Notify,
    exit: watch::Sender<Option<Exit>>,
    kill: Notify,
    kill_requested: AtomicBool,
    stdin: tokio::sync::Mutex<Option<Writer>>,
    /// Handed to the model as a session (`yieldMs`, `background`): it outlives its call.
    backgrounded: AtomicBool,
    pty: bool,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("pid", &self.pid)
            .finish()
    }
}

/// What `spawn` needs.
pub struct SpawnSpec {
    pub command: String,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub agent_id: String,
    /// Run on a pseudo-terminal (stdin, stdout and stderr are its slave side).
    pub pty: bool,
}

type Reader = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
type Writer = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// A pseudo-terminal pair: the master (ours) and the slave (the child's terminal).
#[cfg(unix)]
struct Pty {
    master: std::os::fd::OwnedFd,
    slave: std::os::fd::OwnedFd,
}

#[cfg(unix)]
fn open_pty() -> Result<Pty, String> {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (-1, -1);
    let ws = libc::winsize {
        ws_row: 24,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty(3) writes two fds into the given ints; name and termios are optional
    // (null), and `ws` outlives the call.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    if rc != 0 || master < 0 || slave < 0 {
        return Err(format!(
            "exec: cannot open a pseudo-terminal: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: both fds were just opened by openpty and are owned by nobody else.
    let (master, slave) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(master),
            std::os::fd::OwnedFd::from_raw_fd(slave),
        )
    };
    Ok(Pty { master, slave })
}

impl Job {
    pub fn exit(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    pub fn exit_watch(&self) -> watch::Receiver<Option<Exit>> {
        self.exit.subscribe()
    }

    /// Waits for the job to end.
    pub async fn wait(&self) -> Exit {
        let mut rx = self.exit.subscribe();
        loop {
            if let Some(e) = *rx.borrow_and_update() {
                return e;
            }
            if rx.changed().await.is_err() {
                return Exit {
                    code: None,
                    signal: None,
                    timed_out: false,
                    killed: true,
                };
            }
        }
    }

    /// Asks the supervisor to end the group (SIGTERM, then SIGKILL).
    pub fn kill(&self) {
        self.kill_requested.store(true, Ordering::SeqCst);
        self.kill.notify_one();
    }

    pub fn background(&self) {
        self.backgrounded.store(true, Ordering::SeqCst);
    }

    pub fn is_background(&self) -> bool {
        self.backgrounded.load(Ordering::SeqCst)
    }

    /// All retained output and whether older output was dropped.
    pub fn output(&self) -> (Vec<u8>, bool) {
        let out = self.output.locked();
        (out.buf.clone(), out.total > out.buf.len() as u64)
    }

    pub fn total_bytes(&self) -> u64 {
        self.output.locked().total
    }

    /// Output since the last poll (and marks it seen).
    pub fn poll_output(&self) -> (Vec<u8>, bool) {
        let mut out = self.output.locked();
        let from = out.polled;
        out.polled = out.total;
        out.since(from)
    }

    /// Writes to the job's stdin (`process write`).
    pub async fn write_stdin(&self, data: &[u8], eof: bool) -> Result<(), String> {
        use tokio::io::AsyncWriteExt;
        let mut guard = self.stdin.lock().await;
        let Some(stdin) = guard.as_mut() else {
            return Err("stdin is closed for this session".to_string());
        };
        stdin
            .write_all(data)
            .await
            .map_err(|e| format!("cannot write to the process: {e}"))?;
        if eof && self.pty {
            // On a terminal, end of input is the EOF character (the master stays open for
            // reading), not a closed descriptor.
            stdin
                .write_all(b"\x04")
                .await
                .map_err(|e| format!("cannot write to the process: {e}"))?;
        }
        let _ = stdin.flush().await;
        if eof && !self.pty {
            *guard = None;
        }
        Ok(())
    }
}

/// Signals the process group `pgid` (our child's pid: `process_group(0)`). The one place
/// that signals a group: `exec` jobs here and the node host's `system.run` use it.
pub fn signal_group(pgid: u32, sig: i32) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(pgid)
        && pid > 0
    {
        // SAFETY: kill(2) with a negative pid signals the group we created for this child;
        // it touches no memory.
        unsafe {
            libc::kill(-pid, sig);
        }
    }
}

/// The registry of jobs (one per process).
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

impl Jobs {
    /// Starts `sh -c <command>`; the error is the tool's message.
    pub fn spawn(&self, spec: SpawnSpec) -> Result<Arc<Job>, String> {
        self.make_room()?;
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(&spec.command)
            .current_dir(&spec.cwd)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .env("OPENCLAW_SHELL", "exec")
            .kill_on_drop(false);
        #[cfg(unix)]
        let pty = if spec.pty { Some(open_pty()?) } else { None };
        #[cfg(unix)]
        if let Some(p) = &pty {
            let slave = |p: &Pty| {
                p.slave
                    .try_clone()
                    .map(Stdio::from)
                    .map_err(|e| format!("exec: cannot set up the pseudo-terminal: {e}"))
            };
            cmd.stdin(slave(p)?).stdout(slave(p)?).stderr(slave(p)?);
            cmd.env("TERM", "xterm-256color");
            // SAFETY: only async-signal-safe calls between fork and exec: a new session (so
            // the child's pid is also its process group, as `process_group(0)` gives the
            // piped case) with the pty as its controlling terminal.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::setsid() < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        } else {
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0);
        }
        #[cfg(not(unix))]
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            if !spec.cwd.is_dir() {
                format!(
                    "exec: working directory does not exist: {}",
                    spec.cwd.display()
                )
            } else {
                format!("exec: cannot start the shell: {e}")
            }
        })?;
        // Our side of the terminal (the child holds the slave now), or the pipes.
        let (stdin, readers): (Option<Writer>, Vec<Reader>) = match pty {
            #[cfg(unix)]
            Some(p) => {
                drop(p.slave);
                let read = std::fs::File::from(p.master);
                let write = read
                    .try_clone()
                    .map_err(|e| format!("exec: cannot set up the pseudo-terminal: {e}"))?;
                (
                    Some(Box::new(tokio::fs::File::from_std(write))),
                    vec![Box::new(tokio::fs::File::from_std(read))],
                )
            }
            _ => (
                child.stdin.take().map(|s| Box::new(s) as Writer),
                [
                    child.stdout.take().map(|s| Box::new(s) as Reader),
                    child.stderr.take().map(|s| Box::new(s) as Reader),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ),
        };
        let (exit_tx, _) = watch::channel(None);
        let job = Arc::new(Job {
            id: uuid::Uuid::new_v4().to_string(),
            command: spec.command,
            cwd: spec.cwd,
            agent_id: spec.agent_id,
            pid: child.id(),
            started_at_ms: now_ms(),
            output: Mutex::new(Output::default()),
            output_changed: Notify::new(),
            exit: exit_tx,
            kill: Notify::new(),
            kill_requested: AtomicBool::new(false),
            stdin: tokio::sync::Mutex::new(stdin),
            backgrounded: AtomicBool::new(false),
            pty: spec.pty,
        });
        let readers: Vec<_> = readers
            .into_iter()
            .map(|r| tokio::spawn(read_into(r, job.clone())))
            .collect();
        self.jobs.locked().insert(job.id.clone(), job.clone());
        tokio::spawn(supervise(child, job.clone(), spec.timeout, readers));
        Ok(job)
    }

    /// Drops the oldest finished jobs while full; refuses when everything is running.
    fn make_room(&self) -> Result<(), String> {
        let mut jobs = self.jobs.locked();
        while jobs.len() >= MAX_JOBS {
            let oldest = jobs
                .values()
                .filter(|j| j.exit().is_some())
                .min_by_key(|j| j.started_at_ms)
                .map(|j| j.id.clone());
            match oldest {
                Some(id) => {
                    jobs.remove(&id);
                }
                None => {
                    return Err(format!(
                        "exec: too many running processes ({MAX_JOBS}); kill or remove one with the process tool first"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Jobs in the registry (`gateway.runtimeStats`).
    pub fn count(&self) -> usize {
        self.jobs.locked().len()
    }

    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs.locked().get(id).cloned()
    }

    /// Background sessions of `agent_id`, oldest first.
    pub fn list(&self, agent_id: &str) -> Vec<Arc<Job>> {
        let mut v: Vec<_> = self
            .jobs
            .locked()
            .values()
            .filter(|j| j.agent_id == agent_id && j.is_background())
            .cloned()
            .collect();
        v.sort_by_key(|j| j.started_at_ms);
        v
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs.locked().remove(id)
    }

    /// Forgets a foreground job once its call has its result.
    pub fn forget_foreground(&self, job: &Job) {
        if !job.is_background() {
            self.jobs.locked().remove(&job.id);
        }
    }

    /// Ends every running group now (the gateway is exiting): SIGTERM, a short grace, then
    /// SIGKILL, blocking. No child outlives the gateway.
    pub fn kill_all_blocking(&self) {
        let running: Vec<u32> = self
            .jobs
            .locked()
            .values()
            .filter(|j| j.exit().is_none())
            .filter_map(|j| j.pid)
            .collect();
        if running.is_empty() {
            return;
        }
        for pid in &running {
            signal_group(*pid, libc::SIGTERM);
        }
        let deadline = std::time::Instant::now() + KILL_GRACE;
        while std::time::Instant::now() < deadline && running.iter().any(|p| group_alive(*p)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in running {
            signal_group(pid, libc::SIGKILL);
        }
    }
}

/// Whether any process of group `pgid` still exists.
fn group_alive(pgid: u32) -> bool {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(pgid) {
        // SAFETY: signal 0 only checks that the group exists; no memory is involved.
        return unsafe { libc::kill(-pid, 0) } == 0;
    }
    false
}

async fn read_into(mut r: Reader, job: Arc<Job>) {
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                job.output.locked().push(chunk.get(..n).unwrap_or_default());
                job.output_changed.notify_waiters();
            }
        }
    }
}

/// Owns the child: waits for its exit, its timeout or a kill request; ends the group; records
/// the exit once the output is drained.
async fn supervise(
    mut child: tokio::process::Child,
    job: Arc<Job>,
    timeout: Duration,
    readers: Vec<tokio::task::JoinHandle<()>>,
) {
    let pgid = child.id();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut timed_out = false;
    let mut killed = false;
    let status = loop {
        if job.kill_requested.load(Ordering::SeqCst) && !killed {
            killed = true;
            break end_group(&mut child, pgid).await;
        }
        tokio::select! {
            s = child.wait() => break s.ok(),
            _ = &mut deadline, if !timed_out => {
                timed_out = true;
                break end_group(&mut child, pgid).await;
            }
            _ = job.kill.notified() => {}
        }
    };
    // A grandchild may still hold the pipes; its group is ours, so end it too.
    if let Some(p) = pgid
        && (killed || timed_out)
        && group_alive(p)
    {
        signal_group(p, libc::SIGKILL);
    }
    for r in readers {
        let abort = r.abort_handle();
        if tokio::time::timeout(DRAIN_GRACE, r).await.is_err() {
            abort.abort();
        }
    }
    *job.stdin.lock().await = None;
    #[cfg(unix)]
    let signal = {
        use std::os::unix::process::ExitStatusExt;
        status.and_then(|s| s.signal())
    };
    #[cfg(not(unix))]
    let signal = None;
    // `send_replace`, not `send`: `send` leaves the value unchanged when nobody is subscribed
    // yet, and a command that ends before the exec tool subscribes must still be seen ended.
    job.exit.send_replace(Some(Exit {
        code: status.and_then(|s| s.code()),
        signal,
        timed_out,
        killed,
    }));
    job.output_changed.notify_waiters();
}

/// SIGTERM to the group, SIGKILL after the grace; returns the child's status.
async fn end_group(
    child: &mut tokio::process::Child,
    pgid: Option<u32>,
) -> Option<std::process::ExitStatus> {
    if let Some(p) = pgid {
        signal_group(p, libc::SIGTERM);
    }
    match tokio::time::timeout(KILL_GRACE, child.wait()).await {
        Ok(s) => {
            if let Some(p) = pgid {
                // The shell may be gone while something it started ignores SIGTERM.
                signal_group(p, libc::SIGKILL);
            }
            s.ok()
        }
        Err(_) => {
            if let Some(p) = pgid {
                signal_group(p, libc::SIGKILL);
            }
            let _ = child.start_kill();
            child.wait().await.ok()
        }
    }
}

/// Kills a foreground job when its call is dropped (abort, `/stop`, run timeout) before it
/// finished or was handed over as a background session.
pub struct ForegroundGuard(pub Arc<Job>);

impl Drop for ForegroundGuard {
    fn drop(&mut self) {
        if !self.0.is_background() && self.0.exit().is_none() {
            self.0.kill();
        }
    }
}
