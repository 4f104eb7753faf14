//! The Control UI on the gateway port (control-ui.md §1): the bundle embedded at build time
//! (`build.rs` walks `crates/gateway/control-ui/`) or `gateway.controlUi.root`, served at `/` or
//! under `gateway.controlUi.basePath` with SPA fallback; the HTML shell prepared once per
//! (bundle, basePath, identity) with the E1 globals and E3 `<html>` attributes, and a CSP that
//! hashes every inline script of the shell as served; the auth-gated
//! `control-ui-config.json` and avatar routes. Settings are read per request, so a hot reload of
//! `gateway.controlUi` applies at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::http_gate::{self, Secret, Style};
use crate::state::AppState;
use crate::static_files::{self, Lookup, Rules, Symlinks};
use crate::sync::LockExt;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/control_ui_assets.rs"));
}

/// CSP of our embedded UI: nothing outside the gateway is needed.
const OWN_CSP: &str = "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; script-src {SCRIPTS}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; worker-src 'self'; connect-src 'self' ws: wss:";
/// CSP for a `root` directory (the reference's UI loads fonts and talks to a few hosts).
const ROOT_CSP: &str = "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; frame-src 'self' blob: http: https:; script-src {SCRIPTS}; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; img-src 'self' data: blob: https:; media-src 'self' data: blob:; font-src 'self' https://fonts.gstatic.com; worker-src 'self'; connect-src 'self' ws: wss: data: blob: https://api.openai.com https://tweakcn.com";
const PERMISSIONS_POLICY: &str = "camera=(self), microphone=*, geolocation=*, clipboard-write=*";
const ASSETS_MISSING: &str = "Control UI assets not found. Build them with `pnpm ui:build` (auto-installs UI deps), or update gateway.controlUi.root.";
/// Prepared shells kept (one per base path and identity; a reload rarely makes more).
const MAX_PREPARED: usize = 8;
const UI_RULES: Rules = Rules {
    symlinks: Symlinks::StayInside,
    dotfiles_hidden: false,
};

/// Prepared shells of the embedded bundle.
#[derive(Default)]
pub struct ControlUi {
    prepared: Mutex<HashMap<ShellKey, Arc<Shell>>>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct ShellKey {
    base_path: String,
    name: String,
    avatar: String,
}

/// An HTML shell ready to send, with the CSP that matches its inline scripts.
struct Shell {
    html: Vec<u8>,
    csp: String,
}

/// Where the UI comes from.
enum Source {
    Embedded,
    Root(PathBuf),
}

/// `gateway.controlUi` as this request sees it.
struct UiSettings {
    enabled: bool,
    base_path: String,
    source: Source,
}

fn ui_settings(state: &AppState) -> UiSettings {
    let config = state.config();
    let c = config
        .config
        .gateway
        .as_ref()
        .and_then(|g| g.control_ui.clone())
        .unwrap_or_default();
    UiSettings {
        enabled: c.enabled.unwrap_or(true),
        base_path: normalize_base_path(c.base_path.as_deref().unwrap_or("")),
        source: match c.root.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => Source::Root(openclaw_config::paths::expand_home(r)),
            _ => Source::Embedded,
        },
    }
}

/// `hello-ok.server.controlUiBuildSource` (v4): `configured` when `gateway.controlUi.root` serves
/// another UI build, so that build does not take our build id for a newer server and ask for a
/// refresh; `bundled` for the embedded UI.
pub fn build_source(state: &AppState) -> &'static str {
    match ui_settings(state).source {
        Source::Root(_) => "configured",
        Source::Embedded => "bundled",
    }
}

/// `""` for the root, else `/x` (leading slash, no trailing slash).
pub fn normalize_base_path(raw: &str) -> String {
    let t = raw.trim().trim_matches('/');
    if t.is_empty() {
        String::new()
    } else {
        format!("/{t}")
    }
}

/// The assistant's display identity (name, avatar) and its agent.
struct Identity {
    agent_id: String,
    name: String,
    avatar: String,
}

