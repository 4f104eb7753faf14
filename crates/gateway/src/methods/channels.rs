//! Channel methods: `send` (direct outbound delivery with a durable idempotency record, so a
//! retried send is never delivered twice, even across restarts), `channels.status`,
//! `channels.logout`, `channels.start` / `channels.stop`.

use crate::sync::LockExt;
use std::collections::BTreeMap;
use std::sync::Arc;

use openclaw_channels::{ChannelError, OutboundMedia, OutboundMessage};
use openclaw_protocol::channels::names;
use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::{
    ChannelAccountParams, ChannelsStatusParams, ErrorShape, SendParams, codes,
};
use serde_json::{Value, json};

use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};
use crate::state::{AppState, now_ms};

pub fn register(out: &mut Vec<MethodSpec>) {
    out.push(MethodSpec {
        name: names::SEND,
        access: Access::Scope(scopes::WRITE),
        handler: send,
    });
    out.push(MethodSpec {
        name: names::CHANNELS_STATUS,
        access: Access::Scope(scopes::READ),
        handler: status,
    });
    out.push(MethodSpec {
        name: names::CHANNELS_LOGOUT,
        access: Access::Scope(scopes::ADMIN),
        handler: logout,
    });
    out.push(MethodSpec {
        name: names::CHANNELS_START,
        access: Access::Scope(scopes::ADMIN),
        handler: start,
    });
    out.push(MethodSpec {
        name: names::CHANNELS_STOP,
        access: Access::Scope(scopes::ADMIN),
        handler: stop,
    });
}

/// Channel + account of a `channels.*` call (default account when omitted).
fn account_of(
    method: &str,
    rt: &crate::channels::ChannelRuntime,
    p: &ChannelAccountParams,
) -> Result<(String, String), ErrorShape> {
    let channel = p.channel.to_ascii_lowercase();
    if !crate::channels::LABELS
        .iter()
        .any(|(id, _, _)| *id == channel)
    {
        return Err(ErrorShape::invalid_request(format!(
            "invalid {method} channel: unsupported channel {}",
            p.channel
        )));
    }
    let account = p
        .account_id
        .clone()
        .or_else(|| rt.default_account(&channel))
        .unwrap_or_else(|| "default".into());
    Ok((channel, account))
}

fn start<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ChannelAccountParams>(names::CHANNELS_START, params)?;
        let rt = runtime(&ctx.state)?;
        let (channel, account) = account_of(names::CHANNELS_START, &rt, &p)?;
        let started = rt
            .start_account(&channel, &account)
            .map_err(ErrorShape::invalid_request)?;
        Ok(Reply::Json(
            json!({"channel": channel, "accountId": account, "started": true, "alreadyRunning": !started}),
        ))
    })
}

fn stop<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ChannelAccountParams>(names::CHANNELS_STOP, params)?;
        let rt = runtime(&ctx.state)?;
        let (channel, account) = account_of(names::CHANNELS_STOP, &rt, &p)?;
        let was_running = rt
            .stop_account(&channel, &account)
            .await
            .map_err(ErrorShape::invalid_request)?;
        Ok(Reply::Json(
            json!({"channel": channel, "accountId": account, "stopped": true, "wasRunning": was_running}),
        ))
    })
}

/// Completed sends kept for dedupe: at most this many, for this long.
const DEDUPE_MAX: usize = 1000;
const DEDUPE_TTL_MS: u64 = 24 * 3600 * 1000;

fn dedupe_path(state: &AppState) -> std::path::PathBuf {
    state
        .paths
        .state_dir
        .join("channels")
        .join("send-dedupe.json")
}

fn load_dedupe(state: &AppState) -> BTreeMap<String, Value> {
    std::fs::read_to_string(dedupe_path(state))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn save_dedupe(state: &AppState, mut map: BTreeMap<String, Value>) -> std::io::Result<()> {
    let now = now_ms();
    map.retain(|_, v| now.saturating_sub(v["ts"].as_u64().unwrap_or(0)) < DEDUPE_TTL_MS);
    while map.len() > DEDUPE_MAX {
        let oldest = map
            .iter()
            .min_by_key(|(_, v)| v["ts"].as_u64().unwrap_or(0))
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => map.remove(&k),
            None => break,
        };
    }
    let text = serde_json::to_vec_pretty(&map).unwrap_or_default();
    openclaw_config::fsutil::write_atomic(&dedupe_path(state), &text)
}

fn channel_error(e: ChannelError) -> ErrorShape {
    match e {
        ChannelError::NotLinked(m) => ErrorShape::new(codes::NOT_LINKED, m),
        ChannelError::BadTarget(m) | ChannelError::TooLarge(m) | ChannelError::MediaAccess(m) => {
            ErrorShape::invalid_request(m)
        }
        other => ErrorShape::unavailable(other.to_string()),
    }
}

fn runtime(state: &AppState) -> Result<Arc<crate::channels::ChannelRuntime>, ErrorShape> {
    state
        .channels
        .locked()
        .clone()
        .ok_or_else(|| ErrorShape::unavailable("channels are not running"))
}

