//! `systemctl --user` for the gateway unit: enable + (re)start, stop/disable, status via
//! `show`, and telling "no user systemd here" (containers, no login session) apart from a real
//! failure, with the commands to run by hand.

use super::{Action, Activation, CmdOutput, Context, ServiceStatus};
use crate::error::ServiceError;
use crate::plan::Plan;

/// stderr fragments meaning the user manager cannot be reached at all.
const UNREACHABLE_MARKERS: &[&str] = &[
    "failed to connect to bus",
    "no medium found",
    "host is down",
    "not been booted with systemd",
    "$dbus_session_bus_address",
    "xdg_runtime_dir",
    "failed to connect to user scope bus",
    "connection refused",
];

/// Whether a failed `systemctl --user` means "no user manager reachable".
pub fn is_unreachable(out: &CmdOutput) -> bool {
    let text = format!("{}\n{}", out.stderr, out.stdout).to_ascii_lowercase();
    UNREACHABLE_MARKERS.iter().any(|m| text.contains(m))
}

/// The commands that finish an install by hand.
pub fn howto(unit: &str) -> Vec<String> {
    vec![
        "systemctl --user daemon-reload".to_string(),
        format!("systemctl --user enable --now {unit}"),
        "No user systemd here (e.g. a container)? Run `openclaw gateway` under your own supervisor instead."
            .to_string(),
    ]
}

fn systemctl(ctx: &Context<'_>, args: &[&str]) -> Result<CmdOutput, ServiceError> {
    let mut full = vec!["--user"];
    full.extend_from_slice(args);
    ctx.exec(&ctx.tools.systemctl, &full)
}

pub(super) fn activate(ctx: &Context<'_>, plan: &Plan) -> Activation {
    let unit = plan.name.as_str();
    let steps: [&[&str]; 3] = [&["daemon-reload"], &["enable", unit], &["restart", unit]];
    for (i, args) in steps.iter().enumerate() {
        let step = format!("systemctl --user {}", args.join(" "));
        match systemctl(ctx, args) {
            Err(detail) => {
                return Activation::Unreachable {
                    detail: detail.to_string(),
                    howto: howto(unit),
                };
            }
            Ok(out) if out.success() => {}
            Ok(out) if i == 0 || is_unreachable(&out) => {
                return Activation::Unreachable {
                    detail: out.summary(),
                    howto: howto(unit),
                };
            }
            Ok(out) => {
                return Activation::Failed {
                    step,
                    detail: out.summary(),
                    howto: vec![
                        format!("systemctl --user status {unit}"),
                        format!("journalctl --user -u {unit} -n 50"),
                    ],
                };
            }
        }
    }
    Activation::Started
}

pub(super) fn deactivate(ctx: &Context<'_>, plan: &Plan) -> Vec<String> {
    match systemctl(ctx, &["disable", "--now", &plan.name]) {
        Ok(out) if out.success() => Vec::new(),
        Ok(out) => vec![format!(
            "systemctl --user disable --now {}: {}",
            plan.name,
            out.summary()
        )],
        Err(e) => vec![e.to_string()],
    }
}

pub(super) fn daemon_reload_quietly(ctx: &Context<'_>) {
    let _ = systemctl(ctx, &["daemon-reload"]);
}

pub(super) fn control(ctx: &Context<'_>, plan: &Plan, action: Action) -> Result<(), ServiceError> {
    let command = format!("systemctl --user {} {}", action.name(), plan.name);
    match systemctl(ctx, &[action.name(), &plan.name]) {
        Ok(out) if out.success() => Ok(()),
        Ok(out) if is_unreachable(&out) => Err(ServiceError::Unreachable {
            detail: out.summary(),
            hint: unreachable_hint(),
        }),
        Ok(out) => Err(ServiceError::Command {
            command,
            detail: out.summary(),
        }),
        Err(detail) => Err(ServiceError::Unreachable {
            detail: detail.to_string(),
            hint: unreachable_hint(),
        }),
    }
}

fn unreachable_hint() -> String {
    "The systemd user manager is not reachable (no login session or no systemd, e.g. in a container). Run `openclaw gateway` in the foreground or under your own supervisor.".to_string()
}

/// `Key=Value` lines of `systemctl show`.
pub fn parse_show(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

pub(super) fn query(ctx: &Context<'_>, plan: &Plan, st: &mut ServiceStatus) {
    let out = systemctl(
        ctx,
        &[
            "show",
            &plan.name,
            "--no-pager",
            "--property=LoadState,ActiveState,SubState,MainPID,UnitFileState",
        ],
    );
    let out = match out {
        Ok(o) if o.success() => o,
        Ok(o) => {
            st.supervisor_error = Some(o.summary());
            return;
        }
        Err(e) => {
            st.supervisor_error = Some(e.to_string());
            return;
        }
    };
    let props = parse_show(&out.stdout);
    let get = |k: &str| {
        props
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    st.loaded = get("LoadState").map(|s| s == "loaded");
    st.state = get("ActiveState").map(str::to_string);
    st.sub_state = get("SubState").map(str::to_string);
    st.running = get("ActiveState").map(|s| s == "active");
    st.enabled = get("UnitFileState").map(|s| s == "enabled" || s == "enabled-runtime");
    st.pid = get("MainPID")
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| *p > 0);
    if st.installed
        && let Some(h) = linger_hint(ctx)
    {
        st.hints.push(h);
    }
}

/// "Lingering is off" hint: without it the user manager (and the gateway) stops at logout.
pub fn linger_hint(ctx: &Context<'_>) -> Option<String> {
    let user = ctx.user.as_deref()?;
    let out = ctx
        .exec(
            &ctx.tools.loginctl,
            &["show-user", user, "--property=Linger"],
        )
        .ok()?;
    if !out.success() {
        return None;
    }
    parse_show(&out.stdout)
        .iter()
        .any(|(k, v)| k == "Linger" && v == "no")
        .then(|| {
            format!(
                "Lingering is off for {user}: the gateway stops when you log out. Keep it running with `loginctl enable-linger {user}` (may need sudo)."
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_unreachable() {
        let o = |e: &str| CmdOutput {
            code: Some(1),
            stdout: String::new(),
            stderr: e.to_string(),
        };
        assert!(is_unreachable(&o(
            "Failed to connect to bus: No medium found"
        )));
        assert!(is_unreachable(&o(
            "System has not been booted with systemd as init system (PID 1). Can't operate."
        )));
        assert!(!is_unreachable(&o(
            "Job for x.service failed because the control process exited with error code."
        )));
    }

    #[test]
    fn parses_show() {
        let p = parse_show("LoadState=loaded\nActiveState=active\nMainPID=42\n");
        assert_eq!(p[2], ("MainPID".to_string(), "42".to_string()));
    }
}
