// Where one scenario's CPU goes: Keyturn in this process on a fresh PostgreSQL database (and Redis
// when TEST_REDIS_URL / BENCH_REDIS_URL is set), the load from bench/load.ts in its own process.
// Prints the CPU per request of this process's main thread, of the whole process (the argon2
// threads included) and of every other process on the machine (PostgreSQL, Redis, the kernel's
// workers), read from /proc (Linux), and writes a V8 CPU profile of the main thread.
//
//   node --import tsx bench/profile.ts session|login|forgot-known|forgot-unknown|reset
//   PROFILE_CHEAP=1   argon2 at the test cost: what the same work costs without the hashing threads
//   PROFILE_SECONDS=8 how long the load runs (reset: one request per token, 450 tokens)
//
// The profile (keyturn-<scenario>.cpuprofile in the system's temp folder) opens in Chrome DevTools.
// Its samples count wall time: on a busy machine a thread waiting for a core shows where it waited.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { buildApp } from '../src/app.ts';
import { configFrom } from '../src/config.ts';
import { adminReset } from '../src/features/admin/admin-reset.ts';
import { tenantBySlug } from '../src/features/tenants/store.ts';
import { openDatabase, rowsOf } from '../src/platform/db.ts';
import { emptyPostgresDatabase } from '../test/helpers/app.ts';
import { startSmtpSink } from './smtp-sink.ts';


const SMTP_URL = await startSmtpSink();
const SCENARIOS = ['session', 'login', 'forgot-known', 'forgot-unknown', 'reset'] as const;
const scenario = process.argv[2] as (typeof SCENARIOS)[number];
const PG_BASE = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const REDIS = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL;
if (!SCENARIOS.includes(scenario) || !PG_BASE) {
  console.error(`usage: node --import tsx bench/profile.ts ${SCENARIOS.join('|')}  (needs TEST_DATABASE_URL or BENCH_DATABASE_URL)`);
  process.exit(2);
}
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 8);
const PASSWORD = 'Sunny-Harbor-42!';

