// Named limits in one of three stores: memory (one instance) and Redis (REDIS_URL: shared by every
// instance) over rate-limiter-flexible, or PostgreSQL (a postgres:// DATABASE_URL without Redis: the
// `rate_limits` table, in SQL of our own: rate-limit-postgres.ts). Keys arrive already derived and
// hashed (by the abuse feature's keys.ts). The rules and their defaults live in limit-rules.ts;
// RATE_LIMIT_SCALE is applied there.
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config.ts';
import { rateLimited } from '../errors.ts';
import type { Database } from './db.ts';
import { LIMITS, scaledRules, type LimitName, type LimitOverrides, type ScaledRule } from './limit-rules.ts';
import { PostgresCounters, type RidingInsert, type StoredCounter } from './rate-limit-postgres.ts';

export { LIMITS, type LimitName } from './limit-rules.ts';

export type LimitStore = 'memory' | 'redis' | 'postgres';

export interface RateLimitOptions {
  store: LimitStore;
  scale: number;
  overrides?: LimitOverrides;
  /** Key namespace in Redis / PostgreSQL. */
  prefix?: string;
  redis?: Redis;
  pgPool?: Pool;
}

/** What a counter holds now: how many were counted, and when the window ends. */
export interface Count { consumed: number; msBeforeNext: number; }

/** Markers are not counters: a key is either set (until it expires) or not. */
type Marker = 'loginDelay' | 'captchaUsed';

const UNLIMITED = 2 ** 31 - 1; // "counted, never refused": the PostgreSQL column is an integer
export const retryAfter = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

// Counters that every request of a tenant, or of an office, counts on. In PostgreSQL each is spread
// over this many rows that add up: in one row, every such request would write a new version of
// the same row and wait for the same lock.
const SPREAD: ReadonlySet<LimitName | Marker> = new Set<LimitName>(['forgotPerTenant', 'forgotPerTrustedNetwork', 'loginFailuresPerTenant', 'loginFailuresPerTrustedNetwork']);
const SPREAD_ROWS = 4;
/** How often each instance deletes the PostgreSQL rows whose window has ended. */
const SWEEP_EVERY_MS = 60_000;

// Redis: several counters read, or read and counted, by one script: one round trip and one command
// instead of a MULTI per counter. The keys and values are rate-limiter-flexible's own (its consume
// script, mirrored), so every other operation sees the same counters.
const READ_SCRIPT = `local out = {}
for i, k in ipairs(KEYS) do
  out[2 * i - 1] = tonumber(redis.call('get', k) or '0')
  out[2 * i] = redis.call('pttl', k)
end
return out`;
// ARGV: each key's ceiling (counted only if every counter is below its own), then its window in seconds.
const ADMIT_SCRIPT = `for i, k in ipairs(KEYS) do
  if tonumber(redis.call('get', k) or '0') >= tonumber(ARGV[i]) then return {} end
end
local out = {}
for i, k in ipairs(KEYS) do
  local sec = ARGV[#KEYS + i]
  redis.call('set', k, 0, 'EX', sec, 'NX')
  out[2 * i - 1] = redis.call('incrby', k, 1)
  local ttl = redis.call('pttl', k)
  if ttl == -1 then
    redis.call('expire', k, sec)
    ttl = 1000 * sec
  end
  out[2 * i] = ttl
end
return out`;
type ScriptedRedis = Redis & {
  keyturnRead(n: number, ...keys: string[]): Promise<number[]>;
  keyturnAdmit(n: number, ...keysAndArgs: (string | number)[]): Promise<number[]>;
};
const pairsOf = (flat: number[]): Count[] =>
  Array.from({ length: flat.length / 2 }, (_, i) => ({ consumed: flat[2 * i]!, msBeforeNext: Math.max(0, flat[2 * i + 1]!) }));

/** One counter of a request: a limit and its key. */
export interface CounterRef { name: LimitName; key: string; }

/** The request's own write, to be made once its limits admit it (see admit()). */
export interface Admitted<Row> {
  /** On PostgreSQL the row rides in the counting statement; elsewhere `write` makes it after. */
  insert: RidingInsert<Row> & { write(row: Row): Promise<void> };
  row: Row;
}

export class RateLimits {
  readonly store: LimitStore;
  private readonly rules: Record<LimitName, ScaledRule>;
  private readonly prefix: string;
  private readonly limiters = new Map<LimitName | Marker, RateLimiterAbstract>();

