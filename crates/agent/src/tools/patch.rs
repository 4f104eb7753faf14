//! `apply_patch`: the reference's patch envelope (`*** Begin Patch` … `*** End Patch` with
//! `*** Add File:`, `*** Delete File:`, `*** Update File:` (+ `*** Move to:`) and `@@` hunks)
//! applied inside the workspace. Blocking; called via `spawn_blocking`.
//!
//! Every path goes through [`resolve_in_workspace`] (the guard `write` uses). The whole patch is
//! parsed and applied in memory first (later hunks see earlier ones, as in the reference), so a
//! hunk that does not apply leaves every file untouched; only then are files written, each one
//! atomically (temp + rename), and deleted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::ToolOutput;
use super::error::{IoOp, ToolError};
use super::fs::{WRITE_MAX_BYTES, resolve_in_workspace};

const BEGIN: &str = "*** Begin Patch";
const END: &str = "*** End Patch";
const ADD: &str = "*** Add File: ";
const DELETE: &str = "*** Delete File: ";
const UPDATE: &str = "*** Update File: ";
const MOVE: &str = "*** Move to: ";
const EOF_MARKER: &str = "*** End of File";
/// Largest patch text accepted (the model's tool call arguments are bounded anyway).
const PATCH_MAX_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
enum Hunk {
    Add {
        path: String,
        contents: String,
    },
    Delete {
        path: String,
    },
    Update {
        path: String,
        move_to: Option<String>,
        chunks: Vec<Chunk>,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Chunk {
    /// The `@@ <line>` anchor, searched before the old lines.
    context: Option<String>,
    old: Vec<String>,
    new: Vec<String>,
    /// For each new line: the index of the old line it repeats (a context line), so the
    /// file's own spelling of that line is kept.
    new_from_old: Vec<Option<usize>>,
    end_of_file: bool,
}

fn invalid(msg: impl Into<String>) -> ToolError {
    ToolError::Patch(msg.into())
}

/// Parses the envelope (also accepted wrapped in a `<<EOF` … `EOF` heredoc, as the reference).
fn parse(input: &str) -> Result<Vec<Hunk>, ToolError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(invalid("Invalid patch: input is empty."));
    }
    let mut lines: Vec<&str> = trimmed
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .collect();
    let bounds = |l: &[&str]| -> Result<(), ToolError> {
        if l.first().map(|s| s.trim()) != Some(BEGIN) {
            Err(invalid(
                "The first line of the patch must be '*** Begin Patch'",
            ))
        } else if l.len() < 2 || l.last().map(|s| s.trim()) != Some(END) {
            Err(invalid(
                "The last line of the patch must be '*** End Patch'",
            ))
        } else {
            Ok(())
        }
    };
    if let Err(e) = bounds(&lines) {
        let heredoc = lines.len() >= 4
            && matches!(lines[0], "<<EOF" | "<<'EOF'" | "<<\"EOF\"")
            && lines.last().is_some_and(|l| l.ends_with("EOF"));
        if !heredoc {
            return Err(e);
        }
        lines = lines[1..lines.len() - 1].to_vec();
        bounds(&lines)?;
    }
    let body = &lines[1..lines.len() - 1];
    let mut hunks = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let line_no = i + 2;
        let first = body[i].trim();
        if first.is_empty() {
            i += 1;
            continue;
        }
        if let Some(path) = first.strip_prefix(ADD) {
            let mut contents = String::new();
            i += 1;
            while let Some(l) = body.get(i).and_then(|l| l.strip_prefix('+')) {
                contents.push_str(l);
                contents.push('\n');
                i += 1;
            }
            hunks.push(Hunk::Add {
                path: path.to_string(),
                contents,
            });
        } else if let Some(path) = first.strip_prefix(DELETE) {
            hunks.push(Hunk::Delete {
                path: path.to_string(),
            });
            i += 1;
        } else if let Some(path) = first.strip_prefix(UPDATE) {
            i += 1;
            let move_to = match body.get(i).map(|l| l.trim()) {
                Some(m) if m.starts_with(MOVE) => {
                    i += 1;
                    Some(m[MOVE.len()..].to_string())
                }
                _ => None,
            };
            let mut chunks = Vec::new();
            while i < body.len() {
                if body[i].trim().is_empty() {
                    i += 1;
                    continue;
                }
                if body[i].starts_with("***") {
                    break;
                }
                let (chunk, used) = parse_chunk(&body[i..], i + 2, chunks.is_empty())?;
                chunks.push(chunk);
                i += used;
            }
            if chunks.is_empty() {
                return Err(invalid(format!(
                    "Invalid patch hunk at line {line_no}: Update file hunk for path '{path}' is empty"
                )));
            }
            hunks.push(Hunk::Update {
                path: path.to_string(),
                move_to,
                chunks,
            });
        } else {
            return Err(invalid(format!(
                "Invalid patch hunk at line {line_no}: '{}' is not a valid hunk header. Valid hunk headers: '*** Add File: {{path}}', '*** Delete File: {{path}}', '*** Update File: {{path}}'",
                body[i]
            )));
        }
    }
    Ok(hunks)
}

