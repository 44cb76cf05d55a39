// Issue 13, items 4 and 5 through the JSON API: a reset link proves the email, never the second
// factor; and a lost phone, reset by the tenant admin or the operator with a reason.
import { describe, expect, it } from 'vitest';
import { STRONG, STRONG2, useTestApp } from '../helpers/app.ts';
import { account, oneAddressTwoTenants, tenantWithAdmin } from '../helpers/fixtures.ts';
import { asSession, expectError } from '../helpers/http.ts';
import { auditOf, codeAt, enrolTotp, mailsTo, midStep, nextStep, secondStep, ticketFor, totpAccount, whoAmI, wrongCode } from './helpers.ts';

const t = useTestApp();
const reset = (body: Record<string, unknown>) => t.api('POST', '/api/v1/password/reset', body);
const inspect = (body: Record<string, unknown>) => t.api('POST', '/api/v1/password/reset/inspect', body);
const WEAK = 'Password123!';
/** A third password: the reset refuses one the account had before (password history). */
const STRONG3 = 'Brisk-Lantern-58$';

describe('a reset never bypasses the second factor', () => {
  it('inspect shows the factor\'s methods for an account that has one, null otherwise', async () => {
    const a = await totpAccount(t);
    const seen = await inspect({ token: (await t.resetMail(a.email)).token });
    expect(seen.status).toBe(200);
    expect(seen.body.accounts).toEqual([{ tenant: a.slug, tenantName: a.slug.toUpperCase(), mfa: { methods: ['totp', 'recovery_code'] } }]);
    const plain = await account(t);
    expect((await inspect({ token: (await t.resetMail(plain.email)).token })).body.accounts[0].mfa).toBeNull();
  });

  it('without the factor: 403 mfa_required listing the account and its methods; the link stays valid and then works with the factor', async () => {
    const a = await totpAccount(t);
    const { token } = await t.resetMail(a.email);
    const refused = await reset({ token, password: STRONG2 });
    expectError(refused, 403, 'mfa_required');
    expect(refused.body.accounts).toEqual([{ tenant: a.slug, methods: ['totp', 'recovery_code'] }]);
    expect(refused.body.ticket).toBeUndefined();
    expect((await inspect({ token })).status).toBe(200);
    expect((await t.login(a.email, STRONG2)).status).toBe(401); // nothing changed

    const done = await reset({ token, password: STRONG2, mfa: { tenant: a.slug, method: 'totp', code: codeAt(t, a.totp.secret) } });
    expect(done.status, done.raw).toBe(200);
    expect(done.body).toEqual({ updated: [a.slug] });
    expectError(await inspect({ token }), 410, 'token_used');
    // The factor is still there: the new password leads to the second step.
    expectError(await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG2 }), 403, 'mfa_required');
  });

  it('a wrong factor: 401 mfa_invalid, the link stays valid, nothing changes', async () => {
    const a = await totpAccount(t);
    const { token } = await t.resetMail(a.email);
    midStep(t);
    const wrong = await reset({ token, password: STRONG2, mfa: { tenant: a.slug, method: 'totp', code: wrongCode(t, a.totp.secret) } });
    expectError(wrong, 401, 'mfa_invalid');
    expectError(await reset({ token, password: STRONG2, mfa: { tenant: a.slug, method: 'recovery_code', code: 'zzzzz-zzzzz' } }), 401, 'mfa_invalid');
    expect((await inspect({ token })).status).toBe(200);
    expect((await t.login(a.email, STRONG2)).status).toBe(401);
    expect((await reset({ token, password: STRONG2, mfa: { tenant: a.slug, method: 'totp', code: codeAt(t, a.totp.secret) } })).status).toBe(200);
  });

  it('the factor must be the chosen account\'s: an answer for another tenant does not count', async () => {
    const a = await totpAccount(t);
    const { token } = await t.resetMail(a.email);
    expectError(await reset({ token, password: STRONG2, mfa: { tenant: 'elsewhere', method: 'totp', code: codeAt(t, a.totp.secret) } }), 403, 'mfa_required');
  });

  it('a recovery code works for a reset, once, and the owner hears how many are left', async () => {
    const a = await totpAccount(t);
    const code = a.totp.recoveryCodes[3]!;
    const first = await t.resetMail(a.email);
    expect((await reset({ token: first.token, password: STRONG2, mfa: { tenant: a.slug, method: 'recovery_code', code } })).status).toBe(200);
    const second = await t.resetMail(a.email);
    expectError(await reset({ token: second.token, password: STRONG3, mfa: { tenant: a.slug, method: 'recovery_code', code } }), 401, 'mfa_invalid');
    const used = await mailsTo(t, a.email, 'A recovery code was used');
    expect(used).toHaveLength(1);
    expect(used[0]!.text).toContain('You have 9 recovery codes left');
  });

  it('by the emailed code (not the link) the same rule holds', async () => {
    const a = await totpAccount(t);
    const { code } = await t.resetMail(a.email);
    expectError(await reset({ email: a.email, code, password: STRONG2 }), 403, 'mfa_required');
    expect((await reset({ email: a.email, code, password: STRONG2, mfa: [{ tenant: a.slug, method: 'totp', code: codeAt(t, a.totp.secret) }] })).status).toBe(200);
  });

  it('one address in two tenants, one account with a factor: choosing only the other needs none; choosing both needs it', async () => {
    const { a, b, email } = await oneAddressTwoTenants(t);
    const totp = await enrolTotp(t, await t.login(email, STRONG, { tenant: a.slug }));
    const { token } = await t.resetMail(email);
    const seen = await inspect({ token });
    expect(seen.body.accounts.map((x: { tenant: string; mfa: unknown }) => [x.tenant, x.mfa]).sort()).toEqual(
      [[a.slug, { methods: ['totp', 'recovery_code'] }], [b.slug, null]].sort(),
    );
    const both = await reset({ token, password: STRONG2 });
    expectError(both, 403, 'mfa_required');
    expect(both.body.accounts).toEqual([{ tenant: a.slug, methods: ['totp', 'recovery_code'] }]);
    expect((await reset({ token, password: STRONG2, tenants: [b.slug] })).body).toEqual({ updated: [b.slug] });
    expect((await t.login(email, STRONG2, { tenant: b.slug })).status).toBe(200);
    expect((await t.login(email, STRONG, { tenant: a.slug })).status).toBe(403); // unchanged: still the password, then the factor

    // Both chosen, with the factor: both change.
    const again = await t.resetMail(email);
    const done = await reset({ token: again.token, password: STRONG3, mfa: { tenant: a.slug, method: 'totp', code: codeAt(t, totp.secret) } });
    expect(done.body.updated.sort()).toEqual([a.slug, b.slug].sort());
  });

  it('an admin-made link follows the same rule', async () => {
    const a = await totpAccount(t);
    const made = await t.op('POST', `/admin/v1/tenants/${a.slug}/users/${a.id}/password-reset`, { delivery: 'link', reason: 'phoned the help desk' });
    expect(made.status).toBe(201);
    const token = new URL(made.body.url).searchParams.get('token')!;
    expect((await inspect({ token })).body.accounts[0].mfa).toEqual({ methods: ['totp', 'recovery_code'] });
    expectError(await reset({ token, password: STRONG2 }), 403, 'mfa_required');
    expect((await reset({ token, password: STRONG2, mfa: { tenant: a.slug, method: 'totp', code: codeAt(t, a.totp.secret) } })).status).toBe(200);
  });

  it('a reset that fails on the password policy uses up neither the link nor the code', async () => {
    const a = await totpAccount(t);
    const { token } = await t.resetMail(a.email);
    midStep(t);
    const code = codeAt(t, a.totp.secret);
    const weak = await reset({ token, password: WEAK, mfa: { tenant: a.slug, method: 'totp', code } });
    expectError(weak, 422, 'password_policy');
    expect((await reset({ token, password: STRONG2, mfa: { tenant: a.slug, method: 'totp', code } })).status).toBe(200);
  });

  it('a reset that fails on the link uses up no code: a right code with a spent link stays usable', async () => {
    const a = await totpAccount(t);
    const { token } = await t.resetMail(a.email);
    midStep(t);
    expect((await reset({ token, password: STRONG2, mfa: { tenant: a.slug, method: 'recovery_code', code: a.totp.recoveryCodes[0] } })).status).toBe(200);
    const code = codeAt(t, a.totp.secret);
    expectError(await reset({ token, password: STRONG3, mfa: { tenant: a.slug, method: 'totp', code } }), 410, 'token_used');
    expect((await secondStep(t, { ticket: await ticketFor(t, a.email, { password: STRONG2 }), method: 'totp', code })).status).toBe(200);
  });

  it('a double submit of one right answer resets once; the other is told the link was used, not that the code was wrong', async () => {
    const a = await totpAccount(t);
    const { token } = await t.resetMail(a.email);
    const body = { token, password: STRONG2, mfa: { tenant: a.slug, method: 'totp', code: codeAt(t, a.totp.secret) } };
    const answers = await Promise.all([reset(body), reset(body)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 410]);
    expect(answers.find((r) => r.status === 410)!.body.error).toBe('token_used');
  });
});

