// Issue 14's benchmark: Keyturn as OpenID Provider, side by side with hello-world (a plain Fastify
// route in the same process, the ceiling of bench/run.ts) and the session check it already has.
//
//   node --import tsx bench/oidc.ts       prints the rows (PostgreSQL when BENCH_DATABASE_URL or
//                                         TEST_DATABASE_URL is set, otherwise PGlite in memory)
//   oidcRows({ db, smtpUrl })             the same as a scenario of bench/run.ts (BENCH_ONLY=oidc runs it alone)
//
// Keyturn runs in this process in production mode, listening on the port its PUBLIC_URL (the
// issuer) names; one confidential app (client_secret_basic) is registered through the operator API.
// Scenarios, each alternating with hello-world BENCH_ROUNDS (3) times, medians compared:
// - GET /api/v1/session with the cookie of POST /api/v1/login (autocannon, 16 connections);
// - POST /oidc/token/introspection of a refresh token (autocannon, 16 connections);
// - GET /oidc/me with a JWT access token as Bearer (autocannon, 16 connections);
// - the refresh-token grant: refresh tokens rotate, so the load is 16 closed loops
//   (bench/oidc-load.ts), each chaining its answers' new refresh tokens; each run starts 16 fresh
//   chains, from code flows done up front;
// - the whole code flow (authorization request with the Keyturn cookie → interaction → code →
//   token exchange), BENCH_OIDC_FLOW_CONNECTIONS (4) browsers at a time, each with a Keyturn
//   session of its own and no oidc-provider cookie (every flow is a new app sign-in).
// BENCH_OIDC_SCENARIOS=introspection,/oidc/me runs only the scenarios whose names contain one of these.
// Per-vCPU figures divide by os.availableParallelism(). Access tokens live an hour here, so the
// ones taken up front stay valid for the whole run.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { buildApp } from '../src/app.ts';
import { configFrom } from '../src/config.ts';
import { openDatabase, type Database } from '../src/platform/db.ts';
import { emptyPostgresDatabase } from '../test/helpers/app.ts';
import { freePort } from '../test/helpers/ports.ts';
import { startSmtpSink } from './smtp-sink.ts';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PASSWORD = 'Sunny-Harbor-42!';
const CB = 'http://127.0.0.1:9/cb';
const CHAINS = 16;
/** Issue 14: introspection and userinfo each at least this share of hello-world. */
export const OIDC_TARGET = 0.25;
/** Zitadel's published figures per vCPU, for comparison (RESULTS.md). */
export const ZITADEL_PER_VCPU = { introspection: 115, userinfo: 214 };

interface Load { rps: number; total: number; p50: number; p99: number; errors: number; non2xx: number; }
interface Flow { rps: number; total: number; p50: number; p99: number; errors: number; firstError?: string; tokens?: { access_token: string; refresh_token: string }[]; }
export interface OidcRow { scenario: string; measured: string; ceiling: string; ratio: string; target: string; }

