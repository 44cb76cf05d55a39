// The limits in the shared stores: Redis (TEST_REDIS_URL) and PostgreSQL (TEST_DATABASE_URL).
// The store API itself (memory too), then the limits through the HTTP API on each shared store.
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { rowsOf } from '../../src/platform/db.ts';
import { openRateLimits, RateLimits, type LimitStore } from '../../src/platform/rate-limit.ts';
import { freshDatabase, STRONG, unique, useTestApp, type TestApp, type TestAppOptions } from '../helpers/app.ts';
import { dropRedisKeys, email, expectRateLimited, forgot, login, nextIp, PG, REDIS, send, skipNote } from './helpers.ts';

async function redisClient(): Promise<Redis> {
  const { Redis } = await import('ioredis');
  return new Redis(REDIS!, { enableOfflineQueue: true });
}

/** The store contract every limit relies on, run against one store (two handles when shared). */
function storeContract(kind: LimitStore, open: () => Promise<{ a: RateLimits; b: RateLimits; close(): Promise<void> }>) {
  let a: RateLimits;
  let b: RateLimits;
  let close: () => Promise<void>;
  beforeAll(async () => { ({ a, b, close } = await open()); });
  afterAll(async () => { await close?.(); });
  const k = () => unique('key');

  it(`${kind}: consume refuses past the budget with a 429 that says when`, async () => {
    const key = k();
    for (let i = 0; i < 20; i++) await a.consume('forgotPerIp', key);
    const err = await a.consume('forgotPerIp', key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(429);
    expect(Number((err as AppError).headers['retry-after'])).toBeGreaterThan(590);
    expect((await a.count('forgotPerIp', key)).consumed).toBe(21);
  });

  it(`${kind}: penalties count without refusing; check refuses once spent; clear forgets`, async () => {
    const key = k();
    for (let i = 0; i < 9; i++) await a.penalty('changeFailuresPerUser', key);
    await a.check('changeFailuresPerUser', key);
    expect((await a.penalty('changeFailuresPerUser', key, 2)).consumed).toBe(11);
    await expect(a.check('changeFailuresPerUser', key)).rejects.toMatchObject({ status: 429 });
    await a.clear('changeFailuresPerUser', key);
    await a.check('changeFailuresPerUser', key);
    expect((await a.count('changeFailuresPerUser', key)).consumed).toBe(0);
  });

  it(`${kind}: a marker holds for its seconds`, async () => {
    const key = k();
    expect(await a.marked('loginDelay', key)).toBe(0);
    await a.mark('loginDelay', key, 2);
    const left = await b.marked('loginDelay', key);
    expect(left).toBeGreaterThan(1000);
    expect(left).toBeLessThanOrEqual(2000);
    await a.clear('loginDelay', key);
    expect(await b.marked('loginDelay', key)).toBe(0);
  });

  it(`${kind}: of twenty concurrent first uses of one captcha answer, exactly one wins — across handles`, async () => {
    const key = k();
    const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).firstUse(key, 60)));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await a.firstUse(key, 60)).toBe(false);
  });

  it(`${kind}: counts reads counters and markers together, as count and marked do`, async () => {
    const [x, y] = [k(), k()];
    for (let i = 0; i < 3; i++) await a.consume('forgotPerIp', x);
    await a.mark('loginDelay', y, 5);
    const [cx, cy, none] = await b.counts([{ name: 'forgotPerIp', key: x }, { name: 'loginDelay', key: y }, { name: 'forgotPerAccount', key: k() }]);
    expect(cx!.consumed).toBe(3);
    expect(cx!.msBeforeNext).toBeGreaterThan(590_000);
    expect(RateLimits.markerWait(cy!)).toBeGreaterThan(4_000);
    expect(RateLimits.markerWait(cy!)).toBeLessThanOrEqual(5_000);
    expect(none).toEqual({ consumed: 0, msBeforeNext: 0 });
  });

  it(`${kind}: admit counts every counter or none, and never past a ceiling — even when concurrent`, async () => {
    const [x, y] = [k(), k()];
    const refs = [{ name: 'forgotPerIp' as const, key: x, ceiling: 5 }, { name: 'forgotPerAccount' as const, key: y, ceiling: 100 }];
    const admitted = (await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).admit(refs)))).filter(Boolean);
    const [cx, cy] = await a.counts(refs);
    if (kind !== 'memory') {
      expect(admitted).toHaveLength(5); // one atomic script (Redis) or function call (PostgreSQL): five fit below the ceiling
      expect([cx!.consumed, cy!.consumed]).toEqual([5, 5]);
      expect(cx!.msBeforeNext).toBeGreaterThan(590_000);
    } else {
      expect(admitted).toHaveLength(0); // no fast path here: the caller checks and consumes
      expect([cx!.consumed, cy!.consumed]).toEqual([0, 0]);
    }
  });

  if (kind !== 'memory') {
    it(`${kind}: two handles (two instances) share one budget`, async () => {
      const key = k();
      for (let i = 0; i < 10; i++) await a.consume('forgotPerIp', key);
      for (let i = 0; i < 10; i++) await b.consume('forgotPerIp', key);
      await expect(a.consume('forgotPerIp', key)).rejects.toMatchObject({ status: 429 });
      await expect(b.consume('forgotPerIp', key)).rejects.toMatchObject({ status: 429 });
    });
  }
}