fn identity(state: &AppState, agent_id: Option<&str>) -> Identity {
    let (_, default) = crate::agents::agents(state);
    let agent_id = agent_id.map(str::to_string).unwrap_or(default);
    let config = state.config();
    let ident = config
        .config
        .agent_entry(&agent_id)
        .and_then(|e| e.rest.get("identity"))
        .cloned()
        .unwrap_or_default();
    let text = |k: &str| {
        ident
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Identity {
        name: text("name").unwrap_or_else(|| "Assistant".into()),
        avatar: text("avatar")
            .or_else(|| text("emoji"))
            .unwrap_or_else(|| "A".into()),
        agent_id,
    }
}

/// A configured avatar that names a file (not a URL, data URL or emoji).
fn avatar_file(state: &AppState, ident: &Identity) -> Option<PathBuf> {
    let a = &ident.avatar;
    let lower = a.to_ascii_lowercase();
    if lower.starts_with("http:") || lower.starts_with("https:") || lower.starts_with("data:") {
        return None;
    }
    if !a.contains('.') || !static_files::content_type(a).starts_with("image/") {
        return None;
    }
    let path = openclaw_config::paths::expand_home(a);
    let (root, rel) = if path.is_absolute() {
        (
            path.parent()?.to_path_buf(),
            path.file_name()?.to_string_lossy().into_owned(),
        )
    } else {
        (
            crate::agents::workspace_dir(state, &ident.agent_id),
            a.clone(),
        )
    };
    let (segs, _) = static_files::segments(&rel, UI_RULES)?;
    match static_files::lookup(&root, &segs, UI_RULES) {
        Lookup::File(p) => Some(p),
        _ => None,
    }
}

fn remote_avatar(ident: &Identity) -> Option<String> {
    let lower = ident.avatar.to_ascii_lowercase();
    (lower.starts_with("https:") || lower.starts_with("http:") || lower.starts_with("data:image/"))
        .then(|| ident.avatar.clone())
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_string(),
    )
        .into_response()
}

/// The headers every Control UI response carries.
fn ui_headers(mut res: Response<Body>, csp: &str) -> Response<Body> {
    let h = res.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    // A shell already carries the CSP with its script hashes.
    if !h.contains_key("content-security-policy")
        && let Ok(v) = HeaderValue::from_str(csp)
    {
        h.insert("content-security-policy", v);
    }
    res
}

fn base_csp(source: &Source) -> String {
    csp_with(source, &[])
}

fn csp_with(source: &Source, hashes: &[String]) -> String {
    let mut scripts = String::from("'self'");
    for h in hashes {
        scripts.push_str(&format!(" '{h}'"));
    }
    let template = match source {
        Source::Embedded => OWN_CSP,
        Source::Root(_) => ROOT_CSP,
    };
    template.replace("{SCRIPTS}", &scripts)
}

fn is_read(m: &Method) -> bool {
    m == Method::GET || m == Method::HEAD
}

/// Whether the client takes HTML (an empty `Accept` does; `text/html;q=0` does not).
fn accepts_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return true;
    };
    // The most specific range that matches text/html decides; xhtml counts when named.
    let mut best: Option<(u8, f32)> = None;
    let mut xhtml = false;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let rank = match media.as_str() {
            "text/html" => 3,
            "text/*" => 2,
            "*/*" => 1,
            "application/xhtml+xml" => {
                xhtml |= q > 0.0;
                continue;
            }
            _ => continue,
        };
        if best.is_none_or(|(r, _)| rank > r) {
            best = Some((rank, q));
        }
    }
    best.is_some_and(|(_, q)| q > 0.0) || xhtml
}

/// Extensions that are never client routes: a missing one is a 404, not the shell.
fn is_static_asset(name: &str) -> bool {
    let ext = static_files::extension(name);
    let typed = !matches!(ext.as_str(), "" | "html" | "htm")
        && static_files::content_type(name) != "application/octet-stream";
    typed || matches!(ext.as_str(), "br" | "gz")
}

