// Logs: the gateway's log file, tailed by polling logs.tail with its cursor.

import { h, fill, panel } from "./dom.js";

const POLL_MS = 2000;
const MAX_LINES = 2000;

function pretty(line) {
  if (!line.startsWith("{")) return line;
  try {
    const j = JSON.parse(line);
    const t = j.time || j.timestamp || j.ts;
    const lvl = j.level || j._meta?.logLevelName || "";
    const msg = j.msg ?? j.message ?? j.fields?.message ?? j["1"] ?? j["0"] ?? line;
    const target = j.target || j.subsystem || "";
    return `${t ? String(t).replace("T", " ").replace(/\.\d+Z?$/, "") + " " : ""}${lvl ? String(lvl).toUpperCase() + " " : ""}${target ? target + ": " : ""}${typeof msg === "string" ? msg : JSON.stringify(msg)}`;
  } catch { return line; }
}

export default {
  title: "Logs",
  mount(el, ctx) {
    let cursor = null;
    let lines = [];
    let timer = null;
    let stopped = false;
    const filter = h("input", { id: "logs-filter", type: "search", placeholder: "text to match" });
    const follow = h("input", { id: "logs-follow", type: "checkbox", checked: true });
    const out = h("pre", { id: "logs-out", class: "logs", tabindex: "0", "aria-label": "Log lines" });
    const info = h("p", { id: "logs-info", class: "muted" });
    const p = panel("Logs",
      h("label", { for: "logs-filter" }, "Filter"), filter,
      h("label", { class: "check" }, follow, " Auto-scroll"),
      h("button", { type: "button", onclick: () => { lines = []; render(); } }, "Clear"));
    fill(p.body, info, out);
    el.append(p.el);

    function render() {
      const q = filter.value.trim().toLowerCase();
      const shown = q ? lines.filter((l) => l.toLowerCase().includes(q)) : lines;
      out.textContent = shown.join("\n");
      info.textContent = `${shown.length} of ${lines.length} line(s)`;
      if (follow.checked) out.scrollTop = out.scrollHeight;
    }
    filter.addEventListener("input", render);

    async function poll() {
      if (stopped) return;
      const params = { limit: 500, maxBytes: 250000 };
      if (cursor != null) params.cursor = cursor;
      const r = await p.run(() => ctx.call("logs.tail", params));
      if (stopped) return;
      if (r) {
        if (r.reset) lines = [];
        cursor = r.cursor;
        if (r.lines?.length) {
          lines.push(...r.lines.map(pretty));
          if (lines.length > MAX_LINES) lines = lines.slice(-MAX_LINES);
          render();
        } else if (!info.textContent) render();
        if (r.file) out.setAttribute("title", r.file);
      }
      timer = setTimeout(poll, POLL_MS);
    }
    poll();
    return () => { stopped = true; clearTimeout(timer); };
  },
};
