//! The only part of this crate that does I/O: writing and removing definition files, and
//! driving the supervisor (`systemctl --user`, `launchctl`, `schtasks`) through a [`Runner`],
//! so tests substitute a fake and never touch the real service manager.

mod fsops;
pub mod launchd;
pub mod schtasks;
pub mod systemd;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::error::ServiceError;
use crate::naming::{MARKER_KEY, SERVICE_MARKER};
use crate::plan::{Locations, Plan, Platform};
use crate::spec::port_of;

pub use fsops::{ensure_dir, move_file, write_atomic};

/// What a finished command printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmdOutput {
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The most telling line for an error message: the last non-empty stderr line, else stdout.
    pub fn summary(&self) -> String {
        let pick = |s: &str| {
            s.lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .map(str::to_string)
        };
        pick(&self.stderr)
            .or_else(|| pick(&self.stdout))
            .unwrap_or_else(|| match self.code {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".to_string(),
            })
    }
}

/// Runs a supervisor command. The real one is [`SystemRunner`]; tests pass a fake.
pub trait Runner {
    fn run(&self, program: &str, args: &[String]) -> std::io::Result<CmdOutput>;
}

/// Runs commands for real, with a deadline so a wedged supervisor cannot hang the CLI.
#[derive(Debug, Clone)]
pub struct SystemRunner {
    pub timeout: Duration,
}

impl Default for SystemRunner {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
        }
    }
}

impl Runner for SystemRunner {
    fn run(&self, program: &str, args: &[String]) -> std::io::Result<CmdOutput> {
        use std::io::Read;
        use std::process::{Command, Stdio};
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut readers = Vec::new();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            readers.push(std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut s = stream;
                let _ = s.read_to_end(&mut buf);
                String::from_utf8_lossy(&buf).into_owned()
            }));
        }
        let deadline = std::time::Instant::now() + self.timeout;
        let status = loop {
            if let Some(st) = child.try_wait()? {
                break st;
            }
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("{program} did not finish within {:?}", self.timeout),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut outs = readers
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect::<Vec<_>>()
            .into_iter();
        Ok(CmdOutput {
            code: status.code(),
            stdout: outs.next().unwrap_or_default(),
            stderr: outs.next().unwrap_or_default(),
        })
    }
}

/// Which programs to run (overridable, e.g. by tests pointing at a fake `systemctl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub systemctl: String,
    pub loginctl: String,
    pub launchctl: String,
    pub schtasks: String,
}

impl Default for Tools {
    fn default() -> Self {
        Self {
            systemctl: "systemctl".into(),
            loginctl: "loginctl".into(),
            launchctl: "launchctl".into(),
            schtasks: "schtasks".into(),
        }
    }
}

/// Who we are and how to reach the supervisor.
pub struct Context<'a> {
    pub runner: &'a dyn Runner,
    pub tools: Tools,
    /// Numeric user id (launchd's `gui/<uid>` domain).
    pub uid: Option<u32>,
    /// Login name (`loginctl enable-linger <user>`).
    pub user: Option<String>,
}

impl Context<'_> {
    /// Runs `program args…`; a missing program or a timeout is an `Err` with a readable reason.
    pub(crate) fn exec(&self, program: &str, args: &[&str]) -> Result<CmdOutput, ServiceError> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        self.runner.run(program, &args).map_err(|source| {
            let program = program.to_string();
            if source.kind() == std::io::ErrorKind::NotFound {
                ServiceError::ToolNotFound { program }
            } else {
                ServiceError::Run { program, source }
            }
        })
    }
}

/// How bringing the service up went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Activation {
    /// Enabled and (re)started.
    Started,
    /// Definition unchanged and already running: nothing done.
    AlreadyRunning,
    /// The supervisor could not be reached (e.g. no user systemd in a container).
    Unreachable { detail: String, howto: Vec<String> },
    /// Reached, but a step failed.
    Failed {
        step: String,
        detail: String,
        howto: Vec<String>,
    },
}

impl Activation {
    pub fn ok(&self) -> bool {
        matches!(self, Activation::Started | Activation::AlreadyRunning)
    }
}

/// What `install` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallReport {
    pub platform: &'static str,
    pub name: String,
    pub path: PathBuf,
    /// False when an identical definition was already installed (nothing rewritten).
    pub written: bool,
    /// True when a different definition was overwritten (`--force`).
    pub replaced: bool,
    pub activation: Activation,
    pub hints: Vec<String>,
}

/// What `uninstall` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UninstallReport {
    pub platform: &'static str,
    pub name: String,
    pub path: PathBuf,
    pub was_installed: bool,
    pub removed: Vec<PathBuf>,
    /// Problems stopping/disabling it (the files are removed regardless).
    pub warnings: Vec<String>,
}

/// `start` / `stop` / `restart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
        }
    }
}

