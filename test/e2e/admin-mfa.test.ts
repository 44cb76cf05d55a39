// Issue 13 in Chromium: an admin resets a member's two-step verification from the user page — the
// status is shown, the reason is typed, the console asks first, then says what happened. axe-core
// and screenshots (test-results/screenshots/admin-mfa-*). The form posts themselves, refusals and
// effects are pinned without a browser in test/mfa/admin-console.test.ts.
import { Secret, TOTP } from 'otpauth';
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { confirmTotp, startTotp } from '../../src/features/mfa/factors.ts';
import { userById } from '../../src/features/accounts/store.ts';
import { tenantBySlug } from '../../src/features/tenants/store.ts';
import { browserSuite, h1, pathOf, screenshot, seriousViolations, STRONG, text, visible } from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 90_000 });

const adminEmail = 'ada.admin@acme.example';
const memberEmail = 'mia.moreno@acme.example';
let memberId: string;

const { live, openPage, signIn } = browserSuite({}, async () => {
  await live.tenant('acme', { name: 'Acme Support' });
  await live.op('POST', '/admin/v1/tenants/acme/users', { email: adminEmail, name: 'Ada Admin', password: STRONG, role: 'admin' });
  memberId = (await live.op('POST', '/admin/v1/tenants/acme/users', { email: memberEmail, name: 'Mia Moreno', password: STRONG })).id;
  // Her authenticator app, added through the feature itself (the settings page has journeys of its own).
  const tenant = (await tenantBySlug(live.app.ctx.db, 'acme'))!;
  const account = { tenant, user: (await userById(live.app.ctx.db, tenant.id, memberId))! };
  const started = await startTotp(live.app.ctx, account);
  const code = new TOTP({ secret: Secret.fromBase32(started.secret) }).generate({ timestamp: live.clock.now().getTime() });
  await confirmTotp(live.app.ctx, account, started.id, code, { type: 'user', id: memberId });
});

async function check(page: Page, name: string) {
  await page.waitForLoadState('load');
  expect(await seriousViolations(page), name).toEqual([]);
  await screenshot(page, name);
}

describe('two-step verification in the admin console', () => {
  it('status on the user page → reason → confirm → reset, and the page says so', async () => {
    const admin = await openPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
    await signIn(admin, `/login?next=${encodeURIComponent(`/admin/users/${memberId}`)}`, adminEmail, STRONG);
    await h1(admin).toBe('Mia Moreno');
    const section = admin.getByRole('region', { name: 'Two-step verification' });
    await text(section).toContain('Authenticator app');
    await text(section).toMatch(/Recovery codes left\s+10/);
    await check(admin, 'admin-mfa-user');

    await section.getByLabel('Reason').fill('Lost her phone; identity checked on a video call');
    await section.getByRole('button', { name: 'Reset two-step verification' }).click();
    const confirm = admin.getByRole('dialog');
    await text(confirm).toContain(`Reset two-step verification for ${memberEmail}?`);
    await confirm.getByRole('button', { name: 'Confirm' }).click();

    await pathOf(admin).toBe(`/admin/users/${memberId}`);
    await visible(admin.getByText('Two-step verification was reset; the user was signed out and emailed.'));
    await text(section).toContain('Off: a password or Google sign-in alone lets them in.');
    expect(await section.getByRole('button', { name: 'Reset two-step verification' }).count()).toBe(0);
    await check(admin, 'admin-mfa-reset-done');
  });
});
