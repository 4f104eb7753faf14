//! `exec` (agent.md §7.1): runs the model's shell command on the gateway host, after the exec
//! approvals decision (`crate::exec_approvals`). The command string goes to `sh -c` as is,
//! never spliced into a command of ours. `workdir` stays inside the agent workspace unless the
//! call is elevated; `env` may not override what changes how programs are found or loaded.
//! Output streams as `tool` update events and comes back capped; `yieldMs`/`background` hand
//! the job over as a `process` session instead of waiting.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openclaw_agent::{ToolCall, ToolFuture, ToolOutput, ToolSpec};
use serde_json::{Value, json};

use super::jobs::{Exit, ForegroundGuard, Job, SpawnSpec};
use super::{Family, RunTools};
use crate::exec_approvals::file::{Ask, HostDefaults, Security};
use crate::exec_approvals::pending::{
    ApprovalRequest, DEFAULT_TIMEOUT_MS, Decision, Outcome, PendingError, wait_outcome,
};
use crate::exec_approvals::{self as approvals, Check, Effective};

pub(crate) static FAMILY: Family = Family { specs, call };

/// The reference's default run limit for one command (`timeout`, seconds).
const DEFAULT_TIMEOUT_SECS: u64 = 1800;
/// The reference's default `yieldMs` when `background` is asked without one… and its cap.
const MAX_YIELD_MS: u64 = 120_000;
/// What the model gets back at most (the newest output; the rest is counted).
pub const RESULT_MAX_CHARS: usize = 100_000;
/// How often partial output is reported while a command runs.
const UPDATE_EVERY: Duration = Duration::from_millis(250);
/// Test knob: how long an approval waits for an operator (default 30 minutes).
const APPROVAL_TIMEOUT_ENV: &str = "OPENCLAW_EXEC_APPROVAL_TIMEOUT_MS";

/// Environment keys a call may not set: they change which programs run or what they load.
const BLOCKED_ENV: &[&str] = &[
    "PATH",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
    "CDPATH",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PERL5LIB",
    "PERL5OPT",
    "PERLLIB",
    "RUBYLIB",
    "RUBYOPT",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "GIT_CONFIG_GLOBAL",
    "OPENCLAW_SHELL",
];
const BLOCKED_ENV_PREFIXES: &[&str] = &["LD_", "DYLD_", "BASH_FUNC_"];

fn specs(_tools: &RunTools) -> Vec<ToolSpec> {
    vec![ToolSpec {
        name: "exec".to_string(),
        description: "Run a shell command on the gateway host (sh -c). Returns its output, or {status:\"running\", sessionId} when it keeps running in the background (yieldMs/background); manage those with the process tool.".to_string(),
        parameters: json!({"type": "object", "properties": {
            "command": {"type": "string", "description": "Shell command to run"},
            "workdir": {"type": "string", "description": "Working directory (default: the workspace)"},
            "env": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Extra environment variables"},
            "yieldMs": {"type": "integer", "minimum": 0, "description": "Return a session id if still running after this many ms"},
            "background": {"type": "boolean", "description": "Run in the background at once"},
            "timeout": {"type": "integer", "minimum": 1, "description": "Kill the command after this many seconds (default 1800)"},
            "pty": {"type": "boolean", "description": "Run in a pseudo-terminal (for programs that need a TTY)"},
            "elevated": {"type": "boolean", "description": "Run on the host with full rights (only for allowed senders)"},
            "host": {"type": "string", "enum": ["gateway"], "description": "Where to run (only gateway)"},
            "security": {"type": "string", "enum": ["deny", "allowlist", "full"]},
            "ask": {"type": "string", "enum": ["off", "on-miss", "always"]}},
            "required": ["command"], "additionalProperties": false}),
    }]
}

fn call(tools: &Arc<RunTools>, call: ToolCall) -> Option<ToolFuture> {
    if call.name != "exec" && call.name != "bash" {
        return None;
    }
    let tools = tools.clone();
    Some(Box::pin(async move {
        match run(&tools, call).await {
            Ok(out) => out,
            Err(message) => ToolOutput::error(message),
        }
    }))
}

/// The call's arguments, checked.
#[derive(Debug)]
struct Args {
    command: String,
    workdir: Option<String>,
    env: Vec<(String, String)>,
    yield_ms: Option<u64>,
    background: bool,
    timeout: Duration,
    pty: bool,
    elevated: bool,
    security: Option<Security>,
    ask: Option<Ask>,
}

