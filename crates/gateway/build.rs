//! Embeds every file under `control-ui/` into the binary: writes a table of
//! `(relative path, include_bytes!)` plus a build id (a hash of the contents) to `$OUT_DIR`, and
//! asks cargo to rebuild when any file or directory there changes. No Node at build or run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.is_file() {
            println!("cargo:rerun-if-changed={}", p.display());
            out.push(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("control-ui");
    let mut files = Vec::new();
    walk(&root, &mut files);
    // FNV-1a over names and bytes: enough to tell two bundles apart in a build id.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut table = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for f in &files {
        let Ok(rel) = f.strip_prefix(&root) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let bytes = std::fs::read(f).unwrap_or_default();
        for b in rel.as_bytes().iter().chain(bytes.iter()) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let _ = writeln!(
            table,
            "    ({rel:?}, include_bytes!({:?})),",
            f.display().to_string()
        );
    }
    table.push_str("];\n");
    let _ = writeln!(table, "pub const BUILD_HASH: &str = \"{hash:016x}\";");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("control_ui_assets.rs");
    if let Err(e) = std::fs::write(&out, table) {
        panic!("cannot write {}: {e}", out.display());
    }
}
