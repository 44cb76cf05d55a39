// The adaptive captcha: off until an IP or an account crosses its threshold, then asked for (428 +
// challenge) on forgot-password and login. ALTCHA by default (solved here with altcha-lib, as the
// widget would); Turnstile/hCaptcha can only be tested unreachable: the fallback, never a loop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STRONG, unique, useTestApp, withTestApp, type Res } from '../helpers/app.ts';
import { dropRedisKeys, email, expectRateLimited, forgot, login, nextIp, REDIS, solveAltcha } from './helpers.ts';

function expectCaptcha(r: Res, reason: 'missing' | 'invalid' | 'used' = 'missing'): void {
  expect(r.status, r.raw).toBe(428);
  expect(r.body).toMatchObject({ error: 'captcha_required', reason, provider: expect.any(String), challenge: expect.any(Object) });
  expect(r.body.message).toMatch(/captcha/);
}

// In memory, and in Redis when there is one: Redis checks and counts a request in one script
// until a threshold is near, and must hand over to the captcha at the same point.
const stores = REDIS ? (['memory', 'redis'] as const) : (['memory'] as const);

describe.each(stores)('ALTCHA (the default), limits in %s', (store) => {
  const prefix = unique('kt-captcha');
  afterAll(async () => { await dropRedisKeys(prefix); }); // registered first, so it runs once the app is closed
  const t = useTestApp({ env: {
    RATE_LIMIT_SCALE: '1', CAPTCHA_AFTER: '', CAPTCHA_DIFFICULTY: '4000', // ALTCHA, default thresholds
    ...(store === 'redis' ? { REDIS_URL: REDIS!, RATE_LIMIT_PREFIX: prefix } : {}),
  } });
  let slug: string;
  beforeAll(async () => { ({ slug } = await t.tenant()); });

  it('forgot-password: off for the first 3 requests of an address, then required; solved → accepted; a replay is refused', async () => {
    const addr = email('cap');
    await t.user(slug, addr);
    for (let i = 0; i < 3; i++) expect((await forgot(t, addr, nextIp())).status).toBe(202);
    const asked = await forgot(t, addr, nextIp());
    expectCaptcha(asked);
    expect(asked.body.provider).toBe('altcha');
    expect(asked.body.challenge).toMatchObject({ parameters: { algorithm: 'SHA-256' }, signature: expect.any(String) });
    expect(asked.headers['retry-after']).toBeUndefined();

    const answer = await solveAltcha(asked.body.challenge);
    expect((await forgot(t, addr, nextIp(), { captcha: answer })).status).toBe(202);
    // The same answer again — from anywhere — is refused, with a fresh challenge to solve.
    const replay = await forgot(t, addr, nextIp(), { captcha: answer });
    expectCaptcha(replay, 'used');
    expect(replay.body.challenge.parameters.nonce).not.toBe(asked.body.challenge.parameters.nonce);

    expectCaptcha(await forgot(t, addr, nextIp(), { captcha: 'not-base64-json' }), 'invalid');
    // A challenge made easier by the client fails the signature check.
    const easier = structuredClone(replay.body.challenge);
    easier.parameters.keyPrefix = '00';
    const forged = Buffer.from(JSON.stringify({ challenge: easier, solution: { counter: 1, derivedKey: '00'.repeat(32) } })).toString('base64');
    expectCaptcha(await forgot(t, addr, nextIp(), { captcha: forged }), 'invalid');

    // The 5th accepted request spends the hourly budget: then 429 comes first, captcha or not.
    expect((await forgot(t, addr, nextIp(), { captcha: await solveAltcha(replay.body.challenge) })).status).toBe(202);
    expectRateLimited(await forgot(t, addr, nextIp()), 3600);
  });

  it('an unknown address is asked at the same point, with the same answer shape', async () => {
    const known = email('k');
    await t.user(slug, known);
    const unknown = email('nobody');
    const answers: Res[][] = [[], []];
    for (let i = 0; i < 4; i++) {
      answers[0]!.push(await forgot(t, known, nextIp()));
      answers[1]!.push(await forgot(t, unknown, nextIp()));
    }
    expect(answers[0]!.map((r) => r.status)).toEqual([202, 202, 202, 428]);
    expect(answers[1]!.map((r) => r.status)).toEqual([202, 202, 202, 428]);
    const [a, b] = [answers[0]![3]!, answers[1]![3]!];
    expect(Object.keys(a.body).sort()).toEqual(Object.keys(b.body).sort());
    expect(a.body.message).toBe(b.body.message);
    expect(Object.keys(a.headers).sort()).toEqual(Object.keys(b.headers).sort());
  });

  it('forgot-password: one IP is asked after 10 requests for different addresses', async () => {
    const ip = nextIp();
    for (let i = 0; i < 10; i++) expect((await forgot(t, email('many'), ip)).status).toBe(202);
    const asked = await forgot(t, email('many'), ip);
    expectCaptcha(asked);
    expect((await forgot(t, email('many'), ip, { captcha: await solveAltcha(asked.body.challenge) })).status).toBe(202);
  });

  it('login: after 3 failures from one client the captcha is asked; the owner solves it and gets in', async () => {
    const addr = email('own');
    await t.user(slug, addr);
    const ip = nextIp();
    for (let i = 0; i < 3; i++) expect((await login(t, addr, `Wrong-${i}-password!`, ip)).status).toBe(401);
    const asked = await login(t, addr, STRONG, ip);
    expectCaptcha(asked);
    // Another client of the same account is not asked (the account as a whole is below 10).
    expect((await login(t, addr, STRONG, nextIp())).status).toBe(200);
    expect((await login(t, addr, STRONG, ip, { captcha: await solveAltcha(asked.body.challenge) })).status).toBe(200);
  });

  it('login: an account attacked from many IPs asks every client for the captcha — a hurdle, never a lockout', async () => {
    const addr = email('hot');
    await t.user(slug, addr);
    for (let i = 0; i < 10; i++) expect((await login(t, addr, `Wrong-${i}-password!`, nextIp('198.19'))).status).toBe(401);
    const owner = nextIp();
    const asked = await login(t, addr, STRONG, owner);
    expectCaptcha(asked);
    const wrongWithCaptcha = await login(t, addr, 'Wrong-again-9!', owner, { captcha: await solveAltcha(asked.body.challenge) });
    expect(wrongWithCaptcha.status).toBe(401);
    const again = await login(t, addr, STRONG, owner);
    expectCaptcha(again);
    expect((await login(t, addr, STRONG, owner, { captcha: await solveAltcha(again.body.challenge) })).status).toBe(200);
  });
});

