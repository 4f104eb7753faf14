//! Approved node command surfaces (`<state>/nodes/paired.json`, `pending.json`). Device pairing
//! admits a node's connection; this second approval admits what it may be asked to do: until an
//! operator approves a node's declared commands, none of them can be invoked.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::pair_files::{Change, Maps, PairFiles, StoreError};

/// What a node declared about itself, as shown to operators.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_identifier: Option<String>,
    #[serde(default)]
    pub caps: Vec<String>,
    #[serde(default)]
    pub commands: Vec<String>,
}

/// One entry of `nodes/pending.json`: a node's surface awaiting approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePending {
    pub request_id: String,
    pub node_id: String,
    #[serde(flatten)]
    pub facts: NodeFacts,
    #[serde(default)]
    pub required_approve_scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    #[serde(default)]
    pub silent: bool,
    pub ts: u64,
}

/// One entry of `nodes/paired.json`: the approved surface of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairedNode {
    pub node_id: String,
    #[serde(flatten)]
    pub facts: NodeFacts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    pub created_at_ms: u64,
    pub approved_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_connected_at_ms: Option<u64>,
    /// The node token of 2026.1-era nodes (`node.pair.verify`); never listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl PairedNode {
    /// The record as operators see it (no token).
    pub fn redacted(&self) -> Self {
        Self {
            token: None,
            ..self.clone()
        }
    }
}

/// Max node surface requests kept (oldest dropped).
const MAX_PENDING: usize = 100;

pub struct NodeStore {
    files: PairFiles<PairedNode, NodePending>,
}

/// The scopes an operator needs to approve a surface: running programs on the node asks for
/// admin, any other command for write, an empty surface only for pairing.
pub fn required_scopes(commands: &[String]) -> Vec<String> {
    use openclaw_protocol::connect::scopes;
    const ADMIN_ONLY: &[&str] = &[
        "system.run",
        "system.run.prepare",
        "system.which",
        "browser.proxy",
        "fs.listDir",
        "system.execApprovals.get",
        "system.execApprovals.set",
    ];
    let mut out = vec![scopes::PAIRING.to_string()];
    if commands.iter().any(|c| ADMIN_ONLY.contains(&c.as_str())) {
        out.push(scopes::ADMIN.to_string());
    } else if !commands.is_empty() {
        out.push(scopes::WRITE.to_string());
    }
    out
}

/// Whether an approved surface covers what the node now declares.
fn covers(approved: &NodeFacts, facts: &NodeFacts) -> bool {
    facts.commands.iter().all(|c| approved.commands.contains(c))
        && facts.caps.iter().all(|c| approved.caps.contains(c))
}

/// What [`NodeStore::on_connect`] found.
pub struct Surface {
    /// The approved record, if any (its commands are what may be invoked).
    pub paired: Option<PairedNode>,
    /// A request awaiting approval, and whether it was just created.
    pub pending: Option<(NodePending, bool)>,
}

impl NodeStore {
    pub fn open(dir: PathBuf) -> Self {
        Self {
            files: PairFiles::open(dir, "node pairing"),
        }
    }

    /// Records a node's connect: refreshes its approved record, or files (or refreshes) a
    /// request for the surface it declares beyond what was approved.
    pub fn on_connect(
        &self,
        node_id: &str,
        facts: NodeFacts,
        remote_ip: Option<String>,
        silent: bool,
        now: u64,
    ) -> Result<Surface, StoreError> {
        self.files.update(|data| {
            let paired = data.paired.get_mut(node_id).map(|p| {
                p.last_connected_at_ms = Some(now);
                p.clone()
            });
            if paired.as_ref().is_some_and(|p| covers(&p.facts, &facts)) {
                data.pending.retain(|_, r| r.node_id != node_id);
                return Change::Write(Surface {
                    paired,
                    pending: None,
                });
            }
            let same = data
                .pending
                .values_mut()
                .find(|r| r.node_id == node_id && r.facts == facts);
            if let Some(existing) = same {
                existing.ts = now;
                existing.remote_ip = remote_ip;
                let r = existing.clone();
                return Change::Write(Surface {
                    paired,
                    pending: Some((r, false)),
                });
            }
            data.pending.retain(|_, r| r.node_id != node_id);
            evict_oldest(data);
            let req = NodePending {
                request_id: uuid::Uuid::new_v4().to_string(),
                node_id: node_id.to_string(),
                required_approve_scopes: required_scopes(&facts.commands),
                facts,
                remote_ip,
                silent,
                ts: now,
            };
            data.pending.insert(req.request_id.clone(), req.clone());
            Change::Write(Surface {
                paired,
                pending: Some((req, true)),
            })
        })
    }

    pub fn pending(&self, request_id: &str) -> Option<NodePending> {
        self.files.read().pending.get(request_id).cloned()
    }

    /// Approves a surface request; `None` when unknown.
    pub fn approve(&self, request_id: &str, now: u64) -> Result<Option<PairedNode>, StoreError> {
        self.files.update(|data| {
            let Some(req) = data.pending.remove(request_id) else {
                return Change::Unchanged(None);
            };
            let created = data
                .paired
                .get(&req.node_id)
                .map_or(now, |p| p.created_at_ms);
            let last = data
                .paired
                .get(&req.node_id)
                .and_then(|p| p.last_connected_at_ms);
            let node = PairedNode {
                node_id: req.node_id.clone(),
                facts: req.facts,
                remote_ip: req.remote_ip,
                created_at_ms: created,
                approved_at_ms: now,
                last_connected_at_ms: last,
                token: Some(crate::device::random_token()),
            };
            data.paired.insert(node.node_id.clone(), node.clone());
            Change::Write(Some(node))
        })
    }

