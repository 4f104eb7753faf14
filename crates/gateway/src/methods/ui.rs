//! The rest of what a Control UI asks for on load, each answered with what this gateway really
//! has: `update.status` (no update checker: nothing known to be available), `users.prefs.*`
//! (per proven device, `crate::prefs`), the plugin/system-agent approval and question queues
//! (this gateway raises none of those, so they are empty; exec approvals are
//! `methods::approvals`),
//! `openclaw.setup.detect` (the configured model, if any) and the plugin surfaces (no plugins;
//! the canvas host is the one surface).

use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::ui::{
    PluginSurfaceRefreshParams, PluginsControlUiCatalog, QuestionListResult, SetupCandidate,
    SetupDetectParams, SetupDetectResult, UpdateStatusParams, UpdateStatusResult,
    UsersPrefsGetParams, UsersPrefsResult, UsersPrefsSetParams, names,
};
use openclaw_protocol::{EmptyParams, ErrorShape};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::prefs::SetOutcome;
use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};
use crate::state::now_ms;

pub fn register(out: &mut Vec<MethodSpec>) {
    let specs: [(&'static str, &'static str, crate::registry::Handler); 9] = [
        (names::UPDATE_STATUS, scopes::ADMIN, update_status),
        (names::USERS_PREFS_GET, scopes::READ, prefs_get),
        (names::USERS_PREFS_SET, scopes::WRITE, prefs_set),
        (
            names::PLUGIN_APPROVAL_LIST,
            scopes::APPROVALS,
            approvals_empty,
        ),
        (
            names::OPENCLAW_APPROVAL_LIST,
            scopes::APPROVALS,
            approvals_empty,
        ),
        (names::QUESTION_LIST, scopes::QUESTIONS, question_list),
        (names::OPENCLAW_SETUP_DETECT, scopes::ADMIN, setup_detect),
        (names::PLUGIN_SURFACE_REFRESH, scopes::READ, surface_refresh),
        (
            names::PLUGINS_CONTROL_UI_LIST,
            scopes::READ,
            control_ui_plugins,
        ),
    ];
    for (name, scope, handler) in specs {
        out.push(MethodSpec {
            name,
            access: Access::Scope(scope),
            handler,
        });
    }
}

fn json_of<T: serde::Serialize>(v: T) -> Reply {
    Reply::Json(serde_json::to_value(v).unwrap_or_default())
}

fn update_status<'a>(_ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<UpdateStatusParams>(names::UPDATE_STATUS, params)?;
        Ok(json_of(UpdateStatusResult {
            sentinel: None,
            update_available: None,
            effective_channel: "stable".into(),
        }))
    })
}

/// The device the caller proved at connect: where its prefs are kept.
fn device_of(ctx: &MethodCtx) -> Option<String> {
    ctx.state.hub.get(&ctx.conn_id)?.device_id.clone()
}

fn no_identity() -> Reply {
    json_of(UsersPrefsResult {
        status: "no_durable_identity".into(),
        entries: None,
    })
}

fn prefs_get<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<UsersPrefsGetParams>(names::USERS_PREFS_GET, params)?;
        let Some(device) = device_of(ctx) else {
            return Ok(no_identity());
        };
        let entries = ctx.state.prefs.get(&device, p.keys.as_deref()).await;
        Ok(json_of(UsersPrefsResult {
            status: "ok".into(),
            entries: Some(entries),
        }))
    })
}

fn prefs_set<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<UsersPrefsSetParams>(names::USERS_PREFS_SET, params)?;
        if p.entries.len() > 32 || p.expected_entries.as_ref().is_some_and(|e| e.len() > 32) {
            return Err(ErrorShape::invalid_request(
                "invalid users.prefs.set params: at most 32 entries",
            ));
        }
        let Some(device) = device_of(ctx) else {
            return Ok(no_identity());
        };
        let outcome = ctx
            .state
            .prefs
            .set(&device, &p.entries, p.expected_entries.as_ref(), now_ms())
            .await
            .map_err(ErrorShape::invalid_request)?;
        let status = match outcome {
            SetOutcome::Ok => "ok",
            SetOutcome::Conflict => "conflict",
        };
        Ok(json_of(UsersPrefsResult {
            status: status.into(),
            entries: None,
        }))
    })
}

