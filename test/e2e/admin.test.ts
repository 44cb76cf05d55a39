// The tenant admin console in Chromium: the users list, the reset dialog and the link to copy that
// works in another browser, disabling a user whose session is open elsewhere, a new user's welcome
// email, the audit log and its downloads; axe-core on every console page, and screenshots at
// desktop width and 360 px (test-results/screenshots/admin-*).
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { parseCsv } from '../../src/platform/csv.ts';
import {
  browserSuite, extractReset, fillNewPassword, h1, openResetLink, pathOf, screenshot, seriousViolations, STRONG, STRONG2, text, unique, visible,
} from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 90_000 });

let tenant: { slug: string; name: string };
let adminEmail: string;

const { live, openPage, signIn: signInAt } = browserSuite({}, async () => {
  // A fresh in-memory Keyturn per file: readable names make the screenshots in docs/ readable.
  tenant = await live.tenant('acme', { name: 'Acme Support' });
  adminEmail = 'ada.admin@acme.example';
  await live.op('POST', '/admin/v1/tenants/acme/users', { email: adminEmail, name: 'Ada Admin', password: STRONG, role: 'admin' });
});

const newPage = (opts: { javaScriptEnabled?: boolean } = {}): Promise<Page> =>
  openPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', acceptDownloads: true, ...opts });

async function signIn(page: Page, email: string, password: string, next = '/admin') {
  await signInAt(page, `/login?next=${encodeURIComponent(next)}`, email, password);
  await pathOf(page).toBe(next.split('?')[0]);
}

/** Accessible (no serious or critical axe finding), and photographed at both widths. */
async function check(page: Page, name: string) {
  await page.waitForLoadState('load');
  expect(await seriousViolations(page), name).toEqual([]);
  await screenshot(page, name);
}

