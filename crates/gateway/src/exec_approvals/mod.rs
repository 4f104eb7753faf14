//! Exec approvals (agent.md §7.4, nodes.md §2.7): the policy file both hosts read (`file`), the
//! program lookup its allowlist is matched against (`which`), the split of a shell command
//! into the programs it starts (`shell`), and the gateway's queue of approvals waiting for an
//! operator (`pending`). [`gateway_check`] is the one decision the gateway's `exec` makes
//! before anything runs.

pub mod file;
pub mod pending;
pub mod shell;
pub mod which;

use std::path::Path;

use file::{AllowEntry, Ask, HostDefaults, Resolved, Security};
use serde_json::Map;

/// The policy in force for one `exec` on the gateway host: the stricter of the config's
/// `tools.exec` (and the agent's) and the approvals file (the reference's `minSecurity` /
/// `maxAsk`).
#[derive(Debug, Clone)]
pub struct Effective {
    pub security: Security,
    pub ask: Ask,
    pub ask_fallback: Security,
    pub file: Resolved,
}

impl Effective {
    pub fn new(config_security: Security, config_ask: Ask, file: Resolved) -> Effective {
        let security = config_security.min(file.security);
        Effective {
            security,
            ask: config_ask.max(file.ask),
            ask_fallback: security.min(file.ask_fallback),
            file,
        }
    }
}

/// What a command may do before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Run,
    /// Refused without asking; the text is the tool error.
    Refuse(String),
    /// An operator must approve; `satisfied` = the allowlist covers it (for `ask: always`).
    Ask {
        satisfied: bool,
    },
}

/// Whether every program `command` starts is on the allowlist. A command whose programs
/// cannot be told apart (substitutions, redirections, subshells, globs) never is.
pub fn allowlist_satisfied(policy: &Resolved, command: &str, cwd: &Path, path_env: &str) -> bool {
    let Some(segments) = shell::segments(command) else {
        return false;
    };
    segments.iter().all(|argv| {
        let exe = argv.first().and_then(|p| which::resolve(p, cwd, path_env));
        policy.matches(argv, exe.as_ref())
    })
}

/// The gateway host's decision (the reference's order: `deny` first, then whether asking is
/// required, then the allowlist).
pub fn gateway_check(eff: &Effective, command: &str, cwd: &Path, path_env: &str) -> Check {
    if eff.security == Security::Deny {
        return Check::Refuse("exec denied: host=gateway security=deny".to_string());
    }
    let satisfied =
        eff.security == Security::Full || allowlist_satisfied(&eff.file, command, cwd, path_env);
    let requires_ask = match eff.ask {
        Ask::Always => true,
        Ask::OnMiss => eff.security == Security::Allowlist && !satisfied,
        Ask::Off => false,
    };
    if requires_ask {
        return Check::Ask { satisfied };
    }
    if eff.security == Security::Allowlist && !satisfied {
        return Check::Refuse(format!("exec denied: allowlist miss: {command}"));
    }
    Check::Run
}

/// What `askFallback` makes of a command no one approved (timeout or no approver).
pub fn fallback_allows(eff: &Effective, satisfied: bool) -> bool {
    match eff.ask_fallback {
        Security::Full => true,
        Security::Allowlist => satisfied,
        Security::Deny => false,
    }
}

/// The entries `allow-always` adds: each program's real path, bound to exactly the arguments
/// it was approved with (an `allow-always` entry without an argument rule matches nothing).
/// `None` when the command's programs cannot be told apart: then `allow-always` allows once.
pub fn allow_always_entries(command: &str, cwd: &Path, path_env: &str) -> Option<Vec<AllowEntry>> {
    let segments = shell::segments(command)?;
    segments
        .iter()
        .map(|argv| {
            let exe = which::resolve(argv.first()?, cwd, path_env)?;
            let args = argv.get(1..).unwrap_or_default().join(" ");
            Some(AllowEntry {
                pattern: exe.real.to_string_lossy().into_owned(),
                arg_pattern: Some(format!("^{}$", regex::escape(&args))),
                source: Some("allow-always".to_string()),
                extra: Map::new(),
            })
        })
        .collect()
}

/// The defaults the gateway reports (`resolvedDefaults` of `exec.approvals.get`).
pub const GATEWAY_DEFAULTS: HostDefaults = HostDefaults::GATEWAY;

#[cfg(test)]
mod tests {
    use super::*;
    use file::ApprovalsFile;
    use serde_json::json;

    fn eff(file: serde_json::Value, sec: Security, ask: Ask) -> Effective {
        let f = ApprovalsFile::from_value(file).unwrap();
        Effective::new(
            sec,
            ask,
            f.resolve_with(Some("main"), HostDefaults::GATEWAY),
        )
    }

    #[test]
    fn reference_defaults_run_everything() {
        let e = eff(json!({"version":1}), Security::Full, Ask::Off);
        let path = which::node_path_env();
        assert_eq!(
            gateway_check(&e, "echo hi | wc -c", Path::new("/"), &path),
            Check::Run
        );
    }

    #[test]
    fn allowlist_on_miss_asks_for_unlisted_programs() {
        let path = which::node_path_env();
        let Some(echo) = which::find_in_path("echo", &path) else {
            return;
        };
        let e = eff(
            json!({"version":1,"agents":{"main":{"allowlist":[echo.real.to_string_lossy()]}}}),
            Security::Allowlist,
            Ask::OnMiss,
        );
        assert_eq!(
            gateway_check(&e, "echo hi", Path::new("/"), &path),
            Check::Run
        );
        assert_eq!(
            gateway_check(&e, "echo hi && ls", Path::new("/"), &path),
            Check::Ask { satisfied: false }
        );
        // A substitution hides what runs: never covered by the allowlist.
        assert_eq!(
            gateway_check(&e, "echo $(ls)", Path::new("/"), &path),
            Check::Ask { satisfied: false }
        );
        let strict = eff(json!({"version":1}), Security::Allowlist, Ask::Off);
        assert!(matches!(
            gateway_check(&strict, "echo hi", Path::new("/"), &path),
            Check::Refuse(_)
        ));
        let deny = eff(
            json!({"version":1,"agents":{"main":{"security":"deny"}}}),
            Security::Full,
            Ask::Off,
        );
        assert_eq!(
            gateway_check(&deny, "true", Path::new("/"), &path),
            Check::Refuse("exec denied: host=gateway security=deny".into())
        );
    }

    #[test]
    fn allow_always_binds_the_arguments() {
        let path = which::node_path_env();
        let Some(entries) = allow_always_entries("echo hi there", Path::new("/"), &path) else {
            return;
        };
        let mut f = ApprovalsFile::empty();
        for e in entries {
            f.add_entry("main", e);
        }
        let e = Effective::new(
            Security::Allowlist,
            Ask::OnMiss,
            f.resolve_with(Some("main"), HostDefaults::GATEWAY),
        );
        assert_eq!(
            gateway_check(&e, "echo hi there", Path::new("/"), &path),
            Check::Run
        );
        assert_eq!(
            gateway_check(&e, "echo other", Path::new("/"), &path),
            Check::Ask { satisfied: false }
        );
    }
}