fn parse_args(args: &Value, default_timeout: u64) -> Result<Args, String> {
    let command = match args.get("command") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err("exec: command is required (a non-empty shell command string)".into());
        }
        Some(_) => return Err("exec: command must be a string".into()),
    };
    if command.contains('\0') {
        return Err("exec: command contains a NUL byte".into());
    }
    let workdir = match args.get("workdir") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("exec: workdir must be a string".into()),
    };
    let mut env = Vec::new();
    match args.get("env") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let Some(v) = v.as_str() else {
                    return Err(format!("exec: env.{k} must be a string"));
                };
                check_env_key(k)?;
                if v.contains('\0') {
                    return Err(format!("exec: env.{k} contains a NUL byte"));
                }
                env.push((k.clone(), v.to_string()));
            }
        }
        Some(_) => return Err("exec: env must be an object of strings".into()),
    }
    let uint = |key: &str| -> Result<Option<u64>, String> {
        match args.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .map(Some)
                .ok_or_else(|| format!("exec: {key} must be a non-negative number")),
        }
    };
    let flag = |key: &str| -> Result<bool, String> {
        match args.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("exec: {key} must be true or false")),
        }
    };
    let timeout_secs = uint("timeout")?
        .filter(|t| *t > 0)
        .unwrap_or(default_timeout)
        .min(7 * 24 * 3600);
    if let Some(host) = args.get("host").and_then(Value::as_str)
        && host != "gateway"
        && host != "auto"
    {
        return Err(format!(
            "exec: host={host} is not available on this gateway (only host=gateway)"
        ));
    }
    let security = match args.get("security").and_then(Value::as_str) {
        None => None,
        Some(s) => Some(parse_security(s).ok_or_else(|| format!("exec: unknown security {s:?}"))?),
    };
    let ask = match args.get("ask").and_then(Value::as_str) {
        None => None,
        Some(s) => Some(parse_ask(s).ok_or_else(|| format!("exec: unknown ask {s:?}"))?),
    };
    Ok(Args {
        command,
        workdir,
        env,
        yield_ms: uint("yieldMs")?.map(|y| y.min(MAX_YIELD_MS)),
        background: flag("background")?,
        timeout: Duration::from_secs(timeout_secs),
        pty: flag("pty")?,
        elevated: flag("elevated")?,
        security,
        ask,
    })
}

fn check_env_key(k: &str) -> Result<(), String> {
    let mut chars = k.chars();
    let portable = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !portable {
        return Err(format!(
            "Security Violation: invalid non-portable override keys: {k}."
        ));
    }
    let upper = k.to_ascii_uppercase();
    if upper == "PATH" {
        return Err(
            "Security Violation: Custom 'PATH' variable is forbidden during host execution.".into(),
        );
    }
    if BLOCKED_ENV.contains(&upper.as_str())
        || BLOCKED_ENV_PREFIXES.iter().any(|p| upper.starts_with(p))
    {
        return Err(format!(
            "Security Violation: Environment variable '{k}' is forbidden during host execution."
        ));
    }
    Ok(())
}

pub(crate) fn parse_security(s: &str) -> Option<Security> {
    match s.trim() {
        "deny" => Some(Security::Deny),
        "allowlist" => Some(Security::Allowlist),
        "full" => Some(Security::Full),
        _ => None,
    }
}

pub(crate) fn parse_ask(s: &str) -> Option<Ask> {
    match s.trim() {
        "off" => Some(Ask::Off),
        "on-miss" => Some(Ask::OnMiss),
        "always" => Some(Ask::Always),
        _ => None,
    }
}

