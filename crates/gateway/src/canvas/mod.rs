//! The canvas host on the gateway port (nodes.md §3): `/__openclaw__/canvas/` serves the canvas
//! root (`canvasHost.root`, else `<workspace>/canvas`, created with a default page),
//! `/__openclaw__/a2ui/` a small built-in page (no A2UI renderer bundle ships with this
//! gateway), `/__openclaw__/ws` the live-reload socket, and `/__openclaw__/cap/<cap>/…` the
//! capability-scoped alias of all three. Files go through `static_files` with the strict rules
//! (no symlinks at all, no dotfiles). A request passes when it is local (`trust::resolve`),
//! carries a live capability, or passes the gateway's HTTP gate. Decided once per generation:
//! off with `canvasHost.enabled=false` or `OPENCLAW_SKIP_CANVAS_HOST=1` (the paths then 404).

pub mod caps;
pub mod live;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri, header};
use axum::response::IntoResponse;
use tokio::sync::broadcast;

use crate::http_gate::{self, Secret, Style};
use crate::state::AppState;
use crate::static_files::{self, Lookup, Rules, Symlinks};

const CANVAS_PREFIX: &str = "/__openclaw__/canvas";
const A2UI_PREFIX: &str = "/__openclaw__/a2ui";
pub const RELOAD_PATH: &str = "/__openclaw__/ws";
const CAP_PREFIX: &str = "/__openclaw__/cap/";

const CANVAS_RULES: Rules = Rules {
    symlinks: Symlinks::Refuse,
    dotfiles_hidden: true,
};

const DEFAULT_INDEX: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>OpenClaw Canvas</title>\n<style>body{font:16px system-ui,sans-serif;margin:2rem;color-scheme:light dark}code{font-size:.9em}</style>\n</head>\n<body>\n<h1>OpenClaw Canvas</h1>\n<p>This page is <code>index.html</code> in the canvas folder. Edit it, or add files next to it: connected nodes reload on every change.</p>\n</body>\n</html>\n";

const A2UI_INDEX: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>OpenClaw A2UI</title>\n</head>\n<body>\n<main id=\"a2ui\"><p>This gateway does not ship the A2UI renderer; canvas pages under <code>/__openclaw__/canvas/</code> work as usual.</p></main>\n</body>\n</html>\n";

/// The canvas host of one generation.
#[derive(Default)]
pub struct CanvasHost {
    running: OnceLock<Running>,
    pub caps: caps::Capabilities,
    sockets: Arc<AtomicUsize>,
}

struct Running {
    root: PathBuf,
    live_reload: bool,
    reload: broadcast::Sender<()>,
}

/// Whether the host runs under this config and environment.
fn enabled(state: &AppState) -> bool {
    let off_by_env = openclaw_config::env::var("SKIP_CANVAS_HOST")
        .is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
    let cfg = state.config();
    let on_by_config = cfg
        .config
        .canvas_host
        .as_ref()
        .and_then(|c| c.enabled)
        .unwrap_or(true);
    on_by_config && !off_by_env
}

/// Starts the host for a generation: the root (created with a default page), the watcher.
pub fn start(state: &Arc<AppState>) {
    if !enabled(state) {
        tracing::info!(target: "canvas", "canvas host disabled");
        return;
    }
    let cfg = state.config();
    let c = cfg.config.canvas_host.clone().unwrap_or_default();
    let root = match c.root.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => openclaw_config::paths::expand_home(r),
        _ => {
            let (_, default) = crate::agents::agents(state);
            crate::agents::workspace_dir(state, &default).join("canvas")
        }
    };
    if let Err(e) = std::fs::create_dir_all(&root) {
        tracing::warn!(target: "canvas", "cannot create canvas root {}: {e}", root.display());
    }
    let index = root.join("index.html");
    if std::fs::symlink_metadata(&index).is_err()
        && let Err(e) = std::fs::write(&index, DEFAULT_INDEX)
    {
        tracing::warn!(target: "canvas", "cannot write {}: {e}", index.display());
    }
    let live_reload = c.live_reload.unwrap_or(true);
    let (reload, _) = broadcast::channel(4);
    if live_reload {
        live::spawn_watcher(state, &root, reload.clone());
    }
    tracing::info!(target: "canvas", "canvas host mounted at {CANVAS_PREFIX}/ (root {})", root.display());
    let _ = state.canvas.running.set(Running {
        root,
        live_reload,
        reload,
    });
}

