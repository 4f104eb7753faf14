//! Telegram over the Bot API (channels.md §2): our own long-poll loop with a durable offset,
//! one poller per bot token per process, 409/429/5xx handling with backoff, safe HTML output with
//! plain-text fallback, chunking, typing, and photos/documents in and out.

mod api;
mod format;
mod inbound;
mod offset;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub use api::BotApi;
pub use format::{escape_html, to_html};
pub use offset::{OffsetStore, bot_id_of, sanitize_account_id};

use crate::chunk::chunk_text;
use crate::config::AccountConfig;
use crate::supervisor::Backoff;
use crate::types::{
    CancelToken, ChannelDriver, ChannelError, ChannelStatus, Inbound, OutboundMedia,
    OutboundMessage, PendingMedia, SentRef, now_ms,
};

/// Telegram's hard limits.
pub const MAX_MESSAGE_CHARS: usize = 4096;
pub const MAX_CAPTION_CHARS: usize = 1024;
/// Status text for a 409 from getUpdates.
pub const CONFLICT_MESSAGE: &str = "conflict: another poller uses this bot token";

/// Timing knobs; tests shrink them.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// `getUpdates` long-poll `timeout` (the HTTP request gets 15 s more).
    pub poll_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Upper bound for honouring a 429 `retry_after`.
    pub max_retry_after: Duration,
    /// Polling-stall watchdog: a `getUpdates` that has not answered `poll_timeout + stall_grace`
    /// after it was sent is abandoned as a dead connection and retried with backoff.
    pub stall_grace: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            poll_timeout: Duration::from_secs(25),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(600),
            stall_grace: Duration::from_secs(15),
        }
    }
}

/// Builds the driver for a Telegram account. `NotLinked` when no token is configured.
pub fn driver(
    cfg: &AccountConfig,
    state_dir: &Path,
) -> Result<Arc<dyn ChannelDriver>, ChannelError> {
    driver_with(cfg, state_dir, Tuning::default())
}

/// As [`driver`] with explicit timing.
pub fn driver_with(
    cfg: &AccountConfig,
    state_dir: &Path,
    tuning: Tuning,
) -> Result<Arc<dyn ChannelDriver>, ChannelError> {
    Ok(Arc::new(TelegramDriver::new(cfg, state_dir, tuning)?))
}

/// Bot ids currently being polled in this process (one poller per token).
static ACTIVE_POLLERS: LazyLock<Mutex<HashSet<String>>> =
    LazyLock::new(|| Mutex::new(HashSet::new()));

struct PollGuard(String);

impl PollGuard {
    fn acquire(key: &str) -> Option<PollGuard> {
        let mut set = ACTIVE_POLLERS.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(key.to_string())
            .then(|| PollGuard(key.to_string()))
    }
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        ACTIVE_POLLERS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}

#[derive(Debug, Clone)]
pub(crate) struct BotInfo {
    pub id: i64,
    pub username: String,
}

/// One Telegram bot account.
pub struct TelegramDriver {
    cfg: AccountConfig,
    api: BotApi,
    offsets: OffsetStore,
    tuning: Tuning,
    poll_key: String,
    status: Mutex<ChannelStatus>,
    bot: Mutex<Option<BotInfo>>,
}

impl TelegramDriver {
    pub fn new(
        cfg: &AccountConfig,
        state_dir: &Path,
        tuning: Tuning,
    ) -> Result<TelegramDriver, ChannelError> {
        let token = cfg.bot_token.clone().ok_or_else(|| {
            ChannelError::NotLinked(
                "no Telegram bot token configured (botToken, tokenFile or TELEGRAM_BOT_TOKEN)"
                    .into(),
            )
        })?;
        let bot_id = bot_id_of(&token);
        let poll_key = if bot_id.is_empty() {
            token.clone()
        } else {
            bot_id
        };
        Ok(TelegramDriver {
            api: BotApi::new(&cfg.api_root, &token)?,
            offsets: OffsetStore::new(state_dir, &cfg.account_id, &token),
            tuning,
            poll_key,
            status: Mutex::new(ChannelStatus {
                configured: true,
                linked: true,
                mode: Some("polling".into()),
                ..Default::default()
            }),
            bot: Mutex::new(None),
            cfg: cfg.clone(),
        })
    }

