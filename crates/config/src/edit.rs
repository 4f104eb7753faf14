//! Editing the config file safely: dotted-path get/set/unset, JSON merge patch, and the write
//! itself (validate first, keep `openclaw.json.bak`, temp + fsync + rename, 0600).

use std::path::Path;

use serde_json::{Map, Value};

use crate::fsutil::write_atomic;
use crate::load::{ConfigError, parse_config};

/// Splits `a.b.c` (also `a[0].b`) into segments.
pub fn split_path(path: &str) -> Vec<String> {
    path.replace('[', ".")
        .replace(']', "")
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn get_path<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = root;
    for seg in split_path(path) {
        cur = match cur {
            Value::Object(m) => m.get(&seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Why [`set_path`] cannot place a value. The message names the path as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetPathError {
    #[error("empty config path")]
    Empty,
    /// The document itself is not an object, so `segment` (the first) has nowhere to go.
    #[error("{path}: {segment} is not inside an object")]
    RootNotAnObject { path: String, segment: String },
    /// `segment` on the way holds a scalar or an array, so nothing can go inside it.
    #[error("{path}: {segment} is not an object")]
    NotAnObject { path: String, segment: String },
    /// A one-segment path into a document that is not an object.
    #[error("{path}: parent is not an object")]
    ParentNotAnObject { path: String },
}

/// Sets `path` to `value`, creating objects on the way.
pub fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), SetPathError> {
    let segs = split_path(path);
    let Some((last, parents)) = segs.split_last() else {
        return Err(SetPathError::Empty);
    };
    let mut cur = root;
    for seg in parents {
        let Some(map) = cur.as_object_mut() else {
            // Only the root can fail here: deeper levels were checked on the way down.
            return Err(SetPathError::RootNotAnObject {
                path: path.to_string(),
                segment: seg.clone(),
            });
        };
        cur = map
            .entry(seg.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !cur.is_object() {
            return Err(SetPathError::NotAnObject {
                path: path.to_string(),
                segment: seg.clone(),
            });
        }
    }
    match cur.as_object_mut() {
        Some(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        None => Err(SetPathError::ParentNotAnObject {
            path: path.to_string(),
        }),
    }
}

/// Removes `path`; returns whether something was removed.
pub fn unset_path(root: &mut Value, path: &str) -> bool {
    let segs = split_path(path);
    let Some((last, parents)) = segs.split_last() else {
        return false;
    };
    let mut cur = root;
    for seg in parents {
        match cur.get_mut(seg.as_str()) {
            Some(v) => cur = v,
            None => return false,
        }
    }
    cur.as_object_mut()
        .is_some_and(|m| m.remove(last).is_some())
}

/// RFC 7396 JSON merge patch (`null` deletes).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Some(t) = target.as_object_mut() {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Validates `text` as a config, then writes it atomically, keeping the previous file as
/// `<name>.bak`. Nothing is written when validation fails.
pub fn write_config(path: &Path, text: &str) -> Result<(), ConfigError> {
    parse_config(path, text)?;
    if let Ok(old) = std::fs::read(path) {
        let bak = path.with_extension("json.bak");
        write_atomic(&bak, &old).map_err(|source| ConfigError::Read {
            path: bak.clone(),
            source,
        })?;
    }
    write_atomic(path, text.as_bytes()).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Pretty JSON text for a config document (2-space, trailing newline), as the reference writes.
pub fn to_text(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        let mut v = json!({});
        set_path(&mut v, "gateway.auth.token", json!("x")).unwrap();
        assert_eq!(get_path(&v, "gateway.auth.token"), Some(&json!("x")));
        assert!(unset_path(&mut v, "gateway.auth.token"));
        assert_eq!(v, json!({"gateway": {"auth": {}}}));
        assert!(!unset_path(&mut v, "nope.x"));
        let mut s = json!({"a": 1});
        let e = set_path(&mut s, "a.b", json!(2)).unwrap_err();
        assert_eq!(e.to_string(), "a.b: a is not an object");
        let mut list = json!([1]);
        let e = set_path(&mut list, "x.y", json!(2)).unwrap_err();
        assert_eq!(e.to_string(), "x.y: x is not inside an object");
        let e = set_path(&mut list, "x", json!(2)).unwrap_err();
        assert_eq!(e.to_string(), "x: parent is not an object");
        let e = set_path(&mut list, "", json!(2)).unwrap_err();
        assert_eq!(e.to_string(), "empty config path");
    }

    #[test]
    fn merge_patch_rfc7396() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": 3});
        merge_patch(&mut v, &json!({"a": {"b": null, "e": 4}, "d": [1]}));
        assert_eq!(v, json!({"a": {"c": 2, "e": 4}, "d": [1]}));
    }

    #[test]
    fn write_keeps_backup_and_refuses_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("openclaw.json");
        write_config(&p, "{\"gateway\":{\"mode\":\"local\"}}").unwrap();
        write_config(&p, "{\"gateway\":{\"mode\":\"local\",\"port\":1234}}").unwrap();
        assert!(
            std::fs::read_to_string(dir.path().join("openclaw.json.bak"))
                .unwrap()
                .contains("local")
        );
        assert!(write_config(&p, "{\"gateway\":{\"prot\":1}}").is_err());
        assert!(
            std::fs::read_to_string(&p).unwrap().contains("1234"),
            "invalid write left the file alone"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
