// `npm run bench`: Keyturn against its ceilings, side by side in one run. The load comes from
// autocannon in a separate process; Keyturn runs here with production argon2 parameters.
// Database: PostgreSQL when BENCH_DATABASE_URL (or TEST_DATABASE_URL) is set — a fresh database is
// made and dropped — otherwise embedded PGlite in memory.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hash } from '@node-rs/argon2';
import Fastify from 'fastify';
import { buildApp } from '../src/app.ts';
import { configFrom } from '../src/config.ts';
import { openDatabase, type Database } from '../src/platform/db.ts';

const run = promisify(execFile);
const AUTOCANNON = fileURLToPath(new URL('../node_modules/autocannon/autocannon.js', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PASSWORD = 'Sunny-Harbor-42!';

interface Result { name: string; rps: number; p50: number; p99: number; errors: number; non2xx: number; }

async function cannon(name: string, url: string, opts: { method?: string; body?: string; headers?: Record<string, string>; connections?: number } = {}): Promise<Result> {
  const args = ['-j', '-d', String(SECONDS), '-c', String(opts.connections ?? 16), '-m', opts.method ?? 'GET'];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}=${v}`);
  if (opts.body) args.push('-b', opts.body);
  args.push(url);
  const { stdout } = await run(process.execPath, [AUTOCANNON, ...args], { maxBuffer: 16 * 1024 * 1024 });
  const r = JSON.parse(stdout);
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx };
}

async function hashBound(): Promise<number> {
  // All cores busy: as many hashes in flight as the thread pool has threads.
  const params = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
  const parallel = Math.max(availableParallelism(), 4);
  const end = Date.now() + SECONDS * 1000;
  let count = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (Date.now() < end) { await hash(PASSWORD, params); count++; }
  }));
  return count / SECONDS;
}

async function database(): Promise<{ db: Database; label: string; drop(): Promise<void> }> {
  const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!base) {
    const db = await openDatabase({ url: 'memory://', dataDir: '' });
    await db.migrate();
    return { db, label: 'PGlite (embedded, in memory)', drop: () => db.close() };
  }
  const pg = (await import('pg')).default;
  const name = `keyturn_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString(), dataDir: '', poolSize: 20 });
  await db.migrate();
  return {
    db, label: 'PostgreSQL server',
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

async function main() {
  const { db, label, drop } = await database();
  const config = configFrom({
    NODE_ENV: 'production', DATABASE_URL: 'memory://', LOG_LEVEL: 'silent', RATE_LIMIT_SCALE: '1000000',
    PUBLIC_URL: 'http://127.0.0.1:3900',
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

  const json = { 'content-type': 'application/json' };
  const results: Result[] = [];
  const say = (r: Result) => { results.push(r); console.log(`${r.name.padEnd(34)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms${r.non2xx ? `  non-2xx ${r.non2xx}` : ''}`); };

  console.log(`Keyturn benchmark — ${label}, ${availableParallelism()} cores, ${SECONDS} s per scenario, autocannon in a separate process\n`);
  say(await cannon('hello-world Fastify (ceiling)', helloUrl));
  const bound = await hashBound();
  console.log(`${'argon2id hash bound (production)'.padEnd(34)} ${bound.toFixed(0).padStart(7)} hashes/s`);
  say(await cannon('GET /api/v1/session (cookie)', `${base}/api/v1/session`, { headers: { cookie } }));
  say(await cannon('GET /api/v1/session (bearer)', `${base}/api/v1/session`, { headers: { authorization: `Bearer ${token}` } }));
  say(await cannon('POST /api/v1/login', `${base}/api/v1/login`, { method: 'POST', headers: json, body: JSON.stringify({ email: 'known@example.com', password: PASSWORD }) }));
  const known = await cannon('POST forgot (known email)', `${base}/api/v1/password/forgot`, { method: 'POST', headers: json, body: JSON.stringify({ email: 'known@example.com' }) });
  say(known);
  const unknown = await cannon('POST forgot (unknown email)', `${base}/api/v1/password/forgot`, { method: 'POST', headers: json, body: JSON.stringify({ email: 'nobody@example.com' }) });
  say(unknown);

  const ceiling = results[0]!.rps;
  const ratio = (r: Result | undefined, to: number) => (r ? `${((r.rps / to) * 100).toFixed(0)} %` : '–');
  const byName = (n: string) => results.find((r) => r.name.startsWith(n));
  const rows: [string, string, string, string, string][] = [
    ['hello-world Fastify', `${ceiling.toFixed(0)} req/s`, 'ceiling', '100 %', ''],
    ['argon2id hashes (all cores)', `${bound.toFixed(0)} /s`, 'hash bound', '100 %', ''],
    ['GET /api/v1/session (cookie)', `${byName('GET /api/v1/session (cookie)')!.rps.toFixed(0)} req/s`, 'hello-world', ratio(byName('GET /api/v1/session (cookie)'), ceiling), '≥ 40 %'],
    ['GET /api/v1/session (bearer)', `${byName('GET /api/v1/session (bearer)')!.rps.toFixed(0)} req/s`, 'hello-world', ratio(byName('GET /api/v1/session (bearer)'), ceiling), '≥ 40 %'],
    ['POST /api/v1/login', `${byName('POST /api/v1/login')!.rps.toFixed(0)} req/s`, 'hash bound', ratio(byName('POST /api/v1/login'), bound), '≥ 90 %'],
    ['POST forgot (known)', `${known.rps.toFixed(0)} req/s, p99 ${known.p99} ms`, 'hello-world', ratio(known, ceiling), '≥ 25 %, p99 < 20 ms'],
    ['POST forgot (unknown)', `${unknown.rps.toFixed(0)} req/s, p99 ${unknown.p99} ms`, 'hello-world', ratio(unknown, ceiling), '≥ 25 %, p99 < 20 ms'],
    ['forgot median known − unknown', `${(known.p50 - unknown.p50).toFixed(2)} ms`, '', '', '|Δ| ≤ 0.3 ms'],
  ];
  const table = ['| scenario | measured | ceiling | ratio | target |', '|---|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const doc = `# Benchmark results\n\n${new Date().toISOString().slice(0, 10)} — ${label}; ${availableParallelism()} cores; ${SECONDS} s per scenario at 16 connections; autocannon in a separate process; Keyturn with production argon2 parameters and LOG_LEVEL=silent.\n\n${table}\n`;
  console.log(`\n${table}`);
  if (process.env.BENCH_WRITE !== '0') writeFileSync(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), doc);

  await hello.close();
  await app.close();
  await drop();
}

main().catch((e) => { console.error(e); process.exit(1); });