    fn with_status(&self, f: impl FnOnce(&mut ChannelStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn record_error(&self, msg: &str) {
        tracing::warn!(channel = "telegram", account = %self.cfg.account_id, error = %msg, "telegram error");
        self.with_status(|s| {
            s.last_error = Some(msg.to_string());
            s.last_error_at = Some(now_ms());
        });
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(
            self.tuning.backoff_initial,
            self.tuning.backoff_max,
            2.0,
            0.2,
        )
    }

    /// Sleeps `d` unless cancelled; `false` when cancelled.
    async fn pause(d: Duration, cancel: &CancelToken) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = cancel.cancelled() => false,
        }
    }

    async fn get_me(&self, cancel: &CancelToken) -> Result<Option<BotInfo>, ChannelError> {
        let mut backoff = self.backoff();
        let empty = json!({});
        loop {
            let r = tokio::select! {
                r = self.api.call("getMe", &empty, Duration::from_secs(30)) => r,
                _ = cancel.cancelled() => return Ok(None),
            };
            let delay = match r {
                Ok(me) => {
                    let id = me.get("id").and_then(Value::as_i64).unwrap_or(0);
                    let username = me
                        .get("username")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    return Ok(Some(BotInfo { id, username }));
                }
                Err(ChannelError::Unauthorized(_)) => {
                    return Err(ChannelError::Unauthorized("getMe returned 401".into()));
                }
                Err(ChannelError::RateLimited { retry_after }) => {
                    retry_after.min(self.tuning.max_retry_after)
                }
                Err(e) => {
                    self.record_error(&e.to_string());
                    backoff.next_delay()
                }
            };
            if !Self::pause(delay, cancel).await {
                return Ok(None);
            }
        }
    }

    async fn poll_loop(
        &self,
        sink: mpsc::Sender<Inbound>,
        cancel: CancelToken,
    ) -> Result<(), ChannelError> {
        let Some(me) = self.get_me(&cancel).await? else {
            return Ok(());
        };
        self.with_status(|s| s.bot_username = Some(me.username.clone()));
        *self.bot.lock().unwrap_or_else(|p| p.into_inner()) = Some(me.clone());
        // Polling and an active webhook exclude each other; a failure here is tolerated.
        let _ = self
            .api
            .call("deleteWebhook", &json!({}), Duration::from_secs(30))
            .await;
        let mut last = self.offsets.load();
        let mut backoff = self.backoff();
        let request_timeout = self.tuning.poll_timeout + self.tuning.stall_grace;
        loop {
            let mut body = json!({
                "timeout": self.tuning.poll_timeout.as_secs(),
                "allowed_updates": ["message", "edited_message", "channel_post", "callback_query", "message_reaction", "my_chat_member"],
            });
            if let Some(l) = last {
                body["offset"] = json!(l + 1);
            }
            let r = tokio::select! {
                r = self.api.call("getUpdates", &body, request_timeout) => r,
                _ = cancel.cancelled() => return Ok(()),
            };
            let delay = match r {
                Ok(Value::Array(updates)) => {
                    backoff.reset();
                    self.with_status(|s| s.connected = true);
                    for u in updates {
                        let Some(id) = u.get("update_id").and_then(Value::as_i64) else {
                            continue;
                        };
                        if last.is_some_and(|l| id <= l) {
                            continue; // already acknowledged: never process twice
                        }
                        if let Some(msg) = inbound::to_inbound(self, &u, &me) {
                            #[cfg(feature = "test-hooks")]
                            fault_injection(&msg.text);
                            let (item, ack) = Inbound::new(msg);
                            tokio::select! {
                                r = sink.send(item) => r.map_err(|_| ChannelError::Unavailable("inbound sink closed".into()))?,
                                _ = cancel.cancelled() => return Ok(()),
                            }
                            tokio::select! {
                                r = ack => if r.is_err() {
                                    return Err(ChannelError::Other(format!("update {id} was not acknowledged; it will be redelivered")));
                                },
                                _ = cancel.cancelled() => return Ok(()),
                            }
                            self.with_status(|s| s.last_inbound_at = Some(now_ms()));
                        }
                        self.offsets.save(id).map_err(|e| {
                            ChannelError::Io(format!("cannot persist telegram offset: {e}"))
                        })?;
                        last = Some(id);
                    }
                    continue;
                }
                Ok(_) => {
                    self.record_error("getUpdates: unexpected result shape");
                    backoff.next_delay()
                }
                Err(ChannelError::Conflict(_)) => {
                    self.with_status(|s| s.connected = false);
                    self.record_error(CONFLICT_MESSAGE);
                    let d = backoff.next_delay();
                    let _ = self
                        .api
                        .call("deleteWebhook", &json!({}), Duration::from_secs(30))
                        .await;
                    d
                }
                Err(ChannelError::RateLimited { retry_after }) => {
                    self.record_error(&format!(
                        "getUpdates rate limited; retry after {}s",
                        retry_after.as_secs()
                    ));
                    retry_after.min(self.tuning.max_retry_after)
                }
                Err(e @ ChannelError::Unauthorized(_)) => return Err(e),
                Err(e) => {
                    self.with_status(|s| s.connected = false);
                    self.record_error(&e.to_string());
                    backoff.next_delay()
                }
            };
            if !Self::pause(delay, &cancel).await {
                return Ok(());
            }
        }
    }

