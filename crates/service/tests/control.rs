//! Install, uninstall, start/stop and inspection against a fake supervisor: the files land in
//! a temp HOME and every supervisor command is recorded, never run.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use openclaw_service::control::{
    self, Action, Activation, CmdOutput, Context, Runner, Tools, find_services, retire_legacy,
};
use openclaw_service::{GatewayServiceInput, Locations, Plan, Platform, ServiceError, ServiceSpec};

type Respond = Box<dyn Fn(&str, &[String]) -> CmdOutput + Send + Sync>;

/// Records `program arg…` lines and answers with `respond`.
struct Fake {
    calls: Mutex<Vec<String>>,
    respond: Respond,
}

impl Fake {
    fn new(respond: impl Fn(&str, &[String]) -> CmdOutput + Send + Sync + 'static) -> Self {
        Self {
            calls: Mutex::new(Vec::new()),
            respond: Box::new(respond),
        }
    }
    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl Runner for Fake {
    fn run(&self, program: &str, args: &[String]) -> std::io::Result<CmdOutput> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("{program} {}", args.join(" ")));
        Ok((self.respond)(program, args))
    }
}

fn ok(stdout: &str) -> CmdOutput {
    CmdOutput {
        code: Some(0),
        stdout: stdout.to_string(),
        stderr: String::new(),
    }
}

fn fail(stderr: &str) -> CmdOutput {
    CmdOutput {
        code: Some(1),
        stdout: String::new(),
        stderr: stderr.to_string(),
    }
}

fn no_bus(_: &str, _: &[String]) -> CmdOutput {
    fail("Failed to connect to bus: No medium found")
}

/// A healthy user manager: `show` says active with pid 4242, lingering is off.
fn healthy(program: &str, args: &[String]) -> CmdOutput {
    match (program, args.get(1).map(String::as_str)) {
        ("loginctl", _) => ok("Linger=no\n"),
        (_, Some("show")) => ok(
            "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nUnitFileState=enabled\n",
        ),
        _ => ok(""),
    }
}

fn ctx(fake: &Fake) -> Context<'_> {
    Context {
        runner: fake,
        tools: Tools::default(),
        uid: Some(501),
        user: Some("me".to_string()),
    }
}

struct Setup {
    home: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
        }
    }
    fn loc(&self) -> Locations {
        Locations {
            home: self.home.path().to_path_buf(),
            xdg_config_home: None,
        }
    }
    fn state(&self) -> PathBuf {
        self.home.path().join(".openclaw")
    }
    fn plan(&self, platform: Platform, port: u16, profile: Option<&str>) -> Plan {
        let state = self.state();
        let config = state.join("openclaw.json");
        let spec = ServiceSpec::gateway(&GatewayServiceInput {
            exe: "/usr/local/bin/openclaw",
            port,
            profile,
            state_dir: state.to_str().unwrap(),
            config_path: config.to_str().unwrap(),
            version: "2026.9.6",
            token: None,
        })
        .unwrap();
        openclaw_service::plan(platform, &spec, &self.loc()).unwrap()
    }
    fn unit_dir(&self) -> PathBuf {
        self.home.path().join(".config/systemd/user")
    }
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn systemd_unreachable_still_writes_the_unit_and_says_how_to_finish() {
    let s = Setup::new();
    let fake = Fake::new(no_bus);
    let plan = s.plan(Platform::Systemd, 18789, None);
    let r = control::install(&ctx(&fake), &plan, false).unwrap();
    assert!(r.written && !r.replaced);
    let unit = s.unit_dir().join("openclaw-gateway.service");
    assert_eq!(r.path, unit);
    assert_eq!(std::fs::read(&unit).unwrap(), plan.artifacts[0].bytes);
    assert_eq!(mode(&unit), 0o600);
    match &r.activation {
        Activation::Unreachable { detail, howto } => {
            assert!(detail.contains("Failed to connect to bus"), "{detail}");
            assert!(
                howto
                    .iter()
                    .any(|h| h == "systemctl --user enable --now openclaw-gateway.service")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!r.activation.ok());
    assert!(r.hints.is_empty(), "no linger hint when nothing started");
}

#[test]
fn systemd_install_enables_and_restarts_then_is_a_no_op() {
    let s = Setup::new();
    let fake = Fake::new(healthy);
    let plan = s.plan(Platform::Systemd, 18789, Some("work"));
    let r = control::install(&ctx(&fake), &plan, false).unwrap();
    assert_eq!(r.activation, Activation::Started);
    assert_eq!(
        fake.calls(),
        [
            "systemctl --user daemon-reload",
            "systemctl --user enable openclaw-gateway-work.service",
            "systemctl --user restart openclaw-gateway-work.service",
            "loginctl show-user me --property=Linger",
        ]
    );
    assert!(
        r.hints[0].contains("loginctl enable-linger me"),
        "{:?}",
        r.hints
    );
    let unit = s.unit_dir().join("openclaw-gateway-work.service");
    let before = std::fs::metadata(&unit).unwrap().modified().unwrap();

    // Identical and running: nothing is rewritten or restarted.
    let r = control::install(&ctx(&fake), &plan, false).unwrap();
    assert!(!r.written);
    assert_eq!(r.activation, Activation::AlreadyRunning);
    assert!(
        fake.calls()
            .iter()
            .all(|c| c.contains(" show ") || c.starts_with("loginctl")),
    );
    assert_eq!(
        std::fs::metadata(&unit).unwrap().modified().unwrap(),
        before
    );

    let st = control::inspect(&ctx(&fake), &plan);
    assert!(st.installed && st.ours && st.running == Some(true) && st.enabled == Some(true));
    assert_eq!(st.pid, Some(4242));
    assert_eq!(st.port, Some(18789));
    assert_eq!(st.profile.as_deref(), Some("work"));
}

#[test]
fn a_different_unit_needs_force() {
    let s = Setup::new();
    let fake = Fake::new(healthy);
    control::install(&ctx(&fake), &s.plan(Platform::Systemd, 1111, None), false).unwrap();
    let newer = s.plan(Platform::Systemd, 2222, None);
    let e = control::install(&ctx(&fake), &newer, false).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ServiceError::Conflict { .. }), "{msg}");
    assert!(
        msg.contains("--port 1111") && msg.contains("--port 2222"),
        "{msg}"
    );
    assert!(msg.contains("--force"), "{msg}");
    let r = control::install(&ctx(&fake), &newer, true).unwrap();
    assert!(r.written && r.replaced);
    assert_eq!(
        std::fs::read(&newer.primary).unwrap(),
        newer.artifacts[0].bytes
    );
}

