//! `openclaw cron status|list|add|edit|rm|run|runs`: the scheduler through the running
//! gateway's `cron.*` methods, with the reference CLI's flags; `--json` prints the method's
//! result as it came.

use clap::{Args, Subcommand};
use openclaw_config::Paths;
use serde_json::{Map, Value, json};

use crate::rpc::{Failure, Session, print_json};
use crate::{ConnArgs, Outcome};

#[derive(Args, Debug)]
pub struct CronCmd {
    #[command(subcommand)]
    pub sub: CronSub,
}

/// The job fields `add` and `edit` share.
#[derive(Args, Debug, Default)]
pub struct JobArgs {
    /// Job name.
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Agent that runs the job.
    #[arg(long)]
    pub agent: Option<String>,
    /// `main` (system event for the main session) or `isolated` (own agent turn).
    #[arg(long)]
    pub session: Option<String>,
    /// Wake mode: `now` or `next-heartbeat`.
    #[arg(long)]
    pub wake: Option<String>,
    /// Run once at a time (ISO-8601, epoch ms, or a duration from now like 20m).
    #[arg(long)]
    pub at: Option<String>,
    /// Run every duration (e.g. 30m, 1h).
    #[arg(long)]
    pub every: Option<String>,
    /// Cron expression (5 or 6 fields).
    #[arg(long)]
    pub cron: Option<String>,
    /// IANA time zone of --cron.
    #[arg(long)]
    pub tz: Option<String>,
    /// System event text (main jobs).
    #[arg(long = "system-event")]
    pub system_event: Option<String>,
    /// Agent message (isolated jobs).
    #[arg(long)]
    pub message: Option<String>,
    /// Model for the job's runs (provider/model).
    #[arg(long)]
    pub model: Option<String>,
    /// Thinking level for the job's runs.
    #[arg(long)]
    pub thinking: Option<String>,
    #[arg(long = "timeout-seconds")]
    pub timeout_seconds: Option<f64>,
    /// Announce the reply to a channel chat.
    #[arg(long, alias = "announce")]
    pub deliver: bool,
    /// Do not deliver the reply.
    #[arg(long = "no-deliver")]
    pub no_deliver: bool,
    #[arg(long)]
    pub channel: Option<String>,
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long = "thread-id")]
    pub thread_id: Option<String>,
    #[arg(long)]
    pub account: Option<String>,
    /// Delete a one-shot job after it ran.
    #[arg(long = "delete-after-run")]
    pub delete_after_run: bool,
    /// Keep a one-shot job after it ran (disabled).
    #[arg(long = "keep-after-run")]
    pub keep_after_run: bool,
}

