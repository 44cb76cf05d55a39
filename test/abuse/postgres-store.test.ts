// The PostgreSQL limit store (TEST_DATABASE_URL) beyond the contract every store keeps
// (stores.test.ts): a request's limits in one round trip, no row every request updates, calls that
// share counters never deadlock, and expired rows deleted in bounded batches.
import type { Pool, QueryConfig } from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PostgresCounters, SWEEP_BATCH } from '../../src/platform/rate-limit-postgres.ts';
import { RateLimits, type LimitName } from '../../src/platform/rate-limit.ts';
import { freshDatabase, STRONG, unique, useTestApp } from '../helpers/app.ts';
import { email, forgot, login, nextIp, PG, skipNote } from './helpers.ts';

type Fresh = Awaited<ReturnType<typeof freshDatabase>>;

/** Records the text of every statement on the limits table that goes through `pool`. */
function recordLimitStatements(pool: Pool): string[] {
  const seen: string[] = [];
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    const q = args[0] as string | QueryConfig;
    const text = typeof q === 'string' ? q : q.text;
    if (/rate_limits|keyturn_limits/.test(text)) seen.push(text);
    return query(...args);
  }) as Pool['query'];
  return seen;
}

const shuffled = <T>(xs: T[]) => xs.map((x) => [Math.random(), x] as const).sort((p, q) => p[0] - q[0]).map(([, x]) => x);

