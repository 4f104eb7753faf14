//! CLI commands that talk to a running gateway over the WebSocket protocol. They never start a
//! gateway themselves: when none answers, they say so and exit 1.

use std::time::Duration;

use openclaw_client::{ClientError, ConnectOptions, DeviceIdentity, GatewayClient};
use openclaw_config::{LoadedConfig, Paths, load_config};
use openclaw_protocol::connect::scopes;
use serde_json::Value;

use crate::error::CliError;
use crate::{CallArgs, ConnArgs, Outcome};

/// Target URL and credentials, resolved as the reference CLI does.
pub fn connect_options(
    paths: &Paths,
    dev: bool,
    conn: &ConnArgs,
) -> Result<ConnectOptions, CliError> {
    let mut opts = ConnectOptions::default();
    let loaded = load_config(&paths.config_path)?;
    match &conn.url {
        Some(url) => {
            opts.url = url.clone();
            opts.token = conn.token.clone();
            opts.password = conn.password.clone();
        }
        None => {
            let port = openclaw_config::resolve::resolve_port(None, &loaded, dev)?;
            opts.url = format!("ws://127.0.0.1:{port}");
            let (token, password) = shared_secrets(&loaded);
            opts.token = conn.token.clone().or(token);
            opts.password = conn.password.clone().or(password);
            if opts.token.is_none() && opts.password.is_none() {
                // A local gateway with no configured secret runs on a generated token that
                // only this user can read.
                opts.token = runtime_token(paths);
            }
        }
    }
    opts.scopes = [
        scopes::ADMIN,
        scopes::READ,
        scopes::WRITE,
        scopes::APPROVALS,
        scopes::PAIRING,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    opts.handshake_timeout = Duration::from_millis(conn.timeout);
    // Without a shared secret, prove a device identity (paired automatically on loopback).
    if opts.token.is_none() && opts.password.is_none() {
        match DeviceIdentity::load_or_create(&paths.identity_path()) {
            Ok(id) => opts.device = Some(id),
            Err(e) => return Err(CliError::Identity(e)),
        }
    }
    Ok(opts)
}

/// `(token, password)` a client presents when none is given on the command line:
/// `OPENCLAW_GATEWAY_TOKEN` / `OPENCLAW_GATEWAY_PASSWORD`, else `gateway.auth.token` /
/// `gateway.auth.password` of the config.
pub fn shared_secrets(loaded: &LoadedConfig) -> (Option<String>, Option<String>) {
    let cfg_auth = loaded
        .config
        .gateway
        .as_ref()
        .and_then(|g| g.auth.clone())
        .unwrap_or_default();
    let cfg_secret = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(str::to_string);
    let token = openclaw_config::env::var("GATEWAY_TOKEN").or_else(|| cfg_secret(&cfg_auth.token));
    let password =
        openclaw_config::env::var("GATEWAY_PASSWORD").or_else(|| cfg_secret(&cfg_auth.password));
    (token, password)
}

/// The token of a local gateway that runs without a configured secret, if one is running.
pub fn runtime_token(paths: &Paths) -> Option<String> {
    let text = std::fs::read_to_string(paths.runtime_token_path()).ok()?;
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

pub fn report(e: &ClientError, url: &str) -> String {
    match e {
        ClientError::Unreachable { reason, .. } => format!(
            "Gateway not reachable at {url} ({reason}). Is it running? Start it with `openclaw gateway`."
        ),
        other => format!("{other}"),
    }
}

async fn connected(
    paths: &Paths,
    dev: bool,
    conn: &ConnArgs,
) -> Result<(GatewayClient, String), Outcome> {
    let opts = match connect_options(paths, dev, conn) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return Err(Outcome::Failed);
        }
    };
    let url = opts.url.clone();
    match GatewayClient::connect(opts).await {
        Ok((c, _hello)) => Ok((c, url)),
        Err(e) => {
            eprintln!("{}", report(&e, &url));
            Err(Outcome::Failed)
        }
    }
}

/// `openclaw gateway call <method>`.
pub async fn call(paths: &Paths, dev: bool, args: CallArgs) -> Outcome {
    let params = match args.params.as_deref() {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("invalid --params JSON: {e}");
                return Outcome::Usage;
            }
        },
    };
    let (client, url) = match connected(paths, dev, &args.conn).await {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let timeout = Duration::from_millis(args.conn.timeout);
    let result = if args.expect_final {
        client
            .request_expect_final(&args.method, params, timeout)
            .await
    } else {
        client.request(&args.method, params, timeout).await
    };
    client.close().await;
    match result {
        Ok(payload) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&payload).unwrap_or_default()
            );
            Outcome::Done
        }
        Err(e) => {
            eprintln!("Gateway call failed: {}", report(&e, &url));
            Outcome::Failed
        }
    }
}

