// Named limits over rate-limiter-flexible, in one of three stores: memory (one instance), Redis
// (REDIS_URL: shared by every instance) or PostgreSQL (a postgres:// DATABASE_URL without Redis:
// the `rate_limits` table). Keys arrive already derived and hashed (features/abuse/keys.ts).
// The rules and their defaults live in limit-rules.ts; RATE_LIMIT_SCALE is applied there.
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import {
  RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { Config } from '../config.ts';
import { rateLimited } from '../errors.ts';
import type { Database } from './db.ts';
import { LIMITS, scaledRules, type LimitName, type LimitOverrides, type ScaledRule } from './limit-rules.ts';

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
  /** Table created by the migrations. */
  pgTable?: string;
}

/** What a counter holds now: how many were counted, and when the window ends. */
export interface Count { consumed: number; msBeforeNext: number; }

/** Markers are not counters: a key is either set (until it expires) or not. */
type Marker = 'loginDelay' | 'captchaUsed';

const UNLIMITED = 2 ** 31 - 1; // "counted, never refused": the PostgreSQL column is an integer
const retryAfter = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export class RateLimits {
  readonly store: LimitStore;
  private readonly rules: Record<LimitName, ScaledRule>;
  private readonly limiters = new Map<LimitName | Marker, RateLimiterAbstract>();

  constructor(private readonly opts: RateLimitOptions) {
    this.store = opts.store;
    this.rules = scaledRules(opts.scale, opts.overrides);
    let first = true;
    const make = (name: LimitName | Marker, points: number, durationSec: number): RateLimiterAbstract => {
      const common = { keyPrefix: `${opts.prefix ?? 'keyturn'}:${name}`, points, duration: durationSec };
      if (opts.store === 'redis') {
        if (!opts.redis) throw new Error('the Redis rate-limit store needs a Redis client');
        // If Redis is unreachable the limits fall back to this instance's memory, not to "no limits".
        return new RateLimiterRedis({
          ...common, storeClient: opts.redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(common),
        });
      }
      if (opts.store === 'postgres') {
        if (!opts.pgPool) throw new Error('the PostgreSQL rate-limit store needs the pg pool');
        const limiter = new RateLimiterPostgres({
          ...common, storeClient: opts.pgPool, storeType: 'pool', tableName: opts.pgTable ?? 'rate_limits', tableCreated: true,
          clearExpiredByTimeout: first, // one sweeper for the shared table is enough
        });
        first = false;
        return limiter;
      }
      return new RateLimiterMemory(common);
    };
    for (const name of Object.keys(LIMITS) as LimitName[]) {
      const rule = this.rules[name];
      this.limiters.set(name, make(name, rule.points ?? UNLIMITED, Math.max(1, Math.ceil(rule.windowMs / 1000))));
    }
    // Duration 0 = no default expiry: markers always carry their own.
    this.limiters.set('loginDelay', make('loginDelay', 1, 0));
    this.limiters.set('captchaUsed', make('captchaUsed', 1, 0));
  }

  /** The rule as applied (overrides and RATE_LIMIT_SCALE included). */
  rule(name: LimitName): ScaledRule {
    return this.rules[name];
  }

  private limiter(name: LimitName | Marker): RateLimiterAbstract {
    return this.limiters.get(name)!;
  }

  /** Counts `points` attempts; throws 429 with Retry-After when the budget is spent. */
  async consume(name: LimitName, key: string, points = 1): Promise<Count> {
    try {
      const res = await this.limiter(name).consume(key, points);
      return { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
    } catch (e) {
      if (e instanceof RateLimiterRes) throw rateLimited(retryAfter(e.msBeforeNext));
      throw e;
    }
  }

  /** The counter as it stands, without counting. */
  async count(name: LimitName, key: string): Promise<Count> {
    const res = await this.limiter(name).get(key);
    return res ? { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext } : { consumed: 0, msBeforeNext: 0 };
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
    const res = await this.limiter(name).penalty(key, points);
    return { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
  }

  async clear(name: LimitName | Marker, key: string): Promise<void> {
    await this.limiter(name).delete(key);
  }

  /** Sets a marker for `seconds` (e.g. the next login from this account+IP must wait). */
  async mark(name: Marker, key: string, seconds: number): Promise<void> {
    await this.limiter(name).block(key, Math.max(1, Math.ceil(seconds)));
  }

  /** Milliseconds a marker has left; 0 when it is not set. */
  async marked(name: Marker, key: string): Promise<number> {
    const res = await this.limiter(name).get(key);
    return res && res.consumedPoints > 1 ? Math.max(0, res.msBeforeNext) : 0;
  }

  /**
   * True the first time a key is seen within `seconds`, false on every later call — atomic in
   * every store (INCR in Redis, an upsert in PostgreSQL), so two instances cannot both accept it.
   */
  async firstUse(key: string, seconds: number): Promise<boolean> {
    const res = await this.limiter('captchaUsed').penalty(key, 1, { customDuration: Math.max(1, Math.ceil(seconds)) });
    return res.consumedPoints === 1;
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
    return { limits: new RateLimits({ ...common, store: 'postgres', pgPool: database.pgPool }), close: async () => {} };
  }
  return { limits: new RateLimits({ ...common, store: 'memory' }), close: async () => {} };
}
