// Two instances behind one load balancer, on one PostgreSQL database (and one Redis): the limits
// are shared, and a session ended on one instance is refused by the other on the next request.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.ts';
import { configFrom } from '../../src/config.ts';
import { freshDatabase, resOf, STRONG, STRONG2, unique, useStarted } from '../helpers/app.ts';
import { PUBLIC_URL } from '../helpers/http.ts';
import { startMailCatcher, type MailCatcher } from '../helpers/mail-catcher.ts';
import { dropRedisKeys, email, expectRateLimited, forgot, login, nextIp, PG, REDIS, send, skipNote } from './helpers.ts';

interface Pair { a: App; b: App; mail: MailCatcher; close(): Promise<void>; }

async function twoInstances(withRedis: boolean): Promise<Pair> {
  const database = await freshDatabase('postgres');
  const mail = await startMailCatcher();
  const prefix = `kt-test-${unique()}`;
  const config = configFrom({
    NODE_ENV: 'test', DATABASE_URL: 'memory://', SMTP_URL: mail.url, PUBLIC_URL, LOG_LEVEL: 'silent',
    RATE_LIMIT_SCALE: '1', CAPTCHA_PROVIDER: 'off', RATE_LIMIT_PREFIX: prefix,
    // One deployment: the same secret and operator key on every instance.
    SECRET_KEY: 's'.repeat(48), ADMIN_API_KEY: 'a'.repeat(32),
    ...(withRedis ? { REDIS_URL: REDIS! } : {}),
  });
  const quiet = new Writable({ write(_c, _e, cb) { cb(); } });
  const a = await buildApp(config, { database, startWorker: false, logStream: quiet });
  const b = await buildApp(config, { database, startWorker: false, logStream: quiet });
  return {
    a, b, mail,
    async close() {
      await a.close();
      await b.close();
      await database.drop();
      await mail.stop();
      await dropRedisKeys(prefix);
    },
  };
}

const op = async (app: App, method: string, url: string, body?: unknown) => resOf(await app.adminApp.inject({
  method: method as 'POST', url, headers: { authorization: `Bearer ${app.adminApiKey}`, 'content-type': 'application/json' },
  ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
}));

function twoInstanceSuite(withRedis: boolean) {
  const p = useStarted('twoInstances()', () => twoInstances(withRedis), (pair) => pair.close());

  it(`limits are shared (${withRedis ? 'Redis' : 'PostgreSQL'} store)`, async () => {
    expect(p.a.ctx.limits.store).toBe(withRedis ? 'redis' : 'postgres');
    const ip = nextIp();
    for (let i = 0; i < 20; i++) expect((await forgot(i % 2 ? p.a : p.b, email('two'), ip)).status).toBe(202);
    expectRateLimited(await forgot(p.a, email('two'), ip), 600);
    expectRateLimited(await forgot(p.b, email('two'), ip), 600);

    const slug = unique('two');
    expect((await op(p.a, 'POST', '/admin/v1/tenants', { slug, name: 'Two' })).status).toBe(201);
    const addr = email('two');
    expect((await op(p.b, 'POST', `/admin/v1/tenants/${slug}/users`, { email: addr, password: STRONG })).status).toBe(201);
    const attacker = nextIp();
    for (let i = 0; i < 10; i++) expect((await login(i % 2 ? p.a : p.b, addr, `Wrong-${i}-password!`, attacker)).status).toBe(401);
    expectRateLimited(await login(p.a, addr, STRONG, attacker), 1);
    expectRateLimited(await login(p.b, addr, STRONG, attacker), 1);
  });

  it('a session revoked on one instance is refused on the other at once', async () => {
    const slug = unique('rev');
    await op(p.a, 'POST', '/admin/v1/tenants', { slug, name: 'Rev' });
    const addr = email('rev');
    const { body: user } = await op(p.a, 'POST', `/admin/v1/tenants/${slug}/users`, { email: addr, password: STRONG });
    const bearer = async (app: App) => (await login(app, addr, STRONG, nextIp(), { tokenType: 'bearer' })).body.token as string;
    const who = (app: App, token: string) => send(app, 'GET', '/api/v1/session', undefined, { headers: { authorization: `Bearer ${token}` } });

    // Sign-out on B ends the session A handed out.
    const s1 = await bearer(p.a);
    expect((await who(p.b, s1)).status).toBe(200);
    expect((await send(p.b, 'POST', '/api/v1/logout', undefined, { headers: { authorization: `Bearer ${s1}` } })).status).toBe(204);
    expect((await who(p.a, s1)).status).toBe(401);

    // Disabling on B ends every session at once on A.
    const s2 = await bearer(p.a);
    expect((await op(p.b, 'PATCH', `/admin/v1/tenants/${slug}/users/${user.id}`, { disabled: true })).status).toBe(200);
    expect((await who(p.a, s2)).status).toBe(401);
    await op(p.b, 'PATCH', `/admin/v1/tenants/${slug}/users/${user.id}`, { disabled: false });

    // A reset completed on B signs out what A issued, and clears the throttles A counted.
    const s3 = await bearer(p.a);
    const ip = nextIp();
    for (let i = 0; i < 10; i++) await login(p.a, addr, `Wrong-${i}-password!`, ip);
    expect((await forgot(p.a, addr, ip)).status).toBe(202);
    await p.a.ctx.worker.drain();
    const m = await p.mail.waitFor((x) => x.to.includes(addr) && x.subject === 'Reset your password');
    const token = /reset-password\?token=([A-Za-z0-9_-]+)/.exec(m.text)![1]!;
    expect((await send(p.b, 'POST', '/api/v1/password/reset', { token, password: STRONG2 }, { ip })).status).toBe(200);
    expect((await who(p.a, s3)).status).toBe(401);
    expect((await login(p.a, addr, STRONG2, ip)).status).toBe(200);
  });
}

describe.skipIf(!PG)(skipNote('two instances on one PostgreSQL', 'TEST_DATABASE_URL'), () => twoInstanceSuite(false));
describe.skipIf(!PG || !REDIS)(skipNote('two instances on one PostgreSQL and one Redis', 'TEST_DATABASE_URL', 'TEST_REDIS_URL'), () => twoInstanceSuite(true));
