//! `openclaw agents list [--json] [--bindings]`: the configured agents as the running gateway
//! reports them (`agents.list`), with what only the local config tells (agent dir, routing
//! rules), in the reference CLI's shapes: JSON is an array of agent summaries, the human form
//! one block per agent.

use clap::{Args, Subcommand};
use openclaw_config::{Paths, load_config};
use serde_json::{Value, json};

use crate::rpc::{Session, print_json};
use crate::{ConnArgs, Outcome};

#[derive(Args, Debug)]
pub struct AgentsCmd {
    #[command(subcommand)]
    pub sub: AgentsSub,
}

#[derive(Subcommand, Debug)]
pub enum AgentsSub {
    /// List the configured agents.
    List {
        /// Show each agent's routing rules in full.
        #[arg(long)]
        bindings: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

pub async fn run(paths: &Paths, dev: bool, cmd: AgentsCmd) -> Outcome {
    let AgentsSub::List { bindings, conn } = cmd.sub;
    let session = match Session::open(paths, dev, &conn).await {
        Ok(s) => s,
        Err(f) => return f.print("agents list", conn.json),
    };
    let result = session.call("agents.list", json!({})).await;
    session.close().await;
    match result {
        Ok(list) => {
            let summaries = summaries(paths, &list, bindings);
            if conn.json {
                print_json(&Value::Array(summaries));
            } else {
                println!("{}", render(&summaries));
            }
            Outcome::Done
        }
        Err(f) => f.print("agents list", conn.json),
    }
}

/// One routing rule as a line: `channel accountId=… peer=kind:id`.
fn describe_binding(b: &openclaw_config::sections::Binding) -> String {
    let m = &b.matches;
    let mut parts = vec![m.channel.clone()];
    if let Some(a) = &m.account_id {
        parts.push(format!("accountId={a}"));
    }
    if let Some(p) = &m.peer {
        let id = match &p.id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        parts.push(format!("peer={}:{id}", p.kind));
    }
    parts.join(" ")
}

/// The reference's agent summaries from an `agents.list` result and the local config.
fn summaries(paths: &Paths, list: &Value, full_bindings: bool) -> Vec<Value> {
    let loaded = load_config(&paths.config_path).ok();
    let all_bindings: Vec<openclaw_config::sections::Binding> = loaded
        .as_ref()
        .and_then(|l| l.config.bindings.clone())
        .unwrap_or_default();
    let default_id = list["defaultId"].as_str().unwrap_or("main");
    let agents = list["agents"].as_array().cloned().unwrap_or_default();
    agents
        .iter()
        .map(|a| {
            let id = a["id"].as_str().unwrap_or_default();
            let mine: Vec<_> = all_bindings
                .iter()
                .filter(|b| b.agent_id.eq_ignore_ascii_case(id))
                .collect();
            let is_default = id == default_id;
            let mut s = json!({"id": id});
            if let Some(n) = a["name"].as_str() {
                s["name"] = json!(n);
            }
            let identity = &a["identity"];
            if let Some(n) = identity["name"].as_str() {
                s["identityName"] = json!(n);
            }
            if let Some(e) = identity["emoji"].as_str() {
                s["identityEmoji"] = json!(e);
            }
            if identity.is_object() {
                s["identitySource"] = json!("config");
            }
            s["workspace"] = a["workspace"].clone();
            s["agentDir"] = json!(
                paths
                    .state_dir
                    .join("agents")
                    .join(id)
                    .join("agent")
                    .to_string_lossy()
            );
            if let Some(m) = a["model"]["primary"].as_str() {
                s["model"] = json!(m);
            }
            s["bindings"] = json!(mine.len());
            s["isDefault"] = json!(is_default);
            if mine.is_empty() && is_default {
                s["routes"] = json!(["default (no explicit rules)"]);
            } else if !mine.is_empty() {
                let routes: Vec<String> = mine.iter().map(|b| describe_binding(b)).collect();
                s["routes"] = json!(routes);
            }
            if full_bindings && !mine.is_empty() {
                let details: Vec<String> = mine.iter().map(|b| describe_binding(b)).collect();
                s["bindingDetails"] = json!(details);
            }
            s
        })
        .collect()
}

/// The human listing: `Agents:` then one block per agent.
fn render(summaries: &[Value]) -> String {
    let mut lines = vec!["Agents:".to_string()];
    for s in summaries {
        let id = s["id"].as_str().unwrap_or_default();
        let tag = if s["isDefault"] == true {
            " (default)"
        } else {
            ""
        };
        match s["name"].as_str().filter(|n| *n != id) {
            Some(n) => lines.push(format!("- {id}{tag} ({n})")),
            None => lines.push(format!("- {id}{tag}")),
        }
        let identity: Vec<&str> = [&s["identityEmoji"], &s["identityName"]]
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        if !identity.is_empty() {
            lines.push(format!("  Identity: {} (config)", identity.join(" ")));
        }
        lines.push(format!(
            "  Workspace: {}",
            s["workspace"].as_str().unwrap_or("-")
        ));
        lines.push(format!(
            "  Agent dir: {}",
            s["agentDir"].as_str().unwrap_or("-")
        ));
        if let Some(m) = s["model"].as_str() {
            lines.push(format!("  Model: {m}"));
        }
        lines.push(format!("  Routing rules: {}", s["bindings"]));
        if let Some(routes) = s["routes"].as_array() {
            let r: Vec<&str> = routes.iter().filter_map(Value::as_str).collect();
            lines.push(format!("  Routing: {}", r.join(", ")));
        }
        if let Some(details) = s["bindingDetails"].as_array() {
            lines.push("  Routing rules:".into());
            for d in details.iter().filter_map(Value::as_str) {
                lines.push(format!("    - {d}"));
            }
        }
    }
    lines.push(
        "Routing rules map channel/account/peer to an agent. Use --bindings for full rules.".into(),
    );
    lines.join("\n")
}
