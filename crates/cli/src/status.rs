//! `openclaw gateway status` (the supervisor's view and the RPC view side by side, with the
//! config used, the probe target, who holds the port and the log's last error) and
//! `openclaw status` (the same, summarized, plus the gateway's own `status`). Both exit 0
//! whenever status could be determined, as the reference does; `rpc.ok` says reachable or not.
//! The JSON field names are documented in the README and kept stable.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use openclaw_client::GatewayClient;
use openclaw_config::{Paths, RunOverrides, load_config};
use openclaw_gateway::portinfo;
use openclaw_service::control::{self, SystemRunner};
use serde_json::{Value, json};

use crate::probe::{self, Probe};
use crate::service_cmd::{self, Setup};
use crate::{ConnArgs, Outcome, deep, rpc};

#[derive(Args, Debug)]
pub struct GatewayStatusArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Only the supervisor's view: do not connect to the gateway.
    #[arg(long)]
    pub no_probe: bool,
    /// Also scan for other gateways: every profile, services and processes.
    #[arg(long)]
    pub deep: bool,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Also scan for other gateways: every profile, services and processes.
    #[arg(long)]
    pub deep: bool,
    /// Accepted for compatibility (everything is shown).
    #[arg(long)]
    pub all: bool,
}

/// How much of a log file's end is searched for the last error.
const LOG_TAIL_BYTES: u64 = 1024 * 1024;

/// The gateway's log file for today: `logging.file`, else `/tmp/openclaw/openclaw-<date>.log`
/// (or the `<state>/logs` fallback when `/tmp/openclaw` is not safe to use, as the gateway
/// decides).
pub fn log_file(paths: &Paths) -> PathBuf {
    load_config(&paths.config_path)
        .ok()
        .and_then(|l| l.config.logging.and_then(|g| g.file))
        .map(|f| openclaw_config::paths::expand_home(&f))
        .unwrap_or_else(|| {
            openclaw_gateway::logging::daily_log_dir(&paths.state_dir)
                .0
                .join(format!(
                    "openclaw-{}.log",
                    chrono::Local::now().format("%Y-%m-%d")
                ))
        })
}

/// The last ERROR/FATAL line of a gateway log (JSON lines; plain lines mentioning "error"
/// count too), from the last MiB of the file.
pub fn last_error(path: &Path) -> Option<Value> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))
        .ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    for line in text.lines().rev() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            let level = v["_meta"]["logLevelName"].as_str().unwrap_or("");
            if level == "ERROR" || level == "FATAL" {
                return Some(json!({
                    "time": v.get("time"),
                    "level": level,
                    "message": v.get("message").or_else(|| v.get("1")),
                }));
            }
        } else if line.to_ascii_lowercase().contains("error") {
            return Some(json!({"time": null, "level": null, "message": line}));
        }
    }
    None
}

fn config_json(paths: &Paths, dev: bool) -> (Value, Option<String>) {
    match load_config(&paths.config_path) {
        Ok(l) => {
            let g = l.config.gateway();
            let resolved = openclaw_config::resolve::resolve_gateway(
                &l,
                &RunOverrides {
                    allow_unconfigured: true,
                    dev,
                    ..RunOverrides::default()
                },
            );
            let (bind, auth, problem) = match &resolved {
                Ok(s) => (
                    Some(s.bind.name().to_string()),
                    Some(s.auth.name().to_string()),
                    None,
                ),
                Err(e) => (None, None, Some(e.to_string())),
            };
            (
                json!({
                    "path": paths.config_path,
                    "exists": l.exists,
                    "valid": true,
                    "error": problem,
                    "mode": g.mode,
                    "bind": bind.or_else(|| g.bind.and_then(|b| serde_json::to_value(b).ok()).and_then(|v| v.as_str().map(str::to_string))),
                    "port": g.port,
                    "authMode": auth,
                }),
                problem,
            )
        }
        Err(e) => (
            json!({
                "path": paths.config_path,
                "exists": paths.config_path.exists(),
                "valid": false,
                "error": e.to_string(),
                "mode": null, "bind": null, "port": null, "authMode": null,
            }),
            Some(e.to_string()),
        ),
    }
}

/// The port of a `ws://host:port` URL when the host is this machine.
fn local_port(url: &str) -> Option<u16> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))?;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    matches!(host, "127.0.0.1" | "localhost" | "::1" | "0.0.0.0")
        .then(|| port.parse().ok())
        .flatten()
}

