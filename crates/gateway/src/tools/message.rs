//! `message` (agent.md §7.1): a run sends through a channel. It is the `send` method from the
//! inside: the same channel/account resolution, target grammar, media-root rule and durable
//! idempotency record (`methods::channels::send_message`), so a retried tool call — the same
//! `idempotencyKey`, or the same call of the same run replayed — is delivered once. Without a
//! target the message goes to the chat the run answers (`RunTools.origin`). Only
//! `action: "send"` is implemented; other reference actions (react, edit, poll, …) are
//! refused by name.

use std::sync::Arc;

use openclaw_agent::{ToolCall, ToolFuture, ToolOutput, ToolSpec};
use openclaw_protocol::SendParams;
use serde_json::{Value, json};

use super::{Family, RunTools};

pub(crate) static FAMILY: Family = Family { specs, call };

fn specs(_rt: &RunTools) -> Vec<ToolSpec> {
    vec![ToolSpec {
        name: "message".into(),
        description: "Send a message through a channel (Telegram, WhatsApp). Without `to` it goes to the chat this conversation came from. Pass the same idempotencyKey when retrying so it is delivered once.".into(),
        parameters: json!({"type": "object", "properties": {
            "action": {"type": "string", "enum": ["send"], "default": "send"},
            "message": {"type": "string", "description": "Text to send."},
            "to": {"type": "string", "description": "Target chat (channel-specific id, @username, phone number). Default: the current chat."},
            "target": {"type": "string", "description": "Alias of `to`."},
            "channel": {"type": "string", "description": "telegram | whatsapp (default: the current chat's, or the only configured channel)."},
            "accountId": {"type": "string"},
            "threadId": {"type": "string", "description": "Topic / thread id."},
            "media": {"type": "string", "description": "A media URL or a local path under the workspace or the allowed media roots."},
            "mediaUrls": {"type": "array", "items": {"type": "string"}},
            "idempotencyKey": {"type": "string", "description": "Reuse on retry; a key already sent is not sent again."}},
            "additionalProperties": true}),
    }]
}

fn call(rt: &Arc<RunTools>, call: ToolCall) -> Option<ToolFuture> {
    if call.name != "message" {
        return None;
    }
    let rt = rt.clone();
    Some(Box::pin(async move { message(&rt, &call).await }))
}

fn text_arg(args: &Value, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| args.get(*n).and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The tool's arguments turned into `send` params (or the model-facing reason they cannot be).
fn send_params(rt: &RunTools, call: &ToolCall) -> Result<SendParams, String> {
    let args = &call.args;
    let action = text_arg(args, &["action"]).unwrap_or_else(|| "send".into());
    if !action.eq_ignore_ascii_case("send") {
        return Err(format!(
            "message action `{action}` is not supported by this gateway; only `send` is."
        ));
    }
    let text = args
        .get("message")
        .or_else(|| args.get("text"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut media: Vec<String> = args
        .get("mediaUrls")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    media.extend(text_arg(args, &["media", "mediaUrl", "path", "filePath"]));
    if text.as_deref().is_none_or(|t| t.trim().is_empty()) && media.is_empty() {
        return Err("message: `message` (text) or `media` is required".into());
    }
    let channel = text_arg(args, &["channel"]).map(|c| c.to_ascii_lowercase());
    let to = text_arg(args, &["to", "target"]);
    let origin = rt
        .origin
        .as_ref()
        .filter(|o| to.is_none() && channel.as_deref().is_none_or(|c| c == o.channel));
    let (channel, account, to, thread) = match (to, origin) {
        (Some(to), _) => (
            channel,
            text_arg(args, &["accountId"]),
            to,
            text_arg(args, &["threadId"]),
        ),
        (None, Some(o)) => (
            Some(o.channel.clone()),
            text_arg(args, &["accountId"]).or_else(|| Some(o.account_id.clone())),
            o.to.clone(),
            text_arg(args, &["threadId"]).or_else(|| o.thread_id.clone()),
        ),
        (None, None) => {
            return Err(
                "message: `to` is required (this conversation did not come from a channel chat)"
                    .into(),
            );
        }
    };
    // A replayed call of the same run carries the same ids: the same key, so no second send.
    let key = text_arg(args, &["idempotencyKey"]).unwrap_or_else(|| match &rt.run_id {
        Some(run) if !call.id.is_empty() => format!("{run}:{}", call.id),
        _ => uuid::Uuid::new_v4().to_string(),
    });
    Ok(SendParams {
        to,
        message: text,
        media_url: None,
        media_urls: (!media.is_empty()).then_some(media),
        gif_playback: None,
        channel,
        account_id: account,
        agent_id: Some(rt.agent_id.clone()),
        thread_id: thread,
        session_key: rt.session_key.clone(),
        idempotency_key: format!("message:{key}"),
    })
}

async fn message(rt: &RunTools, call: &ToolCall) -> ToolOutput {
    let p = match send_params(rt, call) {
        Ok(p) => p,
        Err(e) => return ToolOutput::error(e),
    };
    match crate::methods::channels::send_message(&rt.state, &p).await {
        Ok(result) => {
            let channel = result["channel"].as_str().unwrap_or_default().to_string();
            let id = result["messageId"].as_str().unwrap_or_default().to_string();
            let mut details = result;
            details["to"] = json!(p.to);
            details["idempotencyKey"] = json!(p.idempotency_key);
            ToolOutput {
                content: format!("Sent via {channel} to {} (messageId {id}).", p.to),
                is_error: false,
                details,
            }
        }
        Err(e) => ToolOutput::error(format!("message failed: {}", e.message)),
    }
}
