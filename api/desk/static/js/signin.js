// Sign-in: import the key file, sign the server's challenge, open the session.
import { bytesToBase64 } from './dsse.js';
import { importPem, loadKey, saveKey } from './keystore.js';
import { postJson, ProblemError } from './commands.js';
import { explain } from './messages.js';

const utf8 = new TextEncoder();

// the exact text signed: docs/desk.md "Sign-in"
export function signinText(origin, agency, keyid, challenge) {
  return utf8.encode(`docledger-desk-signin/v1\n${origin}\n${agency}\n${keyid}\n${challenge}\n`);
}

export async function signIn(agency, key) {
  const response = await fetch(`/desk/api/challenge?agency=${encodeURIComponent(agency)}`,
                               { credentials: 'same-origin' });
  const answer = await response.json();
  if (!response.ok) throw new ProblemError(response.status, answer);
  const text = signinText(answer.origin, agency, key.keyid, answer.challenge);
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key.privateKey, text));
  return postJson('/desk/api/session', { agency, keyid: key.keyid,
                                         challenge: answer.challenge,
                                         signature: bytesToBase64(sig) });
}

async function onSubmit(event) {
  event.preventDefault();
  const form = event.target;
  const status = document.getElementById('signin-status');
  status.textContent = '…';
  try {
    const agency = form.agency.value.trim();
    const staff = form.staff.value.trim() || 'văn thư';
    let key;
    const file = form.keyfile.files[0];
    if (file) {
      key = { ...(await importPem(await file.text())), agency, staff };
    } else {
      const stored = await loadKey();
      if (!stored || stored.agency !== agency) throw new Error('no-key');
      key = { ...stored, staff };
    }
    await signIn(agency, key);
    await saveKey(key);
    window.location.assign(form.dataset.next || '/desk/inbox');
  } catch (error) {
    status.textContent = explain(error);
    status.classList.add('error');
  }
}

const form = document.getElementById('signin');
if (form) {
  form.addEventListener('submit', onSubmit);
  loadKey().then((stored) => {
    if (stored && !form.agency.value) form.agency.value = stored.agency;
  }).catch(() => {});
}
