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

// Every code the API answers with is made here, one factory per error; `grep "new AppError("`
// finds no other place (errors.test.ts checks it).
export const invalidRequest = (message: string, extra?: Record<string, unknown>) =>
  new AppError(400, 'invalid_request', message, extra);
/** invalid_request with the 4xx status Fastify chose for a request it refused before any handler (a body that is not JSON, …). */
export const malformedRequest = (status: number, message: string) => new AppError(status, 'invalid_request', message);
export const unauthenticated = (message = 'Sign in first.') => new AppError(401, 'unauthenticated', message);
export const invalidCredentials = () =>
  new AppError(401, 'invalid_credentials', 'The email or password is not right.');
export const invalidTicket = () => new AppError(401, 'invalid_ticket', 'The tenant choice expired — sign in again.');
export const accountLocked = () =>
  new AppError(403, 'account_locked', 'This account is locked: it was locked from the "this wasn\'t me" link in a security email, and everybody was signed out. An administrator of your organisation must unlock it; then you can sign in again.');
export const forbidden = (message = 'You are not allowed to do this.') => new AppError(403, 'forbidden', message);
export const csrfFailed = () =>
  new AppError(403, 'csrf_failed', 'The request did not carry a valid CSRF token or came from another origin.');
export const wrongPassword = () => new AppError(403, 'wrong_password', 'The current password is not right.');
export const notFound = (what = 'Not found.') => new AppError(404, 'not_found', what);
export const tokenInvalid = (message = 'This reset link is not valid — request a new one.') =>
  new AppError(404, 'token_invalid', message);
export const emailTaken = () => new AppError(409, 'email_taken', 'A user with this email already exists in this tenant.');
export const externalIdTaken = () => new AppError(409, 'external_id_taken', 'A user with this externalId already exists in this tenant.');
export const slugTaken = (slug: string) => new AppError(409, 'slug_taken', `A tenant with the slug "${slug}" already exists.`);
export const passwordPolicy = (failed: string[]) =>
  new AppError(422, 'password_policy', 'The new password does not meet the password rules.', { failed });
/** A webhook URL on loopback, private, link-local or metadata addresses (not in WEBHOOK_ALLOWED_HOSTS), or one that does not resolve. */
export const destinationRefused = (message: string) => new AppError(422, 'destination_refused', message);
export const endpointDisabled = () =>
  new AppError(409, 'endpoint_disabled', 'This webhook endpoint is disabled: enable it first (PATCH {"disabled": false}).');
export const importRejected = (problems: unknown[]) =>
  new AppError(422, 'import_rejected', `Nothing was imported: ${problems.length} row${problems.length === 1 ? '' : 's'} cannot be (listed in problems).`, { problems });
/** A reset token that worked once and no longer does: 410 with when it died (`at`). */
const gone = (code: 'token_expired' | 'token_used' | 'token_superseded', at: Date, message: string, extra: Record<string, unknown> = {}) =>
  new AppError(410, code, message, { at: at.toISOString(), ...extra });
export const tokenUsed = (at: Date) => gone('token_used', at, 'This link was already used.');
export const tokenExpired = (at: Date) => gone('token_expired', at, 'This link expired — request a new one.');
/** token_superseded by a newer link: one the administrator made (not emailed), or a newer email. */
export const tokenSuperseded = (at: Date, newer: 'link' | 'email') => newer === 'link'
  ? gone('token_superseded', at, 'Your administrator made a newer link, which was not emailed — ask them for it, or request a new email.', { newer })
  : gone('token_superseded', at, 'A newer link was sent — use the newest email.', { newer });
/** token_superseded because the account changed after the link was sent (new password, new email, disabled). */
export const tokenRevoked = (at: Date, reason: string | null) =>
  gone('token_superseded', at, 'The account changed since this link was sent (new password, new email or disabled) — request a new link.', { reason });
/** token_superseded: none of the link's accounts can be reset any more. */
export const tokenAccountUnavailable = (at: Date) =>
  gone('token_superseded', at, 'The account behind this link can no longer be reset — contact your administrator.', { reason: 'account_unavailable' });
export const payloadTooLarge = () => new AppError(413, 'payload_too_large', 'The request body is too large.');
export const unsupportedMediaType = () => new AppError(415, 'unsupported_media_type', 'Send the body as application/json or a form.');
export const rateLimited = (retryAfterSeconds: number) =>
  new AppError(429, 'rate_limited', `Too many requests — try again in ${inWords(retryAfterSeconds)}.`, {
    retryAfter: retryAfterSeconds,
  }, { 'retry-after': String(retryAfterSeconds) });
/** The account-wide sign-in budget is spent: browsers the address never used wait (same words for every address). */
export const signInPaused = (retryAfterSeconds: number) =>
  new AppError(429, 'rate_limited', `Too many failed sign-ins to this account: sign-in from new browsers is paused. If this is your account, we have emailed you a link to sign in from this browser (browsers you used before are not affected), or try again in ${inWords(retryAfterSeconds)}.`, {
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
// ── two-step verification (CONTRACT §7) ──
export type MfaMethod = 'totp' | 'webauthn' | 'recovery_code';
/** The password (or Google) was right; the second step is next. No session yet. */
export const mfaRequired = (ticket: string, methods: MfaMethod[], webauthn?: unknown) =>
  new AppError(403, 'mfa_required', 'Two-step verification: enter the code from your authenticator app, use your security key, or enter a recovery code.', {
    ticket, methods, ...(webauthn ? { webauthn } : {}),
  });
/** The tenant requires a second factor and the account has none: the ticket only allows adding one. */
export const mfaEnrollmentRequired = (ticket: string) =>
  new AppError(403, 'mfa_enrollment_required', 'Your organisation requires two-step verification: add an authenticator app or a security key to finish signing in.', { ticket });
/** A reset for accounts with a second factor needs it proved for each chosen account; the link stays valid. */
export const mfaRequiredForReset = (accounts: { tenant: string; methods: MfaMethod[] }[]) =>
  new AppError(403, 'mfa_required', 'This account has two-step verification: prove the second factor too (the link stays valid).', { accounts });
export const mfaInvalid = (attemptsLeft?: number) =>
  new AppError(401, 'mfa_invalid', 'That code or security key was not accepted. Codes from an authenticator app work once and change every 30 seconds.', attemptsLeft === undefined ? {} : { attemptsLeft });
export const mfaTicketInvalid = () =>
  new AppError(401, 'invalid_ticket', 'This sign-in expired or was tried too often — sign in again.');
export const mfaRequiredByTenant = () =>
  new AppError(409, 'mfa_required_by_tenant', 'Your organisation requires two-step verification: add another factor before removing this one.');
export const factorExists = () => new AppError(409, 'factor_exists', 'This security key is already registered.');
export const factorNotFound = () => new AppError(404, 'not_found', 'No such factor on this account.');
export const mfaEnrollmentExpired = () =>
  new AppError(409, 'mfa_enrollment_expired', 'This authenticator was not confirmed in time — add it again.');
export const unavailable = () =>
  new AppError(503, 'unavailable', 'The service is briefly unavailable — try again in a moment.');
/** 500: the body says nothing more (the log has the error). */
export const internal = () => new AppError(500, 'internal', 'Something went wrong on our side.');

export function inWords(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.ceil(minutes / 60);
  return `${hours} hours`;
}
