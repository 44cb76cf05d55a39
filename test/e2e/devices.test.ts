// /settings/sessions in a real Chromium: one person signed in from three browsers. The first ends
// the second from its device list; the second is signed out on its very next click; the third
// stays signed in. Then "Sign out everywhere else" from the third.
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { account, browserSuite, h1, pathOf, seriousViolations, STRONG, text, visible } from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 30_000 });

const { live, openPage, signIn } = browserSuite();

const UA = {
  windows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  linux: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
};

const rows = (page: Page) => page.locator('#sessions li');

describe('/settings/sessions', () => {
  it('three browsers, one person: the first signs the second out, which is signed out on its next click; the third stays', async () => {
    const { slug, email } = await account(live, { prefix: 'devices' });
    const browsers: Page[] = [];
    for (const userAgent of [UA.windows, UA.linux, UA.iphone]) {
      const page = await openPage({ userAgent, viewport: { width: 900, height: 900 }, locale: 'en-GB' });
      await signIn(page, `/t/${slug}/login`, email, STRONG);
      await pathOf(page).toBe('/account');
      browsers.push(page);
    }
    const [first, second, third] = browsers as [Page, Page, Page];

    await first.getByRole('link', { name: 'Signed-in devices' }).click();
    await pathOf(first).toBe('/settings/sessions');
    await h1(first).toBe('Signed-in devices');
    await expect.poll(() => rows(first).count()).toBe(3);
    const mine = rows(first).filter({ hasText: 'This device' });
    await text(mine).toContain('Chrome on Windows');
    await text(rows(first).first()).toContain('This device'); // the most recently used first
    expect(await mine.getByRole('button').count(), 'no "Sign out" on this device').toBe(0);
    await text(first.locator('#sessions')).toContain('Firefox on Linux');
    await text(first.locator('#sessions')).toContain('Safari on iPhone');
    await text(first.locator('#sessions')).toContain('127.0.0.1');
    expect(await seriousViolations(first)).toEqual([]);

    await first.getByRole('button', { name: 'Sign out Firefox on Linux' }).click();
    await first.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await visible(first.getByText('The device was signed out.')).toBe(true);
    await expect.poll(() => rows(first).count()).toBe(2);
    await text(first.locator('#sessions')).not.toContain('Firefox on Linux');

    // The second browser still shows its page; its next click finds it signed out.
    await second.getByRole('link', { name: 'Change password' }).click();
    await pathOf(second).toBe('/login');
    await visible(second.getByLabel('Email address')).toBe(true);

    // The third is untouched: it signs the first out in one go.
    await third.getByRole('link', { name: 'Signed-in devices' }).click();
    await pathOf(third).toBe('/settings/sessions');
    await expect.poll(() => rows(third).count()).toBe(2);
    await third.getByRole('button', { name: 'Sign out everywhere else' }).click();
    await third.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await visible(third.getByText('Every other device was signed out.')).toBe(true);
    await expect.poll(() => rows(third).count()).toBe(1);
    await visible(third.getByText('No other device is signed in.')).toBe(true);

    await first.reload();
    await pathOf(first).toBe('/login');
  });
});