/// Sends `text` to `to` through a channel (the only configured one when `channel` is `None`):
/// the delivery of `agent --deliver`. Returns `{channel, to, messageId}`.
pub async fn deliver(
    state: &Arc<AppState>,
    channel: Option<&str>,
    account: Option<&str>,
    to: &str,
    text: String,
) -> Result<Value, ErrorShape> {
    deliver_to(state, channel, account, to, None, text).await
}

/// [`deliver`] at most once per `key` (a cron run id), even across restarts: the same durable
/// record as `send`, so a run repeated after a crash does not message the chat twice.
pub async fn deliver_once(
    state: &Arc<AppState>,
    key: &str,
    channel: Option<&str>,
    account: Option<&str>,
    to: &str,
    thread: Option<&str>,
    text: String,
) -> Result<Value, ErrorShape> {
    let _guard = state.process.send_lock.lock().await;
    at_most_once(
        state,
        format!("deliver:{key}"),
        deliver_to(state, channel, account, to, thread, text),
    )
    .await
}

/// Runs `send` at most once per dedupe `key`, even across a kill -9: a `sending` record is on
/// disk before the channel is called and is replaced by the result after. A record still
/// `sending` when the key comes back means an earlier process stopped in between, when
/// whether the channel took the message cannot be known (the Bot API has no idempotency key),
/// so it is not sent again and the caller is told. The caller holds `send_lock`.
async fn at_most_once(
    state: &AppState,
    key: String,
    send: impl std::future::Future<Output = Result<Value, ErrorShape>>,
) -> Result<Value, ErrorShape> {
    let mut dedupe = load_dedupe(state);
    match dedupe.get(&key) {
        Some(done) if done.get("result").is_some() => return Ok(done["result"].clone()),
        Some(_) => {
            tracing::warn!(target: "channels", "{key}: the gateway stopped while sending it; not sent again");
            return Err(ErrorShape::new(
                codes::UNAVAILABLE,
                format!(
                    "{key}: delivery outcome unknown (the gateway stopped while sending it); not sent again"
                ),
            ));
        }
        None => {}
    }
    dedupe.insert(key.clone(), json!({"ts": now_ms(), "sending": true}));
    if let Err(e) = save_dedupe(state, dedupe.clone()) {
        return Err(ErrorShape::new(
            codes::UNAVAILABLE,
            format!("cannot record the delivery of {key}: {e}"),
        ));
    }
    let outcome = send.await;
    match &outcome {
        Ok(result) => {
            dedupe.insert(key, json!({"ts": now_ms(), "result": result}));
        }
        // The channel refused it: not delivered, so a retry may send it.
        Err(_) => {
            dedupe.remove(&key);
        }
    }
    if let Err(e) = save_dedupe(state, dedupe) {
        tracing::error!(target: "channels", "cannot record delivery idempotency: {e}");
    }
    outcome
}

async fn deliver_to(
    state: &Arc<AppState>,
    channel: Option<&str>,
    account: Option<&str>,
    to: &str,
    thread: Option<&str>,
    text: String,
) -> Result<Value, ErrorShape> {
    let rt = runtime(state)?;
    let configured = rt.channels();
    let channel = match channel.map(str::to_ascii_lowercase) {
        Some(c) if c != "last" => c,
        _ => the_only_channel(&configured)?,
    };
    let account = account
        .map(str::to_string)
        .or_else(|| rt.default_account(&channel))
        .ok_or_else(|| {
            ErrorShape::new(codes::NOT_LINKED, format!("{channel} is not configured"))
        })?;
    let driver = rt.driver(&channel, &account).ok_or_else(|| {
        ErrorShape::new(
            codes::NOT_LINKED,
            format!("{channel} account {account} is not linked or not running"),
        )
    })?;
    let (chat_id, thread_id) = driver.parse_target(to).map_err(channel_error)?;
    let sent = driver
        .send(OutboundMessage {
            chat_id,
            thread_id: thread.map(str::to_string).or(thread_id),
            text,
            media: vec![],
            reply_to: None,
            local_roots: Vec::new(),
        })
        .await
        .map_err(channel_error)?;
    Ok(
        json!({"channel": channel, "to": to, "messageId": sent.message_ids.last().cloned().unwrap_or_default()}),
    )
}

fn send<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<SendParams>(names::SEND, params)?;
        send_message(&ctx.state, &p).await.map(Reply::Json)
    })
}

