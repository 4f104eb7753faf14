//! `openclaw models list|status|set`: which models the agents use and can use, in the
//! reference CLI's shapes. `list` joins the configured refs (primary, fallbacks, image model,
//! allowlist) with the running gateway's catalogue (`models.list`: names, context windows,
//! availability); `status` and `set` work on the config file as the reference's do, `set`
//! refusing a model no configured provider offers and writing through the validated, atomic
//! config write (a running gateway applies it through its file watcher and config gate).

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use openclaw_agent::{DEFAULT_MODEL_REF, ModelRef, Providers, builtin_env_var, model_chain};
use openclaw_config::edit::{to_text, write_config};
use openclaw_config::{LoadedConfig, Paths, load_config};
use serde_json::{Map, Value, json};

use crate::rpc::{Failure, Session, print_json};
use crate::{ConnArgs, Outcome};

#[derive(Args, Debug)]
pub struct ModelsCmd {
    #[command(subcommand)]
    pub sub: ModelsSub,
}

#[derive(Subcommand, Debug)]
pub enum ModelsSub {
    /// List the configured models (with --all: every model the gateway knows).
    List {
        /// Every model of the catalogue, not only the configured ones.
        #[arg(long)]
        all: bool,
        /// Only models served from this machine (loopback base URL).
        #[arg(long)]
        local: bool,
        /// Only this provider's models.
        #[arg(long)]
        provider: Option<String>,
        /// One model ref per line.
        #[arg(long)]
        plain: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// The default model, fallbacks, aliases, allowlist and provider auth.
    Status {
        #[arg(long)]
        json: bool,
        /// Only the resolved default model ref.
        #[arg(long)]
        plain: bool,
        /// Exit 1 when a provider in use has no credentials.
        #[arg(long)]
        check: bool,
    },
    /// Set the default model (`agents.defaults.model.primary`).
    Set {
        /// `provider/model`, a bare model id (anthropic) or an alias.
        model: String,
    },
}

pub async fn run(paths: &Paths, dev: bool, cmd: ModelsCmd) -> Outcome {
    match cmd.sub {
        ModelsSub::List {
            all,
            local,
            provider,
            plain,
            conn,
        } => {
            list(
                paths,
                dev,
                ListOpts {
                    all,
                    local,
                    provider,
                    plain,
                },
                conn,
            )
            .await
        }
        ModelsSub::Status { json, plain, check } => status(paths, json, plain, check),
        ModelsSub::Set { model } => set(paths, &model),
    }
}

/// What the config says about models, read once per command.
struct ModelConfig {
    loaded: LoadedConfig,
    /// The raw document (refs as written, aliases unresolved).
    raw: Value,
    providers: Providers,
    default_agent: String,
}

impl ModelConfig {
    fn load(paths: &Paths) -> Result<ModelConfig, String> {
        let loaded = load_config(&paths.config_path).map_err(|e| e.to_string())?;
        let raw = json5::from_str::<Value>(&loaded.raw).unwrap_or_else(|_| json!({}));
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let providers = Providers::from_config(loaded.config.models.as_ref(), &env)
            .map_err(|e| e.to_string())?;
        let list = loaded.config.agent_list();
        let default_agent = list
            .iter()
            .find(|a| a.default == Some(true))
            .or(list.first())
            .map(|a| a.id.to_ascii_lowercase())
            .unwrap_or_else(|| "main".into());
        Ok(ModelConfig {
            loaded,
            raw,
            providers,
            default_agent,
        })
    }

    fn defaults(&self) -> &Value {
        &self.raw["agents"]["defaults"]
    }

