//! `system.run`: start one program from an argv (never through a shell unless the argv names
//! one), only when the exec approvals allow it, with a checked working directory, a small
//! environment, a hard timeout that kills the whole process group, and capped output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use super::approvals::{ApprovalsFile, Decision};
use super::which::{self, Executable};
use openclaw_gateway::tools::jobs::signal_group;

/// Per stream; the reference keeps 200 000 bytes of output too.
pub const OUTPUT_CAP_BYTES: usize = 200_000;
/// Appended (to stderr when it has text, else stdout) when output was cut, as the reference does.
const TRUNCATED_MARKER: &str = "... (truncated)";
/// When neither the params nor the invoke name a timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// No run outlives a day, whatever it asks for.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// After the program exits, how long its pipes may stay open (a background child holding them)
/// before we stop reading.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
const MAX_ARGV: usize = 4096;
const MAX_ENV: usize = 256;

/// What a run inherits from the node host's own environment; everything else (notably the
/// gateway token the host may have been started with) stays out.
const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TERM",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
];
/// Caller keys that change how programs load code or find their config (the reference's
/// host-env policy); a request naming one is refused, not silently trimmed.
const BLOCKED_KEYS: &[&str] = &[
    "PATH",
    "NODE_OPTIONS",
    "NODE_PATH",
    "NODE_REDIRECT_WARNINGS",
    "NODE_REPL_EXTERNAL_MODULE",
    "NODE_REPL_HISTORY",
    "NODE_V8_COVERAGE",
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PERL5LIB",
    "PERL5OPT",
    "RUBYLIB",
    "RUBYOPT",
    "BASHOPTS",
    "BASH_ENV",
    "ENV",
    "KSH_ENV",
    "BROWSER",
    "GIT_ALLOW_PROTOCOL",
    "GIT_EDITOR",
    "GIT_EXTERNAL_DIFF",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_EXEC_PATH",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PROTOCOL_FROM_USER",
    "GIT_SEQUENCE_EDITOR",
    "GIT_TEMPLATE_DIR",
    "GIT_SSL_NO_VERIFY",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "REQUESTS_CA_BUNDLE",
    "RUSTUP_DIST_ROOT",
    "RUSTUP_DIST_SERVER",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTUP_UPDATE_ROOT",
    "SSH_AUTH_SOCK",
    "SSL_CERT_DIR",
    "SSL_CERT_FILE",
    "SYSTEMROOT",
    "WINDIR",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_DIRS",
    "XDG_CONFIG_HOME",
    "XDG_DATA_DIRS",
    "XDG_DATA_HOME",
    "XDG_RUNTIME_DIR",
    "XDG_STATE_HOME",
    "ZDOTDIR",
    "IFS",
    "PROMPT_COMMAND",
];
const BLOCKED_PREFIXES: &[&str] = &[
    "DYLD_",
    "LD_",
    "BASH_FUNC_",
    "GIT_CONFIG_",
    "NPM_CONFIG_",
    "CARGO_REGISTRIES_",
    "TF_VAR_",
    "OPENCLAW_GATEWAY_",
    "CLAWDBOT_GATEWAY_",
];

/// `system.run` params. Unknown keys are ignored: the reference gateway adds bookkeeping
/// fields (`runId`, `sessionKey`, plans, …) that do not change what runs here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunParams {
    pub command: Vec<String>,
    /// Display text only (what the operator saw); checked for type, never executed.
    #[serde(default)]
    #[allow(dead_code)]
    pub raw_command: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub timeout_ms: Option<f64>,
    #[serde(default)]
    pub approved: Option<bool>,
    #[serde(default)]
    pub approval_decision: Option<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
}

/// The `system.run` payload (reference shape; `exitCode` absent when a signal ended it).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RunOutcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub error: Option<String>,
}

/// Why a run was not started; `code` is the protocol error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn invalid(message: impl Into<String>) -> Self {
        Refusal {
            code: "INVALID_REQUEST",
            message: message.into(),
        }
    }
    fn denied(message: impl Into<String>) -> Self {
        Refusal {
            code: "SYSTEM_RUN_DENIED",
            message: message.into(),
        }
    }
}

