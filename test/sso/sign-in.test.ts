import { isNull } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { ssoStates } from '../../src/platform/schema.ts';
import { STRONG2, unique } from '../helpers/app.ts';
import { asSession } from '../helpers/http.ts';
import {
  atCallback, begin, callbackUri, expectRefused, finish, lastSsoLog, person as personAt, PUBLIC, setCookies, ssoSignIn, ssoSuite, who,
} from './helpers.ts';
import { startIdp, type Idp } from './idp.ts';

// Each tenant of this file has a fixed slug so the IdP's client can list its redirect URI.
const SLUGS = ['acme', 'ret', 'pkce', 'subj', 'unv', 'hd', 'nolink', 'replay', 'csrf', 'nonce', 'late', 'cancel',
  'reset', 'off', 'down', 'logs', 'ui'] as const;
type Slug = (typeof SLUGS)[number];

const { t, idp } = ssoSuite(SLUGS);

async function ssoTenant(slug: Slug, extra: Record<string, unknown> = {}, on: Idp = idp) {
  return t.tenant(slug, { google: { issuer: on.issuer, clientId: on.clientId, clientSecret: on.clientSecret }, ...extra });
}

/** A Keyturn user and the IdP account that says the same (verified) email. */
const person = (slug: string, opts: { hd?: string; verified?: boolean } = {}) => personAt(t, idp, slug, opts);

