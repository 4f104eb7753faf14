//! `openclaw message send` and `openclaw channels status|logout|login`: channel operations
//! through the running gateway (sends fail fast when it is down; nothing connects directly),
//! except WhatsApp login, which pairs this host's account locally and renders the QR.

use std::time::Duration;

use clap::{Args, Subcommand};
use openclaw_client::{ClientError, GatewayClient};
use openclaw_config::Paths;
use serde_json::{Value, json};

use crate::rpc::{connect_options, report};
use crate::{ConnArgs, Outcome};

#[derive(Args, Debug)]
pub struct MessageCmd {
    #[command(subcommand)]
    pub sub: MessageSub,
}

#[derive(Subcommand, Debug)]
pub enum MessageSub {
    /// Send a message (and media) to a channel target.
    Send(SendArgs),
}

#[derive(Args, Debug)]
pub struct SendArgs {
    #[arg(long)]
    pub channel: Option<String>,
    /// Recipient: Telegram chat id / @name, WhatsApp +E164 or JID.
    #[arg(long, short = 't', alias = "to")]
    pub target: String,
    #[arg(long, short = 'm')]
    pub message: Option<String>,
    /// Media path or URL (repeatable).
    #[arg(long)]
    pub media: Vec<String>,
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long)]
    pub thread_id: Option<String>,
    /// Idempotency key (default: a fresh UUID); reuse it to retry safely.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Args, Debug)]
pub struct ChannelsCmd {
    #[command(subcommand)]
    pub sub: ChannelsSub,
}

