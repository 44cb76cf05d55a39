// Every hosted page through axe-core (no serious or critical violation), with a screenshot of each
// at desktop width and at 360 px under test-results/screenshots/.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, pathOf, screenshot, seriousViolations, startLiveApp, STRONG, text, unique, type LiveApp } from '../helpers/browser.ts';

let live: LiveApp;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let tenant: { slug: string; name: string };
let email: string;

beforeAll(async () => {
  [live, browser] = await Promise.all([startLiveApp(), launchBrowser()]);
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  tenant = await live.tenant('acme', { name: 'Acme Support' });
  email = `${unique('ally')}@example.com`;
  await live.user(tenant.slug, email);
});
afterAll(async () => {
  await browser?.close();
  await live?.close();
});

/** The page is accessible, and photographed. */
async function check(name: string) {
  await page.waitForLoadState('networkidle');
  expect(await seriousViolations(page), name).toEqual([]);
  await screenshot(page, name);
}

async function forgot(address: string) {
  const since = live.mail.messages.length;
  await page.goto(`${live.url}/forgot-password`);
  await page.getByLabel('Email address').fill(address);
  await page.getByRole('button', { name: 'Send reset email' }).click();
  await pathOf(page).toBe('/forgot-password/sent');
  return live.resetMailFor(address, since);
}

