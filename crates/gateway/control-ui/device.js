// Browser device identity: an Ed25519 key pair made by WebCrypto (private key not extractable),
// kept in IndexedDB; and the device token the gateway issues, kept in localStorage.

const DB = "openclaw-control-ui";
const STORE = "identity";
const TOKENS = "openclaw.device.auth.v1";

function idb(mode, fn) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => { db.close(); resolve(req.result); };
      tx.onerror = () => { db.close(); reject(tx.error); };
    };
  });
}

export function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hex(bytes) {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The identity `{deviceId, publicKey, privateKey}`, made once; null where WebCrypto
 * Ed25519 or IndexedDB is unavailable (plain HTTP to a non-loopback host). */
export async function loadIdentity() {
  if (!globalThis.isSecureContext || !globalThis.crypto?.subtle || !globalThis.indexedDB) return null;
  try {
    const found = await idb("readonly", (s) => s.get("device"));
    if (found?.privateKey && found.deviceId && found.publicKey) return found;
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
    const identity = {
      deviceId: hex(await crypto.subtle.digest("SHA-256", raw)),
      publicKey: b64url(raw),
      privateKey: pair.privateKey,
      createdAtMs: Date.now(),
    };
    await idb("readwrite", (s) => s.put(identity, "device"));
    return identity;
  } catch (e) {
    console.warn("device identity unavailable", e);
    return null;
  }
}

export async function sign(identity, text) {
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, identity.privateKey, new TextEncoder().encode(text));
  return b64url(sig);
}

export function loadDeviceToken(deviceId, role) {
  try {
    const v = JSON.parse(localStorage.getItem(TOKENS) || "null");
    if (v?.deviceId !== deviceId) return null;
    return v.tokens?.[role]?.token || null;
  } catch { return null; }
}

export function storeDeviceToken(deviceId, role, token, scopes) {
  try {
    let v = JSON.parse(localStorage.getItem(TOKENS) || "null");
    if (v?.deviceId !== deviceId) v = { version: 1, deviceId, tokens: {} };
    v.tokens[role] = { token, role, scopes: [...new Set(scopes || [])].sort(), updatedAtMs: Date.now() };
    localStorage.setItem(TOKENS, JSON.stringify(v));
  } catch { /* storage full or blocked: next connect uses the shared token */ }
}

export function clearDeviceToken(deviceId, role) {
  try {
    const v = JSON.parse(localStorage.getItem(TOKENS) || "null");
    if (v?.deviceId === deviceId && v.tokens?.[role]) {
      delete v.tokens[role];
      localStorage.setItem(TOKENS, JSON.stringify(v));
    }
  } catch { /* nothing stored */ }
}
