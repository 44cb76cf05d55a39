// The whole client: progressive enhancement of server-rendered forms. Every page works without it.
import { enhanceAdmin } from './admin.ts';
import { solveCaptchas } from './captcha.ts';
import { localTimes, passwordToggles } from './enhance.ts';
import { enhancePasswordForm } from './password.ts';

function start(): void {
  document.documentElement.classList.add('js');
  localTimes();
  passwordToggles();
  solveCaptchas();
  enhanceAdmin();
  for (const form of Array.from(document.querySelectorAll<HTMLFormElement>('form[data-password-form]'))) enhancePasswordForm(form);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
