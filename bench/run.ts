// `npm run bench`: Keyturn against its ceilings, side by side in one run; never a test. The load
// always comes from a separate process (bench/load.ts: autocannon, or an interleaved timing loop).
//
// Single-instance scenarios run Keyturn in this process with production argon2 parameters, so the
// bench can pre-issue reset tokens through the flow functions. The scaling and memory scenarios
// run real `keyturn serve` processes (one PostgreSQL, one Redis), as production does.
//
// Database: PostgreSQL when BENCH_DATABASE_URL (or TEST_DATABASE_URL) is set — fresh databases are
// made and dropped — otherwise embedded PGlite in memory (then the multi-process scenarios are
// skipped: an embedded database belongs to one process). Redis: BENCH_REDIS_URL / TEST_REDIS_URL.
// BENCH_SECONDS (5) per scenario; BENCH_TIMING_RUNS (5) runs of the forgot timing comparison;
// BENCH_RESETS (400) reset tokens; BENCH_ROUNDS (3) alternations of each scenario with its ceiling;
// BENCH_WRITE=0 leaves bench/RESULTS.md alone; BENCH_ONLY=single|multi runs one half (the
// PostgreSQL-only against Redis comparison belongs to multi), BENCH_ONLY=stores that comparison alone,
// BENCH_ONLY=oidc the OpenID Provider's scenarios alone (bench/oidc.ts);
// BENCH_ONLY=webhooks the webhook scenarios alone (bench/webhooks.ts);
// BENCH_ONLY=floor the administration-at-scale scenarios alone (bench/admin-list.ts: 100,000 users);
// SESSION_CACHE_SIZE is passed to the `keyturn serve` processes; BENCH_STORE_WINDOWS=real runs the
// store comparison with the real limit windows (budgets raised out of the way) instead of RATE_LIMIT_SCALE;
// BENCH_CLIENTS (1000) client addresses behind the trusted proxy.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { hash } from '@node-rs/argon2';
import { sql } from 'drizzle-orm';
import Fastify from 'fastify';
import { buildApp } from '../src/app.ts';
import { configFrom } from '../src/config.ts';
import { adminReset } from '../src/features/admin/admin-reset.ts';
import { tenantBySlug } from '../src/features/tenants/store.ts';
import { randomCode, randomToken, Secrets } from '../src/platform/crypto.ts';
import { openDatabase, rowsOf, type Database } from '../src/platform/db.ts';
import { LIMITS, type LimitName } from '../src/platform/limit-rules.ts';
import { emptyPostgresDatabase } from '../test/helpers/app.ts';
import { freePort } from '../test/helpers/ports.ts';
import { mfaRow, mfaSignIn } from './mfa.ts';
import { oidcRows } from './oidc.ts';
import { webhookFigures, webhookRows } from './webhooks.ts';
import { floorFigures, floorRows } from './admin-list.ts';
import { startSmtpSink } from './smtp-sink.ts';


const SMTP_URL = await startSmtpSink();
const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'keyturn.js');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const TIMING_RUNS = Number(process.env.BENCH_TIMING_RUNS ?? 5);
const RESETS = Number(process.env.BENCH_RESETS ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PASSWORD = 'Sunny-Harbor-42!';
const NEW_PASSWORD = 'Quiet-Meadow-77#';
const SECRET_KEY = 'bench-secret-'.padEnd(48, 'b');
const ADMIN_KEY = 'bench-operator-key-'.padEnd(40, 'k');
const PG_BASE = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const REDIS = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL;
const CORES = availableParallelism();
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const ONLY = process.env.BENCH_ONLY; // 'single' | 'multi': one half of the bench; 'stores': the limit stores side by side

interface Load { rps: number; total: number; p50: number; p99: number; errors: number; non2xx: number; perTarget: number[]; }
interface Target { url: string; method?: string; headers?: Record<string, string>; body?: string; bodies?: string[]; authorizations?: string[]; clients?: number; }

/** Runs bench/load.ts in its own process with one job. */
async function load<T>(job: Record<string, unknown>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-bench-'));
  try {
    const file = join(dir, 'job.json');
    writeFileSync(file, JSON.stringify(job));
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'load.ts'), file], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cannon = (targets: Target[], opts: { connections?: number; amount?: number } = {}) =>
  load<Load>({ kind: 'cannon', targets, connections: opts.connections ?? 16, seconds: SECONDS, amount: opts.amount });

async function hashBound(): Promise<number> {
  // All cores busy: as many hashes in flight as the thread pool has threads.
  const params = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
  const parallel = Math.max(CORES, 4);
  const end = Date.now() + SECONDS * 1000;
  let count = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (Date.now() < end) { await hash(PASSWORD, params); count++; }
  }));
  return count / SECONDS;
}

