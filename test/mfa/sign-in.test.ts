// Issue 13, items 2 and 3 through the JSON API: the second step of sign-in (its ticket's rules,
// a code accepted once, drift), the tenant chooser, and a tenant that requires a factor.
import { describe, expect, it } from 'vitest';
import { STRONG, useTestApp } from '../helpers/app.ts';
import { account, oneAddressTwoTenants, tenantWithAdmin } from '../helpers/fixtures.ts';
import { asSession, expectError } from '../helpers/http.ts';
import { send } from '../abuse/helpers.ts';
import { codeAt, cookieOf, enrolTotp, midStep, nextStep, secondStep, ticketFor, totpAccount, whoAmI, wrongCode } from './helpers.ts';

const t = useTestApp();

describe('the second step of sign-in', () => {
  it('the right password answers 403 mfa_required with a ticket and the methods, and no session', async () => {
    const a = await totpAccount(t);
    const res = await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG });
    expectError(res, 403, 'mfa_required');
    expect(res.body).toEqual({ error: 'mfa_required', message: expect.any(String), ticket: expect.stringMatching(/^[\w-]{40,}$/), methods: ['totp', 'recovery_code'] });
    expect(res.headers['set-cookie']).toBeUndefined();
    // A wrong password says nothing about the factor.
    expectError(await t.api('POST', '/api/v1/login', { email: a.email, password: 'Wrong-Password-99!' }), 401, 'invalid_credentials');
  });

  it('a code signs in: 200 as login, the session cookie, amr ["pwd","otp"]; the factor\'s lastUsedAt moves', async () => {
    const a = await totpAccount(t);
    const before = (await t.api('GET', '/api/v1/mfa', undefined, asSession(a.session))).body.factors[0].lastUsedAt;
    midStep(t);
    const done = await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code: codeAt(t, a.totp.secret) });
    expect(done.status, done.raw).toBe(200);
    expect(done.body).toMatchObject({ user: { id: a.id, email: a.email }, tenant: { slug: a.slug }, expiresAt: expect.any(String) });
    expect(done.body.token).toBeUndefined();
    const me = await whoAmI(t, { cookie: cookieOf(done) });
    expect(me.body).toMatchObject({ user: { id: a.id }, authMethod: 'password', amr: ['pwd', 'otp'] });
    const after = (await t.api('GET', '/api/v1/mfa', undefined, asSession(a.session))).body.factors[0].lastUsedAt;
    expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
  });

  it('tokenType bearer: a token and no cookie', async () => {
    const a = await totpAccount(t);
    const done = await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code: codeAt(t, a.totp.secret), tokenType: 'bearer' });
    expect(done.status).toBe(200);
    expect(done.body.token).toMatch(/^[\w-]{20,}$/);
    expect(done.headers['set-cookie']).toBeUndefined();
    expect((await whoAmI(t, { token: done.body.token })).body.amr).toEqual(['pwd', 'otp']);
  });

  it('a code is accepted once: the same code on a new ticket is refused (401 mfa_invalid), the next step\'s code works', async () => {
    const a = await totpAccount(t);
    midStep(t);
    const code = codeAt(t, a.totp.secret);
    expect((await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code })).status).toBe(200);
    const replay = await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code });
    expectError(replay, 401, 'mfa_invalid');
    expect(replay.body.attemptsLeft).toBe(4);
    // An older step's code (still inside the drift window) is refused too: steps only move forward.
    nextStep(t);
    const ticket = await ticketFor(t, a.email);
    expectError(await secondStep(t, { ticket, method: 'totp', code: codeAt(t, a.totp.secret, -1) }), 401, 'mfa_invalid');
    expect((await secondStep(t, { ticket, method: 'totp', code: codeAt(t, a.totp.secret) })).status).toBe(200);
  });

  it('the code enrolment confirmed with cannot sign in', async () => {
    const a = await account(t);
    const s = await t.login(a.email);
    midStep(t);
    const started = await t.api('POST', '/api/v1/mfa/totp', { currentPassword: STRONG }, asSession(s));
    const code = codeAt(t, started.body.secret);
    expect((await t.api('POST', `/api/v1/mfa/totp/${started.body.id}/verify`, { code }, asSession(s))).status).toBe(200);
    expectError(await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code }), 401, 'mfa_invalid');
  });

  it('one step of drift either way is accepted; two are not', async () => {
    const a = await totpAccount(t);
    for (const steps of [-2, 2]) {
      midStep(t);
      expectError(await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code: codeAt(t, a.totp.secret, steps) }), 401, 'mfa_invalid');
    }
    // +1 first: a later -1 would be an older step than one already used.
    nextStep(t);
    midStep(t);
    expect((await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code: codeAt(t, a.totp.secret, -1) })).status).toBe(200);
    expect((await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code: codeAt(t, a.totp.secret, 1) })).status).toBe(200);
  });

  it('the ticket works once', async () => {
    const a = await totpAccount(t);
    const ticket = await ticketFor(t, a.email);
    expect((await secondStep(t, { ticket, method: 'totp', code: codeAt(t, a.totp.secret) })).status).toBe(200);
    nextStep(t);
    expectError(await secondStep(t, { ticket, method: 'totp', code: codeAt(t, a.totp.secret) }), 401, 'invalid_ticket');
    expectError(await secondStep(t, { ticket, method: 'recovery_code', code: a.totp.recoveryCodes[0] }), 401, 'invalid_ticket');
  });

  it('the ticket dies on its fifth wrong answer: the sixth answer is invalid_ticket even with the right code', async () => {
    const a = await totpAccount(t);
    const ticket = await ticketFor(t, a.email);
    midStep(t);
    const left: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await secondStep(t, { ticket, method: 'totp', code: wrongCode(t, a.totp.secret) });
      expectError(res, 401, 'mfa_invalid');
      left.push(res.body.attemptsLeft);
    }
    expect(left).toEqual([4, 3, 2, 1, 0]);
    expectError(await secondStep(t, { ticket, method: 'totp', code: codeAt(t, a.totp.secret) }), 401, 'invalid_ticket');
    // The account is not locked: a new sign-in works.
    expect((await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code: codeAt(t, a.totp.secret) })).status).toBe(200);
  });

  it('a wrong recovery code counts as a wrong answer too', async () => {
    const a = await totpAccount(t);
    const ticket = await ticketFor(t, a.email);
    const res = await secondStep(t, { ticket, method: 'recovery_code', code: 'aaaaa-aaaaa' });
    expectError(res, 401, 'mfa_invalid');
    expect(res.body.attemptsLeft).toBe(4);
    expect((await secondStep(t, { ticket, method: 'recovery_code', code: a.totp.recoveryCodes[0] })).status).toBe(200);
  });

  it('the ticket expires after 5 minutes', async () => {
    const a = await totpAccount(t);
    const ticket = await ticketFor(t, a.email);
    t.clock.advance(5 * 60_000 + 1_000);
    midStep(t);
    expectError(await secondStep(t, { ticket, method: 'totp', code: codeAt(t, a.totp.secret) }), 401, 'invalid_ticket');
  });

  it('the ticket is bound to the client: another user agent or another IP gets invalid_ticket and does not wear it out', async () => {
    const a = await totpAccount(t);
    const ua = { 'user-agent': 'Agent-Desk/1.0' };
    const ticket = await ticketFor(t, a.email, {}, ua);
    expectError(await secondStep(t, { ticket, method: 'totp', code: codeAt(t, a.totp.secret) }, { 'user-agent': 'Other/2.0' }), 401, 'invalid_ticket');
    expectError(await secondStep(t, { ticket, method: 'totp', code: codeAt(t, a.totp.secret) }), 401, 'invalid_ticket'); // no user agent
    const elsewhere = await send(t, 'POST', '/api/v1/login/mfa', { ticket, method: 'totp', code: codeAt(t, a.totp.secret) }, { ip: '203.0.113.77', headers: ua });
    expectError(elsewhere, 401, 'invalid_ticket');
    // Those answers were never checked: the code is still unused and the ticket still has its five.
    const wrong = await secondStep(t, { ticket, method: 'totp', code: wrongCode(t, a.totp.secret) }, ua);
    expect(wrong.body.attemptsLeft).toBe(4);
    expect((await secondStep(t, { ticket, method: 'totp', code: codeAt(t, a.totp.secret) }, ua)).status).toBe(200);
  });

  it('a garbage ticket is invalid_ticket; a half answer is 400', async () => {
    expectError(await secondStep(t, { ticket: 'x'.repeat(43), method: 'totp', code: '123456' }), 401, 'invalid_ticket');
    expectError(await secondStep(t, { ticket: 'short', method: 'totp', code: '123456' }), 401, 'invalid_ticket');
    const a = await totpAccount(t);
    const ticket = await ticketFor(t, a.email);
    expectError(await secondStep(t, { ticket, method: 'totp' }), 400, 'invalid_request');
    expectError(await secondStep(t, { ticket, code: '123456' }), 400, 'invalid_request');
    expectError(await secondStep(t, { ticket, method: 'webauthn' }), 400, 'invalid_request');
    expectError(await secondStep(t, { ticket, method: 'sms', code: '123456' }), 400, 'invalid_request');
    // An answer-less call on a sign-in ticket is a wrong answer, not a sign-in.
    expectError(await secondStep(t, { ticket }), 401, 'mfa_invalid');
  });

  it('a double submit of one right answer signs in once; the other is told the ticket is spent, not that the code was wrong', async () => {
    const a = await totpAccount(t);
    const ticket = await ticketFor(t, a.email);
    const body = { ticket, method: 'totp', code: codeAt(t, a.totp.secret) };
    const answers = await Promise.all([secondStep(t, body), secondStep(t, body)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 401]);
    expect(answers.find((r) => r.status === 401)!.body.error).toBe('invalid_ticket');
  });

  it('a signed_in audit line says the second factor and the amr', async () => {
    const a = await totpAccount(t);
    expect((await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code: codeAt(t, a.totp.secret) })).status).toBe(200);
    const events = (await t.op('GET', `/admin/v1/tenants/${a.slug}/audit?userId=${a.id}&type=signed_in`)).body.events;
    expect(events[0].data).toMatchObject({ method: 'password', secondFactor: 'totp', amr: ['pwd', 'otp'] });
  });
});

