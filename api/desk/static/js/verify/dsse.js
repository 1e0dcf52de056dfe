// DSSE envelopes read and verified (domain/evidence/envelope.py, docs/commands.md):
// the signature is over PAE = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.

import { pae } from "../dsse.js";
import { b64decode } from "./bytes.js";
import { verifySignature } from "./keys.js";

export const COMMAND_TYPE = "application/vnd.docledger.command+json";
export const STATEMENT_TYPE = "application/vnd.docledger.statement+json";
const MAX_SIGNATURES = 4;

export class EnvelopeError extends Error {
  constructor(message) { super(message); this.name = "InvalidEnvelopeError"; }
}
export class SignatureError extends Error {
  constructor(message) { super(message); this.name = "InvalidSignatureError"; }
}

export { pae };  // the desk's signer's PAE (../dsse.js): one encoding, signing and verifying

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

export function envelopeFromDict(doc) {
  if (!isObject(doc)) throw new EnvelopeError("envelope must be a JSON object");
  const { payloadType, payload, signatures } = doc;
  if (typeof payloadType !== "string" || typeof payload !== "string") {
    throw new EnvelopeError("payloadType and payload must be strings");
  }
  if (!Array.isArray(signatures) || signatures.length < 1 || signatures.length > MAX_SIGNATURES) {
    throw new EnvelopeError(`signatures must be a list of 1 to ${MAX_SIGNATURES} entries`);
  }
  const parsed = signatures.map((entry) => {
    if (!isObject(entry)) throw new EnvelopeError("each signature must be an object");
    if (typeof entry.keyid !== "string" || typeof entry.sig !== "string") {
      throw new EnvelopeError("signature keyid and sig must be strings");
    }
    return { keyid: entry.keyid, sig: b64decode(entry.sig, "sig") };
  });
  return { payloadType, payload: b64decode(payload, "payload"), signatures: parsed,
           // the envelope as signed: events of one command share it (verified once)
           identity: JSON.stringify([payloadType, payload,
                                     parsed.map((s) => [s.keyid, Array.from(s.sig)])]) };
}

// Throws SignatureError unless a signature under key.keyid verifies over the PAE.
export async function verifyEnvelope(envelope, key) {
  const signature = envelope.signatures.find((s) => s.keyid === key.keyid);
  if (!signature) throw new SignatureError(`no signature by key ${key.keyid}`);
  if (!await verifySignature(key, signature.sig, pae(envelope.payloadType, envelope.payload))) {
    throw new SignatureError(`signature does not verify with key ${key.keyid}`);
  }
}
