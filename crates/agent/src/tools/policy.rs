//! Tool policy (agent.md §7.2): profile (an agent's `agents.list[].tools.profile` replaces
//! `tools.profile`) → `tools.allow` / `tools.deny` → the agent's `allow` / `deny`; each step
//! can only narrow. Deny wins; names are case-insensitive; `*`
//! wildcards and `group:*` names are understood.

use openclaw_config::OpenClawConfig;
use openclaw_config::sections::ToolsConfig;

/// Core tool names known to the policy (for groups, wildcards and intersecting allow lists).
const CATALOGUE: &[&str] = &[
    "read",
    "write",
    "edit",
    "apply_patch",
    "ls",
    "exec",
    "bash",
    "process",
    "web_search",
    "web_fetch",
    "browser",
    "canvas",
    "nodes",
    "image",
    "message",
    "cron",
    "gateway",
    "sessions_list",
    "sessions_history",
    "sessions_send",
    "sessions_spawn",
    "session_status",
    "memory_search",
    "memory_get",
];

fn group(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "group:runtime" => &["exec", "bash", "process"],
        "group:fs" => &["read", "write", "edit", "apply_patch", "ls"],
        "group:sessions" => &[
            "sessions_list",
            "sessions_history",
            "sessions_send",
            "sessions_spawn",
            "session_status",
        ],
        "group:memory" => &["memory_search", "memory_get"],
        "group:web" => &["web_search", "web_fetch"],
        "group:ui" => &["browser", "canvas"],
        "group:automation" => &["cron", "gateway"],
        "group:messaging" => &["message"],
        "group:nodes" => &["nodes"],
        "group:openclaw" => CATALOGUE,
        _ => return None,
    })
}

fn profile(name: &str) -> Option<Vec<String>> {
    let list: &[&str] = match name {
        "minimal" => &["session_status"],
        "coding" => &[
            "group:fs",
            "group:runtime",
            "group:sessions",
            "group:memory",
            "image",
        ],
        "messaging" => &[
            "group:messaging",
            "sessions_list",
            "sessions_history",
            "sessions_send",
            "session_status",
        ],
        _ => return None, // "full" or unknown: no restriction
    };
    Some(list.iter().map(|s| s.to_string()).collect())
}

/// The profiles that restrict (`full` does not), in the order clients list them.
pub const PROFILES: &[&str] = &["minimal", "coding", "messaging"];

/// The profiles whose base includes tool `name` (`tools.catalog`'s `defaultProfiles`), read
/// from the same table the policy applies.
pub fn default_profiles(name: &str) -> Vec<&'static str> {
    PROFILES
        .iter()
        .copied()
        .filter(|p| profile(p).is_some_and(|list| list.iter().any(|e| matches(e, name))))
        .collect()
}

/// Glob with `*` only, ASCII case-insensitive.
fn glob(pattern: &str, name: &str) -> bool {
    let p = pattern.as_bytes();
    let n = name.as_bytes();
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi].eq_ignore_ascii_case(&n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = ni;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

fn matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim();
    match group(&pattern.to_ascii_lowercase()) {
        Some(members) => members.iter().any(|m| m.eq_ignore_ascii_case(name)),
        None => glob(pattern, name),
    }
}

/// Which tools a run may use. `allow: None` = everything not denied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolPolicy {
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
}

