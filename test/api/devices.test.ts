// The device list (CONTRACT §8) through the real app: the list and its current marker, ending one
// session (its token is refused on the next request), another account's ids (404), signing out
// everywhere else, the tenant admin's and the operator's sign-out-everywhere, the audit lines, and
// when a session was last used — written at most once per five minutes, off the request's path,
// without emptying the session cache. On PGlite, and on PostgreSQL (with the session cache) when
// TEST_DATABASE_URL is set.
import { sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { describe, expect, it, vi } from 'vitest';
import type { CachedSessions } from '../../src/features/sessions/cache.ts';
import { LAST_SEEN_EVERY_MS } from '../../src/features/sessions/last-seen.ts';
import { cookieHeader, cookiesOf, asSession, expectError, ORIGIN, postForm } from '../helpers/http.ts';
import { databaseKinds, STRONG, useTestApp, type Res, type TestApp } from '../helpers/app.ts';
import { account, tenantWithAdmin } from '../helpers/fixtures.ts';

const UA = {
  windows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  linux: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
};
const NO_SUCH = '00000000-0000-4000-8000-000000000000';

interface Device { cookie: string; csrf: string; headers: Record<string, string>; }

/** A browser signed in as `email` with this User-Agent, from this address. */
async function signInAs(t: TestApp, email: string, userAgent: string, ip = '203.0.113.7'): Promise<Device> {
  const res = await t.app.publicApp.inject({
    method: 'POST', url: '/api/v1/login', remoteAddress: ip,
    headers: { 'content-type': 'application/json', 'user-agent': userAgent, ...ORIGIN }, payload: JSON.stringify({ email, password: STRONG }),
  });
  expect(res.statusCode, res.body).toBe(200);
  const cookie = cookieHeader({ headers: res.headers } as Res);
  const csrf = (await t.api('GET', '/api/v1/csrf', undefined, { cookie })).body.csrfToken;
  return { cookie, csrf, headers: asSession({ cookie, csrf, status: 200, body: null }) };
}

/** The session check of a browser: 200 while signed in, 401 once its session ended. */
const whoAmIOn = (t: TestApp, d: Pick<Device, 'cookie'>) => t.api('GET', '/api/v1/session', undefined, { cookie: d.cookie });

for (const kind of databaseKinds()) {
  describe(`device list (${kind}${kind === 'postgres' ? ', session cache' : ''})`, () => {
    const t = useTestApp({ db: kind });
    const signIn = (email: string, userAgent: string, ip?: string) => signInAs(t, email, userAgent, ip);
    const whoAmI = (d: Device) => whoAmIOn(t, d);
    const list = async (d: Device) => {
      const res = await t.api('GET', '/api/v1/sessions', undefined, { cookie: d.cookie });
      expect(res.status, res.raw).toBe(200);
      return res.body.sessions as any[];
    };
    const auditOf = async (userId: string) => (await t.app.ctx.db.execute(sql`
      select type, actor_type, actor_id, data from audit_events where user_id = ${userId} order by id`) as unknown as { rows: any[] }).rows;

    it('lists every live session with its device, IP, sign-in method and times; only the caller\'s is current', async () => {
      const { email, id } = await account(t, { prefix: 'dev' });
      const pc = await signIn(email, UA.windows, '198.51.100.1');
      const phone = await signIn(email, UA.iphone, '198.51.100.2');
      await signIn(email, 'curl/8.5.0', '198.51.100.3');
      const other = await account(t, { prefix: 'other' });
      await signIn(other.email, UA.linux);

      const seen = await list(phone);
      expect(seen).toHaveLength(3);
      expect(seen[0]).toMatchObject({ current: true, device: 'Safari on iPhone', ip: '198.51.100.2', authMethods: ['pwd'] });
      expect(seen.filter((s) => s.current)).toHaveLength(1);
      expect(seen.map((s) => s.device).sort()).toEqual(['Chrome on Windows', 'Safari on iPhone', 'curl']);
      for (const s of seen) {
        expect(Object.keys(s).sort()).toEqual(['authMethods', 'createdAt', 'current', 'device', 'id', 'ip', 'lastSeenAt']);
        expect(s.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(Date.parse(s.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(s.createdAt));
      }
      // The public id is not the token's hash, and neither the token nor the hash is in the answer.
      const hashes = (await t.app.ctx.db.execute(sql`select id_hash from sessions where user_id = ${id}`) as unknown as { rows: { id_hash: string }[] }).rows;
      const raw = JSON.stringify(seen);
      for (const { id_hash } of hashes) expect(raw).not.toContain(id_hash);
      expect(raw).not.toContain(pc.cookie.split('=')[1]!);
      // The same list from another device marks that one.
      expect((await list(pc)).find((s) => s.current).device).toBe('Chrome on Windows');
      expectError(await t.api('GET', '/api/v1/sessions'), 401, 'unauthenticated');
    });

    it('ending one session: its token gets 401 on the next request, the others stay; audited', async () => {
      const { email, id: userId } = await account(t, { prefix: 'end' });
      const [a, b, c] = [await signIn(email, UA.windows), await signIn(email, UA.iphone), await signIn(email, UA.linux)];
      for (const d of [a, b, c]) expect((await whoAmI(d)).status).toBe(200); // cached where there is a cache
      const target = (await list(b)).find((s) => s.current);

      const res = await t.api('DELETE', `/api/v1/sessions/${target.id}`, undefined, a.headers);
      expect(res.status, res.raw).toBe(204);
      expect(cookiesOf(res).some((x) => x.startsWith('keyturn_session=')), 'only ending your own session clears your cookie').toBe(false);
      expectError(await whoAmI(b), 401, 'unauthenticated');
      expect((await whoAmI(a)).status).toBe(200);
      expect((await whoAmI(c)).status).toBe(200);
      expect((await list(a)).map((s) => s.id)).not.toContain(target.id);
      // Already ended: the same 404 as any id that is not yours.
      expectError(await t.api('DELETE', `/api/v1/sessions/${target.id}`, undefined, a.headers), 404, 'not_found');

      const line = (await auditOf(userId)).find((e) => e.type === 'session_ended');
      expect(line).toMatchObject({ actor_type: 'user', actor_id: userId, data: { sessionId: target.id, device: 'Safari on iPhone', current: false } });
    });

    it('another account\'s session id, an unknown id and a malformed id answer 404 (never 500) and end nothing', async () => {
      const mine = await account(t, { prefix: 'mine' });
      const theirs = await account(t, { prefix: 'theirs' });
      const me = await signIn(mine.email, UA.windows);
      const them = await signIn(theirs.email, UA.linux);
      const theirId = (await list(them))[0].id;
      const unknown = await t.api('DELETE', `/api/v1/sessions/${NO_SUCH}`, undefined, me.headers);
      expectError(unknown, 404, 'not_found');
      const res = await t.api('DELETE', `/api/v1/sessions/${theirId}`, undefined, me.headers);
      expectError(res, 404, 'not_found');
      expect(res.body).toEqual(unknown.body);
      for (const bad of ['abc', '1', `${theirId}x`, encodeURIComponent("' or 1=1 --"), 'NaN']) {
        expectError(await t.api('DELETE', `/api/v1/sessions/${bad}`, undefined, me.headers), 404, 'not_found');
      }
      expect((await whoAmI(them)).status).toBe(200);
      // A tenant admin cannot end another tenant's sessions either: the user is not found.
      const admin = await tenantWithAdmin(t);
      expectError(await t.api('GET', `/api/v1/admin/users/${theirs.id}/sessions`, undefined, asSession(admin.adminSession)), 404, 'not_found');
      expectError(await t.api('POST', `/api/v1/admin/users/${theirs.id}/sign-out-everywhere`, {}, asSession(admin.adminSession)), 404, 'not_found');
      expect((await whoAmI(them)).status).toBe(200);
    });

    it('a cookie call needs the CSRF token; a bearer call does not', async () => {
      const { email } = await account(t, { prefix: 'csrf' });
      const a = await signIn(email, UA.windows);
      const b = await signIn(email, UA.iphone);
      const id = (await list(b)).find((s) => s.current).id;
      expectError(await t.api('DELETE', `/api/v1/sessions/${id}`, undefined, { cookie: a.cookie, ...ORIGIN }), 403, 'csrf_failed');
      expectError(await t.api('POST', '/api/v1/sessions/revoke-others', {}, { cookie: a.cookie, ...ORIGIN }), 403, 'csrf_failed');
      expect((await whoAmI(b)).status).toBe(200);

      const login = await t.api('POST', '/api/v1/login', { email, password: STRONG, tokenType: 'bearer' });
      const bearer = { authorization: `Bearer ${login.body.token}` };
      expect((await t.api('DELETE', `/api/v1/sessions/${id}`, undefined, bearer)).status).toBe(204);
      expectError(await whoAmI(b), 401, 'unauthenticated');
    });

    it('ending the current session signs this client out and clears its cookie', async () => {
      const { email } = await account(t, { prefix: 'self' });
      const a = await signIn(email, UA.windows);
      const b = await signIn(email, UA.iphone);
      const mine = (await list(a)).find((s) => s.current);
      const res = await t.api('DELETE', `/api/v1/sessions/${mine.id}`, undefined, a.headers);
      expect(res.status, res.raw).toBe(204);
      const cleared = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('keyturn_session='));
      expect(cleared).toMatch(/keyturn_session=;.*Expires=Thu, 01 Jan 1970/);
      expectError(await whoAmI(a), 401, 'unauthenticated');
      expect((await whoAmI(b)).status).toBe(200);
    });

    it('sign out everywhere else ends every other session and keeps this one; audited', async () => {
      const { email, id: userId } = await account(t, { prefix: 'others' });
      const [a, b, c] = [await signIn(email, UA.windows), await signIn(email, UA.iphone), await signIn(email, UA.linux)];
      const res = await t.api('POST', '/api/v1/sessions/revoke-others', {}, a.headers);
      expect(res.status, res.raw).toBe(200);
      expect(res.body).toEqual({ revoked: 2 });
      expect((await whoAmI(a)).status).toBe(200);
      for (const d of [b, c]) expectError(await whoAmI(d), 401, 'unauthenticated');
      expect((await list(a)).map((s) => s.current)).toEqual([true]);
      expect((await t.api('POST', '/api/v1/sessions/revoke-others', {}, a.headers)).body).toEqual({ revoked: 0 });
      const lines = (await auditOf(userId)).filter((e) => e.type === 'sessions_revoked');
      expect(lines[0]).toMatchObject({ actor_type: 'user', actor_id: userId, data: { count: 2, exceptCurrent: true } });
    });

    it('tenant admins see a member\'s sessions and sign them out everywhere; members cannot; audited with the admin', async () => {
      const a = await tenantWithAdmin(t);
      const phone = await signIn(a.memberEmail, UA.iphone);
      const h = asSession(a.adminSession);
      const res = await t.api('GET', `/api/v1/admin/users/${a.member.id}/sessions`, undefined, h);
      expect(res.status, res.raw).toBe(200);
      expect(res.body.sessions).toHaveLength(2); // the fixture's sign-in and the phone
      expect(res.body.sessions.every((s: any) => s.current === false)).toBe(true);
      expect(res.body.sessions.map((s: any) => s.device)).toContain('Safari on iPhone');
      expectError(await t.api('GET', `/api/v1/admin/users/${a.admin.id}/sessions`, undefined, asSession(a.memberSession)), 403, 'forbidden');
      expectError(await t.api('GET', `/api/v1/admin/users/${NO_SUCH}/sessions`, undefined, h), 404, 'not_found');
      expectError(await t.api('GET', '/api/v1/admin/users/not-an-id/sessions', undefined, h), 404, 'not_found');

      const out = await t.api('POST', `/api/v1/admin/users/${a.member.id}/sign-out-everywhere`, {}, h);
      expect(out.body).toEqual({ revoked: 2 });
      expectError(await whoAmI(phone), 401, 'unauthenticated');
      expect((await t.api('GET', `/api/v1/admin/users/${a.member.id}/sessions`, undefined, h)).body.sessions).toEqual([]);
      expect((await whoAmI({ cookie: a.adminSession.cookie } as Device)).status).toBe(200);
      const line = (await auditOf(a.member.id)).find((e) => e.type === 'sessions_revoked');
      expect(line).toMatchObject({ actor_type: 'admin', actor_id: a.admin.id, data: { count: 2 } });
    });

    it('the operator signs a user out everywhere; another tenant\'s slug answers 404', async () => {
      const { slug, email, id } = await account(t, { prefix: 'op' });
      const [a, b] = [await signIn(email, UA.windows), await signIn(email, UA.linux)];
      const elsewhere = await t.tenant();
      expectError(await t.op('POST', `/admin/v1/tenants/${elsewhere.slug}/users/${id}/sign-out-everywhere`), 404, 'not_found');
      expect((await whoAmI(a)).status).toBe(200);
      const res = await t.op('POST', `/admin/v1/tenants/${slug}/users/${id}/sign-out-everywhere`);
      expect(res.status, res.raw).toBe(200);
      expect(res.body).toEqual({ revoked: 2 });
      for (const d of [a, b]) expectError(await whoAmI(d), 401, 'unauthenticated');
      expect((await auditOf(id)).find((e) => e.type === 'sessions_revoked')).toMatchObject({ actor_type: 'operator', data: { count: 2 } });
    });

    it('last use is written at most once per five minutes, never by the check itself, and empties no session cache', async () => {
      const { email } = await account(t, { prefix: 'seen' });
      const d = await signIn(email, UA.windows);
      const other = await signIn(email, UA.linux);
      const { id } = (await list(d)).find((s) => s.current);
      const dialect = new PgDialect();
      const db = t.app.ctx.database.db;
      const idHash = ((await db.execute(sql`select id_hash from sessions where id = ${id}`)) as unknown as { rows: { id_hash: string }[] }).rows[0]!.id_hash;
      /** The UPDATEs that wrote this session's time (another session's time may go out meanwhile). */
      const lastSeenWrites = () => execute.mock.calls.map(([q]) => dialect.sqlToQuery(q as never))
        .filter((q) => /^update sessions s set last_seen_at/.test(q.sql) && q.params.some((p) => String(p).includes(idHash))).length;
      const column = async () => ((await t.app.ctx.db.execute(sql`select last_seen_at from sessions where id = ${id}`)) as unknown as { rows: { last_seen_at: Date | string | null }[] }).rows[0]!.last_seen_at;
      const lastSeenOf = async (from: Device) => (await list(from)).find((s) => s.id === id).lastSeenAt as string;
      const execute = vi.spyOn(db, 'execute');
      /** Until every write under way (and any queued behind it) has finished. */
      const settle = async () => {
        for (let n = -1; n !== execute.mock.calls.length;) {
          n = execute.mock.calls.length;
          await Promise.allSettled(execute.mock.results.map((r) => r.value));
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      try {
        // In its first five minutes a session is "as new": nothing is written.
        for (let i = 0; i < 10; i++) { expect((await whoAmI(d)).status).toBe(200); t.clock.advance(10_000); }
        await settle();
        expect(lastSeenWrites()).toBe(0);
        expect(await column()).toBeNull();

        t.clock.advance(LAST_SEEN_EVERY_MS);
        const usedAt = t.clock.now().getTime();
        const hits = kind === 'postgres' ? (t.app.ctx.sessions as CachedSessions).cache.lookups.hit : 0;
        expect((await whoAmI(d)).status).toBe(200);
        for (let i = 0; i < 30; i++) { expect((await whoAmI(d)).status).toBe(200); t.clock.advance(5_000); }
        await settle();
        expect(lastSeenWrites(), 'one UPDATE for 31 checks within the window').toBe(1);
        expect(Math.abs(new Date((await column())!).getTime() - usedAt)).toBeLessThan(1_000);
        expect(Math.abs(Date.parse(await lastSeenOf(other)) - usedAt)).toBeLessThan(1_000);
        if (kind === 'postgres') {
          // The write announced nothing: the session stayed in memory through it.
          expect((t.app.ctx.sessions as CachedSessions).cache.lookups.hit - hits).toBeGreaterThanOrEqual(25);
        }

        t.clock.advance(LAST_SEEN_EVERY_MS);
        expect((await whoAmI(d)).status).toBe(200);
        await settle();
        expect(lastSeenWrites()).toBe(2);
        // Most recently used first: the asking device (now), this one, then the one unused since it began.
        const viewer = await signIn(email, UA.iphone);
        const order = await list(viewer);
        expect(order.map((s) => s.current)).toEqual([true, false, false]);
        expect(order[1].id).toBe(id);
        expect(order[2].device).toBe('Firefox on Linux');
      } finally {
        execute.mockRestore();
      }
    });

    it('the device list is in the API description', async () => {
      const doc = (await t.api('GET', '/api/v1/openapi.json')).body;
      for (const [path, method] of [['/api/v1/sessions', 'get'], ['/api/v1/sessions/{id}', 'delete'], ['/api/v1/sessions/revoke-others', 'post'], ['/api/v1/admin/users/{id}/sessions', 'get']]) {
        expect(doc.paths[path!]?.[method!], `${method} ${path}`).toBeDefined();
      }
    });
  });
}

describe('/settings/sessions and the admin console, without a browser', () => {
  const t = useTestApp();
  const page = (url: string, d: Device) => t.api('GET', url, undefined, { cookie: d.cookie });
  const post = (url: string, d: Device, fields: Record<string, string> = { _csrf: d.csrf }) => postForm(t, url, fields, { cookie: d.cookie });
  const ids = async (d: Device) => (await t.api('GET', '/api/v1/sessions', undefined, { cookie: d.cookie })).body.sessions as { id: string; current: boolean; device: string }[];

  it('lists the devices, signs one out and everything else with plain form posts (CSRF checked)', async () => {
    const { email } = await account(t, { prefix: 'page' });
    const a = await signInAs(t, email, UA.windows);
    const b = await signInAs(t, email, UA.iphone);
    const c = await signInAs(t, email, UA.linux);
    const out = await t.api('GET', '/settings/sessions');
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/login?next=%2Fsettings%2Fsessions');
    expect((await page('/account', a)).raw).toContain('href="/settings/sessions"');

    const list = await page('/settings/sessions', a);
    expect(list.status).toBe(200);
    for (const label of ['Chrome on Windows', 'Safari on iPhone', 'Firefox on Linux', 'This device', '203.0.113.7', 'Sign out everywhere else']) expect(list.raw).toContain(label);
    const target = (await ids(b)).find((s) => s.current)!.id;
    expect(list.raw).toContain(`action="/settings/sessions/${target}/sign-out"`);

    // A stale or missing token: the page again with "this form expired"; nothing ended.
    const stale = await post(`/settings/sessions/${target}/sign-out`, a, { _csrf: 'nope' });
    expect(stale.status).toBe(403);
    expect(stale.raw).toContain('Signed-in devices');
    expect((await whoAmIOn(t, b)).status).toBe(200);

    const ended = await post(`/settings/sessions/${target}/sign-out`, a);
    expect(ended.status, ended.raw).toBe(303);
    expect(ended.headers.location).toBe('/settings/sessions?done=ended');
    expect((await whoAmIOn(t, b)).status).toBe(401);
    expect((await page('/settings/sessions?done=ended', a)).raw).toContain('The device was signed out.');

    const again = await post(`/settings/sessions/${target}/sign-out`, a);
    expect(again.status).toBe(404);
    expect(again.raw).toContain('That device is no longer signed in.');
    expect((await post('/settings/sessions/not-an-id/sign-out', a)).status).toBe(404);

    const others = await post('/settings/sessions/sign-out-others', a);
    expect(others.headers.location).toBe('/settings/sessions?done=others');
    expect((await whoAmIOn(t, c)).status).toBe(401);
    expect((await whoAmIOn(t, a)).status).toBe(200);
    expect((await page('/settings/sessions?done=others', a)).raw).toContain('No other device is signed in.');
  });

  it('the admin console shows a member\'s devices on the user page', async () => {
    const a = await tenantWithAdmin(t);
    await signInAs(t, a.memberEmail, UA.iphone, '198.51.100.9');
    const res = await t.api('GET', `/admin/users/${a.member.id}`, undefined, { cookie: a.adminSession.cookie });
    expect(res.status).toBe(200);
    expect(res.raw).toContain('Signed-in devices');
    expect(res.raw).toContain('Safari on iPhone');
    expect(res.raw).toContain('198.51.100.9');
    expect(res.raw).toContain(`action="/admin/users/${a.member.id}/sign-out"`);
  });
});
