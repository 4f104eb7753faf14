//! `tools.catalog`: the tools an agent can be given — the built-ins and the gateway's host
//! tool families (`crate::tools`; `web_search` only once a search key is configured) — in the
//! reference's sections, each with the `tools.profile` values that include it by default.
//! Like the reference (2026.9.6 `tools-catalog.ts`) it lists what exists, not what the policy
//! currently allows, so a client can offer to enable a denied tool; the policy is applied per
//! run and per `/tools/invoke` (`openclaw_agent::ToolPolicy`). No plugins here, so
//! `includePlugins` adds nothing.

use std::sync::Arc;

use openclaw_agent::tools::{CORE_TOOLS, PROFILES, canonical_tool_name, default_profiles};
use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::tools::{
    ToolCatalogEntry, ToolCatalogGroup, ToolProfileOption, ToolsCatalogParams, ToolsCatalogResult,
    names,
};
use serde_json::Value;

use crate::agents::resolve_agent;
use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};
use crate::state::AppState;

pub fn register(out: &mut Vec<MethodSpec>) {
    out.push(MethodSpec {
        name: names::TOOLS_CATALOG,
        access: Access::Scope(scopes::READ),
        handler: catalog,
    });
}

/// The reference's sections, in its order: (id, label).
const SECTIONS: &[(&str, &str)] = &[
    ("fs", "Files"),
    ("runtime", "Runtime"),
    ("web", "Web"),
    ("memory", "Memory"),
    ("sessions", "Sessions"),
    ("ui", "UI"),
    ("messaging", "Messaging"),
    ("automation", "Automation"),
    ("nodes", "Nodes"),
    ("agents", "Agents"),
    ("media", "Media"),
];

fn profile_label(id: &str) -> String {
    let mut c = id.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The catalog of agent `agent_id`: every tool it could be offered, in its section, sections
/// and tools in the reference's order.
pub fn build_catalog(state: &Arc<AppState>, agent_id: String) -> ToolsCatalogResult {
    let mut names: Vec<String> = openclaw_agent::builtin_tools()
        .into_iter()
        .map(|t| t.name)
        .collect();
    let host = crate::tools::RunTools::for_http(state, &agent_id, None);
    names.extend(host.specs().into_iter().map(|t| t.name));
    let groups = SECTIONS
        .iter()
        .filter_map(|(id, label)| {
            let entries: Vec<ToolCatalogEntry> = CORE_TOOLS
                .iter()
                .filter(|t| {
                    t.section == *id && names.iter().any(|n| canonical_tool_name(n) == t.id)
                })
                .map(|t| ToolCatalogEntry {
                    id: t.id.to_string(),
                    label: t.id.to_string(),
                    description: t.description.to_string(),
                    source: "core".into(),
                    default_profiles: default_profiles(t.id)
                        .into_iter()
                        .map(String::from)
                        .collect(),
                })
                .collect();
            (!entries.is_empty()).then(|| ToolCatalogGroup {
                id: id.to_string(),
                label: label.to_string(),
                source: "core".into(),
                plugin_id: None,
                tools: entries,
            })
        })
        .collect();
    let profiles = PROFILES
        .iter()
        .copied()
        .chain(["full"])
        .map(|p| ToolProfileOption {
            id: p.to_string(),
            label: profile_label(p),
        })
        .collect();
    ToolsCatalogResult {
        agent_id,
        profiles,
        groups,
    }
}

fn catalog<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ToolsCatalogParams>(names::TOOLS_CATALOG, params)?;
        let requested = p.agent_id.as_deref().map(str::trim);
        let agent_id = resolve_agent(&ctx.state, requested.filter(|a| !a.is_empty()))?;
        Ok(Reply::Json(
            serde_json::to_value(build_catalog(&ctx.state, agent_id)).unwrap_or_default(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_tool_has_a_section() {
        for t in openclaw_agent::builtin_tools() {
            let core = openclaw_agent::tools::core_tool(&t.name);
            assert!(
                core.is_some_and(|c| SECTIONS.iter().any(|(id, _)| *id == c.section)),
                "{} has no section",
                t.name
            );
        }
        assert_eq!(profile_label("coding"), "Coding");
    }
}
