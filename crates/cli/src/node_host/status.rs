//! `openclaw node status`: what this machine's node host is set up as (identity, gateway
//! target, stored device token, exec approvals) and whether one is running now (pid file +
//! a liveness check). Read-only; talks to no gateway. We install no node service, so unlike
//! the reference there is no service-manager section.

use clap::Args;
use serde::Serialize;

use openclaw_config::Paths;

use super::approvals::{self, Approvals};
use super::state::{self, DeviceAuth, NodeConfig};
use crate::Outcome;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeStatus {
    running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    node_config: String,
    node_config_exists: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
    identity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<String>,
    device_token_stored: bool,
    exec_approvals: String,
    exec_approvals_exists: bool,
}

pub fn status(paths: &Paths, args: StatusArgs) -> Outcome {
    let cfg_path = state::node_config_path(paths);
    let cfg = NodeConfig::load(&cfg_path);
    let identity_path = paths.identity_path();
    let device_id = read_device_id(&identity_path);
    let device_token_stored = device_id
        .as_deref()
        .is_some_and(|id| DeviceAuth::token(&state::device_auth_path(paths), id, "node").is_some());
    let approvals = Approvals::new(paths.state_dir.join(approvals::FILE_NAME));
    let pid = state::running_pid(paths);
    let s = NodeStatus {
        running: pid.is_some(),
        pid,
        node_config: cfg_path.display().to_string(),
        node_config_exists: cfg_path.is_file(),
        node_id: cfg.node_id.clone(),
        display_name: cfg.display_name.clone(),
        gateway: cfg.gateway.as_ref().map(|g| g.url()),
        identity: identity_path.display().to_string(),
        device_id,
        device_token_stored,
        exec_approvals: approvals.path().display().to_string(),
        exec_approvals_exists: approvals.path().is_file(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
        return Outcome::Done;
    }
    match s.pid {
        Some(pid) => println!("Node host: running (pid {pid})"),
        None => println!("Node host: not running"),
    }
    let present = |b: bool| if b { "present" } else { "missing" };
    println!(
        "Config: {} ({})",
        s.node_config,
        present(s.node_config_exists)
    );
    if let Some(id) = &s.node_id {
        println!("Node id: {id}");
    }
    if let Some(name) = &s.display_name {
        println!("Display name: {name}");
    }
    println!(
        "Gateway: {}",
        s.gateway
            .as_deref()
            .unwrap_or("not set (use --host/--port)")
    );
    match &s.device_id {
        Some(id) => println!("Identity: {} (device {id})", s.identity),
        None => println!("Identity: {} (missing; created on first run)", s.identity),
    }
    println!(
        "Device token: {}",
        if s.device_token_stored {
            "stored"
        } else {
            "none (shared secret or pairing)"
        }
    );
    println!(
        "Exec approvals: {} ({})",
        s.exec_approvals,
        if s.exec_approvals_exists {
            "present"
        } else {
            "missing: system.run refuses everything"
        }
    );
    if !s.running {
        println!("Start with: openclaw node run --host <gateway-host> --port <port>");
    }
    Outcome::Done
}

/// The device id in the identity file, without creating one (status never writes).
fn read_device_id(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("deviceId")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}
