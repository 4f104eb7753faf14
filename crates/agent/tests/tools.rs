//! Built-in tools on a real temp workspace: containment (`..`, absolute paths, symlink
//! escapes, dangling symlinks), size caps, paging, edit, and argument errors.

use std::path::Path;

use openclaw_agent::tools::{READ_MAX_BYTES, WRITE_MAX_BYTES};
use openclaw_agent::{ToolContext, ToolOutput, builtin_tools, call_tool};
use serde_json::{Value, json};

fn ctx(dir: &Path) -> ToolContext {
    ToolContext::workspace_only(dir.to_path_buf())
}

async fn call(dir: &Path, name: &str, args: Value) -> ToolOutput {
    call_tool(name, &args, &ctx(dir)).await
}

/// [`call`], which must succeed.
async fn call_ok(dir: &Path, name: &str, args: Value) -> ToolOutput {
    let out = call(dir, name, args).await;
    assert!(!out.is_error, "{out:?}");
    out
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ws = root.path().join("workspace");
    std::fs::create_dir_all(ws.join("sub")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(ws.join("sub/inside.txt"), "inside\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(root.path().join("outside.txt"), "TOP SECRET\n")
        .unwrap_or_else(|e| panic!("{e}"));
    (root, ws)
}

fn assert_refused(out: &ToolOutput, what: &str) {
    assert!(out.is_error, "{what} was not refused: {out:?}");
    assert!(
        !out.content.contains("TOP SECRET"),
        "{what} leaked: {out:?}"
    );
}

#[tokio::test]
async fn builtin_specs_are_well_formed() {
    let tools = builtin_tools();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    for n in ["read", "write", "edit", "ls", "session_status"] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert!(!names.iter().any(|n| *n == "exec" || *n == "bash"));
    for t in &tools {
        assert_eq!(t.parameters["type"], "object", "{}", t.name);
        assert!(!t.description.is_empty());
    }
}

#[tokio::test]
async fn parent_dir_escapes_are_refused() {
    let (_root, ws) = setup();
    for p in [
        "../outside.txt",
        "sub/../../outside.txt",
        "./../outside.txt",
        "sub/../..",
    ] {
        let out = call(&ws, "read", json!({"path": p})).await;
        assert_refused(&out, p);
        assert!(
            out.content.contains("escapes the workspace"),
            "{p}: {}",
            out.content
        );
    }
    let out = call(&ws, "write", json!({"path": "../evil.txt", "content": "x"})).await;
    assert_refused(&out, "write ../evil.txt");
    assert!(
        !ws.parent()
            .map(|p| p.join("evil.txt").exists())
            .unwrap_or(true)
    );
    let out = call(&ws, "ls", json!({"path": ".."})).await;
    assert_refused(&out, "ls ..");
    // `..` that stays inside is fine.
    let out = call_ok(&ws, "read", json!({"path": "sub/../sub/inside.txt"})).await;
    assert_eq!(out.content, "inside\n");
}

#[tokio::test]
async fn absolute_paths_outside_are_refused_inside_allowed() {
    let (root, ws) = setup();
    let outside = root.path().join("outside.txt");
    let out = call(&ws, "read", json!({"path": outside.display().to_string()})).await;
    assert_refused(&out, "absolute outside");
    let out = call(&ws, "read", json!({"path": "/etc/passwd"})).await;
    assert_refused(&out, "/etc/passwd");
    let inside = ws.join("sub/inside.txt");
    let out = call_ok(&ws, "read", json!({"path": inside.display().to_string()})).await;
    assert_eq!(out.details["path"], "sub/inside.txt");
}

#[cfg(unix)]
#[tokio::test]
async fn symlink_escapes_are_refused() {
    use std::os::unix::fs::symlink;
    let (root, ws) = setup();
    symlink(root.path().join("outside.txt"), ws.join("link.txt")).unwrap_or_else(|e| panic!("{e}"));
    symlink(root.path(), ws.join("updir")).unwrap_or_else(|e| panic!("{e}"));
    symlink(root.path().join("nope.txt"), ws.join("dangling.txt"))
        .unwrap_or_else(|e| panic!("{e}"));
    symlink(ws.join("sub"), ws.join("sublink")).unwrap_or_else(|e| panic!("{e}"));

    for (tool, args, what) in [
        ("read", json!({"path": "link.txt"}), "file symlink"),
        ("read", json!({"path": "updir/outside.txt"}), "dir symlink"),
        (
            "write",
            json!({"path": "link.txt", "content": "pwned"}),
            "write through symlink",
        ),
        (
            "write",
            json!({"path": "updir/new.txt", "content": "pwned"}),
            "write into symlinked dir",
        ),
        (
            "write",
            json!({"path": "dangling.txt", "content": "pwned"}),
            "write through dangling symlink",
        ),
        ("ls", json!({"path": "updir"}), "ls symlinked dir"),
    ] {
        assert_refused(&call(&ws, tool, args).await, what);
    }
    assert!(!root.path().join("new.txt").exists());
    assert!(!root.path().join("nope.txt").exists());
    let outside = std::fs::read_to_string(root.path().join("outside.txt")).unwrap_or_default();
    assert_eq!(outside, "TOP SECRET\n");

    // A symlink that stays inside the workspace is followed.
    call_ok(&ws, "read", json!({"path": "sublink/inside.txt"})).await;
}

#[tokio::test]
async fn write_read_edit_ls_round_trip() {
    let (_root, ws) = setup();
    call_ok(
        &ws,
        "write",
        json!({"path": "deep/new/file.md", "content": "one\ntwo\nthree\n"}),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(ws.join("deep/new/file.md")).unwrap_or_default(),
        "one\ntwo\nthree\n"
    );
    let out = call_ok(
        &ws,
        "read",
        json!({"path": "deep/new/file.md", "offset": 2, "limit": 1}),
    )
    .await;
    assert!(out.content.starts_with("two\n"), "{}", out.content);
    assert!(
        out.content.contains("Use offset=3 to continue"),
        "{}",
        out.content
    );

    call_ok(
        &ws,
        "edit",
        json!({"path": "deep/new/file.md", "oldText": "two", "newText": "TWO"}),
    )
    .await;
    let out = call(&ws, "read", json!({"path": "deep/new/file.md"})).await;
    assert_eq!(out.content, "one\nTWO\nthree\n");
    // Ambiguous and missing `oldText` are refused.
    for (old_text, says) in [("e", "occurs"), ("zzz", "not found")] {
        let args = json!({"path": "deep/new/file.md", "oldText": old_text, "newText": "E"});
        let out = call(&ws, "edit", args).await;
        assert!(out.is_error && out.content.contains(says), "{out:?}");
    }

    let out = call_ok(&ws, "ls", json!({})).await;
    assert_eq!(out.content, "deep/\nsub/");
    let out = call(&ws, "read", json!({"path": "deep"})).await;
    assert!(out.is_error && out.content.contains("directory"));
}

#[tokio::test]
async fn size_caps() {
    let (_root, ws) = setup();
    let big = "x".repeat(WRITE_MAX_BYTES + 1);
    let out = call(&ws, "write", json!({"path": "big.txt", "content": big})).await;
    assert!(
        out.is_error && out.content.contains("limit"),
        "{}",
        out.content
    );
    assert!(!ws.join("big.txt").exists());

    // A file larger than the read cap is read only partly, and the reply says so.
    let line = format!("{}\n", "y".repeat(99));
    let huge = line.repeat((READ_MAX_BYTES as usize / 100) * 2);
    std::fs::write(ws.join("huge.txt"), &huge).unwrap_or_else(|e| panic!("{e}"));
    let out = call(&ws, "read", json!({"path": "huge.txt"})).await;
    assert!(!out.is_error);
    assert!(out.content.len() <= 52 * 1024, "{}", out.content.len());
    assert!(out.content.contains("Use offset="), "paging hint missing");
    assert_eq!(out.details["truncated"], true);

    std::fs::write(ws.join("bin.dat"), [0u8, 1, 2, 3]).unwrap_or_else(|e| panic!("{e}"));
    let out = call(&ws, "read", json!({"path": "bin.dat"})).await;
    assert!(out.is_error && out.content.contains("binary"));
}

#[tokio::test]
async fn bad_arguments_and_unknown_tools_are_tool_errors() {
    let (_root, ws) = setup();
    let out = call(&ws, "read", json!({})).await;
    assert!(out.is_error && out.content.contains("path"), "{out:?}");
    let out = call(&ws, "read", json!("{\"path\": broken")).await;
    assert!(
        out.is_error && out.content.contains("Invalid arguments"),
        "{out:?}"
    );
    let out = call(&ws, "exec", json!({"command": "id"})).await;
    assert!(
        out.is_error && out.content == "Tool not available: exec",
        "{out:?}"
    );
    let out = call(&ws, "session_status", json!({})).await;
    assert!(!out.is_error && out.content.contains("Time: "), "{out:?}");
}

#[tokio::test]
async fn missing_workspace_is_created_private() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ws = root.path().join("fresh/ws");
    call_ok(&ws, "write", json!({"path": "a.txt", "content": "hi"})).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&ws)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o700);
    }
}

