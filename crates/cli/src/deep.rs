//! `--deep`: every gateway this host could be running — each profile's state dir (its port and
//! whether something listens there, its service), gateway-like services in the supervisor's
//! directory and gateway-like processes — with warnings for what gets in the way (two profiles
//! on one port, a port held by something else, clawdbot-era leftovers).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openclaw_config::{Paths, load_config};
use openclaw_gateway::portinfo;
use openclaw_service::control::{self, FoundService};
use openclaw_service::{Locations, Platform, ServiceNames};
use serde_json::{Value, json};

/// What the scan found.
pub struct Deep {
    pub profiles: Vec<Value>,
    pub services: Vec<FoundService>,
    pub processes: Vec<Value>,
    pub warnings: Vec<String>,
}

fn valid_profile(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 64
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `(profile, state dir)` for `~/.openclaw` and every `~/.openclaw-<profile>`.
pub fn profile_dirs(home: &Path) -> Vec<(Option<String>, PathBuf)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(home) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !e.path().is_dir() {
            continue;
        }
        if name == ".openclaw" {
            out.push((None, e.path()));
        } else if let Some(p) = name.strip_prefix(".openclaw-")
            && valid_profile(p)
        {
            out.push((Some(p.to_string()), e.path()));
        }
    }
    out.sort();
    out
}

fn listener_json(l: &portinfo::Listener) -> Value {
    json!({"pid": l.pid, "command": l.command, "address": l.addr.to_string()})
}

/// Whether a listener looks like one of our gateways (ours, or the reference's process title).
pub fn is_gateway_listener(l: &portinfo::Listener) -> bool {
    l.command.as_deref().is_some_and(|c| {
        c.starts_with("openclaw") || c.starts_with("clawdbot") || c.starts_with("moltbot")
    })
}

/// Whether a program or script path names openclaw (or its earlier names); the whole path
/// counts, since node installs run `…/openclaw/dist/index.js`.
fn names_gateway(word: &str) -> bool {
    let word = word.to_ascii_lowercase();
    ["openclaw", "clawdbot", "moltbot"]
        .iter()
        .any(|n| word.contains(n))
}

/// Whether an argv runs a gateway (`openclaw [flags] gateway [run] [--flags]`, or a node
/// script of that name), as opposed to a CLI subcommand such as `gateway status`.
pub fn is_gateway_argv(argv: &[String]) -> bool {
    let Some(i) = argv.iter().position(|a| a == "gateway") else {
        return false;
    };
    let named = argv[..i].iter().take(2).any(|w| names_gateway(w));
    let next = argv.get(i + 1).map(String::as_str);
    named && (next.is_none() || next == Some("run") || next.is_some_and(|n| n.starts_with('-')))
}

fn flag_value(argv: &[String], flag: &str) -> Option<String> {
    let eq = format!("{flag}=");
    argv.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            argv.get(i + 1).cloned()
        } else {
            a.strip_prefix(&eq).map(str::to_string)
        }
    })
}

