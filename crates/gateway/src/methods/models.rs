//! `models.list`: the model catalog of an agent as clients see it (agent.md §5), in the
//! reference's shape (`{models:[{id, name, provider, contextWindow, reasoning, input, tags,
//! thinkingLevels, thinkingDefault, available}]}`).

use openclaw_agent::CatalogModel;
use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::sessions::{
    ModelChoice, ModelsListParams, ModelsListResult, ModelsView, ThinkingLevelOption, names,
};
use serde_json::Value;

use crate::agents::{model_catalog, resolve_agent};
use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};

pub fn register(out: &mut Vec<MethodSpec>) {
    out.push(MethodSpec {
        name: names::MODELS_LIST,
        access: Access::Scope(scopes::READ),
        handler: models_list,
    });
}

/// `agents.defaults.thinkingDefault` when the model offers that level, else `off`.
fn thinking_default(m: &CatalogModel, configured: Option<&str>) -> String {
    configured
        .filter(|c| m.thinking_levels().contains(c))
        .unwrap_or("off")
        .to_string()
}

fn choice(m: &CatalogModel, configured_thinking: Option<&str>) -> ModelChoice {
    ModelChoice {
        id: m.id.clone(),
        name: m.name.clone(),
        provider: m.provider.clone(),
        alias: m.alias.clone(),
        context_window: m.context_window,
        reasoning: m.reasoning,
        input: m.input.clone(),
        tags: if m.is_default {
            vec!["default".to_string()]
        } else {
            Vec::new()
        },
        thinking_levels: m
            .thinking_levels()
            .iter()
            .map(|l| ThinkingLevelOption {
                id: l.to_string(),
                label: l.to_string(),
            })
            .collect(),
        thinking_default: thinking_default(m, configured_thinking),
        available: m.available,
        unavailable_reason: (!m.available).then(|| "missing-auth".to_string()),
    }
}

fn models_list<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ModelsListParams>(names::MODELS_LIST, params)?;
        let state = &ctx.state;
        let agent_id = match (&p.agent_id, &p.session_key) {
            (Some(a), _) => resolve_agent(state, Some(a))?,
            (None, Some(k)) => {
                let (_, default) = crate::agents::agents(state);
                let key =
                    openclaw_agent::canonical_session_key(k, &default, &state.settings().main_key);
                crate::agents::agent_of_key(state, &key)
            }
            (None, None) => resolve_agent(state, None)?,
        };
        let catalog = model_catalog(state, &agent_id);
        let models = match p.view {
            Some(ModelsView::All | ModelsView::ProviderConfig) => catalog.models().to_vec(),
            _ => catalog.visible(),
        };
        let configured_thinking = state
            .config()
            .config
            .agent_defaults()
            .rest
            .get("thinkingDefault")
            .and_then(Value::as_str)
            .map(str::to_string);
        let models = models
            .iter()
            .filter(|m| {
                p.provider
                    .as_deref()
                    .is_none_or(|pr| m.provider.eq_ignore_ascii_case(pr.trim()))
            })
            .map(|m| choice(m, configured_thinking.as_deref()))
            .collect();
        Ok(Reply::Json(
            serde_json::to_value(ModelsListResult { models }).unwrap_or_default(),
        ))
    })
}
