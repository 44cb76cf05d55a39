// Tenant branding (CONTRACT §11) without a browser: `brand` on the operator API (and `branding`,
// its deprecated old name), its checks, the tenant pages' header, title and per-tenant CSP, the
// focus colour of brand.css, the emails' masthead, button and signature, and the console's
// /admin/branding form. The Chromium side is test/e2e/branding.test.ts.
import { describe, expect, it } from 'vitest';
import { contrastWithWhite } from '../../src/features/tenants/settings.ts';
import { STRONG2, useTestApp } from '../helpers/app.ts';
import { oneAddressTwoTenants, tenantWithAdmin } from '../helpers/fixtures.ts';
import { expectError, postForm, PUBLIC_URL } from '../helpers/http.ts';

const t = useTestApp();

const LOGO = 'https://cdn.acme.example/brand/logo.svg';
const KEYTURN_WORDMARK = '<span class="brand"><span class="brand-mark" aria-hidden="true"></span>Keyturn</span>';
const imgSrc = (csp: unknown) => /(?:^|;)img-src ([^;]*)/.exec(String(csp))?.[1];
const patch = (slug: string, body: object) => t.op('PATCH', `/admin/v1/tenants/${slug}`, body);

describe('brand on the operator API', () => {
  it('is set at creation, shown in the tenant view, and null removes it', async () => {
    const slug = `brand-${Date.now().toString(36)}`;
    const created = await t.op('POST', '/admin/v1/tenants', { slug, name: 'Acme', brand: { name: 'Acme Help Centre', color: '#0F766E', logoUrl: LOGO } });
    expect(created.status, created.raw).toBe(201);
    const view = (await t.op('GET', `/admin/v1/tenants/${slug}`)).body;
    expect(view.brand).toEqual({ name: 'Acme Help Centre', logoUrl: LOGO, color: '#0f766e' });
    expect(view.branding).toEqual({ name: 'Acme Help Centre', colour: '#0f766e', logoUrl: LOGO }); // the deprecated name, still shown

    const removed = await patch(slug, { brand: null });
    expect(removed.body.brand).toBeNull();
    const login = await t.api('GET', `/t/${slug}/login`);
    expect(login.raw).not.toContain('brand.css');
    expect(login.raw).not.toContain(KEYTURN_WORDMARK); // still the tenant's page: its name, never Keyturn's wordmark
    expect(login.raw).toContain('<span class="brand brand-tenant">Acme</span>');
  });

  it('the old `branding` with `colour` still works', async () => {
    const a = await tenantWithAdmin(t);
    const res = await patch(a.slug, { branding: { colour: '#FFD700' } });
    expect(res.status, res.raw).toBe(200);
    expect(res.body.brand).toEqual({ name: expect.any(String), logoUrl: null, color: '#ffd700' });
    expect(res.body.branding).toEqual({ name: null, colour: '#ffd700', logoUrl: null });
    expectError(await patch(a.slug, { brand: { name: 'X' }, branding: { name: 'Y' } }), 400, 'invalid_request');
    expect((await patch(a.slug, { branding: null })).body.brand).toBeNull();
  });

  it('refuses a bad brand with a 400 naming the field — and never a logo host that could break out of the CSP', async () => {
    const a = await tenantWithAdmin(t);
    for (const [brand, field] of [
      [{}, 'brand.name'],
      [{ name: '' }, 'brand.name'],
      [{ name: 'A', color: 'gold' }, 'brand.color'],
      [{ name: 'A', logoUrl: 'http://cdn.example/logo.png' }, 'brand.logoUrl'],
      [{ name: 'A', logoUrl: 'javascript:alert(1)' }, 'brand.logoUrl'],
      [{ name: 'A', logoUrl: 'data:image/png;base64,AAAA' }, 'brand.logoUrl'],
      [{ name: 'A', logoUrl: "https://cdn.example;script-src 'unsafe-inline'/x.png" }, 'brand.logoUrl'],
      [{ name: 'A', logoUrl: 'https://a;b.example/x.png' }, 'brand.logoUrl'],
      [{ name: 'A', logoUrl: 'https://user:pw@cdn.example/x.png' }, 'brand.logoUrl'],
      [{ name: 'A', logoUrl: '//cdn.example/x.png' }, 'brand.logoUrl'],
      [{ name: 'A\u202eB' }, 'brand.name'],
    ] as const) {
      const r = await patch(a.slug, { brand });
      expectError(r, 400, 'invalid_request');
      expect(r.body.field, JSON.stringify(brand)).toBe(field);
    }
    expect((await t.op('GET', `/admin/v1/tenants/${a.slug}`)).body.brand).toBeNull();
  });

  it('a path on PUBLIC_URL becomes an address there; no loopback, private or other IP address behind a public PUBLIC_URL', async () => {
    const a = await tenantWithAdmin(t);
    expect((await patch(a.slug, { brand: { name: 'A', logoUrl: '/logos/acme.svg' } })).body.brand.logoUrl).toBe(`${PUBLIC_URL}/logos/acme.svg`);
    for (const logoUrl of ['http://127.0.0.1:9/l.png', 'https://127.0.0.1/l.png', 'https://10.0.0.8/l.png', 'https://[::1]/l.png', 'https://localhost/l.png']) {
      expectError(await patch(a.slug, { brand: { name: 'A', logoUrl } }), 400, 'invalid_request');
    }
  });
});

