// The live checklist: the same policy module the server enforces, run on every keystroke, plus the
// lazily loaded zxcvbn estimator for the strength meter and the "not common" rule. The server
// re-checks everything on submit; this only tells the person early.
//   - A rule only the server can check (data-server-only: not one of the last N passwords) keeps the
//     server's verdict until the person types: then it is unknown again until the next submit.
//   - Too long is failed at once (red), not "not yet": typing more cannot fix it.
//   - The meter never praises a refused password: too long reads "Too long", and a password that
//     fails a rule is rated at most "Fair".
import { checkPassword, type PasswordPolicy, type StrengthEstimator } from '../../features/password-policy/policy.ts';
import { loadStrengthEstimator } from '../../features/password-policy/strength.ts';

const i18n = (key: string) => document.body.dataset[key] ?? '';

export function enhancePasswordForm(form: HTMLFormElement): void {
  const pw = form.querySelector<HTMLInputElement>('[data-new-password]');
  const repeat = form.querySelector<HTMLInputElement>('[data-repeat-password]');
  const rules = form.querySelector<HTMLElement>('[data-rules]');
  const meter = form.querySelector<HTMLElement>('[data-meter]');
  const mismatch = form.querySelector<HTMLElement>('[data-mismatch]');
  const confirm = form.querySelector<HTMLButtonElement>('[data-confirm]');
  if (!pw || !repeat || !rules || !confirm) return;
  let policy: PasswordPolicy;
  try {
    policy = JSON.parse(form.dataset.policy ?? '') as PasswordPolicy;
  } catch {
    return; // without a policy the page still works as a plain form
  }
  const email = form.dataset.email;
  const levels = JSON.parse(meter?.dataset.levels ?? '[]') as string[];
  const broken = rules.dataset.broken ?? i18n('i18nNotMet');
  const tenantBoxes = Array.from(form.querySelectorAll<HTMLInputElement>('input[name="tenants"]'));
  let strength: StrengthEstimator | undefined;
  let loading = false;

  const loadStrength = () => {
    if (loading || !policy.blockCommon) return;
    loading = true;
    loadStrengthEstimator().then((estimate) => {
      strength = estimate;
      update();
    }, () => {
      loading = false; // try again on the next keystroke
    });
  };

  const update = () => {
    const value = pw.value;
    const result = checkPassword(value, policy, { email, strength });
    const tooLong = result.failed.includes('max_length');
    if (value !== '') {
      for (const li of Array.from(rules.querySelectorAll<HTMLElement>('[data-rule]'))) {
        const r = result.results.find((x) => x.id === li.dataset.rule);
        const ok = li.dataset.serverOnly !== undefined ? 'unknown' : String(r?.ok === true);
        if (li.dataset.ok !== ok) {
          li.dataset.ok = ok;
          const state = li.querySelector('[data-rule-state]');
          const said = ok === 'true' ? i18n('i18nMet') : ok === 'unknown' ? '' : li.dataset.rule === 'max_length' ? broken : i18n('i18nNotMet');
          if (state) state.textContent = said ? ` (${said})` : '';
        }
      }
    }
    if (meter) {
      const bar = meter.querySelector<HTMLElement>('.meter-bar');
      const text = meter.querySelector<HTMLElement>('[data-meter-text]');
      let score = value !== '' && result.score !== undefined ? result.score : -1;
      if (!result.ok && score > 2) score = 2;
      if (value !== '' && tooLong) score = 0;
      if (bar) bar.dataset.score = String(score);
      if (text) text.textContent = value !== '' && tooLong ? meter.dataset.tooLong ?? '' : score >= 0 ? levels[score] ?? '' : '—';
    }
    const differs = repeat.value !== '' && repeat.value !== value;
    if (mismatch) mismatch.textContent = differs ? mismatch.dataset.message ?? '' : '';
    if (differs) repeat.setAttribute('aria-invalid', 'true');
    else repeat.removeAttribute('aria-invalid');
    const strengthKnown = !policy.blockCommon || result.score !== undefined;
    const tenantsOk = tenantBoxes.length === 0 || tenantBoxes.some((b) => b.checked);
    confirm.disabled = !(value !== '' && result.ok && strengthKnown && repeat.value === value && tenantsOk);
  };

  if (meter) meter.hidden = false;
  pw.addEventListener('focus', loadStrength);
  pw.addEventListener('input', () => { loadStrength(); update(); });
  repeat.addEventListener('input', update);
  for (const box of tenantBoxes) box.addEventListener('change', update);
  update();
}
