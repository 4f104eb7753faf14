//! Why a tool call failed. The message is what the model reads (as an `is_error` tool result),
//! so the wording is part of the agent's behaviour: change it only on purpose.

use std::path::PathBuf;

/// The file operation that failed, as the message words it (`cannot read x: …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOp {
    Read,
    Write,
    Create,
    List,
}

impl std::fmt::Display for IoOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IoOp::Read => "read",
            IoOp::Write => "write",
            IoOp::Create => "create",
            IoOp::List => "list",
        })
    }
}

/// A tool call the model made that could not be carried out. Paths in messages are the
/// model's own (relative to the workspace) except for the workspace itself.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("Tool not available: {0}")]
    NotAvailable(String),
    #[error("missing required string argument `{0}`")]
    MissingArgument(String),
    #[error("`{0}` must be a positive integer")]
    NotAPositiveInteger(String),
    #[error("workspace {} is unavailable: {source}", .workspace.display())]
    WorkspaceUnavailable {
        workspace: PathBuf,
        source: std::io::Error,
    },
    #[error("path must not be empty")]
    EmptyPath,
    #[error("path must not contain NUL")]
    NulInPath,
    #[error("Path escapes the workspace: {path} (workspace: {})", .workspace.display())]
    EscapesWorkspace { path: String, workspace: PathBuf },
    #[error("refusing to follow a dangling symlink: {0}")]
    DanglingSymlink(String),
    #[error("cannot resolve {path}: {source}")]
    Unresolvable {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: IoOp,
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is a directory (use ls)")]
    ReadDirectory(String),
    #[error("{0} is a directory")]
    WriteDirectory(String),
    #[error("{0} looks like a binary file")]
    Binary(String),
    #[error("offset {offset} is beyond the end of {path} ({lines} lines)")]
    OffsetBeyondEnd {
        offset: usize,
        path: String,
        lines: usize,
    },
    #[error("content is {bytes} bytes; the limit is {limit} bytes")]
    ContentTooLarge { bytes: usize, limit: usize },
    #[error("oldText must not be empty")]
    EmptyOldText,
    #[error("{0} is too large to edit")]
    TooLargeToEdit(String),
    #[error("oldText was not found in {0}")]
    OldTextNotFound(String),
    #[error("oldText occurs {count} times in {path}; include more context so it is unique")]
    OldTextNotUnique { count: usize, path: String },
    #[error("the edited {0} would exceed the size limit")]
    EditTooLarge(String),
    #[error("changing the model from session_status is not supported")]
    ModelChangeUnsupported,
    /// `apply_patch`: the patch is malformed or does not apply (the reference's wording).
    #[error("{0}")]
    Patch(String),
}

impl ToolError {
    pub(crate) fn io(op: IoOp, path: &str, source: std::io::Error) -> Self {
        ToolError::Io {
            op,
            path: path.to_string(),
            source,
        }
    }
}