/// `write` and `edit` replace the file (temp + fsync + rename) instead of truncating it in
/// place: a reader holding the old file (or another hard link to it) still sees the old content
/// whole, the mode is kept, no temp file is left, and a symlink inside the workspace still
/// points at the (replaced) target.
#[cfg(unix)]
#[tokio::test]
async fn write_and_edit_replace_the_file_instead_of_truncating_it() {
    use std::io::Read;
    use std::os::unix::fs::{PermissionsExt, symlink};
    let (_root, ws) = setup();
    let file = ws.join("script.sh");
    std::fs::write(&file, "echo old\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o750))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::hard_link(&file, ws.join("old-link")).unwrap_or_else(|e| panic!("{e}"));
    symlink(&file, ws.join("alias.sh")).unwrap_or_else(|e| panic!("{e}"));
    let mut held = std::fs::File::open(&file).unwrap_or_else(|e| panic!("{e}"));

    call_ok(
        &ws,
        "write",
        json!({"path": "alias.sh", "content": "echo new\n"}),
    )
    .await;
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&file), "echo new\n");
    assert_eq!(read(&ws.join("alias.sh")), "echo new\n");
    assert!(
        std::fs::symlink_metadata(ws.join("alias.sh"))
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false),
        "the symlink itself is not replaced"
    );
    assert_eq!(
        read(&ws.join("old-link")),
        "echo old\n",
        "not truncated in place"
    );
    let mut old = String::new();
    held.read_to_string(&mut old)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(old, "echo old\n");
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    assert_eq!(mode(&file), 0o750);

    std::fs::hard_link(&file, ws.join("new-link")).unwrap_or_else(|e| panic!("{e}"));
    call_ok(
        &ws,
        "edit",
        json!({"path": "script.sh", "oldText": "new", "newText": "edited"}),
    )
    .await;
    assert_eq!(read(&file), "echo edited\n");
    assert_eq!(read(&ws.join("new-link")), "echo new\n");
    assert_eq!(mode(&file), 0o750);
    let leftovers: Vec<String> = std::fs::read_dir(&ws)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