/// The supervisor's view of one gateway service (`gateway status` → `service`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    pub platform: &'static str,
    /// Unit name, launchd label or task name.
    pub label: String,
    pub unit_path: PathBuf,
    pub installed: bool,
    /// Why the installed definition looks incomplete (e.g. cut short while written).
    pub damaged: Option<String>,
    /// Carries `OPENCLAW_SERVICE_MARKER=openclaw`.
    pub ours: bool,
    pub loaded: Option<bool>,
    pub running: Option<bool>,
    pub enabled: Option<bool>,
    pub pid: Option<u32>,
    pub state: Option<String>,
    pub sub_state: Option<String>,
    pub command: Option<Vec<String>>,
    pub port: Option<u16>,
    pub profile: Option<String>,
    pub service_version: Option<String>,
    pub state_dir: Option<String>,
    pub log_file: Option<PathBuf>,
    /// Why the supervisor could not be asked (loaded/running are then unknown).
    pub supervisor_error: Option<String>,
    pub hints: Vec<String>,
}

/// An installed definition read back from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub program: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub problems: Vec<String>,
}

impl Installed {
    pub fn env_value(&self, key: &str) -> Option<&str> {
        crate::spec::env_value(&self.env, key)
    }

    /// Written by openclaw: carries the marker.
    pub fn ours(&self) -> bool {
        self.env_value(MARKER_KEY) == Some(SERVICE_MARKER)
    }
}

