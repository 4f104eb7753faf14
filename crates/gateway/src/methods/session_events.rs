//! Session-event subscriptions: `sessions.subscribe` puts the calling connection on the
//! `sessions.changed` audience (until `sessions.unsubscribe` or the connection ends), and
//! `sessions.observer.visibility` records whether its session observer is on screen.

use std::sync::atomic::Ordering;

use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::ui::{ObserverVisibilityParams, SessionsSubscribeResult, names};
use openclaw_protocol::{EmptyParams, ErrorShape, OkResult, SessionsListParams};
use serde_json::Value;

use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};

pub fn register(out: &mut Vec<MethodSpec>) {
    let read = Access::Scope(scopes::READ);
    for (name, handler) in [
        (
            names::SESSIONS_SUBSCRIBE,
            subscribe as crate::registry::Handler,
        ),
        (names::SESSIONS_UNSUBSCRIBE, unsubscribe),
        (names::SESSIONS_OBSERVER_VISIBILITY, observer_visibility),
    ] {
        out.push(MethodSpec {
            name,
            access: read,
            handler,
        });
    }
}

fn set_subscribed(ctx: &MethodCtx, on: bool) -> bool {
    match ctx.state.hub.get(&ctx.conn_id) {
        Some(conn) => {
            conn.session_events.store(on, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// Takes `sessions.list` params; with any given, the answer carries that list too, so a
/// client subscribes and loads in one round trip (as the reference).
fn subscribe<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<SessionsListParams>(names::SESSIONS_SUBSCRIBE, params)?;
        let subscribed = set_subscribed(ctx, true);
        let has_params = params
            .and_then(Value::as_object)
            .is_some_and(|o| !o.is_empty());
        let list = if subscribed && has_params {
            match super::sessions::sessions_list(ctx, params).await? {
                Reply::Json(v) => Some(v),
                _ => None,
            }
        } else {
            None
        };
        let result = SessionsSubscribeResult { subscribed, list };
        Ok(Reply::Json(
            serde_json::to_value(result).unwrap_or_default(),
        ))
    })
}

fn unsubscribe<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names::SESSIONS_UNSUBSCRIBE, params)?;
        set_subscribed(ctx, false);
        let result = SessionsSubscribeResult {
            subscribed: false,
            list: None,
        };
        Ok(Reply::Json(
            serde_json::to_value(result).unwrap_or_default(),
        ))
    })
}

/// We run no session observer (the reference's live "what is the agent doing" HUD), so the
/// declaration is accepted and has nothing to change.
fn observer_visibility<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<ObserverVisibilityParams>(names::SESSIONS_OBSERVER_VISIBILITY, params)?;
        if ctx.state.hub.get(&ctx.conn_id).is_none() {
            return Err(ErrorShape::new(
                openclaw_protocol::codes::FORBIDDEN,
                "Session observer visibility requires a connected client.",
            ));
        }
        Ok(Reply::Json(
            serde_json::to_value(OkResult { ok: true }).unwrap_or_default(),
        ))
    })
}
