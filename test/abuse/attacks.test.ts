// Attacks on the limits themselves: a forged X-Forwarded-For, rotating spellings of one address,
// and an attacker who tries to lock the owner out with wrong passwords.
import { beforeAll, describe, expect, it } from 'vitest';
import { STRONG, STRONG2, unique, useTestApp } from '../helpers/app.ts';
import { email, expectRateLimited, forgot, login, mailedResetToken, nextIp, send, solveAltcha } from './helpers.ts';

const PROXY = '10.1.2.3';        // in TRUSTED_PROXIES
const STRANGER = '192.0.2.50';   // not trusted: its X-Forwarded-For means nothing

const fullwidth = (s: string) => s.replace(/[a-z]/g, (c) => String.fromCodePoint(c.codePointAt(0)! - 0x61 + 0xff41));
/** Five spellings a person could type that all reach one account (and pass the address check). */
const spellingsOf = (local: string) => [
  `${local}@example.com`, ` ${local.toUpperCase()}@EXAMPLE.COM `, `${fullwidth(local)}@example.com`,
  `\t${local}@Example.com`, `${local}@ＥＸＡＭＰＬＥ.com`,
];

describe('without captcha', () => {
  const t = useTestApp({ env: { RATE_LIMIT_SCALE: '1', TRUSTED_PROXIES: '10.0.0.0/8' } });
  let slug: string;
  beforeAll(async () => { ({ slug } = await t.tenant()); });

  /** The owner asks for a reset from `ip`, sets STRONG2 with the emailed link, and signs in with it from there. */
  async function ownerResetsFrom(addr: string, ip: string) {
    expect((await forgot(t, addr, ip)).status).toBe(202);
    const token = await mailedResetToken(t, addr);
    expect((await send(t, 'POST', '/api/v1/password/reset', { token, password: STRONG2 }, { ip })).status).toBe(200);
    expect((await login(t, addr, STRONG2, ip)).status).toBe(200);
  }

  const viaXff = (peer: string, forwarded: string) => ({ ip: peer, headers: { 'x-forwarded-for': forwarded, 'x-real-ip': forwarded, forwarded: `for=${forwarded}` } });

  it('rotating X-Forwarded-For from an untrusted peer does not escape the per-IP limits', async () => {
    for (let i = 0; i < 20; i++) {
      expect((await send(t, 'POST', '/api/v1/password/forgot', { email: email('x') }, viaXff(STRANGER, `198.51.100.${i + 1}`))).status).toBe(202);
    }
    expectRateLimited(await send(t, 'POST', '/api/v1/password/forgot', { email: email('x') }, viaXff(STRANGER, '198.51.100.99')), 600);
    for (let i = 0; i < 30; i++) {
      expect((await send(t, 'POST', '/api/v1/password/reset/inspect', { token: 'C'.repeat(43) }, viaXff(STRANGER, `198.51.100.${i + 1}`))).status).toBe(404);
    }
    expectRateLimited(await send(t, 'POST', '/api/v1/password/reset/inspect', { token: 'C'.repeat(43) }, viaXff(STRANGER, '198.51.100.200')), 600);
    // Behind the trusted proxy each forwarded client has its own budget.
    for (let i = 0; i < 25; i++) {
      expect((await send(t, 'POST', '/api/v1/password/forgot', { email: email('x') }, viaXff(PROXY, `198.51.100.${i + 1}`))).status).toBe(202);
    }
  });

  it('rotating spellings of one address does not escape the per-account limits (forgot and login)', async () => {
    const local = unique('spell');
    await t.user(slug, `${local}@example.com`);
    const spellings = spellingsOf(local);
    for (const s of spellings) expect((await forgot(t, s, nextIp())).status).toBe(202);
    expectRateLimited(await forgot(t, `${local}@EXAMPLE.com`, nextIp()), 3600);

    for (let i = 0; i < 100; i++) {
      expect((await login(t, spellings[i % spellings.length]!, `Wrong-${i}-password!`, nextIp('198.18'))).status).toBe(401);
    }
    expectRateLimited(await login(t, ` ${local}@example.com`, STRONG, nextIp('198.18')), 3600);
  });

  it('40 wrong passwords from the attacker\'s IP never lock out the owner, who resets and signs in right after', async () => {
    const addr = email('owner');
    await t.user(slug, addr);
    const attacker = nextIp();
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await login(t, addr, `Wrong-${i}-password!`, attacker)).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(new Set(statuses.slice(10))).toEqual(new Set([429]));
    const owner = nextIp();
    expect((await login(t, addr, STRONG, owner)).status).toBe(200);

    await ownerResetsFrom(addr, owner);
  });

  it('40 wrong passwords from the owner\'s own network: the owner waits at most, and a reset from there clears it at once', async () => {
    const addr = email('nat');
    await t.user(slug, addr);
    const shared = nextIp();
    for (let i = 0; i < 40; i++) await login(t, addr, `Wrong-${i}-password!`, shared);
    expect((await login(t, addr, STRONG, shared)).status).toBe(429);

    await ownerResetsFrom(addr, shared);
  });

  it('40 wrong passwords from 40 IPs: the owner still signs in', async () => {
    const addr = email('spread');
    await t.user(slug, addr);
    for (let i = 0; i < 40; i++) expect((await login(t, addr, `Wrong-${i}-password!`, nextIp('198.18'))).status).toBe(401);
    expect((await login(t, addr, STRONG, nextIp())).status).toBe(200);
  });

  it('a disabled account stays disabled whatever happens to its throttles or links', async () => {
    const addr = email('off');
    const { id } = await t.user(slug, addr);
    const ip = nextIp();
    expect((await forgot(t, addr, ip)).status).toBe(202);
    const token = await mailedResetToken(t, addr);
    for (let i = 0; i < 12; i++) await login(t, addr, `Wrong-${i}-password!`, ip);
    expect((await t.op('PATCH', `/admin/v1/tenants/${slug}/users/${id}`, { disabled: true })).status).toBe(200);
    expect((await send(t, 'POST', '/api/v1/password/reset', { token, password: STRONG2 }, { ip })).status).toBe(410);
    expect((await login(t, addr, STRONG, nextIp())).status).toBe(401);
    expect((await login(t, addr, STRONG2, nextIp())).status).toBe(401);
    const users = await t.op('GET', `/admin/v1/tenants/${slug}/users?q=${encodeURIComponent(addr)}`);
    expect(users.body.users[0].status).toBe('disabled');
  });
});