/// `openclaw health` / `openclaw gateway health`.
pub async fn health(paths: &Paths, dev: bool, conn: ConnArgs) -> Outcome {
    let started = std::time::Instant::now();
    let (client, url) = match connected(paths, dev, &conn).await {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let result = client
        .request("health", None, Duration::from_millis(conn.timeout))
        .await;
    client.close().await;
    match result {
        Ok(h) => {
            if conn.json {
                println!("{}", serde_json::to_string_pretty(&h).unwrap_or_default());
            } else {
                let ok = h.get("ok").and_then(Value::as_bool).unwrap_or(false);
                println!(
                    "Gateway {} at {url} ({} ms)",
                    if ok { "healthy" } else { "unhealthy" },
                    started.elapsed().as_millis()
                );
                if let Some(agent) = h.get("defaultAgentId").and_then(Value::as_str) {
                    println!("Default agent: {agent}");
                }
                let channels = h
                    .get("channelOrder")
                    .and_then(Value::as_array)
                    .map(|a| a.len())
                    .unwrap_or(0);
                println!("Channels: {channels}");
                if !ok {
                    return Outcome::Failed;
                }
            }
            Outcome::Done
        }
        Err(e) => {
            eprintln!("Health check failed: {}", report(&e, &url));
            Outcome::Failed
        }
    }
}

/// Where the target URL came from, as the reference names it in JSON errors.
fn url_source(conn: &ConnArgs) -> &'static str {
    if conn.url.is_some() {
        "cli --url"
    } else {
        "local loopback"
    }
}

/// Why an admin command (`devices …`, `nodes …`) failed: the gateway could not be reached or
/// answered in time, or something (the gateway, the arguments) said no.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// `kind` is `closed` or `timeout`; `message` is the one line shown to a human.
    Transport {
        kind: &'static str,
        message: String,
        reason: Option<String>,
        url: String,
        url_source: &'static str,
    },
    /// The gateway answered `ok:false`.
    Gateway { code: String, message: String },
    /// Refused here (bad arguments, nothing to act on, no config).
    Message(String),
}

impl Failure {
    fn from_client(e: &ClientError, url: &str, source: &'static str) -> Failure {
        let transport = |kind, reason: Option<String>| Failure::Transport {
            kind,
            message: report(e, url),
            reason,
            url: url.to_string(),
            url_source: source,
        };
        match e {
            ClientError::Rpc(shape) => Failure::Gateway {
                code: shape.code.clone(),
                message: shape.message.clone(),
            },
            ClientError::Unreachable { reason, .. } => transport("closed", Some(reason.clone())),
            ClientError::Closed { .. } => transport("closed", None),
            ClientError::Timeout(_) => transport("timeout", None),
            other => Failure::Message(other.to_string()),
        }
    }

    /// The reference's machine-readable error object (printed on stdout in JSON mode).
    pub fn to_json(&self) -> Value {
        match self {
            Failure::Transport {
                kind,
                message,
                reason,
                url,
                url_source,
            } => {
                let mut error = serde_json::json!({
                    "type": "gateway_transport_error", "kind": kind, "message": message,
                });
                if let Some(r) = reason {
                    error["reason"] = Value::from(r.as_str());
                }
                serde_json::json!({
                    "ok": false, "error": error,
                    "gateway": {"url": url, "urlSource": url_source},
                })
            }
            Failure::Gateway { message: m, .. } | Failure::Message(m) => serde_json::json!({
                "ok": false, "error": {"type": "cli_error", "message": m},
            }),
        }
    }

    /// Prints the failure (JSON on stdout when `json`, else `<label> failed: …` on stderr)
    /// and ends the command with exit 1.
    pub fn print(&self, label: &str, json: bool) -> Outcome {
        if json {
            print_json(&self.to_json());
        } else {
            match self {
                Failure::Transport { message, .. } => eprintln!("{label} failed: {message}"),
                Failure::Gateway { message: m, .. } | Failure::Message(m) => {
                    eprintln!("{label} failed: {m}")
                }
            }
        }
        Outcome::Failed
    }
}

/// Pretty JSON on stdout, as every `--json` output.
pub fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// One authenticated connection used for every call of an admin command.
pub struct Session {
    client: GatewayClient,
    url: String,
    url_source: &'static str,
    timeout: Duration,
}

impl Session {
    /// Connects as every RPC command does (see [`connect_options`]); `timeout` bounds the
    /// handshake and each call.
    pub async fn open(paths: &Paths, dev: bool, conn: &ConnArgs) -> Result<Session, Failure> {
        let opts =
            connect_options(paths, dev, conn).map_err(|e| Failure::Message(e.to_string()))?;
        let url = opts.url.clone();
        let source = url_source(conn);
        match GatewayClient::connect(opts).await {
            Ok((client, _)) => Ok(Session {
                client,
                url,
                url_source: source,
                timeout: Duration::from_millis(conn.timeout),
            }),
            Err(e) => Err(Failure::from_client(&e, &url, source)),
        }
    }

    pub async fn call(&self, method: &str, params: Value) -> Result<Value, Failure> {
        self.call_within(method, params, self.timeout).await
    }

    /// A call with its own budget (`node.invoke` waits for the node beyond `--timeout`).
    pub async fn call_within(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, Failure> {
        self.client
            .request(method, Some(params), timeout)
            .await
            .map_err(|e| Failure::from_client(&e, &self.url, self.url_source))
    }

    pub async fn close(self) {
        self.client.close().await;
    }
}
