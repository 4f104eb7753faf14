//! The names supervisors know a gateway by, per profile (systemd unit, launchd label, scheduled
//! task), and the legacy names of earlier releases that doctor retires. Pure.

use crate::error::ServiceError;

/// `OPENCLAW_SERVICE_MARKER` value: a unit carrying it was written by us.
pub const SERVICE_MARKER: &str = "openclaw";
/// `OPENCLAW_SERVICE_KIND` value for the gateway.
pub const SERVICE_KIND: &str = "gateway";
/// Env key whose presence marks a definition as ours.
pub const MARKER_KEY: &str = "OPENCLAW_SERVICE_MARKER";

const SYSTEMD_BASE: &str = "openclaw-gateway";
const LAUNCHD_DEFAULT_LABEL: &str = "bot.molt.gateway";
const LAUNCHD_PREFIX: &str = "bot.molt.";
const WINDOWS_TASK_BASE: &str = "OpenClaw Gateway";

/// launchd label prefixes used by clawdbot-era and early openclaw releases.
pub const LEGACY_LAUNCHD_PREFIXES: &[&str] = &["com.openclaw.", "com.clawdbot."];
/// systemd unit stems used by clawdbot/moltbot-era releases.
pub const LEGACY_SYSTEMD_STEMS: &[&str] = &["clawdbot-gateway", "moltbot-gateway"];

/// `None` for the default profile (absent, empty or `default`), else the validated name.
pub fn normalize_profile(profile: Option<&str>) -> Result<Option<String>, ServiceError> {
    let Some(p) = profile.map(str::trim) else {
        return Ok(None);
    };
    if p.is_empty() || p.eq_ignore_ascii_case("default") {
        return Ok(None);
    }
    let ok = p.len() <= 64
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(Some(p.to_string()))
    } else {
        Err(ServiceError::BadProfile(p.to_string()))
    }
}

/// What each supervisor calls one profile's gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNames {
    /// `openclaw-gateway.service` / `openclaw-gateway-<profile>.service`.
    pub systemd_unit: String,
    /// `bot.molt.gateway` / `bot.molt.<profile>`.
    pub launchd_label: String,
    /// `OpenClaw Gateway` / `OpenClaw Gateway (<profile>)`.
    pub windows_task: String,
}

impl ServiceNames {
    /// Names for a profile already passed through [`normalize_profile`].
    pub fn for_profile(profile: Option<&str>) -> Self {
        match profile {
            None => Self {
                systemd_unit: format!("{SYSTEMD_BASE}.service"),
                launchd_label: LAUNCHD_DEFAULT_LABEL.to_string(),
                windows_task: WINDOWS_TASK_BASE.to_string(),
            },
            Some(p) => Self {
                systemd_unit: format!("{SYSTEMD_BASE}-{p}.service"),
                launchd_label: format!("{LAUNCHD_PREFIX}{p}"),
                windows_task: format!("{WINDOWS_TASK_BASE} ({p})"),
            },
        }
    }
}

/// Human description: `OpenClaw Gateway (profile: work, v2026.9.6)`.
pub fn description(profile: Option<&str>, version: &str) -> String {
    let mut parts = Vec::new();
    if let Some(p) = profile {
        parts.push(format!("profile: {p}"));
    }
    if !version.trim().is_empty() {
        parts.push(format!("v{}", version.trim()));
    }
    if parts.is_empty() {
        WINDOWS_TASK_BASE.to_string()
    } else {
        format!("{WINDOWS_TASK_BASE} ({})", parts.join(", "))
    }
}

/// Whether a systemd unit file name is one of ours (any profile).
pub fn is_gateway_unit(file_name: &str) -> bool {
    file_name == format!("{SYSTEMD_BASE}.service")
        || (file_name.starts_with(&format!("{SYSTEMD_BASE}-")) && file_name.ends_with(".service"))
}

/// Whether a systemd unit file name is a clawdbot/moltbot-era gateway unit.
pub fn is_legacy_unit(file_name: &str) -> bool {
    let Some(stem) = file_name.strip_suffix(".service") else {
        return false;
    };
    LEGACY_SYSTEMD_STEMS
        .iter()
        .any(|s| stem == *s || stem.starts_with(&format!("{s}-")))
}

/// Whether a launchd label is one of ours (any profile).
pub fn is_gateway_label(label: &str) -> bool {
    label.starts_with(LAUNCHD_PREFIX) && label.len() > LAUNCHD_PREFIX.len()
}

/// Whether a launchd label is a legacy `com.openclaw.*` / `com.clawdbot.*` one.
pub fn is_legacy_label(label: &str) -> bool {
    LEGACY_LAUNCHD_PREFIXES
        .iter()
        .any(|p| label.starts_with(p) && label.len() > p.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_normalize() {
        assert_eq!(normalize_profile(None).unwrap(), None);
        assert_eq!(normalize_profile(Some("")).unwrap(), None);
        assert_eq!(normalize_profile(Some("Default")).unwrap(), None);
        assert_eq!(
            normalize_profile(Some("work_2")).unwrap().as_deref(),
            Some("work_2")
        );
        for bad in ["../x", "a b", "x/y", "é", "a.b", &"x".repeat(65)] {
            assert!(normalize_profile(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_per_profile() {
        let d = ServiceNames::for_profile(None);
        assert_eq!(d.systemd_unit, "openclaw-gateway.service");
        assert_eq!(d.launchd_label, "bot.molt.gateway");
        assert_eq!(d.windows_task, "OpenClaw Gateway");
        let w = ServiceNames::for_profile(Some("work"));
        assert_eq!(w.systemd_unit, "openclaw-gateway-work.service");
        assert_eq!(w.launchd_label, "bot.molt.work");
        assert_eq!(w.windows_task, "OpenClaw Gateway (work)");
    }

    #[test]
    fn legacy_and_own_names() {
        assert!(is_gateway_unit("openclaw-gateway.service"));
        assert!(is_gateway_unit("openclaw-gateway-dev.service"));
        assert!(!is_gateway_unit("openclaw-node.service"));
        assert!(is_legacy_unit("clawdbot-gateway.service"));
        assert!(is_legacy_unit("clawdbot-gateway-work.service"));
        assert!(!is_legacy_unit("clawdbot-gatewayx.service"));
        assert!(is_legacy_label("com.clawdbot.gateway"));
        assert!(is_legacy_label("com.openclaw.work"));
        assert!(!is_legacy_label("com.openclaw."));
        assert!(is_gateway_label("bot.molt.gateway"));
        assert_eq!(
            description(Some("work"), "2026.9.6"),
            "OpenClaw Gateway (profile: work, v2026.9.6)"
        );
    }
}
