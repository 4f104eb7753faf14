//! Workspace file tools (`read`, `write`, `edit`, `ls`) and the one place that turns a
//! model-supplied path into a file inside the workspace. Blocking; called via
//! `spawn_blocking`.
//!
//! Containment: the path is joined to the workspace, `.`/`..` are resolved lexically, then the
//! deepest existing ancestor is canonicalised (following symlinks) and the result must still
//! lie inside the canonical workspace. The canonical path is what gets opened, so the check and
//! the use agree. Dangling symlinks are refused.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

use super::ToolOutput;
use super::error::{IoOp, ToolError};

/// Bytes of a file `read` looks at.
pub const READ_MAX_BYTES: u64 = 256 * 1024;
/// Characters of text `read` returns at most.
pub const READ_MAX_OUTPUT: usize = 50 * 1024;
/// Lines `read` returns at most.
pub const READ_MAX_LINES: usize = 2000;
/// Largest `content` `write` (and the result of `edit`) accepts.
pub const WRITE_MAX_BYTES: usize = 1024 * 1024;
/// Entries `ls` lists at most.
const LS_MAX_ENTRIES: usize = 500;

type ToolResult = Result<ToolOutput, ToolError>;

fn ok(content: String, details: Value) -> ToolResult {
    Ok(ToolOutput {
        content,
        is_error: false,
        details,
    })
}

fn str_arg<'a>(args: &'a Value, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| args.get(*n).and_then(Value::as_str))
}

fn required<'a>(args: &'a Value, names: &[&str]) -> Result<&'a str, ToolError> {
    str_arg(args, names).ok_or_else(|| ToolError::MissingArgument(names[0].to_string()))
}

fn uint_arg(args: &Value, name: &str) -> Result<Option<usize>, ToolError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(|n| Some(n as usize))
            .ok_or_else(|| ToolError::NotAPositiveInteger(name.to_string())),
    }
}

/// The canonical workspace directory (created 0700 when missing).
fn workspace_root(workspace: &Path) -> Result<PathBuf, ToolError> {
    let unavailable = |source| ToolError::WorkspaceUnavailable {
        workspace: workspace.to_path_buf(),
        source,
    };
    openclaw_config::fsutil::ensure_private_dir(workspace).map_err(unavailable)?;
    std::fs::canonicalize(workspace).map_err(unavailable)
}

/// Resolves a model-supplied path to a location inside the workspace (see the module doc).
pub fn resolve_in_workspace(workspace: &Path, raw: &str) -> Result<PathBuf, ToolError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ToolError::EmptyPath);
    }
    if raw.contains('\0') {
        return Err(ToolError::NulInPath);
    }
    let root = workspace_root(workspace)?;
    let given = Path::new(raw);
    let joined = if given.is_absolute() {
        given.to_path_buf()
    } else {
        root.join(given)
    };
    let mut lexical = PathBuf::new();
    for comp in joined.components() {
        match comp {
            Component::Prefix(_) | Component::RootDir | Component::Normal(_) => lexical.push(comp),
            Component::CurDir => {}
            Component::ParentDir => {
                lexical.pop();
            }
        }
    }
    let escape = || ToolError::EscapesWorkspace {
        path: raw.to_string(),
        workspace: root.clone(),
    };
    // Split into the deepest existing ancestor and the not-yet-existing rest.
    let mut existing = lexical.clone();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    while std::fs::symlink_metadata(&existing).is_err() {
        match existing.file_name() {
            Some(name) => rest.push(name.to_os_string()),
            None => return Err(escape()),
        }
        if !existing.pop() {
            return Err(escape());
        }
    }
    let mut resolved = std::fs::canonicalize(&existing).map_err(|source| {
        if std::fs::symlink_metadata(&existing).is_ok_and(|m| m.file_type().is_symlink()) {
            ToolError::DanglingSymlink(raw.to_string())
        } else {
            ToolError::Unresolvable {
                path: raw.to_string(),
                source,
            }
        }
    })?;
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    if !resolved.starts_with(&root) {
        return Err(escape());
    }
    Ok(resolved)
}

/// The path as shown to the model: relative to the workspace.
fn display(root: &Path, p: &Path) -> String {
    match p.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => p.display().to_string(),
    }
}

