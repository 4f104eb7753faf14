//! `wizard.start` / `wizard.next` / `wizard.cancel` / `wizard.status`: onboarding over RPC
//! (session state in `crate::wizard`). Admin only, as the reference. Answers that run a check
//! (the live model test, `getMe`) reply later (`Reply::Deferred`), so the socket keeps serving.

use openclaw_onboard::{Advance, Section, Wizard, WizardContext};
use openclaw_protocol::ErrorShape;
use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::wizard::{
    WizardCancelParams, WizardFlow, WizardMode, WizardNextParams, WizardNextResult,
    WizardRunStatus, WizardStartParams, WizardStatusParams, WizardStatusResult, names,
};
use serde_json::Value;

use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};
use crate::wizard::{busy, finished, not_found};

pub fn register(out: &mut Vec<MethodSpec>) {
    for (name, handler) in [
        (names::WIZARD_START, start as crate::registry::Handler),
        (names::WIZARD_NEXT, next),
        (names::WIZARD_CANCEL, cancel),
        (names::WIZARD_STATUS, status),
    ] {
        out.push(MethodSpec {
            name,
            access: Access::Scope(scopes::ADMIN),
            handler,
        });
    }
}

fn result_of(w: &Wizard, session_id: Option<String>, error: Option<String>) -> WizardNextResult {
    let step = w.current();
    WizardNextResult {
        session_id,
        done: step.is_none(),
        step,
        status: w.status(),
        error: error.or_else(|| w.error().map(str::to_string)),
        prepared_model_ref: w.model_ref(),
    }
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn deferred(
    answer: impl std::future::Future<Output = Result<Value, ErrorShape>> + Send + 'static,
) -> Reply {
    Reply::Deferred(Box::pin(async move {
        match answer.await {
            Ok(v) => (true, v, None),
            Err(e) => (false, Value::Null, Some(e)),
        }
    }))
}

fn start<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<WizardStartParams>(names::WIZARD_START, params)?;
        if p.mode == Some(WizardMode::Remote) {
            return Err(ErrorShape::invalid_request(
                "wizard.start: mode \"remote\" is not supported by this gateway",
            ));
        }
        if ctx.state.wizards.busy() {
            return Err(busy());
        }
        let state = ctx.state.clone();
        let conn = ctx.conn_id.clone();
        Ok(deferred(async move {
            let section = match p.flow {
                Some(WizardFlow::Channels) => Section::Channels,
                _ => Section::All,
            };
            let wctx = WizardContext {
                paths: state.paths.clone(),
                dev: state.paths.profile.as_deref() == Some("dev"),
                section,
                env: Box::new(|k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty())),
                workspace: p
                    .workspace
                    .as_deref()
                    .map(openclaw_config::paths::expand_home),
                offer_daemon: false,
            };
            let wizard = Wizard::start(wctx).await;
            let id = uuid::Uuid::new_v4().to_string();
            let Some(w) = state.wizards.admit(id.clone(), &conn, wizard) else {
                return Err(busy());
            };
            let w = w.lock().await;
            Ok(json(&result_of(&w, Some(id), None)))
        }))
    })
}

fn next<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<WizardNextParams>(names::WIZARD_NEXT, params)?;
        let Some(w) = ctx.state.wizards.find(&p.session_id, &ctx.conn_id) else {
            return Err(not_found());
        };
        let state = ctx.state.clone();
        Ok(deferred(async move {
            let mut w = w.lock().await;
            let mut error = None;
            if let Some(answer) = p.answer {
                if w.status() != WizardRunStatus::Running {
                    return Err(ErrorShape::invalid_request("wizard not running"));
                }
                if let Advance::Invalid(why) = w.answer(&answer.step_id, answer.value).await {
                    error = Some(why);
                }
            }
            let result = result_of(&w, None, error);
            if w.report().is_some() {
                state.request_reload();
            }
            if finished(w.status()) {
                state.wizards.purge(&p.session_id);
            }
            Ok(json(&result))
        }))
    })
}

fn cancel<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<WizardCancelParams>(names::WIZARD_CANCEL, params)?;
        let Some(w) = ctx.state.wizards.find(&p.session_id, &ctx.conn_id) else {
            return Err(not_found());
        };
        let mut w = w.lock().await;
        w.cancel();
        ctx.state.wizards.purge(&p.session_id);
        Ok(Reply::Json(json(&WizardStatusResult {
            status: w.status(),
            error: w.error().map(str::to_string),
        })))
    })
}

fn status<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<WizardStatusParams>(names::WIZARD_STATUS, params)?;
        let Some(w) = ctx.state.wizards.find(&p.session_id, &ctx.conn_id) else {
            return Err(not_found());
        };
        let w = w.lock().await;
        if finished(w.status()) {
            ctx.state.wizards.purge(&p.session_id);
        }
        Ok(Reply::Json(json(&WizardStatusResult {
            status: w.status(),
            error: w.error().map(str::to_string),
        })))
    })
}
