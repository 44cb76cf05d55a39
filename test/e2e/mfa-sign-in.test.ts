// The second step in a real Chromium: sign-in with an authenticator app's code, with a security key
// (a virtual WebAuthn authenticator over CDP), the enrolment a tenant requires, and the reset that
// asks for the factor — with JavaScript and, using a recovery code, without. The live app runs on
// http://localhost:PORT: a WebAuthn RP ID must be a domain, and localhost is a secure context.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { account, amrIn, browserSuite, fillNewPassword, h1, pathOf, seriousViolations, STRONG, text, virtualKey, visible } from '../helpers/browser.ts';
import { freshCode, wrongCode } from '../helpers/totp.ts';

vi.setConfig({ testTimeout: 60_000 });

const { live, openPage, signIn, requestReset, openMailLink } = browserSuite({ host: 'localhost' });

const newPage = (javaScriptEnabled = true) => openPage({ viewport: { width: 800, height: 900 }, locale: 'en-GB', javaScriptEnabled });


/** Calls the JSON API in-process with a bearer token (no browser involved); throws on an error answer. */
async function api(method: 'GET' | 'POST', url: string, body?: object, token?: string): Promise<any> {
  const res = await live.app.publicApp.inject({
    method, url, ...(body ? { payload: body } : {}), headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.json();
}

/** Adds an authenticator app through the API; its secret and recovery codes. */
async function enrolApp(email: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  const { token } = await api('POST', '/api/v1/login', { email, password: STRONG, tokenType: 'bearer' });
  const started = await api('POST', '/api/v1/mfa/totp', { currentPassword: STRONG }, token);
  const verified = await api('POST', `/api/v1/mfa/totp/${started.id}/verify`, { code: freshCode(live.clock, started.secret) }, token);
  return { secret: started.secret, recoveryCodes: verified.recoveryCodes };
}

/**
 * Adds the page's virtual key to the signed-in account the way /settings/security does, without its
 * page: creation options from the JSON API, the browser makes the credential, the response goes back.
 */
async function addKey(page: Page): Promise<void> {
  const status = await page.evaluate(async (password) => {
    const { csrfToken } = await (await fetch('/api/v1/csrf')).json();
    const post = (url: string, body: object) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken }, body: JSON.stringify(body) });
    const options = await (await post('/api/v1/mfa/webauthn/options', { currentPassword: password })).json();
    const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) }) as PublicKeyCredential;
    return (await post('/api/v1/mfa/webauthn', { response: credential.toJSON(), label: 'Desk key' })).status;
  }, STRONG);
  expect(status).toBe(201);
}

