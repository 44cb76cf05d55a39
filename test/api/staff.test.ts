// Administration at scale (CONTRACT §11) through the JSON API: what a supervisor may and may not
// do, bulk actions with per-user results, and erasing a person.
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/platform/db.ts';
import { unique, useTestApp, type Session } from '../helpers/app.ts';
import { tenantWithAdmin } from '../helpers/fixtures.ts';
import { asSession, expectError } from '../helpers/http.ts';

const t = useTestApp({ env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' } });

async function withSupervisor() {
  const a = await tenantWithAdmin(t);
  const supervisorEmail = `${unique('sup')}@example.com`;
  const supervisor = await t.user(a.slug, supervisorEmail, { role: 'supervisor', name: 'Sam Supervisor' });
  const supervisorSession = await t.login(supervisorEmail);
  expect(supervisorSession.status).toBe(200);
  expect(supervisorSession.body.user.role).toBe('supervisor');
  return { ...a, supervisor, supervisorEmail, supervisorSession };
}

const call = (s: Session, method: string, url: string, body?: unknown) => t.api(method, url, body, asSession(s));

describe('roles', () => {
  it('a supervisor helps members (reset, unlock, sign-out, two-step reset, deliveries, audit) but changes nothing about who is who', async () => {
    const a = await withSupervisor();
    const s = a.supervisorSession;
    const m = a.member.id;
    expect((await call(s, 'GET', '/api/v1/admin/users')).status).toBe(200);
    expect((await call(s, 'GET', `/api/v1/admin/users/${m}`)).status).toBe(200);
    expect((await call(s, 'POST', `/api/v1/admin/users/${m}/password-reset`, { delivery: 'link', reason: 'locked out on the floor' })).status).toBe(201);
    await t.app.ctx.db.execute(sql`update users set locked_at = now() where id = ${m}`);
    expect((await call(s, 'PATCH', `/api/v1/admin/users/${m}`, { locked: false })).status).toBe(403);
    expect((await call(s, 'POST', `/api/v1/admin/users/${m}/unlock`)).body.status).toBe('active');
    expect((await call(s, 'POST', `/api/v1/admin/users/${m}/sign-out-everywhere`, {})).status).toBe(200);
    expect((await call(s, 'POST', `/api/v1/admin/users/${m}/mfa-reset`, { reason: 'new phone' })).status).toBe(200);
    expect((await call(s, 'GET', `/api/v1/admin/users/${m}/deliveries`)).status).toBe(200);
    expect((await call(s, 'GET', `/api/v1/admin/users/${m}/sessions`)).status).toBe(200);
    expect((await call(s, 'GET', '/api/v1/admin/audit')).status).toBe(200);

    // Not for supervisors: who is who, settings, webhooks, erasure, import.
    const refused: [string, string, unknown?][] = [
      ['POST', '/api/v1/admin/users', { email: `${unique('x')}@example.com` }],
      ['PATCH', `/api/v1/admin/users/${m}`, { role: 'admin' }],
      ['PATCH', `/api/v1/admin/users/${m}`, { disabled: true }],
      ['DELETE', `/api/v1/admin/users/${m}`],
      ['POST', '/api/v1/admin/users/import', { users: [{ email: `${unique('x')}@example.com` }] }],
      ['GET', '/api/v1/admin/webhooks'],
      ['POST', '/api/v1/admin/webhooks', { url: 'https://hooks.example.com/x', events: ['*'] }],
    ];
    for (const [method, url, body] of refused) {
      const res = await call(s, method, url, body);
      expectError(res, 403, 'forbidden');
      expect(res.body.message, `${method} ${url}`).toMatch(/Supervisors cannot/);
    }
    // Members only: an admin and another supervisor are out of reach.
    const other = await t.user(a.slug, `${unique('sup2')}@example.com`, { role: 'supervisor' });
    for (const target of [a.admin.id, other.id]) {
      const res = await call(s, 'POST', `/api/v1/admin/users/${target}/password-reset`, { delivery: 'link' });
      expectError(res, 403, 'forbidden');
      expect(res.body.message).toMatch(/members only/);
      expectError(await call(s, 'POST', `/api/v1/admin/users/${target}/sign-out-everywhere`, {}), 403, 'forbidden');
    }
    // An admin's page, devices and emails are not a supervisor's to read either.
    for (const url of [`/api/v1/admin/users/${a.admin.id}`, `/api/v1/admin/users/${a.admin.id}/sessions`, `/api/v1/admin/users/${a.admin.id}/deliveries`]) {
      expectError(await call(s, 'GET', url), 403, 'forbidden');
    }
    // And a member stays out of all of it (signed in again: the supervisor signed them out).
    expectError(await call(await t.login(a.memberEmail), 'GET', '/api/v1/admin/users'), 403, 'forbidden');
  });

  it('the operator and tenant admins give and take the supervisor role', async () => {
    const a = await tenantWithAdmin(t);
    const made = await t.op('POST', `/admin/v1/tenants/${a.slug}/users`, { email: `${unique('s')}@example.com`, role: 'supervisor' });
    expect(made.status).toBe(201);
    expect((await t.op('GET', `/admin/v1/tenants/${a.slug}/users/${made.body.id}`)).body.role).toBe('supervisor');
    const changed = await call(a.adminSession, 'PATCH', `/api/v1/admin/users/${a.member.id}`, { role: 'supervisor' });
    expect(changed.body.role).toBe('supervisor');
    const listed = await call(a.adminSession, 'GET', '/api/v1/admin/users?role=supervisor');
    expect(listed.body.users.map((u: { id: string }) => u.id).sort()).toEqual([made.body.id, a.member.id].sort());
    expectError(await call(a.adminSession, 'PATCH', `/api/v1/admin/users/${a.member.id}`, { role: 'owner' }), 400, 'invalid_request');
  });
});

describe('bulk actions', () => {
  it('signs out 60 members in one call; unknown ids and other tenants\' ids fail alone; each user has its audit line with the reason', async () => {
    const a = await tenantWithAdmin(t);
    const b = await tenantWithAdmin(t);
    const members = await Promise.all(Array.from({ length: 60 }, (_, i) => t.user(a.slug, `${unique(`agent${i}-`)}@example.com`)));
    const sessions = await Promise.all(members.slice(0, 5).map((u) => t.login(u.email)));
    const unknown = '00000000-0000-4000-8000-000000000000';
    const res = await call(a.adminSession, 'POST', '/api/v1/admin/users/bulk', {
      ids: [...members.map((u) => u.id), unknown, b.member.id, 'not-an-id'], action: 'sign-out-everywhere', reason: 'end of shift',
    });
    expect(res.status).toBe(200);
    expect(res.body.done).toEqual(members.map((u) => u.id));
    expect(res.body.failed.map((f: { id: string; error: string }) => [f.id, f.error])).toEqual([[unknown, 'not_found'], [b.member.id, 'not_found'], ['not-an-id', 'not_found']]);
    for (const s of sessions) expect((await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie })).status).toBe(401);
    // B's member was not touched.
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: b.memberSession.cookie })).status).toBe(200);
    const audit = await call(a.adminSession, 'GET', '/api/v1/admin/audit?type=sessions_revoked&limit=1000');
    const lines = audit.body.events.filter((e: { userId: string }) => members.some((u) => u.id === e.userId));
    expect(lines).toHaveLength(60);
    expect(lines.every((e: { data: { reason?: string } }) => e.data.reason === 'end of shift')).toBe(true);
  });

  it('per-user refusals do not stop the rest: a disabled user gets no reset, a supervisor cannot reach an admin', async () => {
    const a = await withSupervisor();
    const ok = await t.user(a.slug, `${unique('ok')}@example.com`);
    const off = await t.user(a.slug, `${unique('off')}@example.com`);
    await call(a.adminSession, 'PATCH', `/api/v1/admin/users/${off.id}`, { disabled: true });
    await t.drain();
    const sent = t.mail.messages.length;
    const res = await call(a.supervisorSession, 'POST', '/api/v1/admin/users/bulk', { ids: [off.id, a.admin.id, ok.id], action: 'password-reset', reason: 'new floor' });
    expect(res.status).toBe(200);
    expect(res.body.done).toEqual([ok.id]);
    expect(res.body.failed.map((f: { id: string; error: string }) => [f.id, f.error])).toEqual([[off.id, 'account_disabled'], [a.admin.id, 'forbidden']]);
    await t.drain();
    const mails = t.mail.messages.slice(sent);
    expect(mails.map((m) => m.to[0])).toEqual([ok.email.toLowerCase()]);
  });

  it('refuses the whole request for an action the role may not take, and a two-step reset without a reason', async () => {
    const a = await withSupervisor();
    const res = await call(a.supervisorSession, 'POST', '/api/v1/admin/users/bulk', { ids: [a.member.id], action: 'disable' });
    expectError(res, 403, 'forbidden');
    expect((await call(a.adminSession, 'GET', `/api/v1/admin/users/${a.member.id}`)).body.status).toBe('active');
    expectError(await call(a.adminSession, 'POST', '/api/v1/admin/users/bulk', { ids: [a.member.id], action: 'mfa-reset' }), 400, 'invalid_request');
    expectError(await call(a.adminSession, 'POST', '/api/v1/admin/users/bulk', { ids: [a.member.id], action: 'explode' }), 400, 'invalid_request');
    expectError(await call(a.adminSession, 'POST', '/api/v1/admin/users/bulk', { ids: [], action: 'disable' }), 400, 'invalid_request');
    // Disable and enable in bulk, as an admin.
    const off = await call(a.adminSession, 'POST', '/api/v1/admin/users/bulk', { ids: [a.member.id, a.admin.id], action: 'disable', reason: 'left' });
    expect(off.body.done).toEqual([a.member.id]);
    expect(off.body.failed[0]).toMatchObject({ id: a.admin.id, error: 'invalid_request' }); // not yourself
    const on = await call(a.adminSession, 'POST', '/api/v1/admin/users/bulk', { ids: [a.member.id], action: 'enable' });
    expect(on.body.done).toEqual([a.member.id]);
  });
});

