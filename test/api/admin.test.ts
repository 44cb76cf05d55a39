// The admin JSON API (tenant admins under /api/v1/admin, the operator under /admin/v1) and the
// console's form posts: every action, every authorization edge, per-tenant settings (reset
// lifetimes, sender; the brand has test/api/branding.test.ts), the audit export, and the admin console without a browser.
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/platform/csv.ts';
import { extractReset, STRONG, STRONG2, unique, useTestApp, type Res, type Session } from '../helpers/app.ts';
import { tenantWithAdmin } from '../helpers/fixtures.ts';
import { asSession, expectError, ORIGIN, postForm } from '../helpers/http.ts';

const HOUR = 3_600_000;

// Real limits (RATE_LIMIT_SCALE=1): the admin email limit is 5 per user per hour.
const t = useTestApp({ env: { RATE_LIMIT_SCALE: '1' } });

/** An ISO time `ms` from now (the test clock runs with real time, so within a few seconds). */
const expectIn = (iso: string, ms: number) => expect(Math.abs(Date.parse(iso) - (t.clock.now().getTime() + ms)), iso).toBeLessThan(5_000);

/** The newest mail to this address with this subject, after `since` messages. */
const mailTo = (email: string, subject: string, since = 0) =>
  t.mail.waitFor((m) => t.mail.messages.indexOf(m) >= since && m.to.includes(email.toLowerCase()) && m.subject === subject);

describe('authorization', () => {
  it('a member gets 403, another tenant\'s admin 404, no session 401, a cookie without CSRF token 403 — on every admin route', async () => {
    const a = await tenantWithAdmin(t);
    const b = await tenantWithAdmin(t);
    const target = a.member.id;
    const routes: [string, string, unknown?][] = [
      ['GET', '/api/v1/admin/users'],
      ['POST', '/api/v1/admin/users', { email: `${unique('x')}@example.com` }],
      ['GET', `/api/v1/admin/users/${target}`],
      ['PATCH', `/api/v1/admin/users/${target}`, { name: 'X' }],
      ['POST', `/api/v1/admin/users/${target}/password-reset`, { delivery: 'link' }],
      ['POST', `/api/v1/admin/users/${target}/sign-out-everywhere`, {}],
      ['GET', `/api/v1/admin/users/${target}/deliveries`],
      ['GET', '/api/v1/admin/audit'],
      ['GET', '/api/v1/admin/audit/export?format=csv'],
    ];
    for (const [method, url, body] of routes) {
      expectError(await t.api(method, url, body, asSession(a.memberSession)), 403, 'forbidden');
      expectError(await t.api(method, url, body, ORIGIN), 401, 'unauthenticated');
    }
    // Ids of tenant A seen by tenant B's admin: the same 404 as an id that does not exist.
    const missing = await t.api('GET', '/api/v1/admin/users/00000000-0000-4000-8000-000000000000', undefined, asSession(b.adminSession));
    for (const [method, url, body] of routes.filter(([, url]) => url.includes(target))) {
      const res = await t.api(method, url, body, asSession(b.adminSession));
      expectError(res, 404, 'not_found');
      expect(res.body).toEqual(missing.body);
    }
    for (const url of [`/api/v1/admin/audit?userId=${target}`, `/api/v1/admin/audit/export?format=jsonl&userId=${target}`]) {
      expectError(await t.api('GET', url, undefined, asSession(b.adminSession)), 404, 'not_found');
    }
    // State changes with the cookie but no CSRF token are refused.
    const noCsrf = { cookie: a.adminSession.cookie, ...ORIGIN };
    expectError(await t.api('PATCH', `/api/v1/admin/users/${target}`, { name: 'X' }, noCsrf), 403, 'csrf_failed');
    expectError(await t.api('POST', `/api/v1/admin/users/${target}/password-reset`, { delivery: 'link' }, noCsrf), 403, 'csrf_failed');
    // Nothing changed.
    expect((await t.api('GET', `/api/v1/admin/users/${target}`, undefined, asSession(a.adminSession))).body.name).toBe('Max Member');
  });

  it('the operator API answers 401 with no detail to a missing or wrong key', async () => {
    const { slug } = await t.tenant();
    for (const [method, url] of [
      ['GET', '/admin/v1/tenants'], ['PATCH', `/admin/v1/tenants/${slug}`], ['GET', `/admin/v1/tenants/${slug}/users`],
      ['GET', '/admin/v1/audit'], ['GET', '/admin/v1/deliveries'], ['GET', `/admin/v1/tenants/${slug}/audit/export`],
    ] as const) {
      for (const authorization of [undefined, 'Bearer wrong-key-wrong-key-wrong-key', `Basic ${t.app.adminApiKey}`]) {
        const res = await t.app.adminApp.inject({ method, url, headers: authorization ? { authorization } : {}, payload: method === 'PATCH' ? { name: 'x' } : undefined });
        expect(res.statusCode, `${method} ${url} ${authorization}`).toBe(401);
        expect(res.json()).toEqual({ error: 'unauthenticated', message: 'Unauthorized.' });
      }
    }
  });
});