describe('a lost phone: an admin resets the factors', () => {
  it('the tenant admin, with a reason: factors and recovery codes gone, every session and open sign-in ended, the owner emailed, the audit keeps the reason', async () => {
    const { slug, adminSession, memberEmail, member, memberSession } = await tenantWithAdmin(t);
    const totp = await enrolTotp(t, memberSession);
    await enrolTotp(t, memberSession, 'Old tablet');
    const bearer = await secondStep(t, { ticket: await ticketFor(t, memberEmail), method: 'totp', code: codeAt(t, totp.secret), tokenType: 'bearer' });
    expect(bearer.status).toBe(200);
    const openTicket = await ticketFor(t, memberEmail);

    const res = await t.api('POST', `/api/v1/admin/users/${member.id}/mfa-reset`, { reason: 'Lost phone, ticket #4711' }, asSession(adminSession));
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toEqual({ removed: 2 });

    expect((await whoAmI(t, { cookie: memberSession.cookie })).status).toBe(401);
    expect((await whoAmI(t, { token: bearer.body.token })).status).toBe(401);
    expect((await whoAmI(t, { cookie: adminSession.cookie })).status).toBe(200); // the admin's own session is untouched
    nextStep(t);
    expectError(await secondStep(t, { ticket: openTicket, method: 'totp', code: codeAt(t, totp.secret) }), 401, 'invalid_ticket');

    // The password alone signs in now; the old recovery codes are gone.
    const again = await t.login(memberEmail);
    expect(again.status).toBe(200);
    expect((await t.api('GET', '/api/v1/mfa', undefined, asSession(again))).body).toEqual({ factors: [], recoveryCodesLeft: 0, required: false });
    expect((await whoAmI(t, { cookie: again.cookie })).body.amr).toEqual(['pwd']);

    const mails = await mailsTo(t, memberEmail, 'Two-step verification was reset');
    expect(mails).toHaveLength(1);
    expect(mails[0]!.text).toContain('Lost phone, ticket #4711');
    const [event] = await auditOf(t, slug, 'mfa_reset');
    expect(event).toMatchObject({ userId: member.id, actor: { type: 'admin' }, data: { reason: 'Lost phone, ticket #4711', factorsRemoved: 2, sessionsRevoked: 2 } });
  });

  it('a reason is required (400); a member may not (403); another tenant\'s user is not found (404)', async () => {
    const mine = await tenantWithAdmin(t);
    const theirs = await tenantWithAdmin(t);
    await enrolTotp(t, theirs.memberSession);
    const h = asSession(mine.adminSession);
    expectError(await t.api('POST', `/api/v1/admin/users/${mine.member.id}/mfa-reset`, {}, h), 400, 'invalid_request');
    expectError(await t.api('POST', `/api/v1/admin/users/${mine.member.id}/mfa-reset`, { reason: '   ' }, h), 400, 'invalid_request');
    expectError(await t.api('POST', `/api/v1/admin/users/${theirs.member.id}/mfa-reset`, { reason: 'not mine' }, h), 404, 'not_found');
    expectError(await t.api('POST', `/api/v1/admin/users/${mine.admin.id}/mfa-reset`, { reason: 'me' }, asSession(mine.memberSession)), 403, 'forbidden');
    expect((await t.api('GET', '/api/v1/mfa', undefined, asSession(theirs.memberSession))).body.factors).toHaveLength(1);
    expect(await auditOf(t, theirs.slug, 'mfa_reset')).toEqual([]);
  });

  it('the operator, through the operator API: the same, with the operator as the actor', async () => {
    const a = await totpAccount(t);
    expectError(await t.op('POST', `/admin/v1/tenants/${a.slug}/users/${a.id}/mfa-reset`, {}), 400, 'invalid_request');
    const res = await t.op('POST', `/admin/v1/tenants/${a.slug}/users/${a.id}/mfa-reset`, { reason: 'verified by video call' });
    expect(res.body).toEqual({ removed: 1 });
    expect((await whoAmI(t, { cookie: a.session.cookie })).status).toBe(401);
    expect((await t.login(a.email)).status).toBe(200);
    const [event] = await auditOf(t, a.slug, 'mfa_reset');
    expect(event).toMatchObject({ userId: a.id, actor: { type: 'operator' }, data: { reason: 'verified by video call' } });
    expect(await mailsTo(t, a.email, 'Two-step verification was reset')).toHaveLength(1);
  });

  it('where the tenant requires a factor, the next sign-in is walked through enrolment', async () => {
    const a = await totpAccount(t, { tenant: {} });
    expect((await t.op('PATCH', `/admin/v1/tenants/${a.slug}`, { mfa: 'everyone' })).status).toBe(200);
    expect((await t.op('POST', `/admin/v1/tenants/${a.slug}/users/${a.id}/mfa-reset`, { reason: 'new phone' })).status).toBe(200);
    expectError(await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG }), 403, 'mfa_enrollment_required');
  });
});
