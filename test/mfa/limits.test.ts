// Issue 13: the per-account limit on wrong second-factor answers (10 in 15 minutes → 429 +
// Retry-After, never a lock for good), counted wherever a factor is asked, in each limit store a
// deployment can have; and the double submits that race on one answer, on each database.
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/platform/limit-rules.ts';
import type { LimitStore } from '../../src/platform/rate-limit.ts';
import { STRONG2, unique, useTestApp, type TestAppOptions } from '../helpers/app.ts';
import { expectError } from '../helpers/http.ts';
import { dropRedisKeys, expectRateLimited, PG, REDIS, retryAfter } from '../abuse/helpers.ts';
import { codeAt, midStep, secondStep, ticketFor, totpAccount, wrongCode } from './helpers.ts';

/** Short enough to wait out in a test, long enough for ten wrong answers on a loaded machine. */
const WINDOW_S = 5;

function limitSuite(store: LimitStore, opts: TestAppOptions) {
  const t = useTestApp({
    ...opts,
    env: { RATE_LIMIT_SCALE: '1', RATE_LIMITS: `forgotEmailCooldown=off,mfaFailuresPerAccount=10/${WINDOW_S}s`, ...opts.env },
  });
  const reset = (body: Record<string, unknown>) => t.api('POST', '/api/v1/password/reset', body);

  it(`${store}: ten wrong answers, at sign-in and at reset alike, refuse the eleventh with 429 + Retry-After; after the window the right code works`, async () => {
    expect(t.app.ctx.limits.store).toBe(store);
    const a = await totpAccount(t);
    const { token } = await t.resetMail(a.email);
    const [first, next] = [await ticketFor(t, a.email), await ticketFor(t, a.email)];
    midStep(t);
    const wrong = wrongCode(t, a.totp.secret);
    for (let i = 0; i < 5; i++) expectError(await secondStep(t, { ticket: first, method: 'totp', code: wrong }), 401, 'mfa_invalid');
    for (let i = 0; i < 5; i++) {
      expectError(await reset({ token, password: STRONG2, mfa: { tenant: a.slug, method: 'totp', code: wrong } }), 401, 'mfa_invalid');
    }

    // Spent: the right code is not even looked at, and the refusal does not wear the ticket.
    const refused = await secondStep(t, { ticket: next, method: 'totp', code: codeAt(t, a.totp.secret) });
    expectRateLimited(refused, WINDOW_S);
    expectRateLimited(await reset({ token, password: STRONG2, mfa: { tenant: a.slug, method: 'totp', code: codeAt(t, a.totp.secret) } }), WINDOW_S);
    expect((await t.api('POST', '/api/v1/password/reset/inspect', { token })).status).toBe(200); // the link lives on

    // No lock for good: once the window has passed, the same ticket and the right code sign in.
    await new Promise((r) => setTimeout(r, retryAfter(refused) * 1000 + 250));
    const done = await secondStep(t, { ticket: next, method: 'totp', code: codeAt(t, a.totp.secret) });
    expect(done.status, done.raw).toBe(200);
  });

  it(`${store}: another account's budget is its own`, async () => {
    const [a, b] = [await totpAccount(t), await totpAccount(t)];
    midStep(t);
    for (const ticket of [await ticketFor(t, a.email), await ticketFor(t, a.email)]) {
      for (let i = 0; i < 5; i++) await secondStep(t, { ticket, method: 'totp', code: wrongCode(t, a.totp.secret) });
    }
    expectRateLimited(await secondStep(t, { ticket: await ticketFor(t, a.email), method: 'totp', code: codeAt(t, a.totp.secret) }), WINDOW_S);
    expect((await secondStep(t, { ticket: await ticketFor(t, b.email), method: 'totp', code: codeAt(t, b.totp.secret) })).status).toBe(200);
  });
}

describe('the per-account limit on wrong second-factor answers', () => {
  it('is 10 in 15 minutes by default', () => {
    expect(LIMITS.mfaFailuresPerAccount).toMatchObject({ points: 10, windowSec: 900 });
  });

  describe('in memory (embedded)', () => limitSuite('memory', {}));

  describe.skipIf(!PG)('in PostgreSQL', () => limitSuite('postgres', { db: 'postgres' }));

  describe.skipIf(!REDIS)('in Redis', () => {
    const prefix = `kt-test-${unique()}`;
    afterAll(async () => { await dropRedisKeys(prefix); }); // registered first, so it runs once the app is closed
    // On PostgreSQL when there is one: it starts faster than PGlite, and the limits live in Redis either way.
    limitSuite('redis', { db: PG ? 'postgres' : 'pglite', env: { REDIS_URL: REDIS!, RATE_LIMIT_PREFIX: prefix } });
  });
});
