//! The Control UI over HTTP against the real binary (control-ui.md §1): the embedded bundle at
//! `/` and under a base path, the prepared shell and its CSP (whose hashes are recomputed here
//! from the body as served), SPA fallback and its limits, method and path refusals, a `root`
//! directory instead of the bundle, and the auth-gated config and avatar routes.

mod common;

use std::path::PathBuf;

use base64::Engine;
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn start(control_ui: Value) -> Gateway {
    let home = Home::new();
    let mut cfg = token_config(&home);
    cfg["gateway"]["controlUi"] = control_ui;
    home.write_config(&cfg);
    Gateway::start_in(home, &["gateway", "--port", "0"], &[])
}

/// `sha256-…` of each inline `<script>` without `src`, as a browser checks them.
fn inline_hashes(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find("<script").map(|i| i + from) {
        let open_end = lower[i..].find('>').unwrap() + i + 1;
        let close = lower[open_end..].find("</script>").unwrap() + open_end;
        let tag = &lower[i..open_end];
        let content = &html[open_end..close];
        if !content.is_empty() && !tag.contains(" src=") {
            out.push(format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(content))
            ));
        }
        from = close;
    }
    out
}

/// The checks every served shell passes: type, caching, framing, and a CSP that allows
/// exactly the inline scripts in the body.
fn assert_shell(r: &HttpResponse, base: &str) -> String {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(r.header("cache-control"), "no-cache");
    assert_eq!(r.header("x-frame-options"), "DENY");
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    let csp = r.header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("connect-src 'self' ws: wss:"), "{csp}");
    assert!(csp.contains("img-src 'self' data: blob:"), "{csp}");
    let html = r.text();
    assert!(
        html.contains(&format!(
            "window.__OPENCLAW_CONTROL_UI_BASE_PATH__={};",
            serde_json::to_string(base).unwrap()
        )),
        "{html}"
    );
    assert!(html.contains("window.__OPENCLAW_ASSISTANT_NAME__=\"Assistant\""));
    assert!(html.contains(&format!("data-openclaw-control-ui-base-path=\"{base}\"")));
    let hashes = inline_hashes(&html);
    assert!(!hashes.is_empty(), "the injected script is inline");
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap();
    let mut expected = vec!["script-src".to_string(), "'self'".to_string()];
    expected.extend(hashes.iter().map(|h| format!("'{h}'")));
    assert_eq!(script_src, expected.join(" "), "CSP hashes match the body");
    html
}

fn embedded_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../gateway/control-ui"
    ))
}

/// `hello-ok.server.controlUiBuildSource` of a v4 connect: a configured build must not be told by
/// our build id that the server changed (the reference UI would ask for a refresh forever).
fn build_source(gw: &Gateway) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (_raw, hello) = connected(&gw.url(), &["operator.read"]).await;
        hello["server"]["controlUiBuildSource"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    })
}

#[test]
fn the_embedded_ui_is_served_at_the_root_with_its_headers() {
    let gw = Gateway::start();
    assert_eq!(build_source(&gw), "bundled");
    let html = assert_shell(&http_get(gw.port, "GET", "/", &[]), "");
    assert!(html.contains("data-openclaw-control-ui-build-id=\""));
    // Client routes get the same shell; HEAD answers without a body.
    assert_shell(&http_get(gw.port, "GET", "/chat?session=main", &[]), "");
    let head = http_get(gw.port, "HEAD", "/", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    // Every embedded file is served from the binary, by type.
    for entry in std::fs::read_dir(embedded_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == "index.html" {
            continue;
        }
        let r = http_get(gw.port, "GET", &format!("/{name}"), &[]);
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.header("cache-control"), "no-cache");
        assert_eq!(
            r.body,
            std::fs::read(embedded_dir().join(&name)).unwrap(),
            "{name}"
        );
        let ct = r.header("content-type");
        match name.rsplit('.').next().unwrap() {
            "js" => assert_eq!(ct, "application/javascript; charset=utf-8"),
            "css" => assert_eq!(ct, "text/css; charset=utf-8"),
            _ => {}
        }
    }
    // A missing asset is not a client route; nor is a page for a client that refuses HTML.
    assert_eq!(http_get(gw.port, "GET", "/nope.js", &[]).status, 404);
    let r = http_get(gw.port, "GET", "/chat", &[("accept", "text/html;q=0, */*")]);
    assert_eq!(r.status, 404);
    // `/ui` stays reserved; the probes and APIs keep their owners.
    assert_eq!(http_get(gw.port, "GET", "/ui", &[]).status, 404);
    assert_eq!(http_get(gw.port, "GET", "/ui/x", &[]).status, 404);
    assert_eq!(http_get(gw.port, "GET", "/healthz", &[]).status, 200);
}

