// The adaptive captcha on the hosted forms (forgot password, sign-in). When the guard answers 428
// captcha_required, the form comes back with the challenge in a data attribute; the client script
// solves the ALTCHA proof of work (self-hosted, no third party) and fills the hidden `captcha`
// field. Without JavaScript the puzzle cannot be solved: the page says so plainly.
//
// One message at a time: the block's status line is the captcha's only message, in one of four
// states (data-state): asked (as rendered: what to do) → working → done, or failed. The client
// script moves it along and removes a page alert that repeats the "asked" sentence (data-asked).
// On the sign-in form the password is never written back into the page (it would sit in the HTML):
// with JavaScript the form is sent with fetch and keeps the typed password (client/sign-in.ts);
// without it, the asked message says that the password must be typed again.
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

/**
 * The block inside the form: one status line (asked → working → done, or failed), hidden answer.
 * `password`: the form has a password field, which comes back empty after a plain (no-script) post.
 */
export function captchaBlock(m: Messages, ask: CaptchaAsk, opts: { password?: boolean } = {}): Html {
  if (ask.provider !== 'altcha') return alert('info', m.captchaUnsupported);
  return html`<div class="captcha" data-captcha data-state="asked" data-challenge="${jsonAttr(ask.challenge)}" data-asked="${m.captchaNeeded}" data-working="${m.captchaWorking}" data-done="${m.captchaDone}"${opts.password ? html` data-done-retype="${m.captchaDoneRetype}"` : ''} data-failed="${m.captchaFailed}">
<input type="hidden" name="captcha" value="">
<p class="captcha-status" role="status" aria-live="polite" data-captcha-status>${opts.password ? m.captchaNoScriptPassword : m.captchaNoScript}</p>
</div>`;
}