    /// `(primary, fallbacks)` of a `{primary, fallbacks}` or string spec, as written.
    fn spec(v: &Value) -> (String, Vec<String>) {
        match v {
            Value::String(s) => (s.trim().to_string(), Vec::new()),
            Value::Object(o) => (
                o.get("primary")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                o.get("fallbacks")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => (String::new(), Vec::new()),
        }
    }

    /// `agents.defaults.models`: the allowlist keys, and `alias → key`.
    fn allowlist(&self) -> (Vec<String>, BTreeMap<String, String>) {
        let mut keys = Vec::new();
        let mut aliases = BTreeMap::new();
        if let Some(m) = self.defaults()["models"].as_object() {
            for (k, v) in m {
                keys.push(k.clone());
                if let Some(a) = v["alias"].as_str().map(str::trim).filter(|a| !a.is_empty()) {
                    aliases.insert(a.to_string(), k.clone());
                }
            }
        }
        (keys, aliases)
    }

    /// The default agent's resolved primary ref (`anthropic/claude-opus-4-6` when unset).
    fn resolved_default(&self) -> String {
        model_chain(&self.loaded.config, &self.default_agent)
            .first()
            .map(ToString::to_string)
            .unwrap_or_else(|| DEFAULT_MODEL_REF.to_string())
    }

    /// A written ref as `provider/model`: aliases resolved, a bare id meaning `anthropic`.
    fn resolve(&self, raw: &str) -> Option<ModelRef> {
        let raw = raw.trim();
        let (_, aliases) = self.allowlist();
        let target = aliases
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(raw))
            .map(|(_, k)| k.as_str())
            .unwrap_or(raw);
        if target.is_empty() {
            return None;
        }
        ModelRef::parse(target).or_else(|| ModelRef::parse(&format!("anthropic/{target}")))
    }

    /// Why `r` is not a model this config can run, if it is not.
    fn unknown(&self, r: &ModelRef) -> Option<String> {
        let (allowed, _) = self.allowlist();
        let key = r.to_string();
        if allowed.iter().any(|k| k.eq_ignore_ascii_case(&key))
            && self.providers.get(&r.provider).is_some()
        {
            return None;
        }
        match self.providers.get(&r.provider) {
            None => Some(format!(
                "provider \"{}\" is not configured (models.providers) nor built in",
                r.provider
            )),
            Some(p) if !p.models.is_empty() && p.model_info(&r.model).is_none() => Some(format!(
                "provider \"{}\" lists no model \"{}\" (models.providers.{}.models)",
                r.provider, r.model, r.provider
            )),
            Some(_) => None,
        }
    }

    fn is_local(&self, provider: &str) -> Option<bool> {
        let p = self.providers.get(provider)?;
        let host = p
            .base_url
            .split("://")
            .nth(1)
            .unwrap_or_default()
            .split(['/', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Some(
            host == "localhost"
                || host.ends_with(".localhost")
                || host.starts_with("127.")
                || host == "[" // `[::1]` splits at the first `:`
                || host == "0.0.0.0",
        )
    }
}

struct ListOpts {
    all: bool,
    local: bool,
    provider: Option<String>,
    plain: bool,
}

/// The configured refs and their tags, in the reference's order (default, fallbacks, image,
/// allowlist), each ref once.
fn configured(cfg: &ModelConfig) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut tag = |r: Option<ModelRef>, t: String| {
        let Some(r) = r else { return };
        let key = r.to_string();
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, tags)) => tags.push(t),
            None => out.push((key, vec![t])),
        }
    };
    tag(ModelRef::parse(&cfg.resolved_default()), "default".into());
    let (_, fallbacks) = ModelConfig::spec(&cfg.defaults()["model"]);
    for (i, f) in fallbacks.iter().enumerate() {
        tag(cfg.resolve(f), format!("fallback#{}", i + 1));
    }
    let (image, image_fallbacks) = ModelConfig::spec(&cfg.defaults()["imageModel"]);
    if !image.is_empty() {
        tag(cfg.resolve(&image), "image".into());
    }
    for (i, f) in image_fallbacks.iter().enumerate() {
        tag(cfg.resolve(f), format!("img-fallback#{}", i + 1));
    }
    let (allowed, aliases) = cfg.allowlist();
    for k in allowed {
        tag(cfg.resolve(&k), "configured".into());
    }
    for (alias, k) in aliases {
        tag(cfg.resolve(&k), format!("alias:{alias}"));
    }
    out
}