describe('with the adaptive captcha', () => {
  const t = useTestApp({ env: { RATE_LIMIT_SCALE: '1', TRUSTED_PROXIES: '10.0.0.0/8', CAPTCHA_AFTER: '', CAPTCHA_DIFFICULTY: '2000' } }); // '' = the default thresholds
  let slug: string;
  beforeAll(async () => { ({ slug } = await t.tenant()); });

  it('rotating X-Forwarded-For and addresses from one untrusted peer still crosses the IP captcha threshold', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) {
      const r = await send(t, 'POST', '/api/v1/login', { email: email('stuff'), password: 'Wrong-1-password!' }, { ip: STRANGER, headers: { 'x-forwarded-for': `198.51.100.${i + 1}` } });
      statuses.push(r.status);
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses[20]).toBe(428);
  });

  it('rotating spellings and IPs against one account crosses the account captcha threshold', async () => {
    const local = unique('spell');
    await t.user(slug, `${local}@example.com`);
    const spellings = spellingsOf(local);
    for (let i = 0; i < 10; i++) expect((await login(t, spellings[i % 5]!, `Wrong-${i}-password!`, nextIp('198.18'))).status).toBe(401);
    const asked = await login(t, spellings[2]!, STRONG, nextIp());
    expect(asked.status).toBe(428);
    expect((await login(t, spellings[3]!, STRONG, nextIp(), { captcha: await solveAltcha(asked.body.challenge) })).status).toBe(200);
  });
});
