//! The Windows scheduled task "OpenClaw Gateway (<profile>)": a `gateway.cmd` wrapper in the
//! state dir (task actions cannot carry environment variables) and the task definition XML that
//! `schtasks /Create /XML` imports (logon trigger, restart on failure, no time limit). Pure.

use crate::error::ServiceError;
use crate::launchd::xml_escape;
use crate::spec::ServiceSpec;

/// File names inside the state dir.
pub const SCRIPT_NAME: &str = "gateway.cmd";
pub const TASK_XML_NAME: &str = "gateway-task.xml";

fn reject_quote(what: &str, value: &str) -> Result<(), ServiceError> {
    if value.contains('"') {
        return Err(ServiceError::BadValue {
            what: what.to_string(),
            found: "a double quote".to_string(),
            value: value.to_string(),
        });
    }
    Ok(())
}

/// One word of the command line: `%` doubled, quoted when cmd.exe would split or interpret it.
fn cmd_word(arg: &str) -> String {
    let escaped = arg.replace('%', "%%");
    let special = arg.is_empty()
        || arg
            .chars()
            .any(|c| c.is_whitespace() || "&|<>^(),;=!".contains(c));
    if special {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// The wrapper script (CRLF line endings), run by the task.
pub fn render_script(spec: &ServiceSpec) -> Result<String, ServiceError> {
    for a in &spec.program {
        reject_quote("a program argument", a)?;
    }
    let mut lines = vec![
        "@echo off".to_string(),
        format!(
            "rem {}: written by `openclaw gateway install`; rerun it instead of editing.",
            spec.description.replace('%', "%%")
        ),
    ];
    for (k, v) in &spec.env {
        reject_quote(&format!("environment value {k}"), v)?;
        lines.push(format!("set \"{k}={}\"", v.replace('%', "%%")));
    }
    lines.push(
        spec.program
            .iter()
            .map(|a| cmd_word(a))
            .collect::<Vec<_>>()
            .join(" "),
    );
    lines.push(String::new());
    Ok(lines.join("\r\n"))
}

/// The task definition; `script_path` is where [`render_script`]'s output lives.
pub fn render_task_xml(spec: &ServiceSpec, script_path: &str) -> String {
    let name = xml_escape(&spec.names.windows_task);
    let desc = xml_escape(&spec.description);
    let cmd = xml_escape(script_path);
    format!(
        r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>{desc}</Description>
    <URI>\{name}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{cmd}</Command>
    </Exec>
  </Actions>
</Task>
"#
    )
}

/// `schtasks /XML` wants UTF-16 (as the declaration says): little-endian with a BOM.
pub fn to_utf16le_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

/// Decodes [`to_utf16le_bom`] output (or plain UTF-8); `None` when it is neither.
pub fn from_utf16le_bom(bytes: &[u8]) -> Option<String> {
    match bytes.strip_prefix(&[0xFF, 0xFE]) {
        Some(rest) if rest.len() % 2 == 0 => {
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Some(_) => None,
        None => String::from_utf8(bytes.to_vec()).ok(),
    }
}

/// What an installed wrapper script says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedScript {
    pub program: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
}

impl ParsedScript {
    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn problems(&self) -> Vec<String> {
        match &self.program {
            Some(p) if !p.is_empty() => Vec::new(),
            _ => vec!["no command line".to_string()],
        }
    }
}

/// Reads a wrapper script tolerantly.
pub fn parse_script(text: &str) -> ParsedScript {
    let mut out = ParsedScript::default();
    for line in text.lines().map(str::trim) {
        let lower = line.to_ascii_lowercase();
        if line.is_empty() || line.starts_with('@') || lower.starts_with("rem ") || lower == "rem" {
            continue;
        }
        if lower.starts_with("set \"") {
            let inner = line[5..].trim_end_matches('"');
            if let Some((k, v)) = inner.split_once('=') {
                out.env.push((k.to_string(), v.replace("%%", "%")));
            }
            continue;
        }
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut in_word = false;
        for c in line.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    in_word = true;
                }
                c if c.is_whitespace() && !quoted => {
                    if in_word {
                        words.push(std::mem::take(&mut cur).replace("%%", "%"));
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
            words.push(cur.replace("%%", "%"));
        }
        out.program = Some(words);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_round_trip() {
        let s = "<?xml?>\nÄ ok";
        assert_eq!(from_utf16le_bom(&to_utf16le_bom(s)).as_deref(), Some(s));
        assert_eq!(from_utf16le_bom(b"plain").as_deref(), Some("plain"));
        assert_eq!(from_utf16le_bom(&[0xFF, 0xFE, 0x41]), None);
    }

    #[test]
    fn cmd_words() {
        assert_eq!(cmd_word("gateway"), "gateway");
        assert_eq!(
            cmd_word("C:\\Program Files\\x.exe"),
            "\"C:\\Program Files\\x.exe\""
        );
        assert_eq!(cmd_word("a&b%"), "\"a&b%%\"");
    }
}