/// `123456` → `123k` (context windows).
fn token_k(n: Option<u64>) -> String {
    match n {
        Some(n) if n >= 1000 => format!("{}k", (n as f64 / 1000.0).round()),
        Some(n) => n.to_string(),
        None => "-".into(),
    }
}

async fn list(paths: &Paths, dev: bool, opts: ListOpts, conn: ConnArgs) -> Outcome {
    let json = conn.json;
    let cfg = match ModelConfig::load(paths) {
        Ok(c) => c,
        Err(e) => return Failure::Message(e).print("models list", json),
    };
    let session = match Session::open(paths, dev, &conn).await {
        Ok(s) => s,
        Err(f) => return f.print("models list", json),
    };
    let result = session.call("models.list", json!({})).await;
    session.close().await;
    let catalog = match result {
        Ok(v) => v["models"].as_array().cloned().unwrap_or_default(),
        Err(f) => return f.print("models list", json),
    };
    let find = |key: &str| {
        catalog.iter().find(|m| {
            let k = format!(
                "{}/{}",
                m["provider"].as_str().unwrap_or_default(),
                m["id"].as_str().unwrap_or_default()
            );
            k.eq_ignore_ascii_case(key)
        })
    };
    let mut entries = configured(&cfg);
    if opts.all {
        for m in &catalog {
            let key = format!(
                "{}/{}",
                m["provider"].as_str().unwrap_or_default(),
                m["id"].as_str().unwrap_or_default()
            );
            if !entries.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                entries.push((key, Vec::new()));
            }
        }
    }
    let filter = opts
        .provider
        .as_deref()
        .map(|p| p.trim().to_ascii_lowercase());
    let rows: Vec<Value> = entries
        .into_iter()
        .filter_map(|(key, mut tags)| {
            let r = ModelRef::parse(&key)?;
            if filter.as_ref().is_some_and(|p| *p != r.provider) {
                return None;
            }
            let local = cfg.is_local(&r.provider);
            if opts.local && local != Some(true) {
                return None;
            }
            let entry = find(&key);
            let missing = cfg.unknown(&r).is_some();
            if missing {
                tags.push("missing".into());
            }
            let available = entry
                .and_then(|m| m["available"].as_bool())
                .or_else(|| cfg.providers.get(&r.provider).map(|p| p.api_key.is_some()));
            let input = match entry.and_then(|m| m["input"].as_array()) {
                Some(i) => i
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("+"),
                None => "text".into(),
            };
            Some(json!({
                "key": key,
                "name": entry.and_then(|m| m["name"].as_str()).unwrap_or(&r.model),
                "input": input,
                "contextWindow": entry.and_then(|m| m["contextWindow"].as_u64()),
                "local": local,
                "available": available,
                "tags": tags,
                "missing": missing,
            }))
        })
        .collect();
    if json {
        print_json(&json!({"count": rows.len(), "models": rows}));
        return Outcome::Done;
    }
    if rows.is_empty() {
        println!("No models found.");
        return Outcome::Done;
    }
    if opts.plain {
        for r in &rows {
            println!("{}", r["key"].as_str().unwrap_or_default());
        }
        return Outcome::Done;
    }
    let pad = |s: &str, w: usize| format!("{s:<w$}");
    let yes_no = |v: &Value| match v.as_bool() {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    println!(
        "{} {} {} {} {} Tags",
        pad("Model", 42),
        pad("Input", 10),
        pad("Ctx", 11),
        pad("Local", 5),
        pad("Auth", 5)
    );
    for r in &rows {
        let key = r["key"].as_str().unwrap_or_default();
        let key = if key.chars().count() > 42 {
            format!("{}…", key.chars().take(41).collect::<String>())
        } else {
            key.to_string()
        };
        let tags: Vec<&str> = r["tags"]
            .as_array()
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        println!(
            "{} {} {} {} {} {}",
            pad(&key, 42),
            pad(r["input"].as_str().unwrap_or("-"), 10),
            pad(&token_k(r["contextWindow"].as_u64()), 11),
            pad(yes_no(&r["local"]), 5),
            pad(yes_no(&r["available"]), 5),
            tags.join(",")
        );
    }
    Outcome::Done
}

