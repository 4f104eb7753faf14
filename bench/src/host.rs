//! What a result was measured on and against: the binary (size, `--version`) and the host
//! (CPU model, core count), so numbers from different machines are not mixed up.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

pub struct Host {
    pub version: String,
    pub binary_bytes: u64,
    pub cpu: String,
    pub cores: usize,
}

impl Host {
    pub fn probe(bin: &Path) -> Result<Self> {
        let binary_bytes = std::fs::metadata(bin)
            .with_context(|| format!("reading {}", bin.display()))?
            .len();
        let version = Command::new(bin)
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .env("HOME", std::env::temp_dir())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Host {
            version,
            binary_bytes,
            cpu,
            cores,
        })
    }
}