describe('accessibility and screenshots of every page', () => {
  it('sign-in pages', async () => {
    await page.goto(`${live.url}/login`);
    await check('login');
    await page.goto(`${live.url}/t/${tenant.slug}/login`);
    await check('login-tenant');
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password', { exact: true }).fill('Wrong-Password-1!');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await text(page.getByRole('alert')).toContain('not right');
    await check('login-error');

    const other = await live.tenant(unique('beta'), { name: 'Beta Sales' });
    await live.user(other.slug, email);
    await page.goto(`${live.url}/login`);
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(STRONG);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await text(page.getByRole('heading', { level: 1 })).toBe('Choose an account');
    await check('login-choose-tenant');
    await page.getByRole('button', { name: `Continue to ${tenant.name}` }).click();
    await pathOf(page).toBe('/account');
    await check('account');
    await page.getByRole('link', { name: 'Change password' }).click();
    await check('settings-password');
    await page.getByLabel('Current password').fill('Wrong-Password-1!');
    await page.getByLabel('New password', { exact: true }).fill('Lumen-Forest-284!');
    await page.getByLabel('Repeat the new password').fill('Lumen-Forest-284!');
    await page.getByRole('button', { name: 'Change password' }).click();
    await text(page.locator('.alert-error')).toContain('not right');
    await check('settings-password-wrong-current');
    await page.getByLabel('Current password').fill(STRONG);
    await page.getByLabel('New password', { exact: true }).fill('Lumen-Forest-284!');
    await page.getByLabel('Repeat the new password').fill('Lumen-Forest-284!');
    await page.getByRole('button', { name: 'Change password' }).click();
    await text(page.getByRole('status')).toContain('Password updated');
    await check('settings-password-updated');
    await page.getByRole('link', { name: 'Back to your account' }).click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await pathOf(page).toBe('/login');
  });

  it('forgot and reset pages', async () => {
    const single = `${unique('solo')}@example.com`;
    await live.user(tenant.slug, single);
    await page.goto(`${live.url}/forgot-password`);
    await check('forgot');
    await page.goto(`${live.url}/t/${tenant.slug}/forgot-password`);
    await check('forgot-tenant');
    const { token } = await forgot(single);
    await check('forgot-sent');

    await page.goto(`${live.url}/reset-password?token=${token}`);
    await page.waitForURL(`${live.url}/reset-password`);
    await check('reset-form');
    const pw = page.getByLabel('New password', { exact: true });
    await pw.focus();
    await pw.pressSequentially('Sunlit-Mar');
    await page.getByLabel('Repeat the new password').fill('Sunlit');
    await text(page.locator('#repeat-error')).toBe('Passwords do not match');
    await check('reset-form-typing');
    await pw.fill('Sunlit-Marble-Coast-61');
    await page.getByLabel('Repeat the new password').fill('Sunlit-Marble-Coast-61');
    await text(page.locator('#repeat-error')).toBe('');
    await expect.poll(() => page.getByRole('button', { name: 'Confirm new password' }).isEnabled()).toBe(true);
    await check('reset-form-ready');
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await text(page.getByRole('heading', { level: 1 })).toBe('Your password has been reset');
    await check('reset-done');

    // The same link again: used.
    await page.goto(`${live.url}/reset-password?token=${token}`);
    await page.waitForURL(`${live.url}/reset-password`);
    await text(page.getByRole('heading', { level: 1 })).toBe('This link was already used');
    await check('outcome-used');

    await page.goto(`${live.url}/reset-password?token=not-a-real-token-but-long-enough-000`);
    await page.waitForURL(`${live.url}/reset-password`);
    await check('outcome-invalid');

    const first = await forgot(single);
    const second = await forgot(single);
    await page.goto(`${live.url}/reset-password?token=${first.token}`);
    await page.waitForURL(`${live.url}/reset-password`);
    await text(page.getByRole('heading', { level: 1 })).toBe('A newer link was sent');
    await check('outcome-superseded');

    await page.goto(`${live.url}/reset-password?token=${second.token}`);
    await page.waitForURL(`${live.url}/reset-password`);
    await text(page.getByRole('heading', { level: 1 })).toBe('Choose a new password');
    const third = await forgot(single); // kills the open page's link
    await page.goto(`${live.url}/reset-password?token=${second.token}`);
    // (re-open to get the form again is not possible now; use the third link's page and kill it)
    await page.goto(`${live.url}/reset-password?token=${third.token}`);
    await page.waitForURL(`${live.url}/reset-password`);
    await live.app.publicApp.inject({ method: 'POST', url: '/api/v1/password/reset', payload: { token: third.token, password: 'Other-Device-Pass-9!' } });
    await page.getByLabel('New password', { exact: true }).fill('Quartz-Meadow-508!');
    await page.getByLabel('Repeat the new password').fill('Quartz-Meadow-508!');
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await text(page.getByRole('heading', { level: 1 })).toBe('Password reset failed');
    await check('outcome-failed');

    const fourth = await forgot(single);
    live.clock.advance(2 * 3600_000);
    try {
      await page.goto(`${live.url}/reset-password?token=${fourth.token}`);
      await page.waitForURL(`${live.url}/reset-password`);
      await text(page.getByRole('heading', { level: 1 })).toBe('This link has expired');
      await check('outcome-expired');
    } finally {
      live.clock.advance(-2 * 3600_000);
    }

    await page.goto(`${live.url}/reset-password`);
    await check('reset-no-link');
    await page.goto(`${live.url}/reset-password/code`);
    await check('reset-code');
    await page.getByLabel('Email address').fill(single);
    await page.getByLabel('Code from the email').fill('AAAA-BBBB');
    await page.getByRole('button', { name: 'Continue' }).click();
    await text(page.locator('.field-error')).toContain('not right');
    await check('reset-code-wrong');
  });

  it('the reset page for an address in two tenants', async () => {
    const { code } = await forgot(email); // email has accounts in Acme Support and Beta Sales
    await page.goto(`${live.url}/reset-password/code`);
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Code from the email').fill(code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await text(page.getByRole('heading', { level: 1 })).toBe('Choose a new password');
    await check('reset-form-two-tenants');
  });

  it('German, chosen from Accept-Language', async () => {
    const de = await browser.newContext({ locale: 'de-DE', extraHTTPHeaders: { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' } });
    const previous = page;
    page = await de.newPage();
    try {
      await page.goto(`${live.url}/login`);
      await text(page.getByRole('heading', { level: 1 })).toBe('Anmelden');
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
