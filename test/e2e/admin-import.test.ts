// The console's CSV import and users download in Chromium: a file with bad rows previews why and
// creates nothing; corrected, it previews "create" on every row and creates them all (with the
// welcome email); someone creating one of the users between preview and apply makes it create
// nothing; without JavaScript the rows are pasted; the list's "Download CSV" has the emails.
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { parseCsv } from '../../src/platform/csv.ts';
import { browserSuite, h1, pathOf, screenshot, seriousViolations, STRONG, text } from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 90_000 });

const ADMIN = 'ada.admin@floor.example';

const { live, openPage, signIn } = browserSuite({}, async () => {
  await live.tenant('floor', { name: 'Floor Support' });
  await live.op('POST', '/admin/v1/tenants/floor/users', { email: ADMIN, name: 'Ada Admin', password: STRONG, role: 'admin' });
  await live.op('POST', '/admin/v1/tenants/floor/users', { email: 'sam.taken@floor.example', name: 'Sam Taken', password: STRONG });
});

/** The tenant's addresses, sorted. */
async function emails(): Promise<string[]> {
  const res = await live.app.adminApp.inject({ method: 'GET', url: '/admin/v1/tenants/floor/users?limit=200', headers: { authorization: `Bearer ${live.app.adminApiKey}` } });
  return (JSON.parse(res.body).users as { email: string }[]).map((u) => u.email).sort();
}

async function adminPage(opts: { javaScriptEnabled?: boolean } = {}): Promise<Page> {
  const page = await openPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', acceptDownloads: true, ...opts });
  await signIn(page, `/login?next=${encodeURIComponent('/admin')}`, ADMIN, STRONG);
  await pathOf(page).toBe('/admin');
  return page;
}

const file = (name: string, lines: string[]) => ({ name, mimeType: 'text/csv', buffer: Buffer.from(`${lines.join('\r\n')}\r\n`) });

describe('console CSV import', () => {
  it('a bad row: the preview says why and nothing is created; corrected, every row is created with its welcome email', async () => {
    const page = await adminPage();
    await page.getByRole('link', { name: 'Import users' }).click();
    await h1(page).toBe('Import users');
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByLabel('CSV file').setInputFiles(file('agents.csv', [
      'email,name,role',
      'ben.one@floor.example,Ben One,member',
      'sam.taken@floor.example,Sam Again,member',
      'cara.two@floor.example,"Two, Cara",supervisor',
      'not-an-email,Nobody,member',
      'dan.three@floor.example,Dan Three,owner',
      'ben.one@floor.example,Ben Twice,member',
    ]));
    await expect.poll(() => page.getByLabel('Rows (CSV)').inputValue()).toContain('cara.two@floor.example');
    await page.getByRole('button', { name: 'Preview' }).click();

    await h1(page).toBe('Import users: preview');
    await text(page.locator('#import-summary')).toBe('6 rows: 2 will be created, 4 cannot be.');
    await text(page.getByRole('alert').first()).toContain('Nothing has been created');
    const outcome = (line: number) => page.getByRole('row').filter({ has: page.getByRole('cell', { name: String(line), exact: true }) });
    await text(outcome(2)).toContain('create');
    await text(outcome(3)).toContain('already a user');
    await text(outcome(4)).toContain('Two, Cara');
    await text(outcome(5)).toContain('not an email address');
    await text(outcome(6)).toContain('role must be admin, supervisor or member, not "owner"');
    await text(outcome(7)).toContain('twice in this file');
    expect(await page.getByRole('button', { name: /^Create/ }).count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'admin-import-problems');
    expect(await emails()).toEqual([ADMIN, 'sam.taken@floor.example']);

    // Corrected in the box the preview keeps, then previewed again.
    await page.getByLabel('Rows (CSV)').fill([
      'email,name,role',
      'ben.one@floor.example,Ben One,member',
      'cara.two@floor.example,"Two, Cara",supervisor',
      'dan.three@floor.example,Dan Three,',
    ].join('\n'));
    await page.getByRole('button', { name: 'Preview' }).click();
    await text(page.locator('#import-summary')).toBe('3 rows: 3 will be created.');
    await text(page.getByRole('status').first()).toContain('Nothing has been created yet');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'admin-import-preview');
    await page.getByLabel('Send each new user the welcome email').check();
    const since = live.mail.messages.length;
    await page.getByRole('button', { name: 'Create 3 users' }).click();

    await pathOf(page).toBe('/admin/users/import');
    await text(page.getByRole('status').first()).toContain('Created 3 users; the welcome emails are on their way.');
    expect(await emails()).toEqual([ADMIN, 'ben.one@floor.example', 'cara.two@floor.example', 'dan.three@floor.example', 'sam.taken@floor.example']);
    for (const to of ['ben.one@floor.example', 'cara.two@floor.example', 'dan.three@floor.example']) {
      const m = await live.mail.waitFor((x) => live.mail.messages.indexOf(x) >= since && x.to.includes(to));
      expect(m.subject).toMatch(/welcome/i);
    }
  });

  it('someone creates one of the users between preview and apply: nothing is created, and the new preview says why', async () => {
    const page = await adminPage();
    await page.goto(`${live.url}/admin/users/import`);
    await page.getByLabel('Rows (CSV)').fill('email\nella.race@floor.example\nfinn.race@floor.example\n');
    await page.getByRole('button', { name: 'Preview' }).click();
    await text(page.locator('#import-summary')).toBe('2 rows: 2 will be created.');
    await live.op('POST', '/admin/v1/tenants/floor/users', { email: 'finn.race@floor.example' });
    await page.getByRole('button', { name: 'Create 2 users' }).click();

    await text(page.getByRole('alert').first()).toContain('Nothing was created: some of these users were created by someone else since the preview.');
    await text(page.locator('#import-summary')).toBe('2 rows: 1 will be created, 1 cannot be.');
    expect(await emails()).not.toContain('ella.race@floor.example');
  });

  it('works without JavaScript: the rows are pasted; the list\'s Download CSV has the emails', async () => {
    const page = await adminPage({ javaScriptEnabled: false });
    await page.goto(`${live.url}/admin/users/import`);
    expect(await page.getByLabel('CSV file').isVisible()).toBe(false);
    await page.getByLabel('Rows (CSV)').fill('email,name\ngia.nojs@floor.example,Gia\n');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('button', { name: 'Create 1 user' }).click();
    await text(page.getByRole('status').first()).toContain('Created 1 user.');

    await page.goto(`${live.url}/admin`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^users-floor-\d{4}-\d{2}-\d{2}\.csv$/);
    const rows = parseCsv(readFileSync((await download.path())!, 'utf8'));
    expect(rows.map((r) => r.email)).toContain('gia.nojs@floor.example');
    expect(rows.find((r) => r.email === 'gia.nojs@floor.example')).toMatchObject({ name: 'Gia', role: 'member', status: 'active' });
    expect(Object.keys(rows[0]!)).toEqual(['email', 'name', 'role', 'status', 'mfa', 'signinmethods', 'lastloginat', 'createdat']);
  });
});