    /// Calls `method`, waiting out 429s and retrying transient network errors (3 attempts).
    async fn call_retrying(&self, method: &str, body: &Value) -> Result<Value, ChannelError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.api.call(method, body, Duration::from_secs(60)).await {
                Err(ChannelError::RateLimited { retry_after }) if attempt < 3 => {
                    tokio::time::sleep(retry_after.min(Duration::from_secs(60))).await;
                }
                Err(ChannelError::Network(_)) if attempt < 3 => {
                    tokio::time::sleep(Duration::from_millis(400 * attempt)).await;
                }
                r => return r,
            }
        }
    }

    /// Sends one text chunk as HTML, falling back to plain text when Telegram rejects entities.
    async fn send_chunk(&self, base: &Value, text: &str) -> Result<String, ChannelError> {
        let mut body = base.clone();
        body["text"] = json!(to_html(text));
        body["parse_mode"] = json!("HTML");
        let r = match self.call_retrying("sendMessage", &body).await {
            Err(ChannelError::Api(d)) if d.contains("can't parse entities") => {
                let mut plain = base.clone();
                plain["text"] = json!(text);
                self.call_retrying("sendMessage", &plain).await?
            }
            r => r?,
        };
        Ok(message_id(&r))
    }

    /// Sends one attachment: a URL is handed to Telegram (its servers fetch it, not us); a
    /// local file arrives already loaded (`local`), checked against the roots and the cap.
    async fn send_media(
        &self,
        base: &Value,
        m: &OutboundMedia,
        local: Option<crate::LoadedMedia>,
        caption: Option<&str>,
    ) -> Result<String, ChannelError> {
        let (method, field) = if is_photo(m) {
            ("sendPhoto", "photo")
        } else {
            ("sendDocument", "document")
        };
        let Some(crate::LoadedMedia {
            bytes, file_name, ..
        }) = local
        else {
            let mut body = base.clone();
            body[field] = json!(m.source);
            let r = match caption {
                Some(c) => {
                    body["caption"] = json!(to_html(c));
                    body["parse_mode"] = json!("HTML");
                    match self.call_retrying(method, &body).await {
                        Err(ChannelError::Api(d)) if d.contains("can't parse entities") => {
                            body["caption"] = json!(c);
                            if let Some(o) = body.as_object_mut() {
                                o.remove("parse_mode");
                            }
                            self.call_retrying(method, &body).await?
                        }
                        r => r?,
                    }
                }
                None => self.call_retrying(method, &body).await?,
            };
            return Ok(message_id(&r));
        };
        let form = |html: bool| -> Result<reqwest::multipart::Form, ChannelError> {
            let mut part =
                reqwest::multipart::Part::bytes(bytes.clone()).file_name(file_name.clone());
            if let Some(mime) = &m.mime {
                part = part
                    .mime_str(mime)
                    .map_err(|_| ChannelError::Other(format!("invalid MIME type {mime}")))?;
            }
            let mut form = reqwest::multipart::Form::new();
            if let Some(o) = base.as_object() {
                for (k, v) in o {
                    let s = v
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string());
                    form = form.text(k.clone(), s);
                }
            }
            if let Some(c) = caption {
                form = form.text("caption", if html { to_html(c) } else { c.to_string() });
                if html {
                    form = form.text("parse_mode", "HTML");
                }
            }
            Ok(form.part(field, part))
        };
        let timeout = Duration::from_secs(120);
        let r = match self.api.call_multipart(method, form(true)?, timeout).await {
            Err(ChannelError::Api(d))
                if caption.is_some() && d.contains("can't parse entities") =>
            {
                self.api
                    .call_multipart(method, form(false)?, timeout)
                    .await?
            }
            r => r?,
        };
        Ok(message_id(&r))
    }
}