#[test]
fn a_half_written_unit_is_reported_not_trusted() {
    let s = Setup::new();
    let fake = Fake::new(healthy);
    let plan = s.plan(Platform::Systemd, 18789, None);
    std::fs::create_dir_all(s.unit_dir()).unwrap();
    let full = String::from_utf8(plan.artifacts[0].bytes.clone()).unwrap();
    let cut = &full[..full.find("Environment=").unwrap()];
    std::fs::write(&plan.primary, cut).unwrap();

    let e = control::install(&ctx(&fake), &plan, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("incomplete or damaged (no [Install] section)"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&plan.primary).unwrap(), cut);

    let st = control::inspect(&ctx(&fake), &plan);
    assert_eq!(st.damaged.as_deref(), Some("no [Install] section"));

    // Cut before our marker: uninstall will not remove what it cannot prove is ours.
    let e = control::uninstall(&ctx(&fake), &plan, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not touching it") && e.contains("--force"),
        "{e}"
    );
    assert!(plan.primary.exists());
    let r = control::uninstall(&ctx(&fake), &plan, true).unwrap();
    assert_eq!(r.removed, std::slice::from_ref(&plan.primary));
}

#[test]
fn uninstall_removes_exactly_our_unit() {
    let s = Setup::new();
    let fake = Fake::new(healthy);
    let plan = s.plan(Platform::Systemd, 18789, None);
    let other = s.plan(Platform::Systemd, 18790, Some("other"));
    control::install(&ctx(&fake), &plan, false).unwrap();
    control::install(&ctx(&fake), &other, false).unwrap();
    std::fs::write(s.unit_dir().join("foo.service"), "[Unit]\n").unwrap();
    fake.calls();

    let r = control::uninstall(&ctx(&fake), &plan, false).unwrap();
    assert!(r.was_installed);
    assert_eq!(r.removed, std::slice::from_ref(&plan.primary));
    assert_eq!(
        fake.calls(),
        [
            "systemctl --user disable --now openclaw-gateway.service",
            "systemctl --user daemon-reload"
        ]
    );
    assert!(!plan.primary.exists());
    assert!(other.primary.exists() && s.unit_dir().join("foo.service").exists());

    let r = control::uninstall(&ctx(&fake), &plan, false).unwrap();
    assert!(!r.was_installed && r.removed.is_empty());
    assert!(fake.calls().is_empty());
}

#[test]
fn start_stop_restart_need_an_installed_unit() {
    let s = Setup::new();
    let fake = Fake::new(healthy);
    let plan = s.plan(Platform::Systemd, 18789, None);
    let e = control::control(&ctx(&fake), &plan, Action::Start).unwrap_err();
    assert!(matches!(e, ServiceError::NotInstalled { .. }), "{e}");
    control::install(&ctx(&fake), &plan, false).unwrap();
    fake.calls();
    for a in [Action::Stop, Action::Start, Action::Restart] {
        control::control(&ctx(&fake), &plan, a).unwrap();
    }
    assert_eq!(
        fake.calls(),
        [
            "systemctl --user stop openclaw-gateway.service",
            "systemctl --user start openclaw-gateway.service",
            "systemctl --user restart openclaw-gateway.service",
        ]
    );
    let down = Fake::new(no_bus);
    let e = control::control(&ctx(&down), &plan, Action::Restart)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot reach the service manager"), "{e}");
}

