//! Built-in tools the model may call (agent.md §7.1 names): `read`, `write`, `edit`,
//! `apply_patch`, `ls` on the agent workspace, and `session_status` (time and workspace).
//! Everything that needs the daemon (exec, message, sessions, web) comes from a [`ToolHost`]. [`ToolPolicy`] decides which tools a run offers and accepts.

mod error;
mod fs;
mod host;
mod patch;
mod policy;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

pub use error::{IoOp, ToolError};
pub use fs::{READ_MAX_BYTES, WRITE_MAX_BYTES, resolve_in_workspace};
pub use host::{TOOL_UPDATE_BUFFER, ToolCall, ToolFuture, ToolHost, ToolUpdates};
pub use policy::{
    CORE_TOOLS, CoreTool, PROFILES, ToolPolicy, canonical_tool_name, core_tool, default_profiles,
};

use crate::provider::ToolSpec;

/// Where tools act.
#[derive(Debug, Clone)]
pub struct ToolContext {
    pub workspace: PathBuf,
    /// Tools the gateway provides for this run (exec, message, sessions, cron, …).
    pub host: Option<Arc<dyn ToolHost>>,
}

impl ToolContext {
    /// Only the built-in workspace tools.
    pub fn workspace_only(workspace: PathBuf) -> Self {
        ToolContext {
            workspace,
            host: None,
        }
    }

    /// Every tool this context can run: the built-ins, then the host's (a host tool never
    /// shadows a built-in of the same name). Filter with [`ToolPolicy::allows`].
    pub fn tools(&self) -> Vec<ToolSpec> {
        let mut tools = builtin_tools();
        if let Some(host) = &self.host {
            for spec in host.specs() {
                if !tools.iter().any(|t| t.name == spec.name) {
                    tools.push(spec);
                }
            }
        }
        tools
    }
}

/// A tool's result: `content` goes back to the model; `details` is for UIs and transcripts.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub content: String,
    pub is_error: bool,
    pub details: Value,
}

impl ToolOutput {
    pub fn error(message: impl Into<String>) -> ToolOutput {
        ToolOutput {
            content: message.into(),
            is_error: true,
            details: Value::Null,
        }
    }
}

/// Names of the tools this crate runs itself.
const BUILTIN: &[&str] = &[
    "read",
    "write",
    "edit",
    "apply_patch",
    "ls",
    "session_status",
];

/// The specs of the built-in tools, as offered to the model (filter them with
/// [`ToolPolicy::allows`]).
pub fn builtin_tools() -> Vec<ToolSpec> {
    let spec = |name: &str, description: &str, parameters: Value| ToolSpec {
        name: name.to_string(),
        description: description.to_string(),
        parameters,
    };
    vec![
        spec(
            "read",
            "Read a text file from the workspace. Long files are truncated; use offset/limit (lines) to page.",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "description": "Path relative to the workspace"},
                "offset": {"type": "integer", "minimum": 1, "description": "First line to read (1-based)"},
                "limit": {"type": "integer", "minimum": 1, "description": "Maximum number of lines"}},
                "required": ["path"], "additionalProperties": false}),
        ),
        spec(
            "write",
            "Create or overwrite a file in the workspace (parent directories are created).",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "description": "Path relative to the workspace"},
                "content": {"type": "string", "description": "The full new content"}},
                "required": ["path", "content"], "additionalProperties": false}),
        ),
        spec(
            "edit",
            "Replace one exact, unique occurrence of oldText with newText in a workspace file.",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "description": "Path relative to the workspace"},
                "oldText": {"type": "string", "description": "Exact text to find (must occur once)"},
                "newText": {"type": "string", "description": "Replacement text"}},
                "required": ["path", "oldText", "newText"], "additionalProperties": false}),
        ),
        spec(
            "apply_patch",
            "Patch one/many files. Input requires *** Begin Patch and *** End Patch. Hunks: '*** Add File: <path>' (+lines), '*** Delete File: <path>', '*** Update File: <path>' (optional '*** Move to: <path>') with @@ sections of ' ' context, '-' removed and '+' added lines. Paths are relative to the workspace.",
            json!({"type": "object", "properties": {
                "input": {"type": "string", "description": "Patch content using the *** Begin Patch/End Patch format."}},
                "required": ["input"], "additionalProperties": false}),
        ),
        spec(
            "ls",
            "List a directory of the workspace (directories end with /).",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "description": "Directory relative to the workspace (default .)"}},
                "additionalProperties": false}),
        ),
        spec(
            "session_status",
            "Show the current date and time (UTC) and the workspace path.",
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        ),
    ]
}

/// Runs a tool (built-in or the host's) outside a run: no call id, no updates, not
/// cancellable. See [`invoke_tool`].
pub async fn call_tool(name: &str, args: &Value, ctx: &ToolContext) -> ToolOutput {
    invoke_tool(
        ToolCall {
            id: String::new(),
            name: name.to_string(),
            args: args.clone(),
            cancel: crate::provider::CancelToken::new(),
            updates: ToolUpdates::none(),
        },
        ctx,
    )
    .await
}

/// Runs a tool: a built-in, else the context's host. Never panics on bad arguments: problems
/// come back as `is_error: true` outputs the model can read.
pub async fn invoke_tool(mut call: ToolCall, ctx: &ToolContext) -> ToolOutput {
    let (name_owned, args_owned) = (call.name.clone(), call.args.clone());
    let (name, args) = (name_owned.as_str(), &args_owned);
    if !args.is_object() && !args.is_null() {
        return ToolOutput::error(format!(
            "Invalid arguments for {name}: expected a JSON object, got {}",
            short(args)
        ));
    }
    if !BUILTIN.contains(&name) {
        if args.is_null() {
            call.args = Value::Object(Default::default());
        }
        return match ctx.host.as_ref().and_then(|h| h.call(call)) {
            Some(fut) => fut.await,
            None => ToolOutput::error(ToolError::NotAvailable(name_owned).to_string()),
        };
    }
    let args = args_owned.clone();
    let workspace = ctx.workspace.clone();
    let tool = name_owned.clone();
    let run = move || -> Result<ToolOutput, ToolError> {
        match tool.as_str() {
            "read" => fs::read(&workspace, &args),
            "write" => fs::write(&workspace, &args),
            "edit" => fs::edit(&workspace, &args),
            "apply_patch" => patch::apply_patch(&workspace, &args),
            "ls" => fs::ls(&workspace, &args),
            "session_status" => session_status(&workspace, &args),
            other => Err(ToolError::NotAvailable(other.to_string())),
        }
    };
    match tokio::task::spawn_blocking(run).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => ToolOutput::error(e.to_string()),
        Err(e) => ToolOutput::error(format!("tool {name} failed: {e}")),
    }
}

fn session_status(workspace: &std::path::Path, args: &Value) -> Result<ToolOutput, ToolError> {
    if args.get("model").is_some_and(|m| !m.is_null()) {
        return Err(ToolError::ModelChangeUnsupported);
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(ToolOutput {
        content: format!("Time: {now}\nWorkspace: {}", workspace.display()),
        is_error: false,
        details: json!({"time": now, "workspace": workspace.display().to_string()}),
    })
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        let mut t: String = s.chars().take(80).collect();
        t.push('…');
        t
    } else {
        s
    }
}
