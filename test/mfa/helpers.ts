// Two-step verification from a client's side: authenticator-app codes computed by otpauth at the
// app's clock, an account with an authenticator app added through the API, and the second step.
import { expect } from 'vitest';
import { STRONG, type Res, type Session, type TestApp } from '../helpers/app.ts';
import { account, type AccountOptions } from '../helpers/fixtures.ts';
import { asSession } from '../helpers/http.ts';
import * as totp from '../helpers/totp.ts';

/** The app's code for `secret`, `steps` time steps from the test app's now. */
export const codeAt = (t: TestApp, secret: string, steps = 0) => totp.codeAt(t.clock, secret, steps);
/** A six-digit code the server accepts at no step near now. */
export const wrongCode = (t: TestApp, secret: string) => totp.wrongCode(t.clock, secret);
/** To the middle of a time step: a code computed here is checked in the same step. */
export const midStep = (t: TestApp) => totp.midStep(t.clock);
/** The next time step: the code just used is spent, a new one is due. */
export const nextStep = (t: TestApp) => totp.nextStep(t.clock);

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