/// Everything checked; what `execute` will start.
#[derive(Debug)]
pub struct Plan {
    pub program: PathBuf,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

/// Checks `params` against the node and its approvals file. Nothing is started here.
/// `invoke_timeout_ms` (the gateway's wait) bounds the run when the params name no timeout.
pub fn plan(
    params: RunParams,
    approvals: &ApprovalsFile,
    path_env: &str,
    invoke_timeout_ms: Option<u64>,
) -> Result<Plan, Refusal> {
    let argv = params.command;
    if argv.is_empty() || argv[0].trim().is_empty() {
        return Err(Refusal::invalid("command required"));
    }
    if argv.len() > MAX_ARGV {
        return Err(Refusal::invalid(format!(
            "INVALID_REQUEST: command has too many arguments ({} > {MAX_ARGV})",
            argv.len()
        )));
    }
    if argv.iter().any(|a| a.contains('\0')) {
        return Err(Refusal::invalid(
            "INVALID_REQUEST: command arguments must not contain NUL",
        ));
    }
    let cwd = resolve_cwd(params.cwd.as_deref())?;
    let env = build_env(params.env.as_ref(), path_env)?;
    let exe = which::resolve(&argv[0], &cwd, path_env);
    let approved = params.approved == Some(true)
        || matches!(
            params.approval_decision.as_deref(),
            Some("allow-once" | "allow-always")
        );
    let policy = approvals.resolve(params.agent_id.as_deref());
    if let Decision::Deny(message) = policy.decide(&argv, exe.as_ref(), approved) {
        return Err(Refusal::denied(message));
    }
    let program = match exe {
        Some(Executable { path, .. }) => path,
        // Allowed (security full / `*`) but not found: let the spawn report it.
        None => PathBuf::from(&argv[0]),
    };
    let timeout = params
        .timeout_ms
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(|t| Duration::from_millis(t.min(u64::MAX as f64) as u64))
        .or_else(|| {
            invoke_timeout_ms
                .filter(|t| *t > 0)
                .map(Duration::from_millis)
        })
        .unwrap_or(DEFAULT_TIMEOUT)
        .min(MAX_TIMEOUT);
    Ok(Plan {
        program,
        argv,
        cwd,
        env,
        timeout,
    })
}

fn resolve_cwd(cwd: Option<&str>) -> Result<PathBuf, Refusal> {
    let Some(raw) = cwd.map(str::trim).filter(|c| !c.is_empty()) else {
        return std::env::current_dir()
            .map_err(|e| Refusal::denied(format!("SYSTEM_RUN_DENIED: no working directory: {e}")));
    };
    let path = if raw == "~" || raw.starts_with("~/") {
        openclaw_config::paths::expand_home(raw)
    } else {
        PathBuf::from(raw)
    };
    if !path.is_absolute() {
        return Err(Refusal::invalid(
            "INVALID_REQUEST: cwd must be an absolute path",
        ));
    }
    if !path.is_dir() {
        return Err(Refusal::denied(
            "SYSTEM_RUN_DENIED: working directory does not exist or is inaccessible",
        ));
    }
    Ok(path)
}

/// The inherited allowlist, then the caller's keys. A caller key that is blocked or not a
/// portable name refuses the whole run (the reference's "environment override rejected").
fn build_env(
    overrides: Option<&BTreeMap<String, String>>,
    path_env: &str,
) -> Result<Vec<(String, String)>, Refusal> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for key in INHERITED_ENV {
        if let Ok(v) = std::env::var(key) {
            env.insert(key.to_string(), v);
        }
    }
    for (k, v) in std::env::vars() {
        if k.starts_with("LC_") {
            env.insert(k, v);
        }
    }
    env.insert("PATH".to_string(), path_env.to_string());
    if let Some(overrides) = overrides {
        if overrides.len() > MAX_ENV {
            return Err(Refusal::invalid(format!(
                "INVALID_REQUEST: too many env entries ({} > {MAX_ENV})",
                overrides.len()
            )));
        }
        let mut blocked = Vec::new();
        let mut invalid = Vec::new();
        for (raw_key, value) in overrides {
            let key = raw_key.trim();
            if !portable_key(key) || value.contains('\0') {
                invalid.push(raw_key.clone());
                continue;
            }
            let upper = key.to_ascii_uppercase();
            if (upper == "GIT_PAGER" || upper == "PAGER") && (value.is_empty() || value == "cat") {
                env.insert(key.to_string(), String::new());
                continue;
            }
            if BLOCKED_KEYS.contains(&upper.as_str())
                || BLOCKED_PREFIXES.iter().any(|p| upper.starts_with(p))
            {
                blocked.push(upper);
                continue;
            }
            env.insert(key.to_string(), value.clone());
        }
        if !blocked.is_empty() || !invalid.is_empty() {
            let mut details = Vec::new();
            if !blocked.is_empty() {
                details.push(format!("blocked override keys: {}", blocked.join(", ")));
            }
            if !invalid.is_empty() {
                details.push(format!(
                    "invalid non-portable override keys: {}",
                    invalid.join(", ")
                ));
            }
            return Err(Refusal::invalid(format!(
                "SYSTEM_RUN_DENIED: environment override rejected ({})",
                details.join("; ")
            )));
        }
    }
    // Lets programs tell they were started by OpenClaw (the reference sets the same marker).
    env.insert("OPENCLAW_CLI".to_string(), "1".to_string());
    Ok(env.into_iter().collect())
}