/// The `canvasHostUrl` for a node's `hello-ok`: a capability for its connection, under the
/// origin the node reached us on.
pub fn node_url(state: &AppState, conn_id: &str, host: Option<&str>) -> Option<String> {
    state.canvas.running.get()?;
    let host = host
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| format!("127.0.0.1:{}", state.settings().port));
    state
        .canvas
        .caps
        .mint(conn_id, Some(format!("http://{host}")))
        .map(|m| m.url)
}

/// A request after the capability-scoped alias is undone.
struct Target {
    path: String,
    cap: Option<String>,
}

/// Undoes `/__openclaw__/cap/<cap>/<rest>`; `Err` for a malformed scoped path.
fn target(uri: &Uri) -> Result<Target, ()> {
    let path = uri.path();
    let query_cap = uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "oc_cap")
            .map(|(_, v)| String::from_utf8_lossy(&static_files::percent_decode(v)).into_owned())
    });
    match path.strip_prefix(CAP_PREFIX) {
        Some(rest) => {
            let (cap, tail) = rest.split_once('/').ok_or(())?;
            if cap.is_empty() {
                return Err(());
            }
            Ok(Target {
                path: format!("/{tail}"),
                cap: Some(cap.to_string()),
            })
        }
        None => Ok(Target {
            path: path.to_string(),
            cap: query_cap,
        }),
    }
}

fn under<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    if path == prefix {
        return Some("");
    }
    path.strip_prefix(prefix).and_then(|r| r.strip_prefix('/'))
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn unauthorized() -> Response<Body> {
    http_gate::error(
        Style::OpenAi,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Unauthorized",
    )
}

/// §3.4: local, or a live capability, or the gateway secret.
async fn authorize(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    cap: Option<&str>,
) -> Result<(), Response<Body>> {
    if crate::trust::resolve(&state.settings(), peer.ip(), headers).local {
        return Ok(());
    }
    if cap.is_some_and(|c| state.canvas.caps.admit(c)) {
        return Ok(());
    }
    if headers.contains_key(header::AUTHORIZATION) {
        return http_gate::authorize(state, peer, headers, Secret::Gateway, Style::OpenAi)
            .await
            .map(|_| ());
    }
    if matches!(state.settings().auth, openclaw_config::AuthMode::None) {
        return Ok(());
    }
    Err(unauthorized())
}

/// Whether an upgrade is for the live-reload socket (only while the host reloads).
pub fn is_reload_socket(state: &AppState, uri: &Uri) -> bool {
    state.canvas.running.get().is_some_and(|r| r.live_reload)
        && target(uri).is_ok_and(|t| t.path == RELOAD_PATH)
}

/// The live-reload upgrade, after the §3.4 checks.
pub async fn reload_socket(
    state: Arc<AppState>,
    peer: SocketAddr,
    req: axum::extract::Request,
) -> Response<Body> {
    let Some(running) = state.canvas.running.get() else {
        return text(StatusCode::NOT_FOUND, "not found");
    };
    let cap = target(req.uri()).ok().and_then(|t| t.cap);
    if let Err(r) = authorize(&state, peer, req.headers(), cap.as_deref()).await {
        return r;
    }
    let reload = running.reload.clone();
    let sockets = state.canvas.sockets.clone();
    live::upgrade(state, peer, reload, &sockets, req).await
}