describe('users', () => {
  it('lists with search, status and role filters, keyset pages, sign-in methods and the pending reset with who made it', async () => {
    const a = await tenantWithAdmin(t);
    const alice = await t.user(a.slug, `${unique('alice')}@example.com`, { name: 'Alice Zebra' });
    const nopass = await t.user(a.slug, `${unique('nopass')}@example.com`, { password: null });
    const gone = await t.user(a.slug, `${unique('gone')}@example.com`);
    expect((await t.api('PATCH', `/api/v1/admin/users/${gone.id}`, { disabled: true }, asSession(a.adminSession))).status).toBe(200);
    const h = asSession(a.adminSession);

    const all = await t.api('GET', '/api/v1/admin/users', undefined, h);
    expect(all.body.users.map((u: any) => u.email)).toEqual([...all.body.users.map((u: any) => u.email)].sort());
    expect(all.body.users).toHaveLength(5);
    const byId = (id: string) => all.body.users.find((u: any) => u.id === id);
    expect(byId(alice.id)).toMatchObject({ signInMethods: ['password'], pendingReset: null, status: 'active', hasPassword: true, lastLoginAt: null });
    expect(byId(nopass.id)).toMatchObject({ signInMethods: [], hasPassword: false });
    expect(byId(a.admin.id).lastLoginAt).not.toBeNull();

    expect((await t.api('GET', '/api/v1/admin/users?q=zebra', undefined, h)).body.users.map((u: any) => u.id)).toEqual([alice.id]);
    expect((await t.api('GET', '/api/v1/admin/users?status=disabled', undefined, h)).body.users.map((u: any) => u.id)).toEqual([gone.id]);
    expect((await t.api('GET', '/api/v1/admin/users?role=admin', undefined, h)).body.users.map((u: any) => u.id)).toEqual([a.admin.id]);
    expectError(await t.api('GET', '/api/v1/admin/users?status=sleeping', undefined, h), 400, 'invalid_request');

    // Keyset pages: two by two, every user once, in order.
    const seen: string[] = [];
    let after: string | null = '';
    for (let i = 0; i < 5 && after !== null; i++) {
      const page: Res = await t.api('GET', `/api/v1/admin/users?limit=2${after ? `&after=${encodeURIComponent(after)}` : ''}`, undefined, h);
      seen.push(...page.body.users.map((u: any) => u.email));
      after = page.body.next;
    }
    expect(seen).toEqual(all.body.users.map((u: any) => u.email));

    // A link made by the admin shows with the admin's address; a self-service one as asked for by the user.
    await t.api('POST', `/api/v1/admin/users/${alice.id}/password-reset`, { delivery: 'link', expiresIn: '24h' }, h);
    const withReset = (await t.api('GET', `/api/v1/admin/users/${alice.id}`, undefined, h)).body;
    expect(withReset.pendingReset).toMatchObject({ origin: 'admin', issuedBy: { type: 'admin', id: a.admin.id, email: a.adminEmail } });
    expectIn(withReset.pendingReset.issuedAt, 0);
    expect(Date.parse(withReset.pendingReset.expiresAt) - Date.parse(withReset.pendingReset.issuedAt)).toBe(24 * HOUR);
    await t.resetMail(a.memberEmail);
    const member = (await t.api('GET', `/api/v1/admin/users?q=${encodeURIComponent(a.memberEmail)}`, undefined, h)).body.users[0];
    expect(member.pendingReset).toMatchObject({ origin: 'self', issuedBy: { type: 'user', id: null, email: null } });
    // The operator sees the same, and its own links as the operator's.
    await t.op('POST', `/admin/v1/tenants/${a.slug}/users/${alice.id}/password-reset`, { delivery: 'link' });
    expect((await t.op('GET', `/admin/v1/tenants/${a.slug}/users/${alice.id}`)).body.pendingReset.issuedBy).toEqual({ type: 'operator', id: 'api-key', email: null });
    // Once used, it is no longer pending.
    const { token } = await t.resetMail(a.memberEmail);
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: STRONG2 }, ORIGIN)).status).toBe(200);
    expect((await t.api('GET', `/api/v1/admin/users/${a.member.id}`, undefined, h)).body.pendingReset).toBeNull();
  });

  it('create with sendWelcome queues "Welcome — set your password" with a working link; refused with a password or without password sign-in', async () => {
    const a = await tenantWithAdmin(t);
    const h = asSession(a.adminSession);
    const email = `${unique('new')}@example.com`;
    const since = t.mail.messages.length;
    const res = await t.api('POST', '/api/v1/admin/users', { email, name: 'Nia New', sendWelcome: true }, h);
    expect(res.status, res.raw).toBe(201);
    expect(res.body.welcome.status).toBe('queued');
    expectIn(res.body.welcome.expiresAt, 72 * HOUR);
    await t.drain();
    const mail = await mailTo(email, 'Welcome — set your password', since);
    expect(mail.text).toContain(`https://keyturn.test/t/${a.slug}/login`);
    const { token } = extractReset(mail);
    const deliveries = (await t.api('GET', `/api/v1/admin/users/${res.body.id}/deliveries`, undefined, h)).body.deliveries;
    expect(deliveries).toEqual([expect.objectContaining({ kind: 'welcome', status: 'sent', to: email, subject: 'Welcome — set your password', smtpResponse: expect.stringMatching(/^250/) })]);
    const audit = (await t.api('GET', `/api/v1/admin/audit?userId=${res.body.id}`, undefined, h)).body.events;
    expect(audit.map((e: any) => e.type)).toEqual(['admin_reset_issued', 'user_created']);
    expect(audit[0]).toMatchObject({ actor: { type: 'admin', id: a.admin.id }, data: { kind: 'welcome', delivery: 'email' } });
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: STRONG }, ORIGIN)).status).toBe(200);
    expect((await t.login(email)).status).toBe(200);

    // Without sendWelcome nobody is emailed.
    const quiet = `${unique('quiet')}@example.com`;
    expect((await t.api('POST', '/api/v1/admin/users', { email: quiet }, h)).status).toBe(201);
    await t.drain();
    expect(t.mail.messages.some((m) => m.to.includes(quiet))).toBe(false);

    const both = await t.api('POST', '/api/v1/admin/users', { email: `${unique('both')}@example.com`, password: STRONG, sendWelcome: true }, h);
    expectError(both, 400, 'invalid_request');
    expect(both.body.field).toBe('sendWelcome');
    const sso = await t.tenant(undefined, { loginMethods: ['google'], google: { clientId: 'c', clientSecret: 's' } });
    const ssoOnly = await t.op('POST', `/admin/v1/tenants/${sso.slug}/users`, { email: `${unique('g')}@example.com`, sendWelcome: true });
    expectError(ssoOnly, 400, 'invalid_request');
    // Refused means not created either.
    expect((await t.op('GET', `/admin/v1/tenants/${sso.slug}/users`)).body.users).toEqual([]);
  });

  it('edit name, email and role; a taken email is 409; an admin cannot disable or demote themselves', async () => {
    const a = await tenantWithAdmin(t);
    const h = asSession(a.adminSession);
    const res = await t.api('PATCH', `/api/v1/admin/users/${a.member.id}`, { name: 'Max Renamed', role: 'admin', email: `${unique('renamed')}@example.com` }, h);
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toMatchObject({ name: 'Max Renamed', role: 'admin' });
    expectError(await t.api('PATCH', `/api/v1/admin/users/${a.member.id}`, { email: a.adminEmail }, h), 409, 'email_taken');
    expectError(await t.api('PATCH', `/api/v1/admin/users/${a.admin.id}`, { disabled: true }, h), 400, 'invalid_request');
    expectError(await t.api('PATCH', `/api/v1/admin/users/${a.admin.id}`, { role: 'member' }, h), 400, 'invalid_request');
    expect((await t.api('PATCH', `/api/v1/admin/users/${a.admin.id}`, { name: 'Ada A.' }, h)).status).toBe(200);
    // The operator may (it is not a user).
    expect((await t.op('PATCH', `/admin/v1/tenants/${a.slug}/users/${a.admin.id}`, { role: 'member' })).body.role).toBe('member');
    const types = (await t.api('GET', `/api/v1/admin/audit?userId=${a.member.id}`, undefined, h)).status;
    expect(types).toBe(403); // demoted by the operator: no longer an admin
  });

  it('disable ends the user\'s sessions and pending links at once; enable lets them sign in; unlock clears "this wasn\'t me"', async () => {
    const a = await tenantWithAdmin(t);
    const h = asSession(a.adminSession);
    const { token } = await t.resetMail(a.memberEmail);
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: a.memberSession.cookie })).status).toBe(200);
    expect((await t.api('PATCH', `/api/v1/admin/users/${a.member.id}`, { disabled: true }, h)).body.status).toBe('disabled');
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: a.memberSession.cookie })).status).toBe(401);
    const dead = await t.api('POST', '/api/v1/password/reset/inspect', { token }, ORIGIN);
    expect(dead.status).toBe(410);
    expect(dead.body).toMatchObject({ error: 'token_superseded', reason: 'account_disabled' });
    expect((await t.login(a.memberEmail)).status).toBe(401);
    // A disabled user cannot be reset: enable first (LivePerson's "process failed", said plainly).
    const refused = await t.api('POST', `/api/v1/admin/users/${a.member.id}/password-reset`, { delivery: 'link' }, h);
    expectError(refused, 400, 'invalid_request');
    expect(refused.body.message).toMatch(/enable the account first/);
    expect((await t.api('PATCH', `/api/v1/admin/users/${a.member.id}`, { disabled: false }, h)).body.status).toBe('active');
    expect((await t.login(a.memberEmail)).status).toBe(200);

    // Locked by the owner from "this wasn't me": reset waits for the unlock.
    expect((await t.op('PATCH', `/admin/v1/tenants/${a.slug}/users/${a.member.id}`, {})).status).toBe(200);
    await t.app.ctx.db.execute((await import('drizzle-orm')).sql`update users set locked_at = now() where id = ${a.member.id}`);
    expect((await t.api('GET', `/api/v1/admin/users?status=locked`, undefined, h)).body.users.map((u: any) => u.id)).toEqual([a.member.id]);
    expectError(await t.api('POST', `/api/v1/admin/users/${a.member.id}/password-reset`, { delivery: 'email' }, h), 400, 'invalid_request');
    expect((await t.api('PATCH', `/api/v1/admin/users/${a.member.id}`, { locked: false }, h)).body.status).toBe('active');
    const types = (await t.api('GET', `/api/v1/admin/audit?userId=${a.member.id}`, undefined, h)).body.events.map((e: any) => e.type);
    expect(types).toEqual(expect.arrayContaining(['user_disabled', 'user_enabled', 'user_unlocked']));
  });

  it('sign out everywhere revokes every session of that user only', async () => {
    const a = await tenantWithAdmin(t);
    const h = asSession(a.adminSession);
    const second = await t.login(a.memberEmail);
    const res = await t.api('POST', `/api/v1/admin/users/${a.member.id}/sign-out-everywhere`, {}, h);
    expect(res.body).toEqual({ revoked: 2 });
    for (const s of [a.memberSession, second]) expect((await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie })).status).toBe(401);
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: a.adminSession.cookie })).status).toBe(200);
    expect((await t.login(a.memberEmail)).status).toBe(200); // the password still works
  });
});

