// Issue 11, items 1 and 2: a server in production never falls back to laptop conveniences.
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { ConfigError, configFrom } from '../../src/config.ts';
import { DevMailbox } from '../../src/platform/mail/dev-mailbox.ts';
import { freshDatabase } from '../helpers/app.ts';
import { runKeyturn, useTempDirs } from '../helpers/cli.ts';

const dataDir = useTempDirs('keyturn-prod-');

const SECRET_KEY = 'a-production-secret-of-enough-length-000';
const ADMIN_API_KEY = 'a-production-operator-key-0000';
// Never reached: the refusal comes before any connection is opened.
const PG_SERVER = 'postgres://keyturn@127.0.0.1:1/keyturn';

const keyturn = (args: string[], env: Record<string, string>) =>
  runKeyturn(args, { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', DATA_DIR: dataDir(), ...env });

async function refusal(env: Record<string, string>): Promise<string> {
  try {
    const app = await buildApp(configFrom({ NODE_ENV: 'production', LOG_LEVEL: 'silent', ...env }));
    await app.close();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('started');
}

describe('issue 11 item 1: no dev mailbox in production', () => {
  // Attack: an operator deploys with NODE_ENV=production and forgets SMTP_URL. Keyturn used to start
  // with "mail: dev mailbox" and serve /dev/mailbox on the public port: anyone could ask for a reset
  // of any address and read the live link and code there.
  it('serve refuses to start without SMTP_URL, with one line naming it', () => {
    const r = keyturn(['serve'], { NODE_ENV: 'production', DATABASE_URL: PG_SERVER, SECRET_KEY, ADMIN_API_KEY, PORT: '0', ADMIN_PORT: '0' });
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^Invalid configuration: SMTP_URL /);
    expect(r.out).not.toContain('Keyturn is running');
  }, 60_000);

  it('the embedded database in production needs SMTP_URL too', async () => {
    expect(await refusal({ DATABASE_URL: 'memory://' })).toMatch(/SMTP_URL/);
  });

  it('the mailbox command does not exist in production', () => {
    const r = keyturn(['mailbox'], { NODE_ENV: 'production', SMTP_URL: 'smtp://127.0.0.1:1', DATABASE_URL: 'memory://' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no dev mailbox in production/);
  }, 60_000);

  it('no /dev/mailbox page in production, even when handed a dev mailbox', async () => {
    const database = await freshDatabase('pglite');
    const app = await buildApp(configFrom({ NODE_ENV: 'production', DATABASE_URL: 'memory://', SMTP_URL: 'smtp://127.0.0.1:1', LOG_LEVEL: 'silent' }), {
      database, transport: new DevMailbox(), startWorker: false,
    });
    try {
      expect((await app.publicApp.inject({ url: '/dev/mailbox' })).statusCode).toBe(404);
    } finally {
      await app.close();
      await database.drop();
    }
  });
});

describe('issue 11 item 2: no made-up secrets per instance', () => {
  // Attack (availability): two instances behind a load balancer on one PostgreSQL, each with a
  // secret it generated itself. A session made on one is refused on the other: random sign-outs,
  // and reset links hashed under one secret are "invalid" on the other.
  it.each(['SECRET_KEY', 'ADMIN_API_KEY'])('on a PostgreSQL server, production refuses to start without %s', async (key) => {
    const env: Record<string, string> = { DATABASE_URL: PG_SERVER, SMTP_URL: 'smtp://127.0.0.1:1', SECRET_KEY, ADMIN_API_KEY };
    delete env[key];
    const message = await refusal(env);
    expect(message).toMatch(new RegExp(`^Invalid configuration: ${key} `));
    expect(message.split('\n')).toHaveLength(1);
  });

  it('serve names the missing key in one line', () => {
    const r = keyturn(['serve'], { NODE_ENV: 'production', DATABASE_URL: PG_SERVER, SMTP_URL: 'smtp://127.0.0.1:1', ADMIN_API_KEY });
    expect(r.code).toBe(1);
    expect(r.err.trim()).toMatch(/^Invalid configuration: SECRET_KEY [^\n]*$/);
  }, 60_000);

  it('outside production the same settings still start (generated secrets are a laptop convenience)', async () => {
    const database = await freshDatabase('pglite');
    const app = await buildApp(configFrom({ NODE_ENV: 'development', DATABASE_URL: 'memory://', LOG_LEVEL: 'silent' }), { database, startWorker: false });
    try {
      expect(app.ctx.transport.kind).toBe('dev-mailbox');
    } finally {
      await app.close();
      await database.drop();
    }
  });
});
