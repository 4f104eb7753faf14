//! `openclaw gateway install|uninstall|start|stop|restart`: builds this profile's service
//! definition from the resolved paths and port, and hands it to `openclaw-service`. The
//! supervisor programs can be redirected with `OPENCLAW_SYSTEMCTL`, `OPENCLAW_LOGINCTL`,
//! `OPENCLAW_LAUNCHCTL` and `OPENCLAW_SCHTASKS` (tests point them at fakes).

use std::path::PathBuf;

use clap::Args;
use openclaw_config::{Paths, RunOverrides, load_config};
use openclaw_service::control::{
    self, Action, Activation, Context, FoundService, InstallReport, SystemRunner, Tools,
};
use openclaw_service::{GatewayServiceInput, Locations, Plan, Platform, ServiceSpec};
use serde_json::{Value, json};

use crate::Outcome;
use crate::error::CliError;

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// Port the service runs the gateway on (default: the resolved gateway port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Put this token in the service's environment (OPENCLAW_GATEWAY_TOKEN; the file is 0600).
    #[arg(long)]
    pub token: Option<String>,
    /// Rewrite an installed definition that differs from what this binary would write.
    #[arg(long)]
    pub force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct UninstallArgs {
    /// Remove the definition even when it does not carry our marker.
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ControlArgs {
    #[arg(long)]
    pub json: bool,
}

/// This profile's service: where it lives and what it runs.
pub struct Setup {
    pub platform: Platform,
    pub loc: Locations,
    pub spec: ServiceSpec,
    pub plan: Plan,
}

/// The user's directories: HOME, and `$XDG_CONFIG_HOME` when it is an absolute path.
pub fn locations() -> Locations {
    Locations {
        home: openclaw_config::env::home_dir(),
        xdg_config_home: std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute()),
    }
}

pub fn tools() -> Tools {
    let pick = |var: &str, default: String| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or(default)
    };
    let d = Tools::default();
    Tools {
        systemctl: pick("OPENCLAW_SYSTEMCTL", d.systemctl),
        loginctl: pick("OPENCLAW_LOGINCTL", d.loginctl),
        launchctl: pick("OPENCLAW_LAUNCHCTL", d.launchctl),
        schtasks: pick("OPENCLAW_SCHTASKS", d.schtasks),
    }
}

pub fn context(runner: &SystemRunner) -> Context<'_> {
    #[cfg(unix)]
    // SAFETY: getuid(2) has no preconditions and cannot fail.
    let uid = Some(unsafe { libc::getuid() });
    #[cfg(not(unix))]
    let uid = None;
    Context {
        runner,
        tools: tools(),
        uid,
        user: std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|u| !u.is_empty()),
    }
}

/// The port the gateway resolves for this profile (config, env, default); a config that does
/// not load falls back to the default and says why.
pub fn resolved_port(paths: &Paths, dev: bool) -> (u16, Option<String>) {
    let fallback = if dev {
        openclaw_config::DEV_PORT
    } else {
        openclaw_config::DEFAULT_PORT
    };
    match load_config(&paths.config_path) {
        Ok(loaded) => match openclaw_config::resolve::resolve_port(None, &loaded, dev) {
            Ok(p) => (p, None),
            Err(e) => (fallback, Some(e.to_string())),
        },
        Err(e) => (fallback, Some(e.to_string())),
    }
}

/// The path of this binary, as a service should run it.
pub fn current_exe() -> Result<String, CliError> {
    let exe = std::env::current_exe().map_err(CliError::CurrentExe)?;
    let Some(text) = exe.to_str() else {
        return Err(CliError::ExeNotUtf8(exe));
    };
    // Linux marks a replaced binary "(deleted)"; the path itself is still the one to run.
    Ok(text.trim_end_matches(" (deleted)").to_string())
}

fn path_str(p: &std::path::Path) -> Result<&str, CliError> {
    p.to_str()
        .ok_or_else(|| CliError::PathNotUtf8(p.to_path_buf()))
}

/// Builds the definition and plan for this profile on this OS.
pub fn setup(paths: &Paths, port: u16, token: Option<&str>) -> Result<Setup, CliError> {
    let platform = Platform::host().ok_or(CliError::UnsupportedOs(std::env::consts::OS))?;
    let exe = current_exe()?;
    let spec = ServiceSpec::gateway(&GatewayServiceInput {
        exe: &exe,
        port,
        profile: paths.profile.as_deref(),
        state_dir: path_str(&paths.state_dir)?,
        config_path: path_str(&paths.config_path)?,
        version: env!("CARGO_PKG_VERSION"),
        token,
    })?;
    let loc = locations();
    let plan = openclaw_service::plan(platform, &spec, &loc)?;
    Ok(Setup {
        platform,
        loc,
        spec,
        plan,
    })
}

/// Legacy (clawdbot-era) definitions still installed for this user.
pub fn legacy_services(s: &Setup) -> Vec<FoundService> {
    control::find_services(s.platform, &s.loc)
        .into_iter()
        .filter(|f| f.legacy)
        .collect()
}

