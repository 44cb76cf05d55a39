// The console's audit log in Chromium, as a floor admin reads it: sentences (who, to whom, why),
// filters by event type and by person that work without JavaScript, the raw event opened in place,
// and "older" pages that keep the filters. axe-core on the page and screenshots (admin-audit-log-*).
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { browserSuite, h1, pathOf, screenshot, seriousViolations, STRONG, text, unique, visible } from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 90_000 });

let slug: string;
const ann = 'ann.admin@floor.example';

const { live, openPage, signIn: signInAt } = browserSuite({}, async () => {
  slug = unique('floor');
  await live.tenant(slug, { name: 'Floor Support' });
  await live.op('POST', `/admin/v1/tenants/${slug}/users`, { email: ann, name: 'Ann', password: STRONG, role: 'admin' });
});

async function signedIn(opts: { javaScriptEnabled?: boolean } = {}): Promise<Page> {
  const page = await openPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', ...opts });
  await signInAt(page, '/login?next=%2Fadmin%2Faudit', ann, STRONG);
  await pathOf(page).toBe('/admin/audit');
  return page;
}

describe('the audit log in the console', () => {
  it('reads as sentences; filters by event type and by person; the raw event opens in place', async () => {
    const ben = `${unique('ben')}@floor.example`;
    const cleo = `${unique('cleo')}@floor.example`;
    const { id: benId } = await live.user(slug, ben);
    await live.user(slug, cleo);

    // Ann sends Ben a reset link with a reason, on the page that works without JavaScript.
    const page = await signedIn();
    await page.goto(`${live.url}/admin/users/${benId}/reset`);
    await page.getByLabel('Reason (optional)').fill('locked out on the floor');
    await page.getByRole('button', { name: 'Send reset email' }).click();
    await pathOf(page).toBe(`/admin/users/${benId}`);

    await page.goto(`${live.url}/admin/audit`);
    await h1(page).toBe('Audit log');
    const sentence = `Ann (admin) sent a reset link to ${ben} — reason: locked out on the floor`;
    await text(page.locator('tbody tr').first()).toContain(sentence);
    expect(await page.locator('.audit-sentence').allInnerTexts()).toEqual(expect.arrayContaining([
      `The operator added ${cleo} as a member`, `The operator added ${ben} as a member`,
    ]));

    // By type: the grouped list, then only the resets.
    expect(await page.locator('#audit-type optgroup').evaluateAll((groups) => groups.map((g) => (g as HTMLOptGroupElement).label)))
      .toEqual(['Accounts', 'Sign-in and sessions', 'Passwords', 'Two-step verification', 'Organisation and integrations']);
    await page.getByLabel('Event').selectOption('admin_reset_issued');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('.audit-sentence').allInnerTexts()).toEqual([sentence]);
    expect(new URL(page.url()).searchParams.get('type')).toBe('admin_reset_issued');

    // By person: Cleo's address, any event.
    await page.getByLabel('Event').selectOption('');
    await page.getByLabel('User (email address)').fill(cleo);
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('.audit-sentence').allInnerTexts()).toEqual([`The operator added ${cleo} as a member`]);

    // The raw event, one click away: the JSON as stored.
    const row = page.locator('tbody tr').first();
    const raw = row.locator('pre');
    expect(await raw.isVisible()).toBe(false);
    await row.getByText('Raw event').click();
    await visible(raw);
    const event = JSON.parse(await raw.innerText());
    expect(event).toMatchObject({ type: 'user_created', actor: { type: 'operator' }, data: { role: 'member' } });
    expect(event).not.toHaveProperty('text');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'admin-audit-log');
  });

  it('works without JavaScript: the filters, an unknown address said beside its field, and older pages keep the filters', async () => {
    // 55 sign-ins by one person: more than one page of 50.
    const dana = `${unique('dana')}@floor.example`;
    await live.user(slug, dana);
    for (let i = 0; i < 55; i++) {
      const res = await live.app.publicApp.inject({ method: 'POST', url: '/api/v1/login', payload: { email: dana, password: STRONG } });
      expect(res.statusCode).toBe(200);
    }
    const page = await signedIn({ javaScriptEnabled: false });
    await page.getByLabel('User (email address)').fill(`nobody-${dana}`);
    await page.getByRole('button', { name: 'Filter' }).click();
    await text(page.locator('.field-error')).toBe('There is no user with this email address.');

    await page.getByLabel('User (email address)').fill(dana);
    await page.getByLabel('Done by').selectOption('user');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('.audit-sentence').count()).toBe(50);
    expect(new Set(await page.locator('.audit-sentence').allInnerTexts())).toEqual(new Set([`${dana} signed in`]));
    await page.getByRole('link', { name: 'Older events' }).click();
    await expect.poll(() => page.locator('.audit-sentence').count()).toBe(5);
    expect(await page.getByLabel('User (email address)').inputValue()).toBe(dana);
    expect(await page.getByLabel('Done by').inputValue()).toBe('user');
    await page.getByText('Raw event').first().click();
    expect(JSON.parse(await page.locator('pre').first().innerText())).toMatchObject({ type: 'signed_in', actor: { type: 'user' } });
  });
});
