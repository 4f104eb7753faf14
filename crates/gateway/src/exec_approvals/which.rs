//! Finding programs on the node: `system.which {bins}` and the executable `system.run` is
//! about to start (the path the approvals allowlist is matched against).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// PATH when the node host's own environment has none (the reference's fallback).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// More names than any skill probe asks for; bounds the file-system work per call.
const MAX_BINS: usize = 256;
const MAX_BIN_LEN: usize = 255;

/// A program found on disk: `path` as found (PATH dir + name, or the command's own path made
/// absolute) and `real`, its canonical path, which is what allowlist patterns see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executable {
    pub path: PathBuf,
    pub real: PathBuf,
}

impl Executable {
    /// The file name of the real program (`/usr/bin/python3.12` for a `python3` symlink).
    pub fn name(&self) -> String {
        self.real
            .file_name()
            .or_else(|| self.path.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The node's PATH (its own environment's, or [`DEFAULT_PATH`]).
pub fn node_path_env() -> String {
    std::env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.to_string())
}

/// `name` searched in `path_env`'s absolute directories; names with a path separator are not
/// searched (as the reference: `which` answers for bare names only).
pub fn find_in_path(name: &str, path_env: &str) -> Option<Executable> {
    if name.is_empty() || name.contains('/') || name.contains('\\') || name == "." || name == ".." {
        return None;
    }
    std::env::split_paths(path_env)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find_map(|candidate| executable_at(&candidate))
}

/// The program `argv0` names: a path (made absolute against `cwd`) or a bare name on PATH.
pub fn resolve(argv0: &str, cwd: &Path, path_env: &str) -> Option<Executable> {
    if argv0.contains('/') || argv0.contains('\\') {
        let p = Path::new(argv0);
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        };
        executable_at(&abs)
    } else {
        find_in_path(argv0, path_env)
    }
}

fn executable_at(path: &Path) -> Option<Executable> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return None;
        }
    }
    let real = std::fs::canonicalize(path).ok()?;
    Some(Executable {
        path: path.to_path_buf(),
        real,
    })
}

/// `system.which` params. Closed shape: an unknown key is a caller mistake worth reporting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhichParams {
    pub bins: Vec<String>,
}

/// `{bins: {name: path}}` for the names found; missing names are left out.
#[derive(Debug, Serialize)]
pub struct WhichResult {
    pub bins: BTreeMap<String, String>,
}

pub fn which(params: &WhichParams, path_env: &str) -> Result<WhichResult, String> {
    if params.bins.len() > MAX_BINS {
        return Err(format!(
            "too many bins ({} > {MAX_BINS})",
            params.bins.len()
        ));
    }
    let mut bins = BTreeMap::new();
    for raw in &params.bins {
        let name = raw.trim();
        if name.is_empty() || name.len() > MAX_BIN_LEN || bins.contains_key(name) {
            continue;
        }
        if let Some(exe) = find_in_path(name, path_env) {
            bins.insert(name.to_string(), exe.path.display().to_string());
        }
    }
    Ok(WhichResult { bins })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn make_exe(dir: &Path, name: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[cfg(unix)]
    #[test]
    fn finds_executables_in_path_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        make_exe(a.path(), "tool", 0o644); // not executable: skipped
        let want = make_exe(b.path(), "tool", 0o755);
        make_exe(a.path(), "first", 0o755);
        make_exe(b.path(), "first", 0o755);
        std::fs::create_dir(a.path().join("dir")).unwrap();
        let path_env = std::env::join_paths([
            "relative/dir",
            a.path().to_str().unwrap(),
            b.path().to_str().unwrap(),
        ])
        .unwrap()
        .into_string()
        .unwrap();
        let params = WhichParams {
            bins: ["tool", "first", "dir", "missing", "../tool", " tool ", ""]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        let got = which(&params, &path_env).unwrap().bins;
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got["tool"], want.display().to_string());
        assert_eq!(got["first"], a.path().join("first").display().to_string());
    }

    #[test]
    fn finds_sh_on_the_real_path() {
        let got = which(
            &WhichParams {
                bins: vec!["sh".into(), "surely-not-a-real-binary-xyz".into()],
            },
            &node_path_env(),
        )
        .unwrap()
        .bins;
        assert!(got["sh"].ends_with("/sh"), "{got:?}");
        assert!(!got.contains_key("surely-not-a-real-binary-xyz"));
    }

    #[test]
    fn too_many_bins_is_an_error() {
        let params = WhichParams {
            bins: vec!["x".into(); MAX_BINS + 1],
        };
        assert!(which(&params, DEFAULT_PATH).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn resolve_relative_paths_against_cwd() {
        let d = tempfile::tempdir().unwrap();
        let p = make_exe(d.path(), "run.sh", 0o755);
        let got = resolve("./run.sh", d.path(), "").unwrap();
        assert_eq!(got.real, std::fs::canonicalize(p).unwrap());
        assert!(resolve("./nope.sh", d.path(), "").is_none());
        assert!(resolve("run.sh", d.path(), "").is_none());
    }
}
