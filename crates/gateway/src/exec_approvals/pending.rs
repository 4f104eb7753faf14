//! The gateway's exec approvals waiting for an operator: raised by an `exec` that needs one,
//! announced as `exec.approval.requested` to the connections that may answer, listed by
//! `exec.approval.list`/`get`, answered once by `exec.approval.resolve` (or `approval.resolve`)
//! and announced as `exec.approval.resolved`. In memory only: an approval lives no longer than
//! the tool call waiting for it. Bounded: at most [`MAX_PENDING`] wait at once, and the last
//! [`MAX_SETTLED`] settled ones are kept for `waitDecision`/`approval.get` after the fact.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::hub::{Audience, Hub};
use crate::state::now_ms;
use crate::sync::LockExt;

pub const MAX_PENDING: usize = 256;
const MAX_SETTLED: usize = 256;

/// The reference's default wait for an operator (30 minutes).
pub const DEFAULT_TIMEOUT_MS: u64 = 30 * 60 * 1000;

/// An operator's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Decision {
    #[serde(rename = "allow-once")]
    AllowOnce,
    #[serde(rename = "allow-always")]
    AllowAlways,
    #[serde(rename = "deny")]
    Deny,
}

impl Decision {
    pub const ALL: [&'static str; 3] = ["allow-once", "allow-always", "deny"];

    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "allow-once" => Some(Decision::AllowOnce),
            "allow-always" => Some(Decision::AllowAlways),
            "deny" => Some(Decision::Deny),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::AllowOnce => "allow-once",
            Decision::AllowAlways => "allow-always",
            Decision::Deny => "deny",
        }
    }
}

/// What the operator is asked about (`request` of the events and of `exec.approval.list`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequest {
    pub command: String,
    pub cwd: String,
    pub host: String,
    pub security: String,
    pub ask: String,
    pub agent_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_path: Option<String>,
    /// Which answers make sense (`allow-always` only where the programs can be pinned).
    #[serde(skip)]
    pub allowed: Vec<&'static str>,
}

/// How an approval ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Decided(Decision),
    /// No answer in time (or the waiting run went away).
    Expired,
}

/// One approval, pending or settled.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub request: ApprovalRequest,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    pub outcome: Option<Outcome>,
    pub resolved_at_ms: Option<u64>,
    pub resolved_by: Option<String>,
}

impl Record {
    /// `{id, request, createdAtMs, expiresAtMs}`: the requested event and a list entry.
    pub fn requested_payload(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "request": self.request,
            "createdAtMs": self.created_at_ms,
            "expiresAtMs": self.expires_at_ms,
        })
    }

    /// The decision as the protocol spells it (`null` for pending or expired).
    pub fn decision(&self) -> Option<&'static str> {
        match self.outcome {
            Some(Outcome::Decided(d)) => Some(d.as_str()),
            _ => None,
        }
    }
}

struct Entry {
    record: Record,
    tx: watch::Sender<Option<Outcome>>,
}

/// Why an approval could not be raised or answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingError {
    Full,
    NotFound,
    AlreadyResolved(Option<&'static str>),
}

#[derive(Default)]
pub struct PendingApprovals {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    pending: HashMap<String, Entry>,
    settled: VecDeque<(Record, watch::Sender<Option<Outcome>>)>,
}

impl PendingApprovals {
    /// Raises an approval and tells the approvers; the receiver sees its outcome.
    pub fn raise(
        &self,
        hub: &Hub,
        request: ApprovalRequest,
        timeout_ms: u64,
    ) -> Result<(Record, watch::Receiver<Option<Outcome>>), PendingError> {
        let now = now_ms();
        let record = Record {
            id: uuid::Uuid::new_v4().to_string(),
            request,
            created_at_ms: now,
            expires_at_ms: now.saturating_add(timeout_ms),
            outcome: None,
            resolved_at_ms: None,
            resolved_by: None,
        };
        let (tx, rx) = watch::channel(None);
        {
            let mut inner = self.inner.locked();
            if inner.pending.len() >= MAX_PENDING {
                return Err(PendingError::Full);
            }
            inner.pending.insert(
                record.id.clone(),
                Entry {
                    record: record.clone(),
                    tx,
                },
            );
        }
        let payload = record.requested_payload().to_string();
        hub.broadcast(
            openclaw_protocol::events::names::EXEC_APPROVAL_REQUESTED,
            &payload,
            None,
            true,
            Audience::Approvals,
        );
        Ok((record, rx))
    }

