// The one catch block of the page handlers. A feature call refused the form: the page answers
// with the form again and the reason in the reader's language — never JSON, never a stack. What
// every form shares is here (a rate limit, the captcha); what a handler says about one error code
// stays at its call, in `codes` and `status`. Anything else is rethrown, and the plugin's error
// handler (plugin.ts) makes it a page.
import type { FastifyReply } from 'fastify';
import { AppError } from '../errors.ts';
import { captchaAsked, captchaDown, type CaptchaAsk } from './captcha.ts';
import type { Messages } from './i18n/index.ts';
import { errorHeaders, rateLimitMessage } from './respond.ts';

/** What a page handler answers with. */
export type Answer = FastifyReply | Promise<FastifyReply>;

export interface PageErrorCases {
  /** The form again with one message: a rate limit (429) and, on a form with a captcha, the captcha service down (503). */
  again: (text: string, status: number) => Answer;
  /** The 429's sentence when this handler has a better one than "too many requests" (sign-in paused). */
  limited?: (err: AppError) => string | undefined;
  /** A form with a captcha: 428 shows the captcha block, which is then the page's only message. */
  captcha?: (ask: CaptchaAsk) => Answer;
  /** What this handler says for these error codes. */
  codes?: Record<string, (err: AppError) => Answer>;
  /** What it says for any other error with this status (after `codes`): the outcome page of a dead reset proof, … */
  status?: Record<number, (err: AppError) => Answer>;
}

/** Answers a refused feature call with a page, or rethrows what the handler does not expect. */
export function pageError(m: Messages, reply: FastifyReply, err: unknown, cases: PageErrorCases): Answer {
  const limited = rateLimitMessage(m, err);
  if (limited) {
    errorHeaders(reply, err); // Retry-After
    return cases.again(cases.limited?.(err as AppError) ?? limited, 429);
  }
  if (cases.captcha) {
    const ask = captchaAsked(err);
    if (ask) return cases.captcha(ask);
    if (captchaDown(err)) {
      errorHeaders(reply, err);
      return cases.again(m.captchaUnavailable, 503);
    }
  }
  if (!(err instanceof AppError)) throw err;
  const byCode = cases.codes && Object.hasOwn(cases.codes, err.code) ? cases.codes[err.code] : undefined;
  if (byCode) return byCode(err);
  const byStatus = cases.status && Object.hasOwn(cases.status, err.status) ? cases.status[err.status] : undefined;
  if (byStatus) return byStatus(err);
  throw err;
}

/** The password rules a 422 password_policy names as failed. */
export function failedRules(err: AppError): string[] {
  return Array.isArray(err.extra.failed) ? err.extra.failed.filter((x): x is string => typeof x === 'string') : [];
}
