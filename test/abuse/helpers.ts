// Abuse tests call the public listener from chosen client IPs (the socket address Fastify sees) and
// solve ALTCHA challenges the way the browser widget does.
import { solveChallenge, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import type { App } from '../../src/app.ts';
import { resOf, unique, type Res, type TestApp } from '../helpers/app.ts';
import { ORIGIN } from '../helpers/http.ts';

export const REDIS = process.env.TEST_REDIS_URL;
export const PG = process.env.TEST_DATABASE_URL;
/** The suite's name, saying why it is skipped when a service is missing. */
export const skipNote = (what: string, ...env: string[]) => {
  const missing = env.filter((e) => !process.env[e]);
  return missing.length ? `${what} — SKIPPED: set ${missing.join(' and ')} to run` : what;
};

let n = 0;
/** A fresh client address in TEST-NET-3 (or the given /16 prefix). */
export const nextIp = (prefix = '203.0') => `${prefix}.${Math.floor(++n / 250) % 250}.${(n % 250) + 1}`;

export async function send(
  target: TestApp | App, method: string, url: string, body?: unknown,
  opts: { ip?: string; headers?: Record<string, string> } = {},
): Promise<Res> {
  const app = 'app' in target ? target.app : target;
  return resOf(await app.publicApp.inject({
    method: method as 'POST',
    url,
    remoteAddress: opts.ip ?? '127.0.0.1',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...ORIGIN, ...opts.headers },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  }));
}

export const forgot = (t: TestApp | App, email: string, ip?: string, extra: Record<string, unknown> = {}) =>
  send(t, 'POST', '/api/v1/password/forgot', { email, ...extra }, { ip });

export const login = (t: TestApp | App, email: string, password: string, ip?: string, extra: Record<string, unknown> = {}) =>
  send(t, 'POST', '/api/v1/login', { email, password, ...extra }, { ip });

export const email = (prefix = 'u') => `${unique(prefix)}@example.com`;

/** Runs the worker until the reset email to `addr` is out; its token. */
export async function mailedResetToken(t: TestApp, addr: string): Promise<string> {
  await t.drain();
  const m = await t.mail.waitFor((x) => x.to.includes(addr) && x.subject === 'Reset your password');
  return /reset-password\?token=([A-Za-z0-9_-]+)/.exec(m.text)![1]!;
}

/** What the ALTCHA widget posts: base64 of {challenge, solution}. */
export async function solveAltcha(challenge: Challenge): Promise<string> {
  const solution = await solveChallenge({ challenge, deriveKey, timeout: 20_000 });
  if (!solution) throw new Error('could not solve the ALTCHA challenge');
  return Buffer.from(JSON.stringify({ challenge, solution })).toString('base64');
}

export const retryAfter = (r: Res) => Number(r.headers['retry-after']);

export function expectRateLimited(r: Res, maxSeconds: number): void {
  if (r.status !== 429) throw new Error(`expected 429, got ${r.status} ${r.raw}`);
  if (r.body.error !== 'rate_limited') throw new Error(`expected rate_limited: ${r.raw}`);
  if (!/try again in \d+ (second|minute|hour)s?\.$/.test(r.body.message)) throw new Error(`no words in: ${r.body.message}`);
  const s = retryAfter(r);
  if (!(Number.isInteger(s) && s >= 1 && s <= maxSeconds)) throw new Error(`Retry-After ${r.headers['retry-after']} not in 1..${maxSeconds}`);
}

/** Which shared stores this machine offers (memory always). */
export const sharedStores = (): ('redis' | 'postgres')[] => [
  ...(process.env.TEST_REDIS_URL ? ['redis' as const] : []),
  ...(process.env.TEST_DATABASE_URL ? ['postgres' as const] : []),
];

/** Removes this run's keys from Redis (each run uses its own RATE_LIMIT_PREFIX). */
export async function dropRedisKeys(prefix: string): Promise<void> {
  if (!process.env.TEST_REDIS_URL) return;
  const { Redis } = await import('ioredis');
  const r = new Redis(process.env.TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, found] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (found.length > 0) await r.del(...found);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
