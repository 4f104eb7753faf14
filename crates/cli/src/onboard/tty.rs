//! The terminal front end of the onboarding step machine: each [`WizardStep`] rendered with
//! `dialoguer` (plain theme; works over SSH, no mouse or alternate screen). Ctrl-C or a closed
//! terminal at any prompt ends the run before [`openclaw_onboard::commit`], so the previous
//! files stay byte-identical.

use std::io::IsTerminal;
use std::path::PathBuf;

use dialoguer::theme::SimpleTheme;
use dialoguer::{Confirm, Input, Password, Select};
use openclaw_config::Paths;
use openclaw_onboard::{Advance, Section, Wizard, WizardContext};
use openclaw_protocol::wizard::{WizardRunStatus, WizardStep, WizardStepType};
use serde_json::Value;

use crate::Outcome;

/// Steps whose answer triggers a check that takes a moment.
const CHECKED: &[&str] = &[
    "apiKey",
    "model",
    "custom.apiKey",
    "custom.modelId",
    "telegram.token",
];

fn prompt(step: &WizardStep) -> std::io::Result<Option<Value>> {
    let theme = SimpleTheme;
    let msg = step.message.clone().unwrap_or_default();
    let io = |e: dialoguer::Error| match e {
        dialoguer::Error::IO(e) => e,
    };
    match step.kind {
        WizardStepType::Note | WizardStepType::Progress | WizardStepType::Action => {
            println!();
            if let Some(t) = &step.title {
                println!("== {t} ==");
            }
            println!("{msg}");
            Ok(None)
        }
        WizardStepType::Select | WizardStepType::Multiselect => {
            let items: Vec<String> = step
                .options
                .iter()
                .map(|o| match &o.hint {
                    Some(h) => format!("{} ({h})", o.label),
                    None => o.label.clone(),
                })
                .collect();
            let default = step
                .options
                .iter()
                .position(|o| Some(&o.value) == step.initial_value.as_ref())
                .unwrap_or(0);
            let i = Select::with_theme(&theme)
                .with_prompt(msg)
                .items(&items)
                .default(default)
                .interact()
                .map_err(io)?;
            Ok(step.options.get(i).map(|o| o.value.clone()))
        }
        WizardStepType::Text => {
            if step.sensitive == Some(true) {
                let v = Password::with_theme(&theme)
                    .with_prompt(msg)
                    .allow_empty_password(true)
                    .interact()
                    .map_err(io)?;
                return Ok(Some(Value::String(v)));
            }
            let mut input = Input::<String>::with_theme(&theme)
                .with_prompt(msg)
                .allow_empty(true);
            if let Some(Value::String(d)) = &step.initial_value
                && !d.is_empty()
            {
                input = input.default(d.clone());
            }
            Ok(Some(Value::String(input.interact_text().map_err(io)?)))
        }
        WizardStepType::Confirm => {
            let default = step
                .initial_value
                .as_ref()
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let v = Confirm::with_theme(&theme)
                .with_prompt(msg)
                .default(default)
                .interact()
                .map_err(io)?;
            Ok(Some(Value::Bool(v)))
        }
    }
}

/// Runs the wizard (or one `section` of it) in this terminal.
pub fn run(
    rt: &tokio::runtime::Runtime,
    paths: &Paths,
    dev: bool,
    section: Section,
    workspace: Option<PathBuf>,
    offer_daemon: bool,
) -> Outcome {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        eprintln!(
            "onboarding needs a terminal; for scripts use `openclaw onboard --non-interactive --accept-risk --auth-choice …`"
        );
        return Outcome::Usage;
    }
    let ctx = WizardContext {
        paths: paths.clone(),
        dev,
        section,
        env: Box::new(|k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty())),
        workspace,
        offer_daemon,
    };
    let mut wiz = rt.block_on(Wizard::start(ctx));
    while let Some(step) = wiz.current() {
        let value = match prompt(&step) {
            Ok(v) => v,
            Err(_) => {
                // Ctrl-C or a closed terminal: nothing has been written yet.
                eprintln!("\nCancelled; nothing was changed.");
                return Outcome::Failed;
            }
        };
        if CHECKED.contains(&step.id.as_str()) {
            println!("Checking…");
        }
        if let Advance::Invalid(why) = rt.block_on(wiz.answer(&step.id, value)) {
            eprintln!("{why}");
        }
    }
    match wiz.status() {
        WizardRunStatus::Done => {
            if wiz.install_daemon() {
                return crate::service_cmd::install(
                    paths,
                    dev,
                    crate::service_cmd::InstallArgs {
                        port: None,
                        token: None,
                        force: false,
                        json: false,
                    },
                );
            }
            Outcome::Done
        }
        WizardRunStatus::Cancelled => {
            eprintln!("Cancelled; nothing was changed.");
            Outcome::Failed
        }
        WizardRunStatus::Error | WizardRunStatus::Running => {
            eprintln!(
                "Setup failed: {}; nothing was changed.",
                wiz.error().unwrap_or("unknown error")
            );
            Outcome::Failed
        }
    }
}
