// Overview: who the gateway is (hello-ok, status), its health, channels and presence, live.

import { h, fill, panel, kv, table, fmtDuration, fmtAgo, fmtTime } from "./dom.js";

export default {
  title: "Overview",
  mount(el, ctx) {
    const hello = ctx.hello;
    const helloAt = Date.now();
    const gwP = panel("Gateway");
    const healthP = panel("Health", h("button", { type: "button", id: "health-refresh", onclick: () => loadHealth() }, "Refresh"));
    const chP = panel("Channels");
    const presP = panel("Presence");
    const liveP = panel("Live events");
    el.append(h("div", { class: "grid" }, gwP.el, healthP.el, chP.el, liveP.el), presP.el);

    let status = null;
    const uptime = h("span", { id: "ov-uptime" }, "—");
    function renderGateway() {
      const s = hello.server || {};
      fill(gwP.body, kv([
        ["Version", s.version, "ov-version"],
        ["Host", s.host],
        ["Protocol", String(hello.protocol)],
        ["Uptime", uptime],
        ["Connection", s.connId],
        status && ["PID", String(status.pid)],
        status && ["Memory", `${Math.round((status.processMemory?.rssBytes || 0) / 1048576)} MiB`],
        status && ["Connections", String(status.connections)],
        hello.snapshot?.configPath && ["Config", hello.snapshot.configPath],
      ]));
    }
    function tickUptime() {
      const base = status ? status.uptimeMs + (Date.now() - status.at) : (hello.snapshot?.uptimeMs || 0) + (Date.now() - helloAt);
      uptime.textContent = fmtDuration(base);
    }
    renderGateway();
    tickUptime();
    const clock = setInterval(tickUptime, 1000);
    gwP.run(async () => {
      status = await ctx.call("status", {});
      status.at = Date.now();
      renderGateway();
      tickUptime();
    });

    function renderHealth(hl) {
      if (!hl) return;
      fill(healthP.body, kv([
        ["Status", hl.ok ? "OK" : "not OK", "ov-health"],
        ["Checked", fmtTime(hl.ts)],
        ["Default agent", hl.defaultAgentId],
        ["Agents", (hl.agents || []).map((a) => a.agentId).join(", ")],
        ["Sessions", String(hl.sessions?.count ?? "—")],
        ["Heartbeat", hl.heartbeatSeconds ? `${hl.heartbeatSeconds} s` : "off"],
      ]));
      renderChannels(hl);
    }
    function renderChannels(hl) {
      const order = hl.channelOrder || Object.keys(hl.channels || {});
      fill(chP.body, table(["Channel", "State"], order.map((id) => {
        const c = hl.channels?.[id] || {};
        const state = c.running ? "running" : c.configured ? "configured" : c.linked === false ? "not linked" : "off";
        return { cells: [hl.channelLabels?.[id] || id, c.lastError ? `${state} (${c.lastError})` : state] };
      }), "No channels configured."));
    }
    function loadHealth() { return healthP.run(async () => renderHealth(await ctx.call("health", {}))); }
    renderHealth(hello.snapshot?.health && Object.keys(hello.snapshot.health).length ? hello.snapshot.health : null);
    loadHealth();

    function renderPresence(list) {
      fill(presP.body, table(["Client", "Mode", "Host", "Platform", "Version", "Seen"], (list || []).map((p) => ({
        cells: [p.text || p.instanceId || p.deviceId || "?", p.mode || "", p.host || p.ip || "", p.platform || "", p.version || "", fmtAgo(p.ts)],
      })), "No clients present."));
    }
    renderPresence(hello.snapshot?.presence);
    presP.run(async () => renderPresence(await ctx.call("system-presence", {})));

    const counts = { tick: 0, presence: 0, health: 0 };
    const last = h("p", { id: "ov-last-event", class: "muted" }, "Waiting for events…");
    function renderLive() {
      fill(liveP.body, kv([
        ["tick", String(counts.tick), "ov-ticks"],
        ["presence", String(counts.presence)],
        ["health", String(counts.health)],
      ]), last);
    }
    renderLive();
    ctx.on((name, payload) => {
      if (!(name in counts)) return;
      counts[name] += 1;
      last.textContent = `Last: ${name} at ${new Date().toLocaleTimeString()}`;
      renderLive();
      if (name === "presence") renderPresence(payload?.presence);
      if (name === "health") renderHealth(payload);
    });
    return () => clearInterval(clock);
  },
};
