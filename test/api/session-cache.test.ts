// Sessions kept in memory on a PostgreSQL server, and every way they must be forgotten: this
// instance's own writes (on the very next request), writes by anyone else through the database's
// notifications (the CLI, an operator's SQL), expiry, and a dropped notification connection.
import type { CachedSessions, SessionCache } from '../../src/features/sessions/cache.ts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp, type TestApp } from '../helpers/app.ts';
import { account } from '../helpers/fixtures.ts';

const PG = process.env.TEST_DATABASE_URL;

describe.skipIf(!PG)(`session cache on PostgreSQL${PG ? '' : ' — SKIPPED: set TEST_DATABASE_URL to run'}`, () => {
  const t = useTestApp({ db: 'postgres' });
  let sqlClient: pg.Client;
  beforeAll(async () => {
    // The same database, through a connection of its own: a writer that is not this Keyturn.
    const url = await t.app.ctx.db.execute('select current_database() as db');
    const dbName = (url as unknown as { rows: { db: string }[] }).rows[0]!.db;
    const u = new URL(PG!);
    u.pathname = `/${dbName}`;
    sqlClient = new pg.Client({ connectionString: u.toString() });
    await sqlClient.connect();
    for (let i = 0; i < 200 && !cache().isLive; i++) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => { await sqlClient?.end(); });

  const cache = () => (t.app.ctx.sessions as CachedSessions).cache;
  async function signedIn() {
    const user = await account(t, { prefix: 'cache', role: 'admin' });
    const { slug, email } = user;
    const res = await t.api('POST', '/api/v1/login', { email, password: 'Sunny-Harbor-42!', tokenType: 'bearer' });
    const auth = { authorization: `Bearer ${res.body.token}` };
    const who = () => t.api('GET', '/api/v1/session', undefined, auth);
    return { slug, user, auth, who };
  }

  it('a repeated session check is answered from memory', async () => {
    const { who } = await signedIn();
    const before = { ...cache().lookups };
    for (let i = 0; i < 5; i++) expect((await who()).status).toBe(200);
    // Kept from its second read on (a session checked once is not worth a place).
    expect(cache().lookups.miss - before.miss).toBe(2);
    expect(cache().lookups.hit - before.hit).toBe(3);
    const metrics = (await t.app.adminApp.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/keyturn_session_cache_lookups_total\{result="hit"\} [1-9]/);
  });

  it('this instance\'s own sign-out, disable and role change show on the very next request, without waiting for the notification', async () => {
    // Notifications are ignored here: the instance that made the change must not depend on them.
    const c = cache();
    const onChange = c.onChange;
    c.onChange = () => {};
    try { await ownChanges(c); } finally { c.onChange = onChange; }
  });

  async function ownChanges(c: SessionCache) {
    for (let i = 0; i < 9; i++) {
      const { slug, user, auth, who } = await signedIn();
      const hits = c.lookups.hit;
      for (let k = 0; k < 3; k++) expect((await who()).status).toBe(200);
      expect(c.lookups.hit).toBe(hits + 1); // cached now
      if (i % 3 === 0) {
        expect((await t.api('POST', '/api/v1/logout', undefined, auth)).status).toBe(204);
      } else if (i % 3 === 1) {
        expect((await t.op('PATCH', `/admin/v1/tenants/${slug}/users/${user.id}`, { disabled: true })).status).toBe(200);
      } else {
        expect((await t.op('PATCH', `/admin/v1/tenants/${slug}/users/${user.id}`, { role: 'member' })).status).toBe(200);
        expect((await who()).body.user.role).toBe('member');
        continue;
      }
      expect((await who()).status).toBe(401);
    }
  }

  it('a change committed by another process is seen on the very next request: revoked, disabled, renamed', async () => {
    // No waiting in between: the request after the commit must not be answered from memory.
    for (let round = 0; round < 20; round++) {
      const a = await signedIn();
      for (let k = 0; k < 3; k++) expect((await a.who()).status).toBe(200);
      const hits = cache().lookups.hit;
      expect((await a.who()).status).toBe(200);
      expect(cache().lookups.hit, 'cached before the change').toBe(hits + 1);
      await sqlClient.query('update sessions set revoked_at = now() where user_id = $1', [a.user.id]);
      expect((await a.who()).status, `round ${round}`).toBe(401);
    }

    const b = await signedIn();
    await b.who();
    await b.who();
    await sqlClient.query('update users set disabled_at = now() where id = $1', [b.user.id]);
    expect((await b.who()).status).toBe(401);

    const c = await signedIn();
    await c.who();
    await c.who();
    await sqlClient.query(`update users set name = 'Renamed', role = 'member' where id = $1`, [c.user.id]);
    expect((await c.who()).body.user).toMatchObject({ name: 'Renamed', role: 'member' });
    await sqlClient.query(`update tenants set name = 'New Name' where slug = $1`, [c.slug]);
    expect((await c.who()).body.tenant.name).toBe('New Name');
    // A change the session does not show (the last sign-in time) keeps it cached.
    await c.who();
    await c.who();
    const before = cache().lookups.hit;
    await sqlClient.query('update users set last_login_at = now() where id = $1', [c.user.id]);
    await new Promise((r) => setTimeout(r, 200));
    expect((await c.who()).status).toBe(200);
    expect(cache().lookups.hit).toBe(before + 1);
  });

  it('a cached session past its expiry is refused', async () => {
    const { who } = await signedIn();
    await who();
    await who();
    expect((await who()).status).toBe(200);
    t.clock.advance(t.app.ctx.config.sessionTtlMs + 1_000);
    try {
      expect((await who()).status).toBe(401);
    } finally {
      t.clock.advance(-(t.app.ctx.config.sessionTtlMs + 1_000));
    }
  });

  it('while the notification connection is down every check reads the row; it comes back by itself', async () => {
    const { user, who } = await signedIn();
    await who();
    await who();
    await sqlClient.query(`select pg_terminate_backend(pid) from pg_stat_activity
      where application_name like 'keyturn-listen-%' and datname = current_database()`);
    await expect.poll(() => cache().isLive, { timeout: 5_000, interval: 10 }).toBe(false);
    expect(cache().size).toBe(0);
    await sqlClient.query('update sessions set revoked_at = now() where user_id = $1', [user.id]);
    expect((await who()).status).toBe(401); // no notification could say so: the row did
    await expect.poll(() => cache().isLive, { timeout: 10_000, interval: 50 }).toBe(true);
    const again = await signedIn();
    const hits = cache().lookups.hit;
    for (let k = 0; k < 3; k++) await again.who();
    expect(cache().lookups.hit).toBe(hits + 1);
  });
});