const freshDatabase = (tag: string) => emptyPostgresDatabase(`bench_${tag}`, PG_BASE);

async function database(): Promise<{ db: Database; label: string; drop(): Promise<void> }> {
  if (!PG_BASE) {
    const db = await openDatabase({ url: 'memory://', dataDir: '' });
    await db.migrate();
    return { db, label: 'PGlite (embedded, in memory)', drop: () => db.close() };
  }
  const fresh = await freshDatabase('main');
  const db = await openDatabase({ url: fresh.url, dataDir: '', poolSize: 20 });
  await db.migrate();
  return { db, label: 'PostgreSQL server', async drop() { await db.close(); await fresh.drop(); } };
}

const json = { 'content-type': 'application/json' };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)} %`;
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

interface Row { scenario: string; measured: string; ceiling: string; ratio: string; target: string; }
const rows: Row[] = [];
const notes: string[] = [];
const row = (r: Row) => { rows.push(r); console.log(`${r.scenario.padEnd(40)} ${r.measured.padEnd(34)} ${r.ratio.padStart(8)} of ${r.ceiling}`); };

// ── one instance, in this process ─────────────────────────────────────────────────────────────

async function singleInstance(label: string, db: Database) {
  const config = configFrom({
    NODE_ENV: 'production', SMTP_URL, DATABASE_URL: 'memory://', LOG_LEVEL: 'silent', RATE_LIMIT_SCALE: '1000000',
    PUBLIC_URL: 'http://127.0.0.1:3900', SECRET_KEY, ADMIN_API_KEY: ADMIN_KEY, RATE_LIMIT_PREFIX: `kt-bench-${Date.now()}`,
    ...(REDIS && PG_BASE ? { REDIS_URL: REDIS } : {}),
  });
  const app = await buildApp(config, { database: db });
  await app.publicApp.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.publicApp.server.address() as { port: number }).port}`;
  const hello = Fastify({ logger: false });
  hello.get('/hello', async () => ({ hello: 'world' }));
  await hello.listen({ port: 0, host: '127.0.0.1' });
  const helloUrl = `http://127.0.0.1:${(hello.server.address() as { port: number }).port}/hello`;

  const op = async (method: string, url: string, body?: unknown) => {
    const res = await app.adminApp.inject({ method: method as 'POST', url, headers: { authorization: `Bearer ${app.adminApiKey}` }, ...(body ? { payload: body as object } : {}) });
    if (res.statusCode >= 400) throw new Error(`${url}: ${res.body}`);
    return res.json();
  };
  await op('POST', '/admin/v1/tenants', { slug: 'bench', name: 'Bench' });
  await op('POST', '/admin/v1/tenants/bench/users', { email: 'known@example.com', password: PASSWORD });
  const login = await app.publicApp.inject({ method: 'POST', url: '/api/v1/login', payload: { email: 'known@example.com', password: PASSWORD, tokenType: 'bearer' } });
  const token = login.json().token as string;
  const cookieLogin = await app.publicApp.inject({ method: 'POST', url: '/api/v1/login', payload: { email: 'known@example.com', password: PASSWORD } });
  const cookie = String(cookieLogin.headers['set-cookie']).split(';')[0]!;

  console.log(`Keyturn benchmark — ${label}, ${CORES} cores, ${SECONDS} s per scenario, load from a separate process\n`);
  // Each scenario alternates with its ceiling (ceiling, scenario, ceiling, scenario …) and the
  // ratio is taken between the medians: the machine's load from elsewhere changes minute by
  // minute, so a ceiling measured once at the start would decide every ratio by itself.
  const helloRuns: number[] = [];
  const boundRuns: number[] = [];
  const helloWorld = async () => { const r = (await cannon([{ url: helloUrl }])).rps; helloRuns.push(r); return r; };
  const hashes = async () => { const r = await hashBound(); boundRuns.push(r); return r; };
  const vs = async (name: string, ceilingName: string, ceilingFn: () => Promise<number>, target: string, ...targets: Target[]) => {
    const [ceilingRps, run] = await paired(ceilingFn, () => cannon(targets), () => app.ctx.worker.drain());
    row({ scenario: name, measured: `${fmt(run.rps)} req/s, p99 ${run.p99} ms`, ceiling: `${ceilingName} (${fmt(ceilingRps)}/s)`, ratio: pct(run.rps, ceilingRps), target });
    return run;
  };
  await vs('GET /api/v1/session (cookie)', 'hello-world', helloWorld, '≥ 40 %', { url: `${base}/api/v1/session`, headers: { cookie } });
  await vs('GET /api/v1/session (bearer)', 'hello-world', helloWorld, '≥ 40 %', { url: `${base}/api/v1/session`, headers: { authorization: `Bearer ${token}` } });
  await vs('POST /api/v1/login', 'hash bound', hashes, '≥ 90 %', { url: `${base}/api/v1/login`, method: 'POST', headers: json, body: JSON.stringify({ email: 'known@example.com', password: PASSWORD }) });
  // Forgot: 1,000 existing addresses in turn against 1,000 unknown ones (one address asked thousands
  // of times is what the per-account limit forbids, and would pile up superseded tokens on it).
  await op('POST', '/admin/v1/tenants/bench/users/import', { users: Array.from({ length: 1000 }, (_, i) => ({ email: `f${i}@example.com` })) });
  const knownBodies = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ email: `f${i}@example.com` }));
  const unknownBodies = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ email: `nobody${i}@example.com` }));
  const forgotUrl = `${base}/api/v1/password/forgot`;
  await app.ctx.worker.drain();
  await vs('POST forgot (known email)', 'hello-world', helloWorld, '≥ 25 %, p99 < 20 ms', { url: forgotUrl, method: 'POST', headers: json, bodies: knownBodies });
  await app.ctx.worker.drain(); // the next scenario starts without the mail this one queued
  await vs('POST forgot (unknown email)', 'hello-world', helloWorld, '≥ 25 %, p99 < 20 ms', { url: forgotUrl, method: 'POST', headers: json, bodies: unknownBodies });
  const spreadOf = (xs: number[]) => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
  rows.unshift(
    { scenario: 'hello-world Fastify (ceiling)', measured: `median ${fmt(median(helloRuns))} req/s (runs ${spreadOf(helloRuns)})`, ceiling: '', ratio: '100 %', target: '' },
    { scenario: 'argon2id hashes, production cost (hash bound)', measured: `median ${fmt(median(boundRuns))} /s (runs ${spreadOf(boundRuns)})`, ceiling: '', ratio: '100 %', target: '' },
  );

  // Forgot timing: known and unknown interleaved on the same connections, several runs.
  await app.ctx.worker.drain();
  const deltas: number[] = [];
  for (let run = 0; run < TIMING_RUNS; run++) {
    const r = await load<{ medianA: number; medianB: number; bad: number }>({
      kind: 'pairs', url: `${base}/api/v1/password/forgot`, rounds: 600, connections: 4,
      bodies: [knownBodies, unknownBodies],
    });
    if (r.bad) notes.push(`forgot timing run ${run + 1}: ${r.bad} answers were not 202`);
    deltas.push(r.medianA - r.medianB);
    await app.ctx.worker.drain();
  }
  const spread = `${deltas.map((d) => d.toFixed(3)).join(', ')} ms`;
  const dMedian = median(deltas);
  row({
    scenario: 'forgot median, known − unknown', measured: `${dMedian.toFixed(3)} ms (runs: ${spread})`,
    ceiling: '0.3 ms', ratio: pct(Math.abs(dMedian), 0.3), target: 'within ±0.3 ms (≤ 100 %)',
  });

  // Reset: one pre-issued token per request (single use), production hashing.
  const tenant = (await tenantBySlug(db.db, 'bench'))!;
  const count = RESETS + 64; // a few spare: the last requests of a run may already be in flight
  await op('POST', '/admin/v1/tenants/bench/users/import', { users: Array.from({ length: count }, (_, i) => ({ email: `r${i}@example.com` })) });
  const ids = rowsOf<{ id: string }>(await db.db.execute(sql`select id from users where email like 'r%@example.com' order by email`));
  const bodies: string[] = [];
  for (const { id } of ids) {
    const issued = await adminReset(app.ctx, tenant, id, { delivery: 'link' }, { type: 'operator', id: 'bench' });
    bodies.push(JSON.stringify({ token: new URL(issued.url!).searchParams.get('token'), password: NEW_PASSWORD }));
  }
  const boundBefore = await hashBound();
  const reset = await cannon([{ url: `${base}/api/v1/password/reset`, method: 'POST', headers: json, bodies }], { amount: RESETS });
  const resetHashBound = (boundBefore + (await hashBound())) / 2; // single-use tokens: one run, the bound around it
  if (reset.non2xx) notes.push(`reset: ${reset.non2xx} answers were not 200`);
  // A reset also rates the new password (zxcvbn, on the main thread): its ceiling is the hash and
  // the estimate together, sharing the cores.
  const estimate = await app.ctx.strength();
  for (let i = 0; i < 20; i++) estimate(NEW_PASSWORD, ['r1@example.com']);
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) estimate(NEW_PASSWORD, [`r${i}@example.com`]);
  const estimateMs = (performance.now() - t0) / 100;
  const resetBound = 1 / (1 / resetHashBound + estimateMs / 1000 / CORES);
  row({ scenario: 'zxcvbn strength estimate', measured: `${estimateMs.toFixed(1)} ms per check (main thread)`, ceiling: '', ratio: '', target: '' });
  row({ scenario: 'POST /api/v1/password/reset (token)', measured: `${fmt(reset.rps)} req/s, p99 ${reset.p99} ms`, ceiling: `hash + estimate bound (${fmt(resetBound)}/s)`, ratio: pct(reset.rps, resetBound), target: '≥ 70 %' });
  row({ scenario: '… the same against the hash bound alone', measured: '', ceiling: `hash bound (${fmt(resetHashBound)}/s)`, ratio: pct(reset.rps, resetHashBound), target: '' });

  await hello.close();
  await app.close();
}

