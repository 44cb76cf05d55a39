// Every limit at its documented default (RATE_LIMIT_SCALE=1), in the memory store. One app; each
// test uses its own client IPs and addresses so the limits do not meet.
import { beforeAll, describe, expect, it } from 'vitest';
import { STRONG, STRONG2, useTestApp, withTestApp } from '../helpers/app.ts';
import { asSession } from '../helpers/http.ts';
import { email, expectRateLimited, forgot, login, nextIp, retryAfter, send } from './helpers.ts';

const t = useTestApp({ env: { RATE_LIMIT_SCALE: '1', RATE_LIMITS: '' } }); // '' = every default, the cooldown too
let slug: string;
beforeAll(async () => { ({ slug } = await t.tenant()); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('limits in memory, at the defaults', () => {
  it('forgot-password: 20 per IP per 10 minutes, then 429 with Retry-After and a sentence in words', async () => {
    const ip = nextIp();
    for (let i = 0; i < 20; i++) expect((await forgot(t, email('ip'), ip)).status).toBe(202);
    const last = await forgot(t, email('ip'), ip);
    expectRateLimited(last, 600);
    expect(last.body.message).toMatch(/^Too many requests — try again in \d+ minutes?\.$/);
    expect((await forgot(t, email('ip'), nextIp())).status).toBe(202);
  });

  it('forgot-password: 5 per account per hour, and an unknown address meets the same limit', async () => {
    const known = email('known');
    await t.user(slug, known);
    const unknown = email('unknown');
    for (let i = 0; i < 5; i++) {
      expect((await forgot(t, known, nextIp())).status).toBe(202);
      expect((await forgot(t, unknown, nextIp())).status).toBe(202);
    }
    const a = await forgot(t, known, nextIp());
    const b = await forgot(t, unknown, nextIp());
    expectRateLimited(a, 3600);
    expectRateLimited(b, 3600);
    expect(Object.keys(a.headers).sort()).toEqual(Object.keys(b.headers).sort());
    expect(Math.abs(retryAfter(a) - retryAfter(b))).toBeLessThanOrEqual(2);
    expect(a.body.error).toBe(b.body.error);
  });

  it('forgot-password: requests within 60 s of an email share it (cooldown); after 60 s a new one goes out', async () => {
    const addr = email('cool');
    const { id } = await t.user(slug, addr);
    const resetMails = () => t.mail.messages.filter((m) => m.to.includes(addr) && m.subject === 'Reset your password');
    for (let i = 0; i < 3; i++) expect((await forgot(t, addr, nextIp())).status).toBe(202);
    await t.drain();
    await t.mail.waitFor((m) => m.to.includes(addr));
    expect(resetMails()).toHaveLength(1);
    const audit = await t.op('GET', `/admin/v1/tenants/${slug}/audit?userId=${id}`);
    expect(audit.body.events.filter((e: { type: string }) => e.type === 'password_reset_coalesced')).toHaveLength(2);

    t.clock.advance(61_000);
    expect((await forgot(t, addr, nextIp())).status).toBe(202);
    await t.drain();
    await t.mail.waitFor(() => resetMails().length === 2);
    expect(resetMails()).toHaveLength(2);
  });

  it('login: 10 failures per account+IP, then delays that double; never the owner elsewhere', async () => {
    const addr = email('slow');
    await t.user(slug, addr);
    const attacker = nextIp();
    for (let i = 0; i < 10; i++) expect((await login(t, addr, `Wrong-${i}-password!`, attacker)).status).toBe(401);
    const first = await login(t, addr, 'Wrong-x-password!', attacker);
    expectRateLimited(first, 1);
    // During the delay even the right password waits (nothing is verified), but only from there.
    expect((await login(t, addr, STRONG, attacker)).status).toBe(429);
    expect((await login(t, addr, STRONG, nextIp())).status).toBe(200);

    await sleep(1_100);
    expect((await login(t, addr, 'Wrong-y-password!', attacker)).status).toBe(401);
    const second = await login(t, addr, 'Wrong-z-password!', attacker);
    expectRateLimited(second, 2);
    expect(retryAfter(second)).toBe(2);

    await sleep(2_100);
    expect((await login(t, addr, STRONG, attacker)).status).toBe(200);
    // The right password forgave this client's failures: the next mistake is not delayed.
    expect((await login(t, addr, 'Wrong-again-1!', attacker)).status).toBe(401);
    expect((await login(t, addr, 'Wrong-again-2!', attacker)).status).toBe(401);
  });

  it('login: at most 100 failures per account per hour from all IPs together; a completed reset clears them', async () => {
    const addr = email('nist');
    await t.user(slug, addr);
    for (let i = 0; i < 100; i++) expect((await login(t, addr, `Wrong-${i}-password!`, nextIp('198.18'))).status).toBe(401);
    const refused = await login(t, addr, STRONG, nextIp('198.18'));
    expectRateLimited(refused, 3600);

    const { token } = await t.resetMail(addr);
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: STRONG2 })).status).toBe(200);
    expect((await login(t, addr, STRONG2, nextIp('198.18'))).status).toBe(200);
  });

  it('inspect, reset by link and reset by code: 30 per IP per 10 minutes together', async () => {
    const ip = nextIp();
    const bogus = 'A'.repeat(43);
    for (let i = 0; i < 10; i++) {
      expect((await send(t, 'POST', '/api/v1/password/reset/inspect', { token: bogus }, { ip })).status).toBe(404);
      expect((await send(t, 'POST', '/api/v1/password/reset', { token: bogus, password: STRONG2 }, { ip })).status).toBe(404);
      expect((await send(t, 'POST', '/api/v1/password/reset/inspect', { email: email('c'), code: 'ABCD-EFGH' }, { ip })).status).toBe(404);
    }
    expectRateLimited(await send(t, 'POST', '/api/v1/password/reset/inspect', { token: bogus }, { ip }), 600);
    expect((await send(t, 'POST', '/api/v1/password/reset/inspect', { token: bogus }, { ip: nextIp() })).status).toBe(404);
  });

  it('password change: 10 wrong current passwords per user, then 429 even for the right one', async () => {
    const addr = email('chg');
    await t.user(slug, addr);
    const s = await t.login(addr);
    const headers = asSession(s);
    for (let i = 0; i < 10; i++) {
      expect((await send(t, 'POST', '/api/v1/password/change', { currentPassword: `Nope-${i}-nope!`, newPassword: STRONG2 }, { headers })).status).toBe(403);
    }
    expectRateLimited(await send(t, 'POST', '/api/v1/password/change', { currentPassword: STRONG, newPassword: STRONG2 }, { headers }), 900);
  });
});

describe('configuration', () => {
  it('RATE_LIMITS overrides a rule for the whole deployment', async () => {
    await withTestApp({ env: { RATE_LIMIT_SCALE: '1', RATE_LIMITS: 'forgotPerIp=3/1m' } }, async (x) => {
      const ip = nextIp();
      for (let i = 0; i < 3; i++) expect((await forgot(x, email('o'), ip)).status).toBe(202);
      expectRateLimited(await forgot(x, email('o'), ip), 60);
    });
  });
});
