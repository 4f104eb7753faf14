// Browser end-to-end check of the Control UI against a running gateway; launched by
// crates/cli/tests/control_ui_browser.rs, which starts the gateway, prepares its state and
// checks the gateway's side afterwards. Every wait has a deadline; the browser is always closed.
//
// Env: E2E_URL (page URL without fragment), E2E_TOKEN, E2E_ARTIFACTS (dir), E2E_CHROMIUM,
// E2E_UI_DIR (the asset dir, for the bundle size), E2E_PENDING_REQUEST (a device request id to approve),
// E2E_REPLY (the fake model's reply text), E2E_WA_SCANNED (the file whose appearance stands for the
// phone scanning the WhatsApp QR, with the gateway's simulated login).

import { chromium } from "playwright-core";
import { mkdirSync, readdirSync, readFileSync, writeFileSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const env = (k, d) => process.env[k] ?? d ?? (() => { throw new Error(`missing env ${k}`); })();
const URL_ = env("E2E_URL");
const TOKEN = env("E2E_TOKEN");
const ART = env("E2E_ARTIFACTS");
const CHROMIUM = env("E2E_CHROMIUM", "/usr/bin/chromium");
const UI_DIR = env("E2E_UI_DIR", "");
const PENDING = env("E2E_PENDING_REQUEST", "");
const REPLY = env("E2E_REPLY", "");
const WA_SCANNED = env("E2E_WA_SCANNED", "");
const T = 20000; // per-wait deadline
const OVERALL_MS = 150000;

mkdirSync(ART, { recursive: true });
// Only this run's screenshots and numbers are left in the artefact dir.
for (const f of readdirSync(ART)) if (/\.png$|^control-ui-e2e\.json$/.test(f)) unlinkSync(join(ART, f));
const results = { steps: [] };
const log = (...a) => console.log("[e2e]", ...a);

// The "remote" browser: a non-local name that Chromium maps to the gateway's loopback address,
// treated as a secure origin so WebCrypto (the device identity) is available as on HTTPS.
const REMOTE_NAME = "remote-browser.test";
const REMOTE_URL = (() => {
  const u = new URL(URL_);
  u.hostname = REMOTE_NAME;
  const gw = u.searchParams.get("gatewayUrl");
  if (gw) { const g = new URL(gw); g.hostname = REMOTE_NAME; u.searchParams.set("gatewayUrl", g.href); }
  return u.href;
})();
const allowedHosts = new Set([new URL(URL_).host, new URL(REMOTE_URL).host]);

function bundleGzip(dir) {
  const files = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p); else files.push(p);
    }
  };
  walk(dir);
  let raw = 0, gz = 0;
  for (const f of files) { const b = readFileSync(f); raw += b.length; gz += gzipSync(b, { level: 9 }).length; }
  return { files: files.length, rawBytes: raw, gzipBytes: gz };
}

let shots = 0;
async function step(name, page, fn) {
  const t0 = Date.now();
  const n = String(++shots).padStart(2, "0");
  log("step", name);
  try {
    await fn();
    results.steps.push({ name, ok: true, ms: Date.now() - t0 });
  } finally {
    if (page) await page.screenshot({ path: join(ART, `${n}-${name}.png`), fullPage: true }).catch(() => {});
  }
}

