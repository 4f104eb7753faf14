//! `WhatsAppDriver`: the `ChannelDriver` for one WhatsApp account over any `Link` — holds the
//! per-account host lock while running, keeps the link up via `run_link`, chunks outbound text.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use openclaw_channels::{
    AccountConfig, CancelToken, CappedFile, ChannelDriver, ChannelError, ChannelStatus, Inbound,
    OutboundMessage, PendingMedia, SentRef, chunk_text, load_media, now_ms,
};
use tokio::sync::mpsc;

use crate::link::{
    Link, MediaPolicy, OutgoingMedia, ReconnectPolicy, StatusCell, run_link, update,
};
use crate::lock::AccountLock;
use crate::mapping::{chat_id_to_jid, parse_target};

/// Longest caption sent with an attachment; longer text goes as separate messages.
const MAX_CAPTION_CHARS: usize = 1024;

/// Attachment kind from a MIME type (GIFs go as documents: WhatsApp wants them as MP4).
fn media_kind(mime: &str) -> &'static str {
    let m = mime.to_ascii_lowercase();
    if m.starts_with("image/") && m != "image/gif" {
        "image"
    } else if m.starts_with("video/") {
        "video"
    } else if m.starts_with("audio/") {
        "audio"
    } else {
        "document"
    }
}

/// One WhatsApp account.
pub struct WhatsAppDriver {
    account_id: String,
    text_chunk_limit: usize,
    link: Arc<dyn Link>,
    policy: ReconnectPolicy,
    media: MediaPolicy,
    /// Directory whose `.lock` must be held while connected (`None` in tests without a disk).
    lock_dir: Option<PathBuf>,
    /// File whose presence means "linked" (written by `channels login`); while it is missing the
    /// driver never connects (no pairing attempts, no reconnect storm) and only watches for it.
    link_marker: Option<PathBuf>,
    status: StatusCell,
}

/// How often an unlinked account checks whether `channels login` has linked it.
const LINK_POLL: std::time::Duration = std::time::Duration::from_secs(2);

impl WhatsAppDriver {
    pub fn new(
        cfg: &AccountConfig,
        link: Arc<dyn Link>,
        policy: ReconnectPolicy,
        lock_dir: Option<PathBuf>,
        linked: bool,
    ) -> WhatsAppDriver {
        WhatsAppDriver {
            account_id: cfg.account_id.clone(),
            text_chunk_limit: cfg.text_chunk_limit.max(1),
            link,
            policy,
            media: MediaPolicy {
                max_bytes: cfg.media_max_bytes(),
                ..MediaPolicy::default()
            },
            lock_dir,
            link_marker: None,
            status: Arc::new(Mutex::new(ChannelStatus {
                configured: true,
                linked,
                mode: Some("web".into()),
                ..Default::default()
            })),
        }
    }

    /// Connects only while `marker` exists (see the field docs).
    pub fn with_link_marker(mut self, marker: PathBuf) -> WhatsAppDriver {
        self.link_marker = Some(marker);
        self
    }

    /// Waits (without the account lock, so `channels login` can run) until the link marker
    /// exists. `false` when cancelled first.
    async fn wait_until_linked(&self, cancel: &CancelToken) -> bool {
        let Some(marker) = &self.link_marker else {
            return true;
        };
        let mut reported = false;
        while !marker.exists() {
            if !reported {
                reported = true;
                tracing::info!(channel = "whatsapp", account = %self.account_id, "not linked; waiting for `openclaw channels login --channel whatsapp`");
                update(&self.status, |s| {
                    s.linked = false;
                    s.running = true;
                    s.connected = false;
                    s.last_error =
                        Some("not linked: run `openclaw channels login --channel whatsapp`".into());
                    s.last_error_at = Some(now_ms());
                });
            }
            tokio::select! {
                _ = tokio::time::sleep(LINK_POLL) => {}
                _ = cancel.cancelled() => return false,
            }
        }
        if reported {
            update(&self.status, |s| s.linked = true);
        }
        true
    }

    fn snapshot(&self) -> ChannelStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait]
impl ChannelDriver for WhatsAppDriver {
    fn channel(&self) -> &str {
        "whatsapp"
    }

    fn account_id(&self) -> &str {
        &self.account_id
    }

