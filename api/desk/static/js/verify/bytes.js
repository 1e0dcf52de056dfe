// Bytes, base64, hex, UTF-8 and SHA-256 for the browser's bundle verifier.
// Base64 is read strictly, as Python's base64.b64decode(..., validate=True).

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export class FormatError extends Error {
  constructor(message) { super(message); this.name = "ValueError"; }
}

export function b64decode(text, what = "value") {
  if (typeof text !== "string" || !B64.test(text) || text.length % 4 !== 0) {
    throw new FormatError(`${what} is not valid base64`);
  }
  let raw;
  try { raw = atob(text); } catch { throw new FormatError(`${what} is not valid base64`); }
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

export function b64encode(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export const utf8 = (text) => new TextEncoder().encode(text);

export function utf8decode(bytes) {
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}