async function runJob<T>(script: string, job: Record<string, unknown>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-bench-oidc-'));
  try {
    const file = join(dir, 'job.json');
    writeFileSync(file, JSON.stringify(job));
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', script), file], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    return JSON.parse(stdout) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true }); // it holds tokens and the client secret
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)} %`;

export async function oidcRows(opts: { db: Database; smtpUrl: string; redisUrl?: string; seconds?: number; rounds?: number; log?: (line: string) => void }): Promise<{ rows: OidcRow[]; notes: string[] }> {
  const seconds = opts.seconds ?? Number(process.env.BENCH_SECONDS ?? 5);
  const rounds = opts.rounds ?? Number(process.env.BENCH_ROUNDS ?? 3);
  const flowConnections = Number(process.env.BENCH_OIDC_FLOW_CONNECTIONS ?? 4);
  const cores = availableParallelism();
  const log = opts.log ?? (() => {});
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const app = await buildApp(configFrom({
    NODE_ENV: 'production', SMTP_URL: opts.smtpUrl, DATABASE_URL: 'memory://', LOG_LEVEL: 'silent', RATE_LIMIT_SCALE: '1000000',
    PUBLIC_URL: base, SECRET_KEY: 'bench-secret-'.padEnd(48, 'b'), ADMIN_API_KEY: 'bench-operator-key-'.padEnd(40, 'k'),
    RATE_LIMIT_PREFIX: `kt-bench-oidc-${Date.now()}`, OIDC_ACCESS_TOKEN_TTL: '1h',
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
  }), { database: opts.db });
  const hello = Fastify({ logger: false });
  hello.get('/hello', async () => ({ hello: 'world' }));
  const rows: OidcRow[] = [];
  const notes: string[] = [];
  try {
    await app.publicApp.listen({ port, host: '127.0.0.1' });
    await hello.listen({ port: 0, host: '127.0.0.1' });
    const helloUrl = `http://127.0.0.1:${(hello.server.address() as { port: number }).port}/hello`;
    const op = async (url: string, body: unknown) => {
      const res = await app.adminApp.inject({ method: 'POST', url, headers: { authorization: `Bearer ${app.adminApiKey}` }, payload: body as object });
      if (res.statusCode >= 400) throw new Error(`${url}: ${res.body}`);
      return res.json();
    };
    const slug = `bench-oidc-${Date.now().toString(36)}`;
    await op('/admin/v1/tenants', { slug, name: 'Bench OIDC' });
    const cookies: string[] = [];
    for (let i = 0; i < Math.max(1, flowConnections); i++) {
      const email = `o${i}@${slug}.example`;
      await op(`/admin/v1/tenants/${slug}/users`, { email, password: PASSWORD });
      const res = await fetch(`${base}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD, tenant: slug }) });
      if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`);
      const cookie = res.headers.getSetCookie().map((c) => c.split(';', 1)[0]!).find((c) => c.startsWith('keyturn_session='));
      if (!cookie) throw new Error('login: no keyturn_session cookie');
      cookies.push(cookie);
    }
    const { clientId, clientSecret } = await op('/admin/v1/oidc/clients', { name: 'Bench app', type: 'confidential', redirectUris: [CB] }) as { clientId: string; clientSecret: string };
    const client = { base, clientId, clientSecret };
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;

    const flows = (job: { seconds?: number; amount?: number; keep?: boolean }) =>
      runJob<Flow>('oidc-load.ts', { kind: 'codeflow', ...client, redirectUri: CB, cookies, connections: flowConnections, ...job });
    const cannon = (target: Record<string, unknown>) =>
      runJob<Load>('load.ts', { kind: 'cannon', targets: [target], connections: 16, seconds });

    // Up front, and the warm-up: a refresh chain for each refresh run (and its warm-up), one token
    // to introspect and one access token for userinfo.
    const t0 = Date.now();
    const prepared = await flows({ amount: CHAINS * (rounds + 1) + 1, keep: true });
    if (prepared.errors || !prepared.tokens || prepared.tokens.length < CHAINS * (rounds + 1) + 1) {
      throw new Error(`code flows up front: ${prepared.errors} failed (${prepared.firstError})`);
    }
    log(`${prepared.total} code flows up front in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const tokens = prepared.tokens;
    const probe = tokens.pop()!;
    const chains = () => tokens.splice(0, CHAINS).map((t) => t.refresh_token);

    const introspection = { url: `${base}/oidc/token/introspection`, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, body: new URLSearchParams({ token: probe.refresh_token, token_type_hint: 'refresh_token' }).toString() };
    const userinfo = { url: `${base}/oidc/me`, headers: { authorization: `Bearer ${probe.access_token}` } };
    const session = { url: `${base}/api/v1/session`, headers: { cookie: cookies[0]! } };
    // Both must answer as a working provider does before any load.
    const intro = await (await fetch(introspection.url, { method: 'POST', headers: introspection.headers, body: introspection.body })).json() as { active?: boolean };
    if (intro.active !== true) throw new Error(`introspection: ${JSON.stringify(intro)}`);
    const me = await fetch(userinfo.url, { headers: userinfo.headers });
    if (me.status !== 200) throw new Error(`userinfo: ${me.status} ${await me.text()}`);
    for (const t of [session, introspection, userinfo]) await runJob<Load>('load.ts', { kind: 'cannon', targets: [t], connections: 16, seconds: 1 });
    await runJob<Flow>('oidc-load.ts', { kind: 'refresh', ...client, tokens: chains(), seconds: 1 });

    // Hello-world and the scenario in turn; the medians of each.
    const helloRuns: number[] = [];
    const paired = async (scenario: () => Promise<{ rps: number; p99: number; errors: number }>) => {
      const cs: number[] = [];
      const runs: { rps: number; p99: number; errors: number; non2xx?: number }[] = [];
      for (let i = 0; i < rounds; i++) {
        await app.ctx.worker.drain();
        cs.push((await cannon({ url: helloUrl })).rps);
        helloRuns.push(cs.at(-1)!);
        runs.push(await scenario());
      }
      return { ceiling: median(cs), run: [...runs].sort((p, q) => p.rps - q.rps)[Math.floor(runs.length / 2)]!, bad: runs.reduce((n, r) => n + r.errors + (r.non2xx ?? 0), 0) };
    };
    const scenarios: [string, string, string, () => Promise<{ rps: number; p99: number; errors: number }>][] = [
      ['GET /api/v1/session (cookie), OIDC run', 'req/s', '≥ 40 %', () => cannon(session)],
      ['POST /oidc/token/introspection (refresh token)', 'req/s', `≥ ${OIDC_TARGET * 100} %`, () => cannon(introspection)],
      ['GET /oidc/me (JWT access token)', 'req/s', `≥ ${OIDC_TARGET * 100} %`, () => cannon(userinfo)],
      [`POST /oidc/token refresh_token (${CHAINS} chains)`, 'req/s', '', () => runJob<Flow>('oidc-load.ts', { kind: 'refresh', ...client, tokens: chains(), seconds })],
      [`code flow, cookie → code → tokens (${flowConnections} at a time)`, 'flows/s', '', () => flows({ seconds })],
    ];
    const only = process.env.BENCH_OIDC_SCENARIOS?.split(',');
    for (const [name, unit, target, scenario] of scenarios.filter(([name]) => !only || only.some((o) => name.includes(o)))) {
      const { ceiling, run, bad } = await paired(scenario);
      const perCpu = run.rps / cores;
      rows.push({
        scenario: name,
        measured: `${fmt(run.rps)} ${unit} (${fmt(perCpu)} per vCPU), p99 ${fmt(run.p99, Number.isInteger(run.p99) ? 0 : 1)} ms`,
        ceiling: `hello-world (${fmt(ceiling)}/s)`, ratio: pct(run.rps, ceiling), target,
      });
      log(`${name}: ${rows.at(-1)!.measured}, ${rows.at(-1)!.ratio} of hello-world`);
      if (bad) notes.push(`${name}: ${bad} requests failed or were not 2xx over ${rounds} runs`);
    }
    const helloMedian = median(helloRuns);
    rows.unshift({
      scenario: 'hello-world Fastify (ceiling), OIDC run', ceiling: '', ratio: '100 %', target: '',
      measured: `median ${fmt(helloMedian)} req/s (${fmt(helloMedian / cores)} per vCPU; runs ${fmt(Math.min(...helloRuns))}–${fmt(Math.max(...helloRuns))})`,
    });
    notes.push(`OpenID Provider: ${cores} vCPUs; Zitadel publishes about ${ZITADEL_PER_VCPU.introspection} (introspection) and ${ZITADEL_PER_VCPU.userinfo} (userinfo) req/s per vCPU`);
    return { rows, notes };
  } finally {
    await hello.close();
    await app.close();
  }
}

async function main() {
  const smtpUrl = await startSmtpSink();
  const pgBase = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  const redisUrl = pgBase ? process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL : undefined;
  const fresh = pgBase ? await emptyPostgresDatabase('bench_oidc', pgBase) : undefined;
  const db = await openDatabase({ url: fresh?.url ?? 'memory://', dataDir: '', ...(fresh ? { poolSize: 20 } : {}) });
  try {
    await db.migrate();
    const before = loadavg()[0]!.toFixed(1);
    const { rows, notes } = await oidcRows({ db, smtpUrl, redisUrl, log: (line) => console.log(line) });
    console.log(`\nOpenID Provider benchmark — ${fresh ? 'PostgreSQL server' : 'PGlite (embedded, in memory)'}; load average ${before} before and ${loadavg()[0]!.toFixed(1)} after`);
    for (const r of rows) console.log(`| ${r.scenario} | ${r.measured} | ${r.ceiling} | ${r.ratio} | ${r.target} |`);
    for (const n of notes) console.log(`- ${n}`);
  } finally {
    await db.close();
    await fresh?.drop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
}
