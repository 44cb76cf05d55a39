import { describe, expect, it } from 'vitest';
import { STRONG, unique, useTestApp } from '../helpers/app.ts';
import { account, oneAddressTwoTenants } from '../helpers/fixtures.ts';
import { asSession } from '../helpers/http.ts';

const t = useTestApp();

describe('sign-in and sessions', () => {
  it('signs in with a cookie, answers who is signed in, and logs out', async () => {
    const { slug, email } = await account(t, { prefix: 'ann', role: 'admin', name: 'Ann' });
    const s = await t.login(email);
    expect(s.status).toBe(200);
    expect(s.body.user).toMatchObject({ email, name: 'Ann', role: 'admin' });
    expect(s.body.tenant).toMatchObject({ slug });
    const who = await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie });
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ user: { email }, tenant: { slug }, authMethod: 'password' });
    const out = await t.api('POST', '/api/v1/logout', undefined, asSession(s));
    expect(out.status).toBe(204);
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie })).status).toBe(401);
  });

  it('a sign-in writes the session, the last sign-in time and the audit line together (one statement)', async () => {
    const user = await account(t, { prefix: 'cte' });
    const { slug, email } = user;
    expect((await t.op('GET', `/admin/v1/tenants/${slug}/users/${user.id}`)).body.lastLoginAt).toBeNull();
    const res = await t.api('POST', '/api/v1/login', { email, password: STRONG, tokenType: 'bearer' }, { 'user-agent': 'probe/1' });
    expect(res.status).toBe(200);
    expect((await t.api('GET', '/api/v1/session', undefined, { authorization: `Bearer ${res.body.token}` })).status).toBe(200);
    const last = Date.parse((await t.op('GET', `/admin/v1/tenants/${slug}/users/${user.id}`)).body.lastLoginAt);
    expect(Math.abs(last - t.clock.now().getTime())).toBeLessThan(5_000);
    const { events } = (await t.op('GET', `/admin/v1/tenants/${slug}/audit?type=signed_in`)).body;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ userId: user.id, actor: { type: 'user', id: user.id }, data: { method: 'password' } });
  });

  it('gives a bearer token when asked, which works without CSRF', async () => {
    const { email } = await account(t, { prefix: 'bob' });
    const res = await t.api('POST', '/api/v1/login', { email, password: STRONG, tokenType: 'bearer' });
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toBeUndefined();
    const auth = { authorization: `Bearer ${res.body.token}` };
    expect((await t.api('GET', '/api/v1/session', undefined, auth)).body.user.email).toBe(email);
    expect((await t.api('POST', '/api/v1/logout', undefined, auth)).status).toBe(204);
    expect((await t.api('GET', '/api/v1/session', undefined, auth)).status).toBe(401);
  });

  it('answers every wrong combination with the same 401 body', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('cy')}@example.com`;
    const u = await t.user(slug, email);
    const other = await t.tenant();
    const disabled = `${unique('dis')}@example.com`;
    const d = await t.user(slug, disabled);
    await t.op('PATCH', `/admin/v1/tenants/${slug}/users/${d.id}`, { disabled: true });
    const bodies = [
      await t.api('POST', '/api/v1/login', { email, password: 'Wrong-password-1!' }),
      await t.api('POST', '/api/v1/login', { email: `nobody-${unique()}@example.com`, password: STRONG }),
      await t.api('POST', '/api/v1/login', { email, password: STRONG, tenant: other.slug }),
      await t.api('POST', '/api/v1/login', { email: disabled, password: STRONG }),
    ];
    for (const b of bodies) {
      expect(b.status).toBe(401);
      expect(b.body).toEqual(bodies[0]!.body);
    }
    expect(bodies[0]!.body.error).toBe('invalid_credentials');
    void u;
  });

  it('asks to choose a tenant when the password is right in two, then signs in with the ticket', async () => {
    const { a, b, email } = await oneAddressTwoTenants(t, { prefix: 'multi' });
    const first = await t.api('POST', '/api/v1/login', { email, password: STRONG });
    expect(first.status).toBe(300);
    expect(first.body.error).toBe('choose_tenant');
    expect(first.body.tenants.map((x: { slug: string }) => x.slug).sort()).toEqual([a.slug, b.slug].sort());
    const second = await t.api('POST', '/api/v1/login', { email, password: STRONG, tenant: b.slug, ticket: first.body.ticket });
    expect(second.status).toBe(200);
    expect(second.body.tenant.slug).toBe(b.slug);
    // The ticket is single use.
    const again = await t.api('POST', '/api/v1/login', { email, password: STRONG, tenant: a.slug, ticket: first.body.ticket });
    expect(again.status).toBe(401);
  });

  it('refuses a cookie-authenticated state change without the CSRF token', async () => {
    const { email } = await account(t, { prefix: 'csrf' });
    const s = await t.login(email);
    const res = await t.api('POST', '/api/v1/logout', undefined, { cookie: s.cookie });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('csrf_failed');
    const cross = await t.api('POST', '/api/v1/logout', undefined, { ...asSession(s), origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie })).status).toBe(200);
  });
});
