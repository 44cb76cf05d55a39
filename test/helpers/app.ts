// A real Keyturn for tests: PGlite in memory (or a fresh PostgreSQL database), real SMTP to an
// in-process catcher, logs captured so tests can look for leaked secrets.
import { Writable } from 'node:stream';
import { afterAll, beforeAll } from 'vitest';
import { buildApp, type App } from '../../src/app.ts';
import { configFrom } from '../../src/config.ts';
import { ManualClock } from '../../src/platform/clock.ts';
import { LIMITS } from '../../src/platform/limit-rules.ts';
import { openDatabase, type Database } from '../../src/platform/db.ts';
import { cookieHeader, PUBLIC_URL } from './http.ts';
import { startMailCatcher, type CaughtMail, type MailCatcher } from './mail-catcher.ts';

export const STRONG = 'Sunny-Harbor-42!';
export const STRONG2 = 'Quiet-Meadow-77#';

export interface TestApp {
  app: App;
  mail: MailCatcher;
  clock: ManualClock;
  logs: string[];
  /** Runs the background worker until no work is left (resolves requests, sends mail). */
  drain(): Promise<void>;
  /** POST/GET JSON on the public listener. */
  api(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<Res>;
  /** Operator API with the right key. */
  op(method: string, url: string, body?: unknown): Promise<Res>;
  tenant(slug?: string, extra?: Record<string, unknown>): Promise<{ id: string; slug: string }>;
  user(slug: string, email: string, opts?: { password?: string | null; role?: string; name?: string }): Promise<{ id: string; email: string }>;
  login(email: string, password?: string, extra?: Record<string, unknown>): Promise<Session>;
  forgot(email: string, tenant?: string): Promise<Res>;
  /** Asks for a reset and returns the token and code from the email that arrives. */
  resetMail(email: string, tenant?: string): Promise<{ token: string; code: string; mail: CaughtMail }>;
  close(): Promise<void>;
}

export interface Res { status: number; body: any; headers: Record<string, string | string[] | undefined>; raw: string; }
export interface Session { cookie: string; csrf: string; status: number; body: any; }

let counter = 0;
export const unique = (prefix = 't') => `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`;

/** Which databases the store-level suites run on: PGlite always, PostgreSQL when CI provides one. */
export const databaseKinds = (): ('pglite' | 'postgres')[] =>
  process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

/** A fresh database per suite: PGlite in memory, or a new database on the PostgreSQL server. */
export async function freshDatabase(kind: 'pglite' | 'postgres'): Promise<Database & { drop(): Promise<void> }> {
  if (kind === 'pglite') {
    const db = await openDatabase({ url: 'memory://', dataDir: '' });
    await db.migrate();
    return Object.assign(db, { drop: () => db.close() });
  }
  const empty = await emptyPostgresDatabase('t');
  // A loaded CI machine can keep a pooled connection busy for seconds; tests wait rather than 503.
  const db = await openDatabase({ url: empty.url, dataDir: '', connectTimeoutMs: 30_000 });
  await db.migrate();
  return Object.assign(db, {
    async drop() {
      await db.close();
      await empty.drop();
    },
  });
}

/** A new, empty database (keyturn_PREFIX…) on the TEST_DATABASE_URL server (or `base`); drop() removes it. */
export async function emptyPostgresDatabase(prefix: string, base = process.env.TEST_DATABASE_URL!): Promise<{ url: string; drop(): Promise<void> }> {
  const pg = (await import('pg')).default;
  const name = `keyturn_${unique(prefix)}`.toLowerCase();
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface TestAppOptions { env?: Record<string, string>; db?: 'pglite' | 'postgres' }

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const mail = await startMailCatcher();
  const clock = new ManualClock();
  const logs: string[] = [];
  const logStream = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const config = configFrom({
    NODE_ENV: 'test',
    DATABASE_URL: 'memory://',
    SMTP_URL: mail.url,
    PUBLIC_URL,
    LOG_LEVEL: 'info',
    RATE_LIMIT_SCALE: '1000',
    // The adaptive captcha's thresholds and the 60 s email cooldown are off unless a test sets
    // CAPTCHA_AFTER / RATE_LIMITS (test/abuse does): the captcha would answer 428 in the middle of
    // limit tests that run at the real scale, and the cooldown (60 ms at this scale) would merge
    // back-to-back reset emails on a fast machine.
    CAPTCHA_AFTER: Object.keys(LIMITS).map((name) => `${name}=off`).join(','),
    RATE_LIMITS: 'forgotEmailCooldown=off',
    ...opts.env,
  });
  const database = await freshDatabase(opts.db ?? 'pglite');
  const app = await buildApp(config, { database, clock, logStream, startWorker: false });
  const origin = new URL(config.publicUrl).origin;

  const request = async (target: 'public' | 'admin', method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> => {
    const server = target === 'public' ? app.publicApp : app.adminApp;
    return resOf(await server.inject({
      method: method as 'GET',
      url,
      headers: { ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    }));
  };

  const t: TestApp = {
    app, mail, clock, logs,
    drain: () => app.ctx.worker.drain(),
    api: (method, url, body, headers) => request('public', method, url, body, headers),
    op: (method, url, body) => request('admin', method, url, body, { authorization: `Bearer ${app.adminApiKey}` }),
    async tenant(slug = unique('acme'), extra = {}) {
      const res = await t.op('POST', '/admin/v1/tenants', { slug, name: slug.toUpperCase(), ...extra });
      if (res.status !== 201) throw new Error(`tenant create: ${res.status} ${res.raw}`);
      return res.body;
    },
    async user(slug, email, o = {}) {
      const body: Record<string, unknown> = { email, role: o.role ?? 'member', name: o.name ?? '' };
      if (o.password !== null) body.password = o.password ?? STRONG;
      const res = await t.op('POST', `/admin/v1/tenants/${slug}/users`, body);
      if (res.status !== 201) throw new Error(`user create: ${res.status} ${res.raw}`);
      return res.body;
    },
    async login(email, password = STRONG, extra = {}) {
      const res = await t.api('POST', '/api/v1/login', { email, password, ...extra });
      const cookie = cookieHeader(res);
      let csrf = '';
      if (cookie) csrf = (await t.api('GET', '/api/v1/csrf', undefined, { cookie })).body.csrfToken;
      return { cookie, csrf, status: res.status, body: res.body };
    },
    forgot: (email, tenant) => t.api('POST', '/api/v1/password/forgot', tenant ? { email, tenant } : { email }, { origin }),
    async resetMail(email, tenant) {
      const before = mail.messages.length;
      const res = await t.forgot(email, tenant);
      if (res.status !== 202) throw new Error(`forgot: ${res.status} ${res.raw}`);
      await t.drain();
      // This address's mail only: another test's email may still be on its way to the catcher.
      const to = email.trim().toLowerCase();
      const m = await mail.waitFor((x) => mail.messages.indexOf(x) >= before && x.subject === 'Reset your password' && x.to.includes(to));
      return { ...extractReset(m), mail: m };
    },
    async close() {
      await app.close();
      await database.drop();
      await mail.stop();
    },
  };
  return t;
}

/** What inject() answers, as a Res: the body parsed when it is JSON, as text otherwise. */
export function resOf(res: { statusCode: number; body: string; headers: object }): Res {
  let parsed: unknown = null;
  try { parsed = res.body ? JSON.parse(res.body) : null; } catch { parsed = res.body; }
  return { status: res.statusCode, body: parsed, headers: res.headers as Res['headers'], raw: res.body };
}

/**
 * The app of a test file or describe block: started before its tests, closed after them.
 * `const t = useTestApp({ env: { … } });` at the top, then `t.api(…)` in the tests and hooks.
 */
export function useTestApp(opts: TestAppOptions = {}): TestApp {
  return useStarted('useTestApp()', () => startTestApp(opts), (t) => t.close());
}

/** An app of its own for one test: started, handed to `run`, closed however `run` ends. */
export async function withTestApp<T>(opts: TestAppOptions, run: (t: TestApp) => Promise<T>): Promise<T> {
  const t = await startTestApp(opts);
  try {
    return await run(t);
  } finally {
    await t.close();
  }
}

/**
 * Something a describe block (or file) starts before its tests and stops after them, used as
 * itself in the tests: the object returned stands for it once it is started.
 */
export function useStarted<T extends object>(what: string, start: () => Promise<T>, stop: (value: T) => Promise<void>): T {
  let value: T | undefined;
  beforeAll(async () => { value = await start(); });
  afterAll(async () => { if (value) await stop(value); });
  return late(() => value, what);
}

/** Stands for the value `get` returns once there is one (set in a hook); throws if used before. */
export function late<T extends object>(get: () => T | undefined, what: string): T {
  const current = (): T => {
    const value = get();
    if (value === undefined) throw new Error(`${what} is not started yet: use it inside a test or a hook`);
    return value;
  };
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(current(), key),
    set: (_, key, v) => Reflect.set(current(), key, v),
    has: (_, key) => Reflect.has(current(), key),
  });
}

export function extractReset(m: CaughtMail): { token: string; code: string } {
  const token = /reset-password\?token=([A-Za-z0-9_-]+)/.exec(m.text)?.[1];
  const code = /\b([A-Z2-9]{4}-[A-Z2-9]{4})\b/.exec(m.text)?.[1];
  if (!token || !code) throw new Error(`no token/code in mail: ${m.text}`);
  return { token, code };
}
