// Channels: status (with a probe), start/stop/logout per account, WhatsApp QR login.

import { h, fill, panel, table, fmtAgo } from "./dom.js";

export default {
  title: "Channels",
  mount(el, ctx) {
    const p = panel("Channels",
      h("button", { type: "button", onclick: () => load(false) }, "Refresh"),
      h("button", { type: "button", id: "channels-probe", onclick: () => load(true) }, "Probe"));
    const wa = panel("WhatsApp login");
    const qr = h("div", { id: "wa-qr", class: "qr" });
    const waMsg = h("p", { id: "wa-message", role: "status" });
    fill(wa.body, h("p", { class: "muted" }, "Link a WhatsApp account: show the QR code, then scan it in WhatsApp → Linked devices."),
      h("div", { class: "row" },
        h("button", { type: "button", id: "wa-start", onclick: () => waLogin(false) }, "Show QR"),
        h("button", { type: "button", onclick: () => waLogin(true) }, "Relink (force)")),
      waMsg, qr);
    el.append(p.el, wa.el);

    async function load(probe) {
      if (probe) fill(p.body, h("p", { class: "muted" }, "Probing…"));
      await p.run(async () => {
        const r = await ctx.call("channels.status", probe ? { probe: true, timeoutMs: 8000 } : { probe: false }, { timeoutMs: 20000 });
        const order = r.channelOrder?.length ? r.channelOrder : Object.keys(r.channels || {});
        const rows = [];
        for (const ch of order) {
          const accounts = r.channelAccounts?.[ch]?.length ? r.channelAccounts[ch] : [{ accountId: r.channelDefaultAccountId?.[ch] || "default", ...(r.channels?.[ch] || {}) }];
          for (const a of accounts) {
            const state = [a.running ? "running" : "stopped", a.connected ? "connected" : null, a.configured === false ? "not configured" : null, a.linked === false ? "not linked" : null].filter(Boolean).join(", ");
            const label = `${ch}/${a.accountId}`;
            rows.push({ cells: [r.channelLabels?.[ch] || ch, a.accountId || "default", state,
              a.lastError ? h("span", { class: "error" }, a.lastError) : (a.probe ? JSON.stringify(a.probe) : ""),
              fmtAgo(a.lastInboundAt || a.lastMessageAt),
              h("div", { class: "row" },
                h("button", { type: "button", "aria-label": `Start ${label}`, onclick: () => act("channels.start", ch, a.accountId) }, "Start"),
                h("button", { type: "button", "aria-label": `Stop ${label}`, onclick: () => act("channels.stop", ch, a.accountId) }, "Stop"),
                h("button", { type: "button", class: "danger", "aria-label": `Log out ${label}`, onclick: () => { if (confirm(`Log out ${label}?`)) act("channels.logout", ch, a.accountId); } }, "Logout")),
            ] });
          }
        }
        fill(p.body, table(["Channel", "Account", "State", "Details", "Last inbound", "Actions"], rows, "No channels configured."));
      });
    }
    async function act(method, channel, accountId) {
      const params = { channel };
      if (accountId) params.accountId = accountId;
      await p.run(() => ctx.call(method, params, { timeoutMs: 30000 }));
      load(false);
    }
    let waiting = false;
    let gone = false;
    const LOGIN_MS = 300000; // how long this page waits for a scan in all
    async function waLogin(force) {
      if (waiting) return;
      fill(qr);
      waMsg.textContent = "Starting login…";
      const r = await wa.run(() => ctx.call("web.login.start", { force, timeoutMs: 30000 }, { timeoutMs: 40000 }));
      if (!r) { waMsg.textContent = ""; return; }
      waMsg.textContent = r.message || "";
      if (!r.qrDataUrl) return;
      let shown = r.qrDataUrl;
      const img = h("img", { src: shown, alt: "WhatsApp login QR code", width: 264, height: 264 });
      fill(qr, img);
      waiting = true;
      const until = Date.now() + LOGIN_MS;
      // The gateway answers when the login ends or the QR rotates (a new one replaces the image).
      while (!gone && Date.now() < until) {
        const w = await wa.run(() => ctx.call("web.login.wait", { timeoutMs: 60000, currentQrDataUrl: shown }, { timeoutMs: 70000 }));
        if (!w || gone) break;
        waMsg.textContent = w.message || "";
        if (w.connected) { fill(qr); load(false); break; }
        if (w.qrDataUrl) { shown = w.qrDataUrl; img.src = shown; continue; }
        if (!/still waiting/i.test(w.message || "")) { fill(qr); break; }
      }
      waiting = false;
    }
    load(false);
    return () => { gone = true; };
  },
};