  private readonly redis?: ScriptedRedis;
  /** The PostgreSQL store: every operation goes through it, none through rate-limiter-flexible. */
  private readonly pg?: PostgresCounters;

  constructor(opts: RateLimitOptions) {
    this.store = opts.store;
    this.prefix = opts.prefix ?? 'keyturn';
    if (opts.store === 'redis' && opts.redis) {
      opts.redis.defineCommand('keyturnRead', { lua: READ_SCRIPT });
      opts.redis.defineCommand('keyturnAdmit', { lua: ADMIT_SCRIPT });
      this.redis = opts.redis as ScriptedRedis;
    }
    this.rules = scaledRules(opts.scale, opts.overrides);
    if (opts.store === 'postgres') {
      if (!opts.pgPool) throw new Error('the PostgreSQL rate-limit store needs the pg pool');
      this.pg = new PostgresCounters(opts.pgPool);
      return;
    }
    const make = (name: LimitName | Marker, points: number, durationSec: number): RateLimiterAbstract => {
      const common = { keyPrefix: `${this.prefix}:${name}`, points, duration: durationSec };
      if (opts.store === 'redis') {
        if (!opts.redis) throw new Error('the Redis rate-limit store needs a Redis client');
        // If Redis is unreachable the limits fall back to this instance's memory, not to "no limits".
        return new RateLimiterRedis({
          ...common, storeClient: opts.redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(common),
        });
      }
      return new RateLimiterMemory(common);
    };
    for (const name of Object.keys(LIMITS) as LimitName[]) {
      this.limiters.set(name, make(name, this.budget(name), this.windowMs(name) / 1000));
    }
    // Duration 0 = no default expiry: markers always carry their own.
    this.limiters.set('loginDelay', make('loginDelay', 1, 0));
    this.limiters.set('captchaUsed', make('captchaUsed', 1, 0));
  }

  /** The rule as applied (overrides and RATE_LIMIT_SCALE included). */
  rule(name: LimitName): ScaledRule {
    return this.rules[name];
  }

  private budget(name: LimitName): number {
    return this.rules[name].points ?? UNLIMITED;
  }

  /** A limit's window as the stores count it: whole seconds, at least one. */
  private windowMs(name: LimitName): number {
    return Math.max(1, Math.ceil(this.rules[name].windowMs / 1000)) * 1000;
  }

  private limiter(name: LimitName | Marker): RateLimiterAbstract {
    return this.limiters.get(name)!;
  }

  /** A counter as PostgreSQL stores it, under the key rate-limiter-flexible gave it. */
  private stored(name: LimitName | Marker, key: string): StoredCounter {
    return { key: `${this.prefix}:${name}:${key}`, spread: SPREAD.has(name) ? SPREAD_ROWS : 1 };
  }

