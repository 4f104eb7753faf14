//! `openclaw nodes status|list|pending|approve|reject|remove|rename|describe|invoke`: nodes
//! through the running gateway (`node.list`, `node.describe`, `node.pair.*`, `node.rename`,
//! `node.invoke`), with the reference CLI's `--json` shapes. `--node` takes an id, an id
//! prefix (≥ 6 characters), a display name or a remote IP, resolved against `node.list` the
//! way the reference does; `invoke`, `approve` and `reject` always answer in JSON.

use std::time::Duration;

use clap::{Args, Subcommand};
use openclaw_config::Paths;
use serde_json::{Map, Value, json};

use crate::devices_cmd::approve_command_for;
use crate::rpc::{Failure, Session, print_json};
use crate::table::{ago, clean, now_ms, render};
use crate::{ConnArgs, Outcome};

/// The node's own budget when `--invoke-timeout` is not given.
const DEFAULT_INVOKE_TIMEOUT_MS: u64 = 15_000;
/// Extra time the call waits beyond the node's budget, for the gateway to answer.
const INVOKE_TRANSPORT_GRACE_MS: u64 = 10_000;
/// Commands that only the exec path (with its approvals) may run.
const EXEC_ONLY_COMMANDS: [&str; 2] = ["system.run", "system.run.prepare"];

#[derive(Args, Debug)]
pub struct NodesCmd {
    #[command(subcommand)]
    pub sub: NodesSub,
}

