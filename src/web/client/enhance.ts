// Small enhancements that need no server help: local times and show/hide password buttons.

/** Rewrites <time data-local-time> (rendered in UTC) to the reader's own time zone. */
export function localTimes(): void {
  const lang = document.documentElement.lang || 'en';
  for (const el of Array.from(document.querySelectorAll<HTMLTimeElement>('time[data-local-time]'))) {
    const at = new Date(el.dateTime);
    if (Number.isNaN(at.getTime())) continue;
    const time = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' }).format(at);
    const today = new Date().toDateString() === at.toDateString();
    const date = new Intl.DateTimeFormat(lang, { day: 'numeric', month: 'long', year: 'numeric' }).format(at);
    el.title = el.textContent ?? '';
    el.textContent = today ? time : `${time}, ${date}`;
  }
}

/** A "Show" button beside every password field. */
export function passwordToggles(): void {
  const show = document.body.dataset.i18nShow ?? 'Show';
  const hide = document.body.dataset.i18nHide ?? 'Hide';
  for (const input of Array.from(document.querySelectorAll<HTMLInputElement>('input[type="password"]'))) {
    const wrap = document.createElement('div');
    wrap.className = 'password-wrap';
    input.replaceWith(wrap);
    wrap.append(input);
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'toggle-password';
    button.textContent = show;
    button.setAttribute('aria-controls', input.id);
    button.setAttribute('aria-pressed', 'false');
    button.addEventListener('click', () => {
      const visible = input.type === 'text';
      input.type = visible ? 'password' : 'text';
      button.textContent = visible ? show : hide;
      button.setAttribute('aria-pressed', String(!visible));
    });
    wrap.append(button);
  }
}
