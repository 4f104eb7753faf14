//! The node role: live node sessions, their approved command surface, and `node.invoke`
//! round trips (request event to the one node → `node.invoke.result` back → the caller).
//! Every pending invoke ends exactly once: by the node's result, its timeout, or the node's
//! disconnect; a result that arrives later is acknowledged and dropped.

pub mod policy;
pub mod session;
pub mod store;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use openclaw_protocol::ConnectParams;
use openclaw_protocol::nodes::{NodeError, PendingPriority, PendingWorkItem, PendingWorkType};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::hub::ConnHandle;
use crate::sync::LockExt;
use store::{NodeFacts, NodeStore};

/// Default `node.invoke` timeout.
pub const DEFAULT_INVOKE_TIMEOUT_MS: u64 = 30_000;
/// Longest timeout a caller may ask for (10 min).
pub const MAX_INVOKE_TIMEOUT_MS: u64 = 600_000;
/// Invokes waiting for nodes at once, across all nodes.
pub const MAX_PENDING_INVOKES: usize = 1024;
/// Largest result a node may return (serialised payload).
pub const MAX_RESULT_BYTES: usize = 8 * 1024 * 1024;
/// Work items queued per node while it is away, and how long they live by default.
const MAX_QUEUED_PER_NODE: usize = 64;
const QUEUED_TTL_MS: u64 = 600_000;

/// A connected node.
pub struct LiveNode {
    pub conn: Arc<ConnHandle>,
    pub params: Arc<ConnectParams>,
    pub remote_ip: String,
    pub connected_at_ms: u64,
    /// Declared commands that the platform allowlist permits.
    pub allowed: Vec<String>,
    /// Of those, the ones the approved surface covers: what may be invoked now.
    pub effective: Vec<String>,
    /// The surface request awaiting approval, if any.
    pub pending_request: Option<String>,
}

/// What became of a node's `node.invoke.result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// Nobody waits for it any more (late, after a timeout, or unknown).
    Ignored,
    /// It names an invoke sent to another node.
    WrongNode,
}

/// How an invoke ended, from the node's side.
#[derive(Debug)]
pub enum Outcome {
    Ok {
        payload: Option<Value>,
        payload_json: Option<String>,
    },
    Failed(NodeError),
    Disconnected,
}

struct PendingInvoke {
    node_id: String,
    conn_id: String,
    tx: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Queue {
    revision: u64,
    items: HashMap<String, VecDeque<PendingWorkItem>>,
}

pub struct Nodes {
    pub store: NodeStore,
    live: Mutex<HashMap<String, LiveNode>>,
    invokes: Mutex<HashMap<String, PendingInvoke>>,
    queue: Mutex<Queue>,
}

/// The node id of a connection: its device id, else what the client calls itself.
pub fn node_id_of(p: &ConnectParams) -> String {
    p.device
        .as_ref()
        .map(|d| d.id.to_ascii_lowercase())
        .or_else(|| p.client.instance_id.clone())
        .unwrap_or_else(|| p.client.id.as_str().to_string())
}

/// What a node says about itself in `connect`.
pub fn facts_of(p: &ConnectParams, commands: Vec<String>) -> NodeFacts {
    NodeFacts {
        client_id: Some(p.client.id.as_str().to_string()),
        client_mode: Some(p.client.mode.as_str().to_string()),
        display_name: p.client.display_name.clone(),
        platform: Some(p.client.platform.clone()),
        version: Some(p.client.version.clone()),
        device_family: p.client.device_family.clone(),
        model_identifier: p.client.model_identifier.clone(),
        caps: p.caps.clone().unwrap_or_default(),
        commands,
    }
}

impl Nodes {
    pub fn open(dir: std::path::PathBuf) -> Self {
        Self {
            store: NodeStore::open(dir),
            live: Mutex::new(HashMap::new()),
            invokes: Mutex::new(HashMap::new()),
            queue: Mutex::new(Queue::default()),
        }
    }

    /// Registers a connected node; a newer session of the same node replaces the older one,
    /// which is closed.
    pub fn register(&self, node_id: String, node: LiveNode) {
        let old = self.live.locked().insert(node_id, node);
        if let Some(old) = old {
            old.conn.close(1000, "replaced by a newer connection");
        }
    }

    /// Forgets a node session (only if it is still the registered one) and fails its invokes.
    pub fn unregister(&self, node_id: &str, conn_id: &str) {
        {
            let mut live = self.live.locked();
            if live.get(node_id).is_some_and(|n| n.conn.conn_id == conn_id) {
                live.remove(node_id);
            }
        }
        let failed: Vec<PendingInvoke> = {
            let mut inv = self.invokes.locked();
            let ids: Vec<String> = inv
                .iter()
                .filter(|(_, p)| p.conn_id == conn_id)
                .map(|(id, _)| id.clone())
                .collect();
            ids.into_iter().filter_map(|id| inv.remove(&id)).collect()
        };
        for p in failed {
            let _ = p.tx.send(Outcome::Disconnected);
        }
    }

