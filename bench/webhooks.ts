// Issue 15's benchmark: what webhooks cost the request that causes them, and how fast the outbox
// worker delivers them.
//
//   node --import tsx bench/webhooks.ts   prints the rows (PostgreSQL when BENCH_DATABASE_URL or
//                                         TEST_DATABASE_URL is set, otherwise PGlite in memory)
//   webhookRows({ db, smtpUrl })          the same as a scenario of bench/run.ts (BENCH_ONLY=webhooks runs it alone)
//
// Keyturn runs in this process in production mode (production argon2 parameters, LOG_LEVEL=silent,
// WEBHOOK_ALLOWED_HOSTS=127.0.0.1); the receiver (a plain node:http server answering 204) and the
// load are processes of their own (bench/webhooks-load.ts).
// (a) POST /api/v1/password/change (verify the current password, hash the new one) by accounts of a
//     tenant with no endpoint against accounts of a tenant with 3 endpoints subscribed to
//     user.password_changed; runs alternate (none, 3, none, 3 …; BENCH_ROUNDS (3) of each,
//     BENCH_WEBHOOK_CHANGES (150) changes per run, 16 connections), each account changed once, the
//     worker running as in production (so the 3 deliveries per change are made during the run, in
//     this process); medians compared by wall time (changes/s) and by this process's CPU per change.
//     Between runs the outbox is drained, so no run delivers the previous one's events.
// (b) The worker's delivery rate: BENCH_WEBHOOK_EVENTS (5,000) user.created events queued for one
//     endpoint (an import, with the worker not running), then timed until the worker has delivered
//     them all (ctx.worker.drain(): the same loop the app's poll runs); BENCH_ROUNDS runs, median.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { buildApp } from '../src/app.ts';
import { configFrom } from '../src/config.ts';
import { randomToken } from '../src/platform/crypto.ts';
import { openDatabase, rowsOf, type Database } from '../src/platform/db.ts';
import { emptyPostgresDatabase } from '../test/helpers/app.ts';
import { startSmtpSink } from './smtp-sink.ts';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOAD = join(ROOT, 'bench', 'webhooks-load.ts');
const PASSWORD = 'Sunny-Harbor-42!';
const NEW_PASSWORD = 'Quiet-Meadow-77#';
const CONNECTIONS = 16;
const WARM_UP = 32;
/** Issue 15: a change with 3 endpoints costs at most 5 % more than without. */
export const CHANGE_TARGET = 1.05;
/** Issue 15: the worker delivers at least this many events per second to a local receiver. */
export const DELIVERY_TARGET = 1_000;

