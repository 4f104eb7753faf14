//! The system prompt (agent.md §8): an identity line, the workspace path, reply conventions,
//! the per-run extra prompt, and the workspace bootstrap files (`AGENTS.md`, `SOUL.md`,
//! `USER.md`, `IDENTITY.md`, `TOOLS.md`, `HEARTBEAT.md`, plus `BOOTSTRAP.md` while it exists)
//! as "Project Context", each capped (head + tail kept) and the whole capped too.

use std::path::Path;

/// Per-file cap (`agents.defaults.bootstrapMaxChars` default).
pub const BOOTSTRAP_MAX_CHARS: usize = 20_000;
/// Cap on all bootstrap files together.
pub const BOOTSTRAP_TOTAL_MAX_CHARS: usize = 150_000;

/// Injected on every run, in this order.
const BOOTSTRAP_FILES: &[&str] = &[
    "AGENTS.md",
    "SOUL.md",
    "USER.md",
    "IDENTITY.md",
    "TOOLS.md",
    "HEARTBEAT.md",
];
/// Injected only while present (the first-run ritual deletes it).
const OPTIONAL_FILES: &[&str] = &["BOOTSTRAP.md"];
/// Largest bootstrap file read from disk (larger ones are read only up to this).
const READ_CAP_BYTES: u64 = 4 * 1024 * 1024;

/// Keeps the head (70 %) and tail (20 %) of an over-long text with a marker between.
fn truncate_middle(text: &str, max_chars: usize, name: &str) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_string();
    }
    let head_n = max_chars * 7 / 10;
    let tail_n = max_chars * 2 / 10;
    let head: String = text.chars().take(head_n).collect();
    let tail: String = text.chars().skip(total - tail_n).collect();
    format!(
        "{head}\n\n[...truncated {} of {total} characters of {name}; read the file for the rest...]\n\n{tail}",
        total - head_n - tail_n
    )
}

fn read_capped(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(READ_CAP_BYTES)
        .read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Builds the system prompt for a run in `workspace` (created 0700 if missing). `extra` is the
/// run's `extraSystemPrompt`. Missing bootstrap files appear as `[MISSING] Expected at: <path>`;
/// empty ones are skipped.
pub fn system_prompt(workspace: &Path, extra: Option<&str>) -> std::io::Result<String> {
    openclaw_config::fsutil::ensure_private_dir(workspace)?;
    let mut out = String::new();
    out.push_str("You are a personal assistant running inside OpenClaw.\n\n");
    out.push_str("## Workspace\n");
    out.push_str(&format!(
        "Your working directory is: {}\nFile tools resolve relative paths against it and cannot leave it.\n\n",
        workspace.display()
    ));
    out.push_str("## Silent replies\n");
    out.push_str(
        "When you have nothing to say, reply with exactly NO_REPLY (and nothing else).\n\n",
    );
    if let Some(extra) = extra.map(str::trim).filter(|e| !e.is_empty()) {
        out.push_str("## Additional Context\n");
        out.push_str(extra);
        out.push_str("\n\n");
    }

    let mut sections = Vec::new();
    let mut budget = BOOTSTRAP_TOTAL_MAX_CHARS;
    let files = BOOTSTRAP_FILES
        .iter()
        .map(|f| (f, true))
        .chain(OPTIONAL_FILES.iter().map(|f| (f, false)));
    for (name, required) in files {
        if budget == 0 {
            break;
        }
        let path = workspace.join(name);
        let body = match read_capped(&path) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => truncate_middle(&text, BOOTSTRAP_MAX_CHARS.min(budget), name),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !required {
                    continue;
                }
                format!("[MISSING] Expected at: {}", path.display())
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read bootstrap file");
                continue;
            }
        };
        budget = budget.saturating_sub(body.chars().count());
        sections.push(format!("## {name}\n\n{}\n", body.trim_end()));
    }
    if !sections.is_empty() {
        out.push_str("# Project Context\n\n");
        out.push_str(
            "The following workspace files were loaded for you (persona, user, instructions):\n\n",
        );
        out.push_str(&sections.join("\n"));
    }
    Ok(out.trim_end().to_string() + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_head_and_tail() {
        let text: String = (0..1000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let t = truncate_middle(&text, 100, "X.md");
        assert!(t.starts_with(&text[..70]));
        assert!(t.ends_with(&text[980..]));
        assert!(t.contains("truncated 910 of 1000"));
        assert_eq!(truncate_middle("short", 100, "X.md"), "short");
    }
}
