// The admin console's enhancements. Without JavaScript every one of them is a plain page or form:
// "Reset password" opens its own page, a confirmation is skipped, the link is selected by hand.

/** "Reset password" links open the reset form as a modal dialog instead of a page. */
function resetDialogs(): void {
  const dialog = document.getElementById('reset-dialog') as HTMLDialogElement | null;
  if (!dialog || typeof dialog.showModal !== 'function') return;
  const form = dialog.querySelector('form');
  const who = dialog.querySelector<HTMLElement>('[data-reset-email]');
  if (!form) return;
  let opener: HTMLElement | null = null;
  for (const link of Array.from(document.querySelectorAll<HTMLAnchorElement>('a[data-reset-dialog]'))) {
    link.addEventListener('click', (event) => {
      event.preventDefault();
      form.reset();
      form.action = link.href; // the no-JS page posts to the same address
      if (who) who.textContent = link.dataset.email ?? '';
      opener = link;
      dialog.showModal();
      dialog.querySelector<HTMLElement>('select, input:not([type="hidden"]), button')?.focus();
    });
  }
  dialog.querySelector('[data-close]')?.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => opener?.focus());
}

/** Forms with data-confirm ask first, in a dialog built once for the page. */
function confirmForms(): void {
  const forms = Array.from(document.querySelectorAll<HTMLFormElement>('form[data-confirm]'));
  if (forms.length === 0 || typeof HTMLDialogElement === 'undefined') return;
  const dialog = document.createElement('dialog');
  dialog.className = 'dialog';
  dialog.setAttribute('aria-labelledby', 'confirm-text');
  dialog.innerHTML = '<p id="confirm-text"></p><div class="button-row"><button class="btn btn-primary" type="button" data-yes></button><button class="btn btn-secondary" type="button" data-no></button></div>';
  document.body.append(dialog);
  const text = dialog.querySelector<HTMLElement>('#confirm-text')!;
  const yes = dialog.querySelector<HTMLButtonElement>('[data-yes]')!;
  const no = dialog.querySelector<HTMLButtonElement>('[data-no]')!;
  yes.textContent = document.body.dataset.i18nConfirm ?? 'Confirm';
  no.textContent = document.body.dataset.i18nCancel ?? 'Cancel';
  let pending: HTMLFormElement | null = null;
  for (const f of forms) {
    f.addEventListener('submit', (event) => {
      if (f.dataset.confirmed === '1') return;
      event.preventDefault();
      pending = f;
      text.textContent = f.dataset.confirm ?? '';
      dialog.showModal();
      no.focus();
    });
  }
  yes.addEventListener('click', () => {
    const f = pending;
    dialog.close();
    if (!f) return;
    f.dataset.confirmed = '1';
    f.requestSubmit();
  });
  no.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    if (pending && pending.dataset.confirmed !== '1') pending.querySelector<HTMLElement>('button[type="submit"]')?.focus();
  });
}

/** Copy buttons beside read-only fields; the result is announced (aria-live). */
function copyButtons(): void {
  for (const input of Array.from(document.querySelectorAll<HTMLInputElement>('input[data-select-on-focus]'))) {
    input.addEventListener('focus', () => input.select());
  }
  for (const button of Array.from(document.querySelectorAll<HTMLButtonElement>('button[data-copy]'))) {
    const input = document.getElementById(button.dataset.copy ?? '') as HTMLInputElement | null;
    const status = document.getElementById('copy-status');
    if (!input) continue;
    button.hidden = false;
    button.addEventListener('click', async () => {
      let ok = false;
      try {
        await navigator.clipboard.writeText(input.value);
        ok = true;
      } catch {
        input.focus();
        input.select();
        ok = document.execCommand('copy');
      }
      if (status) status.textContent = (ok ? button.dataset.copied : button.dataset.copyFailed) ?? '';
    });
  }
}

/** A box in the users table's header ticks every user of the page (those the viewer may act on). */
function selectPage(): void {
  const th = document.querySelector<HTMLElement>('#users th.select');
  if (!th) return;
  const boxes = Array.from(document.querySelectorAll<HTMLInputElement>('#users input[name="ids"]:not(:disabled)'));
  const all = document.createElement('input');
  all.type = 'checkbox';
  all.setAttribute('aria-label', th.textContent?.trim() ?? '');
  all.addEventListener('change', () => { for (const b of boxes) b.checked = all.checked; });
  th.append(all);
}

export function enhanceAdmin(): void {
  selectPage();
  resetDialogs();
  confirmForms();
  copyButtons();
}