fn portable_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Starts the plan and waits for it (or its timeout). Never fails: a spawn error is reported in
/// the outcome's `error`, as the reference does.
pub async fn execute(plan: Plan) -> RunOutcome {
    let mut cmd = tokio::process::Command::new(&plan.program);
    cmd.args(&plan.argv[1..])
        .current_dir(&plan.cwd)
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    {
        // Own process group, so a timeout can kill everything the program started.
        cmd.process_group(0);
        cmd.arg0(&plan.argv[0]);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return RunOutcome {
                exit_code: None,
                timed_out: false,
                success: false,
                stdout: String::new(),
                stderr: String::new(),
                error: Some(spawn_error(&e, &plan.program, &plan.cwd)),
            };
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let stdout = child
        .stdout
        .take()
        .map(|s| tokio::spawn(read_capped(s, OUTPUT_CAP_BYTES, stop_rx.clone())));
    let stderr = child
        .stderr
        .take()
        .map(|s| tokio::spawn(read_capped(s, OUTPUT_CAP_BYTES, stop_rx)));

    // Declared after `child`, so it drops first: while the child is unreaped its pid is still
    // its group's id and cannot name anyone else's processes.
    let mut group = GroupGuard::new(&child);
    let (status, timed_out) = match tokio::time::timeout(plan.timeout, child.wait()).await {
        Ok(status) => (status, false),
        Err(_) => {
            kill_group(&mut child);
            (child.wait().await, true)
        }
    };
    group.disarm();
    // Pipes held open by a background grandchild must not keep us waiting forever.
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(DRAIN_GRACE).await;
        let _ = stop_tx.send(true);
    });
    let (out, out_cut) = collect(stdout).await;
    let (err, err_cut) = collect(stderr).await;
    stopper.abort();

    let mut stdout = String::from_utf8_lossy(&out).into_owned();
    let mut stderr = String::from_utf8_lossy(&err).into_owned();
    if out_cut || err_cut {
        if stderr.trim().is_empty() {
            stdout = format!("{stdout}\n{TRUNCATED_MARKER}");
        } else {
            stderr = format!("{stderr}\n{TRUNCATED_MARKER}");
        }
    }
    let (exit_code, error) = match status {
        Ok(s) => (s.code(), None),
        Err(e) => (None, Some(format!("cannot wait for the process: {e}"))),
    };
    RunOutcome {
        exit_code,
        timed_out,
        success: exit_code == Some(0) && !timed_out,
        stdout,
        stderr,
        error,
    }
}

