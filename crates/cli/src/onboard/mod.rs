//! `openclaw onboard` / `setup` / `configure`: first run without editing JSON.
//!
//! The flags are the reference's (`onboard --help`); the ones this build supports are typed
//! here, the others are refused by name ([`REFERENCE_ONLY_FLAGS`], checked in `main`), never
//! silently ignored. `--non-interactive` builds the same [`Plan`] the terminal wizard
//! ([`tty`]) builds step by step, runs the same live model test and writes through the same
//! [`openclaw_onboard::commit`], so both produce the same files.

mod tty;

use std::path::PathBuf;

use clap::Args;
use openclaw_config::Paths;
use openclaw_onboard::choices::{self, CUSTOM, OLLAMA, SKIP};
use openclaw_onboard::machine::provider_for;
use openclaw_onboard::plan::{GatewayAuth, KeyStore, ModelPlan, ProviderEntry, read_existing};
use openclaw_onboard::{Plan, Section, commit, probe};
use serde_json::{Value, json};

use crate::Outcome;

/// Reference `onboard`/`setup` flags this build does not implement: refused with a clear error.
pub const REFERENCE_ONLY_FLAGS: &[&str] = &[
    "--agent-name",
    "--ai-gateway-api-key",
    "--alibaba-model-studio-api-key",
    "--arceeai-api-key",
    "--baseten-api-key",
    "--byteplus-api-key",
    "--cerebras-api-key",
    "--chutes-api-key",
    "--clawrouter-api-key",
    "--cloudflare-ai-gateway-account-id",
    "--cloudflare-ai-gateway-api-key",
    "--cloudflare-ai-gateway-gateway-id",
    "--cohere-api-key",
    "--comfy-api-key",
    "--custom-image-input",
    "--custom-text-input",
    "--daemon-runtime",
    "--deepinfra-api-key",
    "--deepseek-api-key",
    "--fal-api-key",
    "--featherless-api-key",
    "--fireworks-api-key",
    "--gateway-token-ref-env",
    "--gemini-api-key",
    "--github-copilot-token",
    "--gmi-api-key",
    "--huggingface-api-key",
    "--import-from",
    "--import-secrets",
    "--import-source",
    "--kilocode-api-key",
    "--kimi-code-api-key",
    "--litellm-api-key",
    "--lmstudio-api-key",
    "--longcat-api-key",
    "--meta-api-key",
    "--minimax-api-key",
    "--mistral-api-key",
    "--modelstudio-api-key",
    "--modelstudio-api-key-cn",
    "--modelstudio-standard-api-key",
    "--modelstudio-standard-api-key-cn",
    "--modern",
    "--moonshot-api-key",
    "--node-manager",
    "--novita-api-key",
    "--nvidia-api-key",
    "--ollama-cloud-api-key",
    "--opencode-go-api-key",
    "--opencode-zen-api-key",
    "--pixverse-api-key",
    "--qianfan-api-key",
    "--qwen-token-plan-api-key",
    "--qwen-token-plan-api-key-cn",
    "--radius-api-key",
    "--remote-password",
    "--remote-token",
    "--remote-url",
    "--reset",
    "--reset-scope",
    "--runway-api-key",
    "--secret-input-mode",
    "--stepfun-api-key",
    "--suppress-gateway-token-output",
    "--synthetic-api-key",
    "--tailscale",
    "--team",
    "--together-api-key",
    "--token",
    "--token-expires-in",
    "--token-profile-id",
    "--token-provider",
    "--tokenhub-api-key",
    "--tokenplan-api-key",
    "--tui",
    "--venice-api-key",
    "--volcengine-api-key",
    "--vydra-api-key",
    "--xiaomi-api-key",
    "--xiaomi-token-plan-api-key",
    "--zai-api-key",
    "--message",
];

