// /settings/security in a real Chromium: adding an authenticator app with the key read off the page
// (the code computed here with otpauth), the recovery codes shown once and downloaded, then signing
// in with the second step; adding a security key (a virtual WebAuthn authenticator over CDP) and
// signing in with it; removing a factor and making new recovery codes; and the page without
// JavaScript. The live app runs on http://localhost:PORT: a WebAuthn RP ID must be a domain.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { account, amrIn, browserSuite, disabled, h1, pathOf, seriousViolations, STRONG, text, virtualKey, visible } from '../helpers/browser.ts';
import { freshCode } from '../helpers/totp.ts';

vi.setConfig({ testTimeout: 60_000 });

const { live, openPage, signIn } = browserSuite({ host: 'localhost' });

const newPage = (javaScriptEnabled = true) => openPage({ viewport: { width: 800, height: 900 }, locale: 'en-GB', javaScriptEnabled });


const codesOn = (page: Page) => page.locator('#recovery-codes li').allInnerTexts();

async function signOut(page: Page, slug: string): Promise<void> {
  await page.goto(`${live.url}/account`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await pathOf(page).toBe(`/t/${slug}/login`);
}

/**
 * Adds an authenticator app on the page; its key as typed from the page and the recovery codes
 * shown. `axe`: check the setup page's accessibility (axe runs as script, so not with JavaScript off).
 */
async function addApp(page: Page, label: string, axe = true): Promise<{ secret: string; codes: string[] }> {
  await page.locator('#totp-password').fill(STRONG);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await h1(page).toBe('Set up your authenticator app');
  await visible(page.getByRole('img', { name: 'QR code' })).toBe(true);
  const secret = await page.locator('#totp-secret').innerText();
  expect(secret).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{4})+$/);
  if (axe) expect(await seriousViolations(page)).toEqual([]);
  expect(page.url()).not.toContain(secret.replace(/ /g, ''));
  await page.getByLabel('Name (optional)').fill(label);
  await page.getByLabel('Code from the app').fill(freshCode(live.clock, secret));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await pathOf(page).toBe('/settings/security/recovery-codes');
  return { secret, codes: await codesOn(page) };
}

