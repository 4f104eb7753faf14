//! The `cron` agent tool (agent.md §7): the `cron.*` methods for the model, same job schema.
//! A job added from a channel chat without a `delivery` answers in that chat ("remind me in
//! 20 minutes" from Telegram comes back to Telegram), and runs as the asking agent. Not offered
//! over `POST /tools/invoke` (the reference denies `cron` there by default).

use std::sync::Arc;

use openclaw_agent::{ToolCall, ToolFuture, ToolOutput, ToolSpec};
use openclaw_protocol::cron::{CronAddParams, CronJobPatch, CronRunsParams};
use openclaw_protocol::schema::parse_params;
use serde_json::{Value, json};

use super::{Family, RunTools};
use crate::methods::cron as methods;

pub(crate) static FAMILY: Family = Family { specs, call };

const DESCRIPTION: &str = "Manage scheduled jobs and reminders. Actions: status, list, add (job: {name, schedule: {kind:'at', at:'20m' | ISO time} | {kind:'every', everyMs} | {kind:'cron', expr, tz?}, payload: {kind:'agentTurn', message} (runs later in its own session; the reply is sent to this chat) | {kind:'systemEvent', text} (queued for the main session), deleteAfterRun?}), update (jobId, patch), remove (jobId), run (jobId, mode?), runs (jobId), wake (text).";

fn specs(rt: &RunTools) -> Vec<ToolSpec> {
    if rt.http {
        return Vec::new();
    }
    vec![ToolSpec {
        name: "cron".into(),
        description: DESCRIPTION.into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": ["status", "list", "add", "update", "remove", "run", "runs", "wake"]},
                "job": {"type": "object", "description": "the job for add (cron.add params)"},
                "jobId": {"type": "string"},
                "id": {"type": "string"},
                "patch": {"type": "object", "description": "fields to change for update"},
                "text": {"type": "string", "description": "wake: the system event text"},
                "mode": {"type": "string", "description": "run: force|due; wake: now|next-heartbeat"},
                "includeDisabled": {"type": "boolean"}
            },
            "required": ["action"]
        }),
    }]
}

fn call(rt: &Arc<RunTools>, call: ToolCall) -> Option<ToolFuture> {
    if call.name != "cron" || rt.http {
        return None;
    }
    let rt = rt.clone();
    Some(Box::pin(async move {
        match act(&rt, &call.args) {
            Ok(v) => ToolOutput {
                content: serde_json::to_string_pretty(&v).unwrap_or_default(),
                is_error: false,
                details: v,
            },
            Err(e) => ToolOutput::error(e),
        }
    }))
}

fn str_arg<'a>(args: &'a Value, k: &str) -> Option<&'a str> {
    args.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn job_id(args: &Value) -> Result<String, String> {
    str_arg(args, "jobId")
        .or_else(|| str_arg(args, "id"))
        .map(str::to_string)
        .ok_or_else(|| "jobId is required".to_string())
}

/// A job for `add`, with what the chat implies: the asking agent, and delivery back to the
/// chat the request came from.
fn job_for_add(rt: &RunTools, job: &Value) -> Value {
    let mut job = job.clone();
    let Some(m) = job.as_object_mut() else {
        return job;
    };
    let agent_turn = m
        .get("payload")
        .and_then(|p| p.get("kind"))
        .and_then(Value::as_str)
        == Some("agentTurn");
    if !m.contains_key("name") {
        let text = m
            .get("payload")
            .and_then(|p| p.get("message").or_else(|| p.get("text")))
            .and_then(Value::as_str)
            .unwrap_or("reminder");
        m.insert(
            "name".into(),
            json!(text.chars().take(60).collect::<String>()),
        );
    }
    if !m.contains_key("agentId") {
        m.insert("agentId".into(), json!(rt.agent_id));
    }
    if agent_turn
        && !m.contains_key("delivery")
        && let Some(o) = &rt.origin
    {
        let mut d = json!({"mode": "announce", "channel": o.channel, "to": o.to, "accountId": o.account_id});
        if let Some(t) = &o.thread_id {
            d["threadId"] = json!(t);
        }
        m.insert("delivery".into(), d);
    }
    job
}

fn act(rt: &Arc<RunTools>, args: &Value) -> Result<Value, String> {
    let state = &rt.state;
    let action = str_arg(args, "action").ok_or("action is required")?;
    let err = |e: openclaw_protocol::ErrorShape| e.message;
    match action {
        "status" => serde_json::to_value(methods::status_result(state)).map_err(|e| e.to_string()),
        "list" => {
            let all = args
                .get("includeDisabled")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let jobs: Vec<Value> = state
                .cron
                .jobs()
                .iter()
                .filter(|j| all || j.enabled)
                .map(|j| methods::listed(state, j))
                .collect();
            Ok(json!({"jobs": jobs}))
        }
        "add" => {
            let job = args.get("job").ok_or("job is required")?;
            let job = job_for_add(rt, job);
            let p = parse_params::<CronAddParams>("cron.add", Some(&job)).map_err(err)?;
            let job = crate::cron::add(state, "cron.add", p).map_err(err)?;
            Ok(methods::added(state, &job))
        }
        "update" => {
            let id = job_id(args)?;
            let patch = args.get("patch").cloned().unwrap_or(json!({}));
            let patch = parse_params::<CronJobPatch>("cron.update", Some(&patch)).map_err(err)?;
            let job = crate::cron::update(state, "cron.update", &id, patch).map_err(err)?;
            Ok(methods::listed(state, &job))
        }
        "remove" => {
            let id = job_id(args)?;
            let removed = crate::cron::remove(state, &id).map_err(err)?;
            Ok(json!({"ok": true, "removed": removed}))
        }
        "run" => {
            let id = job_id(args)?;
            crate::cron::run_now(state, &id, str_arg(args, "mode").unwrap_or("force")).map_err(err)
        }
        "runs" => {
            let p = CronRunsParams {
                id: Some(job_id(args)?),
                ..Default::default()
            };
            let r = methods::runs_result(state, "cron.runs", p).map_err(err)?;
            serde_json::to_value(r).map_err(|e| e.to_string())
        }
        "wake" => {
            let text = str_arg(args, "text").ok_or("text is required")?;
            {
                use crate::sync::LockExt;
                let mut q = state.system_events.locked();
                if q.len() >= crate::state::MAX_SYSTEM_EVENTS {
                    q.pop_front();
                }
                q.push_back(text.to_string());
            }
            if str_arg(args, "mode").unwrap_or("now") == "now" {
                state.heartbeats.wake_now();
            }
            Ok(json!({"ok": true}))
        }
        other => Err(format!("unknown cron action: {other}")),
    }
}
