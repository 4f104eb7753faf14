//! `openclaw doctor`: audits config (parse, validation, permissions), the state dir, the port,
//! the installed service against this binary and profile, and the auth posture; migrates
//! clawdbot-era state (`~/.clawdbot` → `~/.openclaw`, `clawdbot.json` → `openclaw.json`) and
//! retires legacy service definitions. It never deletes data: migrations copy, verify, and keep
//! the original as a timestamped backup.
//!
//! It also carries over a reference 2026.9 home's SQLite state (`openclaw_migrate`): sessions
//! and transcripts, pairings with their tokens, approved senders, exec approvals, cron jobs —
//! reported by plain `doctor`, imported by `--non-interactive`/`--fix`; the databases are only
//! read.
//!
//! Modes: plain `doctor` reports (and asks before migrating when attached to a terminal);
//! `--non-interactive` never asks and applies only the safe migrations; `--fix`/`--repair`/
//! `--yes` also repairs permissions and retires legacy services.

use std::io::IsTerminal;
use std::path::Path;

use clap::Args;
use openclaw_config::legacy::{self, Migration, MigrationStatus};
use openclaw_config::{AuthMode, Paths, ResolveError, RunOverrides, load_config};
use openclaw_gateway::portinfo;
use openclaw_service::control::{self, SystemRunner};
use serde_json::{Value, json};

use crate::{Outcome, deep, service_cmd};

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Apply every recommended repair: migrations, permissions, legacy services.
    #[arg(long, visible_alias = "repair")]
    pub fix: bool,
    /// Same as --fix, without asking.
    #[arg(long)]
    pub yes: bool,
    /// Never prompt; apply only the safe migrations (legacy state and config names).
    #[arg(long)]
    pub non_interactive: bool,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also scan for other gateways (profiles, services, processes).
    #[arg(long)]
    pub deep: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Ok,
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
    fn mark(self) -> &'static str {
        match self {
            Level::Ok | Level::Info => "✓",
            Level::Warn => "!",
            Level::Error => "✗",
        }
    }
}

struct Finding {
    id: &'static str,
    level: Level,
    message: String,
    fix: Option<String>,
    fixed: bool,
}

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, id: &'static str, level: Level, message: impl Into<String>) -> &mut Finding {
        self.0.push(Finding {
            id,
            level,
            message: message.into(),
            fix: None,
            fixed: false,
        });
        let last = self.0.len() - 1;
        &mut self.0[last]
    }
}

impl Finding {
    fn fix(&mut self, how: impl Into<String>) -> &mut Self {
        self.fix = Some(how.into());
        self
    }
}

/// Tokens anyone would guess.
const WEAK_SECRETS: &[&str] = &[
    "token", "secret", "password", "changeme", "openclaw", "clawdbot", "admin", "test", "123456",
];

fn secret_weakness(secret: &str, min: usize) -> Option<String> {
    let lower = secret.to_ascii_lowercase();
    if WEAK_SECRETS.contains(&lower.as_str()) {
        return Some("a well-known word".to_string());
    }
    if secret.len() < min {
        return Some(format!(
            "only {} characters (use at least {min})",
            secret.len()
        ));
    }
    let first = secret.chars().next();
    if secret.chars().all(|c| Some(c) == first) {
        return Some("one repeated character".to_string());
    }
    None
}

