//! `channels.*` config → one `AccountConfig` per channel account (channels.md §1.1, §2.1, §3.1),
//! validated with key-path errors. Pure: reads only an optional `tokenFile`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A `channels.*` section that does not resolve: the key path and what is wrong, shown as
/// `<key path>: <message>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ChannelConfigError(String);

impl From<String> for ChannelConfigError {
    fn from(s: String) -> Self {
        ChannelConfigError(s)
    }
}

impl ChannelConfigError {
    /// (key path, message).
    pub fn parts(&self) -> (&str, &str) {
        self.0.split_once(": ").unwrap_or(("channels", &self.0))
    }
}

/// Channels this crate knows how to run. Other `channels.<id>` sections are ignored here.
pub const KNOWN_CHANNELS: &[&str] = &["telegram", "whatsapp"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmPolicy {
    Pairing,
    Allowlist,
    Open,
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupPolicy {
    Allowlist,
    Open,
    Disabled,
}

/// `groups.<id>` (and Telegram `groups.<id>.topics.<threadId>`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupConfig {
    pub require_mention: Option<bool>,
    pub allow_from: Option<Vec<String>>,
    pub group_policy: Option<GroupPolicy>,
    pub enabled: Option<bool>,
    pub topics: BTreeMap<String, GroupConfig>,
}

/// One resolved channel account.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    pub channel: String,
    pub account_id: String,
    pub enabled: bool,
    pub dm_policy: DmPolicy,
    /// Normalised (`telegram:`/`tg:`/`whatsapp:` stripped). `"*"` = everyone.
    pub allow_from: Vec<String>,
    pub group_policy: GroupPolicy,
    pub group_allow_from: Option<Vec<String>>,
    /// `None` = key absent (no group allowlist by id).
    pub groups: Option<BTreeMap<String, GroupConfig>>,
    pub text_chunk_limit: usize,
    pub media_max_mb: f64,
    /// `mediaLocalRoots`: directories (besides the agent workspace and `<state>/media`) that
    /// outbound local media may come from. Absolute, `~` expanded.
    pub media_local_roots: Vec<std::path::PathBuf>,
    /// Telegram only.
    pub bot_token: Option<String>,
    /// `"config"` | `"tokenFile"` | `"env"` (Telegram).
    pub token_source: Option<String>,
    /// Telegram Bot API root, without `/bot<TOKEN>`.
    pub api_root: String,
    /// The merged raw account section (channel-specific keys such as WhatsApp `authDir`).
    pub raw: Value,
}

impl AccountConfig {
    /// A permissive default for `channel`/`account_id` (tests, `channels login`).
    pub fn new(channel: &str, account_id: &str) -> AccountConfig {
        AccountConfig {
            channel: channel.to_string(),
            account_id: account_id.to_string(),
            enabled: true,
            dm_policy: DmPolicy::Pairing,
            allow_from: Vec::new(),
            group_policy: GroupPolicy::Allowlist,
            group_allow_from: None,
            groups: None,
            text_chunk_limit: 4000,
            media_max_mb: if channel == "whatsapp" { 50.0 } else { 100.0 },
            media_local_roots: Vec::new(),
            bot_token: None,
            token_source: None,
            api_root: "https://api.telegram.org".to_string(),
            raw: Value::Object(Map::new()),
        }
    }

    /// Whether the account has what it needs to start (a Telegram token; WhatsApp always).
    pub fn configured(&self) -> bool {
        self.channel != "telegram" || self.bot_token.is_some()
    }

    pub fn media_max_bytes(&self) -> u64 {
        (self.media_max_mb.max(0.0) * 1024.0 * 1024.0) as u64
    }
}

/// Strips the channel prefixes accepted in allowlists and targets. Any text is accepted
/// (`"@jürgen"`): the prefix is compared with `get`, which is `None` rather than a panic when
/// its length falls inside a multi-byte character.
pub fn normalize_id(s: &str) -> String {
    let s = s.trim();
    for p in ["telegram:", "tg:", "whatsapp:"] {
        if s.len() > p.len()
            && let (Some(head), Some(rest)) = (s.get(..p.len()), s.get(p.len()..))
            && head.eq_ignore_ascii_case(p)
        {
            return rest.trim().to_string();
        }
    }
    s.to_string()
}

