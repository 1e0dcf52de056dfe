// Record ids (domain/exchange/ids.py, docs/bundle.md "Ids"): UUIDv5 in the
// namespace uuid5(NAMESPACE_URL, "https://docledger.invalid/ids") of the parts
// joined by U+001F.

import { concat, hex, utf8 } from "./bytes.js";

const NAMESPACE_URL = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

// A UUID as Python's uuid.UUID reads it, in its canonical form; null if it is none.
export function canonicalUuid(text) {
  if (typeof text !== "string") return null;
  let s = text.trim().replace(/^urn:/, "").replace(/^uuid:/, "");
  s = s.replace(/^\{/, "").replace(/\}$/, "").replaceAll("-", "");
  if (!/^[0-9a-fA-F]{32}$/.test(s)) return null;
  s = s.toLowerCase();
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

export function uuidBytes(uuid) {
  const s = uuid.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export async function uuid5(namespace, name) {
  const digest = new Uint8Array(await crypto.subtle.digest(
    "SHA-1", concat(uuidBytes(namespace), utf8(name))));
  const b = digest.slice(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  return canonicalUuid(hex(b));
}

let namespace = null;
const cache = new Map();

export async function stableId(...parts) {
  const name = parts.join("\x1f");
  if (!cache.has(name)) {
    namespace ??= await uuid5(NAMESPACE_URL, "https://docledger.invalid/ids");
    cache.set(name, await uuid5(namespace, name));
  }
  return cache.get(name);
}

export const REGISTRAR = "registrar";
export const rootId = () => stableId("ledger-root");
export const trustId = () => stableId("trust-anchors");
export const revocationId = () => stableId("revocation-evidence");
export const agencyId = (code) => stableId("agency", code);
export const documentId = (sender, id) => stableId("document", sender, id);
export const deliveryId = (document, recipient) => stableId("delivery", document, recipient);
export const commandRecordId = (commandId) => stableId("command", commandId);
export const gatewayReceiptId = (direction, agency, axisId, sha256) =>
  stableId("gateway-receipt", direction, agency, axisId, sha256);
