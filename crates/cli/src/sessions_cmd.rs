//! `openclaw sessions [--json] [--active N] [--agent ID | --all-agents] [--limit N|all]`: the
//! session index as the running gateway reports it (`sessions.list`, per agent), newest first,
//! in the reference CLI's shapes (the JSON envelope with `count`/`totalCount`/`hasMore`, and a
//! table of kind, key, age, model, tokens and flags).

use std::collections::HashMap;

use clap::Args;
use openclaw_config::Paths;
use serde_json::{Value, json};

use crate::rpc::{Failure, Session, print_json};
use crate::table::{ago, now_ms, render};
use crate::{ConnArgs, Outcome};

const DEFAULT_LIMIT: usize = 100;

#[derive(Args, Debug)]
pub struct SessionsArgs {
    /// Only sessions updated within the last N minutes.
    #[arg(long, value_name = "MINUTES")]
    pub active: Option<String>,
    /// The agent whose sessions to list (default: the default agent).
    #[arg(long, value_name = "ID", conflicts_with = "all_agents")]
    pub agent: Option<String>,
    /// List the sessions of every configured agent.
    #[arg(long)]
    pub all_agents: bool,
    /// At most N rows (default 100), or `all`.
    #[arg(long, value_name = "N|all")]
    pub limit: Option<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `--limit`: `None` = all; an error for anything but a positive integer or `all`.
fn parse_limit(raw: Option<&str>) -> Result<Option<usize>, ()> {
    match raw.map(str::trim) {
        None => Ok(Some(DEFAULT_LIMIT)),
        Some(s) if s.eq_ignore_ascii_case("all") => Ok(None),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(()),
        },
    }
}

fn parse_active(raw: Option<&str>) -> Result<Option<u64>, ()> {
    match raw.map(str::trim) {
        None => Ok(None),
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(()),
        },
    }
}

/// Refuses an argument with the reference's wording (exit 1, as its expected CLI errors).
fn refuse(message: &str, json: bool) -> Outcome {
    Failure::Message(message.into()).print("sessions", json)
}

/// One store's answer: its agent, path and rows.
struct Store {
    agent_id: String,
    path: Value,
    rows: Vec<Value>,
}

pub async fn run(paths: &Paths, dev: bool, args: SessionsArgs) -> Outcome {
    let json = args.conn.json;
    let Ok(active) = parse_active(args.active.as_deref()) else {
        return refuse(
            "--active must be a positive number of minutes, for example --active 30.",
            json,
        );
    };
    let Ok(limit) = parse_limit(args.limit.as_deref()) else {
        return refuse(
            "--limit must be a positive integer or \"all\", for example --limit 25.",
            json,
        );
    };
    let session = match Session::open(paths, dev, &args.conn).await {
        Ok(s) => s,
        Err(f) => return f.print("sessions", json),
    };
    let result = collect(&session, &args, active).await;
    session.close().await;
    let (stores, models) = match result {
        Ok(r) => r,
        Err(f) => return f.print("sessions", json),
    };
    let now = now_ms();
    let mut rows: Vec<Value> = stores
        .iter()
        .flat_map(|s| {
            s.rows
                .iter()
                .map(|r| display_row(r, &s.agent_id, &models, now))
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r["updatedAt"].as_i64().unwrap_or(0)));
    let total = rows.len();
    if let Some(l) = limit {
        rows.truncate(l);
    }
    let has_more = rows.len() < total;
    let aggregate = args.all_agents || stores.len() > 1;
    if json {
        let path = match (aggregate, stores.first()) {
            (false, Some(s)) => s.path.clone(),
            _ => Value::Null,
        };
        let mut out = json!({
            "path": path,
            "count": rows.len(),
            "totalCount": total,
            "limitApplied": limit,
            "hasMore": has_more,
            "activeMinutes": active,
            "sessions": rows,
        });
        if aggregate {
            out["stores"] = stores
                .iter()
                .map(|s| json!({"agentId": s.agent_id, "path": s.path}))
                .collect();
        }
        if args.all_agents {
            out["allAgents"] = json!(true);
        }
        print_json(&out);
        return Outcome::Done;
    }
    match (aggregate, stores.first()) {
        (false, Some(s)) => println!("Session store: {}", s.path.as_str().unwrap_or("-")),
        _ => {
            let ids: Vec<&str> = stores.iter().map(|s| s.agent_id.as_str()).collect();
            println!("Session stores: {} ({})", stores.len(), ids.join(", "));
        }
    }
    match limit {
        Some(l) if has_more => println!("Sessions listed: {} of {total} (limit {l})", rows.len()),
        _ => println!("Sessions listed: {}", rows.len()),
    }
    if let Some(m) = active {
        println!("Filtered to last {m} minute(s)");
    }
    if rows.is_empty() {
        println!("No sessions found.");
        return Outcome::Done;
    }
    println!("{}", table(&rows, aggregate, now));
    Outcome::Done
}