fn string_list(v: Option<&Vec<String>>) -> Option<Vec<String>> {
    v.map(|a| {
        a.iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

impl ToolPolicy {
    /// From a `tools` section (`{profile?, allow?, deny?}`; `None` when unset).
    pub fn from_config(tools: Option<&ToolsConfig>) -> ToolPolicy {
        Self::profile_base(tools).narrowed(&Self::lists(tools))
    }

    /// The base of a `tools.profile` (`full`, unknown or unset: no restriction).
    fn profile_base(tools: Option<&ToolsConfig>) -> ToolPolicy {
        ToolPolicy {
            allow: tools.and_then(|t| t.profile.as_deref()).and_then(profile),
            deny: Vec::new(),
        }
    }

    /// Only the `allow` / `deny` lists of a `tools` section.
    fn lists(tools: Option<&ToolsConfig>) -> ToolPolicy {
        ToolPolicy {
            allow: string_list(tools.and_then(|t| t.allow.as_ref())),
            deny: string_list(tools.and_then(|t| t.deny.as_ref())).unwrap_or_default(),
        }
    }

    /// The policy of one agent, composed as the reference does: the profile
    /// (`agents.list[].tools.profile` replaces `tools.profile` when set) → `tools.allow` /
    /// `tools.deny` → `agents.list[].tools.allow` / `deny`. Each step can only narrow, so an
    /// agent never gets back a tool the global section denies.
    pub fn for_agent(cfg: &OpenClawConfig, agent_id: &str) -> ToolPolicy {
        let tools = cfg.tools.as_ref();
        let agent_tools = cfg.agent_entry(agent_id).and_then(|a| a.tools.as_ref());
        let base = match agent_tools {
            Some(t) if t.profile.is_some() => Self::profile_base(Some(t)),
            _ => Self::profile_base(tools),
        };
        let global = base.narrowed(&Self::lists(tools));
        match agent_tools {
            Some(t) => global.narrowed(&Self::lists(Some(t))),
            None => global,
        }
    }

    /// A policy that allows only what both `self` and `inner` allow.
    pub fn narrowed(&self, inner: &ToolPolicy) -> ToolPolicy {
        let mut deny = self.deny.clone();
        deny.extend(inner.deny.iter().cloned());
        let allow = match (&self.allow, &inner.allow) {
            (None, None) => None,
            (Some(a), None) | (None, Some(a)) => Some(a.clone()),
            (Some(outer), Some(inner)) => {
                // Intersect over concrete names: catalogue tools both lists match, plus plugin
                // names (outside the catalogue) named literally by one and matched by the other.
                let mut names: Vec<String> = CATALOGUE
                    .iter()
                    .filter(|n| {
                        outer.iter().any(|p| matches(p, n)) && inner.iter().any(|p| matches(p, n))
                    })
                    .map(|n| n.to_string())
                    .collect();
                for (a, b) in [(outer, inner), (inner, outer)] {
                    for lit in a {
                        let l = lit.to_ascii_lowercase();
                        let literal = !l.contains('*') && group(&l).is_none();
                        if literal
                            && !CATALOGUE.contains(&l.as_str())
                            && b.iter().any(|p| matches(p, &l))
                            && !names.contains(&l)
                        {
                            names.push(l);
                        }
                    }
                }
                Some(names)
            }
        };
        ToolPolicy { allow, deny }
    }

    /// Whether `name` may run: not matched by any deny entry, and matched by `allow` if set.
    pub fn allows(&self, name: &str) -> bool {
        if self.deny.iter().any(|p| matches(p, name)) {
            return false;
        }
        match &self.allow {
            None => true,
            Some(list) => list.iter().any(|p| matches(p, name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn tools(v: Value) -> ToolsConfig {
        serde_json::from_value(v).unwrap()
    }

    fn config(tools: &Value, agents: &Value) -> OpenClawConfig {
        serde_json::from_value(json!({"tools": tools, "agents": agents})).unwrap()
    }

    #[test]
    fn deny_wins_and_groups_expand() {
        let p = ToolPolicy::from_config(Some(&tools(
            json!({"allow": ["group:fs", "session_*"], "deny": ["WRITE"]}),
        )));
        assert!(p.allows("read"));
        assert!(p.allows("Session_Status"));
        assert!(!p.allows("write"));
        assert!(!p.allows("exec"));
        assert!(ToolPolicy::from_config(None).allows("anything"));
        assert!(!ToolPolicy::from_config(Some(&tools(json!({"deny": ["*"]})))).allows("read"));
    }

    #[test]
    fn default_profiles_follow_the_profile_table() {
        assert_eq!(default_profiles("read"), vec!["coding"]);
        assert_eq!(
            default_profiles("session_status"),
            vec!["minimal", "coding", "messaging"]
        );
        assert!(default_profiles("browser").is_empty());
    }

    #[test]
    fn profiles_and_agents_only_narrow() {
        let global = json!({"profile": "coding", "allow": ["read", "write", "web_search"]});
        let p = ToolPolicy::from_config(Some(&tools(global.clone())));
        assert!(p.allows("read") && p.allows("write"));
        assert!(!p.allows("web_search"), "outside the coding profile");
        let agents =
            json!({"list": [{"id": "ops", "tools": {"allow": ["read", "ls"], "deny": ["ls"]}}]});
        let cfg = config(&global, &agents);
        let a = ToolPolicy::for_agent(&cfg, "ops");
        assert!(a.allows("read"));
        assert!(!a.allows("write") && !a.allows("ls"));
        assert!(ToolPolicy::for_agent(&cfg, "main").allows("write"));
        assert!(!ToolPolicy::for_agent(&cfg, "OPS").allows("write"));
        let minimal = ToolPolicy::from_config(Some(&tools(json!({"profile": "minimal"}))));
        assert!(minimal.allows("session_status") && !minimal.allows("read"));
    }

    #[test]
    fn an_agent_profile_replaces_the_global_one_but_global_lists_still_apply() {
        let global = json!({"profile": "coding", "deny": ["exec"]});
        let agents = json!({"list": [
            {"id": "support", "tools": {"profile": "messaging"}},
            {"id": "ops", "tools": {"profile": "full", "deny": ["write"]}},
            {"id": "plain"}
        ]});
        let cfg = config(&global, &agents);
        let support = ToolPolicy::for_agent(&cfg, "support");
        assert!(support.allows("message") && !support.allows("read"));
        let ops = ToolPolicy::for_agent(&cfg, "ops");
        assert!(
            ops.allows("web_search"),
            "full profile: outside coding is allowed"
        );
        assert!(
            !ops.allows("write") && !ops.allows("exec"),
            "agent and global deny"
        );
        let plain = ToolPolicy::for_agent(&cfg, "plain");
        assert!(plain.allows("write") && !plain.allows("web_search") && !plain.allows("exec"));
        assert_eq!(plain, ToolPolicy::from_config(Some(&tools(global))));
    }

    #[test]
    fn glob_edges() {
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(!glob("a*c", "abbbd"));
        assert!(glob("*_list", "sessions_list"));
    }
}
