// Issue 11, item 13: a contact centre's floor reaches Keyturn from one egress address. Per-IP
// budgets must not be what stops it; account- and device-keyed limits and the tenant's trusted
// networks carry the load, while strangers on other addresses still meet the per-IP limits.
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/platform/limit-rules.ts';
import { STRONG, unique, useTestApp, type Res } from '../helpers/app.ts';
import { account } from '../helpers/fixtures.ts';
import { cookiesOf, ORIGIN } from '../helpers/http.ts';

const OFFICE = '198.51.100.10';
const deviceCookie = (res: Res) => cookiesOf(res).find((c) => c.startsWith('keyturn_device='));

// The captcha is asked for by the per-address login counters only (the floor's failures); every
// other threshold is off, as in the rest of the suite.
const captchaOnlyForLoginAddresses = Object.keys(LIMITS)
  .map((name) => (name === 'loginFailuresPerIp' || name === 'loginFailuresPerTrustedNetwork' ? name : `${name}=off`))
  .filter((rule) => rule.includes('=')).join(',');

describe('issue 11 item 13: office NAT', () => {
  // Real budgets; client addresses from X-Forwarded-For (the test listener is the trusted proxy).
  const t = useTestApp({ env: { RATE_LIMIT_SCALE: '1', TRUSTED_PROXIES: '127.0.0.1', CAPTCHA_AFTER: captchaOnlyForLoginAddresses } });
  const from = (ip: string, extra: Record<string, string> = {}) => ({ ...ORIGIN, 'x-forwarded-for': ip, ...extra });

  it('forty agents behind one address open their good links; only proofs that find nothing count', async () => {
    const { slug, email } = await account(t, { prefix: 'agent' });
    const { token } = await t.resetMail(email, slug);
    // It used to say "try again in 4 minutes" after 30 opens from one address.
    for (let i = 0; i < 40; i++) expect((await t.api('POST', '/api/v1/password/reset/inspect', { token }, from(OFFICE))).status).toBe(200);
    // Guessing still meets the budget.
    const guesser = '203.0.113.77';
    for (let i = 0; i < 30; i++) expect((await t.api('POST', '/api/v1/password/reset/inspect', { token: `guess${i}`.padEnd(43, 'x') }, from(guesser))).status).toBe(404);
    const refused = await t.api('POST', '/api/v1/password/reset/inspect', { token }, from(guesser));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('forgot-password from the tenant\'s trusted network is not held to the per-IP budget', async () => {
    const { slug } = await t.tenant();
    const patched = await t.op('PATCH', `/admin/v1/tenants/${slug}`, { trustedNetworks: ['198.51.100.0/24'] });
    expect(patched.status, patched.raw).toBe(200);
    expect(patched.body.trustedNetworks).toEqual(['198.51.100.0/24']);
    // 20 per 10 minutes per address used to stop the floor's 21st request.
    for (let i = 0; i < 40; i++) {
      const res = await t.api('POST', '/api/v1/password/forgot', { email: `${unique('a')}@example.com`, tenant: slug }, from('198.51.100.11'));
      expect(res.status, `request ${i + 1}`).toBe(202);
    }
    // The same from an address that is not the tenant's, or without naming the tenant, still is.
    const outside = async (ip: string, tenant?: string) => {
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) statuses.push((await t.api('POST', '/api/v1/password/forgot', { email: `${unique('b')}@example.com`, ...(tenant ? { tenant } : {}) }, from(ip))).status);
      return statuses;
    };
    expect((await outside('203.0.113.80', slug)).at(-1)).toBe(429);
    expect((await outside('198.51.100.12')).at(-1)).toBe(429);
  });

  it('an agent whose browser signed in before can ask for a reset when the address\'s budget is spent', async () => {
    const { email } = await account(t, { prefix: 'agent' });
    const ip = '192.0.2.60';
    const device = deviceCookie(await t.api('POST', '/api/v1/login', { email, password: STRONG }, from(ip)));
    expect(device).toBeTruthy();
    for (let i = 0; i < 20; i++) await t.api('POST', '/api/v1/password/forgot', { email: `${unique('c')}@example.com` }, from(ip));
    expect((await t.api('POST', '/api/v1/password/forgot', { email }, from(ip))).status).toBe(429);
    expect((await t.api('POST', '/api/v1/password/forgot', { email }, from(ip, { cookie: device! }))).status).toBe(202);
  });

  it('wrong passwords across the floor do not put the whole office behind a captcha', async () => {
    const { slug } = await t.tenant();
    await t.op('PATCH', `/admin/v1/tenants/${slug}`, { trustedNetworks: ['2001:db8:77::/48'] });
    const office = '2001:db8:77::1';
    for (let i = 0; i < 25; i++) {
      const res = await t.api('POST', '/api/v1/login', { email: `${unique('typo')}@example.com`, password: 'wrong', tenant: slug }, from(office));
      expect(res.status, `attempt ${i + 1}`).toBe(401);
    }
    // Elsewhere the same shape of traffic meets the captcha after 20.
    const elsewhere: number[] = [];
    for (let i = 0; i < 22; i++) elsewhere.push((await t.api('POST', '/api/v1/login', { email: `${unique('typo')}@example.com`, password: 'wrong', tenant: slug }, from('203.0.113.90'))).status);
    expect(elsewhere.at(-1)).toBe(428);
  });

  it('trusted networks are checked: no network wider than /16 (IPv4) or /32 (IPv6)', async () => {
    const { slug } = await t.tenant();
    for (const bad of ['0.0.0.0/0', '10.0.0.0/8', '::/0', 'office', '198.51.100.0/33']) {
      const res = await t.op('PATCH', `/admin/v1/tenants/${slug}`, { trustedNetworks: [bad] });
      expect(res.status, bad).toBe(400);
      expect(res.body.field).toBe('trustedNetworks.0');
    }
  });
});