/// Why the gateway would refuse to start with this config (the service would crash-loop).
fn start_problem(paths: &Paths, port: u16) -> Option<String> {
    let loaded = match load_config(&paths.config_path) {
        Ok(l) => l,
        Err(e) => return Some(e.to_string()),
    };
    let overrides = RunOverrides {
        port: Some(port),
        ..RunOverrides::default()
    };
    openclaw_config::resolve::resolve_gateway(&loaded, &overrides)
        .err()
        .map(|e| e.to_string())
}

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn activation_lines(report: &InstallReport) -> Vec<String> {
    match &report.activation {
        Activation::Started => vec![format!(
            "Enabled and started {} ({}).",
            report.name, report.platform
        )],
        Activation::AlreadyRunning => vec![format!("{} is running; nothing to do.", report.name)],
        Activation::Unreachable { detail, howto } => {
            let mut l = vec![format!(
                "Could not enable or start {}: the service manager is not reachable ({detail}).",
                report.name
            )];
            l.push("The definition is written; to finish by hand:".to_string());
            l.extend(howto.iter().map(|h| format!("  {h}")));
            l
        }
        Activation::Failed {
            step,
            detail,
            howto,
        } => {
            let mut l = vec![format!(
                "Could not start {}: `{step}` failed: {detail}",
                report.name
            )];
            l.push("Look at:".to_string());
            l.extend(howto.iter().map(|h| format!("  {h}")));
            l
        }
    }
}

/// `openclaw gateway install`.
pub fn install(paths: &Paths, dev: bool, args: InstallArgs) -> Outcome {
    let port = match args.port {
        Some(p) => p,
        None => resolved_port(paths, dev).0,
    };
    let s = match setup(paths, port, args.token.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Failed;
        }
    };
    let mut warnings = Vec::new();
    if let Some(p) = start_problem(paths, port) {
        warnings.push(format!(
            "the gateway will refuse to start until this is fixed: {p}"
        ));
    }
    let legacy = legacy_services(&s);
    for l in &legacy {
        warnings.push(format!(
            "legacy service {} is still installed ({}); `openclaw doctor --fix` stops it and moves it into a backup",
            l.name,
            l.path.display()
        ));
    }
    let runner = SystemRunner::default();
    let result = control::install(&context(&runner), &s.plan, args.force);
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            if args.json {
                print_json(&json!({"ok": false, "error": e.to_string(), "path": s.plan.primary}));
            } else {
                eprintln!("{e}");
            }
            return Outcome::Failed;
        }
    };
    let ok = report.activation.ok();
    if args.json {
        print_json(&json!({
            "ok": ok,
            "install": report,
            "command": s.spec.program,
            "warnings": warnings,
            "legacy": legacy,
        }));
    } else {
        if report.written {
            println!(
                "{} {} at {}",
                if report.replaced {
                    "Rewrote"
                } else {
                    "Installed"
                },
                report.name,
                report.path.display()
            );
            println!("  runs: {}", s.spec.program.join(" "));
        } else {
            println!(
                "{} is already installed and up to date ({}).",
                report.name,
                report.path.display()
            );
        }
        let lines = activation_lines(&report);
        for l in &lines {
            if ok {
                println!("{l}");
            } else {
                eprintln!("{l}");
            }
        }
        for h in report.hints.iter().chain(&warnings) {
            eprintln!("warning: {h}");
        }
    }
    if ok { Outcome::Done } else { Outcome::Failed }
}

/// `openclaw gateway uninstall`.
pub fn uninstall(paths: &Paths, dev: bool, args: UninstallArgs) -> Outcome {
    let s = match setup(paths, resolved_port(paths, dev).0, None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Failed;
        }
    };
    let runner = SystemRunner::default();
    match control::uninstall(&context(&runner), &s.plan, args.force) {
        Ok(r) => {
            if args.json {
                print_json(&json!({"ok": true, "uninstall": r}));
            } else if !r.was_installed {
                println!(
                    "{} is not installed ({}); nothing to do.",
                    r.name,
                    r.path.display()
                );
            } else {
                for p in &r.removed {
                    println!("Removed {}", p.display());
                }
                for w in &r.warnings {
                    eprintln!("warning: {w}");
                }
            }
            Outcome::Done
        }
        Err(e) => {
            if args.json {
                print_json(&json!({"ok": false, "error": e.to_string()}));
            } else {
                eprintln!("{e}");
            }
            Outcome::Failed
        }
    }
}

/// `openclaw gateway start|stop|restart`. Start and restart check the config first: a
/// gateway that would refuse to start is not (re)started.
pub fn control_cmd(paths: &Paths, dev: bool, action: Action, args: ControlArgs) -> Outcome {
    let (port, _) = resolved_port(paths, dev);
    let s = match setup(paths, port, None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Failed;
        }
    };
    if action != Action::Stop
        && let Some(p) = start_problem(paths, port)
    {
        let msg = format!("Not {}ing {}: {p}", action.name(), s.plan.name);
        if args.json {
            print_json(&json!({"ok": false, "action": action.name(), "error": msg}));
        } else {
            eprintln!("{msg}");
        }
        return Outcome::Failed;
    }
    let runner = SystemRunner::default();
    let result = control::control(&context(&runner), &s.plan, action);
    let past = match action {
        Action::Start => "Started",
        Action::Stop => "Stopped",
        Action::Restart => "Restarted",
    };
    match result {
        Ok(()) => {
            if args.json {
                print_json(&json!({"ok": true, "action": action.name(), "name": s.plan.name}));
            } else {
                println!("{past} {}.", s.plan.name);
            }
            Outcome::Done
        }
        Err(e) => {
            if args.json {
                print_json(&json!({"ok": false, "action": action.name(), "error": e.to_string()}));
            } else {
                eprintln!("{e}");
            }
            Outcome::Failed
        }
    }
}