#[test]
fn only_get_and_head_are_served() {
    let gw = Gateway::start();
    for method in ["POST", "PUT", "DELETE"] {
        let r = http_get(gw.port, method, "/", &[]);
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.text(), "Method Not Allowed");
    }
}

#[test]
fn traversal_and_nul_are_not_found() {
    let gw = Gateway::start();
    for path in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2f..%2f..%2fetc%2fpasswd",
        "/a%00.js",
        "/..%5c..%5cetc%5cpasswd",
    ] {
        let r = http_get(gw.port, "GET", path, &[]);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.text(), "Not Found", "{path}");
    }
}

#[test]
fn a_base_path_redirects_serves_and_falls_back() {
    let gw = start(json!({"basePath": "openclaw/"}));
    let r = http_get(gw.port, "GET", "/openclaw", &[]);
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), "/openclaw/");
    let r = http_get(gw.port, "GET", "/openclaw?session=a", &[]);
    assert_eq!(r.header("location"), "/openclaw/?session=a");
    let html = assert_shell(&http_get(gw.port, "GET", "/openclaw/", &[]), "/openclaw");
    // Relative URLs become absolute under the base, so deep routes load the same files.
    assert!(!html.contains("=\"./"), "{html}");
    assert_shell(
        &http_get(gw.port, "GET", "/openclaw/sessions/agent:main:main", &[]),
        "/openclaw",
    );
    let style = http_get(gw.port, "GET", "/openclaw/style.css", &[]);
    assert_eq!(style.status, 200);
    assert_eq!(style.header("content-type"), "text/css; charset=utf-8");
    // Outside the base nothing is the UI's.
    assert_eq!(http_get(gw.port, "GET", "/", &[]).status, 404);
    assert_eq!(http_get(gw.port, "GET", "/style.css", &[]).status, 404);
    assert_eq!(http_get(gw.port, "POST", "/openclaw/", &[]).status, 405);
}

#[test]
fn a_root_directory_replaces_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ui");
    std::fs::create_dir_all(root.join("assets")).unwrap();
    std::fs::write(
        root.join("index.html"),
        "<!doctype html>\n<html lang=\"en\" data-openclaw-control-ui-build-id=\"theirs\">\n<head>\n<script>globalThis.x = 1;</script>\n<script type=\"module\" src=\"./assets/app-1.js\"></script>\n<link rel=\"manifest\" href=\"./manifest.webmanifest\">\n</head>\n<body><openclaw-app></openclaw-app></body>\n</html>\n",
    )
    .unwrap();
    std::fs::write(root.join("assets/app-1.js"), "export const a = 1;\n").unwrap();
    std::fs::write(root.join("assets/app-1.js.br"), [0u8, 1, 2]).unwrap();
    std::fs::write(root.join("manifest.webmanifest"), "{}").unwrap();
    std::fs::write(root.join("font.woff2"), [0u8; 8]).unwrap();
    std::fs::write(root.join("engine.wasm"), [0u8, 97, 115, 109]).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(root.join("assets/app-1.js"), root.join("inside.js")).unwrap();

    let gw = start(json!({"root": root}));
    assert_eq!(build_source(&gw), "configured");
    let html = assert_shell(&http_get(gw.port, "GET", "/", &[]), "");
    assert!(html.contains("data-openclaw-control-ui-build-id=\"theirs\""));
    assert!(html.contains("src=\"/assets/app-1.js\""));
    assert_eq!(inline_hashes(&html).len(), 2, "theirs and ours");
    // The reference's CSP, so its own UI loads its fonts.
    let csp = http_get(gw.port, "GET", "/", &[])
        .header("content-security-policy")
        .to_string();
    assert!(csp.contains("https://fonts.googleapis.com"), "{csp}");
    for (path, ct) in [
        ("/assets/app-1.js", "application/javascript; charset=utf-8"),
        (
            "/chat/deep/assets/app-1.js",
            "application/javascript; charset=utf-8",
        ),
        (
            "/manifest.webmanifest",
            "application/manifest+json; charset=utf-8",
        ),
        ("/font.woff2", "font/woff2"),
        ("/engine.wasm", "application/wasm"),
        ("/inside.js", "application/javascript; charset=utf-8"),
    ] {
        let r = http_get(gw.port, "GET", path, &[]);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), ct, "{path}");
    }
    for path in ["/leak.txt", "/%2e%2e/secret.txt", "/assets/missing.js"] {
        let r = http_get(gw.port, "GET", path, &[]);
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.text().contains("outside"));
    }
    // Read per request: without index.html the UI is unavailable, and says so.
    std::fs::remove_file(root.join("index.html")).unwrap();
    let r = http_get(gw.port, "GET", "/", &[]);
    assert_eq!(r.status, 503);
    assert!(
        r.text().starts_with("Control UI assets not found"),
        "{}",
        r.text()
    );
}