/// The reference's onboarding flags this build supports.
#[derive(Args, Debug, Default, Clone)]
pub struct OnboardArgs {
    /// Acknowledge that agents are powerful and full system access is risky (required for
    /// --non-interactive).
    #[arg(long)]
    pub accept_risk: bool,
    /// Run without prompts (scripts, CI).
    #[arg(long)]
    pub non_interactive: bool,
    /// Onboard mode: local (remote is not supported by this build).
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// Onboard flow: quickstart|advanced|manual (one flow here).
    #[arg(long, value_name = "FLOW")]
    pub flow: Option<String>,
    /// Use the classic multi-step wizard (the only one here).
    #[arg(long)]
    pub classic: bool,
    /// Auth: openai-api-key|anthropic-api-key|openrouter-api-key|groq-api-key|xai-api-key|ollama|custom-api-key|skip
    #[arg(long, value_name = "CHOICE")]
    pub auth_choice: Option<String>,
    #[arg(long, value_name = "KEY")]
    pub openai_api_key: Option<String>,
    #[arg(long, value_name = "KEY")]
    pub anthropic_api_key: Option<String>,
    #[arg(long, value_name = "KEY")]
    pub openrouter_api_key: Option<String>,
    #[arg(long, value_name = "KEY")]
    pub groq_api_key: Option<String>,
    #[arg(long, value_name = "KEY")]
    pub xai_api_key: Option<String>,
    /// Custom provider API key (optional).
    #[arg(long, value_name = "KEY")]
    pub custom_api_key: Option<String>,
    /// Custom provider base URL.
    #[arg(long, value_name = "URL")]
    pub custom_base_url: Option<String>,
    /// Custom provider API compatibility: openai|openai-responses|anthropic (default openai).
    #[arg(long, value_name = "MODE")]
    pub custom_compatibility: Option<String>,
    /// Custom provider model ID.
    #[arg(long, value_name = "ID")]
    pub custom_model_id: Option<String>,
    /// Custom provider ID (default: derived from the base URL).
    #[arg(long, value_name = "ID")]
    pub custom_provider_id: Option<String>,
    /// Gateway auth: token|password.
    #[arg(long, value_name = "MODE")]
    pub gateway_auth: Option<String>,
    #[arg(long, value_name = "TOKEN")]
    pub gateway_token: Option<String>,
    #[arg(long, value_name = "PASSWORD")]
    pub gateway_password: Option<String>,
    /// Gateway bind: loopback|tailnet|lan|auto|custom.
    #[arg(long, value_name = "MODE")]
    pub gateway_bind: Option<String>,
    #[arg(long, value_name = "PORT")]
    pub gateway_port: Option<u16>,
    /// Agent workspace directory (stored as agents.defaults.workspace).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    #[arg(long)]
    pub skip_channels: bool,
    #[arg(long)]
    pub skip_daemon: bool,
    #[arg(long)]
    pub skip_health: bool,
    #[arg(long)]
    pub skip_skills: bool,
    #[arg(long)]
    pub skip_search: bool,
    #[arg(long)]
    pub skip_hooks: bool,
    #[arg(long)]
    pub skip_ui: bool,
    /// Skip creating the default workspace files.
    #[arg(long)]
    pub skip_bootstrap: bool,
    /// Install the gateway service.
    #[arg(long, overrides_with = "no_install_daemon")]
    pub install_daemon: bool,
    /// Skip the gateway service install.
    #[arg(long)]
    pub no_install_daemon: bool,
    /// Output a JSON summary.
    #[arg(long)]
    pub json: bool,
}

/// `openclaw configure`.
#[derive(Args, Debug)]
pub struct ConfigureArgs {
    /// Section to configure (repeatable): model, gateway, channels (also workspace, daemon,
    /// health: not separate here).
    #[arg(long, value_name = "SECTION")]
    pub section: Vec<String>,
}

/// `openclaw setup`.
#[derive(Args, Debug)]
pub struct SetupArgs {
    /// Run interactive onboarding.
    #[arg(long)]
    pub wizard: bool,
    /// Create the baseline config/workspace without onboarding (what plain `setup` does).
    #[arg(long)]
    pub baseline: bool,
    #[command(flatten)]
    pub onboard: OnboardArgs,
}