fn status(paths: &Paths, json: bool, plain: bool, check: bool) -> Outcome {
    let cfg = match ModelConfig::load(paths) {
        Ok(c) => c,
        Err(e) => return Failure::Message(e).print("models status", json),
    };
    let resolved = cfg.resolved_default();
    let (raw_primary, fallbacks) = ModelConfig::spec(&cfg.defaults()["model"]);
    let default_label = if raw_primary.is_empty() {
        resolved.clone()
    } else {
        raw_primary.clone()
    };
    let (image, image_fallbacks) = ModelConfig::spec(&cfg.defaults()["imageModel"]);
    let (allowed, aliases) = cfg.allowlist();
    let agent_dir = paths
        .state_dir
        .join("agents")
        .join(&cfg.default_agent)
        .join("agent");
    // Providers named anywhere in the model config, and those a run would use.
    let provider_of = |raw: &str| cfg.resolve(raw).map(|r| r.provider);
    let in_use: Vec<String> = std::iter::once(default_label.as_str())
        .chain(fallbacks.iter().map(String::as_str))
        .chain(std::iter::once(image.as_str()).filter(|s| !s.is_empty()))
        .chain(image_fallbacks.iter().map(String::as_str))
        .filter_map(provider_of)
        .collect();
    let mut named: Vec<String> = in_use
        .iter()
        .cloned()
        .chain(allowed.iter().filter_map(|k| provider_of(k)))
        .chain(
            cfg.raw["models"]["providers"]
                .as_object()
                .map(|m| m.keys().map(|k| k.to_ascii_lowercase()).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .collect();
    named.sort();
    named.dedup();
    let provider_auth: Vec<Value> = named
        .iter()
        .filter_map(|id| {
            let configured_key = cfg.raw["models"]["providers"]
                .as_object()
                .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(id)))
                .is_some_and(|(_, v)| v["apiKey"].as_str().is_some_and(|k| !k.trim().is_empty()));
            let env_var = builtin_env_var(id)
                .filter(|v| std::env::var(v).is_ok_and(|x| !x.trim().is_empty()));
            let (kind, detail) = match (configured_key, env_var) {
                (true, _) => ("models.json", format!("models.providers.{id}.apiKey")),
                (false, Some(v)) => ("env", v.to_string()),
                (false, None) => return None,
            };
            let mut entry = json!({
                "provider": id,
                "effective": {"kind": kind, "detail": detail},
                "profiles": {"count": 0, "oauth": 0, "token": 0, "apiKey": 0, "labels": []},
            });
            if let Some(v) = env_var {
                entry["env"] = json!({"value": "set", "source": v});
            }
            if configured_key {
                entry["modelsJson"] =
                    json!({"value": "set", "source": paths.config_path.to_string_lossy()});
            }
            Some(entry)
        })
        .collect();
    let mut missing: Vec<String> = in_use
        .iter()
        .filter(|p| *p != "ollama" && !provider_auth.iter().any(|e| e["provider"] == **p))
        .cloned()
        .collect();
    missing.sort();
    missing.dedup();
    let failed = check && !missing.is_empty();
    let finish = if failed {
        Outcome::Failed
    } else {
        Outcome::Done
    };
    if json {
        print_json(&json!({
            "configPath": paths.config_path.to_string_lossy(),
            "agentDir": agent_dir.to_string_lossy(),
            "defaultModel": default_label,
            "resolvedDefault": resolved,
            "fallbacks": fallbacks,
            "imageModel": (!image.is_empty()).then_some(image.clone()),
            "imageFallbacks": image_fallbacks,
            "aliases": aliases,
            "allowed": allowed,
            "auth": {
                "storePath": agent_dir.join("auth-profiles.json").to_string_lossy(),
                "shellEnvFallback": {"enabled": false, "appliedKeys": []},
                "providersWithOAuth": [],
                "missingProvidersInUse": missing,
                "providers": provider_auth,
                "unusableProfiles": [],
                "oauth": {"warnAfterMs": 86_400_000, "profiles": [], "providers": []},
            },
        }));
        return finish;
    }
    if plain {
        println!("{resolved}");
        return finish;
    }
    let label = |s: &str| format!("{s:<14}");
    let dash = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let shown_default = if !raw_primary.is_empty() && raw_primary != resolved {
        format!("{resolved} (from {raw_primary})")
    } else {
        resolved.clone()
    };
    println!("{}: {}", label("Config"), paths.config_path.display());
    println!("{}: {}", label("Agent dir"), agent_dir.display());
    println!("{}: {shown_default}", label("Default"));
    println!(
        "{}: {}",
        label(&format!("Fallbacks ({})", fallbacks.len())),
        dash(&fallbacks)
    );
    println!(
        "{}: {}",
        label("Image model"),
        if image.is_empty() { "-" } else { &image }
    );
    println!(
        "{}: {}",
        label(&format!("Image fallbacks ({})", image_fallbacks.len())),
        dash(&image_fallbacks)
    );
    let alias_list: Vec<String> = aliases.iter().map(|(a, k)| format!("{a} -> {k}")).collect();
    println!(
        "{}: {}",
        label(&format!("Aliases ({})", aliases.len())),
        dash(&alias_list)
    );
    println!(
        "{}: {}",
        label(&format!("Configured models ({})", allowed.len())),
        if allowed.is_empty() {
            "all".to_string()
        } else {
            allowed.join(", ")
        }
    );
    println!();
    println!("Auth overview");
    for e in &provider_auth {
        println!(
            "- {} effective={}:{}",
            e["provider"].as_str().unwrap_or_default(),
            e["effective"]["kind"].as_str().unwrap_or_default(),
            e["effective"]["detail"].as_str().unwrap_or_default()
        );
    }
    if !missing.is_empty() {
        println!();
        println!("Missing auth");
        for p in &missing {
            println!("- {p}");
        }
    }
    finish
}