describe('the global login with the tenant chooser', () => {
  it('choosing the tenant whose account has a factor leads to its second step; the other signs in with the password', async () => {
    const { a, b, email } = await oneAddressTwoTenants(t);
    const s = await t.login(email, STRONG, { tenant: a.slug });
    const totp = await enrolTotp(t, s);
    const chooser = await t.api('POST', '/api/v1/login', { email, password: STRONG });
    expect(chooser.status).toBe(300);
    expect(chooser.body.tenants.map((x: { slug: string }) => x.slug).sort()).toEqual([a.slug, b.slug].sort());
    const chosen = await t.api('POST', '/api/v1/login', { email, password: STRONG, tenant: a.slug, ticket: chooser.body.ticket });
    expectError(chosen, 403, 'mfa_required');
    const done = await secondStep(t, { ticket: chosen.body.ticket, method: 'totp', code: codeAt(t, totp.secret), tokenType: 'bearer' });
    expect(done.status).toBe(200);
    expect(done.body.tenant.slug).toBe(a.slug);

    const again = await t.api('POST', '/api/v1/login', { email, password: STRONG });
    const other = await t.api('POST', '/api/v1/login', { email, password: STRONG, tenant: b.slug, ticket: again.body.ticket });
    expect(other.status).toBe(200);
    expect(other.body.tenant.slug).toBe(b.slug);
  });
});

