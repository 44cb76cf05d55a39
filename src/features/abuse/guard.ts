// The doors attackers knock on — forgot-password and login — each guarded in one place:
//   1. a spent budget answers 429 with Retry-After (before any work or captcha);
//   2. past a counter's captcha threshold the adaptive captcha is asked for (428 + challenge);
//   3. the request is counted (forgot: every request; login: failures only).
// Keys never depend on whether the account exists, so an unknown address meets the same limits.
import { captchaRequired, captchaUnavailable, signInPaused } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import type { LimitName } from '../../platform/limit-rules.ts';
import { RateLimits, retryAfter, type Admitted, type Count } from '../../platform/rate-limit.ts';
import { LimitKeys } from './keys.ts';
import { fromTrustedNetwork } from './networks.ts';

export interface Attempt {
  email: string; ip: string; tenant?: string; captcha?: string;
  /** This browser's id when its device cookie is valid for the address (devices.ts). */
  device?: string | null;
}

interface Counter { name: LimitName; key: string; /** false: over budget means delays, not refusal */ hard?: boolean; }

/** Refuses with 429 when a hard budget is spent (the longest wait wins); tells whether a captcha threshold is crossed. */
function standing(ctx: Ctx, counters: Counter[], counts: Count[]): { captcha: boolean } {
  let refused: Counter | undefined;
  let wait = 0;
  counters.forEach((c, i) => {
    const points = ctx.limits.rule(c.name).points;
    if (c.hard === false || points === null || counts[i]!.consumed < points) return;
    if (!refused || counts[i]!.msBeforeNext > wait) refused = c;
    wait = Math.max(wait, counts[i]!.msBeforeNext); // a counter without expiry (-1) still refuses
  });
  if (refused?.name === 'loginFailuresPerAccount') throw signInPaused(retryAfter(wait));
  if (refused) RateLimits.refuse(wait);
  return {
    captcha: counters.some((c, i) => {
      const after = ctx.limits.rule(c.name).captchaAfter;
      return after !== null && counts[i]!.consumed >= after;
    }),
  };
}

/**
 * The ceiling below which a request needs nothing but counting: its budget (hard counters) and,
 * when a captcha is configured, its captcha threshold.
 */
function ceilingOf(ctx: Pick<Ctx, 'captcha' | 'limits'>, c: Counter): number {
  const rule = ctx.limits.rule(c.name);
  const points = c.hard === false ? null : rule.points;
  const after = ctx.captcha.provider === 'off' ? null : rule.captchaAfter;
  return Math.min(points ?? Infinity, after ?? Infinity);
}

/**
 * Asks for the captcha when it is required. Returns how much this request counts: 1, or 2 when
 * the provider could not be reached and CAPTCHA_FALLBACK is "stricter" (the budget is halved
 * instead of locking everybody out). Never sends the client back to the form in a silent loop:
 * a provider outage is either accepted (stricter) or a clear 503 (block).
 */
async function passCaptcha(ctx: Pick<Ctx, 'captcha' | 'config' | 'log'>, required: boolean, answer: string | undefined, ip: string): Promise<number> {
  if (!required || ctx.captcha.provider === 'off') return 1;
  const outcome = await ctx.captcha.verify(answer, ip);
  if (outcome === 'ok') return 1;
  if (outcome === 'unavailable') {
    if (ctx.config.captcha.fallback === 'block') throw captchaUnavailable();
    ctx.log.warn({ provider: ctx.captcha.provider }, 'captcha provider not answering: request accepted and counted double');
    return 2;
  }
  throw captchaRequired(ctx.captcha.provider, await ctx.captcha.challenge(), outcome);
}

/**
 * The per-address counter of a request. A browser trusted for the address (device cookie) has
 * none: the account-keyed limits hold it, and an office's other people cannot use up its budget.
 * From a trusted network of the tenant it names, the network's larger budget instead.
 */
async function addressCounters(ctx: Ctx, a: Attempt, keys: LimitKeys, perIp: LimitName, perNetwork: LimitName): Promise<Counter[]> {
  if (a.device) return [];
  return [{ name: (await fromTrustedNetwork(ctx, a.tenant, a.ip)) ? perNetwork : perIp, key: keys.ip(a.ip) }];
}

/**
 * Forgot-password: per IP (or network), per account, per tenant; the same for known and unknown
 * addresses. Once the request is counted, `record` writes its row — on PostgreSQL in the same
 * statement as the counting.
 */
