// Changing the password while signed in, in a real Chromium with JavaScript on.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attr, disabled, launchBrowser, pathOf, startLiveApp, STRONG, text, unique, type LiveApp } from '../helpers/browser.ts';

let live: LiveApp;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [live, browser] = await Promise.all([startLiveApp(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await live?.close();
});
afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
});

async function signedIn(email: string, password = STRONG): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${live.url}/login`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await pathOf(page).toBe('/account');
  return page;
}

describe('/settings/password', () => {
  it('asks for sign-in first and comes back afterwards', async () => {
    const { slug } = await live.tenant();
    const email = `${unique('back')}@example.com`;
    await live.user(slug, email);
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${live.url}/settings/password`);
    await pathOf(page).toBe('/login');
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(STRONG);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await pathOf(page).toBe('/settings/password');
  });

  it('a wrong current password changes nothing; the right one updates it and signs out the other devices', async () => {
    const { slug } = await live.tenant();
    const email = `${unique('chg')}@example.com`;
    await live.user(slug, email);
    const other = await signedIn(email);
    const page = await signedIn(email);
    await page.getByRole('link', { name: 'Change password' }).click();
    await pathOf(page).toBe('/settings/password');
    await text(page.getByRole('heading', { level: 1 })).toBe('Change your password');

    const save = page.getByRole('button', { name: 'Change password' });
    await disabled(save).toBe(true);
    await page.getByLabel('Current password').fill('Not-The-Password-1!');
    const pw = page.getByLabel('New password', { exact: true });
    await pw.pressSequentially('Pebble-Canyon-47!');
    await attr(page.locator('[data-rule="not_common"]'), 'data-ok').toBe('true');
    await page.getByLabel('Repeat the new password').fill('Pebble-Canyon-47?');
    await text(page.locator('#repeat-error')).toBe('Passwords do not match');
    await page.getByLabel('Repeat the new password').fill('Pebble-Canyon-47!');
    await disabled(save).toBe(false);
    await save.click();
    await text(page.locator('.alert-error')).toBe('The current password is not right. Nothing was changed.');
    await text(page.locator('#current-password-error')).toBe('This is not your current password.');

    // Nothing changed: the other device is still signed in.
    await other.reload();
    await pathOf(other).toBe('/account');

    await page.getByLabel('Current password').fill(STRONG);
    await page.getByLabel('New password', { exact: true }).fill('Pebble-Canyon-47!');
    await page.getByLabel('Repeat the new password').fill('Pebble-Canyon-47!');
    await disabled(save).toBe(false);
    await save.click();
    await text(page.getByRole('status')).toBe('Password updated; other devices were signed out.');
    expect(new URL(page.url()).searchParams.get('status')).toBe('updated');

    // This device stays signed in, the other one is out on its next click.
    await page.getByRole('link', { name: 'Back to your account' }).click();
    await pathOf(page).toBe('/account');
    await other.getByRole('link', { name: 'Change password' }).click();
    await pathOf(other).toBe('/login');
    await text(other.getByRole('status')).toContain('You were signed out');

    await signedIn(email, 'Pebble-Canyon-47!');
  });

  it('signs out from the account page', async () => {
    const { slug } = await live.tenant();
    const email = `${unique('out')}@example.com`;
    await live.user(slug, email);
    const page = await signedIn(email);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await pathOf(page).toBe('/login');
    await text(page.getByRole('status')).toBe('You are signed out.');
    await page.goto(`${live.url}/account`);
    await pathOf(page).toBe('/login');
  });
});
