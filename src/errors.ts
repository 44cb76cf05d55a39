// One error type for everything the API can refuse; the HTTP layer maps it to
// {"error": code, "message": text}. 5xx bodies never carry details.
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const invalidRequest = (message: string, extra?: Record<string, unknown>) =>
  new AppError(400, 'invalid_request', message, extra);
export const unauthenticated = () => new AppError(401, 'unauthenticated', 'Sign in first.');
export const invalidCredentials = () =>
  new AppError(401, 'invalid_credentials', 'The email or password is not right.');
export const accountLocked = () =>
  new AppError(403, 'account_locked', 'This account is locked: it was locked from the "this wasn\'t me" link in a security email, and everybody was signed out. An administrator of your organisation must unlock it; then you can sign in again.');
export const forbidden = (message = 'You are not allowed to do this.') => new AppError(403, 'forbidden', message);
export const csrfFailed = () =>
  new AppError(403, 'csrf_failed', 'The request did not carry a valid CSRF token or came from another origin.');
export const wrongPassword = () => new AppError(403, 'wrong_password', 'The current password is not right.');
export const notFound = (what = 'Not found.') => new AppError(404, 'not_found', what);
export const conflict = (code: string, message: string) => new AppError(409, code, message);
export const passwordPolicy = (failed: string[]) =>
  new AppError(422, 'password_policy', 'The new password does not meet the password rules.', { failed });
export const rateLimited = (retryAfterSeconds: number) =>
  new AppError(429, 'rate_limited', `Too many requests — try again in ${inWords(retryAfterSeconds)}.`, {
    retryAfter: retryAfterSeconds,
  }, { 'retry-after': String(retryAfterSeconds) });
/** The account-wide sign-in budget is spent: browsers the address never used wait (same words for every address). */
export const signInPaused = (retryAfterSeconds: number) =>
  new AppError(429, 'rate_limited', `Too many failed sign-ins to this account: sign-in from new browsers is paused for ${inWords(retryAfterSeconds)}. If this is your account, we have emailed you a link to sign in from this browser; browsers you used before are not affected.`, {
    retryAfter: retryAfterSeconds, reason: 'sign_in_paused',
  }, { 'retry-after': String(retryAfterSeconds) });
const CAPTCHA_MESSAGES = {
  missing: 'Please confirm you are a person: solve the captcha, then send the form again.',
  invalid: 'The captcha answer was not accepted — solve the new one, then send the form again.',
  used: 'This captcha answer was already used — solve the new one, then send the form again.',
} as const;
export const captchaRequired = (provider: string, challenge: Record<string, unknown>, reason: keyof typeof CAPTCHA_MESSAGES = 'missing') =>
  new AppError(428, 'captcha_required', CAPTCHA_MESSAGES[reason], { provider, challenge, reason });
export const captchaUnavailable = () =>
  new AppError(503, 'captcha_unavailable', 'The captcha service is not answering — try again in a minute.', { retryAfter: 60 }, { 'retry-after': '60' });
export const passwordExpired = (days: number) =>
  new AppError(403, 'password_expired', `Your password is older than ${days} days — choose a new one with "Forgot password".`);
export const unavailable = () =>
  new AppError(503, 'unavailable', 'The service is briefly unavailable — try again in a moment.');

export function inWords(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.ceil(minutes / 60);
  return `${hours} hours`;
}