describe('admin resets', () => {
  it('a link to copy is always available (no earlier token needed), revokes nothing until used, and is audited with the admin and the reason', async () => {
    const a = await tenantWithAdmin(t);
    const h = asSession(a.adminSession);
    const res = await t.api('POST', `/api/v1/admin/users/${a.member.id}/password-reset`, { delivery: 'link', expiresIn: '7d', reason: 'Called the help desk' }, h);
    expect(res.status, res.raw).toBe(201);
    expect(res.body.url).toMatch(/^https:\/\/keyturn\.test\/reset-password\?token=[A-Za-z0-9_-]{43}$/);
    expectIn(res.body.expiresAt, 7 * 24 * HOUR);
    const token = new URL(res.body.url).searchParams.get('token')!;
    // Nothing revoked yet: the session lives, the old password works.
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: a.memberSession.cookie })).status).toBe(200);
    expect((await t.login(a.memberEmail)).status).toBe(200);
    const [event] = (await t.api('GET', `/api/v1/admin/audit?userId=${a.member.id}&type=admin_reset_issued`, undefined, h)).body.events;
    expect(event).toMatchObject({ actor: { type: 'admin', id: a.admin.id }, ip: expect.any(String), data: { delivery: 'link', reason: 'Called the help desk' } });
    // Used: everything is revoked as for any reset.
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: STRONG2 }, ORIGIN)).status).toBe(200);
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: a.memberSession.cookie })).status).toBe(401);
    expect((await t.login(a.memberEmail, STRONG2)).status).toBe(200);
  });

  it('a new reset email supersedes the last link; at most 5 admin emails per user per hour (429 + Retry-After), links to copy are not limited', async () => {
    const a = await tenantWithAdmin(t);
    const h = asSession(a.adminSession);
    const url = `/api/v1/admin/users/${a.member.id}/password-reset`;
    let previous: string | undefined;
    for (let i = 0; i < 5; i++) {
      const since = t.mail.messages.length;
      const res = await t.api('POST', url, { delivery: 'email' }, h);
      expect(res.status, res.raw).toBe(202);
      await t.drain();
      const { token } = extractReset(await mailTo(a.memberEmail, 'Reset your password', since));
      if (previous) expect((await t.api('POST', '/api/v1/password/reset/inspect', { token: previous }, ORIGIN)).body.error).toBe('token_superseded');
      previous = token;
    }
    const limited = await t.api('POST', url, { delivery: 'email' }, h);
    expectError(limited, 429, 'rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // The operator's door counts the same user.
    expect((await t.op('POST', `/admin/v1/tenants/${a.slug}/users/${a.member.id}/password-reset`, { delivery: 'email' })).status).toBe(429);
    expect((await t.api('POST', url, { delivery: 'link' }, h)).status).toBe(201);
    // Another user has a budget of their own.
    expect((await t.api('POST', `/api/v1/admin/users/${a.admin.id}/password-reset`, { delivery: 'email' }, h)).status).toBe(202);
  });

  it('deliveries show every message with its state: sent with the SMTP reply, failed with the reason', async () => {
    const a = await tenantWithAdmin(t);
    const h = asSession(a.adminSession);
    t.mail.setFailing(550);
    try {
      await t.api('POST', `/api/v1/admin/users/${a.member.id}/password-reset`, { delivery: 'email' }, h);
      await t.drain();
      t.clock.advance(25 * HOUR); // past OUTBOX_RETRY_FOR: the next failure gives up
      await t.drain();
    } finally {
      t.mail.setFailing(null);
    }
    const h2 = asSession(await t.login(a.adminEmail)); // the first session expired meanwhile
    await t.api('POST', `/api/v1/admin/users/${a.member.id}/password-reset`, { delivery: 'email' }, h2);
    await t.drain();
    const { deliveries } = (await t.api('GET', `/api/v1/admin/users/${a.member.id}/deliveries`, undefined, h2)).body;
    expect(deliveries).toHaveLength(2);
    expect(deliveries[0]).toMatchObject({ kind: 'password_reset', status: 'sent', attempts: 1, smtpResponse: expect.stringMatching(/^250/), from: null });
    expect(deliveries[1]).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/550/) });
    // The operator finds failures across tenants.
    const failed = (await t.op('GET', '/admin/v1/deliveries?status=failed')).body.deliveries;
    expect(failed.some((d: any) => d.id === deliveries[1].id)).toBe(true);
    expect(failed.every((d: any) => d.status === 'failed')).toBe(true);
    const mine = (await t.op('GET', `/admin/v1/deliveries?tenant=${a.slug}`)).body.deliveries;
    expect(mine.map((d: any) => d.id).sort()).toEqual(deliveries.map((d: any) => d.id).sort());
    expectError(await t.op('GET', '/admin/v1/deliveries?tenant=no-such-tenant'), 404, 'not_found');
  });
});

