//! Config RPC: `config.get` (with the file's hash), `config.set` / `config.apply` (whole file)
//! and `config.patch` (JSON merge patch) with base-hash optimistic concurrency, validation
//! before write, atomic write with a `.bak`, then the normal reload path; `config.schema`.
//!
//! Every caller, admin included, reads secrets as the redaction marker (as the reference does;
//! rules in `openclaw_config::redact`): `raw` is re-rendered from the redacted document, so
//! comments and unparsable text never carry a secret out. Writes that send the marker back get
//! the original value restored.

use openclaw_config::edit::{merge_patch, to_text, write_config};
use openclaw_config::load::{ConfigError, parse_config, sha256_hex};
use openclaw_config::redact::{Substitutions, redact, restore_redacted};
use openclaw_protocol::connect::scopes;
use openclaw_protocol::methods::names_live;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::{
    ConfigGetResult, ConfigIssue, ConfigWriteParams, ConfigWriteResult, EmptyParams, ErrorShape,
};
use serde_json::{Value, json};

use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};

pub fn register(out: &mut Vec<MethodSpec>) {
    out.push(MethodSpec {
        name: names_live::CONFIG_GET,
        access: Access::Scope(scopes::READ),
        handler: config_get,
    });
    out.push(MethodSpec {
        name: names_live::CONFIG_SET,
        access: Access::Scope(scopes::ADMIN),
        handler: config_set,
    });
    out.push(MethodSpec {
        name: names_live::CONFIG_APPLY,
        access: Access::Scope(scopes::ADMIN),
        handler: config_apply,
    });
    out.push(MethodSpec {
        name: names_live::CONFIG_PATCH,
        access: Access::Scope(scopes::ADMIN),
        handler: config_patch,
    });
    out.push(MethodSpec {
        name: names_live::CONFIG_SCHEMA,
        // The schema holds no values, only shapes: readable as in the reference.
        access: Access::Scope(scopes::READ),
        handler: config_schema,
    });
}

/// The raw (unsubstituted) document of config text; `Null` when it does not parse.
fn raw_doc(text: &str) -> Value {
    if text.trim().is_empty() {
        json!({})
    } else {
        json5::from_str(text).unwrap_or(Value::Null)
    }
}

/// A validation problem as shown to a caller: messages may quote a value (serde's
/// `invalid type: string "…"`, which after substitution can be an environment secret), so
/// they are scrubbed.
fn issue_of(e: &ConfigError, subs: &Substitutions) -> ConfigIssue {
    match e {
        ConfigError::Invalid { key, message, .. } => ConfigIssue {
            path: key.clone(),
            message: subs.scrub_text(message),
        },
        ConfigError::MissingEnv { key, var, .. } => ConfigIssue {
            path: key.clone(),
            message: format!("missing environment variable {var}"),
        },
        other => ConfigIssue {
            path: "<root>".into(),
            message: subs.scrub_text(&other.to_string()),
        },
    }
}

fn read_raw(path: &std::path::Path) -> Result<Option<String>, ErrorShape> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ErrorShape::unavailable(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn config_get<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names_live::CONFIG_GET, params)?;
        let path = ctx.state.paths.config_path.clone();
        let raw = read_raw(&path)?;
        let text = raw.clone().unwrap_or_default();
        let mut parsed = raw_doc(&text);
        let subs = Substitutions::of_raw(&parsed);
        let (valid, issues) = match parse_config(&path, &text) {
            Ok(_) => (true, Vec::new()),
            Err(e) => (false, vec![issue_of(&e, &subs)]),
        };
        // The running config may come from an older text than the file: scan that text.
        let loaded = ctx.state.config();
        let mut config = serde_json::to_value(&loaded.config).unwrap_or_default();
        redact(&mut config, &Substitutions::of_raw(&raw_doc(&loaded.raw)));
        redact(&mut parsed, &subs);
        let parses = !parsed.is_null();
        let result = ConfigGetResult {
            path: path.to_string_lossy().into_owned(),
            exists: raw.is_some(),
            raw: to_text(&parsed),
            parsed,
            valid,
            config,
            hash: sha256_hex(&text),
            issues,
        };
        let mut v = serde_json::to_value(result).unwrap_or(Value::Null);
        // No file, or text that does not parse (which cannot be redacted): no raw text.
        if raw.is_none() || !parses {
            v["raw"] = Value::Null;
        }
        Ok(Reply::Json(v))
    })
}

enum WriteKind {
    Replace,
    Patch,
}

