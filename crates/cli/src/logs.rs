//! `openclaw logs`: tails the gateway's log over `logs.tail`, following by cursor, surviving
//! file rotation (`reset` or a new file name) and reconnecting with backoff when the gateway
//! restarts.

use std::time::Duration;

use openclaw_client::{ClientError, GatewayClient};
use openclaw_config::Paths;
use serde_json::{Value, json};

use crate::rpc::{connect_options, report};
use crate::{LogsArgs, Outcome};

/// `2026-11-23T17:53:03.279+00:00 [gateway] message` from a JSON log line; raw text otherwise.
fn pretty(line: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return line.to_string();
    };
    let time = v.get("time").and_then(Value::as_str).unwrap_or("");
    let sub = v
        .get("0")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|s| {
            s.get("subsystem")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "gateway".into());
    let msg = v.get("message").and_then(Value::as_str).unwrap_or(line);
    let level = v["_meta"]["logLevelName"].as_str().unwrap_or("INFO");
    if level == "INFO" {
        format!("{time} [{sub}] {msg}")
    } else {
        format!("{time} [{sub}] {level} {msg}")
    }
}

/// A connected client, or the message saying why not.
async fn connect(paths: &Paths, dev: bool, args: &LogsArgs) -> Result<GatewayClient, String> {
    let opts = connect_options(paths, dev, &args.conn).map_err(|e| e.to_string())?;
    let url = opts.url.clone();
    GatewayClient::connect(opts)
        .await
        .map(|(c, _)| c)
        .map_err(|e| report(&e, &url))
}

pub async fn logs(paths: &Paths, dev: bool, args: LogsArgs) -> Outcome {
    let timeout = Duration::from_millis(args.conn.timeout);
    let mut client = match connect(paths, dev, &args).await {
        Ok(c) => c,
        Err(message) => {
            eprintln!("{message}");
            return Outcome::Failed;
        }
    };
    let mut cursor: Option<u64> = None;
    let mut file: Option<String> = None;
    loop {
        let mut params = json!({ "limit": args.limit.clamp(1, 5000) });
        if let Some(c) = cursor {
            params["cursor"] = json!(c);
        }
        match client.request("logs.tail", Some(params), timeout).await {
            Ok(v) => {
                let this_file = v["file"].as_str().map(str::to_string);
                if cursor.is_some() && file.is_some() && this_file != file {
                    // A new day's file: read it from its start.
                    file = this_file;
                    cursor = Some(0);
                    continue;
                }
                file = this_file;
                if v["reset"].as_bool() == Some(true) {
                    eprintln!("(log file was rotated; reading from its start)");
                }
                for line in v["lines"].as_array().into_iter().flatten() {
                    let line = line.as_str().unwrap_or_default();
                    if args.conn.json {
                        println!("{line}");
                    } else {
                        println!("{}", pretty(line));
                    }
                }
                cursor = v["cursor"].as_u64().or(cursor);
            }
            Err(ClientError::Rpc(e)) => {
                eprintln!("logs.tail failed: {e}");
                return Outcome::Failed;
            }
            Err(e) => {
                if !args.follow {
                    eprintln!("logs.tail failed: {e}");
                    return Outcome::Failed;
                }
                eprintln!("(gateway connection lost: {e}; reconnecting…)");
                let mut delay = Duration::from_millis(250);
                client = loop {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = tokio::signal::ctrl_c() => return Outcome::Done,
                    }
                    match connect(paths, dev, &args).await {
                        Ok(c) => break c,
                        Err(_) => delay = (delay * 2).min(Duration::from_secs(5)),
                    }
                };
                eprintln!("(reconnected)");
                continue;
            }
        }
        if !args.follow {
            client.close().await;
            return Outcome::Done;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(args.interval.max(50))) => {}
            _ = tokio::signal::ctrl_c() => {
                client.close().await;
                return Outcome::Done;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_prints_json_lines() {
        let line = r#"{"0":"{\"subsystem\":\"ws\"}","1":"hi","_meta":{"logLevelName":"WARN"},"time":"T","message":"hi"}"#;
        assert_eq!(pretty(line), "T [ws] WARN hi");
        assert_eq!(pretty("plain"), "plain");
    }
}
