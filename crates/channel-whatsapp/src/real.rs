//! The live `Link` over whatsapp-rust 0.7 (feature `real`): a `Bot` per connection with a sqlite
//! session store under the account dir, library events mapped to `LinkEvent`, text sends, chat
//! state, logout; plus the QR / pairing-code `login` flow. All library generics stay in here.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use openclaw_channels::{CappedFile, ChannelError};
use tokio::sync::mpsc;
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::prelude::*;

use whatsapp_rust::download::{DownloadWriter, Downloadable, MediaType};
use whatsapp_rust::media as wa_media;
use whatsapp_rust::upload::UploadOptions;

use crate::LoginError;
use crate::link::{Link, LinkEvent, MediaRef, OutgoingMedia};
use crate::mapping::{WaInbound, to_inbound};

/// Bounded event queue between the library's event bus and `run_link`.
const EVENT_QUEUE: usize = 256;

/// `<authDir>/wa.db`, created 0600 in a 0700 directory before sqlite opens it (sqlite's
/// -wal/-shm files inherit the database file's mode).
pub fn prepare_store(auth_dir: &Path) -> Result<PathBuf, ChannelError> {
    openclaw_config::fsutil::ensure_private_dir(auth_dir)?;
    let db = auth_dir.join("wa.db");
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(&db)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(db)
}

async fn open_store(db: &Path) -> Result<SqliteStore, ChannelError> {
    let url = db
        .to_str()
        .ok_or_else(|| ChannelError::Io(format!("non-UTF-8 store path {}", db.display())))?;
    SqliteStore::new(url)
        .await
        .map_err(|e| ChannelError::Io(format!("whatsapp store {url}: {e}")))
}

fn jid(s: &str) -> Result<Jid, ChannelError> {
    s.parse::<Jid>()
        .map_err(|e| ChannelError::BadTarget(format!("invalid WhatsApp JID {s:?}: {e}")))
}

/// The library's media message part of an inbound message, kept so `download` can fetch it.
enum WaMedia {
    Image(wa::message::ImageMessage),
    Video(wa::message::VideoMessage),
    Audio(wa::message::AudioMessage),
    Document(wa::message::DocumentMessage),
    Sticker(wa::message::StickerMessage),
}

/// The first `ContextInfo` of the message's body part (mentions, quoted author).
fn context_info(base: &wa::Message) -> Option<&wa::ContextInfo> {
    base.extended_text_message
        .as_option()
        .and_then(|x| x.context_info.as_option())
        .or_else(|| {
            base.image_message
                .as_option()
                .and_then(|x| x.context_info.as_option())
        })
        .or_else(|| {
            base.video_message
                .as_option()
                .and_then(|x| x.context_info.as_option())
        })
        .or_else(|| {
            base.document_message
                .as_option()
                .and_then(|x| x.context_info.as_option())
        })
        .or_else(|| {
            base.audio_message
                .as_option()
                .and_then(|x| x.context_info.as_option())
        })
        .or_else(|| {
            base.sticker_message
                .as_option()
                .and_then(|x| x.context_info.as_option())
        })
}

/// The attachment of a message, if any, as a `MediaRef` holding the library's part.
fn media_ref(base: &wa::Message) -> Option<MediaRef> {
    let (kind, mime, file_name, size, part) = if let Some(x) = base.image_message.as_option() {
        (
            "image",
            x.mimetype.clone(),
            None,
            x.file_length,
            WaMedia::Image(x.clone()),
        )
    } else if let Some(x) = base.video_message.as_option() {
        (
            "video",
            x.mimetype.clone(),
            None,
            x.file_length,
            WaMedia::Video(x.clone()),
        )
    } else if let Some(x) = base.audio_message.as_option() {
        (
            "audio",
            x.mimetype.clone(),
            None,
            x.file_length,
            WaMedia::Audio(x.clone()),
        )
    } else if let Some(x) = base.document_message.as_option() {
        (
            "document",
            x.mimetype.clone(),
            x.file_name.clone(),
            x.file_length,
            WaMedia::Document(x.clone()),
        )
    } else if let Some(x) = base.sticker_message.as_option() {
        (
            "sticker",
            x.mimetype.clone(),
            None,
            x.file_length,
            WaMedia::Sticker(x.clone()),
        )
    } else {
        return None;
    };
    Some(MediaRef {
        kind: kind.into(),
        mime,
        file_name,
        declared_size: size,
        handle: Arc::new(part),
    })
}

