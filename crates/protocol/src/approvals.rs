//! Exec approvals over the wire (protocol.md: `exec.approval.*`, `exec.approvals.get/set`, the
//! kind-agnostic `approval.get/resolve` the reference CLI uses): method names and params.
//! Results are built by the gateway from its records.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod names {
    pub const EXEC_APPROVAL_GET: &str = "exec.approval.get";
    pub const EXEC_APPROVAL_WAIT_DECISION: &str = "exec.approval.waitDecision";
    pub const EXEC_APPROVAL_RESOLVE: &str = "exec.approval.resolve";
    pub const EXEC_APPROVALS_GET: &str = "exec.approvals.get";
    pub const EXEC_APPROVALS_SET: &str = "exec.approvals.set";
    pub const APPROVAL_GET: &str = "approval.get";
    pub const APPROVAL_RESOLVE: &str = "approval.resolve";
}

/// `exec.approval.get` / `exec.approval.waitDecision` / `approval.get` `{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalIdParams {
    #[schemars(length(min = 1))]
    pub id: String,
}

/// `exec.approval.resolve {id, decision}`; the decision is checked by the handler (the
/// reference answers "invalid decision").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecApprovalResolveParams {
    #[schemars(length(min = 1))]
    pub id: String,
    pub decision: String,
}

/// `approval.resolve {id, kind, decision, grantExpiresInDays?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalResolveParams {
    #[schemars(length(min = 1))]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub decision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_expires_in_days: Option<u64>,
}

/// `exec.approvals.set {file, baseHash?}` (the file is checked against the approvals model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecApprovalsSetParams {
    pub file: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_hash: Option<String>,
}