#[cfg(unix)]
fn mode_of(p: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode_of(_: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn chmod(p: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn chmod(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

/// Checks that `p` is private (no group/other bits); repairs it to `want` with `fix`.
fn check_private(f: &mut Findings, id: &'static str, p: &Path, want: u32, fix: bool) {
    let Some(mode) = mode_of(p) else {
        return;
    };
    if mode & 0o077 == 0 {
        return;
    }
    let what = format!(
        "{} is mode {mode:04o}; it should be {want:04o}",
        p.display()
    );
    let finding = f.add(id, Level::Warn, what);
    finding.fix(format!("chmod {want:o} {}", p.display()));
    if fix {
        match chmod(p, want) {
            Ok(()) => finding.fixed = true,
            Err(e) => finding.message.push_str(&format!(" (chmod failed: {e})")),
        }
    }
}

/// Sensitive files under the state dir, recursively (bounded).
fn private_files(dir: &Path, out: &mut Vec<std::path::PathBuf>, budget: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            private_files(&e.path(), out, budget);
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
}

fn migrations(
    paths: &Paths,
    home: &Path,
    stamp: &str,
    apply: bool,
) -> (Vec<Migration>, Option<String>) {
    let mut out = Vec::new();
    let mut note = None;
    let legacy_dirs: Vec<_> = legacy::legacy_state_dirs(home, paths.profile.as_deref())
        .into_iter()
        .filter(|d| d.is_dir())
        .collect();
    if openclaw_config::env::var("STATE_DIR").is_some() {
        if !legacy_dirs.is_empty() {
            note = Some(format!(
                "{} not migrated: the state dir is set by OPENCLAW_STATE_DIR/CLAWDBOT_STATE_DIR",
                legacy_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    } else {
        for from in legacy_dirs {
            out.push(legacy::migrate_state_dir(
                &from,
                &paths.state_dir,
                stamp,
                apply,
            ));
        }
    }
    if paths.config_path == paths.state_dir.join(legacy::CONFIG_NAME)
        && let Some(m) = legacy::migrate_config_file(&paths.state_dir, stamp, apply)
    {
        out.push(m);
    }
    (out, note)
}

/// The reference 2026.9 SQLite state (sessions, pairings, senders, approvals, cron): what is
/// still to import, conflicts, unreadable databases; imported when `apply`. Returns the JSON
/// report (`null` when there is no such state).
fn audit_reference_state(f: &mut Findings, paths: &Paths, apply: bool) -> Value {
    let state = &paths.state_dir;
    let sources = openclaw_migrate::detect(state);
    if sources.is_empty() {
        return Value::Null;
    }
    let plan = openclaw_migrate::plan(state);
    for e in &plan.errors {
        f.add("reference.import", Level::Error, e.clone())
            .fix("stop the reference gateway and check the file; nothing was taken from it");
    }
    let mut items = Vec::new();
    for i in &plan.items {
        let (status, why) = match &i.status {
            openclaw_migrate::Status::New => ("new", None),
            openclaw_migrate::Status::Present => ("present", None),
            openclaw_migrate::Status::Conflict(w) => ("conflict", Some(w.clone())),
            openclaw_migrate::Status::Skipped(w) => ("skipped", Some(w.clone())),
        };
        if let Some(w) = &why {
            f.add(
                "reference.import",
                Level::Warn,
                format!("{} {}: {status}, left as it is: {w}", i.kind.label(), i.id),
            );
        }
        items.push(json!({"kind": i.kind.label(), "id": i.id, "status": status, "reason": why}));
    }
    let new = plan.new_items();
    let summary = summarize(&plan);
    let mut imported = 0;
    if new > 0 && !apply {
        f.add(
            "reference.import",
            Level::Warn,
            format!("the reference 2026.9 state has {new} items not imported yet ({summary})"),
        )
        .fix("openclaw doctor --non-interactive (reads the reference's databases, never writes them)");
    } else if apply && (new > 0 || !openclaw_migrate::marker_path(state).exists()) {
        match openclaw_migrate::apply(state, &plan) {
            Ok(n) => {
                imported = n;
                let finding = f.add(
                    "reference.import",
                    Level::Info,
                    format!("imported {n} items of the reference 2026.9 state ({summary})"),
                );
                finding.fixed = n > 0;
            }
            Err(e) => {
                f.add(
                    "reference.import",
                    Level::Error,
                    format!("import failed: {e}"),
                );
            }
        }
    } else {
        f.add(
            "reference.import",
            Level::Ok,
            "the reference 2026.9 state is imported; nothing new to carry over",
        );
    }
    json!({
        "sources": sources,
        "items": items,
        "errors": plan.errors,
        "imported": imported,
        "pending": if apply { 0 } else { new },
    })
}

/// "2 sessions, 1 paired device, …" for the items still new.
fn summarize(plan: &openclaw_migrate::Plan) -> String {
    let mut counts: std::collections::BTreeMap<openclaw_migrate::Kind, usize> =
        std::collections::BTreeMap::new();
    for i in plan
        .items
        .iter()
        .filter(|i| i.status == openclaw_migrate::Status::New)
    {
        *counts.entry(i.kind).or_default() += 1;
    }
    if counts.is_empty() {
        return "nothing new".into();
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} × {}", k.label()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ask(question: &str) -> bool {
    use std::io::Write;
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok()
        && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn audit_config(f: &mut Findings, paths: &Paths, dev: bool, fix: bool, legacy_pending: bool) {
    let loaded = match load_config(&paths.config_path) {
        Ok(l) => l,
        Err(e) => {
            f.add("config.parse", Level::Error, e.to_string())
                .fix("edit the file; `openclaw config get <path>` shows what parses");
            return;
        }
    };
    if loaded.exists {
        f.add(
            "config.parse",
            Level::Ok,
            format!("{} parses and validates", paths.config_path.display()),
        );
        check_private(f, "config.permissions", &paths.config_path, 0o600, fix);
    } else if legacy_pending {
        // The clawdbot config becomes this one once migrated; judging defaults now would
        // only add noise.
        f.add(
            "config.parse",
            Level::Info,
            format!(
                "no config file at {} yet: the legacy one arrives with the migration",
                paths.config_path.display()
            ),
        );
        return;
    } else {
        f.add(
            "config.parse",
            Level::Info,
            format!(
                "no config file at {} (defaults apply)",
                paths.config_path.display()
            ),
        );
    }
    let strict = openclaw_config::resolve::resolve_gateway(
        &loaded,
        &RunOverrides {
            dev,
            ..RunOverrides::default()
        },
    );
    match strict {
        Err(e @ (ResolveError::MissingConfig | ResolveError::NotLocal(_))) => {
            f.add(
                "config.mode",
                Level::Warn,
                format!("the gateway will refuse to start: {e}"),
            )
            .fix("openclaw config set gateway.mode local");
        }
        Err(e @ ResolveError::NoAuthBeyondLoopback(_)) => {
            f.add("auth.exposure", Level::Error, e.to_string())
                .fix("openclaw config set gateway.auth.token <a long random token>");
        }
        Err(e) => {
            f.add("config.resolve", Level::Error, e.to_string());
        }
        Ok(_) => {
            f.add("config.mode", Level::Ok, "gateway.mode is local");
        }
    }
    // Auth posture, judged on what the gateway would actually run with.
    let relaxed = openclaw_config::resolve::resolve_gateway(
        &loaded,
        &RunOverrides {
            dev,
            allow_unconfigured: true,
            ..RunOverrides::default()
        },
    );
    let Ok(settings) = relaxed else {
        return;
    };
    let exposed = !settings.bind.is_loopback();
    let level = if exposed { Level::Error } else { Level::Warn };
    match &settings.auth {
        AuthMode::Token(t) => match secret_weakness(t, 16) {
            Some(why) => {
                f.add(
                    "auth.token",
                    level,
                    format!("the gateway token is weak: {why}"),
                )
                .fix("openclaw config set gateway.auth.token \"$(openssl rand -hex 24)\"");
            }
            None => {
                f.add("auth.token", Level::Ok, "token auth with a strong token");
            }
        },
        AuthMode::Password(p) => match secret_weakness(p, 12) {
            Some(why) => {
                f.add(
                    "auth.password",
                    level,
                    format!("the gateway password is weak: {why}"),
                )
                .fix("choose a longer password (gateway.auth.password)");
            }
            None => {
                f.add(
                    "auth.password",
                    Level::Ok,
                    "password auth with a strong password",
                );
            }
        },
        AuthMode::None => {
            f.add(
                "auth.mode",
                Level::Info,
                "no shared secret configured: the gateway generates a token for each start (the local CLI reads it from the state dir); remote clients need gateway.auth.token",
            );
        }
    }
    if exposed {
        f.add(
            "auth.exposure",
            Level::Info,
            format!(
                "bound beyond loopback ({}): reachable from the network, protected by {} auth",
                settings.bind.name(),
                settings.auth.name()
            ),
        );
    }
    let cui = loaded.config.gateway().control_ui.unwrap_or_default();
    if cui.dangerously_disable_device_auth == Some(true) {
        f.add(
            "auth.controlUi",
            Level::Warn,
            "gateway.controlUi.dangerouslyDisableDeviceAuth is on: the Control UI skips device auth",
        )
        .fix("openclaw config unset gateway.controlUi.dangerouslyDisableDeviceAuth");
    }
}

fn audit_state(f: &mut Findings, paths: &Paths, fix: bool) {
    let dir = &paths.state_dir;
    if !dir.exists() {
        f.add(
            "state.layout",
            Level::Info,
            format!(
                "{} does not exist yet (created on first start)",
                dir.display()
            ),
        );
        return;
    }
    if !dir.is_dir() {
        f.add(
            "state.layout",
            Level::Error,
            format!("{} exists but is not a directory", dir.display()),
        )
        .fix("move it aside; the gateway needs a directory there");
        return;
    }
    let probe = dir.join(format!(".doctor-write-test-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            f.add(
                "state.layout",
                Level::Ok,
                format!("{} is writable", dir.display()),
            );
        }
        Err(e) => {
            f.add(
                "state.layout",
                Level::Error,
                format!("{} is not writable: {e}", dir.display()),
            );
        }
    }
    check_private(f, "state.permissions", dir, 0o700, fix);
    for sub in ["identity", "devices", "credentials", "agents"] {
        let p = dir.join(sub);
        if p.is_dir() {
            check_private(f, "state.permissions", &p, 0o700, fix);
        }
    }
    let mut files = Vec::new();
    let mut budget = 10_000;
    for sub in ["identity", "devices", "credentials"] {
        private_files(&dir.join(sub), &mut files, &mut budget);
    }
    for file in files {
        check_private(f, "state.permissions", &file, 0o600, fix);
    }
}

fn audit_port(f: &mut Findings, paths: &Paths, dev: bool) {
    let (port, _) = service_cmd::resolved_port(paths, dev);
    let listeners = portinfo::listeners(port);
    if listeners.is_empty() {
        f.add("port", Level::Ok, format!("port {port} is free"));
    }
    for l in &listeners {
        let who = format!(
            "{} ({})",
            l.pid
                .map(|p| format!("pid {p}"))
                .unwrap_or_else(|| "an unknown process".into()),
            l.command.as_deref().unwrap_or("?")
        );
        if deep::is_gateway_listener(l) {
            f.add(
                "port",
                Level::Info,
                format!("a gateway listens on port {port}: {who}"),
            );
        } else {
            f.add(
                "port",
                Level::Warn,
                format!("port {port} is taken by {who}: the gateway cannot start there"),
            )
            .fix("stop that process, or choose another port: openclaw config set gateway.port <port>");
        }
    }
    // Other profiles configured for the same port.
    let home = openclaw_config::env::home_dir();
    for (profile, state) in deep::profile_dirs(&home) {
        if state == paths.state_dir {
            continue;
        }
        let Ok(l) = load_config(&state.join("openclaw.json")) else {
            continue;
        };
        if !l.exists {
            continue;
        }
        let other = l.config.gateway.as_ref().and_then(|g| g.port).unwrap_or(
            if profile.as_deref() == Some("dev") {
                openclaw_config::DEV_PORT
            } else {
                openclaw_config::DEFAULT_PORT
            },
        );
        if other == port {
            f.add(
                "port.profiles",
                Level::Warn,
                format!(
                    "profile {} also uses port {port}: the two cannot run at the same time",
                    profile.as_deref().unwrap_or("default")
                ),
            )
            .fix("give each profile its own port: openclaw --profile <name> config set gateway.port <port>");
        }
    }
}

fn audit_service(f: &mut Findings, paths: &Paths, dev: bool, fix: bool, stamp: &str) {
    let (port, _) = service_cmd::resolved_port(paths, dev);
    let setup = match service_cmd::setup(paths, port, None) {
        Ok(s) => s,
        Err(e) => {
            f.add("service", Level::Info, e.to_string());
            return;
        }
    };
    let runner = SystemRunner::default();
    let ctx = service_cmd::context(&runner);
    let st = control::inspect(&ctx, &setup.plan);
    if !st.installed {
        f.add(
            "service",
            Level::Info,
            format!(
                "{} is not installed (`openclaw gateway install` sets it up)",
                st.label
            ),
        );
    } else {
        let mut problems = Vec::new();
        if let Some(d) = &st.damaged {
            problems.push(format!("looks incomplete ({d})"));
        }
        if !st.ours {
            problems.push("was not written by openclaw".to_string());
        }
        match st.command.as_ref().and_then(|c| c.first()) {
            Some(exe) if !Path::new(exe).exists() => {
                f.add(
                    "service.binary",
                    Level::Error,
                    format!("{} runs {exe}, which does not exist", st.label),
                )
                .fix("openclaw gateway install --force");
            }
            Some(exe) if *exe != setup.spec.program[0] => problems.push(format!(
                "runs {exe}, not this binary ({})",
                setup.spec.program[0]
            )),
            _ => {}
        }
        if st.port.is_some_and(|p| p != port) {
            problems.push(format!(
                "runs port {}, but the config resolves port {port}",
                st.port.unwrap_or_default()
            ));
        }
        let state = paths.state_dir.to_string_lossy();
        if st.state_dir.as_deref().is_some_and(|s| s != state) {
            problems.push(format!(
                "uses state dir {}, not {state}",
                st.state_dir.as_deref().unwrap_or("")
            ));
        }
        if problems.is_empty() {
            f.add(
                "service",
                Level::Ok,
                format!("{} matches this binary and profile", st.label),
            );
        } else {
            f.add(
                "service",
                Level::Warn,
                format!("{} {}", st.label, problems.join("; ")),
            )
            .fix("openclaw gateway install --force");
        }
    }
    let backups = paths.state_dir.join("backups").join("services");
    for legacy in service_cmd::legacy_services(&setup) {
        let finding = f.add(
            "service.legacy",
            Level::Warn,
            format!(
                "legacy service {} is installed ({})",
                legacy.name,
                legacy.path.display()
            ),
        );
        finding.fix(format!(
            "openclaw doctor --fix (stops it and moves it into {})",
            backups.display()
        ));
        if fix {
            match control::retire_legacy(&ctx, &legacy, &backups, stamp) {
                Ok(to) => {
                    finding.fixed = true;
                    finding
                        .message
                        .push_str(&format!("; moved to {}", to.display()));
                }
                Err(e) => finding
                    .message
                    .push_str(&format!(" (could not retire it: {e})")),
            }
        }
    }
}

fn audit_env(f: &mut Findings) {
    for v in legacy::legacy_env_vars(std::env::vars()) {
        let message = if v.shadowed {
            format!("{} is set but ignored ({} wins)", v.name, v.replacement)
        } else {
            format!(
                "{} is set (still honoured; the new name is {})",
                v.name, v.replacement
            )
        };
        f.add("env.legacy", Level::Warn, message).fix(format!(
            "rename {} to {} in your environment",
            v.name, v.replacement
        ));
    }
}

fn migration_line(m: &Migration) -> String {
    let what = format!("{} → {}", m.from.display(), m.to.display());
    match m.status {
        MigrationStatus::Applied => format!(
            "migrated {what} (files: {}; original kept at {})",
            m.files,
            m.backup
                .as_ref()
                .map(|b| b.display().to_string())
                .unwrap_or_default()
        ),
        MigrationStatus::Pending => format!(
            "{what} pending: `openclaw doctor --non-interactive` (or --fix) moves it, keeping a backup"
        ),
        MigrationStatus::Conflict => format!(
            "{what} not migrated: both hold different data ({}); left both untouched — merge by hand",
            m.conflicts.join(", ")
        ),
        MigrationStatus::Failed => format!(
            "{what} failed: {}; the legacy data is untouched",
            m.error.as_deref().unwrap_or("?")
        ),
    }
}

/// `openclaw doctor`.
pub fn run(paths: &Paths, dev: bool, args: DoctorArgs) -> Outcome {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    let home = openclaw_config::env::home_dir();
    let fix = args.fix || args.yes;
    let mode = if fix {
        "fix"
    } else if args.non_interactive {
        "non-interactive"
    } else {
        "report"
    };
    let (planned, note) = migrations(paths, &home, &stamp, false);
    let pending = planned.iter().any(|m| m.status == MigrationStatus::Pending);
    let mut apply = fix || args.non_interactive;
    if pending && !apply && !args.json && std::io::stdin().is_terminal() {
        for m in &planned {
            eprintln!("{}", migration_line(m));
        }
        if ask("Migrate now (a backup of everything is kept)?") {
            apply = true;
        }
    }
    let migrations = if apply && pending {
        migrations(paths, &home, &stamp, true).0
    } else {
        planned
    };

    let mut f = Findings::default();
    for m in &migrations {
        let level = match m.status {
            MigrationStatus::Applied => Level::Info,
            MigrationStatus::Pending | MigrationStatus::Conflict => Level::Warn,
            MigrationStatus::Failed => Level::Error,
        };
        let finding = f.add("legacy.state", level, migration_line(m));
        finding.fixed = m.status == MigrationStatus::Applied;
    }
    if let Some(n) = note {
        f.add("legacy.state", Level::Info, n);
    }
    audit_env(&mut f);
    let legacy_pending = migrations
        .iter()
        .any(|m| m.status == MigrationStatus::Pending);
    audit_config(&mut f, paths, dev, fix, legacy_pending);
    audit_state(&mut f, paths, fix);
    let reference = audit_reference_state(&mut f, paths, fix || args.non_interactive);
    audit_port(&mut f, paths, dev);
    audit_service(&mut f, paths, dev, fix, &stamp);
    let deep_json = if args.deep {
        let (port, _) = service_cmd::resolved_port(paths, dev);
        let setup = service_cmd::setup(paths, port, None).ok();
        let d = deep::scan(
            paths,
            port,
            setup.as_ref().map(|s| s.platform),
            &service_cmd::locations(),
            setup.as_ref().map(|s| s.plan.primary.as_path()),
        );
        for w in &d.warnings {
            f.add("deep", Level::Warn, w.clone());
        }
        json!({"profiles": d.profiles, "extraServices": d.services, "processes": d.processes})
    } else {
        Value::Null
    };

    let unresolved = |l: Level| f.0.iter().filter(|x| x.level == l && !x.fixed).count();
    let errors = unresolved(Level::Error);
    let warnings = unresolved(Level::Warn);
    let fixed = f.0.iter().filter(|x| x.fixed).count();
    if args.json {
        let checks: Vec<Value> = f
            .0
            .iter()
            .map(|x| {
                json!({"id": x.id, "level": x.level.name(), "message": x.message, "fix": x.fix, "fixed": x.fixed})
            })
            .collect();
        let out = json!({
            "ok": errors == 0,
            "mode": mode,
            "profile": paths.profile,
            "stateDir": paths.state_dir,
            "configPath": paths.config_path,
            "checks": checks,
            "migrations": migrations,
            "referenceImport": reference,
            "deep": deep_json,
            "summary": {"errors": errors, "warnings": warnings, "fixed": fixed},
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!(
            "OpenClaw doctor · profile {} · state {}",
            paths.profile.as_deref().unwrap_or("default"),
            paths.state_dir.display()
        );
        let mut sorted: Vec<&Finding> = f.0.iter().collect();
        sorted.sort_by_key(|x| std::cmp::Reverse(if x.fixed { Level::Info } else { x.level }));
        for x in sorted {
            let mark = if x.fixed { "✓" } else { x.level.mark() };
            println!(
                "{mark} [{}] {}{}",
                x.id,
                x.message,
                if x.fixed { " (fixed)" } else { "" }
            );
            if let (Some(how), false) = (&x.fix, x.fixed)
                && x.level >= Level::Warn
            {
                println!("    fix: {how}");
            }
        }
        println!("Doctor complete: {errors} errors, {warnings} warnings, {fixed} fixed.");
    }
    if errors == 0 {
        Outcome::Done
    } else {
        Outcome::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_secrets() {
        assert!(secret_weakness("changeme", 16).is_some());
        assert!(secret_weakness("short", 16).is_some());
        assert!(secret_weakness(&"a".repeat(40), 16).is_some());
        assert!(secret_weakness("f3a9c2e17b6d4a58e0c1", 16).is_none());
    }
}
