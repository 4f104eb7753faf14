// Tiny DOM helpers: build elements without innerHTML (CSP-safe, no injection from gateway data).

/** h("button", {onclick, class:"x", "aria-label":"…"}, "text", child…) */
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  add(el, kids);
  return el;
}

function add(el, kids) {
  for (const k of kids) {
    if (k === undefined || k === null || k === false) continue;
    if (Array.isArray(k)) add(el, k);
    else el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...kids) {
  el.replaceChildren();
  add(el, kids);
  return el;
}

export function fmtTime(ms) {
  if (!ms) return "—";
  const d = new Date(ms);
  return d.toLocaleString();
}

export function fmtAgo(ms) {
  if (!ms) return "—";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function fmtDuration(ms) {
  let s = Math.floor((ms || 0) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const mm = Math.floor(s / 60); s -= mm * 60;
  return (d ? `${d}d ` : "") + (d || hh ? `${hh}h ` : "") + `${mm}m ${s}s`;
}

export function short(id, n = 12) {
  const s = String(id ?? "");
  return s.length > n ? s.slice(0, n) + "…" : s;
}

/** A panel: heading, its own error line, a body. Errors stay inside the panel. */
export function panel(title, ...tools) {
  const body = h("div", { class: "panel-body" });
  const err = h("p", { class: "error", role: "alert", hidden: true });
  const id = "p-" + title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  const el = h("section", { class: "panel", "aria-labelledby": id },
    h("div", { class: "panel-head" }, h("h2", { id }, title), h("div", { class: "tools" }, tools)),
    err, body);
  return {
    el, body,
    error(e) {
      if (!e) { err.hidden = true; err.textContent = ""; return; }
      err.hidden = false;
      const d = e.details || {};
      const more = [d.message && d.message !== e.message ? d.message : null,
        ...(Array.isArray(d.issues) && !d.message ? d.issues.map((i) => `${i.path}: ${i.message}`) : [])].filter(Boolean);
      err.textContent = [e.message || String(e), ...more].join(" — ");
    },
    /** Runs `fn`, showing its failure in this panel. */
    async run(fn) {
      try { const r = await fn(); this.error(null); return r; } catch (e) { this.error(e); return undefined; }
    },
  };
}

export function kv(rows) {
  return h("dl", { class: "kv" }, rows.filter(Boolean).map(([k, v, id]) => [h("dt", {}, k), h("dd", { id }, v ?? "—")]));
}

export function table(cols, rows, empty = "Nothing here.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", r.attrs || {}, r.cells.map((c) => h("td", {}, c)))))));
}

export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
  const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