/// `tools.exec` for this agent: its own section first, then the global one. An unknown value
/// is read as the strictest.
fn config_policy(tools: &RunTools) -> (Security, Ask, u64) {
    let loaded = tools.state.config();
    let cfg = &loaded.config;
    let own = cfg
        .agent_entry(&tools.agent_id)
        .and_then(|a| a.tools.as_ref())
        .and_then(|t| t.exec.as_ref());
    let global = cfg.tools.as_ref().and_then(|t| t.exec.as_ref());
    let security = own
        .and_then(|e| e.security.clone())
        .or_else(|| global.and_then(|e| e.security.clone()))
        .map(|s| parse_security(&s).unwrap_or(Security::Deny))
        .unwrap_or(HostDefaults::GATEWAY.security);
    let ask = own
        .and_then(|e| e.ask.clone())
        .or_else(|| global.and_then(|e| e.ask.clone()))
        .map(|s| parse_ask(&s).unwrap_or(Ask::Always))
        .unwrap_or(HostDefaults::GATEWAY.ask);
    let timeout = own
        .and_then(|e| e.timeout_sec)
        .or_else(|| global.and_then(|e| e.timeout_sec))
        .unwrap_or(DEFAULT_TIMEOUT_SECS);
    (security, ask, timeout)
}

/// Whether `tools.elevated` lets this run's sender use `elevated: true`.
fn elevated_allowed(tools: &RunTools) -> Result<(), String> {
    let loaded = tools.state.config();
    let cfg = &loaded.config;
    let own = cfg
        .agent_entry(&tools.agent_id)
        .and_then(|a| a.tools.as_ref())
        .and_then(|t| t.elevated.as_ref());
    let global = cfg.tools.as_ref().and_then(|t| t.elevated.as_ref());
    let enabled = global.and_then(|e| e.enabled).unwrap_or(false)
        && own.and_then(|e| e.enabled).unwrap_or(true);
    let sender = tools
        .origin
        .as_ref()
        .and_then(|o| o.sender_id.as_deref().map(|s| (o.channel.as_str(), s)));
    let listed = |e: &openclaw_config::sections::ElevatedConfig| {
        sender.is_some_and(|(channel, id)| {
            e.allow_from
                .as_ref()
                .and_then(|m| m.get(channel))
                .is_some_and(|ids| {
                    ids.iter().any(|v| match v {
                        Value::String(s) => s == id || s == "*",
                        Value::Number(n) => n.to_string() == id,
                        _ => false,
                    })
                })
        })
    };
    let allowed = enabled
        && global.is_some_and(listed)
        && own.is_none_or(|o| o.allow_from.is_none() || listed(o));
    if allowed {
        return Ok(());
    }
    let gate = if enabled {
        "allowFrom (tools.elevated.allowFrom.<provider>)"
    } else {
        "enabled (tools.elevated.enabled)"
    };
    Err(format!(
        "elevated is not available right now (runtime=direct).\nFailing gates: {gate}\nFix-it keys:\n- tools.elevated.enabled\n- tools.elevated.allowFrom.<provider>"
    ))
}

/// The working directory: the workspace, or a directory inside it (anywhere when elevated).
fn working_dir(workspace: &Path, raw: Option<&str>, elevated: bool) -> Result<PathBuf, String> {
    let _ = std::fs::create_dir_all(workspace);
    let root = std::fs::canonicalize(workspace)
        .map_err(|e| format!("exec: workspace {} is not usable: {e}", workspace.display()))?;
    let Some(raw) = raw else {
        return Ok(root);
    };
    let joined = if Path::new(raw).is_absolute() {
        PathBuf::from(raw)
    } else {
        root.join(raw)
    };
    let dir = std::fs::canonicalize(&joined)
        .map_err(|_| format!("exec: workdir does not exist: {raw}"))?;
    if !dir.is_dir() {
        return Err(format!("exec: workdir is not a directory: {raw}"));
    }
    if !elevated && !dir.starts_with(&root) {
        return Err(format!(
            "exec: workdir must be inside the workspace ({}): {raw}",
            root.display()
        ));
    }
    Ok(dir)
}

