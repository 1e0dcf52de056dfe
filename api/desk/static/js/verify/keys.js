// Public keys as the ledger records them (domain/evidence/keys.py): algorithm,
// DER SubjectPublicKeyInfo, key id = hex of the first 16 bytes of its SHA-256.
// Verified with WebCrypto: Ed25519, RSASSA-PKCS1-v1_5 and RSA-PSS (salt 32) with
// SHA-256, ECDSA P-256/SHA-256 and P-384/SHA-384 (DER signatures made raw r||s).

import { b64decode, hex, sha256 } from "./bytes.js";

export class KeyError extends Error {
  constructor(message) { super(message); this.name = "InvalidInputError"; }
}

const ALGORITHMS = {
  "ed25519": { importAs: { name: "Ed25519" }, verifyAs: { name: "Ed25519" } },
  "rsa-pkcs1-sha256": { importAs: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
                        verifyAs: { name: "RSASSA-PKCS1-v1_5" } },
  "rsa-pss-sha256": { importAs: { name: "RSA-PSS", hash: "SHA-256" },
                      verifyAs: { name: "RSA-PSS", saltLength: 32 } },
  "ecdsa-p256-sha256": { importAs: { name: "ECDSA", namedCurve: "P-256" },
                         verifyAs: { name: "ECDSA", hash: "SHA-256" }, size: 32 },
  "ecdsa-p384-sha384": { importAs: { name: "ECDSA", namedCurve: "P-384" },
                         verifyAs: { name: "ECDSA", hash: "SHA-384" }, size: 48 },
};

export async function keyId(spkiDer) {
  return hex(await sha256(spkiDer)).slice(0, 32);
}

// A key from its spec {keyid, algorithm, public_key}: refused as PublicKey.from_spec
// refuses it (unknown algorithm, bytes that are not such a key, a wrong key id).
export async function keyFromSpec(spec) {
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)
      || !("algorithm" in spec) || !("public_key" in spec) || !("keyid" in spec)) {
    throw new KeyError("malformed key spec");
  }
  const { algorithm, keyid } = spec;
  const der = b64decode(spec.public_key, "public_key");
  const scheme = ALGORITHMS[algorithm];
  if (!scheme) throw new KeyError(`unsupported key algorithm ${JSON.stringify(algorithm)}`);
  let key;
  try {
    key = await crypto.subtle.importKey("spki", der, scheme.importAs, false, ["verify"]);
  } catch {
    throw new KeyError(`not a ${algorithm} public key`);
  }
  const bits = key.algorithm.modulusLength;
  if (bits !== undefined && (bits < 2048 || bits > 8192)) {
    throw new KeyError(`an RSA key of ${bits} bits`);
  }
  if (await keyId(der) !== keyid) {
    throw new KeyError(`key id ${JSON.stringify(keyid)} does not match the key bytes`);
  }
  return { keyid, algorithm, der, key, scheme };
}

// ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) to the raw r || s WebCrypto takes.
export function ecdsaRaw(der, size) {
  const fail = () => null;
  if (der.length < 8 || der[0] !== 0x30) return fail();
  let at = 2;
  let length = der[1];
  if (length === 0x81) { length = der[2]; at = 3; } else if (length > 0x80) return fail();
  if (at + length !== der.length) return fail();
  const out = new Uint8Array(2 * size);
  for (let part = 0; part < 2; part++) {
    if (der[at] !== 0x02) return fail();
    const n = der[at + 1];
    let value = der.slice(at + 2, at + 2 + n);
    if (n === 0 || value.length !== n) return fail();
    if (value[0] & 0x80) return fail();  // negative
    if (value.length > 1 && value[0] === 0 && !(value[1] & 0x80)) return fail();  // not minimal
    while (value.length > 1 && value[0] === 0) value = value.slice(1);
    if (value.length > size) return fail();
    out.set(value, part * size + size - value.length);
    at += 2 + n;
  }
  return at === der.length ? out : fail();
}

export async function verifySignature(key, signature, message) {
  let sig = signature;
  if (key.scheme.size) {
    sig = ecdsaRaw(signature, key.scheme.size);
    if (sig === null) return false;
  }
  try {
    return await crypto.subtle.verify(key.scheme.verifyAs, key.key, sig, message);
  } catch {
    return false;
  }
}
