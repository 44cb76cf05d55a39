// Issue 13, items 1, 5 and 6 through the JSON API: adding an authenticator app, the factor list,
// removing a factor, recovery codes, and what the owner hears and the audit keeps of each change.
import { describe, expect, it } from 'vitest';
import { STRONG, STRONG2, useTestApp } from '../helpers/app.ts';
import { account } from '../helpers/fixtures.ts';
import { asSession, expectError, ORIGIN } from '../helpers/http.ts';
import { auditOf, codeAt, cookieOf, enrolTotp, mailsTo, midStep, nextStep, secondStep, ticketFor, totpAccount, whoAmI, wrongCode } from './helpers.ts';

const t = useTestApp();

const start = (headers: Record<string, string>, body: unknown = { currentPassword: STRONG }) => t.api('POST', '/api/v1/mfa/totp', body, headers);
const verify = (id: string, body: Record<string, unknown>, headers: Record<string, string>) => t.api('POST', `/api/v1/mfa/totp/${id}/verify`, body, headers);
const status = (headers: Record<string, string>) => t.api('GET', '/api/v1/mfa', undefined, headers);

describe('adding an authenticator app', () => {
  it('starts pending with a secret, an otpauth URL and a server-rendered QR code; a code confirms it and the first factor brings ten recovery codes', async () => {
    const a = await account(t);
    const s = await t.login(a.email);
    midStep(t);
    const started = await start(asSession(s));
    expect(started.status).toBe(200);
    expect(started.body.secret).toMatch(/^[A-Z2-7]{32}$/);
    const url = new URL(started.body.otpauthUrl);
    expect(url.protocol).toBe('otpauth:');
    expect(url.searchParams.get('secret')).toBe(started.body.secret);
    expect(url.searchParams.get('algorithm')).toBe('SHA1');
    expect(url.searchParams.get('digits')).toBe('6');
    expect(url.searchParams.get('period')).toBe('30');
    expect(decodeURIComponent(url.pathname)).toContain(a.email);
    expect(started.body.qrSvg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);

    // Pending is not a factor yet: the list is empty and sign-in needs no second step.
    expect((await status(asSession(s))).body).toEqual({ factors: [], recoveryCodesLeft: 0, required: false });
    expect((await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG })).status).toBe(200);

    const done = await verify(started.body.id, { code: codeAt(t, started.body.secret), label: 'My phone' }, asSession(s));
    expect(done.status, done.raw).toBe(200);
    expect(done.body.factor).toMatchObject({ id: started.body.id, type: 'totp', label: 'My phone', createdAt: expect.any(String), lastUsedAt: expect.any(String) });
    expect(done.body.recoveryCodes).toHaveLength(10);
    for (const c of done.body.recoveryCodes) expect(c).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    expect(new Set(done.body.recoveryCodes).size).toBe(10);
  });

  it('a wrong code is refused and the factor stays pending; the right one then works', async () => {
    const a = await account(t);
    const s = await t.login(a.email);
    midStep(t);
    const started = await start(asSession(s));
    expectError(await verify(started.body.id, { code: wrongCode(t, started.body.secret) }, asSession(s)), 401, 'mfa_invalid');
    expectError(await verify(started.body.id, { code: 'abcdef' }, asSession(s)), 401, 'mfa_invalid');
    expect((await status(asSession(s))).body.factors).toEqual([]);
    expect((await verify(started.body.id, { code: codeAt(t, started.body.secret) }, asSession(s))).status).toBe(200);
  });

  it('a pending factor is confirmed once: a second confirmation answers 409 mfa_enrollment_expired', async () => {
    const a = await account(t);
    const s = await t.login(a.email);
    midStep(t);
    const started = await start(asSession(s));
    expect((await verify(started.body.id, { code: codeAt(t, started.body.secret) }, asSession(s))).status).toBe(200);
    nextStep(t);
    expectError(await verify(started.body.id, { code: codeAt(t, started.body.secret) }, asSession(s)), 409, 'mfa_enrollment_expired');
    expect((await status(asSession(s))).body.factors).toHaveLength(1);
  });

  it('a pending factor not confirmed within 15 minutes is gone: 409 mfa_enrollment_expired, even with the right code', async () => {
    const a = await account(t);
    const s = await t.login(a.email);
    const started = await start(asSession(s));
    t.clock.advance(15 * 60_000 + 1_000);
    midStep(t);
    expectError(await verify(started.body.id, { code: codeAt(t, started.body.secret) }, asSession(s)), 409, 'mfa_enrollment_expired');
    expect((await status(asSession(s))).body.factors).toEqual([]);
  });

  it('another account\'s pending factor is not found', async () => {
    const mine = await account(t);
    const theirs = await account(t);
    const [s, other] = [await t.login(mine.email), await t.login(theirs.email)];
    midStep(t);
    const started = await start(asSession(s));
    expectError(await verify(started.body.id, { code: codeAt(t, started.body.secret) }, asSession(other)), 404, 'not_found');
  });

  it('needs the password again: none → 400, a wrong one → 403 wrong_password', async () => {
    const a = await account(t);
    const s = await t.login(a.email);
    const none = await start(asSession(s), {});
    expectError(none, 400, 'invalid_request');
    expect(none.body.field).toBe('currentPassword');
    expectError(await start(asSession(s), { currentPassword: STRONG2 }), 403, 'wrong_password');
    expectError(await t.api('POST', '/api/v1/mfa/webauthn/options', { currentPassword: STRONG2 }, asSession(s)), 403, 'wrong_password');
    expectError(await t.api('POST', '/api/v1/mfa/recovery-codes', { currentPassword: STRONG2 }, asSession(s)), 403, 'wrong_password');
  });

  it('a cookie session needs the CSRF token and the Origin; a bearer token needs neither; no session → 401', async () => {
    const a = await account(t);
    const s = await t.login(a.email);
    expectError(await start({ cookie: s.cookie, ...ORIGIN }), 403, 'csrf_failed');
    expectError(await start({ cookie: s.cookie, 'x-csrf-token': s.csrf, origin: 'https://evil.example' }), 403, 'csrf_failed');
    expectError(await start({}), 401, 'unauthenticated');
    const bearer = await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG, tokenType: 'bearer' });
    expect((await start({ authorization: `Bearer ${bearer.body.token}` })).status).toBe(200);
  });
});

