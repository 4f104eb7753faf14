//! JSON Schema of the protocol, generated from the types of this crate, and the validation of
//! inbound frames against it with messages in the reference's (ajv) style:
//! `at /client/id: must be equal to one of the allowed values`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::*;

/// Adds every protocol type to `generator`; the order fixes the `$defs` key list.
fn register_all(g: &mut SchemaGenerator) {
    g.subschema_for::<RequestFrame>();
    g.subschema_for::<ResponseFrame>();
    g.subschema_for::<EventFrame>();
    g.subschema_for::<ErrorShape>();
    g.subschema_for::<ConnectParams>();
    g.subschema_for::<HelloOk>();
    g.subschema_for::<ConnectChallenge>();
    g.subschema_for::<Tick>();
    g.subschema_for::<PresenceEvent>();
    g.subschema_for::<Shutdown>();
    g.subschema_for::<HeartbeatEvent>();
    g.subschema_for::<AgentEvent>();
    g.subschema_for::<ChatEvent>();
    g.subschema_for::<HealthParams>();
    g.subschema_for::<EmptyParams>();
    g.subschema_for::<SystemEventParams>();
    g.subschema_for::<OkResult>();
    g.subschema_for::<HealthSummary>();
    g.subschema_for::<RuntimeStats>();
    g.subschema_for::<StatusSummary>();
    g.subschema_for::<PresenceEntry>();
    g.subschema_for::<LogsTailParams>();
    g.subschema_for::<LogsTailResult>();
    g.subschema_for::<ConfigWriteParams>();
    g.subschema_for::<ConfigGetResult>();
    g.subschema_for::<ConfigWriteResult>();
    g.subschema_for::<AgentParams>();
    g.subschema_for::<AgentWaitParams>();
    g.subschema_for::<AgentFinal>();
    g.subschema_for::<ChatSendParams>();
    g.subschema_for::<ChatHistoryParams>();
    g.subschema_for::<ChatAbortParams>();
    g.subschema_for::<SessionsListParams>();
    g.subschema_for::<SessionsResetParams>();
    g.subschema_for::<SessionsDeleteParams>();
    g.subschema_for::<SetHeartbeatsParams>();
    g.subschema_for::<WakeParams>();
    g.subschema_for::<SendParams>();
    g.subschema_for::<ChannelsStatusParams>();
    g.subschema_for::<ChannelAccountParams>();
    g.subschema_for::<nodes::RequestIdParams>();
    g.subschema_for::<nodes::DeviceIdParams>();
    g.subschema_for::<nodes::DeviceRenameParams>();
    g.subschema_for::<nodes::DeviceTokenParams>();
    g.subschema_for::<nodes::ScopeUpgradeParams>();
    g.subschema_for::<nodes::NodeIdParams>();
    g.subschema_for::<nodes::NodeRenameParams>();
    g.subschema_for::<nodes::NodeInvokeParams>();
    g.subschema_for::<nodes::NodeInvokeResultParams>();
    g.subschema_for::<nodes::NodeInvokeProgressParams>();
    g.subschema_for::<nodes::NodeEventParams>();
    g.subschema_for::<nodes::NodePendingEnqueueParams>();
    g.subschema_for::<nodes::NodePendingDrainParams>();
    g.subschema_for::<nodes::NodePendingAckParams>();
    g.subschema_for::<nodes::PendingWorkItem>();
    g.subschema_for::<nodes::PairResolved>();
    g.subschema_for::<nodes::NodeInvokeRequest>();
    g.subschema_for::<nodes::NodePairRequestParams>();
    g.subschema_for::<nodes::NodePairVerifyParams>();
    g.subschema_for::<nodes::ExecApprovalsNodeGetParams>();
    g.subschema_for::<nodes::ExecApprovalsNodeSetParams>();
    g.subschema_for::<ui::AgentIdentityParams>();
    g.subschema_for::<ui::AgentIdentityResult>();
    g.subschema_for::<ui::AgentsListResult>();
    g.subschema_for::<ui::SessionsSubscribeResult>();
    g.subschema_for::<ui::ObserverVisibilityParams>();
    g.subschema_for::<ui::SessionsChanged>();
    g.subschema_for::<ui::UpdateStatusParams>();
    g.subschema_for::<ui::UpdateStatusResult>();
    g.subschema_for::<ui::UsersPrefsGetParams>();
    g.subschema_for::<ui::UsersPrefsSetParams>();
    g.subschema_for::<ui::UsersPrefsResult>();
    g.subschema_for::<ui::QuestionListResult>();
    g.subschema_for::<ui::SetupDetectParams>();
    g.subschema_for::<ui::SetupDetectResult>();
    g.subschema_for::<ui::PluginSurfaceRefreshParams>();
    g.subschema_for::<ui::PluginsControlUiCatalog>();
    g.subschema_for::<ui::WebLoginStartParams>();
    g.subschema_for::<ui::WebLoginWaitParams>();
    g.subschema_for::<ui::WebLoginResult>();
    g.subschema_for::<tools::ToolsCatalogParams>();
    g.subschema_for::<tools::ToolsCatalogResult>();
    g.subschema_for::<sessions::ModelsListParams>();
    g.subschema_for::<sessions::ModelsListResult>();
    g.subschema_for::<sessions::SessionsPatchParams>();
    g.subschema_for::<sessions::SessionsPatchResult>();
    g.subschema_for::<sessions::SessionsPreviewParams>();
    g.subschema_for::<sessions::SessionsPreviewResult>();
    g.subschema_for::<sessions::SessionsResolveParams>();
    g.subschema_for::<sessions::SessionsGetParams>();
    g.subschema_for::<sessions::SessionsCreateParams>();
    g.subschema_for::<sessions::SessionsCompactParams>();
    g.subschema_for::<sessions::SessionsCompactResult>();
    g.subschema_for::<sessions::ChatInjectParams>();
    g.subschema_for::<sessions::ChatInjectResult>();
    g.subschema_for::<sessions::CommandsListParams>();
    g.subschema_for::<wizard::WizardStartParams>();
    g.subschema_for::<wizard::WizardNextParams>();
    g.subschema_for::<wizard::WizardCancelParams>();
    g.subschema_for::<wizard::WizardStatusParams>();
    g.subschema_for::<wizard::WizardNextResult>();
    g.subschema_for::<wizard::WizardStatusResult>();
    g.subschema_for::<cron::CronStatusParams>();
    g.subschema_for::<cron::CronStatusResult>();
    g.subschema_for::<cron::CronListParams>();
    g.subschema_for::<cron::CronAddParams>();
    g.subschema_for::<cron::CronJobRef>();
    g.subschema_for::<cron::CronUpdateParams>();
    g.subschema_for::<cron::CronRunParams>();
    g.subschema_for::<cron::CronRunsParams>();
    g.subschema_for::<cron::CronRunsResult>();
    g.subschema_for::<cron::CronJob>();
    g.subschema_for::<cron::CronEvent>();
    g.subschema_for::<approvals::ApprovalIdParams>();
    g.subschema_for::<approvals::ExecApprovalResolveParams>();
    g.subschema_for::<approvals::ApprovalResolveParams>();
    g.subschema_for::<approvals::ExecApprovalsSetParams>();
}

