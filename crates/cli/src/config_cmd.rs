//! `openclaw config get|set|unset`: edits the config file directly (validated, atomic, with a
//! `.bak`); a running gateway picks the change up through its file watcher.

use openclaw_config::Paths;
use openclaw_config::edit::{get_path, set_path, to_text, unset_path, write_config};
use serde_json::Value;

use crate::{ConfigSub, Outcome};

fn load(paths: &Paths) -> Result<Value, String> {
    match std::fs::read_to_string(&paths.config_path) {
        Ok(t) if t.trim().is_empty() => Ok(Value::Object(Default::default())),
        Ok(t) => json5::from_str(&t)
            .map_err(|e| format!("{} does not parse: {e}", paths.config_path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Object(Default::default())),
        Err(e) => Err(format!("cannot read {}: {e}", paths.config_path.display())),
    }
}

pub fn run(paths: &Paths, sub: ConfigSub) -> Outcome {
    let mut doc = match load(paths) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Failed;
        }
    };
    match sub {
        ConfigSub::Get { path, json } => match get_path(&doc, &path) {
            Some(Value::String(s)) if !json => {
                println!("{s}");
                Outcome::Done
            }
            Some(v) => {
                println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
                Outcome::Done
            }
            None => {
                eprintln!(
                    "config path not set: {path} ({})",
                    paths.config_path.display()
                );
                Outcome::Failed
            }
        },
        ConfigSub::Set { path, value } => {
            let v = json5::from_str::<Value>(&value).unwrap_or(Value::String(value));
            if let Err(e) = set_path(&mut doc, &path, v) {
                eprintln!("cannot set {path}: {e}");
                return Outcome::Failed;
            }
            match write_config(&paths.config_path, &to_text(&doc)) {
                Ok(()) => {
                    println!("Updated {path} in {}", paths.config_path.display());
                    Outcome::Done
                }
                Err(e) => {
                    eprintln!("not written: {e}");
                    Outcome::Failed
                }
            }
        }
        ConfigSub::Unset { path } => {
            if !unset_path(&mut doc, &path) {
                eprintln!("config path not set: {path}");
                return Outcome::Failed;
            }
            match write_config(&paths.config_path, &to_text(&doc)) {
                Ok(()) => {
                    println!("Removed {path} from {}", paths.config_path.display());
                    Outcome::Done
                }
                Err(e) => {
                    eprintln!("not written: {e}");
                    Outcome::Failed
                }
            }
        }
    }
}