describe('the tenant\'s pages', () => {
  it('show the brand instead of Keyturn\'s wordmark, and allow images from the logo\'s origin on that tenant\'s pages only', async () => {
    const a = await tenantWithAdmin(t);
    const other = await tenantWithAdmin(t);
    await patch(a.slug, { brand: { name: 'Acme Help Centre', color: '#0f766e', logoUrl: LOGO } });

    const emailedLinks = [`/account/lock?token=x&tenant=${a.slug}`, `/login/unlock?token=x&tenant=${a.slug}`];
    for (const path of [`/t/${a.slug}/login`, `/t/${a.slug}/forgot-password`, `/reset-password/code?tenant=${a.slug}`, `/reset-password/done?tenant=${a.slug}`, ...emailedLinks]) {
      const res = await t.api('GET', path);
      expect(res.status, path).toBe(200);
      expect(res.raw, path).toContain(`<img class="brand-logo" src="${LOGO}" alt="Acme Help Centre">`);
      expect(res.raw, path).not.toContain(KEYTURN_WORDMARK);
      expect(res.raw, path).toMatch(/<title>[^<]* · Acme Help Centre<\/title>/);
      expect(res.raw, path).toContain(`<link rel="stylesheet" href="/t/${a.slug}/brand.css">`);
      expect(imgSrc(res.headers['content-security-policy']), path).toBe("'self' data: https://cdn.acme.example");
    }
    // The signed-in settings pages: the session's tenant.
    for (const path of ['/account', '/settings/password', '/settings/security', '/settings/sessions']) {
      const res = await t.api('GET', path, undefined, { cookie: a.memberSession.cookie });
      expect(res.status, path).toBe(200);
      expect(res.raw, path).toContain('alt="Acme Help Centre"');
      expect(res.raw, path).not.toContain(KEYTURN_WORDMARK);
      expect(imgSrc(res.headers['content-security-policy']), path).toBe("'self' data: https://cdn.acme.example");
    }
    // Everyone else's pages: Keyturn's (global) or their own tenant's, and no image source of Acme's.
    for (const path of ['/login', '/forgot-password', '/reset-password/code', `/t/${other.slug}/login`, '/reset-password/code?tenant=no-such-tenant']) {
      const res = await t.api('GET', path);
      expect(res.raw, path).not.toContain('Acme Help Centre');
      expect(imgSrc(res.headers['content-security-policy']), path).toBe("'self' data:");
    }
    const global = await t.api('GET', '/login');
    expect(global.raw).toContain(KEYTURN_WORDMARK);
    expect(global.raw).toContain('<title>Sign in · Keyturn</title>');
  });

  it('brand.css takes the focus colour from the brand only when it is far from the error red', async () => {
    const focusOf = async (color: string) => {
      const a = await tenantWithAdmin(t);
      await patch(a.slug, { brand: { name: 'A', color } });
      const css = await t.api('GET', `/t/${a.slug}/brand.css`);
      const primary = /--primary: (#[0-9a-f]{6})/.exec(css.raw)![1]!;
      expect(contrastWithWhite(primary), color).toBeGreaterThanOrEqual(4.5);
      return { focus: /--focus: ([^;]+);/.exec(css.raw)![1], primary };
    };
    for (const red of ['#d00000', '#ff8c00', '#e65100', '#c2185b']) expect((await focusOf(red)).focus, red).toBe('var(--text)');
    for (const far of ['#0f766e', '#1f4ed8', '#6a1b9a', '#2e7d32']) {
      const { focus, primary } = await focusOf(far);
      expect(focus, far).toBe(primary);
    }
  });
});

describe('the tenant\'s emails', () => {
  it('the reset email carries the brand in HTML and text, with the brand colour on the button', async () => {
    const a = await tenantWithAdmin(t);
    await patch(a.slug, { brand: { name: 'Acme Help Centre', color: '#ffd700', logoUrl: LOGO } });
    const { mail } = await t.resetMail(a.memberEmail);
    expect(mail.html).toContain(`<img src="${LOGO}" alt="Acme Help Centre"`);
    expect(mail.html).not.toContain('>Keyturn<');
    const button = /<a href="[^"]*" style="background:(#[0-9a-f]{6});color:#ffffff/.exec(mail.html!)?.[1];
    expect(button).toBeDefined();
    expect(button).not.toBe('#ffd700'); // gold darkened until white text on it reads (WCAG AA)
    expect(contrastWithWhite(button!)).toBeGreaterThanOrEqual(4.5);
    expect(mail.text.trimEnd()).toMatch(/— Acme Help Centre$/);
    expect(mail.text).toContain(`/reset-password/code?tenant=${a.slug}`);
  });

  it('the "this wasn\'t me" link of the password-changed notice opens the tenant\'s page, and its answers keep the brand', async () => {
    const a = await tenantWithAdmin(t);
    await patch(a.slug, { brand: { name: 'Acme Help Centre', logoUrl: LOGO } });
    const { token } = await t.resetMail(a.memberEmail);
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: STRONG2 })).status).toBe(200);
    await t.drain();
    const notice = await t.mail.waitFor((m) => m.subject === 'Your password was changed' && m.to.includes(a.memberEmail));
    const link = new URL(/https?:\/\/\S*\/account\/lock\?\S+/.exec(notice.text)![0]);
    expect(link.searchParams.get('tenant')).toBe(a.slug);
    const opened = await t.api('GET', `${link.pathname}${link.search}`);
    expect(opened.raw).toContain('alt="Acme Help Centre"');
    expect(opened.raw).toContain(`action="/account/lock?tenant=${a.slug}"`);
    const lockToken = link.searchParams.get('token')!;
    for (const [answer, status] of [['locked', 200], ['used again', 410]] as const) {
      const res = await postForm(t, `/account/lock?tenant=${a.slug}`, { token: lockToken });
      expect(res.status, answer).toBe(status);
      expect(res.raw, answer).toContain('alt="Acme Help Centre"');
      expect(res.raw, answer).not.toContain(KEYTURN_WORDMARK);
    }
  });

  it('a tenant without a brand signs with its name; a mail for several tenants is Keyturn\'s', async () => {
    const a = await tenantWithAdmin(t);
    const { mail } = await t.resetMail(a.memberEmail);
    const name = (await t.op('GET', `/admin/v1/tenants/${a.slug}`)).body.name as string;
    expect(mail.html).toContain(`<strong style="font-size:16px">${name}</strong>`);

    const { email } = await oneAddressTwoTenants(t, { names: ['Acme One', 'Acme Two'] });
    for (const two of (await t.op('GET', '/admin/v1/tenants')).body.tenants.filter((x: { name: string }) => x.name.startsWith('Acme '))) {
      await patch(two.slug, { brand: { name: `${two.name} Brand` } });
    }
    const several = (await t.resetMail(email)).mail;
    expect(several.html).toContain('<strong style="font-size:16px">Keyturn</strong>');
    expect(several.html).not.toContain(' Brand<');
    expect(several.text).not.toContain('/reset-password/code?tenant=');
  });
});