async fn run(tools: &Arc<RunTools>, call: ToolCall) -> Result<ToolOutput, String> {
    let (cfg_security, cfg_ask, default_timeout) = config_policy(tools);
    let args = parse_args(&call.args, default_timeout)?;
    if args.elevated {
        elevated_allowed(tools)?;
    }
    let workspace = crate::agents::workspace_dir(&tools.state, &tools.agent_id);
    let cwd = working_dir(&workspace, args.workdir.as_deref(), args.elevated)?;
    let path_env = approvals::which::node_path_env();

    // The approvals decision (elevated = host, full, no asking, as the reference).
    if !args.elevated {
        let store = tools.state.exec_approvals();
        let file = store.load().map_err(|e| e.message)?;
        let resolved = file.resolve_with(Some(&tools.agent_id), HostDefaults::GATEWAY);
        // The model may ask for stricter, never for looser.
        let security = args.security.map_or(cfg_security, |s| s.min(cfg_security));
        let ask = args.ask.map_or(cfg_ask, |a| a.max(cfg_ask));
        let eff = Effective::new(security, ask, resolved);
        match approvals::gateway_check(&eff, &args.command, &cwd, &path_env) {
            Check::Run => {}
            Check::Refuse(why) => return Err(why),
            Check::Ask { satisfied } => {
                approve(
                    tools,
                    &call,
                    &eff,
                    &args.command,
                    &cwd,
                    &path_env,
                    satisfied,
                )
                .await?;
            }
        }
    }

    let job = tools.state.process.jobs.spawn(SpawnSpec {
        command: args.command.clone(),
        cwd: cwd.clone(),
        env: args.env.clone(),
        timeout: args.timeout,
        agent_id: tools.agent_id.clone(),
        pty: args.pty,
    })?;
    let guard = ForegroundGuard(job.clone());
    if args.background {
        job.background();
        return Ok(running_output(&job));
    }
    let yield_after = args.yield_ms.map(Duration::from_millis);
    let finished = stream_until(&job, &call, yield_after).await;
    if !finished {
        job.background();
        return Ok(running_output(&job));
    }
    drop(guard);
    let exit = job.wait().await;
    tools.state.process.jobs.forget_foreground(&job);
    Ok(finished_output(&job, exit))
}

/// Raises an approval and waits for it (or applies `askFallback` at once when no one can
/// answer). `Ok` = may run.
async fn approve(
    tools: &Arc<RunTools>,
    call: &ToolCall,
    eff: &Effective,
    command: &str,
    cwd: &Path,
    path_env: &str,
    satisfied: bool,
) -> Result<(), String> {
    let state = &tools.state;
    if !state.hub.has_approvers() {
        if approvals::fallback_allows(eff, satisfied) {
            return Ok(());
        }
        return Err(headless_denied(eff));
    }
    let pins = approvals::allow_always_entries(command, cwd, path_env);
    let resolved_path = pins
        .as_ref()
        .and_then(|p| p.first())
        .map(|e| e.pattern.clone());
    let request = ApprovalRequest {
        command: command.to_string(),
        cwd: cwd.display().to_string(),
        host: "gateway".into(),
        security: security_str(eff.security).into(),
        ask: ask_str(eff.ask).into(),
        agent_id: tools.agent_id.clone(),
        session_key: tools.session_key.clone(),
        resolved_path,
        allowed: if pins.is_some() {
            Decision::ALL.to_vec()
        } else {
            vec!["allow-once", "deny"]
        },
    };
    let timeout_ms = std::env::var(APPROVAL_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    let (record, rx) = match state.exec_pending.raise(&state.hub, request, timeout_ms) {
        Ok(r) => r,
        Err(PendingError::Full) => {
            return Err("exec denied: too many approvals are pending; try again later".into());
        }
        Err(_) => return Err("exec denied: the approval could not be raised".into()),
    };
    call.updates.send(json!({
        "content": [{"type": "text", "text": format!("Approval required (id {}): {command}", record.id)}],
        "details": {"status": "approval-pending", "approvalId": record.id, "expiresAtMs": record.expires_at_ms, "host": "gateway", "command": command},
    }));
    // The call may be dropped while waiting (abort): the approval must not outlive it.
    struct Expire<'a>(&'a crate::exec_approvals::pending::PendingApprovals, String);
    impl Drop for Expire<'_> {
        fn drop(&mut self) {
            self.0.expire(&self.1);
        }
    }
    let _expire = Expire(&state.exec_pending, record.id.clone());
    let outcome = tokio::select! {
        o = wait_outcome(rx, record.expires_at_ms) => o,
        _ = call.cancel.cancelled() => Outcome::Expired,
    };
    match outcome {
        Outcome::Decided(Decision::AllowOnce) => Ok(()),
        Outcome::Decided(Decision::AllowAlways) => {
            if let Some(entries) = pins {
                let agent = tools.agent_id.clone();
                let res = state
                    .exec_approvals()
                    .update(move |f| {
                        let mut changed = false;
                        for e in entries {
                            changed |= f.add_entry(&agent, e);
                        }
                        changed
                    })
                    .await;
                if let Err(e) = res {
                    tracing::warn!(target: "exec", "allow-always not persisted: {}", e.message);
                }
            }
            Ok(())
        }
        Outcome::Decided(Decision::Deny) => Err(format!(
            "Exec denied (gateway id={}, user-denied): {command}",
            record.id
        )),
        Outcome::Expired => {
            if approvals::fallback_allows(eff, satisfied) {
                Ok(())
            } else {
                Err(format!(
                    "Exec denied (gateway id={}, approval-timeout): {command}",
                    record.id
                ))
            }
        }
    }
}