/// Library message → plain fields (+ the attachment reference).
fn wa_inbound(
    account_id: &str,
    m: &wa::Message,
    info: &MessageInfo,
) -> (WaInbound, Option<MediaRef>) {
    let base = m.get_base_message();
    let media = media_ref(base);
    let ctx = context_info(base);
    let sender = info.source.sender.to_string();
    let w = WaInbound {
        account_id: account_id.to_string(),
        chat_jid: info.source.chat.to_string(),
        sender_pn_jid: if sender.ends_with("@lid") {
            info.source.sender_alt.as_ref().map(|j| j.to_string())
        } else {
            None
        },
        sender_jid: sender,
        is_group: info.source.is_group,
        from_me: info.source.is_from_me,
        id: info.id.to_string(),
        push_name: info.push_name.clone(),
        text: m
            .text_content()
            .or_else(|| m.get_caption())
            .map(String::from),
        media_kind: media.as_ref().map(|r| r.kind.clone()),
        mentions: ctx.map(|c| c.mentioned_jid.clone()).unwrap_or_default(),
        quoted_author: ctx.and_then(|c| c.participant.clone()),
        timestamp_secs: info.timestamp.timestamp(),
    };
    (w, media)
}

/// This device's own JIDs (phone number and LID), for mention detection.
fn own_jids(client: &Client) -> Vec<String> {
    [client.pn(), client.lid()]
        .into_iter()
        .flatten()
        .map(|j| j.to_string())
        .collect()
}

/// Library event → what the login flow does with it: show a QR / pairing code, or finish.
pub fn login_prompt(event: &Event) -> Option<LoginStep> {
    match event {
        Event::PairingQrCode(q) => Some(LoginStep::Show(LoginPrompt::Qr(q.code.clone()))),
        Event::PairingCode(c) => Some(LoginStep::Show(LoginPrompt::PairCode(c.code.clone()))),
        // Pairing succeeded once the socket reconnects as the new device.
        Event::Connected(_) => Some(LoginStep::Done(Ok(()))),
        Event::PairError(e) => Some(LoginStep::Done(Err(LoginError::Pairing(
            e.error.to_string(),
        )))),
        Event::PairingQrCodesExhausted(_) => {
            Some(LoginStep::Done(Err(LoginError::QrCodesExhausted)))
        }
        Event::LoggedOut(_) => Some(LoginStep::Done(Err(LoginError::LoggedOut))),
        _ => None,
    }
}

/// One step of the login flow.
#[derive(Debug, Clone)]
pub enum LoginStep {
    Show(LoginPrompt),
    Done(Result<(), LoginError>),
}

/// The real connection for one account.
pub struct RealLink {
    account_id: String,
    auth_dir: PathBuf,
    handle: tokio::sync::Mutex<Option<BotHandle>>,
    client: Mutex<Option<Arc<Client>>>,
}

impl RealLink {
    pub fn new(account_id: &str, auth_dir: PathBuf) -> RealLink {
        RealLink {
            account_id: account_id.to_string(),
            auth_dir,
            handle: tokio::sync::Mutex::new(None),
            client: Mutex::new(None),
        }
    }

    fn client(&self) -> Result<Arc<Client>, ChannelError> {
        self.client
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| ChannelError::Unavailable("No active WhatsApp Web listener".into()))
    }
}

