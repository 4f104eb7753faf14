//! System family: `health`, `status`, `system-presence`, `system-event`, `last-heartbeat`, and
//! our `gateway.runtimeStats` extension (task and queue counts for the soak harness).

use crate::sync::LockExt;
use std::collections::BTreeMap;

use openclaw_protocol::connect::scopes;
use openclaw_protocol::methods::names;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::{
    AgentHealth, EmptyParams, HealthSummary, HeartbeatSummary, OkResult, PresenceEntry,
    ProcessMemory, RuntimeStats, SessionsSummary, StatusHeartbeat, StatusHeartbeatAgent,
    StatusSessions, StatusSummary, SystemEventParams,
};
use serde_json::Value;

use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};
use crate::state::{AppState, MAX_SYSTEM_EVENTS, now_ms};

pub fn register(out: &mut Vec<MethodSpec>) {
    out.push(MethodSpec {
        name: names::HEALTH,
        access: Access::Any,
        handler: health,
    });
    out.push(MethodSpec {
        name: names::STATUS,
        access: Access::Scope(scopes::READ),
        handler: status,
    });
    out.push(MethodSpec {
        name: names::SYSTEM_PRESENCE,
        access: Access::Scope(scopes::READ),
        handler: system_presence,
    });
    out.push(MethodSpec {
        name: names::SYSTEM_EVENT,
        access: Access::Scope(scopes::ADMIN),
        handler: system_event,
    });
    out.push(MethodSpec {
        name: names::LAST_HEARTBEAT,
        access: Access::Scope(scopes::READ),
        handler: last_heartbeat,
    });
    out.push(MethodSpec {
        name: names::GATEWAY_RUNTIME_STATS,
        access: Access::Scope(scopes::ADMIN),
        handler: runtime_stats,
    });
}

/// Counts read from structures that exist anyway; nothing is tallied per request for this.
pub fn runtime_stats_now(state: &AppState) -> RuntimeStats {
    let tasks = tokio::runtime::Handle::try_current()
        .map(|h| h.metrics().num_alive_tasks())
        .unwrap_or(0);
    let (runs_active, runs_queued, runs_tracked) = state.runs.counts();
    RuntimeStats {
        tasks: tasks as u64,
        connections: state.hub.count() as u64,
        queued_bytes: state.hub.queued_bytes() as u64,
        runs_active: runs_active as u64,
        runs_queued: runs_queued as u64,
        runs_tracked: runs_tracked as u64,
        inbox_pending: state.process.inbox.in_flight_count() as u64,
        cron_running: state.cron.running_count() as u64,
        jobs: state.process.jobs.count() as u64,
    }
}

fn runtime_stats<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::GATEWAY_RUNTIME_STATS, params)?;
        Ok(Reply::Json(
            serde_json::to_value(runtime_stats_now(&ctx.state)).unwrap_or(Value::Null),
        ))
    })
}

const HEARTBEAT_EVERY: &str = "30m";
const HEARTBEAT_EVERY_MS: u64 = 30 * 60 * 1000;
const HEARTBEAT_PROMPT: &str = "If HEARTBEAT.md exists in the workspace, follow its instructions. When nothing needs attention, answer HEARTBEAT_OK.";

fn sessions_summary(state: &AppState, agent: &str) -> SessionsSummary {
    let path = state
        .paths
        .state_dir
        .join("agents")
        .join(agent)
        .join("sessions")
        .join("sessions.json");
    let count = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Map<String, Value>>(&t).ok())
        .map(|m| m.len() as u64)
        .unwrap_or(0);
    SessionsSummary {
        path: path.to_string_lossy().into_owned(),
        count,
        recent: Vec::new(),
    }
}