describe('Google sign-in (OpenID Connect)', () => {
  it('signs an existing user in by verified email, links the subject, and the session says authMethod google', async () => {
    await ssoTenant('acme');
    const p = await person('acme');
    const { res, session } = await ssoSignIn(t, idp, 'acme', p.sub);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`${PUBLIC}/`);
    expect(session).toBeDefined();
    const me = await who(t, session);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { id: p.id, email: p.email }, tenant: { slug: 'acme' }, authMethod: 'google' });

    const view = await t.op('GET', `/admin/v1/tenants/acme/users/${p.id}`);
    expect(view.body.identities).toEqual([expect.objectContaining({ issuer: idp.issuer, subject: p.sub, emailAtLink: p.email })]);
    const audit = await t.op('GET', `/admin/v1/tenants/acme/audit?userId=${p.id}`);
    const events = audit.body.events as { type: string; data: Record<string, unknown> }[];
    expect(events.find((e) => e.type === 'signed_in')?.data).toMatchObject({ method: 'google' });
    expect(events.find((e) => e.type === 'identity_linked')?.data).toMatchObject({ issuer: idp.issuer, subject: p.sub });

    // A second sign-in finds the account by subject; still one linked identity.
    const again = await ssoSignIn(t, idp, 'acme', p.sub);
    expect((await who(t, again.session)).body.user.id).toBe(p.id);
    expect((await t.op('GET', `/admin/v1/tenants/acme/users/${p.id}`)).body.identities).toHaveLength(1);
  });

  it('goes back to a safe same-origin returnTo, and to / for anything else', async () => {
    await ssoTenant('ret');
    const p = await person('ret');
    const cases: [string, string][] = [
      ['/settings/password?tab=1', `${PUBLIC}/settings/password?tab=1`],
      ['https://evil.example/x', `${PUBLIC}/`],
      ['//evil.example/x', `${PUBLIC}/`],
      ['/\\evil.example', `${PUBLIC}/`],
      ['javascript:alert(1)', `${PUBLIC}/`],
    ];
    for (const [returnTo, expected] of cases) {
      const { res } = await ssoSignIn(t, idp, 'ret', p.sub, `?returnTo=${encodeURIComponent(returnTo)}`);
      expect(res.headers.location, returnTo).toBe(expected);
    }
  });

  it('starts with PKCE (S256), state and nonce, and keeps the state in an HttpOnly SameSite=Lax cookie for the callback only', async () => {
    await ssoTenant('pkce');
    const b = await begin(t, 'pkce');
    expect(b.res.status).toBe(303);
    const url = new URL(b.location);
    expect(url.origin).toBe(idp.issuer);
    const q = url.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe(idp.clientId);
    expect(q.get('redirect_uri')).toBe(callbackUri('pkce'));
    expect(q.get('scope')).toBe('openid email profile');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(q.get('state')).toBe(b.state);
    expect(q.get('nonce')).toMatch(/^[\w-]{20,}$/);
    const attrs = setCookies(b.res).get('keyturn_sso')!.attrs;
    expect(attrs).toMatch(/HttpOnly/i);
    expect(attrs).toMatch(/SameSite=Lax/i);
    expect(attrs).toMatch(/Secure/i);
    expect(attrs).toMatch(/Path=\/t\/pkce\/sso/);
    // Only a keyed hash of the state is stored.
    const rows = await t.app.ctx.db.select().from(ssoStates);
    expect(rows.some((r) => r.stateHash === b.state)).toBe(false);
    expect(rows.some((r) => r.sealedVerifier.includes(b.state!))).toBe(false);
  });

  it('after linking, the subject decides: an email changed at the IdP does not reach another account', async () => {
    await ssoTenant('subj');
    const ann = await person('subj');
    const bob = await person('subj');
    await ssoSignIn(t, idp, 'subj', ann.sub);
    // Ann's IdP account now claims Bob's address: she still lands in her own account.
    idp.account({ sub: ann.sub, email: bob.email, email_verified: true });
    const moved = await ssoSignIn(t, idp, 'subj', ann.sub);
    expect((await who(t, moved.session)).body.user.id).toBe(ann.id);
    // Another IdP account with Ann's address cannot take over her already linked account.
    const intruder = unique('sub');
    idp.account({ sub: intruder, email: ann.email, email_verified: true });
    expectRefused((await ssoSignIn(t, idp, 'subj', intruder)).res, 'subj', 'not_linked');
  });

  it('an unverified email is refused', async () => {
    await ssoTenant('unv');
    const p = await person('unv', { verified: false });
    expectRefused((await ssoSignIn(t, idp, 'unv', p.sub)).res, 'unv', 'unverified_email');
    idp.account({ sub: p.sub, email: p.email, email_verified: 'false' });
    expectRefused((await ssoSignIn(t, idp, 'unv', p.sub)).res, 'unv', 'unverified_email');
    // Nothing was linked on the way.
    expect((await t.op('GET', `/admin/v1/tenants/unv/users/${p.id}`)).body.identities).toEqual([]);
  });

  it('a Google account outside the tenant\'s hosted domain is refused', async () => {
    await ssoTenant('hd', { google: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, hostedDomain: 'example.com' } });
    const outsider = await person('hd', { hd: 'other.example' });
    expectRefused((await ssoSignIn(t, idp, 'hd', outsider.sub)).res, 'hd', 'wrong_domain');
    const personal = await person('hd');   // a consumer account has no hd at all
    expectRefused((await ssoSignIn(t, idp, 'hd', personal.sub)).res, 'hd', 'wrong_domain');
    const member = await person('hd', { hd: 'example.com' });
    const ok = await ssoSignIn(t, idp, 'hd', member.sub);
    expect((await who(t, ok.session)).body.authMethod).toBe('google');
  });

  it('no self sign-up: an unknown, disabled or other-tenant email is refused', async () => {
    await ssoTenant('nolink');
    const stranger = unique('sub');
    idp.account({ sub: stranger, email: `${unique('nobody')}@example.com`, email_verified: true });
    expectRefused((await ssoSignIn(t, idp, 'nolink', stranger)).res, 'nolink', 'not_linked');

    const off = await person('nolink');
    await t.op('PATCH', `/admin/v1/tenants/nolink/users/${off.id}`, { disabled: true });
    expectRefused((await ssoSignIn(t, idp, 'nolink', off.sub)).res, 'nolink', 'not_linked');

    const elsewhere = await t.tenant();
    const other = await person(elsewhere.slug);
    expectRefused((await ssoSignIn(t, idp, 'nolink', other.sub)).res, 'nolink', 'not_linked');

    // A linked account that gets disabled cannot sign in by subject either.
    const later = await person('nolink');
    expect((await ssoSignIn(t, idp, 'nolink', later.sub)).session).toBeDefined();
    await t.op('PATCH', `/admin/v1/tenants/nolink/users/${later.id}`, { disabled: true });
    expectRefused((await ssoSignIn(t, idp, 'nolink', later.sub)).res, 'nolink', 'not_linked');
  });

  it('a replayed callback is refused: the state is single-use', async () => {
    await ssoTenant('replay');
    const p = await person('replay');
    const first = await ssoSignIn(t, idp, 'replay', p.sub);
    expect(first.session).toBeDefined();
    expectRefused(await finish(t, first.callback, first.state), 'replay', 'invalid_state');
    expect(lastSsoLog(t).detail).toBe('state unknown, expired or already used');
  });

  it('a callback without the state cookie of the browser that started it is refused (login CSRF)', async () => {
    await ssoTenant('csrf');
    const p = await person('csrf');
    const { callback, ...attacker } = await atCallback(t, idp, 'csrf', p.sub);
    expectRefused(await finish(t, callback, undefined), 'csrf', 'invalid_state');
    expect(lastSsoLog(t).detail).toBe('no state cookie');
    const victim = await begin(t, 'csrf');
    expectRefused(await finish(t, callback, victim.state), 'csrf', 'invalid_state');
    expect(lastSsoLog(t).detail).toBe('state does not match this browser');
    // The attacker's own browser could still finish it: the refusals consumed nothing.
    const own = await finish(t, callback, attacker.state);
    expect((await who(t, setCookies(own).has('keyturn_session') ? `keyturn_session=${setCookies(own).get('keyturn_session')!.value}` : undefined)).body.user.id).toBe(p.id);
  });

  it('an ID token whose nonce does not match the stored one is refused', async () => {
    await ssoTenant('nonce');
    const p = await person('nonce');
    const { callback, ...b } = await atCallback(t, idp, 'nonce', p.sub);
    await t.app.ctx.db.update(ssoStates).set({ nonce: 'tampered-nonce-value' }).where(isNull(ssoStates.usedAt));
    expectRefused(await finish(t, callback, b.state), 'nonce', 'invalid_state');
    expect(lastSsoLog(t).detail).toBe('ID token nonce does not match');
  });

  it('a sign-in finished after the state expired (10 minutes) is refused', async () => {
    await ssoTenant('late');
    const p = await person('late');
    const { callback, ...b } = await atCallback(t, idp, 'late', p.sub);
    t.clock.advance(11 * 60_000);
    expectRefused(await finish(t, callback, b.state), 'late', 'invalid_state');
    expect(lastSsoLog(t).detail).toBe('state unknown, expired or already used');
  });

  it('the user cancelling at the IdP comes back with sso_error=cancelled', async () => {
    await ssoTenant('cancel');
    expectRefused((await ssoSignIn(t, idp, 'cancel', undefined)).res, 'cancel', 'cancelled');
    expect(lastSsoLog(t).detail).toBe('authorization error access_denied');
  });

  it('a reset in another browser signs the Google session out on its next request; both methods keep working', async () => {
    await ssoTenant('reset');
    const p = await person('reset');
    const google = await ssoSignIn(t, idp, 'reset', p.sub);
    expect((await who(t, google.session)).body.authMethod).toBe('google');

    const { token } = await t.resetMail(p.email, 'reset');
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: STRONG2 })).status).toBe(200);
    expect((await who(t, google.session)).status).toBe(401);

    const again = await ssoSignIn(t, idp, 'reset', p.sub);
    expect((await who(t, again.session)).body.authMethod).toBe('google');
    expect((await t.login(p.email, STRONG2)).status).toBe(200);

    // A password change made from the password session also ends the Google one.
    const pw = await t.login(p.email, STRONG2);
    const changed = await t.api('POST', '/api/v1/password/change', { currentPassword: STRONG2, newPassword: 'Bright-Canyon-19$' }, asSession(pw));
    expect(changed.status).toBe(200);
    expect((await who(t, again.session)).status).toBe(401);
    expect((await who(t, pw.cookie)).status).toBe(200);
  });

  it('a tenant without a connection, or with Google sign-in off, answers sso_error=unavailable; an unknown tenant 404', async () => {
    await t.tenant('off');
    expectRefused((await begin(t, 'off')).res, 'off', 'unavailable');
    expect((await t.api('GET', '/t/no-such-tenant/sso/start')).status).toBe(404);
    await t.op('PATCH', '/admin/v1/tenants/off', { google: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret }, loginMethods: ['password'] });
    expectRefused((await begin(t, 'off')).res, 'off', 'unavailable');
  });

  it('IdP down: start and callback fall back to the login page (password still works), logged without secrets and counted', async () => {
    const down = await startIdp({ redirectUris: [callbackUri('down')] });
    await ssoTenant('down', {}, down);
    const email = `${unique('d')}@example.com`;
    await t.user('down', email);
    const sub = unique('sub');
    down.account({ sub, email, email_verified: true });
    const unavailable = () => t.app.ctx.tallies.ssoFailures.read().find((c) => c.labels.reason === 'unavailable')?.n ?? 0;
    const before = unavailable();

    // The IdP goes away between the redirect to it and the way back.
    const { callback, ...b } = await atCallback(t, down, 'down', sub);
    await down.stop();
    const logsBefore = t.logs.length;
    // A new start finds out at once (it discovers afresh) instead of sending the browser to a dead IdP.
    expectRefused((await begin(t, 'down')).res, 'down', 'unavailable');
    expect(lastSsoLog(t).detail).toBe('discovery failed');
    // The one already at the IdP comes back to a failed code exchange.
    const late = await finish(t, callback, b.state);
    expectRefused(late, 'down', 'unavailable');
    expect(lastSsoLog(t)).toMatchObject({ detail: 'code exchange failed', error: { name: 'TypeError', message: 'fetch failed' } });
    expect(late.raw).not.toMatch(/at .*\.ts:\d+/);

    expect(unavailable()).toBe(before + 2);
    const lines = t.logs.slice(logsBefore).join('\n');
    expect(lines).toContain('sso sign-in failed');
    expect(lines).toContain('"reason":"unavailable"');
    expect(lines).not.toContain(down.clientSecret);
    expect(lines).not.toContain(new URL(callback).searchParams.get('code')!);
    expect((await t.login(email)).status).toBe(200);
  });

  it('no secret reaches the logs on a successful sign-in', async () => {
    await ssoTenant('logs');
    const p = await person('logs');
    const from = t.logs.length;
    const { callback, session } = await ssoSignIn(t, idp, 'logs', p.sub);
    const lines = t.logs.slice(from).join('\n');
    expect(lines).not.toContain(idp.clientSecret);
    expect(lines).not.toContain(new URL(callback).searchParams.get('code')!);
    expect(lines).not.toContain(session!.split('=')[1]!);
  });

  it('works with an issuer that gives the email only through UserInfo', async () => {
    const ui = await startIdp({ redirectUris: [callbackUri('ui')], claimsIn: 'userinfo' });
    try {
      await ssoTenant('ui', {}, ui);
      const email = `${unique('u')}@example.com`;
      const user = await t.user('ui', email);
      const sub = unique('sub');
      ui.account({ sub, email, email_verified: true });
      const { session } = await ssoSignIn(t, ui, 'ui', sub);
      expect((await who(t, session)).body).toMatchObject({ user: { id: user.id }, authMethod: 'google' });
    } finally {
      await ui.stop();
    }
  });
});

