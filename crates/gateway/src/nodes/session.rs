//! A node's connection as the rest of the gateway sees it: what happens when a `role: node`
//! client is admitted (its declared commands filtered, its surface checked against the
//! approved one, a request filed for operators otherwise), and the catalogue `node.list`
//! shows (paired nodes and connected ones, merged by node id).

use std::collections::BTreeMap;
use std::sync::Arc;

use openclaw_protocol::ConnectParams;
use openclaw_protocol::events::names as ev;
use serde::Serialize;

use super::policy::{Allowlist, platform_of};
use super::store::NodeFacts;
use super::{LiveNode, facts_of, node_id_of};
use crate::hub::{Audience, ConnHandle};
use crate::state::{AppState, now_ms};

/// The allowlist for a node of this platform under the running config.
pub fn allowlist(state: &AppState, platform: &str, family: Option<&str>) -> Allowlist {
    let cfg = state.config();
    let nodes = cfg.config.gateway.as_ref().and_then(|g| g.nodes.as_ref());
    Allowlist::new(platform_of(platform, family), nodes)
}

/// Registers an admitted node connection; returns its node id.
pub fn connect(
    state: &AppState,
    conn: &Arc<ConnHandle>,
    params: &Arc<ConnectParams>,
    remote_ip: &str,
) -> String {
    let node_id = node_id_of(params);
    let list = allowlist(
        state,
        &params.client.platform,
        params.client.device_family.as_deref(),
    );
    let declared = params.commands.clone().unwrap_or_default();
    let allowed = list.filter(&declared);
    if allowed.len() < declared.len() {
        tracing::info!(target: "gateway", "node {} declared {} command(s) outside the allowlist; they cannot be invoked", short(&node_id), declared.len() - allowed.len());
    }
    let now = now_ms();
    let facts = facts_of(params, allowed.clone());
    let surface = state.nodes.store.on_connect(super::store::Ask {
        node_id: &node_id,
        facts,
        remote_ip: Some(remote_ip.to_string()),
        silent: conn.device_id.is_some(),
        now,
    });
    let (approved, pending) = match surface {
        Ok(s) => (
            s.paired.map(|p| p.facts.commands).unwrap_or_default(),
            s.pending,
        ),
        Err(e) => {
            tracing::error!(target: "gateway", "node {}: {e}; its commands stay unavailable", short(&node_id));
            (Vec::new(), None)
        }
    };
    let effective = allowed
        .iter()
        .filter(|c| approved.contains(c))
        .cloned()
        .collect();
    let pending_request = pending.as_ref().map(|(r, _)| r.request_id.clone());
    if let Some((req, true)) = &pending {
        tracing::info!(target: "gateway", "node {} asks to approve its commands; approve with: openclaw nodes approve {}", short(&node_id), req.request_id);
        state.hub.broadcast(
            ev::NODE_PAIR_REQUESTED,
            &serde_json::to_string(req).unwrap_or_default(),
            None,
            true,
            Audience::Pairing,
        );
    }
    state.nodes.register(
        node_id.clone(),
        LiveNode {
            conn: conn.clone(),
            params: params.clone(),
            remote_ip: remote_ip.to_string(),
            connected_at_ms: now,
            allowed,
            effective,
            pending_request,
        },
    );
    node_id
}

pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// One `node.list` entry (reference field names; absent fields are omitted).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeEntry {
    pub node_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    pub caps: Vec<String>,
    pub commands: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<BTreeMap<String, bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_env: Option<String>,
    pub approval_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_at_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_connected_at_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_at_ms: Option<u64>,
    pub paired: bool,
    pub connected: bool,
}

fn apply_facts(e: &mut NodeEntry, f: &NodeFacts) {
    e.display_name = f.display_name.clone().or(e.display_name.take());
    e.platform = f.platform.clone().or(e.platform.take());
    e.version = f.version.clone().or(e.version.take());
    e.client_id = f.client_id.clone().or(e.client_id.take());
    e.client_mode = f.client_mode.clone().or(e.client_mode.take());
    e.device_family = f.device_family.clone().or(e.device_family.take());
    e.model_identifier = f.model_identifier.clone().or(e.model_identifier.take());
}

