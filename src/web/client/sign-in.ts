// Sign-in without losing the typed password to the captcha (issue 11 item 12).
//
// Design: the server never writes a password into a page (it would sit in the HTML, in the browser's
// cache of the page, in a proxy's). So a 428 "captcha required" page that replaced this one would
// come back with an empty password field. With JavaScript, the sign-in form is sent with fetch
// instead of a navigation, to the same address with the same fields; the answer is the same HTML the
// plain form gets:
//   - a redirect (signed in: the cookie is already set) is followed by a normal navigation;
//   - any other page (wrong password, chooser, limits) replaces this page's content, as a
//     navigation would have, and the address becomes the form's (a reload then shows a fresh form);
//   - the captcha request (428) too, but the email and password typed here are carried over, in
//     memory only, into the new form; its captcha is then solved in the page (client/captcha.ts)
//     and the person sends again with the password still in place.
// The password is never stored anywhere. Without JavaScript the plain form posts and the 428 page
// says that the password must be typed again. If fetch itself fails, the plain post takes over.

/** Keeps the values of these fields across a captcha request. */
const KEPT = ['email', 'password'];

export function enhanceSignIn(form: HTMLFormElement, restart: () => void): void {
  let sending = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (sending) return;
    sending = true;
    const submit = form.querySelector<HTMLButtonElement>('button[type="submit"]');
    if (submit) submit.disabled = true;
    send(form, restart).catch(() => {
      sending = false;
      if (submit) submit.disabled = false;
    });
  });
}

async function send(form: HTMLFormElement, restart: () => void): Promise<void> {
  const body = new URLSearchParams();
  new FormData(form).forEach((value, name) => {
    if (typeof value === 'string') body.append(name, value);
  });
  let response: Response;
  try {
    response = await fetch(form.action, { method: 'POST', body, credentials: 'same-origin', headers: { accept: 'text/html' } });
  } catch {
    form.submit(); // the request did not go out (offline, blocked): the browser's own post shows what happens
    return;
  }
  if (response.redirected) {
    window.location.assign(response.url);
    return;
  }
  const html = await response.text();
  const next = new DOMParser().parseFromString(html, 'text/html');
  const kept = new Map<string, string>();
  if (response.status === 428) {
    for (const name of KEPT) {
      const input = form.elements.namedItem(name);
      if (input instanceof HTMLInputElement) kept.set(name, input.value);
    }
  }
  document.title = next.title;
  document.body.replaceWith(document.adoptNode(next.body));
  history.replaceState(null, '', response.url);
  const fresh = document.querySelector<HTMLFormElement>('form[data-sign-in]');
  for (const [name, value] of kept) {
    const input = fresh?.elements.namedItem(name);
    if (input instanceof HTMLInputElement) input.value = value;
  }
  restart();
  // As after a page load: the field the page wants first, or the page itself.
  (document.querySelector<HTMLElement>('[autofocus]') ?? document.getElementById('main'))?.focus();
}
