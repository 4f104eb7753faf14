//! `node.canvas.capability.refresh` (nodes.md §3.4): a node asks for a fresh canvas capability
//! before its current one lapses; the old one stops working at once.

use openclaw_protocol::ErrorShape;
use serde_json::{Value, json};

use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};

pub const NODE_CANVAS_CAPABILITY_REFRESH: &str = "node.canvas.capability.refresh";

pub fn register(out: &mut Vec<MethodSpec>) {
    out.push(MethodSpec {
        name: NODE_CANVAS_CAPABILITY_REFRESH,
        access: Access::NodeOnly,
        handler: refresh,
    });
}

fn refresh<'a>(ctx: &'a MethodCtx, _params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        // The origin was recorded when the connection's first capability was minted; without
        // one the canvas host is off.
        let minted = ctx
            .state
            .canvas
            .caps
            .mint(&ctx.conn_id, None)
            .ok_or_else(|| ErrorShape::unavailable("canvas host unavailable"))?;
        Ok(Reply::Json(json!({
            "canvasCapability": minted.capability,
            "canvasCapabilityExpiresAtMs": minted.expires_at_ms,
            "canvasHostUrl": minted.url,
        })))
    })
}
