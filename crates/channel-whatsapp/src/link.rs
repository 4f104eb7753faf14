//! The connection seam: a `Link` (the real whatsapp-rust socket, or a fake in tests) and
//! `run_link`, which owns reconnect-with-backoff (channels.md §3.5), the liveness watchdog
//! (§3.6), logged-out handling and status, independent of the library.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use openclaw_channels::{
    Backoff, CancelToken, CappedFile, ChannelError, ChannelStatus, Inbound, InboundMessage,
    PendingMedia, now_ms,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What a connected link reports.
#[derive(Debug)]
pub enum LinkEvent {
    Connected {
        self_jid: Option<String>,
    },
    /// Any sign of life (receipts, presence, pings, history sync …).
    Activity,
    /// An inbound message, plus its attachment when it carries one (remembered by `run_link`
    /// and fetched only if the gateway asks, i.e. after access control).
    Message(Box<InboundMessage>, Option<MediaRef>),
    Qr(String),
    /// The phone unlinked this device: stop, do not retry.
    LoggedOut(String),
    /// Another client took over the session (440 / stream replaced).
    Replaced,
    Disconnected(String),
}

/// An inbound attachment the link can fetch on demand. `handle` is the link's own reference
/// (the real link keeps the library's media message part); the rest is plain metadata.
#[derive(Clone)]
pub struct MediaRef {
    /// `image` | `video` | `audio` | `document` | `sticker`.
    pub kind: String,
    pub mime: Option<String>,
    pub file_name: Option<String>,
    /// Size the sender declared (checked against `mediaMaxMb` before downloading).
    pub declared_size: Option<u64>,
    pub handle: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for MediaRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaRef")
            .field("kind", &self.kind)
            .field("mime", &self.mime)
            .field("declared_size", &self.declared_size)
            .finish_non_exhaustive()
    }
}

/// One outbound attachment, already loaded and size-checked by the driver.
#[derive(Debug, Clone)]
pub struct OutgoingMedia {
    /// `image` | `video` | `audio` | `document`.
    pub kind: &'static str,
    pub bytes: Vec<u8>,
    pub mime: String,
    pub file_name: String,
    pub caption: Option<String>,
}

/// How large attachments may be (`mediaMaxMb`), how long a download may take, and the
/// attachments announced recently (their library handles live only in memory).
#[derive(Debug, Clone)]
pub struct MediaPolicy {
    pub max_bytes: u64,
    pub download_timeout: Duration,
    pub refs: MediaRefs,
}

impl Default for MediaPolicy {
    fn default() -> Self {
        MediaPolicy {
            max_bytes: 50 * 1024 * 1024,
            download_timeout: Duration::from_secs(120),
            refs: MediaRefs::default(),
        }
    }
}

/// Announced attachments by message id, the newest [`MediaRefs::MAX`] only (bounded memory; an
/// older one, or one from before a restart, is reported as no longer available).
#[derive(Debug, Clone, Default)]
pub struct MediaRefs(Arc<Mutex<VecDeque<(String, MediaRef)>>>);

impl MediaRefs {
    pub const MAX: usize = 256;

    fn remember(&self, key: String, media: MediaRef) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.retain(|(k, _)| *k != key);
        q.push_back((key, media));
        while q.len() > Self::MAX {
            q.pop_front();
        }
    }

    pub fn get(&self, key: &str) -> Option<MediaRef> {
        let q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.iter().find(|(k, _)| k == key).map(|(_, m)| m.clone())
    }
}

/// A WhatsApp Web connection that can be opened repeatedly.
#[async_trait]
pub trait Link: Send + Sync {
    /// Opens a connection. Events arrive on the receiver; it closing means "disconnected".
    async fn connect(&self) -> Result<mpsc::Receiver<LinkEvent>, ChannelError>;
    /// Tears the current connection down (watchdog, shutdown).
    async fn disconnect(&self);
    /// Sends one text message to a JID on the current connection; returns the message id.
    async fn send_text(&self, jid: &str, text: &str) -> Result<String, ChannelError>;
    /// Uploads one attachment and sends it (with its caption) to a JID; returns the message id.
    async fn send_media(&self, jid: &str, media: OutgoingMedia) -> Result<String, ChannelError>;
    /// Downloads and decrypts an inbound attachment announced in `LinkEvent::Message`,
    /// streaming into `out` (which refuses writes past the cap); hands it back unfinished.
    async fn download(&self, media: &MediaRef, out: CappedFile)
    -> Result<CappedFile, ChannelError>;
    /// Chat state `composing` for a JID.
    async fn composing(&self, jid: &str) -> Result<(), ChannelError>;
    /// Unlinks the device (if connected) and deletes the local session store.
    async fn logout(&self) -> Result<bool, ChannelError>;
}

