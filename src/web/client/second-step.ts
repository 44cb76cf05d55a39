// The security-key button of the second step (sign-in, the tenant's required enrolment, the reset
// page). The server renders the button hidden and, in its place, the sentence that a security key
// needs JavaScript: the other ways (a code, a recovery code) work without this script. Here the
// button appears, asks the browser for the key with the options the server put in `data-options`,
// writes the browser's JSON answer into the block's hidden field, and either sends the form
// (sign-in, enrolment) or says the key is ready (the reset form still wants the new password).
// The @simplewebauthn/browser chunk is loaded only on pages that have such a block.
type Mode = 'get' | 'create';

export function securityKeys(root: ParentNode = document): void {
  const blocks = Array.from(root.querySelectorAll<HTMLElement>('[data-security-key]'));
  if (blocks.length === 0) return;
  void import('@simplewebauthn/browser').then((lib) => {
    for (const block of blocks) enhance(block, lib);
  });
}

function enhance(block: HTMLElement, lib: typeof import('@simplewebauthn/browser')): void {
  const button = block.querySelector<HTMLButtonElement>('button[data-security-key-button]');
  const status = block.querySelector<HTMLElement>('[data-security-key-status]');
  const input = block.querySelector<HTMLInputElement>('input[type="hidden"][data-security-key-answer]');
  const form = block.closest('form');
  if (!button || !status || !input || !form) return;
  const say = (text: string | undefined) => { status.textContent = text ?? ''; };
  if (!lib.browserSupportsWebAuthn()) return say(block.dataset.unsupported);
  say('');
  button.hidden = false;
  button.addEventListener('click', async () => {
    button.disabled = true;
    say(block.dataset.working);
    try {
      const optionsJSON = JSON.parse(block.dataset.options ?? 'null');
      const mode = block.dataset.securityKey as Mode;
      const answer = mode === 'create' ? await lib.startRegistration({ optionsJSON }) : await lib.startAuthentication({ optionsJSON });
      input.value = JSON.stringify(answer);
      if (block.dataset.submit !== undefined) {
        form.requestSubmit();
        return;
      }
      say(block.dataset.ready);
    } catch {
      input.value = '';
      say(block.dataset.failed);
    }
    button.disabled = false;
  });
}
