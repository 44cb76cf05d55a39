// The whole client: progressive enhancement of server-rendered forms. Every page works without it.
import { enhanceAdmin } from './admin.ts';
import { solveCaptchas } from './captcha.ts';
import { localTimes, passwordToggles } from './enhance.ts';
import { csvFilePicker } from './import.ts';
import { enhancePasswordForm } from './password.ts';
import { securityKeys } from './second-step.ts';
import { enhanceSecurityKeys } from './security.ts';
import { enhanceSignIn } from './sign-in.ts';

function start(): void {
  document.documentElement.classList.add('js');
  localTimes();
  passwordToggles();
  solveCaptchas();
  enhanceAdmin();
  csvFilePicker();
  securityKeys();
  enhanceSecurityKeys();
  for (const form of Array.from(document.querySelectorAll<HTMLFormElement>('form[data-password-form]'))) enhancePasswordForm(form);
  // Sign-in replaces the page's content with the server's answer, then runs this again on it.
  for (const form of Array.from(document.querySelectorAll<HTMLFormElement>('form[data-sign-in]'))) enhanceSignIn(form, start);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
