//! The canvas host against the real binary (nodes.md §3): files from the canvas root with their
//! types and `no-store`, every spelling of traversal refused, live reload reaching a socket on
//! `/__openclaw__/ws`, the switches that turn it off, and who may read it from afar (the
//! gateway secret or a node's capability).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use ed25519_dalek::SigningKey;
use futures_util::StreamExt;
use serde_json::{Value, json};

/// A gateway whose default workspace (so canvas root) is `<home>/ws`; `extra` is merged into
/// the config. Waits until the canvas host is mounted (or said to be off).
fn start(extra: Value, env: &[(&str, &str)]) -> (Gateway, PathBuf) {
    let home = Home::new();
    let mut cfg = token_config(&home);
    cfg["agents"] = json!({"defaults": {"workspace": home.path().join("ws")}});
    for (k, v) in extra.as_object().unwrap() {
        if k == "gateway" {
            for (gk, gv) in v.as_object().unwrap() {
                cfg["gateway"][gk] = gv.clone();
            }
        } else {
            cfg[k] = v.clone();
        }
    }
    home.write_config(&cfg);
    let root = home.path().join("ws").join("canvas");
    let mut gw = Gateway::start_in(home, &["gateway", "--port", "0"], env);
    gw.expect_line("canvas host");
    (gw, root)
}

fn get(gw: &Gateway, path: &str) -> HttpResponse {
    http_get(gw.port, "GET", path, &[])
}

#[test]
fn canvas_files_are_served_with_their_types() {
    let (gw, root) = start(json!({}), &[]);
    // Created at start with a default page, which gets the bridge and the reload script.
    assert!(root.join("index.html").is_file());
    let r = get(&gw, "/__openclaw__/canvas/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(r.header("cache-control"), "no-store");
    let html = r.text();
    let script = html
        .find("openclawSendUserAction")
        .expect("bridge injected");
    assert!(script < html.rfind("</body>").unwrap());
    assert!(html.contains("/__openclaw__/ws"));

    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/index.html"), "<p>sub</p>").unwrap();
    std::fs::write(root.join("a.css"), "p{}").unwrap();
    std::fs::write(root.join("b.js"), "1").unwrap();
    std::fs::write(root.join("c.png"), [0x89u8, b'P', b'N', b'G']).unwrap();
    std::fs::write(root.join("d.json"), "{}").unwrap();
    std::fs::write(root.join("e.bin"), [0u8]).unwrap();
    for (path, ct) in [
        ("a.css", "text/css; charset=utf-8"),
        ("b.js", "application/javascript; charset=utf-8"),
        ("c.png", "image/png"),
        ("d.json", "application/json; charset=utf-8"),
        ("e.bin", "application/octet-stream"),
        ("sub/", "text/html; charset=utf-8"),
        ("sub", "text/html; charset=utf-8"),
    ] {
        let r = get(&gw, &format!("/__openclaw__/canvas/{path}"));
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), ct, "{path}");
        assert_eq!(r.header("cache-control"), "no-store", "{path}");
    }
    // A page without </body> gets the script appended.
    assert!(
        get(&gw, "/__openclaw__/canvas/sub/")
            .text()
            .starts_with("<p>sub</p><script>")
    );
    let r = get(&gw, "/__openclaw__/a2ui/");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("openclawPostMessage"));
    assert_eq!(
        http_get(gw.port, "POST", "/__openclaw__/canvas/", &[]).status,
        405
    );
    // The plain-HTTP side of the reload socket.
    let r = get(&gw, "/__openclaw__/ws");
    assert_eq!((r.status, r.text().as_str()), (426, "upgrade required"));
}

#[test]
fn traversal_dotfiles_and_symlinks_are_refused() {
    let (gw, root) = start(json!({}), &[]);
    let outside = root.parent().unwrap().join("secret.txt");
    std::fs::write(&outside, "TOP SECRET").unwrap();
    std::fs::write(root.join(".env"), "TOP SECRET").unwrap();
    std::fs::write(root.join("ok.txt"), "fine").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(root.join("ok.txt"), root.join("alias.txt")).unwrap();
    std::os::unix::fs::symlink(root.parent().unwrap(), root.join("up")).unwrap();
    assert_eq!(get(&gw, "/__openclaw__/canvas/ok.txt").text(), "fine");
    for path in [
        "/__openclaw__/canvas/../secret.txt",
        "/__openclaw__/canvas/%2e%2e/secret.txt",
        "/__openclaw__/canvas/%2E%2E%2Fsecret.txt",
        "/__openclaw__/canvas/sub/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/__openclaw__/canvas/%252e%252e/secret.txt",
        "/__openclaw__/canvas/..%5csecret.txt",
        "/__openclaw__/canvas/ok.txt%00.html",
        "/__openclaw__/canvas/.env",
        "/__openclaw__/canvas/%2eenv",
        "/__openclaw__/canvas/leak.txt",
        "/__openclaw__/canvas/alias.txt",
        "/__openclaw__/canvas/up/secret.txt",
    ] {
        let r = get(&gw, path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.text(), "not found", "{path}");
    }
}

/// The next text frame on a reload socket, within a deadline.
async fn next_text(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    within: Duration,
) -> Option<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                return Some(t.to_string());
            }
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

