//! Probing a gateway the way the reference's `gateway status` does: a *probe* client
//! (`mode: "probe"`, protocol 3–4, asking only for `operator.read`, granted none), then the
//! `health` method, which every authenticated connection may call. Also `openclaw gateway
//! probe`, which probes the local and the configured remote gateway.

use std::time::{Duration, Instant};

use clap::Args;
use openclaw_client::{ClientError, ConnectOptions, GatewayClient};
use openclaw_config::{Paths, load_config};
use openclaw_protocol::{ClientId, ClientMode, scopes};
use serde_json::{Value, json};

use crate::{ConnArgs, Outcome, rpc};

#[derive(Args, Debug)]
pub struct ProbeArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// What one probe learned. Serialized as `rpc` in `gateway status --json`.
#[derive(Debug, Clone)]
pub struct Probe {
    pub url: String,
    /// `hello-ok` received: reachable and accepted.
    pub ok: bool,
    /// `connect` on success; else `unreachable`, `timeout`, `auth`, `protocol`, `rejected`,
    /// `closed` or `local`.
    pub kind: &'static str,
    pub latency_ms: u64,
    pub capability: Option<String>,
    pub auth: Option<Value>,
    pub server: Option<Value>,
    pub health_ok: Option<bool>,
    pub connect_failure: Option<Value>,
    pub error: Option<String>,
}

impl Probe {
    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok,
            "kind": self.kind,
            "url": self.url,
            "latencyMs": self.latency_ms,
            "capability": self.capability,
            "auth": self.auth,
            "server": self.server,
            "health": self.health_ok.map(|ok| json!({"ok": ok})),
            "connectFailure": self.connect_failure,
            "error": self.error,
        })
    }

    /// One human line: `reachable (…)` / `not reachable: …`.
    pub fn summary(&self) -> String {
        if self.ok {
            let version = self
                .server
                .as_ref()
                .and_then(|s| s.get("version"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            format!(
                "reachable ({} ms; server {version}; capability {}; health {})",
                self.latency_ms,
                self.capability.as_deref().unwrap_or("unknown"),
                match self.health_ok {
                    Some(true) => "ok",
                    Some(false) => "not ok",
                    None => "unknown",
                }
            )
        } else {
            format!(
                "not reachable ({}): {}",
                self.kind,
                self.error.as_deref().unwrap_or("unknown error")
            )
        }
    }
}

/// The reference's names for what `hello-ok.auth` grants.
pub fn capability(auth: Option<&Value>) -> &'static str {
    let Some(auth) = auth else {
        return "unknown";
    };
    let scopes: Vec<&str> = auth
        .get("scopes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if scopes.contains(&scopes::ADMIN) {
        "admin"
    } else if scopes.contains(&scopes::WRITE) {
        "read_write"
    } else if scopes.contains(&scopes::READ) {
        "read_only"
    } else {
        "connected_no_operator_scope"
    }
}

/// Probe options from the CLI's usual resolution; when the config does not load, the target
/// still resolves from `--url`/env/defaults so status can be reported anyway.
pub fn probe_options(paths: &Paths, dev: bool, conn: &ConnArgs) -> ConnectOptions {
    let mut opts = rpc::connect_options(paths, dev, conn).unwrap_or_else(|_| {
        let mut o = ConnectOptions::default();
        let (port, _) = crate::service_cmd::resolved_port(paths, dev);
        o.url = conn
            .url
            .clone()
            .unwrap_or_else(|| format!("ws://127.0.0.1:{port}"));
        o.token = conn
            .token
            .clone()
            .or_else(|| openclaw_config::env::var("GATEWAY_TOKEN"));
        o.password = conn
            .password
            .clone()
            .or_else(|| openclaw_config::env::var("GATEWAY_PASSWORD"));
        o
    });
    opts.client_id = ClientId::Cli;
    opts.client_mode = ClientMode::Probe;
    opts.min_protocol = openclaw_protocol::MIN_PROTOCOL_VERSION;
    opts.max_protocol = openclaw_protocol::PROTOCOL_VERSION;
    opts.scopes = vec![scopes::READ.to_string()];
    opts.handshake_timeout = Duration::from_millis(conn.timeout);
    opts
}

