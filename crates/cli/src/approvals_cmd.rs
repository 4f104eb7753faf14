//! `openclaw approvals get|set|pending|resolve|allowlist add|remove` (alias `exec-approvals`):
//! the exec approvals policy of this machine (the local file), of the gateway (`--gateway`:
//! `exec.approvals.get/set`) or of a node (`--node <id>`: `exec.approvals.node.get/set`), and
//! the gateway's pending approvals (`exec.approval.list`, `approval.get/resolve`), with the
//! reference CLI's `--json` shapes. Every write is a compare-and-swap on the file's hash.

use clap::{Args, Subcommand};
use openclaw_config::Paths;
use openclaw_gateway::exec_approvals::file::{Approvals, ApprovalsFile, FILE_NAME, Snapshot};
use serde_json::{Value, json};

use crate::rpc::{Failure, Session, print_json};
use crate::{ConnArgs, Outcome};

#[derive(Args, Debug)]
pub struct ApprovalsCmd {
    #[command(subcommand)]
    pub sub: ApprovalsSub,
}

/// Which host's policy a command reads or writes.
#[derive(Args, Debug, Clone, Default)]
pub struct Target {
    /// Target node id.
    #[arg(long)]
    pub node: Option<String>,
    /// Force gateway approvals.
    #[arg(long, conflicts_with = "node")]
    pub gateway: bool,
}

impl Target {
    fn remote(&self) -> bool {
        self.gateway || self.node.is_some()
    }