/// The pending plugin/system-agent approvals: none are ever raised by this gateway (the reference
/// ignores this method's params, so do we).
fn approvals_empty<'a>(_ctx: &'a MethodCtx, _params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move { Ok(Reply::Json(json!([]))) })
}

fn question_list<'a>(_ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::QUESTION_LIST, params)?;
        Ok(json_of(QuestionListResult { questions: vec![] }))
    })
}

/// What the UI's model-setup page needs to know: is a model configured for the agent, and
/// where is its workspace. We offer no in-UI credential flows (`manualProviders` is empty):
/// providers are configured in `models.providers` or by env keys.
fn setup_detect<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SetupDetectParams>(names::OPENCLAW_SETUP_DETECT, params)?;
        let state = &ctx.state;
        let agent = crate::agents::resolve_agent(state, p.agent_id.as_deref())?;
        let configured = openclaw_agent::model_chain(&state.config().config, &agent)
            .first()
            .map(ToString::to_string);
        let candidates = configured
            .iter()
            .map(|m| SetupCandidate {
                kind: "existing-model".into(),
                label: "Current model".into(),
                detail: format!("{m} — already configured"),
                model_ref: m.clone(),
                recommended: true,
            })
            .collect();
        Ok(json_of(SetupDetectResult {
            candidates,
            manual_providers: vec![],
            workspace: crate::agents::workspace_dir(state, &agent)
                .to_string_lossy()
                .into_owned(),
            setup_complete: configured.is_some(),
            configured_model: configured,
        }))
    })
}

/// Plugin surfaces: the only one we have is the canvas host on this port (unless disabled by
/// `canvasHost.enabled: false` or `OPENCLAW_SKIP_CANVAS_HOST=1`). Its URL is the origin the
/// client already uses (`observedUrl`), else loopback; it carries no capability, so it does
/// not expire. Any other surface is unavailable, in the reference's words.
fn surface_refresh<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<PluginSurfaceRefreshParams>(names::PLUGIN_SURFACE_REFRESH, params)
            .ok()
            .unwrap_or_default();
        let surface = match p.surface.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => return Err(ErrorShape::invalid_request("surface required")),
        };
        if surface != "canvas" || !canvas_enabled(ctx) {
            return Err(ErrorShape::unavailable(format!(
                "{surface} plugin surface unavailable"
            )));
        }
        let base = p
            .observed_url
            .as_deref()
            .and_then(http_origin)
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", ctx.state.settings().port));
        Ok(Reply::Json(
            json!({"surface": surface, "pluginSurfaceUrls": {"canvas": base}}),
        ))
    })
}

fn canvas_enabled(ctx: &MethodCtx) -> bool {
    let skip = std::env::var("OPENCLAW_SKIP_CANVAS_HOST").is_ok_and(|v| v.trim() == "1");
    let cfg = serde_json::to_value(&ctx.state.config().config).unwrap_or_default();
    let off = cfg.pointer("/canvasHost/enabled") == Some(&Value::Bool(false));
    !skip && !off
}

/// `scheme://host[:port]` of an http(s) URL.
fn http_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return None;
    }
    Some(format!("{scheme}://{authority}"))
}

fn control_ui_plugins<'a>(_ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::PLUGINS_CONTROL_UI_LIST, params)?;
        // The revision names the catalog's content; an empty catalog always has the same one.
        let revision = hex::encode(Sha256::digest(b"[]"));
        Ok(json_of(PluginsControlUiCatalog {
            revision,
            plugins: vec![],
            diagnostics: vec![],
        }))
    })
}
