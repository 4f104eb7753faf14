//! `openclaw agent`: one agent turn through the running gateway (the `agent` method, waiting
//! for its final response), printing the reply — or the whole result with `--json`.

use std::time::Duration;

use clap::Args;
use openclaw_client::{ClientError, GatewayClient};
use openclaw_config::Paths;
use serde_json::json;

use crate::rpc::{connect_options, report};
use crate::{ConnArgs, Outcome};

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// The message for the agent.
    #[arg(long, short = 'm')]
    pub message: String,
    /// Delivery target (also selects the session).
    #[arg(long)]
    pub to: Option<String>,
    /// Resume a session by id.
    #[arg(long)]
    pub session_id: Option<String>,
    /// Session key (e.g. `main`).
    #[arg(long)]
    pub session_key: Option<String>,
    /// Agent id (default: the configured default agent).
    #[arg(long)]
    pub agent: Option<String>,
    /// Thinking level (off|minimal|low|medium|high).
    #[arg(long)]
    pub thinking: Option<String>,
    /// Send the reply to the channel target after the run.
    #[arg(long)]
    pub deliver: bool,
    /// Channel for delivery.
    #[arg(long)]
    pub channel: Option<String>,
    /// Run timeout in seconds (as in the reference; default: the gateway's, 600 s).
    #[arg(long, alias = "timeout-seconds", value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Gateway WebSocket URL (default ws://127.0.0.1:<port>).
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long)]
    pub token: Option<String>,
    #[arg(long)]
    pub password: Option<String>,
    /// Print the whole result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The gateway's run timeout when the request names none (`agents.defaults.timeoutSeconds`).
const DEFAULT_RUN_TIMEOUT_SECS: u64 = 600;

/// How long the final answer may take beyond the run timeout (queueing, delivery).
const FINAL_ANSWER_GRACE_SECS: u64 = 30;

pub async fn run(paths: &Paths, dev: bool, a: AgentArgs) -> Outcome {
    // `--timeout` is the run's, so connecting keeps the default connect timeout.
    let conn = ConnArgs {
        url: a.url.clone(),
        token: a.token.clone(),
        password: a.password.clone(),
        json: a.json,
        timeout: u64::try_from(openclaw_client::DEFAULT_HANDSHAKE_TIMEOUT.as_millis())
            .unwrap_or(10_000),
    };
    let opts = match connect_options(paths, dev, &conn) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Failed;
        }
    };
    let url = opts.url.clone();
    let client = match GatewayClient::connect(opts).await {
        Ok((c, _)) => c,
        Err(e) => {
            eprintln!("{}", report(&e, &url));
            return Outcome::Failed;
        }
    };
    let mut params = json!({
        "message": a.message,
        "idempotencyKey": uuid::Uuid::new_v4().to_string(),
    });
    if let Some(t) = a.timeout {
        params["timeout"] = json!(t);
    }
    for (k, v) in [
        ("to", &a.to),
        ("sessionId", &a.session_id),
        ("sessionKey", &a.session_key),
        ("agentId", &a.agent),
        ("thinking", &a.thinking),
        ("channel", &a.channel),
    ] {
        if let Some(v) = v {
            params[k] = json!(v);
        }
    }
    if a.deliver {
        params["deliver"] = json!(true);
    }
    let wait = Duration::from_secs(
        a.timeout
            .unwrap_or(DEFAULT_RUN_TIMEOUT_SECS)
            .saturating_add(FINAL_ANSWER_GRACE_SECS),
    );
    let result = client
        .request_expect_final("agent", Some(params), wait)
        .await;
    client.close().await;
    match result {
        Ok(v) => {
            if a.json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                for p in v["result"]["payloads"].as_array().into_iter().flatten() {
                    if let Some(t) = p["text"].as_str() {
                        println!("{t}");
                    }
                }
            }
            if v["status"] == "ok" {
                Outcome::Done
            } else {
                Outcome::Failed
            }
        }
        Err(ClientError::Rpc(e)) => {
            eprintln!("Agent run failed: {}", e.message);
            Outcome::Failed
        }
        Err(e) => {
            eprintln!("Agent run failed: {}", report(&e, &url));
            Outcome::Failed
        }
    }
}
