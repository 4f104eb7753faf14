//! `cron.*` methods: status, list (the reference's page shape with top-level run fields and
//! delivery previews), add / update / remove / run (admin), runs (the per-job run log).

use std::sync::Arc;

use openclaw_protocol::ErrorShape;
use openclaw_protocol::connect::scopes;
use openclaw_protocol::cron::{
    CronAddParams, CronJob, CronJobRef, CronListParams, CronRunParams, CronRunsParams,
    CronRunsResult, CronStatusParams, CronStatusResult, CronUpdateParams, StoredSchedule, names,
};
use openclaw_protocol::schema::parse_params;
use serde_json::{Map, Value, json};

use crate::cron::{self, store};
use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};
use crate::state::AppState;

pub fn register(out: &mut Vec<MethodSpec>) {
    for (name, access, handler) in [
        (
            names::CRON_STATUS,
            scopes::READ,
            status as crate::registry::Handler,
        ),
        (names::CRON_LIST, scopes::READ, list),
        (names::CRON_RUNS, scopes::READ, runs),
        (names::CRON_ADD, scopes::ADMIN, add),
        (names::CRON_UPDATE, scopes::ADMIN, update),
        (names::CRON_REMOVE, scopes::ADMIN, remove),
        (names::CRON_RUN, scopes::ADMIN, run),
    ] {
        out.push(MethodSpec {
            name,
            access: Access::Scope(access),
            handler,
        });
    }
}

/// `id` or its alias `jobId`, required.
pub fn job_id(
    method: &str,
    id: Option<String>,
    job_id: Option<String>,
) -> Result<String, ErrorShape> {
    id.or(job_id).ok_or_else(|| {
        ErrorShape::invalid_request(format!(
            "invalid {method} params: must have required property 'id'"
        ))
    })
}

/// `cron.status` result.
pub fn status_result(state: &AppState) -> CronStatusResult {
    CronStatusResult {
        enabled: cron::enabled(state),
        store_path: state.cron.path().display().to_string(),
        storage: "json".into(),
        jobs: state.cron.jobs().len() as u64,
        next_wake_at_ms: if cron::enabled(state) {
            state.cron.next_wake()
        } else {
            None
        },
    }
}

fn status<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<CronStatusParams>(names::CRON_STATUS, params)?;
        let mut v = serde_json::to_value(status_result(&ctx.state)).unwrap_or_default();
        // Not in the reference's shape: how often the one timer woke (the benchmark reads it).
        v["timerWakeups"] = json!(ctx.state.cron.wakeups());
        Ok(Reply::Json(v))
    })
}

/// `{label, detail}` describing where a job's output goes, without sending anything.
fn delivery_preview(job: &CronJob) -> Value {
    let d = job.delivery.as_ref();
    let none = json!({"label": "not requested", "detail": "not requested"});
    if job.session_target == "main" {
        return none;
    }
    match d {
        Some(d) if d.mode == "none" => none,
        Some(d) if d.mode == "webhook" => {
            json!({"label": "webhook", "detail": d.to.clone().unwrap_or_default()})
        }
        _ => {
            let channel = d
                .and_then(|d| d.channel.clone())
                .unwrap_or_else(|| "last".into());
            let to = d.and_then(|d| d.to.clone());
            let label = match &to {
                Some(to) => format!("{channel} → {to}"),
                None => format!("{channel} chat"),
            };
            json!({"label": label, "detail": format!("announce via {channel}")})
        }
    }
}

