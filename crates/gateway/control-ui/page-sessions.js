// Sessions: the list, a preview of each one's last messages, reset and delete.

import { h, fill, panel, table, fmtAgo } from "./dom.js";

function textOf(m) {
  if (typeof m.content === "string") return m.content;
  return (m.content || []).map((c) => c.text || `[${c.type}]`).join("");
}

export default {
  title: "Sessions",
  mount(el, ctx) {
    const p = panel("Sessions", h("button", { type: "button", onclick: () => load() }, "Refresh"));
    const prev = panel("Preview");
    prev.el.hidden = true;
    el.append(p.el, prev.el);

    async function load() {
      await p.run(async () => {
        const r = await ctx.call("sessions.list", { limit: 200 });
        const rows = (r.sessions || []).map((s) => ({
          attrs: { "data-session": s.key },
          cells: [
            h("code", {}, s.key), s.kind || "", s.model || s.modelProvider || "", fmtAgo(s.updatedAt),
            s.totalTokens != null ? String(s.totalTokens) : "",
            h("div", { class: "row" },
              h("button", { type: "button", "aria-label": `Preview ${s.key}`, onclick: () => preview(s.key) }, "Preview"),
              h("a", { class: "button", href: `#/chat?session=${encodeURIComponent(s.key)}`, "aria-label": `Open ${s.key} in chat` }, "Open"),
              h("button", { type: "button", "aria-label": `Reset ${s.key}`, onclick: () => reset(s.key) }, "Reset"),
              h("button", { type: "button", class: "danger", "aria-label": `Delete ${s.key}`, onclick: () => del(s.key) }, "Delete")),
          ],
        }));
        fill(p.body, h("p", { class: "muted" }, `${r.count ?? rows.length} session(s)`), table(["Key", "Kind", "Model", "Updated", "Tokens", "Actions"], rows, "No sessions yet."));
      });
    }
    async function preview(key) {
      prev.el.hidden = false;
      prev.el.querySelector("h2").textContent = `Preview: ${key}`;
      fill(prev.body, h("p", { class: "muted" }, "Loading…"));
      await prev.run(async () => {
        const r = await ctx.call("chat.history", { sessionKey: key, limit: 10 });
        const msgs = r.messages || [];
        fill(prev.body, msgs.length ? h("ol", { class: "preview" }, msgs.map((m) => h("li", { class: `msg ${m.role}` }, h("strong", {}, `${m.role}: `), textOf(m))))
          : h("p", { class: "muted" }, "No messages."));
      });
    }
    async function reset(key) {
      if (!confirm(`Reset session ${key}? Its conversation starts over.`)) return;
      await p.run(() => ctx.call("sessions.reset", { key }));
      load();
    }
    async function del(key) {
      if (!confirm(`Delete session ${key} and its transcript?`)) return;
      await p.run(() => ctx.call("sessions.delete", { key }));
      load();
    }
    load();
  },
};