describe('the console\'s branding page', () => {
  const post = (url: string, cookie: string, fields: Record<string, string>) => postForm(t, url, fields, { cookie });

  it('an admin sets name, logo and colour (audited as tenant_updated); a bad logo is shown under its field; a member gets 403', async () => {
    const a = await tenantWithAdmin(t);
    const page = await t.api('GET', '/admin/branding', undefined, { cookie: a.adminSession.cookie });
    expect(page.status).toBe(200);
    expect(page.raw).toContain('name="color" type="color"');
    expect((await t.api('GET', '/admin/branding', undefined, { cookie: a.memberSession.cookie })).status).toBe(403);
    expect((await post('/admin/branding', a.memberSession.cookie, { _csrf: a.memberSession.csrf, name: 'Evil' })).status).toBe(403);
    expect((await post('/admin/branding', a.adminSession.cookie, { name: 'No CSRF' })).status).toBe(403);

    const bad = await post('/admin/branding', a.adminSession.cookie, { _csrf: a.adminSession.csrf, name: 'Acme', logoUrl: 'ftp://x.example/l.png', useColour: '1', color: '#0f766e' });
    expect(bad.status).toBe(400);
    expect(bad.raw).toMatch(/<p class="field-error" id="brand-logo-error">must be an https:\/\/ address/);
    expect(bad.raw).toContain('value="ftp://x.example/l.png"'); // what was typed stays

    const saved = await post('/admin/branding', a.adminSession.cookie, { _csrf: a.adminSession.csrf, name: 'Acme Floor', logoUrl: LOGO, useColour: '1', color: '#0f766e' });
    expect(saved.status).toBe(303);
    expect(saved.headers.location).toBe('/admin/branding?done=saved');
    expect((await t.op('GET', `/admin/v1/tenants/${a.slug}`)).body.brand).toEqual({ name: 'Acme Floor', logoUrl: LOGO, color: '#0f766e' });
    const audit = await t.op('GET', `/admin/v1/audit?tenant=${a.slug}&type=tenant_updated`);
    expect(audit.body.events[0]).toMatchObject({ type: 'tenant_updated', actor: { type: 'admin', id: a.admin.id }, data: { changed: ['brand'] } });

    const after = await t.api('GET', '/admin/branding?done=saved', undefined, { cookie: a.adminSession.cookie });
    expect(after.raw).toContain('Branding saved.');
    expect(after.raw).toContain('alt="Acme Floor"');
    expect(imgSrc(after.headers['content-security-policy'])).toBe("'self' data: https://cdn.acme.example");

    const removed = await post('/admin/branding/remove', a.adminSession.cookie, { _csrf: a.adminSession.csrf });
    expect(removed.headers.location).toBe('/admin/branding?done=removed');
    expect((await t.op('GET', `/admin/v1/tenants/${a.slug}`)).body.brand).toBeNull();
  });
});