describe('audit', () => {
  it('filters by user and type; exports every matching event as CSV and JSON Lines that parse', async () => {
    const a = await tenantWithAdmin(t);
    const h = asSession(a.adminSession);
    await t.api('PATCH', `/api/v1/admin/users/${a.member.id}`, { name: 'Comma, "Quoted" =1+1' }, h);
    await t.api('POST', `/api/v1/admin/users/${a.member.id}/password-reset`, { delivery: 'link', reason: '=HYPERLINK("x")' }, h);
    const events = (await t.api('GET', '/api/v1/admin/audit', undefined, h)).body.events;
    expect(events.every((e: any) => e.tenantId === events[0].tenantId)).toBe(true);

    const csv = await t.api('GET', '/api/v1/admin/audit/export?format=csv', undefined, h);
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="audit-${a.slug}-\\d{4}-\\d{2}-\\d{2}\\.csv"$`));
    const rows = parseCsv(csv.raw);
    expect(rows.map((r) => Number(r.id))).toEqual(events.map((e: any) => e.id));
    const reset = rows.find((r) => r.type === 'admin_reset_issued')!;
    expect(reset.actor).toBe(`admin:${a.admin.id}`);
    expect(JSON.parse(reset.data!).reason).toBe('=HYPERLINK("x")'); // inside JSON, so never a formula

    const jsonl = await t.api('GET', `/api/v1/admin/audit/export?format=jsonl&userId=${a.member.id}&type=user_renamed`, undefined, h);
    expect(jsonl.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    const lines = jsonl.raw.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({ type: 'user_renamed', userId: a.member.id, actor: { type: 'admin', id: a.admin.id } })]);
    expectError(await t.api('GET', '/api/v1/admin/audit/export?format=xml', undefined, h), 400, 'invalid_request');
  });

  it('an export larger than one page streams every event', async () => {
    const a = await tenantWithAdmin(t);
    const users = Array.from({ length: 30 }, () => ({ email: `${unique('bulk')}@example.com` }));
    await t.op('POST', `/admin/v1/tenants/${a.slug}/users/import`, { users });
    const { sql } = await import('drizzle-orm');
    // 2,100 events of this tenant (more than two export pages of 1,000).
    await t.app.ctx.db.execute(sql`insert into audit_events (tenant_id, user_id, actor_type, type, data, created_at)
      select ${(await t.op('GET', `/admin/v1/tenants/${a.slug}`)).body.id}::uuid, null, 'system', 'signed_in', '{}'::jsonb, now() from generate_series(1, 2100)`);
    const res = await t.op('GET', `/admin/v1/tenants/${a.slug}/audit/export?format=jsonl&type=signed_in`);
    expect(res.status).toBe(200);
    const ids = res.raw.trim().split('\n').map((l) => JSON.parse(l).id);
    expect(ids.length).toBeGreaterThanOrEqual(2100);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('tenant settings (operator)', () => {
  it('reset lifetimes per tenant are used for self-service and admin links; null goes back to the default', async () => {
    const a = await tenantWithAdmin(t);
    const res = await t.op('PATCH', `/admin/v1/tenants/${a.slug}`, { resetTokenTtl: '30m', adminResetTokenTtl: '24h' });
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toMatchObject({ resetTokenTtl: '30m', adminResetTokenTtl: '24h' });
    const { token } = await t.resetMail(a.memberEmail);
    expectIn((await t.api('POST', '/api/v1/password/reset/inspect', { token }, ORIGIN)).body.expiresAt, 30 * 60_000);
    const link = await t.api('POST', `/api/v1/admin/users/${a.member.id}/password-reset`, { delivery: 'link' }, asSession(a.adminSession));
    expectIn(link.body.expiresAt, 24 * HOUR);
    const created = await t.op('POST', `/admin/v1/tenants/${a.slug}/users`, { email: `${unique('w')}@example.com`, sendWelcome: true });
    expectIn(created.body.welcome.expiresAt, 24 * HOUR);
    // The tenant's "check your email" page tells its own lifetime.
    expect((await t.api('GET', `/t/${a.slug}/forgot-password/sent`)).raw).toContain('for 30 minutes');

    expect((await t.op('PATCH', `/admin/v1/tenants/${a.slug}`, { resetTokenTtl: null, adminResetTokenTtl: null })).body).toMatchObject({ resetTokenTtl: null, adminResetTokenTtl: null });
    const again = await t.api('POST', `/api/v1/admin/users/${a.member.id}/password-reset`, { delivery: 'link' }, asSession(a.adminSession));
    expectIn(again.body.expiresAt, 72 * HOUR);
    for (const bad of ['1s', '90d', 'soon']) {
      const r = await t.op('PATCH', `/admin/v1/tenants/${a.slug}`, { resetTokenTtl: bad });
      expectError(r, 400, 'invalid_request');
      expect(r.body.field).toBe('resetTokenTtl');
    }
  });

  it('sender name and address are the From of that tenant\'s mail; others keep MAIL_FROM', async () => {
    const a = await tenantWithAdmin(t);
    const b = await tenantWithAdmin(t);
    expect((await t.op('PATCH', `/admin/v1/tenants/${a.slug}`, { sender: { name: 'Acme "Help" Desk', address: 'help@acme.example' } })).body.sender)
      .toEqual({ name: 'Acme "Help" Desk', address: 'help@acme.example' });
    const mailA = (await t.resetMail(a.memberEmail)).mail;
    expect(mailA.raw).toMatch(/^From: "Acme \\"Help\\" Desk" <help@acme\.example>\r?$/m);
    expect(mailA.headers['message-id']).toMatch(/@acme\.example>$/);
    const deliveries = (await t.api('GET', `/api/v1/admin/users/${a.member.id}/deliveries`, undefined, asSession(a.adminSession))).body.deliveries;
    expect(deliveries[0].from).toBe('"Acme \\"Help\\" Desk" <help@acme.example>');
    expect((await t.resetMail(b.memberEmail)).mail.from).toMatch(/keyturn/i);
    // A name alone keeps MAIL_FROM's address.
    await t.op('PATCH', `/admin/v1/tenants/${a.slug}`, { sender: { name: 'Acme' } });
    expect((await t.resetMail(a.memberEmail)).mail.from).toMatch(/^"?Acme"? <.+@/);
    expectError(await t.op('PATCH', `/admin/v1/tenants/${a.slug}`, { sender: { address: 'a@b.example, c@d.example' } }), 400, 'invalid_request');
    expectError(await t.op('PATCH', `/admin/v1/tenants/${a.slug}`, { sender: { name: 'Evil\r\nBcc: x@y.example' } }), 400, 'invalid_request');
    expect((await t.op('PATCH', `/admin/v1/tenants/${a.slug}`, { sender: null })).body.sender).toBeNull();
  });
});

describe('the console without a browser (form posts)', () => {
  const post = (url: string, s: Session | null, fields: Record<string, string>) => postForm(t, url, fields, s ? { cookie: s.cookie } : {});
  const get = (url: string, s: Session | null, cookie = '') => t.api('GET', url, undefined, { cookie: [s?.cookie, cookie].filter(Boolean).join('; ') });

  it('sends the signed-out to sign in, shows a member 403, another tenant\'s user a 404, refuses a post without its CSRF token', async () => {
    const a = await tenantWithAdmin(t);
    const b = await tenantWithAdmin(t);
    const out = await get('/admin/users/new', null);
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/login?next=%2Fadmin%2Fusers%2Fnew');
    const member = await get('/admin', a.memberSession);
    expect(member.status).toBe(403);
    expect(member.raw).toContain('Administrators only');
    expect((await get(`/admin/users/${b.member.id}`, a.adminSession)).status).toBe(404);
    expect((await get('/admin/users/not-a-uuid', a.adminSession)).status).toBe(404);
    const forged = await post(`/admin/users/${a.member.id}/disable`, a.adminSession, {});
    expect(forged.status).toBe(403);
    expect((await post(`/admin/users/${b.member.id}/disable`, a.adminSession, { _csrf: a.adminSession.csrf })).status).toBe(404);
    expect((await t.login(b.memberEmail)).status).toBe(200);
    expect((await t.login(a.memberEmail)).status).toBe(200);
  });

  it('every console page is strict HTML: no-store, no inline script or style, nothing from another site', async () => {
    const a = await tenantWithAdmin(t);
    await t.api('POST', `/api/v1/admin/users/${a.member.id}/password-reset`, { delivery: 'email' }, asSession(a.adminSession));
    for (const url of ['/admin', '/admin?q=max&status=active&role=member', '/admin/users/new', `/admin/users/${a.member.id}`, `/admin/users/${a.member.id}/reset`, '/admin/audit', `/admin/audit?userId=${a.member.id}&type=admin_reset_issued`]) {
      const res = await get(url, a.adminSession);
      expect(res.status, url).toBe(200);
      expect(res.headers['cache-control'], url).toBe('no-store');
      for (const tag of res.raw.match(/<script[^>]*>/g) ?? []) expect(tag, url).toMatch(/ src="\/assets\//);
      expect(res.raw, url).not.toMatch(/<style|\sstyle="|\son[a-z]+="/i);
      expect(res.raw, url).not.toMatch(/(src|href)="(https?:)?\/\//);
    }
    const de = await t.api('GET', '/admin', undefined, { cookie: a.adminSession.cookie, 'accept-language': 'de' });
    expect(de.raw).toContain('Benutzer anlegen');
  });

  it('reset by form: the link is shown once, from a cookie, never in a URL; email and errors go back to the user page', async () => {
    const a = await tenantWithAdmin(t);
    const res = await post(`/admin/users/${a.member.id}/reset`, a.adminSession, { _csrf: a.adminSession.csrf, delivery: 'link', expiresIn: '1h', reason: 'phone' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/admin/users/${a.member.id}/reset/link`);
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/keyturn_admin_link=.+; Max-Age=300; Path=\/admin\/users\/; HttpOnly; Secure; SameSite=Strict/);
    const flash = setCookie.split(';')[0]!;
    const shown = await get(String(res.headers.location), a.adminSession, flash);
    const url = /value="(https:\/\/keyturn\.test\/reset-password\?token=[A-Za-z0-9_-]{43})"/.exec(shown.raw)?.[1];
    expect(url).toBeTruthy();
    expect(String(shown.headers['set-cookie'])).toMatch(/keyturn_admin_link=;/);
    expectIn((await t.api('POST', '/api/v1/password/reset/inspect', { token: new URL(url!).searchParams.get('token') }, ORIGIN)).body.expiresAt, HOUR);
    // The cookie of another user's page is not shown here.
    const elsewhere = await get(`/admin/users/${a.admin.id}/reset/link`, a.adminSession, flash);
    expect(elsewhere.raw).not.toContain(url!);

    const email = await post(`/admin/users/${a.member.id}/reset`, a.adminSession, { _csrf: a.adminSession.csrf, delivery: 'email' });
    expect(email.headers.location).toBe(`/admin/users/${a.member.id}?done=reset-sent`);
    await t.drain();
    const page = await get(String(email.headers.location), a.adminSession);
    expect(page.raw).toContain('Reset email queued');
    expect(page.raw).toContain('Reset your password');

    // Refused actions show the page again with the reason.
    await post(`/admin/users/${a.member.id}/disable`, a.adminSession, { _csrf: a.adminSession.csrf });
    const refused = await post(`/admin/users/${a.member.id}/reset`, a.adminSession, { _csrf: a.adminSession.csrf, delivery: 'link' });
    expect(refused.status).toBe(400);
    expect(refused.raw).toContain('Enable it first');
    const self = await post(`/admin/users/${a.admin.id}/disable`, a.adminSession, { _csrf: a.adminSession.csrf });
    expect(self.status).toBe(400);
    expect(self.raw).toContain('You cannot disable your own account');
  });

  it('create, edit, enable and sign out by form; a taken email keeps what was typed', async () => {
    const a = await tenantWithAdmin(t);
    const email = `${unique('form')}@example.com`;
    const created = await post('/admin/users', a.adminSession, { _csrf: a.adminSession.csrf, email, name: 'Fern Form', role: 'member' });
    expect(created.status).toBe(303);
    const id = /\/admin\/users\/([0-9a-f-]{36})\?done=created$/.exec(String(created.headers.location))?.[1];
    expect(id).toBeTruthy();
    await t.drain();
    expect(t.mail.messages.some((m) => m.to.includes(email))).toBe(false); // no welcome box ticked
    const taken = await post('/admin/users', a.adminSession, { _csrf: a.adminSession.csrf, email: a.memberEmail, name: 'Dup' });
    expect(taken.status).toBe(409);
    expect(taken.raw).toContain('already exists');
    expect(taken.raw).toContain(`value="${a.memberEmail}"`);

    const edited = await post(`/admin/users/${id}`, a.adminSession, { _csrf: a.adminSession.csrf, email, name: 'Fern Edited', role: 'admin' });
    expect(edited.headers.location).toBe(`/admin/users/${id}?done=saved`);
    expect((await t.api('GET', `/api/v1/admin/users/${id}`, undefined, asSession(a.adminSession))).body).toMatchObject({ name: 'Fern Edited', role: 'admin' });
    const out = await post(`/admin/users/${a.member.id}/sign-out`, a.adminSession, { _csrf: a.adminSession.csrf });
    expect(out.headers.location).toBe(`/admin/users/${a.member.id}?done=signed-out`);
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: a.memberSession.cookie })).status).toBe(401);
  });
});