#[derive(Subcommand, Debug)]
pub enum ChannelsSub {
    /// Per channel and account: configured, running, connected, last error…
    Status {
        /// Also run a live check per account (Telegram `getMe`, WhatsApp connection).
        #[arg(long)]
        probe: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Stop an account and clear its login (WhatsApp).
    Logout {
        #[arg(long)]
        channel: String,
        #[arg(long)]
        account: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Link WhatsApp: shows the pairing QR (or a pairing code with --phone).
    Login {
        #[arg(long, default_value = "whatsapp")]
        channel: String,
        #[arg(long, default_value = "default")]
        account: String,
        /// Pair by code for this phone number (E.164) instead of a QR.
        #[arg(long)]
        phone: Option<String>,
        /// Seconds to wait for the phone.
        #[arg(long, default_value_t = 180)]
        timeout: u64,
    },
}

async fn call(
    paths: &Paths,
    dev: bool,
    conn: &ConnArgs,
    method: &str,
    params: Value,
) -> Result<Value, Outcome> {
    let opts = connect_options(paths, dev, conn).map_err(|e| {
        eprintln!("{e}");
        Outcome::Failed
    })?;
    let url = opts.url.clone();
    let client = match GatewayClient::connect(opts).await {
        Ok((c, _)) => c,
        Err(e) => {
            eprintln!("{}", report(&e, &url));
            return Err(Outcome::Failed);
        }
    };
    let r = client
        .request(
            method,
            Some(params),
            Duration::from_millis(conn.timeout.max(30_000)),
        )
        .await;
    client.close().await;
    r.map_err(|e| {
        match e {
            ClientError::Rpc(e) => eprintln!("{method} failed: {}: {}", e.code, e.message),
            other => eprintln!("{method} failed: {}", report(&other, &url)),
        }
        Outcome::Failed
    })
}

pub async fn message(paths: &Paths, dev: bool, cmd: MessageCmd) -> Outcome {
    let MessageSub::Send(a) = cmd.sub;
    let mut params = json!({
        "to": a.target,
        "idempotencyKey": a.idempotency_key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    });
    if let Some(m) = a.message {
        params["message"] = json!(m);
    }
    if !a.media.is_empty() {
        params["mediaUrls"] = json!(a.media);
    }
    for (k, v) in [
        ("channel", a.channel),
        ("accountId", a.account),
        ("threadId", a.thread_id),
    ] {
        if let Some(v) = v {
            params[k] = json!(v);
        }
    }
    match call(paths, dev, &a.conn, "send", params).await {
        Ok(v) => {
            if a.conn.json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                println!(
                    "Sent via {} (message {})",
                    v["channel"].as_str().unwrap_or("?"),
                    v["messageId"].as_str().unwrap_or("?")
                );
            }
            Outcome::Done
        }
        Err(outcome) => outcome,
    }
}

pub async fn channels(paths: &Paths, dev: bool, cmd: ChannelsCmd) -> Outcome {
    match cmd.sub {
        ChannelsSub::Status { probe, conn } => {
            let params = if probe {
                json!({"probe": true})
            } else {
                json!({})
            };
            match call(paths, dev, &conn, "channels.status", params).await {
                Ok(v) => {
                    if conn.json {
                        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                        return Outcome::Done;
                    }
                    let accounts = v["channelAccounts"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default();
                    if accounts.is_empty() {
                        println!("No channels configured.");
                    }
                    for (channel, list) in accounts {
                        for a in list.as_array().into_iter().flatten() {
                            let probe = match (a["probe"]["ok"].as_bool(), &a["probe"]) {
                                (Some(true), p) => match p["bot"]["username"].as_str() {
                                    Some(u) => format!(", probe ok (@{u})"),
                                    None => ", probe ok".to_string(),
                                },
                                (Some(false), p) => format!(
                                    ", probe failed: {}",
                                    p["error"].as_str().unwrap_or("unknown error")
                                ),
                                _ => String::new(),
                            };
                            println!(
                                "{channel}/{}: {}{}{}{probe}",
                                a["accountId"].as_str().unwrap_or("?"),
                                if a["connected"] == true {
                                    "connected"
                                } else if a["running"] == true {
                                    "running"
                                } else {
                                    "stopped"
                                },
                                a["lastError"]
                                    .as_str()
                                    .map(|e| format!(", last error: {e}"))
                                    .unwrap_or_default(),
                                a["reconnects"]
                                    .as_u64()
                                    .filter(|n| *n > 0)
                                    .map(|n| format!(", {n} reconnects"))
                                    .unwrap_or_default(),
                            );
                        }
                    }
                    Outcome::Done
                }
                Err(outcome) => outcome,
            }
        }
        ChannelsSub::Logout {
            channel,
            account,
            conn,
        } => {
            let mut params = json!({"channel": channel});
            if let Some(a) = account {
                params["accountId"] = json!(a);
            }
            match call(paths, dev, &conn, "channels.logout", params).await {
                Ok(v) => {
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                    Outcome::Done
                }
                Err(outcome) => outcome,
            }
        }
        ChannelsSub::Login {
            channel,
            account,
            phone,
            timeout,
        } => {
            if channel != "whatsapp" {
                eprintln!(
                    "channels login supports --channel whatsapp (Telegram uses a bot token in the config)"
                );
                return Outcome::Usage;
            }
            let cfg = openclaw_channels::AccountConfig::new("whatsapp", &account);
            let prompt: std::sync::Arc<
                dyn Fn(openclaw_channel_whatsapp::LoginPrompt) + Send + Sync,
            > = std::sync::Arc::new(|p| match p {
                openclaw_channel_whatsapp::LoginPrompt::Qr(code) => {
                    match openclaw_channel_whatsapp::render_qr(&code) {
                        Ok(qr) => println!(
                            "Scan this QR with WhatsApp (Linked devices → Link a device):\n{qr}"
                        ),
                        Err(e) => println!("QR payload (render failed: {e}): {code}"),
                    }
                }
                openclaw_channel_whatsapp::LoginPrompt::PairCode(code) => {
                    println!(
                        "Enter this pairing code in WhatsApp (Linked devices → Link with phone number): {code}"
                    );
                }
            });
            match openclaw_channel_whatsapp::login(
                &cfg,
                &paths.state_dir,
                phone,
                Duration::from_secs(timeout),
                prompt,
            )
            .await
            {
                Ok(_) => {
                    println!(
                        "WhatsApp linked; credentials are under {}",
                        openclaw_channel_whatsapp::auth_dir(&cfg, &paths.state_dir).display()
                    );
                    Outcome::Done
                }
                Err(e) => {
                    eprintln!("WhatsApp login failed: {e}");
                    Outcome::Failed
                }
            }
        }
    }
}

#[derive(Args, Debug)]
pub struct PairingCmd {
    #[command(subcommand)]
    pub sub: PairingSub,
}

#[derive(Subcommand, Debug)]
pub enum PairingSub {
    /// Pending DM pairing requests of a channel account.
    List {
        /// `telegram` | `whatsapp`.
        channel: String,
        #[arg(long, default_value = "default")]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a pairing code: the sender may DM the bot from now on.
    Approve {
        channel: String,
        code: String,
        #[arg(long, default_value = "default")]
        account: String,
        /// Also tell the sender they were approved (through the running gateway).
        #[arg(long)]
        notify: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

fn pairing_channel(channel: &str) -> Result<String, Outcome> {
    let c = channel.trim().to_ascii_lowercase();
    if openclaw_channels::KNOWN_CHANNELS.contains(&c.as_str()) {
        Ok(c)
    } else {
        eprintln!(
            "unknown channel {channel:?}: expected one of {}",
            openclaw_channels::KNOWN_CHANNELS.join(", ")
        );
        Err(Outcome::Usage)
    }
}

/// `openclaw pairing list|approve`: reads and writes the pairing store files directly (the
/// gateway reads them on every message, so an approval applies at once).
pub async fn pairing(paths: &Paths, dev: bool, cmd: PairingCmd) -> Outcome {
    match cmd.sub {
        PairingSub::List {
            channel,
            account,
            json,
        } => {
            let channel = match pairing_channel(&channel) {
                Ok(c) => c,
                Err(outcome) => return outcome,
            };
            let store = openclaw_channels::PairingStore::new(&paths.state_dir, &channel, &account);
            let pending = store.pending();
            if json {
                let v = json!({"channel": channel, "accountId": account, "requests": pending});
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else if pending.is_empty() {
                println!("No pending {channel} pairing requests.");
            } else {
                for r in &pending {
                    let who = r.meta["name"]
                        .as_str()
                        .or(r.meta["username"].as_str())
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default();
                    println!("{}  from {}{who}  requested {}", r.code, r.id, r.created_at);
                }
            }
            Outcome::Done
        }
        PairingSub::Approve {
            channel,
            code,
            account,
            notify,
            conn,
        } => {
            let channel = match pairing_channel(&channel) {
                Ok(c) => c,
                Err(outcome) => return outcome,
            };
            let store = openclaw_channels::PairingStore::new(&paths.state_dir, &channel, &account);
            let sender = match store.approve(&code) {
                Ok(Some(sender)) => sender,
                Ok(None) => {
                    eprintln!(
                        "no pending {channel} pairing request with code {code} (codes expire after 1 hour; see `openclaw pairing list {channel}`)"
                    );
                    return Outcome::Failed;
                }
                Err(e) => {
                    eprintln!("cannot update the pairing store: {e}");
                    return Outcome::Failed;
                }
            };
            println!("Approved {channel} sender {sender}.");
            if notify {
                let params = json!({"channel": channel, "accountId": account, "to": sender,
                    "message": "✅ You are approved. Send your message again.",
                    "idempotencyKey": format!("pairing-approved-{channel}-{account}-{sender}")});
                if call(paths, dev, &conn, "send", params).await.is_err() {
                    eprintln!("(approved, but the sender could not be notified)");
                }
            }
            Outcome::Done
        }
    }
}