describe('the factor list', () => {
  it('lists id, type, label, createdAt and lastUsedAt — never a secret — with the recovery codes left and whether the tenant requires a factor', async () => {
    const a = await totpAccount(t);
    const second = await enrolTotp(t, a.session, 'Tablet');
    expect(second.recoveryCodes).toEqual([]); // codes come with the first factor only
    const res = await status(asSession(a.session));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      factors: [
        { id: a.totp.id, type: 'totp', label: 'Authenticator app', createdAt: expect.any(String), lastUsedAt: expect.any(String) },
        { id: second.id, type: 'totp', label: 'Tablet', createdAt: expect.any(String), lastUsedAt: expect.any(String) },
      ],
      recoveryCodesLeft: 10,
      required: false,
    });
    expect(res.raw).not.toContain(a.totp.secret);
    expect(res.raw).not.toContain(second.secret);
    for (const c of a.totp.recoveryCodes) expect(res.raw).not.toContain(c);
  });

  it('says required when the tenant requires a factor of everyone, or of admins and the account is one', async () => {
    const admin = await totpAccount(t, { role: 'admin' });
    const member = await account(t, { slug: admin.slug });
    const memberSession = await t.login(member.email);
    expect((await status(asSession(admin.session))).body.required).toBe(false);
    expect((await t.op('PATCH', `/admin/v1/tenants/${admin.slug}`, { mfa: 'admins' })).status).toBe(200);
    expect((await status(asSession(admin.session))).body.required).toBe(true);
    expect((await status(asSession(memberSession))).body.required).toBe(false);
    expect((await t.op('PATCH', `/admin/v1/tenants/${admin.slug}`, { mfa: 'everyone' })).status).toBe(200);
    expect((await status(asSession(memberSession))).body.required).toBe(true);
  });
});

