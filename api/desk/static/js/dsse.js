// DSSE v1 envelopes, byte for byte as docs/commands.md and domain/evidence/envelope.py.
export const COMMAND_TYPE = 'application/vnd.docledger.command+json';
const utf8 = new TextEncoder();

export function bytesToBase64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

export function base64ToBytes(b64) {
  const text = atob(b64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload; LEN in bytes, ASCII decimal
export function pae(payloadType, payload) {
  const type = utf8.encode(payloadType);
  return concat(utf8.encode(`DSSEv1 ${type.length} `), type,
                utf8.encode(` ${payload.length} `), payload);
}

// sign payload bytes with an Ed25519 CryptoKey; the envelope as a plain object
export async function signEnvelope(privateKey, keyid, payloadType, payload) {
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, privateKey,
                                                      pae(payloadType, payload)));
  return { payloadType, payload: bytesToBase64(payload),
           signatures: [{ keyid, sig: bytesToBase64(sig) }] };
}

// true when the envelope's first signature by keyid verifies under publicKey (CryptoKey)
export async function verifyEnvelope(publicKey, keyid, envelope) {
  const entry = envelope.signatures.find((s) => s.keyid === keyid);
  if (!entry) return false;
  const payload = base64ToBytes(envelope.payload);
  return crypto.subtle.verify({ name: 'Ed25519' }, publicKey, base64ToBytes(entry.sig),
                              pae(envelope.payloadType, payload));
}

export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