pub fn read(workspace: &Path, args: &Value) -> ToolResult {
    let raw = required(args, &["path", "file_path"])?;
    let path = resolve_in_workspace(workspace, raw)?;
    let root = workspace_root(workspace)?;
    let shown = display(&root, &path);
    let meta = std::fs::metadata(&path).map_err(|e| ToolError::io(IoOp::Read, &shown, e))?;
    if meta.is_dir() {
        return Err(ToolError::ReadDirectory(shown));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(READ_MAX_BYTES).read_to_end(&mut bytes))
        .map_err(|e| ToolError::io(IoOp::Read, &shown, e))?;
    if bytes.contains(&0) {
        return Err(ToolError::Binary(shown));
    }
    let capped = meta.len() > READ_MAX_BYTES;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len();
    let offset = uint_arg(args, "offset")?.unwrap_or(1).max(1);
    let limit = uint_arg(args, "limit")?
        .unwrap_or(READ_MAX_LINES)
        .clamp(1, READ_MAX_LINES);
    if offset > total.max(1) {
        return Err(ToolError::OffsetBeyondEnd {
            offset,
            path: shown,
            lines: total,
        });
    }
    let mut out = String::new();
    let mut last = offset - 1;
    for line in lines.iter().skip(offset - 1).take(limit) {
        if out.len() + line.len() + 1 > READ_MAX_OUTPUT {
            break;
        }
        out.push_str(line);
        out.push('\n');
        last += 1;
    }
    let more_lines = last < total;
    if more_lines {
        out.push_str(&format!(
            "\n[Showing lines {offset}-{last} of {total}{}. Use offset={} to continue.]",
            if capped { "+" } else { "" },
            last + 1
        ));
    } else if capped {
        out.push_str(&format!(
            "\n[File truncated: only the first {} KiB of {} bytes were read.]",
            READ_MAX_BYTES / 1024,
            meta.len()
        ));
    }
    ok(
        out,
        json!({"path": shown, "totalLines": total, "from": offset, "to": last,
               "truncated": more_lines || capped}),
    )
}

pub fn write(workspace: &Path, args: &Value) -> ToolResult {
    let raw = required(args, &["path", "file_path"])?;
    let content = required(args, &["content"])?;
    if content.len() > WRITE_MAX_BYTES {
        return Err(ToolError::ContentTooLarge {
            bytes: content.len(),
            limit: WRITE_MAX_BYTES,
        });
    }
    let path = resolve_in_workspace(workspace, raw)?;
    let root = workspace_root(workspace)?;
    let shown = display(&root, &path);
    if path.is_dir() {
        return Err(ToolError::WriteDirectory(shown));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ToolError::io(IoOp::Create, &shown, e))?;
    }
    openclaw_config::fsutil::replace_keeping_mode(&path, content.as_bytes())
        .map_err(|e| ToolError::io(IoOp::Write, &shown, e))?;
    ok(
        format!("Wrote {} bytes to {shown}", content.len()),
        json!({"path": shown, "bytes": content.len()}),
    )
}

pub fn edit(workspace: &Path, args: &Value) -> ToolResult {
    let raw = required(args, &["path", "file_path"])?;
    let old = required(args, &["oldText", "old_string"])?;
    let new = required(args, &["newText", "new_string"])?;
    if old.is_empty() {
        return Err(ToolError::EmptyOldText);
    }
    let path = resolve_in_workspace(workspace, raw)?;
    let root = workspace_root(workspace)?;
    let shown = display(&root, &path);
    let meta = std::fs::metadata(&path).map_err(|e| ToolError::io(IoOp::Read, &shown, e))?;
    if meta.len() > WRITE_MAX_BYTES as u64 {
        return Err(ToolError::TooLargeToEdit(shown));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| ToolError::io(IoOp::Read, &shown, e))?;
    match text.matches(old).count() {
        0 => return Err(ToolError::OldTextNotFound(shown)),
        1 => {}
        count => return Err(ToolError::OldTextNotUnique { count, path: shown }),
    }
    let updated = text.replacen(old, new, 1);
    if updated.len() > WRITE_MAX_BYTES {
        return Err(ToolError::EditTooLarge(shown));
    }
    openclaw_config::fsutil::replace_keeping_mode(&path, updated.as_bytes())
        .map_err(|e| ToolError::io(IoOp::Write, &shown, e))?;
    ok(format!("Edited {shown}"), json!({"path": shown}))
}

pub fn ls(workspace: &Path, args: &Value) -> ToolResult {
    let raw = str_arg(args, &["path"])
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(".");
    let path = resolve_in_workspace(workspace, raw)?;
    let root = workspace_root(workspace)?;
    let shown = display(&root, &path);
    let mut names: Vec<String> = std::fs::read_dir(&path)
        .map_err(|e| ToolError::io(IoOp::List, &shown, e))?
        .filter_map(Result::ok)
        .map(|e| {
            let mut n = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                n.push('/');
            }
            n
        })
        .collect();
    names.sort();
    let total = names.len();
    names.truncate(LS_MAX_ENTRIES);
    let mut out = if names.is_empty() {
        "(empty directory)".to_string()
    } else {
        names.join("\n")
    };
    if total > LS_MAX_ENTRIES {
        out.push_str(&format!(
            "\n[{} more entries not shown]",
            total - LS_MAX_ENTRIES
        ));
    }
    ok(out, json!({"path": shown, "entries": total}))
}
