// The same flows with JavaScript disabled: plain forms, POST-redirect-GET, the server says
// everything the live checklist would have said.
import { describe, expect, it, vi } from 'vitest';
import {
  account, attr, browserSuite, disabled, enterResetCode, fillNewPassword, h1, oneAddressTwoTenants, openResetLink, pathOf, STRONG, text, visible,
} from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 60_000 });

const { live, openPage, signIn, requestReset, openMailLink } = browserSuite();

const newPage = () => openPage({ javaScriptEnabled: false });

describe('JavaScript off', () => {
  it('reset by link: the refresh still moves the token out; the server reports mismatch and rule failures', async () => {
    const { slug, email } = await account(live, { prefix: 'nojs' });
    const page = await newPage();
    const { mail } = await requestReset(page, email);
    await openMailLink(page, mail.html);
    await h1(page).toBe('Choose a new password');
    const confirm = page.getByRole('button', { name: 'Confirm new password' });
    await disabled(confirm).toBe(false); // no script to hold it back: the server decides
    await visible(page.locator('[data-meter]')).toBe(false);

    await fillNewPassword(page, 'Granite-Willow-52!', 'Granite-Willow-25!');
    await confirm.click();
    await text(page.locator('#repeat-error')).toBe('Passwords do not match');

    await fillNewPassword(page, 'password');
    await confirm.click();
    await text(page.locator('.alert-error')).toContain('does not meet every rule');
    await attr(page.locator('[data-rule="uppercase"]'), 'data-ok').toBe('false');
    await attr(page.locator('[data-rule="min_length"]'), 'data-ok').toBe('true');

    await fillNewPassword(page, 'Granite-Willow-52!');
    await confirm.click();
    await pathOf(page).toBe('/reset-password/done');
    await h1(page).toBe('Your password has been reset');
    await page.getByRole('link', { name: 'Sign in' }).click();
    await signIn(page, `/t/${slug}/login`, email, 'Granite-Willow-52!');
    await pathOf(page).toBe('/account');
  });

  it('reset by code', async () => {
    const { email } = await account(live, { prefix: 'nojscode' });
    const page = await newPage();
    const { code } = await requestReset(page, email);
    await page.getByRole('link', { name: 'Already have a code? Enter it here' }).click();
    await enterResetCode(page, email, code);
    await h1(page).toBe('Choose a new password');
    await fillNewPassword(page, 'Saffron-Bridge-803!');
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await h1(page).toBe('Your password has been reset');
  });

  it('wrong sign-in, then the tenant chooser', async () => {
    const { a, b, email } = await oneAddressTwoTenants(live, { prefix: 'two', names: ['North Ops', 'South Ops'] });
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
    const { email } = await account(live, { prefix: 'nojschg' });
    const page = await newPage();
    await signIn(page, '/login', email, STRONG);
    await page.goto(`${live.url}/settings/password`);
    await page.getByLabel('Current password').fill('Wrong-Password-1!');
    await fillNewPassword(page, 'Harbor-Lights-719!');
    await page.getByRole('button', { name: 'Change password' }).click();
    await text(page.locator('.alert-error')).toContain('current password is not right');
    await page.getByLabel('Current password').fill(STRONG);
    await fillNewPassword(page, 'Harbor-Lights-719!');
    await page.getByRole('button', { name: 'Change password' }).click();
    await text(page.getByRole('status')).toBe('Password updated; other devices were signed out.');
  });

  it('an expired link shows its page, with the request form', async () => {
    const { email } = await account(live, { prefix: 'nojsexp' });
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
