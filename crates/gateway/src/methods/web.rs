//! `web.login.start` / `web.login.wait`: WhatsApp QR login over RPC (the flow lives in
//! `crate::web_login`). Admin only, as the reference. The answer comes later
//! (`Reply::Deferred`) so the caller's socket keeps serving while it waits for a QR or a scan.

use openclaw_protocol::ErrorShape;
use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::ui::{WebLoginResult, WebLoginStartParams, WebLoginWaitParams, names};
use serde_json::Value;

use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};

pub fn register(out: &mut Vec<MethodSpec>) {
    out.push(MethodSpec {
        name: names::WEB_LOGIN_START,
        access: Access::Scope(scopes::ADMIN),
        handler: start,
    });
    out.push(MethodSpec {
        name: names::WEB_LOGIN_WAIT,
        access: Access::Scope(scopes::ADMIN),
        handler: wait,
    });
}

fn deferred(
    answer: impl std::future::Future<Output = Result<WebLoginResult, ErrorShape>> + Send + 'static,
) -> Reply {
    Reply::Deferred(Box::pin(async move {
        match answer.await {
            Ok(r) => (true, serde_json::to_value(r).unwrap_or(Value::Null), None),
            Err(e) => (false, Value::Null, Some(e)),
        }
    }))
}

fn start<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<WebLoginStartParams>(names::WEB_LOGIN_START, params)?;
        Ok(deferred(crate::web_login::start(ctx.state.clone(), p)))
    })
}

fn wait<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<WebLoginWaitParams>(names::WEB_LOGIN_WAIT, params)?;
        Ok(deferred(crate::web_login::wait(ctx.state.clone(), p)))
    })
}