fn parse_chunk(lines: &[&str], line_no: usize, first: bool) -> Result<(Chunk, usize), ToolError> {
    let mut chunk = Chunk::default();
    let mut start = 0;
    match lines.first() {
        Some(&"@@") => start = 1,
        Some(l) if l.starts_with("@@ ") => {
            chunk.context = Some(l[3..].to_string());
            start = 1;
        }
        Some(l) if !first => {
            return Err(invalid(format!(
                "Invalid patch hunk at line {line_no}: Expected update hunk to start with a @@ context marker, got: '{l}'"
            )));
        }
        _ => {}
    }
    let empty = || {
        invalid(format!(
            "Invalid patch hunk at line {}: Update hunk does not contain any lines",
            line_no + 1
        ))
    };
    let mut parsed = 0;
    for line in &lines[start..] {
        if *line == EOF_MARKER {
            if parsed == 0 {
                return Err(empty());
            }
            chunk.end_of_file = true;
            parsed += 1;
            break;
        }
        let mut chars = line.chars();
        match chars.next() {
            None => {
                chunk.new_from_old.push(Some(chunk.old.len()));
                chunk.old.push(String::new());
                chunk.new.push(String::new());
            }
            Some(' ') => {
                chunk.new_from_old.push(Some(chunk.old.len()));
                chunk.old.push(chars.as_str().to_string());
                chunk.new.push(chars.as_str().to_string());
            }
            Some('+') => {
                chunk.new_from_old.push(None);
                chunk.new.push(chars.as_str().to_string());
            }
            Some('-') => chunk.old.push(chars.as_str().to_string()),
            Some(_) if parsed == 0 => {
                return Err(invalid(format!(
                    "Invalid patch hunk at line {}: Unexpected line found in update hunk: '{line}'. Every line should start with ' ' (context line), '+' (added line), or '-' (removed line)",
                    line_no + 1
                )));
            }
            Some(_) => break,
        }
        parsed += 1;
    }
    if parsed == 0 {
        return Err(empty());
    }
    Ok((chunk, parsed + start))
}

