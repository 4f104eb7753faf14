//! Clawdbot-era leftovers and their migration: `~/.clawdbot` (and `~/.moltbot`) state dirs,
//! `clawdbot.json` config files and `CLAWDBOT_*` variables. Migration never destroys data: it
//! copies into the openclaw location, verifies every byte, and only then renames the old tree to
//! a timestamped backup (`~/.clawdbot.migrated-<stamp>`) that keeps every original file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::fsutil::{ensure_private_dir, write_atomic};

/// Legacy state dir stems, oldest name first.
pub const LEGACY_STATE_STEMS: &[&str] = &[".clawdbot", ".moltbot"];
/// Legacy config file names inside a state dir.
pub const LEGACY_CONFIG_NAMES: &[&str] = &["clawdbot.json", "moltbot.json"];
/// The config file name today.
pub const CONFIG_NAME: &str = "openclaw.json";

/// The legacy state dirs a profile may have left behind: `~/.clawdbot[-<profile>]`, then
/// `~/.moltbot[-<profile>]` (existing or not).
pub fn legacy_state_dirs(home: &Path, profile: Option<&str>) -> Vec<PathBuf> {
    LEGACY_STATE_STEMS
        .iter()
        .map(|stem| match profile {
            None | Some("default") => home.join(stem),
            Some(p) => home.join(format!("{stem}-{p}")),
        })
        .collect()
}

/// A `CLAWDBOT_*` variable found in the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyEnvVar {
    pub name: String,
    /// The name to use instead.
    pub replacement: String,
    /// `OPENCLAW_*` is also set, so this one is ignored.
    pub shadowed: bool,
}