#[tokio::test]
async fn a_file_change_reaches_a_reload_socket() {
    let (gw, root) = start(json!({}), &[]);
    let url = format!("ws://127.0.0.1:{}/__openclaw__/ws", gw.port);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // Unlike every other path, this socket is not the gateway protocol: no challenge comes.
    assert_eq!(next_text(&mut ws, Duration::from_millis(300)).await, None);
    // A dotfile is not a change worth a reload; a page is.
    std::fs::write(root.join(".scratch"), "x").unwrap();
    let written = std::time::Instant::now();
    std::fs::write(root.join("page.html"), "<p>v1</p>").unwrap();
    // A generous deadline: timing is reported, not asserted (the 500 ms is checked by
    // reading this line in the test output; the watcher's debounce is 75 ms).
    let got = next_text(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(got.as_deref(), Some("reload"));
    eprintln!(
        "canvas reload reached the socket {} ms after the write",
        written.elapsed().as_millis()
    );
    // The protocol still answers upgrades everywhere else.
    let (_raw, challenge) = Raw::open(&gw.url()).await;
    assert_eq!(challenge["event"], "connect.challenge");
}

#[tokio::test]
async fn the_host_can_be_switched_off() {
    for (extra, env) in [
        (json!({"canvasHost": {"enabled": false}}), vec![]),
        (json!({}), vec![("OPENCLAW_SKIP_CANVAS_HOST", "1")]),
    ] {
        let (gw, root) = start(extra, &env);
        assert!(!root.exists(), "no root is created");
        for path in [
            "/__openclaw__/canvas/",
            "/__openclaw__/a2ui/",
            "/__openclaw__/ws",
        ] {
            assert_eq!(get(&gw, path).status, 404, "{path}");
        }
        // An upgrade there is the gateway protocol again.
        let url = format!("ws://127.0.0.1:{}/__openclaw__/ws", gw.port);
        let (_raw, challenge) = Raw::open(&url).await;
        assert_eq!(challenge["event"], "connect.challenge");
    }
    let (gw, _) = start(json!({"canvasHost": {"liveReload": false}}), &[]);
    assert_eq!(get(&gw, "/__openclaw__/canvas/").status, 200);
    assert!(
        !get(&gw, "/__openclaw__/canvas/")
            .text()
            .contains("/__openclaw__/ws")
    );
    assert_eq!(get(&gw, "/__openclaw__/ws").status, 404);
}

/// Connects a node from loopback; returns its socket and `hello-ok`.
async fn node(url: &str) -> (Raw, Value) {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let (mut raw, ch) = Raw::open(url).await;
    let nonce = ch["payload"]["nonce"].as_str().unwrap().to_string();
    let mut p = json!({
        "minProtocol": 3, "maxProtocol": 4,
        "client": {"id": "node-host", "version": "2026.9.6", "platform": "linux",
                   "deviceFamily": "Linux", "mode": "node"},
        "role": "node", "scopes": [], "caps": ["canvas"], "commands": [],
        "auth": {"token": TOKEN},
    });
    signed(&mut p, &key, &nonce, TOKEN);
    raw.send(&connect_frame("c", p)).await;
    let res = raw.res("c").await;
    assert_eq!(res["ok"], true, "{res}");
    (raw, res["payload"].clone())
}

#[tokio::test]
async fn remote_reads_need_the_secret_or_a_capability() {
    let mut gw = proxied_gateway(json!({}), &[]);
    gw.expect_line("canvas host");
    let remote = [("x-forwarded-for", "203.0.113.9")];
    let page = "/__openclaw__/canvas/";
    let r = http_get(gw.port, "GET", page, &remote);
    assert_eq!(r.status, 401, "{}", r.text());
    let bearer = format!("Bearer {TOKEN}");
    let with_bearer = [remote[0], ("authorization", bearer.as_str())];
    assert_eq!(http_get(gw.port, "GET", page, &with_bearer).status, 200);
    // Local requests need nothing.
    assert_eq!(http_get(gw.port, "GET", page, &[]).status, 200);

    let (mut n, hello) = node(&gw.url()).await;
    let url = hello["canvasHostUrl"]
        .as_str()
        .expect("canvasHostUrl")
        .to_string();
    let prefix = format!("http://127.0.0.1:{}/__openclaw__/cap/", gw.port);
    let cap = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url}"))
        .to_string();
    let scoped = format!("/__openclaw__/cap/{cap}{page}");
    assert_eq!(http_get(gw.port, "GET", &scoped, &remote).status, 200);
    let query = format!("{page}?oc_cap={cap}");
    assert_eq!(http_get(gw.port, "GET", &query, &remote).status, 200);
    let wrong = format!("/__openclaw__/cap/x{cap}{page}");
    assert_eq!(http_get(gw.port, "GET", &wrong, &remote).status, 401);
    assert_eq!(
        http_get(gw.port, "GET", "/__openclaw__/cap/only", &remote).status,
        401,
        "a malformed scoped path"
    );

    // A refresh replaces the capability.
    let r = n.call("node.canvas.capability.refresh", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    let fresh = r["payload"]["canvasCapability"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        r["payload"]["canvasCapabilityExpiresAtMs"]
            .as_u64()
            .is_some()
    );
    assert!(
        r["payload"]["canvasHostUrl"]
            .as_str()
            .unwrap()
            .ends_with(&fresh)
    );
    assert_eq!(http_get(gw.port, "GET", &scoped, &remote).status, 401);
    let scoped = format!("/__openclaw__/cap/{fresh}{page}");
    assert_eq!(http_get(gw.port, "GET", &scoped, &remote).status, 200);
    // An operator may not mint one.
    let (mut op, _) = connected(&gw.url(), &["operator.admin"]).await;
    let r = op.call("node.canvas.capability.refresh", json!({})).await;
    assert_eq!(r["ok"], false);
    // The node's disconnect ends it.
    drop(n);
    wait_for("the capability to end with its node", || {
        http_get(gw.port, "GET", &scoped, &remote).status == 401
    })
    .await;
}
