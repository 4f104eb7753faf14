//! Params and result of `tools.catalog`: the tools an agent can be given, grouped in sections
//! with the profiles (`tools.profile`) that include each by default, in the reference's shape
//! (so the Control UI's tools page and the CLI read ours unchanged).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod names {
    pub const TOOLS_CATALOG: &str = "tools.catalog";
}

/// `tools.catalog` params (a closed object, as the reference's schema).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolsCatalogParams {
    /// The agent (default: the default agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_id: Option<String>,
    /// Also list plugin tools (default true; this gateway has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_plugins: Option<bool>,
}

/// `tools.catalog` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolsCatalogResult {
    pub agent_id: String,
    pub profiles: Vec<ToolProfileOption>,
    pub groups: Vec<ToolCatalogGroup>,
}

/// One `tools.profile` value a client can offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolProfileOption {
    pub id: String,
    pub label: String,
}

/// A section of the catalog (`fs`, `sessions`, … or `plugin:<id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolCatalogGroup {
    pub id: String,
    pub label: String,
    /// `core` or `plugin`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_id: Option<String>,
    pub tools: Vec<ToolCatalogEntry>,
}

/// One tool of a section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolCatalogEntry {
    pub id: String,
    pub label: String,
    pub description: String,
    /// `core` or `plugin`.
    pub source: String,
    /// The profiles whose base includes this tool (`minimal`, `coding`, `messaging`).
    pub default_profiles: Vec<String>,
}
