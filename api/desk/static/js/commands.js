// Commands built in the browser exactly as domain/exchange/commands.py
// command_payload builds them (docs/commands.md), signed, and posted to the desk.
import { COMMAND_TYPE, signEnvelope } from './dsse.js';
import { loadKey } from './keystore.js';

// the schema version new commands are signed with (domain latest_schema); others 1
export const SCHEMA = {
  'document.create': 2, 'document.send': 2, 'document.revise': 2,
  'delivery.accept': 2, 'delivery.refuse': 2, 'delivery.assign': 2,
  'delivery.progress': 2, 'delivery.complete': 2, 'delivery.recall': 2,
  'delivery.answer_recall': 2,
};
export const latestSchema = (type) => SCHEMA[type] || 1;

export function newCommandId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return 'cmd-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// RFC 3339 with offset, microseconds as Python's isoformat writes them
export function isoNow(date = new Date()) {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}

// JSON as Python's json.dumps(ensure_ascii=False, separators=(",", ":")): key order
// kept, no spaces, non-ASCII as is. schemaVersion null leaves the key out (v1).
export function commandPayload({ type, commandId, issuedAt, agency, staff, fields,
                                 schemaVersion }) {
  const doc = { type };
  if (schemaVersion !== null && schemaVersion !== undefined) doc.schema_version = schemaVersion;
  doc.command_id = commandId;
  doc.issued_at = issuedAt;
  doc.actor = { agency, staff };
  doc.fields = fields;
  return new TextEncoder().encode(JSON.stringify(doc));
}

export class ProblemError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export async function postJson(url, body) {
  const response = await fetch(url, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ProblemError(response.status, answer);
  return answer;
}

// sign one command with the stored key and submit it; the outcome with its receipt
export async function submit(type, fields, { staff } = {}) {
  const key = await loadKey();
  if (!key) throw new ProblemError(401, { type: 'urn:docledger:problem:no-key',
                                          detail: 'no key in this browser: sign in' });
  const payload = commandPayload({
    type, commandId: newCommandId(), issuedAt: isoNow(), agency: key.agency,
    staff: staff || key.staff || 'văn thư', fields, schemaVersion: latestSchema(type),
  });
  const envelope = await signEnvelope(key.privateKey, key.keyid, COMMAND_TYPE, payload);
  return postJson('/desk/api/commands', envelope);
}
