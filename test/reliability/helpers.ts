// Keyturn as it runs in production, for the reliability suites: real `keyturn serve` processes on a
// fresh PostgreSQL database (migrated by `keyturn migrate`), one Redis, SMTP to a mail catcher in
// the test process, and a TCP proxy in front of PostgreSQL that a test can cut and restore.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { emptyPostgresDatabase, unique } from '../helpers/app.ts';
import { BIN, runKeyturn } from '../helpers/cli.ts';
import { startMailCatcher, type MailCatcher } from '../helpers/mail-catcher.ts';
import { freePort } from '../helpers/ports.ts';

export const PG = process.env.TEST_DATABASE_URL;
export const REDIS = process.env.TEST_REDIS_URL;
export { BIN };
export const SECRET_KEY = 'reliability-secret-'.padEnd(48, 'x');
export const ADMIN_KEY = 'reliability-operator-key-'.padEnd(40, 'k');
export { STRONG, STRONG2 } from '../helpers/app.ts';

/** The suite's name, saying why it is skipped when a service is missing. */
export function suiteName(what: string): string {
  const missing = ['TEST_DATABASE_URL', 'TEST_REDIS_URL'].filter((e) => !process.env[e]);
  return missing.length ? `${what} — SKIPPED: set ${missing.join(' and ')} to run` : what;
}
export const servicesMissing = !PG || !REDIS;
if (servicesMissing) {
  // Said out loud: the default reporter shows a skipped file without its suite names.
  console.warn(`test/reliability SKIPPED: set ${['TEST_DATABASE_URL', 'TEST_REDIS_URL'].filter((e) => !process.env[e]).join(' and ')} to run the production-mode suites`);
}

/** A new, empty database on the test server; `keyturn migrate` makes it current. */
export const freshDatabase = () => emptyPostgresDatabase('rel');

/** Runs a query on a database directly (to look at the outbox from outside). */
export async function query<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows as T[];
  } finally {
    await c.end();
  }
}

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...extra };
}

export function migrate(databaseUrl: string): void {
  const r = runKeyturn(['migrate'], childEnv({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }));
  if (r.code !== 0) throw new Error(`keyturn migrate failed (${r.code}): ${r.err}${r.out}`);
}

export interface Instance {
  name: string;
  process: ChildProcess;
  /** http://127.0.0.1:PORT */
  url: string;
  adminUrl: string;
  /** Every line the process wrote (stdout and stderr). */
  output: string[];
  exited: Promise<number | null>;
  /** JSON call on the public listener. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** Operator API with the key. */
  op(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface InstanceOptions {
  name: string;
  databaseUrl: string;
  smtpUrl: string;
  /** Shared rate-limit namespace of one deployment. */
  prefix: string;
  env?: Record<string, string>;
}

const dirs: string[] = [];
export function cleanupDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, body: parsed as any };
}

/** Starts `keyturn serve` and waits until /healthz answers. */
export async function startInstance(o: InstanceOptions): Promise<Instance> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-rel-'));
  dirs.push(dataDir);
  const env = childEnv({
    DATABASE_URL: o.databaseUrl,
    ...(REDIS ? { REDIS_URL: REDIS } : {}),
    SMTP_URL: o.smtpUrl,
    PORT: String(port), ADMIN_PORT: String(adminPort), DATA_DIR: dataDir,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    SECRET_KEY, ADMIN_API_KEY: ADMIN_KEY,
    RATE_LIMIT_SCALE: '1000', RATE_LIMIT_PREFIX: o.prefix, RATE_LIMITS: 'forgotEmailCooldown=off', CAPTCHA_PROVIDER: 'off',
    OUTBOX_LEASE: '3s', OUTBOX_MAX_BACKOFF: '2s',
    LOG_LEVEL: 'info',
    ...o.env,
  });
  const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.on('data', (c) => {
      const lines = (rest + String(c)).split('\n');
      rest = lines.pop() ?? '';
      output.push(...lines);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${o.name} exited with ${child.exitCode}:\n${output.join('\n')}`);
    try {
      if ((await fetch(`${adminUrl}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${o.name} did not start within 60 s:\n${output.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    name: o.name, process: child, url, adminUrl, output, exited,
    api: (method, path, body, headers) => call(url, method, path, body, headers),
    op: (method, path, body) => call(adminUrl, method, path, body, { authorization: `Bearer ${ADMIN_KEY}` }),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface Deployment {
  db: Awaited<ReturnType<typeof freshDatabase>>;
  mail: MailCatcher;
  /** Starts `keyturn serve` on the deployment's database, catcher and rate-limit namespace. */
  start(name: string, env?: Record<string, string>): Promise<Instance>;
}

/**
 * The hooks of a suite on one deployment: before its tests a migrated database and a mail catcher,
 * then `ready` starts the instances (within the same 120 s); after them every instance is killed,
 * the catcher stopped and the database dropped.
 */
export function deployment(ready: (d: Deployment) => Promise<void>): void {
  let db: Deployment['db'] | undefined;
  let mail: MailCatcher | undefined;
  const instances: Instance[] = [];

  beforeAll(async () => {
    db = await freshDatabase();
    migrate(db.url);
    mail = await startMailCatcher();
    const common = { databaseUrl: db.url, smtpUrl: mail.url, prefix: `kt-rel-${unique()}` };
    await ready({
      db, mail,
      async start(name, env) {
        const instance = await startInstance({ ...common, name, env });
        instances.push(instance);
        return instance;
      },
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop('SIGKILL')));
    await mail?.stop();
    await db?.drop();
    cleanupDirs();
  });
}

/**
 * A TCP proxy a test controls: cut() stops listening and drops every open connection (the
 * database "goes away" for the instance behind it); restore() listens again on the same port.
 */
export async function tcpProxy(target: { host: string; port: number }): Promise<{
  port: number;
  cut(): Promise<void>;
  /** The connections open now stay open and carry nothing either way (half-open, as after a failover); new ones work. */
  freeze(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const frozen = new Set<Socket>();
  const forward = (from: Socket, to: Socket) => from.on('data', (chunk) => { if (!frozen.has(from)) to.write(chunk); });
  const listen = () => new Promise<void>((resolve, reject) => {
    const s = createServer((client) => {
      const upstream = connect(target.port, target.host);
      sockets.add(client).add(upstream);
      const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); frozen.delete(client); frozen.delete(upstream); };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      forward(client, upstream);
      forward(upstream, client);
    });
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => {
      port = (s.address() as { port: number }).port;
      server = s;
      resolve();
    });
  });
  const cut = async () => {
    frozen.clear();
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return { port, cut, freeze: () => { for (const s of sockets) frozen.add(s); }, restore: () => (server ? Promise.resolve() : listen()), close: cut };
}

/** Creates a tenant and users through the operator API; returns their addresses. */
export async function seedUsers(inst: Instance, count: number, prefix = 'u'): Promise<{ slug: string; emails: string[] }> {
  const slug = unique('rel');
  const t = await inst.op('POST', '/admin/v1/tenants', { slug, name: slug.toUpperCase() });
  if (t.status !== 201) throw new Error(`tenant: ${t.status} ${JSON.stringify(t.body)}`);
  const emails = Array.from({ length: count }, (_, i) => `${prefix}${i}-${slug}@example.com`);
  const r = await inst.op('POST', `/admin/v1/tenants/${slug}/users/import`, { users: emails.map((email) => ({ email })) });
  if (r.status !== 200 || r.body.created !== count) throw new Error(`import: ${r.status} ${JSON.stringify(r.body)}`);
  return { slug, emails };
}

export const tokenOf = (text: string) => /reset-password\?token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