describe.skipIf(!PG)(skipNote('the PostgreSQL limit store', 'TEST_DATABASE_URL'), () => {
  describe('through the API', () => {
    const t = useTestApp({ db: 'postgres', env: { RATE_LIMIT_SCALE: '1' } });
    let statements: string[];
    beforeAll(() => { statements = recordLimitStatements(t.app.ctx.database.pgPool!); });

    it('a forgot-password request checks and counts all its limits in one statement, known address or not', async () => {
      const { slug } = await t.tenant();
      const known = email('known');
      await t.user(slug, known);
      for (const addr of [known, email('nobody')]) {
        statements.length = 0;
        expect((await forgot(t, addr, nextIp())).status).toBe(202);
        expect(statements).toHaveLength(1);
      }
    });

    it("the request's own row is written by that statement, in its transaction: no round trip after the limits", async () => {
      const pool = t.app.ctx.database.pgPool!;
      const all: string[] = [];
      const query = pool.query;
      pool.query = ((...args: Parameters<Pool['query']>) => {
        const q = args[0] as string | QueryConfig;
        all.push(typeof q === 'string' ? q : q.text);
        return (query as (...a: unknown[]) => unknown).apply(pool, args);
      }) as Pool['query'];
      try {
        const addr = email('rides');
        expect((await forgot(t, addr, nextIp())).status).toBe(202);
        const writes = all.filter((text) => /reset_requests/.test(text) && !/lease_until|processed_at/.test(text));
        expect(writes).toHaveLength(1);
        expect(writes[0]).toContain('keyturn_limits_add');
        const rows = await pool.query('select ip from reset_requests where email_canonical = $1', [addr]);
        expect(rows.rowCount).toBe(1);
      } finally {
        pool.query = query;
      }
    });

    it('a sign-in reads its limits in one statement and, when it fails, counts them in one more', async () => {
      const { slug } = await t.tenant();
      const addr = email('signin');
      await t.user(slug, addr);
      const ip = nextIp();
      statements.length = 0;
      expect((await login(t, addr, STRONG, ip)).status).toBe(200);
      expect(statements).toHaveLength(1); // no failure to forgive: nothing written
      statements.length = 0;
      expect((await login(t, addr, 'Wrong-password-123!', ip)).status).toBe(401);
      expect(statements).toHaveLength(2);
      statements.length = 0;
      expect((await login(t, addr, STRONG, ip)).status).toBe(200);
      expect(statements).toHaveLength(2); // the read, then this client's failure forgiven
      const keys = (await import('../../src/features/abuse/keys.ts')).LimitKeys;
      const accountIp = new keys(t.app.ctx.secrets).accountIp(addr, ip);
      expect((await t.app.ctx.limits.count('loginFailuresPerAccountIp', accountIp)).consumed).toBe(0);
    });
  });

  describe('the store', () => {
    let db: Fresh;
    let other: Pool;
    let a: RateLimits;
    let b: RateLimits;
    /** Eight instances: an instance sends one counting statement at a time, eight send eight. */
    let eight: RateLimits[];
    const prefix = `kt-${unique()}`;
    const open = (pool: Pool) => new RateLimits({ store: 'postgres', scale: 1, pgPool: pool, prefix, overrides: { loginFailuresPerTenant: { windowSec: 1 } } });
    beforeAll(async () => {
      db = await freshDatabase('postgres');
      const pg = (await import('pg')).default;
      other = new pg.Pool({ connectionString: (db.pgPool as unknown as { options: { connectionString: string } }).options.connectionString, max: 4 });
      [a, b] = [open(db.pgPool!), open(other)];
      eight = Array.from({ length: 8 }, (_, i) => open(i % 2 ? other : db.pgPool!));
    });
    afterAll(async () => { await other?.end(); await db?.drop(); });

    /** What `call` answers when it runs while another transaction holds a statement, committed 300 ms later. */
    async function beforeCommitOf<T>(text: string, values: unknown[], call: () => Promise<T>): Promise<T> {
      const other = await db.pgPool!.connect();
      try {
        await other.query('begin');
        await other.query(text, values);
        const pending = call();
        await new Promise((r) => setTimeout(r, 300));
        await other.query('commit');
        return await pending;
      } finally {
        other.release();
      }
    }

    const rowsOf = async (name: LimitName, key: string) => (await db.pgPool!.query<{ points: number; expire: string }>(
      'select points, expire from rate_limits where key like $1', [`${prefix}:${name}:${key}%`])).rows;

    it('a counter every request of a tenant counts on is spread over rows: none takes every update, and they keep one window', async () => {
      const key = unique('tenant');
      for (let i = 0; i < 40; i++) await (i % 2 ? a : b).consume('forgotPerTenant', key);
      const rows = await rowsOf('forgotPerTenant', key);
      expect(rows.length).toBeGreaterThan(1);
      expect(Math.max(...rows.map((r) => r.points))).toBeLessThan(40);
      expect(rows.reduce((n, r) => n + r.points, 0)).toBe(40);
      expect(new Set(rows.map((r) => r.expire)).size).toBe(1);
      const c = await a.count('forgotPerTenant', key);
      expect(c.consumed).toBe(40);
      expect(c.msBeforeNext).toBeGreaterThan(590_000);
      // A key of its own has one row, under the key rate-limiter-flexible gave it.
      await a.consume('forgotPerIp', key);
      expect(await db.pgPool!.query('select 1 from rate_limits where key = $1', [`${prefix}:forgotPerIp:${key}`])).toMatchObject({ rowCount: 1 });
    });

    it('a spread counter starts a new window once its window has passed, on whichever row it lands', async () => {
      const key = unique('tenant');
      for (let i = 0; i < 10; i++) await a.penalty('loginFailuresPerTenant', key);
      expect((await a.count('loginFailuresPerTenant', key)).consumed).toBe(10);
      await new Promise((r) => setTimeout(r, 1_100));
      expect(await a.count('loginFailuresPerTenant', key)).toEqual({ consumed: 0, msBeforeNext: 0 });
      for (let i = 0; i < 10; i++) await b.penalty('loginFailuresPerTenant', key);
      const c = await a.count('loginFailuresPerTenant', key);
      expect(c.consumed).toBe(10);
      expect(c.msBeforeNext).toBeGreaterThan(0);
      expect(c.msBeforeNext).toBeLessThanOrEqual(1_000);
    });

    it('calls that share counters, in any order and from eight instances, wait for each other: no deadlock, every count kept', async () => {
      const refs = [unique('x'), unique('y'), unique('z')].map((key) => ({ name: 'forgotPerIp' as const, key }));
      const tenant = { name: 'forgotPerTenant' as const, key: unique('t') };
      // A deadlock would be retried, unseen but for PostgreSQL's count (sent within a second of idling).
      const deadlocks = async () => Number((await db.pgPool!.query('select deadlocks from pg_stat_database where datname = current_database()')).rows[0].deadlocks);
      const before = await deadlocks();
      for (let round = 1; round <= 3; round++) {
        await Promise.all(Array.from({ length: 60 }, (_, i) => {
          const limits = eight[i % 8]!;
          const mine = shuffled([...refs, tenant]);
          return i % 3 === 0
            ? limits.penalties(mine)
            : limits.admit(mine.map((r) => ({ ...r, ceiling: 1000 }))).then((counted) => expect(counted).not.toBeNull());
        }));
        expect((await a.counts([...refs, tenant])).map((c) => c.consumed)).toEqual(Array(4).fill(60 * round));
      }
      // Forgetting meanwhile, in any order, waits its turn as well.
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 4 === 0
        ? eight[i % 8]!.clearAll(shuffled(refs))
        : eight[i % 8]!.admit(shuffled(refs).map((r) => ({ ...r, ceiling: 1000 }))))));
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await deadlocks()).toBe(before);
    });

    it('of eighty concurrent admits from eight instances, as many as the ceiling allows are counted, on every counter', async () => {
      const refs = [{ name: 'forgotPerIp' as const, key: unique('x'), ceiling: 7 }, { name: 'forgotPerAccount' as const, key: unique('y'), ceiling: 100 }];
      await a.penalties(refs); // the rows exist: nothing but their locks orders the statements
      const admitted = (await Promise.all(Array.from({ length: 80 }, (_, i) => eight[i % 8]!.admit(shuffled(refs))))).filter(Boolean);
      expect(admitted).toHaveLength(6);
      expect((await a.counts(refs)).map((c) => c.consumed)).toEqual([7, 7]);
    });

    it('a counter another transaction is raising is checked once that transaction ends: its last point is not taken twice', async () => {
      const refs = [{ name: 'forgotPerIp' as const, key: unique('x'), ceiling: 7 }, { name: 'forgotPerAccount' as const, key: unique('y'), ceiling: 100 }];
      await a.penalties(refs);
      const admitted = await beforeCommitOf('update rate_limits set points = 7 where key = $1', [`${prefix}:forgotPerIp:${refs[0]!.key}`], () => b.admit(refs));
      expect(admitted).toBeNull();
      expect((await a.counts(refs)).map((c) => c.consumed)).toEqual([7, 1]);
    });

    it('a counter another transaction is creating is checked once that transaction ends: its ceiling holds', async () => {
      const refs = [{ name: 'forgotPerIp' as const, key: unique('new'), ceiling: 7 }, { name: 'forgotPerAccount' as const, key: unique('y'), ceiling: 100 }];
      // Another instance's call, caught between creating the row and committing: 7 of 7.
      const admitted = await beforeCommitOf(`select * from keyturn_limits_add($1::varchar[], '{1}', '{1}', '{1}', '{1}', '{7}', '{600000}', '{null}', $2)`,
        [[`${prefix}:forgotPerIp:${refs[0]!.key}`], Date.now()], () => b.admit(refs));
      expect(admitted).toBeNull();
      expect((await a.counts(refs)).map((c) => c.consumed)).toEqual([7, 0]);
    });

    it('concurrent calls of one instance share a statement, each decided on its own', async () => {
      const statements = recordLimitStatements(other);
      const limits = open(other);
      const full = unique('full');
      await limits.consume('forgotPerIp', full);
      const calls = Array.from({ length: 20 }, (_, i) => limits.admit([
        { name: 'forgotPerIp', key: i % 4 ? unique('ip') : full, ceiling: 1 },
        { name: 'forgotPerTenant', key: 'shared', ceiling: 1000 },
      ]));
      const answers = await Promise.all(calls);
      expect(answers.filter((x) => x === null)).toHaveLength(5); // the five on the spent counter
      expect(statements.filter((t) => t.includes('keyturn_limits_add')).length).toBeLessThan(20);
      expect((await limits.count('forgotPerTenant', 'shared')).consumed).toBe(15);
    });

    it('a call refused in a shared statement counts for nothing in the calls after it', async () => {
      const limits = open(other);
      const [ip, full] = [unique('ip'), unique('full')];
      for (let i = 0; i < 19; i++) await limits.consume('forgotPerIp', ip); // a budget of 20
      await limits.consume('forgotPerAccount', full);
      // The first call goes alone; the two after it wait for it and share the next statement, in order.
      const [, refused, counted] = await Promise.all([
        limits.admit([{ name: 'forgotPerAccount', key: unique('z'), ceiling: 5 }]),
        limits.admit([{ name: 'forgotPerIp', key: ip, ceiling: 100 }, { name: 'forgotPerAccount', key: full, ceiling: 1 }]),
        limits.consume('forgotPerIp', ip),
      ]);
      expect(refused).toBeNull();
      expect(counted.consumed).toBe(20); // the twentieth: within the budget, not refused
      expect((await limits.counts([{ name: 'forgotPerIp', key: ip }, { name: 'forgotPerAccount', key: full }])).map((c) => c.consumed)).toEqual([20, 1]);
    });

    describe('a riding insert', () => {
      type Rode = { label: string | null; n: number };
      const table = `rides_${unique().replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
      const insert = {
        table,
        columns: [{ name: 'label', type: 'text', of: (r: Rode) => r.label }, { name: 'n', type: 'integer', of: (r: Rode) => r.n }],
        write: async () => { throw new Error('PostgreSQL writes the row itself'); },
      };
      const written = async () => (await db.pgPool!.query<{ label: string; n: number }>(`select label, n from ${table} order by n`)).rows;
      beforeAll(async () => { await db.pgPool!.query(`create table ${table} (label text not null, n integer)`); });

      it('writes the rows of the calls its statement counted, and only those', async () => {
        const statements = recordLimitStatements(other);
        const limits = open(other);
        const full = unique('full');
        await limits.consume('forgotPerIp', full);
        // A second kind of row, and calls with none, share the statements.
        await db.pgPool!.query(`create table ${table}_b (label text not null)`);
        const other_ = { table: `${table}_b`, columns: [{ name: 'label', type: 'text', of: (r: string) => r }], write: insert.write };
        const answers = await Promise.all(Array.from({ length: 30 }, (_, n) => {
          const counters = [
            { name: 'forgotPerIp' as const, key: n % 4 ? unique('ip') : full, ceiling: 1 },
            { name: 'forgotPerTenant' as const, key: table, ceiling: 1000 },
          ];
          if (n % 3 === 1) return limits.admit(counters, { insert: other_, row: `call ${n}` });
          if (n % 3 === 2) return limits.admit(counters);
          return limits.admit(counters, { insert, row: { label: `call ${n}`, n } });
        }));
        const counted = answers.flatMap((x, n) => (x === null ? [] : [n]));
        expect(counted).toHaveLength(22); // the eight on the spent counter are refused
        expect(await written()).toEqual(counted.filter((n) => n % 3 === 0).map((n) => ({ label: `call ${n}`, n })));
        const b = await db.pgPool!.query<{ label: string }>(`select label from ${table}_b`);
        expect(b.rows.map((r) => r.label).sort()).toEqual(counted.filter((n) => n % 3 === 1).map((n) => `call ${n}`).sort());
        expect((await limits.count('forgotPerTenant', table)).consumed).toBe(22);
        const shared = statements.filter((text) => text.includes(`${table}_b`) && text.includes(`into ${table} `));
        expect(shared.length).toBeGreaterThan(0);
        expect(statements.filter((text) => text.includes('keyturn_limits_add')).length).toBeLessThan(30);
      });

      it('counts nothing when its row cannot be written: the error is that call\'s alone', async () => {
        const limits = open(other);
        const [mine, neighbour] = [unique('mine'), unique('neighbour')];
        const results = await Promise.allSettled([
          limits.admit([{ name: 'forgotPerAccount', key: unique('first'), ceiling: 5 }], { insert, row: { label: 'first', n: 100 } }),
          limits.admit([{ name: 'forgotPerAccount', key: mine, ceiling: 5 }], { insert, row: { label: null, n: 101 } }),
          limits.admit([{ name: 'forgotPerAccount', key: neighbour, ceiling: 5 }], { insert, row: { label: 'neighbour', n: 102 } }),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect((await limits.count('forgotPerAccount', mine)).consumed).toBe(0);
        expect((await limits.count('forgotPerAccount', neighbour)).consumed).toBe(1);
        expect((await written()).filter((r) => r.n >= 100).map((r) => r.label)).toEqual(['first', 'neighbour']);
      });

      it('is refused when its table or a column is not a plain name', async () => {
        const bad = { ...insert, table: 'rate_limits; drop table users' };
        await expect(a.admit([{ name: 'forgotPerAccount', key: unique('x'), ceiling: 5 }], { insert: bad, row: { label: 'x', n: 1 } })).rejects.toThrow(/not a riding insert/);
      });
    });

    it('a refused admit leaves nothing behind, not even a row for a counter it would have started', async () => {
      const [full, fresh] = [unique('full'), unique('fresh')];
      for (let i = 0; i < 3; i++) await a.consume('forgotPerIp', full);
      const refs = [{ name: 'forgotPerIp' as const, key: full, ceiling: 3 }, { name: 'forgotPerAccount' as const, key: fresh, ceiling: 5 }];
      expect(await Promise.all([a.admit(refs), b.admit(refs)])).toEqual([null, null]);
      expect((await a.counts(refs)).map((c) => c.consumed)).toEqual([3, 0]);
      expect(await rowsOf('forgotPerAccount', fresh)).toHaveLength(0);
    });
  });

  describe('expired rows', () => {
    let db: Fresh;
    let counters: PostgresCounters;
    beforeAll(async () => {
      db = await freshDatabase('postgres');
      counters = new PostgresCounters(db.pgPool!);
    });
    afterAll(async () => { await counters?.close(); await db?.drop(); });

    const fill = (tag: string, n: number, expire: number | null) => db.pgPool!.query(
      `insert into rate_limits (key, points, expire) select $1 || g, 1, $2::bigint from generate_series(1, $3::int) g`, [`${tag}:`, expire, n]);
    const left = async (tag: string) => Number((await db.pgPool!.query(`select count(*) from rate_limits where key like $1`, [`${tag}:%`])).rows[0].count);

    it(`go in batches of at most ${SWEEP_BATCH}; live rows, rows without expiry and rows expired a moment ago stay`, async () => {
      const now = Date.now();
      await fill('old', 2 * SWEEP_BATCH + 500, now - 3_600_000);
      await fill('recent', 10, now - 1_000);
      await fill('live', 10, now + 600_000);
      await fill('forever', 3, null);
      expect([await counters.sweep(), await counters.sweep(), await counters.sweep(), await counters.sweep()])
        .toEqual([SWEEP_BATCH, SWEEP_BATCH, 500, 0]);
      expect([await left('old'), await left('recent'), await left('live'), await left('forever')]).toEqual([0, 10, 10, 3]);
    });

    it('the sweeper goes on batch after batch until the backlog is gone, then waits for its next turn', async () => {
      await fill('backlog', 3 * SWEEP_BATCH + 1, Date.now() - 3_600_000);
      const sweep = vi.spyOn(counters, 'sweep');
      counters.startSweeping(50, (e) => { throw e; });
      for (const deadline = Date.now() + 10_000; (await left('backlog')) > 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 50));
      await counters.close();
      expect(await left('backlog')).toBe(0);
      const swept = await Promise.all(sweep.mock.results.map((r) => r.value as Promise<number>));
      expect(Math.max(...swept)).toBeLessThanOrEqual(SWEEP_BATCH);
      expect(swept.slice(0, 4)).toEqual([SWEEP_BATCH, SWEEP_BATCH, SWEEP_BATCH, 1]);
    });
  });
});
