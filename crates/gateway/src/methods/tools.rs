//! `tools.catalog`: the tools an agent can be given, in the reference's sections, each with the
//! `tools.profile` values that include it by default. Like the reference it lists what exists
//! (so a client can offer to enable a tool the policy denies); the policy itself is applied per
//! run (`openclaw_agent::ToolPolicy`). This gateway has no plugins, so `includePlugins` adds
//! nothing.

use openclaw_agent::tools::{PROFILES, default_profiles};
use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::tools::{
    ToolCatalogEntry, ToolCatalogGroup, ToolProfileOption, ToolsCatalogParams, ToolsCatalogResult,
    names,
};
use serde_json::Value;

use crate::agents::resolve_agent;
use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};

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

/// Where each built-in tool sits and its one-line summary for clients (the model sees the
/// longer description in the tool spec).
fn placement(tool: &str) -> Option<(&'static str, &'static str)> {
    Some(match tool {
        "ls" => ("fs", "List a workspace directory"),
        "read" => ("fs", "Read a workspace file"),
        "write" => ("fs", "Create or replace a workspace file"),
        "edit" => ("fs", "Replace exact text in a workspace file"),
        "session_status" => ("sessions", "Show the session's status, model and usage"),
        _ => return None,
    })
}

fn profile_label(id: &str) -> String {
    let mut c = id.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The catalog of agent `agent_id`: every built-in tool, in its section, sections in order.
pub fn build_catalog(agent_id: String) -> ToolsCatalogResult {
    let tools = openclaw_agent::builtin_tools();
    let groups = SECTIONS
        .iter()
        .filter_map(|(id, label)| {
            let entries: Vec<ToolCatalogEntry> = tools
                .iter()
                .filter_map(|t| {
                    let (section, summary) = placement(&t.name)?;
                    (section == *id).then(|| ToolCatalogEntry {
                        id: t.name.clone(),
                        label: t.name.clone(),
                        description: summary.to_string(),
                        source: "core".into(),
                        default_profiles: default_profiles(&t.name)
                            .into_iter()
                            .map(String::from)
                            .collect(),
                    })
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
            serde_json::to_value(build_catalog(agent_id)).unwrap_or_default(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_tool_is_placed() {
        for t in openclaw_agent::builtin_tools() {
            assert!(placement(&t.name).is_some(), "{} has no section", t.name);
        }
        let c = build_catalog("main".into());
        let ids: Vec<&str> = c.profiles.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["minimal", "coding", "messaging", "full"]);
        assert_eq!(c.profiles[1].label, "Coding");
    }
}
