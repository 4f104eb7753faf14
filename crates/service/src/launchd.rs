//! The launchd agent (`~/Library/LaunchAgents/<label>.plist`): rendering (KeepAlive, log paths
//! under the state dir) and a small reader for installed plists, ours and legacy ones. Pure.

use crate::spec::ServiceSpec;

/// launchd relaunches at most this often (seconds); low so restarts do not stall.
pub const THROTTLE_INTERVAL_SECONDS: u32 = 5;
/// Seconds launchd waits after SIGTERM before SIGKILL.
pub const EXIT_TIMEOUT_SECONDS: u32 = 30;
/// 0o077 in decimal, as launchd stores integers: files the gateway creates are owner-only.
pub const UMASK_DECIMAL: u32 = 63;

/// `(stdout, stderr)` log paths for a state dir: `<state>/logs/gateway.log`, `gateway.err.log`.
pub fn log_paths(state_dir: &str) -> (String, String) {
    let dir = format!("{}/logs", state_dir.trim_end_matches('/'));
    (
        format!("{dir}/gateway.log"),
        format!("{dir}/gateway.err.log"),
    )
}

/// XML text escaping for `<string>` and `<key>` contents.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The plist text. Byte-stable for a given spec.
pub fn render_plist(spec: &ServiceSpec) -> String {
    let (stdout, stderr) = log_paths(&spec.state_dir);
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str("<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n");
    s.push_str("<plist version=\"1.0\">\n<dict>\n");
    let kv = |s: &mut String, k: &str, v: &str| {
        s.push_str(&format!(
            "  <key>{k}</key>\n  <string>{}</string>\n",
            xml_escape(v)
        ));
    };
    kv(&mut s, "Label", &spec.names.launchd_label);
    kv(&mut s, "Comment", &spec.description);
    s.push_str("  <key>RunAtLoad</key>\n  <true/>\n");
    s.push_str("  <key>KeepAlive</key>\n  <true/>\n");
    s.push_str(&format!(
        "  <key>ThrottleInterval</key>\n  <integer>{THROTTLE_INTERVAL_SECONDS}</integer>\n"
    ));
    s.push_str(&format!(
        "  <key>ExitTimeOut</key>\n  <integer>{EXIT_TIMEOUT_SECONDS}</integer>\n"
    ));
    s.push_str(&format!(
        "  <key>Umask</key>\n  <integer>{UMASK_DECIMAL}</integer>\n"
    ));
    s.push_str("  <key>ProgramArguments</key>\n  <array>\n");
    for a in &spec.program {
        s.push_str(&format!("    <string>{}</string>\n", xml_escape(a)));
    }
    s.push_str("  </array>\n");
    kv(&mut s, "StandardOutPath", &stdout);
    kv(&mut s, "StandardErrorPath", &stderr);
    s.push_str("  <key>EnvironmentVariables</key>\n  <dict>\n");
    for (k, v) in &spec.env {
        s.push_str(&format!(
            "    <key>{}</key>\n    <string>{}</string>\n",
            xml_escape(k),
            xml_escape(v)
        ));
    }
    s.push_str("  </dict>\n</dict>\n</plist>\n");
    s
}

/// What an installed plist says, as far as we care.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedPlist {
    pub label: Option<String>,
    pub program: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
}

impl ParsedPlist {
    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Why this cannot be a complete agent definition (empty when it looks whole).
    pub fn problems(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        if !text.contains("</plist>") {
            out.push("no closing </plist>".to_string());
        }
        if self.label.is_none() {
            out.push("no Label".to_string());
        }
        if self.program.as_ref().is_none_or(|p| p.is_empty()) {
            out.push("no ProgramArguments".to_string());
        }
        out
    }
}

/// The `<string>` contents in order, within `text`.
fn strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<string>") {
        let after = &rest[start + 8..];
        let Some(end) = after.find("</string>") else {
            break;
        };
        out.push(xml_unescape(after[..end].trim()));
        rest = &after[end + 9..];
    }
    out
}

/// The text of the element that follows `<key>name</key>`, up to its closing `close` tag.
fn value_after<'a>(text: &'a str, name: &str, close: &str) -> Option<&'a str> {
    let key = format!("<key>{name}</key>");
    let start = text.find(&key)? + key.len();
    let rest = &text[start..];
    let end = rest.find(close)?;
    Some(&rest[..end + close.len()])
}

/// Reads a plist tolerantly (ours or another tool's); never fails, reports what it found.
pub fn parse_plist(text: &str) -> ParsedPlist {
    let label = value_after(text, "Label", "</string>").and_then(|v| strings(v).pop());
    let program = value_after(text, "ProgramArguments", "</array>").map(strings);
    let mut env = Vec::new();
    if let Some(dict) = value_after(text, "EnvironmentVariables", "</dict>") {
        let mut rest = dict;
        while let Some(k) = rest.find("<key>") {
            let after = &rest[k + 5..];
            let Some(kend) = after.find("</key>") else {
                break;
            };
            let key = xml_unescape(after[..kend].trim());
            let tail = &after[kend + 6..];
            let value = strings(tail).into_iter().next().unwrap_or_default();
            env.push((key, value));
            rest = match tail.find("</string>") {
                Some(e) => &tail[e + 9..],
                None => break,
            };
        }
    }
    ParsedPlist {
        label,
        program,
        env,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_foreign_legacy_plist() {
        let text = r#"<?xml version="1.0"?><plist version="1.0"><dict>
<key>Label</key><string>com.clawdbot.gateway</string>
<key>ProgramArguments</key><array><string>/usr/local/bin/node</string><string>/x/clawdbot.js</string><string>gateway</string></array>
<key>EnvironmentVariables</key><dict><key>CLAWDBOT_GATEWAY_PORT</key><string>18789</string></dict>
</dict></plist>"#;
        let p = parse_plist(text);
        assert_eq!(p.label.as_deref(), Some("com.clawdbot.gateway"));
        assert_eq!(p.program.as_ref().unwrap().len(), 3);
        assert_eq!(p.env_value("CLAWDBOT_GATEWAY_PORT"), Some("18789"));
        assert!(p.problems(text).is_empty());
        let cut = &text[..text.len() / 2];
        assert!(!parse_plist(cut).problems(cut).is_empty());
    }

    #[test]
    fn escapes() {
        assert_eq!(xml_escape("a&b<c>\"'"), "a&amp;b&lt;c&gt;&quot;&apos;");
        assert_eq!(xml_unescape(&xml_escape("a&b<c>\"'")), "a&b<c>\"'");
    }
}