/// Resolves every enabled-or-disabled account of the known channels in `channels` (the value of
/// the config's `channels` key). `env` looks up environment variables (`TELEGRAM_BOT_TOKEN`).
pub fn accounts_from_config(
    channels: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<AccountConfig>, ChannelConfigError> {
    let Some(obj) = channels.as_object() else {
        if channels.is_null() {
            return Ok(Vec::new());
        }
        return Err(ChannelConfigError::from(
            "channels: expected an object".to_string(),
        ));
    };
    let default_group_policy = obj
        .get("defaults")
        .and_then(|d| d.get("groupPolicy"))
        .map(|v| parse_group_policy(v, "channels.defaults.groupPolicy"))
        .transpose()?;
    let mut out = Vec::new();
    for &channel in KNOWN_CHANNELS {
        let Some(section) = obj.get(channel) else {
            continue;
        };
        let path = format!("channels.{channel}");
        let Some(base) = section.as_object() else {
            return Err(ChannelConfigError::from(format!(
                "{path}: expected an object"
            )));
        };
        let mut base = base.clone();
        let accounts = base.remove("accounts");
        let mut ids: Vec<(String, Map<String, Value>, String)> = Vec::new();
        match accounts {
            Some(Value::Object(accts)) if !accts.is_empty() => {
                for (id, v) in accts {
                    let apath = format!("{path}.accounts.{id}");
                    let Some(a) = v.as_object() else {
                        return Err(ChannelConfigError::from(format!(
                            "{apath}: expected an object"
                        )));
                    };
                    let mut merged = base.clone();
                    for (k, v) in a {
                        merged.insert(k.clone(), v.clone());
                    }
                    ids.push((id, merged, apath));
                }
                let has_top_token = base.contains_key("botToken") || base.contains_key("tokenFile");
                if channel == "telegram"
                    && has_top_token
                    && !ids.iter().any(|(i, _, _)| i == "default")
                {
                    ids.push(("default".to_string(), base.clone(), path.clone()));
                }
            }
            Some(Value::Object(_)) | None => ids.push(("default".to_string(), base, path.clone())),
            Some(_) => {
                return Err(ChannelConfigError::from(format!(
                    "{path}.accounts: expected an object"
                )));
            }
        }
        for (id, section, apath) in ids {
            out.push(parse_account(
                channel,
                &id,
                &section,
                &apath,
                default_group_policy,
                env,
            )?);
        }
    }
    Ok(out)
}

fn parse_account(
    channel: &str,
    account_id: &str,
    s: &Map<String, Value>,
    path: &str,
    default_group_policy: Option<GroupPolicy>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AccountConfig, ChannelConfigError> {
    let mut a = AccountConfig::new(channel, account_id);
    a.raw = Value::Object(s.clone());
    if let Some(v) = s.get("enabled") {
        a.enabled = v
            .as_bool()
            .ok_or(format!("{path}.enabled: expected a boolean"))?;
    }
    if let Some(v) = s.get("dmPolicy") {
        a.dm_policy = match v.as_str() {
            Some("pairing") => DmPolicy::Pairing,
            Some("allowlist") => DmPolicy::Allowlist,
            Some("open") => DmPolicy::Open,
            Some("disabled") => DmPolicy::Disabled,
            _ => {
                return Err(ChannelConfigError::from(format!(
                    "{path}.dmPolicy: expected \"pairing\", \"allowlist\", \"open\" or \"disabled\""
                )));
            }
        };
    }
    if let Some(v) = s.get("allowFrom") {
        a.allow_from = id_list(v, &format!("{path}.allowFrom"))?;
    }
    a.group_policy = match s.get("groupPolicy") {
        Some(v) => parse_group_policy(v, &format!("{path}.groupPolicy"))?,
        None => default_group_policy.unwrap_or(GroupPolicy::Allowlist),
    };
    if let Some(v) = s.get("groupAllowFrom") {
        a.group_allow_from = Some(id_list(v, &format!("{path}.groupAllowFrom"))?);
    }
    if let Some(v) = s.get("groups") {
        a.groups = Some(parse_groups(v, &format!("{path}.groups"))?);
    }
    if let Some(v) = s.get("textChunkLimit") {
        let n = v.as_u64().filter(|n| *n > 0).ok_or(format!(
            "{path}.textChunkLimit: expected a positive integer"
        ))?;
        a.text_chunk_limit = n as usize;
    }
    if let Some(v) = s.get("mediaMaxMb") {
        a.media_max_mb = v
            .as_f64()
            .filter(|n| *n > 0.0)
            .ok_or(format!("{path}.mediaMaxMb: expected a positive number"))?;
    }
    if let Some(v) = s.get("mediaLocalRoots") {
        let list = v
            .as_array()
            .filter(|l| l.iter().all(Value::is_string))
            .ok_or(format!(
                "{path}.mediaLocalRoots: expected an array of directory paths"
            ))?;
        for root in list.iter().filter_map(Value::as_str) {
            let dir = openclaw_config::paths::expand_home(root.trim());
            if dir.is_absolute() {
                a.media_local_roots.push(dir);
            } else {
                // Relative to whatever the gateway's cwd is: never what the user meant.
                tracing::warn!(target: "channels", "{path}.mediaLocalRoots: ignoring relative path {root:?}");
            }
        }
    }
    if channel == "telegram" {
        a.text_chunk_limit = a.text_chunk_limit.min(4096);
        if let Some(v) = s.get("apiRoot") {
            let root = v
                .as_str()
                .ok_or(format!("{path}.apiRoot: expected a URL string"))?;
            let root = root.trim_end_matches('/');
            if !(root.starts_with("http://") || root.starts_with("https://")) {
                return Err(ChannelConfigError::from(format!(
                    "{path}.apiRoot: expected an http(s) URL"
                )));
            }
            if root.contains("/bot") {
                return Err(ChannelConfigError::from(format!(
                    "{path}.apiRoot: must not include /bot<TOKEN>"
                )));
            }
            a.api_root = root.to_string();
        }
        resolve_token(&mut a, s, path, env)?;
    }
    match a.dm_policy {
        DmPolicy::Open if !a.allow_from.iter().any(|x| x == "*") => {
            return Err(ChannelConfigError::from(format!(
                "{path}.allowFrom: dmPolicy \"open\" requires allowFrom to include \"*\""
            )));
        }
        DmPolicy::Allowlist if a.allow_from.is_empty() => {
            return Err(ChannelConfigError::from(format!(
                "{path}.allowFrom: dmPolicy \"allowlist\" requires at least one entry"
            )));
        }
        _ => {}
    }
    Ok(a)
}

fn resolve_token(
    a: &mut AccountConfig,
    s: &Map<String, Value>,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ChannelConfigError> {
    if let Some(v) = s.get("botToken") {
        let tok = match v {
            Value::String(t) => Some(t.trim().to_string()),
            // SecretRef `{source:"env", id:"NAME"}`; other sources are resolved by the config layer.
            Value::Object(o) if o.get("source").and_then(Value::as_str) == Some("env") => o
                .get("id")
                .and_then(Value::as_str)
                .and_then(env)
                .map(|t| t.trim().to_string()),
            _ => {
                return Err(ChannelConfigError::from(format!(
                    "{path}.botToken: expected a string"
                )));
            }
        };
        if let Some(t) = tok.filter(|t| !t.is_empty()) {
            a.bot_token = Some(t);
            a.token_source = Some("config".into());
            return Ok(());
        }
    }
    if let Some(v) = s.get("tokenFile") {
        let p = v
            .as_str()
            .ok_or(format!("{path}.tokenFile: expected a path string"))?;
        let meta = std::fs::symlink_metadata(p)
            .map_err(|e| format!("{path}.tokenFile: cannot read {p}: {e}"))?;
        if !meta.file_type().is_file() {
            return Err(ChannelConfigError::from(format!(
                "{path}.tokenFile: {p} must be a regular file (symlinks are rejected)"
            )));
        }
        let t = std::fs::read_to_string(p)
            .map_err(|e| format!("{path}.tokenFile: cannot read {p}: {e}"))?;
        let t = t.trim();
        if !t.is_empty() {
            a.bot_token = Some(t.to_string());
            a.token_source = Some("tokenFile".into());
            return Ok(());
        }
    }
    if a.account_id == "default"
        && let Some(t) = env("TELEGRAM_BOT_TOKEN").filter(|t| !t.trim().is_empty())
    {
        a.bot_token = Some(t.trim().to_string());
        a.token_source = Some("env".into());
    }
    Ok(())
}

fn parse_group_policy(v: &Value, path: &str) -> Result<GroupPolicy, ChannelConfigError> {
    match v.as_str() {
        Some("allowlist") => Ok(GroupPolicy::Allowlist),
        Some("open") => Ok(GroupPolicy::Open),
        Some("disabled") => Ok(GroupPolicy::Disabled),
        _ => Err(ChannelConfigError::from(format!(
            "{path}: expected \"allowlist\", \"open\" or \"disabled\""
        ))),
    }
}

fn id_list(v: &Value, path: &str) -> Result<Vec<String>, ChannelConfigError> {
    let arr = v
        .as_array()
        .ok_or(format!("{path}: expected an array of strings"))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| match x {
            Value::String(s) => Ok(normalize_id(s)),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(ChannelConfigError::from(format!(
                "{path}[{i}]: expected a string or number"
            ))),
        })
        .collect()
}

fn parse_groups(
    v: &Value,
    path: &str,
) -> Result<BTreeMap<String, GroupConfig>, ChannelConfigError> {
    let obj = v.as_object().ok_or(format!("{path}: expected an object"))?;
    let mut out = BTreeMap::new();
    for (id, g) in obj {
        out.insert(id.clone(), parse_group(g, &format!("{path}.{id}"))?);
    }
    Ok(out)
}

fn parse_group(v: &Value, path: &str) -> Result<GroupConfig, ChannelConfigError> {
    let obj = v.as_object().ok_or(format!("{path}: expected an object"))?;
    let mut g = GroupConfig::default();
    if let Some(x) = obj.get("requireMention") {
        g.require_mention = Some(
            x.as_bool()
                .ok_or(format!("{path}.requireMention: expected a boolean"))?,
        );
    }
    if let Some(x) = obj.get("enabled") {
        g.enabled = Some(
            x.as_bool()
                .ok_or(format!("{path}.enabled: expected a boolean"))?,
        );
    }
    if let Some(x) = obj.get("allowFrom") {
        g.allow_from = Some(id_list(x, &format!("{path}.allowFrom"))?);
    }
    if let Some(x) = obj.get("groupPolicy") {
        g.group_policy = Some(parse_group_policy(x, &format!("{path}.groupPolicy"))?);
    }
    if let Some(x) = obj.get("topics") {
        g.topics = parse_groups(x, &format!("{path}.topics"))?;
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn minimal_telegram_with_env_token() {
        let env = |k: &str| (k == "TELEGRAM_BOT_TOKEN").then(|| "1:x".to_string());
        let a = accounts_from_config(&json!({"telegram": {}}), &env).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].account_id, "default");
        assert_eq!(a[0].bot_token.as_deref(), Some("1:x"));
        assert_eq!(a[0].token_source.as_deref(), Some("env"));
        assert_eq!(a[0].dm_policy, DmPolicy::Pairing);
        assert_eq!(a[0].group_policy, GroupPolicy::Allowlist);
        assert_eq!(a[0].text_chunk_limit, 4000);
    }

    #[test]
    fn accounts_inherit_top_level_and_env_only_for_default() {
        let env = |k: &str| (k == "TELEGRAM_BOT_TOKEN").then(|| "9:env".to_string());
        let cfg = json!({"telegram": {"dmPolicy": "allowlist", "allowFrom": ["tg:42"],
            "accounts": {"work": {"botToken": "2:w"}, "alt": {}}}});
        let a = accounts_from_config(&cfg, &env).unwrap();
        let work = a.iter().find(|a| a.account_id == "work").unwrap();
        assert_eq!(work.allow_from, vec!["42"]);
        assert_eq!(work.bot_token.as_deref(), Some("2:w"));
        let alt = a.iter().find(|a| a.account_id == "alt").unwrap();
        assert!(alt.bot_token.is_none() && !alt.configured());
    }

    #[test]
    fn bad_config_errors_name_the_key_path() {
        let e = accounts_from_config(&json!({"telegram": {"dmPolicy": "open"}}), &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("channels.telegram.allowFrom") && e.contains("\"*\""),
            "{e}"
        );
        let e = accounts_from_config(
            &json!({"telegram": {"accounts": {"a": {"dmPolicy": "allowlist"}}}}),
            &no_env,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("channels.telegram.accounts.a.allowFrom"),
            "{e}"
        );
        let e = accounts_from_config(&json!({"whatsapp": {"dmPolicy": "nope"}}), &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("channels.whatsapp.dmPolicy"), "{e}");
        let e = accounts_from_config(
            &json!({"telegram": {"apiRoot": "https://x/bot1:a"}}),
            &no_env,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("apiRoot"), "{e}");
        let e = accounts_from_config(
            &json!({"telegram": {"groups": {"-1": {"requireMention": "y"}}}}),
            &no_env,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "channels.telegram.groups.-1.requireMention: expected a boolean"
        );
    }

    #[test]
    fn defaults_group_policy_and_groups() {
        let cfg = json!({"defaults": {"groupPolicy": "open"},
            "whatsapp": {"groups": {"*": {"requireMention": true}}, "allowFrom": ["+1555"]}});
        let a = accounts_from_config(&cfg, &no_env).unwrap();
        assert_eq!(a[0].channel, "whatsapp");
        assert_eq!(a[0].group_policy, GroupPolicy::Open);
        assert_eq!(a[0].media_max_mb, 50.0);
        assert_eq!(
            a[0].groups.as_ref().unwrap()["*"].require_mention,
            Some(true)
        );
    }

    #[test]
    fn token_file_must_be_regular() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tok");
        std::fs::write(&f, "5:file\n").unwrap();
        let cfg = json!({"telegram": {"tokenFile": f.to_str().unwrap()}});
        let a = accounts_from_config(&cfg, &no_env).unwrap();
        assert_eq!(a[0].bot_token.as_deref(), Some("5:file"));
        #[cfg(unix)]
        {
            let l = dir.path().join("link");
            std::os::unix::fs::symlink(&f, &l).unwrap();
            let cfg = json!({"telegram": {"tokenFile": l.to_str().unwrap()}});
            assert!(
                accounts_from_config(&cfg, &no_env)
                    .unwrap_err()
                    .to_string()
                    .contains("symlinks")
            );
        }
    }
}
