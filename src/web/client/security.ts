// Adding a security key or passkey on /settings/security: the one thing on these pages that needs
// JavaScript, because only the browser's WebAuthn API can make the credential.
//
// The page's form comes with its button disabled and a status saying JavaScript is needed. Here
// the button is enabled (or the status says the browser cannot do WebAuthn). On submit: the
// creation options come from the JSON API (POST /api/v1/mfa/webauthn/options with the password
// typed in the form, the session cookie and the page's CSRF token in X-CSRF-Token); the browser
// makes the credential (startRegistration); its response goes into the hidden `response` field
// and the form posts as a plain form to the page route, which adds the key and shows the outcome
// (recovery codes with the first factor) like every other form here. The password is not sent
// again: the options were minted for this account after it was checked, and only they can pass.
// @simplewebauthn/browser is its own chunk, loaded only when the page has such a form.

type WebAuthnLib = typeof import('@simplewebauthn/browser');

export function enhanceSecurityKeys(): void {
  const forms = Array.from(document.querySelectorAll<HTMLFormElement>('form[data-add-security-key]'));
  if (forms.length === 0) return;
  void import('@simplewebauthn/browser').then((lib) => {
    for (const form of forms) enhance(form, lib);
  });
}

function enhance(form: HTMLFormElement, { browserSupportsWebAuthn, startRegistration, WebAuthnError }: WebAuthnLib): void {
  const status = form.querySelector<HTMLElement>('[data-key-status]');
  const button = form.querySelector<HTMLButtonElement>('[data-key-submit]');
  const password = form.elements.namedItem('currentPassword');
  const response = form.elements.namedItem('response');
  const csrf = form.elements.namedItem('_csrf');
  if (!status || !button || !(password instanceof HTMLInputElement) || !(response instanceof HTMLInputElement) || !(csrf instanceof HTMLInputElement)) return;
  // One live region, kept in place (a region that appears is not always announced); empty, it has no box.
  const say = (text: string | undefined, kind: 'info' | 'error' = 'info') => {
    status.textContent = text ?? '';
    status.className = text ? `alert alert-${kind}` : '';
  };
  if (!browserSupportsWebAuthn()) {
    say(form.dataset.unsupported);
    return;
  }
  say(undefined);
  button.disabled = false;

  /** True once the form is on its way with the browser's response; false after saying why not. */
  const register = async (): Promise<boolean> => {
    if (password.value === '') {
      say(form.dataset.wrongPassword, 'error');
      password.focus();
      return false;
    }
    const options = await fetch('/api/v1/mfa/webauthn/options', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf.value },
      body: JSON.stringify({ currentPassword: password.value }),
    });
    if (!options.ok) {
      say(refusal(form, options.status, await options.json().catch(() => ({}))), 'error');
      if (options.status === 403) password.focus();
      return false;
    }
    const optionsJSON = await options.json();
    let answer;
    try {
      answer = await startRegistration({ optionsJSON });
    } catch (err) {
      const exists = err instanceof WebAuthnError && err.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED';
      say(exists ? form.dataset.exists : form.dataset.cancelled, 'error');
      return false;
    }
    response.value = JSON.stringify(answer);
    password.value = '';
    form.submit();
    return true;
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    say(form.dataset.working);
    register().then((sent) => {
      if (!sent) button.disabled = false;
    }, () => {
      say(form.dataset.rejected, 'error');
      button.disabled = false;
    });
  });
}

/** What the options request's refusal means to the reader, in the page's language. */
function refusal(form: HTMLFormElement, status: number, body: { error?: unknown }): string | undefined {
  if (body.error === 'wrong_password') return form.dataset.wrongPassword;
  if (status === 429) return form.dataset.tooMany;
  if (body.error === 'csrf_failed' || body.error === 'unauthenticated') return form.dataset.expired;
  return form.dataset.rejected;
}