describe('/settings/security', () => {
  it('authenticator app: key read from the page, 10 recovery codes once (downloadable), then sign-in asks for the code', async () => {
    const { slug, email } = await account(live, { prefix: 'app' });
    const page = await newPage();
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/account');
    await page.getByRole('link', { name: 'Two-step verification' }).click();
    await pathOf(page).toBe('/settings/security');
    await h1(page).toBe('Two-step verification');
    await visible(page.getByText('You have not added a second factor yet')).toBe(true);

    const { secret, codes } = await addApp(page, 'Work phone');
    await h1(page).toBe('Save your recovery codes');
    await visible(page.getByText('Authenticator app added.')).toBe(true);
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    expect(await seriousViolations(page)).toEqual([]);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download as a text file' }).click()]);
    expect(download.suggestedFilename()).toBe('recovery-codes.txt');
    expect(readFileSync(await download.path(), 'utf8')).toContain(codes.join('\n'));

    // Shown once: a reload lands on the overview, which lists the app and no secret.
    await page.reload();
    await pathOf(page).toBe('/settings/security');
    const overview = await page.content();
    expect(overview).not.toContain(secret);
    expect(overview).not.toContain(secret.replace(/ /g, ''));
    for (const c of codes) expect(overview).not.toContain(c);
    await text(page.locator('.factors')).toContain('Work phone');
    await text(page.locator('.factors')).toContain('Authenticator app');
    await text(page.locator('#codes-left')).toContain('10 of 10 recovery codes left');
    expect(await seriousViolations(page)).toEqual([]);
    await shot(page, 'settings-security');

    await signOut(page, slug);
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/login/verify');
    await page.locator('#code').fill(freshCode(live.clock, secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await pathOf(page).toBe('/account');
    expect(await amrIn(page)).toEqual(['pwd', 'otp']);
  });

  it('security key: added on the page with a virtual authenticator, then "Use your security key" signs in', async () => {
    const { slug, email } = await account(live, { prefix: 'key' });
    const page = await newPage();
    await virtualKey(page);
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/account');
    await page.goto(`${live.url}/settings/security`);
    const add = page.getByRole('button', { name: 'Add security key' });
    await disabled(add).toBe(false); // the script enabled it

    // A wrong password is refused before the browser is asked for a key.
    await page.locator('#key-password').fill('Wrong-Password-1!');
    await add.click();
    await text(page.locator('[data-key-status]')).toBe('The current password is not right. Nothing was changed.');

    await page.locator('#key-password').fill(STRONG);
    await page.getByLabel('Name', { exact: true }).fill('Desk key');
    await add.click();
    await pathOf(page).toBe('/settings/security/recovery-codes');
    await visible(page.getByText('Security key added.')).toBe(true);
    expect(await codesOn(page)).toHaveLength(10);
    await page.getByRole('link', { name: 'I have saved them' }).click();
    await pathOf(page).toBe('/settings/security');
    await text(page.locator('.factors')).toContain('Desk key');
    await text(page.locator('.factors')).toContain('Security key or passkey');

    // The same key again: the browser refuses it (it is excluded), and the page says why.
    await page.locator('#key-password').fill(STRONG);
    await page.getByRole('button', { name: 'Add security key' }).click();
    await text(page.locator('[data-key-status]')).toBe('This security key is already on your account.');

    await signOut(page, slug);
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/login/verify');
    const button = page.locator('#use-security-key');
    await visible(button).toBe(true);
    await button.click();
    await pathOf(page).toBe('/account');
    expect(await amrIn(page)).toEqual(['pwd', 'hwk']);
  });

  it('new recovery codes replace the old set; a factor is removed with the password re-entered', async () => {
    const { slug, email } = await account(live, { prefix: 'rm' });
    const page = await newPage();
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/account');
    await page.goto(`${live.url}/settings/security`);
    const first = await addApp(page, 'Old phone');
    await page.getByRole('link', { name: 'I have saved them' }).click();

    await page.locator('#codes-password').fill(STRONG);
    await page.getByRole('button', { name: 'Make new recovery codes' }).click();
    await pathOf(page).toBe('/settings/security/recovery-codes');
    await visible(page.getByText('New recovery codes made; the old ones no longer work.')).toBe(true);
    const renewed = await codesOn(page);
    expect(renewed).toHaveLength(10);
    expect(renewed.filter((c) => first.codes.includes(c))).toEqual([]);
    await page.getByRole('link', { name: 'I have saved them' }).click();

    await page.getByRole('link', { name: 'Remove Old phone' }).click();
    await h1(page).toBe('Remove Old phone?');
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel('Current password').fill('Wrong-Password-1!');
    await page.getByRole('button', { name: 'Remove' }).click();
    await text(page.locator('#remove-error')).toBe('The current password is not right. Nothing was changed.');
    await page.getByLabel('Current password').fill(STRONG);
    await page.getByRole('button', { name: 'Remove' }).click();
    await pathOf(page).toBe('/settings/security');
    await visible(page.getByText('The second factor was removed.')).toBe(true);
    await visible(page.getByText('You have not added a second factor yet')).toBe(true);

    // With no factor left, the password alone signs in again.
    await signOut(page, slug);
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/account');
  });

  it('without JavaScript: the authenticator app and recovery codes work, the security key says it needs JavaScript', async () => {
    const { slug, email } = await account(live, { prefix: 'nojs' });
    const page = await newPage(false);
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/account');
    await page.goto(`${live.url}/settings/security`);
    await visible(page.getByText('Adding a security key needs JavaScript, which is off in this browser.')).toBe(true);
    await disabled(page.getByRole('button', { name: 'Add security key' })).toBe(true);
    const { codes } = await addApp(page, 'Plain phone', false);
    expect(codes).toHaveLength(10);
    await page.getByRole('link', { name: 'I have saved them' }).click();
    await text(page.locator('.factors')).toContain('Plain phone');
  });
});

/** An ~800 px wide picture for the README under test-results/screenshots/. */
async function shot(page: Page, name: string): Promise<void> {
  const dir = join(process.cwd(), 'test-results', 'screenshots');
  mkdirSync(dir, { recursive: true });
  await page.setViewportSize({ width: 800, height: 900 });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}
