//! Which commands a node may be asked to run: the platform's defaults, plus
//! `gateway.nodes.allowCommands`, minus `gateway.nodes.denyCommands` (spec nodes.md §2.4). A
//! node's declared commands are filtered through this at connect, and every `node.invoke` is
//! checked again with the reference's error wording.

use openclaw_config::sections::NodesConfig;

const CANVAS: &[&str] = &[
    "canvas.present",
    "canvas.hide",
    "canvas.navigate",
    "canvas.eval",
    "canvas.snapshot",
    "canvas.a2ui.push",
    "canvas.a2ui.pushJSONL",
    "canvas.a2ui.reset",
];
const PHONE_READS: &[&str] = &[
    "camera.list",
    "location.get",
    "device.info",
    "device.status",
    "contacts.search",
    "calendar.events",
    "reminders.list",
    "photos.latest",
    "motion.activity",
    "motion.pedometer",
    "system.notify",
];
const ANDROID_EXTRA: &[&str] = &[
    "notifications.list",
    "notifications.actions",
    "device.permissions",
    "device.health",
];
const DESKTOP: &[&str] = &[
    "system.run.prepare",
    "system.run",
    "system.which",
    "system.notify",
    "browser.proxy",
];
const UNKNOWN: &[&str] = &["camera.list", "location.get", "system.notify"];

/// Never allowed by default: they capture or change the user's data.
pub const DANGEROUS: &[&str] = &[
    "camera.snap",
    "camera.clip",
    "screen.record",
    "contacts.add",
    "calendar.add",
    "reminders.add",
    "sms.send",
    "sms.search",
];

/// The platform family of a node, from `client.platform`, else `client.deviceFamily`.
pub fn platform_of(platform: &str, device_family: Option<&str>) -> &'static str {
    let p = platform.trim().to_ascii_lowercase();
    let by_prefix = |s: &str| -> Option<&'static str> {
        if s.starts_with("ios") || s.starts_with("ipados") {
            Some("ios")
        } else if s.starts_with("android") {
            Some("android")
        } else if s.starts_with("mac") || s.starts_with("darwin") {
            Some("macos")
        } else if s.starts_with("win") {
            Some("windows")
        } else if s.starts_with("linux") {
            Some("linux")
        } else {
            None
        }
    };
    if let Some(found) = by_prefix(&p) {
        return found;
    }
    let fam = device_family.unwrap_or("").to_ascii_lowercase();
    if ["iphone", "ipad", "ios"].iter().any(|t| fam.contains(t)) {
        "ios"
    } else if fam.contains("android") {
        "android"
    } else if fam.contains("mac") {
        "macos"
    } else if fam.contains("windows") {
        "windows"
    } else if fam.contains("linux") {
        "linux"
    } else {
        "unknown"
    }
}

fn defaults(platform: &str) -> Vec<&'static str> {
    match platform {
        "ios" => [CANVAS, PHONE_READS].concat(),
        "android" => [CANVAS, PHONE_READS, ANDROID_EXTRA].concat(),
        "macos" => [CANVAS, PHONE_READS, DESKTOP].concat(),
        "linux" | "windows" => DESKTOP.to_vec(),
        _ => [CANVAS, UNKNOWN].concat(),
    }
}

/// The effective allowlist of one platform under the current config.
#[derive(Debug, Clone)]
pub struct Allowlist {
    platform: &'static str,
    allow: Vec<String>,
    deny: Vec<String>,
}

/// Why a command may not be invoked (`details.reason` and the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: &'static str,
    pub message: String,
}

impl Allowlist {
    pub fn new(platform: &'static str, cfg: Option<&NodesConfig>) -> Self {
        Self {
            platform,
            allow: cfg.map(NodesConfig::allowed).unwrap_or_default(),
            deny: cfg.map(NodesConfig::denied).unwrap_or_default(),
        }
    }

    pub fn allows(&self, command: &str) -> bool {
        self.check(command).is_ok()
    }

    /// `Ok` when `command` is allowed on this platform, else the reference's hint.
    pub fn check(&self, command: &str) -> Result<(), Refusal> {
        let c = command.trim();
        if self.deny.iter().any(|d| d == c) {
            return Err(Refusal {
                reason: "denied",
                message: format!(
                    "node command not allowed: \"{c}\" is blocked by gateway.nodes.denyCommands"
                ),
            });
        }
        if self.allow.iter().any(|a| a == c) {
            return Ok(());
        }
        if DANGEROUS.contains(&c) {
            return Err(Refusal {
                reason: "dangerous",
                message: format!(
                    "node command not allowed: \"{c}\" requires explicit gateway.nodes.allowCommands opt-in"
                ),
            });
        }
        if defaults(self.platform).contains(&c) {
            return Ok(());
        }
        Err(Refusal {
            reason: "not-allowlisted",
            message: format!(
                "node command not allowed: \"{c}\" is not in the allowlist for platform \"{}\"",
                self.platform
            ),
        })
    }

    /// The declared commands this platform may run (order kept, duplicates dropped).
    pub fn filter(&self, declared: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in declared {
            let c = c.trim();
            if !c.is_empty() && self.allows(c) && !out.iter().any(|o| o == c) {
                out.push(c.to_string());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(allow: &[&str], deny: &[&str]) -> NodesConfig {
        NodesConfig {
            allow_commands: Some(allow.iter().map(|s| s.to_string()).collect()),
            deny_commands: Some(deny.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn platforms_come_from_platform_then_family() {
        assert_eq!(platform_of("linux", None), "linux");
        assert_eq!(platform_of("darwin", None), "macos");
        assert_eq!(platform_of("win32", None), "windows");
        assert_eq!(platform_of("iOS 18.1", None), "ios");
        assert_eq!(platform_of("", Some("iPad")), "ios");
        assert_eq!(platform_of("weird", Some("Android")), "android");
        assert_eq!(platform_of("weird", None), "unknown");
    }

    #[test]
    fn defaults_allow_and_deny() {
        let linux = Allowlist::new("linux", None);
        assert!(linux.allows("system.which"));
        assert!(linux.allows("system.run"));
        assert!(!linux.allows("canvas.present"));
        let e = linux.check("camera.snap").unwrap_err();
        assert_eq!(e.reason, "dangerous");
        assert!(e.message.contains("allowCommands"), "{}", e.message);
        let e = linux.check("fs.listDir").unwrap_err();
        assert_eq!(
            e.message,
            "node command not allowed: \"fs.listDir\" is not in the allowlist for platform \"linux\""
        );

        let c = cfg(&["camera.snap", "fs.listDir"], &["system.run"]);
        let tuned = Allowlist::new("linux", Some(&c));
        assert!(tuned.allows("camera.snap"));
        assert!(tuned.allows("fs.listDir"));
        assert_eq!(tuned.check("system.run").unwrap_err().reason, "denied");
        let declared: Vec<String> = ["system.run", "system.which", "system.which", "x.y", " "]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(tuned.filter(&declared), vec!["system.which".to_string()]);
    }
}
