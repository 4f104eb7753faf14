// The WebSocket session with the gateway: challenge → signed connect → requests and events,
// with the states the UI shows (connecting, connected, reconnecting, auth failed, pairing).

import { loadIdentity, sign, loadDeviceToken, storeDeviceToken, clearDeviceToken } from "./device.js";
import { uuid } from "./dom.js";

export const CLIENT_ID = "openclaw-control-ui";
export const CLIENT_MODE = "webchat";
export const ROLE = "operator";
export const SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.approvals", "operator.pairing"];
const BACKOFF_START_MS = 800;
const BACKOFF_MAX_MS = 15000;
const PAIRING_RETRY_MS = 15000;
const CHALLENGE_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 30000;

export class GatewayError extends Error {
  constructor(err) {
    super(err?.message || "request failed");
    this.code = err?.code;
    this.details = err?.details;
  }
}

/**
 * `opts`: url, token() → shared token or "", onState(state), onHello(hello), onEvent(name, payload).
 * States: {kind:"connecting"|"connected"|"reconnecting"|"auth"|"pairing"|"failed", …}.
 */
export class Gateway {
  constructor(opts) {
    this.opts = opts;
    this.ws = null;
    this.pending = new Map();
    this.backoff = BACKOFF_START_MS;
    this.timer = null;
    this.stopped = true;
    this.hello = null;
    this.attempts = 0;
    this.identity = undefined;
  }