    fn label(&self) -> String {
        match (&self.node, self.gateway) {
            (Some(n), _) => format!("node:{n}"),
            (None, true) => "gateway".into(),
            (None, false) => "local".into(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ApprovalsSub {
    /// Fetch exec approvals snapshot.
    Get {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Replace exec approvals with a JSON file.
    Set {
        /// Path to the JSON file to upload.
        path: Option<String>,
        #[arg(long = "file")]
        file: Option<String>,
        /// Read JSON from stdin.
        #[arg(long)]
        stdin: bool,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// List pending approvals.
    Pending {
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Resolve a pending approval (allow-once, allow-always, deny).
    Resolve {
        id: String,
        decision: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Edit the per-agent allowlist.
    Allowlist {
        #[command(subcommand)]
        sub: AllowlistSub,
    },
}

#[derive(Subcommand, Debug)]
pub enum AllowlistSub {
    /// Add a glob pattern to an allowlist.
    Add(AllowlistArgs),
    /// Remove a glob pattern from an allowlist.
    Remove(AllowlistArgs),
}

#[derive(Args, Debug)]
pub struct AllowlistArgs {
    pub pattern: String,
    /// Agent id (defaults to "*").
    #[arg(long)]
    pub agent: Option<String>,
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub conn: ConnArgs,
}

const DECISIONS: [&str; 3] = ["allow-once", "allow-always", "deny"];

pub async fn run(paths: &Paths, dev: bool, cmd: ApprovalsCmd) -> Outcome {
    let (label, conn, remote) = match &cmd.sub {
        ApprovalsSub::Get { conn, target } => ("approvals get", conn, target.remote()),
        ApprovalsSub::Set { conn, target, .. } => ("approvals set", conn, target.remote()),
        ApprovalsSub::Pending { conn } => ("approvals pending", conn, true),
        ApprovalsSub::Resolve { conn, .. } => ("approvals resolve", conn, true),
        ApprovalsSub::Allowlist {
            sub: AllowlistSub::Add(a),
        } => ("approvals allowlist add", &a.conn, a.target.remote()),
        ApprovalsSub::Allowlist {
            sub: AllowlistSub::Remove(a),
        } => ("approvals allowlist remove", &a.conn, a.target.remote()),
    };
    let json = conn.json;
    let session = if remote {
        match Session::open(paths, dev, conn).await {
            Ok(s) => Some(s),
            Err(f) => return f.print(label, json),
        }
    } else {
        None
    };
    let host = Host {
        session: session.as_ref(),
        local: Approvals::new(paths.state_dir.join(FILE_NAME)),
    };
    let result = dispatch(&host, &cmd.sub).await;
    drop(host);
    if let Some(s) = session {
        s.close().await;
    }
    match result {
        Ok(outcome) => outcome,
        Err(f) => f.print(label, json),
    }
}

/// Where the policy lives for this invocation.
struct Host<'a> {
    session: Option<&'a Session>,
    local: Approvals,
}

fn fail(msg: impl Into<String>) -> Failure {
    Failure::Message(msg.into())
}

impl Host<'_> {
    fn session(&self) -> Result<&Session, Failure> {
        self.session
            .ok_or_else(|| fail("this command needs a running gateway"))
    }

    /// `{path, exists, hash, file, …}` of the target.
    async fn load(&self, target: &Target) -> Result<Value, Failure> {
        if !target.remote() {
            let snap = self.local.snapshot().map_err(|e| fail(e.message))?;
            return Ok(snapshot_json(&snap));
        }
        let s = self.session()?;
        match &target.node {
            Some(node) => {
                s.call("exec.approvals.node.get", json!({"nodeId": node}))
                    .await
            }
            None => s.call("exec.approvals.get", json!({})).await,
        }
    }

    async fn save(&self, target: &Target, file: Value, base_hash: &str) -> Result<Value, Failure> {
        if !target.remote() {
            let parsed = ApprovalsFile::from_value(file)
                .map_err(|e| fail(format!("invalid exec approvals file: {e}")))?;
            let snap = self
                .local
                .set(parsed, Some(base_hash))
                .await
                .map_err(|e| fail(e.message))?;
            return Ok(snapshot_json(&snap));
        }
        let s = self.session()?;
        match &target.node {
            Some(node) => {
                s.call(
                    "exec.approvals.node.set",
                    json!({"nodeId": node, "file": file, "baseHash": base_hash}),
                )
                .await?;
                s.call("exec.approvals.node.get", json!({"nodeId": node}))
                    .await
            }
            None => {
                s.call(
                    "exec.approvals.set",
                    json!({"file": file, "baseHash": base_hash}),
                )
                .await
            }
        }
    }
}

fn snapshot_json(s: &Snapshot) -> Value {
    serde_json::to_value(s).unwrap_or_default()
}

/// The snapshot as printed: the socket token never shown.
fn redacted(mut v: Value) -> Value {
    if let Some(sock) = v
        .get_mut("file")
        .and_then(|f| f.get_mut("socket"))
        .and_then(Value::as_object_mut)
    {
        sock.remove("token");
    }
    v
}

async fn dispatch(h: &Host<'_>, sub: &ApprovalsSub) -> Result<Outcome, Failure> {
    match sub {
        ApprovalsSub::Get { target, conn } => {
            let snap = redacted(h.load(target).await?);
            if conn.json {
                let mut out = snap;
                out["effectivePolicy"] = json!({"scopes": [], "note":
                    "Effective exec policy is the host approvals policy intersected with requested tools.exec policy."});
                print_json(&out);
            } else {
                print!("{}", human_snapshot(&snap, &target.label()));
            }
            Ok(Outcome::Done)
        }
        ApprovalsSub::Set {
            path,
            file,
            stdin,
            target,
            conn,
        } => {
            let source = path.as_ref().or(file.as_ref());
            let raw = match (source, *stdin) {
                (None, false) => return Err(fail("Provide --file or --stdin.")),
                (Some(_), true) => return Err(fail("Use either --file or --stdin (not both).")),
                (Some(p), false) => std::fs::read_to_string(p)
                    .map_err(|e| fail(format!("Failed to read {p}: {e}")))?,
                (None, true) => {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                        .map_err(|e| fail(format!("Failed to read stdin: {e}")))?;
                    s
                }
            };
            let mut input: Value = json5::from_str(&raw)
                .map_err(|e| fail(format!("Failed to parse approvals JSON: {e}")))?;
            if !input.is_object() {
                return Err(fail("Exec approvals JSON must be an object."));
            }
            input["version"] = json!(1);
            let current = h.load(target).await?;
            let hash = current["hash"].as_str().unwrap_or_default().to_string();
            let next = redacted(h.save(target, input, &hash).await?);
            print_saved(&next, target, conn.json);
            Ok(Outcome::Done)
        }
        ApprovalsSub::Pending { conn } => {
            let s = h.session()?;
            let list = s.call("exec.approval.list", json!({})).await?;
            let mut entries: Vec<Value> = list
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(pending_entry)
                .collect();
            entries.sort_by_key(|e| std::cmp::Reverse(e["createdAtMs"].as_u64().unwrap_or(0)));
            if conn.json {
                print_json(&json!({"approvals": entries}));
            } else if entries.is_empty() {
                println!("No pending approvals.");
            } else {
                println!("Pending approvals ({})", entries.len());
                for e in &entries {
                    println!(
                        "{}  {}  {}",
                        e["id"].as_str().unwrap_or(""),
                        e["agentId"].as_str().unwrap_or("-"),
                        crate::table::clean(e["summary"].as_str().unwrap_or(""))
                    );
                }
            }
            Ok(Outcome::Done)
        }
        ApprovalsSub::Resolve { id, decision, conn } => {
            let id = id.trim();
            if id.is_empty() {
                return Err(fail("Approval id required."));
            }
            let decision = decision.trim();
            if !DECISIONS.contains(&decision) {
                return Err(fail(format!(
                    "Decision must be one of: {}.",
                    DECISIONS.join(", ")
                )));
            }
            let s = h.session()?;
            let r = s
                .call(
                    "approval.resolve",
                    json!({"id": id, "kind": "exec", "decision": decision}),
                )
                .await?;
            let recorded = r["approval"]["decision"].as_str().unwrap_or("");
            if recorded != decision {
                return Err(fail(format!(
                    "Approval {id} was already resolved with {recorded}."
                )));
            }
            let applied = r["applied"].as_bool().unwrap_or(false);
            if conn.json {
                let mut out = r.clone();
                out["alreadyResolved"] = json!(!applied);
                print_json(&out);
            } else if applied {
                println!("Approval {id} resolved {decision}.");
            } else {
                println!("Approval {id} already resolved (same decision: {decision}).");
            }
            Ok(Outcome::Done)
        }
        ApprovalsSub::Allowlist { sub } => {
            let (args, add) = match sub {
                AllowlistSub::Add(a) => (a, true),
                AllowlistSub::Remove(a) => (a, false),
            };
            allowlist(h, args, add).await
        }
    }
}

/// An `exec.approval.list` entry in the reference CLI's pending shape.
fn pending_entry(v: Value) -> Option<Value> {
    let id = v["id"].as_str()?.to_string();
    let request = v.get("request")?;
    Some(json!({
        "id": id,
        "kind": "exec",
        "agentId": request["agentId"].as_str(),
        "sessionKey": request["sessionKey"].as_str(),
        "createdAtMs": v["createdAtMs"].as_u64()?,
        "expiresAtMs": v["expiresAtMs"].as_u64()?,
        "summary": request["command"].as_str().unwrap_or("(summary unavailable)"),
    }))
}

async fn allowlist(h: &Host<'_>, a: &AllowlistArgs, add: bool) -> Result<Outcome, Failure> {
    let pattern = a.pattern.trim();
    if pattern.is_empty() {
        return Err(fail("Pattern required."));
    }
    let agent = match &a.agent {
        None => "*".to_string(),
        Some(s) if s.trim().is_empty() => return Err(fail("--agent must not be blank")),
        Some(s) => s.trim().to_string(),
    };
    let snap = h.load(&a.target).await?;
    let Some(hash) = snap["hash"].as_str().map(str::to_string) else {
        return Err(fail("Exec approvals hash missing; reload and retry."));
    };
    let mut file = snap["file"].clone();
    if !file.is_object() {
        file = json!({});
    }
    file["version"] = json!(1);
    let mut entry = file["agents"][&agent].clone();
    if !entry.is_object() {
        entry = json!({});
    }
    let mut list: Vec<Value> = entry["allowlist"].as_array().cloned().unwrap_or_default();
    let same = |e: &Value| {
        e.get("pattern")
            .and_then(Value::as_str)
            .or_else(|| e.as_str())
            .map(str::trim)
            == Some(pattern)
    };
    let changed = if add {
        if list.iter().any(same) {
            eprintln!("Already allowlisted.");
            false
        } else {
            list.push(json!({"pattern": pattern, "lastUsedAt": crate::table::now_ms()}));
            true
        }
    } else {
        let before = list.len();
        list.retain(|e| !same(e));
        if list.len() == before {
            eprintln!("Pattern not found.");
            false
        } else {
            true
        }
    };
    if !changed {
        if a.conn.json {
            print_json(&redacted(snap));
        }
        return Ok(Outcome::Done);
    }
    let obj = entry
        .as_object_mut()
        .ok_or_else(|| fail("bad agent entry"))?;
    if list.is_empty() {
        obj.remove("allowlist");
    } else {
        obj.insert("allowlist".into(), Value::Array(list));
    }
    let empty_agent = obj.is_empty();
    if !file["agents"].is_object() {
        file["agents"] = json!({});
    }
    if let Some(agents) = file["agents"].as_object_mut() {
        if empty_agent {
            agents.remove(&agent);
        } else {
            agents.insert(agent.clone(), entry);
        }
    }
    let next = redacted(h.save(&a.target, file, &hash).await?);
    print_saved(&next, &a.target, a.conn.json);
    Ok(Outcome::Done)
}

fn print_saved(next: &Value, target: &Target, json: bool) {
    if json {
        print_json(next);
    } else {
        println!("Target: {}", target.label());
        print!("{}", human_snapshot(next, &target.label()));
    }
}

fn human_snapshot(v: &Value, target: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Approvals ({target}): {}{}\n",
        v["path"].as_str().unwrap_or("?"),
        if v["exists"].as_bool() == Some(false) {
            " (not created yet)"
        } else {
            ""
        }
    ));
    let file = &v["file"];
    let d = &file["defaults"];
    out.push_str(&format!(
        "Defaults: security={} ask={} askFallback={}\n",
        d["security"].as_str().unwrap_or("-"),
        d["ask"].as_str().unwrap_or("-"),
        d["askFallback"].as_str().unwrap_or("-")
    ));
    let agents = file["agents"].as_object().cloned().unwrap_or_default();
    if agents.is_empty() {
        out.push_str("No allowlist entries.\n");
    }
    for (id, a) in agents {
        out.push_str(&format!("Agent {id}:"));
        for k in ["security", "ask", "askFallback"] {
            if let Some(s) = a[k].as_str() {
                out.push_str(&format!(" {k}={s}"));
            }
        }
        out.push('\n');
        for e in a["allowlist"].as_array().cloned().unwrap_or_default() {
            let p = e["pattern"].as_str().or_else(|| e.as_str()).unwrap_or("?");
            out.push_str(&format!("  - {}\n", crate::table::clean(p)));
        }
    }
    out
}
