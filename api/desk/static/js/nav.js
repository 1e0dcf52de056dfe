// Every page: the sign-out button (ends the session, forgets the key in this browser).
import { forgetKey } from './keystore.js';

const button = document.getElementById('signout');
if (button) {
  button.addEventListener('click', async () => {
    await fetch('/desk/api/signout', { method: 'POST', credentials: 'same-origin' });
    await forgetKey().catch(() => {});
    window.location.assign('/desk/signin');
  });
}