  start() {
    this.stopped = false;
    this.backoff = BACKOFF_START_MS;
    clearTimeout(this.timer);
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(1000, "bye"); }
    this.failAll("disconnected");
  }

  get connected() { return !!this.hello && this.ws?.readyState === WebSocket.OPEN; }

  state(s) { this.lastState = s; this.opts.onState?.(s); }

  async open() {
    if (this.stopped) return;
    if (this.identity === undefined) this.identity = await loadIdentity();
    this.attempts += 1;
    this.hello = null;
    this.state({ kind: "connecting", attempt: this.attempts });
    let ws;
    try {
      ws = new WebSocket(this.opts.url);
    } catch (e) {
      this.state({ kind: "failed", message: `cannot open ${this.opts.url}: ${e.message}` });
      this.stopped = true;
      return;
    }
    this.ws = ws;
    let settled = false; // the connect got an answer (hello or refusal)
    let refusal = null; // what to do when the socket closes after a refusal
    const challengeTimer = setTimeout(() => { if (!settled) ws.close(4008, "connect challenge timeout"); }, CHALLENGE_TIMEOUT_MS);
    ws.onmessage = async (m) => {
      let f;
      try { f = JSON.parse(m.data); } catch { return; }
      if (f.type === "event" && f.event === "connect.challenge" && !settled) {
        clearTimeout(challengeTimer);
        try {
          const { id, params, usedDeviceToken } = await this.connectFrame(f.payload?.nonce || "");
          this.pending.set(id, {
            resolve: (hello) => { settled = true; this.onHello(hello); },
            reject: (err) => { settled = true; refusal = this.onRefused(err, usedDeviceToken); },
          });
          ws.send(JSON.stringify({ type: "req", id, method: "connect", params }));
        } catch (e) {
          ws.close(4000, "connect failed");
          this.state({ kind: "failed", message: e.message });
        }
        return;
      }
      if (f.type === "res") {
        const p = this.pending.get(f.id);
        if (!p) return;
        // Two-phase methods answer twice; the first `accepted` ack is not the result.
        if (f.ok && f.payload?.status === "accepted" && p.twoPhase) return;
        this.pending.delete(f.id);
        clearTimeout(p.timer);
        if (f.ok) p.resolve(f.payload);
        else p.reject(new GatewayError(f.error));
        return;
      }
      if (f.type === "event" && f.event !== "connect.challenge") this.opts.onEvent?.(f.event, f.payload, f);
    };
    ws.onclose = (ev) => {
      clearTimeout(challengeTimer);
      if (this.ws === ws) this.ws = null;
      this.failAll(`disconnected (${ev.code})`);
      this.hello = null;
      if (refusal) { refusal(); return; }
      if (this.stopped) return;
      if (ev.code === 1012) { this.schedule(BACKOFF_START_MS, { kind: "reconnecting", quiet: true, reason: "gateway restarting" }); return; }
      const reason = ev.reason || (ev.code === 1006 ? "connection lost" : `closed (${ev.code})`);
      this.schedule(this.backoff, { kind: "reconnecting", reason });
      this.backoff = Math.min(Math.round(this.backoff * 1.7), BACKOFF_MAX_MS);
    };
  }

  schedule(ms, state) {
    clearTimeout(this.timer);
    this.state({ ...state, inMs: ms, at: Date.now() + ms });
    this.timer = setTimeout(() => this.open(), ms);
  }

  async connectFrame(nonce) {
    const shared = this.opts.token() || "";
    const id = this.identity;
    const deviceToken = id ? loadDeviceToken(id.deviceId, ROLE) : null;
    const token = deviceToken || shared;
    const auth = {};
    if (token) auth.token = token;
    const params = {
      minProtocol: 3,
      maxProtocol: 3,
      client: {
        id: CLIENT_ID,
        version: this.opts.version || "dev",
        platform: navigator.platform || "web",
        mode: CLIENT_MODE,
        instanceId: this.instanceId || (this.instanceId = uuid()),
      },
      role: ROLE,
      scopes: SCOPES,
      caps: [],
      auth,
      userAgent: navigator.userAgent,
      locale: navigator.language,
    };
    if (id) {
      const signedAt = Date.now();
      const payload = ["v2", id.deviceId, CLIENT_ID, CLIENT_MODE, ROLE, SCOPES.join(","), signedAt, token, nonce].join("|");
      params.device = { id: id.deviceId, publicKey: id.publicKey, signature: await sign(id, payload), signedAt, nonce };
    }
    return { id: uuid(), params, usedDeviceToken: !!deviceToken };
  }

  onHello(hello) {
    this.hello = hello;
    this.backoff = BACKOFF_START_MS;
    const dt = hello?.auth?.deviceToken;
    if (dt && this.identity) storeDeviceToken(this.identity.deviceId, hello.auth.role || ROLE, dt, hello.auth.scopes);
    this.state({ kind: "connected" });
    this.opts.onHello?.(hello);
  }

  /** Decides, from the refusal, what happens when the socket closes. */
  onRefused(err, usedDeviceToken) {
    if (this.identity) clearDeviceToken(this.identity.deviceId, ROLE);
    const code = err.details?.code || "";
    const msg = err.message;
    if (usedDeviceToken && /^AUTH_|unauthorized/i.test(code + " " + msg)) {
      // A stale device token: retry once at once with the shared token.
      return () => this.open();
    }
    if (err.code === "NOT_PAIRED" && err.details?.requestId) {
      const requestId = err.details.requestId;
      return () => this.schedule(PAIRING_RETRY_MS, { kind: "pairing", requestId, message: msg, deviceId: err.details.deviceId });
    }
    // Anything else is final until the user acts: no reconnect storm against a refusal.
    this.stopped = true;
    const auth = /^AUTH_/.test(code) || /unauthorized/i.test(msg);
    this.state({ kind: auth ? "auth" : "failed", message: msg, code });
    return () => {};
  }

  failAll(message) {
    for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(new GatewayError({ message })); }
    this.pending.clear();
  }

  /** Calls `method`; rejects with the gateway's error (message/code/details). */
  request(method, params = {}, { timeoutMs = REQUEST_TIMEOUT_MS, twoPhase = false } = {}) {
    return new Promise((resolve, reject) => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN || !this.hello) {
        reject(new GatewayError({ message: "not connected" }));
        return;
      }
      const id = uuid();
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new GatewayError({ message: `${method}: no answer in ${Math.round(timeoutMs / 1000)} s` }));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, twoPhase });
      ws.send(JSON.stringify({ type: "req", id, method, params }));
    });
  }
}