#[derive(Subcommand, Debug)]
pub enum CronSub {
    /// Scheduler status.
    Status {
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// List jobs (enabled ones unless --all).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        agent: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Add a job.
    Add {
        #[command(flatten)]
        job: JobArgs,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Change a job.
    Edit {
        id: String,
        #[command(flatten)]
        job: JobArgs,
        #[arg(long)]
        enable: bool,
        #[arg(long)]
        disable: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Remove a job.
    #[command(alias = "remove", alias = "delete")]
    Rm {
        id: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Run a job now (or only if due with --due).
    Run {
        id: String,
        #[arg(long)]
        due: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// A job's run history.
    Runs {
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        limit: Option<u64>,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

/// Parses `30m`, `1h`, `45s`, `500ms`, `2d`, `1h30m` into milliseconds.
fn duration_ms(s: &str) -> Option<u64> {
    openclaw_gateway::heartbeat::parse_every(s).map(|d| d.as_millis() as u64)
}

fn schedule(j: &JobArgs) -> Result<Option<Value>, String> {
    let picked = [j.at.is_some(), j.every.is_some(), j.cron.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if picked > 1 {
        return Err("choose one schedule: --at, --every or --cron".into());
    }
    if let Some(at) = &j.at {
        return Ok(Some(json!({"kind": "at", "at": at})));
    }
    if let Some(e) = &j.every {
        let ms = duration_ms(e).ok_or_else(|| format!("invalid --every duration: {e}"))?;
        return Ok(Some(json!({"kind": "every", "everyMs": ms})));
    }
    if let Some(expr) = &j.cron {
        let mut s = json!({"kind": "cron", "expr": expr});
        if let Some(tz) = &j.tz {
            s["tz"] = json!(tz);
        }
        return Ok(Some(s));
    }
    if j.tz.is_some() {
        return Err("--tz needs --cron".into());
    }
    Ok(None)
}

fn payload(j: &JobArgs) -> Result<Option<Value>, String> {
    match (&j.system_event, &j.message) {
        (Some(_), Some(_)) => Err("choose one of --system-event and --message".into()),
        (Some(t), None) => Ok(Some(json!({"kind": "systemEvent", "text": t}))),
        (None, Some(m)) => {
            let mut p = json!({"kind": "agentTurn", "message": m});
            if let Some(x) = &j.model {
                p["model"] = json!(x);
            }
            if let Some(x) = &j.thinking {
                p["thinking"] = json!(x);
            }
            if let Some(x) = j.timeout_seconds {
                p["timeoutSeconds"] = json!(x);
            }
            Ok(Some(p))
        }
        (None, None) => {
            let mut p = Map::new();
            if let Some(x) = &j.model {
                p.insert("model".into(), json!(x));
            }
            if let Some(x) = &j.thinking {
                p.insert("thinking".into(), json!(x));
            }
            if let Some(x) = j.timeout_seconds {
                p.insert("timeoutSeconds".into(), json!(x));
            }
            Ok((!p.is_empty()).then(|| {
                p.insert("kind".into(), json!("agentTurn"));
                Value::Object(p)
            }))
        }
    }
}

fn delivery(j: &JobArgs) -> Option<Value> {
    let mut d = Map::new();
    if j.no_deliver {
        d.insert("mode".into(), json!("none"));
    } else if j.deliver || j.channel.is_some() || j.to.is_some() {
        d.insert("mode".into(), json!("announce"));
    }
    for (k, v) in [
        ("channel", &j.channel),
        ("to", &j.to),
        ("threadId", &j.thread_id),
        ("accountId", &j.account),
    ] {
        if let Some(v) = v {
            d.insert(k.into(), json!(v));
        }
    }
    (!d.is_empty()).then_some(Value::Object(d))
}

/// The shared job fields as a params object.
fn job_fields(j: &JobArgs) -> Result<Map<String, Value>, String> {
    let mut m = Map::new();
    if let Some(s) = schedule(j)? {
        m.insert("schedule".into(), s);
    }
    if let Some(p) = payload(j)? {
        m.insert("payload".into(), p);
    }
    if let Some(d) = delivery(j) {
        m.insert("delivery".into(), d);
    }
    for (k, v) in [
        ("name", &j.name),
        ("description", &j.description),
        ("agentId", &j.agent),
        ("sessionTarget", &j.session),
        ("wakeMode", &j.wake),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    if j.delete_after_run {
        m.insert("deleteAfterRun".into(), json!(true));
    } else if j.keep_after_run {
        m.insert("deleteAfterRun".into(), json!(false));
    }
    Ok(m)
}

fn fmt_ms(ms: Option<u64>) -> String {
    ms.and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64))
        .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".into())
}

fn describe_schedule(s: &Value) -> String {
    match s["kind"].as_str() {
        Some("at") => format!("at {}", s["at"].as_str().unwrap_or("?")),
        Some("every") => format!("every {}ms", s["everyMs"]),
        Some("cron") => match s["tz"].as_str() {
            Some(tz) => format!("cron {} ({tz})", s["expr"].as_str().unwrap_or("?")),
            None => format!("cron {}", s["expr"].as_str().unwrap_or("?")),
        },
        Some(k) => k.to_string(),
        None => "?".into(),
    }
}

fn render_list(v: &Value) -> String {
    let jobs = v["jobs"].as_array().cloned().unwrap_or_default();
    if jobs.is_empty() {
        return "No cron jobs.".into();
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j["id"].as_str().unwrap_or_default().to_string(),
                j["name"].as_str().unwrap_or_default().to_string(),
                describe_schedule(&j["schedule"]),
                j["sessionTarget"].as_str().unwrap_or_default().to_string(),
                fmt_ms(j["nextRunAtMs"].as_u64()),
                j["lastRunStatus"].as_str().unwrap_or("-").to_string(),
                if j["enabled"] == json!(false) {
                    "no"
                } else {
                    "yes"
                }
                .to_string(),
            ]
        })
        .collect();
    crate::table::render(
        &[
            "ID", "Name", "Schedule", "Session", "Next", "Last", "Enabled",
        ],
        &rows,
    )
}

/// One call, printed as JSON or by `human`.
async fn one(
    paths: &Paths,
    dev: bool,
    conn: &ConnArgs,
    label: &str,
    method: &str,
    params: Value,
    human: fn(&Value) -> String,
) -> Outcome {
    let session = match Session::open(paths, dev, conn).await {
        Ok(s) => s,
        Err(f) => return f.print(label, conn.json),
    };
    let result = session.call(method, params).await;
    session.close().await;
    match result {
        Ok(v) => {
            if conn.json {
                print_json(&v);
            } else {
                println!("{}", human(&v));
            }
            Outcome::Done
        }
        Err(f) => f.print(label, conn.json),
    }
}

fn usage(label: &str, json: bool, msg: String) -> Outcome {
    Failure::Message(msg).print(label, json);
    Outcome::Usage
}

pub async fn run(paths: &Paths, dev: bool, cmd: CronCmd) -> Outcome {
    match cmd.sub {
        CronSub::Status { conn } => {
            one(
                paths,
                dev,
                &conn,
                "cron status",
                "cron.status",
                json!({}),
                |v| {
                    format!(
                        "Cron: {}\nStore: {}\nJobs: {}\nNext wake: {}",
                        if v["enabled"] == json!(true) {
                            "enabled"
                        } else {
                            "disabled"
                        },
                        v["storePath"].as_str().unwrap_or("-"),
                        v["jobs"],
                        fmt_ms(v["nextWakeAtMs"].as_u64())
                    )
                },
            )
            .await
        }
        CronSub::List { all, agent, conn } => {
            let mut p = json!({"includeDisabled": all});
            if let Some(a) = agent {
                p["agentId"] = json!(a);
            }
            one(paths, dev, &conn, "cron list", "cron.list", p, render_list).await
        }
        CronSub::Add {
            job,
            disabled,
            conn,
        } => {
            let mut m = match job_fields(&job) {
                Ok(m) => m,
                Err(e) => return usage("cron add", conn.json, e),
            };
            if !m.contains_key("schedule") {
                return usage(
                    "cron add",
                    conn.json,
                    "a schedule is required: --at, --every or --cron".into(),
                );
            }
            if !m.contains_key("payload") {
                return usage(
                    "cron add",
                    conn.json,
                    "a payload is required: --system-event or --message".into(),
                );
            }
            if !m.contains_key("name") {
                let text = m["payload"]["message"]
                    .as_str()
                    .or(m["payload"]["text"].as_str())
                    .unwrap_or("job");
                m.insert(
                    "name".into(),
                    json!(text.chars().take(60).collect::<String>()),
                );
            }
            if disabled {
                m.insert("enabled".into(), json!(false));
            }
            one(
                paths,
                dev,
                &conn,
                "cron add",
                "cron.add",
                Value::Object(m),
                |v| {
                    format!(
                        "Added cron job {} ({}); next run {}",
                        v["id"].as_str().unwrap_or("?"),
                        v["name"].as_str().unwrap_or("?"),
                        fmt_ms(v["nextRunAtMs"].as_u64())
                    )
                },
            )
            .await
        }
        CronSub::Edit {
            id,
            job,
            enable,
            disable,
            conn,
        } => {
            let mut patch = match job_fields(&job) {
                Ok(m) => m,
                Err(e) => return usage("cron edit", conn.json, e),
            };
            if enable && disable {
                return usage(
                    "cron edit",
                    conn.json,
                    "choose one of --enable and --disable".into(),
                );
            }
            if enable || disable {
                patch.insert("enabled".into(), json!(enable));
            }
            if patch.is_empty() {
                return usage("cron edit", conn.json, "nothing to change".into());
            }
            let p = json!({"id": id, "patch": patch});
            one(paths, dev, &conn, "cron edit", "cron.update", p, |v| {
                format!(
                    "Updated cron job {}; next run {}",
                    v["id"].as_str().unwrap_or("?"),
                    fmt_ms(v["nextRunAtMs"].as_u64())
                )
            })
            .await
        }
        CronSub::Rm { id, conn } => {
            one(
                paths,
                dev,
                &conn,
                "cron rm",
                "cron.remove",
                json!({"id": id}),
                |v| {
                    if v["removed"] == json!(true) {
                        "Removed.".into()
                    } else {
                        "No such job.".into()
                    }
                },
            )
            .await
        }
        CronSub::Run { id, due, conn } => {
            let p = json!({"id": id, "mode": if due { "due" } else { "force" }});
            one(paths, dev, &conn, "cron run", "cron.run", p, |v| {
                match v["runId"].as_str() {
                    Some(r) => format!("Started run {r}"),
                    None => format!("Not run: {}", v["reason"].as_str().unwrap_or("?")),
                }
            })
            .await
        }
        CronSub::Runs { id, limit, conn } => {
            let mut p = match id {
                Some(id) => json!({"id": id}),
                None => json!({"scope": "all"}),
            };
            if let Some(l) = limit {
                p["limit"] = json!(l);
            }
            one(paths, dev, &conn, "cron runs", "cron.runs", p, |v| {
                let entries = v["entries"].as_array().cloned().unwrap_or_default();
                if entries.is_empty() {
                    return "No runs.".into();
                }
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{}  {}  {}  {}ms  {}",
                            fmt_ms(e["runAtMs"].as_u64()),
                            e["jobId"].as_str().unwrap_or("?"),
                            e["status"].as_str().unwrap_or("?"),
                            e["durationMs"],
                            e["summary"].as_str().or(e["error"].as_str()).unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .await
        }
    }
}
