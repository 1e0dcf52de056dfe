// The agency's private key in the browser: imported from PKCS#8 PEM as a
// non-extractable CryptoKey and kept in IndexedDB, where it survives page loads
// and stays non-extractable. The key's bytes are never sent anywhere.
import { base64ToBytes, bytesToBase64, sha256Hex } from './dsse.js';

const DB = 'docledger-desk';
const STORE = 'keys';
const CURRENT = 'current';
// DER SubjectPublicKeyInfo of an Ed25519 key: this prefix, then the 32 raw bytes
const SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                    0x03, 0x21, 0x00]);

export function pemToDer(pem) {
  const match = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  if (!match) throw new Error('not-pkcs8');
  return base64ToBytes(match[1].replace(/\s+/g, ''));
}

function b64urlToBytes(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  return base64ToBytes(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
}

// the key id as docs/commands.md: hex of the first 16 bytes of SHA-256(SPKI DER)
export async function keyIdOf(rawPublic) {
  const spki = new Uint8Array(SPKI_PREFIX.length + rawPublic.length);
  spki.set(SPKI_PREFIX);
  spki.set(rawPublic, SPKI_PREFIX.length);
  return (await sha256Hex(spki)).slice(0, 32);
}

// PEM text -> {privateKey (non-extractable), publicKey, keyid, publicRaw}
export async function importPem(pem) {
  const der = pemToDer(pem);
  const alg = { name: 'Ed25519' };
  // once extractable, only to read the public half (JWK "x"); that key is dropped
  const probe = await crypto.subtle.importKey('pkcs8', der, alg, true, ['sign']);
  const rawPublic = b64urlToBytes((await crypto.subtle.exportKey('jwk', probe)).x);
  const privateKey = await crypto.subtle.importKey('pkcs8', der, alg, false, ['sign']);
  der.fill(0);
  const publicKey = await crypto.subtle.importKey('raw', rawPublic, alg, true, ['verify']);
  return { privateKey, publicKey, keyid: await keyIdOf(rawPublic),
           publicRaw: bytesToBase64(rawPublic) };
}

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, action) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

// {agency, staff, keyid, privateKey, publicKey, publicRaw}
export function saveKey(entry) { return run('readwrite', (s) => s.put(entry, CURRENT)); }
export function loadKey() { return run('readonly', (s) => s.get(CURRENT)); }
export function forgetKey() { return run('readwrite', (s) => s.delete(CURRENT)); }
