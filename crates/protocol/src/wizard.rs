//! `wizard.*`: the setup wizard over RPC (the reference's `packages/gateway-protocol` wizard
//! schema). A client starts a session, renders each [`WizardStep`] and answers it with
//! `wizard.next {sessionId, answer:{stepId, value}}` until `done`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod names {
    pub const WIZARD_START: &str = "wizard.start";
    pub const WIZARD_NEXT: &str = "wizard.next";
    pub const WIZARD_CANCEL: &str = "wizard.cancel";
    pub const WIZARD_STATUS: &str = "wizard.status";
}

/// Error detail codes of the wizard methods (`error.details.code`).
pub mod detail_codes {
    pub const WIZARD_NOT_FOUND: &str = "WIZARD_NOT_FOUND";
    pub const SETUP_ADMISSION_BUSY: &str = "SETUP_ADMISSION_BUSY";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WizardMode {
    Local,
    Remote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WizardFlow {
    Setup,
    Channels,
}

/// `wizard.start` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WizardStartParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<WizardMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_daemon: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<WizardFlow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub channel: Option<String>,
}

/// The answer to the current step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WizardAnswer {
    #[schemars(length(min = 1))]
    pub step_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// `wizard.next` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WizardNextParams {
    #[schemars(length(min = 1))]
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<WizardAnswer>,
}

/// `wizard.cancel` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WizardCancelParams {
    #[schemars(length(min = 1))]
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_input: Option<bool>,
}

/// `wizard.status` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WizardStatusParams {
    #[schemars(length(min = 1))]
    pub session_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WizardStepType {
    Note,
    Select,
    Text,
    Confirm,
    Multiselect,
    Progress,
    Action,
}

/// One choice of a `select` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WizardStepOption {
    pub value: Value,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// One step as clients render it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WizardStep {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: WizardStepType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<WizardStepOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitive: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WizardRunStatus {
    Running,
    Done,
    Cancelled,
    Error,
}

/// `wizard.next` result (`wizard.start` adds `sessionId`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WizardNextResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub done: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<WizardStep>,
    pub status: WizardRunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared_model_ref: Option<String>,
}

/// `wizard.status` / `wizard.cancel` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WizardStatusResult {
    pub status: WizardRunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