/// A job as listed: the stored job plus the reference's top-level copies of its run state.
pub fn listed(state: &AppState, job: &CronJob) -> Value {
    let mut v = serde_json::to_value(job).unwrap_or_default();
    if let Value::Object(m) = &mut v {
        let st = &job.state;
        let mut put = |k: &str, x: Option<Value>| {
            if let Some(x) = x {
                m.insert(k.into(), x);
            }
        };
        put("nextRunAtMs", st.next_run_at_ms.map(Value::from));
        put("lastRunAtMs", st.last_run_at_ms.map(Value::from));
        put("lastRunStatus", st.last_run_status.clone().map(Value::from));
        put("lastRunError", st.last_error.clone().map(Value::from));
        put("lastDelivered", st.last_delivered.map(Value::from));
        put(
            "lastDeliveryStatus",
            st.last_delivery_status.clone().map(Value::from),
        );
        put(
            "lastDeliveryError",
            st.last_delivery_error.clone().map(Value::from),
        );
        let (_, default) = crate::agents::agents(state);
        put(
            "effectiveAgentId",
            Some(Value::from(job.agent_id.clone().unwrap_or(default))),
        );
    }
    v
}

fn list<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<CronListParams>(names::CRON_LIST, params)?;
        let (_, default) = crate::agents::agents(&ctx.state);
        let mut jobs: Vec<CronJob> = ctx
            .state
            .cron
            .jobs()
            .into_iter()
            .filter(|j| match p.enabled.as_deref() {
                Some("enabled") => j.enabled,
                Some("disabled") => !j.enabled,
                Some("all") => true,
                _ => j.enabled || p.include_disabled.unwrap_or(false),
            })
            .filter(|j| {
                p.agent_id.as_deref().is_none_or(|a| {
                    j.agent_id
                        .as_deref()
                        .unwrap_or(&default)
                        .eq_ignore_ascii_case(a)
                })
            })
            .filter(|j| {
                p.schedule_kind.as_deref().is_none_or(|k| {
                    let kind = match &j.schedule {
                        StoredSchedule::Known(s) => serde_json::to_value(s).ok(),
                        StoredSchedule::Other(v) => Some(v.clone()),
                    };
                    k == "all" || kind.is_some_and(|v| v["kind"] == k)
                })
            })
            .filter(|j| {
                p.query.as_deref().is_none_or(|q| {
                    let q = q.to_lowercase();
                    j.name.to_lowercase().contains(&q)
                        || j.id.to_lowercase().contains(&q)
                        || j.description
                            .as_deref()
                            .unwrap_or("")
                            .to_lowercase()
                            .contains(&q)
                })
            })
            .collect();
        let desc = p.sort_dir.as_deref() == Some("desc");
        match p.sort_by.as_deref() {
            Some("name") => jobs.sort_by(|a, b| a.name.cmp(&b.name)),
            Some("updatedAtMs") => jobs.sort_by_key(|j| j.updated_at_ms),
            _ => {
                jobs.sort_by_key(|j| (j.state.next_run_at_ms.unwrap_or(u64::MAX), j.created_at_ms))
            }
        }
        if desc {
            jobs.reverse();
        }
        let total = jobs.len() as u64;
        let offset = p.offset.unwrap_or(0).min(total);
        let limit = p.limit.unwrap_or(total.clamp(1, 200));
        let page: Vec<&CronJob> = jobs
            .iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
        let end = offset + page.len() as u64;
        let mut previews = Map::new();
        for j in &page {
            previews.insert(j.id.clone(), delivery_preview(j));
        }
        Ok(Reply::Json(json!({
            "jobs": page.iter().map(|j| listed(&ctx.state, j)).collect::<Vec<_>>(),
            "snapshotRevision": snapshot_revision(&ctx.state),
            "total": total,
            "offset": offset,
            "limit": limit,
            "hasMore": end < total,
            "nextOffset": if end < total { Some(end) } else { None },
            "deliveryPreviews": previews,
        })))
    })
}

/// A token for the current job definitions (ids and update times, not run state), so a client
/// paging through `cron.list` can tell that the inventory changed under it (the reference CLI
/// requires it).
fn snapshot_revision(state: &AppState) -> String {
    use base64::Engine;
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for j in state.cron.jobs() {
        h.update(j.id.as_bytes());
        h.update(j.updated_at_ms.to_le_bytes());
        h.update([u8::from(j.enabled)]);
    }
    format!(
        "sha256:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finalize())
    )
}

