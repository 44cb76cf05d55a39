// Issue 11 item 15: rough edges a new user found, the ones only a browser shows. Each test is named
// after the point it pins (the HTTP-level ones are in src/web/pages.test.ts).
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { account, browserSuite, enterResetCode, fillNewPassword, h1, pathOf, STRONG, text } from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 60_000 });

const { live, openPage, signIn, requestReset, openMailLink } = browserSuite();

const newPage = () => openPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });

async function choose(page: Page, password: string) {
  await fillNewPassword(page, password);
  await page.getByRole('button', { name: 'Confirm new password' }).click();
  await pathOf(page).toBe('/reset-password/done');
  await h1(page).toBe('Your password has been reset');
}

describe('issue 11 item 15, in a browser', () => {
  it('item 15: Back after a successful reset by code does not offer the spent code again', async () => {
    const { email } = await account(live, { prefix: 'back' });
    const page = await newPage();
    const { code } = await requestReset(page, email);
    await page.goto(`${live.url}/reset-password/code`);
    await enterResetCode(page, email, code);
    await page.waitForURL(`${live.url}/reset-password`);
    await choose(page, 'Harbour-Lantern-618!');

    // One step back: the form page again, now showing that the reset is done, with no form.
    await page.goBack();
    await pathOf(page).toBe('/reset-password');
    await h1(page).toBe('Your password has been reset');
    expect(await page.locator('form[action="/reset-password"]').count()).toBe(0);
    expect(await page.getByLabel('New password', { exact: true }).count()).toBe(0);

    // Two steps back: the code form, empty (the browser does not restore the spent code).
    await page.goBack();
    await pathOf(page).toBe('/reset-password/code');
    await page.waitForLoadState('load');
    expect(await page.getByLabel('Code from the email').inputValue()).toBe('');
    expect(await page.getByLabel('Code from the email').getAttribute('autocomplete')).toBe('off');
  });

  it('item 15: Back after a successful reset by link shows that the reset is done, not a working form', async () => {
    const { slug, email } = await account(live, { prefix: 'backlink' });
    const page = await newPage();
    const { mail } = await requestReset(page, email);
    await openMailLink(page, mail.html);
    await choose(page, 'Meadow-Compass-274!');

    await page.goBack();
    await pathOf(page).toBe('/reset-password');
    await h1(page).toBe('Your password has been reset');
    expect(await page.locator('form[action="/reset-password"]').count()).toBe(0);
    // Its sign-in button leads to the tenant the password was reset in.
    await page.getByRole('link', { name: 'Sign in' }).click();
    await pathOf(page).toBe(`/t/${slug}/login`);
  });

  it('item 15: after a password change the form does not stay on the page', async () => {
    const { email } = await account(live, { prefix: 'chg' });
    const page = await newPage();
    await signIn(page, '/login', email, STRONG);
    await pathOf(page).toBe('/account');
    await page.goto(`${live.url}/settings/password`);
    await page.getByLabel('Current password').fill(STRONG);
    await fillNewPassword(page, 'Granite-Orchard-83!');
    await page.getByRole('button', { name: 'Change password' }).click();
    await text(page.getByRole('status')).toBe('Password updated; other devices were signed out.');
    expect(await page.locator('input[type="password"]').count()).toBe(0);
    expect(await page.locator('form[action="/settings/password"]').count()).toBe(0);
    // Back does not bring the filled form back either.
    await page.goBack();
    await page.waitForLoadState('load');
    for (const input of await page.locator('input[type="password"]').all()) expect(await input.inputValue()).toBe('');
  });

  it('item 15: after sign-out from a tenant\'s pages the tenant context is kept', async () => {
    const { slug, tenantName: name, email } = await account(live, { prefix: 'out' });
    const page = await newPage();
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/account');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await pathOf(page).toBe(`/t/${slug}/login`);
    await h1(page).toBe(`Sign in to ${name}`);
    await text(page.getByRole('status')).toBe('You are signed out.');
  });
});