describe('erasure', () => {
  /** Every row of every table of the database, as text, that mentions `needle`. */
  async function mentions(needle: string): Promise<string[]> {
    const found: string[] = [];
    const tables = rowsOf<{ t: string }>(await t.app.ctx.db.execute(sql`select table_name as t from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'`)).map((r) => r.t);
    expect(tables).toEqual(expect.arrayContaining(['users', 'sessions', 'outbox', 'audit_events', 'webhook_events', 'reset_tokens', 'oidc_payloads', 'unlock_tokens']));
    for (const table of tables) {
      const rows = rowsOf<{ r: string }>(await t.app.ctx.db.execute(sql`select x::text as r from ${sql.identifier(table)} x where x::text ilike ${`%${needle}%`}`));
      found.push(...rows.map((row) => `${table}: ${row.r}`));
    }
    return found;
  }

  it('removes the person: sessions end at once, no table keeps the address, the audit keeps the id, the address is free again', async () => {
    const a = await tenantWithAdmin(t);
    const hook = await call(a.adminSession, 'POST', '/api/v1/admin/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['*'] });
    expect(hook.status).toBe(201);
    const oldEmail = `${unique('erase-old')}@example.com`;
    const email = `${unique('erase')}@example.com`;
    const user = await t.user(a.slug, oldEmail, { name: 'Erin Erasable' });
    await t.resetMail(oldEmail, a.slug); // a link, a request and an email under the first address
    await call(a.adminSession, 'PATCH', `/api/v1/admin/users/${user.id}`, { email });
    const session = await t.login(email);
    expect(session.status).toBe(200);
    await t.resetMail(email, a.slug); // a reset link and its email
    await call(a.adminSession, 'POST', `/api/v1/admin/users/${user.id}/password-reset`, { delivery: 'email', reason: 'Erin asked on the phone' });
    expect((await mentions(email)).length).toBeGreaterThan(0);

    const res = await call(a.adminSession, 'DELETE', `/api/v1/admin/users/${user.id}`);
    expect(res.status).toBe(204);
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: session.cookie })).status).toBe(401);
    expectError(await call(a.adminSession, 'GET', `/api/v1/admin/users/${user.id}`), 404, 'not_found');
    expect(await mentions(email)).toEqual([]);
    expect(await mentions(oldEmail)).toEqual([]);
    // The whole name: a random token (base64url) may hold 'erin' in any case, never a space.
    expect(await mentions('Erin Erasable')).toEqual([]);

    // The audit keeps what happened under the id, and the erasure itself.
    const audit = (await call(a.adminSession, 'GET', '/api/v1/admin/audit?limit=1000')).body.events.filter((e: { userId: string }) => e.userId === user.id);
    expect(audit.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['user_created', 'email_changed', 'admin_reset_issued', 'user_erased']));
    expect(audit.every((e: { ip: string | null }) => e.ip === null)).toBe(true);
    // The platform hears of it, with the id only.
    const events = rowsOf<{ payload: { type: string; data: Record<string, unknown> } }>(await t.app.ctx.db.execute(sql`select payload from webhook_events where user_id = ${user.id}`));
    const deleted = events.find((e) => e.payload.type === 'user.deleted');
    expect(deleted?.payload.data).toMatchObject({ userId: user.id });
    expect(deleted?.payload.data.email).toBeUndefined();

    // The address can be used again, and sign-in with the old password finds nothing.
    expect((await t.login(email)).status).toBe(401);
    const again = await call(a.adminSession, 'POST', '/api/v1/admin/users', { email });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(user.id);
  });

  it('the operator erases too; an admin cannot erase themselves; the last admin stays; another tenant\'s ids are 404', async () => {
    const a = await tenantWithAdmin(t);
    const b = await tenantWithAdmin(t);
    expectError(await call(a.adminSession, 'DELETE', `/api/v1/admin/users/${a.admin.id}`), 400, 'invalid_request');
    // Nobody but the operator removes the last enabled admin: here, provisioning tries.
    const scim = await t.op('POST', `/admin/v1/tenants/${a.slug}/scim-tokens`, { label: 'Okta' });
    const off = await t.app.publicApp.inject({
      method: 'PATCH', url: `/scim/v2/${a.slug}/Users/${a.admin.id}`,
      headers: { authorization: `Bearer ${scim.body.token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] }),
    });
    expect(off.statusCode, off.body).toBe(400);
    expect(off.body).toContain('last admin');
    // With a second admin, the first may go.
    const second = await t.user(a.slug, `${unique('admin2')}@example.com`, { role: 'admin' });
    const secondSession = await t.login((await t.op('GET', `/admin/v1/tenants/${a.slug}/users/${second.id}`)).body.email);
    expectError(await call(secondSession, 'PATCH', `/api/v1/admin/users/${second.id}`, { role: 'supervisor' }), 400, 'invalid_request'); // not themselves
    expect((await call(secondSession, 'DELETE', `/api/v1/admin/users/${a.admin.id}`)).status).toBe(204);
    expect((await t.op('GET', `/admin/v1/tenants/${a.slug}/users/${a.admin.id}`)).status).toBe(404);
    expectError(await call(b.adminSession, 'DELETE', `/api/v1/admin/users/${a.member.id}`), 404, 'not_found');
    expect((await t.op('DELETE', `/admin/v1/tenants/${a.slug}/users/${a.member.id}`)).status).toBe(204);
    expect((await t.op('GET', `/admin/v1/tenants/${a.slug}/users/${a.member.id}`)).status).toBe(404);
  });
});
