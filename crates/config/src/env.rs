//! Environment lookups with the legacy `CLAWDBOT_*` fallback for every `OPENCLAW_*` variable.

/// Reads `OPENCLAW_<name>`, falling back to `CLAWDBOT_<name>`; empty values count as unset.
pub fn var(name: &str) -> Option<String> {
    for prefix in ["OPENCLAW_", "CLAWDBOT_"] {
        if let Ok(v) = std::env::var(format!("{prefix}{name}"))
            && !v.trim().is_empty()
        {
            return Some(v);
        }
    }
    None
}

/// The user's home directory (`HOME`, then the platform's idea of it).
pub fn home_dir() -> std::path::PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(std::env::home_dir)
        .unwrap_or_else(|| std::path::PathBuf::from("/"))
}
