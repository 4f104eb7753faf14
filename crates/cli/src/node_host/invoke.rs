//! One `node.invoke.request` from the gateway → one `node.invoke.result` back (spec §2.5, node
//! side). Parsing is defensive: whatever the gateway sends, the answer is a result (ok or a
//! clear error), never a panic; a request without an `id`/`nodeId` cannot be answered and is
//! only logged.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::approvals::{Approvals, ApprovalsFile};
use super::{run, which};

/// The commands this node implements, in the order it declares them at connect.
pub const COMMANDS: &[&str] = &[
    "system.execApprovals.get",
    "system.execApprovals.set",
    "system.run",
    "system.which",
];
/// Params larger than this are refused unread (an approvals file or an argv is far smaller).
pub const MAX_PARAMS_BYTES: usize = 512 * 1024;
const MAX_ID_LEN: usize = 256;

/// The parts of a `node.invoke.request` payload this node uses.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub id: String,
    pub node_id: String,
    pub command: String,
    /// The params as the JSON text the gateway sent (`None`: no params).
    pub params_json: Option<String>,
    pub timeout_ms: Option<u64>,
}

/// What the node answers.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeResult {
    /// `payloadJSON` text.
    Ok(String),
    Err {
        code: String,
        message: String,
    },
}

impl InvokeResult {
    fn err(code: &str, message: impl Into<String>) -> Self {
        InvokeResult::Err {
            code: code.to_string(),
            message: message.into(),
        }
    }

    fn json<T: Serialize>(value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(text) => InvokeResult::Ok(text),
            Err(e) => InvokeResult::err("UNAVAILABLE", format!("cannot encode result: {e}")),
        }
    }

    /// The `node.invoke.result` params for `req`.
    pub fn to_params(&self, req: &InvokeRequest) -> Value {
        match self {
            InvokeResult::Ok(payload) => json!({
                "id": req.id, "nodeId": req.node_id, "ok": true, "payloadJSON": payload,
            }),
            InvokeResult::Err { code, message } => json!({
                "id": req.id, "nodeId": req.node_id, "ok": false,
                "error": {"code": code, "message": message},
            }),
        }
    }
}

/// Reads a `node.invoke.request` payload. `Err` = not answerable (no usable id/nodeId/command).
/// Params given as an object (`params`) instead of text are re-encoded, as the reference does.
pub fn parse_request(payload: Option<&Value>) -> Result<InvokeRequest, String> {
    let obj = payload
        .and_then(Value::as_object)
        .ok_or("payload is not an object")?;
    let text = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= MAX_ID_LEN)
            .map(str::to_string)
            .ok_or_else(|| format!("{key} missing or not a short string"))
    };
    let id = text("id")?;
    let node_id = text("nodeId")?;
    let command = text("command")?;
    let params_json = match (obj.get("paramsJSON"), obj.get("params")) {
        (Some(Value::String(s)), _) => Some(s.clone()),
        (_, Some(v)) if !v.is_null() => Some(v.to_string()),
        _ => None,
    };
    let timeout_ms = obj
        .get("timeoutMs")
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(|t| t.min(u64::MAX as f64) as u64);
    Ok(InvokeRequest {
        id,
        node_id,
        command,
        params_json,
        timeout_ms,
    })
}

/// What a command handler needs from the node host.
pub struct Context {
    pub approvals: Approvals,
    pub path_env: String,
}

