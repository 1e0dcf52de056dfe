// Witness policies (c2sp.org/tlog-policy, domain/evidence/policy.py) and C2SP
// cosignature/v1 lines (domain/evidence/cosignature.py): the witnesses' Ed25519
// signatures over "cosignature/v1\ntime <t>\n<checkpoint body>".

import { b64decode, concat, equal, fromHex, utf8 } from "./bytes.js";
import { CheckpointError, splitNote } from "./note.js";

const NAME = /^[^\s+]+$/;
const NONE = "none";
const MAX_ENTRIES = 256;
const MAX_TIMESTAMP = 2n ** 63n - 1n;

export class PolicyError extends Error {
  constructor(message) { super(message); this.name = "PolicyError"; }
}
export class QuorumError extends Error {
  constructor(message) { super(message); this.name = "QuorumError"; }
}

async function keyHash(name, alg, raw) {
  const digest = await crypto.subtle.digest("SHA-256", concat(utf8(name), new Uint8Array([0x0a, alg]), raw));
  return new Uint8Array(digest).slice(0, 4);
}

// <name>+<hash>+<base64(alg || 32-byte key)>, as parse_vkey reads it.
async function parseKey(vkey, alg, kind) {
  const first = vkey.indexOf("+");
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
  if (second < 0 || !NAME.test(vkey.slice(0, first))) {
    throw new CheckpointError("a verifier key is <name>+<hash>+<base64 key>");
  }
  const name = vkey.slice(0, first), hashText = vkey.slice(first + 1, second);
  let blob;
  try { blob = b64decode(vkey.slice(second + 1)); } catch { throw new CheckpointError("malformed verifier key"); }
  if (!/^([0-9a-fA-F]{2})*$/.test(hashText)) throw new CheckpointError("malformed verifier key");
  if (blob.length !== 33 || blob[0] !== alg) throw new CheckpointError(`only ${kind} are supported here`);
  const raw = blob.slice(1);
  const hash = await keyHash(name, alg, raw);
  if (!equal(hash, fromHex(hashText))) throw new CheckpointError("verifier key hash does not match the key");
  let key;
  try { key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]); } catch {
    throw new CheckpointError("not an Ed25519 public key");
  }
  return { name, raw, keyHash: hash, key };
}

export async function parsePolicy(text) {
  if (/[^\t\n\x20-\x7e\u0080-\uffff]/.test(text)) {
    throw new PolicyError("a policy file holds no control characters but tab and newline");
  }
  const logs = [], witnesses = new Map(), groups = new Map();
  let quorum = null;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const words = lines[i].replaceAll("\t", " ").split(" ").filter(Boolean);
    if (!words.length || words[0].startsWith("#")) continue;
    const where = `policy line ${i + 1}`;
    const [keyword, ...args] = words;
    const url = (at) => {
      if (args.length > at + 1) throw new PolicyError(`${where}: too many fields`);
    };
    const fresh = (name) => {
      if (name === NONE || witnesses.has(name) || groups.has(name)) {
        throw new PolicyError(`${where}: the name '${name}' is reserved or defined already`);
      }
    };
    try {
      if (keyword === "log") {
        if (!args.length) throw new PolicyError(`${where}: 'log <vkey> [<url>]'`);
        const key = await parseKey(args[0], 0x01, "Ed25519 verifier keys (type 0x01)");
        if (logs.some((k) => equal(k.raw, key.raw))) throw new PolicyError(`${where}: the same log key is listed twice`);
        url(1);
        logs.push(key);
      } else if (keyword === "witness") {
        if (args.length < 2) throw new PolicyError(`${where}: 'witness <name> <vkey> [<url>]'`);
        fresh(args[0]);
        const key = await parseKey(args[1], 0x04, "Ed25519 cosignature/v1 witness keys (type 0x04)");
        if ([...witnesses.values()].some((w) => equal(w.raw, key.raw))) {
          throw new PolicyError(`${where}: the same witness key is listed twice`);
        }
        url(2);
        witnesses.set(args[0], key);
      } else if (keyword === "group") {
        if (args.length < 3) throw new PolicyError(`${where}: 'group <name> all|any|<k> <member>...'`);
        const [name, rule, ...members] = args;
        fresh(name);
        for (const m of members) {
          if (!witnesses.has(m) && !groups.has(m)) {
            throw new PolicyError(`${where}: '${m}' is not a witness or group defined above`);
          }
        }
        if (new Set(members).size !== members.length) throw new PolicyError(`${where}: a group lists each member once`);
        let threshold;
        if (rule === "all") threshold = members.length;
        else if (rule === "any") threshold = 1;
        else if (/^[1-9][0-9]*$/.test(rule) && Number(rule) <= members.length) threshold = Number(rule);
        else throw new PolicyError(`${where}: the threshold is all, any or 1..${members.length}`);
        groups.set(name, { threshold, members });
      } else if (keyword === "quorum") {
        if (quorum !== null) throw new PolicyError(`${where}: a policy has exactly one quorum line`);
        if (args.length !== 1 || (args[0] !== NONE && !witnesses.has(args[0]) && !groups.has(args[0]))) {
          throw new PolicyError(`${where}: 'quorum <name>' names a witness or group defined above, or 'none'`);
        }
        quorum = args[0];
      } else {
        throw new PolicyError(`${where}: unknown keyword '${keyword}'`);
      }
    } catch (err) {
      if (err instanceof CheckpointError) throw new PolicyError(`${where}: ${err.message}`);
      throw err;
    }
    if (logs.length + witnesses.size + groups.size > MAX_ENTRIES) {
      throw new PolicyError(`a policy holds at most ${MAX_ENTRIES} logs, witnesses and groups`);
    }
  }
  if (quorum === null) throw new PolicyError("the policy has no quorum line");
  return { logs, witnesses, groups, quorum };
}

