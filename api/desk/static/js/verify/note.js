// C2SP signed notes and tlog checkpoints with Ed25519 (domain/evidence/checkpoint.py):
// verifier key <name>+<key hash, 8 hex>+<base64(0x01 || 32-byte key)>, key hash =
// first 4 bytes of SHA-256(name || 0x0A || 0x01 || key); signature lines
// "— <name> <base64(key hash || 64-byte signature)>".

import { b64decode, concat, equal, fromHex, hex, sha256, utf8 } from "./bytes.js";

const NAME = /^[^\s+]+$/;
const SIG_PREFIX = "\u2014 ";

export class CheckpointError extends Error {
  constructor(message) { super(message); this.name = "CheckpointError"; }
}

export async function keyHash(name, raw) {
  return (await sha256(concat(utf8(name), new Uint8Array([0x0a, 0x01]), raw))).slice(0, 4);
}

export async function parseVkey(vkey) {
  const text = String(vkey).trim();
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0 || !NAME.test(text.slice(0, first))) {
    throw new CheckpointError("a verifier key is <name>+<hash>+<base64 key>");
  }
  const name = text.slice(0, first), hashText = text.slice(first + 1, second);
  let blob;
  try { blob = b64decode(text.slice(second + 1)); } catch {
    throw new CheckpointError("malformed verifier key");
  }
  if (!/^([0-9a-fA-F]{2})*$/.test(hashText)) throw new CheckpointError("malformed verifier key");
  if (blob.length !== 33 || blob[0] !== 0x01) {
    throw new CheckpointError("only Ed25519 verifier keys (type 0x01) are supported here");
  }
  const raw = blob.slice(1);
  const hash = await keyHash(name, raw);
  if (!equal(hash, fromHex(hashText))) {
    throw new CheckpointError("verifier key hash does not match the key");
  }
  let key;
  try {
    key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  } catch {
    throw new CheckpointError("the verifier key is not an Ed25519 public key");
  }
  return { name, raw, keyHash: hash, keyHashHex: hex(hash), key };
}

export function splitNote(note) {
  const cut = note.lastIndexOf("\n\n");
  const block = cut < 0 ? "" : note.slice(cut + 2);
  if (cut < 0 || !block.endsWith("\n")) {
    throw new CheckpointError("not a signed note: no signature block");
  }
  const lines = block.slice(0, -1).split("\n").map((line) => {
    if (!line.startsWith(SIG_PREFIX)) {
      throw new CheckpointError(`malformed signature line ${JSON.stringify(line)}`);
    }
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(" ");
    const name = space < 0 ? rest : rest.slice(0, space);
    const encoded = space < 0 ? "" : rest.slice(space + 1);
    let blob;
    try { blob = b64decode(encoded); } catch {
      throw new CheckpointError("signature is not base64");
    }
    return { name, blob };
  });
  return { text: note.slice(0, cut) + "\n", lines };
}

export async function openNote(note, vkey) {
  const { text, lines } = splitNote(note);
  const found = lines.filter((l) => l.name === vkey.name && equal(l.blob.slice(0, 4), vkey.keyHash));
  if (found.length !== 1) {
    throw new CheckpointError(`the note carries ${found.length} signatures by ${vkey.name}, not 1`);
  }
  let ok = false;
  try {
    ok = await crypto.subtle.verify({ name: "Ed25519" }, vkey.key, found[0].blob.slice(4), utf8(text));
  } catch { ok = false; }
  if (!ok) throw new CheckpointError(`the signature by ${vkey.name} does not verify`);
  return text;
}

export function parseCheckpoint(body) {
  const lines = body.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "") {
    throw new CheckpointError("a checkpoint is origin, size and root lines, each with \\n");
  }
  const [origin, size, root] = lines;
  if (!origin || !/^(0|[1-9][0-9]*)$/.test(size)) {
    throw new CheckpointError("malformed checkpoint origin or size");
  }
  let digest;
  try { digest = b64decode(root); } catch { throw new CheckpointError("checkpoint root is not base64"); }
  if (digest.length !== 32) throw new CheckpointError("checkpoint root is not a SHA-256 hash");
  return { origin, size: Number(size), root: digest };
}

export async function openCheckpoint(note, vkey) {
  const checkpoint = parseCheckpoint(await openNote(note, vkey));
  if (checkpoint.origin !== vkey.name) {
    throw new CheckpointError(`checkpoint origin ${JSON.stringify(checkpoint.origin)} is not the key's name ${JSON.stringify(vkey.name)}`);
  }
  return checkpoint;
}
