// Tenant branding in Chromium: every page a tenant's people see wears the tenant's brand instead of
// Keyturn's wordmark — login, forgot, the reset page opened from the real email the SMTP catcher
// caught, "done", the settings pages, the console — with the logo served from another origin that
// only that tenant's pages allow; the global /login keeps Keyturn's. And a red or orange brand never
// makes a focused empty field look like an invalid one (computed styles compared).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { browserSuite, fillNewPassword, h1, pathOf, screenshot, seriousViolations, STRONG, text, unique } from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 90_000 });

const BRAND = 'Acme Help Centre';
const LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40"><rect width="160" height="40" rx="6" fill="#d00000"/></svg>';

// The logo's own origin: a second loopback server, as a CDN would be.
let cdn: Server;
let logoUrl: string;
let slug: string;

const { live, openPage, signIn, openMailLink } = browserSuite({}, async ({ live }) => {
  cdn = createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/svg+xml', 'cross-origin-resource-policy': 'cross-origin' }).end(LOGO_SVG));
  await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve));
  logoUrl = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}/acme.svg`;
  slug = unique('acme');
  await live.tenant(slug, { name: 'Acme Support', brand: { name: BRAND, color: '#d00000', logoUrl } });
});
afterAll(() => new Promise<void>((resolve) => (cdn ? cdn.close(() => resolve()) : resolve())));

const newPage = () => openPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });

/** The header shows the tenant's logo, loaded (the CSP let it in), named after the brand; no Keyturn wordmark; the title says the brand. */
async function showsBrand(page: Page, where: string) {
  const logo = page.locator('.site-header').getByRole('img', { name: BRAND });
  await expect.poll(() => logo.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 8000 }).toBe(160);
  expect(await page.locator('.site-header').innerText(), where).not.toContain('Keyturn');
  expect(await page.title(), where).toMatch(/ · Acme Help Centre$/);
}

describe('the brand on the tenant\'s pages', () => {
  it('login, forgot, the reset page from the emailed link, and "done" show the brand; so does the email', async () => {
    const email = `${unique('rita')}@acme.example`;
    await live.user(slug, email);
    const page = await newPage();
    await page.goto(`${live.url}/t/${slug}/login`);
    await showsBrand(page, 'login');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'branding-login');

    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await pathOf(page).toBe(`/t/${slug}/forgot-password`);
    await showsBrand(page, 'forgot');
    const since = live.mail.messages.length;
    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Send reset email' }).click();
    await pathOf(page).toBe(`/t/${slug}/forgot-password/sent`);
    await showsBrand(page, 'sent');

    const { mail } = await live.resetMailFor(email, since);
    expect(mail.html).toContain(`alt="${BRAND}"`);
    expect(mail.text.trimEnd()).toMatch(/— Acme Help Centre$/);
    await openMailLink(page, mail.html!);
    await showsBrand(page, 'reset');
    await fillNewPassword(page, 'Copper-Kettle-913!');
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await h1(page).toBe('Your password has been reset');
    await showsBrand(page, 'done');
  });

  it('the signed-in settings pages show the session\'s tenant\'s brand', async () => {
    const email = `${unique('sam')}@acme.example`;
    await live.user(slug, email);
    const page = await newPage();
    await signIn(page, `/t/${slug}/login`, email, STRONG);
    await pathOf(page).toBe('/account');
    for (const path of ['/account', '/settings/password', '/settings/security', '/settings/sessions']) {
      await page.goto(live.url + path);
      await showsBrand(page, path);
    }
  });

  it('the global /login shows Keyturn\'s wordmark, and no tenant\'s logo could load there', async () => {
    const page = await newPage();
    await page.goto(`${live.url}/login`);
    await text(page.locator('.site-header')).toBe('Keyturn');
    expect(await page.title()).toBe('Sign in · Keyturn');
    // The CDN is not in this page's img-src: an image from there is refused.
    const loaded = await page.evaluate((src) => new Promise<boolean>((resolve) => {
      const img = new Image();
      img.onload = () => resolve(true);
      img.onerror = () => resolve(false);
      img.src = src;
    }), logoUrl);
    expect(loaded).toBe(false);
  });

  it('an admin sets the brand in the console and the console wears it', async () => {
    const admin = `${unique('ada')}@acme.example`;
    await live.user(slug, admin, { role: 'admin' });
    const page = await newPage();
    await signIn(page, `/t/${slug}/login?next=${encodeURIComponent('/admin/branding')}`, admin, STRONG);
    await pathOf(page).toBe('/admin/branding');
    await showsBrand(page, 'console');
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel('Name', { exact: true }).fill(BRAND);
    await page.getByLabel('Colour', { exact: true }).fill('#0f766e');
    await page.getByRole('button', { name: 'Save branding' }).click();
    await text(page.getByRole('status')).toBe('Branding saved.');
    await text(page.locator('.brand-sample')).toContain('#0f766e');
    await screenshot(page, 'branding-console');
    await page.getByLabel('Colour', { exact: true }).fill('#d00000'); // back to red for the focus test below
    await page.getByRole('button', { name: 'Save branding' }).click();
    await text(page.locator('.brand-sample')).toContain('#d00000');
  });
});

describe('focus is never taken for an error, whatever the brand colour', () => {
  const ERROR = 'rgb(179, 38, 30)';

  /** Computed styles of the email field on this tenant's forgot page: focused and empty, then invalid (not focused). */
  async function focusedAndInvalid(tenant: string) {
    const page = await newPage();
    await page.goto(`${live.url}/t/${tenant}/forgot-password`);
    const field = page.getByLabel('Email address');
    const styles = () => field.evaluate((el) => {
      const s = getComputedStyle(el);
      return { outline: `${s.outlineStyle} ${s.outlineColor}`, border: s.borderTopColor, left: s.borderLeftWidth, background: s.backgroundColor };
    });
    await page.keyboard.press('Tab'); // the skip link, then the field: a keyboard focus
    await page.keyboard.press('Tab');
    await expect.poll(() => field.evaluate((el) => el === document.activeElement && el.matches(':focus-visible'))).toBe(true);
    const focused = await styles();
    await field.fill('not-an-address');
    await page.getByRole('button', { name: 'Send reset email' }).click();
    await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
    await field.evaluate((el) => (el as HTMLInputElement).blur());
    const invalid = await styles();
    const icon = await page.locator('.field-error').evaluate((el) => getComputedStyle(el, '::before').content);
    return { focused, invalid, icon };
  }

  for (const [label, colour] of [['a red', '#d00000'], ['an orange', '#ff8c00']] as const) {
    it(`${label} brand: the focus ring is neutral, the invalid field differs in more than colour`, async () => {
      const tenant = unique('warm');
      await live.tenant(tenant, { brand: { name: `Warm ${colour}`, color: colour } });
      const { focused, invalid, icon } = await focusedAndInvalid(tenant);
      expect(focused.outline).toBe('solid rgb(27, 31, 39)'); // the text colour, not the brand's
      expect(focused.border).not.toBe(ERROR);
      expect(focused.left).toBe('1px');
      expect(invalid.border).toBe(ERROR);
      expect(invalid.left).toBe('6px');
      expect(invalid.background).not.toBe(focused.background);
      expect(icon).toContain('⚠');
    });
  }

  it('a brand far from the error red keeps its colour on the focus ring', async () => {
    const tenant = unique('teal');
    await live.tenant(tenant, { brand: { name: 'Teal', color: '#0f766e' } });
    const { focused } = await focusedAndInvalid(tenant);
    expect(focused.outline).toBe('solid rgb(15, 118, 110)');
  });
});