/// The reference's explanation for a run no one can approve.
fn headless_denied(eff: &Effective) -> String {
    [
        "exec denied: Headless runs cannot wait for interactive exec approval.".to_string(),
        format!(
            "Effective host exec policy: security={} ask={} askFallback={}",
            security_str(eff.security),
            ask_str(eff.ask),
            security_str(eff.ask_fallback)
        ),
        "Stricter values from tools.exec and ~/.openclaw/exec-approvals.json both apply.".to_string(),
        "Fix one of these:".to_string(),
        "- align both files to security=\"full\" and ask=\"off\" for trusted local automation".to_string(),
        "- keep allowlist mode and add an explicit allowlist entry for this command".to_string(),
        "- rerun interactively and approve when prompted (Control UI, TUI, or a chat channel with exec approvals)".to_string(),
        "Tip: run \"openclaw doctor\" and \"openclaw approvals get --gateway\" to inspect the effective policy.".to_string(),
    ]
    .join("\n")
}

pub(crate) fn security_str(s: Security) -> &'static str {
    match s {
        Security::Deny => "deny",
        Security::Allowlist => "allowlist",
        Security::Full => "full",
    }
}

pub(crate) fn ask_str(a: Ask) -> &'static str {
    match a {
        Ask::Off => "off",
        Ask::OnMiss => "on-miss",
        Ask::Always => "always",
    }
}