/// `web.reconnect` (§3.5) and the watchdog window.
#[derive(Debug, Clone)]
pub struct ReconnectPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub factor: f64,
    pub jitter: f64,
    /// Consecutive failures before giving up (0 = unlimited).
    pub max_attempts: u32,
    /// No event at all for this long on an "open" socket ⇒ force a reconnect.
    pub watchdog: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial: Duration::from_millis(2000),
            max: Duration::from_millis(30_000),
            factor: 1.8,
            jitter: 0.25,
            max_attempts: 12,
            watchdog: Duration::from_secs(30 * 60),
        }
    }
}

impl ReconnectPolicy {
    /// Reads `web.reconnect` / `web.watchdogMinutes`-style values with the spec's clamps.
    pub fn from_json(v: Option<&serde_json::Value>) -> ReconnectPolicy {
        let mut p = ReconnectPolicy::default();
        let Some(v) = v else { return p };
        let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
        if let Some(x) = num("initialMs") {
            p.initial = Duration::from_millis(x.max(250.0) as u64);
        }
        if let Some(x) = num("maxMs") {
            p.max = Duration::from_millis(x as u64).max(p.initial);
        }
        if let Some(x) = num("factor") {
            p.factor = x.clamp(1.1, 10.0);
        }
        if let Some(x) = num("jitter") {
            p.jitter = x.clamp(0.0, 1.0);
        }
        if let Some(x) = num("maxAttempts") {
            p.max_attempts = x.max(0.0) as u32;
        }
        p
    }
}

/// Liveness: stale when nothing was seen for `timeout`.
#[derive(Debug, Clone)]
pub struct Watchdog {
    timeout: Duration,
    last: Instant,
}

impl Watchdog {
    pub fn new(timeout: Duration, now: Instant) -> Watchdog {
        Watchdog { timeout, last: now }
    }
    pub fn touch(&mut self, now: Instant) {
        self.last = now;
    }
    pub fn is_stale(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) >= self.timeout
    }
    pub fn deadline(&self) -> Instant {
        self.last + self.timeout
    }
}

/// Shared status of one WhatsApp account.
pub type StatusCell = Arc<Mutex<ChannelStatus>>;

pub(crate) fn update(status: &StatusCell, f: impl FnOnce(&mut ChannelStatus)) {
    f(&mut status.lock().unwrap_or_else(|p| p.into_inner()));
}

fn record_error(status: &StatusCell, msg: &str) {
    tracing::warn!(channel = "whatsapp", error = %msg, "whatsapp connection problem");
    update(status, |s| {
        s.last_error = Some(msg.to_string());
        s.last_error_at = Some(now_ms());
    });
}

/// Keeps `link` connected until `cancel`: reconnects with backoff, forces a reconnect when the
/// watchdog fires, stops with `NotLinked` on logout and with `Unavailable` after
/// `max_attempts` consecutive failures. Inbound messages go to `sink` (WhatsApp has no cursor,
/// so acks are not awaited).
pub async fn run_link(
    link: &dyn Link,
    sink: &mpsc::Sender<Inbound>,
    cancel: &CancelToken,
    policy: &ReconnectPolicy,
    media: &MediaPolicy,
    status: &StatusCell,
) -> Result<(), ChannelError> {
    let mut backoff = Backoff::new(policy.initial, policy.max, policy.factor, policy.jitter);
    update(status, |s| s.running = true);
    let result = loop {
        if cancel.is_cancelled() {
            break Ok(());
        }
        let events = tokio::select! {
            r = link.connect() => r,
            _ = cancel.cancelled() => break Ok(()),
        };
        let outcome = match events {
            Ok(rx) => {
                let ctx = SessionCtx {
                    link,
                    sink,
                    cancel,
                    policy,
                    media,
                    status,
                };
                session(&ctx, rx, &mut backoff).await
            }
            Err(e) => Session::Failed(e.to_string()),
        };
        update(status, |s| s.connected = false);
        match outcome {
            Session::Cancelled => {
                link.disconnect().await;
                break Ok(());
            }
            Session::LoggedOut(m) => {
                update(status, |s| s.linked = false);
                record_error(status, &m);
                break Err(ChannelError::NotLinked(m));
            }
            Session::Failed(m) => record_error(status, &m),
        }
        if policy.max_attempts > 0 && backoff.attempts() >= policy.max_attempts {
            break Err(ChannelError::Unavailable(format!(
                "gave up after {} reconnect attempts",
                policy.max_attempts
            )));
        }
        let delay = backoff.next_delay();
        update(status, |s| s.reconnects += 1);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.cancelled() => break Ok(()),
        }
    };
    update(status, |s| {
        s.running = false;
        s.connected = false;
    });
    result
}

enum Session {
    Cancelled,
    LoggedOut(String),
    Failed(String),
}

struct SessionCtx<'a> {
    link: &'a dyn Link,
    sink: &'a mpsc::Sender<Inbound>,
    cancel: &'a CancelToken,
    policy: &'a ReconnectPolicy,
    media: &'a MediaPolicy,
    status: &'a StatusCell,
}