describe('the store API', () => {
  describe('memory', () => {
    storeContract('memory', async () => {
      const a = new RateLimits({ store: 'memory', scale: 1 });
      return { a, b: a, close: async () => {} };
    });
  });

  describe.skipIf(!REDIS)(skipNote('Redis', 'TEST_REDIS_URL'), () => {
    const prefix = `kt-test-${unique()}`;
    storeContract('redis', async () => {
      const [ra, rb] = [await redisClient(), await redisClient()];
      return {
        a: new RateLimits({ store: 'redis', scale: 1, redis: ra, prefix }),
        b: new RateLimits({ store: 'redis', scale: 1, redis: rb, prefix }),
        async close() { ra.disconnect(); rb.disconnect(); await dropRedisKeys(prefix); },
      };
    });
  });

  describe.skipIf(!PG)(skipNote('PostgreSQL', 'TEST_DATABASE_URL'), () => {
    storeContract('postgres', async () => {
      const da = await freshDatabase('postgres');
      // Two pools on one database: what two instances have.
      const pg = (await import('pg')).default;
      const url = (da.pgPool as unknown as { options: { connectionString: string } }).options.connectionString;
      const other = new pg.Pool({ connectionString: url, max: 4 });
      return {
        a: new RateLimits({ store: 'postgres', scale: 1, pgPool: da.pgPool! }),
        b: new RateLimits({ store: 'postgres', scale: 1, pgPool: other }),
        async close() { await other.end(); await da.drop(); },
      };
    });
  });
});

describe('Redis away', () => {
  it('the limits keep counting in this instance\'s memory — neither failing nor letting everything through', async () => {
    const said: string[] = [];
    const log = pino(new Writable({ write(chunk, _e, cb) { said.push(String(chunk)); cb(); } }));
    const { limits, close } = await openRateLimits(
      { redisUrl: 'redis://127.0.0.1:1', rateLimitScale: 1, rateLimits: { overrides: {}, prefix: unique('away') } }, { kind: 'pglite' }, log,
    );
    try {
      expect(limits.store).toBe('redis');
      for (let i = 0; i < 20; i++) await limits.consume('forgotPerIp', 'k');
      await expect(limits.consume('forgotPerIp', 'k')).rejects.toMatchObject({ status: 429 });
      expect(await limits.firstUse('answer', 60)).toBe(true);
      expect(await limits.firstUse('answer', 60)).toBe(false);
      expect(said.some((m) => /Redis unreachable at start/.test(m))).toBe(true);
    } finally {
      await close();
    }
  });
});

