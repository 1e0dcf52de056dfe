// The document page: the clerk's actions, signed here and submitted; attachments
// downloaded and checked against the SHA-256 the signed document names.
import { submit, ProblemError } from './commands.js';
import { sha256Hex } from './dsse.js';
import { explain } from './messages.js';

const actions = document.getElementById('actions');
const status = document.getElementById('act-status');

function fieldsFor(act, form, doc) {
  const value = (name) => (form.elements[name] ? form.elements[name].value.trim() : '');
  switch (act) {
    case 'accept': return { document: doc };
    case 'refuse': return { document: doc, reason: value('reason') };
    case 'assign': return {
      document: doc, lead_unit: value('lead_unit'), officer: value('officer') || null,
      co_units: value('co_units') ? value('co_units').split(',').map((s) => s.trim()).filter(Boolean) : [],
      instructions: value('instructions'), due_date: value('due_date') || null,
    };
    case 'progress': case 'complete': return { document: doc, note: value('note') };
    case 'agree_recall': return { document: doc, agree: true, reason: value('reason') };
    case 'refuse_recall': return { document: doc, agree: false, reason: value('reason') };
    default: throw new Error(act);
  }
}

const COMMAND = { accept: 'delivery.accept', refuse: 'delivery.refuse', assign: 'delivery.assign',
  progress: 'delivery.progress', complete: 'delivery.complete',
  agree_recall: 'delivery.answer_recall', refuse_recall: 'delivery.answer_recall' };

if (actions) {
  actions.addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const act = form.dataset.act;
    for (const b of actions.querySelectorAll('button')) b.disabled = true;
    status.className = '';
    status.textContent = '…';
    try {
      const outcome = await submit(COMMAND[act], fieldsFor(act, form, actions.dataset.document));
      const number = outcome.result && outcome.result.incoming_number;
      status.className = 'ok';
      status.textContent = number ? actions.dataset.accepted.replace('{n}', number)
                                  : actions.dataset.done;
      const at = new URL(window.location.href);
      const last = Math.max(0, ...(outcome.notification_ids || []));
      if (last) at.searchParams.set('wait_for', String(last));
      setTimeout(() => window.location.assign(at.pathname + at.search), number ? 1500 : 400);
    } catch (error) {
      status.className = 'error';
      status.textContent = explain(error instanceof ProblemError ? error : error);
      for (const b of actions.querySelectorAll('button')) b.disabled = false;
    }
  });
}

for (const button of document.querySelectorAll('button.check')) {
  button.addEventListener('click', async () => {
    const out = button.nextElementSibling;
    out.textContent = '…';
    try {
      const response = await fetch(`/desk/api/attachments/${button.dataset.sha256}`,
                                   { credentials: 'same-origin' });
      if (!response.ok) throw new ProblemError(response.status, await response.json());
      const bytes = new Uint8Array(await response.arrayBuffer());
      const ok = (await sha256Hex(bytes)) === button.dataset.sha256;
      out.textContent = ok ? out.dataset.ok : out.dataset.bad;
      out.className = `digest ${ok ? 'ok' : 'error'}`;
      if (ok) {
        const link = document.createElement('a');
        link.href = URL.createObjectURL(new Blob([bytes]));
        link.download = button.dataset.name;
        link.click();
        setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      }
    } catch (error) {
      out.textContent = explain(error);
      out.className = 'digest error';
    }
  });
}