describe('removing a factor', () => {
  it('needs the password; the last one takes the recovery codes with it, and sign-in is password-only again', async () => {
    const a = await totpAccount(t);
    const del = (id: string, body: unknown) => t.api('DELETE', `/api/v1/mfa/${id}`, body, asSession(a.session));
    expectError(await del(a.totp.id, {}), 400, 'invalid_request');
    expectError(await del(a.totp.id, { currentPassword: STRONG2 }), 403, 'wrong_password');
    expectError(await del('00000000-0000-4000-8000-000000000000', { currentPassword: STRONG }), 404, 'not_found');
    expect((await del(a.totp.id, { currentPassword: STRONG })).status).toBe(204);
    expect((await status(asSession(a.session))).body).toMatchObject({ factors: [], recoveryCodesLeft: 0 });
    const login = await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG });
    expect(login.status).toBe(200);
    expectError(await del(a.totp.id, { currentPassword: STRONG }), 404, 'not_found');
  });

  it('another account\'s factor is not found, and stays', async () => {
    const a = await totpAccount(t);
    const other = await account(t);
    const s = await t.login(other.email);
    expectError(await t.api('DELETE', `/api/v1/mfa/${a.totp.id}`, { currentPassword: STRONG }, asSession(s)), 404, 'not_found');
    expect((await status(asSession(a.session))).body.factors).toHaveLength(1);
  });
});

describe('recovery codes', () => {
  it('one signs in (amr pwd+otp) and works once; upper case, spaces and a missing dash are accepted', async () => {
    const a = await totpAccount(t);
    const [first, second] = a.totp.recoveryCodes as [string, string];
    const done = await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'recovery_code', code: first, tokenType: 'bearer' });
    expect(done.status, done.raw).toBe(200);
    expect((await whoAmI(t, { token: done.body.token })).body.amr).toEqual(['pwd', 'otp']);

    const again = await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'recovery_code', code: first });
    expectError(again, 401, 'mfa_invalid');

    const sloppy = ` ${second.replace('-', '').toUpperCase()} `;
    expect((await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'recovery_code', code: sloppy })).status).toBe(200);
    expect((await status(asSession(a.session))).body.recoveryCodesLeft).toBe(8);
  });

  it('the owner is emailed each time one is used, with how many are left', async () => {
    const a = await totpAccount(t);
    for (const code of a.totp.recoveryCodes.slice(0, 2)) {
      expect((await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'recovery_code', code })).status).toBe(200);
    }
    const mails = await mailsTo(t, a.email, 'A recovery code was used');
    expect(mails.map((m) => /You have (\d+) recovery codes? left/.exec(m.text)?.[1]).sort()).toEqual(['8', '9']);
    for (const m of mails) for (const c of a.totp.recoveryCodes) expect(m.text + m.html).not.toContain(c);
    const used = await auditOf(t, a.slug, 'mfa_recovery_code_used');
    expect(used.map((e) => e.data.left)).toEqual([8, 9]);
  });

  it('once all are used, recovery_code is no longer offered', async () => {
    const a = await totpAccount(t);
    for (const code of a.totp.recoveryCodes) {
      expect((await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'recovery_code', code })).status).toBe(200);
    }
    const login = await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG });
    expect(login.body.methods).toEqual(['totp']);
    expect((await status(asSession(a.session))).body.recoveryCodesLeft).toBe(0);
  });

  it('regenerating needs the password, gives ten new codes and kills the old set', async () => {
    const a = await totpAccount(t);
    expect((await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'recovery_code', code: a.totp.recoveryCodes[0] })).status).toBe(200);
    const renewed = await t.api('POST', '/api/v1/mfa/recovery-codes', { currentPassword: STRONG }, asSession(a.session));
    expect(renewed.status).toBe(200);
    expect(renewed.body.recoveryCodes).toHaveLength(10);
    expect(renewed.body.recoveryCodes.filter((c: string) => a.totp.recoveryCodes.includes(c))).toEqual([]);
    expect((await status(asSession(a.session))).body.recoveryCodesLeft).toBe(10);
    expectError(await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'recovery_code', code: a.totp.recoveryCodes[1] }), 401, 'mfa_invalid');
    expect((await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'recovery_code', code: renewed.body.recoveryCodes[0] })).status).toBe(200);
  });

  it('an account without a factor has no recovery codes to regenerate', async () => {
    const a = await account(t);
    expectError(await t.api('POST', '/api/v1/mfa/recovery-codes', { currentPassword: STRONG }, asSession(await t.login(a.email))), 404, 'not_found');
  });
});

