// Every hosted page through axe-core (no serious or critical violation), with a screenshot of each
// at desktop width and at 360 px under test-results/screenshots/; and the dev mailbox, where a
// newcomer without SMTP reads the reset email and clicks its button.
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import {
  account, browserSuite, enterResetCode, fillNewPassword, h1, openResetLink, pathOf, screenshot, seriousViolations, STRONG, text, unique,
} from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 60_000 });

let context: BrowserContext;
let page: Page;
let tenant: { slug: string; name: string };
let email: string;

const { live, browser, signIn, requestReset } = browserSuite({ devMailbox: true }, async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  tenant = await live.tenant('acme', { name: 'Acme Support' });
  email = `${unique('ally')}@example.com`;
  await live.user(tenant.slug, email);
});

/** The page is accessible, and photographed. */
async function check(name: string) {
  await page.waitForLoadState('load');
  expect(await seriousViolations(page), name).toEqual([]);
  await screenshot(page, name);
}

const forgot = (address: string) => requestReset(page, address);

describe('accessibility and screenshots', () => {
  it('sign-in, the tenant chooser and the account page', async () => {
    await page.goto(`${live.url}/login`);
    await check('login');
    await page.goto(`${live.url}/t/${tenant.slug}/login`);
    await check('login-tenant');
    const sso = await live.tenant(unique('globex'), { name: 'Globex Support', loginMethods: ['password', 'google'], google: { clientId: 'c', clientSecret: 's' } });
    await page.goto(`${live.url}/t/${sso.slug}/login`);
    await text(page.getByRole('link', { name: 'Sign in with Google' })).toBe('Sign in with Google');
    await check('login-tenant-sso');
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password', { exact: true }).fill('Wrong-Password-1!');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await text(page.getByRole('alert')).toContain('not right');
    await check('login-error');

    const other = await live.tenant(unique('beta'), { name: 'Beta Sales' });
    await live.user(other.slug, email);
    await signIn(page, '/login', email, STRONG);
    await h1(page).toBe('Choose an account');
    await check('login-choose-tenant');
    await page.getByRole('button', { name: `Continue to ${tenant.name}` }).click();
    await pathOf(page).toBe('/account');
    await check('account');
  });

  it('settings: change password', async () => {
    await page.goto(`${live.url}/settings/password`);
    await check('settings-password');
    await page.getByLabel('Current password').fill('Wrong-Password-1!');
    await fillNewPassword(page, 'Lumen-Forest-284!');
    await page.getByRole('button', { name: 'Change password' }).click();
    await text(page.locator('.alert-error')).toContain('not right');
    await check('settings-password-wrong-current');
    await page.getByLabel('Current password').fill(STRONG);
    await fillNewPassword(page, 'Lumen-Forest-284!');
    await page.getByRole('button', { name: 'Change password' }).click();
    await text(page.getByRole('status')).toContain('Password updated');
    await check('settings-password-updated');
    await page.getByRole('link', { name: 'Back to your account' }).click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await pathOf(page).toBe(`/t/${tenant.slug}/login`);
  });

  it('forgot password and the reset form as it fills in', async () => {
    const single = `${unique('solo')}@example.com`;
    await live.user(tenant.slug, single);
    await page.goto(`${live.url}/forgot-password`);
    await check('forgot');
    await page.goto(`${live.url}/t/${tenant.slug}/forgot-password`);
    await check('forgot-tenant');
    const { token } = await forgot(single);
    await check('forgot-sent');

    await openResetLink(page, `${live.url}/reset-password?token=${token}`);
    await check('reset-form');
    const pw = page.getByLabel('New password', { exact: true });
    await pw.focus();
    await pw.pressSequentially('Sunlit-Mar');
    await page.getByLabel('Repeat the new password').fill('Sunlit');
    await text(page.locator('#repeat-error')).toBe('Passwords do not match');
    await check('reset-form-typing');
    await fillNewPassword(page, 'Sunlit-Marble-Coast-61');
    await text(page.locator('#repeat-error')).toBe('');
    await expect.poll(() => page.getByRole('button', { name: 'Confirm new password' }).isEnabled()).toBe(true);
    await check('reset-form-ready');
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await h1(page).toBe('Your password has been reset');
    await check('reset-done');

    await openResetLink(page, `${live.url}/reset-password?token=${token}`);
    await h1(page).toBe('This link was already used');
    await check('outcome-used');
  });

  it('the outcome pages', async () => {
    const single = `${unique('outcome')}@example.com`;
    await live.user(tenant.slug, single);
    await openResetLink(page, `${live.url}/reset-password?token=not-a-real-token-but-long-enough-000`);
    await h1(page).toBe('This link is not valid');
    await check('outcome-invalid');

    const first = await forgot(single);
    await forgot(single); // supersedes the first
    await openResetLink(page, `${live.url}/reset-password?token=${first.token}`);
    await h1(page).toBe('A newer link was sent');
    await check('outcome-superseded');

    // A link that dies while its page is open (used from another device meanwhile).
    const third = await forgot(single);
    await openResetLink(page, `${live.url}/reset-password?token=${third.token}`);
    await live.app.publicApp.inject({ method: 'POST', url: '/api/v1/password/reset', payload: { token: third.token, password: 'Other-Device-Pass-9!' } });
    await fillNewPassword(page, 'Quartz-Meadow-508!');
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await h1(page).toBe('Password reset failed');
    await check('outcome-failed');

    const fourth = await forgot(single);
    live.clock.advance(2 * 3600_000);
    try {
      await openResetLink(page, `${live.url}/reset-password?token=${fourth.token}`);
      await h1(page).toBe('This link has expired');
      await check('outcome-expired');
    } finally {
      live.clock.advance(-2 * 3600_000);
    }
  });

  it('reset without a link, by code, and for an address in two tenants', async () => {
    await page.goto(`${live.url}/reset-password`);
    await check('reset-no-link');
    await page.goto(`${live.url}/reset-password/code`);
    await check('reset-code');
    await enterResetCode(page, email, 'AAAA-BBBB');
    await text(page.locator('.field-error')).toContain('not right');
    await check('reset-code-wrong');

    const { code } = await forgot(email); // email has accounts in Acme Support and Beta Sales
    await page.goto(`${live.url}/reset-password/code`);
    await enterResetCode(page, email, code);
    await h1(page).toBe('Choose a new password');
    await check('reset-form-two-tenants');
  });

  it('German, chosen from Accept-Language', async () => {
    const de = await browser.newContext({ locale: 'de-DE', extraHTTPHeaders: { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' } });
    const previous = page;
    page = await de.newPage();
    try {
      await page.goto(`${live.url}/login`);
      await h1(page).toBe('Anmelden');
      expect(await page.getAttribute('html', 'lang')).toBe('de');
      await check('login-de');
      await page.goto(`${live.url}/forgot-password`);
      await check('forgot-de');
    } finally {
      await de.close();
      page = previous;
    }
  });
});

describe('dev mailbox', () => {
  it('lists the caught mail newest first, renders it in a locked-down frame, and its button opens the reset page', async () => {
    const box = live.mailbox!;
    const { email: newbie } = await account(live, { prefix: 'newbie' });
    const since = (await box.list()).length;
    await forgot(newbie);
    await forgot(newbie);
    await expect.poll(async () => (await box.list()).length).toBeGreaterThanOrEqual(since + 2);
    const [newest] = await box.list();
    expect(newest!.to).toBe(newbie);

    await page.goto(`${live.url}/dev/mailbox`);
    const first = page.locator('tbody tr').first();
    expect(await first.getByRole('link').getAttribute('href')).toBe(`/dev/mailbox/${newest!.id}`);
    await check('dev-mailbox');

    await first.getByRole('link', { name: 'Reset your password' }).click();
    await pathOf(page).toBe(`/dev/mailbox/${newest!.id}`);
    const frame = page.frameLocator('iframe.mail-frame');
    await frame.getByRole('link', { name: 'Reset password' }).waitFor();
    await check('dev-mailbox-message');

    const res = await fetch(`${live.url}/dev/mailbox/${newest!.id}/html`);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'.*sandbox/);

    await frame.getByRole('link', { name: 'Reset password' }).click();
    await page.waitForURL(`${live.url}/reset-password`);
    await h1(page).toBe('Choose a new password');
    await text(page.locator('.accounts')).toContain(newbie);
  });
});
