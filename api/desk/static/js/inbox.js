// The inbox follows the ledger live: the cookie-authenticated stream says a
// delivery changed, and the table body is read again with the page's filters.
const rows = document.getElementById('rows');
const live = document.getElementById('live');
let timer = null;

function idsOf(body) {
  return new Set(Array.from(body.querySelectorAll('tr[data-delivery]'), (tr) => tr.dataset.delivery));
}

async function refresh(changed) {
  const response = await fetch(rows.dataset.src, { credentials: 'same-origin' });
  if (!response.ok) return;
  const before = idsOf(rows);
  const doc = new DOMParser().parseFromString(
    `<table><tbody>${await response.text()}</tbody></table>`, 'text/html');
  const body = doc.querySelector('tbody');
  for (const tr of body.querySelectorAll('tr[data-delivery]')) {
    if (!before.has(tr.dataset.delivery) || changed.has(tr.dataset.delivery)) {
      tr.classList.add('fresh');
    }
  }
  rows.replaceChildren(...Array.from(body.children));
  rows.dispatchEvent(new CustomEvent('desk:refreshed', { bubbles: true }));
}

if (rows && window.EventSource) {
  const changed = new Set();
  const source = new EventSource('/desk/api/stream');
  source.addEventListener('open', () => { live.textContent = live.dataset.on; live.className = 'note ok'; });
  source.addEventListener('error', () => { live.textContent = live.dataset.off; live.className = 'note error'; });
  source.addEventListener('delivery', (event) => {
    try { changed.add(JSON.parse(event.data).delivery_id); } catch { /* not ours */ }
    clearTimeout(timer);
    timer = setTimeout(() => {
      const these = new Set(changed);
      changed.clear();
      refresh(these).catch(() => {});
    }, 150);
  });
}