#[derive(Args, Debug)]
pub struct NodeFilter {
    /// Only nodes connected now.
    #[arg(long)]
    pub connected: bool,
    /// Only nodes connected within this long (e.g. 24h, 30m, 90s).
    #[arg(long, value_name = "DURATION")]
    pub last_connected: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum NodesSub {
    /// Known nodes with connection status and capabilities (`node.list`).
    Status {
        #[command(flatten)]
        filter: NodeFilter,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Pending and paired nodes.
    List {
        #[command(flatten)]
        filter: NodeFilter,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Pending node pairing requests.
    Pending {
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Approve a pending node pairing request (prints the result as JSON).
    Approve {
        request_id: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Reject a pending node pairing request (prints the result as JSON).
    Reject {
        request_id: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Remove a paired node.
    Remove {
        /// Node id, id prefix, name or IP.
        #[arg(long, value_name = "ID|NAME|IP")]
        node: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Rename a paired node.
    Rename {
        #[arg(long, value_name = "ID|NAME|IP")]
        node: String,
        /// New display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// A node's capabilities and the commands it can be invoked with.
    Describe {
        #[arg(long, value_name = "ID|NAME|IP")]
        node: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Invoke a command on a node and print the result as JSON.
    Invoke {
        #[arg(long, value_name = "ID|NAME|IP")]
        node: String,
        /// Command, e.g. system.which.
        #[arg(long)]
        command: String,
        /// Params as a JSON value.
        #[arg(long, default_value = "{}")]
        params: String,
        /// The node's time budget in milliseconds (--timeout is the connection's).
        #[arg(long, value_name = "MS")]
        invoke_timeout: Option<String>,
        /// Idempotency key (default: a fresh UUID).
        #[arg(long)]
        idempotency_key: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

pub async fn run(paths: &Paths, dev: bool, cmd: NodesCmd) -> Outcome {
    let (label, json, conn) = match &cmd.sub {
        NodesSub::Status { conn, .. } => ("nodes status", conn.json, conn),
        NodesSub::List { conn, .. } => ("nodes list", conn.json, conn),
        NodesSub::Pending { conn } => ("nodes pending", conn.json, conn),
        NodesSub::Approve { conn, .. } => ("nodes approve", true, conn),
        NodesSub::Reject { conn, .. } => ("nodes reject", true, conn),
        NodesSub::Remove { conn, .. } => ("nodes remove", conn.json, conn),
        NodesSub::Rename { conn, .. } => ("nodes rename", conn.json, conn),
        NodesSub::Describe { conn, .. } => ("nodes describe", conn.json, conn),
        NodesSub::Invoke { conn, .. } => ("nodes invoke", true, conn),
    };
    // Argument mistakes are reported without touching the gateway.
    let invoke = match &cmd.sub {
        NodesSub::Invoke {
            command,
            params,
            invoke_timeout,
            idempotency_key,
            ..
        } => match InvokeArgs::parse(
            command,
            params,
            invoke_timeout.as_deref(),
            idempotency_key.as_deref(),
        ) {
            Ok(a) => Some(a),
            Err(msg) => return Failure::Message(msg).print(label, json),
        },
        _ => None,
    };
    if let Err(msg) = check_args(&cmd.sub) {
        return Failure::Message(msg).print(label, json);
    }
    let session = match Session::open(paths, dev, conn).await {
        Ok(s) => s,
        Err(f) => return f.print(label, json),
    };
    let result = dispatch(&session, &cmd.sub, invoke).await;
    session.close().await;
    match result {
        Ok(outcome) => outcome,
        Err(f) => f.print(label, json),
    }
}

fn check_args(sub: &NodesSub) -> Result<(), String> {
    match sub {
        NodesSub::Status { filter, .. } | NodesSub::List { filter, .. } => {
            filter.since_ms().map(|_| ())
        }
        NodesSub::Rename { name, .. } if name.trim().is_empty() => Err(
            "--name must not be empty. Run openclaw nodes list to see paired nodes, then rerun with --name <displayName>."
                .into(),
        ),
        _ => Ok(()),
    }
}

impl NodeFilter {
    fn since_ms(&self) -> Result<Option<i64>, String> {
        match &self.last_connected {
            None => Ok(None),
            Some(raw) => parse_duration_ms(raw)
                .map(Some)
                .map_err(|e| format!("Invalid --last-connected: {e}")),
        }
    }

    fn is_set(&self) -> bool {
        self.connected || self.last_connected.is_some()
    }

    /// The nodes this filter keeps.
    fn select(&self, nodes: &[Value], now: i64) -> Result<Vec<Value>, Failure> {
        let since = self.since_ms().map_err(Failure::Message)?;
        Ok(nodes
            .iter()
            .filter(|n| self.keeps(n, since, now))
            .cloned()
            .collect())
    }

    fn keeps(&self, node: &Value, since: Option<i64>, now: i64) -> bool {
        if self.connected && node["connected"] != true {
            return false;
        }
        let Some(since) = since else { return true };
        node["lastConnectedAtMs"]
            .as_i64()
            .or_else(|| node["connectedAtMs"].as_i64())
            .is_some_and(|t| now - t <= since)
    }
}

/// `90s`, `30m`, `24h`, `2d`, `500ms` or a bare number of milliseconds.
pub fn parse_duration_ms(raw: &str) -> Result<i64, String> {
    let s = raw.trim().to_ascii_lowercase();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration: {raw}"))?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(format!("invalid duration: {raw}")),
    };
    let ms = n * factor;
    if !ms.is_finite() || ms < 0.0 || ms > i64::MAX as f64 {
        return Err(format!("invalid duration: {raw}"));
    }
    Ok(ms.round() as i64)
}

/// A checked `nodes invoke` request, apart from the node.
#[derive(Debug, PartialEq)]
pub struct InvokeArgs {
    pub command: String,
    pub params: Value,
    pub timeout_ms: u64,
    pub idempotency_key: String,
}

impl InvokeArgs {
    pub fn parse(
        command: &str,
        params: &str,
        timeout: Option<&str>,
        key: Option<&str>,
    ) -> Result<InvokeArgs, String> {
        let command = command.trim();
        if command.is_empty() {
            return Err("--node and --command required".into());
        }
        if EXEC_ONLY_COMMANDS.contains(&command.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "command \"{command}\" is reserved for shell execution; use the exec tool with host=node instead"
            ));
        }
        let params: Value =
            serde_json::from_str(params).map_err(|_| "--params must be valid JSON.".to_string())?;
        let timeout_ms = match timeout {
            None => DEFAULT_INVOKE_TIMEOUT_MS,
            Some(t) => t
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| "--invoke-timeout must be a positive integer.".to_string())?,
        };
        let idempotency_key = match key {
            Some("") => return Err("--idempotency-key must not be empty.".into()),
            Some(k) => k.to_string(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        Ok(InvokeArgs {
            command: command.to_string(),
            params,
            timeout_ms,
            idempotency_key,
        })
    }

    fn to_params(&self, node_id: &str) -> Value {
        json!({
            "nodeId": node_id, "command": self.command, "params": self.params,
            "timeoutMs": self.timeout_ms, "idempotencyKey": self.idempotency_key,
        })
    }
}

async fn dispatch(
    s: &Session,
    sub: &NodesSub,
    invoke: Option<InvokeArgs>,
) -> Result<Outcome, Failure> {
    let now = now_ms();
    match sub {
        NodesSub::Status { filter, conn } => {
            let result = s.call("node.list", json!({})).await?;
            let all = node_list(&result);
            let kept = filter.select(&all, now)?;
            if conn.json {
                let mut obj = result.as_object().cloned().unwrap_or_default();
                if !obj.get("ts").is_some_and(Value::is_number) {
                    obj.insert("ts".into(), json!(now));
                }
                obj.insert("nodes".into(), Value::Array(kept));
                print_json(&Value::Object(obj));
            } else {
                print!("{}", human_status(&kept, all.len(), now, conn));
            }
            Ok(Outcome::Done)
        }
        NodesSub::List { filter, conn } => {
            let pairing = s.call("node.pair.list", json!({})).await?;
            let (pending, paired) = pairing_list(&pairing);
            // A bad --last-connected is refused before the second call.
            filter.since_ms().map_err(Failure::Message)?;
            let live = match s.call("node.list", json!({})).await {
                Ok(v) => Some(node_list(&v)),
                Err(f) if !filter.is_set() => {
                    eprintln!(
                        "live node view unavailable ({}); showing paired-only data",
                        failure_text(&f)
                    );
                    None
                }
                Err(f) => return Err(f),
            };
            let merged = merge_paired(&paired, live.as_deref());
            let kept = filter.select(&merged, now)?;
            if conn.json {
                let paired: Vec<Value> = kept
                    .into_iter()
                    .map(|mut n| {
                        if let Some(o) = n.as_object_mut() {
                            o.remove("token");
                        }
                        n
                    })
                    .collect();
                print_json(&json!({"pending": pending, "paired": paired}));
                return Ok(Outcome::Done);
            }
            let of = if filter.is_set() && kept.len() != merged.len() {
                format!(" (of {})", merged.len())
            } else {
                String::new()
            };
            println!("Pending: {} · Paired: {}{of}", pending.len(), kept.len());
            if !pending.is_empty() {
                println!("\nPending\n{}", pending_table(&pending, now));
            }
            if !kept.is_empty() {
                let rows: Vec<Vec<String>> = kept
                    .iter()
                    .map(|n| {
                        vec![
                            node_label(n),
                            clean(str_of(n, "nodeId")),
                            clean(str_of(n, "remoteIp")),
                            n["lastConnectedAtMs"]
                                .as_i64()
                                .or_else(|| n["connectedAtMs"].as_i64())
                                .map(|t| ago(now - t))
                                .unwrap_or_else(|| "unknown".into()),
                        ]
                    })
                    .collect();
                println!(
                    "\nPaired\n{}",
                    render(&["Node", "ID", "IP", "Last Connect"], &rows)
                );
            }
            Ok(Outcome::Done)
        }
        NodesSub::Pending { conn } => {
            let (pending, _) = pairing_list(&s.call("node.pair.list", json!({})).await?);
            if conn.json {
                print_json(&Value::Array(pending));
            } else if pending.is_empty() {
                println!("No pending pairing requests.");
            } else {
                println!("Pending\n{}", pending_table(&pending, now));
            }
            Ok(Outcome::Done)
        }
        NodesSub::Approve { request_id, .. } => {
            // Say which requests exist when the id is not one of them.
            if let Ok(v) = s.call("node.pair.list", json!({})).await {
                let (pending, _) = pairing_list(&v);
                if !pending
                    .iter()
                    .any(|p| p["requestId"] == request_id.as_str())
                {
                    let ids: Vec<&str> = pending
                        .iter()
                        .filter_map(|p| p["requestId"].as_str())
                        .collect();
                    return Err(Failure::Message(unknown_request(request_id, Some(&ids))));
                }
            }
            let r = s
                .call("node.pair.approve", json!({"requestId": request_id}))
                .await
                .map_err(|f| unknown_request_failure(f, request_id))?;
            print_json(&r);
            Ok(Outcome::Done)
        }
        NodesSub::Reject { request_id, .. } => {
            let r = s
                .call("node.pair.reject", json!({"requestId": request_id}))
                .await
                .map_err(|f| unknown_request_failure(f, request_id))?;
            print_json(&r);
            Ok(Outcome::Done)
        }
        NodesSub::Remove { node, conn } => {
            let id = resolve_with(s, node).await?;
            let r = s.call("node.pair.remove", json!({"nodeId": id})).await?;
            json_or(conn.json, &r, || {
                println!("Removed paired node {}", clean(&id))
            })
        }
        NodesSub::Rename { node, name, conn } => {
            let id = resolve_with(s, node).await?;
            let name = name.trim();
            let r = s
                .call("node.rename", json!({"nodeId": id, "displayName": name}))
                .await?;
            json_or(conn.json, &r, || {
                println!("node rename ok: {} -> {}", clean(&id), clean(name))
            })
        }
        NodesSub::Describe { node, conn } => {
            let id = resolve_with(s, node).await?;
            let r = s.call("node.describe", json!({"nodeId": id})).await?;
            json_or(conn.json, &r, || {
                print!("{}", human_describe(&id, &r, now, conn))
            })
        }
        NodesSub::Invoke { node, conn, .. } => {
            let Some(args) = invoke else {
                return Err(Failure::Message("--node and --command required".into()));
            };
            let id = resolve_with(s, node).await?;
            let budget = conn
                .timeout
                .max(args.timeout_ms.saturating_add(INVOKE_TRANSPORT_GRACE_MS));
            let r = s
                .call_within(
                    "node.invoke",
                    args.to_params(&id),
                    Duration::from_millis(budget),
                )
                .await?;
            print_json(&r);
            Ok(Outcome::Done)
        }
    }
}

fn failure_text(f: &Failure) -> String {
    match f {
        Failure::Transport { message, .. } => message.clone(),
        Failure::Gateway { message, .. } | Failure::Message(message) => message.clone(),
    }
}

fn unknown_request(id: &str, pending: Option<&[&str]>) -> String {
    let mut lines = vec![format!("Unknown node pairing requestId: {id}")];
    match pending {
        Some([]) => lines.push("No pending node pairing requests are currently visible.".into()),
        Some(ids) => lines.push(format!("Pending requestIds: {}", ids.join(", "))),
        None => {}
    }
    lines.push("Run openclaw nodes pending to inspect current requests.".into());
    lines.join("\n")
}

fn unknown_request_failure(f: Failure, id: &str) -> Failure {
    match &f {
        Failure::Gateway { code, message }
            if code == "INVALID_REQUEST" && message == "unknown requestId" =>
        {
            Failure::Message(unknown_request(id, None))
        }
        _ => f,
    }
}

/// Resolves `--node` through `node.list` (paired nodes from `node.pair.list` when the
/// gateway has no `node.list`).
async fn resolve_with(s: &Session, query: &str) -> Result<String, Failure> {
    let nodes = match s.call("node.list", json!({})).await {
        Ok(v) => node_list(&v),
        Err(Failure::Gateway { code, message })
            if code == "INVALID_REQUEST" && message == "unknown method: node.list" =>
        {
            pairing_list(&s.call("node.pair.list", json!({})).await?).1
        }
        Err(f) => return Err(f),
    };
    resolve_node(&nodes, query).map_err(Failure::Message)
}

fn node_list(v: &Value) -> Vec<Value> {
    v["nodes"].as_array().cloned().unwrap_or_default()
}

/// `node.pair.list` → (pending, paired), dropping rows without their ids.
fn pairing_list(v: &Value) -> (Vec<Value>, Vec<Value>) {
    let rows = |k: &str, ids: &[&str]| -> Vec<Value> {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .filter(|r| {
                        ids.iter()
                            .all(|id| r[*id].as_str().is_some_and(|s| !s.trim().is_empty()))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    (
        rows("pending", &["requestId", "nodeId"]),
        rows("paired", &["nodeId"]),
    )
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// Lower-case words joined by `-`: "Build Box" and "build-box" name the same node.
fn node_key(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn candidate_label(n: &Value) -> String {
    let label = ["displayName", "remoteIp", "nodeId"]
        .iter()
        .find_map(|k| n[*k].as_str().filter(|s| !s.is_empty()))
        .unwrap_or("");
    let mut details = vec![format!("node={}", str_of(n, "nodeId"))];
    if let Some(c) = n["clientId"]
        .as_str()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        details.push(format!("client={c}"));
    }
    format!("{label} [{}]", details.join(", "))
}

/// The node a `--node` query names: exact id, then exact remote IP, then display name
/// (case and punctuation ignored) or an id prefix of at least 6 characters. Among several
/// matches connected ones win; still several → an error listing them.
pub fn resolve_node(nodes: &[Value], query: &str) -> Result<String, String> {
    let q = query.trim();
    if q.is_empty() {
        return Err("node required".into());
    }
    let mut matches: Vec<&Value> = nodes.iter().filter(|n| n["nodeId"] == q).collect();
    if matches.is_empty() {
        matches = nodes.iter().filter(|n| n["remoteIp"] == q).collect();
    }
    if matches.is_empty() {
        let key = node_key(q);
        let score = |n: &Value| {
            let name = node_key(str_of(n, "displayName"));
            if !name.is_empty() && name == key {
                2
            } else if q.chars().count() >= 6 && str_of(n, "nodeId").starts_with(q) {
                1
            } else {
                0
            }
        };
        let best = nodes.iter().map(score).max().unwrap_or(0);
        if best > 0 {
            matches = nodes.iter().filter(|n| score(n) == best).collect();
        }
    }
    if matches.is_empty() {
        let known: Vec<&str> = nodes
            .iter()
            .filter_map(|n| {
                ["displayName", "remoteIp", "nodeId"]
                    .iter()
                    .find_map(|k| n[*k].as_str().filter(|s| !s.is_empty()))
            })
            .collect();
        return Err(if known.is_empty() {
            format!("unknown node: {q}")
        } else {
            format!("unknown node: {q} (known: {})", known.join(", "))
        });
    }
    let connected: Vec<&Value> = matches
        .iter()
        .copied()
        .filter(|n| n["connected"] == true)
        .collect();
    let matches = if connected.is_empty() {
        matches
    } else {
        connected
    };
    if let [only] = matches.as_slice() {
        return Ok(str_of(only, "nodeId").to_string());
    }
    // A node migrated from clawdbot shows up twice; the current client is the one meant.
    let client = |n: &Value| str_of(n, "clientId").to_ascii_lowercase();
    let current: Vec<&&Value> = matches
        .iter()
        .filter(|n| client(n).starts_with("openclaw-"))
        .collect();
    let legacy = matches
        .iter()
        .filter(|n| {
            let c = client(n);
            c.starts_with("clawdbot-") || c.starts_with("moldbot-")
        })
        .count();
    if let [one] = current.as_slice()
        && legacy > 0
        && legacy + 1 == matches.len()
    {
        return Ok(str_of(one, "nodeId").to_string());
    }
    Err(format!(
        "ambiguous node: {q} (matches: {})",
        matches
            .iter()
            .map(|n| candidate_label(n))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Paired rows from `node.pair.list` overlaid with the live `node.list` entries of paired
/// nodes (live fields win), as the reference's `nodes list` shows them.
pub fn merge_paired(paired: &[Value], live: Option<&[Value]>) -> Vec<Value> {
    let Some(live) = live else {
        return paired.to_vec();
    };
    let mut rows = Vec::new();
    let mut seen = Vec::new();
    for eff in live {
        let id = str_of(eff, "nodeId");
        let stored = paired.iter().find(|p| p["nodeId"] == id);
        if stored.is_none() && eff["paired"] != true {
            continue;
        }
        seen.push(id.to_string());
        let mut row: Map<String, Value> = stored
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(e) = eff.as_object() {
            row.extend(e.clone());
        }
        let stored_field = |k: &str| stored.map(|p| p[k].clone()).unwrap_or(Value::Null);
        match stored_field("createdAtMs") {
            Value::Null => row.remove("createdAtMs"),
            v => row.insert("createdAtMs".into(), v),
        };
        let last = [
            eff["lastConnectedAtMs"].clone(),
            stored_field("lastConnectedAtMs"),
            eff["connectedAtMs"].clone(),
        ]
        .into_iter()
        .find(|v| !v.is_null());
        if let Some(v) = last {
            row.insert("lastConnectedAtMs".into(), v);
        }
        for k in [
            "displayName",
            "platform",
            "version",
            "coreVersion",
            "uiVersion",
            "remoteIp",
            "permissions",
            "approvedAtMs",
        ] {
            let v = stored_field(k);
            if eff[k].is_null() && !v.is_null() {
                row.insert(k.into(), v);
            }
        }
        rows.push(Value::Object(row));
    }
    for p in paired {
        if !seen.iter().any(|id| p["nodeId"] == id.as_str()) {
            rows.push(p.clone());
        }
    }
    rows
}

fn node_label(n: &Value) -> String {
    match n["displayName"].as_str().map(str::trim) {
        Some(name) if !name.is_empty() => clean(name),
        _ => clean(str_of(n, "nodeId")),
    }
}

fn pending_table(pending: &[Value], now: i64) -> String {
    let rows: Vec<Vec<String>> = pending
        .iter()
        .map(|r| {
            vec![
                clean(str_of(r, "requestId")),
                node_label(r),
                clean(str_of(r, "remoteIp")),
                r["ts"]
                    .as_i64()
                    .map(|t| ago(now - t))
                    .unwrap_or_else(|| "unknown".into()),
            ]
        })
        .collect();
    render(&["Request", "Node", "IP", "Requested"], &rows)
}

fn sorted_strings(v: &Value) -> Option<Vec<String>> {
    let mut out: Vec<String> = v
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(clean)
        .collect();
    out.sort();
    Some(out)
}

/// `[camera=yes, screen=no]`, sorted; `None` when there are none.
fn permissions(v: &Value) -> Option<String> {
    let map = v.as_object()?;
    let mut entries: Vec<(String, bool)> = map
        .iter()
        .filter(|(k, _)| !k.trim().is_empty())
        .map(|(k, v)| (clean(k.trim()), v == &Value::Bool(true)))
        .collect();
    if entries.is_empty() {
        return None;
    }
    entries.sort();
    let parts: Vec<String> = entries
        .iter()
        .map(|(k, g)| format!("{k}={}", if *g { "yes" } else { "no" }))
        .collect();
    Some(format!("[{}]", parts.join(", ")))
}

fn version_label(v: &str) -> String {
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        format!("v{v}")
    } else {
        v.to_string()
    }
}

/// `core v2026.9.6 · ui v1.2`; a bare `version` is the core's on desktop platforms.
fn versions(n: &Value) -> Option<String> {
    let get = |k: &str| n[k].as_str().map(str::trim).filter(|s| !s.is_empty());
    let (core, ui) = match (get("coreVersion"), get("uiVersion")) {
        (None, None) => match get("version") {
            None => (None, None),
            Some(v) => {
                let platform = get("platform").unwrap_or("").to_ascii_lowercase();
                if ["darwin", "linux", "win32", "windows"].contains(&platform.as_str()) {
                    (Some(v), None)
                } else {
                    (None, Some(v))
                }
            }
        },
        other => other,
    };
    let parts: Vec<String> = [
        core.map(|c| format!("core {}", version_label(c))),
        ui.map(|u| format!("ui {}", version_label(u))),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| clean(&parts.join(" · ")))
}

/// A long PATH shortened to its first two and last entries.
fn path_env(n: &Value) -> Option<String> {
    let raw = n["pathEnv"].as_str()?.trim();
    if raw.is_empty() {
        return None;
    }
    let platform = str_of(n, "platform").to_ascii_lowercase();
    let sep = if platform == "win32" || platform == "windows" {
        ';'
    } else {
        ':'
    };
    let parts: Vec<&str> = raw.split(sep).filter(|p| !p.is_empty()).collect();
    let shown = if parts.len() <= 3 {
        raw.to_string()
    } else {
        format!(
            "{}{sep}{}{sep}…{sep}{}",
            parts[0],
            parts[1],
            parts[parts.len() - 1]
        )
    };
    Some(clean(&shown))
}

fn client_label(n: &Value) -> Option<String> {
    let get = |k: &str| n[k].as_str().map(str::trim).filter(|s| !s.is_empty());
    match (get("clientId"), get("clientMode")) {
        (Some(id), Some(mode)) => Some(format!("{id}/{mode}")),
        (a, b) => a.or(b).map(String::from),
    }
    .map(|s| clean(&s))
}

fn approval_label(state: &str) -> Option<&'static str> {
    match state {
        "approved" => Some("approved"),
        "pending-approval" => Some("approval pending"),
        "pending-reapproval" => Some("reapproval pending"),
        "unapproved" => Some("unapproved"),
        _ => None,
    }
}

/// The human `nodes status`: counts, one row per node, and the approve command for every
/// node whose command surface waits for approval.
pub fn human_status(nodes: &[Value], total: usize, now: i64, conn: &ConnArgs) -> String {
    let paired = nodes.iter().filter(|n| n["paired"] == true).count();
    let connected = nodes.iter().filter(|n| n["connected"] == true).count();
    let of = if nodes.len() != total {
        format!(" (of {total})")
    } else {
        String::new()
    };
    let mut out = format!(
        "Known: {}{of} · Paired: {paired} · Connected: {connected}\n",
        nodes.len()
    );
    if nodes.is_empty() {
        return out;
    }
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let detail: Vec<String> = [
                client_label(n).map(|c| format!("client: {c}")),
                n["deviceFamily"]
                    .as_str()
                    .map(|d| format!("device: {}", clean(d))),
                n["modelIdentifier"]
                    .as_str()
                    .map(|m| format!("hw: {}", clean(m))),
                permissions(&n["permissions"]).map(|p| format!("perms: {p}")),
                versions(n),
                path_env(n).map(|p| format!("path: {p}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            let mut status = pair_state(n);
            if let Some(t) = n["connectedAtMs"].as_i64() {
                status.push_str(&format!(" ({})", ago(now - t)));
            }
            if let Some(a) = approval_label(str_of(n, "approvalState")) {
                status.push_str(&format!(" · {a}"));
            }
            vec![
                node_label(n),
                clean(str_of(n, "nodeId")),
                clean(str_of(n, "remoteIp")),
                detail.join(" · "),
                status,
                sorted_strings(&n["caps"])
                    .map(|c| c.join(", "))
                    .unwrap_or_else(|| "?".into()),
            ]
        })
        .collect();
    out.push_str(&render(
        &["Node", "ID", "IP", "Detail", "Status", "Caps"],
        &rows,
    ));
    out.push('\n');
    for n in nodes {
        if let Some(line) = pending_approval_line(n, conn) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn pending_approval_line(n: &Value, conn: &ConnArgs) -> Option<String> {
    let state = str_of(n, "approvalState");
    let request = n["pendingRequestId"]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())?;
    let action = match state {
        "pending-approval" => "Approval",
        "pending-reapproval" => "Reapproval",
        _ => return None,
    };
    Some(format!(
        "{action} pending for {}. Run {}",
        node_label(n),
        approve_command_for("nodes", request, &without_json(conn))
    ))
}

/// The approve hint never carries `--json` (the reference keeps only the timeout).
fn without_json(conn: &ConnArgs) -> ConnArgs {
    ConnArgs {
        json: false,
        url: None,
        token: None,
        password: None,
        timeout: conn.timeout,
    }
}

/// The human `nodes describe`: a field table, then the effective (and pending) commands.
pub fn human_describe(node_id: &str, d: &Value, now: i64, conn: &ConnArgs) -> String {
    let get = |k: &str| d[k].as_str().map(str::trim).filter(|s| !s.is_empty());
    let state = get("approvalState").and_then(|s| approval_label(s).map(|l| (s, l)));
    let pending_id = get("pendingRequestId");
    let approve = match (state, pending_id) {
        (Some((s, _)), Some(id)) if s.starts_with("pending-") => Some((
            if s == "pending-reapproval" {
                "Reapprove"
            } else {
                "Approve"
            },
            approve_command_for("nodes", id, &without_json(conn)),
        )),
        _ => None,
    };
    let status = pair_state(d);
    let last_input = d["lastActiveAtMs"].as_i64().map(|t| {
        let active = if d["active"] == true {
            " (active node)"
        } else {
            ""
        };
        format!("{}{active}", ago(now - t))
    });
    let fields: Vec<(&str, Option<String>)> = vec![
        ("ID", Some(clean(node_id))),
        ("Name", Some(clean(get("displayName").unwrap_or(node_id)))),
        ("Client", client_label(d)),
        ("IP", get("remoteIp").map(clean)),
        ("Device", get("deviceFamily").map(clean)),
        ("Model", get("modelIdentifier").map(clean)),
        ("Perms", permissions(&d["permissions"])),
        ("Version", versions(d)),
        ("PATH", get("pathEnv").map(clean)),
        ("Last input", last_input),
        ("Status", Some(status)),
        ("Approval", state.map(|(_, l)| l.to_string())),
        ("Pending request", pending_id.map(clean)),
        (
            "Pending caps",
            sorted_strings(&d["pendingDeclaredCaps"]).map(|c| c.join(", ")),
        ),
        (
            "Pending perms",
            permissions(&d["pendingDeclaredPermissions"]),
        ),
        (
            approve.as_ref().map(|a| a.0).unwrap_or("Approve"),
            approve.as_ref().map(|a| a.1.clone()),
        ),
        (
            "Caps",
            Some(
                sorted_strings(&d["caps"])
                    .map(|c| c.join(", "))
                    .unwrap_or_else(|| "?".into()),
            ),
        ),
    ];
    let rows: Vec<Vec<String>> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| vec![k.to_string(), v]))
        .collect();
    let mut out = format!("Node\n{}\n\nCommands\n", render(&["Field", "Value"], &rows));
    let commands = sorted_strings(&d["commands"]).unwrap_or_default();
    if commands.is_empty() {
        out.push_str("- (none effective)\n");
    }
    for c in &commands {
        out.push_str(&format!("- {c}\n"));
    }
    let pending = sorted_strings(&d["pendingDeclaredCommands"]).unwrap_or_default();
    if !pending.is_empty() {
        out.push_str("\nPending commands\n");
        for c in &pending {
            out.push_str(&format!("- {c}\n"));
        }
    }
    out
}

/// Prints the raw answer for `--json`, else the human line(s).
fn json_or(json: bool, r: &Value, human: impl FnOnce()) -> Result<Outcome, Failure> {
    if json {
        print_json(r);
    } else {
        human();
    }
    Ok(Outcome::Done)
}

/// "paired · connected" and the like.
fn pair_state(n: &Value) -> String {
    format!(
        "{} · {}",
        if n["paired"] == true {
            "paired"
        } else {
            "unpaired"
        },
        if n["connected"] == true {
            "connected"
        } else {
            "disconnected"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn conn() -> ConnArgs {
        ConnArgs {
            timeout: 10_000,
            ..ConnArgs::default()
        }
    }

    const ID: &str = "194f3d739cf59548c48ca1575e1b54db14fc7d892d7d78615547a60bb80f26c0";

    #[test]
    fn a_node_is_found_by_id_prefix_name_or_ip() {
        let nodes = node_list(&fixture("node.list.json"));
        assert_eq!(resolve_node(&nodes, ID).unwrap(), ID);
        assert_eq!(resolve_node(&nodes, "194f3d").unwrap(), ID);
        assert_eq!(resolve_node(&nodes, "VM").unwrap(), ID);
        // Too short a prefix is no match.
        assert_eq!(
            resolve_node(&nodes, "194f").unwrap_err(),
            "unknown node: 194f (known: vm)"
        );
        assert_eq!(resolve_node(&nodes, "  ").unwrap_err(), "node required");

        let two = vec![
            json!({"nodeId": "aaaaaa11", "displayName": "Build Box", "remoteIp": "10.0.0.5",
                   "clientId": "node-host"}),
            json!({"nodeId": "aaaaaa22", "displayName": "build-box", "connected": false}),
        ];
        assert_eq!(resolve_node(&two, "10.0.0.5").unwrap(), "aaaaaa11");
        let err = resolve_node(&two, "build box").unwrap_err();
        assert_eq!(
            err,
            "ambiguous node: build box (matches: Build Box [node=aaaaaa11, client=node-host], build-box [node=aaaaaa22])"
        );
        assert!(
            resolve_node(&two, "aaaaaa")
                .unwrap_err()
                .starts_with("ambiguous node: aaaaaa")
        );
        // A connected match beats a disconnected one.
        let mut two = two;
        two[1]["connected"] = json!(true);
        assert_eq!(resolve_node(&two, "BUILD_BOX").unwrap(), "aaaaaa22");
        // A node seen under its clawdbot-era client and its current one: the current wins.
        let migrated = vec![
            json!({"nodeId": "m1", "displayName": "mac", "clientId": "clawdbot-macos"}),
            json!({"nodeId": "m2", "displayName": "mac", "clientId": "openclaw-macos"}),
        ];
        assert_eq!(resolve_node(&migrated, "mac").unwrap(), "m2");
    }

    #[test]
    fn pending_json_is_the_array_of_requests() {
        let (pending, paired) = pairing_list(&fixture("node.pair.list.json"));
        assert_eq!(Value::Array(pending), fixture("nodes_pending_cli.json"));
        assert!(paired.is_empty());
        let (pending, _) = pairing_list(&json!({"pending": [{"requestId": "r"}, 5]}));
        assert!(pending.is_empty());
    }

    #[test]
    fn list_merges_live_entries_into_paired_rows() {
        let live = node_list(&fixture("node.list.json"));
        let stored = vec![json!({"nodeId": ID, "token": "secret", "createdAtMs": 7,
                                  "remoteIp": "10.1.1.1", "displayName": "old"})];
        let merged = merge_paired(&stored, Some(&live));
        assert_eq!(merged.len(), 1);
        let row = &merged[0];
        assert_eq!(row["displayName"], "vm");
        assert_eq!(row["remoteIp"], "10.1.1.1");
        assert_eq!(row["createdAtMs"], 7);
        assert_eq!(row["approvalState"], "approved");
        // A live node that is not paired is not listed; a stored one that is not live is.
        let mut unpaired = live[0].clone();
        unpaired["paired"] = json!(false);
        unpaired["nodeId"] = json!("other");
        let offline = json!({"nodeId": "gone"});
        let merged = merge_paired(std::slice::from_ref(&offline), Some(&[unpaired]));
        assert_eq!(merged, vec![offline]);
        // Live paired nodes show up even when the pairing store does not list them.
        let merged = merge_paired(&[], Some(&live));
        assert_eq!(merged[0]["nodeId"], ID);
        assert!(merged[0].get("createdAtMs").is_none());
    }

    #[test]
    fn status_rows_and_the_pending_approval_hint() {
        let before = node_list(&fixture("node.list.before_approve.json"));
        let mut node = before[0].clone();
        node["pendingRequestId"] = json!("302f2fdb-272d-493f-a8ed-c1b71326c233");
        let now = node["connectedAtMs"].as_i64().unwrap() + 5_000;
        let text = human_status(&[node], 1, now, &conn());
        assert!(
            text.starts_with("Known: 1 · Paired: 1 · Connected: 1\n"),
            "{text}"
        );
        assert!(
            text.contains("paired · connected (just now) · approval pending"),
            "{text}"
        );
        assert!(
            text.contains("client: node-host/node · device: Linux · core v2026.9.6"),
            "{text}"
        );
        assert!(
            text.contains(
                "Approval pending for vm. Run openclaw nodes approve 302f2fdb-272d-493f-a8ed-c1b71326c233"
            ),
            "{text}"
        );
        let after = node_list(&fixture("node.list.json"));
        let text = human_status(&after, 3, now, &conn());
        assert!(text.starts_with("Known: 1 (of 3)"), "{text}");
        assert!(
            text.contains("browser, file, local-inference, mcp, system"),
            "{text}"
        );
        assert!(!text.contains("Approval pending"), "{text}");
    }

    #[test]
    fn describe_lists_fields_and_commands() {
        let d = fixture("node.describe.json");
        let text = human_describe(ID, &d, 0, &conn());
        assert!(text.starts_with("Node\nField"), "{text}");
        assert!(text.contains("\nName     "), "{text}");
        assert!(text.contains("paired · connected"), "{text}");
        assert!(text.contains("\nCommands\n- browser.proxy\n"), "{text}");
        assert!(text.contains("- system.which\n"), "{text}");
        let bare = human_describe("n1", &json!({"commands": []}), 0, &conn());
        assert!(bare.contains("- (none effective)"), "{bare}");
        assert!(bare.contains("unpaired · disconnected"), "{bare}");
    }

    #[test]
    fn invoke_arguments_are_checked_before_connecting() {
        let a = InvokeArgs::parse("system.which", r#"{"bins":["sh"]}"#, None, Some("k1")).unwrap();
        assert_eq!(
            a.to_params("n1"),
            json!({"nodeId": "n1", "command": "system.which", "params": {"bins": ["sh"]},
                   "timeoutMs": 15000, "idempotencyKey": "k1"})
        );
        let fresh = InvokeArgs::parse("x.y", "{}", Some("500"), None).unwrap();
        assert_eq!(fresh.timeout_ms, 500);
        assert!(uuid::Uuid::parse_str(&fresh.idempotency_key).is_ok());
        assert_eq!(
            InvokeArgs::parse("system.which", "x{", None, None).unwrap_err(),
            "--params must be valid JSON."
        );
        assert!(
            InvokeArgs::parse("System.Run", "{}", None, None)
                .unwrap_err()
                .contains("reserved for shell execution")
        );
        assert_eq!(
            InvokeArgs::parse("a", "{}", Some("0"), None).unwrap_err(),
            "--invoke-timeout must be a positive integer."
        );
        assert_eq!(
            InvokeArgs::parse("a", "{}", None, Some("")).unwrap_err(),
            "--idempotency-key must not be empty."
        );
    }

    #[test]
    fn durations_parse_like_the_reference() {
        assert_eq!(parse_duration_ms("24h").unwrap(), 86_400_000);
        assert_eq!(parse_duration_ms("90s").unwrap(), 90_000);
        assert_eq!(parse_duration_ms("1.5m").unwrap(), 90_000);
        assert_eq!(parse_duration_ms("250").unwrap(), 250);
        assert!(parse_duration_ms("soon").is_err());
        assert!(parse_duration_ms("5y").is_err());
    }

    #[test]
    fn unknown_request_messages() {
        assert_eq!(
            unknown_request("nope", Some(&["a", "b"])),
            "Unknown node pairing requestId: nope\nPending requestIds: a, b\nRun openclaw nodes pending to inspect current requests."
        );
        assert_eq!(
            unknown_request("nope", Some(&[])),
            "Unknown node pairing requestId: nope\nNo pending node pairing requests are currently visible.\nRun openclaw nodes pending to inspect current requests."
        );
    }
}