const fresh = await emptyPostgresDatabase('bench_profile', PG_BASE);
const db = await openDatabase({ url: fresh.url, dataDir: '', poolSize: 20 });
await db.migrate();
const app = await buildApp(configFrom({
  NODE_ENV: 'production', SMTP_URL, DATABASE_URL: 'memory://', LOG_LEVEL: 'silent', RATE_LIMIT_SCALE: '1000000',
  PUBLIC_URL: 'http://127.0.0.1:3900', SECRET_KEY: 'bench-secret-'.padEnd(48, 'b'), ADMIN_API_KEY: 'bench-operator-key-'.padEnd(40, 'k'),
  RATE_LIMIT_PREFIX: `kt-profile-${Date.now()}`,
  ...(REDIS ? { REDIS_URL: REDIS } : {}),
  ...(process.env.PROFILE_CHEAP ? { ARGON2_MEMORY_KIB: '64', ARGON2_ITERATIONS: '1' } : {}),
}), { database: db });
await app.publicApp.listen({ port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${(app.publicApp.server.address() as { port: number }).port}`;

async function op(url: string, body: unknown) {
  const res = await app.adminApp.inject({ method: 'POST', url, headers: { authorization: `Bearer ${app.adminApiKey}` }, payload: body as object });
  if (res.statusCode >= 400) throw new Error(`${url}: ${res.body}`);
}
await op('/admin/v1/tenants', { slug: 'bench', name: 'Bench' });
await op('/admin/v1/tenants/bench/users', { email: 'known@example.com', password: PASSWORD });
const emails = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}@example.com`);

async function target(): Promise<Record<string, unknown>> {
  const json = { 'content-type': 'application/json' };
  switch (scenario) {
    case 'session': {
      const login = await app.publicApp.inject({ method: 'POST', url: '/api/v1/login', payload: { email: 'known@example.com', password: PASSWORD, tokenType: 'bearer' } });
      return { url: `${base}/api/v1/session`, headers: { authorization: `Bearer ${login.json().token}` } };
    }
    case 'login':
      return { url: `${base}/api/v1/login`, method: 'POST', headers: json, body: JSON.stringify({ email: 'known@example.com', password: PASSWORD }) };
    case 'forgot-known':
      await op('/admin/v1/tenants/bench/users/import', { users: emails('f', 1000).map((email) => ({ email })) });
      return { url: `${base}/api/v1/password/forgot`, method: 'POST', headers: json, bodies: emails('f', 1000).map((email) => JSON.stringify({ email })) };
    case 'forgot-unknown':
      return { url: `${base}/api/v1/password/forgot`, method: 'POST', headers: json, bodies: emails('nobody', 1000).map((email) => JSON.stringify({ email })) };
    case 'reset': {
      await op('/admin/v1/tenants/bench/users/import', { users: emails('r', 500).map((email) => ({ email })) });
      const tenant = (await tenantBySlug(db.db, 'bench'))!;
      const ids = rowsOf<{ id: string }>(await db.db.execute(sql`select id from users where email like 'r%@example.com'`));
      const bodies: string[] = [];
      for (const { id } of ids) {
        const issued = await adminReset(app.ctx, tenant, id, { delivery: 'link' }, { type: 'operator', id: 'bench' });
        bodies.push(JSON.stringify({ token: new URL(issued.url!).searchParams.get('token'), password: 'Quiet-Meadow-77#' }));
      }
      return { url: `${base}/api/v1/password/reset`, method: 'POST', headers: json, bodies };
    }
  }
}
/** Runs the load once and prints what it cost. */
async function measure(): Promise<void> {
  const job = { kind: 'cannon', targets: [await target()], connections: 16, ...(scenario === 'reset' ? { amount: 450 } : { seconds: SECONDS }) };
  await app.ctx.worker.drain();

  // /proc counts CPU in clock ticks, 100 a second on Linux (USER_HZ).
  const TICKS_PER_SECOND = 100;
  /** utime + stime and the start time of one /proc stat file; undefined when the process is gone. */
  function stat(path: string): { cpu: number; started: string } | undefined {
    try {
      const text = readFileSync(path, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' '); // the name may hold ") "
      return { cpu: Number(fields[11]) + Number(fields[12]), started: fields[19]! };
    } catch { return undefined; }
  }
  /** Every process's CPU so far, by pid and start time (a pid may be reused), with its name. */
  function everyProcess(): Map<string, { name: string; cpu: number }> {
    const by = new Map<string, { name: string; cpu: number }>();
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      const s = stat(`/proc/${pid}/stat`);
      if (!s) continue;
      let name: string;
      try { name = Number(pid) === process.pid ? 'keyturn (all threads)' : readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { continue; }
      by.set(`${pid}@${s.started}`, { name, cpu: s.cpu });
    }
    return by;
  }
  const mainThread = () => stat(`/proc/${process.pid}/task/${process.pid}/stat`)?.cpu ?? 0;

  // The job file holds live reset tokens for `reset`: a private folder of its own.
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-profile-'));
  const jobFile = join(dir, 'job.json');
  writeFileSync(jobFile, JSON.stringify(job), { mode: 0o600 });
  const inspector = new Session();
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.start');
  const [main0, all0] = [mainThread(), everyProcess()];
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/load.ts', jobFile]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const [main1, all1] = [mainThread(), everyProcess()];
  const { profile } = await inspector.post('Profiler.stop');
  const result = JSON.parse(stdout) as { rps: number; total: number; p99: number; errors: number; non2xx: number };

  // CPU per process over the run (processes that ended meanwhile are not seen), summed by name.
  const byName = new Map<string, number>();
  for (const [id, now] of all1) byName.set(now.name, (byName.get(now.name) ?? 0) + now.cpu - (all0.get(id)?.cpu ?? 0));
  const msPerRequest = (t: number) => ((t * 1000) / TICKS_PER_SECOND / result.total).toFixed(3);
  console.log(`${scenario}: ${result.rps.toFixed(0)} req/s, p99 ${result.p99} ms; CPU ms per request:`);
  if (result.errors || result.non2xx) console.log(`  (${result.errors} errors and ${result.non2xx} answers not 2xx: the figures are not the scenario's)`);
  console.log(`  keyturn main thread      ${msPerRequest(main1 - main0)}`);
  for (const [name, t] of [...byName].filter(([, t]) => t / result.total > 0.001).sort((a, b) => b[1] - a[1])) {
    console.log(`  ${name.padEnd(24)} ${msPerRequest(t)}`);
  }
  const file = join(tmpdir(), `keyturn-${scenario}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  console.log(`profile of the main thread: ${file}`);
}

try {
  await measure();
} finally {
  await app.close();
  await db.close();
  await fresh.drop();
}
