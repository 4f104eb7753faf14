//! The channel seam: the value types every driver speaks and the `ChannelDriver` trait the
//! gateway programs against, so Telegram, WhatsApp and test fakes are interchangeable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// Cancellation flows from one place (the gateway's shutdown token) into every driver.
pub use tokio_util::sync::CancellationToken as CancelToken;

/// Kind of conversation an inbound message came from (channels.md §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatType {
    Direct,
    Group,
    Channel,
}

/// A normalised inbound message (the envelope of channels.md §1.2).
#[derive(Debug, Clone)]
pub struct InboundMessage {
    /// `"telegram"` | `"whatsapp"` | …
    pub channel: String,
    pub account_id: String,
    /// Telegram chat id (`"123"`, `"-100…"`); WhatsApp E.164 for DMs, `…@g.us` for groups.
    pub chat_id: String,
    pub chat_type: ChatType,
    /// Telegram forum topic id.
    pub thread_id: Option<String>,
    /// Telegram numeric user id; WhatsApp E.164.
    pub sender_id: String,
    pub sender_name: Option<String>,
    pub sender_username: Option<String>,
    pub message_id: String,
    /// Body text (caption for media); media placeholders / notes are appended by the driver.
    pub text: String,
    /// Native mention of the bot (TG `@bot` entity, WA mention of own JID).
    pub mentioned: bool,
    /// The message replies to one of the bot's messages (implicit mention).
    pub reply_to_bot: bool,
    /// Attachments as announced, **not downloaded**: the gateway fetches them with
    /// [`ChannelDriver::download`] only once access control has let the sender in, so a
    /// stranger's upload never touches the disk.
    pub media: Vec<PendingMedia>,
    pub timestamp_ms: u64,
}

/// An inbound attachment the sender announced. Serializable: it is part of the durable inbox
/// entry, so a crash between acknowledgement and download still gets the file on replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingMedia {
    /// `image` | `document` | `audio` | `video` | `sticker`.
    pub kind: String,
    pub mime: Option<String>,
    /// Name to store it under in `$STATE_DIR/media/inbound/` (safe characters only).
    pub file_name: String,
    /// The sender's claim: a quick early refusal, never a guarantee.
    pub declared_size: Option<u64>,
    /// The driver's own handle (Telegram `file_id`, WhatsApp message id).
    pub reference: String,
}

/// A downloaded inbound attachment, stored under `$STATE_DIR/media/inbound/` (0600).
#[derive(Debug, Clone)]
pub struct MediaFile {
    pub path: PathBuf,
    pub mime: Option<String>,
    pub size: u64,
}

/// A reply or `send` request for one chat.
#[derive(Debug, Clone, Default)]
pub struct OutboundMessage {
    pub chat_id: String,
    pub thread_id: Option<String>,
    pub text: String,
    pub media: Vec<OutboundMedia>,
    /// Message id to reply to (Telegram only; ignored on WhatsApp).
    pub reply_to: Option<String>,
    /// Directories local media paths must be under (the sender's workspace, `<state>/media`,
    /// `mediaLocalRoots`). Empty: no local file may be sent.
    pub local_roots: Vec<PathBuf>,
}

impl OutboundMessage {
    /// Plain `text` to `chat_id`, nothing else.
    pub fn text(chat_id: impl Into<String>, text: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            chat_id: chat_id.into(),
            text: text.into(),
            ..Default::default()
        }
    }
}

/// One outbound attachment.
#[derive(Debug, Clone)]
pub struct OutboundMedia {
    /// Local path or http(s) URL.
    pub source: String,
    pub mime: Option<String>,
}

/// What a successful send produced: the chat and every message id (one per chunk / media item).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentRef {
    pub chat_id: String,
    pub message_ids: Vec<String>,
}

/// One inbound message plus its acknowledgement.
///
/// Contract: the consumer calls `ack.send(())` once the message is durably handed over (enqueued
/// into the session lane / agent run started). Only then does the driver advance its cursor (the
/// Telegram offset file). **Dropping `ack` without sending counts as "not processed"**: the driver
/// stops delivering, does not persist the cursor, and the update is re-delivered on the next
/// poll/restart. So a crash anywhere before `ack` re-delivers; nothing is lost.
#[derive(Debug)]
pub struct Inbound {
    pub message: InboundMessage,
    pub ack: oneshot::Sender<()>,
}