async fn session(
    ctx: &SessionCtx<'_>,
    mut rx: mpsc::Receiver<LinkEvent>,
    backoff: &mut Backoff,
) -> Session {
    let SessionCtx {
        link,
        sink,
        cancel,
        policy,
        status,
        ..
    } = *ctx;
    let mut dog = Watchdog::new(policy.watchdog, Instant::now());
    loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            _ = tokio::time::sleep_until(dog.deadline()) => {
                if dog.is_stale(Instant::now()) {
                    link.disconnect().await;
                    return Session::Failed(format!(
                        "watchdog: no activity for {}s; reconnecting",
                        policy.watchdog.as_secs()
                    ));
                }
                continue;
            }
            _ = cancel.cancelled() => return Session::Cancelled,
        };
        dog.touch(Instant::now());
        match ev {
            None => return Session::Failed("connection closed".into()),
            Some(LinkEvent::Connected { self_jid }) => {
                backoff.reset();
                update(status, |s| {
                    s.connected = true;
                    s.linked = true;
                    if self_jid.is_some() {
                        s.bot_username = self_jid;
                    }
                });
            }
            Some(LinkEvent::Activity) | Some(LinkEvent::Qr(_)) => {}
            Some(LinkEvent::Message(m, attachment)) => {
                let mut m = *m;
                if let Some(a) = attachment {
                    announce_media(ctx.media, &mut m, a);
                }
                let (item, _ack) = Inbound::new(m);
                tokio::select! {
                    r = sink.send(item) => if r.is_err() {
                        return Session::Failed("inbound sink closed".into());
                    },
                    _ = cancel.cancelled() => return Session::Cancelled,
                }
                update(status, |s| s.last_inbound_at = Some(now_ms()));
            }
            Some(LinkEvent::LoggedOut(m)) => {
                return Session::LoggedOut(format!(
                    "logged out by the phone ({m}); run `openclaw channels login --channel whatsapp` to re-link"
                ));
            }
            Some(LinkEvent::Replaced) => {
                return Session::Failed(
                    "session replaced: another client is using this WhatsApp account".into(),
                );
            }
            Some(LinkEvent::Disconnected(m)) => {
                return Session::Failed(format!("disconnected: {m}"));
            }
        }
    }
}

/// Remembers an attachment's handle and lists it on the message as pending: nothing is
/// downloaded here (the gateway asks for it after access control, see `WhatsAppDriver`).
fn announce_media(policy: &MediaPolicy, m: &mut InboundMessage, a: MediaRef) {
    let key = format!("{}\u{1f}{}", m.chat_id, m.message_id);
    m.media.push(PendingMedia {
        kind: a.kind.clone(),
        mime: a.mime.clone(),
        file_name: media_file_name(&m.account_id, &m.message_id, &a),
        declared_size: a.declared_size,
        reference: key.clone(),
    });
    policy.refs.remember(key, a);
}

/// `wa-<account>-<messageId>.<ext>`, restricted to a safe character set (no path traversal).
fn media_file_name(account: &str, message_id: &str, a: &MediaRef) -> String {
    let safe = |s: &str, n: usize| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .take(n)
            .collect()
    };
    let ext = a
        .file_name
        .as_deref()
        .and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_string()))
        .or_else(|| {
            a.mime.as_deref().map(|m| {
                match m.split(';').next().unwrap_or("").trim() {
                    "image/jpeg" => "jpg",
                    "image/png" => "png",
                    "image/webp" => "webp",
                    "video/mp4" => "mp4",
                    "audio/ogg" => "ogg",
                    "audio/mpeg" => "mp3",
                    "application/pdf" => "pdf",
                    _ => "bin",
                }
                .to_string()
            })
        })
        .unwrap_or_else(|| "bin".into());
    format!(
        "wa-{}-{}.{}",
        safe(account, 40),
        safe(message_id, 64),
        safe(&ext, 8)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_goes_stale_and_touch_resets() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(Duration::from_secs(60), t0);
        assert!(!w.is_stale(t0 + Duration::from_secs(59)));
        assert!(w.is_stale(t0 + Duration::from_secs(60)));
        w.touch(t0 + Duration::from_secs(50));
        assert!(!w.is_stale(t0 + Duration::from_secs(100)));
        assert_eq!(w.deadline(), t0 + Duration::from_secs(110));
    }

    #[test]
    fn policy_clamps_like_the_reference() {
        let p = ReconnectPolicy::from_json(Some(
            &serde_json::json!({"initialMs": 10, "maxMs": 5, "factor": 50, "jitter": 2}),
        ));
        assert_eq!(p.initial, Duration::from_millis(250));
        assert_eq!(p.max, Duration::from_millis(250));
        assert_eq!(p.factor, 10.0);
        assert_eq!(p.jitter, 1.0);
        assert_eq!(p.max_attempts, 12);
    }
}