fn fail(json_out: bool, msg: impl std::fmt::Display) -> Outcome {
    if json_out {
        println!("{}", json!({"ok": false, "error": msg.to_string()}));
    } else {
        eprintln!("{msg}");
    }
    Outcome::Failed
}

fn usage(msg: impl std::fmt::Display) -> Outcome {
    eprintln!("{msg}");
    Outcome::Usage
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

/// Flags that make no sense in this build, refused before anything runs.
fn check_supported(a: &OnboardArgs) -> Result<(), String> {
    if let Some(m) = &a.mode
        && m != "local"
    {
        return Err(format!(
            "--mode {m}: only `local` onboarding is supported by this gateway (remote setup is not implemented)"
        ));
    }
    if let Some(f) = &a.flow
        && !matches!(f.as_str(), "quickstart" | "advanced" | "manual")
    {
        return Err(format!(
            "--flow {f}: supported flows are quickstart, advanced and manual (import is not implemented)"
        ));
    }
    if let Some(c) = &a.auth_choice
        && !choices::supported_auth_choices().contains(&c.as_str())
    {
        return Err(format!(
            "--auth-choice {c} is not supported by this gateway; supported: {}",
            choices::supported_auth_choices().join(", ")
        ));
    }
    if let Some(g) = &a.gateway_auth
        && !matches!(g.as_str(), "token" | "password")
    {
        return Err(format!("--gateway-auth {g}: use token or password"));
    }
    if let Some(b) = &a.gateway_bind
        && !matches!(
            b.as_str(),
            "loopback" | "lan" | "auto" | "custom" | "tailnet"
        )
    {
        return Err(format!(
            "--gateway-bind {b}: use loopback, tailnet, lan, auto or custom"
        ));
    }
    if let Some(c) = &a.custom_compatibility
        && choices::compatibility_api(c).is_none()
    {
        return Err(
            "Invalid --custom-compatibility (use \"openai\", \"openai-responses\", or \"anthropic\")."
                .into(),
        );
    }
    Ok(())
}

/// `openclaw onboard`.
pub fn onboard(rt: &tokio::runtime::Runtime, paths: &Paths, dev: bool, a: OnboardArgs) -> Outcome {
    if let Err(e) = check_supported(&a) {
        return usage(e);
    }
    if a.non_interactive {
        return rt.block_on(non_interactive(paths, dev, a));
    }
    tty::run(
        rt,
        paths,
        dev,
        Section::All,
        a.workspace.clone(),
        !a.skip_daemon,
    )
}

/// `openclaw configure [--section …]`.
pub fn configure(
    rt: &tokio::runtime::Runtime,
    paths: &Paths,
    dev: bool,
    a: ConfigureArgs,
) -> Outcome {
    let mut sections = Vec::new();
    for s in &a.section {
        match s.as_str() {
            "model" => sections.push(Section::Model),
            "gateway" => sections.push(Section::Gateway),
            "channels" => sections.push(Section::Channels),
            other => {
                return usage(format!(
                    "--section {other}: supported sections are model, gateway and channels"
                ));
            }
        }
    }
    if sections.is_empty() {
        return tty::run(rt, paths, dev, Section::All, None, true);
    }
    for s in sections {
        let out = tty::run(rt, paths, dev, s, None, false);
        if out != Outcome::Done {
            return out;
        }
    }
    Outcome::Done
}

/// `openclaw setup`: the baseline config + workspace; with onboarding flags, onboarding.
pub fn setup(rt: &tokio::runtime::Runtime, paths: &Paths, dev: bool, a: SetupArgs) -> Outcome {
    if a.wizard || a.onboard.non_interactive || a.onboard.mode.is_some() {
        return onboard(rt, paths, dev, a.onboard);
    }
    let ws = a.onboard.workspace.as_deref();
    match openclaw_config::dev::ensure_setup(paths, ws, dev) {
        Ok(r) => {
            if a.onboard.json {
                println!(
                    "{}",
                    json!({
                        "ok": true,
                        "configPath": r.config_path.to_string_lossy(),
                        "configCreated": r.config_created,
                        "workspace": r.workspace.to_string_lossy(),
                        "createdFiles": r.created_files,
                    })
                );
            } else {
                if r.config_created {
                    println!("Wrote {}", r.config_path.display());
                } else {
                    println!("Config OK: {}", r.config_path.display());
                }
                if r.created_files.is_empty() {
                    println!("Workspace OK: {}", r.workspace.display());
                } else {
                    println!(
                        "Workspace {}: created {}",
                        r.workspace.display(),
                        r.created_files.join(", ")
                    );
                }
                println!(
                    "Next: `openclaw onboard` to choose a model, or `openclaw gateway` to start."
                );
            }
            Outcome::Done
        }
        Err(e) => fail(a.onboard.json, format!("setup failed: {e}")),
    }
}

/// The model part of a non-interactive run.
async fn model_plan(a: &OnboardArgs) -> Result<Option<ModelPlan>, String> {
    let keyed_flags = [
        ("openai", &a.openai_api_key),
        ("anthropic", &a.anthropic_api_key),
        ("openrouter", &a.openrouter_api_key),
        ("groq", &a.groq_api_key),
        ("xai", &a.xai_api_key),
    ];
    let choice = match &a.auth_choice {
        Some(c) => c.clone(),
        None if a.custom_base_url.is_some() => CUSTOM.to_string(),
        None => keyed_flags
            .iter()
            .find(|(_, k)| k.is_some())
            .and_then(|(p, _)| choices::keyed(p))
            .map(|c| c.auth_choice.to_string())
            .unwrap_or_else(|| SKIP.to_string()),
    };
    match choice.as_str() {
        SKIP => Ok(None),
        CUSTOM => {
            let (Some(base), Some(model)) = (
                a.custom_base_url
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty()),
                a.custom_model_id
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty()),
            ) else {
                return Err("Auth choice \"custom-api-key\" requires a base URL and model ID.\nUse --custom-base-url and --custom-model-id.".into());
            };
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err("Custom provider base URL must be a valid URL.".into());
            }
            let api =
                choices::compatibility_api(a.custom_compatibility.as_deref().unwrap_or("openai"))
                    .ok_or("Invalid --custom-compatibility")?;
            let provider = match &a.custom_provider_id {
                Some(id) => choices::normalize_id(id)
                    .ok_or("Custom provider ID must include letters, numbers, or hyphens.")?,
                None => choices::custom_provider_id(base),
            };
            Ok(Some(ModelPlan {
                provider,
                model: model.to_string(),
                key: a
                    .custom_api_key
                    .clone()
                    .filter(|k| !k.trim().is_empty())
                    .map(KeyStore::Config)
                    .unwrap_or(KeyStore::None),
                provider_entry: Some(ProviderEntry {
                    base_url: base.trim_end_matches('/').to_string(),
                    api,
                }),
            }))
        }
        OLLAMA => {
            let url = probe::ollama_url(&env);
            let models = probe::detect_ollama(&url)
                .await
                .ok_or_else(|| format!("Ollama is not reachable at {url}"))?;
            let model = models
                .first()
                .cloned()
                .unwrap_or_else(|| choices::OLLAMA_DEFAULT_MODEL.to_string());
            Ok(Some(ModelPlan {
                provider: "ollama".into(),
                model,
                key: KeyStore::None,
                provider_entry: Some(ProviderEntry {
                    base_url: format!("{url}/v1"),
                    api: openclaw_agent::Api::OpenAiCompletions,
                }),
            }))
        }
        other => {
            let Some(c) = choices::keyed(other) else {
                return Err(format!("--auth-choice {other} is not supported"));
            };
            let flag = keyed_flags
                .iter()
                .find(|(p, _)| *p == c.provider)
                .and_then(|(_, k)| (*k).clone())
                .filter(|k| !k.trim().is_empty());
            let key = match (flag, c.env_var.and_then(env)) {
                (Some(k), _) => KeyStore::Profile(k.trim().to_string()),
                (None, Some(_)) => KeyStore::Env,
                (None, None) => {
                    return Err(format!(
                        "--auth-choice {other} needs --{}-api-key (or {} in the environment)",
                        c.provider,
                        c.env_var.unwrap_or("the provider's env var")
                    ));
                }
            };
            Ok(Some(ModelPlan {
                provider: c.provider.to_string(),
                model: c.default_model.to_string(),
                key,
                provider_entry: None,
            }))
        }
    }
}