describe('a third-party provider that does not answer', () => {
  const down = { CAPTCHA_SECRET: 'test-secret', CAPTCHA_SITE_KEY: 'site-key', CAPTCHA_VERIFY_URL: 'http://127.0.0.1:1/' };

  it('Turnstile, fallback "stricter" (default): the request is accepted and counts double — never a loop back to the form', async () => {
    await withTestApp({ env: {
      RATE_LIMIT_SCALE: '1', CAPTCHA_PROVIDER: 'turnstile', ...down, CAPTCHA_AFTER: 'forgotPerIp=2', RATE_LIMITS: 'forgotPerIp=8/10m',
    } }, async (t) => {
      const ip = nextIp();
      expect((await forgot(t, email('d'), ip)).status).toBe(202);
      expect((await forgot(t, email('d'), ip)).status).toBe(202);
      const asked = await forgot(t, email('d'), ip);
      expectCaptcha(asked);
      expect(asked.body).toMatchObject({ provider: 'turnstile', challenge: { provider: 'turnstile', siteKey: 'site-key' } });
      // 2 + 2 + 2 + 2 = 8: three answered requests fit the budget where six would have at weight 1.
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await forgot(t, email('d'), ip, { captcha: `token-${i}` })).status);
      expect(statuses).toEqual([202, 202, 202, 429]);
      expect(t.logs.some((l) => l.includes('captcha provider not answering'))).toBe(true);
    });
  });

  it('hCaptcha, fallback "block": a clear 503 that says to try again in a minute', async () => {
    await withTestApp({ env: {
      RATE_LIMIT_SCALE: '1', CAPTCHA_PROVIDER: 'hcaptcha', ...down, CAPTCHA_FALLBACK: 'block', CAPTCHA_AFTER: 'forgotPerIp=1,loginFailuresPerAccountIp=1',
    } }, async (t) => {
      const ip = nextIp();
      expect((await forgot(t, email('b'), ip)).status).toBe(202);
      expectCaptcha(await forgot(t, email('b'), ip));
      const refused = await forgot(t, email('b'), ip, { captcha: 'token' });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: 'captcha_unavailable', message: 'The captcha service is not answering — try again in a minute.' });
      expect(refused.headers['retry-after']).toBe('60');

      const { slug } = await t.tenant();
      const addr = email('b');
      await t.user(slug, addr);
      expect((await login(t, addr, 'Wrong-1-password!', ip)).status).toBe(401);
      expectCaptcha(await login(t, addr, STRONG, ip));
      expect((await login(t, addr, STRONG, ip, { captcha: 'token' })).status).toBe(503);
    });
  });
});