/**
 * A forgot-password request is recorded once it is counted — with the counting on PostgreSQL,
 * after it in Redis, after the long way in memory — and never when it is refused.
 */
function recordedOnce(t: TestApp) {
  it('a request answered 202 is recorded once; one answered 429 is not recorded', async () => {
    const ip = nextIp();
    const addrs = Array.from({ length: 21 }, () => email('once'));
    const answers: number[] = [];
    for (const addr of addrs) answers.push((await forgot(t, addr, ip)).status);
    expect(answers).toEqual([...addrs.slice(1).map(() => 202), 429]);
    // The worker is not running (the test app drains it by hand): every row is still there.
    const rows = rowsOf<{ email: string }>(await t.app.ctx.db.execute(sql`select email_canonical as email
      from reset_requests where email_canonical = any(${sql.param(addrs)}::text[])`));
    expect(rows.map((r) => r.email).sort()).toEqual(addrs.slice(0, 20).sort());
  });
}

describe('the request recorded, limits in memory', () => {
  recordedOnce(useTestApp({ env: { RATE_LIMIT_SCALE: '1' } }));
});

/** The limits through the API, on a store the whole deployment shares. */
function throughTheApi(opts: TestAppOptions) {
  const t = useTestApp(opts);
  recordedOnce(t);

  it('forgot-password per IP and per account (spelling variants count as one), 429 in words', async () => {
    const ip = nextIp();
    for (let i = 0; i < 20; i++) expect((await forgot(t, email('ip'), ip)).status).toBe(202);
    expectRateLimited(await forgot(t, email('ip'), ip), 600);
    const local = unique('ann');
    const spellings = [`${local}@example.com`, ` ${local.toUpperCase()}@EXAMPLE.COM`, `${local}@ｅｘａｍｐｌｅ.com`, `${local}@Example.com`, `\t${local}@example.com `];
    for (const s of spellings) expect((await forgot(t, s, nextIp())).status).toBe(202);
    expectRateLimited(await forgot(t, `${local.toUpperCase()}@example.COM`, nextIp()), 3600);
  });

  it('login delays after 10 failures from one IP; the owner elsewhere signs in', async () => {
    const { slug } = await t.tenant();
    const addr = email('slow');
    await t.user(slug, addr);
    const ip = nextIp();
    for (let i = 0; i < 10; i++) expect((await login(t, addr, `Wrong-${i}-password!`, ip)).status).toBe(401);
    expectRateLimited(await login(t, addr, STRONG, ip), 1);
    expect((await login(t, addr, STRONG, nextIp())).status).toBe(200);
  });

  it('inspect and reset: 30 per IP', async () => {
    const ip = nextIp();
    for (let i = 0; i < 30; i++) expect((await send(t, 'POST', '/api/v1/password/reset/inspect', { token: 'B'.repeat(43) }, { ip })).status).toBe(404);
    expectRateLimited(await send(t, 'POST', '/api/v1/password/reset/inspect', { token: 'B'.repeat(43) }, { ip }), 600);
  });
}

describe.skipIf(!REDIS)(skipNote('limits through the API in Redis', 'TEST_REDIS_URL'), () => {
  const prefix = `kt-test-${unique()}`;
  afterAll(async () => { await dropRedisKeys(prefix); }); // registered first, so it runs once the app is closed
  throughTheApi({ env: { RATE_LIMIT_SCALE: '1', REDIS_URL: REDIS!, RATE_LIMIT_PREFIX: prefix } });
  it('the app really counts in Redis', async () => {
    const r = await redisClient();
    try {
      const [, found] = await r.scan('0', 'MATCH', `${prefix}:forgotPerIp:*`, 'COUNT', 1000);
      expect(found.length).toBeGreaterThan(0);
    } finally { r.disconnect(); }
  });
});

describe.skipIf(!PG)(skipNote('limits through the API in PostgreSQL', 'TEST_DATABASE_URL'), () => {
  throughTheApi({ db: 'postgres', env: { RATE_LIMIT_SCALE: '1' } });
});