/// The health summary (cached by [`AppState::refresh_health`]).
pub fn build_health(state: &AppState) -> HealthSummary {
    let started = std::time::Instant::now();
    let agent = "main";
    let sessions = sessions_summary(state, agent);
    let channels = state
        .channels
        .locked()
        .clone()
        .map(|c| c.status_json(&BTreeMap::new()))
        .unwrap_or(Value::Null);
    let channel_map: BTreeMap<String, Value> = channels["channels"]
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let channel_order: Vec<String> = channels["channelOrder"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let channel_labels: BTreeMap<String, String> = channels["channelLabels"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    HealthSummary {
        ok: true,
        ts: now_ms(),
        duration_ms: started.elapsed().as_millis() as u64,
        channels: channel_map,
        channel_order,
        channel_labels,
        heartbeat_seconds: HEARTBEAT_EVERY_MS / 1000,
        default_agent_id: agent.into(),
        agents: vec![AgentHealth {
            agent_id: agent.into(),
            is_default: true,
            heartbeat: HeartbeatSummary {
                enabled: true,
                every: HEARTBEAT_EVERY.into(),
                every_ms: HEARTBEAT_EVERY_MS,
                prompt: HEARTBEAT_PROMPT.into(),
                target: "last".into(),
                ack_max_chars: 300,
            },
            sessions: sessions.clone(),
        }],
        sessions,
    }
}

/// `health` ignores its params (as the reference) and answers from the cache.
fn health<'a>(ctx: &'a MethodCtx, _params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move { Ok(Reply::Raw(ctx.state.health_json())) })
}

fn status<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::STATUS, params)?;
        let state = &ctx.state;
        let sessions = sessions_summary(state, "main");
        let queued: Vec<String> = state.system_events.locked().iter().cloned().collect();
        let summary = StatusSummary {
            runtime_version: state.version.clone(),
            heartbeat: StatusHeartbeat {
                default_agent_id: "main".into(),
                agents: vec![StatusHeartbeatAgent {
                    agent_id: "main".into(),
                    enabled: true,
                    every: HEARTBEAT_EVERY.into(),
                    every_ms: HEARTBEAT_EVERY_MS,
                }],
            },
            channel_summary: Vec::new(),
            queued_system_events: queued,
            sessions: StatusSessions {
                paths: vec![sessions.path],
                count: sessions.count,
                recent: Vec::new(),
            },
            process_memory: ProcessMemory {
                rss_bytes: crate::sys::rss_bytes(),
            },
            pid: std::process::id(),
            uptime_ms: state.uptime_ms(),
            connections: state.hub.count() as u64,
        };
        Ok(Reply::Json(
            serde_json::to_value(summary).unwrap_or(Value::Null),
        ))
    })
}

fn system_presence<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::SYSTEM_PRESENCE, params)?;
        let list = ctx.state.presence.locked().list(now_ms());
        Ok(Reply::Json(
            serde_json::to_value(list).unwrap_or(Value::Null),
        ))
    })
}

/// The presence key of a system event: deviceId → instanceId → host → ip → text prefix.
fn system_event_key(p: &SystemEventParams) -> String {
    p.device_id
        .clone()
        .or_else(|| p.instance_id.clone())
        .or_else(|| p.host.clone())
        .or_else(|| p.ip.clone())
        .unwrap_or_else(|| p.text.chars().take(64).collect())
}

fn system_event<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SystemEventParams>(names::SYSTEM_EVENT, params)?;
        let key = system_event_key(&p);
        let entry = PresenceEntry {
            host: p.host.clone(),
            ip: p.ip.clone(),
            version: p.version.clone(),
            platform: p.platform.clone(),
            device_family: p.device_family.clone(),
            model_identifier: p.model_identifier.clone(),
            mode: p.mode.clone(),
            last_input_seconds: p.last_input_seconds,
            reason: p.reason.clone(),
            tags: p.tags.clone(),
            text: Some(p.text.clone()),
            ts: now_ms(),
            device_id: p.device_id.clone(),
            roles: p.roles.clone(),
            scopes: p.scopes.clone(),
            instance_id: p.instance_id.clone(),
        };
        {
            let mut pres = ctx.state.presence.locked();
            pres.upsert(&key, entry);
        }
        {
            let mut q = ctx.state.system_events.locked();
            if q.len() >= MAX_SYSTEM_EVENTS {
                q.pop_front();
            }
            q.push_back(p.text.clone());
        }
        ctx.state.broadcast_presence_now();
        Ok(Reply::Json(
            serde_json::to_value(OkResult { ok: true }).unwrap_or(Value::Null),
        ))
    })
}

fn last_heartbeat<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::LAST_HEARTBEAT, params)?;
        let last = ctx.state.last_heartbeat.locked().clone();
        Ok(Reply::Json(
            serde_json::to_value(last).unwrap_or(Value::Null),
        ))
    })
}
