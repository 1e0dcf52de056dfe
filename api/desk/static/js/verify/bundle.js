// The browser's verifier of an audit bundle (docs/bundle.md): the steps of
// `docledger verify-bundle` (domain/verification/bundle.py), in the same order,
// stopping at the same first problem. What a browser cannot check (X.509 path
// validation of certificate-backed keys, CRL/OCSP evidence, RFC 3161 tokens,
// re-reading an edXML message's trace headers, re-validating a PDF's signatures)
// is reported as not checked here.

import { b64decode, equal, fromHex, hex, sha256, utf8, utf8decode } from "./bytes.js";
import { recordTopicOf, roleOf, writing } from "./catalogue.js";
import { COMMAND_TYPE, STATEMENT_TYPE, envelopeFromDict, verifyEnvelope } from "./dsse.js";
import {
  REGISTRAR, agencyId, canonicalUuid, commandRecordId, deliveryId, documentId,
  gatewayReceiptId, revocationId, rootId, trustId,
} from "./ids.js";
import { keyFromSpec } from "./keys.js";
import { eventLeafHash, verifyInclusion } from "./merkle.js";
import { openCheckpoint, parseVkey } from "./note.js";
import { checkQuorum } from "./policy.js";
import { isTime, le, lt, parseTime, sameTime } from "./time.js";

export const FORMAT = "docledger-audit-bundle/1";
export const STEPS = {
  1: "format", 2: "checkpoint", 3: "inclusion", 4: "completeness", 5: "genesis",
  6: "key histories", 7: "signatures", 8: "commands", 9: "gateway receipts", 10: "summary",
  11: "PDF signatures",
};

const ROOT = "domain.root:LedgerRoot", AGENCY = "domain.agency:Agency";
const TRUST = "domain.trust:TrustAnchors", REVOCATION = "domain.revocation:RevocationEvidence";
const DOCUMENT = "domain.document:Document", DELIVERY = "domain.delivery:Delivery";
const GENESIS_TOPIC = `${ROOT}.Initialised`;
const RECORD_ACCEPTED_TOPIC = "domain.command_log:CommandRecord.Accepted";
const GATEWAY_RECEIPT = "domain.gateway:GatewayReceipt";
const GATEWAY_RECORDED = `${GATEWAY_RECEIPT}.Recorded`;
const REGISTRAR_BINDING = "registrar";
// The ledger's statements about a document's PDFs (docs/signed-pdf.md).
const PDF_REPORT = "attachment.validated", STAMPED = "delivery.stamped";

const BUNDLE_FIELDS = new Set(["format", "document", "checkpoint", "events",
                               "checkpoint_timestamp", "gateway"]);
const EVENT_FIELDS = new Set(["leaf_index", "notification_id", "aggregate_id", "version",
                              "topic", "state", "proof"]);
const GATEWAY_FIELDS = new Set([...EVENT_FIELDS, "data"]);
const HEX_HASH = /^[0-9a-f]{64}$/;
const FACT_KEYS = ["readable", "trace", "document_id", "from", "to", "response_for"];
const RECEIPT_KEYS = new Set(["type", "direction", "agency", "axis_id", "service_type",
                              "sha256", "size", ...FACT_KEYS, "at"]);
const RECEIPT_STATE_KEYS = new Set(["timestamp", "envelope", "originator_topic"]);

