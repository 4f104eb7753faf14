//! `launchctl` for the gateway agent in the user's `gui/<uid>` domain: bootstrap + kickstart,
//! bootout, and status via `launchctl print`. A missing GUI domain (e.g. an SSH session)
//! counts as "supervisor not reachable".

use super::{Action, Activation, CmdOutput, Context, ServiceStatus};
use crate::error::ServiceError;
use crate::plan::Plan;

const UNREACHABLE_MARKERS: &[&str] = &[
    "could not find domain",
    "domain does not support specified action",
    "bootstrap failed: 5",
    "bootstrap failed: 125",
];

fn is_unreachable(out: &CmdOutput) -> bool {
    let text = format!("{}\n{}", out.stderr, out.stdout).to_ascii_lowercase();
    UNREACHABLE_MARKERS.iter().any(|m| text.contains(m))
}

fn domain(ctx: &Context<'_>) -> Result<String, ServiceError> {
    ctx.uid
        .map(|u| format!("gui/{u}"))
        .ok_or(ServiceError::NoUid)
}

fn howto(plan: &Plan, domain: &str) -> Vec<String> {
    vec![
        format!("launchctl bootstrap {domain} {}", plan.primary.display()),
        format!("launchctl kickstart -k {domain}/{}", plan.name),
        "Agents need a GUI login session; over SSH, log in on the Mac once or run `openclaw gateway` in the foreground.".to_string(),
    ]
}

fn bootstrap_and_kickstart(ctx: &Context<'_>, plan: &Plan, domain: &str) -> Activation {
    let launchctl = &ctx.tools.launchctl;
    let target = format!("{domain}/{}", plan.name);
    let plist = plan.primary.to_string_lossy().into_owned();
    match ctx.exec(launchctl, &["bootstrap", domain, &plist]) {
        Err(detail) => {
            return Activation::Unreachable {
                detail: detail.to_string(),
                howto: howto(plan, domain),
            };
        }
        Ok(o) if o.success() => {}
        Ok(o) if is_unreachable(&o) => {
            return Activation::Unreachable {
                detail: o.summary(),
                howto: howto(plan, domain),
            };
        }
        Ok(o) => {
            return Activation::Failed {
                step: format!("launchctl bootstrap {domain} {plist}"),
                detail: o.summary(),
                howto: howto(plan, domain),
            };
        }
    }
    match ctx.exec(launchctl, &["kickstart", "-k", &target]) {
        Ok(o) if o.success() => Activation::Started,
        Ok(o) => Activation::Failed {
            step: format!("launchctl kickstart -k {target}"),
            detail: o.summary(),
            howto: howto(plan, domain),
        },
        Err(detail) => Activation::Unreachable {
            detail: detail.to_string(),
            howto: howto(plan, domain),
        },
    }
}

pub(super) fn activate(ctx: &Context<'_>, plan: &Plan) -> Activation {
    let domain = match domain(ctx) {
        Ok(d) => d,
        Err(detail) => {
            return Activation::Unreachable {
                detail: detail.to_string(),
                howto: howto(plan, "gui/$(id -u)"),
            };
        }
    };
    let target = format!("{domain}/{}", plan.name);
    // Unload an older copy first; failing because nothing was loaded is expected.
    let _ = ctx.exec(&ctx.tools.launchctl, &["bootout", &target]);
    let _ = ctx.exec(&ctx.tools.launchctl, &["enable", &target]);
    bootstrap_and_kickstart(ctx, plan, &domain)
}

pub(super) fn deactivate(ctx: &Context<'_>, plan: &Plan) -> Vec<String> {
    let domain = match domain(ctx) {
        Ok(d) => d,
        Err(e) => return vec![e.to_string()],
    };
    match ctx.exec(
        &ctx.tools.launchctl,
        &["bootout", &format!("{domain}/{}", plan.name)],
    ) {
        Ok(o) if o.success() => Vec::new(),
        Ok(o) => vec![format!("launchctl bootout: {}", o.summary())],
        Err(e) => vec![e.to_string()],
    }
}

fn loaded(ctx: &Context<'_>, target: &str) -> bool {
    ctx.exec(&ctx.tools.launchctl, &["print", target])
        .is_ok_and(|o| o.success())
}

pub(super) fn control(ctx: &Context<'_>, plan: &Plan, action: Action) -> Result<(), ServiceError> {
    let domain = domain(ctx).map_err(|detail| ServiceError::Unreachable {
        detail: detail.to_string(),
        hint: String::new(),
    })?;
    let target = format!("{domain}/{}", plan.name);
    let result = match action {
        // KeepAlive would bring it straight back after a kill: unloading is what stops it.
        Action::Stop => ctx.exec(&ctx.tools.launchctl, &["bootout", &target]),
        Action::Start | Action::Restart if !loaded(ctx, &target) => {
            return match bootstrap_and_kickstart(ctx, plan, &domain) {
                Activation::Started | Activation::AlreadyRunning => Ok(()),
                Activation::Unreachable { detail, howto } => Err(ServiceError::Unreachable {
                    detail,
                    hint: howto.join("\n"),
                }),
                Activation::Failed { step, detail, .. } => Err(ServiceError::Command {
                    command: step,
                    detail,
                }),
            };
        }
        Action::Start => ctx.exec(&ctx.tools.launchctl, &["kickstart", &target]),
        Action::Restart => ctx.exec(&ctx.tools.launchctl, &["kickstart", "-k", &target]),
    };
    match result {
        Ok(o) if o.success() => Ok(()),
        Ok(o) => Err(ServiceError::Command {
            command: format!("launchctl {} {target}", action.name()),
            detail: o.summary(),
        }),
        Err(detail) => Err(ServiceError::Unreachable {
            detail: detail.to_string(),
            hint: String::new(),
        }),
    }
}

/// `(state, pid)` from `launchctl print` output (`state = running`, `pid = 123`).
pub fn parse_print(text: &str) -> (Option<String>, Option<u32>) {
    let mut state = None;
    let mut pid = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k.trim() {
            "state" if state.is_none() => state = Some(v.trim().to_string()),
            "pid" if pid.is_none() => pid = v.trim().parse().ok(),
            _ => {}
        }
    }
    (state, pid)
}

pub(super) fn query(ctx: &Context<'_>, plan: &Plan, st: &mut ServiceStatus) {
    let domain = match domain(ctx) {
        Ok(d) => d,
        Err(e) => {
            st.supervisor_error = Some(e.to_string());
            return;
        }
    };
    match ctx.exec(
        &ctx.tools.launchctl,
        &["print", &format!("{domain}/{}", plan.name)],
    ) {
        Ok(o) if o.success() => {
            let (state, pid) = parse_print(&o.stdout);
            st.loaded = Some(true);
            st.running = Some(state.as_deref() == Some("running"));
            st.state = state;
            st.pid = pid;
        }
        Ok(o) if is_unreachable(&o) => st.supervisor_error = Some(o.summary()),
        Ok(_) => {
            st.loaded = Some(false);
            st.running = Some(false);
        }
        Err(e) => st.supervisor_error = Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_print() {
        let text = "gui/501/bot.molt.gateway = {\n\tactive count = 1\n\tstate = running\n\tpid = 4242\n\tprogram = /usr/local/bin/openclaw\n}\n";
        assert_eq!(parse_print(text), (Some("running".to_string()), Some(4242)));
    }
}