/// Handles the request if it is the Control UI's; `None` lets the router answer 404.
pub async fn handle(
    state: &Arc<AppState>,
    peer: SocketAddr,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Option<Response<Body>> {
    let ui = ui_settings(state);
    if !ui.enabled {
        return None;
    }
    let path = uri.path();
    let base = ui.base_path.as_str();
    let csp = base_csp(&ui.source);
    if path == format!("{base}/control-ui-config.json")
        || path == format!("{base}/__openclaw/control-ui-config.json")
        || path == "/__openclaw__/control-ui-config.json"
    {
        let res = if is_read(method) {
            config_json(state, peer, headers, base).await
        } else {
            method_not_allowed()
        };
        return Some(ui_headers(res, &csp));
    }
    if let Some(agent) = path.strip_prefix(&format!("{base}/avatar/")) {
        let res = if is_read(method) {
            avatar(state, peer, headers, uri.query(), agent, base).await
        } else {
            method_not_allowed()
        };
        return Some(ui_headers(res, &csp));
    }
    let rel = if base.is_empty() {
        if path == "/ui" || path.starts_with("/ui/") {
            return Some(ui_headers(plain(StatusCode::NOT_FOUND, "Not Found"), &csp));
        }
        // Other owners' namespaces never get the shell.
        for prefix in ["/v1", "/api", "/tools", "/__openclaw__"] {
            if path == prefix || path.starts_with(&format!("{prefix}/")) {
                return None;
            }
        }
        path
    } else if path == base {
        if !is_read(method) {
            return Some(ui_headers(method_not_allowed(), &csp));
        }
        let location = match uri.query() {
            Some(q) => format!("{base}/?{q}"),
            None => format!("{base}/"),
        };
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::FOUND;
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return Some(ui_headers(r, &csp));
    } else {
        path.strip_prefix(base).filter(|r| r.starts_with('/'))?
    };
    if !is_read(method) {
        return Some(ui_headers(method_not_allowed(), &csp));
    }
    // Nested client routes still load hashed assets.
    let rel = match rel.find("/assets/") {
        Some(i) => &rel[i + 1..],
        None => &rel[1..],
    };
    let res = serve(state, &ui, rel, accepts_html(headers)).await;
    Some(ui_headers(res, &csp))
}

fn method_not_allowed() -> Response<Body> {
    let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

fn file_response(name: &str, bytes: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(static_files::content_type(name)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn shell_response(shell: &Shell) -> Response<Body> {
    let mut r = Response::new(Body::from(shell.html.clone()));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&shell.csp) {
        h.insert("content-security-policy", v);
    }
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    r
}

async fn serve(state: &AppState, ui: &UiSettings, rel: &str, html_ok: bool) -> Response<Body> {
    let not_found = || plain(StatusCode::NOT_FOUND, "Not Found");
    let Some((segs, trailing)) = static_files::segments(rel, UI_RULES) else {
        return not_found();
    };
    let mut name = segs.join("/");
    if trailing {
        if !name.is_empty() {
            name.push('/');
        }
        name.push_str("index.html");
    }
    let is_index = |n: &str| n == "index.html" || n.ends_with("/index.html");
    match &ui.source {
        Source::Embedded => {
            let found = embedded::ASSETS.iter().find(|(n, _)| *n == name);
            match found {
                Some((n, bytes)) if !is_index(n) => file_response(n, bytes.to_vec()),
                Some(_) => shell_response(&embedded_shell(state, ui)),
                None if is_static_asset(&name) || !html_ok => not_found(),
                None => shell_response(&embedded_shell(state, ui)),
            }
        }
        Source::Root(root) => {
            let index = static_files::lookup(root, &["index.html".to_string()], UI_RULES);
            let Lookup::File(index) = index else {
                return plain(StatusCode::SERVICE_UNAVAILABLE, ASSETS_MISSING);
            };
            let mut target = static_files::lookup(root, &segs, UI_RULES);
            if let Lookup::Dir(d) = &target {
                target = static_files::lookup(d, &["index.html".to_string()], UI_RULES);
            }
            match target {
                Lookup::Refused => not_found(),
                Lookup::File(p) if !p.ends_with("index.html") => {
                    match static_files::read(&p).await {
                        Ok(b) => file_response(&p.to_string_lossy(), b),
                        Err(_) => not_found(),
                    }
                }
                Lookup::File(p) => root_shell(state, ui, root, &p).await,
                _ if is_static_asset(&name) || !html_ok => not_found(),
                _ => root_shell(state, ui, root, &index).await,
            }
        }
    }
}

async fn root_shell(
    state: &AppState,
    ui: &UiSettings,
    root: &Path,
    index: &Path,
) -> Response<Body> {
    // Read per request: the directory is someone else's and may change under us.
    let Ok(bytes) = static_files::read(index).await else {
        tracing::warn!(target: "http", "cannot read {}", root.join("index.html").display());
        return plain(StatusCode::SERVICE_UNAVAILABLE, ASSETS_MISSING);
    };
    let ident = identity(state, None);
    let avatar = shell_avatar(state, &ident, &ui.base_path);
    let shell = prepare_shell(
        &String::from_utf8_lossy(&bytes),
        &ui.base_path,
        &ident.name,
        &avatar,
        None,
        &ui.source,
    );
    shell_response(&shell)
}

fn shell_avatar(state: &AppState, ident: &Identity, base: &str) -> String {
    if avatar_file(state, ident).is_some() {
        format!("{base}/avatar/{}", ident.agent_id)
    } else {
        ident.avatar.clone()
    }
}

fn embedded_shell(state: &AppState, ui: &UiSettings) -> Arc<Shell> {
    let ident = identity(state, None);
    let key = ShellKey {
        base_path: ui.base_path.clone(),
        avatar: shell_avatar(state, &ident, &ui.base_path),
        name: ident.name,
    };
    let mut cache = state.control_ui.prepared.locked();
    if let Some(s) = cache.get(&key) {
        return s.clone();
    }
    let html = embedded::ASSETS
        .iter()
        .find(|(n, _)| *n == "index.html")
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_else(|| "<!doctype html><html><head></head><body></body></html>".into());
    let build_id = format!("{}-rust-{}", state.version, embedded::BUILD_HASH);
    let shell = Arc::new(prepare_shell(
        &html,
        &key.base_path,
        &key.name,
        &key.avatar,
        Some(&build_id),
        &ui.source,
    ));
    if cache.len() >= MAX_PREPARED {
        cache.clear();
    }
    cache.insert(key, shell.clone());
    shell
}

/// A JSON string literal safe inside an inline `<script>`.
fn script_json(s: &str) -> String {
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn attr_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Index of `needle` (ASCII, lowercase) in `hay`, ignoring ASCII case, from `from`.
fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (from..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// The `<html …>` open tag's byte range.
fn html_tag(html: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = find_ci(html, "<html", from) {
        let next = html.as_bytes().get(i + 5).copied();
        if matches!(next, Some(b' ' | b'\t' | b'\n' | b'\r' | b'>')) {
            let end = html[i..].find('>')? + i + 1;
            return Some((i, end));
        }
        from = i + 5;
    }
    None
}

/// The value of attribute `name` in an open tag, with its byte range in the tag.
fn attribute(tag: &str, name: &str) -> Option<(usize, usize, String)> {
    for (start, attr_name, end, value) in attributes(tag) {
        if attr_name == name {
            return Some((start, end, value));
        }
    }
    None
}

/// `(start, lowercase name, end, value)` of each attribute in an open tag.
fn attributes(tag: &str) -> Vec<(usize, String, usize, String)> {
    let b = tag.as_bytes();
    let mut out = Vec::new();
    // Skip `<name`.
    let mut i = 1;
    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
        i += 1;
    }
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= b.len() || b[i] == b'>' {
            return out;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let name = tag[start..i].to_ascii_lowercase();
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let mut value = String::new();
        if j < b.len() && b[j] == b'=' {
            j += 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
                let q = b[j];
                let vs = j + 1;
                let mut k = vs;
                while k < b.len() && b[k] != q {
                    k += 1;
                }
                value = tag[vs..k.min(b.len())].to_string();
                i = (k + 1).min(b.len());
            } else {
                let vs = j;
                while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' {
                    j += 1;
                }
                value = tag[vs..j].to_string();
                i = j;
            }
        }
        if name.is_empty() {
            i += 1;
            continue;
        }
        out.push((start, name, i, value));
    }
}

/// `sha256-…` of every inline `<script>` (no `src`) with content, in order.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = find_ci(html, "<script", from) {
        let after = html.as_bytes().get(i + 7).copied();
        if !matches!(after, Some(b' ' | b'\t' | b'\n' | b'\r' | b'>' | b'/')) {
            from = i + 7;
            continue;
        }
        let Some(open_end) = html[i..].find('>').map(|e| i + e + 1) else {
            break;
        };
        let Some(close) = find_ci(html, "</script>", open_end) else {
            break;
        };
        let tag = &html[i..open_end];
        let content = &html[open_end..close];
        if !content.is_empty() && attribute(tag, "src").is_none() {
            let digest = Sha256::digest(content.as_bytes());
            out.push(format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        from = close + 9;
    }
    out
}

/// Prepares an `index.html`: relative `./` URLs made absolute under the base path (so client
/// routes at any depth load the same files), the E3 attributes on `<html>`, the E1 globals
/// before `</head>`, and the CSP hashing the result's inline scripts.
fn prepare_shell(
    html: &str,
    base_path: &str,
    name: &str,
    avatar: &str,
    build_id: Option<&str>,
    source: &Source,
) -> Shell {
    let mut html = html
        .replace("src=\"./", &format!("src=\"{base_path}/"))
        .replace("href=\"./", &format!("href=\"{base_path}/"));
    if let Some((start, end)) = html_tag(&html) {
        let mut tag = html[start..end].to_string();
        let base_attr = format!(
            "data-openclaw-control-ui-base-path=\"{}\"",
            attr_escape(base_path)
        );
        match attribute(&tag, "data-openclaw-control-ui-base-path") {
            Some((s, e, _)) => tag.replace_range(s..e, &base_attr),
            None => tag.insert_str(5, &format!(" {base_attr}")),
        }
        if attribute(&tag, "data-openclaw-control-ui-build-id").is_none()
            && let Some(id) = build_id
        {
            tag.insert_str(
                5,
                &format!(" data-openclaw-control-ui-build-id=\"{}\"", attr_escape(id)),
            );
        }
        if attribute(&tag, "data-openclaw-terminal-enabled").is_none() {
            tag.insert_str(5, " data-openclaw-terminal-enabled=\"false\"");
        }
        html.replace_range(start..end, &tag);
    }
    if !html.contains("__OPENCLAW_CONTROL_UI_BASE_PATH__") {
        let script = format!(
            "<script>window.__OPENCLAW_CONTROL_UI_BASE_PATH__={};window.__OPENCLAW_ASSISTANT_NAME__={};window.__OPENCLAW_ASSISTANT_AVATAR__={};</script>",
            script_json(base_path),
            script_json(name),
            script_json(avatar)
        );
        match find_ci(&html, "</head>", 0) {
            Some(i) => html.insert_str(i, &script),
            None => match html_tag(&html) {
                Some((_, end)) => html.insert_str(end, &script),
                None => html.insert_str(0, &script),
            },
        }
    }
    let csp = csp_with(source, &inline_script_hashes(&html));
    Shell {
        html: html.into_bytes(),
        csp,
    }
}

async fn config_json(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    base: &str,
) -> Response<Body> {
    if let Err(r) = http_gate::authorize(state, peer, headers, Secret::Gateway, Style::OpenAi).await
    {
        return r;
    }
    let ident = identity(state, None);
    let avatar = shell_avatar(state, &ident, base);
    let auth_on = !matches!(state.settings().auth, openclaw_config::AuthMode::None);
    let body = json!({
        "basePath": base,
        "assistantName": ident.name,
        "assistantAvatar": avatar,
        "assistantAgentId": ident.agent_id,
        "serverVersion": state.version,
        "embedSandbox": "scripts",
        "allowExternalEmbedUrls": false,
        "automaticallyFetchFavicons": false,
        "communityInvite": false,
        "terminalEnabled": false,
        "cliAgentsEnabled": false,
        "pluginAssetsRequireAuth": auth_on,
        "pluginFrameGrants": [],
    });
    let mut r = axum::Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn valid_agent_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

async fn avatar(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    query: Option<&str>,
    agent: &str,
    base: &str,
) -> Response<Body> {
    if !valid_agent_id(agent) {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    }
    if let Err(r) = http_gate::authorize(state, peer, headers, Secret::Gateway, Style::OpenAi).await
    {
        return r;
    }
    let ident = identity(state, Some(&agent.to_ascii_lowercase()));
    let file = avatar_file(state, &ident);
    let meta = query.is_some_and(|q| q.split('&').any(|kv| kv == "meta=1"));
    if meta {
        let url = match &file {
            Some(_) => Some(format!("{base}/avatar/{}", ident.agent_id)),
            None => remote_avatar(&ident),
        };
        let mut r = axum::Json(json!({"avatarUrl": url})).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return r;
    }
    match file {
        Some(p) => match static_files::read(&p).await {
            Ok(b) => file_response(&p.to_string_lossy(), b),
            Err(_) => plain(StatusCode::NOT_FOUND, "Not Found"),
        },
        None => plain(StatusCode::NOT_FOUND, "Not Found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_normalise() {
        assert_eq!(normalize_base_path(""), "");
        assert_eq!(normalize_base_path("/"), "");
        assert_eq!(normalize_base_path("openclaw/"), "/openclaw");
        assert_eq!(normalize_base_path(" /a/b/ "), "/a/b");
    }

    #[test]
    fn accept_decides_the_spa_fallback() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT, v.parse().unwrap());
            m
        };
        assert!(accepts_html(&HeaderMap::new()));
        assert!(accepts_html(&h(
            "text/html,application/xhtml+xml,*/*;q=0.8"
        )));
        assert!(accepts_html(&h("*/*")));
        assert!(!accepts_html(&h("text/html;q=0, */*")));
        assert!(!accepts_html(&h("application/json")));
    }

    #[test]
    fn the_shell_gets_globals_attributes_and_matching_hashes() {
        let src = "<!doctype html><HTML lang=\"en\" data-openclaw-control-ui-build-id=\"keep\"><head><script>var a=1;</script><script type=\"module\" src=\"./app.js\"></script></head><body></body></html>";
        let shell = prepare_shell(
            src,
            "/x",
            "Bo</script>b",
            "A",
            Some("ours"),
            &Source::Embedded,
        );
        let html = String::from_utf8(shell.html).unwrap();
        assert!(html.contains("src=\"/x/app.js\""));
        assert!(html.contains("data-openclaw-control-ui-base-path=\"/x\""));
        assert!(html.contains("data-openclaw-control-ui-build-id=\"keep\""));
        assert!(!html.contains("\"ours\""));
        assert!(html.contains("window.__OPENCLAW_ASSISTANT_NAME__=\"Bo\\u003c/script\\u003eb\""));
        let hashes = inline_script_hashes(&html);
        assert_eq!(hashes.len(), 2);
        for h in hashes {
            assert!(shell.csp.contains(&format!("'{h}'")));
        }
        assert!(shell.csp.contains("connect-src 'self' ws: wss:"));
    }
}