/// Test-only fault injection, compiled only with feature `test-hooks` (never in a release
/// build) and inert unless `OPENCLAW_TEST_TELEGRAM_PANIC_TEXT` is set: the first inbound
/// message (per process) with exactly that text panics inside the polling task, before it is
/// acknowledged. Integration tests use it to show a panic is contained, reported in status, and
/// the message redelivered after the supervised restart.
#[cfg(feature = "test-hooks")]
fn fault_injection(text: &str) {
    static FIRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    static TRIGGER: LazyLock<Option<String>> =
        LazyLock::new(|| std::env::var("OPENCLAW_TEST_TELEGRAM_PANIC_TEXT").ok());
    if let Some(t) = TRIGGER.as_deref()
        && t == text
        && !FIRED.swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        panic!("injected fault while handling a Telegram update");
    }
}

fn message_id(result: &Value) -> String {
    result
        .get("message_id")
        .map(|v| v.to_string())
        .unwrap_or_default()
}

fn is_photo(m: &OutboundMedia) -> bool {
    if let Some(mime) = &m.mime {
        return mime.starts_with("image/") && mime != "image/gif";
    }
    let lower = m.source.to_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or("");
    [".jpg", ".jpeg", ".png", ".webp"]
        .iter()
        .any(|e| path.ends_with(e))
}

/// Parses a Telegram target (channels.md §2.8).
pub fn parse_target(target: &str) -> Result<(String, Option<String>), ChannelError> {
    let bad = || {
        ChannelError::BadTarget(format!(
            "unknown Telegram target {target:?}: expected a numeric chat id, @username or <chatId>:topic:<threadId>"
        ))
    };
    let t = crate::config::normalize_id(target);
    let (chat, topic) = match t.split_once(":topic:") {
        Some((c, tp)) => {
            if tp.is_empty() || !tp.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            (c, Some(tp.to_string()))
        }
        None => (t.as_str(), None),
    };
    if let Some(name) = chat.strip_prefix('@') {
        let ok = (4..=32).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        return if ok {
            Ok((chat.to_string(), topic))
        } else {
            Err(bad())
        };
    }
    let digits = chat.strip_prefix('-').unwrap_or(chat);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    match chat.parse::<i64>() {
        Ok(n) if n != 0 => Ok((n.to_string(), topic)),
        _ => Err(bad()),
    }
}

fn chat_value(chat_id: &str) -> Result<Value, ChannelError> {
    let (chat, _) = parse_target(chat_id)?;
    Ok(match chat.parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => json!(chat),
    })
}

#[async_trait]
impl ChannelDriver for TelegramDriver {
    fn channel(&self) -> &str {
        "telegram"
    }

    fn account_id(&self) -> &str {
        &self.cfg.account_id
    }

    async fn run(
        &self,
        sink: mpsc::Sender<Inbound>,
        cancel: CancelToken,
    ) -> Result<(), ChannelError> {
        let Some(_guard) = PollGuard::acquire(&self.poll_key) else {
            let e = ChannelError::Conflict(
                "another poller in this process already uses this bot token".into(),
            );
            self.record_error(&e.to_string());
            return Err(e);
        };
        self.with_status(|s| s.running = true);
        let r = self.poll_loop(sink, cancel).await;
        self.with_status(|s| {
            s.running = false;
            s.connected = false;
        });
        if let Err(e) = &r {
            self.record_error(&e.to_string());
        }
        r
    }

    async fn send(&self, msg: OutboundMessage) -> Result<SentRef, ChannelError> {
        let chat = chat_value(&msg.chat_id)?;
        let mut base = json!({"chat_id": chat});
        // Forum "General" topic (1) must be omitted on sends.
        if let Some(t) = msg.thread_id.as_deref().filter(|t| *t != "1") {
            let n: i64 = t
                .parse()
                .map_err(|_| ChannelError::BadTarget(format!("invalid thread id {t:?}")))?;
            base["message_thread_id"] = json!(n);
        }
        let mut first = base.clone();
        if let Some(r) = msg.reply_to.as_deref().and_then(|r| r.parse::<i64>().ok()) {
            first["reply_parameters"] =
                json!({"message_id": r, "allow_sending_without_reply": true});
        }
        let text = msg.text.trim();
        let caption = (!msg.media.is_empty()
            && text.chars().count() <= MAX_CAPTION_CHARS
            && !text.is_empty())
        .then_some(text);
        // Every local file is checked and read before anything is sent: a refused path must not
        // leave half a message in the chat.
        let mut local = Vec::with_capacity(msg.media.len());
        for m in &msg.media {
            local.push(if crate::is_url(&m.source) {
                None
            } else {
                Some(
                    crate::load_media(&m.source, &msg.local_roots, self.cfg.media_max_bytes())
                        .await?,
                )
            });
        }
        let mut ids = Vec::new();
        if caption.is_none() {
            let limit = self.cfg.text_chunk_limit.clamp(1, MAX_MESSAGE_CHARS);
            for (i, chunk) in chunk_text(text, limit).iter().enumerate() {
                ids.push(
                    self.send_chunk(if i == 0 { &first } else { &base }, chunk)
                        .await?,
                );
            }
        }
        for (i, (m, loaded)) in msg.media.iter().zip(local).enumerate() {
            let b = if i == 0 && ids.is_empty() {
                &first
            } else {
                &base
            };
            ids.push(
                self.send_media(b, m, loaded, if i == 0 { caption } else { None })
                    .await?,
            );
        }
        if ids.is_empty() {
            return Err(ChannelError::Other("text or media is required".into()));
        }
        self.with_status(|s| s.last_outbound_at = Some(now_ms()));
        Ok(SentRef {
            chat_id: msg.chat_id,
            message_ids: ids,
        })
    }

