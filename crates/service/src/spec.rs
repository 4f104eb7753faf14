//! What a gateway service runs: program arguments, environment and description, built once from
//! the profile's paths and port and validated, then rendered by each platform module. Pure.

use crate::error::ServiceError;
use crate::naming::{self, ServiceNames};

/// Env key of the shared token, masked wherever a definition is shown.
pub const TOKEN_KEY: &str = "OPENCLAW_GATEWAY_TOKEN";

/// The inputs `openclaw gateway install` resolves (paths as text, so every platform's
/// definition can be generated on any OS).
#[derive(Debug, Clone)]
pub struct GatewayServiceInput<'a> {
    /// Absolute path of the `openclaw` binary (`current_exe`).
    pub exe: &'a str,
    pub port: u16,
    /// The profile as given (`--profile`, `--dev` → `dev`); normalized here.
    pub profile: Option<&'a str>,
    pub state_dir: &'a str,
    pub config_path: &'a str,
    pub version: &'a str,
    /// `install --token`: written into the definition's environment (files are 0600).
    pub token: Option<&'a str>,
}

/// A validated service definition, independent of the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub profile: Option<String>,
    pub names: ServiceNames,
    pub description: String,
    /// argv: `[exe, "gateway", "--port", "<port>"]`.
    pub program: Vec<String>,
    /// Ordered environment.
    pub env: Vec<(String, String)>,
    pub state_dir: String,
    pub port: u16,
    pub version: String,
}

/// `/abs`, `C:\abs`, `C:/abs` or `\\server\share`: absolute on the platform that will run it.
pub fn looks_absolute(p: &str) -> bool {
    let b = p.as_bytes();
    p.starts_with('/')
        || p.starts_with("\\\\")
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && (b[2] == b'\\' || b[2] == b'/'))
}

/// Rejects control characters (newlines would split a unit line; NUL ends a C string).
pub fn check_value(what: &str, value: &str) -> Result<(), ServiceError> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(ServiceError::BadValue {
            what: what.to_string(),
            found: format!("a control character ({})", c.escape_default()),
            value: value.to_string(),
        }),
        None => Ok(()),
    }
}

impl ServiceSpec {
    /// Builds and validates the gateway's definition.
    pub fn gateway(input: &GatewayServiceInput<'_>) -> Result<Self, ServiceError> {
        let profile = naming::normalize_profile(input.profile)?;
        for (what, value) in [
            ("the openclaw binary path", input.exe),
            ("the state directory", input.state_dir),
            ("the config path", input.config_path),
        ] {
            check_value(what, value)?;
            if !looks_absolute(value) {
                return Err(ServiceError::NotAbsolute {
                    what,
                    value: value.to_string(),
                });
            }
        }
        check_value("the version", input.version)?;
        let mut env = vec![
            (
                naming::MARKER_KEY.to_string(),
                naming::SERVICE_MARKER.to_string(),
            ),
            (
                "OPENCLAW_SERVICE_KIND".to_string(),
                naming::SERVICE_KIND.to_string(),
            ),
            (
                "OPENCLAW_SERVICE_VERSION".to_string(),
                input.version.to_string(),
            ),
        ];
        if let Some(p) = &profile {
            env.push(("OPENCLAW_PROFILE".to_string(), p.clone()));
        }
        env.push((
            "OPENCLAW_STATE_DIR".to_string(),
            input.state_dir.to_string(),
        ));
        env.push((
            "OPENCLAW_CONFIG_PATH".to_string(),
            input.config_path.to_string(),
        ));
        if let Some(t) = input.token.filter(|t| !t.is_empty()) {
            check_value("the token", t)?;
            env.push((TOKEN_KEY.to_string(), t.to_string()));
        }
        Ok(Self {
            names: ServiceNames::for_profile(profile.as_deref()),
            description: naming::description(profile.as_deref(), input.version),
            program: vec![
                input.exe.to_string(),
                "gateway".to_string(),
                "--port".to_string(),
                input.port.to_string(),
            ],
            env,
            state_dir: input.state_dir.to_string(),
            port: input.port,
            version: input.version.to_string(),
            profile,
        })
    }

    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The value `key` last has in an environment list (a later entry overrides an earlier one, as
/// the supervisors apply them).
pub fn env_value<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The port in a gateway argv (`… gateway --port N` or `--port=N`).
pub fn port_of(program: &[String]) -> Option<u16> {
    let mut it = program.iter();
    while let Some(a) = it.next() {
        if a == "--port" {
            return it.next().and_then(|p| p.parse().ok());
        }
        if let Some(p) = a.strip_prefix("--port=") {
            return p.parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> GatewayServiceInput<'static> {
        GatewayServiceInput {
            exe: "/usr/local/bin/openclaw",
            port: 18789,
            profile: None,
            state_dir: "/home/me/.openclaw",
            config_path: "/home/me/.openclaw/openclaw.json",
            version: "2026.9.6",
            token: None,
        }
    }

    #[test]
    fn builds_argv_and_env() {
        let s = ServiceSpec::gateway(&input()).unwrap();
        assert_eq!(
            s.program,
            ["/usr/local/bin/openclaw", "gateway", "--port", "18789"]
        );
        assert_eq!(s.env_value("OPENCLAW_SERVICE_MARKER"), Some("openclaw"));
        assert_eq!(s.env_value("OPENCLAW_SERVICE_KIND"), Some("gateway"));
        assert_eq!(s.env_value("OPENCLAW_SERVICE_VERSION"), Some("2026.9.6"));
        assert_eq!(s.env_value("OPENCLAW_PROFILE"), None);
        assert_eq!(port_of(&s.program), Some(18789));
    }

    #[test]
    fn rejects_bad_inputs() {
        let mut i = input();
        i.profile = Some("../etc");
        assert!(matches!(
            ServiceSpec::gateway(&i),
            Err(ServiceError::BadProfile(_))
        ));
        let mut i = input();
        i.exe = "openclaw";
        assert!(matches!(
            ServiceSpec::gateway(&i),
            Err(ServiceError::NotAbsolute { .. })
        ));
        let mut i = input();
        i.state_dir = "/home/me/.open\nclaw";
        let e = ServiceSpec::gateway(&i).unwrap_err().to_string();
        assert!(e.contains("control character"), "{e}");
        assert!(looks_absolute("C:\\Users\\me"));
        assert!(looks_absolute("\\\\srv\\share"));
        assert!(!looks_absolute("C:rel"));
    }
}
