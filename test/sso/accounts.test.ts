// SSO around the accounts: tenant settings, linked identities for operators and tenant admins,
// forgot-password for Google-only accounts, and SSO-enforced tenants.
import { describe, expect, it } from 'vitest';
import { extractReset, STRONG, STRONG2, unique } from '../helpers/app.ts';
import { asSession } from '../helpers/http.ts';
import { person as personAt, ssoSignIn, ssoSuite, who } from './helpers.ts';

const SLUGS = ['ops', 'tadmin', 'other', 'fallback', 'mixed', 'strict', 'settings'] as const;
type Slug = (typeof SLUGS)[number];

const { t, idp } = ssoSuite(SLUGS);

const connection = () => ({ issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret });

const person = (slug: string, opts: { password?: string | null; role?: string } = {}) => personAt(t, idp, slug, opts);

const unknownForgot = (tenant?: string) => t.forgot(`${unique('nobody')}@example.com`, tenant);

describe('tenant settings for single sign-on', () => {
  it('a connection without login methods turns Google on beside passwords; the secret is never shown', async () => {
    await t.tenant('settings', { google: connection() });
    const view = await t.op('GET', '/admin/v1/tenants/settings');
    expect(view.body.loginMethods).toEqual(['password', 'google']);
    expect(view.body.google).toEqual({ issuer: idp.issuer, clientId: idp.clientId, hostedDomain: null, clientSecretSet: true });
    expect(JSON.stringify((await t.op('GET', '/admin/v1/tenants')).body)).not.toContain(idp.clientSecret);
  });

  it('PATCH changes login methods, policy and the connection, keeps the stored secret, and is audited', async () => {
    const { slug } = await t.tenant();
    const on = await t.op('PATCH', `/admin/v1/tenants/${slug}`, { google: connection(), loginMethods: ['password', 'google'] });
    expect(on.status).toBe(200);
    expect(on.body.loginMethods).toEqual(['password', 'google']);
    const hd = await t.op('PATCH', `/admin/v1/tenants/${slug}`, { google: { hostedDomain: 'example.com' }, name: 'Renamed' });
    expect(hd.status).toBe(200);
    expect(hd.body).toMatchObject({ name: 'Renamed', google: { issuer: idp.issuer, hostedDomain: 'example.com', clientSecretSet: true } });
    const audit = await t.op('GET', `/admin/v1/tenants/${slug}/audit`);
    const updated = audit.body.events.filter((e: { type: string }) => e.type === 'tenant_updated');
    expect(updated).toHaveLength(2);
    expect(JSON.stringify(audit.body)).not.toContain(idp.clientSecret);
    const off = await t.op('PATCH', `/admin/v1/tenants/${slug}`, { google: null, loginMethods: ['password'] });
    expect(off.body.google).toBeNull();
  });

  it('refuses Google without a connection, an http issuer off loopback, and an unknown tenant', async () => {
    const { slug } = await t.tenant();
    const noConn = await t.op('PATCH', `/admin/v1/tenants/${slug}`, { loginMethods: ['google'] });
    expect(noConn.status).toBe(400);
    expect(noConn.body.field).toBe('loginMethods');
    const created = await t.op('POST', '/admin/v1/tenants', { slug: unique('x'), name: 'X', loginMethods: ['google'] });
    expect(created.status).toBe(400);
    for (const issuer of ['http://idp.example.com', 'http://10.0.0.1:8080', 'ftp://127.0.0.1', 'https://idp.example.com/?x=1']) {
      const res = await t.op('PATCH', `/admin/v1/tenants/${slug}`, { google: { ...connection(), issuer } });
      expect(res.status, issuer).toBe(400);
      expect(res.body.field, issuer).toBe('google.issuer');
      const post = await t.op('POST', '/admin/v1/tenants', { slug: unique('x'), name: 'X', google: { ...connection(), issuer } });
      expect(post.status, issuer).toBe(400);
    }
    for (const issuer of ['http://localhost:9999', 'http://[::1]:9999', 'http://127.0.0.2', 'https://accounts.google.com']) {
      expect((await t.op('PATCH', `/admin/v1/tenants/${slug}`, { google: { ...connection(), issuer } })).status, issuer).toBe(200);
    }
    expect((await t.op('PATCH', '/admin/v1/tenants/no-such-tenant', { name: 'x' })).status).toBe(404);
  });

  it('the issuer defaults to Google', async () => {
    const { slug } = await t.tenant(undefined, { google: { clientId: 'abc.apps.googleusercontent.com', clientSecret: 's3cret' } });
    expect((await t.op('GET', `/admin/v1/tenants/${slug}`)).body.google.issuer).toBe('https://accounts.google.com');
  });
});

