//! Config RPC: `config.get` (with the file's hash), `config.set` / `config.apply` (whole file)
//! and `config.patch` (JSON merge patch) with base-hash optimistic concurrency, validation
//! before write, atomic write with a `.bak`, then the normal reload path; `config.schema`.

use openclaw_config::edit::{merge_patch, to_text, write_config};
use openclaw_config::load::{ConfigError, parse_config, sha256_hex};
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

/// Writes are serialized process-wide so a base-hash check and its write are one step.
static WRITE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const REDACTED: &str = "__OPENCLAW_REDACTED__";

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["token", "password", "apikey", "secret", "bottoken"]
        .iter()
        .any(|s| k == *s || k.ends_with(s))
}

/// Replaces secret-looking string values (tokens, passwords, API keys) for non-admin readers.
fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if val.is_string() && is_secret_key(k) {
                    *val = json!(REDACTED);
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

fn issue_of(e: &ConfigError) -> ConfigIssue {
    match e {
        ConfigError::Invalid { key, message, .. } => ConfigIssue {
            path: key.clone(),
            message: message.clone(),
        },
        ConfigError::MissingEnv { key, var, .. } => ConfigIssue {
            path: key.clone(),
            message: format!("missing environment variable {var}"),
        },
        other => ConfigIssue {
            path: "<root>".into(),
            message: other.to_string(),
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
        let parsed: Value = if text.trim().is_empty() {
            json!({})
        } else {
            json5::from_str(&text).unwrap_or(Value::Null)
        };
        let (valid, issues) = match parse_config(&path, &text) {
            Ok(_) => (true, Vec::new()),
            Err(e) => (false, vec![issue_of(&e)]),
        };
        let mut config = serde_json::to_value(&ctx.state.config().config).unwrap_or_default();
        let mut parsed = parsed;
        let admin = ctx.scopes.iter().any(|s| s == scopes::ADMIN);
        let raw_out = if admin {
            raw.clone().unwrap_or_default()
        } else {
            redact(&mut parsed);
            redact(&mut config);
            if raw.is_some() {
                to_text(&parsed)
            } else {
                String::new()
            }
        };
        let result = ConfigGetResult {
            path: path.to_string_lossy().into_owned(),
            exists: raw.is_some(),
            raw: raw_out,
            parsed,
            valid,
            config,
            hash: sha256_hex(&text),
            issues,
        };
        let mut v = serde_json::to_value(result).unwrap_or(Value::Null);
        if raw.is_none() {
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
    let _guard = WRITE_LOCK.lock().await;
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
    let invalid = |e: ConfigError| {
        ErrorShape::invalid_request("invalid config")
            .with_details(json!({"issues": [issue_of(&e)], "message": e.to_string()}))
    };
    let new_text = match kind {
        WriteKind::Replace => p.raw.clone(),
        WriteKind::Patch => {
            let patch: Value = json5::from_str(&p.raw)
                .map_err(|e| ErrorShape::invalid_request(format!("invalid config patch: {e}")))?;
            let mut doc: Value = if current_text.trim().is_empty() {
                json!({})
            } else {
                json5::from_str(&current_text).map_err(|e| {
                    ErrorShape::invalid_request(format!(
                        "the current config does not parse, so it cannot be patched: {e}"
                    ))
                })?
            };
            merge_patch(&mut doc, &patch);
            to_text(&doc)
        }
    };
    let config = parse_config(&path, &new_text).map_err(invalid)?;
    write_config(&path, &new_text).map_err(|e| match e {
        ConfigError::Read { .. } => ErrorShape::unavailable(e.to_string()),
        other => invalid(other),
    })?;
    tracing::info!(target: "reload", "config written by {method} (conn={})", ctx.conn_id);
    ctx.state.request_reload();
    let result = ConfigWriteResult {
        ok: true,
        path: path.to_string_lossy().into_owned(),
        config: serde_json::to_value(config).unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secrets() {
        let mut v = json!({"gateway": {"auth": {"token": "abc", "mode": "token"}}, "models": {"providers": {"x": {"apiKey": "k"}}}});
        redact(&mut v);
        assert_eq!(v["gateway"]["auth"]["token"], REDACTED);
        assert_eq!(v["gateway"]["auth"]["mode"], "token");
        assert_eq!(v["models"]["providers"]["x"]["apiKey"], REDACTED);
    }
}
