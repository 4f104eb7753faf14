// Chat: WebChat over chat.history / chat.send / chat.abort with the streamed `chat` events.

import { h, fill, panel, uuid } from "./dom.js";

const SESSION_KEY = "openclaw.control.session.v1";

function textOf(msg) {
  if (!msg) return "";
  if (typeof msg.content === "string") return msg.content;
  return (msg.content || []).map((c) => (c.type === "text" || c.text ? c.text || "" : `[${c.type}]`)).join("");
}

export default {
  title: "Chat",
  mount(el, ctx) {
    const defaults = ctx.hello.snapshot?.sessionDefaults || {};
    let sessionKey = new URLSearchParams(location.hash.split("?")[1] || "").get("session")
      || sessionStorage.getItem(SESSION_KEY) || defaults.mainSessionKey || "main";
    const runs = new Map(); // runId → bubble element
    let activeRun = null;

    const picker = h("select", { id: "chat-session", onchange: () => { sessionKey = picker.value; sessionStorage.setItem(SESSION_KEY, sessionKey); loadHistory(); } });
    const p = panel("Chat", h("label", { for: "chat-session" }, "Session"), picker,
      h("button", { type: "button", onclick: () => loadSessions() }, "Refresh"));
    const log = h("div", { id: "chat-log", class: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Messages" });
    const input = h("textarea", { id: "chat-input", rows: 3, placeholder: `Message ${ctx.assistantName}…` });
    const send = h("button", { type: "submit", id: "chat-send" }, "Send");
    const abort = h("button", { type: "button", id: "chat-abort", disabled: true, onclick: () => doAbort() }, "Abort");
    const form = h("form", { class: "chat-form" }, h("label", { for: "chat-input", class: "sr-only" }, "Message"), input, h("div", { class: "row" }, send, abort));
    p.body.append(log, form);
    el.append(p.el);

    function bubble(role, text, extra = "") {
      const b = h("div", { class: `msg ${role} ${extra}`.trim() }, h("div", { class: "who" }, role === "user" ? "You" : role === "assistant" ? ctx.assistantName : role), h("div", { class: "text" }, text));
      log.append(b);
      log.scrollTop = log.scrollHeight;
      return b;
    }
    function setText(b, text) { b.querySelector(".text").textContent = text; log.scrollTop = log.scrollHeight; }

    async function loadSessions() {
      await p.run(async () => {
        const r = await ctx.call("sessions.list", { limit: 100 });
        const keys = (r.sessions || []).map((s) => s.key);
        if (!keys.includes(sessionKey)) keys.unshift(sessionKey);
        fill(picker, keys.map((k) => h("option", { value: k, selected: k === sessionKey }, k)));
      });
    }
    async function loadHistory() {
      await p.run(async () => {
        const r = await ctx.call("chat.history", { sessionKey, limit: 200 });
        fill(log);
        for (const m of r.messages || []) bubble(m.role, textOf(m));
        if (!(r.messages || []).length) log.append(h("p", { class: "muted empty" }, "No messages yet."));
      });
    }
    fill(picker, h("option", { value: sessionKey }, sessionKey));
    loadSessions();
    loadHistory();

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const message = input.value.trim();
      if (!message) return;
      log.querySelector(".empty")?.remove();
      bubble("user", message);
      input.value = "";
      const runId = uuid();
      const b = bubble("assistant", "…", "pending");
      runs.set(runId, b);
      activeRun = runId;
      abort.disabled = false;
      const r = await p.run(() => ctx.call("chat.send", { sessionKey, message, idempotencyKey: runId }));
      if (!r) { setText(b, "(not sent)"); b.classList.add("error"); finish(runId); }
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
    });

    function finish(runId) {
      runs.get(runId)?.classList.remove("pending");
      runs.delete(runId);
      if (activeRun === runId) { activeRun = null; abort.disabled = true; }
    }
    async function doAbort() {
      if (!activeRun) return;
      await p.run(() => ctx.call("chat.abort", { sessionKey, runId: activeRun }));
    }

    ctx.on((name, ev) => {
      if (name !== "chat" || !ev) return;
      let b = runs.get(ev.runId);
      if (!b) {
        // A run started elsewhere on this session (another tab, a channel) shows too.
        if (ev.sessionKey !== sessionKey && !ev.sessionKey?.endsWith(`:${sessionKey}`)) return;
        if (ev.state !== "delta") { if (ev.state === "final") loadHistory(); return; }
        b = bubble("assistant", "", "pending");
        runs.set(ev.runId, b);
      }
      if (ev.state === "delta") setText(b, ev.message ? textOf(ev.message) : b.querySelector(".text").textContent.replace(/^…$/, "") + (ev.deltaText || ""));
      else if (ev.state === "final") { if (ev.message) setText(b, textOf(ev.message)); b.classList.add("final"); finish(ev.runId); }
      else if (ev.state === "aborted") { b.classList.add("aborted"); b.append(h("div", { class: "muted" }, "(aborted)")); finish(ev.runId); }
      else if (ev.state === "error") { b.classList.add("error"); setText(b, `Error: ${ev.errorMessage || "run failed"}`); finish(ev.runId); }
    });
    input.focus();
  },
};