/** Saves an ~800 px wide picture for the README under test-results/screenshots/. */
async function shot(page: Page, name: string): Promise<void> {
  const dir = join(process.cwd(), 'test-results', 'screenshots');
  mkdirSync(dir, { recursive: true });
  await page.setViewportSize({ width: 800, height: 900 });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

describe('sign-in with the second step', () => {
  it('password, then the code from the authenticator app: signed in with otp in amr', async () => {
    const { slug, email } = await account(live, { prefix: 'app' });
    const { secret } = await enrolApp(email);
    const page = await newPage();
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/login/verify');
    await h1(page).toBe('Two-step verification');
    const code = page.getByLabel('Code from your authenticator app or a recovery code');
    expect(await code.getAttribute('autocomplete')).toBe('one-time-code');
    expect(await page.content()).not.toContain('keyturn_second_step');
    expect(await seriousViolations(page)).toEqual([]);
    await shot(page, 'second-step-verify');

    await code.fill(wrongCode(live.clock, secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await text(page.locator('#code-error')).toContain('That code was not accepted');
    await text(page.locator('#code-error')).toContain('4 attempts left');

    await page.getByLabel('Code from your authenticator app or a recovery code').fill(freshCode(live.clock, secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await pathOf(page).toBe('/account');
    expect(await amrIn(page)).toEqual(['pwd', 'otp']);
  });

  it('security key: added in the page through the API, then "Use your security key" signs in with hwk; without JavaScript the page says so', async () => {
    const { slug, email } = await account(live, { prefix: 'key' });
    const page = await newPage();
    await virtualKey(page);
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/account');
    await addKey(page);
    await page.context().clearCookies();

    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/login/verify');
    const button = page.locator('#use-security-key');
    await visible(button).toBe(true);
    await button.click();
    await pathOf(page).toBe('/account');
    expect(await amrIn(page)).toEqual(['pwd', 'hwk']);

    const plain = await newPage(false);
    await signIn(plain, `/t/${slug}/login`, email, STRONG);
    await pathOf(plain).toBe('/login/verify');
    await visible(plain.getByText('A security key needs JavaScript, which is off in this browser.')).toBe(true);
    await visible(plain.locator('#use-security-key')).toBe(false);
  });
});

describe('a tenant that requires two-step verification', () => {
  it('sign-in leads through adding an authenticator app (key typed from the page), recovery codes once, then Continue', async () => {
    const tenant = await live.tenant();
    await live.op('PATCH', `/admin/v1/tenants/${tenant.slug}`, { mfa: 'everyone' });
    const { email } = await account(live, { prefix: 'must', slug: tenant.slug });
    const page = await newPage();
    await signIn(page, `/t/${tenant.slug}/login`, email, STRONG);
    await pathOf(page).toBe('/login/enroll');
    await h1(page).toBe('Set up two-step verification');
    await visible(page.getByText('requires two-step verification')).toBe(true);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();

    const secret = await page.locator('#totp-secret').innerText();
    expect(secret).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
    await visible(page.getByRole('img', { name: 'QR code' })).toBe(true);
    await page.getByLabel('Code from the app').fill(freshCode(live.clock, secret));
    await page.getByRole('button', { name: 'Confirm' }).click();

    await visible(page.getByText('Two-step verification is set up.')).toBe(true);
    expect(await page.locator('#recovery-codes li').allInnerTexts()).toHaveLength(10);
    const download = page.getByRole('link', { name: 'Download as a text file' });
    expect(await download.getAttribute('download')).toBe('recovery-codes.txt');
    await page.getByRole('button', { name: 'Continue' }).click();
    await pathOf(page).toBe('/account');
    expect(await amrIn(page)).toEqual(['pwd', 'otp']);
  });

  it('or with a security key instead', async () => {
    const tenant = await live.tenant(undefined, { mfa: 'everyone' });
    const { email } = await account(live, { prefix: 'mustkey', slug: tenant.slug });
    const page = await newPage();
    await virtualKey(page);
    await signIn(page, `/t/${tenant.slug}/login`, email, STRONG);
    await pathOf(page).toBe('/login/enroll');
    await page.getByRole('button', { name: 'Use a security key instead' }).click();
    await visible(page.getByText('Two-step verification is set up.')).toBe(true);
    expect(await page.locator('#recovery-codes li').allInnerTexts()).toHaveLength(10);
    await page.getByRole('button', { name: 'Continue' }).click();
    await pathOf(page).toBe('/account');
    expect(await amrIn(page)).toEqual(['pwd', 'hwk']);
  });
});

describe('forgot password with a factor', () => {
  it('link → the reset page asks for the code → new password → done; the new password still asks for the second step', async () => {
    const { slug, email } = await account(live, { prefix: 'rset' });
    const { secret } = await enrolApp(email);
    const page = await newPage();
    const { mail } = await requestReset(page, email);
    await openMailLink(page, mail.html);
    await h1(page).toBe('Choose a new password');
    await visible(page.getByText('This account has two-step verification')).toBe(true);
    await fillNewPassword(page, 'Amber-Falcon-Orbit-61');
    expect(await seriousViolations(page)).toEqual([]);
    await shot(page, 'reset-factor-step');

    // Without the code the form comes back: the link still works.
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await text(page.locator('#mfa-code-error')).toBe('Enter the code from your authenticator app or a recovery code.');
    await fillNewPassword(page, 'Amber-Falcon-Orbit-61');
    await page.getByLabel('Code from your authenticator app or a recovery code').fill(freshCode(live.clock, secret));
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await pathOf(page).toBe('/reset-password/done');
    await h1(page).toBe('Your password has been reset');

    await signIn(page, `/t/${slug}/login`, email, 'Amber-Falcon-Orbit-61');
    await pathOf(page).toBe('/login/verify');
    await page.getByLabel('Code from your authenticator app or a recovery code').fill(freshCode(live.clock, secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await pathOf(page).toBe('/account');
  });

  it('the reset takes the security key too: the page says it is ready, then the new password is set', async () => {
    const { slug, email } = await account(live, { prefix: 'rsetkey' });
    const page = await newPage();
    await virtualKey(page);
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/account');
    await addKey(page);
    await page.context().clearCookies();

    const { mail } = await requestReset(page, email);
    await openMailLink(page, mail.html);
    await h1(page).toBe('Choose a new password');
    await page.locator('#use-security-key').click();
    await visible(page.getByText('Security key confirmed. Now choose the new password.')).toBe(true);
    await fillNewPassword(page, 'Willow-Garnet-Harbor-94');
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await pathOf(page).toBe('/reset-password/done');
    await signIn(page, `/t/${slug}/login`, email, 'Willow-Garnet-Harbor-94');
    await pathOf(page).toBe('/login/verify');
  });

  it('the same with JavaScript off, with a recovery code', async () => {
    const { slug, email } = await account(live, { prefix: 'rsetnojs' });
    const { recoveryCodes } = await enrolApp(email);
    const page = await newPage(false);
    const { mail } = await requestReset(page, email);
    await openMailLink(page, mail.html);
    await h1(page).toBe('Choose a new password');
    await page.getByLabel('Code from your authenticator app or a recovery code').fill(recoveryCodes[0]!);
    await fillNewPassword(page, 'Cobalt-Meadow-Lantern-27');
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await pathOf(page).toBe('/reset-password/done');

    await signIn(page, `/t/${slug}/login`, email, 'Cobalt-Meadow-Lantern-27');
    await pathOf(page).toBe('/login/verify');
    // The spent recovery code is refused; the next one works.
    await page.getByLabel('Code from your authenticator app or a recovery code').fill(recoveryCodes[0]!);
    await page.getByRole('button', { name: 'Verify' }).click();
    await text(page.locator('#code-error')).toContain('That code was not accepted');
    await page.getByLabel('Code from your authenticator app or a recovery code').fill(recoveryCodes[1]!);
    await page.getByRole('button', { name: 'Verify' }).click();
    await pathOf(page).toBe('/account');
  });
});