/// Typographic dashes, quotes and spaces folded to ASCII (the reference's last, loosest match).
fn fold_punctuation(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '\u{2018}'..='\u{201B}' => '\'',
            '\u{201C}'..='\u{201F}' => '"',
            '\u{00A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

enum Seek {
    Found(usize),
    Missing,
    Ambiguous(usize),
}

/// Finds `pattern` in `lines` at or after `start`: exact, then ignoring trailing space, then
/// surrounding space, then typography; the first level with a match decides, and it must be
/// unique there.
fn seek(lines: &[String], pattern: &[String], start: usize, eof: bool) -> Seek {
    if pattern.is_empty() {
        return Seek::Found(start);
    }
    if pattern.len() > lines.len() {
        return Seek::Missing;
    }
    let max_start = lines.len() - pattern.len();
    let from = if eof { start.max(max_start) } else { start };
    if from > max_start {
        return Seek::Missing;
    }
    let levels: [fn(&str) -> String; 4] = [
        |s| s.to_string(),
        |s| s.trim_end().to_string(),
        |s| s.trim().to_string(),
        |s| fold_punctuation(s.trim()),
    ];
    for norm in levels {
        let hits: Vec<usize> = (from..=max_start)
            .filter(|&i| {
                pattern
                    .iter()
                    .enumerate()
                    .all(|(k, p)| norm(&lines[i + k]) == norm(p))
            })
            .collect();
        match hits.as_slice() {
            [] => continue,
            [one] => return Seek::Found(*one),
            many => return Seek::Ambiguous(many.len()),
        }
    }
    Seek::Missing
}

/// A file's text split for patching: lines without endings, the ending it prefers, whether
/// the last line ended, and a byte-order mark to keep.
struct Source {
    bom: bool,
    lines: Vec<String>,
    ending: &'static str,
    final_newline: bool,
}

impl Source {
    fn parse(text: &str) -> Source {
        let (bom, text) = match text.strip_prefix('\u{feff}') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let ending = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let final_newline = text.is_empty() || text.ends_with('\n');
        let mut lines: Vec<String> = text
            .split('\n')
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        if text.ends_with('\n') || text.is_empty() {
            lines.pop();
        }
        Source {
            bom,
            lines,
            ending,
            final_newline,
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if self.bom {
            out.push('\u{feff}');
        }
        out.push_str(&self.lines.join(self.ending));
        if self.final_newline && !self.lines.is_empty() {
            out.push_str(self.ending);
        }
        out
    }
}

fn apply_chunks(text: &str, shown: &str, chunks: &[Chunk]) -> Result<String, ToolError> {
    let mut src = Source::parse(text);
    let mut replacements: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let mut at = 0;
    for chunk in chunks {
        if let Some(ctx) = &chunk.context {
            match seek(&src.lines, std::slice::from_ref(ctx), at, false) {
                Seek::Found(i) => at = i + 1,
                Seek::Ambiguous(n) => {
                    return Err(invalid(format!(
                        "Found {n} occurrences of context '{ctx}' in {shown}. The context must be unique; use a more specific @@ context line."
                    )));
                }
                Seek::Missing => {
                    return Err(invalid(format!(
                        "Failed to find context '{ctx}' in {shown}"
                    )));
                }
            }
        }
        if chunk.old.is_empty() {
            let index = if chunk.context.is_some() && !chunk.end_of_file {
                at
            } else {
                src.lines.len()
            };
            replacements.push((index, 0, chunk.new.clone()));
            at = index;
            continue;
        }
        let (mut old, mut new, mut map) = (
            chunk.old.as_slice(),
            chunk.new.as_slice(),
            chunk.new_from_old.as_slice(),
        );
        let mut found = seek(&src.lines, old, at, chunk.end_of_file);
        // A trailing empty context line is often the patch's own final newline.
        if matches!(found, Seek::Missing) && old.last().is_some_and(String::is_empty) {
            old = &old[..old.len() - 1];
            if new.last().is_some_and(String::is_empty) {
                new = &new[..new.len() - 1];
                map = &map[..map.len().min(new.len())];
            }
            found = seek(&src.lines, old, at, chunk.end_of_file);
        }
        let index = match found {
            Seek::Found(i) => i,
            Seek::Ambiguous(n) => {
                return Err(invalid(format!(
                    "Found {n} occurrences of these lines in {shown}. The lines must be unique; include more surrounding lines in the hunk:\n{}",
                    chunk.old.join("\n")
                )));
            }
            Seek::Missing => {
                return Err(invalid(format!(
                    "Failed to find expected lines in {shown}:\n{}",
                    chunk.old.join("\n")
                )));
            }
        };
        // Context lines keep the file's own spelling (they may have matched loosely).
        let lines: Vec<String> = new
            .iter()
            .enumerate()
            .map(|(k, text)| match map.get(k).copied().flatten() {
                Some(o) if o < old.len() => src.lines[index + o].clone(),
                _ => text.clone(),
            })
            .collect();
        replacements.push((index, old.len(), lines));
        at = index + old.len();
    }
    replacements.sort_by_key(|r| r.0);
    for (index, len, lines) in replacements.into_iter().rev() {
        let end = (index + len).min(src.lines.len());
        src.lines.splice(index..end, lines);
    }
    if text.is_empty() {
        src.final_newline = true;
    }
    Ok(src.render())
}

/// The files a patch touches, as they will be after it: `None` = deleted.
struct Overlay {
    root: PathBuf,
    files: BTreeMap<PathBuf, Option<String>>,
    /// First-touch order, so writes happen in patch order.
    order: Vec<PathBuf>,
}

impl Overlay {
    fn exists(&self, p: &Path) -> bool {
        match self.files.get(p) {
            Some(state) => state.is_some(),
            None => p.is_file(),
        }
    }

    fn read(&self, p: &Path, shown: &str) -> Result<String, ToolError> {
        if let Some(state) = self.files.get(p) {
            return state.clone().ok_or_else(|| {
                invalid(format!(
                    "Failed to read file to update {shown}: it was deleted earlier in this patch"
                ))
            });
        }
        if p.is_dir() {
            return Err(ToolError::WriteDirectory(shown.to_string()));
        }
        let meta = std::fs::metadata(p)
            .map_err(|e| invalid(format!("Failed to read file to update {shown}: {e}")))?;
        if meta.len() > WRITE_MAX_BYTES as u64 {
            return Err(ToolError::TooLargeToEdit(shown.to_string()));
        }
        let bytes = std::fs::read(p).map_err(|e| ToolError::io(IoOp::Read, shown, e))?;
        if bytes.contains(&0) {
            return Err(ToolError::Binary(shown.to_string()));
        }
        String::from_utf8(bytes).map_err(|_| {
            invalid(format!(
                "Failed to read file to update {shown}: not valid UTF-8 text"
            ))
        })
    }

    fn set(&mut self, p: PathBuf, state: Option<String>) {
        if !self.order.contains(&p) {
            self.order.push(p.clone());
        }
        self.files.insert(p, state);
    }

    fn shown(&self, p: &Path) -> String {
        p.strip_prefix(&self.root)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string())
    }
}

#[derive(Default)]
struct Summary {
    added: Vec<String>,
    modified: Vec<String>,
    deleted: Vec<String>,
}

fn push_once(list: &mut Vec<String>, s: String) {
    if !list.contains(&s) {
        list.push(s);
    }
}

pub fn apply_patch(workspace: &Path, args: &Value) -> Result<ToolOutput, ToolError> {
    let input = args
        .get("input")
        .or_else(|| args.get("patch"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if input.trim().is_empty() {
        return Err(invalid("Provide a patch input."));
    }
    if input.len() > PATCH_MAX_BYTES {
        return Err(ToolError::ContentTooLarge {
            bytes: input.len(),
            limit: PATCH_MAX_BYTES,
        });
    }
    let hunks = parse(input)?;
    if hunks.is_empty() {
        return Err(invalid("No files were modified."));
    }
    // The canonical workspace (what resolve_in_workspace compares against).
    let root = resolve_in_workspace(workspace, ".")?;
    let mut overlay = Overlay {
        root,
        files: BTreeMap::new(),
        order: Vec::new(),
    };
    let mut summary = Summary::default();
    for hunk in &hunks {
        match hunk {
            Hunk::Add { path, contents } => {
                let p = resolve_in_workspace(workspace, path)?;
                let shown = overlay.shown(&p);
                if overlay.exists(&p) || p.is_dir() {
                    return Err(invalid(format!(
                        "Cannot create {shown}: the file already exists. Use \"*** Update File: {shown}\" to change it, or delete it earlier in the same patch."
                    )));
                }
                if contents.len() > WRITE_MAX_BYTES {
                    return Err(ToolError::ContentTooLarge {
                        bytes: contents.len(),
                        limit: WRITE_MAX_BYTES,
                    });
                }
                overlay.set(p, Some(contents.clone()));
                push_once(&mut summary.added, shown);
            }
            Hunk::Delete { path } => {
                let p = resolve_in_workspace(workspace, path)?;
                let shown = overlay.shown(&p);
                if !overlay.exists(&p) {
                    return Err(invalid(format!("Failed to delete {shown}: no such file")));
                }
                overlay.set(p, None);
                push_once(&mut summary.deleted, shown);
            }
            Hunk::Update {
                path,
                move_to,
                chunks,
            } => {
                let p = resolve_in_workspace(workspace, path)?;
                let shown = overlay.shown(&p);
                let before = overlay.read(&p, &shown)?;
                let after = apply_chunks(&before, &shown, chunks)?;
                if after.len() > WRITE_MAX_BYTES {
                    return Err(ToolError::EditTooLarge(shown));
                }
                match move_to {
                    Some(dest) => {
                        let d = resolve_in_workspace(workspace, dest)?;
                        let dest_shown = overlay.shown(&d);
                        if d == p {
                            overlay.set(p, Some(after));
                            push_once(&mut summary.modified, shown);
                        } else {
                            if overlay.exists(&d) || d.is_dir() {
                                return Err(invalid(format!(
                                    "Cannot create {dest_shown}: the file already exists. Delete it earlier in the same patch to replace it."
                                )));
                            }
                            overlay.set(d, Some(after));
                            overlay.set(p, None);
                            push_once(&mut summary.modified, dest_shown);
                        }
                    }
                    None if after == before => {}
                    None => {
                        overlay.set(p, Some(after));
                        push_once(&mut summary.modified, shown);
                    }
                }
            }
        }
    }
    // Everything applied in memory: now touch the disk, each file atomically.
    for p in &overlay.order {
        let shown = overlay.shown(p);
        match overlay.files.get(p) {
            Some(Some(text)) => {
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| ToolError::io(IoOp::Create, &shown, e))?;
                }
                openclaw_config::fsutil::replace_keeping_mode(p, text.as_bytes())
                    .map_err(|e| ToolError::io(IoOp::Write, &shown, e))?;
            }
            Some(None) => match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ToolError::io(IoOp::Write, &shown, e)),
            },
            None => {}
        }
    }
    let nothing =
        summary.added.is_empty() && summary.modified.is_empty() && summary.deleted.is_empty();
    let text = if nothing {
        "No changes made.".to_string()
    } else {
        let mut lines = vec!["Success. Updated the following files:".to_string()];
        lines.extend(summary.added.iter().map(|f| format!("A {f}")));
        lines.extend(summary.modified.iter().map(|f| format!("M {f}")));
        lines.extend(summary.deleted.iter().map(|f| format!("D {f}")));
        lines.join("\n")
    };
    Ok(ToolOutput {
        content: text,
        is_error: false,
        details: json!({"summary": {
            "added": summary.added, "modified": summary.modified, "deleted": summary.deleted}}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ws");
        std::fs::create_dir_all(&p).unwrap();
        (d, p)
    }

    fn run(ws: &Path, patch: &str) -> Result<ToolOutput, ToolError> {
        apply_patch(ws, &json!({ "input": patch }))
    }

    #[test]
    fn add_update_delete_and_move() {
        let (_d, ws) = ws();
        std::fs::write(ws.join("a.txt"), "one\ntwo\nthree\n").unwrap();
        std::fs::write(ws.join("gone.txt"), "x\n").unwrap();
        std::fs::write(ws.join("old.rs"), "fn a() {\n    1\n}\n").unwrap();
        let patch = "*** Begin Patch\n*** Add File: sub/new.txt\n+hello\n+world\n*** Update File: a.txt\n@@\n one\n-two\n+TWO\n three\n*** Delete File: gone.txt\n*** Update File: old.rs\n*** Move to: src/new.rs\n@@ fn a() {\n-    1\n+    2\n*** End Patch\n";
        let out = run(&ws, patch).unwrap();
        assert_eq!(
            out.content,
            "Success. Updated the following files:\nA sub/new.txt\nM a.txt\nM src/new.rs\nD gone.txt"
        );
        assert_eq!(
            std::fs::read_to_string(ws.join("sub/new.txt")).unwrap(),
            "hello\nworld\n"
        );
        assert_eq!(
            std::fs::read_to_string(ws.join("a.txt")).unwrap(),
            "one\nTWO\nthree\n"
        );
        assert!(!ws.join("gone.txt").exists() && !ws.join("old.rs").exists());
        assert_eq!(
            std::fs::read_to_string(ws.join("src/new.rs")).unwrap(),
            "fn a() {\n    2\n}\n"
        );
    }

    #[test]
    fn a_failing_hunk_changes_nothing() {
        let (_d, ws) = ws();
        std::fs::write(ws.join("a.txt"), "one\n").unwrap();
        let patch = "*** Begin Patch\n*** Add File: b.txt\n+b\n*** Update File: a.txt\n@@\n-nope\n+x\n*** End Patch";
        let e = run(&ws, patch).unwrap_err().to_string();
        assert!(e.contains("Failed to find expected lines in a.txt"), "{e}");
        assert!(!ws.join("b.txt").exists());
    }

    #[test]
    fn escapes_and_bad_envelopes_are_refused() {
        let (_d, ws) = ws();
        let e = run(
            &ws,
            "*** Begin Patch\n*** Add File: ../evil.txt\n+x\n*** End Patch",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("escapes the workspace"), "{e}");
        let e = run(&ws, "*** Add File: a\n+x").unwrap_err().to_string();
        assert!(e.contains("first line of the patch"), "{e}");
        let e = run(&ws, "*** Begin Patch\n*** Frobnicate: a\n*** End Patch")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a valid hunk header"), "{e}");
        let e = run(
            &ws,
            "*** Begin Patch\n*** Update File: missing.txt\n@@\n-a\n+b\n*** End Patch",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("Failed to read file to update missing.txt"),
            "{e}"
        );
        assert!(run(&ws, "  ").is_err());
    }

    #[test]
    fn crlf_loose_matching_and_heredoc() {
        let (_d, ws) = ws();
        std::fs::write(ws.join("w.txt"), "a \r\nb\r\nc\r\n").unwrap();
        let patch =
            "<<'EOF'\n*** Begin Patch\n*** Update File: w.txt\n@@\n a\n-b\n+B\n*** End Patch\nEOF";
        run(&ws, patch).unwrap();
        assert_eq!(
            std::fs::read_to_string(ws.join("w.txt")).unwrap(),
            "a \r\nB\r\nc\r\n"
        );
        // Appending with an empty old side and End of File.
        let patch =
            "*** Begin Patch\n*** Update File: w.txt\n@@\n+d\n*** End of File\n*** End Patch";
        run(&ws, patch).unwrap();
        assert_eq!(
            std::fs::read_to_string(ws.join("w.txt")).unwrap(),
            "a \r\nB\r\nc\r\nd\r\n"
        );
    }

    #[test]
    fn adding_an_existing_file_is_refused() {
        let (_d, ws) = ws();
        std::fs::write(ws.join("a.txt"), "x\n").unwrap();
        let e = run(
            &ws,
            "*** Begin Patch\n*** Add File: a.txt\n+y\n*** End Patch",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("already exists"), "{e}");
    }
}
