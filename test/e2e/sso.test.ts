// The Google sign-in journey in a real Chromium: the tenant login page's "Sign in with Google" →
// the IdP (a real OpenID provider on loopback) → back signed in with authMethod google.
import { afterAll, describe, expect, it } from 'vitest';
import { browserSuite, pathOf, unique } from '../helpers/browser.ts';
import { startIdp, type Idp } from '../sso/idp.ts';

let idp: Idp;
const slug = 'sso-journey';

const { live, browser } = browserSuite({}, async () => {
  idp = await startIdp({ redirectUris: [`${live.url}/t/${slug}/sso/callback`] });
});
afterAll(async () => {
  await idp?.stop();
});

describe('Google sign-in in a browser', () => {
  it('login page → Sign in with Google → IdP → signed in (authMethod google); IdP down → back on the login page with the fallback message', async () => {
    await live.tenant(slug, { google: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret } });
    const email = `${unique('gina')}@example.com`;
    await live.user(slug, email);
    const sub = unique('sub');
    idp.account({ sub, email, email_verified: true });
    idp.nextLogin = sub;

    const context = await browser.newContext({ locale: 'en-GB' });
    const page = await context.newPage();
    await page.goto(`${live.url}/t/${slug}/login`);
    await page.getByRole('link', { name: /Sign in with Google/i }).click();
    await page.waitForURL((u) => u.origin === live.url && !u.pathname.includes('/sso/'));
    const me = await page.evaluate(async () => (await fetch('/api/v1/session')).json());
    expect(me).toMatchObject({ user: { email }, tenant: { slug }, authMethod: 'google' });

    // Google is down: the button still leads back to the login page, where the password works.
    await idp.stop();
    const other = await browser.newContext({ locale: 'en-GB' });
    const page2 = await other.newPage();
    await page2.goto(`${live.url}/t/${slug}/login`);
    await page2.getByRole('link', { name: /Sign in with Google/i }).click();
    await pathOf(page2).toBe(`/t/${slug}/login`);
    expect(new URL(page2.url()).searchParams.get('sso_error')).toBe('unavailable');
    await context.close();
    await other.close();
  });
});