describe('linked identities for operators and tenant admins', () => {
  it('the operator sees the linked identity and unlinks it (audited): Google sessions end, password ones stay, the next sign-in links again', async () => {
    await t.tenant('ops', { google: connection() });
    const p = await person('ops');
    const google = await ssoSignIn(t, idp, 'ops', p.sub);
    const password = await t.login(p.email);
    const view = await t.op('GET', `/admin/v1/tenants/ops/users/${p.id}`);
    expect(view.body.identities).toHaveLength(1);
    const identity = view.body.identities[0];
    expect(identity).toMatchObject({ issuer: idp.issuer, subject: p.sub, emailAtLink: p.email });
    expect(Date.parse(identity.linkedAt)).not.toBeNaN();

    const del = await t.op('DELETE', `/admin/v1/tenants/ops/users/${p.id}/identities/${identity.id}`);
    expect(del.status).toBe(204);
    expect((await t.op('GET', `/admin/v1/tenants/ops/users/${p.id}`)).body.identities).toEqual([]);
    expect((await who(t, google.session)).status).toBe(401);
    expect((await who(t, password.cookie)).status).toBe(200);
    const audit = await t.op('GET', `/admin/v1/tenants/ops/audit?userId=${p.id}&type=identity_unlinked`);
    expect(audit.body.events[0]).toMatchObject({ actor: { type: 'operator' }, data: { issuer: idp.issuer, subject: p.sub, sessionsRevoked: 1 } });
    expect((await t.op('DELETE', `/admin/v1/tenants/ops/users/${p.id}/identities/${identity.id}`)).status).toBe(404);

    const again = await ssoSignIn(t, idp, 'ops', p.sub);
    expect((await who(t, again.session)).body.authMethod).toBe('google');
  });

  it('a tenant admin sees and unlinks identities in their own tenant only (CSRF required)', async () => {
    await t.tenant('tadmin', { google: connection() });
    await t.tenant('other', { google: connection() });
    const admin = await person('tadmin', { role: 'admin' });
    const member = await person('tadmin');
    const stranger = await person('other');
    await ssoSignIn(t, idp, 'tadmin', member.sub);
    await ssoSignIn(t, idp, 'other', stranger.sub);
    const s = await t.login(admin.email);

    const mine = await t.api('GET', `/api/v1/admin/users/${member.id}`, undefined, { cookie: s.cookie });
    expect(mine.body.identities).toHaveLength(1);
    const id = mine.body.identities[0].id;
    const theirs = await t.op('GET', `/admin/v1/tenants/other/users/${stranger.id}`);
    const theirId = theirs.body.identities[0].id;

    expect((await t.api('DELETE', `/api/v1/admin/users/${member.id}/identities/${id}`, undefined, { cookie: s.cookie })).status).toBe(403);
    expect((await t.api('DELETE', `/api/v1/admin/users/${stranger.id}/identities/${theirId}`, undefined, asSession(s))).status).toBe(404);
    expect((await t.api('DELETE', `/api/v1/admin/users/${member.id}/identities/${theirId}`, undefined, asSession(s))).status).toBe(404);
    expect((await t.api('DELETE', `/api/v1/admin/users/${member.id}/identities/${id}`, undefined, asSession(s))).status).toBe(204);
    const audit = await t.api('GET', `/api/v1/admin/audit?userId=${member.id}`, undefined, { cookie: s.cookie });
    expect(audit.body.events[0]).toMatchObject({ type: 'identity_unlinked', actor: { type: 'admin', id: admin.id } });
    expect((await t.op('GET', `/admin/v1/tenants/other/users/${stranger.id}`)).body.identities).toHaveLength(1);
  });
});

describe('forgot password with Google sign-in', () => {
  it('an account without a password gets the same 202, then an email: sign in with Google, or set a password as a fallback', async () => {
    await t.tenant('fallback', { google: connection() });
    const p = await person('fallback', { password: null });
    const answer = await t.forgot(p.email, 'fallback');
    const unknown = await unknownForgot('fallback');
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual(unknown.body);
    await t.drain();
    const mail = await t.mail.waitFor((m) => m.to.includes(p.email));
    expect(mail.subject).toBe('You sign in with Google');
    expect(mail.text).toContain('Sign in with Google');
    expect(mail.text).toContain('https://keyturn.test/t/fallback/login');
    expect(mail.text).toContain('does not change your Google password');
    expect(mail.html).toContain('Set a password');

    // The link sets a first password; both ways in work afterwards.
    const { token } = extractReset(mail);
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: STRONG2 })).status).toBe(200);
    expect((await t.login(p.email, STRONG2)).status).toBe(200);
    const google = await ssoSignIn(t, idp, 'fallback', p.sub);
    expect((await who(t, google.session)).body.authMethod).toBe('google');

    // Now that it has a password, the usual reset email comes.
    const again = await t.resetMail(p.email, 'fallback');
    expect(again.mail.subject).toBe('Reset your password');
  });

  it('an account with a password in a Google tenant gets the usual reset email', async () => {
    await t.tenant('mixed', { google: connection() });
    const p = await person('mixed');
    const { mail } = await t.resetMail(p.email, 'mixed');
    expect(mail.subject).toBe('Reset your password');
  });

  it('an SSO-enforced tenant refuses password sign-in and resets: the email says so and carries no link', async () => {
    await t.tenant('strict', { google: connection(), loginMethods: ['google'] });
    const p = await person('strict'); // has a password from before enforcement
    expect((await t.login(p.email, STRONG)).status).toBe(401);
    expect((await t.login(p.email, STRONG, { tenant: 'strict' })).body).toEqual((await t.login(p.email, 'Wrong-password-1!')).body);

    const answer = await t.forgot(p.email, 'strict');
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual((await unknownForgot('strict')).body);
    await t.drain();
    const mail = await t.mail.waitFor((m) => m.to.includes(p.email));
    expect(mail.subject).toBe('Password sign-in is off for your account');
    expect(mail.text).toContain('no reset link was sent');
    expect(mail.text).toContain('https://keyturn.test/t/strict/login');
    expect(mail.text).not.toContain('reset-password');
    expect(mail.text).not.toMatch(/\b[A-Z2-9]{4}-[A-Z2-9]{4}\b/);
    const audit = await t.op('GET', `/admin/v1/tenants/strict/audit?userId=${p.id}&type=password_reset_refused`);
    expect(audit.body.events[0].data).toEqual({ reason: 'sso_enforced' });

    const admin = await t.op('POST', `/admin/v1/tenants/strict/users/${p.id}/password-reset`, { delivery: 'link' });
    expect(admin.status).toBe(400);
    const google = await ssoSignIn(t, idp, 'strict', p.sub);
    expect((await who(t, google.session)).body.authMethod).toBe('google');
  });
});