#[async_trait]
impl Link for RealLink {
    async fn connect(&self) -> Result<mpsc::Receiver<LinkEvent>, ChannelError> {
        // Never two sockets for one account: stop the previous bot first.
        self.disconnect().await;
        let db = prepare_store(&self.auth_dir)?;
        let store = open_store(&db).await?;
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let account = self.account_id.clone();
        let bot = Bot::builder()
            .with_backend(store)
            .skip_history_sync()
            .on_event(move |event, client| {
                let tx = tx.clone();
                let account = account.clone();
                let mut out = Vec::new();
                match &*event {
                    Event::Connected(_) => out.push(LinkEvent::Connected {
                        self_jid: client.pn().map(|j| j.to_string()),
                    }),
                    Event::Messages(_) => {
                        let me = own_jids(&client);
                        for m in event.messages() {
                            let (w, media) = wa_inbound(&account, &m.message, &m.info);
                            match to_inbound(&w, &me) {
                                Some(msg) => out.push(LinkEvent::Message(Box::new(msg), media)),
                                None => out.push(LinkEvent::Activity),
                            }
                        }
                    }
                    Event::PairingQrCode(qr) => out.push(LinkEvent::Qr(qr.code.clone())),
                    Event::LoggedOut(_) => out.push(LinkEvent::LoggedOut("device unlinked".into())),
                    Event::StreamReplaced(_) => out.push(LinkEvent::Replaced),
                    Event::Disconnected(_) => {
                        out.push(LinkEvent::Disconnected("socket closed".into()))
                    }
                    _ => out.push(LinkEvent::Activity),
                }
                drop(client);
                async move {
                    for ev in out {
                        // Bounded: a stalled consumer applies backpressure to the library.
                        if tx.send(ev).await.is_err() {
                            break;
                        }
                    }
                }
            })
            .build()
            .await
            .map_err(|e| ChannelError::Network(format!("whatsapp: {e}")))?;
        let handle = bot.spawn();
        *self.client.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle.client());
        *self.handle.lock().await = Some(handle);
        Ok(rx)
    }

    async fn disconnect(&self) {
        self.client.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = self.handle.lock().await.take() {
            // Bounded: a wedged socket must not wedge the reconnect loop.
            let abort = tokio::time::timeout(Duration::from_secs(10), h.shutdown()).await;
            if abort.is_err() {
                tracing::warn!("whatsapp shutdown timed out");
            }
        }
    }

    async fn send_text(&self, to: &str, text: &str) -> Result<String, ChannelError> {
        let client = self.client()?;
        let r = client
            .send_message(jid(to)?, wa::Message::text(text))
            .await
            .map_err(|e| ChannelError::Network(format!("whatsapp send: {e}")))?;
        Ok(r.message_id)
    }

    async fn send_media(&self, to: &str, media: OutgoingMedia) -> Result<String, ChannelError> {
        let client = self.client()?;
        let kind = match media.kind {
            "image" => MediaType::Image,
            "video" => MediaType::Video,
            "audio" => MediaType::Audio,
            _ => MediaType::Document,
        };
        let up = client
            .upload(media.bytes, kind, UploadOptions::default())
            .await
            .map_err(|e| ChannelError::Network(format!("whatsapp upload: {e}")))?;
        let mime = Some(media.mime);
        let msg = match media.kind {
            "image" => wa_media::image_message(
                up,
                wa_media::ImageOptions {
                    caption: media.caption,
                    mimetype: mime,
                    ..Default::default()
                },
            ),
            "video" => wa_media::video_message(
                up,
                wa_media::VideoOptions {
                    caption: media.caption,
                    mimetype: mime,
                    ..Default::default()
                },
            ),
            "audio" => wa_media::audio_message(
                up,
                wa_media::AudioOptions {
                    mimetype: mime,
                    ..Default::default()
                },
            ),
            _ => wa_media::document_message(
                up,
                wa_media::DocumentOptions {
                    caption: media.caption,
                    mimetype: mime,
                    file_name: Some(media.file_name.clone()),
                    title: Some(media.file_name),
                    ..Default::default()
                },
            ),
        };
        let r = client
            .send_message(jid(to)?, msg)
            .await
            .map_err(|e| ChannelError::Network(format!("whatsapp send: {e}")))?;
        Ok(r.message_id)
    }

    async fn download(
        &self,
        media: &MediaRef,
        out: CappedFile,
    ) -> Result<CappedFile, ChannelError> {
        let client = self.client()?;
        let part = media
            .handle
            .downcast_ref::<WaMedia>()
            .ok_or_else(|| ChannelError::Other("not a WhatsApp media reference".into()))?;
        let d: &dyn Downloadable = match part {
            WaMedia::Image(x) => x,
            WaMedia::Video(x) => x,
            WaMedia::Audio(x) => x,
            WaMedia::Document(x) => x,
            WaMedia::Sticker(x) => x,
        };
        // Streamed and decrypted into the capped file (constant memory); on failure the
        // library drops the writer, which deletes the partial file.
        client
            .download_to_writer(d, Sink(out))
            .await
            .map(|s| s.0)
            .map_err(|e| {
                let msg = format!("{e:#}");
                if msg.contains("mediaMaxMb") {
                    ChannelError::TooLarge(format!("whatsapp download: {msg}"))
                } else {
                    ChannelError::Network(format!("whatsapp download: {msg}"))
                }
            })
    }

    async fn composing(&self, to: &str) -> Result<(), ChannelError> {
        let client = self.client()?;
        client
            .chatstate()
            .send_composing(&jid(to)?)
            .await
            .map_err(|e| ChannelError::Network(format!("whatsapp chat state: {e}")))
    }

    async fn logout(&self) -> Result<bool, ChannelError> {
        if let Ok(client) = self.client() {
            client.logout().await;
        }
        self.disconnect().await;
        let mut cleared = false;
        for name in ["wa.db", "wa.db-wal", "wa.db-shm", crate::LINK_MARKER] {
            if std::fs::remove_file(self.auth_dir.join(name)).is_ok() {
                cleared = true;
            }
        }
        Ok(cleared)
    }
}