/// Streams output as updates until the job ends (`true`) or `yield_after` passes (`false`).
async fn stream_until(job: &Arc<Job>, call: &ToolCall, yield_after: Option<Duration>) -> bool {
    let mut exit = job.exit_watch();
    let yield_at = yield_after.map(|d| tokio::time::Instant::now() + d);
    let mut reported = 0u64;
    loop {
        if exit.borrow_and_update().is_some() {
            return true;
        }
        let total = job.total_bytes();
        if total != reported {
            reported = total;
            let (bytes, _) = job.output();
            call.updates.send(json!({
                "content": [{"type": "text", "text": tail_text(&bytes, 4000)}],
                "details": {"status": "running", "sessionId": job.id, "pid": job.pid},
            }));
        }
        let sleep_until = tokio::time::Instant::now() + UPDATE_EVERY;
        let wake = match yield_at {
            Some(y) if y <= tokio::time::Instant::now() => return false,
            Some(y) => y.min(sleep_until),
            None => sleep_until,
        };
        tokio::select! {
            _ = exit.changed() => {}
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}

fn running_output(job: &Job) -> ToolOutput {
    let (bytes, _) = job.output();
    let so_far = tail_text(&bytes, 2000);
    let mut text = format!(
        "Command still running (session {}, pid {}). Use process (list/poll/log/write/kill) for follow-up.",
        job.id,
        job.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into())
    );
    if !so_far.is_empty() {
        text.push_str("\n\n");
        text.push_str(&so_far);
    }
    ToolOutput {
        content: text,
        is_error: false,
        details: json!({"status": "running", "sessionId": job.id, "pid": job.pid,
            "startedAt": job.started_at_ms, "cwd": job.cwd.display().to_string(), "tail": so_far}),
    }
}

/// The final result: output (capped, binary and non-UTF-8 said plainly) and how it ended.
pub(crate) fn finished_output(job: &Job, exit: Exit) -> ToolOutput {
    let (bytes, dropped) = job.output();
    let total = job.total_bytes();
    let shown = describe_output(&bytes, dropped, total);
    let status_line = exit_line(exit);
    let failed = exit.code != Some(0) || exit.timed_out || exit.killed || shown.binary;
    let mut text = shown.text;
    if let Some(line) = &status_line {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(line);
    }
    if text.is_empty() {
        text = "(no output)".into();
    }
    ToolOutput {
        content: text,
        is_error: failed,
        details: json!({"status": if failed { "failed" } else { "completed" },
            "exitCode": exit.code, "signal": exit.signal, "timedOut": exit.timed_out,
            "killed": exit.killed, "durationMs": crate::state::now_ms().saturating_sub(job.started_at_ms),
            "cwd": job.cwd.display().to_string(), "outputBytes": total,
            "truncated": shown.truncated, "binary": shown.binary}),
    }
}

fn exit_line(exit: Exit) -> Option<String> {
    if exit.timed_out {
        return Some("Command timed out and was killed.".into());
    }
    if exit.killed {
        return Some("Command was killed.".into());
    }
    match (exit.code, exit.signal) {
        (Some(0), _) => None,
        (Some(c), _) => Some(format!("Command exited with code {c}.")),
        (None, Some(s)) => Some(format!("Command was terminated by signal {s}.")),
        (None, None) => Some("Command ended without an exit status.".into()),
    }
}

pub(crate) struct Shown {
    pub text: String,
    pub truncated: bool,
    pub binary: bool,
}

/// Output as text for the model: binary output (NUL bytes) is not shown, invalid UTF-8 is
/// replaced (and said), and only the newest [`RESULT_MAX_CHARS`] are kept (and said).
pub(crate) fn describe_output(bytes: &[u8], dropped: bool, total: u64) -> Shown {
    if bytes.contains(&0) {
        return Shown {
            text: format!(
                "exec: the command wrote binary output ({total} bytes), which is not shown. Redirect it to a file, or pipe it through a text tool (e.g. `| od -c | head`, `| base64`)."
            ),
            truncated: false,
            binary: true,
        };
    }
    let (text, lossy) = match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), false),
        Err(_) => (String::from_utf8_lossy(bytes).into_owned(), true),
    };
    let chars = text.chars().count();
    let mut out = String::new();
    let truncated = dropped || chars > RESULT_MAX_CHARS;
    if truncated {
        out.push_str(&format!(
            "[output truncated: {total} bytes in all; showing the last {} characters]\n",
            RESULT_MAX_CHARS.min(chars)
        ));
    }
    if chars > RESULT_MAX_CHARS {
        out.extend(text.chars().skip(chars - RESULT_MAX_CHARS));
    } else {
        out.push_str(&text);
    }
    if lossy {
        out.push_str("\n[output was not valid UTF-8; invalid bytes are shown as \u{FFFD}]");
    }
    Shown {
        text: out,
        truncated,
        binary: false,
    }
}

/// The newest `max` characters of output, as text.
pub(crate) fn tail_text(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let n = text.chars().count();
    text.chars().skip(n.saturating_sub(max)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_are_checked() {
        assert!(
            parse_args(&json!({}), 1800)
                .unwrap_err()
                .contains("command is required")
        );
        assert!(parse_args(&json!({"command": "  "}), 1800).is_err());
        assert!(parse_args(&json!({"command": 3}), 1800).is_err());
        assert!(
            parse_args(&json!({"command": "x", "env": {"LD_PRELOAD": "a"}}), 1800)
                .unwrap_err()
                .contains("LD_PRELOAD")
        );
        assert!(
            parse_args(&json!({"command": "x", "env": {"PATH": "/tmp"}}), 1800)
                .unwrap_err()
                .contains("PATH")
        );
        let a = parse_args(
            &json!({"command": "x", "env": {"FOO": "1"}, "timeout": 5}),
            1800,
        )
        .unwrap();
        assert_eq!(a.timeout, Duration::from_secs(5));
        assert_eq!(a.env, vec![("FOO".to_string(), "1".to_string())]);
        assert!(parse_args(&json!({"command": "x", "host": "node"}), 1800).is_err());
    }

    #[test]
    fn output_is_described() {
        let s = describe_output(b"a\0b", false, 3);
        assert!(s.binary && s.text.contains("binary output"));
        let s = describe_output(b"ok \xff\xfe", false, 5);
        assert!(!s.binary && s.text.contains("not valid UTF-8"));
        let big = vec![b'x'; RESULT_MAX_CHARS + 10];
        let s = describe_output(&big, false, big.len() as u64);
        assert!(s.truncated && s.text.starts_with("[output truncated"));
    }
}
