// The console on a contact-center floor, in Chromium: a supervisor next to an admin, the users list
// with its count and filters, a bulk sign-out of a whole page of agents, and erasing a person.
// Screenshots: test-results/screenshots/floor-*.
import { describe, expect, it, vi } from 'vitest';
import { browserSuite, h1, pathOf, screenshot, seriousViolations, STRONG, text, visible } from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 120_000 });

const AGENTS = 55;
const agentEmail = (i: number) => `agent${String(i).padStart(2, '0')}@acme.example`;
const ids = new Map<string, string>();

const { live, openPage, signIn: signInAt } = browserSuite({}, async () => {
  await live.tenant('acme', { name: 'Acme Support' });
  for (const [email, name, role] of [['ada.admin@acme.example', 'Ada Admin', 'admin'], ['sam.super@acme.example', 'Sam Supervisor', 'supervisor']]) {
    ids.set(email!, (await live.op('POST', '/admin/v1/tenants/acme/users', { email, name, password: STRONG, role })).id);
  }
  for (let i = 1; i <= AGENTS; i++) {
    ids.set(agentEmail(i), (await live.op('POST', '/admin/v1/tenants/acme/users', { email: agentEmail(i), name: `Agent ${i}`, password: STRONG })).id);
  }
});

const newPage = () => openPage({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });

/** A session of this agent through the JSON API: its cookie, to see whether it still works. */
async function apiSession(email: string): Promise<string> {
  const res = await fetch(`${live.url}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: live.url }, body: JSON.stringify({ email, password: STRONG, tenant: 'acme' }) });
  expect(res.status).toBe(200);
  return res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
}
const sessionAlive = async (cookie: string) => (await fetch(`${live.url}/api/v1/session`, { headers: { cookie } })).status === 200;

describe('a floor of agents', () => {
  it('a supervisor finds the console from the account page, helps a member, and cannot reach admins, settings or webhooks', async () => {
    const page = await newPage();
    await signInAt(page, '/t/acme/login', 'sam.super@acme.example', STRONG);
    await pathOf(page).toBe('/account');
    await page.getByRole('link', { name: 'Admin console' }).click();
    await h1(page).toBe('Users');
    const nav = page.getByRole('navigation', { name: /console/i });
    expect(await nav.getByRole('link').allInnerTexts()).toEqual(['Users', 'Audit log']);
    await text(page.locator('.admin-who')).toContain('(Supervisor)');
    await visible(page.getByRole('link', { name: 'Create user' })).toBe(false);
    expect(await seriousViolations(page)).toEqual([]);

    // A member: reset and sign-out are there; editing and erasing are not.
    await page.goto(`${live.url}/admin/users/${ids.get(agentEmail(1))}`);
    await visible(page.getByRole('link', { name: 'Reset password' }).first()).toBe(true);
    await visible(page.getByRole('button', { name: 'Sign out everywhere' })).toBe(true);
    await visible(page.getByRole('heading', { name: 'Edit' })).toBe(false);
    await visible(page.getByRole('button', { name: 'Erase' })).toBe(false);
    await visible(page.getByRole('button', { name: 'Disable' })).toBe(false);
    await screenshot(page, 'floor-supervisor-member');

    // An admin's page is not the supervisor's to open, and a forged post is refused.
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const adminPage = await page.goto(`${live.url}/admin/users/${ids.get('ada.admin@acme.example')}`);
    expect(adminPage?.status()).toBe(403);
    await text(page.locator('main')).toContain('Supervisors act on members only');
    const forged = await page.evaluate(async ([id, csrf]) => {
      const res = await fetch(`/admin/users/${id}/sign-out`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${encodeURIComponent(csrf)}` });
      return { status: res.status, body: await res.text() };
    }, [ids.get('ada.admin@acme.example')!, csrf] as const);
    expect(forged.status).toBe(403);
    expect(forged.body).toContain('Supervisors act on members only');

    for (const path of ['/admin/webhooks', '/admin/users/new', '/admin/scim', '/admin/branding']) {
      const res = await page.goto(`${live.url}${path}`);
      expect(res?.status(), path).toBe(403);
      await text(page.locator('main')).toContain('Supervisors cannot do this');
    }
  });

  it('an admin filters the list, ticks a whole page of agents and signs them all out in one go', async () => {
    const sessions = await Promise.all([1, 2, 3, 50].map((i) => apiSession(agentEmail(i))));
    const kept = await apiSession(agentEmail(AGENTS)); // on the second page: not ticked
    const page = await newPage();
    await signInAt(page, '/login?next=/admin', 'ada.admin@acme.example', STRONG);
    await pathOf(page).toBe('/admin');
    await text(page.locator('#users-count')).toBe(`${AGENTS + 2} users`);

    await page.getByLabel('Role').selectOption('member');
    await page.getByRole('button', { name: 'Search' }).click();
    await text(page.locator('#users-count')).toBe(`${AGENTS} users match`);
    await page.getByLabel('Select every user on this page').check();
    expect(await page.locator('#users input[name="ids"]:checked').count()).toBe(50);
    await page.getByLabel('Action').selectOption('sign-out-everywhere');
    await page.getByLabel('Reason (for the audit log)').fill('end of the early shift');
    await screenshot(page, 'floor-bulk');
    await page.screenshot({ path: 'test-results/screenshots/floor-users-top.png' }); // the README's: what fits on a screen
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await text(page.locator('#bulk-result')).toContain('Sign out everywhere: done for 50 users.');
    await screenshot(page, 'floor-bulk-result');

    for (const cookie of sessions) expect(await sessionAlive(cookie)).toBe(false);
    expect(await sessionAlive(kept)).toBe(true);
    // Each agent has its own audit line, with the reason.
    const audit = await live.app.adminApp.inject({ url: '/admin/v1/audit?tenant=acme&type=sessions_revoked&limit=200', headers: { authorization: `Bearer ${live.app.adminApiKey}` } });
    const events = audit.json().events as { data: { reason?: string } }[];
    expect(events.filter((e) => e.data.reason === 'end of the early shift')).toHaveLength(50);
  });

  it('an admin erases a person from their page; the address is free again', async () => {
    const email = agentEmail(7);
    const cookie = await apiSession(email);
    const page = await newPage();
    await signInAt(page, '/login?next=/admin', 'ada.admin@acme.example', STRONG);
    await pathOf(page).toBe('/admin');
    await page.goto(`${live.url}/admin/users/${ids.get(email)}`);
    await page.getByRole('button', { name: 'Erase' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await pathOf(page).toBe('/admin');
    await text(page.locator('main')).toContain('The person was erased');
    expect(await sessionAlive(cookie)).toBe(false);
    await page.getByLabel('Search by email or name').fill(email);
    await page.getByRole('button', { name: 'Search' }).click();
    await text(page.locator('#users-count')).toBe('0 users match');
    // Created again, a new account with a new id.
    const again = await live.op('POST', '/admin/v1/tenants/acme/users', { email, password: STRONG });
    expect(again.id).not.toBe(ids.get(email));
  });
});
