// Issue 16 item 5 in the tenant admin console: /admin/scim shows the base URL to give the identity
// provider, makes a token (shown on that answer only, working at once) and revokes it — plain
// forms, an admin's own tenant only; supervisors and members are refused.
import { describe, expect, it } from 'vitest';
import { unique, useTestApp, type Session } from '../helpers/app.ts';
import { tenantWithAdmin } from '../helpers/fixtures.ts';
import { postForm } from '../helpers/http.ts';
import { expectScimError, scimClient } from './helpers.ts';

const t = useTestApp();
const get = (url: string, s: Session) => t.api('GET', url, undefined, { cookie: s.cookie });
const post = (url: string, s: Session, fields: Record<string, string> = {}) => postForm(t, url, { _csrf: s.csrf, ...fields }, { cookie: s.cookie });

describe('SCIM tokens in the admin console', () => {
  it('an admin makes a token (shown once), the identity provider uses it, the admin revokes it', async () => {
    const a = await tenantWithAdmin(t);
    const empty = await get('/admin/scim', a.adminSession);
    expect(empty.status).toBe(200);
    expect(empty.raw).toContain('href="/admin/scim"');
    expect(empty.raw).toContain(`value="https://keyturn.test/scim/v2/${a.slug}"`);

    const made = await post('/admin/scim', a.adminSession, { label: 'Okta production' });
    expect(made.status).toBe(201);
    const token = /value="(scim_[^"]+)"/.exec(made.raw)?.[1];
    expect(token).toBeDefined();
    expect((await scimClient(t, a.slug, token!)('GET', '/Users')).status).toBe(200);

    const list = await get('/admin/scim', a.adminSession);
    expect(list.raw).toContain('Okta production');
    expect(list.raw).not.toContain(token!);
    const id = /\/admin\/scim\/([0-9a-f-]{36})\/revoke/.exec(list.raw)![1]!;

    // Another tenant's admin cannot revoke it.
    const b = await tenantWithAdmin(t);
    expect((await post(`/admin/scim/${id}/revoke`, b.adminSession)).status).toBe(404);
    expect((await scimClient(t, a.slug, token!)('GET', '/Users')).status).toBe(200);

    const revoked = await post(`/admin/scim/${id}/revoke`, a.adminSession);
    expect(revoked.status).toBe(303);
    expect(revoked.headers.location).toBe('/admin/scim?done=revoked');
    expectScimError(await scimClient(t, a.slug, token!)('GET', '/Users'), 401);
    expect((await get('/admin/scim?done=revoked', a.adminSession)).raw).toContain('The token was revoked.');
  });

  it('supervisors and members cannot see or make tokens', async () => {
    const a = await tenantWithAdmin(t);
    const email = `${unique('sup')}@example.com`;
    await t.user(a.slug, email, { role: 'supervisor' });
    const supervisor = await t.login(email);
    for (const s of [supervisor, a.memberSession]) {
      expect((await get('/admin/scim', s)).status).toBe(403);
      expect((await post('/admin/scim', s, { label: 'x' })).status).toBe(403);
    }
    expect((await t.op('GET', `/admin/v1/tenants/${a.slug}/scim-tokens`)).body.tokens).toEqual([]);
  });
});