  /** Counts `points` attempts; throws 429 with Retry-After when the budget is spent. */
  async consume(name: LimitName, key: string, points = 1): Promise<Count> {
    if (this.pg) {
      const [c] = (await this.pg.add([{ ...this.stored(name, key), points, windowMs: this.windowMs(name) }]))!;
      if (c!.consumed > this.budget(name)) throw rateLimited(retryAfter(c!.msBeforeNext));
      return c!;
    }
    try {
      const res = await this.limiter(name).consume(key, points);
      return { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
    } catch (e) {
      if (e instanceof RateLimiterRes) throw rateLimited(retryAfter(e.msBeforeNext));
      throw e;
    }
  }

  /**
   * Counts `points` attempts on every counter (one round trip in PostgreSQL); if any budget is then
   * spent, throws the 429 of the first such counter.
   */
  async consumeAll(refs: CounterRef[], points = 1): Promise<void> {
    if (this.pg) {
      const counts = (await this.pg.add(refs.map((r) => ({ ...this.stored(r.name, r.key), points, windowMs: this.windowMs(r.name) }))))!;
      const refused = counts.findIndex((c, i) => c.consumed > this.budget(refs[i]!.name));
      if (refused >= 0) throw rateLimited(retryAfter(counts[refused]!.msBeforeNext));
      return;
    }
    const counted = await Promise.allSettled(refs.map((r) => this.consume(r.name, r.key, points)));
    const refused = counted.find((r) => r.status === 'rejected');
    if (refused) throw refused.reason;
  }

  /** The counter as it stands, without counting. */
  async count(name: LimitName | Marker, key: string): Promise<Count> {
    if (this.pg) return (await this.pg.read([this.stored(name, key)]))[0]!;
    const res = await this.limiter(name).get(key);
    return res ? { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext } : { consumed: 0, msBeforeNext: 0 };
  }

  /** Several counters (or markers) as they stand, read together: one round trip on Redis and PostgreSQL. */
  async counts(refs: { name: LimitName | Marker; key: string }[]): Promise<Count[]> {
    if (this.pg) return this.pg.read(refs.map((r) => this.stored(r.name, r.key)));
    if (this.redisReady()) {
      try {
        return pairsOf(await this.redis!.keyturnRead(refs.length, ...refs.map((r) => this.limiter(r.name).getKey(r.key))));
      } catch { /* Redis failed meanwhile: one by one, with the memory insurance behind each */ }
    }
    return Promise.all(refs.map((r) => this.count(r.name, r.key)));
  }

  /**
   * Counts one attempt on every counter if each is still below its ceiling (its budget, or a
   * captcha threshold), all or none, atomically: one round trip on Redis and PostgreSQL. Null when
   * nothing was counted: a ceiling was reached, or the store is memory; the caller then takes the
   * long way (check, captcha, consume), which decides what to answer.
   *
   * With `record`, its row is written when (and only when) the call is counted: on PostgreSQL by the
   * counting statement, in its transaction — the request's limits and its own write in one round
   * trip. Null: the row was not written either.
   */
  async admit<Row>(counters: (CounterRef & { ceiling: number })[], record?: Admitted<Row>): Promise<Count[] | null> {
    if (this.pg) {
      return this.pg.add(counters.map((c) => ({ ...this.stored(c.name, c.key), points: 1, windowMs: this.windowMs(c.name), ceiling: c.ceiling })), record);
    }
    if (!this.redisReady()) return null;
    const limiters = counters.map((c) => this.limiter(c.name));
    const keys = counters.map((c, i) => limiters[i]!.getKey(c.key));
    const ceilings = counters.map((c) => Math.min(c.ceiling, UNLIMITED));
    const windows = limiters.map((l) => l.duration); // seconds, as each limiter counts
    let flat: number[];
    try {
      flat = await this.redis!.keyturnAdmit(keys.length, ...keys, ...ceilings, ...windows);
    } catch {
      // The long way, with the memory insurance behind each counter. Had the script run and only
      // its answer been lost, this request counts twice: the safe side of the error.
      return null;
    }
    if (flat.length === 0) return null;
    if (record) await record.insert.write(record.row);
    return pairsOf(flat);
  }

  private redisReady(): boolean {
    return this.redis !== undefined && this.redis.status === 'ready';
  }

  /** Throws 429 if the budget is already spent, without counting; otherwise returns the count. */
  async check(name: LimitName, key: string): Promise<Count> {
    const c = await this.count(name, key);
    const points = this.rules[name].points;
    if (points !== null && c.consumed >= points) throw rateLimited(retryAfter(c.msBeforeNext));
    return c;
  }

  /** Counts a failure without refusing the request that failed. */
  async penalty(name: LimitName, key: string, points = 1): Promise<Count> {
    return (await this.penalties([{ name, key }], points))[0]!;
  }

  /** Counts a failure on several counters at once (one round trip in PostgreSQL), refusing nothing. */
  async penalties(refs: CounterRef[], points = 1): Promise<Count[]> {
    if (this.pg) return (await this.pg.add(refs.map((r) => ({ ...this.stored(r.name, r.key), points, windowMs: this.windowMs(r.name) }))))!;
    return Promise.all(refs.map(async (r) => {
      const res = await this.limiter(r.name).penalty(r.key, points);
      return { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
    }));
  }

  async clear(name: LimitName | Marker, key: string): Promise<void> {
    await this.clearAll([{ name, key }]);
  }

  /** Forgets several counters or markers at once (one round trip in PostgreSQL). */
  async clearAll(refs: { name: LimitName | Marker; key: string }[]): Promise<void> {
    if (this.pg) return this.pg.delete(refs.map((r) => this.stored(r.name, r.key)));
    await Promise.all(refs.map((r) => this.limiter(r.name).delete(r.key)));
  }

  /** Sets a marker for `seconds` (e.g. the next login from this account+IP must wait). */
  async mark(name: Marker, key: string, seconds: number): Promise<void> {
    const whole = Math.max(1, Math.ceil(seconds));
    // What rate-limiter-flexible's block() stores: the marker's one point, plus one.
    if (this.pg) return this.pg.set(this.stored(name, key).key, 2, whole * 1000);
    await this.limiter(name).block(key, whole);
  }

  /** Milliseconds a marker has left; 0 when it is not set. */
  async marked(name: Marker, key: string): Promise<number> {
    return RateLimits.markerWait(await this.count(name, key));
  }

  /** Milliseconds a marker read with counts() has left; 0 when it is not set. */
  static markerWait(c: Count): number {
    return c.consumed > 1 ? Math.max(0, c.msBeforeNext) : 0; // a block() stores points + 1
  }

  /**
   * True the first time a key is seen within `seconds`, false on every later call — atomic in
   * every store (INCR in Redis, an upsert in PostgreSQL), so two instances cannot both accept it.
   */
  async firstUse(key: string, seconds: number): Promise<boolean> {
    const whole = Math.max(1, Math.ceil(seconds));
    if (this.pg) return (await this.pg.add([{ ...this.stored('captchaUsed', key), points: 1, windowMs: whole * 1000 }]))![0]!.consumed === 1;
    const res = await this.limiter('captchaUsed').penalty(key, 1, { customDuration: whole });
    return res.consumedPoints === 1;
  }

  /** Deletes, every minute, the PostgreSQL rows whose window has ended (in batches). */
  startSweeping(onError: (e: unknown) => void): void {
    this.pg?.startSweeping(SWEEP_EVERY_MS, onError);
  }

  async close(): Promise<void> {
    await this.pg?.close();
  }

  /** Throws the 429 a marker implies. */
  static refuse(ms: number): never {
    throw rateLimited(retryAfter(ms));
  }
}

/**
 * Picks the store from the configuration: Redis when REDIS_URL is set (every instance shares it),
 * PostgreSQL when the database is a server, memory otherwise (embedded: one instance).
 */
export async function openRateLimits(
  config: Pick<Config, 'redisUrl' | 'rateLimitScale' | 'rateLimits'>,
  database: Pick<Database, 'kind' | 'pgPool'>,
  log: Pick<FastifyBaseLogger, 'warn' | 'error'>,
): Promise<{ limits: RateLimits; close(): Promise<void>; ping?: () => Promise<void> }> {
  const common = { scale: config.rateLimitScale, overrides: config.rateLimits.overrides, prefix: config.rateLimits.prefix };
  if (config.redisUrl) {
    const { Redis } = await import('ioredis');
    // No offline queue: while Redis is away a check fails fast and the memory insurance answers.
    // Auto-pipelining: the checks of one request (and of concurrent ones) leave in one write.
    const redis = new Redis(config.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5_000, enableAutoPipelining: true });
    let lastComplaint = 0;
    redis.on('error', (e: Error) => {
      if (Date.now() - lastComplaint < 60_000) return;
      lastComplaint = Date.now();
      log.warn({ err: { message: e.message } }, 'Redis not answering: rate limits count in this instance\'s memory until it is back');
    });
    try {
      await redis.connect();
    } catch (e) {
      log.error({ err: { message: (e as Error).message } }, 'Redis unreachable at start: rate limits count in memory until it answers');
    }
    return {
      limits: new RateLimits({ ...common, store: 'redis', redis }),
      async ping() { await redis.ping(); },
      async close() { await redis.quit().catch(() => redis.disconnect()); },
    };
  }
  if (database.kind === 'postgres' && database.pgPool) {
    const limits = new RateLimits({ ...common, store: 'postgres', pgPool: database.pgPool });
    let lastComplaint = 0;
    limits.startSweeping((e) => {
      if (Date.now() - lastComplaint < 3_600_000) return;
      lastComplaint = Date.now();
      log.warn({ err: { message: (e as Error).message } }, 'expired rate-limit rows could not be deleted; the next sweep tries again');
    });
    return { limits, close: () => limits.close() };
  }
  return { limits: new RateLimits({ ...common, store: 'memory' }), close: async () => {} };
}
