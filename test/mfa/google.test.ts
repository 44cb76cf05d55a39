// Issue 13, item 2: Google sign-in ends in the same second step. Google counts as one factor: an
// account with a factor is sent to /login/verify with the step held in its cookie, not signed in;
// a tenant that trusts its IdP's own two-step verification signs in directly (amr google+mfa).
import { describe, expect, it } from 'vitest';
import { SECOND_STEP_COOKIE } from '../../src/features/sign-in/held-step.ts';
import { person, PUBLIC, sessionCookie, setCookies, ssoSignIn, ssoSuite, who } from '../sso/helpers.ts';
import { enrolTotp } from './helpers.ts';

const SLUGS = ['gmfa', 'gtrust', 'genrol', 'gplain'] as const;
const { t, idp } = ssoSuite(SLUGS);

const ssoTenant = (slug: (typeof SLUGS)[number], extra: Record<string, unknown> = {}) =>
  t.tenant(slug, { google: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret }, ...extra });

/** A Google user of `slug` who added an authenticator app (signed in with the password to do it). */
async function withAuthenticator(slug: string) {
  const p = await person(t, idp, slug);
  await enrolTotp(t, await t.login(p.email));
  return p;
}

describe('Google sign-in and the second step', () => {
  it('an account with a factor lands on /login/verify with the step held in an HttpOnly cookie, and no session', async () => {
    await ssoTenant('gmfa');
    const p = await withAuthenticator('gmfa');
    const { res, session } = await ssoSignIn(t, idp, 'gmfa', p.sub);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`${PUBLIC}/login/verify`);
    expect(session).toBeUndefined();
    const held = setCookies(res).get(SECOND_STEP_COOKIE);
    expect(held?.value).toBeTruthy();
    expect(held!.attrs).toMatch(/HttpOnly/i);
    expect(held!.attrs).toMatch(/SameSite=Lax/i);
    expect(held!.attrs).toMatch(/Max-Age=300/);
  });

  it('an account without a factor signs in with Google alone: amr ["google"]', async () => {
    await ssoTenant('gplain');
    const p = await person(t, idp, 'gplain');
    const { res, session } = await ssoSignIn(t, idp, 'gplain', p.sub);
    expect(res.headers.location).toBe(`${PUBLIC}/`);
    expect((await who(t, session)).body).toMatchObject({ authMethod: 'google', amr: ['google'] });
  });

  it('a tenant that trusts the IdP\'s two-step verification signs in directly: amr ["google","mfa"]', async () => {
    await ssoTenant('gtrust', { trustIdpMfa: true });
    const p = await withAuthenticator('gtrust');
    const { res, session } = await ssoSignIn(t, idp, 'gtrust', p.sub);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`${PUBLIC}/`);
    expect(setCookies(res).get(SECOND_STEP_COOKIE)?.value ?? '').toBe(''); // no step held
    expect((await who(t, session)).body).toMatchObject({ authMethod: 'google', amr: ['google', 'mfa'] });
  });

  it('a tenant that requires a factor sends an account without one to /login/enroll', async () => {
    await ssoTenant('genrol', { mfa: 'everyone' });
    const p = await person(t, idp, 'genrol');
    const { res } = await ssoSignIn(t, idp, 'genrol', p.sub);
    expect(res.headers.location).toBe(`${PUBLIC}/login/enroll`);
    expect(sessionCookie(res)).toBeUndefined();
    expect(setCookies(res).get(SECOND_STEP_COOKIE)?.value).toBeTruthy();
  });
});
