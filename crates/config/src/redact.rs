//! What a config reader may see: secrets in a config document are replaced by
//! [`REDACTED`] (the reference's marker) before `config.get` / `config.set` answer, and a write
//! that sends the marker back gets the original value restored, so a read-edit-write round trip
//! keeps the credentials without ever showing them.
//!
//! A string is a secret when any of these holds:
//! - a key on its path names a secret ([`is_secret_key`]: token, password, secret, API key,
//!   private key, authorization, cookie, credential, passphrase…), whatever is below it;
//! - it is below an `env` object (environment for the gateway, tools or servers) or a `headers`
//!   object (`Authorization`, `x-api-key`, cookies…), at any depth;
//! - its raw text used `${VAR}` substitution (the variable's value is secret wherever it lands,
//!   whatever the key is called).
//!
//! Elsewhere, credentials inside URL-looking strings are cut out (`https://user:pass@host`, and
//! query parameters with a secret name). A raw string that is only a placeholder (`"${KEY}"`)
//! is shown as is: the variable name is not the secret.

use std::collections::BTreeSet;

use serde_json::Value;

/// The marker that replaces a secret (same as the reference).
pub const REDACTED: &str = "__OPENCLAW_REDACTED__";

/// Substituted values shorter than this are not searched for in free text (error messages):
/// short values match too much, and their location is redacted by path anyway.
const MIN_SCRUB_LEN: usize = 6;

/// Whether a key names a secret. Case, `-` and `_` are ignored (`x-api-key`, `api_key`,
/// `privateKey`, `Authorization`).
pub fn is_secret_key(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    const PARTS: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "secret",
        "apikey",
        "privatekey",
        "accesskey",
        "signingkey",
        "authorization",
        "cookie",
        "credential",
        "bearer",
    ];
    PARTS.iter().any(|p| k.contains(p)) || k.ends_with("token") || k.ends_with("tokens")
}

/// Where `${VAR}` substitution happened in a raw (unsubstituted) config document, and the
/// values it produced.
#[derive(Debug, Clone, Default)]
pub struct Substitutions {
    paths: BTreeSet<Vec<String>>,
    values: Vec<String>,
}

impl Substitutions {
    /// Scans the raw document (JSON5 parsed, before substitution). Values are looked up in the
    /// process environment, as the loader does.
    pub fn of_raw(raw_doc: &Value) -> Substitutions {
        Self::of_raw_with(raw_doc, &|name| std::env::var(name).ok())
    }

    /// [`Substitutions::of_raw`] with an explicit environment (tests).
    pub fn of_raw_with(raw_doc: &Value, env: &dyn Fn(&str) -> Option<String>) -> Substitutions {
        let mut out = Substitutions::default();
        let mut path = Vec::new();
        out.scan(raw_doc, &mut path, env);
        out.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        out.values.dedup();
        out
    }