/// Gateway-like processes other than this one (Linux: read from /proc).
fn gateway_processes() -> Vec<Value> {
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    let me = std::process::id();
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(p.path().join("cmdline")) else {
            continue;
        };
        let argv: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        let comm = std::fs::read_to_string(p.path().join("comm"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if !(comm.starts_with("openclaw-gatewa") || is_gateway_argv(&argv)) {
            continue;
        }
        // Only the two variables that say which instance it is; never secrets.
        let env: BTreeMap<String, String> = std::fs::read(p.path().join("environ"))
            .map(|raw| {
                raw.split(|b| *b == 0)
                    .filter_map(|kv| {
                        let kv = String::from_utf8_lossy(kv);
                        let (k, v) = kv.split_once('=')?;
                        [
                            "OPENCLAW_PROFILE",
                            "OPENCLAW_STATE_DIR",
                            "OPENCLAW_GATEWAY_PORT",
                        ]
                        .contains(&k)
                        .then(|| (k.to_string(), v.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let profile = if argv.iter().any(|a| a == "--dev") {
            Some("dev".to_string())
        } else {
            flag_value(&argv, "--profile").or_else(|| env.get("OPENCLAW_PROFILE").cloned())
        };
        let port = flag_value(&argv, "--port")
            .or_else(|| env.get("OPENCLAW_GATEWAY_PORT").cloned())
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p > 0);
        let legacy = argv
            .iter()
            .take(2)
            .any(|w| names_gateway(w) && !w.to_ascii_lowercase().contains("openclaw"));
        out.push(json!({
            "pid": pid,
            "command": argv.join(" "),
            "profile": profile,
            "stateDir": env.get("OPENCLAW_STATE_DIR"),
            "port": port,
            "legacy": legacy,
        }));
    }
    out.sort_by_key(|v| v["pid"].as_u64());
    out
}

/// Scans this host. `current_port` is the port resolved for the current profile (env
/// included); `own_primary` is the current profile's service file, left out of `services`.
pub fn scan(
    paths: &Paths,
    current_port: u16,
    platform: Option<Platform>,
    loc: &Locations,
    own_primary: Option<&Path>,
) -> Deep {
    let mut warnings = Vec::new();
    let mut dirs = profile_dirs(&loc.home);
    if !dirs.iter().any(|(_, d)| *d == paths.state_dir) {
        dirs.push((paths.profile.clone(), paths.state_dir.clone()));
    }
    let mut by_port: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    let mut profiles = Vec::new();
    for (profile, state_dir) in dirs {
        let current = state_dir == paths.state_dir;
        let config_path = if current {
            paths.config_path.clone()
        } else {
            state_dir.join("openclaw.json")
        };
        let label = profile.clone().unwrap_or_else(|| "default".to_string());
        let loaded = load_config(&config_path);
        let (port, error) = match &loaded {
            _ if current => (current_port, None),
            Ok(l) => (
                l.config.gateway.as_ref().and_then(|g| g.port).unwrap_or(
                    if profile.as_deref() == Some("dev") {
                        openclaw_config::DEV_PORT
                    } else {
                        openclaw_config::DEFAULT_PORT
                    },
                ),
                None,
            ),
            Err(e) => (openclaw_config::DEFAULT_PORT, Some(e.to_string())),
        };
        let exists = loaded.as_ref().is_ok_and(|l| l.exists);
        if exists || current {
            by_port.entry(port).or_default().push(label.clone());
        }
        let listeners = portinfo::listeners(port);
        for l in listeners.iter().filter(|l| !is_gateway_listener(l)) {
            warnings.push(format!(
                "port {port} (profile {label}) is held by {} ({}), not a gateway",
                l.pid
                    .map(|p| format!("pid {p}"))
                    .unwrap_or_else(|| "an unknown process".into()),
                l.command.as_deref().unwrap_or("?")
            ));
        }
        let names = ServiceNames::for_profile(profile.as_deref());
        let service = platform.map(|pl| {
            let path = openclaw_service::primary_path(pl, &names, loc, &state_dir);
            json!({"name": match pl {
                Platform::Systemd => names.systemd_unit.clone(),
                Platform::Launchd => names.launchd_label.clone(),
                Platform::Schtasks => names.windows_task.clone(),
            }, "path": path, "installed": path.exists()})
        });
        profiles.push(json!({
            "profile": label,
            "current": current,
            "stateDir": state_dir,
            "configPath": config_path,
            "configExists": exists,
            "configError": error,
            "port": port,
            "listening": !listeners.is_empty(),
            "listeners": listeners.iter().map(listener_json).collect::<Vec<_>>(),
            "service": service,
        }));
    }
    for (port, names) in &by_port {
        if names.len() > 1 {
            warnings.push(format!(
                "profiles {} all use port {port}: only one can run at a time; give each its own port (`openclaw --profile <name> config set gateway.port <port>`)",
                names.join(", ")
            ));
        }
    }
    let services: Vec<FoundService> = platform
        .map(|pl| control::find_services(pl, loc))
        .unwrap_or_default()
        .into_iter()
        .filter(|f| Some(f.path.as_path()) != own_primary)
        .collect();
    for s in services.iter().filter(|s| s.legacy) {
        warnings.push(format!(
            "legacy service {} is installed ({}); `openclaw doctor --fix` retires it",
            s.name,
            s.path.display()
        ));
    }
    let processes = gateway_processes();
    for p in processes.iter().filter(|p| p["legacy"] == true) {
        warnings.push(format!(
            "a clawdbot-era gateway is running (pid {}: {})",
            p["pid"],
            p["command"].as_str().unwrap_or("")
        ));
    }
    Deep {
        profiles,
        services,
        processes,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn recognizes_gateway_command_lines() {
        assert!(is_gateway_argv(&argv("/usr/bin/openclaw gateway --port 1")));
        assert!(is_gateway_argv(&argv(
            "/usr/bin/openclaw --profile a gateway"
        )));
        assert!(is_gateway_argv(&argv("openclaw gateway run")));
        assert!(is_gateway_argv(&argv(
            "node /opt/clawdbot/dist/index.js gateway"
        )));
        assert!(!is_gateway_argv(&argv("/usr/bin/openclaw gateway status")));
        assert!(!is_gateway_argv(&argv("/usr/bin/vim gateway")));
        assert_eq!(
            flag_value(&argv("x --port=5"), "--port").as_deref(),
            Some("5")
        );
    }
}