/// Everything `gateway status` reports, as JSON, plus the lines to warn about.
pub struct Report {
    pub json: Value,
    pub probe: Option<Probe>,
    pub warnings: Vec<String>,
}

impl Report {
    /// `--json`: the whole report.
    fn print_json(&self) {
        println!(
            "{}",
            serde_json::to_string_pretty(&self.json).unwrap_or_default()
        );
    }

    /// The sections both status commands end with: the log, the deep scan, the warnings.
    fn print_closing(&self) {
        print_log(&self.json);
        print_deep(&self.json);
        for w in &self.warnings {
            println!("warning: {w}");
        }
    }
}

pub async fn collect(
    paths: &Paths,
    dev: bool,
    conn: &ConnArgs,
    no_probe: bool,
    deep_scan: bool,
) -> Report {
    let mut warnings = Vec::new();
    let (resolved_port, _) = service_cmd::resolved_port(paths, dev);
    let (config, config_problem) = config_json(paths, dev);
    if let Some(p) = &config_problem {
        warnings.push(format!("config: {p}"));
    }
    let opts = probe::probe_options(paths, dev, conn);
    let url = opts.url.clone();

    // The supervisor's view.
    let setup = service_cmd::setup(paths, resolved_port, None);
    let runner = SystemRunner::default();
    let service = match &setup {
        Ok(s) => {
            let st = control::inspect(&service_cmd::context(&runner), &s.plan);
            if let Some(d) = &st.damaged {
                warnings.push(format!(
                    "the service definition {} looks incomplete ({d}); `openclaw gateway install --force` rewrites it",
                    st.unit_path.display()
                ));
            }
            if let Some(cmd) = st.command.as_ref().and_then(|c| c.first())
                && *cmd != s.spec.program[0]
            {
                warnings.push(format!(
                    "the service runs {cmd}, not this binary ({}); `openclaw gateway install --force` updates it",
                    s.spec.program[0]
                ));
            }
            if let (Some(sp), Some(lp)) = (st.port, local_port(&url))
                && sp != lp
            {
                warnings.push(format!(
                    "the service runs the gateway on port {sp}, but this probes port {lp}"
                ));
            }
            if st.installed && st.running == Some(false) {
                warnings.push(format!(
                    "{} is installed but not running (`openclaw gateway start`)",
                    st.label
                ));
            }
            serde_json::to_value(&st).unwrap_or(Value::Null)
        }
        Err(e) => json!({"installed": false, "supervisorError": e.to_string()}),
    };

    // Who holds the port on this host.
    let port_num = local_port(&url).unwrap_or(resolved_port);
    let listeners = portinfo::listeners(port_num);
    let port = json!({
        "port": port_num,
        "status": if listeners.is_empty() { "free" } else { "busy" },
        "listeners": listeners.iter().map(|l| json!({
            "pid": l.pid, "command": l.command, "address": l.addr.to_string(),
        })).collect::<Vec<_>>(),
    });

    // The RPC view.
    let probe = if no_probe {
        None
    } else {
        Some(probe::probe(opts).await)
    };
    if let Some(p) = &probe
        && !p.ok
    {
        if p.kind == "auth" {
            warnings.push(
                "the gateway refused our credentials: check --token/--password, OPENCLAW_GATEWAY_TOKEN or gateway.auth.token".to_string(),
            );
        } else if let Some(l) = listeners.iter().find(|l| !deep::is_gateway_listener(l)) {
            warnings.push(format!(
                "port {port_num} is held by {} ({}), which does not answer as a gateway",
                l.pid
                    .map(|p| format!("pid {p}"))
                    .unwrap_or_else(|| "an unknown process".into()),
                l.command.as_deref().unwrap_or("?")
            ));
        }
    }

    let log = log_file(paths);
    let last = last_error(&log);
    let (extra, profiles, processes) = if deep_scan {
        let loc = service_cmd::locations();
        let own = setup.as_ref().ok().map(|s: &Setup| s.plan.primary.clone());
        let d = deep::scan(
            paths,
            resolved_port,
            setup.as_ref().ok().map(|s| s.platform),
            &loc,
            own.as_deref(),
        );
        warnings.extend(d.warnings);
        (
            serde_json::to_value(&d.services).unwrap_or(Value::Null),
            Value::from(d.profiles),
            Value::from(d.processes),
        )
    } else {
        (json!([]), Value::Null, Value::Null)
    };
    let json = json!({
        "cli": {"version": env!("CARGO_PKG_VERSION"), "path": service_cmd::current_exe().ok()},
        "profile": paths.profile,
        "stateDir": paths.state_dir,
        "logFile": log,
        "lastError": last,
        "service": service,
        "config": config,
        "gateway": {
            "url": url,
            "port": resolved_port,
            "probeUrl": if no_probe { Value::Null } else { json!(url) },
        },
        "port": port,
        "rpc": probe.as_ref().map(Probe::to_json),
        "extraServices": extra,
        "profiles": profiles,
        "processes": processes,
        "warnings": warnings,
    });
    Report {
        json,
        probe,
        warnings,
    }
}