// The policy's witnesses that cosigned the note's checkpoint, with the time each
// gives; a line naming a policy key that does not verify makes the note malformed.
async function cosignatures(note, witnesses) {
  const { text, lines } = splitNote(note);
  const found = new Map();
  for (const { name, blob } of lines) {
    const key = [...witnesses.values()].find((k) => k.name === name && equal(k.keyHash, blob.slice(0, 4)));
    if (!key) continue;
    if (blob.length !== 4 + 8 + 64) throw new CheckpointError(`the cosignature by ${name} is not 76 bytes`);
    const timestamp = new DataView(blob.buffer, blob.byteOffset + 4, 8).getBigUint64(0);
    if (timestamp > MAX_TIMESTAMP) throw new CheckpointError(`the cosignature by ${name} has an out-of-range time`);
    const message = utf8(`cosignature/v1\ntime ${timestamp}\n${text}`);
    let ok = false;
    try { ok = await crypto.subtle.verify({ name: "Ed25519" }, key.key, blob.slice(12), message); } catch { ok = false; }
    if (!ok) throw new CheckpointError(`the cosignature by ${name} does not verify`);
    if (found.has(name)) throw new CheckpointError(`the note carries two cosignatures by ${name}`);
    found.set(name, timestamp);
  }
  return found;
}

function witnessed(policy, name, cosigned) {
  if (name === NONE) return true;
  if (policy.witnesses.has(name)) return cosigned.has(name);
  const group = policy.groups.get(name);
  return group.members.filter((m) => witnessed(policy, m, cosigned)).length >= group.threshold;
}

const isoZ = (t) => new Date(Number(t) * 1000).toISOString().replace(".000Z", "Z");

// Policy.check for a checkpoint of `size` whose log signature is verified already:
// the cosigning witnesses (sorted, "W at <time>"), or QuorumError.
export async function checkQuorum(policy, note, size) {
  const byKey = await cosignatures(note, policy.witnesses);
  const cosigned = new Map([...policy.witnesses].filter(([, k]) => byKey.has(k.name))
    .map(([name, k]) => [name, byKey.get(k.name)]));
  const missing = [...policy.witnesses.keys()].filter((n) => !cosigned.has(n));
  if (!witnessed(policy, policy.quorum, cosigned)) {
    const signed = [...cosigned.keys()].sort().join(", ") || "none";
    throw new QuorumError(`witness quorum '${policy.quorum}' NOT met for checkpoint of size ${size}: `
                          + `cosigned by ${signed}; missing ${missing.join(", ") || "none"}`);
  }
  return [...cosigned].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, t]) => `${name} at ${isoZ(t)}`).join(", ") || "none";
}