export interface WebhookRow { scenario: string; measured: string; ceiling: string; ratio: string; target: string; }
interface ChangeLoad { changes: number; seconds: number; perSecond: number; bad: number; p50: number; p99: number; }
interface ChangeRun { perSecond: number; cpuMs: number; p50: number; bad: number; }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** The receiver, in a process of its own; count() asks it how many POSTs it has answered. */
async function startReceiver(): Promise<{ url: string; count(): Promise<number>; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', LOAD, 'receiver'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += String(c);
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve((JSON.parse(line!) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`the receiver exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    count: async () => ((await (await fetch(`${url}/count`)).json()) as { count: number }).count,
    stop: () => { child.kill('SIGTERM'); },
  };
}

async function changeLoad(job: Record<string, unknown>): Promise<ChangeLoad> {
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-bench-webhooks-'));
  try {
    const file = join(dir, 'job.json');
    writeFileSync(file, JSON.stringify(job));
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', LOAD, file], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout) as ChangeLoad;
  } finally {
    rmSync(dir, { recursive: true, force: true }); // it holds session tokens
  }
}

export interface WebhookFigures {
  none: ChangeRun; three: ChangeRun; ratio: number; cpuRatio: number;
  runs: { none: number[]; three: number[] };
  delivery: { perSecond: number; runs: number[]; events: number; msPerEvent: number };
  changesPerRun: number; rounds: number;
}

export async function webhookFigures(opts: { db: Database; smtpUrl: string; redisUrl?: string; rounds?: number; changes?: number; events?: number; log?: (line: string) => void }): Promise<WebhookFigures> {
  const rounds = opts.rounds ?? Number(process.env.BENCH_ROUNDS ?? 3);
  const changesPerRun = opts.changes ?? Number(process.env.BENCH_WEBHOOK_CHANGES ?? 150);
  const events = opts.events ?? Number(process.env.BENCH_WEBHOOK_EVENTS ?? 5_000);
  const log = opts.log ?? (() => {});
  const receiver = await startReceiver();
  const app = await buildApp(configFrom({
    NODE_ENV: 'production', SMTP_URL: opts.smtpUrl, DATABASE_URL: 'memory://', LOG_LEVEL: 'silent', RATE_LIMIT_SCALE: '1000000',
    PUBLIC_URL: 'http://127.0.0.1:3900', SECRET_KEY: 'bench-secret-'.padEnd(48, 'b'), ADMIN_API_KEY: 'bench-operator-key-'.padEnd(40, 'k'),
    RATE_LIMIT_PREFIX: `kt-bench-webhooks-${Date.now()}`, WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
  }), { database: opts.db, startWorker: false });
  const { db } = app.ctx;
  const op = async (method: string, url: string, body?: unknown) => {
    const res = await app.adminApp.inject({ method: method as 'POST', url, headers: { authorization: `Bearer ${app.adminApiKey}` }, ...(body ? { payload: body as object } : {}) });
    if (res.statusCode >= 400) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
    return res.json() as any;
  };
  const pending = async () => Number(rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from outbox where status in ('queued', 'sending')`))[0]!.n);
  try {
    await app.publicApp.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.publicApp.server.address() as { port: number }).port}`;
    const stamp = Date.now().toString(36);

    // ── (b) delivery rate, first: the worker has not been started, so the queue fills untouched ──
    const slugB = `bench-wh-rate-${stamp}`;
    await op('POST', '/admin/v1/tenants', { slug: slugB, name: 'Bench webhook rate' });
    await op('POST', '/admin/v1/webhooks', { url: `${receiver.url}/rate`, events: ['user.created'], tenants: [slugB] });
    const rateRuns: number[] = [];
    for (let run = -1; run < rounds; run++) {
      const n = run < 0 ? Math.min(500, events) : events; // run -1: warm-up (connections, JIT, caches)
      const users = Array.from({ length: n }, (_, i) => ({ email: `r${run + 1}-${i}@${slugB}.example` }));
      for (let i = 0; i < users.length; i += 5_000) await op('POST', `/admin/v1/tenants/${slugB}/users/import`, { users: users.slice(i, i + 5_000) });
      // Only the webhooks are timed: anything else the import queued is set aside.
      await db.execute(sql`update outbox set status = 'sent', sealed_body = null where status = 'queued' and not (channel = 'http' and kind = 'webhook')`);
      const queued = await pending();
      if (queued !== n) throw new Error(`expected ${n} queued webhook deliveries, found ${queued}`);
      const before = await receiver.count();
      const t0 = performance.now();
      while ((await pending()) > 0) await app.ctx.worker.drain();
      const seconds = (performance.now() - t0) / 1000;
      const received = (await receiver.count()) - before;
      if (received < n) throw new Error(`the receiver got ${received} of ${n} deliveries`);
      const failed = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from outbox where status = 'failed' and kind = 'webhook'`))[0]!.n;
      if (failed) throw new Error(`${failed} deliveries failed`);
      if (run >= 0) {
        rateRuns.push(n / seconds);
        log(`delivery run ${run + 1}: ${n} events in ${seconds.toFixed(2)} s = ${fmt(n / seconds)} events/s`);
      }
    }

    // ── (a) a password change with 3 endpoints against none ──
    const slug0 = `bench-wh-none-${stamp}`;
    const slug3 = `bench-wh-three-${stamp}`;
    const perTenant = WARM_UP + rounds * changesPerRun;
    const hash = await app.ctx.hasher.hash(PASSWORD);
    const sessions: Record<string, { token: string; current: string; next: string }[]> = {};
    for (const slug of [slug0, slug3]) {
      await op('POST', '/admin/v1/tenants', { slug, name: slug });
      await op('POST', `/admin/v1/tenants/${slug}/users/import`, { users: Array.from({ length: perTenant }, (_, i) => ({ email: `c${i}@${slug}.example` })) });
      const tenantId = rowsOf<{ id: string }>(await db.execute(sql`select id from tenants where slug = ${slug}`))[0]!.id;
      await db.execute(sql`update users set password_hash = ${hash} where tenant_id = ${tenantId}::uuid`);
      const ids = rowsOf<{ id: string }>(await db.execute(sql`select id from users where tenant_id = ${tenantId}::uuid order by email`)).map((r) => r.id);
      const tokens = ids.map(() => randomToken());
      const now = new Date();
      await db.execute(sql`insert into sessions (id_hash, user_id, tenant_id, auth_method, created_at, expires_at)
        select h, u, ${tenantId}::uuid, 'password', ${now.toISOString()}::timestamptz, ${new Date(now.getTime() + 12 * 3_600_000).toISOString()}::timestamptz
        from unnest(${`{${tokens.map((t) => app.ctx.secrets.hash('session', t)).join(',')}}`}::text[], ${`{${ids.join(',')}}`}::uuid[]) as x(h, u)`);
      sessions[slug] = tokens.map((token) => ({ token, current: PASSWORD, next: NEW_PASSWORD }));
    }
    for (let i = 0; i < 3; i++) {
      await op('POST', '/admin/v1/webhooks', { url: `${receiver.url}/change-${i}`, events: ['user.password_changed'], tenants: [slug3] });
    }
    await db.execute(sql`update outbox set status = 'sent', sealed_body = null where status = 'queued'`);
    app.ctx.worker.start(); // from here on the worker runs as in production: kicked by each change, polling every second

    let used = 0;
    const take = (slug: string, n: number) => sessions[slug]!.slice(used, used + n);
    const settle = async () => { for (let i = 0; i < 100 && (await pending()) > 0; i++) await app.ctx.worker.drain(); };
    const measured = async (changes: { token: string; current: string; next: string }[]): Promise<ChangeRun> => {
      await settle();
      const cpu = process.cpuUsage();
      const r = await changeLoad({ url: base, connections: CONNECTIONS, changes });
      // The deliveries still in flight when the last answer came belong to this run's cost.
      await settle();
      const spent = process.cpuUsage(cpu);
      return { perSecond: r.perSecond, cpuMs: (spent.user + spent.system) / 1000 / r.changes, p50: r.p50, bad: r.bad };
    };
    const warm = [await measured(take(slug0, WARM_UP)), await measured(take(slug3, WARM_UP))];
    used += WARM_UP;
    if (warm.some((w) => w.bad > 0)) throw new Error(`warm-up: ${warm[0]!.bad} and ${warm[1]!.bad} changes were refused`);
    const receivedBefore = await receiver.count();
    const none: ChangeRun[] = [];
    const three: ChangeRun[] = [];
    for (let i = 0; i < rounds; i++) {
      none.push(await measured(take(slug0, changesPerRun)));
      three.push(await measured(take(slug3, changesPerRun)));
      used += changesPerRun;
      const say = (r: ChangeRun) => `${r.perSecond.toFixed(1)}/s, ${r.cpuMs.toFixed(1)} ms CPU, p50 ${r.p50.toFixed(0)} ms`;
      log(`change round ${i + 1}: no endpoint ${say(none[i]!)}; 3 endpoints ${say(three[i]!)}`);
    }
    const delivered = (await receiver.count()) - receivedBefore;
    if (delivered !== 3 * rounds * changesPerRun) throw new Error(`3 endpoints × ${rounds * changesPerRun} changes: the receiver got ${delivered} deliveries`);
    const bad = [...none, ...three].reduce((n, r) => n + r.bad, 0);
    if (bad) throw new Error(`${bad} password changes were refused`);
    const mid = (xs: ChangeRun[]): ChangeRun => ({
      perSecond: median(xs.map((r) => r.perSecond)), cpuMs: median(xs.map((r) => r.cpuMs)), p50: median(xs.map((r) => r.p50)), bad: 0,
    });
    const [n0, n3] = [mid(none), mid(three)];
    const rate = median(rateRuns);
    return {
      none: n0, three: n3, ratio: n0.perSecond / n3.perSecond, cpuRatio: n3.cpuMs / n0.cpuMs,
      runs: { none: none.map((r) => r.perSecond), three: three.map((r) => r.perSecond) },
      delivery: { perSecond: rate, runs: rateRuns, events, msPerEvent: 1000 / rate },
      changesPerRun, rounds,
    };
  } finally {
    await app.close();
    receiver.stop();
  }
}

