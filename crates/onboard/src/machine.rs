//! The onboarding step machine: one [`Wizard`] per run, shared by the terminal front end
//! (`openclaw onboard` / `configure`) and the gateway's `wizard.*` handlers.
//!
//! The machine holds the current [`WizardStep`]; [`Wizard::answer`] validates the answer,
//! runs the step's check (the live model test, `getMe`) and moves on, or returns the reason
//! the answer was refused while staying on the same step. It writes nothing until the final
//! confirmation ([`crate::plan::commit`]), so dropping a wizard at any step leaves every file
//! as it was.

use std::path::PathBuf;

use openclaw_agent::{Api, ProviderConfig, Providers};
use openclaw_config::Paths;
use openclaw_protocol::wizard::{WizardRunStatus, WizardStep, WizardStepOption, WizardStepType};
use serde_json::{Value, json};

use crate::choices::{self, KEYED};
use crate::plan::{self, CommitReport, GatewayAuth, KeyStore, ModelPlan, Plan, ProviderEntry};
use crate::probe;

/// Which part of the setup to run (`configure --section`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    All,
    Model,
    Gateway,
    Channels,
}

/// An env lookup (the process env in production, a map in tests).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the wizard knows about its surroundings, gathered once at start.
pub struct WizardContext {
    pub paths: Paths,
    pub dev: bool,
    pub section: Section,
    /// Env lookup (the process env in production).
    pub env: EnvLookup,
    pub workspace: Option<PathBuf>,
    /// The terminal front end offers `gateway install`; the RPC one does not.
    pub offer_daemon: bool,
}

/// Result of one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Advance {
    /// Moved on (or finished: see [`Wizard::status`]).
    Next,
    /// Refused; the same step is current again. The message says why.
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Intro,
    Risk,
    Provider,
    ApiKey,
    Model,
    CustomBaseUrl,
    CustomCompat,
    CustomKey,
    CustomModel,
    TestOk,
    TestFailed,
    GatewayAuth,
    GatewayPassword,
    Channels,
    TelegramToken,
    WhatsApp,
    Daemon,
    Confirm,
    Summary,
}

/// One onboarding run.
pub struct Wizard {
    ctx: WizardContext,
    stage: Stage,
    status: WizardRunStatus,
    error: Option<String>,
    existing: Value,
    ollama_url: String,
    ollama_models: Option<Vec<String>>,
    telegram_root: String,
    // Draft.
    provider: Option<String>,
    key: Option<String>,
    custom_base: Option<String>,
    custom_api: Api,
    model: Option<String>,
    test_message: String,
    plan: Plan,
    report: Option<CommitReport>,
}

fn step(id: &str, kind: WizardStepType, title: &str, message: impl Into<String>) -> WizardStep {
    WizardStep {
        id: id.to_string(),
        kind,
        title: Some(title.to_string()),
        message: Some(message.into()),
        options: Vec::new(),
        initial_value: None,
        placeholder: None,
        sensitive: None,
    }
}

fn opt(value: &str, label: &str, hint: Option<String>) -> WizardStepOption {
    WizardStepOption {
        value: json!(value),
        label: label.to_string(),
        hint,
    }
}