    fn scan(&mut self, v: &Value, path: &mut Vec<String>, env: &dyn Fn(&str) -> Option<String>) {
        match v {
            Value::String(s) => {
                let vars = referenced_vars(s);
                if !vars.is_empty() {
                    self.paths.insert(path.clone());
                    for var in vars {
                        if let Some(val) = env(var).filter(|v| v.len() >= MIN_SCRUB_LEN) {
                            self.values.push(val);
                        }
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    self.scan(item, path, env);
                    path.pop();
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    path.push(k.clone());
                    self.scan(item, path, env);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// Replaces every substituted value inside free text (error messages) with the marker,
    /// and URL credentials too.
    pub fn scrub_text(&self, text: &str) -> String {
        let mut s = redact_url_credentials(text);
        for v in &self.values {
            if s.contains(v.as_str()) {
                s = s.replace(v.as_str(), REDACTED);
            }
        }
        s
    }
}

/// The `${VAR}` names a raw string substitutes (`$${VAR}` is a literal, not a reference).
fn referenced_vars(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(pos) = rest.find("${") {
        let escaped = rest[..pos].ends_with('$');
        let after = &rest[pos + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if valid && !escaped {
            out.push(name);
        }
        rest = &after[end + 1..];
    }
    out
}

/// True for a string that is exactly one `${VAR}` reference.
fn is_placeholder(s: &str) -> bool {
    s.strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(|n| referenced_vars(s) == [n])
}

/// Redacts `doc` in place (see the module doc). `subs` tells which paths were substituted;
/// pass the scan of the raw text the document came from.
pub fn redact(doc: &mut Value, subs: &Substitutions) {
    let mut path = Vec::new();
    walk(doc, subs, &mut path, false);
}

fn walk(v: &mut Value, subs: &Substitutions, path: &mut Vec<String>, secret: bool) {
    match v {
        Value::String(s) => {
            if is_placeholder(s) {
                return;
            }
            if secret || subs.paths.contains(path.as_slice()) {
                *s = REDACTED.to_string();
            } else {
                let scrubbed = subs.scrub_text(s);
                if scrubbed != *s {
                    *s = scrubbed;
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                walk(item, subs, path, secret);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                let below = secret
                    || is_secret_key(k)
                    || k.eq_ignore_ascii_case("env")
                    || k.eq_ignore_ascii_case("headers");
                path.push(k.clone());
                walk(item, subs, path, below);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Cuts credentials out of every URL in `s`: the userinfo of `scheme://user:pass@host` and the
/// values of query parameters with a secret name (`?token=…`, `&api_key=…`).
pub fn redact_url_credentials(s: &str) -> String {
    if !s.contains("://") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        // The URL runs to the next whitespace or quote.
        let url_end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(tail.len());
        let (url, after) = tail.split_at(url_end);
        let auth_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let (authority, path_etc) = url.split_at(auth_end);
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        out.push_str(&redact_query(path_etc));
        rest = after;
    }
    out.push_str(rest);
    out
}

fn redact_query(path_etc: &str) -> String {
    let Some(q) = path_etc.find('?') else {
        return path_etc.to_string();
    };
    let (path, query) = path_etc.split_at(q + 1);
    let (query, fragment) = match query.find('#') {
        Some(h) => query.split_at(h),
        None => (query, ""),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((name, _)) if is_secret_key(name) || name.eq_ignore_ascii_case("key") => {
                format!("{name}={REDACTED}")
            }
            _ => p.to_string(),
        })
        .collect();
    format!("{path}{}{fragment}", params.join("&"))
}

/// A written document carries the redaction marker where the current config has no value to
/// put back; `path` is the dotted key path (`<root>` for the document itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{path}: holds the redaction marker {REDACTED} but the current config has no matching value there; send the real value"
)]
pub struct UnmatchedMarker {
    pub path: String,
}

/// Puts the original values back where a written document carries the marker (a client
/// edited what `config.get` showed). `original` is the current raw document. Returns whether
/// anything was restored; a marker with no original to restore is an error naming its path.
pub fn restore_redacted(doc: &mut Value, original: &Value) -> Result<bool, UnmatchedMarker> {
    let mut path = Vec::new();
    restore(doc, Some(original), &mut path)
}

fn restore(
    v: &mut Value,
    orig: Option<&Value>,
    path: &mut Vec<String>,
) -> Result<bool, UnmatchedMarker> {
    match v {
        Value::String(s) if s.contains(REDACTED) => {
            let o = orig.and_then(Value::as_str);
            match o {
                Some(o) if s == REDACTED || redact_url_credentials(o) == *s => {
                    *s = o.to_string();
                    Ok(true)
                }
                _ => Err(UnmatchedMarker {
                    path: if path.is_empty() {
                        "<root>".to_string()
                    } else {
                        path.join(".")
                    },
                }),
            }
        }
        Value::Array(items) => {
            let mut any = false;
            for (i, item) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                any |= restore(item, orig.and_then(|o| o.get(i)), path)?;
                path.pop();
            }
            Ok(any)
        }
        Value::Object(map) => {
            let mut any = false;
            for (k, item) in map.iter_mut() {
                path.push(k.clone());
                any |= restore(item, orig.and_then(|o| o.get(k.as_str())), path)?;
                path.pop();
            }
            Ok(any)
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        (name == "MY_KEY").then(|| "sk-live-0123456789".to_string())
    }

    #[test]
    fn every_kind_of_secret_is_redacted() {
        let raw = json!({
            "gateway": {"auth": {"mode": "token", "token": "sec-tok"}},
            "env": {"OPENAI_API_KEY": "sec-env", "vars": {"X": "sec-var"}, "shellEnv": {"enabled": true}},
            "models": {"providers": {"p": {
                "api_key": "sec-k1", "apiKey": "${MY_KEY}",
                "headers": {"Authorization": "Bearer sec-b", "x-api-key": "sec-k2", "X-Trace": "sec-t"},
                "baseUrl": "https://user:sec-pass@llm.example/v1?api_key=sec-q&model=m",
            }}},
            "channels": {"x": {"privateKey": "sec-pk", "cookies": {"sid": "sec-c"}, "creds": "plain",
                "label": "note ${MY_KEY} here", "passphrase": "sec-pp"}},
        });
        let subs = Substitutions::of_raw_with(&raw, &env);
        // The raw document: placeholders stay, everything else secret goes.
        let mut parsed = raw.clone();
        redact(&mut parsed, &subs);
        let text = parsed.to_string();
        assert!(!text.contains("sec-"), "a secret leaked: {text}");
        assert_eq!(parsed["models"]["providers"]["p"]["apiKey"], "${MY_KEY}");
        assert_eq!(parsed["gateway"]["auth"]["mode"], "token");
        assert_eq!(parsed["env"]["shellEnv"]["enabled"], true);
        assert_eq!(
            parsed["models"]["providers"]["p"]["baseUrl"],
            format!("https://{REDACTED}@llm.example/v1?api_key={REDACTED}&model=m")
        );
        assert_eq!(parsed["channels"]["x"]["creds"], "plain");
        // The substituted document: the value lands under innocent keys too.
        let mut resolved = raw.clone();
        resolved["models"]["providers"]["p"]["apiKey"] = json!("sk-live-0123456789");
        resolved["channels"]["x"]["label"] = json!("note sk-live-0123456789 here");
        redact(&mut resolved, &subs);
        assert!(!resolved.to_string().contains("sk-live"), "{resolved}");
        assert_eq!(
            subs.scrub_text("bad value \"sk-live-0123456789\""),
            format!("bad value \"{REDACTED}\"")
        );
    }

    #[test]
    fn secret_key_names() {
        for k in [
            "token",
            "botToken",
            "password",
            "apiKey",
            "api_key",
            "x-api-key",
            "API-KEY",
            "privateKey",
            "Authorization",
            "cookie",
            "Set-Cookie",
            "credentials",
            "clientSecret",
            "passphrase",
            "accessTokens",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "mode",
            "tokenFile",
            "model",
            "baseUrl",
            "maxTokensX",
            "auth",
            "keys",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn urls_lose_only_credentials() {
        assert_eq!(redact_url_credentials("plain text"), "plain text");
        assert_eq!(
            redact_url_credentials("see http://a:b@h:1/p and wss://h/x?token=t#f ok"),
            format!("see http://{REDACTED}@h:1/p and wss://h/x?token={REDACTED}#f ok")
        );
        assert_eq!(redact_url_credentials("https://h/p?q=1"), "https://h/p?q=1");
        assert_eq!(
            redact_url_credentials("ü://ü@ü"),
            format!("ü://{REDACTED}@ü")
        );
    }

    #[test]
    fn the_marker_is_restored_on_write() {
        let orig = json!({"a": {"token": "t", "url": "https://u:p@h/"}, "list": ["x", "${K}"]});
        let mut shown = orig.clone();
        redact(&mut shown, &Substitutions::default());
        shown["a"]["other"] = json!(1);
        assert!(restore_redacted(&mut shown, &orig).unwrap());
        assert_eq!(shown["a"]["token"], "t");
        assert_eq!(shown["a"]["url"], "https://u:p@h/");
        let mut bad = json!({"b": {"token": REDACTED}});
        let e = restore_redacted(&mut bad, &orig).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "b.token: holds the redaction marker {REDACTED} but the current config has no \
                 matching value there; send the real value"
            )
        );
        let mut none = json!({"a": 1});
        assert!(!restore_redacted(&mut none, &orig).unwrap());
    }
}