/// The whole protocol schema: `{"$schema", "title", "$defs": {TypeName: schema…}}`.
/// This is what `schema/protocol.schema.json` holds.
pub fn protocol_schema() -> Value {
    let mut g = SchemaSettings::draft2020_12().into_generator();
    register_all(&mut g);
    let defs: BTreeMap<String, Value> = g
        .definitions()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "OpenClaw gateway protocol (v3/v4)",
        "$defs": defs,
    })
}

/// The committed schema file's text (pretty JSON with a trailing newline).
pub fn protocol_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&protocol_schema()).unwrap_or_default();
    s.push('\n');
    s
}

type ValidatorMap = BTreeMap<String, OnceLock<Option<Validator>>>;

fn validators() -> &'static (Value, ValidatorMap) {
    static CELL: OnceLock<(Value, ValidatorMap)> = OnceLock::new();
    CELL.get_or_init(|| {
        let schema = protocol_schema();
        let map = schema["$defs"]
            .as_object()
            .map(|o| o.keys().map(|k| (k.clone(), OnceLock::new())).collect())
            .unwrap_or_default();
        (schema, map)
    })
}

/// The compiled validator of one `$defs` entry (compiled once, on first use).
fn validator(def: &str) -> Option<&'static Validator> {
    let (schema, map) = validators();
    map.get(def)?
        .get_or_init(|| {
            // Only the definitions `def` can reach: a copy of all of them in every validator
            // made memory grow with the square of the protocol's size.
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$ref": format!("#/$defs/{def}"),
                "$defs": reachable_defs(&schema["$defs"], def),
            });
            jsonschema::validator_for(&root).ok()
        })
        .as_ref()
}

/// The `$defs` entries `start` refers to, directly or through others (itself included).
fn reachable_defs(defs: &Value, start: &str) -> Value {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(name) = o
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                {
                    out.push(name.to_string());
                }
                o.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut picked = serde_json::Map::new();
    let mut todo = vec![start.to_string()];
    while let Some(name) = todo.pop() {
        if picked.contains_key(&name) {
            continue;
        }
        let Some(d) = defs.get(&name) else {
            continue;
        };
        refs(d, &mut todo);
        picked.insert(name, d.clone());
    }
    Value::Object(picked)
}

/// Compiles every validator now, so the first client does not pay for it.
/// Returns the definitions that failed to compile (none, or it is a bug of this crate).
pub fn warm_up() -> Vec<String> {
    let (_, map) = validators();
    map.keys()
        .filter(|k| validator(k).is_none())
        .cloned()
        .collect()
}

/// The `$defs` name schemars gives `T`.
pub fn def_name<T: JsonSchema>() -> String {
    T::schema_name().into_owned()
}

