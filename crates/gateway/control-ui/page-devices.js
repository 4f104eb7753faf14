// Devices & nodes: device pairing requests (approve/reject) and paired devices; nodes, their
// descriptions and their pending command surfaces. Refreshed on pairing events.

import { h, fill, panel, table, short, fmtAgo } from "./dom.js";

export default {
  title: "Devices & nodes",
  mount(el, ctx) {
    const devP = panel("Device pairing", h("button", { type: "button", id: "devices-refresh", onclick: () => loadDevices() }, "Refresh"));
    const nodeP = panel("Nodes", h("button", { type: "button", onclick: () => loadNodes() }, "Refresh"));
    const descP = panel("Node description");
    descP.el.hidden = true;
    el.append(devP.el, nodeP.el, descP.el);

    const btn = (label, aria, fn, cls) => h("button", { type: "button", class: cls, "aria-label": aria, onclick: fn }, label);

    async function loadDevices() {
      await devP.run(async () => {
        const r = await ctx.call("device.pair.list", {});
        const pending = (r.pending || []).map((q) => ({
          attrs: { "data-request-id": q.requestId, class: "pending-device" },
          cells: [h("code", { title: q.requestId }, short(q.requestId, 8)), h("code", { title: q.deviceId }, short(q.deviceId)),
            [q.displayName, q.clientId, q.platform].filter(Boolean).join(" · "), q.role || "", (q.scopes || []).join(", "), q.remoteIp || "", fmtAgo(q.ts),
            h("div", { class: "row" },
              btn("Approve", `Approve device request ${q.requestId}`, () => decide("device.pair.approve", q.requestId, devP)),
              btn("Reject", `Reject device request ${q.requestId}`, () => decide("device.pair.reject", q.requestId, devP), "danger"))],
        }));
        const paired = (r.paired || []).map((d) => ({
          attrs: { "data-device-id": d.deviceId, class: "paired-device" },
          cells: [h("code", { title: d.deviceId }, short(d.deviceId)), d.displayName || d.clientId || "", d.platform || "",
            (d.roles || [d.role]).filter(Boolean).join(", "), (d.scopes || []).join(", "), fmtAgo(d.approvedAtMs || d.createdAtMs)],
        }));
        fill(devP.body,
          h("h3", {}, "Pending"), table(["Request", "Device", "Client", "Role", "Scopes", "From", "Asked", "Decision"], pending, "No pending requests."),
          h("h3", {}, "Paired"), table(["Device", "Name", "Platform", "Roles", "Scopes", "Approved"], paired, "No paired devices."));
      });
    }

    async function loadNodes() {
      await nodeP.run(async () => {
        const [list, pairs] = await Promise.all([
          ctx.call("node.list", {}),
          ctx.call("node.pair.list", {}).catch((e) => ({ error: e })),
        ]);
        const nodes = (list.nodes || []).map((n) => ({
          attrs: { "data-node-id": n.nodeId },
          cells: [h("code", { title: n.nodeId }, short(n.nodeId)), n.displayName || "", n.platform || "", n.version || "",
            n.connected ? "connected" : "offline", n.approvalState || (n.paired ? "paired" : ""), (n.commands || []).length + " command(s)",
            btn("Describe", `Describe node ${n.nodeId}`, () => describe(n.nodeId))],
        }));
        const pend = (pairs.pending || []).map((q) => ({
          attrs: { "data-request-id": q.requestId, class: "pending-node" },
          cells: [h("code", { title: q.requestId }, short(q.requestId, 8)), q.displayName || short(q.nodeId), q.platform || "", (q.commands || []).join(", "),
            h("div", { class: "row" },
              btn("Approve", `Approve node request ${q.requestId}`, () => decide("node.pair.approve", q.requestId, nodeP)),
              btn("Reject", `Reject node request ${q.requestId}`, () => decide("node.pair.reject", q.requestId, nodeP), "danger"))],
        }));
        fill(nodeP.body,
          table(["Node", "Name", "Platform", "Version", "Link", "Approval", "Commands", ""], nodes, "No nodes."),
          h("h3", {}, "Pending node requests"),
          pairs.error ? h("p", { class: "error", role: "alert" }, pairs.error.message) : table(["Request", "Node", "Platform", "Commands", "Decision"], pend, "No pending node requests."));
      });
    }

    async function describe(nodeId) {
      descP.el.hidden = false;
      await descP.run(async () => {
        const r = await ctx.call("node.describe", { nodeId });
        fill(descP.body, h("pre", { class: "json" }, JSON.stringify(r, null, 2)));
      });
    }

    async function decide(method, requestId, p) {
      const r = await p.run(() => ctx.call(method, { requestId }));
      if (r) { loadDevices(); loadNodes(); }
    }

    ctx.on((name) => {
      if (name.startsWith("device.pair.")) loadDevices();
      if (name.startsWith("node.pair.")) loadNodes();
    });
    loadDevices();
    loadNodes();
  },
};