    /// Runs `f` on a live node.
    pub fn with_live<R>(&self, node_id: &str, f: impl FnOnce(&mut LiveNode) -> R) -> Option<R> {
        self.live.locked().get_mut(node_id).map(f)
    }

    /// Runs `f` over every live node.
    pub fn each_live<R>(&self, mut f: impl FnMut(&str, &LiveNode) -> R) -> Vec<R> {
        self.live.locked().iter().map(|(k, v)| f(k, v)).collect()
    }

    /// Applies an approved surface to a live node.
    pub fn apply_surface(&self, node_id: &str, approved: &[String]) {
        self.with_live(node_id, |n| {
            n.effective = n
                .allowed
                .iter()
                .filter(|c| approved.contains(c))
                .cloned()
                .collect();
            n.pending_request = None;
        });
    }

    /// Starts an invoke on the node's current session: registers the waiter and returns the
    /// receiver, or `None` when too many invokes are already waiting.
    pub fn start_invoke(
        &self,
        id: &str,
        node_id: &str,
        conn_id: &str,
    ) -> Option<oneshot::Receiver<Outcome>> {
        let mut inv = self.invokes.locked();
        if inv.len() >= MAX_PENDING_INVOKES {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        inv.insert(
            id.to_string(),
            PendingInvoke {
                node_id: node_id.to_string(),
                conn_id: conn_id.to_string(),
                tx,
            },
        );
        Some(rx)
    }

    /// Forgets an invoke that ended on the caller's side (timeout, send failure).
    pub fn cancel_invoke(&self, id: &str) {
        self.invokes.locked().remove(id);
    }

    /// Delivers a node's result to the caller waiting for it.
    pub fn finish_invoke(&self, id: &str, from_node: &str, outcome: Outcome) -> Delivery {
        let mut inv = self.invokes.locked();
        match inv.get(id) {
            None => Delivery::Ignored,
            Some(p) if p.node_id != from_node => Delivery::WrongNode,
            Some(_) => match inv.remove(id).map(|p| p.tx.send(outcome)) {
                Some(Ok(())) => Delivery::Delivered,
                _ => Delivery::Ignored,
            },
        }
    }

    /// Queues work for a node (bounded; the oldest item goes first when full).
    pub fn enqueue(
        &self,
        node_id: &str,
        kind: PendingWorkType,
        priority: PendingPriority,
        expires_in_ms: Option<u64>,
        now: u64,
    ) -> (u64, PendingWorkItem) {
        let mut q = self.queue.locked();
        q.revision += 1;
        let item = PendingWorkItem {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            priority,
            created_at_ms: now,
            expires_at_ms: Some(now + expires_in_ms.unwrap_or(QUEUED_TTL_MS)),
        };
        let list = q.items.entry(node_id.to_string()).or_default();
        list.retain(|i| i.expires_at_ms.is_none_or(|e| e > now));
        while list.len() >= MAX_QUEUED_PER_NODE {
            list.pop_front();
        }
        list.push_back(item.clone());
        (q.revision, item)
    }

    /// Up to `max` live items for a node (they stay queued until acked); `hasMore` flag.
    pub fn peek_queue(
        &self,
        node_id: &str,
        max: usize,
        now: u64,
    ) -> (u64, Vec<PendingWorkItem>, bool) {
        let mut q = self.queue.locked();
        let revision = q.revision;
        let Some(list) = q.items.get_mut(node_id) else {
            return (revision, Vec::new(), false);
        };
        list.retain(|i| i.expires_at_ms.is_none_or(|e| e > now));
        let items: Vec<PendingWorkItem> = list.iter().take(max).cloned().collect();
        (revision, items, list.len() > max)
    }

    /// Removes acknowledged items; returns the ids removed and how many remain.
    pub fn ack_queue(&self, node_id: &str, ids: &[String]) -> (Vec<String>, usize) {
        let mut q = self.queue.locked();
        let Some(list) = q.items.get_mut(node_id) else {
            return (Vec::new(), 0);
        };
        let mut acked = Vec::new();
        list.retain(|i| {
            if ids.contains(&i.id) {
                acked.push(i.id.clone());
                false
            } else {
                true
            }
        });
        let left = list.len();
        if !acked.is_empty() {
            q.revision += 1;
        }
        (acked, left)
    }

    /// Drops everything queued for a node (it was removed).
    pub fn forget_queue(&self, node_id: &str) {
        self.queue.locked().items.remove(node_id);
    }
}
