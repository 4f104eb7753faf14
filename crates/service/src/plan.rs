//! Where each platform's definition lives and which bytes go there: a [`Plan`] is everything
//! `install` would write, computed without touching the disk. Pure.

use std::path::{Path, PathBuf};

use crate::spec::ServiceSpec;
use crate::{launchd, schtasks, systemd};

/// A per-user supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// systemd user manager (`systemctl --user`), Linux.
    Systemd,
    /// launchd per-user agents (`launchctl`), macOS.
    Launchd,
    /// Task Scheduler (`schtasks`), Windows.
    Schtasks,
}

impl Platform {
    /// The supervisor of the OS this binary was built for, if we support it.
    pub fn host() -> Option<Self> {
        if cfg!(target_os = "linux") {
            Some(Platform::Systemd)
        } else if cfg!(target_os = "macos") {
            Some(Platform::Launchd)
        } else if cfg!(windows) {
            Some(Platform::Schtasks)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Platform::Systemd => "systemd",
            Platform::Launchd => "launchd",
            Platform::Schtasks => "schtasks",
        }
    }
}

/// The user's directories the definitions are placed relative to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locations {
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME` when set to an absolute path (systemd reads user units from there).
    pub xdg_config_home: Option<PathBuf>,
}

impl Locations {
    /// `$XDG_CONFIG_HOME/systemd/user`, default `~/.config/systemd/user`.
    pub fn systemd_user_dir(&self) -> PathBuf {
        self.xdg_config_home
            .clone()
            .unwrap_or_else(|| self.home.join(".config"))
            .join("systemd")
            .join("user")
    }

    /// `~/Library/LaunchAgents`.
    pub fn launch_agents_dir(&self) -> PathBuf {
        self.home.join("Library").join("LaunchAgents")
    }
}

/// One file of a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Everything one install writes, and the name the supervisor knows it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub platform: Platform,
    /// Unit name, launchd label or task name.
    pub name: String,
    /// The file whose presence means "installed" (unit, plist, task XML).
    pub primary: PathBuf,
    /// Written in order; the primary one last, so a crash never leaves it pointing at
    /// something missing.
    pub artifacts: Vec<Artifact>,
    /// Directories that must exist before the supervisor starts the gateway (launchd logs).
    pub dirs: Vec<PathBuf>,
    /// The launchd stdout log (for `gateway status`).
    pub log_file: Option<PathBuf>,
}

/// The file whose presence means a profile's service is installed, without rendering it
/// (used to list every profile's service).
pub fn primary_path(
    platform: Platform,
    names: &crate::ServiceNames,
    loc: &Locations,
    state_dir: &Path,
) -> PathBuf {
    match platform {
        Platform::Systemd => loc.systemd_user_dir().join(&names.systemd_unit),
        Platform::Launchd => loc
            .launch_agents_dir()
            .join(format!("{}.plist", names.launchd_label)),
        Platform::Schtasks => state_dir.join(schtasks::TASK_XML_NAME),
    }
}

/// Computes the plan for `spec` on `platform`.
pub fn plan(
    platform: Platform,
    spec: &ServiceSpec,
    loc: &Locations,
) -> Result<Plan, crate::ServiceError> {
    let state = Path::new(&spec.state_dir);
    Ok(match platform {
        Platform::Systemd => {
            let path = primary_path(platform, &spec.names, loc, state);
            Plan {
                platform,
                name: spec.names.systemd_unit.clone(),
                primary: path.clone(),
                artifacts: vec![Artifact {
                    path,
                    bytes: systemd::render_unit(spec).into_bytes(),
                }],
                dirs: Vec::new(),
                log_file: None,
            }
        }
        Platform::Launchd => {
            let path = primary_path(platform, &spec.names, loc, state);
            let (stdout, _) = launchd::log_paths(&spec.state_dir);
            Plan {
                platform,
                name: spec.names.launchd_label.clone(),
                primary: path.clone(),
                artifacts: vec![Artifact {
                    path,
                    bytes: launchd::render_plist(spec).into_bytes(),
                }],
                dirs: vec![state.join("logs")],
                log_file: Some(PathBuf::from(stdout)),
            }
        }
        Platform::Schtasks => {
            let script = state.join(schtasks::SCRIPT_NAME);
            let xml = primary_path(platform, &spec.names, loc, state);
            let script_text = script
                .to_str()
                .ok_or_else(|| crate::ServiceError::NonUtf8Path(script.clone()))?;
            Plan {
                platform,
                name: spec.names.windows_task.clone(),
                primary: xml.clone(),
                artifacts: vec![
                    Artifact {
                        path: script.clone(),
                        bytes: schtasks::render_script(spec)?.into_bytes(),
                    },
                    Artifact {
                        path: xml,
                        bytes: schtasks::to_utf16le_bom(&schtasks::render_task_xml(
                            spec,
                            script_text,
                        )),
                    },
                ],
                dirs: Vec::new(),
                log_file: None,
            }
        }
    })
}