impl Inbound {
    /// Builds an inbound pair; the receiver tells the driver whether it was acknowledged.
    pub fn new(message: InboundMessage) -> (Inbound, oneshot::Receiver<()>) {
        let (ack, rx) = oneshot::channel();
        (Inbound { message, ack }, rx)
    }
}

/// Runtime status of one channel account (a `channels.status` account snapshot).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChannelStatus {
    pub configured: bool,
    pub linked: bool,
    pub running: bool,
    pub connected: bool,
    pub last_error: Option<String>,
    /// Unix ms.
    pub last_error_at: Option<u64>,
    pub last_inbound_at: Option<u64>,
    pub last_outbound_at: Option<u64>,
    pub reconnects: u64,
    pub bot_username: Option<String>,
    /// `"polling"` (Telegram) | `"web"` (WhatsApp).
    pub mode: Option<String>,
}

/// Everything a driver can fail with. The gateway maps `NotLinked` → `NOT_LINKED`,
/// `BadTarget`/`TooLarge`/`MediaAccess` → `INVALID_REQUEST`, everything else → `UNAVAILABLE`.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("not linked: {0}")]
    NotLinked(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("invalid target: {0}")]
    BadTarget(String),
    #[error("too large: {0}")]
    TooLarge(String),
    /// A local media path outside the allowed roots, or a URL to a non-public address.
    #[error("{0}")]
    MediaAccess(String),
    #[error("rate limited; retry after {}s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("network error: {0}")]
    Network(String),
    #[error("api error: {0}")]
    Api(String),
    #[error("io error: {0}")]
    Io(String),
    #[error("{0}")]
    Other(String),
}

impl ChannelError {
    /// Errors after which restarting the account is pointless until config/credentials change
    /// (the supervisor still retries, but at the backoff cap).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ChannelError::Unauthorized(_) | ChannelError::NotLinked(_)
        )
    }
}

impl From<std::io::Error> for ChannelError {
    fn from(e: std::io::Error) -> Self {
        ChannelError::Io(e.to_string())
    }
}

/// One channel account's transport. Implementations must be cheap to share (`Arc<dyn …>`) and
/// must never panic on remote input; a panic is still contained by [`crate::Supervised`].
#[async_trait]
pub trait ChannelDriver: Send + Sync {
    /// `"telegram"` | `"whatsapp"`.
    fn channel(&self) -> &str;
    fn account_id(&self) -> &str;
    /// Runs until `cancel` (→ `Ok(())`) or an error. Inbound messages go to `sink` (bounded; the
    /// driver awaits capacity = backpressure). See [`Inbound`] for the ack contract.
    async fn run(
        &self,
        sink: mpsc::Sender<Inbound>,
        cancel: CancelToken,
    ) -> Result<(), ChannelError>;
    /// Sends text (split to the channel's size limit, formatted safely) and media.
    async fn send(&self, msg: OutboundMessage) -> Result<SentRef, ChannelError>;
    /// One typing indicator pulse (Telegram's expires after ~5 s; callers repeat every ~4 s).
    async fn typing(&self, chat_id: &str, thread_id: Option<&str>) -> Result<(), ChannelError>;
    fn status(&self) -> ChannelStatus;
    /// Drops credentials/session (WhatsApp) or stops polling (Telegram). `Ok(true)` when
    /// something was cleared.
    async fn logout(&self) -> Result<bool, ChannelError>;
    /// Streams an attachment announced in an inbound message into `dest` (see
    /// [`crate::CappedFile`]): at most `max` bytes whatever was declared, and no file left
    /// behind on any failure. Returns the size written.
    async fn download(
        &self,
        _media: &PendingMedia,
        _dest: &Path,
        _max: u64,
    ) -> Result<u64, ChannelError> {
        Err(ChannelError::Unavailable(format!(
            "{} cannot download attachments",
            self.channel()
        )))
    }
    /// Parses a user-supplied target into `(chat_id, thread_id)`.
    fn parse_target(&self, target: &str) -> Result<(String, Option<String>), ChannelError>;
    /// A live check for `channels.status {probe:true}`: `{ok, …}` (Telegram: `getMe`). The
    /// default reports the connection state the driver already knows.
    async fn probe(&self, _timeout: Duration) -> serde_json::Value {
        let st = self.status();
        if st.connected {
            serde_json::json!({"ok": true})
        } else {
            serde_json::json!({"ok": false, "error": st.last_error.unwrap_or_else(|| "not connected".into())})
        }
    }
}

/// Current wall-clock time in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
