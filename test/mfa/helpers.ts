// Two-step verification from a client's side: authenticator-app codes computed by otpauth at the
// app's clock, an account with an authenticator app added through the API, and the second step.
import { Secret, TOTP } from 'otpauth';
import { expect } from 'vitest';
import { STRONG, type Res, type Session, type TestApp } from '../helpers/app.ts';
import { account, type AccountOptions } from '../helpers/fixtures.ts';
import { asSession } from '../helpers/http.ts';

const STEP_MS = 30_000;

/** The authenticator app's code for `secret`, `steps` time steps from the app's now. */
export function codeAt(t: TestApp, secret: string, steps = 0): string {
  return new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: t.clock.now().getTime() + steps * STEP_MS });
}

/**
 * A six-digit code that is none of the codes the server accepts now (this step and one either
 * side): a wrong answer that cannot be right by chance.
 */
export function wrongCode(t: TestApp, secret: string): string {
  const right = new Set([-1, 0, 1].map((s) => codeAt(t, secret, s)));
  for (let n = 123_456; ; n = (n + 111_111) % 1_000_000) {
    const code = String(n).padStart(6, '0');
    if (!right.has(code)) return code;
  }
}

/**
 * Moves the app's clock to the middle of a time step, so a code computed here belongs to the same
 * step when the server checks it (a step boundary in between would shift a ±2 code to ±1).
 */
export function midStep(t: TestApp): void {
  const into = t.clock.now().getTime() % STEP_MS;
  t.clock.advance((STEP_MS + STEP_MS / 2 - into) % STEP_MS);
}

/** The next time step: the code just used is spent, a new one is due. */
export const nextStep = (t: TestApp) => t.clock.advance(STEP_MS);

export interface Enrolled { id: string; secret: string; recoveryCodes: string[]; }

/** Adds an authenticator app for the signed-in session (start, then confirm with a code); ends on the next step. */
export async function enrolTotp(t: TestApp, s: Session, label?: string): Promise<Enrolled> {
  midStep(t);
  const started = await t.api('POST', '/api/v1/mfa/totp', { currentPassword: STRONG }, asSession(s));
  expect(started.status, started.raw).toBe(200);
  const verified = await t.api('POST', `/api/v1/mfa/totp/${started.body.id}/verify`, { code: codeAt(t, started.body.secret), ...(label ? { label } : {}) }, asSession(s));
  expect(verified.status, verified.raw).toBe(200);
  nextStep(t);
  return { id: started.body.id, secret: started.body.secret, recoveryCodes: verified.body.recoveryCodes ?? [] };
}

/** An account (see `account`) with an authenticator app, and the session that added it. */
export async function totpAccount(t: TestApp, opts: AccountOptions = {}) {
  const a = await account(t, opts);
  const session = await t.login(a.email);
  expect(session.status, JSON.stringify(session.body)).toBe(200);
  return { ...a, session, totp: await enrolTotp(t, session) };
}

/** The first step of a sign-in with a factor: the 403 mfa_required and its ticket. */
export async function ticketFor(t: TestApp, email: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<string> {
  const res = await t.api('POST', '/api/v1/login', { email, password: STRONG, ...extra }, headers);
  expect(res.status, res.raw).toBe(403);
  expect(res.body.error).toBe('mfa_required');
  return res.body.ticket;
}

/** POST /api/v1/login/mfa. */
export const secondStep = (t: TestApp, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Res> =>
  t.api('POST', '/api/v1/login/mfa', body, headers);

/** The session of a cookie sign-in answer, as the Cookie header. */
export const cookieOf = (res: Res) => ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!).join('; ');

/** GET /api/v1/session with a cookie or a bearer token. */
export const whoAmI = (t: TestApp, auth: { cookie?: string; token?: string }) =>
  t.api('GET', '/api/v1/session', undefined, auth.token ? { authorization: `Bearer ${auth.token}` } : { cookie: auth.cookie ?? '' });

/** Audit events of a tenant (operator API), newest first. */
export async function auditOf(t: TestApp, slug: string, type?: string): Promise<{ type: string; userId: string; actor: unknown; data: Record<string, any> }[]> {
  const res = await t.op('GET', `/admin/v1/audit?tenant=${slug}${type ? `&type=${type}` : ''}`);
  expect(res.status, res.raw).toBe(200);
  return res.body.events;
}

/** The mails to `email` with this subject so far, after the worker has sent what is queued. */
export async function mailsTo(t: TestApp, email: string, subject: string | RegExp) {
  await t.drain();
  return t.mail.messages.filter((m) => m.to.includes(email) && (typeof subject === 'string' ? m.subject === subject : subject.test(m.subject)));
}