fn spawn_error(e: &std::io::Error, program: &Path, cwd: &Path) -> String {
    if e.kind() == std::io::ErrorKind::NotFound && !cwd.is_dir() {
        return format!(
            "node exec working directory does not exist on the node host: {} (os reported: {e})",
            cwd.display()
        );
    }
    format!("spawn {} failed: {e}", program.display())
}

fn kill_group(child: &mut tokio::process::Child) {
    // process_group(0) made the child's pid its group id.
    if let Some(pid) = child.id() {
        signal_group(pid, libc::SIGKILL);
    }
    let _ = child.start_kill();
}

/// Kills the child's whole process group when a run is abandoned before its child was reaped
/// (the invoke task is aborted because the gateway connection closed): `kill_on_drop` alone
/// would only reach the direct child.
struct GroupGuard {
    pgid: Option<u32>,
}

impl GroupGuard {
    fn new(child: &tokio::process::Child) -> Self {
        GroupGuard { pgid: child.id() }
    }

    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        // The group of a child we have not reaped yet (see `execute`).
        if let Some(pgid) = self.pgid.take() {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

async fn collect(h: Option<tokio::task::JoinHandle<(Vec<u8>, bool)>>) -> (Vec<u8>, bool) {
    match h {
        Some(h) => h.await.unwrap_or_default(),
        None => (Vec::new(), false),
    }
}

/// Reads until EOF or `stop`, keeping the first `cap` bytes and draining (discarding) the rest
/// so the writer never blocks on a full pipe. Returns what was kept and whether bytes were cut.
async fn read_capped<R: AsyncRead + Unpin>(
    mut r: R,
    cap: usize,
    mut stop: watch::Receiver<bool>,
) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut cut = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            n = r.read(&mut buf) => n,
            _ = stop.wait_for(|s| *s) => break,
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                let take = room.min(n);
                kept.extend_from_slice(&buf[..take]);
                cut |= take < n;
            }
        }
    }
    (kept, cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: serde_json::Value) -> RunParams {
        serde_json::from_value(v).unwrap()
    }

    fn full() -> ApprovalsFile {
        ApprovalsFile::from_value(json!({"version":1,"defaults":{"security":"full"}})).unwrap()
    }

    async fn run_full(v: serde_json::Value) -> RunOutcome {
        let p = plan(params(v), &full(), &which::node_path_env(), None).unwrap();
        execute(p).await
    }

    #[tokio::test]
    async fn runs_argv_without_a_shell() {
        let out = run_full(json!({"command":["echo","a b","$HOME",";","ls"]})).await;
        assert_eq!(out.stdout, "a b $HOME ; ls\n");
        assert_eq!(out.exit_code, Some(0));
        assert!(out.success && !out.timed_out && out.error.is_none());
    }

    #[tokio::test]
    async fn reports_exit_code_and_stderr() {
        let out = run_full(json!({"command":["sh","-c","echo oops >&2; exit 3"]})).await;
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.stderr, "oops\n");
        assert!(!out.success);
    }

    #[tokio::test]
    async fn cwd_and_env() {
        let d = tempfile::tempdir().unwrap();
        let cwd = std::fs::canonicalize(d.path()).unwrap();
        let out = run_full(json!({
            "command":["sh","-c","pwd; echo \"$FOO|$OPENCLAW_CLI|${OPENCLAW_GATEWAY_TOKEN-unset}\""],
            "cwd": cwd.to_str().unwrap(),
            "env": {"FOO":"bar"}
        }))
        .await;
        assert_eq!(out.stdout, format!("{}\nbar|1|unset\n", cwd.display()));
    }

    #[test]
    fn refuses_dangerous_env_and_bad_cwd() {
        for env in [
            json!({"LD_PRELOAD":"/tmp/x.so"}),
            json!({"PATH":"/tmp"}),
            json!({"DYLD_INSERT_LIBRARIES":"x"}),
            json!({"BASH_ENV":"/tmp/rc"}),
            json!({"bad key":"x"}),
        ] {
            let e = plan(
                params(json!({"command":["true"],"env":env})),
                &full(),
                "/usr/bin:/bin",
                None,
            )
            .unwrap_err();
            assert!(
                e.message.contains("environment override rejected"),
                "{env}: {e:?}"
            );
        }
        let e = plan(
            params(json!({"command":["true"],"cwd":"/definitely/not/here"})),
            &full(),
            "/usr/bin:/bin",
            None,
        )
        .unwrap_err();
        assert_eq!(e.code, "SYSTEM_RUN_DENIED");
        let e = plan(
            params(json!({"command":["true"],"cwd":"relative"})),
            &full(),
            "/usr/bin:/bin",
            None,
        )
        .unwrap_err();
        assert_eq!(e.code, "INVALID_REQUEST");
        let e = plan(params(json!({"command":[]})), &full(), "/usr/bin", None).unwrap_err();
        assert_eq!(e.message, "command required");
    }

    #[tokio::test]
    async fn default_policy_refuses_and_nothing_runs() {
        let d = tempfile::tempdir().unwrap();
        let marker = d.path().join("ran");
        let e = plan(
            params(json!({"command":["touch", marker.to_str().unwrap()], "approved": true})),
            &ApprovalsFile::empty(),
            &which::node_path_env(),
            None,
        )
        .unwrap_err();
        assert_eq!(e.code, "SYSTEM_RUN_DENIED");
        assert_eq!(e.message, "SYSTEM_RUN_DENIED: allowlist miss");
        assert!(!marker.exists());
    }

    #[tokio::test]
    async fn allowlisted_program_runs() {
        let touch = which::find_in_path("touch", &which::node_path_env()).unwrap();
        let file = ApprovalsFile::from_value(json!({"version":1,
            "agents":{"*":{"allowlist":[touch.real.to_str().unwrap()]}}}))
        .unwrap();
        let d = tempfile::tempdir().unwrap();
        let marker = d.path().join("ran");
        let p = plan(
            params(json!({"command":["touch", marker.to_str().unwrap()]})),
            &file,
            &which::node_path_env(),
            None,
        )
        .unwrap();
        assert!(execute(p).await.success);
        assert!(marker.exists());
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn timeout_kills_the_process_group() {
        // The shell prints its background child's pid, then both would outlive the timeout.
        let out =
            run_full(json!({"command":["sh","-c","sleep 30 & echo $!; wait"],"timeoutMs":300}))
                .await;
        assert!(out.timed_out);
        assert!(!out.success);
        assert_eq!(out.exit_code, None);
        let pid: u32 = out.stdout.trim().parse().unwrap();
        wait_stopped(pid).await;
    }

    /// Waits until `pid` is gone, or a zombie waiting for init: either way no longer running.
    #[cfg(target_os = "linux")]
    async fn wait_stopped(pid: u32) {
        let stopped = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
                .unwrap_or(true)
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !stopped() {
            assert!(
                std::time::Instant::now() < deadline,
                "process {pid} survived"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn an_abandoned_run_kills_its_process_group() {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let p = plan(
            params(json!({"command":["sh","-c",script]})),
            &full(),
            &which::node_path_env(),
            None,
        )
        .unwrap();
        let task = tokio::spawn(execute(p));
        let read_pid = || {
            std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let pid = loop {
            if let Some(pid) = read_pid() {
                break pid;
            }
            assert!(std::time::Instant::now() < deadline, "script never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // What happens to in-flight invokes when the gateway connection closes.
        task.abort();
        let _ = task.await;
        wait_stopped(pid).await;
    }

    #[tokio::test]
    async fn output_is_capped_with_a_marker() {
        let out =
            run_full(json!({"command":["sh","-c","head -c 1000000 /dev/zero | tr '\\0' a"]})).await;
        assert!(out.success);
        assert!(out.stdout.len() <= OUTPUT_CAP_BYTES + TRUNCATED_MARKER.len() + 1);
        assert!(out.stdout.ends_with(TRUNCATED_MARKER));
    }

    #[tokio::test]
    async fn missing_program_is_an_error_in_the_payload() {
        let out = run_full(json!({"command":["surely-not-a-real-binary-xyz"]})).await;
        assert!(!out.success);
        assert!(out.error.is_some());
    }
}