/// Why a value does not fit a protocol type; the message is the reference's (ajv) wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// No schema is generated for the type (a bug in this crate, never the peer's fault).
    #[error("no schema for {0}")]
    NoSchema(String),
    /// The value breaks the schema: one ajv-style message per violation.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The schema let it through but the type would not take it.
    #[error("{0}")]
    Deserialize(String),
}

/// Validates `value` against `T`'s schema.
pub fn validate<T: JsonSchema>(value: &Value) -> Result<(), SchemaError> {
    let name = def_name::<T>();
    let Some(v) = validator(&name) else {
        return Err(SchemaError::NoSchema(name));
    };
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| ajv_message(&e, value))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::Invalid(errors))
    }
}

/// Validates then deserializes.
pub fn validate_into<T: JsonSchema + DeserializeOwned>(value: Value) -> Result<T, SchemaError> {
    validate::<T>(&value)?;
    serde_json::from_value(value).map_err(|e| SchemaError::Deserialize(e.to_string()))
}

/// Formats one validation error like ajv does in the reference's messages.
/// `root` is the validated document, used to name properties that a `false` schema refused.
pub fn ajv_message(e: &ValidationError<'_>, root: &Value) -> String {
    let path = e.instance_path().as_str().to_string();
    let at = |p: &str| {
        if p.is_empty() {
            "at root".to_string()
        } else {
            format!("at {p}")
        }
    };
    match e.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| property.to_string());
            if path.is_empty() {
                format!("must have required property '{name}'")
            } else {
                format!("at {path}: must have required property '{name}'")
            }
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|p| format!("{}: unexpected property '{p}'", at(&path)))
            .collect::<Vec<_>>()
            .join("; "),
        ValidationErrorKind::Type { kind } => {
            let t = match kind {
                TypeKind::Single(t) => t.to_string(),
                // Optional fields are `T | null` in the schema; ajv's wording names only `T`.
                TypeKind::Multiple(set) => {
                    let names: Vec<String> = set.iter().map(|t| t.to_string()).collect();
                    let non_null: Vec<&String> = names.iter().filter(|n| *n != "null").collect();
                    if non_null.is_empty() {
                        names.join(",")
                    } else {
                        non_null
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    }
                }
            };
            format!("{}: must be {t}", at(&path))
        }
        ValidationErrorKind::Enum { .. } => {
            format!("{}: must be equal to one of the allowed values", at(&path))
        }
        ValidationErrorKind::Constant { .. } => {
            format!("{}: must be equal to constant", at(&path))
        }
        ValidationErrorKind::MinLength { limit } => {
            format!("{}: must NOT have fewer than {limit} characters", at(&path))
        }
        ValidationErrorKind::Minimum { limit } => format!("{}: must be >= {limit}", at(&path)),
        ValidationErrorKind::Maximum { limit } => format!("{}: must be <= {limit}", at(&path)),
        // `additionalProperties: false` on an object without `properties` reports the object,
        // not the key: every key present is unexpected.
        ValidationErrorKind::FalseSchema => match root.pointer(&path).and_then(Value::as_object) {
            Some(obj) if !obj.is_empty() => obj
                .keys()
                .map(|k| format!("{}: unexpected property '{k}'", at(&path)))
                .collect::<Vec<_>>()
                .join("; "),
            _ => format!("{}: must not be present", at(&path)),
        },
        _ => format!("{}: {e}", at(&path)),
    }
}

/// Why an inbound text frame could not become a [`RequestFrame`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON at all.
    #[error("parse error: {0}")]
    Json(String),
    /// JSON, but not a valid `req` frame; `id` is the frame's id when it had a string one.
    #[error("invalid request frame: {message}")]
    Invalid { id: Option<String>, message: String },
}

impl FrameError {
    /// The id to answer with (`"invalid"` when the frame had none).
    pub fn reply_id(&self) -> &str {
        match self {
            FrameError::Invalid { id: Some(id), .. } if !id.is_empty() => id,
            _ => "invalid",
        }
    }
}

/// Parses and validates one inbound frame. This is the single entry point for untrusted bytes.
pub fn parse_request(text: &[u8]) -> Result<RequestFrame, FrameError> {
    let value: Value = serde_json::from_slice(text).map_err(|e| FrameError::Json(e.to_string()))?;
    let id = value.get("id").and_then(Value::as_str).map(str::to_string);
    if let Err(e) = validate::<RequestFrame>(&value) {
        return Err(FrameError::Invalid {
            id,
            message: e.to_string(),
        });
    }
    serde_json::from_value(value).map_err(|e| FrameError::Invalid {
        id,
        message: e.to_string(),
    })
}

/// Validates a method's params (missing params count as `{}`) and converts them to `T`.
/// The error message is the reference's: `invalid <method> params: <details>`.
pub fn parse_params<T: JsonSchema + DeserializeOwned>(
    method: &str,
    params: Option<&Value>,
) -> Result<T, ErrorShape> {
    let value = params.cloned().unwrap_or_else(|| json!({}));
    validate_into::<T>(value)
        .map_err(|e| ErrorShape::invalid_request(format!("invalid {method} params: {e}")))
}