    /// Files a request made over RPC (`node.pair.request`, 2026.1-era nodes); a repeat with
    /// the same surface refreshes it. Returns the request and whether it is new.
    pub fn request(
        &self,
        node_id: &str,
        facts: NodeFacts,
        remote_ip: Option<String>,
        silent: bool,
        now: u64,
    ) -> Result<(NodePending, bool), StoreError> {
        self.files.update(|data| {
            if let Some(r) = data
                .pending
                .values_mut()
                .find(|r| r.node_id == node_id && r.facts == facts)
            {
                r.ts = now;
                return Change::Write((r.clone(), false));
            }
            data.pending.retain(|_, r| r.node_id != node_id);
            evict_oldest(data);
            let req = NodePending {
                request_id: uuid::Uuid::new_v4().to_string(),
                node_id: node_id.to_string(),
                required_approve_scopes: required_scopes(&facts.commands),
                facts,
                remote_ip,
                silent,
                ts: now,
            };
            data.pending.insert(req.request_id.clone(), req.clone());
            Change::Write((req, true))
        })
    }

    /// Checks a 2026.1-era node token in constant time.
    pub fn verify(&self, node_id: &str, token: &str) -> Option<PairedNode> {
        let data = self.files.read();
        data.paired
            .get(node_id)
            .filter(|p| {
                p.token
                    .as_deref()
                    .is_some_and(|t| crate::auth::secret_eq(t, token))
            })
            .map(PairedNode::redacted)
    }

    /// Drops a surface request; `None` when unknown.
    pub fn reject(&self, request_id: &str) -> Result<Option<NodePending>, StoreError> {
        self.files
            .update(|data| match data.pending.remove(request_id) {
                None => Change::Unchanged(None),
                Some(r) => Change::Write(Some(r)),
            })
    }

    /// Forgets a node's approval and requests; `false` when there was nothing.
    pub fn remove(&self, node_id: &str) -> Result<bool, StoreError> {
        self.files.update(|data| {
            let had = data.paired.remove(node_id).is_some();
            let before = data.pending.len();
            data.pending.retain(|_, r| r.node_id != node_id);
            if had || before != data.pending.len() {
                Change::Write(true)
            } else {
                Change::Unchanged(false)
            }
        })
    }

    /// Sets a node's display name; `false` when it is not paired.
    pub fn rename(&self, node_id: &str, name: &str) -> Result<bool, StoreError> {
        self.files
            .update(|data| match data.paired.get_mut(node_id) {
                None => Change::Unchanged(false),
                Some(p) => {
                    p.facts.display_name = Some(name.to_string());
                    Change::Write(true)
                }
            })
    }

    /// Pending requests (newest first) and approved nodes.
    pub fn list(&self) -> (Vec<NodePending>, Vec<PairedNode>) {
        let data = self.files.read();
        let mut pending: Vec<NodePending> = data.pending.values().cloned().collect();
        pending.sort_by_key(|p| std::cmp::Reverse(p.ts));
        let paired = data.paired.values().map(PairedNode::redacted).collect();
        (pending, paired)
    }
}

fn evict_oldest(data: &mut Maps<PairedNode, NodePending>) {
    while data.pending.len() >= MAX_PENDING {
        let oldest = data
            .pending
            .values()
            .min_by_key(|p| p.ts)
            .map(|p| p.request_id.clone());
        match oldest {
            Some(id) => data.pending.remove(&id),
            None => break,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(commands: &[&str]) -> NodeFacts {
        NodeFacts {
            display_name: Some("vm".into()),
            caps: vec!["system".into()],
            commands: commands.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_surface_is_requested_once_then_approved_and_survives_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nodes");
        let store = NodeStore::open(dir.clone());
        let s = store
            .on_connect("n1", facts(&["system.which"]), None, true, 1)
            .unwrap();
        let (req, created) = s.pending.unwrap();
        assert!(created && s.paired.is_none());
        assert_eq!(
            req.required_approve_scopes,
            ["operator.pairing", "operator.admin"]
        );
        let again = store
            .on_connect("n1", facts(&["system.which"]), None, true, 2)
            .unwrap();
        let (same, created) = again.pending.unwrap();
        assert!(!created);
        assert_eq!(same.request_id, req.request_id);

        assert!(store.approve("nope", 3).unwrap().is_none());
        let node = store.approve(&req.request_id, 3).unwrap().unwrap();
        assert_eq!(node.facts.commands, ["system.which"]);
        let reopened = NodeStore::open(dir);
        let s = reopened
            .on_connect("n1", facts(&["system.which"]), None, true, 4)
            .unwrap();
        assert!(s.pending.is_none());
        assert_eq!(s.paired.unwrap().last_connected_at_ms, Some(4));
        // Declaring more asks again; the approved surface stays.
        let s = reopened
            .on_connect("n1", facts(&["system.which", "system.run"]), None, false, 5)
            .unwrap();
        assert!(s.paired.is_some());
        assert!(s.pending.unwrap().1);
    }
}