async fn non_interactive(paths: &Paths, dev: bool, a: OnboardArgs) -> Outcome {
    let j = a.json;
    if !a.accept_risk {
        return usage(
            "--non-interactive requires --accept-risk (agents can read files and run commands on this machine)",
        );
    }
    let model = match model_plan(&a).await {
        Ok(m) => m,
        Err(e) => return fail(j, e),
    };
    let existing = read_existing(&paths.config_path).unwrap_or(Value::Null);
    let mut test_reply = None;
    if let Some(m) = &model {
        let provider = match provider_for(m, &env, &existing) {
            Ok(p) => p,
            Err(e) => return fail(j, e),
        };
        match probe::live_test(&provider, &m.model).await {
            Ok(reply) => test_reply = Some(reply),
            Err(e) => {
                return fail(
                    j,
                    format!(
                        "Model test of {} failed: {e}\nNothing was saved.",
                        m.model_ref()
                    ),
                );
            }
        }
    }
    let auth = match a.gateway_auth.as_deref() {
        Some("password") => match &a.gateway_password {
            Some(p) if !p.is_empty() => Some(GatewayAuth::Password(p.clone())),
            _ => return usage("--gateway-auth password needs --gateway-password"),
        },
        _ => Some(GatewayAuth::Token(
            a.gateway_token
                .clone()
                .or_else(|| {
                    existing
                        .pointer("/gateway/auth/token")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(openclaw_config::dev::generate_token),
        )),
    };
    let plan = Plan {
        model,
        auth,
        bind: a.gateway_bind.clone(),
        port: a.gateway_port,
        workspace: a.workspace.clone(),
        telegram: None,
        skip_bootstrap: a.skip_bootstrap,
        install_daemon: a.install_daemon && !a.skip_daemon && !a.no_install_daemon,
    };
    let report = match commit(paths, dev, &plan) {
        Ok(r) => r,
        Err(e) => return fail(j, e),
    };
    let mut outcome = Outcome::Done;
    if plan.install_daemon {
        outcome = crate::service_cmd::install(
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
    print_report(&report, test_reply.as_deref(), j);
    outcome
}

/// The summary both front ends print.
pub(crate) fn print_report(
    r: &openclaw_onboard::CommitReport,
    test_reply: Option<&str>,
    json_out: bool,
) {
    if json_out {
        println!(
            "{}",
            json!({
                "ok": true,
                "mode": "local",
                "configPath": r.config_path.to_string_lossy(),
                "workspace": r.workspace.to_string_lossy(),
                "createdFiles": r.created_files,
                "authStore": r.auth_store.as_ref().map(|p| p.to_string_lossy().to_string()),
                "model": r.model_ref,
                "modelTest": test_reply.map(|t| json!({"ok": true, "reply": t})),
                "gateway": {"port": r.port, "auth": r.auth_mode},
            })
        );
        return;
    }
    if let (Some(m), Some(t)) = (&r.model_ref, test_reply) {
        println!("{m} answered: {t}");
    }
    println!("Saved {}", r.config_path.display());
    if let Some(p) = &r.auth_store {
        println!("API key stored in {}", p.display());
    }
    println!("Workspace: {}", r.workspace.display());
    println!(
        "Next: `openclaw gateway`, then `openclaw agent --message hi` (or `openclaw dashboard`)."
    );
}
