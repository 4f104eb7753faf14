// Config: the raw JSON5 file in an editor; saving is config.set with the hash it was loaded at,
// so the gateway refuses invalid text or a file changed meanwhile and nothing is written.

import { h, fill, panel, kv } from "./dom.js";

export default {
  title: "Config",
  mount(el, ctx) {
    let hash = null;
    const text = h("textarea", { id: "config-raw", rows: 24, spellcheck: "false", autocapitalize: "off", "aria-describedby": "config-meta" });
    const meta = h("div", { id: "config-meta" });
    const result = h("p", { id: "config-result", role: "status" });
    const save = h("button", { type: "button", id: "config-save", onclick: () => doSave() }, "Save");
    const p = panel("Config", h("button", { type: "button", id: "config-reload", onclick: () => load() }, "Reload"), save);
    fill(p.body, meta, h("label", { for: "config-raw" }, "openclaw.json (JSON5)"), text, result);
    el.append(p.el);

    async function load() {
      result.textContent = "";
      await p.run(async () => {
        const r = await ctx.call("config.get", {});
        hash = r.hash;
        text.value = r.raw ?? "";
        fill(meta, kv([
          ["File", r.path],
          ["Exists", r.exists ? "yes" : "no"],
          ["Valid", r.valid ? "yes" : "no"],
          ["Hash", h("code", { id: "config-hash" }, r.hash || "—")],
        ]), (r.issues || []).length ? h("ul", { class: "error" }, r.issues.map((i) => h("li", {}, `${i.path}: ${i.message}`))) : null);
      });
    }
    async function doSave() {
      result.textContent = "Saving…";
      save.disabled = true;
      const params = { raw: text.value };
      if (hash) params.baseHash = hash;
      const r = await p.run(() => ctx.call("config.set", params));
      save.disabled = false;
      if (r) {
        hash = r.hash;
        result.textContent = "Saved.";
        const c = document.getElementById("config-hash");
        if (c) c.textContent = r.hash;
      } else {
        result.textContent = "Not saved.";
      }
    }
    load();
  },
};
