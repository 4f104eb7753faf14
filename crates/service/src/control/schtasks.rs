//! `schtasks` for the gateway task: import the XML, run, end, delete, and status via
//! `/Query /V /FO LIST`.

use super::{Action, Activation, Context, ServiceStatus};
use crate::error::ServiceError;
use crate::plan::Plan;

fn howto(plan: &Plan) -> Vec<String> {
    vec![
        format!(
            "schtasks /Create /F /TN \"{}\" /XML \"{}\"",
            plan.name,
            plan.primary.display()
        ),
        format!("schtasks /Run /TN \"{}\"", plan.name),
    ]
}

pub(super) fn activate(ctx: &Context<'_>, plan: &Plan) -> Activation {
    let xml = plan.primary.to_string_lossy().into_owned();
    let steps: [Vec<&str>; 2] = [
        vec!["/Create", "/F", "/TN", &plan.name, "/XML", &xml],
        vec!["/Run", "/TN", &plan.name],
    ];
    for args in &steps {
        match ctx.exec(&ctx.tools.schtasks, args) {
            Ok(o) if o.success() => {}
            Ok(o) => {
                return Activation::Failed {
                    step: format!("schtasks {}", args.join(" ")),
                    detail: o.summary(),
                    howto: howto(plan),
                };
            }
            Err(detail) => {
                return Activation::Unreachable {
                    detail: detail.to_string(),
                    howto: howto(plan),
                };
            }
        }
    }
    Activation::Started
}

pub(super) fn deactivate(ctx: &Context<'_>, plan: &Plan) -> Vec<String> {
    let _ = ctx.exec(&ctx.tools.schtasks, &["/End", "/TN", &plan.name]);
    match ctx.exec(&ctx.tools.schtasks, &["/Delete", "/F", "/TN", &plan.name]) {
        Ok(o) if o.success() => Vec::new(),
        Ok(o) => vec![format!("schtasks /Delete: {}", o.summary())],
        Err(e) => vec![e.to_string()],
    }
}

pub(super) fn control(ctx: &Context<'_>, plan: &Plan, action: Action) -> Result<(), ServiceError> {
    let steps: Vec<&str> = match action {
        Action::Start => vec!["/Run"],
        Action::Stop => vec!["/End"],
        Action::Restart => vec!["/End", "/Run"],
    };
    for verb in steps {
        match ctx.exec(&ctx.tools.schtasks, &[verb, "/TN", &plan.name]) {
            Ok(o) if o.success() => {}
            // Ending a task that is not running is fine for restart.
            Ok(_) if verb == "/End" && action == Action::Restart => {}
            Ok(o) => {
                return Err(ServiceError::Command {
                    command: format!("schtasks {verb} /TN \"{}\"", plan.name),
                    detail: o.summary(),
                });
            }
            Err(detail) => {
                return Err(ServiceError::Unreachable {
                    detail: detail.to_string(),
                    hint: String::new(),
                });
            }
        }
    }
    Ok(())
}

/// The `Status:` field of `schtasks /Query /V /FO LIST` (`Running`, `Ready`, `Disabled`).
pub fn parse_query(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == "Status")
        .map(|(_, v)| v.trim().to_string())
}

pub(super) fn query(ctx: &Context<'_>, plan: &Plan, st: &mut ServiceStatus) {
    match ctx.exec(
        &ctx.tools.schtasks,
        &["/Query", "/TN", &plan.name, "/V", "/FO", "LIST"],
    ) {
        Ok(o) if o.success() => {
            let status = parse_query(&o.stdout);
            st.loaded = Some(true);
            st.running = Some(status.as_deref() == Some("Running"));
            st.enabled = Some(status.as_deref() != Some("Disabled"));
            st.state = status;
        }
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
    fn parses_query() {
        let text = "\r\nFolder: \\\r\nHostName:  PC\r\nTaskName: \\OpenClaw Gateway\r\nStatus:   Running\r\n";
        assert_eq!(parse_query(text).as_deref(), Some("Running"));
    }
}
