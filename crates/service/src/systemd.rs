//! The systemd user unit (`~/.config/systemd/user/openclaw-gateway[-<profile>].service`):
//! rendering with systemd's quoting rules, and a tolerant parser used to audit an installed
//! unit (its `ExecStart`, environment, and whether it was cut short). Pure.

use crate::spec::ServiceSpec;

/// Quotes one `ExecStart=` argument: `%` → `%%` (specifiers), `$` → `$$` (variable
/// expansion), and double quotes with C escapes when it holds whitespace, quotes, backslashes
/// or `;`.
pub fn escape_exec_arg(arg: &str) -> String {
    quote_word(&arg.replace('%', "%%").replace('$', "$$"))
}

/// Quotes the executable path: like [`escape_exec_arg`], except that systemd does not expand
/// variables there, so `$` stays as it is (`systemd-analyze verify` caught this).
pub fn escape_exec_path(path: &str) -> String {
    quote_word(&path.replace('%', "%%"))
}

/// Quotes one `Environment=` assignment (`KEY=value`); no `$` expansion happens there.
pub fn escape_env_assignment(key: &str, value: &str) -> String {
    quote_word(&format!("{key}={value}").replace('%', "%%"))
}

fn quote_word(s: &str) -> String {
    let needs = s.is_empty()
        || s == ";"
        || s.chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'));
    if !needs {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The unit file text. Byte-stable for a given spec.
pub fn render_unit(spec: &ServiceSpec) -> String {
    let exec = spec
        .program
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 {
                escape_exec_path(a)
            } else {
                escape_exec_arg(a)
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut lines = vec![
        "[Unit]".to_string(),
        format!("Description={}", spec.description.replace('%', "%%")),
        "After=network-online.target".to_string(),
        "Wants=network-online.target".to_string(),
        String::new(),
        "[Service]".to_string(),
        format!("ExecStart={exec}"),
        "Restart=always".to_string(),
        "RestartSec=5".to_string(),
        "TimeoutStopSec=30".to_string(),
    ];
    for (k, v) in &spec.env {
        lines.push(format!("Environment={}", escape_env_assignment(k, v)));
    }
    lines.extend([
        String::new(),
        "[Install]".to_string(),
        "WantedBy=default.target".to_string(),
        String::new(),
    ]);
    lines.join("\n")
}

/// What an installed unit says, as far as we care.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedUnit {
    pub sections: Vec<String>,
    pub description: Option<String>,
    /// The unescaped argv of the last `ExecStart=`.
    pub exec_start: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
}

impl ParsedUnit {
    pub fn env_value(&self, key: &str) -> Option<&str> {
        crate::spec::env_value(&self.env, key)
    }

    /// Why this unit cannot be a complete gateway unit (empty when it looks whole). A file cut
    /// short while being written loses its trailing `[Install]` section first.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in ["Unit", "Service", "Install"] {
            if !self.sections.iter().any(|x| x == s) {
                out.push(format!("no [{s}] section"));
            }
        }
        match &self.exec_start {
            None => out.push("no ExecStart= line".to_string()),
            Some(a) if a.is_empty() => out.push("an empty ExecStart= line".to_string()),
            Some(_) => {}
        }
        out
    }
}

/// Splits a value into words with systemd's quoting (double/single quotes, C escapes).
pub fn split_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('n') => cur.push('\n'),
                    Some('t') => cur.push('\t'),
                    Some(other) => cur.push(other),
                    None => {}
                }
            }
            '"' | '\'' if quote == Some(c) => quote = None,
            '"' | '\'' if quote.is_none() => {
                quote = Some(c);
                in_word = true;
            }
            c if c.is_whitespace() && quote.is_none() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Reads a unit tolerantly: comments, continuation lines, unknown keys and garbage are
/// skipped, never fatal.
pub fn parse_unit(text: &str) -> ParsedUnit {
    let mut out = ParsedUnit::default();
    let mut section = String::new();
    let mut logical = String::new();
    let mut lines = Vec::new();
    for raw in text.lines() {
        let raw = raw.trim_end_matches('\r');
        if let Some(head) = raw.strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        lines.push(std::mem::take(&mut logical));
    }
    if !logical.is_empty() {
        lines.push(logical);
    }
    for line in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            out.sections.push(section.clone());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match (section.as_str(), key) {
            ("Unit", "Description") => out.description = Some(value.replace("%%", "%")),
            ("Service", "ExecStart") => {
                let value = value.trim_start_matches(['-', '@', ':', '+', '!']);
                out.exec_start = Some(
                    split_words(value)
                        .into_iter()
                        .enumerate()
                        .map(|(i, w)| {
                            let w = w.replace("%%", "%");
                            if i == 0 { w } else { w.replace("$$", "$") }
                        })
                        .collect(),
                );
            }
            ("Service", "Environment") => {
                for word in split_words(value) {
                    if let Some((k, v)) = word.split_once('=') {
                        out.env.push((k.to_string(), v.replace("%%", "%")));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(escape_exec_arg("/usr/bin/openclaw"), "/usr/bin/openclaw");
        assert_eq!(escape_exec_arg("/a b/c"), "\"/a b/c\"");
        assert_eq!(escape_exec_arg("50%$x"), "50%%$$x");
        assert_eq!(escape_exec_path("/a$/50%"), "/a$/50%%");
        assert_eq!(escape_exec_arg("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(escape_exec_arg(""), "\"\"");
        assert_eq!(escape_env_assignment("K", "v w"), "\"K=v w\"");
        assert_eq!(escape_env_assignment("K", "1$%"), "K=1$%%");
    }

    #[test]
    fn split_words_unquotes() {
        assert_eq!(
            split_words(r#"/bin/x "a b" 'c d' e\ f "g\"h""#),
            ["/bin/x", "a b", "c d", "e f", "g\"h"]
        );
    }

    #[test]
    fn parse_tolerates_garbage_and_reports_truncation() {
        let p = parse_unit("[Unit]\nDescription=x\n\n[Service]\nExecStart=/bin/x gateway\nEnviron");
        assert_eq!(
            p.exec_start.as_deref(),
            Some(&["/bin/x".to_string(), "gateway".to_string()][..])
        );
        assert_eq!(p.problems(), ["no [Install] section"]);
        assert!(!parse_unit("").problems().is_empty());
        let p = parse_unit("[Service]\nExecStart=-/bin/x \\\n  --port 1\n");
        assert_eq!(p.exec_start.unwrap(), ["/bin/x", "--port", "1"]);
    }
}
