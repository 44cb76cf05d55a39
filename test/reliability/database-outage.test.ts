// The database goes away under a running instance (a TCP proxy in front of PostgreSQL is cut):
// requests fail fast with 503 `unavailable`, /readyz says not ready, and everything recovers when
// the database is back — without restarting Keyturn. A connection that goes silent is given up.
// Also: DATABASE_SSL reaches the driver.
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { openDatabase, rowsOf, type Db } from '../../src/platform/db.ts';
import type { MailCatcher } from '../helpers/mail-catcher.ts';
import { unique } from '../helpers/app.ts';
import {
  BIN, deployment, PG, servicesMissing, STRONG, suiteName, tcpProxy, type Deployment, type Instance,
} from './helpers.ts';

describe.skipIf(servicesMissing)(suiteName('database outage'), () => {
  let db: Deployment['db'];
  let mail: MailCatcher;
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  let k: Instance;

  deployment(async (d) => {
    ({ db, mail } = d);
    const target = new URL(PG!);
    proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    k = await d.start('K', { DATABASE_URL: viaProxy.toString(), DATABASE_CONNECT_TIMEOUT: '2s', DATABASE_STATEMENT_TIMEOUT: '2s' });
  });

  afterAll(async () => {
    await proxy?.close();
  });

  /** A user `local`-… of a new tenant, signed in with a bearer token: the address and a check of that session. */
  async function signedIn(slugPrefix: string, name: string, local: string) {
    const slug = unique(slugPrefix);
    expect((await k.op('POST', '/admin/v1/tenants', { slug, name })).status).toBe(201);
    const email = `${local}-${slug}@example.com`;
    expect((await k.op('POST', `/admin/v1/tenants/${slug}/users`, { email, password: STRONG })).status).toBe(201);
    const token = (await k.api('POST', '/api/v1/login', { email, password: STRONG, tokenType: 'bearer' })).body.token as string;
    const who = () => k.api('GET', '/api/v1/session', undefined, { authorization: `Bearer ${token}` });
    return { email, who };
  }

  it('database unreachable: 503 unavailable within a second, not ready; back: answers again without a restart', async () => {
    const { email, who } = await signedIn('dbo', 'DBO', 'ann');
    expect((await who()).status).toBe(200);

    await proxy.cut();
    for (const call of [who, () => k.api('POST', '/api/v1/password/forgot', { email }), () => k.api('POST', '/api/v1/login', { email, password: STRONG })]) {
      const started = Date.now();
      const res = await call();
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: 'unavailable' });
      expect(Date.now() - started).toBeLessThan(1_500);
    }
    const ready = await fetch(`${k.adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect((await ready.json()).checks.database.ok).toBe(false);
    expect((await fetch(`${k.adminUrl}/healthz`)).status).toBe(200); // alive: no reason to restart it
    const metrics = await fetch(`${k.adminUrl}/metrics`);
    expect(metrics.status).toBe(200); // the scrape still answers (database figures keep their last value)
    expect(await metrics.text()).toMatch(/keyturn_http_requests_total\{route="\/api\/v1\/session",method="GET",status="503",outcome="unavailable"\} \d+/);

    await proxy.restore();
    await expect.poll(async () => (await who()).status, { timeout: 15_000, interval: 250 }).toBe(200);
    expect((await fetch(`${k.adminUrl}/readyz`)).status).toBe(200);
    expect((await k.api('POST', '/api/v1/password/forgot', { email })).status).toBe(202);
    await mail.waitFor((m) => m.to.includes(email) && m.subject === 'Reset your password', 30_000);
    // The log names the failure without a query or its parameters.
    const lines = k.output.filter((l) => l.includes('database unavailable'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(email);
  }, 90_000);

  it('a query stuck behind a lock is cancelled by DATABASE_STATEMENT_TIMEOUT: 503 unavailable, and the instance carries on', async () => {
    const { who } = await signedIn('lock', 'Lock', 'bo');
    const pg = (await import('pg')).default;
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table sessions in access exclusive mode');
      const started = Date.now();
      const res = await who();
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: 'unavailable' });
      expect(Date.now() - started).toBeLessThan(6_000);
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end();
    }
    expect((await who()).status).toBe(200);
  }, 60_000);

  it('connections gone silent (half-open): 503 unavailable a little after DATABASE_STATEMENT_TIMEOUT, not a hang; then new ones serve', async () => {
    const { email } = await signedIn('half', 'Half', 'cy');
    const signIn = () => k.api('POST', '/api/v1/login', { email, password: STRONG });
    expect((await signIn()).status).toBe(200);
    proxy.freeze();
    const res = await signIn();
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'unavailable' });
    await expect.poll(async () => (await signIn()).status, { timeout: 30_000, interval: 250 }).toBe(200);
    expect(k.process.exitCode).toBeNull();
  }, 60_000);

  it('a transaction on a silent connection fails, the process lives, and the pool replaces the connection', async () => {
    const target = new URL(PG!);
    const own = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(db.url);
    viaProxy.host = `127.0.0.1:${own.port}`;
    const database = await openDatabase({ url: viaProxy.toString(), dataDir: '', poolSize: 1, statementTimeoutMs: 500 });
    try {
      const one = (q: Db) => q.execute(sql`select 1 as one`);
      await database.db.transaction(one);
      own.freeze();
      const failed = await database.db.transaction(one).then(() => null, (e: Error) => e);
      expect(String(failed?.cause ?? failed)).toMatch(/Query read timeout/);
      // One connection in the pool: this answers only if the silent one was dropped, not handed out again.
      expect(rowsOf<{ one: number }>(await one(database.db))).toEqual([{ one: 1 }]);
    } finally {
      await database.close();
      await own.close();
    }
  }, 60_000);

  it('DATABASE_SSL=require reaches the driver: a server without TLS is refused with one clear line', () => {
    const r = spawnSync(process.execPath, [BIN, 'migrate'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', DATABASE_URL: db.url, DATABASE_SSL: 'require' },
      encoding: 'utf8', timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/SSL/i);
    const bad = spawnSync(process.execPath, [BIN, 'migrate'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', DATABASE_URL: db.url, DATABASE_SSL: 'verify-full', DATABASE_SSL_CA: '/nonexistent/ca.pem' },
      encoding: 'utf8', timeout: 60_000,
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe('Invalid configuration: DATABASE_SSL_CA names no readable file');
  }, 90_000);
});
