// The adaptive captcha on the hosted forms (forgot password, sign-in). When the guard answers 428
// captcha_required, the form comes back with the challenge in a data attribute; the client script
// solves the ALTCHA proof of work (self-hosted, no third party) and fills the hidden `captcha`
// field. Without JavaScript the puzzle cannot be solved: the page says so plainly.
import { AppError } from '../errors.ts';
import { html, jsonAttr, type Html } from './html.ts';
import type { Messages } from './i18n/index.ts';
import { alert } from './layout.ts';

export interface CaptchaAsk { provider: string; challenge: unknown; }

/** The 428's challenge, or null when the error is not a captcha request. */
export function captchaAsked(err: unknown): CaptchaAsk | null {
  if (!(err instanceof AppError) || err.code !== 'captcha_required') return null;
  return { provider: typeof err.extra.provider === 'string' ? err.extra.provider : 'altcha', challenge: err.extra.challenge ?? null };
}

/** 503 captcha_unavailable (the provider is not answering and CAPTCHA_FALLBACK is "block"). */
export const captchaDown = (err: unknown) => err instanceof AppError && err.code === 'captcha_unavailable';

/** The block inside the form: explanation, live status, hidden answer. */
export function captchaBlock(m: Messages, ask: CaptchaAsk): Html {
  if (ask.provider !== 'altcha') return alert('info', m.captchaUnsupported);
  return html`<div class="captcha" data-captcha data-challenge="${jsonAttr(ask.challenge)}" data-working="${m.captchaWorking}" data-done="${m.captchaDone}" data-failed="${m.captchaFailed}">
<input type="hidden" name="captcha" value="">
<p class="captcha-status" role="status" aria-live="polite" data-captcha-status>${m.captchaNoScript}</p>
</div>`;
}
