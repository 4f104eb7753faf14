//! Per-device Control UI preferences (`users.prefs.get` / `users.prefs.set`). The reference keys
//! them by an authenticated user profile; the durable identity we have is the device a client
//! proved, so prefs live per device id in `<state>/users/prefs.json` (0600, written atomically),
//! bounded in keys per device, bytes per value and devices kept.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

/// Keys one device may keep.
pub const MAX_KEYS: usize = 256;
/// Serialized size of one value.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
/// Devices kept (the least recently written beyond this are dropped).
const MAX_DEVICES: usize = 512;

type Entries = BTreeMap<String, Value>;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct DevicePrefs {
    #[serde(rename = "updatedAtMs")]
    updated_at_ms: u64,
    entries: Entries,
}

/// What a `set` did.
#[derive(Debug, PartialEq)]
pub enum SetOutcome {
    Ok,
    /// `expectedEntries` did not match what is stored: nothing was written.
    Conflict,
}

/// The prefs file and the lock that serializes its read-modify-write.
pub struct PrefsStore {
    path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl PrefsStore {
    pub fn new(state_dir: &std::path::Path) -> Self {
        Self {
            path: state_dir.join("users").join("prefs.json"),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn load(&self) -> BTreeMap<String, DevicePrefs> {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// The device's entries, only `keys` when given.
    pub async fn get(&self, device_id: &str, keys: Option<&[String]>) -> Entries {
        let _guard = self.lock.lock().await;
        let mut entries = self
            .load()
            .remove(device_id)
            .map(|d| d.entries)
            .unwrap_or_default();
        if let Some(keys) = keys {
            entries.retain(|k, _| keys.contains(k));
        }
        entries
    }

    /// Merges `entries` (a `null` value removes the key) if every `expected` entry matches
    /// what is stored (absent = `null`).
    pub async fn set(
        &self,
        device_id: &str,
        entries: &Entries,
        expected: Option<&Entries>,
        now_ms: u64,
    ) -> Result<SetOutcome, String> {
        for (k, v) in entries {
            if k.is_empty() || k.chars().count() > 256 {
                return Err(format!(
                    "invalid users.prefs.set entry for {k}: invalid-key"
                ));
            }
            if serde_json::to_string(v).map_or(0, |s| s.len()) > MAX_VALUE_BYTES {
                return Err(format!(
                    "invalid users.prefs.set entry for {k}: value-too-large"
                ));
            }
        }
        let _guard = self.lock.lock().await;
        let mut all = self.load();
        let current = all.remove(device_id).unwrap_or_default();
        if let Some(expected) = expected {
            let matches = expected
                .iter()
                .all(|(k, want)| current.entries.get(k).unwrap_or(&Value::Null) == want);
            if !matches {
                all.insert(device_id.to_string(), current);
                return Ok(SetOutcome::Conflict);
            }
        }
        let mut next = current.entries.clone();
        for (k, v) in entries {
            if v.is_null() {
                next.remove(k);
            } else {
                next.insert(k.clone(), v.clone());
            }
        }
        if next.len() > MAX_KEYS {
            return Err(format!(
                "users.prefs.set exceeds the {MAX_KEYS}-key profile limit (current count: {})",
                current.entries.len()
            ));
        }
        all.insert(
            device_id.to_string(),
            DevicePrefs {
                updated_at_ms: now_ms,
                entries: next,
            },
        );
        while all.len() > MAX_DEVICES {
            let oldest = all
                .iter()
                .min_by_key(|(_, d)| d.updated_at_ms)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => all.remove(&k),
                None => break,
            };
        }
        let text = serde_json::to_vec_pretty(&all).map_err(|e| e.to_string())?;
        openclaw_config::fsutil::write_atomic(&self.path, &text)
            .map_err(|e| format!("cannot save preferences: {e}"))?;
        Ok(SetOutcome::Ok)
    }
}