/// Every known node: devices paired for the node role, approved surfaces and live sessions,
/// connected ones first, then by name.
pub fn catalogue(state: &AppState) -> Vec<NodeEntry> {
    let mut by_id: BTreeMap<String, NodeEntry> = BTreeMap::new();
    let (_, devices) = state.devices.list(now_ms());
    for d in devices
        .iter()
        .filter(|d| d.roles.iter().any(|r| r == "node"))
    {
        let e = by_id.entry(d.device_id.clone()).or_default();
        e.node_id = d.device_id.clone();
        e.display_name = d.operator_label.clone().or(d.facts.display_name.clone());
        e.platform = d.facts.platform.clone();
        e.client_id = d.facts.client_id.clone();
        e.client_mode = d.facts.client_mode.clone();
        e.remote_ip = d.remote_ip.clone();
        e.approved_at_ms = Some(d.approved_at_ms);
        e.paired = true;
    }
    let (pending, approved) = state.nodes.store.list();
    for p in &approved {
        let e = by_id.entry(p.node_id.clone()).or_default();
        e.node_id = p.node_id.clone();
        let label = e.display_name.clone();
        apply_facts(e, &p.facts);
        // A surface's name is what the node said; the operator's rename wins.
        if p.facts.display_name.is_some() {
            e.display_name = p.facts.display_name.clone().or(label);
        }
        e.approved_at_ms = Some(p.approved_at_ms);
        e.last_connected_at_ms = p.last_connected_at_ms;
        e.remote_ip = p.remote_ip.clone().or(e.remote_ip.take());
        e.paired = true;
    }
    for p in &pending {
        if let Some(e) = by_id.get_mut(&p.node_id) {
            e.pending_request_id
                .get_or_insert_with(|| p.request_id.clone());
        }
    }
    let live = state
        .nodes
        .each_live(|id, n| (id.to_string(), live_view(n)));
    for (id, (facts, extra)) in live {
        let e = by_id.entry(id.clone()).or_default();
        e.node_id = id;
        let name = e.display_name.clone();
        apply_facts(e, &facts);
        if name.is_some() && e.paired {
            e.display_name = name;
        }
        e.caps = extra.caps;
        e.commands = extra.commands;
        e.permissions = extra.permissions;
        e.path_env = extra.path_env;
        e.remote_ip = Some(extra.remote_ip);
        e.connected_at_ms = Some(extra.connected_at_ms);
        e.last_connected_at_ms = Some(extra.connected_at_ms);
        e.pending_request_id = extra.pending_request.or(e.pending_request_id.take());
        e.connected = true;
    }
    let approved_ids: Vec<&str> = approved.iter().map(|p| p.node_id.as_str()).collect();
    let mut out: Vec<NodeEntry> = by_id
        .into_values()
        .map(|mut e| {
            e.approval_state = if approved_ids.contains(&e.node_id.as_str()) {
                "approved"
            } else if e.pending_request_id.is_some() {
                "pending-approval"
            } else {
                "unapproved"
            };
            e
        })
        .collect();
    out.sort_by(|a, b| {
        b.connected.cmp(&a.connected).then_with(|| {
            let an = a.display_name.as_deref().unwrap_or(&a.node_id);
            let bn = b.display_name.as_deref().unwrap_or(&b.node_id);
            an.cmp(bn)
        })
    });
    out
}

struct LiveExtra {
    caps: Vec<String>,
    commands: Vec<String>,
    permissions: Option<BTreeMap<String, bool>>,
    path_env: Option<String>,
    remote_ip: String,
    connected_at_ms: u64,
    pending_request: Option<String>,
}

fn live_view(n: &LiveNode) -> (NodeFacts, LiveExtra) {
    let approved = n.pending_request.is_none() || !n.effective.is_empty();
    let facts = facts_of(&n.params, n.effective.clone());
    (
        facts,
        LiveExtra {
            // Until its surface is approved a node shows no capabilities, as the reference.
            caps: if approved {
                n.params.caps.clone().unwrap_or_default()
            } else {
                Vec::new()
            },
            commands: n.effective.clone(),
            permissions: n.params.permissions.clone(),
            path_env: n.params.path_env.clone(),
            remote_ip: n.remote_ip.clone(),
            connected_at_ms: n.connected_at_ms,
            pending_request: n.pending_request.clone(),
        },
    )
}