describe('admin console', () => {
  it('list → reset dialog → link to copy → opened in another browser → new password; the old one worked until then', async () => {
    const email = 'rita.ramos@acme.example';
    await live.op('POST', '/admin/v1/tenants/acme/users', { email, name: 'Rita Ramos', password: STRONG });
    for (const [e, name] of [['aaron.abbott', 'Aaron Abbott'], ['bea.baker', 'Bea Baker'], ['cleo.chen', 'Cleo Chen']]) {
      await live.op('POST', '/admin/v1/tenants/acme/users', { email: `${e}@acme.example`, name, password: STRONG });
    }
    // One who never chose a password (a welcome link is pending), one disabled.
    await live.op('POST', '/admin/v1/tenants/acme/users', { email: 'erin.evans@acme.example', name: 'Erin Evans', sendWelcome: true });
    const dora = await live.op('POST', '/admin/v1/tenants/acme/users', { email: 'dora.diaz@acme.example', name: 'Dora Diaz', password: STRONG });
    await live.op('PATCH', `/admin/v1/tenants/acme/users/${dora.id}`, { disabled: true });

    const admin = await newPage();
    await signIn(admin, adminEmail, STRONG);
    await h1(admin).toBe('Users');
    await text(admin.locator('.site-header .brand')).toBe('Acme Support');
    await check(admin, 'admin-users');

    // Search narrows the list to her; her row has no pending reset yet.
    await admin.getByLabel('Search by email or name').fill(email.slice(0, 10));
    await admin.getByRole('button', { name: 'Search' }).click();
    const row = admin.getByRole('row').filter({ hasText: email });
    await expect.poll(() => admin.getByRole('row').count()).toBe(2); // header + her
    await text(row).toContain('Password');
    await text(row).toContain('Never');

    // The dialog, not a page: the URL stays, focus moves into it, Escape would close it.
    await row.getByRole('link', { name: `Reset password for ${email}` }).click();
    const dialog = admin.getByRole('dialog');
    await visible(dialog);
    await text(dialog.getByRole('heading')).toBe(`Reset the password of ${email}`);
    await pathOf(admin).toBe('/admin');
    expect(await dialog.getByLabel('The link works for').inputValue()).toBe('72h');
    await dialog.getByLabel('The link works for').selectOption('24h');
    await dialog.getByLabel('Reason (optional)').fill('Locked out before her shift, verified by phone');
    await check(admin, 'admin-reset-dialog');
    await dialog.getByRole('button', { name: 'Create link to copy' }).click();

    await h1(admin).toBe('Reset link');
    const url = await admin.getByLabel('Reset link').inputValue();
    expect(url).toMatch(new RegExp(`^${live.url}/reset-password\\?token=[A-Za-z0-9_-]{43}$`));
    await admin.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: live.url });
    await admin.getByRole('button', { name: 'Copy link' }).click();
    await text(admin.locator('#copy-status')).toBe('Link copied.');
    expect(await admin.evaluate(() => navigator.clipboard.readText())).toBe(url);
    await check(admin, 'admin-reset-link');
    // Shown once: a reload does not show it again.
    await admin.reload();
    await text(admin.getByRole('alert')).toContain('shown only once');

    // Nothing changed yet: her password still works, in her own browser.
    const rita = await newPage();
    await signIn(rita, email, STRONG, '/account');

    // The list shows the pending link, who made it, until when.
    await admin.goto(`${live.url}/admin?q=${encodeURIComponent(email)}`);
    await text(admin.getByRole('row').filter({ hasText: email })).toContain(`made by ${adminEmail}`);

    // She opens the link in another browser and chooses a new password.
    const other = await newPage();
    await openResetLink(other, url);
    await fillNewPassword(other, STRONG2);
    await other.getByRole('button', { name: 'Confirm new password' }).click();
    await h1(other).toBe('Your password has been reset');
    await signIn(other, email, STRONG2, '/account');

    // Completing it signed out her old session.
    await rita.reload();
    await pathOf(rita).toBe('/login');
  });

  it('disable: that user\'s open session ends on the next click; enable lets them back in', async () => {
    const email = 'dan.dorsey@acme.example';
    const { id } = await live.user(tenant.slug, email);
    const dan = await newPage();
    await signIn(dan, email, STRONG, '/account');

    const admin = await newPage();
    await signIn(admin, adminEmail, STRONG, `/admin/users/${id}`);
    await h1(admin).toBe(email);
    await check(admin, 'admin-user');
    await admin.getByRole('button', { name: 'Disable' }).click();
    const confirm = admin.getByRole('dialog');
    await text(confirm).toContain(`Disable ${email}?`);
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    await text(admin.getByRole('status').first()).toContain('Disabled');
    await text(admin.locator('.facts')).toContain('Disabled');
    // A disabled user cannot be reset: the console says why instead of offering it.
    expect(await admin.getByRole('link', { name: 'Reset password' }).count()).toBe(0);
    await text(admin.locator('#actions-heading + .action-row + .hint')).toContain('Enable it first');

    await dan.getByRole('link', { name: 'Change password' }).click();
    await pathOf(dan).toBe('/login');
    await text(dan.getByRole('status')).toContain('You were signed out');

    await admin.getByRole('button', { name: 'Enable' }).click();
    await text(admin.getByRole('status').first()).toContain('Enabled');
    await signIn(dan, email, STRONG, '/account');
  });

  it('a user created without a password gets a welcome email; its link sets the first password', async () => {
    const email = 'wes.walker@acme.example';
    const admin = await newPage();
    await signIn(admin, adminEmail, STRONG);
    await admin.getByRole('link', { name: 'Create user' }).click();
    await h1(admin).toBe('Create a user');
    await admin.getByLabel('Email address').fill(email);
    await admin.getByLabel('Name (optional)').fill('Wes Welcome');
    await check(admin, 'admin-create-user');
    expect(await admin.getByLabel('Email a welcome link so they can choose a password').isChecked()).toBe(true);
    const since = live.mail.messages.length;
    await admin.getByRole('button', { name: 'Create user' }).click();
    await h1(admin).toBe('Wes Welcome');
    await text(admin.getByRole('status').first()).toContain('welcome email');
    await text(admin.locator('.facts')).toContain('None yet'); // no sign-in method yet

    const mail = await live.mail.waitFor((m) => live.mail.messages.indexOf(m) >= since && m.to.includes(email), 10_000);
    expect(mail.subject).toBe('Welcome — set your password');
    expect(mail.text).toContain('Acme Support');
    const { token } = extractReset(mail);
    // Its delivery shows on the user's page, sent, with the mail server's reply.
    await expect.poll(async () => { await admin.reload(); return admin.locator('#deliveries-heading + .table-wrap').innerText(); }, { timeout: 10_000 }).toContain('Sent');
    await text(admin.locator('#deliveries-heading + .table-wrap')).toContain('Mail server replied: 250');

    const wes = await newPage();
    await openResetLink(wes, `${live.url}/reset-password?token=${token}`);
    await fillNewPassword(wes, STRONG2);
    await wes.getByRole('button', { name: 'Confirm new password' }).click();
    await h1(wes).toBe('Your password has been reset');
    await signIn(wes, email, STRONG2, '/account');
  });

  it('the audit log filters by user and event, and its CSV and JSON Lines downloads parse', async () => {
    const email = 'alex.amato@acme.example';
    const { id } = await live.user(tenant.slug, email);
    const admin = await newPage();
    await signIn(admin, adminEmail, STRONG, `/admin/users/${id}`);
    await admin.getByRole('button', { name: 'Send a new reset email' }).click();
    await text(admin.getByRole('status').first()).toContain('Reset email queued');
    await admin.getByRole('link', { name: 'Audit log for this user' }).click();
    await h1(admin).toBe('Audit log');
    expect(await admin.getByLabel('User (email address)').inputValue()).toBe(email);
    await admin.getByLabel('Event').selectOption('admin_reset_issued');
    await admin.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => admin.getByRole('row').count()).toBe(2);
    await text(admin.getByRole('row').nth(1)).toContain(`Ada Admin (admin) sent a reset link to ${email}`);
    await check(admin, 'admin-audit');

    const [csvDownload] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('link', { name: 'Download CSV' }).click()]);
    expect(csvDownload.suggestedFilename()).toMatch(new RegExp(`^audit-${tenant.slug}-\\d{4}-\\d{2}-\\d{2}\\.csv$`));
    const rows = parseCsv(readFileSync((await csvDownload.path())!, 'utf8'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: 'admin_reset_issued', userid: id, actor: expect.stringMatching(/^admin:/) });
    expect(JSON.parse(rows[0]!.data!)).toMatchObject({ delivery: 'email' });

    const [jsonl] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('link', { name: 'Download JSON Lines' }).click()]);
    const lines = readFileSync((await jsonl.path())!, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({ type: 'admin_reset_issued', userId: id, actor: expect.objectContaining({ type: 'admin' }) })]);
  });

  it('works without JavaScript: the reset confirmation is a page, the link page shows the link', async () => {
    const email = `${unique('nojs')}@example.com`;
    await live.user(tenant.slug, email);
    const admin = await newPage({ javaScriptEnabled: false });
    await signIn(admin, adminEmail, STRONG, `/admin?q=${encodeURIComponent(email)}`);
    await admin.getByRole('link', { name: `Reset password for ${email}` }).click();
    await pathOf(admin).toMatch(/^\/admin\/users\/[0-9a-f-]{36}\/reset$/);
    await h1(admin).toBe(`Reset the password of ${email}`);
    await admin.getByRole('button', { name: 'Create link to copy' }).click();
    await h1(admin).toBe('Reset link');
    expect(await admin.getByLabel('Reset link').inputValue()).toContain('/reset-password?token=');
    expect(await admin.getByRole('button', { name: 'Copy link' }).isVisible()).toBe(false); // needs JavaScript
  });

  it('a member gets the "administrators only" page', async () => {
    const email = `${unique('mem')}@example.com`;
    await live.user(tenant.slug, email);
    const member = await newPage();
    await signIn(member, email, STRONG, '/account');
    const res = await member.goto(`${live.url}/admin`);
    expect(res?.status()).toBe(403);
    await h1(member).toBe('Administrators only');
  });
});

