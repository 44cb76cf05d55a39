// What a rate-limit check costs in each store: memory, Redis, PostgreSQL. Not a test; prints a table.
//   node --import tsx bench/rate-limit.ts
// Redis when BENCH_REDIS_URL / TEST_REDIS_URL / REDIS_URL is set; PostgreSQL when BENCH_DATABASE_URL /
// TEST_DATABASE_URL is set (a fresh database is made, migrated and dropped). BENCH_OPS sets the count.
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Config } from '../src/config.ts';
import { guardForgot } from '../src/features/abuse/guard.ts';
import { LimitKeys } from '../src/features/abuse/keys.ts';
import type { Ctx } from '../src/context.ts';
import { Secrets } from '../src/platform/crypto.ts';
import { openDatabase, type Database } from '../src/platform/db.ts';
import { RateLimits, type LimitStore } from '../src/platform/rate-limit.ts';

const OPS = Number(process.env.BENCH_OPS ?? 2000);
const CONCURRENCY = 32;
const secrets = new Secrets('bench'.repeat(10));
const keys = new LimitKeys(secrets);

interface Row { store: string; op: string; p50: number; p99: number; seqOps: number; parOps: number; }

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** p50/p99 of one call at a time, and throughput with CONCURRENCY calls in flight. */
async function measure(store: string, op: string, fn: (i: number) => Promise<unknown>): Promise<Row> {
  for (let i = 0; i < Math.min(200, OPS); i++) await fn(-i - 1); // warm up (connections, prepared statements, JIT)
  const times: number[] = [];
  const seqStart = performance.now();
  for (let i = 0; i < OPS; i++) {
    const t0 = performance.now();
    await fn(i);
    times.push(performance.now() - t0);
  }
  const seqMs = performance.now() - seqStart;
  times.sort((a, b) => a - b);
  let next = 0;
  const parStart = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < OPS) await fn(OPS + next++);
  }));
  const parMs = performance.now() - parStart;
  return { store, op, p50: pct(times, 50) * 1000, p99: pct(times, 99) * 1000, seqOps: OPS / (seqMs / 1000), parOps: OPS / (parMs / 1000) };
}

async function bench(store: string, limits: RateLimits): Promise<Row[]> {
  const run = `${Date.now().toString(36)}`;
  const ctx = {
    limits, secrets, config: { captcha: { provider: 'off' } } as Config,
    captcha: { provider: 'off', challenge: async () => ({}), verify: async () => 'ok' },
    log: { warn() {} },
  } as unknown as Ctx;
  return [
    // One counter, spread over 1000 keys so no key hits its budget.
    await measure(store, 'count (read)', (i) => limits.count('loginFailuresPerAccount', `${run}:${i % 1000}`)),
    await measure(store, 'penalty (write)', (i) => limits.penalty('loginFailuresPerAccount', `${run}:${i % 1000}`)),
    await measure(store, 'consume (write, may 429)', (i) => limits.consume('resetPerIp', `${run}:c${i}`)),
    // What a forgot-password request pays: key hashing, then its three counters (per IP, per
    // account, and the one every request naming no tenant shares) checked and counted.
    await measure(store, 'forgot guard (3 counters)', (i) =>
      guardForgot(ctx, { email: `u${i}-${run}@example.com`, ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` })),
  ];
}

async function main() {
  const rows: Row[] = [];
  const notes: string[] = [];
  const stores: LimitStore[] = ['memory'];
  rows.push(...(await bench('memory', new RateLimits({ store: 'memory', scale: 1000 }))));

  const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;
  if (redisUrl) {
    const { Redis } = await import('ioredis');
    const redis: Redis = new Redis(redisUrl, { enableOfflineQueue: true });
    const prefix = `kt-bench-${Date.now().toString(36)}`;
    try {
      rows.push(...(await bench('redis', new RateLimits({ store: 'redis', scale: 1000, redis, prefix }))));
      stores.push('redis');
    } finally {
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (found.length) await redis.del(...found);
      } while (cursor !== '0');
      redis.disconnect();
    }
  } else notes.push('Redis skipped: set BENCH_REDIS_URL or TEST_REDIS_URL');

  const pgBase = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (pgBase) {
    const pg = (await import('pg')).default;
    const name = `keyturn_bench_rl_${Date.now()}`;
    const admin = new pg.Client({ connectionString: pgBase });
    await admin.connect();
    await admin.query(`create database ${name}`);
    const url = new URL(pgBase);
    url.pathname = `/${name}`;
    let db: Database | undefined;
    try {
      db = await openDatabase({ url: url.toString(), dataDir: '', poolSize: 20 });
      await db.migrate();
      rows.push(...(await bench('postgres', new RateLimits({ store: 'postgres', scale: 1000, pgPool: db.pgPool! }))));
      stores.push('postgres');
    } finally {
      await db?.close();
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  } else notes.push('PostgreSQL skipped: set BENCH_DATABASE_URL or TEST_DATABASE_URL');

  const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const header = ['store', 'operation', 'p50 µs', 'p99 µs', 'ops/s (1 at a time)', `ops/s (${CONCURRENCY} in flight)`];
  const table = rows.map((r) => [r.store, r.op, fmt(r.p50, 1), fmt(r.p99, 1), fmt(r.seqOps), fmt(r.parOps)]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(`\nRate-limit check overhead, ${fmt(OPS)} operations each (Node ${process.version})\n`);
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i < 2 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of table) console.log(line(row));
  for (const n of notes) console.log(`\n${n}`);
  console.log('');
}

await main();
