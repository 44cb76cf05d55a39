// /dev/mailbox: a newcomer without SMTP reads the reset email in the browser and clicks its button.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevMailbox } from '../../src/platform/mail/dev-mailbox.ts';
import { launchBrowser, pathOf, screenshot, seriousViolations, startLiveApp, text, unique, type LiveApp } from '../helpers/browser.ts';

let live: LiveApp;
let browser: Browser;
const box = new DevMailbox();

beforeAll(async () => {
  [live, browser] = await Promise.all([startLiveApp({ transport: box }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await live?.close();
});

describe('dev mailbox', () => {
  it('lists the caught mail newest first, renders it in a locked-down frame, and its button opens the reset page', async () => {
    const { slug } = await live.tenant();
    const email = `${unique('newbie')}@example.com`;
    await live.user(slug, email);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();

    await page.goto(`${live.url}/dev/mailbox`);
    await text(page.locator('main')).toContain('No messages yet');

    for (let i = 0; i < 2; i++) {
      await page.goto(`${live.url}/forgot-password`);
      await page.getByLabel('Email address').fill(email);
      await page.getByRole('button', { name: 'Send reset email' }).click();
      await pathOf(page).toBe('/forgot-password/sent');
      await expect.poll(async () => (await box.list()).length, { timeout: 10_000 }).toBe(i + 1);
    }
    const [newest] = await box.list();

    await page.goto(`${live.url}/dev/mailbox`);
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.first().getByRole('link').getAttribute('href')).toBe(`/dev/mailbox/${newest!.id}`);
    await page.waitForLoadState('networkidle');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'dev-mailbox');

    await rows.first().getByRole('link', { name: 'Reset your password' }).click();
    await pathOf(page).toBe(`/dev/mailbox/${newest!.id}`);
    const frame = page.frameLocator('iframe.mail-frame');
    await frame.getByRole('link', { name: 'Reset password' }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'dev-mailbox-message');

    const res = await fetch(`${live.url}/dev/mailbox/${newest!.id}/html`);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(res.headers.get('content-security-policy')).toMatch(/sandbox/);

    await frame.getByRole('link', { name: 'Reset password' }).click();
    await page.waitForURL(`${live.url}/reset-password`);
    await text(page.getByRole('heading', { level: 1 })).toBe('Choose a new password');
    await text(page.locator('.accounts')).toContain(email);
    await context.close();
  });
});
