//! What a config change needs: which key paths changed, and whether each can be applied hot or
//! needs an in-process restart. The table follows the spec's hot-reload classification:
//! longest matching prefix wins; anything unmatched needs a restart.

use serde_json::Value;

use crate::model::ReloadMode;

/// How a changed key path can be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadClass {
    Hot,
    Restart,
}

/// `(prefix, class)`; longest matching prefix wins.
pub const RELOAD_TABLE: &[(&str, ReloadClass)] = &[
    ("meta", ReloadClass::Hot),
    ("wizard", ReloadClass::Hot),
    ("agents", ReloadClass::Hot),
    ("models", ReloadClass::Hot),
    ("auth", ReloadClass::Hot),
    ("hooks", ReloadClass::Hot),
    ("cron", ReloadClass::Hot),
    ("session", ReloadClass::Hot),
    ("messages", ReloadClass::Hot),
    ("commands", ReloadClass::Hot),
    ("tools", ReloadClass::Hot),
    ("skills", ReloadClass::Hot),
    ("audio", ReloadClass::Hot),
    ("talk", ReloadClass::Hot),
    ("tts", ReloadClass::Hot),
    ("plugins", ReloadClass::Hot),
    ("ui", ReloadClass::Hot),
    ("logging", ReloadClass::Hot),
    ("identity", ReloadClass::Hot),
    ("bindings", ReloadClass::Hot),
    ("broadcast", ReloadClass::Hot),
    ("approvals", ReloadClass::Hot),
    ("env", ReloadClass::Hot),
    ("channels", ReloadClass::Hot),
    ("gateway", ReloadClass::Restart),
    ("gateway.reload", ReloadClass::Hot),
    ("gateway.http.endpoints", ReloadClass::Hot),
    ("gateway.tools", ReloadClass::Hot),
    ("gateway.nodes", ReloadClass::Hot),
    ("gateway.auth", ReloadClass::Restart),
    ("gateway.auth.token", ReloadClass::Hot),
    ("gateway.auth.password", ReloadClass::Hot),
    ("gateway.auth.rateLimit", ReloadClass::Hot),
    ("gateway.auth.allowTailscale", ReloadClass::Hot),
    ("gateway.trustedProxies", ReloadClass::Hot),
    ("gateway.allowRealIpFallback", ReloadClass::Hot),
    ("gateway.controlUi", ReloadClass::Hot),
    ("gateway.controlUi.allowedOrigins", ReloadClass::Hot),
    ("gateway.remote", ReloadClass::Hot),
    ("gateway.channelHealthCheckMinutes", ReloadClass::Hot),
    ("gateway.port", ReloadClass::Restart),
    ("gateway.bind", ReloadClass::Restart),
    ("gateway.customBindHost", ReloadClass::Restart),
    ("gateway.mode", ReloadClass::Restart),
    ("gateway.tls", ReloadClass::Restart),
    ("gateway.tailscale", ReloadClass::Restart),
    ("canvasHost", ReloadClass::Restart),
    ("discovery", ReloadClass::Restart),
];

/// The class of one dotted key path.
pub fn classify(path: &str) -> ReloadClass {
    RELOAD_TABLE
        .iter()
        .filter(|(prefix, _)| {
            path == *prefix
                || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'.'))
        })
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, c)| *c)
        .unwrap_or(ReloadClass::Restart)
}

/// Dotted paths whose values differ between two documents (objects are descended; arrays and
/// scalars compare whole).
pub fn changed_paths(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff(old, new, &mut String::new(), &mut out);
    out
}

fn diff(old: &Value, new: &Value, path: &mut String, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                diff(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    path,
                    out,
                );
                path.truncate(len);
            }
        }
        (a, b) if a == b => {}
        _ => out.push(if path.is_empty() {
            "<root>".into()
        } else {
            path.clone()
        }),
    }
}

/// What to do about a set of changed paths under a reload mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadPlan {
    /// Nothing changed, or reload is off.
    Nothing,
    /// Apply in place; `ignored` lists restart-only paths left for the next restart (mode `hot`).
    Hot { ignored: Vec<String> },
    /// Restart in-process; `because` lists the paths that require it.
    Restart { because: Vec<String> },
}

pub fn plan(mode: ReloadMode, changed: &[String]) -> ReloadPlan {
    if changed.is_empty() || mode == ReloadMode::Off {
        return ReloadPlan::Nothing;
    }
    let restart: Vec<String> = changed
        .iter()
        .filter(|p| classify(p) == ReloadClass::Restart)
        .cloned()
        .collect();
    match mode {
        ReloadMode::Off => ReloadPlan::Nothing,
        ReloadMode::Hot => ReloadPlan::Hot { ignored: restart },
        ReloadMode::Restart => ReloadPlan::Restart {
            because: changed.to_vec(),
        },
        ReloadMode::Hybrid if restart.is_empty() => ReloadPlan::Hot {
            ignored: Vec::new(),
        },
        ReloadMode::Hybrid => ReloadPlan::Restart { because: restart },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_longest_prefix_wins() {
        assert_eq!(classify("gateway.port"), ReloadClass::Restart);
        assert_eq!(classify("gateway.bind"), ReloadClass::Restart);
        assert_eq!(classify("gateway.auth.mode"), ReloadClass::Restart);
        assert_eq!(classify("gateway.auth.token"), ReloadClass::Hot);
        assert_eq!(
            classify("gateway.auth.rateLimit.maxAttempts"),
            ReloadClass::Hot
        );
        assert_eq!(classify("gateway.reload.debounceMs"), ReloadClass::Hot);
        assert_eq!(classify("logging.level"), ReloadClass::Hot);
        assert_eq!(
            classify("agents.defaults.heartbeat.every"),
            ReloadClass::Hot
        );
        assert_eq!(classify("canvasHost.port"), ReloadClass::Restart);
        assert_eq!(
            classify("gatewayish"),
            ReloadClass::Restart,
            "unmatched ⇒ restart"
        );
        assert_eq!(classify("gateway.portal"), ReloadClass::Restart);
        assert_eq!(classify("somethingNew"), ReloadClass::Restart);
    }

    #[test]
    fn diff_finds_leaf_paths() {
        let a =
            json!({"gateway": {"port": 1, "auth": {"token": "a"}}, "logging": {"level": "info"}});
        let b = json!({"gateway": {"port": 2, "auth": {"token": "a"}}, "logging": {}});
        assert_eq!(changed_paths(&a, &b), vec!["gateway.port", "logging.level"]);
        assert!(changed_paths(&a, &a).is_empty());
    }

    #[test]
    fn plans_by_mode() {
        let hot = vec!["logging.level".to_string()];
        let mixed = vec!["logging.level".to_string(), "gateway.port".to_string()];
        assert_eq!(plan(ReloadMode::Off, &mixed), ReloadPlan::Nothing);
        assert_eq!(
            plan(ReloadMode::Hybrid, &hot),
            ReloadPlan::Hot { ignored: vec![] }
        );
        assert_eq!(
            plan(ReloadMode::Hybrid, &mixed),
            ReloadPlan::Restart {
                because: vec!["gateway.port".into()]
            }
        );
        assert_eq!(
            plan(ReloadMode::Hot, &mixed),
            ReloadPlan::Hot {
                ignored: vec!["gateway.port".into()]
            }
        );
        assert_eq!(
            plan(ReloadMode::Restart, &hot),
            ReloadPlan::Restart {
                because: hot.clone()
            }
        );
    }
}
