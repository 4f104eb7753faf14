//! Tool policy (agent.md §7.2; groups, profiles and aliases as the reference 2026.9.6's
//! `tool-catalog.ts`, checked against its dist): profile (an agent's `agents.list[].tools.profile` replaces
//! `tools.profile`) → `tools.allow` / `tools.deny` → the agent's `allow` / `deny`; each step
//! can only narrow. Deny wins; names are case-insensitive; `*`
//! wildcards and `group:*` names are understood.

use openclaw_config::OpenClawConfig;
use openclaw_config::sections::ToolsConfig;

/// One core tool of the reference's catalog (`src/agents/tool-catalog.ts`, 2026.9.6): its
/// section (`group:<section>`), the one-line summary clients show, the profiles whose base
/// includes it, and whether `group:openclaw` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreTool {
    pub id: &'static str,
    pub section: &'static str,
    pub description: &'static str,
    pub profiles: &'static [&'static str],
    pub openclaw: bool,
}

const C: &[&str] = &["coding"];
const CM: &[&str] = &["coding", "messaging"];
const ALL3: &[&str] = &["minimal", "coding", "messaging"];
const M: &[&str] = &["messaging"];
const NONE: &[&str] = &[];

const fn t(
    id: &'static str,
    section: &'static str,
    description: &'static str,
    profiles: &'static [&'static str],
    openclaw: bool,
) -> CoreTool {
    CoreTool {
        id,
        section,
        description,
        profiles,
        openclaw,
    }
}

/// The reference's core tools, in its catalog order. Groups, profiles and `tools.catalog`
/// placement are all read from this one table.
pub const CORE_TOOLS: &[CoreTool] = &[
    t("ls", "fs", "List directory entries", C, false),
    t("read", "fs", "Read file contents", C, false),
    t("write", "fs", "Create or overwrite files", C, false),
    t("edit", "fs", "Make precise edits", C, false),
    t("apply_patch", "fs", "Patch files", C, false),
    t("exec", "runtime", "Run shell now.", C, false),
    t(
        "process",
        "runtime",
        "Inspect/control exec sessions.",
        C,
        false,
    ),
    t(
        "code_execution",
        "runtime",
        "Run sandboxed remote analysis",
        C,
        true,
    ),
    t(
        "secrets",
        "runtime",
        "Request and manage write-only credentials",
        CM,
        true,
    ),
    t("web_search", "web", "Search the web", C, true),
    t("web_fetch", "web", "Fetch web content", C, true),
    t("x_search", "web", "Search X posts", C, true),
    t("memory_search", "memory", "Semantic search", C, true),
    t("memory_get", "memory", "Read memory files", C, true),
    t(
        "sessions",
        "sessions",
        "Session settings: label, pin, archive, groups",
        CM,
        true,
    ),
    t(
        "sessions_list",
        "sessions",
        "List visible sessions; filters/previews.",
        CM,
        true,
    ),
    t(
        "sessions_history",
        "sessions",
        "Read sanitized session history.",
        CM,
        true,
    ),
    t(
        "sessions_search",
        "sessions",
        "Search past session transcripts.",
        CM,
        true,
    ),
    t(
        "conversations_list",
        "sessions",
        "List exact external conversation addresses",
        CM,
        true,
    ),
    t(
        "conversations_send",
        "sessions",
        "Send to an exact external conversation",
        CM,
        true,
    ),
    t(
        "conversations_turn",
        "sessions",
        "Send and wait for a correlated external reply",
        CM,
        true,
    ),
    t(
        "sessions_send",
        "sessions",
        "Run same-Gateway session/agent.",
        CM,
        true,
    ),
    t(
        "sessions_spawn",
        "sessions",
        "Spawn hidden subagent (ephemeral) or visible work session (durable).",
        CM,
        true,
    ),
    t(
        "sessions_yield",
        "sessions",
        "End turn to receive sub-agent results",
        CM,
        true,
    ),
    t(
        "subagents",
        "sessions",
        "Background work: subagents, media gen, automation runs. list/cancel.",
        CM,
        true,
    ),
    t(
        "session_status",
        "sessions",
        "Show session status/model/usage.",
        ALL3,
        true,
    ),
    t("browser", "ui", "Control web browser", NONE, true),
    t(
        "canvas",
        "ui",
        "Control node Canvas surfaces when the Canvas plugin is enabled",
        NONE,
        false,
    ),
    t("message", "messaging", "Send messages", M, true),
    t(
        "heartbeat_respond",
        "automation",
        "Accept heartbeat outcomes for post-turn handling",
        NONE,
        true,
    ),
    t(
        "automations",
        "automation",
        "Schedule reminders, automations, wake events.",
        C,
        true,
    ),
    t(
        "gateway",
        "automation",
        "Update OpenClaw; read Gateway config/schema when permitted",
        ALL3,
        true,
    ),
    t(
        "plugins",
        "automation",
        "Manage and reload plugins",
        C,
        true,
    ),
    t("nodes", "nodes", "Nodes + devices", NONE, true),
    t("agents_list", "agents", "List agents", NONE, true),
    t("view_image", "media", "Image understanding", C, true),
    t("image_generate", "media", "Image generation", C, true),
    t("tts", "media", "Text-to-speech conversion", NONE, true),
    t("pdf", "media", "PDF reading and extraction", NONE, true),
];