/// What `login` shows the user.
#[derive(Debug, Clone)]
pub enum LoginPrompt {
    /// Raw QR payload (render with [`crate::render_qr`]); rotates every ~20–60 s.
    Qr(String),
    /// 8-character code for "Link with phone number instead".
    PairCode(String),
}

/// Links a new device: emits QR payloads (and a pairing code when `phone` is given, digits
/// only) through `prompt` until the phone confirms and the socket reports connected, or
/// `timeout` passes. Holds the account lock, so it refuses while the gateway owns the account.
pub async fn login(
    auth_dir: &Path,
    phone: Option<String>,
    timeout: Duration,
    prompt: Arc<dyn Fn(LoginPrompt) + Send + Sync>,
) -> Result<(), ChannelError> {
    let _lock = crate::lock::AccountLock::acquire(auth_dir)?;
    let db = prepare_store(auth_dir)?;
    let store = open_store(&db).await?;
    let (done_tx, mut done_rx) = mpsc::channel::<Result<(), LoginError>>(4);
    let mut builder = Bot::builder()
        .with_backend(store)
        .on_event(move |event, _client| {
            let step = login_prompt(&event);
            let (prompt, done) = (prompt.clone(), done_tx.clone());
            async move {
                match step {
                    Some(LoginStep::Show(p)) => prompt(p),
                    Some(LoginStep::Done(r)) => {
                        let _ = done.send(r).await;
                    }
                    None => {}
                }
            }
        });
    if let Some(phone) = phone {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        builder = builder.with_pair_code(PairCodeOptions {
            phone_number: digits,
            ..Default::default()
        });
    }
    let bot = builder
        .build()
        .await
        .map_err(|e| ChannelError::Network(format!("whatsapp: {e}")))?;
    let handle = bot.spawn();
    let result = tokio::time::timeout(timeout, done_rx.recv()).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), handle.shutdown()).await;
    match result {
        Ok(Some(Ok(()))) => {
            let marker = auth_dir.join(crate::LINK_MARKER);
            let stamp = format!("{{\"linkedAt\":{}}}\n", openclaw_channels::now_ms());
            openclaw_config::fsutil::write_atomic(&marker, stamp.as_bytes())?;
            Ok(())
        }
        Ok(Some(Err(e))) => Err(ChannelError::NotLinked(e.to_string())),
        Ok(None) => Err(ChannelError::Other("login ended unexpectedly".into())),
        Err(_) => Err(ChannelError::Unavailable(format!(
            "no phone confirmed the link within {}s",
            timeout.as_secs()
        ))),
    }
}

/// The library's writer contract over our capped file (a local type: both are foreign).
struct Sink(CappedFile);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl std::io::Seek for Sink {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.seek(to)
    }
}

impl DownloadWriter for Sink {
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.0.truncate(len)
    }
}