/// Handles a plain HTTP request on the canvas paths; `None` when it is not one (or the host is
/// off, so the router answers 404).
pub async fn handle(
    state: &Arc<AppState>,
    peer: SocketAddr,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Response<Body>> {
    let running = state.canvas.running.get()?;
    let scoped = uri.path().starts_with(CAP_PREFIX);
    let Ok(t) = target(uri) else {
        return Some(unauthorized());
    };
    enum Kind<'a> {
        Canvas(&'a str),
        A2ui(&'a str),
        Reload,
    }
    let kind = if let Some(rest) = under(&t.path, CANVAS_PREFIX) {
        Kind::Canvas(rest)
    } else if let Some(rest) = under(&t.path, A2UI_PREFIX) {
        Kind::A2ui(rest)
    } else if t.path == RELOAD_PATH {
        Kind::Reload
    } else if scoped {
        return Some(text(StatusCode::NOT_FOUND, "not found"));
    } else {
        return None;
    };
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(r);
    }
    if let Err(r) = authorize(state, peer, headers, t.cap.as_deref()).await {
        return Some(r);
    }
    let res = match kind {
        Kind::Reload if running.live_reload => {
            text(StatusCode::UPGRADE_REQUIRED, "upgrade required")
        }
        Kind::Reload => text(StatusCode::NOT_FOUND, "not found"),
        Kind::A2ui(rest) => match rest.trim_matches('/') {
            "" | "index.html" => html(A2UI_INDEX, running.live_reload),
            _ => text(StatusCode::NOT_FOUND, "not found"),
        },
        Kind::Canvas(rest) => serve_canvas(running, rest).await,
    };
    Some(no_store(res))
}

fn no_store(mut r: Response<Body>) -> Response<Body> {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn serve_canvas(running: &Running, rest: &str) -> Response<Body> {
    let not_found = || text(StatusCode::NOT_FOUND, "not found");
    let Some((segs, _)) = static_files::segments(rest, CANVAS_RULES) else {
        return not_found();
    };
    let mut found = static_files::lookup(&running.root, &segs, CANVAS_RULES);
    if let Lookup::Dir(_) = found {
        let mut with_index = segs.clone();
        with_index.push("index.html".into());
        found = static_files::lookup(&running.root, &with_index, CANVAS_RULES);
        if found == Lookup::Missing && segs.is_empty() {
            let page = format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>Canvas</title></head><body><p>No canvas yet: create <code>{}</code>.</p></body></html>",
                html_escape(&running.root.join("index.html").to_string_lossy())
            );
            let mut r = html(&page, false);
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
    }
    let Lookup::File(path) = found else {
        return not_found();
    };
    let Ok(bytes) = static_files::read(&path).await else {
        return not_found();
    };
    let name = path.to_string_lossy();
    let ct = static_files::content_type(&name);
    if ct.starts_with("text/html") {
        return html(&String::from_utf8_lossy(&bytes), running.live_reload);
    }
    let mut r = Response::new(Body::from(bytes));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An HTML page with the bridge (and, when on, live reload) injected before the last
/// `</body>`, or appended.
fn html(page: &str, live_reload: bool) -> Response<Body> {
    let script = inject_script(live_reload);
    let lower = page.to_ascii_lowercase();
    let body = match lower.rfind("</body>") {
        Some(i) => format!("{}{script}{}", &page[..i], &page[i..]),
        None => format!("{page}{script}"),
    };
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// The action bridge of §3.3 and the live-reload socket (reached through the same capability
/// alias the page was loaded with).
fn inject_script(live_reload: bool) -> String {
    let bridge = r#"(function(){var g=globalThis;function post(m){var p=typeof m==="string"?m:JSON.stringify(m);try{var w=g.webkit&&g.webkit.messageHandlers;var names=["openclawCanvasA2UIAction","clawdbotCanvasA2UIAction"];for(var i=0;i<names.length;i++){if(w&&w[names[i]]){w[names[i]].postMessage(p);return true}if(g[names[i]]&&typeof g[names[i]].postMessage==="function"){g[names[i]].postMessage(p);return true}}}catch(e){}return false}function send(a){a=a||{};if(!a.id){a.id=g.crypto&&g.crypto.randomUUID?g.crypto.randomUUID():String(Date.now())+Math.random()}return post({userAction:a})}g.openclawPostMessage=post;g.openclawSendUserAction=send;g.clawdbotPostMessage=post;g.clawdbotSendUserAction=send;g.OpenClaw=Object.assign(g.OpenClaw||{},{postMessage:post,sendUserAction:send});"#;
    let reload = r#"try{var m=location.pathname.match(/^\/__openclaw__\/cap\/[^\/]+/);var cap=new URLSearchParams(location.search).get("oc_cap");var u=(location.protocol==="https:"?"wss://":"ws://")+location.host+(m?m[0]:"")+"/__openclaw__/ws"+(cap&&!m?"?oc_cap="+encodeURIComponent(cap):"");var ws=new WebSocket(u);ws.onmessage=function(ev){if(String(ev.data).trim()==="reload")location.reload()}}catch(e){}"#;
    format!(
        "<script>{bridge}{}}})();</script>",
        if live_reload { reload } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capability_alias_is_undone() {
        let t = target(
            &"/__openclaw__/cap/abc/__openclaw__/canvas/x.html"
                .parse()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(t.path, "/__openclaw__/canvas/x.html");
        assert_eq!(t.cap.as_deref(), Some("abc"));
        let t = target(&"/__openclaw__/canvas/?a=1&oc_cap=q%2D".parse().unwrap()).unwrap();
        assert_eq!(t.cap.as_deref(), Some("q-"));
        assert!(target(&"/__openclaw__/cap/abc".parse().unwrap()).is_err());
        assert!(target(&"/__openclaw__/cap//x".parse().unwrap()).is_err());
    }

    #[test]
    fn the_script_goes_before_the_last_body_close() {
        let r = inject_script(true);
        assert!(r.contains("location.reload()"));
        assert!(!inject_script(false).contains("WebSocket"));
        assert!(r.ends_with("})();</script>"));
    }
}