/// Runs `req` and returns the answer; never panics on input.
pub async fn dispatch(ctx: &Context, req: &InvokeRequest) -> InvokeResult {
    match req.command.as_str() {
        "system.which" => {
            let params: which::WhichParams = match decode(req, true) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let path_env = ctx.path_env.clone();
            // File-system probes: off the async workers.
            match tokio::task::spawn_blocking(move || which::which(&params, &path_env)).await {
                Ok(Ok(found)) => InvokeResult::json(&found),
                Ok(Err(e)) => InvokeResult::err("INVALID_REQUEST", format!("INVALID_REQUEST: {e}")),
                Err(e) => InvokeResult::err("UNAVAILABLE", format!("system.which failed: {e}")),
            }
        }
        "system.run" => {
            let params: run::RunParams = match decode(req, true) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let file = match ctx.approvals.load() {
                Ok(f) => f,
                Err(e) => return InvokeResult::err(e.code, e.message),
            };
            match run::plan(params, &file, &ctx.path_env, req.timeout_ms) {
                Ok(plan) => {
                    eprintln!(
                        "node host: system.run {} (invoke {})",
                        plan.program.display(),
                        req.id
                    );
                    InvokeResult::json(&run::execute(plan).await)
                }
                Err(refusal) => {
                    eprintln!(
                        "node host: system.run refused (invoke {}): {}",
                        req.id, refusal.message
                    );
                    InvokeResult::err(refusal.code, refusal.message)
                }
            }
        }
        "system.execApprovals.get" => {
            // `{}` or `{includeResolvedDefaults}`; absent params are fine.
            if req.params_json.is_some()
                && let Err(e) = decode::<ApprovalsGetParams>(req, false)
            {
                return e;
            }
            match ctx.approvals.snapshot() {
                Ok(s) => InvokeResult::json(&s),
                Err(e) => InvokeResult::err(e.code, e.message),
            }
        }
        "system.execApprovals.set" => {
            let params: ApprovalsSetParams = match decode(req, true) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let file = match ApprovalsFile::from_value(params.file) {
                Ok(f) => f,
                Err(e) => {
                    return InvokeResult::err(
                        "INVALID_REQUEST",
                        format!("INVALID_REQUEST: invalid exec approvals file: {e}"),
                    );
                }
            };
            match ctx.approvals.set(file, params.base_hash.as_deref()).await {
                Ok(s) => InvokeResult::json(&s),
                Err(e) => InvokeResult::err(e.code, e.message),
            }
        }
        _ => InvokeResult::err("UNAVAILABLE", "command not supported"),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ApprovalsGetParams {
    #[serde(default)]
    #[allow(dead_code)] // Accepted for the reference gateway; our snapshot has no extras.
    include_resolved_defaults: Option<bool>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ApprovalsSetParams {
    file: Value,
    #[serde(default)]
    base_hash: Option<String>,
}

/// The params as `T`, or the `INVALID_REQUEST` answer saying what is wrong with them.
fn decode<T: DeserializeOwned>(req: &InvokeRequest, required: bool) -> Result<T, InvokeResult> {
    let invalid = |m: String| InvokeResult::err("INVALID_REQUEST", format!("INVALID_REQUEST: {m}"));
    let text = match req.params_json.as_deref() {
        Some(t) => t,
        None if required => return Err(invalid("paramsJSON required".to_string())),
        None => "{}",
    };
    if text.len() > MAX_PARAMS_BYTES {
        return Err(invalid(format!(
            "paramsJSON too large ({} bytes > {MAX_PARAMS_BYTES})",
            text.len()
        )));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("paramsJSON malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(invalid("params must be an object".to_string()));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let what = if path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        };
        invalid(format!("invalid {} params: {what}", req.command))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn payload(command: &str, params_json: Value) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!("inv-1"));
        m.insert("nodeId".into(), json!("node-1"));
        m.insert("command".into(), json!(command));
        m.insert("paramsJSON".into(), params_json);
        m.insert("timeoutMs".into(), json!(30000));
        Value::Object(m)
    }

    fn ctx(dir: &std::path::Path) -> Context {
        Context {
            approvals: Approvals::new(dir.join(super::super::approvals::FILE_NAME)),
            path_env: which::node_path_env(),
        }
    }

    async fn call(ctx: &Context, command: &str, params_json: Value) -> InvokeResult {
        let req = parse_request(Some(&payload(command, params_json))).unwrap();
        dispatch(ctx, &req).await
    }

    fn err_of(r: InvokeResult) -> (String, String) {
        match r {
            InvokeResult::Err { code, message } => (code, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn unanswerable_requests_are_rejected() {
        assert!(parse_request(None).is_err());
        assert!(parse_request(Some(&json!([1]))).is_err());
        assert!(parse_request(Some(&json!({"id":"a","command":"x"}))).is_err());
        assert!(parse_request(Some(&json!({"id":"","nodeId":"n","command":"x"}))).is_err());
        let r = parse_request(Some(&json!({"id":"a","nodeId":"n","command":"x",
            "params":{"bins":["sh"]}, "timeoutMs": -5})))
        .unwrap();
        assert_eq!(r.params_json.as_deref(), Some(r#"{"bins":["sh"]}"#));
        assert_eq!(r.timeout_ms, None);
    }

    #[tokio::test]
    async fn bad_params_get_clear_errors() {
        let d = tempfile::tempdir().unwrap();
        let c = ctx(d.path());
        let cases = [
            ("system.which", json!("{not json"), "malformed JSON"),
            ("system.which", Value::Null, "paramsJSON required"),
            ("system.which", json!("[1]"), "must be an object"),
            ("system.which", json!(r#"{"bins":"sh"}"#), "bins"),
            (
                "system.which",
                json!(r#"{"bins":[],"extra":1}"#),
                "unknown field",
            ),
            ("system.run", json!(r#"{"command":"ls"}"#), "command"),
            ("system.run", json!(r#"{"command":["ls"],"cwd":5}"#), "cwd"),
            (
                "system.execApprovals.set",
                json!(r#"{"file":{"version":7}}"#),
                "version",
            ),
            (
                "system.execApprovals.set",
                json!(r#"{"baseHash":"x"}"#),
                "file",
            ),
            (
                "system.execApprovals.get",
                json!(r#"{"bogus":true}"#),
                "unknown field",
            ),
        ];
        for (command, params, want) in cases {
            let (code, message) = err_of(call(&c, command, params.clone()).await);
            assert_eq!(code, "INVALID_REQUEST", "{command} {params}");
            assert!(message.contains(want), "{command} {params}: {message}");
        }
        let huge = json!(format!(
            r#"{{"bins":["{}"]}}"#,
            "a".repeat(MAX_PARAMS_BYTES)
        ));
        let (_, message) = err_of(call(&c, "system.which", huge).await);
        assert!(message.contains("too large"), "{message}");
        let (code, message) = err_of(call(&c, "camera.snap", Value::Null).await);
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("UNAVAILABLE", "command not supported")
        );
    }

    #[tokio::test]
    async fn which_and_refused_run_and_approvals_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let c = ctx(d.path());
        let InvokeResult::Ok(text) = call(&c, "system.which", json!(r#"{"bins":["sh"]}"#)).await
        else {
            panic!("which failed");
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["bins"]["sh"].as_str().unwrap().ends_with("/sh"));

        let marker = d.path().join("ran");
        let run = json!(format!(r#"{{"command":["touch","{}"]}}"#, marker.display()));
        let (code, message) = err_of(call(&c, "system.run", run.clone()).await);
        assert_eq!(code, "SYSTEM_RUN_DENIED");
        assert!(message.contains("allowlist miss"));
        assert!(!marker.exists());

        let InvokeResult::Ok(text) = call(&c, "system.execApprovals.get", Value::Null).await else {
            panic!("get failed");
        };
        let snap: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(snap["exists"], false);
        let touch = which::find_in_path("touch", &which::node_path_env()).unwrap();
        let set = json!({"file":{"version":1,"agents":{"*":{"allowlist":[touch.real]}}},
            "baseHash": snap["hash"]});
        let InvokeResult::Ok(text) =
            call(&c, "system.execApprovals.set", json!(set.to_string())).await
        else {
            panic!("set failed");
        };
        let snap2: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(snap2["exists"], true);
        let InvokeResult::Ok(text) = call(&c, "system.run", run).await else {
            panic!("allowlisted run refused");
        };
        let out: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(out["success"], true);
        assert!(marker.exists());
    }
}