#[test]
fn the_runtime_config_and_avatars_need_the_gateway_secret() {
    let gw = start(json!({"basePath": "/oc"}));
    let bearer = format!("Bearer {TOKEN}");
    for path in [
        "/oc/control-ui-config.json",
        "/__openclaw__/control-ui-config.json",
    ] {
        assert_eq!(http_get(gw.port, "GET", path, &[]).status, 401, "{path}");
        let r = http_get(gw.port, "GET", path, &[("authorization", &bearer)]);
        assert_eq!(r.status, 200, "{path}");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["basePath"], "/oc");
        assert_eq!(v["assistantName"], "Assistant");
        assert_eq!(v["assistantAvatar"], "A");
        assert_eq!(v["assistantAgentId"], "main");
        assert!(v["serverVersion"].is_string());
        assert_eq!(v["embedSandbox"], "scripts");
        assert_eq!(v["terminalEnabled"], false);
    }
    assert_eq!(
        http_get(gw.port, "GET", "/oc/avatar/main?meta=1", &[]).status,
        401
    );
    let r = http_get(
        gw.port,
        "GET",
        "/oc/avatar/main?meta=1",
        &[("authorization", &bearer)],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({"avatarUrl": null})
    );
    let r = http_get(
        gw.port,
        "GET",
        "/oc/avatar/main",
        &[("authorization", &bearer)],
    );
    assert_eq!(r.status, 404);
}

#[test]
fn a_disabled_ui_is_not_served() {
    let gw = start(json!({"enabled": false}));
    for path in ["/", "/chat", "/style.css", "/control-ui-config.json"] {
        assert_eq!(http_get(gw.port, "GET", path, &[]).status, 404, "{path}");
    }
}

#[tokio::test]
async fn control_ui_settings_apply_without_a_restart() {
    let gw = start(json!({}));
    assert_eq!(http_get(gw.port, "GET", "/", &[]).status, 200);
    let mut cfg = token_config(&gw.home);
    cfg["gateway"]["controlUi"] = json!({"basePath": "/next"});
    gw.home.write_config(&cfg);
    // `/` leaves the UI once the base path moves.
    wait_for("the new base path", || {
        http_get(gw.port, "GET", "/", &[]).status == 404
    })
    .await;
    assert_shell(&http_get(gw.port, "GET", "/next/", &[]), "/next");
    cfg["gateway"]["controlUi"] = json!({"basePath": "/next", "enabled": false});
    gw.home.write_config(&cfg);
    wait_for("the UI to be switched off", || {
        http_get(gw.port, "GET", "/next/", &[]).status == 404
    })
    .await;
}
