// The auditor's page: pin the ledger's verifier key, open a bundle (a file, or by
// document id with the session), and show each step of the verification as the
// browser runs it (verify/bundle.js, the steps of `docledger verify-bundle`).
import { STEPS, verifyBundle } from './verify/bundle.js';
import { parseVkey } from './verify/note.js';
import { parsePolicy } from './verify/policy.js';
import { explain } from './messages.js';

const PINNED = 'docledger.audit.pinned-vkey';
const POLICY = 'docledger.audit.pinned-policy';
const steps = document.getElementById('steps');
const verdict = document.getElementById('verdict');
const pinned = document.getElementById('pinned');
const LAST = Object.keys(STEPS).length;

function line(list, text, cls) {
  const item = document.createElement('li');
  item.textContent = text;
  if (cls) item.className = cls;
  list.appendChild(item);
}

function mark(step, status, lines = [], notHere = []) {
  const item = steps.querySelector(`li[data-step="${step}"]`);
  item.dataset.status = status;
  const label = status === 'not-reached' ? steps.dataset.notReached : steps.dataset[status];
  item.querySelector('.step-status').textContent = label;
  const detail = item.querySelector('.step-detail');
  detail.replaceChildren();
  for (const text of lines) line(detail, text, status === 'failed' ? 'error' : '');
  for (const text of notHere) line(detail, `${steps.dataset.notHere}: ${text}`, 'not-here');
}

function reset() {
  for (const n of Object.keys(STEPS)) mark(n, 'pending');
  verdict.dataset.verdict = '';
  verdict.dataset.step = '';
  document.getElementById('verdict-text').textContent = '';
}

function conclude(kind, text, step = '') {
  verdict.dataset.verdict = kind;
  verdict.dataset.step = String(step);
  document.getElementById('verdict-text').textContent = text;
}

// The pinned key (and witness policy, if one is pinned): {vkey, policy} or null.
async function showPinned() {
  const vkey = localStorage.getItem(PINNED);
  const policyText = localStorage.getItem(POLICY);
  if (!vkey) { pinned.textContent = pinned.dataset.none; pinned.className = 'error'; return null; }
  try {
    const key = await parseVkey(vkey);
    const policy = policyText ? await parsePolicy(policyText) : null;
    pinned.textContent = `${pinned.dataset.current}: ${key.name} (key hash ${key.keyHashHex})`
      + (policy ? `; ${pinned.dataset.policy} '${policy.quorum}'` : '');
    pinned.className = 'ok';
    document.getElementById('vkey').value = vkey;
    document.getElementById('policy').value = policyText || '';
    return { vkey, policy };
  } catch (error) {
    pinned.textContent = `${pinned.dataset.none} (${error.message})`;
    pinned.className = 'error';
    return null;
  }
}

async function run(text) {
  reset();
  const pin = await showPinned();
  if (!pin) { conclude('failed', pinned.dataset.none); return; }
  let bundle;
  try { bundle = JSON.parse(text); } catch (error) {
    mark(1, 'failed', [`step 1 (format) failed: ${error.message}`]);
    for (let n = 2; n <= LAST; n++) mark(n, 'not-reached');
    conclude('failed', `${verdict.dataset.unreadable}: ${error.message}`, 1);
    return;
  }
  await verify(bundle, pin);
}

async function verify(bundle, { vkey, policy }) {
  const result = await verifyBundle(bundle, vkey, (s) => {
    mark(s.step, s.unchecked.length ? 'partial' : 'ok', s.lines, s.unchecked);
  }, policy);
  if (result.ok) {
    const partial = result.unchecked.length > 0;
    conclude(partial ? 'partial' : 'ok', partial ? verdict.dataset.partial : verdict.dataset.ok);
    return;
  }
  mark(result.step, 'failed', [result.error]);
  for (let n = result.step + 1; n <= LAST; n++) mark(n, 'not-reached');
  conclude('failed', `${verdict.dataset.failed}: ${result.error}`, result.step);
}

document.getElementById('pin').addEventListener('submit', async (event) => {
  event.preventDefault();
  const vkey = document.getElementById('vkey').value.trim();
  const policyText = document.getElementById('policy').value;
  try {
    await parseVkey(vkey);
    if (policyText.trim()) await parsePolicy(policyText);
    localStorage.setItem(PINNED, vkey);
    if (policyText.trim()) localStorage.setItem(POLICY, policyText);
    else localStorage.removeItem(POLICY);
  } catch (error) {
    pinned.textContent = `${pinned.dataset.none} (${error.message})`;
    pinned.className = 'error';
    return;
  }
  await showPinned();
});

document.getElementById('unpin').addEventListener('click', async () => {
  localStorage.removeItem(PINNED);
  localStorage.removeItem(POLICY);
  document.getElementById('vkey').value = '';
  document.getElementById('policy').value = '';
  await showPinned();
});

document.getElementById('bundle-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (file) await run(await file.text());
});

document.getElementById('by-id').addEventListener('submit', async (event) => {
  event.preventDefault();
  const id = document.getElementById('document-id').value.trim();
  reset();
  try {
    const response = await fetch(`/desk/api/bundle/${encodeURIComponent(id)}`,
                                 { credentials: 'same-origin' });
    const text = await response.text();
    if (!response.ok) {
      let problem = {};
      try { problem = JSON.parse(text); } catch { /* not a problem document */ }
      const error = new Error(problem.detail || response.statusText);
      error.status = response.status;
      error.problem = problem;
      throw error;
    }
    await run(text);
  } catch (error) {
    conclude('failed', explain(error));
  }
});

reset();
showPinned();
