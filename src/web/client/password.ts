// The live checklist: the same policy module the server enforces, run on every keystroke, plus the
// lazily loaded zxcvbn estimator for the strength meter and the "not common" rule. The server
// re-checks everything on submit; this only tells the person early.
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
    if (value !== '') {
      for (const li of Array.from(rules.querySelectorAll<HTMLElement>('[data-rule]'))) {
        const r = result.results.find((x) => x.id === li.dataset.rule);
        const ok = r?.ok === true;
        if (li.dataset.ok !== String(ok)) {
          li.dataset.ok = String(ok);
          const state = li.querySelector('[data-rule-state]');
          if (state) state.textContent = ` (${ok ? i18n('i18nMet') : i18n('i18nNotMet')})`;
        }
      }
    }
    if (meter) {
      const bar = meter.querySelector<HTMLElement>('.meter-bar');
      const text = meter.querySelector<HTMLElement>('[data-meter-text]');
      const score = value !== '' && result.score !== undefined ? result.score : -1;
      if (bar) bar.dataset.score = String(score);
      if (text) text.textContent = score >= 0 ? levels[score] ?? '' : '—';
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