export async function guardForgot<Row>(ctx: Ctx, a: Attempt, record?: Admitted<Row>): Promise<void> {
  const keys = new LimitKeys(ctx.secrets);
  const counters: Counter[] = [
    ...(await addressCounters(ctx, a, keys, 'forgotPerIp', 'forgotPerTrustedNetwork')),
    { name: 'forgotPerAccount', key: keys.account(a.email) },
    { name: 'forgotPerTenant', key: keys.tenant(a.tenant) },
  ];
  // Usually nothing is near a ceiling: checked and counted at once (one round trip on Redis and PostgreSQL).
  if (await ctx.limits.admit(counters.map((c) => ({ ...c, ceiling: ceilingOf(ctx, c) })), record)) return;
  const { captcha } = standing(ctx, counters, await ctx.limits.counts(counters));
  const weight = await passCaptcha(ctx, captcha, a.captcha, a.ip);
  // Counted together; the first refusal, if any, is the answer.
  await ctx.limits.consumeAll(counters, weight);
  if (record) await record.insert.write(record.row);
}

export interface LoginGuard {
  /**
   * A wrong password: count it everywhere, and start or lengthen the delay for this account+IP.
   * True when this failure spent the account-wide budget (the owner is to be told).
   */
  failed(): Promise<boolean>;
  /** The right password: this client's failures on this account are forgiven. */
  succeeded(): Promise<void>;
}

/**
 * Login: failures per account+IP (exponential delays after the budget: the attacker slows
 * himself, never the owner elsewhere), per account (NIST ceiling) or, from a browser that signed in
 * to the address before, per device instead, per IP and per tenant (captcha only). Checked before
 * the password is verified.
 */
export async function guardLogin(ctx: Ctx, a: Attempt): Promise<LoginGuard> {
  const keys = new LimitKeys(ctx.secrets);
  const accountIp = keys.accountIp(a.email, a.ip);
  // A trusted browser is held to its own budget: a stranger who spends the account's cannot make
  // it the owner's.
  const own: Counter = a.device
    ? { name: 'loginFailuresPerDevice', key: keys.device(a.device) }
    : { name: 'loginFailuresPerAccount', key: keys.account(a.email) };
  const counters: Counter[] = [
    { name: 'loginFailuresPerAccountIp', key: accountIp, hard: false },
    own,
    ...(await addressCounters(ctx, a, keys, 'loginFailuresPerIp', 'loginFailuresPerTrustedNetwork')),
    { name: 'loginFailuresPerTenant', key: keys.tenant(a.tenant) },
  ];
  // The delay marker and the counters are read together (one round trip); the delay answers first.
  const [delay, ...counts] = await ctx.limits.counts([{ name: 'loginDelay', key: accountIp }, ...counters]);
  const forgivable = delay!.consumed > 0 || counts[0]!.consumed > 0;
  const waitMs = RateLimits.markerWait(delay!);
  if (waitMs > 0) RateLimits.refuse(waitMs);
  const { captcha } = standing(ctx, counters, counts);
  const weight = await passCaptcha(ctx, captcha, a.captcha, a.ip);
  return {
    async failed() {
      const [accountIpCount, ownCount] = await ctx.limits.penalties(counters, weight);
      const rule = ctx.limits.rule('loginFailuresPerAccountIp');
      if (rule.points !== null && accountIpCount!.consumed >= rule.points) {
        // 1 s after the last free failure, then 2, 4, 8 … up to the window (all divided by RATE_LIMIT_SCALE).
        const seconds = Math.min(2 ** (accountIpCount!.consumed - rule.points) / ctx.config.rateLimitScale, rule.windowMs / 1000);
        await ctx.limits.mark('loginDelay', accountIp, seconds);
      }
      const budget = ctx.limits.rule('loginFailuresPerAccount').points;
      return own.name === 'loginFailuresPerAccount' && budget !== null
        && ownCount!.consumed >= budget && ownCount!.consumed - weight < budget;
    },
    async succeeded() {
      // Most sign-ins follow no failure: with nothing to forgive at the check, nothing is written.
      if (!forgivable) return;
      await ctx.limits.clearAll([{ name: 'loginFailuresPerAccountIp', key: accountIp }, { name: 'loginDelay', key: accountIp }]);
    },
  };
}

/**
 * After a completed reset (or change) the owner has proved control of the address: the account's
 * login counters and this client's delay are cleared. An attacker's own account+IP budget stays.
 */
export async function clearLoginThrottles(ctx: Pick<Ctx, 'limits' | 'secrets'>, emails: string[], ip?: string): Promise<void> {
  const keys = new LimitKeys(ctx.secrets);
  await ctx.limits.clearAll([...new Set(emails)].flatMap((email) => {
    const account = { name: 'loginFailuresPerAccount' as const, key: keys.account(email) };
    if (ip === undefined) return [account];
    const accountIp = keys.accountIp(email, ip);
    return [account, { name: 'loginFailuresPerAccountIp' as const, key: accountIp }, { name: 'loginDelay' as const, key: accountIp }];
  }));
}
