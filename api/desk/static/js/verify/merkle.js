// RFC 9162 Merkle tree hashing and inclusion proofs (domain/evidence/merkle.py),
// and the leaf of a stored event (domain/evidence/leaf.py, docs/ledger.md).

import { concat, sha256, utf8 } from "./bytes.js";
import { uuidBytes } from "./ids.js";

export class ProofError extends Error {
  constructor(message) { super(message); this.name = "ProofError"; }
}

export const leafHash = (data) => sha256(concat(new Uint8Array([0]), data));
export const nodeHash = (left, right) => sha256(concat(new Uint8Array([1]), left, right));

// 0x01 || id (16 bytes) || version (8, big-endian) || len(topic) (2) || topic || SHA-256(state)
export async function eventLeafHash(aggregateId, version, topic, state) {
  const t = utf8(topic);
  const head = new Uint8Array(1 + 16 + 8 + 2);
  head[0] = 1;
  head.set(uuidBytes(aggregateId), 1);
  new DataView(head.buffer).setBigUint64(17, BigInt(version));
  new DataView(head.buffer).setUint16(25, t.length);
  return leafHash(concat(head, t, await sha256(state)));
}

// The root that `proof` makes for `leaf` at `index` in a tree of `size` (RFC 9162 §2.1.3.2).
export async function rootFromInclusion(index, size, leaf, proof) {
  if (!(index >= 0 && index < size)) {
    throw new ProofError(`leaf index ${index} is not below tree size ${size}`);
  }
  for (const h of [leaf, ...proof]) {
    if (h.length !== 32) throw new ProofError("a hash in the proof is not 32 bytes");
  }
  let fn = BigInt(index), sn = BigInt(size - 1), r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new ProofError("inclusion proof is longer than the tree is deep");
    if ((fn & 1n) || fn === sn) {
      r = await nodeHash(p, r);
      if (!(fn & 1n)) {
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) throw new ProofError("inclusion proof is shorter than the tree is deep");
  return r;
}

export async function verifyInclusion(index, size, leaf, proof, root) {
  const made = await rootFromInclusion(index, size, leaf, proof);
  if (made.length !== root.length || made.some((b, i) => b !== root[i])) {
    throw new ProofError(`inclusion proof for leaf ${index} does not lead to the root`);
  }
}
