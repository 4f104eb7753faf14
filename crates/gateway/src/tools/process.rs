//! `process` (agent.md §7.1): the model's handle on the background sessions `exec` left
//! running (`yieldMs`, `background`): `list`, `poll` (new output and status), `log` (retained
//! output by lines), `write` (stdin), `kill`, `clear`/`remove` (forget a finished one; remove
//! also kills). An agent sees only its own sessions.

use std::sync::Arc;

use openclaw_agent::{ToolCall, ToolFuture, ToolOutput, ToolSpec};
use serde_json::{Value, json};

use super::exec::{describe_output, finished_output, tail_text};
use super::jobs::Job;
use super::{Family, RunTools};

pub(crate) static FAMILY: Family = Family { specs, call };

/// Lines `log` shows when no `limit` is given.
const DEFAULT_LOG_LINES: usize = 200;

fn specs(_tools: &RunTools) -> Vec<ToolSpec> {
    vec![ToolSpec {
        name: "process".to_string(),
        description: "Manage background exec sessions: list, poll (new output + status), log (output by lines: offset/limit), write (stdin: data, eof), kill, clear, remove.".to_string(),
        parameters: json!({"type": "object", "properties": {
            "action": {"type": "string", "enum": ["list", "poll", "log", "write", "kill", "clear", "remove"]},
            "sessionId": {"type": "string"},
            "data": {"type": "string", "description": "write: text for stdin"},
            "eof": {"type": "boolean", "description": "write: close stdin afterwards"},
            "offset": {"type": "integer", "minimum": 0, "description": "log: first line (0-based)"},
            "limit": {"type": "integer", "minimum": 1, "description": "log: number of lines"}},
            "required": ["action"], "additionalProperties": false}),
    }]
}

fn call(tools: &Arc<RunTools>, call: ToolCall) -> Option<ToolFuture> {
    if call.name != "process" {
        return None;
    }
    let tools = tools.clone();
    Some(Box::pin(async move {
        match run(&tools, &call.args).await {
            Ok(out) => out,
            Err(message) => ToolOutput::error(message),
        }
    }))
}

fn ok(text: String, details: Value) -> ToolOutput {
    ToolOutput {
        content: text,
        is_error: false,
        details,
    }
}

fn status_of(job: &Job) -> &'static str {
    match job.exit() {
        None => "running",
        Some(e) if e.code == Some(0) && !e.killed && !e.timed_out => "completed",
        Some(_) => "failed",
    }
}

async fn run(tools: &Arc<RunTools>, args: &Value) -> Result<ToolOutput, String> {
    let jobs = &tools.state.process.jobs;
    let action = args
        .get("action")
        .and_then(Value::as_str)
        .ok_or("process: action is required (list|poll|log|write|kill|clear|remove)")?;
    if action == "list" {
        let list = jobs.list(&tools.agent_id);
        let sessions: Vec<Value> = list
            .iter()
            .map(|j| {
                json!({"sessionId": j.id, "status": status_of(j), "pid": j.pid,
                    "command": j.command, "cwd": j.cwd.display().to_string(),
                    "startedAt": j.started_at_ms, "exitCode": j.exit().and_then(|e| e.code)})
            })
            .collect();
        let text = if list.is_empty() {
            "No background sessions.".to_string()
        } else {
            list.iter()
                .map(|j| format!("{} {} {}", j.id, status_of(j), j.command))
                .collect::<Vec<_>>()
                .join("\n")
        };
        return Ok(ok(
            text,
            json!({"status": "completed", "sessions": sessions}),
        ));
    }
    let id = args
        .get("sessionId")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("process {action}: sessionId is required"))?;
    let job = jobs
        .get(id)
        .filter(|j| j.agent_id == tools.agent_id && j.is_background())
        .ok_or_else(|| format!("process: no session {id}"))?;
    match action {
        "poll" => {
            let (bytes, missed) = job.poll_output();
            let shown = describe_output(&bytes, missed, bytes.len() as u64);
            let status = status_of(&job);
            let mut text = if shown.text.is_empty() {
                "(no new output)".to_string()
            } else {
                shown.text
            };
            match job.exit() {
                None => text.push_str("\n\nProcess still running."),
                Some(e) => text.push_str(&format!(
                    "\n\nProcess exited with {}.",
                    e.code
                        .map(|c| format!("code {c}"))
                        .unwrap_or_else(|| "no code (killed)".into())
                )),
            }
            Ok(ok(
                text,
                json!({"status": status, "sessionId": job.id,
                    "exitCode": job.exit().and_then(|e| e.code)}),
            ))
        }
        "log" => {
            let (bytes, _) = job.output();
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let limit = args
                .get("limit")
                .and_then(Value::as_u64)
                .map_or(DEFAULT_LOG_LINES, |l| {
                    usize::try_from(l).unwrap_or(usize::MAX)
                });
            let offset = match args.get("offset").and_then(Value::as_u64) {
                Some(o) => usize::try_from(o).unwrap_or(usize::MAX),
                None => lines.len().saturating_sub(limit),
            };
            let shown: Vec<&str> = lines.iter().skip(offset).take(limit).copied().collect();
            let body = if bytes.contains(&0) {
                "(binary output not shown)".to_string()
            } else {
                shown.join("\n")
            };
            Ok(ok(
                if body.is_empty() {
                    "(no output)".into()
                } else {
                    body
                },
                json!({"status": status_of(&job), "sessionId": job.id,
                    "totalLines": lines.len(), "offset": offset}),
            ))
        }
        "write" => {
            let data = args.get("data").and_then(Value::as_str).unwrap_or("");
            let eof = args.get("eof").and_then(Value::as_bool).unwrap_or(false);
            if job.exit().is_some() {
                return Err(format!("process write: session {id} has exited"));
            }
            job.write_stdin(data.as_bytes(), eof).await?;
            Ok(ok(
                format!("Wrote {} bytes to session {id}.", data.len()),
                json!({"status": "running", "sessionId": job.id}),
            ))
        }
        "kill" => {
            if job.exit().is_none() {
                job.kill();
            }
            let exit = job.wait().await;
            let mut out = finished_output(&job, exit);
            out.is_error = false;
            out.content = format!(
                "Killed session {id}.\n{}",
                tail_text(out.content.as_bytes(), 2000)
            );
            Ok(out)
        }
        "clear" | "remove" => {
            if job.exit().is_none() {
                if action == "clear" {
                    return Err(format!(
                        "process clear: session {id} is still running (kill or remove it)"
                    ));
                }
                job.kill();
                job.wait().await;
            }
            jobs.remove(id);
            Ok(ok(
                format!("Removed session {id}."),
                json!({"status": "completed", "sessionId": id}),
            ))
        }
        other => Err(format!(
            "process: unknown action {other:?} (list|poll|log|write|kill|clear|remove)"
        )),
    }
}