    /// The pending approvals, newest first.
    pub fn list(&self) -> Vec<Record> {
        let mut v: Vec<Record> = self
            .inner
            .locked()
            .pending
            .values()
            .map(|e| e.record.clone())
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.created_at_ms));
        v
    }

    /// A pending or recently settled approval.
    pub fn get(&self, id: &str) -> Option<Record> {
        let inner = self.inner.locked();
        inner.pending.get(id).map(|e| e.record.clone()).or_else(|| {
            inner
                .settled
                .iter()
                .find(|(r, _)| r.id == id)
                .map(|(r, _)| r.clone())
        })
    }

    /// A receiver of `id`'s outcome (already settled ones answer at once).
    pub fn watch(&self, id: &str) -> Option<(Record, watch::Receiver<Option<Outcome>>)> {
        let inner = self.inner.locked();
        if let Some(e) = inner.pending.get(id) {
            return Some((e.record.clone(), e.tx.subscribe()));
        }
        inner
            .settled
            .iter()
            .find(|(r, _)| r.id == id)
            .map(|(r, tx)| (r.clone(), tx.subscribe()))
    }

    /// Answers `id` once; the same answer again is accepted (`Ok(false)`), another refused.
    pub fn resolve(
        &self,
        hub: &Hub,
        id: &str,
        decision: Decision,
        resolved_by: Option<String>,
    ) -> Result<(bool, Record), PendingError> {
        let settled = {
            let mut inner = self.inner.locked();
            match inner.pending.remove(id) {
                Some(entry) => {
                    Self::settle(&mut inner, entry, Outcome::Decided(decision), resolved_by)
                }
                None => {
                    let Some((r, _)) = inner.settled.iter().find(|(r, _)| r.id == id) else {
                        return Err(PendingError::NotFound);
                    };
                    if r.outcome == Some(Outcome::Decided(decision)) {
                        return Ok((false, r.clone()));
                    }
                    return Err(PendingError::AlreadyResolved(r.decision()));
                }
            }
        };
        let payload = serde_json::json!({
            "id": settled.id,
            "decision": decision.as_str(),
            "resolvedBy": settled.resolved_by,
            "ts": settled.resolved_at_ms,
        })
        .to_string();
        hub.broadcast(
            openclaw_protocol::events::names::EXEC_APPROVAL_RESOLVED,
            &payload,
            None,
            true,
            Audience::Approvals,
        );
        Ok((true, settled))
    }

    /// Ends `id` without a decision (timeout, or its run went away).
    pub fn expire(&self, id: &str) {
        let mut inner = self.inner.locked();
        if let Some(entry) = inner.pending.remove(id) {
            Self::settle(&mut inner, entry, Outcome::Expired, None);
        }
    }

    fn settle(
        inner: &mut Inner,
        entry: Entry,
        outcome: Outcome,
        resolved_by: Option<String>,
    ) -> Record {
        let mut record = entry.record;
        record.outcome = Some(outcome);
        record.resolved_at_ms = Some(now_ms());
        record.resolved_by = resolved_by;
        let _ = entry.tx.send(Some(outcome));
        if inner.settled.len() >= MAX_SETTLED {
            inner.settled.pop_front();
        }
        inner.settled.push_back((record.clone(), entry.tx));
        record
    }
}

/// Waits for `rx`'s outcome until `expires_at_ms` (then `Expired`).
pub async fn wait_outcome(mut rx: watch::Receiver<Option<Outcome>>, expires_at_ms: u64) -> Outcome {
    let left = expires_at_ms.saturating_sub(now_ms());
    let wait = async {
        loop {
            if let Some(o) = *rx.borrow_and_update() {
                return o;
            }
            if rx.changed().await.is_err() {
                return Outcome::Expired;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_millis(left), wait)
        .await
        .unwrap_or(Outcome::Expired)
}