    async fn typing(&self, chat_id: &str, thread_id: Option<&str>) -> Result<(), ChannelError> {
        let mut body = json!({"chat_id": chat_value(chat_id)?, "action": "typing"});
        if let Some(t) = thread_id.and_then(|t| t.parse::<i64>().ok()) {
            body["message_thread_id"] = json!(t);
        }
        self.api
            .call("sendChatAction", &body, Duration::from_secs(15))
            .await
            .map(|_| ())
    }

    fn status(&self) -> ChannelStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Telegram has no session to clear here: the gateway stops the account (and, with
    /// `configWrites`, may remove the token from config). Always `Ok(false)`.
    async fn logout(&self) -> Result<bool, ChannelError> {
        Ok(false)
    }

    async fn probe(&self, timeout: Duration) -> Value {
        let started = std::time::Instant::now();
        match self.api.call("getMe", &json!({}), timeout).await {
            Ok(me) => json!({
                "ok": true,
                "elapsedMs": started.elapsed().as_millis() as u64,
                "bot": {"id": me.get("id"), "username": me.get("username")},
            }),
            Err(e) => json!({
                "ok": false,
                "elapsedMs": started.elapsed().as_millis() as u64,
                "error": e.to_string(),
            }),
        }
    }

    fn parse_target(&self, target: &str) -> Result<(String, Option<String>), ChannelError> {
        parse_target(target)
    }

    /// `getFile` then a streamed download under the cap. Runs on the gateway's download task,
    /// never on the poll loop.
    async fn download(
        &self,
        media: &PendingMedia,
        dest: &Path,
        max: u64,
    ) -> Result<u64, ChannelError> {
        if let Some(size) = media.declared_size.filter(|s| *s > max) {
            return Err(ChannelError::TooLarge(format!(
                "{size} bytes exceeds mediaMaxMb ({max} bytes)"
            )));
        }
        let info = self
            .api
            .call(
                "getFile",
                &json!({"file_id": media.reference}),
                Duration::from_secs(30),
            )
            .await?;
        let path = info
            .get("file_path")
            .and_then(Value::as_str)
            .ok_or_else(|| ChannelError::Api("getFile returned no file_path".into()))?;
        self.api.download(path, dest, max).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_or_are_refused() {
        assert_eq!(parse_target("123").unwrap(), ("123".into(), None));
        assert_eq!(parse_target("telegram:123").unwrap(), ("123".into(), None));
        assert_eq!(
            parse_target("TG:-1001234567890").unwrap(),
            ("-1001234567890".into(), None)
        );
        assert_eq!(
            parse_target("-1001234567890:topic:42").unwrap(),
            ("-1001234567890".into(), Some("42".into()))
        );
        assert_eq!(
            parse_target("@my_channel").unwrap(),
            ("@my_channel".into(), None)
        );
        for bad in [
            "",
            "abc",
            "@x",
            "+15551234567",
            "123:topic:",
            "123:topic:x",
            "0",
            "1@s.whatsapp.net",
        ] {
            assert!(
                matches!(parse_target(bad), Err(ChannelError::BadTarget(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn photo_detection() {
        let m = |s: &str, mime: Option<&str>| OutboundMedia {
            source: s.into(),
            mime: mime.map(String::from),
        };
        assert!(is_photo(&m("/tmp/a.JPG", None)));
        assert!(is_photo(&m("https://x/a.png?x=1", None)));
        assert!(!is_photo(&m("/tmp/a.pdf", None)));
        assert!(!is_photo(&m("/tmp/a", Some("image/gif"))));
        assert!(is_photo(&m("/tmp/a", Some("image/jpeg"))));
    }
}