describe('a tenant that requires a factor', () => {
  const enrol = async (ticket: string, headers: Record<string, string> = {}) => {
    midStep(t);
    const started = await t.api('POST', '/api/v1/mfa/totp', {}, { 'x-mfa-ticket': ticket, ...headers });
    expect(started.status, started.raw).toBe(200);
    const verified = await t.api('POST', `/api/v1/mfa/totp/${started.body.id}/verify`, { code: codeAt(t, started.body.secret) }, { 'x-mfa-ticket': ticket, ...headers });
    expect(verified.status, verified.raw).toBe(200);
    return { secret: started.body.secret as string, recoveryCodes: verified.body.recoveryCodes as string[], id: started.body.id as string };
  };

  it('everyone: the password answers 403 mfa_enrollment_required; the ticket adds an app without the password, then signs in', async () => {
    const a = await account(t);
    expect((await t.op('PATCH', `/admin/v1/tenants/${a.slug}`, { mfa: 'everyone' })).status).toBe(200);
    const login = await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG });
    expectError(login, 403, 'mfa_enrollment_required');
    expect(login.body).toEqual({ error: 'mfa_enrollment_required', message: expect.any(String), ticket: expect.any(String) });
    expect(login.headers['set-cookie']).toBeUndefined();
    const ticket = login.body.ticket;

    // Nothing to sign in with yet.
    expectError(await secondStep(t, { ticket }), 403, 'mfa_enrollment_required');
    expect((await t.api('GET', '/api/v1/mfa', undefined, { 'x-mfa-ticket': ticket })).body).toEqual({ factors: [], recoveryCodesLeft: 0, required: true });

    const added = await enrol(ticket);
    expect(added.recoveryCodes).toHaveLength(10);
    const done = await secondStep(t, { ticket, tokenType: 'bearer' });
    expect(done.status, done.raw).toBe(200);
    expect((await whoAmI(t, { token: done.body.token })).body.amr).toEqual(['pwd', 'otp']);
    // Spent.
    expectError(await secondStep(t, { ticket }), 401, 'invalid_ticket');
    expectError(await t.api('GET', '/api/v1/mfa', undefined, { 'x-mfa-ticket': ticket }), 401, 'invalid_ticket');
    // From now on, the usual second step.
    nextStep(t);
    expect((await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code: codeAt(t, added.secret) })).status).toBe(200);
  });

  it('the enrolment ticket only enrols: no removing factors, no new recovery codes, no other routes, not from another client', async () => {
    const a = await account(t, { tenant: { mfa: 'everyone' } });
    const ticket = (await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG })).body.ticket;
    const added = await enrol(ticket);
    const h = { 'x-mfa-ticket': ticket };
    expectError(await t.api('DELETE', `/api/v1/mfa/${added.id}`, {}, h), 401, 'unauthenticated');
    expectError(await t.api('POST', '/api/v1/mfa/recovery-codes', {}, h), 401, 'unauthenticated');
    expectError(await t.api('GET', '/api/v1/session', undefined, h), 401, 'unauthenticated');
    expectError(await t.api('POST', '/api/v1/mfa/totp', {}, { ...h, 'user-agent': 'Other/1.0' }), 401, 'invalid_ticket');
    expect((await t.api('GET', '/api/v1/mfa', undefined, h)).body.factors).toHaveLength(1);
  });

  it('a sign-in (mfa_required) ticket cannot enrol', async () => {
    const a = await totpAccount(t);
    const ticket = await ticketFor(t, a.email);
    expectError(await t.api('POST', '/api/v1/mfa/totp', {}, { 'x-mfa-ticket': ticket }), 401, 'invalid_ticket');
  });

  it('admins: the admin is walked through enrolment, the member signs in with the password', async () => {
    const { slug, adminEmail, memberEmail } = await tenantWithAdmin(t);
    expect((await t.op('PATCH', `/admin/v1/tenants/${slug}`, { mfa: 'admins' })).body).toMatchObject({ mfa: 'admins' });
    expect((await t.api('POST', '/api/v1/login', { email: memberEmail, password: STRONG })).status).toBe(200);
    const admin = await t.api('POST', '/api/v1/login', { email: adminEmail, password: STRONG });
    expectError(admin, 403, 'mfa_enrollment_required');
  });

  it('a tenant can be created requiring a factor', async () => {
    const { slug } = await t.tenant(undefined, { mfa: 'everyone', trustIdpMfa: true });
    expect((await t.op('GET', `/admin/v1/tenants/${slug}`)).body).toMatchObject({ mfa: 'everyone', trustIdpMfa: true });
    const a = await account(t, { slug });
    expectError(await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG }), 403, 'mfa_enrollment_required');
    expectError(await t.op('PATCH', `/admin/v1/tenants/${slug}`, { mfa: 'always' }), 400, 'invalid_request');
  });

  it('the last factor cannot be removed (409 mfa_required_by_tenant); one of two can', async () => {
    const a = await totpAccount(t);
    const second = await enrolTotp(t, a.session, 'Spare');
    expect((await t.op('PATCH', `/admin/v1/tenants/${a.slug}`, { mfa: 'everyone' })).status).toBe(200);
    const del = (id: string) => t.api('DELETE', `/api/v1/mfa/${id}`, { currentPassword: STRONG }, asSession(a.session));
    expect((await del(second.id)).status).toBe(204);
    expectError(await del(a.totp.id), 409, 'mfa_required_by_tenant');
    expect((await t.api('GET', '/api/v1/mfa', undefined, asSession(a.session))).body.factors).toHaveLength(1);
  });
});