/// One outbound send with `send`'s rules: channel/account resolution, the target grammar of
/// the driver, local media only under the allowed roots, and the durable idempotency record
/// (a key seen before returns the first result and sends nothing). The `message` agent tool
/// sends through here too.
pub(crate) async fn send_message(
    state: &Arc<AppState>,
    p: &SendParams,
) -> Result<Value, ErrorShape> {
    let mut media: Vec<String> = p.media_urls.clone().unwrap_or_default();
    media.extend(p.media_url.clone());
    let text = p.message.clone().unwrap_or_default();
    if text.trim().is_empty() && media.is_empty() {
        return Err(ErrorShape::invalid_request(
            "invalid send params: text or media is required",
        ));
    }
    let rt = runtime(state)?;
    let configured = rt.channels();
    let channel = match p.channel.as_deref().map(str::to_ascii_lowercase) {
        Some(c) if c == "webchat" => {
            return Err(ErrorShape::invalid_request(
                "unsupported channel: webchat (internal-only). Use `chat.send` for WebChat sessions.",
            ));
        }
        Some(c) if !crate::channels::LABELS.iter().any(|(id, _, _)| *id == c) => {
            return Err(ErrorShape::invalid_request(format!(
                "unsupported channel: {c}"
            )));
        }
        Some(c) => c,
        None => the_only_channel(&configured)?,
    };
    let account = match p
        .account_id
        .clone()
        .or_else(|| rt.default_account(&channel))
    {
        Some(a) => a,
        None => {
            return Err(ErrorShape::new(
                codes::NOT_LINKED,
                format!("{channel} is not configured"),
            ));
        }
    };
    let Some(driver) = rt.driver(&channel, &account) else {
        return Err(ErrorShape::new(
            codes::NOT_LINKED,
            format!("{channel} account {account} is not linked or not running"),
        ));
    };
    let (chat_id, thread) = driver.parse_target(&p.to).map_err(channel_error)?;
    let agent = send_agent(state, p)?;
    let local_roots = crate::channels::media_local_roots(
        state,
        &agent,
        rt.account_cfg(&channel, &account).as_ref(),
    );
    let _guard = state.process.send_lock.lock().await;
    let key = format!("send:{}", p.idempotency_key);
    let out = OutboundMessage {
        chat_id: chat_id.clone(),
        thread_id: p.thread_id.clone().or(thread),
        text,
        media: media
            .into_iter()
            .map(|source| OutboundMedia { source, mime: None })
            .collect(),
        reply_to: None,
        local_roots,
    };
    at_most_once(state, key, async {
        let sent = driver.send(out).await.map_err(channel_error)?;
        Ok(json!({
            "runId": p.idempotency_key,
            "messageId": sent.message_ids.last().cloned().unwrap_or_default(),
            "channel": channel,
            "chatId": sent.chat_id,
        }))
    })
    .await
}

/// The agent a `send` acts for (its workspace is where local media may come from):
/// `agentId`, else the agent of `sessionKey` (`agent:<id>:…`), else the default agent.
fn send_agent(state: &AppState, p: &SendParams) -> Result<String, ErrorShape> {
    let (ids, default) = crate::agents::agents(state);
    if let Some(a) = &p.agent_id {
        let a = a.to_ascii_lowercase();
        return if ids.contains(&a) {
            Ok(a)
        } else {
            Err(ErrorShape::invalid_request(format!(
                "unknown agent id: {a}"
            )))
        };
    }
    let from_key = p
        .session_key
        .as_deref()
        .and_then(|k| k.strip_prefix("agent:"))
        .and_then(|r| r.split(':').next())
        .map(str::to_ascii_lowercase)
        .filter(|a| ids.contains(a));
    Ok(from_key.unwrap_or(default))
}

fn status<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ChannelsStatusParams>(names::CHANNELS_STATUS, params)?;
        Ok(Reply::Json(match runtime(&ctx.state) {
            Ok(rt) => {
                let probes = if p.probe == Some(true) {
                    let ms = p.timeout_ms.unwrap_or(10_000).clamp(1000, 120_000);
                    rt.probe_all(std::time::Duration::from_millis(ms)).await
                } else {
                    BTreeMap::new()
                };
                rt.status_json(&probes)
            }
            Err(_) => {
                json!({"ts": now_ms(), "channelOrder": [], "channelLabels": {}, "channels": {}, "channelAccounts": {}, "channelDefaultAccountId": {}})
            }
        }))
    })
}

fn logout<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<ChannelAccountParams>(names::CHANNELS_LOGOUT, params)?;
        let rt = runtime(&ctx.state)?;
        let (channel, account) = account_of(names::CHANNELS_LOGOUT, &rt, &p)?;
        let cleared = rt
            .logout(&channel, &account)
            .await
            .map_err(ErrorShape::invalid_request)?;
        Ok(Reply::Json(
            json!({"channel": channel, "accountId": account, "cleared": cleared}),
        ))
    })
}

/// The channel a caller that names none means: the one configured channel; none or several is
/// a clear error (delivery never guesses).
fn the_only_channel(configured: &[String]) -> Result<String, ErrorShape> {
    match configured {
        [only] => Ok(only.clone()),
        [] => Err(ErrorShape::new(
            codes::NOT_LINKED,
            "no channel is configured",
        )),
        _ => Err(ErrorShape::invalid_request(format!(
            "several channels are configured ({}); pass `channel`",
            configured.join(", ")
        ))),
    }
}