fn failure(e: &ClientError) -> (&'static str, Value) {
    match e {
        ClientError::Unreachable { reason, .. } => (
            "unreachable",
            json!({"kind": "unreachable", "message": reason}),
        ),
        ClientError::Timeout(ms) => ("timeout", json!({"kind": "timeout", "timeoutMs": ms})),
        ClientError::Handshake { error, close } => {
            let detail = error
                .details
                .as_ref()
                .and_then(|d| d.get("code"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let kind = if detail == "PROTOCOL_MISMATCH" {
                "protocol"
            } else if detail.starts_with("AUTH_")
                || detail.starts_with("DEVICE_")
                || detail == "PAIRING_REQUIRED"
                || error.code == "NOT_PAIRED"
            {
                "auth"
            } else {
                "rejected"
            };
            (
                kind,
                json!({
                    "kind": kind,
                    "code": error.code,
                    "message": error.message,
                    "detailCode": (!detail.is_empty()).then_some(detail),
                    "retryable": error.retryable,
                    "retryAfterMs": error.retry_after_ms,
                    "closeCode": close.as_ref().map(|c| c.0),
                    "closeReason": close.as_ref().map(|c| c.1.clone()),
                }),
            )
        }
        ClientError::Closed { code, reason } => (
            "closed",
            json!({"kind": "closed", "closeCode": code, "closeReason": reason}),
        ),
        ClientError::Protocol(m) => ("protocol", json!({"kind": "protocol", "message": m})),
        ClientError::Io { .. } | ClientError::NotAFile(_) => {
            ("local", json!({"kind": "local", "message": e.to_string()}))
        }
        ClientError::Rpc(error) => (
            "rejected",
            json!({"kind": "rejected", "code": error.code, "message": error.message}),
        ),
    }
}

/// Connects as a probe, asks `health`, closes.
pub async fn probe(opts: ConnectOptions) -> Probe {
    let url = opts.url.clone();
    let timeout = opts.handshake_timeout;
    let started = Instant::now();
    match GatewayClient::connect(opts).await {
        Ok((client, hello)) => {
            let latency_ms = started.elapsed().as_millis() as u64;
            let auth = hello.get("auth").cloned();
            let server = hello.get("server").map(|s| {
                json!({
                    "version": s.get("version"),
                    "buildId": s.get("buildId"),
                    "connId": s.get("connId"),
                })
            });
            let health = client.request("health", None, timeout).await;
            client.close().await;
            let (health_ok, error) = match health {
                Ok(h) => (
                    Some(h.get("ok").and_then(Value::as_bool).unwrap_or(false)),
                    None,
                ),
                Err(e) => (None, Some(format!("health: {e}"))),
            };
            Probe {
                url,
                ok: true,
                kind: "connect",
                latency_ms,
                capability: Some(capability(auth.as_ref()).to_string()),
                auth: auth.map(|a| json!({"role": a.get("role"), "scopes": a.get("scopes")})),
                server,
                health_ok,
                connect_failure: None,
                error,
            }
        }
        Err(e) => {
            let (kind, connect_failure) = failure(&e);
            Probe {
                latency_ms: started.elapsed().as_millis() as u64,
                error: Some(rpc::report(&e, &url)),
                url,
                ok: false,
                kind,
                capability: None,
                auth: None,
                server: None,
                health_ok: None,
                connect_failure: Some(connect_failure),
            }
        }
    }
}

/// `gateway.remote.url` and its credentials, when configured.
fn remote_target(paths: &Paths, timeout: u64) -> Option<ConnectOptions> {
    let loaded = load_config(&paths.config_path).ok()?;
    let remote = loaded.config.gateway.as_ref()?.remote.as_ref()?;
    let url = remote.get("url")?.as_str()?.to_string();
    let secret = |k: &str| remote.get(k).and_then(Value::as_str).map(str::to_string);
    let mut o = ConnectOptions::new(url);
    o.token = secret("token");
    o.password = secret("password");
    o.client_mode = ClientMode::Probe;
    o.scopes = vec![scopes::READ.to_string()];
    o.handshake_timeout = Duration::from_millis(timeout);
    Some(o)
}

/// `openclaw gateway probe`: the local target (or `--url`) and the configured remote one.
/// Exits 0 when at least one gateway answered.
pub async fn probe_cmd(paths: &Paths, dev: bool, args: ProbeArgs) -> Outcome {
    let local = probe_options(paths, dev, &args.conn);
    let mut targets = vec![("local", local)];
    if args.conn.url.is_none()
        && let Some(remote) = remote_target(paths, args.conn.timeout)
        && remote.url != targets[0].1.url
    {
        targets.push(("remote", remote));
    }
    let mut results = Vec::new();
    for (name, opts) in targets {
        results.push((name, probe(opts).await));
    }
    let any = results.iter().any(|(_, p)| p.ok);
    if args.conn.json {
        let list: Vec<Value> = results
            .iter()
            .map(|(name, p)| {
                let mut v = p.to_json();
                v["target"] = json!(name);
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"ok": any, "targets": list})).unwrap_or_default()
        );
    } else {
        for (name, p) in &results {
            println!(
                "{} {name} {}: {}",
                if p.ok { "✓" } else { "✗" },
                p.url,
                p.summary()
            );
        }
        if !any {
            println!("No gateway answered.");
        }
    }
    if any { Outcome::Done } else { Outcome::Failed }
}