/// `models set`: validates the ref, then sets `agents.defaults.model.primary` in the config
/// file (keeping fallbacks; adding the ref to a non-empty allowlist, as the reference does).
fn set(paths: &Paths, model: &str) -> Outcome {
    let cfg = match ModelConfig::load(paths) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Failed;
        }
    };
    let Some(r) = cfg.resolve(model) else {
        eprintln!("Invalid model: {model}");
        return Outcome::Failed;
    };
    if let Some(why) = cfg.unknown(&r) {
        eprintln!("Unknown model: {r}: {why}.");
        eprintln!("Invalid model: {model}");
        return Outcome::Failed;
    }
    let key = r.to_string();
    let mut doc = cfg.raw.clone();
    let Some(defaults) = ensure_object(&mut doc, &["agents", "defaults"]) else {
        eprintln!("cannot edit {}", paths.config_path.display());
        return Outcome::Failed;
    };
    let spec = defaults
        .entry("model")
        .or_insert_with(|| Value::Object(Map::new()));
    if !spec.is_object() {
        *spec = Value::Object(Map::new());
    }
    spec["primary"] = json!(key);
    if let Some(allow) = defaults.get_mut("models").and_then(Value::as_object_mut)
        && !allow.is_empty()
        && !allow.keys().any(|k| k.eq_ignore_ascii_case(&key))
    {
        allow.insert(key.clone(), json!({}));
    }
    match write_config(&paths.config_path, &to_text(&doc)) {
        Ok(()) => {
            println!("Updated {}", paths.config_path.display());
            println!("Default model: {key}");
            Outcome::Done
        }
        Err(e) => {
            eprintln!("not written: {e}");
            Outcome::Failed
        }
    }
}

/// The object at `path` of `doc`, created (replacing non-objects) on the way.
fn ensure_object<'a>(doc: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut cur = doc;
    for k in path {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = cur
            .as_object_mut()?
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    cur.as_object_mut()
}