describe('every factor change emails the owner and is audited', () => {
  it('added, recovery codes renewed, removed: one notice each, with the lock link, and one audit line each', async () => {
    const a = await totpAccount(t);
    const other = await enrolTotp(t, a.session, 'Backup phone');
    expect((await t.api('POST', '/api/v1/mfa/recovery-codes', { currentPassword: STRONG }, asSession(a.session))).status).toBe(200);
    expect((await t.api('DELETE', `/api/v1/mfa/${other.id}`, { currentPassword: STRONG }, asSession(a.session))).status).toBe(204);

    const added = await mailsTo(t, a.email, 'Two-step verification: a new sign-in factor was added');
    expect(added).toHaveLength(2);
    expect(added.map((m) => /\("([^"]+)"\) was added/.exec(m.text)?.[1]).sort()).toEqual(['Authenticator app', 'Backup phone']);
    expect(added[0]!.text).toContain(a.slug.toUpperCase());
    const renewed = await mailsTo(t, a.email, 'Two-step verification: new recovery codes');
    expect(renewed).toHaveLength(1);
    const removed = await mailsTo(t, a.email, 'Two-step verification: a sign-in factor was removed');
    expect(removed).toHaveLength(1);
    expect(removed[0]!.text).toContain('("Backup phone") was removed');
    for (const m of [...added, ...renewed, ...removed]) {
      expect(m.text).toMatch(/https:\/\/keyturn\.test\/\S+/); // "this wasn't me": lock the account
      expect(m.text).not.toContain(a.totp.secret);
      expect(m.text).not.toContain(other.secret);
    }

    const events = (await auditOf(t, a.slug)).filter((e) => e.userId === a.id && e.type.startsWith('mfa_'));
    expect(events.map((e) => e.type)).toEqual(['mfa_factor_removed', 'mfa_recovery_codes_renewed', 'mfa_factor_added', 'mfa_factor_added']);
    expect(events[0]!.data).toMatchObject({ factorId: other.id, type: 'totp', label: 'Backup phone' });
    expect(events[3]!.data).toMatchObject({ factorId: a.totp.id, type: 'totp' });
    expect(events[0]!.actor).toMatchObject({ type: 'user', id: a.id });
    expect(JSON.stringify(events)).not.toContain(a.totp.secret);
  });
});

describe('GET /api/v1/session reports amr', () => {
  it('["pwd"] for a password alone; ["pwd","otp"] after an authenticator-app code', async () => {
    const plain = await account(t);
    expect((await whoAmI(t, { cookie: (await t.login(plain.email)).cookie })).body.amr).toEqual(['pwd']);
    const a = await totpAccount(t);
    expect((await whoAmI(t, { cookie: a.session.cookie })).body.amr).toEqual(['pwd']); // signed in before the factor was added
    const done = await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code: codeAt(t, a.totp.secret) });
    expect(done.status).toBe(200);
    const me = await whoAmI(t, { cookie: cookieOf(done) });
    expect(me.body).toMatchObject({ authMethod: 'password', amr: ['pwd', 'otp'] });
  });
});