    async fn run(
        &self,
        sink: mpsc::Sender<Inbound>,
        cancel: CancelToken,
    ) -> Result<(), ChannelError> {
        if !self.wait_until_linked(&cancel).await {
            update(&self.status, |s| s.running = false);
            return Ok(());
        }
        let _lock = match &self.lock_dir {
            Some(dir) => Some(AccountLock::acquire(dir).inspect_err(|e| {
                update(&self.status, |s| {
                    s.last_error = Some(e.to_string());
                    s.last_error_at = Some(now_ms());
                })
            })?),
            None => None,
        };
        let r = run_link(
            self.link.as_ref(),
            &sink,
            &cancel,
            &self.policy,
            &self.media,
            &self.status,
        )
        .await;
        if let (Err(ChannelError::NotLinked(_)), Some(marker)) = (&r, &self.link_marker) {
            // Unlinked by the phone: stop connecting until the next `channels login`.
            let _ = std::fs::remove_file(marker);
        }
        r
    }

    async fn send(&self, msg: OutboundMessage) -> Result<SentRef, ChannelError> {
        let st = self.snapshot();
        if !st.linked {
            return Err(ChannelError::NotLinked(
                "WhatsApp is not linked; run `openclaw channels login --channel whatsapp`".into(),
            ));
        }
        if !st.connected {
            return Err(ChannelError::Unavailable(
                "No active WhatsApp Web listener".into(),
            ));
        }
        let (chat, _) = parse_target(&msg.chat_id)?;
        let jid = chat_id_to_jid(&chat)?;
        // Load (and size-check) every attachment before sending anything.
        let mut uploads = Vec::new();
        for m in &msg.media {
            let loaded = load_media(&m.source, &msg.local_roots, self.media.max_bytes).await?;
            let mime = m
                .mime
                .clone()
                .or(loaded.mime)
                .unwrap_or_else(|| "application/octet-stream".into());
            uploads.push(OutgoingMedia {
                kind: media_kind(&mime),
                bytes: loaded.bytes,
                mime,
                file_name: loaded.file_name,
                caption: None,
            });
        }
        // The text rides as the first attachment's caption when it fits (not on audio).
        let mut text = msg.text.as_str();
        if let Some(first) = uploads.first_mut()
            && first.kind != "audio"
            && !text.trim().is_empty()
            && text.chars().count() <= MAX_CAPTION_CHARS
        {
            first.caption = Some(text.to_string());
            text = "";
        }
        let mut ids = Vec::new();
        for u in uploads {
            ids.push(self.link.send_media(&jid, u).await?);
        }
        for chunk in chunk_text(text, self.text_chunk_limit) {
            ids.push(self.link.send_text(&jid, &chunk).await?);
        }
        if ids.is_empty() {
            return Err(ChannelError::Other("text or media is required".into()));
        }
        update(&self.status, |s| s.last_outbound_at = Some(now_ms()));
        Ok(SentRef {
            chat_id: msg.chat_id,
            message_ids: ids,
        })
    }

    async fn typing(&self, chat_id: &str, _thread_id: Option<&str>) -> Result<(), ChannelError> {
        if !self.snapshot().connected {
            return Err(ChannelError::Unavailable(
                "No active WhatsApp Web listener".into(),
            ));
        }
        let (chat, _) = parse_target(chat_id)?;
        self.link.composing(&chat_id_to_jid(&chat)?).await
    }

    fn status(&self) -> ChannelStatus {
        self.snapshot()
    }

    async fn logout(&self) -> Result<bool, ChannelError> {
        let cleared = self.link.logout().await?;
        if let Some(marker) = &self.link_marker {
            let _ = std::fs::remove_file(marker);
        }
        update(&self.status, |s| {
            s.linked = false;
            s.connected = false;
        });
        Ok(cleared)
    }

    fn parse_target(&self, target: &str) -> Result<(String, Option<String>), ChannelError> {
        parse_target(target)
    }

    /// Streams the attachment straight to disk under the cap (the sender's declared size is
    /// only an early refusal), bounded by the download timeout.
    async fn download(
        &self,
        media: &PendingMedia,
        dest: &Path,
        max: u64,
    ) -> Result<u64, ChannelError> {
        let max = max.min(self.media.max_bytes);
        if let Some(size) = media.declared_size.filter(|s| *s > max) {
            return Err(ChannelError::TooLarge(format!(
                "{size} bytes exceeds mediaMaxMb ({max} bytes)"
            )));
        }
        let handle = self.media.refs.get(&media.reference).ok_or_else(|| {
            ChannelError::Unavailable("the attachment is no longer available".into())
        })?;
        let out = CappedFile::create(dest, max)?;
        let out = tokio::time::timeout(
            self.media.download_timeout,
            self.link.download(&handle, out),
        )
        .await
        .map_err(|_| ChannelError::Network("download timed out".into()))??;
        Ok(out.finish()?)
    }
}
