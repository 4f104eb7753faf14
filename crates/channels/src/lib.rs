//! Messaging channels for the gateway: the [`ChannelDriver`] seam, per-account supervision
//! ([`Supervised`]), config resolution ([`accounts_from_config`]), access control and DM pairing
//! ([`check_access`], [`PairingStore`]), session keys ([`session_key_for`]), reply chunking
//! ([`chunk_text`]) and the Telegram Bot API driver ([`telegram`]). WhatsApp lives in the
//! separate `openclaw-channel-whatsapp` crate (heavy dependency) behind the same trait.
//!
//! # Wiring into the gateway (for the gateway engineer)
//!
//! ```text
//! let accounts = accounts_from_config(&cfg["channels"], &|k| std::env::var(k).ok())?;   // key-path errors
//! let (tx, mut rx) = mpsc::channel::<Inbound>(256);                                    // bounded = backpressure
//! for a in accounts.iter().filter(|a| a.enabled && a.configured()) {
//!     let driver = match a.channel.as_str() {
//!         "telegram" => telegram::driver(a, &state_dir)?,
//!         "whatsapp" => openclaw_channel_whatsapp::driver(a, &state_dir)?,
//!         _ => continue,
//!     };
//!     supervised.insert((a.channel.clone(), a.account_id.clone()),
//!                       Supervised::spawn(driver, tx.clone(), shutdown.child_token()));
//! }
//! while let Some(Inbound { message, ack }) = rx.recv().await {
//!     let cfg = /* AccountConfig of (message.channel, message.account_id) */;
//!     let store = PairingStore::new(&state_dir, &message.channel, &message.account_id);
//!     match check_access(cfg, &message, &store) {
//!         Access::Allow => {
//!             let key = session_key_for(&message, agent_id, main_key, dm_scope);
//!             enqueue_run(key, message);          // durable hand-over …
//!             let _ = ack.send(());               // … THEN ack: the Telegram offset advances now
//!             // while the run is active: driver.typing(chat, thread) every ~4 s;
//!             // reply: driver.send(OutboundMessage { chat_id, thread_id, text, .. }) — it chunks.
//!         }
//!         Access::Pairing { code, first_time } => {
//!             let _ = ack.send(());
//!             if first_time { /* driver.send(pairing instructions with `code`) */ }
//!         }
//!         Access::NotMentioned => { let _ = ack.send(()); /* keep as group history */ }
//!         Access::Deny(reason) => { let _ = ack.send(()); tracing::debug!(%reason, "dropped"); }
//!     }
//! }
//! ```
//!
//! * **Ack contract** ([`Inbound`]): ack *after* the message is durably enqueued (not after the
//!   agent run). Dropping `ack` without sending means "not processed": the driver ends its run
//!   with an error, the supervisor restarts it after backoff and the update is re-delivered.
//!   Process the inbound queue concurrently per chat; the driver waits for each ack in order.
//! * **`send` RPC**: `driver.parse_target(to)` → `(chat_id, thread_id)` (or
//!   [`ChannelError::BadTarget`] → `INVALID_REQUEST`); then `driver.send(..)`.
//!   [`ChannelError::NotLinked`] → `NOT_LINKED`; `BadTarget`/`TooLarge`/`MediaAccess` →
//!   `INVALID_REQUEST`;
//!   everything else → `UNAVAILABLE` with the error text. The result's `messageId` is the last
//!   of [`SentRef::message_ids`]. Durable idempotency is the gateway's job.
//! * **`channels.status`**: [`Supervised::status`] (camelCase via serde) per account; accounts
//!   that are configured-but-disabled or missing a token get `ChannelStatus { configured, .. }`
//!   built by the gateway. `reconnects` = driver reconnects + supervisor restarts.
//! * **`channels.logout`**: `supervised.stop().await` then `driver.logout().await`
//!   (WhatsApp deletes its session store; Telegram returns `false`).
//! * Failures and panics in a driver never escape [`Supervised`]; they are in `lastError`.
//! * Tests use the loopback fake Bot API in `openclaw-testkit` (`telegram::FakeTelegram`).

mod access;
mod chunk;
mod config;
mod download;
mod media;
mod routing;
mod supervisor;
pub mod telegram;
mod types;

pub use access::{Access, PairingRequest, PairingStore, check_access};
pub use chunk::chunk_text;
pub use config::{
    AccountConfig, ChannelConfigError, DmPolicy, GroupConfig, GroupPolicy, KNOWN_CHANNELS,
    accounts_from_config, normalize_id,
};
pub use download::{CappedFile, inbound_file_name, is_too_large, path_safe};
pub use media::{LOCAL_MEDIA_NOT_ALLOWED, LoadedMedia, guess_mime, is_url, load_media, load_url};
pub use routing::{MentionPatterns, resolve_binding, session_key_for};
pub use supervisor::{Backoff, Supervised, SupervisorConfig};
pub use types::{
    CancelToken, ChannelDriver, ChannelError, ChannelStatus, ChatType, Inbound, InboundMessage,
    MediaFile, OutboundMedia, OutboundMessage, PendingMedia, SentRef, now_ms,
};
