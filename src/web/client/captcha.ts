// Solves the ALTCHA proof of work the server sent with a 428 (a few hundred milliseconds of
// hashing), puts the answer in the form's hidden `captcha` field and lets the person send again.
// The solver is loaded only on pages that ask for it.
//
// One message at a time (web/captcha.ts): the block's status line goes asked → working → done, or
// failed, and is the only message about the captcha. A red alert above the form that repeats the
// "asked" sentence is removed as soon as the check starts, so it never stands beside "Done".
export function solveCaptchas(root: ParentNode = document): void {
  for (const block of Array.from(root.querySelectorAll<HTMLElement>('[data-captcha]'))) void solve(block);
}

type State = 'asked' | 'working' | 'done' | 'failed';

function show(block: HTMLElement, status: HTMLElement, state: State, text: string): void {
  block.dataset.state = state;
  status.textContent = text;
}

/** The page's own alert with the "asked" sentence (the forgot page renders one above its form). */
function dropRepeatedAlert(block: HTMLElement): void {
  const asked = block.dataset.asked?.trim();
  if (!asked) return;
  for (const el of Array.from(document.querySelectorAll<HTMLElement>('.alert'))) {
    if (el.textContent?.trim() === asked) el.remove();
  }
}

async function solve(block: HTMLElement): Promise<void> {
  const form = block.closest('form');
  const input = block.querySelector<HTMLInputElement>('input[name="captcha"]');
  const status = block.querySelector<HTMLElement>('[data-captcha-status]');
  const submit = form?.querySelector<HTMLButtonElement>('button[type="submit"]');
  if (!form || !input || !status) return;
  dropRepeatedAlert(block);
  show(block, status, 'working', block.dataset.working ?? '');
  if (submit) submit.disabled = true;
  try {
    const challenge = JSON.parse(block.dataset.challenge ?? 'null') as Parameters<typeof import('altcha-lib').solveChallenge>[0]['challenge'];
    const [{ solveChallenge }, { deriveKey }] = await Promise.all([import('altcha-lib'), import('altcha-lib/algorithms/web/sha')]);
    const solution = await solveChallenge({ challenge, deriveKey, timeout: 60_000 });
    if (!solution) throw new Error('no solution');
    input.value = btoa(JSON.stringify({ challenge, solution }));
    block.dataset.solved = 'true';
    // A sign-in form that came back from a plain post has an empty password field: say so.
    const password = form.querySelector<HTMLInputElement>('input[name="password"]');
    const retype = block.dataset.doneRetype !== undefined && password !== null && password.value === '';
    show(block, status, 'done', (retype ? block.dataset.doneRetype : block.dataset.done) ?? '');
  } catch {
    show(block, status, 'failed', block.dataset.failed ?? '');
  } finally {
    if (submit) submit.disabled = false;
  }
}
