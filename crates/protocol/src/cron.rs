//! The cron scheduler's wire and file shapes (`cron.*` methods, the `cron` event, the `cron`
//! agent tool and `cron/jobs.json`), in the reference's field names so a jobs file or a request
//! written for the reference reads unchanged. Stored jobs keep keys this gateway does not use
//! (`declarationKey`, `scheduledToolPolicy`, …) in `rest`, and schedules/payloads of kinds it
//! does not run as raw JSON, so nothing is lost on a rewrite.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub mod names {
    pub const CRON_STATUS: &str = "cron.status";
    pub const CRON_LIST: &str = "cron.list";
    pub const CRON_ADD: &str = "cron.add";
    pub const CRON_UPDATE: &str = "cron.update";
    pub const CRON_REMOVE: &str = "cron.remove";
    pub const CRON_RUN: &str = "cron.run";
    pub const CRON_RUNS: &str = "cron.runs";
}

/// When a job runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum CronSchedule {
    /// Once: an ISO-8601 time, epoch milliseconds, or (on input) a relative `20m` / `+1h`.
    #[serde(rename = "at")]
    At {
        #[schemars(length(min = 1))]
        at: String,
    },
    /// Every `everyMs`, on the grid `anchorMs + k·everyMs`.
    #[serde(rename = "every")]
    Every {
        #[serde(rename = "everyMs")]
        #[schemars(range(min = 1))]
        every_ms: u64,
        #[serde(rename = "anchorMs", default, skip_serializing_if = "Option::is_none")]
        anchor_ms: Option<u64>,
    },
    /// A 5-field (minute first) or 6-field (second first) cron expression in `tz` (IANA; the
    /// host's zone when absent).
    #[serde(rename = "cron")]
    Cron {
        #[schemars(length(min = 1))]
        expr: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tz: Option<String>,
        #[serde(rename = "staggerMs", default, skip_serializing_if = "Option::is_none")]
        stagger_ms: Option<u64>,
    },
}

/// What a job does when it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum CronPayload {
    /// A system event queued for the main session (heartbeat path).
    #[serde(rename = "systemEvent")]
    SystemEvent {
        #[schemars(length(min = 1))]
        text: String,
        #[serde(
            rename = "toolsAllow",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        tools_allow: Option<Vec<String>>,
        #[serde(
            rename = "toolsAllowIsDefault",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        tools_allow_is_default: Option<bool>,
    },
    /// An agent turn in the job's own session (`cron:<jobId>`).
    #[serde(rename = "agentTurn")]
    AgentTurn {
        #[schemars(length(min = 1))]
        message: String,
        /// `provider/model` for this job's runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallbacks: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thinking: Option<String>,
        #[serde(
            rename = "timeoutSeconds",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        #[schemars(range(min = 0))]
        timeout_seconds: Option<f64>,
        #[serde(
            rename = "toolsAllow",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        tools_allow: Option<Vec<String>>,
        #[serde(
            rename = "toolsAllowIsDefault",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        tools_allow_is_default: Option<bool>,
        #[serde(
            rename = "lightContext",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        light_context: Option<bool>,
    },
}

/// Where an isolated job's reply goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronDelivery {
    /// `none`, `announce` (to a channel chat) or `webhook` (not run by this gateway).
    #[schemars(regex(pattern = r"^(none|announce|webhook)$"))]
    pub mode: String,
    /// A channel id or `last` (the main session's last chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_effort: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_destination: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_destination: Option<Value>,
}

/// A schedule as stored: one this gateway runs, or another kind kept verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StoredSchedule {
    Known(CronSchedule),
    Other(Value),
}

/// A payload as stored: one this gateway runs, or another kind kept verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StoredPayload {
    Known(CronPayload),
    Other(Value),
}

/// Scheduler state of a job (`state` in the file and on the wire).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronJobState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_at_ms: Option<u64>,
    /// Set while a run is in flight (persisted before it starts, cleared when it ends): a
    /// start that finds it set knows the last process died mid-run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_errors: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivered: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery_error: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// One job, as `cron/jobs.json` holds it and `cron.list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronJob {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_run: Option<bool>,
    #[serde(default)]
    pub created_at_ms: u64,
    #[serde(default)]
    pub updated_at_ms: u64,
    pub schedule: StoredSchedule,
    #[serde(default = "main_target")]
    pub session_target: String,
    #[serde(default = "wake_now")]
    pub wake_mode: String,
    pub payload: StoredPayload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<CronDelivery>,
    #[serde(default)]
    pub state: CronJobState,
    /// Keys this gateway does not interpret, kept as written.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

fn yes() -> bool {
    true
}
fn main_target() -> String {
    "main".into()
}
fn wake_now() -> String {
    "now".into()
}

/// `cron/jobs.json`: `{version: 1, jobs: [...]}` (the reference's legacy file store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronStoreFile {
    #[serde(default = "version_one")]
    pub version: u32,
    #[serde(default)]
    pub jobs: Vec<Value>,
}

fn version_one() -> u32 {
    1
}

/// `cron.status` params (none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CronStatusParams {}

/// `cron.status` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronStatusResult {
    pub enabled: bool,
    pub store_path: String,
    pub storage: String,
    pub jobs: u64,
    pub next_wake_at_ms: Option<u64>,
}

/// `cron.list` params (the reference's filters; this gateway applies the common ones).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// `all`, `enabled` or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_delivery_previews: Option<bool>,
}

/// `cron.add` params: a new job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronAddParams {
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_run: Option<bool>,
    pub schedule: CronSchedule,
    /// `main` or `isolated` (default: `main` for a system event, else `isolated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(main|isolated)$"))]
    pub session_target: Option<String>,
    /// `now` or `next-heartbeat` (default `now`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(now|next-heartbeat)$"))]
    pub wake_mode: Option<String>,
    pub payload: CronPayload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<CronDelivery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declaration_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_alert: Option<Value>,
}

/// A job named by `id` (or its legacy alias `jobId`): `cron.remove`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronJobRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub job_id: Option<String>,
}

/// `cron.update` params; `patch` fields replace the job's (`payload` and `delivery` merge,
/// `null` clears).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronUpdateParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub job_id: Option<String>,
    pub patch: CronJobPatch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_config_revision: Option<String>,
}

/// The changeable fields of a job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronJobPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_run: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<CronSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(main|isolated)$"))]
    pub session_target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(now|next-heartbeat)$"))]
    pub wake_mode: Option<String>,
    /// Merged onto the payload (`kind` may switch it); the result must be a whole payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Map<String, Value>>,
    /// Merged onto the delivery; `null` values clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_alert: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Map<String, Value>>,
}

/// `cron.run` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronRunParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub job_id: Option<String>,
    /// `force` (default), `due` (only when due) or `if-enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(due|force|if-enabled)$"))]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_process_instance_id: Option<String>,
}

/// `cron.runs` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronRunsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// `job` or `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), regex(pattern = r"^[^/\\]+$"))]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), regex(pattern = r"^[^/\\]+$"))]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_statuses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// `asc` or `desc` (default: newest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_dir: Option<String>,
}

/// One line of `cron/runs/<jobId>.jsonl` and one `cron.runs` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronRunLogEntry {
    pub ts: u64,
    pub job_id: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `cron.runs` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronRunsResult {
    pub entries: Vec<CronRunLogEntry>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub has_more: bool,
    pub next_offset: Option<u64>,
}

/// `cron` event: `{jobId, action, runAtMs?, durationMs?, status?, error?, summary?, nextRunAtMs?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronEvent {
    pub job_id: String,
    /// `added`, `updated`, `removed`, `started` or `finished`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
}
