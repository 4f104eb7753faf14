//! `openclaw dashboard`: the Control UI's URL on this host with the token in the fragment
//! (`http://127.0.0.1:<port><basePath>/#token=…`; a fragment never reaches a server log), and a
//! browser opened on it unless `--no-open`. Port, token and base path resolve as for every other
//! CLI command (flags/env/config, else the running gateway's generated token).

use clap::Args;
use openclaw_config::{Paths, load_config};
use serde_json::json;

use crate::Outcome;
use crate::rpc::{runtime_token, shared_secrets};

#[derive(Args, Debug)]
pub struct DashboardArgs {
    /// Open the URL in a browser (the default; `$BROWSER` if set, else the system opener).
    #[arg(long, conflicts_with = "no_open")]
    pub open: bool,
    /// Print the URL but do not launch a browser.
    #[arg(long)]
    pub no_open: bool,
    /// Print the connection details as JSON.
    #[arg(long)]
    pub json: bool,
    /// Token to put in the URL (default: OPENCLAW_GATEWAY_TOKEN, gateway.auth.token, or the
    /// running gateway's generated token).
    #[arg(long)]
    pub token: Option<String>,
}

/// `gateway.controlUi.basePath` as the gateway serves it: `""` or `/x` (no trailing slash).
fn base_path(cfg: &serde_json::Value) -> String {
    let raw = cfg
        .pointer("/gateway/controlUi/basePath")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .trim()
        .trim_matches('/');
    if raw.is_empty() {
        String::new()
    } else {
        format!("/{raw}")
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (as `encodeURIComponent`
/// would for a token).
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn run(paths: &Paths, dev: bool, args: DashboardArgs) -> Outcome {
    let loaded = match load_config(&paths.config_path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Failed;
        }
    };
    let port = match openclaw_config::resolve::resolve_port(None, &loaded, dev) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Failed;
        }
    };
    let cfg = serde_json::to_value(&loaded.config).unwrap_or_default();
    let http_url = format!("http://127.0.0.1:{port}{}/", base_path(&cfg));
    let (cfg_token, password) = shared_secrets(&loaded);
    let token = args
        .token
        .clone()
        .or(cfg_token)
        .or_else(|| password.is_none().then(|| runtime_token(paths)).flatten());
    let url = match &token {
        Some(t) => format!("{http_url}#token={}", encode_component(t)),
        None => http_url.clone(),
    };
    if args.json {
        let v = json!({
            "ok": true,
            "url": url,
            "httpUrl": http_url,
            "wsUrl": format!("ws://127.0.0.1:{port}"),
            "port": port,
            "tokenIncluded": token.is_some(),
        });
        println!("{v}");
    } else {
        println!("Dashboard URL: {url}");
        if token.is_none() {
            if password.is_some() {
                println!("The gateway uses a password: enter it on the login screen.");
            } else {
                println!(
                    "No gateway token found (set OPENCLAW_GATEWAY_TOKEN or gateway.auth.token, or start the gateway); append #token=<token> to the URL."
                );
            }
        }
    }
    if !args.no_open {
        if let Err(e) = open_browser(&url) {
            eprintln!("Could not open a browser ({e}); open the URL above yourself.");
        } else if !args.json {
            println!("Opened in your browser.");
        }
    }
    Outcome::Done
}

/// Launches `$BROWSER <url>` if set, else the platform's opener, without waiting for it.
fn open_browser(url: &str) -> std::io::Result<()> {
    let mut cmd = match std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        Some(b) => std::process::Command::new(b),
        None if cfg!(target_os = "macos") => std::process::Command::new("open"),
        None if cfg!(windows) => {
            let mut c = std::process::Command::new("cmd");
            c.args(["/C", "start", ""]);
            c
        }
        None => std::process::Command::new("xdg-open"),
    };
    cmd.arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
}