#[test]
fn an_unwritable_location_is_a_clear_error() {
    let s = Setup::new();
    // A file where ~/.config should be: creating the unit directory must fail cleanly.
    std::fs::write(s.home.path().join(".config"), "not a dir").unwrap();
    let fake = Fake::new(healthy);
    let e = control::install(&ctx(&fake), &s.plan(Platform::Systemd, 1, None), false)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cannot create directory"), "{e}");
    assert!(fake.calls().is_empty());
}

#[test]
fn launchd_bootstraps_in_the_gui_domain() {
    let s = Setup::new();
    let fake = Fake::new(|_, args| match args.first().map(String::as_str) {
        Some("print") => ok("state = running\npid = 77\n"),
        _ => ok(""),
    });
    let plan = s.plan(Platform::Launchd, 18789, None);
    let r = control::install(&ctx(&fake), &plan, false).unwrap();
    assert_eq!(r.activation, Activation::Started);
    let plist = s
        .home
        .path()
        .join("Library/LaunchAgents/bot.molt.gateway.plist");
    assert_eq!(r.path, plist);
    assert!(
        s.state().join("logs").is_dir(),
        "log dir exists before launchd starts it"
    );
    assert_eq!(
        fake.calls(),
        [
            "launchctl bootout gui/501/bot.molt.gateway".to_string(),
            "launchctl enable gui/501/bot.molt.gateway".to_string(),
            format!("launchctl bootstrap gui/501 {}", plist.display()),
            "launchctl kickstart -k gui/501/bot.molt.gateway".to_string(),
        ]
    );
    let st = control::inspect(&ctx(&fake), &plan);
    assert_eq!((st.running, st.pid), (Some(true), Some(77)));
    control::uninstall(&ctx(&fake), &plan, false).unwrap();
    assert!(!plist.exists());

    // No GUI session (e.g. SSH): the plist is written, and we say so.
    let fake = Fake::new(|_, args| match args.first().map(String::as_str) {
        Some("bootstrap") => fail("Bootstrap failed: 5: Input/output error"),
        _ => ok(""),
    });
    let r = control::install(&ctx(&fake), &plan, false).unwrap();
    assert!(
        matches!(r.activation, Activation::Unreachable { .. }),
        "{:?}",
        r.activation
    );
    assert!(plist.exists());
}

#[test]
fn schtasks_imports_the_xml_and_runs_the_task() {
    let s = Setup::new();
    let fake = Fake::new(|_, args| match args.first().map(String::as_str) {
        Some("/Query") => ok("TaskName: \\OpenClaw Gateway (work)\nStatus:   Running\n"),
        _ => ok(""),
    });
    let plan = s.plan(Platform::Schtasks, 18789, Some("work"));
    let r = control::install(&ctx(&fake), &plan, false).unwrap();
    assert_eq!(r.activation, Activation::Started);
    let xml = s.state().join("gateway-task.xml");
    assert_eq!(r.path, xml);
    assert!(s.state().join("gateway.cmd").exists());
    assert_eq!(&std::fs::read(&xml).unwrap()[..2], &[0xFF, 0xFE]);
    assert_eq!(
        fake.calls(),
        [
            format!(
                "schtasks /Create /F /TN OpenClaw Gateway (work) /XML {}",
                xml.display()
            ),
            "schtasks /Run /TN OpenClaw Gateway (work)".to_string(),
        ]
    );
    let st = control::inspect(&ctx(&fake), &plan);
    assert!(st.installed && st.ours && st.running == Some(true));
    assert_eq!(st.port, Some(18789));
    let r = control::uninstall(&ctx(&fake), &plan, false).unwrap();
    assert_eq!(r.removed.len(), 2);
}

#[test]
fn legacy_units_are_found_and_retired_into_a_backup() {
    let s = Setup::new();
    let fake = Fake::new(healthy);
    control::install(
        &ctx(&fake),
        &s.plan(Platform::Systemd, 1, Some("work")),
        false,
    )
    .unwrap();
    let dir = s.unit_dir();
    let legacy = dir.join("clawdbot-gateway.service");
    let legacy_text = "[Unit]\nDescription=Clawdbot\n[Service]\nExecStart=/usr/bin/node /opt/clawdbot/dist/index.js gateway --port 18789\n[Install]\nWantedBy=default.target\n";
    std::fs::write(&legacy, legacy_text).unwrap();
    std::fs::write(
        dir.join("unrelated.service"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();

    let found = find_services(Platform::Systemd, &s.loc());
    let names: Vec<_> = found.iter().map(|f| (f.name.as_str(), f.legacy)).collect();
    assert_eq!(
        names,
        [
            ("clawdbot-gateway.service", true),
            ("openclaw-gateway-work.service", false)
        ]
    );
    assert_eq!(found[0].port, Some(18789));
    fake.calls();

    let backup = s.state().join("backups");
    let to = retire_legacy(&ctx(&fake), &found[0], &backup, "20260101-000000").unwrap();
    assert_eq!(to, backup.join("clawdbot-gateway.service.20260101-000000"));
    assert!(!legacy.exists());
    assert_eq!(std::fs::read_to_string(&to).unwrap(), legacy_text);
    assert_eq!(
        fake.calls(),
        [
            "systemctl --user disable --now clawdbot-gateway.service",
            "systemctl --user daemon-reload"
        ]
    );
}
