// The same flows with JavaScript disabled: plain forms, POST-redirect-GET, the server says
// everything the live checklist would have said.
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { openResetLink, attr, browserSuite, disabled, pathOf, STRONG, text, unique, visible, type LiveApp } from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 60_000 });

let live: LiveApp;
const { openPage, signIn, requestReset } = browserSuite({}, (s) => {
  live = s.live;
});

const newPage = () => openPage({ javaScriptEnabled: false });

const h1 = (page: Page) => text(page.getByRole('heading', { level: 1 }));

describe('JavaScript off', () => {
  it('reset by link: the refresh still moves the token out; the server reports mismatch and rule failures', async () => {
    const { slug } = await live.tenant();
    const email = `${unique('nojs')}@example.com`;
    await live.user(slug, email);
    const page = await newPage();
    const { mail } = await requestReset(page, email);
    await page.goto('about:blank');
    await page.setContent(mail.html);
    await page.getByRole('link', { name: 'Reset password' }).click();
    await page.waitForURL(`${live.url}/reset-password`);
    await h1(page).toBe('Choose a new password');
    const confirm = page.getByRole('button', { name: 'Confirm new password' });
    await disabled(confirm).toBe(false); // no script to hold it back: the server decides
    await visible(page.locator('[data-meter]')).toBe(false);

    await page.getByLabel('New password', { exact: true }).fill('Granite-Willow-52!');
    await page.getByLabel('Repeat the new password').fill('Granite-Willow-25!');
    await confirm.click();
    await text(page.locator('#repeat-error')).toBe('Passwords do not match');

    await page.getByLabel('New password', { exact: true }).fill('password');
    await page.getByLabel('Repeat the new password').fill('password');
    await confirm.click();
    await text(page.locator('.alert-error')).toContain('does not meet every rule');
    await attr(page.locator('[data-rule="uppercase"]'), 'data-ok').toBe('false');
    await attr(page.locator('[data-rule="min_length"]'), 'data-ok').toBe('true');

    await page.getByLabel('New password', { exact: true }).fill('Granite-Willow-52!');
    await page.getByLabel('Repeat the new password').fill('Granite-Willow-52!');
    await confirm.click();
    await pathOf(page).toBe('/reset-password/done');
    await h1(page).toBe('Your password has been reset');
    await page.getByRole('link', { name: 'Sign in' }).click();
    await signIn(page, `/t/${slug}/login`, email, 'Granite-Willow-52!');
    await pathOf(page).toBe('/account');
  });

  it('reset by code', async () => {
    const { slug } = await live.tenant();
    const email = `${unique('nojscode')}@example.com`;
    await live.user(slug, email);
    const page = await newPage();
    const { code } = await requestReset(page, email);
    await page.getByRole('link', { name: 'Already have a code? Enter it here' }).click();
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Code from the email').fill(code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await h1(page).toBe('Choose a new password');
    await page.getByLabel('New password', { exact: true }).fill('Saffron-Bridge-803!');
    await page.getByLabel('Repeat the new password').fill('Saffron-Bridge-803!');
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await h1(page).toBe('Your password has been reset');
  });

  it('wrong sign-in, then the tenant chooser', async () => {
    const a = await live.tenant(unique('north'), { name: 'North Ops' });
    const b = await live.tenant(unique('south'), { name: 'South Ops' });
    const email = `${unique('two')}@example.com`;
    await live.user(a.slug, email);
    await live.user(b.slug, email);
    const page = await newPage();
    await signIn(page, '/login', email, 'Wrong-Password-1!');
    await text(page.getByRole('alert')).toBe('The email address or password is not right.');
    expect(await page.getByLabel('Email address').inputValue()).toBe(email);
    await page.getByLabel('Password', { exact: true }).fill(STRONG);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await h1(page).toBe('Choose an account');
    await page.getByRole('button', { name: 'Continue to North Ops' }).click();
    await pathOf(page).toBe('/account');
    await text(page.locator('main p').first()).toBe(`Signed in as ${email} at North Ops.`);
  });

  it('change password in settings', async () => {
    const { slug } = await live.tenant();
    const email = `${unique('nojschg')}@example.com`;
    await live.user(slug, email);
    const page = await newPage();
    await signIn(page, '/login', email, STRONG);
    await page.goto(`${live.url}/settings/password`);
    await page.getByLabel('Current password').fill('Wrong-Password-1!');
    await page.getByLabel('New password', { exact: true }).fill('Harbor-Lights-719!');
    await page.getByLabel('Repeat the new password').fill('Harbor-Lights-719!');
    await page.getByRole('button', { name: 'Change password' }).click();
    await text(page.locator('.alert-error')).toContain('current password is not right');
    await page.getByLabel('Current password').fill(STRONG);
    await page.getByLabel('New password', { exact: true }).fill('Harbor-Lights-719!');
    await page.getByLabel('Repeat the new password').fill('Harbor-Lights-719!');
    await page.getByRole('button', { name: 'Change password' }).click();
    await text(page.getByRole('status')).toBe('Password updated; other devices were signed out.');
  });

  it('an expired link shows its page, with the request form', async () => {
    const { slug } = await live.tenant();
    const email = `${unique('nojsexp')}@example.com`;
    await live.user(slug, email);
    const page = await newPage();
    const { token } = await requestReset(page, email);
    live.clock.advance(2 * 3600_000);
    try {
      await openResetLink(page, `${live.url}/reset-password?token=${token}`);
      await h1(page).toBe('This link has expired');
      await page.getByLabel('Email address').fill(email);
      await page.getByRole('button', { name: 'Request a new link' }).click();
      await h1(page).toBe('Check your email');
    } finally {
      live.clock.advance(-2 * 3600_000);
    }
  });
});