async fn write(
    ctx: &MethodCtx,
    method: &str,
    params: Option<&Value>,
    kind: WriteKind,
) -> Result<Reply, ErrorShape> {
    let p = parse_params::<ConfigWriteParams>(method, params)?;
    let path = ctx.state.paths.config_path.clone();
    let _guard = ctx.state.process.config_write_lock.lock().await;
    let current = read_raw(&path)?;
    let current_text = current.clone().unwrap_or_default();
    let current_hash = sha256_hex(&current_text);
    match (&p.base_hash, current.is_some()) {
        (Some(h), _) if *h != current_hash => {
            return Err(ErrorShape::invalid_request(
                "config changed since last load; re-run config.get and retry",
            )
            .with_details(
                json!({"code": "CONFIG_BASE_HASH_MISMATCH", "currentHash": current_hash}),
            ));
        }
        (None, true) => {
            return Err(ErrorShape::invalid_request(
                "config base hash required; re-run config.get and retry",
            )
            .with_details(
                json!({"code": "CONFIG_BASE_HASH_REQUIRED", "currentHash": current_hash}),
            ));
        }
        _ => {}
    }
    let current_doc = raw_doc(&current_text);
    let new_text = match kind {
        WriteKind::Replace => {
            // Markers only matter inside strings; the text is re-rendered only if one was
            // restored (otherwise the caller's formatting and comments are kept).
            match json5::from_str::<Value>(&p.raw) {
                Ok(mut doc) if p.raw.contains(openclaw_config::redact::REDACTED) => {
                    if restore_redacted(&mut doc, &current_doc)
                        .map_err(|e| ErrorShape::invalid_request(e.to_string()))?
                    {
                        to_text(&doc)
                    } else {
                        p.raw.clone()
                    }
                }
                _ => p.raw.clone(),
            }
        }
        WriteKind::Patch => {
            let patch: Value = json5::from_str(&p.raw)
                .map_err(|e| ErrorShape::invalid_request(format!("invalid config patch: {e}")))?;
            if current_doc.is_null() {
                return Err(ErrorShape::invalid_request(
                    "the current config does not parse, so it cannot be patched",
                ));
            }
            let mut doc = current_doc.clone();
            merge_patch(&mut doc, &patch);
            restore_redacted(&mut doc, &current_doc)
                .map_err(|e| ErrorShape::invalid_request(e.to_string()))?;
            to_text(&doc)
        }
    };
    let new_doc = raw_doc(&new_text);
    let subs = Substitutions::of_raw(&new_doc);
    let invalid = |e: ConfigError| {
        let issue = issue_of(&e, &subs);
        let message = format!("invalid config: {}: {}", issue.path, issue.message);
        ErrorShape::invalid_request("invalid config")
            .with_details(json!({"issues": [issue], "message": message}))
    };
    let config = parse_config(&path, &new_text).map_err(invalid)?;
    crate::config_check::check(&path, &config).map_err(invalid)?;
    write_config(&path, &new_text).map_err(|e| match e {
        ConfigError::Read { .. } => ErrorShape::unavailable(e.to_string()),
        other => invalid(other),
    })?;
    tracing::info!(target: "reload", "config written by {method} (conn={})", ctx.conn_id);
    ctx.state.request_reload();
    let mut config = serde_json::to_value(config).unwrap_or_default();
    redact(&mut config, &subs);
    let result = ConfigWriteResult {
        ok: true,
        path: path.to_string_lossy().into_owned(),
        config,
        hash: sha256_hex(&new_text),
    };
    Ok(Reply::Json(
        serde_json::to_value(result).unwrap_or(Value::Null),
    ))
}

fn config_set<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(write(
        ctx,
        names_live::CONFIG_SET,
        params,
        WriteKind::Replace,
    ))
}

fn config_apply<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(write(
        ctx,
        names_live::CONFIG_APPLY,
        params,
        WriteKind::Replace,
    ))
}

fn config_patch<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(write(
        ctx,
        names_live::CONFIG_PATCH,
        params,
        WriteKind::Patch,
    ))
}

fn config_schema<'a>(_ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        parse_params::<EmptyParams>(names_live::CONFIG_SCHEMA, params)?;
        Ok(Reply::Json(json!({
            "schema": openclaw_config::model::config_schema(),
            "uiHints": {},
            "version": env!("CARGO_PKG_VERSION"),
            "generatedAt": crate::state::now_ms(),
        })))
    })
}