/** The two rows of bench/RESULTS.md (the shape of bench/run.ts's rows). */
export function webhookRows(f: WebhookFigures): WebhookRow[] {
  return [
    {
      scenario: 'password change: 3 webhook endpoints vs none',
      measured: `${fmt(f.three.perSecond, 1)} vs ${fmt(f.none.perSecond, 1)} changes/s (runs ${f.runs.three.map((x) => fmt(x, 1)).join(', ')} vs ${f.runs.none.map((x) => fmt(x, 1)).join(', ')}); CPU ${fmt(f.three.cpuMs, 1)} vs ${fmt(f.none.cpuMs, 1)} ms per change, deliveries included`,
      ceiling: 'no endpoint subscribed',
      ratio: `${fmt(f.ratio, 3)} (CPU ${fmt(f.cpuRatio, 3)})`,
      target: `≤ ${CHANGE_TARGET}`,
    },
    {
      scenario: 'webhook worker: delivery rate to a local receiver',
      measured: `${fmt(f.delivery.perSecond)} events/s (runs ${f.delivery.runs.map((x) => fmt(x)).join(', ')}; ${fmt(f.delivery.events)} events each, ${fmt(f.delivery.msPerEvent, 2)} ms per event)`,
      ceiling: `${fmt(DELIVERY_TARGET)} events/s`,
      ratio: `${((f.delivery.perSecond / DELIVERY_TARGET) * 100).toFixed(0)} %`,
      target: '≥ 100 %',
    },
  ];
}

async function main() {
  const smtpUrl = await startSmtpSink();
  const pgBase = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  const fresh = pgBase ? await emptyPostgresDatabase('bench_webhooks', pgBase) : undefined;
  const db = await openDatabase({ url: fresh?.url ?? 'memory://', dataDir: '', ...(fresh ? { poolSize: 20 } : {}) });
  try {
    await db.migrate();
    const load1 = () => loadavg()[0]!.toFixed(1);
    const before = load1();
    const f = await webhookFigures({ db, smtpUrl, log: (line) => console.log(line) });
    console.log(`\nWebhooks benchmark — ${fresh ? 'PostgreSQL server' : 'PGlite (embedded, in memory)'}; ${availableParallelism()} cores, load average ${before} before and ${load1()} after`);
    for (const r of webhookRows(f)) console.log(`| ${r.scenario} | ${r.measured} | ${r.ceiling} | ${r.ratio} | ${r.target} |`);
  } finally {
    await db.close();
    await fresh?.drop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
}