/// Parses definition text for `platform` (the task XML is checked for completeness only; the
/// wrapper script carries argv and env).
pub fn parse_definition(platform: Platform, text: &str, companion: Option<&str>) -> Installed {
    match platform {
        Platform::Systemd => {
            let p = crate::systemd::parse_unit(text);
            Installed {
                problems: p.problems(),
                program: p.exec_start,
                env: p.env,
            }
        }
        Platform::Launchd => {
            let p = crate::launchd::parse_plist(text);
            Installed {
                problems: p.problems(text),
                program: p.program,
                env: p.env,
            }
        }
        Platform::Schtasks => {
            let script = crate::schtasks::parse_script(companion.unwrap_or(""));
            let mut problems = script.problems();
            if !text.contains("</Task>") {
                problems.push("the task XML is incomplete (no </Task>)".to_string());
            }
            Installed {
                problems,
                program: script.program,
                env: script.env,
            }
        }
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, ServiceError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        // A file where a parent directory should be also means "not there"; creating the
        // directory later reports it properly.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(source) => Err(ServiceError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn decode(platform: Platform, bytes: &[u8]) -> String {
    match platform {
        Platform::Schtasks => crate::schtasks::from_utf16le_bom(bytes)
            .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned()),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Reads the plan's installed definition back; `None` when its primary file is absent.
pub fn installed_definition(plan: &Plan) -> Result<Option<Installed>, ServiceError> {
    let Some(primary) = read_optional(&plan.primary)? else {
        return Ok(None);
    };
    let text = decode(plan.platform, &primary);
    let companion = match plan.platform {
        Platform::Schtasks => match plan.artifacts.first() {
            Some(a) if a.path != plan.primary => {
                read_optional(&a.path)?.map(|b| String::from_utf8_lossy(&b).into_owned())
            }
            _ => None,
        },
        _ => None,
    };
    Ok(Some(parse_definition(
        plan.platform,
        &text,
        companion.as_deref(),
    )))
}

/// One line saying how an installed definition differs from the plan's.
fn describe_difference(installed: &Installed, plan: &Plan) -> String {
    let wanted = match plan.artifacts.last() {
        Some(a) => {
            let companion = plan
                .artifacts
                .first()
                .map(|c| String::from_utf8_lossy(&c.bytes).into_owned());
            parse_definition(
                plan.platform,
                &decode(plan.platform, &a.bytes),
                companion.as_deref(),
            )
        }
        None => return "differs".to_string(),
    };
    if installed.program != wanted.program {
        let show = |p: &Option<Vec<String>>| p.as_ref().map(|a| a.join(" ")).unwrap_or_default();
        return format!(
            "runs `{}` where this binary would write `{}`",
            show(&installed.program),
            show(&wanted.program)
        );
    }
    let mut keys: Vec<&str> = Vec::new();
    for (k, v) in &wanted.env {
        if installed.env_value(k) != Some(v.as_str()) {
            keys.push(k);
        }
    }
    for (k, _) in &installed.env {
        if wanted.env_value(k).is_none() && !keys.contains(&k.as_str()) {
            keys.push(k);
        }
    }
    if keys.is_empty() {
        "differs from what this binary would write".to_string()
    } else {
        format!("has a different environment ({})", keys.join(", "))
    }
}

/// Writes the plan's files (unless identical ones are there) and enables + starts the
/// service. A definition that differs is only replaced with `force`.
pub fn install(ctx: &Context<'_>, plan: &Plan, force: bool) -> Result<InstallReport, ServiceError> {
    let mut existing = Vec::new();
    for a in &plan.artifacts {
        existing.push(read_optional(&a.path)?);
    }
    let identical = existing
        .iter()
        .zip(&plan.artifacts)
        .all(|(e, a)| e.as_deref() == Some(a.bytes.as_slice()));
    let any_exists = existing.iter().any(Option::is_some);
    if !identical && any_exists && !force {
        let detail = match installed_definition(plan)? {
            Some(d) if !d.problems.is_empty() => {
                format!("is incomplete or damaged ({})", d.problems.join(", "))
            }
            Some(d) if !d.ours() => {
                format!("was not written by openclaw (no {MARKER_KEY}={SERVICE_MARKER})")
            }
            Some(d) => describe_difference(&d, plan),
            None => "a companion file differs".to_string(),
        };
        return Err(ServiceError::Conflict {
            path: plan.primary.clone(),
            detail,
        });
    }
    if !identical {
        for d in &plan.dirs {
            ensure_dir(d)?;
        }
        for a in &plan.artifacts {
            if let Some(parent) = a.path.parent() {
                ensure_dir(parent)?;
            }
            write_atomic(&a.path, &a.bytes)?;
        }
    }
    let activation = if identical && inspect(ctx, plan).running == Some(true) {
        Activation::AlreadyRunning
    } else {
        activate(ctx, plan)
    };
    let mut hints = Vec::new();
    if plan.platform == Platform::Systemd
        && activation.ok()
        && let Some(h) = systemd::linger_hint(ctx)
    {
        hints.push(h);
    }
    Ok(InstallReport {
        platform: plan.platform.name(),
        name: plan.name.clone(),
        path: plan.primary.clone(),
        written: !identical,
        replaced: any_exists && !identical,
        activation,
        hints,
    })
}

fn activate(ctx: &Context<'_>, plan: &Plan) -> Activation {
    match plan.platform {
        Platform::Systemd => systemd::activate(ctx, plan),
        Platform::Launchd => launchd::activate(ctx, plan),
        Platform::Schtasks => schtasks::activate(ctx, plan),
    }
}

/// Stops and disables the service, then removes exactly the plan's files — only when they
/// carry our marker, unless `force`.
pub fn uninstall(
    ctx: &Context<'_>,
    plan: &Plan,
    force: bool,
) -> Result<UninstallReport, ServiceError> {
    let present: Vec<&Path> = plan
        .artifacts
        .iter()
        .map(|a| a.path.as_path())
        .filter(|p| p.exists())
        .collect();
    let mut report = UninstallReport {
        platform: plan.platform.name(),
        name: plan.name.clone(),
        path: plan.primary.clone(),
        was_installed: !present.is_empty(),
        removed: Vec::new(),
        warnings: Vec::new(),
    };
    if present.is_empty() {
        return Ok(report);
    }
    if let Some(d) = installed_definition(plan)?
        && !d.ours()
        && !force
    {
        let detail = if d.problems.is_empty() {
            format!("no {MARKER_KEY}={SERVICE_MARKER}")
        } else {
            format!(
                "incomplete or damaged: {}; no {MARKER_KEY}={SERVICE_MARKER}",
                d.problems.join(", ")
            )
        };
        return Err(ServiceError::Foreign {
            path: plan.primary.clone(),
            detail,
        });
    }
    report.warnings = match plan.platform {
        Platform::Systemd => systemd::deactivate(ctx, plan),
        Platform::Launchd => launchd::deactivate(ctx, plan),
        Platform::Schtasks => schtasks::deactivate(ctx, plan),
    };
    // The primary file first: without it the service counts as not installed.
    let mut order: Vec<&Path> = vec![plan.primary.as_path()];
    order.extend(present.iter().filter(|p| **p != plan.primary));
    for p in order {
        match std::fs::remove_file(p) {
            Ok(()) => report.removed.push(p.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(ServiceError::Remove {
                    path: p.to_path_buf(),
                    source,
                });
            }
        }
    }
    if plan.platform == Platform::Systemd {
        systemd::daemon_reload_quietly(ctx);
    }
    Ok(report)
}

/// `start` / `stop` / `restart` of an installed service.
pub fn control(ctx: &Context<'_>, plan: &Plan, action: Action) -> Result<(), ServiceError> {
    if !plan.primary.exists() {
        return Err(ServiceError::NotInstalled {
            path: plan.primary.clone(),
        });
    }
    match plan.platform {
        Platform::Systemd => systemd::control(ctx, plan, action),
        Platform::Launchd => launchd::control(ctx, plan, action),
        Platform::Schtasks => schtasks::control(ctx, plan, action),
    }
}

/// The supervisor's view plus what the installed file says. Never fails: what cannot be
/// learned is left `None` with the reason in `supervisor_error` / `damaged`.
pub fn inspect(ctx: &Context<'_>, plan: &Plan) -> ServiceStatus {
    let mut st = ServiceStatus {
        platform: plan.platform.name(),
        label: plan.name.clone(),
        unit_path: plan.primary.clone(),
        log_file: plan.log_file.clone(),
        ..ServiceStatus::default()
    };
    match installed_definition(plan) {
        Ok(Some(d)) => {
            st.installed = true;
            st.ours = d.ours();
            if !d.problems.is_empty() {
                st.damaged = Some(d.problems.join(", "));
            }
            st.port = d.program.as_deref().and_then(port_of);
            st.command = d.program.clone();
            st.profile = d.env_value("OPENCLAW_PROFILE").map(str::to_string);
            st.service_version = d.env_value("OPENCLAW_SERVICE_VERSION").map(str::to_string);
            st.state_dir = d.env_value("OPENCLAW_STATE_DIR").map(str::to_string);
        }
        Ok(None) => {}
        Err(e) => st.damaged = Some(e.to_string()),
    }
    match plan.platform {
        Platform::Systemd => systemd::query(ctx, plan, &mut st),
        Platform::Launchd => launchd::query(ctx, plan, &mut st),
        Platform::Schtasks => schtasks::query(ctx, plan, &mut st),
    }
    st
}

/// A definition found on disk that is not the one being managed (`--deep`, doctor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundService {
    pub platform: &'static str,
    /// Unit file name or launchd label.
    pub name: String,
    pub path: PathBuf,
    /// A clawdbot-era name (`com.clawdbot.*`, `com.openclaw.*`, `clawdbot-gateway*.service`).
    pub legacy: bool,
    /// Carries our marker.
    pub ours: bool,
    pub command: Option<Vec<String>>,
    pub port: Option<u16>,
    pub profile: Option<String>,
}

fn mentions_gateway(program: &Option<Vec<String>>) -> bool {
    program.as_ref().is_some_and(|p| {
        let joined = p.join(" ").to_ascii_lowercase();
        ["openclaw", "clawdbot", "moltbot"]
            .iter()
            .any(|n| joined.contains(n))
            && p.iter().any(|a| a == "gateway")
    })
}

/// Gateway-like definitions in the user's supervisor directory: ours for any profile, legacy
/// names, and any other definition that runs an openclaw/clawdbot gateway.
pub fn find_services(platform: Platform, loc: &Locations) -> Vec<FoundService> {
    let (dir, ext) = match platform {
        Platform::Systemd => (loc.systemd_user_dir(), ".service"),
        Platform::Launchd => (loc.launch_agents_dir(), ".plist"),
        // Tasks live in the Task Scheduler, not in files we could list.
        Platform::Schtasks => return Vec::new(),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = file.strip_suffix(ext) else {
            continue;
        };
        let path = e.path();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let d = parse_definition(platform, &String::from_utf8_lossy(&bytes), None);
        let (name, legacy, named_ours) = match platform {
            Platform::Systemd => (
                file.clone(),
                crate::naming::is_legacy_unit(&file),
                crate::naming::is_gateway_unit(&file),
            ),
            _ => (
                stem.to_string(),
                crate::naming::is_legacy_label(stem),
                crate::naming::is_gateway_label(stem),
            ),
        };
        if !(legacy || named_ours || d.ours() || mentions_gateway(&d.program)) {
            continue;
        }
        out.push(FoundService {
            platform: platform.name(),
            name,
            path,
            legacy,
            ours: d.ours(),
            port: d.program.as_deref().and_then(port_of),
            profile: d.env_value("OPENCLAW_PROFILE").map(str::to_string),
            command: d.program,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Stops a legacy service and moves its definition into `backup_dir` (never deletes it).
/// Returns where the file went.
pub fn retire_legacy(
    ctx: &Context<'_>,
    found: &FoundService,
    backup_dir: &Path,
    stamp: &str,
) -> Result<PathBuf, ServiceError> {
    match found.platform {
        "systemd" => {
            let _ = ctx.exec(
                &ctx.tools.systemctl,
                &["--user", "disable", "--now", &found.name],
            );
        }
        "launchd" => {
            if let Some(uid) = ctx.uid {
                let _ = ctx.exec(
                    &ctx.tools.launchctl,
                    &["bootout", &format!("gui/{uid}/{}", found.name)],
                );
            }
        }
        _ => {}
    }
    let file = found
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| found.name.clone());
    let to = backup_dir.join(format!("{file}.{stamp}"));
    ensure_dir(backup_dir)?;
    move_file(&found.path, &to)?;
    if found.platform == "systemd" {
        systemd::daemon_reload_quietly(ctx);
    }
    Ok(to)
}