// ── a floor of 100,000 people, in a database of its own ───────────────────────────────────────

async function floor() {
  const fresh = PG_BASE ? await freshDatabase('floor') : undefined;
  const db = await openDatabase({ url: fresh?.url ?? 'memory://', dataDir: '', ...(fresh ? { poolSize: 20 } : {}) });
  try {
    await db.migrate();
    const label = fresh ? 'PostgreSQL server' : 'PGlite (embedded, in memory)';
    const f = await floorFigures({ db, label, smtpUrl: SMTP_URL, redisUrl: REDIS && PG_BASE ? REDIS : undefined, log: (l) => console.log(`floor: ${l}`) });
    floorRows(f).forEach(row);
  } finally {
    await db.close();
    await fresh?.drop();
  }
}

// ── several processes: one PostgreSQL, one Redis ──────────────────────────────────────────────

interface Child { process: ChildProcess; url: string; adminUrl: string; rssMb(): number; stop(): Promise<void>; }

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function waitFor(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`process exited: ${output()}`);
    try { if ((await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok) return; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`no answer from ${url}: ${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function startKeyturn(databaseUrl: string, dataDir: string, opts: { redis?: boolean; env?: Record<string, string> } = {}): Promise<Child> {
  const redis = opts.redis ?? Boolean(REDIS);
  const [port, adminPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [BIN, 'serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', SMTP_URL, LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl, ...(redis && REDIS ? { REDIS_URL: REDIS } : {}), DATABASE_POOL_SIZE: '20',
      ...(process.env.SESSION_CACHE_SIZE ? { SESSION_CACHE_SIZE: process.env.SESSION_CACHE_SIZE } : {}),
      PORT: String(port), ADMIN_PORT: String(adminPort), DATA_DIR: dataDir, PUBLIC_URL: `http://127.0.0.1:${port}`,
      SECRET_KEY, ADMIN_API_KEY: ADMIN_KEY, RATE_LIMIT_SCALE: '1000000', RATE_LIMIT_PREFIX: `kt-bench-${Date.now()}`,
      ...opts.env,
    },
  });
  let out = '';
  child.stdout!.on('data', (c) => { out = (out + String(c)).slice(-4000); });
  child.stderr!.on('data', (c) => { out = (out + String(c)).slice(-4000); });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitFor(`${adminUrl}/healthz`, child, () => out);
  return {
    process: child, url: `http://127.0.0.1:${port}`, adminUrl,
    rssMb: () => rssOf(child.pid!),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function startHello(): Promise<Child> {
  const port = await freePort();
  const code = `const f=require('fastify')({logger:false});f.get('/hello',async()=>({hello:'world'}));f.listen({port:${port},host:'127.0.0.1'})`;
  const child = spawn(process.execPath, ['-e', code], { cwd: ROOT, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/hello`, child, () => '');
  return {
    process: child, url, adminUrl: url, rssMb: () => rssOf(child.pid!),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function query(url: string, text: string, values: unknown[] = []) {
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return (await c.query(text, values)).rows; } finally { await c.end(); }
}

/**
 * Ceiling and scenario in turn, BENCH_ROUNDS times; the median of each. `settle` runs before each
 * ceiling run: the background work a scenario left (forgot-password's mail) must not slow the
 * ceiling that follows it.
 */
async function paired(ceiling: () => Promise<number>, scenario: () => Promise<Load>, settle?: () => Promise<void>): Promise<[number, Load]> {
  const cs: number[] = [];
  const runs: Load[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await settle?.();
    cs.push(await ceiling());
    runs.push(await scenario());
  }
  return [median(cs), [...runs].sort((p, q) => p.rps - q.rps)[Math.floor(runs.length / 2)]!];
}

/**
 * A, B, A, B, A, B: the median of each, so a burst of load from elsewhere does not decide the ratio.
 * `settle` runs before each run, as in paired().
 */
async function alternate(first: () => Promise<Load>, second: () => Promise<Load>, rounds = ROUNDS, settle?: () => Promise<void>): Promise<[Load, Load]> {
  const xs: Load[] = [];
  const ys: Load[] = [];
  for (let i = 0; i < rounds; i++) {
    await settle?.();
    xs.push(await first());
    await settle?.();
    ys.push(await second());
  }
  const mid = (runs: Load[]) => [...runs].sort((p, q) => p.rps - q.rps)[Math.floor(runs.length / 2)]!;
  return [mid(xs), mid(ys)];
}

async function severalProcesses() {
  if (!PG_BASE) {
    notes.push('Two instances and memory: skipped — they need a PostgreSQL server (BENCH_DATABASE_URL or TEST_DATABASE_URL).');
    return;
  }
  if (!REDIS) notes.push('Two instances ran without Redis (rate limits in PostgreSQL): set BENCH_REDIS_URL or TEST_REDIS_URL.');
  const fresh = await freshDatabase('multi');
  await exec(process.execPath, [BIN, 'migrate'], { env: { PATH: process.env.PATH, DATABASE_URL: fresh.url, NODE_ENV: 'production' } });
  const dirs = [mkdtempSync(join(tmpdir(), 'keyturn-bench-a-')), mkdtempSync(join(tmpdir(), 'keyturn-bench-b-'))];
  const children: Child[] = [];
  try {
    // The machine's own ceiling for a second process: two hello-world servers against one.
    const helloA = await startHello();
    const helloB = await startHello();
    children.push(helloA, helloB);
    const [hello1, hello2] = await alternate(
      () => cannon([{ url: `${helloA.url}/hello` }]),
      () => cannon([{ url: `${helloA.url}/hello` }, { url: `${helloB.url}/hello` }]));
    await helloA.stop();
    await helloB.stop();
    row({ scenario: 'hello-world, 2 processes vs 1', measured: `${fmt(hello2.rps)} vs ${fmt(hello1.rps)} req/s`, ceiling: '2.0×', ratio: pct(hello2.rps / hello1.rps, 2), target: 'machine ceiling' });

    const [a, b] = [await startKeyturn(fresh.url, dirs[0]!), await startKeyturn(fresh.url, dirs[1]!)];
    children.push(a, b);
    const op = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${a.adminUrl}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
      if (r.status >= 400) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return r.json() as Promise<any>;
    };
    await op('POST', '/admin/v1/tenants', { slug: 'bench', name: 'Bench' });
    await op('POST', '/admin/v1/tenants/bench/users', { email: 'known@example.com', password: PASSWORD });
    const login = await fetch(`${b.url}/api/v1/login`, { method: 'POST', headers: json, body: JSON.stringify({ email: 'known@example.com', password: PASSWORD, tokenType: 'bearer' }) });
    const auth = { authorization: `Bearer ${((await login.json()) as { token: string }).token}` };
    await cannon([{ url: `${a.url}/api/v1/session`, headers: auth }, { url: `${b.url}/api/v1/session`, headers: auth }], { connections: 8 }); // warm-up
    const [one, two] = await alternate(
      () => cannon([{ url: `${a.url}/api/v1/session`, headers: auth }]),
      () => cannon([{ url: `${a.url}/api/v1/session`, headers: auth }, { url: `${b.url}/api/v1/session`, headers: auth }]));
    row({
      scenario: 'GET /api/v1/session, 2 instances vs 1', measured: `${fmt(two.rps)} vs ${fmt(one.rps)} req/s (${(two.rps / one.rps).toFixed(2)}×)`,
      ceiling: '2.0×', ratio: pct(two.rps / one.rps, 2), target: '≥ 1.6× (80 %) on ≥ 4 cores',
    });

    // Memory: 100,000 sessions and 10,000 pending resets in the database, the sessions in use.
    await b.stop();
    const rssIdle = a.rssMb();
    const tenant = (await query(fresh.url, `select id from tenants where slug = 'bench'`))[0] as { id: string };
    await op('POST', '/admin/v1/tenants/bench/users/import', { users: Array.from({ length: 1000 }, (_, i) => ({ email: `m${i}@example.com` })) });
    const users = (await query(fresh.url, `select id, email_canonical from users where email like 'm%@example.com'`)) as { id: string; email_canonical: string }[];
    const secrets = new Secrets(SECRET_KEY);
    const tokens: string[] = [];
    const now = Date.now();
    for (let batch = 0; batch < 10; batch++) {
      const hashes: string[] = [];
      const owners: string[] = [];
      for (let i = 0; i < 10_000; i++) {
        const t = randomToken();
        tokens.push(t);
        hashes.push(secrets.hash('session', t));
        owners.push(users[(batch * 10_000 + i) % users.length]!.id);
      }
      await query(fresh.url, `insert into sessions (id_hash, user_id, tenant_id, auth_method, created_at, expires_at)
        select h, u, $3, 'password', $4, $5 from unnest($1::text[], $2::uuid[]) as x(h, u)`,
      [hashes, owners, tenant.id, new Date(now), new Date(now + 12 * 3_600_000)]);
    }
    const resetHashes: string[] = [];
    const codeHashes: string[] = [];
    const emails: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const u = users[i % users.length]!;
      emails.push(u.email_canonical);
      resetHashes.push(secrets.hash('reset-token', randomToken()));
      codeHashes.push(secrets.hash('reset-code', `${u.email_canonical}\0${randomCode()}`));
    }
    await query(fresh.url, `insert into reset_tokens (email_canonical, tenant_ids, token_hash, code_hash, origin, created_at, expires_at)
      select e, $4::jsonb, t, c, 'self', $5, $6 from unnest($1::text[], $2::text[], $3::text[]) as x(e, t, c)`,
    [emails, resetHashes, codeHashes, JSON.stringify([tenant.id]), new Date(now), new Date(now + 3_600_000)]);
    // The sessions checked in turn (a different one on every request), for twice the usual time.
    const spread = await load<Load>({ kind: 'cannon', targets: [{ url: `${a.url}/api/v1/session`, authorizations: tokens.map((t) => `Bearer ${t}`) }], connections: 16, seconds: 2 * SECONDS });
    const rssAfter = a.rssMb();
    // Right after the load the heap still holds the garbage of ~100,000 requests (and of the
    // session cache's turnover); V8 gives it back once the process idles. Both are reported.
    await new Promise((r) => setTimeout(r, 15_000));
    const rssSettled = a.rssMb();
    const heap = await (await fetch(`${a.adminUrl}/metrics`)).text();
    const heapMb = (name: string) => Number(new RegExp(`^keyturn_process_nodejs_${name} (\\S+)`, 'm').exec(heap)?.[1] ?? NaN) / 1e6;
    notes.push(`memory: V8 heap ${fmt(heapMb('heap_size_used_bytes'))} MB used of ${fmt(heapMb('heap_size_total_bytes'))} MB after the load; session cache ${process.env.SESSION_CACHE_SIZE ?? 'default size'}`);
    if (spread.non2xx) notes.push(`memory: ${spread.non2xx} session checks were not 200`);
    row({
      scenario: 'RSS, 100,000 sessions + 10,000 pending resets', measured: `${fmt(rssAfter)} MB right after the load, ${fmt(rssSettled)} MB 15 s later (before ${fmt(rssIdle)} MB; ${fmt(Math.min(spread.total, tokens.length))} different sessions checked at ${fmt(spread.rps)} req/s)`,
      ceiling: '256 MB', ratio: `${pct(rssAfter, 256)} / ${pct(rssSettled, 256)}`, target: '≤ 100 %, flat in the number of sessions',
    });
  } finally {
    for (const c of children) await c.stop().catch(() => {});
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await fresh.drop();
  }
}

// ── the limit stores: PostgreSQL alone against PostgreSQL with Redis ────────────────────────────

/**
 * Two instances of this build on one PostgreSQL, one of them with Redis for its limits, measured in
 * turn with the same requests: what an operator without Redis gives up. Limits are scaled out of
 * the way (every request is counted, none refused), hashing is at production cost.
 */
async function limitStores() {
  if (!PG_BASE || !REDIS) {
    notes.push('PostgreSQL-only vs Redis: skipped — it needs a PostgreSQL server and Redis (BENCH_/TEST_DATABASE_URL, BENCH_/TEST_REDIS_URL).');
    return;
  }
  const fresh = await freshDatabase('stores');
  await exec(process.execPath, [BIN, 'migrate'], { env: { PATH: process.env.PATH, DATABASE_URL: fresh.url, NODE_ENV: 'production' } });
  const dirs = [mkdtempSync(join(tmpdir(), 'keyturn-bench-pg-')), mkdtempSync(join(tmpdir(), 'keyturn-bench-redis-'))];
  const children: Child[] = [];
  try {
    // The load arrives through a reverse proxy from CLIENTS addresses, as traffic does.
    const names = Object.keys(LIMITS) as LimitName[];
    const real = {
      RATE_LIMIT_SCALE: '1',
      RATE_LIMITS: names.map((n) => (n === 'forgotEmailCooldown' ? `${n}=off` : `${n}=1000000000/${LIMITS[n].windowSec}s`)).join(','),
      CAPTCHA_AFTER: names.map((n) => `${n}=off`).join(','),
    };
    const env = { TRUSTED_PROXIES: '127.0.0.1', ...(process.env.BENCH_STORE_WINDOWS === 'real' ? real : {}) };
    const pgOnly = await startKeyturn(fresh.url, dirs[0]!, { redis: false, env });
    children.push(pgOnly);
    const withRedis = await startKeyturn(fresh.url, dirs[1]!, { redis: true, env });
    children.push(withRedis);
    const op = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${pgOnly.adminUrl}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
      if (r.status >= 400) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return r.json() as Promise<unknown>;
    };
    await op('POST', '/admin/v1/tenants', { slug: 'bench', name: 'Bench' });
    await op('POST', '/admin/v1/tenants/bench/users', { email: 'known@example.com', password: PASSWORD });
    await op('POST', '/admin/v1/tenants/bench/users/import', { users: Array.from({ length: 1000 }, (_, i) => ({ email: `f${i}@example.com` })) });
    const knownBodies = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ email: `f${i}@example.com` }));
    const unknownBodies = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ email: `nobody${i}@example.com` }));
    // Both workers share the queue. A run starts with none of the last one's work left: what it
    // left unresolved or unsent is dropped, not done (both workers would still be at it during the
    // next run, and doing it would take longer than the run that made it).
    const settle = async () => {
      for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
        await query(fresh.url, `delete from reset_requests where processed_at is null and lease_until is null`);
        await query(fresh.url, `update outbox set status = 'sent', sealed_body = null where status = 'queued'`);
        const [left] = await query(fresh.url, `select (select count(*) from reset_requests where processed_at is null)
          + (select count(*) from outbox where status in ('queued', 'sending')) as n`) as { n: string }[];
        if (Number(left!.n) === 0) return;
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const clients = CLIENTS > 1 ? CLIENTS : undefined;
    const scenarios: [string, (base: string) => Target][] = [
      ['POST forgot (known email)', (base) => ({ url: `${base}/api/v1/password/forgot`, method: 'POST', headers: json, bodies: knownBodies, clients })],
      ['POST forgot (unknown email)', (base) => ({ url: `${base}/api/v1/password/forgot`, method: 'POST', headers: json, bodies: unknownBodies, clients })],
      ['POST /api/v1/login', (base) => ({ url: `${base}/api/v1/login`, method: 'POST', headers: json, body: JSON.stringify({ email: 'known@example.com', password: PASSWORD }), clients })],
    ];
    for (const [name, target] of scenarios) {
      await cannon([target(pgOnly.url), target(withRedis.url)], { connections: 8 }); // warm-up: connections, JIT
      const measured = (url: string) => cannon([target(url)]);
      const [pg, redis] = await alternate(() => measured(pgOnly.url), () => measured(withRedis.url), ROUNDS, settle);
      if (pg.non2xx + redis.non2xx) notes.push(`${name}, limit stores: ${pg.non2xx} (PostgreSQL only) and ${redis.non2xx} (Redis) answers were not 2xx`);
      row({
        scenario: `${name}: PostgreSQL only vs Redis`,
        measured: `${fmt(pg.rps)} vs ${fmt(redis.rps)} req/s, p99 ${pg.p99} vs ${redis.p99} ms`,
        ceiling: `with Redis (${fmt(redis.rps)}/s)`, ratio: pct(pg.rps, redis.rps), target: '≥ 80 %',
      });
    }
    await settle();
  } finally {
    for (const c of children) await c.stop().catch(() => {});
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await fresh.drop();
  }
}

async function main() {
  const { db, label, drop } = await database();
  try {
    if (!ONLY || ONLY === 'single') await singleInstance(label, db);
    // Issue 13: a sign-in with the second step against password-only (bench/mfa.ts).
    if (!ONLY || ONLY === 'single') row(mfaRow(await mfaSignIn({ db, smtpUrl: SMTP_URL })));
    // Issue 14: the OpenID Provider's endpoints against hello-world (bench/oidc.ts); BENCH_ONLY=oidc runs it alone.
    if (!ONLY || ONLY === 'single' || ONLY === 'oidc') {
      const oidc = await oidcRows({ db, smtpUrl: SMTP_URL, redisUrl: REDIS && PG_BASE ? REDIS : undefined });
      oidc.rows.forEach(row);
      notes.push(...oidc.notes);
    }
    // Issue 15: a password change with 3 webhook endpoints against none, and the worker's delivery
    // rate to a local receiver (bench/webhooks.ts); BENCH_ONLY=webhooks runs it alone.
    if (!ONLY || ONLY === 'single' || ONLY === 'webhooks') {
      webhookRows(await webhookFigures({ db, smtpUrl: SMTP_URL, redisUrl: REDIS && PG_BASE ? REDIS : undefined, log: (l) => console.log(`webhooks: ${l}`) })).forEach(row);
    }
  } finally {
    await drop();
  }
  // Issue 16: the users list, SCIM and a bulk sign-out on a floor of 100,000 (bench/admin-list.ts),
  // in a database of its own; BENCH_ONLY=floor runs it alone.
  if (!ONLY || ONLY === 'single' || ONLY === 'floor') await floor();
  if (!ONLY || ONLY === 'multi') await severalProcesses();
  if (!ONLY || ONLY === 'multi' || ONLY === 'stores') await limitStores();

  const table = ['| scenario | measured | ceiling | ratio to ceiling | target |', '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.measured} | ${r.ceiling} | ${r.ratio} | ${r.target} |`)].join('\n');
  const load = (await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' / ');
  const doc = `# Benchmark results\n\n${new Date().toISOString().slice(0, 10)} — ${label}${REDIS ? ' and Redis' : ''}; ${CORES} cores (load average at the end ${load}); ${SECONDS} s per scenario at 16 connections; load from a separate process (bench/load.ts); Keyturn with production argon2 parameters and LOG_LEVEL=silent (in-process) / warn (child processes).\n\n${table}\n${notes.length ? `\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}\nHow to read it: README.md, section "Performance"; earlier runs are under "History" below.\n`;
  console.log(`\n${table}\n${notes.join('\n')}`);
  if (process.env.BENCH_WRITE !== '0') {
    // The latest run replaces the top of the file; the history below it stays.
    const file = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
    const before = readFileSync(file, 'utf8');
    const history = before.indexOf('\n## History');
    writeFileSync(file, history < 0 ? doc : `${doc}${before.slice(history)}`);
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
