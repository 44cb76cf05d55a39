// Solves the ALTCHA proof of work the server sent with a 428 (a few hundred milliseconds of
// hashing), puts the answer in the form's hidden `captcha` field and lets the person send again.
// The solver is loaded only on pages that ask for it.
export function solveCaptchas(): void {
  for (const block of Array.from(document.querySelectorAll<HTMLElement>('[data-captcha]'))) void solve(block);
}

async function solve(block: HTMLElement): Promise<void> {
  const form = block.closest('form');
  const input = block.querySelector<HTMLInputElement>('input[name="captcha"]');
  const status = block.querySelector<HTMLElement>('[data-captcha-status]');
  const submit = form?.querySelector<HTMLButtonElement>('button[type="submit"]');
  if (!form || !input || !status) return;
  status.textContent = block.dataset.working ?? '';
  if (submit) submit.disabled = true;
  try {
    const challenge = JSON.parse(block.dataset.challenge ?? 'null') as Parameters<typeof import('altcha-lib').solveChallenge>[0]['challenge'];
    const [{ solveChallenge }, { deriveKey }] = await Promise.all([import('altcha-lib'), import('altcha-lib/algorithms/web/sha')]);
    const solution = await solveChallenge({ challenge, deriveKey, timeout: 60_000 });
    if (!solution) throw new Error('no solution');
    input.value = btoa(JSON.stringify({ challenge, solution }));
    status.textContent = block.dataset.done ?? '';
    block.dataset.solved = 'true';
  } catch {
    status.textContent = block.dataset.failed ?? '';
  } finally {
    if (submit) submit.disabled = false;
  }
}