/// A created job as `cron.add` answers it (the job plus its delivery preview).
pub fn added(state: &AppState, job: &CronJob) -> Value {
    let mut v = listed(state, job);
    v["deliveryPreview"] = delivery_preview(job);
    if let Value::Object(m) = &mut v {
        m.remove("effectiveAgentId");
    }
    v
}

fn add<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<CronAddParams>(names::CRON_ADD, params)?;
        let job = cron::add(&ctx.state, names::CRON_ADD, p)?;
        Ok(Reply::Json(added(&ctx.state, &job)))
    })
}

fn update<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<CronUpdateParams>(names::CRON_UPDATE, params)?;
        let id = job_id(names::CRON_UPDATE, p.id, p.job_id)?;
        let job = cron::update(&ctx.state, names::CRON_UPDATE, &id, p.patch)?;
        Ok(Reply::Json(listed(&ctx.state, &job)))
    })
}

fn remove<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<CronJobRef>(names::CRON_REMOVE, params)?;
        let id = job_id(names::CRON_REMOVE, p.id, p.job_id)?;
        let removed = cron::remove(&ctx.state, &id)?;
        Ok(Reply::Json(json!({"ok": true, "removed": removed})))
    })
}

fn run<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<CronRunParams>(names::CRON_RUN, params)?;
        let id = job_id(names::CRON_RUN, p.id, p.job_id)?;
        if let Some(expected) = &p.expected_process_instance_id
            && expected != &ctx.state.boot_id
        {
            return Err(ErrorShape::invalid_request(
                "the gateway restarted since this run was requested",
            ));
        }
        let state: &Arc<AppState> = &ctx.state;
        Ok(Reply::Json(cron::run_now(
            state,
            &id,
            p.mode.as_deref().unwrap_or("force"),
        )?))
    })
}

/// `cron.runs` result for `p`.
pub fn runs_result(
    state: &AppState,
    method: &str,
    p: CronRunsParams,
) -> Result<CronRunsResult, ErrorShape> {
    let path = state.cron.path().to_path_buf();
    let mut entries = if p.scope.as_deref() == Some("all") {
        store::read_all_runs(&path)
    } else {
        store::read_runs(&path, &job_id(method, p.id, p.job_id)?)
    };
    let statuses: Option<Vec<String>> = p
        .statuses
        .or(p.status.filter(|s| s != "all").map(|s| vec![s]));
    let delivery: Option<Vec<String>> = p.delivery_statuses.or(p.delivery_status.map(|s| vec![s]));
    entries.retain(|e| {
        statuses
            .as_ref()
            .is_none_or(|s| e.status.as_ref().is_some_and(|x| s.contains(x)))
            && delivery
                .as_ref()
                .is_none_or(|s| e.delivery_status.as_ref().is_some_and(|x| s.contains(x)))
            && p.run_id
                .as_ref()
                .is_none_or(|r| e.run_id.as_ref() == Some(r))
            && p.query.as_ref().is_none_or(|q| {
                let q = q.to_lowercase();
                e.summary
                    .as_deref()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains(&q)
                    || e.error.as_deref().unwrap_or("").to_lowercase().contains(&q)
            })
    });
    if p.sort_dir.as_deref() != Some("asc") {
        entries.reverse();
    }
    let total = entries.len() as u64;
    let offset = p.offset.unwrap_or(0).min(total);
    let limit = p.limit.unwrap_or(50);
    let page: Vec<_> = entries
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    let end = offset + page.len() as u64;
    Ok(CronRunsResult {
        entries: page,
        total,
        offset,
        limit,
        has_more: end < total,
        next_offset: (end < total).then_some(end),
    })
}

fn runs<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<CronRunsParams>(names::CRON_RUNS, params)?;
        let r = runs_result(&ctx.state, names::CRON_RUNS, p)?;
        Ok(Reply::Json(serde_json::to_value(r).unwrap_or_default()))
    })
}
