// Control UI entry: finds the gateway and the token, owns the connection state banner, the
// login form and the hash router; each page lives in page-<name>.js.

import { Gateway, ROLE } from "./gateway.js";
import { h, fill } from "./dom.js";
import overview from "./page-overview.js";
import chat from "./page-chat.js";
import sessions from "./page-sessions.js";
import channels from "./page-channels.js";
import config from "./page-config.js";
import logs from "./page-logs.js";
import devices from "./page-devices.js";

const PAGES = { overview, chat, sessions, channels, config, logs, devices };
const TOKEN_KEY = "openclaw.control.token.v1:";
const URL_KEY = "openclaw.control.gatewayUrl.v1";

function basePath() {
  const g = window.__OPENCLAW_CONTROL_UI_BASE_PATH__ ?? document.documentElement.dataset.openclawControlUiBasePath ?? "";
  return String(g).replace(/\/+$/, "");
}

/** Reads `?gatewayUrl=` and `#token=` once, keeps them in sessionStorage and strips them from the address bar. */
function takeUrlParams() {
  const url = new URL(location.href);
  let changed = false;
  const gw = url.searchParams.get("gatewayUrl");
  if (gw && /^wss?:\/\//i.test(gw)) sessionStorage.setItem(URL_KEY, gw);
  if (url.searchParams.has("gatewayUrl")) { url.searchParams.delete("gatewayUrl"); changed = true; }
  const gatewayUrl = sessionStorage.getItem(URL_KEY)
    || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${basePath()}`;
  const frag = new URLSearchParams(url.hash.replace(/^#\/?/, "").includes("=") ? url.hash.slice(1) : "");
  const token = frag.get("token") || url.searchParams.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY + gatewayUrl, token);
    url.searchParams.delete("token");
    url.hash = "#/overview";
    changed = true;
  }
  if (changed) history.replaceState(null, "", url.pathname + url.search + url.hash);
  return gatewayUrl;
}

const gatewayUrl = takeUrlParams();
const tokenKey = TOKEN_KEY + gatewayUrl;
let assistantName = window.__OPENCLAW_ASSISTANT_NAME__ || "Assistant";

const statusEl = h("span", { id: "conn-status", class: "pill", role: "status", "aria-live": "polite" }, "starting");
const banner = h("div", { id: "banner", class: "banner", role: "alert", hidden: true });
const nav = h("nav", { "aria-label": "Pages" }, h("ul", {}, Object.entries(PAGES).map(([k, p]) =>
  h("li", {}, h("a", { href: `#/${k}`, id: `nav-${k}` }, p.title)))));
const view = h("main", { id: "view", tabindex: "-1" });
fill(document.getElementById("app"),
  h("header", { class: "top" }, h("h1", {}, "OpenClaw"), h("span", { class: "muted host" }, gatewayUrl), statusEl),
  nav, banner, view);

let current = null; // {name, page, el}
const listeners = new Set();

const gw = new Gateway({
  url: gatewayUrl,
  token: () => sessionStorage.getItem(tokenKey) || "",
  onState: showState,
  onHello: (hello) => {
    hideLogin();
    notice(hello);
    mount(true);
    // The agent's own name, where the gateway knows it (else the injected global).
    gw.request("agent.identity.get", {}, { timeoutMs: 5000 })
      .then((r) => { if (r?.name) assistantName = r.name; }, () => {});
  },
  onEvent: (name, payload) => { for (const l of listeners) { try { l(name, payload); } catch (e) { console.error(e); } } },
});

const ctx = {
  gw,
  get assistantName() { return assistantName; },
  get hello() { return gw.hello; },
  call: (method, params, opts) => gw.request(method, params, opts),
  /** Subscribes to gateway events while the current page is mounted. */
  on(fn) { listeners.add(fn); current?.subs.push(fn); },
};

function showState(s) {
  statusEl.dataset.state = s.kind;
  const text = {
    connecting: "connecting…",
    connected: "connected",
    reconnecting: "reconnecting",
    auth: "unauthorized",
    pairing: "pairing required",
    failed: "disconnected",
  }[s.kind] || s.kind;
  statusEl.textContent = text;
  if (s.kind === "connected" || s.kind === "connecting" || (s.kind === "reconnecting" && s.quiet)) {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  banner.dataset.kind = s.kind;
  if (s.kind === "reconnecting") {
    fill(banner, h("strong", {}, "Disconnected: "), s.reason || "", ` — reconnecting in ${(s.inMs / 1000).toFixed(1)} s. `,
      h("button", { type: "button", onclick: () => gw.start() }, "Retry now"));
  } else if (s.kind === "pairing") {
    fill(banner, h("strong", {}, "Pairing required. "), "This browser is waiting for approval (request ",
      h("code", { id: "pairing-request-id" }, s.requestId), "). Approve it on the gateway host with ",
      h("code", { id: "pairing-command" }, `openclaw devices approve ${s.requestId}`), " ",
      h("button", { type: "button", onclick: () => gw.start() }, "Check now"));
  } else if (s.kind === "auth") {
    fill(banner, h("strong", {}, "Not authorized: "), h("span", { id: "auth-error" }, s.message));
    // A refused secret is not tried again (not even on reload); the form asks for another.
    sessionStorage.removeItem(tokenKey);
    showLogin();
  } else {
    fill(banner, h("strong", {}, "Disconnected: "), h("span", { id: "conn-error" }, s.message), " ",
      h("button", { type: "button", onclick: () => gw.start() }, "Retry"));
  }
}

/** After hello-ok: say so when this page could not prove a device identity (plain HTTP to a
 * non-local host), since the gateway then grants no scopes to a remote browser. */
function notice(hello) {
  if (gw.identity) return;
  banner.hidden = false;
  banner.dataset.kind = "notice";
  const scopes = hello?.auth?.scopes;
  fill(banner, h("strong", {}, "No device identity: "),
    "this page is not a secure context (use HTTPS, or open it on localhost), so the browser cannot prove a device identity.",
    Array.isArray(scopes) && !scopes.length ? " The gateway granted no scopes; most panels will fail." : "");
}

let loginEl = null;
function showLogin() {
  if (loginEl) return;
  const input = h("input", { id: "login-token", type: "password", autocomplete: "current-password", required: true });
  loginEl = h("form", { id: "login", class: "panel login", "aria-labelledby": "login-title" },
    h("h2", { id: "login-title" }, "Connect to the gateway"),
    h("label", { for: "login-token" }, "Gateway token"), input,
    h("p", { class: "muted" }, "Find it in gateway.auth.token, or run ", h("code", {}, "openclaw dashboard"), " on the gateway host."),
    h("button", { type: "submit" }, "Connect"));
  loginEl.addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(tokenKey, input.value.trim());
    gw.start();
  });
  view.before(loginEl);
  input.focus();
}
function hideLogin() { loginEl?.remove(); loginEl = null; }

function route() {
  const m = location.hash.match(/^#\/([a-z]+)/);
  return m && PAGES[m[1]] ? m[1] : "overview";
}

/** (Re)mounts the current page; `reconnected` re-runs its loaders after a new hello. */
function mount(reconnected = false) {
  const name = route();
  if (current && current.name === name && !reconnected) return;
  unmount();
  for (const [k] of Object.entries(PAGES)) {
    const a = document.getElementById(`nav-${k}`);
    if (k === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const page = PAGES[name];
  document.title = `${page.title} · OpenClaw`;
  const el = h("div", { class: "page", id: `page-${name}` });
  fill(view, el);
  current = { name, page, el, subs: [] };
  if (!gw.hello) { fill(el, h("p", { class: "muted" }, "Waiting for the gateway…")); return; }
  try { current.cleanup = page.mount(el, ctx); } catch (e) { fill(el, h("p", { class: "error", role: "alert" }, e.message)); }
}

function unmount() {
  if (!current) return;
  for (const fn of current.subs) listeners.delete(fn);
  try { current.cleanup?.(); } catch (e) { console.error(e); }
  current = null;
}

window.addEventListener("hashchange", () => { mount(); view.focus({ preventScroll: true }); });
mount();
gw.start();
// Exposed for debugging from the console and for the end-to-end test's counters.
window.__openclawControl = { gw, role: ROLE };