/// The stores to read (`--all-agents`: every agent; else `--agent` or the default agent) and
/// each agent's primary model ref, for rows that record no model of their own.
async fn collect(
    session: &Session,
    args: &SessionsArgs,
    active: Option<u64>,
) -> Result<(Vec<Store>, HashMap<String, String>), Failure> {
    let agents = session.call("agents.list", json!({})).await?;
    let list = agents["agents"].as_array().cloned().unwrap_or_default();
    let models: HashMap<String, String> = list
        .iter()
        .filter_map(|a| {
            Some((
                a["id"].as_str()?.to_string(),
                a["model"]["primary"].as_str()?.to_string(),
            ))
        })
        .collect();
    let targets: Vec<Option<String>> = if args.all_agents {
        list.iter()
            .filter_map(|a| a["id"].as_str().map(|s| Some(s.to_string())))
            .collect()
    } else {
        vec![args.agent.clone()]
    };
    let default_id = agents["defaultId"].as_str().unwrap_or("main").to_string();
    let mut stores = Vec::new();
    for agent in targets {
        let mut params = json!({"includeGlobal": true, "includeUnknown": true});
        if let Some(a) = &agent {
            params["agentId"] = json!(a);
        }
        if let Some(m) = active {
            params["activeMinutes"] = json!(m);
        }
        let r = session.call("sessions.list", params).await?;
        stores.push(Store {
            agent_id: agent
                .map(|a| a.to_ascii_lowercase())
                .unwrap_or_else(|| default_id.clone()),
            path: r["path"].clone(),
            rows: r["sessions"].as_array().cloned().unwrap_or_default(),
        });
    }
    Ok((stores, models))
}

/// `provider/model` split on the first `/`.
fn split_ref(r: &str) -> (Option<&str>, &str) {
    match r.split_once('/') {
        Some((p, m)) => (Some(p), m),
        None => (None, r),
    }
}

/// A `sessions.list` row as the reference CLI prints it: the row, plus `agentId`, `ageMs`, the
/// model the session runs on (override → recorded → the agent's primary) and token totals as
/// numbers or `null`.
fn display_row(
    row: &Value,
    store_agent: &str,
    models: &HashMap<String, String>,
    now: i64,
) -> Value {
    let mut out = row.clone();
    let key = row["key"].as_str().unwrap_or_default();
    let agent_id = key
        .strip_prefix("agent:")
        .and_then(|rest| rest.split(':').next())
        .filter(|a| !a.is_empty())
        .unwrap_or(store_agent)
        .to_string();
    let updated = row["updatedAt"].as_i64();
    out["updatedAt"] = json!(updated);
    out["ageMs"] = json!(updated.map(|u| now.saturating_sub(u)));
    let primary = models.get(&agent_id).map(String::as_str);
    let (default_provider, default_model) = primary.map(split_ref).unwrap_or((None, ""));
    let model = row["modelOverride"]
        .as_str()
        .or(row["model"].as_str())
        .map(str::to_string)
        .or_else(|| (!default_model.is_empty()).then(|| default_model.to_string()));
    let provider = row["providerOverride"]
        .as_str()
        .or(row["modelProvider"].as_str())
        .or(default_provider)
        .map(str::to_string);
    out["agentId"] = json!(agent_id);
    out["model"] = json!(model);
    out["modelProvider"] = json!(provider);
    let total = row["totalTokens"].as_u64();
    out["totalTokens"] = json!(total);
    out["totalTokensFresh"] = json!(total.is_some() && row["totalTokensFresh"] != false);
    out["contextTokens"] = json!(row["contextTokens"].as_u64());
    out
}

