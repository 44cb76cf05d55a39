// Issue 13, the tenant admin's door to two-step verification: the user page shows what a user has
// (counts only, never a secret), and a lost phone is reset there with a reason — the same feature
// function as the JSON API, so factors go, sessions end, the owner is emailed and the audit keeps why.
import { Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { STRONG, useTestApp, type Session } from '../helpers/app.ts';
import { tenantWithAdmin } from '../helpers/fixtures.ts';
import { asSession, postForm } from '../helpers/http.ts';

const t = useTestApp();

const get = (url: string, s: Session) => t.api('GET', url, undefined, { cookie: s.cookie });
const post = (url: string, s: Session, fields: Record<string, string>) => postForm(t, url, { _csrf: s.csrf, ...fields }, { cookie: s.cookie });

/** Adds an authenticator app to the signed-in account; its secret and first recovery codes. */
async function enrolTotp(s: Session): Promise<{ secret: string; recoveryCodes: string[] }> {
  const started = await t.api('POST', '/api/v1/mfa/totp', { currentPassword: STRONG }, asSession(s));
  expect(started.status).toBe(200);
  const code = new TOTP({ secret: Secret.fromBase32(started.body.secret) }).generate({ timestamp: t.clock.now().getTime() });
  const verified = await t.api('POST', `/api/v1/mfa/totp/${started.body.id}/verify`, { code }, asSession(s));
  expect(verified.status).toBe(200);
  return { secret: started.body.secret, recoveryCodes: verified.body.recoveryCodes };
}

/** Signs in with the password and a recovery code, so one code is used up. */
async function signInWithRecoveryCode(email: string, code: string): Promise<void> {
  const first = await t.api('POST', '/api/v1/login', { email, password: STRONG });
  expect(first.body.error).toBe('mfa_required');
  const second = await t.api('POST', '/api/v1/login/mfa', { ticket: first.body.ticket, method: 'recovery_code', code, tokenType: 'bearer' });
  expect(second.status).toBe(200);
}

describe('two-step verification in the admin console', () => {
  it('the user page and the API show on/off, the kinds and the recovery codes left — never a secret or a code', async () => {
    const a = await tenantWithAdmin(t);
    const { secret, recoveryCodes } = await enrolTotp(a.memberSession);
    await signInWithRecoveryCode(a.memberEmail, recoveryCodes[0]!);

    const page = await get(`/admin/users/${a.member.id}`, a.adminSession);
    expect(page.status).toBe(200);
    const section = /<section aria-labelledby="mfa-heading">[\s\S]*?<\/section>/.exec(page.raw)?.[0] ?? '';
    expect(section).toContain('Two-step verification');
    expect(section).toMatch(/<dt>Status<\/dt><dd>On<\/dd>/);
    expect(section).toMatch(/<dt>Kinds<\/dt><dd>Authenticator app<\/dd>/);
    expect(section).toMatch(/<dt>Recovery codes left<\/dt><dd>9<\/dd>/);
    expect(section).toContain(`action="/admin/users/${a.member.id}/mfa-reset"`);
    expect(section).toContain('data-confirm="Reset two-step verification for');
    expect(page.raw).not.toContain(secret);
    for (const c of recoveryCodes) expect(page.raw).not.toContain(c);

    const off = await get(`/admin/users/${a.admin.id}`, a.adminSession);
    expect(off.raw).toContain('Off: a password or Google sign-in alone lets them in.');
    expect(off.raw).not.toContain('/mfa-reset"');

    const details = await t.api('GET', `/api/v1/admin/users/${a.member.id}`, undefined, asSession(a.adminSession));
    expect(details.body.mfa).toEqual({ enabled: true, types: ['totp'], recoveryCodesLeft: 9 });
    const operator = await t.op('GET', `/admin/v1/tenants/${a.slug}/users/${a.admin.id}`);
    expect(operator.body.mfa).toEqual({ enabled: false, types: [], recoveryCodesLeft: 0 });
    const list = await t.api('GET', '/api/v1/admin/users', undefined, asSession(a.adminSession));
    const byId = new Map(list.body.users.map((u: { id: string; mfa: unknown }) => [u.id, u.mfa]));
    expect(byId.get(a.member.id)).toEqual({ enabled: true, types: ['totp'], recoveryCodesLeft: 9 });
    expect(byId.get(a.admin.id)).toEqual({ enabled: false, types: [], recoveryCodesLeft: 0 });
    expect(JSON.stringify([details.body, list.body])).not.toContain(secret);
  });

  it('reset with a reason: factors gone, signed out everywhere, emailed, audited with the reason', async () => {
    const a = await tenantWithAdmin(t);
    await enrolTotp(a.memberSession);
    const reason = 'Lost phone, identity checked on a video call';

    const res = await post(`/admin/users/${a.member.id}/mfa-reset`, a.adminSession, { reason: `  ${reason} ` });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/admin/users/${a.member.id}?done=mfa-reset`);
    const after = await get(String(res.headers.location), a.adminSession);
    expect(after.raw).toContain('Two-step verification was reset; the user was signed out and emailed.');
    expect(after.raw).toContain('Off: a password or Google sign-in alone lets them in.');

    expect((await get('/api/v1/mfa', a.memberSession)).status).toBe(401); // the old session ended
    const again = await t.login(a.memberEmail); // the password alone lets them in now
    expect(again.status).toBe(200);
    const mfa = await t.api('GET', '/api/v1/mfa', undefined, asSession(again));
    expect(mfa.body).toMatchObject({ factors: [], recoveryCodesLeft: 0 });

    const audit = await t.api('GET', `/api/v1/admin/audit?userId=${a.member.id}&type=mfa_reset`, undefined, asSession(a.adminSession));
    expect(audit.body.events).toHaveLength(1);
    expect(audit.body.events[0]).toMatchObject({ actor: { type: 'admin', id: a.admin.id }, data: { reason, factorsRemoved: 1 } });
    await t.drain();
    const mail = t.mail.messages.find((m) => m.to.includes(a.memberEmail.toLowerCase()) && m.subject === 'Two-step verification was reset');
    expect(mail?.text).toContain(reason);
  });

  it('reset without a reason is refused with a message beside the field, and nothing changes', async () => {
    const a = await tenantWithAdmin(t);
    await enrolTotp(a.memberSession);
    for (const reason of ['', '   ']) {
      const res = await post(`/admin/users/${a.member.id}/mfa-reset`, a.adminSession, { reason });
      expect(res.status).toBe(400);
      expect(res.raw).toContain('Say why you reset it: the reason goes into the audit log and the email to them.');
      expect(res.raw).toMatch(/id="mfa-reset-reason"[^>]*aria-invalid="true"/);
    }
    const mfa = await t.api('GET', '/api/v1/mfa', undefined, asSession(a.memberSession)); // still signed in
    expect(mfa.status).toBe(200);
    expect(mfa.body.factors).toHaveLength(1);
    const audit = await t.api('GET', `/api/v1/admin/audit?userId=${a.member.id}&type=mfa_reset`, undefined, asSession(a.adminSession));
    expect(audit.body.events).toEqual([]);
  });

  it('another tenant\'s user is a 404, and an admin\'s own page points to their settings instead of the reset', async () => {
    const a = await tenantWithAdmin(t);
    const b = await tenantWithAdmin(t);
    await enrolTotp(b.memberSession);
    const elsewhere = await post(`/admin/users/${b.member.id}/mfa-reset`, a.adminSession, { reason: 'not mine' });
    expect(elsewhere.status).toBe(404);
    expect((await t.api('GET', '/api/v1/mfa', undefined, asSession(b.memberSession))).body.factors).toHaveLength(1);

    await enrolTotp(a.adminSession);
    const own = await get(`/admin/users/${a.admin.id}`, a.adminSession);
    expect(own.raw).toMatch(/<dt>Status<\/dt><dd>On<\/dd>/);
    expect(own.raw).toContain('href="/settings/security"');
    expect(own.raw).not.toContain('/mfa-reset"');
  });
});