export class BundleError extends Error {
  constructor(step, message) {
    super(`step ${step} (${STEPS[step]}) failed: ${message}`);
    this.name = "BundleError";
    this.step = step;
  }
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && !isTime(v);
const repr = (v) => (typeof v === "string" ? `'${v}'` : JSON.stringify(v) ?? "None");
const pyStr = (v) => (v === undefined || v === null ? "None" : String(v));
const get = (obj, key, fallback) => (isObject(obj) && key in obj ? obj[key] : fallback);
const sameSet = (a, b) => a.size === b.size && [...a].every((x) => b.has(x));
// Python's == on decoded JSON: objects equal whatever the order of their keys.
const same = (a, b) => JSON.stringify(a ?? null, plain) === JSON.stringify(b ?? null, plain);
function plain(_, v) {
  if (isTime(v)) return `time:${v.aware}:${v.us}`;
  return isObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v;
}

// A stored state (docs/bundle.md, "Decoding a state"): JSON, times as
// {"_type_": "datetime_iso", "_data_": ISO 8601}, with a timestamp and an envelope.
function decodeState(state) {
  const decoded = JSON.parse(utf8decode(state), (_, value) => {
    if (isObject(value)) {
      const keys = Object.keys(value);
      if (keys.length === 2 && "_type_" in value && "_data_" in value) {
        if (value._type_ === "datetime_iso" && typeof value._data_ === "string") {
          const t = parseTime(value._data_);
          if (t === null) throw new Error(`Invalid isoformat string: ${repr(value._data_)}`);
          return t;
        }
        throw new Error(`unknown encoded value type ${repr(value._type_)}`);
      }
    }
    return value;
  });
  if (!isObject(decoded)) throw new Error("the state is not a JSON object");
  if (!isTime(decoded.timestamp)) throw new Error("the state has no datetime_iso timestamp");
  if (!decoded.timestamp.aware) throw new Error("the state's timestamp has no UTC offset");
  if (!isObject(decoded.envelope)) throw new Error("the state has no envelope");
  return decoded;
}

// Canonical JSON of a ledger statement: sorted keys, no spaces, UTF-8 as is.
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isObject(value)) {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

class Event {
  constructor(fields) { Object.assign(this, fields); this.data = {}; this.payload = {}; }
  get where() { return `event ${this.aggregateId} v${this.version} (leaf ${this.leafIndex})`; }
  get timestamp() { return this.data.timestamp; }
  get isStatement() { return this.envelope.payloadType === STATEMENT_TYPE; }
  get commandId() {
    const name = !this.isStatement ? "command_id"
      : this.topic === RECORD_ACCEPTED_TOPIC ? "command_id" : "cause";
    const value = this.payload[name];
    if (typeof value !== "string") throw new Error("the envelope names no command");
    return value;
  }
}

const iso = (t) => (t ? t.text : "-");

// ---- step 1: reading the bundle (domain/verification/bundle_parse.py) -----------------

function parseBundle(bundle) {
  const fail = (message, event) => new BundleError(1, event ? `${event.where}: ${message}` : message);
  if (!isObject(bundle)) throw fail("the bundle is not a JSON object");
  if (bundle.format !== FORMAT) throw fail(`format is ${repr(bundle.format)}, not '${FORMAT}'`);
  knownFields(bundle, BUNDLE_FIELDS, "the bundle", fail);
  const document = canonicalUuid(bundle.document);
  if (document === null) throw fail("document is not a UUID");
  if (typeof bundle.checkpoint !== "string") throw fail("checkpoint is not a signed note (text)");
  let timestamp = null;
  if ("checkpoint_timestamp" in bundle) {
    try { timestamp = b64decode(bundle.checkpoint_timestamp); } catch {
      throw fail("checkpoint_timestamp is not base64");
    }
    if (!timestamp.length) throw fail("checkpoint_timestamp is empty");
  }
  const raw = bundle.events;
  if (!Array.isArray(raw) || !raw.length) throw fail("events is not a non-empty list");
  const events = [], seen = new Set();
  raw.forEach((entry, position) => {
    const event = parseEvent(position, entry, "events", EVENT_FIELDS, fail);
    if (events.length && event.leafIndex <= events[events.length - 1].leafIndex) {
      throw fail("events are not sorted by strictly increasing leaf index", event);
    }
    const key = JSON.stringify([event.aggregateId, event.version]);
    if (seen.has(key)) throw fail("the same event appears twice", event);
    events.push(event);
    seen.add(key);
  });
  const gateway = [];
  if ("gateway" in bundle) {
    if (!Array.isArray(bundle.gateway) || !bundle.gateway.length) {
      throw fail("gateway is not a non-empty list");
    }
    bundle.gateway.forEach((entry, position) => {
      const event = parseEvent(position, entry, "gateway", GATEWAY_FIELDS, fail);
      if (gateway.length && event.leafIndex <= gateway[gateway.length - 1].event.leafIndex) {
        throw fail("gateway receipts are not sorted by strictly increasing leaf index", event);
      }
      let data = null;
      if ("data" in entry) {
        try { data = b64decode(entry.data); } catch {
          throw fail(`gateway[${position}].data is not base64`);
        }
      }
      gateway.push({ event, data });
    });
  }
  return { document, checkpoint: bundle.checkpoint, events, timestamp, gateway };
}

function parseEvent(position, entry, listName, fields, fail) {
  const where = `${listName}[${position}]`;
  if (!isObject(entry)) throw fail(`${where} is not an object`);
  knownFields(entry, fields, where, fail);
  const integer = (name, least) => {
    const value = entry[name];
    if (!Number.isInteger(value) || value < least) {
      throw fail(`${where}.${name} is not an integer >= ${least}`);
    }
    return value;
  };
  const aggregateId = canonicalUuid(entry.aggregate_id);
  if (aggregateId === null) throw fail(`${where}.aggregate_id is not a UUID`);
  const topic = entry.topic;
  if (typeof topic !== "string" || !topic) throw fail(`${where}.topic is not a string`);
  let state;
  try { state = b64decode(entry.state); } catch { throw fail(`${where}.state is not base64`); }
  const proof = entry.proof;
  if (!Array.isArray(proof) || !proof.every((h) => typeof h === "string" && HEX_HASH.test(h))) {
    throw fail(`${where}.proof is not a list of 64-digit lowercase hex hashes`);
  }
  return new Event({
    leafIndex: integer("leaf_index", 0), notificationId: integer("notification_id", 0),
    aggregateId, version: integer("version", 1), topic, state, proof: proof.map(fromHex),
  });
}

function knownFields(obj, known, where, fail) {
  const unknown = Object.keys(obj).filter((name) => !known.has(name)).sort();
  if (unknown.length) {
    throw fail(`${where} has unknown field(s) ${unknown.map((n) => `'${n}'`).join(", ")}`);
  }
}

// ---- the verifier ----------------------------------------------------------------------

// onStep({step, name, lines, unchecked}) as each step passes; resolves to
// {ok: true, summary, unchecked} or {ok: false, step, error}.
// Given a witness `policy` (policy.js parsePolicy), step 2 checks its quorum too.
export async function verifyBundle(bundle, vkey, onStep = () => {}, policy = null) {
  return new Verifier(bundle, vkey, onStep, policy).run();
}

class Verifier {
  constructor(bundle, vkey, onStep, policy) {
    Object.assign(this, { bundle, vkey, onStep, policy });
    this.streams = new Map();
    this.byKey = new Map();
    this.records = new Map();
    this.statements = new Map();
    this.agencies = new Map();
    this.receipts = 0;
    this.pdfReports = [];  // attachment.validated, checked in step 8
    this.unchecked = [];
  }

  fail(message, event) {
    return new BundleError(this.step, event ? `${event.where}: ${message}` : message);
  }

  notHere(text) {
    this.stepUnchecked.push(text);
    this.unchecked.push({ step: this.step, text });
  }

  async run() {
    const checks = [this.format, this.checkpoint, this.inclusion, this.completeness,
                    this.genesis, this.keyHistories, this.signatures, this.commands,
                    this.gateway, this.summary, this.pdfSignatures];
    for (let i = 0; i < checks.length; i++) {
      this.step = i + 1;
      this.stepUnchecked = [];
      let lines;
      try {
        lines = await checks[i].call(this);
      } catch (err) {
        const error = err instanceof BundleError ? err
          : this.fail(`${err.name || "Error"}: ${err.message}`);
        return { ok: false, step: error.step, error: error.message, unchecked: this.unchecked };
      }
      this.onStep({ step: this.step, name: STEPS[this.step],
                    lines: typeof lines === "string" ? [lines] : lines,
                    unchecked: this.stepUnchecked });
    }
    return { ok: true, summary: this.summaryData, unchecked: this.unchecked };
  }

  // ---- 1 -------------------------------------------------------------------------------

  format() {
    const parsed = parseBundle(this.bundle);
    Object.assign(this, { document: parsed.document, note: parsed.checkpoint,
                          timestampToken: parsed.timestamp, events: parsed.events,
                          gatewayEntries: parsed.gateway });
    for (const e of this.events) this.byKey.set(JSON.stringify([e.aggregateId, e.version]), e);
    return `${FORMAT}: ${this.events.length} events for document ${this.document}`;
  }

  // ---- 2 -------------------------------------------------------------------------------

  async checkpoint() {
    this.noteKey = await parseVkey(this.vkey);
    this.tree = await openCheckpoint(this.note, this.noteKey);
    let witnessed = "";
    if (this.policy) {  // QuorumError names the witnesses that cosigned and not
      witnessed = `; witness quorum '${this.policy.quorum}' met: cosigned by `
        + await checkQuorum(this.policy, this.note, this.tree.size);
    }
    const lines = [`checkpoint of size ${this.tree.size} signed by ${this.noteKey.name} `
                   + `(key hash ${this.noteKey.keyHashHex})${witnessed}`];
    if (this.timestampToken !== null) {
      lines.push(`checkpoint of size ${this.tree.size} carries an RFC 3161 time-stamp, not checked`);
      this.notHere("the checkpoint's RFC 3161 time-stamp (verify-bundle --tsa-cert)");
    }
    return lines;
  }

  // ---- 3 -------------------------------------------------------------------------------

  async inclusion() {
    for (const e of this.events) {
      if (e.leafIndex >= this.tree.size) {
        throw this.fail(`leaf index is not below the checkpoint's size ${this.tree.size}`, e);
      }
      const leaf = await eventLeafHash(e.aggregateId, e.version, e.topic, e.state);
      try {
        await verifyInclusion(e.leafIndex, this.tree.size, leaf, e.proof, this.tree.root);
      } catch (err) {
        throw this.fail(`not in the checkpointed log: ${err.message}`, e);
      }
    }
    return `${this.events.length} inclusion proofs verified against checkpoint of size ${this.tree.size}`;
  }

  // ---- 4 -------------------------------------------------------------------------------

  async completeness() {
    for (const e of this.events) {
      let payload;
      try {
        e.data = decodeState(e.state);
        e.envelope = envelopeFromDict(e.data.envelope);
        payload = JSON.parse(utf8decode(e.envelope.payload));
      } catch (err) {
        throw this.fail(`undecodable state: ${err.message}`, e);
      }
      if (!isObject(payload)) throw this.fail("the envelope's payload is not a JSON object", e);
      e.payload = payload;
      if (!this.streams.has(e.aggregateId)) this.streams.set(e.aggregateId, []);
      this.streams.get(e.aggregateId).push(e);
    }
    for (const [aggregate, stream] of this.streams) {
      stream.sort((a, b) => a.version - b.version);
      stream.forEach((e, i) => {
        const expected = i + 1;
        if (e.version !== expected) {
          throw this.fail(`record ${aggregate} lacks version ${expected} (the bundle has v${e.version} next)`, e);
        }
        if (expected > 1 && e.leafIndex <= stream[i - 1].leafIndex) {
          throw this.fail("leaf index is not after the previous version's", e);
        }
      });
      const kind = (t) => t.split(".").slice(0, 2).join(".");
      if (stream.some((ev) => kind(ev.topic) !== kind(stream[0].topic))) {
        throw this.fail(`record ${aggregate} mixes event types of different records`);
      }
    }
    for (const e of this.events) {
      if (e.topic !== RECORD_ACCEPTED_TOPIC) continue;
      const listedEvents = get(e.payload, "events", []);
      for (const listed of Array.isArray(listedEvents) ? listedEvents : [null]) {
        const aggregate = Array.isArray(listed) && listed.length >= 2 ? canonicalUuid(listed[0]) : null;
        if (aggregate === null) throw this.fail("the command record lists a malformed event", e);
        if (this.streams.has(aggregate) && !this.byKey.has(JSON.stringify([aggregate, listed[1]]))) {
          throw this.fail(`event ${aggregate} v${listed[1]}, written by command ${pyStr(e.payload.command_id)}, is missing from the bundle`, e);
        }
      }
    }
    const docStream = this.streams.get(this.document);
    if (!docStream || !docStream[0].topic.startsWith(`${DOCUMENT}.`)) {
      throw this.fail(`the events of document ${this.document} are missing`);
    }
    this.recipients = docStream.filter((e) => e.topic === `${DOCUMENT}.Sent`)
      .flatMap((e) => get(e.data, "recipients", []));
    for (const code of this.recipients) {
      if (!this.streams.has(await deliveryId(this.document, code))) {
        throw this.fail(`the document was sent to ${code} but that delivery's events are missing`);
      }
    }
    return `${this.streams.size} records, each with versions 1..n without gaps and leaf indexes `
      + `in version order; ${this.recipients.length} deliveries present`;
  }

  // ---- 5 -------------------------------------------------------------------------------

  async genesis() {
    const root = await rootId();
    const genesis = this.byKey.get(JSON.stringify([root, 1]));
    if (!genesis || genesis.topic !== GENESIS_TOPIC) {
      throw this.fail(`the genesis event ${root} v1 (${GENESIS_TOPIC}) is missing`);
    }
    if (this.streams.get(root).length !== 1) throw this.fail("the ledger root has more than one event", genesis);
    this.registrarKey = await keyFromSpec(genesis.data.registrar_key);
    this.ledgerKey = await keyFromSpec(genesis.data.ledger_key);
    if (!("origin" in genesis.data)) throw new Error("KeyError: 'origin'");
    const origin = genesis.data.origin;
    if (typeof origin !== "string" || !/^[^\s+]+$/.test(origin)) {
      throw new Error(`note key name ${repr(origin)} must have no spaces or '+'`);
    }
    if (this.ledgerKey.algorithm !== "ed25519") throw new Error("the ledger key is not an Ed25519 key");
    if (!equal(this.ledgerKey.der.slice(-32), this.noteKey.raw)) {
      throw this.fail("the genesis' ledger key is not the verifier key's key", genesis);
    }
    if (origin !== this.noteKey.name) {
      throw this.fail(`the genesis' origin ${repr(origin)} is not the verifier key's name ${repr(this.noteKey.name)}`, genesis);
    }
    this.origin = origin;
    return `genesis of ${origin}: registrar key ${this.registrarKey.keyid}, ledger key `
      + `${this.ledgerKey.keyid} is the verifier key`;
  }

  // ---- 6 -------------------------------------------------------------------------------

  async trustAnchors() {
    const id = await trustId();
    const stream = this.streams.get(id) || [];
    if (stream.length && stream[0].topic !== `${TRUST}.Opened`) {
      throw this.fail("the trust anchors' first event is not Opened", stream[0]);
    }
    for (const [aggregate, other] of this.streams) {
      if (other[0].topic.startsWith(`${TRUST}.`) && aggregate !== id) {
        throw this.fail("a trust anchors record that is not the ledger's", other[0]);
      }
    }
    const history = new Map();
    for (const e of stream.slice(1)) {
      const digest = e.data.sha256;
      if (e.topic === `${TRUST}.AnchorAdded` && !history.has(digest)) {
        if (hex(await sha256(b64decode(e.data.certificate, "trust anchor"))) !== digest) {
          throw this.fail("the anchor's fingerprint is not its certificate's", e);
        }
        history.set(digest, { added: e.timestamp, removed: null });
      } else if (e.topic === `${TRUST}.AnchorRemoved` && history.has(digest)
                 && history.get(digest).removed === null) {
        history.get(digest).removed = e.timestamp;
      } else {
        throw this.fail(`unexpected trust anchors event ${e.topic}`, e);
      }
    }
    this.anchors = history;
  }

  // The anchors in force at `at` (fingerprints): a certificate must chain to one.
  anchorsAt(at) {
    return [...this.anchors].filter(([, a]) => le(a.added, at) && (a.removed === null || lt(at, a.removed)))
      .map(([digest]) => digest);
  }

  async revocationEvidence() {
    const id = await revocationId();
    const stream = this.streams.get(id) || [];
    if (stream.length && stream[0].topic !== `${REVOCATION}.Opened`) {
      throw this.fail("the revocation evidence's first event is not Opened", stream[0]);
    }
    for (const [aggregate, other] of this.streams) {
      if (other[0].topic.startsWith(`${REVOCATION}.`) && aggregate !== id) {
        throw this.fail("a revocation evidence record that is not the ledger's", other[0]);
      }
    }
    for (const e of stream.slice(1)) {
      if (e.topic !== `${REVOCATION}.Recorded`) {
        throw this.fail(`unexpected revocation evidence event ${e.topic}`, e);
      }
    }
    if (stream.length > 1) {
      this.notHere(`${stream.length - 1} CRL/OCSP responses: their signatures, issuers and what `
                   + "they say are checked only by verify-bundle, and so are the revocations they record");
    }
  }

  async keyHistories() {
    const described = [];
    await this.trustAnchors();
    await this.revocationEvidence();
    for (const [aggregate, stream] of this.streams) {
      if (!stream[0].topic.startsWith(`${AGENCY}.`)) continue;
      const first = stream[0];
      if (first.topic !== `${AGENCY}.Registered`) throw this.fail("an agency's first event is not Registered", first);
      if (!("code" in first.data)) throw new Error("KeyError: 'code'");
      const code = first.data.code;
      if (await agencyId(code) !== aggregate) throw this.fail(`the record is not agency ${code}'s`, first);
      if (this.agencies.has(code)) throw this.fail(`agency ${code} appears twice`, first);
      const keys = new Map();
      for (const e of stream) {
        const commandId = this.commandOf(e);
        if (e.topic === `${AGENCY}.Registered` && e.version === 1) {
          for (const spec of e.data.keys) await this.addKey(keys, spec, e, commandId);
        } else if (e.topic === `${AGENCY}.KeyAdded`) {
          await this.addKey(keys, e.data.key, e, commandId);
        } else if (e.topic === `${AGENCY}.CertificateAdded`) {
          const anchors = this.anchorsAt(e.timestamp);
          if (!anchors.length) {
            throw this.fail("its certificate does not hold: no trust anchor is in force: add "
                            + "one with `docledger trust add`", e);
          }
          if (e.data.binding === REGISTRAR_BINDING && this.actor(e) !== REGISTRAR) {
            throw this.fail("a certificate bound to the agency by someone other than the registrar", e);
          }
          if (!anchors.includes(e.data.anchor)) {
            throw this.fail("the key the certificate vouches for is not the one recorded", e);
          }
          await this.addKey(keys, e.data.key, e, commandId);
          const period = keys.get(e.data.key.keyid);
          period.notBefore = parseTime(e.data.not_before);
          period.notAfter = parseTime(e.data.not_after);
          period.certified = true;
          this.notHere(`the certificate of key ${period.keyid} of ${code} (its path to anchor `
                       + `${e.data.anchor}, binding and validity): validated only by verify-bundle; `
                       + "its recorded validity period is applied here");
        } else if (e.topic === `${AGENCY}.KeyRevoked`) {
          const period = keys.get(e.data.keyid);
          if (!period || period.revokedAt) {
            throw this.fail(`revokes key ${e.data.keyid}, which is not a live key of ${code}`, e);
          }
          period.revokedAt = e.timestamp;
          period.revokedBy = commandId;
        } else {
          throw this.fail(`unexpected agency event ${e.topic}`, e);
        }
      }
      this.agencies.set(code, keys);
      const revoked = [...keys.values()].filter((p) => p.revokedAt).length;
      described.push(`${code} (${keys.size} keys, ${revoked} revoked)`);
    }
    const sender = get(this.streams.get(this.document)[0].data, "sender", null);
    const parties = [sender, ...this.recipients];
    for (const code of parties) {
      if (!this.agencies.has(code)) throw this.fail(`the key history of agency ${pyStr(code)} is missing`);
    }
    for (const code of this.agencies.keys()) {
      if (!parties.includes(code)) {
        throw this.fail(`the key history of agency ${code}, which is not a party to the document `
                        + "(sender or recipient), is in the bundle");
      }
    }
    return `key histories rebuilt: ${described.join(", ")}`;
  }

  async addKey(keys, spec, e, commandId) {
    const key = await keyFromSpec(spec);
    if (keys.has(key.keyid)) throw this.fail(`adds key ${key.keyid} a second time`, e);
    keys.set(key.keyid, { ...key, effectiveFrom: e.timestamp, addedBy: commandId,
                          revokedAt: null, revokedBy: null, notBefore: null, notAfter: null });
  }

  commandOf(e) {
    try { return e.commandId; } catch (err) { throw this.fail(err.message, e); }
  }

  actor(e) {
    const actor = e.payload.actor;
    if (!isObject(actor) || typeof actor.agency !== "string") {
      throw this.fail("the command names no acting agency", e);
    }
    return actor.agency;
  }

  // ---- 7 -------------------------------------------------------------------------------

  async signatures() {
    const counts = { ledger: 0, registrar: 0, agency: 0 };
    const checks = [];
    let refused = null;
    for (const e of this.events) {
      let key, who;
      try {
        if (e.envelope.payloadType === STATEMENT_TYPE) {
          [key, who] = [this.ledgerKey, "ledger"];
        } else if (e.envelope.payloadType === COMMAND_TYPE) {
          const actor = this.actor(e);
          [key, who] = actor === REGISTRAR ? [this.registrarKey, "registrar"]
            : [this.agencyKey(e, actor), "agency"];
        } else {
          throw this.fail(`unknown payload type ${repr(e.envelope.payloadType)}`, e);
        }
      } catch (err) {
        if (!(err instanceof BundleError)) throw err;
        refused = err;  // the events before it are still checked: theirs come first
        break;
      }
      checks.push([e, key]);
      counts[who] += 1;
    }
    const done = new Map();  // each distinct (envelope, key) once
    for (const [e, key] of checks) {
      const pair = `${key.keyid}|${e.envelope.identity}`;
      if (!done.has(pair)) {
        try { await verifyEnvelope(e.envelope, key); done.set(pair, null); } catch (err) {
          done.set(pair, err.message);
        }
      }
      if (done.get(pair) !== null) throw this.fail(done.get(pair), e);
    }
    if (refused) throw refused;
    return `${this.events.length} signatures verified: ${counts.ledger} by the ledger, `
      + `${counts.registrar} by the registrar, ${counts.agency} by agencies`;
  }

  agencyKey(e, actor) {
    const keys = this.agencies.get(actor);
    if (!keys) throw this.fail(`signed by agency ${actor}, whose key history is not in the bundle`, e);
    const commandId = this.commandOf(e);
    for (const signature of e.envelope.signatures) {
      const period = keys.get(signature.keyid);
      if (!period) continue;
      if (!validFor(period, e.timestamp, commandId)) {
        throw this.fail(`key ${signature.keyid} of ${actor} was not valid at ${e.timestamp.text} `
                        + `(${whyNot(period, e.timestamp)})`, e);
      }
      if (period.certified && !this.revocationNoted) {
        this.revocationNoted = true;
        this.notHere("whether revocation evidence says a signing certificate was revoked "
                     + "(that needs the certificate read): verify-bundle checks it");
      }
      return period;
    }
    const keyids = e.envelope.signatures.map((s) => s.keyid).join(", ");
    throw this.fail(`signed with ${keyids}, not a key of agency ${actor}`, e);
  }

  // ---- 8 -------------------------------------------------------------------------------

  async commands() {
    for (const e of this.events) {
      if (e.topic !== RECORD_ACCEPTED_TOPIC) continue;
      const statement = e.payload;
      const commandId = statement.command_id;
      if (statement.type !== "ledger.accepted" || typeof commandId !== "string") {
        throw this.fail("the command record's statement is not ledger.accepted", e);
      }
      if (e.aggregateId !== await commandRecordId(commandId) || e.version !== 1) {
        throw this.fail(`the record is not command ${commandId}'s`, e);
      }
      if (!same([e.data.command_id, e.data.events], [commandId, statement.events])) {
        throw this.fail("the record's stored fields differ from its signed statement", e);
      }
      if (!sameTime(parseTime(statement.received_at), e.timestamp)) {
        throw this.fail("the record's time is not its signed received_at", e);
      }
      this.records.set(commandId, e);
      this.statements.set(commandId, statement);
    }
    const used = new Set();
    for (const e of this.events) {
      if (e.topic === RECORD_ACCEPTED_TOPIC) continue;
      const commandId = this.commandOf(e);
      if (!this.statements.has(commandId)) {
        throw this.fail(`the record of command ${commandId} is not in the bundle`, e);
      }
      const statement = this.statements.get(commandId);
      const listed = new Set(get(statement, "events", []).filter(Array.isArray)
        .map((x) => JSON.stringify(x)));
      if (!listed.has(JSON.stringify([e.aggregateId, e.version, e.topic]))) {
        throw this.fail(`command ${commandId}'s record does not list [${e.aggregateId}, ${e.version}, ${e.topic}]`, e);
      }
      if (!sameTime(parseTime(statement.received_at), e.timestamp)) {
        throw this.fail(`the event's time ${e.timestamp.text} is not the received_at `
                        + `${pyStr(statement.received_at)} the ledger signed for command ${commandId}`, e);
      }
      if (!e.isStatement && statement.payload_sha256 !== hex(await sha256(e.envelope.payload))) {
        throw this.fail(`the envelope's payload is not the one command ${commandId} was accepted with`, e);
      }
      await this.belongs(e);
      used.add(commandId);
    }
    const unused = [...this.records.keys()].filter((c) => !used.has(c)).sort();
    if (unused.length) {
      throw this.fail(`command record ${unused[0]} explains no event of the bundle`, this.records.get(unused[0]));
    }
    return `every event belongs to the signed command it carries: ${this.records.size} command `
      + "records, each listing its events";
  }

  async belongs(e) {
    const p = e.payload;
    if (e.topic.startsWith(`${ROOT}.`)) {
      if (!writing(ROOT).has(p.type) || this.actor(e) !== REGISTRAR) {
        throw this.fail("the genesis was not written by the registrar's ledger.init", e);
      }
      return;
    }
    if (e.topic.startsWith(`${REVOCATION}.`)) {
      if (!writing(REVOCATION).has(p.type) || this.actor(e) !== REGISTRAR) {
        throw this.fail("the revocation evidence was recorded by something other than the registrar's revocation.record", e);
      }
      return;
    }
    if (e.topic.startsWith(`${TRUST}.`)) {
      if (!writing(TRUST).has(p.type) || this.actor(e) !== REGISTRAR) {
        throw this.fail("the trust anchors were changed by something other than the registrar's trust commands", e);
      }
      return;
    }
    if (e.topic.startsWith(`${AGENCY}.`)) {
      const code = this.streams.get(e.aggregateId)[0].data.code;
      const kind = p.type;
      if (!writing(AGENCY).has(kind) || get(get(p, "fields", {}), "code", null) !== code) {
        throw this.fail(`its command ${pyStr(kind)} is not about agency ${code}`, e);
      }
      const mayAct = roleOf(kind) === "KEY_HOLDER" ? [REGISTRAR, code] : [REGISTRAR];
      if (!mayAct.includes(this.actor(e))) {
        throw this.fail(`agency ${this.actor(e)} may not change agency ${code}`, e);
      }
      return;
    }
    if (e.isStatement && p.type === PDF_REPORT) {
      this.reportBelongs(e);
      return;
    }
    let target, role = null;
    if (e.isStatement) {
      const topicOf = { "delivery.arrived": "Arrived", [STAMPED]: "IncomingStamped" };
      if (e.topic !== `${DELIVERY}.${topicOf[pyStr(p.type)] ?? "?"}`) {
        throw this.fail(`unexpected ledger statement ${repr(p.type)}`, e);
      }
      if (!sameTime(parseTime(p.at), e.timestamp) || !same(p.status, e.data.status)) {
        throw this.fail("the ledger statement's time or status is not the event's", e);
      }
      if (p.type === STAMPED && !same([e.data.original, e.data.copy],
                                      [get(p.original || {}, "sha256", null), p.copy])) {
        throw this.fail("the stamped copy is not the one its statement names", e);
      }
      target = p.document;
    } else {
      const kind = p.type;
      const record = recordTopicOf(e.topic);
      const allowed = [DOCUMENT, DELIVERY].includes(record) ? writing(record) : new Set();
      if (!allowed.has(kind)) throw this.fail(`a ${repr(kind)} command cannot write ${e.topic}`, e);
      const fields = get(p, "fields", {});
      target = kind === "document.create"
        ? await documentId(this.actor(e), pyStr(get(fields, "document_id", null)))
        : get(fields, "document", null);
      role = roleOf(kind);
    }
    if (target !== this.document) {
      throw this.fail(`its command targets document ${pyStr(target)}, not ${this.document}`, e);
    }
    const created = this.streams.get(this.document)[0].data;
    if (e.topic.startsWith(`${DOCUMENT}.`)) {
      if (e.aggregateId !== this.document) throw this.fail(`a record of another document, not ${this.document}`, e);
      if (this.actor(e) !== created.sender) throw this.fail(`agency ${this.actor(e)} is not the sender`, e);
      return;
    }
    const dispatched = this.streams.get(e.aggregateId)[0].data;
    const recipient = get(dispatched, "recipient", null);
    if (get(dispatched, "document", null) !== this.document
        || await deliveryId(this.document, pyStr(recipient)) !== e.aggregateId) {
      throw this.fail(`a delivery of another document, not ${this.document}`, e);
    }
    if (e.isStatement) {
      if (p.recipient !== recipient) {
        throw this.fail(`the ledger statement names ${pyStr(p.recipient)}, not the recipient ${pyStr(recipient)}`, e);
      }
      return;
    }
    const fields = get(p, "fields", {});
    if (p.type === "document.send" && !get(fields, "recipients", []).includes(recipient)) {
      throw this.fail(`the send command does not name recipient ${pyStr(recipient)}`, e);
    }
    const expected = role === "SENDER" ? created.sender : recipient;
    if (this.actor(e) !== expected) {
      throw this.fail(`${p.type} by ${this.actor(e)}: only the ${role.toLowerCase()} ${pyStr(expected)} may do it`, e);
    }
  }

  // A PDF report is an event of this document, at its command's time, about an
  // attachment that command brought (its create or revise, by the sender).
  reportBelongs(e) {
    const p = e.payload;
    if (e.topic !== `${DOCUMENT}.AttachmentValidated` || e.aggregateId !== this.document) {
      throw this.fail("a PDF report that is not an event of the document", e);
    }
    if (p.document !== this.document) {
      throw this.fail(`the PDF report names document ${pyStr(p.document)}`, e);
    }
    if (!sameTime(parseTime(p.at), e.timestamp)) {
      throw this.fail("the PDF report's time is not the event's", e);
    }
    const attachment = p.attachment || {};
    if (!same([e.data.sha256, e.data.verdict], [get(attachment, "sha256", null), p.verdict])) {
      throw this.fail("the event's digest or verdict is not its signed report's", e);
    }
    const cause = this.streams.get(this.document)
      .find((c) => !c.isStatement && c.payload.command_id === p.cause);
    const fields = cause ? get(cause.payload, "fields", {}) : {};
    const brought = get(fields, "attachments", null) || [];
    if (!Array.isArray(brought) || !brought.some((a) => isObject(a) && same(a.sha256, get(attachment, "sha256", null)))) {
      throw this.fail(`the PDF report is about attachment ${pyStr(get(attachment, "sha256", null))}, `
                      + `which its command ${pyStr(p.cause)} did not bring`, e);
    }
    this.pdfReports.push(p);
  }

  // ---- 9 -------------------------------------------------------------------------------

  async gateway() {
    if (!this.gatewayEntries.length) return ["no gateway receipts in the bundle"];
    const eventsAt = new Set(this.events.map((e) => e.leafIndex));
    const created = this.streams.get(this.document)[0].data;
    const sources = new Set(this.events.map((e) => commandSource(e.payload)).filter((s) => s !== null));
    const parties = new Set([created.sender, ...this.recipients]);
    let withBytes = 0;
    for (const entry of this.gatewayEntries) {
      const e = entry.event;
      if (e.leafIndex >= this.tree.size || eventsAt.has(e.leafIndex)) {
        throw this.fail("leaf index is not below the checkpoint's size or is an event's", e);
      }
      const leaf = await eventLeafHash(e.aggregateId, e.version, e.topic, e.state);
      try {
        await verifyInclusion(e.leafIndex, this.tree.size, leaf, e.proof, this.tree.root);
      } catch (err) {
        throw this.fail(`receipt not in the checkpointed log: ${err.message}`, e);
      }
      const statement = await this.openReceipt(e);
      if (entry.data !== null) {
        const digest = hex(await sha256(entry.data));
        if (digest !== statement.sha256 || entry.data.length !== statement.size) {
          throw this.fail(`the bytes (${entry.data.length} bytes, sha256 ${digest}) are not the `
                          + `receipt's (${statement.size} bytes, sha256 ${statement.sha256})`, e);
        }
        withBytes += 1;
      }
      const about = sources.has(statement.sha256)
        || (statement.document_id === created.document_id && parties.has(statement.agency));
      if (!about) {
        throw this.fail(`the receipt of ${statement.sha256} is not about document ${this.document}`, e);
      }
    }
    if (withBytes) {
      this.notHere(`the trace headers, ids and addressing read again from ${withBytes} message(s)' `
                   + "bytes (an edXML reader): checked only by verify-bundle; their digest and size are checked here");
    }
    this.receipts = this.gatewayEntries.length;
    return [`${this.receipts} gateway receipts verified: signed by the ledger, in the checkpointed `
            + `log, about this document; ${withBytes} with the message's bytes, whose digest and size are the receipt's`];
  }

  async openReceipt(e) {
    const bad = (message) => this.fail(message, e);
    if (e.topic !== GATEWAY_RECORDED || e.version !== 1) {
      throw bad(`not a gateway receipt's event (${e.topic} v${e.version})`);
    }
    let data, envelope;
    try {
      data = decodeState(e.state);
      envelope = envelopeFromDict(data.envelope);
    } catch (err) {
      throw bad(`undecodable gateway receipt: ${err.message}`);
    }
    if (!sameSet(new Set(Object.keys(data)), RECEIPT_STATE_KEYS) || data.originator_topic !== GATEWAY_RECEIPT) {
      throw bad("the receipt's stored state holds other fields than ['envelope', 'originator_topic', 'timestamp']");
    }
    if (envelope.payloadType !== STATEMENT_TYPE) throw bad("the receipt is not a ledger statement");
    if (!envelope.signatures.some((s) => s.keyid === this.ledgerKey.keyid)) {
      throw bad("the receipt is not signed by the ledger key");
    }
    try { await verifyEnvelope(envelope, this.ledgerKey); } catch (err) { throw bad(err.message); }
    let statement;
    try { statement = JSON.parse(utf8decode(envelope.payload)); } catch (err) {
      throw bad(`the receipt's payload is not JSON: ${err.message}`);
    }
    if (!isObject(statement) || statement.type !== "gateway.receipt") throw bad("the statement is not a gateway.receipt");
    if (!sameSet(new Set(Object.keys(statement)), RECEIPT_KEYS)) {
      throw bad("the receipt's statement has other keys than documented");
    }
    if (!equal(utf8(canonical(statement)), envelope.payload)) {
      throw bad("the receipt's statement is not in canonical form");
    }
    if (!["in", "out"].includes(statement.direction) || !["eDoc", "status"].includes(statement.service_type)) {
      throw bad("the receipt names an unknown direction or service type");
    }
    for (const key of ["agency", "axis_id", "sha256", "at"]) {
      if (typeof statement[key] !== "string") throw bad(`the receipt's ${key} is not text`);
    }
    const at = parseTime(statement.at);
    if (at === null) throw bad("the receipt's time is not ISO 8601");
    const expected = await gatewayReceiptId(statement.direction, statement.agency,
                                            statement.axis_id, statement.sha256);
    if (expected !== e.aggregateId) {
      throw bad(`the receipt's record is ${e.aggregateId}, its statement's is ${expected}`);
    }
    if (!sameTime(at, data.timestamp)) throw bad("the receipt's time is not its statement's");
    return statement;
  }

  // ---- 10 ------------------------------------------------------------------------------

  async summary() {
    const docEvents = this.streams.get(this.document);
    const created = docEvents[0].data;
    const numbers = docEvents.filter((e) => e.topic === `${DOCUMENT}.Issued`).map((e) => e.data.number);
    const number = numbers.length ? pyStr(numbers[numbers.length - 1]) : "?";
    const statuses = {};
    for (const code of this.recipients) {
      const stream = this.streams.get(await deliveryId(this.document, code));
      const codes = stream.filter((e) => "status" in e.data).map((e) => e.data.status);
      const removed = stream[stream.length - 1].topic === `${DELIVERY}.Removed`;
      statuses[code] = removed ? "removed" : codes.length ? codes[codes.length - 1] : "";
    }
    this.summaryData = {
      document: this.document, reference: `${number}/${created.header.code_notation}`,
      sender: created.sender, statuses, events: this.events.length,
      checkpoint_size: this.tree.size, origin: this.origin, gateway_receipts: this.receipts,
      attachments: this.pdfReports.map((p) => ({
        name: p.attachment.name, sha256: p.attachment.sha256, at: p.at, verdict: p.verdict,
        signers: (p.signatures || []).map((s) => get(s.signer || {}, "subject", null)),
        rechecked: false,
      })),
    };
    const text = Object.entries(statuses).map(([c, s]) => `${c} ${s}`).join(", ");
    return `document ${this.summaryData.reference} from ${created.sender}: ${text || "not sent"}`;
  }

  // ---- 11 ------------------------------------------------------------------------------

  // Each PDF report the ledger signed, as verify-bundle lists it when the file is
  // not given; validating the PDF again (pyHanko) is verify-bundle's alone. Without
  // reports there is nothing to say, as verify-bundle says nothing.
  pdfSignatures() {
    const lines = this.pdfReports.map((p) => {
      const what = `${p.attachment.name} (sha256 ${p.attachment.sha256.slice(0, 16)}…)`;
      return `${what}: the ledger's report at ${p.at}: ${reportLines(p).join("; ")}; `
        + "not re-checked (the file was not given)";
    });
    if (lines.length) {
      this.notHere(`the signatures of ${lines.length} PDF(s), validated again as of the ledger's `
                   + "report: only by verify-bundle --attachment; the reports are listed here");
    }
    return lines;
  }
}

// One line on one signature of a PDF report (domain/evidence/pdf_report.py summary).
function signatureSummary(s) {
  const problems = [
    s.intact ? null : "not intact",
    s.trusted ? null : `untrusted (${pyStr(s.trust_problem)})`,
    [undefined, null, "none", "lta-updates"].includes(s.modification) ? null
      : `modified after signing (${pyStr(s.modification)})`,
    s.revoked ? `revoked at ${pyStr(s.revoked.at)} (${pyStr(s.revoked.reason)})` : null,
  ].filter((x) => x);
  const verdict = s.valid ? "valid" : "invalid";
  const detail = problems.length && verdict === "invalid" ? `: ${problems.join(", ")}` : "";
  return `signed by ${pyStr(get(s.signer || {}, "subject", "?"))}, ${verdict}${detail}, `
    + `coverage ${pyStr(s.coverage)}`;
}

// The report's lines for people: one per signature, or its verdict without any.
function reportLines(report) {
  const head = pyStr(get(report.attachment || {}, "name", "?"));
  const signatures = report.signatures || [];
  if (!signatures.length) {
    const why = report.problem ? ` (${report.problem})` : "";
    return [`${head}: ${pyStr(report.verdict)}${why}`];
  }
  return signatures.map((s) => `${head}: ${signatureSummary(s)}`);
}

function validFor(period, at, commandId) {
  if (period.addedBy === commandId) return false;
  const revokedAt = period.revokedBy === commandId ? null : period.revokedAt;
  return le(period.effectiveFrom, at) && (revokedAt === null || lt(at, revokedAt))
    && covers(period, at);
}

function covers(period, at) {
  return (!period.notBefore || le(period.notBefore, at)) && (!period.notAfter || le(at, period.notAfter));
}

function whyNot(period, at) {
  if (period.revokedAt && !lt(at, period.revokedAt)) return `revoked at ${period.revokedAt.text}`;
  if (!covers(period, at)) {
    return `its certificate is valid from ${iso(period.notBefore)} to ${iso(period.notAfter)}`;
  }
  return `effective from ${period.effectiveFrom.text}`;
}

function commandSource(payload) {
  const fields = isObject(payload) && "actor" in payload ? payload.fields : null;
  const source = isObject(fields) ? fields.source : null;
  const digest = isObject(source) ? source.sha256 : null;
  return typeof digest === "string" ? digest : null;
}
