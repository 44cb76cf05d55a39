// Issue 13: `keyturn user mfa-reset <tenant> <email> --reason …` on an embedded data directory, as
// an operator runs it: the user's factors go, the audit keeps the reason, the owner's notice is queued.
import { Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.ts';
import { configFrom } from '../../src/config.ts';
import { resOf, STRONG } from '../helpers/app.ts';
import { runKeyturn, useTempDirs } from '../helpers/cli.ts';
import { PUBLIC_URL } from '../helpers/http.ts';

const dataDir = useTempDirs('keyturn-mfa-cli-');
const EMAIL = 'ann@example.com';

const cli = (args: string[], dir: string) =>
  runKeyturn(args, { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', LOG_LEVEL: 'warn', DATA_DIR: dir, PUBLIC_URL });

/** The embedded app of `dir` in this process for the length of `work` (the CLI cannot open it meanwhile). */
async function inProcess<T>(dir: string, work: (app: App, call: (method: string, url: string, body?: unknown, headers?: Record<string, string>) => Promise<ReturnType<typeof resOf>>) => Promise<T>): Promise<T> {
  const app = await buildApp(configFrom({ NODE_ENV: 'test', DATA_DIR: dir, PUBLIC_URL, LOG_LEVEL: 'warn' }), { startWorker: false });
  try {
    return await work(app, async (method, url, body, headers = {}) => resOf(await app.publicApp.inject({
      method: method as 'POST', url, headers: { 'content-type': 'application/json', origin: PUBLIC_URL, ...headers }, ...(body ? { payload: JSON.stringify(body) } : {}),
    })));
  } finally {
    await app.close();
  }
}

describe('keyturn user mfa-reset', () => {
  it('removes the user\'s factors with the reason in the audit log, and refuses to run without a reason', async () => {
    const dir = dataDir();
    // Ann, of tenant acme, adds an authenticator app (bearer session: no CSRF needed).
    await inProcess(dir, async (app, call) => {
      const op = (url: string, body: unknown) => app.adminApp.inject({ method: 'POST', url, payload: body as object, headers: { authorization: `Bearer ${app.adminApiKey}` } });
      expect((await op('/admin/v1/tenants', { slug: 'acme', name: 'ACME' })).statusCode).toBe(201);
      expect((await op('/admin/v1/tenants/acme/users', { email: EMAIL, password: STRONG })).statusCode).toBe(201);
      const token = (await call('POST', '/api/v1/login', { email: EMAIL, password: STRONG, tokenType: 'bearer' })).body.token;
      const auth = { authorization: `Bearer ${token}` };
      const started = await call('POST', '/api/v1/mfa/totp', { currentPassword: STRONG }, auth);
      const code = new TOTP({ secret: Secret.fromBase32(started.body.secret) }).generate();
      expect((await call('POST', `/api/v1/mfa/totp/${started.body.id}/verify`, { code }, auth)).status).toBe(200);
      expect((await call('POST', '/api/v1/login', { email: EMAIL, password: STRONG })).body.error).toBe('mfa_required');
    });

    const noReason = cli(['user', 'mfa-reset', 'acme', EMAIL], dir);
    expect(noReason.code).toBe(2);
    expect(noReason.err).toContain('--reason');

    const done = cli(['user', 'mfa-reset', 'acme', EMAIL, '--reason', 'Lost phone, called the help desk', '--json'], dir);
    expect(done.code, done.err).toBe(0);
    expect(JSON.parse(done.out)).toEqual({ removed: 1 });

    await inProcess(dir, async (app, call) => {
      expect((await call('POST', '/api/v1/login', { email: EMAIL, password: STRONG, tokenType: 'bearer' })).status).toBe(200);
      const op = async (url: string) => resOf(await app.adminApp.inject({ method: 'GET', url, headers: { authorization: `Bearer ${app.adminApiKey}` } })).body;
      const [event] = (await op('/admin/v1/audit?tenant=acme&type=mfa_reset')).events;
      expect(event).toMatchObject({ actor: { type: 'operator' }, data: { reason: 'Lost phone, called the help desk', factorsRemoved: 1 } });
      const deliveries = (await op('/admin/v1/deliveries?tenant=acme')).deliveries as { kind: string; to: string }[];
      expect(deliveries.filter((d) => d.kind === 'mfa_reset')).toEqual([expect.objectContaining({ to: EMAIL })]);
    });
  }, 240_000);
});