fn text_of(v: &Option<Value>) -> String {
    match v {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn bool_of(v: &Option<Value>) -> Option<bool> {
    match v {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" => Some(true),
            "n" | "no" | "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

impl Wizard {
    /// Starts a run: reads the existing config and looks for Ollama (bounded).
    pub async fn start(ctx: WizardContext) -> Wizard {
        let existing = plan::read_existing(&ctx.paths.config_path).unwrap_or_else(|_| json!({}));
        let ollama_url = probe::ollama_url(&*ctx.env);
        let wants_model = matches!(ctx.section, Section::All | Section::Model);
        let ollama_models = if wants_model {
            probe::detect_ollama(&ollama_url).await
        } else {
            None
        };
        let telegram_root = existing
            .pointer("/channels/telegram/apiRoot")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| (ctx.env)("OPENCLAW_TELEGRAM_API_ROOT"))
            .unwrap_or_else(|| probe::DEFAULT_TELEGRAM_API_ROOT.to_string());
        let stage = match ctx.section {
            Section::All => Stage::Intro,
            Section::Model => Stage::Provider,
            Section::Gateway => Stage::GatewayAuth,
            Section::Channels => Stage::Channels,
        };
        let plan = Plan {
            workspace: ctx.workspace.clone(),
            ..Plan::default()
        };
        Wizard {
            ctx,
            stage,
            status: WizardRunStatus::Running,
            error: None,
            existing,
            ollama_url,
            ollama_models,
            telegram_root,
            provider: None,
            key: None,
            custom_base: None,
            custom_api: Api::OpenAiCompletions,
            model: None,
            test_message: String::new(),
            plan,
            report: None,
        }
    }

    pub fn status(&self) -> WizardRunStatus {
        self.status
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// What was written, once the run is done.
    pub fn report(&self) -> Option<&CommitReport> {
        self.report.as_ref()
    }

    /// Whether the user asked for the service install (the terminal front end runs it).
    pub fn install_daemon(&self) -> bool {
        self.plan.install_daemon
    }

    /// The model ref the run settled on, if any.
    pub fn model_ref(&self) -> Option<String> {
        self.plan.model.as_ref().map(ModelPlan::model_ref)
    }

    /// Cancels the run; nothing is written.
    pub fn cancel(&mut self) {
        if self.status == WizardRunStatus::Running {
            self.status = WizardRunStatus::Cancelled;
        }
    }

    fn env_key(&self, provider: &str) -> Option<String> {
        choices::keyed(provider)
            .and_then(|c| c.env_var)
            .and_then(|v| (self.ctx.env)(v))
            .filter(|k| !k.trim().is_empty())
    }

    fn detections(&self) -> String {
        let mut lines = Vec::new();
        if self.ctx.paths.config_path.exists() {
            lines.push(format!(
                "Existing config: {} (kept; only what you choose changes).",
                self.ctx.paths.config_path.display()
            ));
        } else {
            lines.push(format!(
                "No config yet; it will be written to {}.",
                self.ctx.paths.config_path.display()
            ));
        }
        for c in KEYED {
            if self.env_key(c.provider).is_some()
                && let Some(var) = c.env_var
            {
                lines.push(format!("{var} is set in the environment."));
            }
        }
        match &self.ollama_models {
            Some(m) if !m.is_empty() => lines.push(format!(
                "Ollama at {} with models: {}.",
                self.ollama_url,
                m.join(", ")
            )),
            Some(_) => lines.push(format!(
                "Ollama at {} (no models pulled yet).",
                self.ollama_url
            )),
            None => {}
        }
        lines.join("\n")
    }

    /// The step to show now; `None` once the run is over.
    pub fn current(&self) -> Option<WizardStep> {
        if self.status != WizardRunStatus::Running {
            return None;
        }
        use WizardStepType as T;
        let s = match self.stage {
            Stage::Intro => step("intro", T::Note, "OpenClaw setup", self.detections()),
            Stage::Risk => {
                let mut s = step(
                    "risk",
                    T::Confirm,
                    "Security",
                    "An agent can read files and run commands on this machine with your rights. Continue?",
                );
                s.initial_value = Some(json!(true));
                s
            }
            Stage::Provider => {
                let mut s = step(
                    "provider",
                    T::Select,
                    "Model provider",
                    "Which model should answer?",
                );
                for c in KEYED {
                    let hint = c
                        .env_var
                        .filter(|_| self.env_key(c.provider).is_some())
                        .map(|v| format!("{v} found"));
                    s.options.push(opt(c.provider, c.label, hint));
                }
                let hint = match &self.ollama_models {
                    Some(m) if !m.is_empty() => Some(format!("detected: {}", m.join(", "))),
                    Some(_) => Some("detected".to_string()),
                    None => Some("not detected".to_string()),
                };
                s.options.push(opt("ollama", "Ollama (local)", hint));
                s.options
                    .push(opt("custom", "OpenAI-compatible (any base URL)", None));
                s.options.push(opt("skip", "Skip for now", None));
                s.initial_value = Some(json!(
                    KEYED
                        .iter()
                        .find(|c| self.env_key(c.provider).is_some())
                        .map(|c| c.provider)
                        .unwrap_or("openai")
                ));
                s
            }
            Stage::ApiKey => {
                let p = self.provider.clone().unwrap_or_default();
                let var = choices::keyed(&p).and_then(|c| c.env_var).unwrap_or("");
                let msg = if self.env_key(&p).is_some() {
                    format!("API key for {p} (leave empty to use {var} from the environment)")
                } else {
                    format!("API key for {p}")
                };
                let mut s = step("apiKey", T::Text, "API key", msg);
                s.sensitive = Some(true);
                s
            }
            Stage::Model => {
                let p = self.provider.clone().unwrap_or_default();
                if p == "ollama" && self.ollama_models.as_ref().is_some_and(|m| !m.is_empty()) {
                    let mut s = step("model", T::Select, "Model", "Which Ollama model?");
                    for m in self.ollama_models.iter().flatten() {
                        s.options.push(opt(m, m, None));
                    }
                    s
                } else {
                    let default = if p == "ollama" {
                        choices::OLLAMA_DEFAULT_MODEL
                    } else {
                        choices::keyed(&p).map(|c| c.default_model).unwrap_or("")
                    };
                    let mut s = step("model", T::Text, "Model", format!("Model id at {p}"));
                    s.initial_value = Some(json!(default));
                    s
                }
            }
            Stage::CustomBaseUrl => {
                let mut s = step(
                    "custom.baseUrl",
                    T::Text,
                    "Base URL",
                    "Base URL of the OpenAI-compatible API (e.g. http://127.0.0.1:8000/v1)",
                );
                s.placeholder = Some("https://…/v1".into());
                s
            }
            Stage::CustomCompat => {
                let mut s = step(
                    "custom.compatibility",
                    T::Select,
                    "API",
                    "Which API does it speak?",
                );
                s.options
                    .push(opt("openai", "OpenAI Chat Completions", None));
                s.options.push(opt("anthropic", "Anthropic Messages", None));
                s.initial_value = Some(json!("openai"));
                s
            }
            Stage::CustomKey => {
                let mut s = step(
                    "custom.apiKey",
                    T::Text,
                    "API key",
                    "API key (leave empty if the server needs none)",
                );
                s.sensitive = Some(true);
                s
            }
            Stage::CustomModel => step("custom.modelId", T::Text, "Model", "Model id"),
            Stage::TestOk => step(
                "liveTest",
                T::Note,
                "Model test",
                format!("{} answered: {}", self.pending_ref(), self.test_message),
            ),
            Stage::TestFailed => {
                let mut s = step(
                    "liveTest.failed",
                    T::Select,
                    "Model test failed",
                    format!("{} failed: {}", self.pending_ref(), self.test_message),
                );
                s.options.push(opt("key", "Enter another key", None));
                s.options
                    .push(opt("provider", "Choose another provider", None));
                s.options
                    .push(opt("cancel", "Cancel (nothing is saved)", None));
                s.initial_value = Some(json!("key"));
                s
            }
            Stage::GatewayAuth => {
                let mut s = step(
                    "gateway.auth",
                    T::Select,
                    "Gateway auth",
                    "How do clients prove they may use this gateway?",
                );
                s.options.push(opt("token", "Token (generated)", None));
                s.options.push(opt("password", "Password", None));
                let current = self
                    .existing
                    .pointer("/gateway/auth/mode")
                    .and_then(Value::as_str)
                    .unwrap_or("token");
                s.initial_value = Some(json!(if current == "password" {
                    "password"
                } else {
                    "token"
                }));
                s
            }
            Stage::GatewayPassword => {
                let mut s = step(
                    "gateway.password",
                    T::Text,
                    "Gateway password",
                    "Password clients must present",
                );
                s.sensitive = Some(true);
                s
            }
            Stage::Channels => {
                let mut s = step("channels", T::Select, "Channels", "Connect a chat app now?");
                s.options.push(opt("skip", "Not now", None));
                s.options.push(opt("telegram", "Telegram bot", None));
                s.options.push(opt("whatsapp", "WhatsApp (QR login)", None));
                s.initial_value = Some(json!("skip"));
                s
            }
            Stage::TelegramToken => {
                let mut s = step(
                    "telegram.token",
                    T::Text,
                    "Telegram",
                    "Bot token from @BotFather (checked with getMe; empty to skip)",
                );
                s.sensitive = Some(true);
                s
            }
            Stage::WhatsApp => step(
                "whatsapp",
                T::Note,
                "WhatsApp",
                "WhatsApp links by scanning a QR code with the phone: after the gateway starts, run `openclaw channels login` (or use the dashboard).",
            ),
            Stage::Daemon => {
                let mut s = step(
                    "daemon",
                    T::Confirm,
                    "Service",
                    "Install the gateway as a per-user service (starts at login)?",
                );
                s.initial_value = Some(json!(false));
                s
            }
            Stage::Confirm => {
                let mut s = step("confirm", T::Confirm, "Save", self.confirm_text());
                s.initial_value = Some(json!(true));
                s
            }
            Stage::Summary => step("summary", T::Note, "Done", self.summary_text()),
        };
        Some(s)
    }

    fn pending_ref(&self) -> String {
        format!(
            "{}/{}",
            self.provider.as_deref().unwrap_or("?"),
            self.model.as_deref().unwrap_or("?")
        )
    }

    fn confirm_text(&self) -> String {
        let mut lines = vec![format!("Write {}", self.ctx.paths.config_path.display())];
        if let Some(m) = &self.plan.model {
            lines.push(format!("Default model: {}", m.model_ref()));
            if let KeyStore::Profile(_) = m.key {
                lines.push(format!(
                    "API key → {}",
                    self.ctx
                        .paths
                        .agent_dir(plan::DEFAULT_AGENT)
                        .join("auth-profiles.json")
                        .display()
                ));
            }
        }
        if self.plan.telegram.is_some() {
            lines.push("Telegram bot → channels.telegram".into());
        }
        lines.push("Save?".into());
        lines.join("\n")
    }

    fn summary_text(&self) -> String {
        let Some(r) = &self.report else {
            return String::new();
        };
        let mut lines = vec![format!("Saved {}.", r.config_path.display())];
        if let Some(m) = &r.model_ref {
            lines.push(format!("Model: {m}"));
        }
        lines.push(format!("Workspace: {}", r.workspace.display()));
        lines.push(
            "Next: `openclaw gateway`, then `openclaw agent --message hi` or `openclaw dashboard`."
                .into(),
        );
        lines.join("\n")
    }

    /// Answers the current step (`step_id` must name it).
    pub async fn answer(&mut self, step_id: &str, value: Option<Value>) -> Advance {
        let Some(cur) = self.current() else {
            return Advance::Invalid("wizard not running".into());
        };
        if cur.id != step_id {
            return Advance::Invalid(format!("expected an answer to step {:?}", cur.id));
        }
        if cur.kind == WizardStepType::Select {
            let chosen = value.clone().or(cur.initial_value.clone());
            if !cur
                .options
                .iter()
                .any(|o| Some(&o.value) == chosen.as_ref())
            {
                return Advance::Invalid("choose one of the options".into());
            }
        }
        let chosen = value.clone().or(cur.initial_value.clone());
        match self.stage {
            Stage::Intro => self.stage = Stage::Risk,
            Stage::Risk => match bool_of(&chosen) {
                Some(true) => self.stage = Stage::Provider,
                Some(false) => self.status = WizardRunStatus::Cancelled,
                None => return Advance::Invalid("answer yes or no".into()),
            },
            Stage::Provider => {
                let p = text_of(&chosen);
                self.key = None;
                self.model = None;
                self.provider = Some(p.clone());
                self.stage = match p.as_str() {
                    "skip" => {
                        self.plan.model = None;
                        self.after_model()
                    }
                    "custom" => Stage::CustomBaseUrl,
                    "ollama" => Stage::Model,
                    _ => Stage::ApiKey,
                };
            }
            Stage::ApiKey => {
                let k = text_of(&value);
                let p = self.provider.clone().unwrap_or_default();
                if k.is_empty() && self.env_key(&p).is_none() {
                    return Advance::Invalid("an API key is required".into());
                }
                self.key = (!k.is_empty()).then_some(k);
                self.stage = if self.model.is_some() {
                    return self.run_test().await;
                } else {
                    Stage::Model
                };
            }
            Stage::Model => {
                let m = text_of(&chosen);
                if m.is_empty() {
                    return Advance::Invalid("a model id is required".into());
                }
                self.model = Some(m);
                return self.run_test().await;
            }
            Stage::CustomBaseUrl => {
                let u = text_of(&value);
                match reqwest::Url::parse(&u) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                    _ => return Advance::Invalid("enter an http(s) URL".into()),
                }
                self.custom_base = Some(u.trim_end_matches('/').to_string());
                self.stage = Stage::CustomCompat;
            }
            Stage::CustomCompat => {
                self.custom_api =
                    choices::compatibility_api(&text_of(&chosen)).unwrap_or(Api::OpenAiCompletions);
                self.stage = Stage::CustomKey;
            }
            Stage::CustomKey => {
                let k = text_of(&value);
                self.key = (!k.is_empty()).then_some(k);
                self.stage = if self.model.is_some() {
                    return self.run_test().await;
                } else {
                    Stage::CustomModel
                };
            }
            Stage::CustomModel => {
                let m = text_of(&value);
                if m.is_empty() {
                    return Advance::Invalid("a model id is required".into());
                }
                self.model = Some(m);
                return self.run_test().await;
            }
            Stage::TestOk => self.stage = self.after_model(),
            Stage::TestFailed => match text_of(&chosen).as_str() {
                "key" => {
                    self.stage = if self.provider.as_deref() == Some("custom") {
                        Stage::CustomKey
                    } else if self.provider.as_deref() == Some("ollama") {
                        self.model = None;
                        Stage::Model
                    } else {
                        Stage::ApiKey
                    }
                }
                "provider" => self.stage = Stage::Provider,
                _ => self.status = WizardRunStatus::Cancelled,
            },
            Stage::GatewayAuth => {
                if text_of(&chosen) == "password" {
                    self.stage = Stage::GatewayPassword;
                } else {
                    let token = self
                        .existing
                        .pointer("/gateway/auth/token")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(openclaw_config::dev::generate_token);
                    self.plan.auth = Some(GatewayAuth::Token(token));
                    self.stage = self.after_gateway();
                }
            }
            Stage::GatewayPassword => {
                let p = text_of(&value);
                if p.len() < 8 {
                    return Advance::Invalid("use at least 8 characters".into());
                }
                self.plan.auth = Some(GatewayAuth::Password(p));
                self.stage = self.after_gateway();
            }
            Stage::Channels => {
                self.stage = match text_of(&chosen).as_str() {
                    "telegram" => Stage::TelegramToken,
                    "whatsapp" => Stage::WhatsApp,
                    _ => self.after_channels(),
                }
            }
            Stage::TelegramToken => {
                let t = text_of(&value);
                if t.is_empty() {
                    self.plan.telegram = None;
                    self.stage = self.after_channels();
                    return Advance::Next;
                }
                match probe::telegram_get_me(&self.telegram_root, &t).await {
                    Ok(_bot) => {
                        let custom_root = self.telegram_root != probe::DEFAULT_TELEGRAM_API_ROOT;
                        self.plan.telegram = Some(plan::TelegramPlan {
                            token: t,
                            api_root: custom_root.then(|| self.telegram_root.clone()),
                        });
                        self.stage = self.after_channels();
                    }
                    Err(e) => return Advance::Invalid(format!("Telegram refused the token: {e}")),
                }
            }
            Stage::WhatsApp => self.stage = self.after_channels(),
            Stage::Daemon => {
                self.plan.install_daemon = bool_of(&chosen).unwrap_or(false);
                self.stage = Stage::Confirm;
            }
            Stage::Confirm => match bool_of(&chosen) {
                Some(true) => match plan::commit(&self.ctx.paths, self.ctx.dev, &self.plan) {
                    Ok(r) => {
                        self.report = Some(r);
                        self.stage = Stage::Summary;
                    }
                    Err(e) => {
                        self.status = WizardRunStatus::Error;
                        self.error = Some(e.to_string());
                    }
                },
                Some(false) => self.status = WizardRunStatus::Cancelled,
                None => return Advance::Invalid("answer yes or no".into()),
            },
            Stage::Summary => self.status = WizardRunStatus::Done,
        }
        Advance::Next
    }

    fn after_model(&self) -> Stage {
        match self.ctx.section {
            Section::All => Stage::GatewayAuth,
            _ => Stage::Confirm,
        }
    }

    fn after_gateway(&self) -> Stage {
        match self.ctx.section {
            Section::All => Stage::Channels,
            _ => Stage::Confirm,
        }
    }

    fn after_channels(&self) -> Stage {
        match self.ctx.section {
            Section::All if self.ctx.offer_daemon => Stage::Daemon,
            _ => Stage::Confirm,
        }
    }

    /// Builds the model plan from the draft and makes the one live request.
    async fn run_test(&mut self) -> Advance {
        let Some(mp) = self.model_plan() else {
            return Advance::Invalid("incomplete model choice".into());
        };
        let provider = match self.provider_config(&mp) {
            Ok(p) => p,
            Err(e) => return Advance::Invalid(e),
        };
        match probe::live_test(&provider, &mp.model).await {
            Ok(text) => {
                self.test_message = text;
                self.plan.model = Some(mp);
                self.stage = Stage::TestOk;
            }
            Err(e) => {
                self.test_message = e;
                self.plan.model = None;
                self.stage = Stage::TestFailed;
            }
        }
        Advance::Next
    }

    fn model_plan(&self) -> Option<ModelPlan> {
        let p = self.provider.clone()?;
        let model = self.model.clone()?;
        Some(match p.as_str() {
            "custom" => {
                let base = self.custom_base.clone()?;
                ModelPlan {
                    provider: choices::custom_provider_id(&base),
                    model,
                    key: self
                        .key
                        .clone()
                        .map(KeyStore::Config)
                        .unwrap_or(KeyStore::None),
                    provider_entry: Some(ProviderEntry {
                        base_url: base,
                        api: self.custom_api.clone(),
                    }),
                }
            }
            "ollama" => ModelPlan {
                provider: "ollama".into(),
                model,
                key: KeyStore::None,
                provider_entry: Some(ProviderEntry {
                    base_url: format!("{}/v1", self.ollama_url),
                    api: Api::OpenAiCompletions,
                }),
            },
            _ => ModelPlan {
                provider: p,
                model,
                key: self
                    .key
                    .clone()
                    .map(KeyStore::Profile)
                    .unwrap_or(KeyStore::Env),
                provider_entry: None,
            },
        })
    }

    fn provider_config(&self, mp: &ModelPlan) -> Result<ProviderConfig, String> {
        provider_for(mp, &*self.ctx.env, &self.existing)
    }
}

/// The provider a [`ModelPlan`] will resolve to at run time (for the live test): the
/// built-ins merged with the existing config's `models` section (a `baseUrl` override of a
/// built-in is honoured), with the plan's key.
pub fn provider_for(
    mp: &ModelPlan,
    env: &dyn Fn(&str) -> Option<String>,
    existing: &Value,
) -> Result<ProviderConfig, String> {
    let models: Option<openclaw_config::sections::ModelsConfig> = existing
        .get("models")
        .and_then(|m| serde_json::from_value(m.clone()).ok());
    let builtins = Providers::from_config(models.as_ref(), env).map_err(|e| e.to_string())?;
    let mut p = match (&mp.provider_entry, builtins.get(&mp.provider)) {
        (Some(e), _) => ProviderConfig {
            id: mp.provider.clone(),
            base_url: e.base_url.clone(),
            api: e.api.clone(),
            api_key: None,
            headers: Vec::new(),
            models: Vec::new(),
        },
        (None, Some(b)) => b.clone(),
        (None, None) => return Err(format!("unknown provider {:?}", mp.provider)),
    };
    match &mp.key {
        KeyStore::Profile(k) | KeyStore::Config(k) => p.api_key = Some(k.clone()),
        KeyStore::Env => {}
        // A keyless server still gets a placeholder: the client refuses to send none.
        KeyStore::None => p.api_key = Some("none".into()),
    }
    Ok(p)
}