fn yes_no(v: &Value) -> &'static str {
    match v.as_bool() {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn print_service(s: &Value) {
    let label = s["label"].as_str().unwrap_or("gateway service");
    let platform = s["platform"].as_str().unwrap_or("?");
    if s["installed"] != true {
        println!("Service: {platform} {label}: not installed");
        if let Some(e) = s["supervisorError"].as_str() {
            println!("  ({e})");
        }
        return;
    }
    println!(
        "Service: {platform} {label} ({})",
        s["unitPath"].as_str().unwrap_or("?")
    );
    let mut line = format!(
        "  loaded: {} · enabled: {} · running: {}",
        yes_no(&s["loaded"]),
        yes_no(&s["enabled"]),
        yes_no(&s["running"])
    );
    if let Some(pid) = s["pid"].as_u64() {
        line.push_str(&format!(" (pid {pid})"));
    }
    println!("{line}");
    if let Some(cmd) = s["command"].as_array() {
        let words: Vec<&str> = cmd.iter().filter_map(Value::as_str).collect();
        println!("  command: {}", words.join(" "));
    }
    if let Some(e) = s["supervisorError"].as_str() {
        println!("  service manager: {e}");
    }
    for h in s["hints"].as_array().into_iter().flatten() {
        println!("  hint: {}", h.as_str().unwrap_or(""));
    }
}

fn print_config(c: &Value) {
    let path = c["path"].as_str().unwrap_or("?");
    if c["valid"] != true {
        println!(
            "Config: {path}: invalid: {}",
            c["error"].as_str().unwrap_or("?")
        );
    } else if c["exists"] != true {
        println!("Config: {path} (missing: defaults apply)");
    } else {
        println!(
            "Config: {path} (mode {}, bind {}, auth {})",
            c["mode"].as_str().unwrap_or("unset"),
            c["bind"].as_str().unwrap_or("?"),
            c["authMode"].as_str().unwrap_or("?"),
        );
    }
}

fn print_port(p: &Value) {
    let listeners = p["listeners"].as_array().cloned().unwrap_or_default();
    if listeners.is_empty() {
        println!("Port {}: free", p["port"]);
        return;
    }
    let who: Vec<String> = listeners
        .iter()
        .map(|l| {
            format!(
                "pid {} {} ({})",
                l["pid"]
                    .as_u64()
                    .map(|p| p.to_string())
                    .unwrap_or("?".into()),
                l["command"].as_str().unwrap_or("?"),
                l["address"].as_str().unwrap_or("?")
            )
        })
        .collect();
    println!("Port {}: busy — {}", p["port"], who.join(", "));
}

fn print_deep(v: &Value) {
    if let Some(profiles) = v["profiles"].as_array() {
        println!("Profiles:");
        for p in profiles {
            let mut pids: Vec<String> = p["listeners"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["pid"].as_u64().map(|x| x.to_string()))
                .collect();
            pids.dedup();
            println!(
                "  {}{}: port {} {} · state {} · service {}",
                p["profile"].as_str().unwrap_or("?"),
                if p["current"] == true {
                    " (current)"
                } else {
                    ""
                },
                p["port"],
                if pids.is_empty() {
                    "free".to_string()
                } else {
                    format!("listening (pid {})", pids.join(", "))
                },
                p["stateDir"].as_str().unwrap_or("?"),
                if p["service"]["installed"] == true {
                    "installed"
                } else {
                    "not installed"
                },
            );
        }
    }
    print_items(&v["extraServices"], "Other gateway services:", |s| {
        format!(
            "{}{} ({})",
            s["name"].as_str().unwrap_or("?"),
            if s["legacy"] == true { " [legacy]" } else { "" },
            s["path"].as_str().unwrap_or("?")
        )
    });
    print_items(&v["processes"], "Gateway processes:", |p| {
        format!("pid {}: {}", p["pid"], p["command"].as_str().unwrap_or(""))
    });
}

/// `title`, then one indented `line` per item, when `items` is a non-empty array.
fn print_items(items: &Value, title: &str, line: impl Fn(&Value) -> String) {
    if let Some(items) = items.as_array()
        && !items.is_empty()
    {
        println!("{title}");
        for item in items {
            println!("  {}", line(item));
        }
    }
}

fn print_log(v: &Value) {
    println!("Log: {}", v["logFile"].as_str().unwrap_or("?"));
    if let Some(m) = v["lastError"]["message"].as_str() {
        match v["lastError"]["time"].as_str() {
            Some(t) => println!("  last error: {t} {m}"),
            None => println!("  last error: {m}"),
        }
    }
}

/// `openclaw gateway status`.
pub async fn gateway_status(paths: &Paths, dev: bool, args: GatewayStatusArgs) -> Outcome {
    let r = collect(paths, dev, &args.conn, args.no_probe, args.deep).await;
    if args.conn.json {
        r.print_json();
        return Outcome::Done;
    }
    let v = &r.json;
    print_service(&v["service"]);
    print_config(&v["config"]);
    match &r.probe {
        Some(p) => println!("Probe: {} → {}", p.url, p.summary()),
        None => println!(
            "Probe: skipped (--no-probe); target {}",
            v["gateway"]["url"].as_str().unwrap_or("?")
        ),
    }
    print_port(&v["port"]);
    r.print_closing();
    Outcome::Done
}

/// The gateway's own `status` (needs `operator.read`, which the probe does not get).
async fn gateway_self_status(paths: &Paths, dev: bool, conn: &ConnArgs) -> Result<Value, String> {
    let opts = rpc::connect_options(paths, dev, conn).map_err(|e| e.to_string())?;
    let url = opts.url.clone();
    let (client, _) = GatewayClient::connect(opts)
        .await
        .map_err(|e| rpc::report(&e, &url))?;
    let result = client
        .request("status", None, Duration::from_millis(conn.timeout))
        .await;
    client.close().await;
    result.map_err(|e| e.to_string())
}

/// `openclaw status`: config, service, gateway and (with `--deep`) every other gateway.
pub async fn status(paths: &Paths, dev: bool, args: StatusArgs) -> Outcome {
    let mut r = collect(paths, dev, &args.conn, false, args.deep).await;
    let reachable = r.probe.as_ref().is_some_and(|p| p.ok);
    let (own, own_error) = if reachable {
        match gateway_self_status(paths, dev, &args.conn).await {
            Ok(v) => (v, None),
            Err(e) => (Value::Null, Some(e)),
        }
    } else {
        (Value::Null, None)
    };
    r.json["status"] = own.clone();
    r.json["statusError"] = json!(own_error);
    if args.conn.json {
        r.print_json();
        return Outcome::Done;
    }
    let v = &r.json;
    println!(
        "OpenClaw {} · profile {} · state {}",
        env!("CARGO_PKG_VERSION"),
        v["profile"].as_str().unwrap_or("default"),
        v["stateDir"].as_str().unwrap_or("?")
    );
    print_config(&v["config"]);
    print_service(&v["service"]);
    match &r.probe {
        Some(p) => println!("Gateway: {} {}", p.url, p.summary()),
        None => println!("Gateway: not probed"),
    }
    if let Some(rt) = own.get("runtimeVersion").and_then(Value::as_str) {
        println!("  runtime: {rt}");
    }
    if let Some(e) = own_error {
        println!("  status: {e}");
    }
    r.print_closing();
    Outcome::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_last_error_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("gw.log");
        std::fs::write(
            &log,
            concat!(
                r#"{"_meta":{"logLevelName":"ERROR"},"time":"t1","message":"old failure"}"#,
                "\n",
                r#"{"_meta":{"logLevelName":"INFO"},"time":"t2","message":"fine"}"#,
                "\n",
                r#"{"_meta":{"logLevelName":"ERROR"},"time":"t3","message":"bind failed"}"#,
                "\n",
                r#"{"_meta":{"logLevelName":"INFO"},"time":"t4","message":"ok again"}"#,
                "\n",
                "{\"torn", // a torn last line is skipped
            ),
        )
        .unwrap();
        let e = last_error(&log).unwrap();
        assert_eq!(e["message"], "bind failed");
        assert_eq!(e["time"], "t3");
        assert!(last_error(&dir.path().join("missing.log")).is_none());
    }

    #[test]
    fn local_ports() {
        assert_eq!(local_port("ws://127.0.0.1:18789"), Some(18789));
        assert_eq!(local_port("ws://[::1]:5/x"), Some(5));
        assert_eq!(local_port("wss://example.com:443"), None);
    }
}