/// `1234` → `1.2k`, `32000` → `32k`, `2000000` → `2m`.
fn tokens(n: u64) -> String {
    let (value, unit) = match n {
        0..1_000 => return n.to_string(),
        1_000..1_000_000 => (n as f64 / 1_000.0, "k"),
        _ => (n as f64 / 1_000_000.0, "m"),
    };
    let text = format!("{value:.1}");
    format!("{}{unit}", text.strip_suffix(".0").unwrap_or(&text))
}

fn tokens_cell(row: &Value) -> String {
    let ctx = row["contextTokens"].as_u64().filter(|c| *c > 0);
    let ctx_label = ctx.map(tokens).unwrap_or_else(|| "?".into());
    match row["totalTokens"].as_u64() {
        None => format!("unknown/{ctx_label} (?%)"),
        Some(t) => {
            let pct = ctx
                .filter(|_| row["totalTokensFresh"] == true)
                .map(|c| {
                    ((t as f64 / c as f64) * 100.0)
                        .round()
                        .min(999.0)
                        .to_string()
                })
                .unwrap_or_else(|| "?".into());
            format!("{}/{ctx_label} ({pct}%)", tokens(t))
        }
    }
}

fn flags_cell(row: &Value) -> String {
    let s = |k: &str| row[k].as_str().filter(|v| !v.is_empty());
    let mut flags = Vec::new();
    for (key, label) in [
        ("thinkingLevel", "think"),
        ("verboseLevel", "verbose"),
        ("reasoningLevel", "reasoning"),
        ("elevatedLevel", "elev"),
        ("responseUsage", "usage"),
        ("groupActivation", "activation"),
    ] {
        if let Some(v) = s(key) {
            flags.push(format!("{label}:{v}"));
        }
    }
    if row["systemSent"] == true {
        flags.push("system".into());
    }
    if row["abortedLastRun"] == true {
        flags.push("aborted".into());
    }
    if let Some(id) = s("sessionId") {
        flags.push(format!("id:{id}"));
    }
    flags.join(" ")
}

/// Keys longer than the column are shortened as the reference does: head…tail.
fn key_cell(key: &str) -> String {
    const PAD: usize = 26;
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= PAD {
        return key.to_string();
    }
    let head: String = chars[..PAD - 10].iter().collect();
    let tail: String = chars[chars.len() - 6..].iter().collect();
    format!("{head}...{tail}")
}

fn table(rows: &[Value], with_agent: bool, now: i64) -> String {
    let mut headers = vec!["Kind", "Key", "Age", "Model", "Tokens (ctx %)", "Flags"];
    if with_agent {
        headers.insert(0, "Agent");
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let age = r["updatedAt"]
                .as_i64()
                .map(|u| ago(now - u))
                .unwrap_or_else(|| "unknown".into());
            let mut c = vec![
                r["kind"].as_str().unwrap_or("unknown").to_string(),
                key_cell(r["key"].as_str().unwrap_or_default()),
                age,
                r["model"].as_str().unwrap_or("unknown").to_string(),
                tokens_cell(r),
                flags_cell(r),
            ];
            if with_agent {
                c.insert(0, r["agentId"].as_str().unwrap_or_default().to_string());
            }
            c
        })
        .collect();
    render(&headers, &cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cells() {
        assert_eq!(parse_limit(None), Ok(Some(100)));
        assert_eq!(parse_limit(Some("all")), Ok(None));
        assert_eq!(parse_limit(Some("0")), Err(()));
        assert_eq!(parse_active(Some("x")), Err(()));
        assert_eq!(tokens(1234), "1.2k");
        assert_eq!(
            key_cell("agent:main:explicit:a-very-long-session-key"),
            "agent:main:expli...on-key"
        );
        let row = json!({"totalTokens": 3200, "totalTokensFresh": true, "contextTokens": 32000});
        assert_eq!(tokens_cell(&row), "3.2k/32k (10%)");
        assert_eq!(tokens_cell(&json!({})), "unknown/? (?%)");
    }
}
