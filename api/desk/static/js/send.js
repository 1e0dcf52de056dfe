// The sending form: attachments uploaded by digest, then the four signed steps
// the CLI takes (create, sign, issue, send), each built and signed here.
import { submit, ProblemError } from './commands.js';
import { sha256Hex } from './dsse.js';
import { explain } from './messages.js';

const form = document.getElementById('send');
const out = document.getElementById('send-status');

async function upload(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const sha256 = await sha256Hex(bytes);
  const response = await fetch(`/desk/api/attachments/${sha256}`, {
    method: 'PUT', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/octet-stream' }, body: bytes,
  });
  if (!response.ok) throw new ProblemError(response.status, await response.json());
  return { name: file.name, media_type: file.type || 'application/octet-stream',
           size: bytes.length, sha256 };
}

function header(f) {
  const text = (name) => f.elements[name].value.trim();
  return {
    code_notation: text('code_notation'),
    document_type: { type: Number(text('type')), type_name: text('type_name') },
    subject: f.elements.subject.value.trim(),
    promulgation_place: text('promulgation_place'),
    promulgation_date: text('promulgation_date'),
    signer: { competence: text('competence'), position: text('position'),
              full_name: text('full_name') },
    priority: Number(text('priority')),
    steering_type: Number(text('steering_type')),
    due_date: text('due_date') || null,
  };
}

function today() {
  const d = new Date();
  return `${d.getFullYear()}/${String(d.getMonth() + 1).padStart(2, '0')}/${String(d.getDate()).padStart(2, '0')}`;
}

function randomHex(n) {
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
}

// mark the inputs a problem's detail names (its field paths), their labels listed
function markInvalid(problem) {
  const detail = String(problem.detail || '');
  const named = [];
  for (const input of form.querySelectorAll('[data-field]')) {
    const hit = detail.includes(input.dataset.field);
    input.setAttribute('aria-invalid', hit ? 'true' : 'false');
    if (hit) {
      const label = form.querySelector(`label[for="${input.id}"]`) || input.closest('fieldset')?.querySelector('legend');
      if (label) named.push(label.textContent.trim());
    }
  }
  return named;
}

function say(text, kind) {
  out.className = kind;
  out.textContent = text;
}

if (form) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const agency = form.dataset.agency;
      const recipients = Array.from(form.querySelectorAll('input[name=recipients]:checked'), (i) => i.value);
      if (!recipients.length) {
        form.querySelector('#recipients').setAttribute('aria-invalid', 'true');
        throw new Error('no-recipients');
      }
      const files = [];
      for (const file of form.elements.files.files) {
        say(`… ${file.name}`, '');
        files.push(await upload(file));
      }
      const h = header(form);
      say('… document.create', '');
      const created = await submit('document.create', {
        document_id: `${agency},${today()},${randomHex(6)}`, header: h, attachments: files });
      const doc = created.result.document;
      say('… document.sign', '');
      await submit('document.sign', { document: doc, signer: h.signer }, { staff: h.signer.full_name });
      say('… document.issue', '');
      const issued = await submit('document.issue', { document: doc });
      say('… document.send', '');
      const sent = await submit('document.send', { document: doc, recipients });
      const last = Math.max(0, ...(sent.notification_ids || []));
      out.className = 'ok';
      out.textContent = form.dataset.sent.replace('{reference}', issued.result.reference) + ' ';
      const link = document.createElement('a');
      link.href = `/desk/documents/${doc}${last ? `?wait_for=${last}` : ''}`;
      link.textContent = form.dataset.open;
      link.id = 'sent-link';
      out.append(link);
    } catch (error) {
      const named = error.problem ? markInvalid(error.problem) : [];
      say(explain(error) + (named.length ? ` — ${named.join(', ')}` : ''), 'error');
      if (!error.problem) console.error(error);
    } finally {
      button.disabled = false;
    }
  });
}
