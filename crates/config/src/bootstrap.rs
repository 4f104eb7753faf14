//! The agent workspace's bootstrap files (agent.md §8.1), seeded when missing so a fresh
//! workspace — from `setup`, `onboard` or the `--dev` auto-create — is never empty.
//!
//! Seeding never overwrites: a file that exists (even empty) is the user's. `BOOTSTRAP.md`, the
//! one-time first-run ritual, is written only into a brand-new workspace (none of the other
//! files there yet), so an agent that deleted it after its first run does not get it back.

use std::path::Path;

use crate::fsutil::{ensure_private_dir, write_atomic};

/// The ritual file: only for a brand-new workspace.
pub const BOOTSTRAP_FILE: &str = "BOOTSTRAP.md";

/// (file name, seeded text) of the files every workspace gets.
pub const WORKSPACE_FILES: &[(&str, &str)] = &[
    (
        "AGENTS.md",
        "# AGENTS.md — how this workspace works\n\n\
         This folder is your home between conversations. Read SOUL.md, USER.md and IDENTITY.md\n\
         at the start of a session; they are yours to keep current.\n\n\
         - Write down what must outlive this session (decisions, preferences, open tasks) in\n\
         \x20 MEMORY.md or in memory/YYYY-MM-DD.md; do not rely on remembering it.\n\
         - Ask before anything destructive or anything that leaves this machine.\n\
         - Keep replies short in chats; details go into files when they are long.\n",
    ),
    (
        "SOUL.md",
        "# SOUL.md — who you are\n\n\
         Helpful, direct and honest. Say what you did and what you did not do. Prefer a\n\
         short correct answer to a long guess. Private things stay private.\n",
    ),
    (
        "TOOLS.md",
        "# TOOLS.md — notes on local tools\n\n\
         Keep notes here about the tools, commands and services on this machine that are\n\
         useful to you (paths, hosts, conventions). Guidance only: it grants nothing.\n",
    ),
    (
        "IDENTITY.md",
        "# IDENTITY.md\n\n\
         - Name: (pick one with your human during the first conversation)\n\
         - Vibe:\n\
         - Emoji:\n",
    ),
    (
        "USER.md",
        "# USER.md — about your human\n\n\
         - Name:\n\
         - How to address them:\n\
         - Time zone:\n\
         - Notes:\n",
    ),
    (
        "HEARTBEAT.md",
        "# HEARTBEAT.md\n\n\
         # Checklist for periodic heartbeat runs. Keep it empty (only comments) to skip them.\n",
    ),
];

const BOOTSTRAP_TEXT: &str = "# BOOTSTRAP.md — first run\n\n\
    This workspace is new. In your first conversation:\n\n\
    1. Introduce yourself and agree on a name, a vibe and an emoji; write them to IDENTITY.md.\n\
    2. Learn who your human is and fill in USER.md.\n\
    3. Adjust SOUL.md if they want you to behave differently.\n\
    4. Delete this file when you are done; it is not needed again.\n";

/// Creates `dir` (0700 when new) and every missing bootstrap file; returns the names created,
/// in order. Existing files are never touched.
pub fn seed_workspace(dir: &Path) -> std::io::Result<Vec<String>> {
    ensure_private_dir(dir)?;
    let brand_new = WORKSPACE_FILES
        .iter()
        .all(|(name, _)| !dir.join(name).exists());
    let mut created = Vec::new();
    for (name, text) in WORKSPACE_FILES {
        let path = dir.join(name);
        if path.exists() {
            continue;
        }
        write_atomic(&path, text.as_bytes())?;
        created.push((*name).to_string());
    }
    if brand_new && !dir.join(BOOTSTRAP_FILE).exists() {
        write_atomic(&dir.join(BOOTSTRAP_FILE), BOOTSTRAP_TEXT.as_bytes())?;
        created.push(BOOTSTRAP_FILE.to_string());
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_once_and_never_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        let first = seed_workspace(&ws).unwrap();
        assert_eq!(first.len(), WORKSPACE_FILES.len() + 1);
        std::fs::write(ws.join("SOUL.md"), "mine").unwrap();
        std::fs::remove_file(ws.join(BOOTSTRAP_FILE)).unwrap();
        assert!(seed_workspace(&ws).unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(ws.join("SOUL.md")).unwrap(), "mine");
        assert!(
            !ws.join(BOOTSTRAP_FILE).exists(),
            "the ritual is not re-seeded"
        );
    }
}