/** A context whose every request must stay on the gateway's host (loopback only). */
async function newContext(browser, externalHits, extraHTTPHeaders) {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 }, extraHTTPHeaders });
  await ctx.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === "data:" || allowedHosts.has(u.host)) return route.continue();
    externalHits.push(u.href);
    return route.abort();
  });
  return ctx;
}

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      `--host-resolver-rules=MAP ${REMOTE_NAME} ${new URL(URL_).hostname}`,
      `--unsafely-treat-insecure-origin-as-secure=${new URL(REMOTE_URL).origin}`],
    // playwright-core gives every launch a fresh temporary profile and deletes it on close.
  });
  const external = [];
  const consoleErrors = [];
  const watchdog = setTimeout(() => { console.error("[e2e] overall deadline passed"); browser.close().finally(() => process.exit(3)); }, OVERALL_MS);
  try {
    const ctx = await newContext(browser, external);
    ctx.setDefaultTimeout(T);
    const page = await ctx.newPage();
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));

    await step("overview", page, async () => {
      await page.goto(`${URL_}#token=${encodeURIComponent(TOKEN)}`, { waitUntil: "load", timeout: T });
      await page.locator("#conn-status[data-state=connected]").waitFor();
      await page.locator("#ov-version").filter({ hasText: /\d/ }).waitFor();
      await page.locator("#ov-health").filter({ hasText: "OK" }).waitFor();
      results.version = await page.locator("#ov-version").textContent();
      if (page.url().includes(TOKEN)) throw new Error(`token still in the address bar: ${page.url()}`);
      const paint = await page.evaluate(() => performance.getEntriesByType("paint").map((e) => ({ name: e.name, startTime: e.startTime })));
      results.paint = paint;
      results.firstPaintMs = paint.find((p) => p.name === "first-paint")?.startTime ?? null;
      results.firstContentfulPaintMs = paint.find((p) => p.name === "first-contentful-paint")?.startTime ?? null;
      results.deviceId = await page.evaluate(() => window.__openclawControl?.gw?.identity?.deviceId ?? null);
    });

    await step("chat", page, async () => {
      await page.click("#nav-chat");
      await page.locator("#chat-input").waitFor();
      await page.fill("#chat-input", "hello from the browser");
      await page.click("#chat-send");
      await page.locator("#chat-log .msg.user").filter({ hasText: "hello from the browser" }).last().waitFor();
      const reply = page.locator("#chat-log .msg.assistant.final");
      await reply.filter({ hasText: REPLY || /\S/ }).last().waitFor();
      results.chatReply = await reply.last().locator(".text").textContent();
    });

    await step("logs", page, async () => {
      await page.click("#nav-logs");
      await page.locator("#logs-info").filter({ hasText: /line/ }).waitFor();
      const before = await page.evaluate(() => document.getElementById("logs-out").textContent.split("\n").length);
      results.logLinesBefore = before;
      // A wrong-token attempt from another browser profile makes the gateway log a line.
      const other = await newContext(browser, external);
      other.setDefaultTimeout(T);
      const bad = await other.newPage();
      let sockets = 0;
      bad.on("websocket", () => { sockets += 1; });
      await step("wrong-token", bad, async () => {
        await bad.goto(`${URL_}#token=definitely-wrong`, { waitUntil: "load", timeout: T });
        await bad.locator("#conn-status[data-state=auth]").waitFor();
        await bad.locator("#auth-error").filter({ hasText: /unauthorized/ }).waitFor();
        await bad.locator("#login-token").waitFor();
        results.wrongTokenError = await bad.locator("#auth-error").textContent();
        // Nothing else happens: no retry within several backoff periods (800 ms × 1.7…).
        const attempts = () => bad.evaluate(() => window.__openclawControl.gw.attempts);
        const deadline = Date.now() + 4000;
        while (Date.now() < deadline) {
          if ((await attempts()) !== 1 || sockets !== 1) break;
          await bad.waitForTimeout(250);
        }
        results.wrongTokenAttempts = await attempts();
        results.wrongTokenSockets = sockets;
        if (results.wrongTokenAttempts !== 1 || sockets !== 1) throw new Error(`reconnect storm: ${results.wrongTokenAttempts} attempts, ${sockets} sockets`);
      });
      await step("login-form", bad, async () => {
        await bad.fill("#login-token", TOKEN);
        await bad.press("#login-token", "Enter");
        await bad.locator("#conn-status[data-state=connected]").waitFor();
        await bad.locator("#ov-version").filter({ hasText: /\d/ }).waitFor();
      });
      await other.close();
      await page.locator("#logs-out").filter({ hasText: /token mismatch/ }).waitFor();
      results.logLinesAfter = await page.evaluate(() => document.getElementById("logs-out").textContent.split("\n").length);
    });

    await step("config-invalid", page, async () => {
      await page.click("#nav-config");
      await page.locator("#config-hash").filter({ hasText: /\w{8}/ }).waitFor();
      await page.fill("#config-raw", "{ gateway: { mode: 'local', ");
      await page.click("#config-save");
      await page.locator("#page-config .panel > .error").filter({ hasText: /\S/ }).waitFor();
      results.configError = await page.locator("#page-config .panel > .error").textContent();
      await page.locator("#config-result").filter({ hasText: "Not saved." }).waitFor();
    });

    await step("sessions", page, async () => {
      await page.click("#nav-sessions");
      const row = page.locator('tr[data-session="agent:main:main"]');
      await row.waitFor();
      await row.getByRole("button", { name: "Preview agent:main:main" }).click();
      await page.locator(".preview li").filter({ hasText: "hello from the browser" }).first().waitFor();
    });

    // A browser on another machine (a non-local Host name, mapped to loopback) is not paired silently: it shows
    // the request id and the approve command, and connects once the local page approves it.
    await step("remote-pairing", page, async () => {
      const remoteCtx = await newContext(browser, external);
      remoteCtx.setDefaultTimeout(T);
      const remote = await remoteCtx.newPage();
      await remote.goto(`${REMOTE_URL}#token=${encodeURIComponent(TOKEN)}`, { waitUntil: "load", timeout: T });
      await remote.locator("#conn-status[data-state=pairing]").waitFor();
      const rid = (await remote.locator("#pairing-request-id").textContent()).trim();
      const cmd = await remote.locator("#pairing-command").textContent();
      if (cmd !== `openclaw devices approve ${rid}`) throw new Error(`unexpected command: ${cmd}`);
      await remote.screenshot({ path: join(ART, `${String(shots).padStart(2, "0")}b-remote-pairing-required.png`), fullPage: true });
      results.remotePairingRequest = rid;
      await page.click("#nav-devices");
      const row = page.locator(`tr.pending-device[data-request-id="${rid}"]`);
      await row.getByRole("button", { name: `Approve device request ${rid}` }).click();
      await row.waitFor({ state: "detached" });
      await remote.getByRole("button", { name: "Check now" }).click();
      await remote.locator("#conn-status[data-state=connected]").waitFor();
      await remote.locator("#ov-version").filter({ hasText: /\d/ }).waitFor();
      await remoteCtx.close();
    });

    if (WA_SCANNED) {
      await step("whatsapp-qr", page, async () => {
        await page.click("#nav-channels");
        await page.click("#wa-start");
        await page.locator('#wa-qr img[src^="data:image/png;base64,"]').waitFor();
        await page.screenshot({ path: join(ART, `${String(shots).padStart(2, "0")}b-whatsapp-qr-shown.png`), fullPage: true });
        // The simulated phone scans the code (the gateway's test login watches for this file).
        writeFileSync(WA_SCANNED, "");
        await page.locator("#wa-message").filter({ hasText: /Linked/ }).waitFor();
        await page.locator('#wa-qr img').waitFor({ state: "detached" });
      });
    }

    if (PENDING) {
      await step("device-approve", page, async () => {
        await page.click("#nav-devices");
        const row = page.locator(`tr.pending-device[data-request-id="${PENDING}"]`);
        await row.waitFor();
        await row.getByRole("button", { name: `Approve device request ${PENDING}` }).click();
        await row.waitFor({ state: "detached" });
        await page.locator("tr.paired-device").first().waitFor();
      });
    }

    await step("mobile", page, async () => {
      await page.setViewportSize({ width: 360, height: 740 });
      await page.click("#nav-overview");
      await page.locator("#ov-version").waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      results.mobileHorizontalOverflowPx = overflow;
      if (overflow > 1) throw new Error(`page is ${overflow}px wider than a 360px screen`);
    });

    if (external.length) throw new Error(`external requests: ${external.join(", ")}`);
    const cspErrors = consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e));
    if (cspErrors.length) throw new Error(`CSP violations: ${cspErrors.join(" | ")}`);
    results.consoleErrors = consoleErrors;
    if (UI_DIR) results.bundle = bundleGzip(UI_DIR);
    results.ok = true;
  } finally {
    clearTimeout(watchdog);
    await browser.close().catch(() => {});
    writeFileSync(join(ART, "control-ui-e2e.json"), JSON.stringify(results, null, 2));
    console.log("[e2e] result", JSON.stringify({ ok: !!results.ok, version: results.version, firstPaintMs: results.firstPaintMs,
      firstContentfulPaintMs: results.firstContentfulPaintMs, bundle: results.bundle, steps: results.steps.map((s) => s.name) }));
  }
}

main().catch((e) => { console.error("[e2e] FAILED:", e?.stack || e); process.exit(1); });