/// The reference's permanent aliases (`tool-policy-shared.ts`): a policy entry or a tool name
/// spelled either way means the same tool.
const ALIASES: &[(&str, &str)] = &[
    ("bash", "exec"),
    ("apply-patch", "apply_patch"),
    ("cron", "automations"),
];

/// A tool name as the policy compares it: lower-case, aliases resolved.
pub fn canonical_tool_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == lower)
        .map(|(_, canon)| canon.to_string())
        .unwrap_or(lower)
}

/// The core tool `name` (or its alias) is, if any.
pub fn core_tool(name: &str) -> Option<&'static CoreTool> {
    let canon = canonical_tool_name(name);
    CORE_TOOLS.iter().find(|t| t.id == canon)
}

/// Members of a `group:*` name (`group:<section>` or `group:openclaw`).
fn group_members(name: &str) -> Option<Vec<&'static str>> {
    let section = name.strip_prefix("group:")?;
    let members: Vec<&'static str> = if section == "openclaw" {
        CORE_TOOLS
            .iter()
            .filter(|t| t.openclaw)
            .map(|t| t.id)
            .collect()
    } else {
        CORE_TOOLS
            .iter()
            .filter(|t| t.section == section)
            .map(|t| t.id)
            .collect()
    };
    (!members.is_empty()).then_some(members)
}

fn profile(name: &str) -> Option<Vec<String>> {
    let name = name.trim().to_ascii_lowercase();
    if !PROFILES.contains(&name.as_str()) {
        return None; // "full" or unknown: no restriction
    }
    Some(
        CORE_TOOLS
            .iter()
            .filter(|t| t.profiles.contains(&name.as_str()))
            .map(|t| t.id.to_string())
            .collect(),
    )
}

/// The profiles that restrict (`full` does not), in the order clients list them.
pub const PROFILES: &[&str] = &["minimal", "coding", "messaging"];

/// The profiles whose base includes tool `name` (`tools.catalog`'s `defaultProfiles`), read
/// from the same table the policy applies.
pub fn default_profiles(name: &str) -> Vec<&'static str> {
    core_tool(name)
        .map(|t| t.profiles.to_vec())
        .unwrap_or_default()
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
    let pattern = canonical_tool_name(pattern);
    let name = canonical_tool_name(name);
    match group_members(&pattern) {
        Some(members) => members.contains(&name.as_str()),
        None => glob(&pattern, &name),
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
                let mut names: Vec<String> = CORE_TOOLS
                    .iter()
                    .map(|t| t.id)
                    .filter(|n| {
                        outer.iter().any(|p| matches(p, n)) && inner.iter().any(|p| matches(p, n))
                    })
                    .map(|n| n.to_string())
                    .collect();
                for (a, b) in [(outer, inner), (inner, outer)] {
                    for lit in a {
                        let l = canonical_tool_name(lit);
                        let literal = !l.contains('*') && group_members(&l).is_none();
                        if literal
                            && core_tool(&l).is_none()
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
        let global = json!({"profile": "coding", "allow": ["read", "write", "message"]});
        let p = ToolPolicy::from_config(Some(&tools(global.clone())));
        assert!(p.allows("read") && p.allows("write"));
        assert!(!p.allows("message"), "outside the coding profile");
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
        assert!(plain.allows("write") && !plain.allows("message") && !plain.allows("exec"));
        assert!(
            plain.allows("web_fetch"),
            "the reference's coding profile has group:web"
        );
        assert_eq!(plain, ToolPolicy::from_config(Some(&tools(global))));
    }

    #[test]
    fn aliases_and_reference_groups() {
        let p = ToolPolicy::from_config(Some(&tools(json!({"deny": ["bash", "cron"]}))));
        assert!(!p.allows("exec") && !p.allows("bash") && !p.allows("automations"));
        assert!(!p.allows("cron") && p.allows("process"));
        let p = ToolPolicy::from_config(Some(&tools(
            json!({"allow": ["group:runtime", "group:web"]}),
        )));
        assert!(p.allows("bash") && p.allows("web_search") && !p.allows("read"));
        let p = ToolPolicy::from_config(Some(&tools(json!({"allow": ["group:openclaw"]}))));
        assert!(
            p.allows("sessions_list")
                && p.allows("message")
                && !p.allows("exec")
                && !p.allows("read")
        );
        let minimal = ToolPolicy::from_config(Some(&tools(json!({"profile": "minimal"}))));
        assert!(minimal.allows("gateway") && !minimal.allows("sessions_list"));
        let messaging = ToolPolicy::from_config(Some(&tools(json!({"profile": "messaging"}))));
        assert!(messaging.allows("sessions_send") && messaging.allows("message"));
        assert!(!messaging.allows("web_fetch") && !messaging.allows("apply_patch"));
    }

    #[test]
    fn glob_edges() {
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(!glob("a*c", "abbbd"));
        assert!(glob("*_list", "sessions_list"));
    }
}
