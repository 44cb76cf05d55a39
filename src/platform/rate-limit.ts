// Named limits over rate-limiter-flexible (memory store here; shared stores come with the
// abuse-protection work). RATE_LIMIT_SCALE multiplies counts and divides windows.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { rateLimited } from '../errors.ts';

export interface LimitRule { points: number; windowSec: number; }

export const LIMITS = {
  forgotPerAccount: { points: 5, windowSec: 3600 },
  forgotPerIp: { points: 20, windowSec: 600 },
  loginFailuresPerAccountIp: { points: 10, windowSec: 900 },
  loginFailuresPerAccount: { points: 100, windowSec: 3600 }, // NIST SP 800-63B: at most 100 failures
  resetPerIp: { points: 30, windowSec: 600 },
  changeFailuresPerUser: { points: 10, windowSec: 900 },
} satisfies Record<string, LimitRule>;

export type LimitName = keyof typeof LIMITS;

export class RateLimits {
  private readonly limiters = new Map<LimitName, RateLimiterMemory>();

  constructor(scale: number) {
    for (const [name, rule] of Object.entries(LIMITS) as [LimitName, LimitRule][]) {
      this.limiters.set(name, new RateLimiterMemory({
        keyPrefix: name,
        points: Math.max(1, Math.round(rule.points * scale)),
        duration: Math.max(1, Math.round(rule.windowSec / scale)),
      }));
    }
  }

  /** Counts one attempt; throws 429 with Retry-After when the budget is spent. */
  async consume(name: LimitName, key: string): Promise<void> {
    try {
      await this.limiters.get(name)!.consume(key);
    } catch (e) {
      if (e instanceof RateLimiterRes) throw rateLimited(Math.max(1, Math.ceil(e.msBeforeNext / 1000)));
      throw e;
    }
  }

  /** Throws 429 if the budget is already spent, without counting (limits that count failures only). */
  async check(name: LimitName, key: string): Promise<void> {
    const res = await this.limiters.get(name)!.get(key);
    if (res && res.remainingPoints <= 0) throw rateLimited(Math.max(1, Math.ceil(res.msBeforeNext / 1000)));
  }

  /** Counts a failure without refusing the request that failed. */
  async penalty(name: LimitName, key: string): Promise<void> {
    await this.limiters.get(name)!.penalty(key);
  }

  async clear(name: LimitName, key: string): Promise<void> {
    await this.limiters.get(name)!.delete(key);
  }
}