/// `CLAWDBOT_*` variables in `vars` (pass `std::env::vars()`), sorted by name.
pub fn legacy_env_vars(vars: impl Iterator<Item = (String, String)>) -> Vec<LegacyEnvVar> {
    let vars: Vec<(String, String)> = vars.collect();
    let mut out: Vec<LegacyEnvVar> = vars
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix("CLAWDBOT_")?;
            if v.trim().is_empty() {
                return None;
            }
            let replacement = format!("OPENCLAW_{rest}");
            let shadowed = vars
                .iter()
                .any(|(k2, v2)| *k2 == replacement && !v2.trim().is_empty());
            Some(LegacyEnvVar {
                name: k.clone(),
                replacement,
                shadowed,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationKind {
    /// `~/.clawdbot` → `~/.openclaw`.
    StateDir,
    /// `clawdbot.json` → `openclaw.json` inside the state dir.
    ConfigFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationStatus {
    /// Found, not applied (report-only run).
    Pending,
    Applied,
    /// Both places hold different data: nothing was touched.
    Conflict,
    /// An I/O error stopped it; the legacy data is untouched.
    Failed,
}

/// One migration, planned or done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Migration {
    pub kind: MigrationKind,
    pub from: PathBuf,
    pub to: PathBuf,
    /// Where the original stays after migrating.
    pub backup: Option<PathBuf>,
    pub status: MigrationStatus,
    /// Regular files carried over.
    pub files: usize,
    /// Paths (relative to `to`) that exist on both sides with different content.
    pub conflicts: Vec<String>,
    /// Entries that are neither files, dirs nor symlinks (sockets, fifos): left in the backup.
    pub skipped: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File { exec: bool },
    Symlink(PathBuf),
    Other,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Relative to the legacy root.
    rel: PathBuf,
    /// Relative to the target root (the top-level config is renamed).
    dest: PathBuf,
    kind: Kind,
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<Entry>) -> std::io::Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(root.join(rel))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|e| e.file_name())
        .collect();
    children.sort();
    for name in children {
        let rel = rel.join(&name);
        let meta = std::fs::symlink_metadata(root.join(&rel))?;
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink(std::fs::read_link(root.join(&rel))?)
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File {
                exec: is_exec(&meta),
            }
        } else {
            Kind::Other
        };
        let is_dir = kind == Kind::Dir;
        out.push(Entry {
            dest: rel.clone(),
            rel: rel.clone(),
            kind,
        });
        if is_dir {
            walk(root, &rel, out)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_exec(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o100 != 0
}

#[cfg(not(unix))]
fn is_exec(_: &std::fs::Metadata) -> bool {
    false
}

/// Files become 0600 (0700 when the owner could execute them): private, and scripts keep
/// working.
fn set_file_mode(path: &Path, exec: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if exec { 0o700 } else { 0o600 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, exec);
    Ok(())
}

fn is_legacy_config(rel: &Path) -> bool {
    rel.parent() == Some(Path::new(""))
        && rel
            .to_str()
            .is_some_and(|n| LEGACY_CONFIG_NAMES.contains(&n))
}

/// A free sibling name `<path><suffix>`, adding `-2`, `-3`… if taken.
pub fn free_name(path: &Path, suffix: &str) -> PathBuf {
    let base = format!("{}{suffix}", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 2;
    while candidate.exists() || std::fs::symlink_metadata(&candidate).is_ok() {
        candidate = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    candidate
}

fn same_file_content(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (ma, mb) = (std::fs::metadata(a)?, std::fs::metadata(b)?);
    if ma.len() != mb.len() {
        return Ok(false);
    }
    Ok(std::fs::read(a)? == std::fs::read(b)?)
}

/// Plans `from` → `to`: what would be copied and what conflicts. Reads only.
fn plan_entries(from: &Path, to: &Path) -> std::io::Result<(Vec<Entry>, Vec<String>)> {
    let mut entries = Vec::new();
    walk(from, Path::new(""), &mut entries)?;
    let has_current_config = entries.iter().any(|e| e.rel == Path::new(CONFIG_NAME));
    let legacy_configs = entries
        .iter()
        .filter(|e| is_legacy_config(&e.rel) && matches!(e.kind, Kind::File { .. }))
        .count();
    // Rename the one legacy config when nothing else claims `openclaw.json`.
    if !has_current_config && legacy_configs == 1 {
        for e in &mut entries {
            if is_legacy_config(&e.rel) && matches!(e.kind, Kind::File { .. }) {
                e.dest = PathBuf::from(CONFIG_NAME);
            }
        }
    }
    let mut conflicts = Vec::new();
    for e in &entries {
        let dest = to.join(&e.dest);
        let Ok(meta) = std::fs::symlink_metadata(&dest) else {
            continue;
        };
        let clash = match &e.kind {
            Kind::Dir => !meta.is_dir(),
            Kind::File { .. } => !meta.is_file() || !same_file_content(&from.join(&e.rel), &dest)?,
            Kind::Symlink(target) => {
                !meta.file_type().is_symlink() || std::fs::read_link(&dest)? != *target
            }
            Kind::Other => false,
        };
        if clash {
            conflicts.push(e.dest.display().to_string());
        }
    }
    Ok((entries, conflicts))
}

fn copy_entry(from: &Path, to: &Path, e: &Entry) -> std::io::Result<bool> {
    let src = from.join(&e.rel);
    let dest = to.join(&e.dest);
    match &e.kind {
        Kind::Dir => ensure_private_dir(&dest)?,
        Kind::File { exec } => {
            if dest.is_file() && same_file_content(&src, &dest)? {
                return Ok(true);
            }
            let data = std::fs::read(&src)?;
            write_atomic(&dest, &data)?;
            set_file_mode(&dest, *exec)?;
            if std::fs::read(&dest)? != data {
                return Err(std::io::Error::other(format!(
                    "verification failed for {}",
                    dest.display()
                )));
            }
            return Ok(true);
        }
        Kind::Symlink(target) => {
            if std::fs::symlink_metadata(&dest).is_err() {
                #[cfg(unix)]
                std::os::unix::fs::symlink(target, &dest)?;
                #[cfg(not(unix))]
                std::fs::copy(&src, &dest).map(|_| ())?;
            }
        }
        Kind::Other => {}
    }
    Ok(false)
}

fn fsync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Moves a legacy state dir to `to` (see the module doc). With `apply: false` it only plans.
/// `to` may exist as long as nothing in it conflicts; files present on both sides with the
/// same bytes count as already migrated, which makes an interrupted run resumable.
pub fn migrate_state_dir(from: &Path, to: &Path, stamp: &str, apply: bool) -> Migration {
    let mut m = Migration {
        kind: MigrationKind::StateDir,
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        backup: None,
        status: MigrationStatus::Pending,
        files: 0,
        conflicts: Vec::new(),
        skipped: Vec::new(),
        error: None,
    };
    let (entries, conflicts) = match plan_entries(from, to) {
        Ok(p) => p,
        Err(e) => {
            m.status = MigrationStatus::Failed;
            m.error = Some(format!("cannot read {}: {e}", from.display()));
            return m;
        }
    };
    m.files = entries
        .iter()
        .filter(|e| matches!(e.kind, Kind::File { .. }))
        .count();
    m.skipped = entries
        .iter()
        .filter(|e| e.kind == Kind::Other)
        .map(|e| e.rel.display().to_string())
        .collect();
    if to.exists() && !to.is_dir() {
        m.conflicts
            .push(format!("{} is not a directory", to.display()));
    }
    m.conflicts.extend(conflicts);
    if !m.conflicts.is_empty() {
        m.status = MigrationStatus::Conflict;
        return m;
    }
    if !apply {
        return m;
    }
    let result = (|| -> std::io::Result<PathBuf> {
        if to.exists() {
            for e in &entries {
                copy_entry(from, to, e)?;
            }
            fsync_dir(to);
        } else {
            // Build the whole tree beside the target, then rename it in: a crash leaves either
            // no target or a complete one.
            let parent = to.parent().unwrap_or(Path::new("."));
            let name = to
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "openclaw".into());
            let staging = parent.join(format!(".{name}.migrating"));
            if staging.exists() {
                // Our own scratch copy from an interrupted run; the legacy tree is intact.
                std::fs::remove_dir_all(&staging)?;
            }
            ensure_private_dir(&staging)?;
            for e in &entries {
                copy_entry(from, &staging, e)?;
            }
            fsync_dir(&staging);
            std::fs::rename(&staging, to)?;
            fsync_dir(parent);
        }
        let backup = free_name(from, &format!(".migrated-{stamp}"));
        std::fs::rename(from, &backup)?;
        if let Some(parent) = from.parent() {
            fsync_dir(parent);
        }
        Ok(backup)
    })();
    match result {
        Ok(backup) => {
            m.backup = Some(backup);
            m.status = MigrationStatus::Applied;
        }
        Err(e) => {
            m.status = MigrationStatus::Failed;
            m.error = Some(e.to_string());
        }
    }
    m
}

/// `clawdbot.json` (or `moltbot.json`) left in the current state dir → `openclaw.json`, keeping
/// the old file as `clawdbot.json.migrated-<stamp>`. `None` when there is nothing to do.
pub fn migrate_config_file(state_dir: &Path, stamp: &str, apply: bool) -> Option<Migration> {
    let from = LEGACY_CONFIG_NAMES
        .iter()
        .map(|n| state_dir.join(n))
        .find(|p| p.is_file())?;
    let to = state_dir.join(CONFIG_NAME);
    let mut m = Migration {
        kind: MigrationKind::ConfigFile,
        from: from.clone(),
        to: to.clone(),
        backup: None,
        status: MigrationStatus::Pending,
        files: 1,
        conflicts: Vec::new(),
        skipped: Vec::new(),
        error: None,
    };
    if to.exists() {
        m.status = MigrationStatus::Conflict;
        m.conflicts.push(CONFIG_NAME.to_string());
        return Some(m);
    }
    if !apply {
        return Some(m);
    }
    let result = (|| -> std::io::Result<PathBuf> {
        let data = std::fs::read(&from)?;
        write_atomic(&to, &data)?;
        let backup = free_name(&from, &format!(".migrated-{stamp}"));
        std::fs::rename(&from, &backup)?;
        fsync_dir(state_dir);
        Ok(backup)
    })();
    match result {
        Ok(b) => {
            m.backup = Some(b);
            m.status = MigrationStatus::Applied;
        }
        Err(e) => {
            m.status = MigrationStatus::Failed;
            m.error = Some(e.to_string());
        }
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(root: &Path) {
        std::fs::create_dir_all(root.join("credentials/whatsapp/default")).unwrap();
        std::fs::create_dir_all(root.join("agents/main/sessions")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("clawdbot.json"), "{gateway:{mode:'local'}}").unwrap();
        std::fs::write(root.join("credentials/whatsapp/default/creds.json"), "{}").unwrap();
        std::fs::write(root.join("agents/main/sessions/a.jsonl"), [0u8, 159, 255]).unwrap();
    }

    #[test]
    fn fresh_target_gets_a_verified_copy_and_the_original_becomes_the_backup() {
        let home = tempfile::tempdir().unwrap();
        let from = home.path().join(".clawdbot");
        let to = home.path().join(".openclaw");
        seed(&from);
        let planned = migrate_state_dir(&from, &to, "s1", false);
        assert_eq!(planned.status, MigrationStatus::Pending);
        assert!(!to.exists());
        let m = migrate_state_dir(&from, &to, "s1", true);
        assert_eq!(m.status, MigrationStatus::Applied, "{m:?}");
        assert_eq!(m.files, 3);
        let backup = m.backup.unwrap();
        assert_eq!(backup, home.path().join(".clawdbot.migrated-s1"));
        assert!(!from.exists());
        assert_eq!(
            std::fs::read(to.join("openclaw.json")).unwrap(),
            std::fs::read(backup.join("clawdbot.json")).unwrap()
        );
        assert_eq!(
            std::fs::read(to.join("agents/main/sessions/a.jsonl")).unwrap(),
            [0u8, 159, 255]
        );
        assert!(to.join("empty").is_dir());
        assert!(!home.path().join("..openclaw.migrating").exists());
    }

    #[test]
    fn conflicting_target_is_left_alone() {
        let home = tempfile::tempdir().unwrap();
        let from = home.path().join(".clawdbot");
        let to = home.path().join(".openclaw");
        seed(&from);
        std::fs::create_dir_all(&to).unwrap();
        std::fs::write(to.join("openclaw.json"), "{}").unwrap();
        let m = migrate_state_dir(&from, &to, "s", true);
        assert_eq!(m.status, MigrationStatus::Conflict);
        assert_eq!(m.conflicts, ["openclaw.json"]);
        assert!(from.join("clawdbot.json").exists());
        assert!(!to.join("credentials").exists());
    }

    #[test]
    fn merges_into_a_target_without_conflicts() {
        let home = tempfile::tempdir().unwrap();
        let from = home.path().join(".clawdbot");
        let to = home.path().join(".openclaw");
        seed(&from);
        std::fs::create_dir_all(to.join("agents/main/sessions")).unwrap();
        std::fs::write(to.join("agents/main/sessions/a.jsonl"), [0u8, 159, 255]).unwrap();
        std::fs::write(to.join("other.txt"), "mine").unwrap();
        let m = migrate_state_dir(&from, &to, "s", true);
        assert_eq!(m.status, MigrationStatus::Applied, "{m:?}");
        assert_eq!(
            std::fs::read_to_string(to.join("other.txt")).unwrap(),
            "mine"
        );
        assert!(to.join("credentials/whatsapp/default/creds.json").exists());
    }

    #[test]
    fn config_file_rename() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("clawdbot.json"), "{}").unwrap();
        let m = migrate_config_file(dir.path(), "s", true).unwrap();
        assert_eq!(m.status, MigrationStatus::Applied);
        assert!(dir.path().join("openclaw.json").exists());
        assert!(dir.path().join("clawdbot.json.migrated-s").exists());
        assert!(migrate_config_file(dir.path(), "s", true).is_none());
    }

    #[test]
    fn env_hints() {
        let vars = [
            ("CLAWDBOT_GATEWAY_PORT", "1"),
            ("CLAWDBOT_STATE_DIR", "/x"),
            ("OPENCLAW_STATE_DIR", "/y"),
            ("CLAWDBOT_EMPTY", " "),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let found = legacy_env_vars(vars.into_iter());
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].replacement, "OPENCLAW_GATEWAY_PORT");
        assert!(!found[0].shadowed && found[1].shadowed);
    }
}
