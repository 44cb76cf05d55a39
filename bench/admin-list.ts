// Issue 16's benchmark: administration at scale, on a floor of 100,000 people.
//
//   node --import tsx bench/admin-list.ts   prints the figures on PGlite (in memory), and on
//                                           PostgreSQL too when BENCH_DATABASE_URL or TEST_DATABASE_URL is set
//   floorFigures({ db, label, smtpUrl })    the same as a part of bench/run.ts (BENCH_ONLY=floor runs it alone)
//
// Seeds one tenant of BENCH_FLOOR_USERS (100,000) users and a second one a twentieth its size (the
// lists must stay within their tenant) with bulk SQL: names and addresses from a few first and last names, 70 %
// signed in within the last 120 days, 20 % with an active TOTP factor, 10 % linked to Google, 2 %
// with no way to sign in yet, a supervisor per 25 agents and an admin per 500, every user with an
// externalId (SCIM-provisioned) and every tenth with a pending reset link; then `vacuum analyze`
// (BENCH_FLOOR_VACUUM=0: `analyze` only, the state right after an import). Then, in this process
// through Fastify inject (the server's work only, no sockets), each BENCH_FLOOR_RUNS (100) times
// after 5 warm-ups, p50 and p99:
// - GET /api/v1/admin/users as the tenant's admin: the first page, a page 90 % of the way down,
//   searches, and each filter; every answer's `total` is checked against a count made here in SQL;
// - GET /admin (the console's HTML) with filters;
// - SCIM: `userName eq` and `externalId eq` filters on random users, and a page at startIndex 50,001;
// - then POST /api/v1/admin/users/bulk sign-out-everywhere on 2,000 members who each hold a live
//   session (made by the sessions door itself), BENCH_FLOOR_BULK_RUNS (3) times on different members,
//   in seconds; each run must report 2,000 done, leave none of their sessions alive and refuse a
//   token that worked before.
// On PostgreSQL every query kind is also run once under EXPLAIN ANALYZE (the SQL the app sent,
// caught on the pool), to show which indexes it uses (BENCH_FLOOR_PLANS=full prints the whole plans).
import { loadavg, availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { sql } from 'drizzle-orm';
import type { QueryConfig } from 'pg';
import { buildApp } from '../src/app.ts';
import { configFrom } from '../src/config.ts';
import { openDatabase, rowsOf, type Database } from '../src/platform/db.ts';
import { emptyPostgresDatabase } from '../test/helpers/app.ts';
import { startSmtpSink } from './smtp-sink.ts';

const PASSWORD = 'Sunny-Harbor-42!';
const PUBLIC_URL = 'http://127.0.0.1:3900';
const BATCH = 10_000;
const WARM_UP = 5;
const BULK = 2_000;

export interface FloorRow { scenario: string; measured: string; ceiling: string; ratio: string; target: string; }
export interface Timing { name: string; p50: number; p99: number; runs: number; total?: number; kib: number; }
export interface FloorFigures {
  label: string; users: number; others: number; seedSeconds: number;
  timings: Timing[]; bulk: { seconds: number[]; done: number; perUserMs: number }; plans: string[];
}

const FIRST = ['Ann', 'Ben', 'Chloe', 'David', 'Emma', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas', 'Kemal', 'Lena', 'Maya', 'Noah', 'Olga', 'Paul',
  'Quinn', 'Rosa', 'Sami', 'Tara', 'Umar', 'Vera', 'Wei', 'Xenia', 'Yusuf', 'Zoe', 'Aisha', 'Bruno', 'Carla', 'Diego', 'Elif', 'Femi', 'Gita', 'Hana',
  'Ivan', 'Julia', 'Kofi', 'Lucia', 'Mateo', 'Nina'];
const LAST = ['Okafor', 'Schmidt', 'Garcia', 'Nguyen', 'Kowalski', 'Rossi', 'Yilmaz', 'Dubois', 'Jensen', 'Silva', 'Tanaka', 'Murphy', 'Novak',
  'Haddad', 'Petrov', 'Santos', 'Fischer', 'Moreau', 'Larsen', 'Costa', 'Becker', 'Ivanova', 'Mensah', 'Kaur', 'Sato', 'Walsh', 'Horvat', 'Nasser',
  'Volkov', 'Pereira', 'Wagner', 'Leroy', 'Berg', 'Ferreira', 'Hoffmann', 'Bianchi', 'Demir', 'Lambert', 'Andersen', 'Romano', 'Kim', 'Osei',
  'Popescu', 'Castro', 'Weber', 'Girard', 'Lindqvist', 'Marino', 'Aydin', 'Brennan'];

const pctl = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!; };
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const lit = (xs: string[]) => `{${xs.join(',')}}`;

/**
 * `n` users of one tenant, user i at `first.last.i@domain`, in batches of one statement each, then
 * their factors, Google links and pending reset links. Which user gets what follows from i (roles,
 * sign-in methods), from a hash of i (names, so that the address order is no order of roles or
 * methods) or from random() (sign-in times, factors), as on a real floor.
 */
async function seedTenant(db: Database['db'], tenantId: string, domain: string, n: number): Promise<void> {
  for (let from = 1; from <= n; from += BATCH) {
    const to = Math.min(from + BATCH - 1, n);
    await db.execute(sql`
      insert into users (tenant_id, email, email_canonical, name, role, password_hash, created_at, last_login_at, external_id)
      select ${tenantId}::uuid, e, lower(e), f || ' ' || l,
             case when i % 500 = 0 then 'admin' when i % 25 = 0 then 'supervisor' else 'member' end,
             -- 5 % sign in with Google only, 2 % were created and never set a way in
             case when i % 20 = 7 or i % 50 = 3 then null else '$argon2id$v=19$m=19456,t=2,p=1$c2VlZGVkc2VlZGVk$c2VlZGVkIG5vdCBhIHJlYWwgaGFzaA' end,
             now() - random() * interval '730 days',
             case when random() < 0.7 then now() - random() * interval '120 days' end,
             '00u' || substr(md5(${domain}::text || i), 1, 17)
      from generate_series(${from}::int, ${to}::int) i,
           lateral (select (${lit(FIRST)}::text[])[1 + abs(hashtext('f' || i)) % ${FIRST.length}] as f,
                           (${lit(LAST)}::text[])[1 + abs(hashtext('l' || i)) % ${LAST.length}] as l) names,
           lateral (select f || '.' || l || '.' || lpad(i::text, 6, '0') || '@' || ${domain}::text as e) address`);
  }
  const seeded = sql`(select id, email_canonical, substring(email_canonical from '[.]([0-9]{6})@')::int as i from users where tenant_id = ${tenantId}::uuid and email_canonical like '%.______@%')`;
  await db.execute(sql`
    insert into mfa_factors (user_id, type, label, status, sealed_secret, created_at)
    select id, 'totp', 'Authenticator app', case when random() < 0.05 then 'pending' else 'active' end, 'seeded', now() - interval '30 days'
    from ${seeded} u where random() < 0.21`);
  await db.execute(sql`
    insert into sso_identities (tenant_id, user_id, issuer, subject, email_at_link, created_at)
    select ${tenantId}::uuid, id, 'https://accounts.google.com', md5('google' || id::text), email_canonical, now() - interval '60 days'
    from ${seeded} u where i % 10 = 7`);
  await db.execute(sql`
    insert into reset_tokens (email_canonical, tenant_ids, token_hash, code_hash, origin, created_by, created_at, expires_at)
    select email_canonical, jsonb_build_array(${tenantId}::text), md5('t' || id::text), md5('c' || id::text), 'admin', 'operator:api-key', now(), now() + interval '3 days'
    from ${seeded} u where i % 10 = 0`);
}

/** Catches the SQL the app sends through the pool while `on`, to EXPLAIN it afterwards. */
function queryCatcher(database: Database) {
  const pool = database.pgPool;
  const caught: QueryConfig[] = [];
  let on = false;
  if (pool) {
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const [q, values] = args as [string | QueryConfig, unknown[] | undefined];
      if (on) caught.push(typeof q === 'string' ? { text: q, values } : { text: q.text, values: q.values ?? values });
      return query(...args);
    };
  }
  return {
    available: !!pool,
    async around(fn: () => Promise<unknown>): Promise<QueryConfig[]> {
      caught.length = 0;
      on = true;
      try { await fn(); } finally { on = false; }
      return caught.splice(0);
    },
    /** One line per statement: its first words, the indexes and scans the plan uses, and its time. */
    async explain(q: QueryConfig): Promise<string> {
      const res = await pool!.query({ text: `explain (analyze, buffers) ${q.text}`, values: q.values });
      const plan = res.rows.map((r: Record<string, string>) => r['QUERY PLAN']!).join('\n');
      const used = [...new Set([...plan.matchAll(/(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)|Seq Scan on (\w+)/g)]
        .map((m) => (m[1] ? m[1] : `Seq Scan on ${m[2]}`)))];
      const ms = /Execution Time: ([\d.]+) ms/.exec(plan)?.[1];
      const what = /^select count\(\*\)/i.test(q.text) ? 'count' : 'page';
      const line = `${what}: ${used.join(', ') || 'no scan'} (${ms ?? '?'} ms)`;
      return process.env.BENCH_FLOOR_PLANS === 'full' ? `${line}\n${plan}` : line;
    },
  };
}

export async function floorFigures(opts: {
  db: Database; label: string; smtpUrl: string; redisUrl?: string; users?: number; runs?: number; bulkRuns?: number; log?: (line: string) => void;
}): Promise<FloorFigures> {
  const users = opts.users ?? Number(process.env.BENCH_FLOOR_USERS ?? 100_000);
  const others = Math.max(Math.round(users / 20), 100);
  const runs = opts.runs ?? Number(process.env.BENCH_FLOOR_RUNS ?? 100);
  const bulkRuns = opts.bulkRuns ?? Number(process.env.BENCH_FLOOR_BULK_RUNS ?? 3);
  const vacuum = process.env.BENCH_FLOOR_VACUUM !== '0';
  const log = opts.log ?? (() => {});
  const catcher = queryCatcher(opts.db);
  const app = await buildApp(configFrom({
    NODE_ENV: 'production', SMTP_URL: opts.smtpUrl, DATABASE_URL: 'memory://', LOG_LEVEL: 'silent', RATE_LIMIT_SCALE: '1000000',
    PUBLIC_URL, SECRET_KEY: 'bench-secret-'.padEnd(48, 'b'), ADMIN_API_KEY: 'bench-operator-key-'.padEnd(40, 'k'),
    RATE_LIMIT_PREFIX: `kt-bench-floor-${Date.now()}`, ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
  }), { database: opts.db, startWorker: false });
  const { db } = app.ctx;
  const count = async (where: ReturnType<typeof sql>) => Number(rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from users u where ${where}`))[0]!.n);
  const op = async (method: 'POST', url: string, payload: object) => {
    const res = await app.adminApp.inject({ method, url, payload, headers: { authorization: `Bearer ${app.adminApiKey}` } });
    if (res.statusCode >= 400) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
    return res.json() as Record<string, string>;
  };
  try {
    const stamp = Date.now().toString(36);
    const slug = `floor-${stamp}`;
    await op('POST', '/admin/v1/tenants', { slug, name: 'Big Contact Centre' });
    await op('POST', '/admin/v1/tenants', { slug: `${slug}-b`, name: 'Other Centre' });
    await op('POST', `/admin/v1/tenants/${slug}/users`, { email: 'lead@big.example', password: PASSWORD, role: 'admin' });
    const tenantId = rowsOf<{ id: string }>(await db.execute(sql`select id from tenants where slug = ${slug}`))[0]!.id;
    const otherId = rowsOf<{ id: string }>(await db.execute(sql`select id from tenants where slug = ${`${slug}-b`}`))[0]!.id;
    let t0 = performance.now();
    await seedTenant(db, tenantId, 'big.example', users);
    await seedTenant(db, otherId, 'other.example', others);
    // As autovacuum leaves the tables a minute after an import (visibility map set: index-only
    // scans count without reading rows); BENCH_FLOOR_VACUUM=0 measures them right after the import.
    await db.execute(vacuum ? sql`vacuum analyze` : sql`analyze`);
    const seedSeconds = (performance.now() - t0) / 1000;
    log(`${opts.label}: ${fmt(users)} + ${fmt(others)} users seeded in ${fmt(seedSeconds, 1)} s`);

    const login = await app.publicApp.inject({ method: 'POST', url: '/api/v1/login', payload: { email: 'lead@big.example', password: PASSWORD } });
    const cookie = ([] as string[]).concat(login.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
    const csrf = (await app.publicApp.inject({ method: 'GET', url: '/api/v1/csrf', headers: { cookie } })).json().csrfToken as string;
    const scim = (await op('POST', `/admin/v1/tenants/${slug}/scim-tokens`, { label: 'Okta' })).token!;

    const inTenant = sql`u.tenant_id = ${tenantId}::uuid`;
    const factor = sql`exists (select 1 from mfa_factors f where f.user_id = u.id and f.status = 'active')`;
    const idle = (days: number) => sql`(u.last_login_at is null or u.last_login_at < now() - ${`${days} days`}::interval)`;
    const deep = rowsOf<{ e: string }>(await db.execute(sql`select email_canonical as e from users u where ${inTenant} order by email_canonical offset ${Math.floor(users * 0.9)} limit 1`))[0]!.e;
    const sample = rowsOf<{ email: string; external_id: string }>(await db.execute(sql`select email, external_id from users u where ${inTenant} and external_id is not null order by random() limit 500`));
    const pick = (i: number) => sample[(i * 37) % sample.length]!;
    const start = Math.min(50_001, users); // SCIM's deep page: half-way down a floor of 100,000
    const api = (query: string) => () => `/api/v1/admin/users${query}`;
    const scimUsers = (filter: (i: number) => string) => (i: number) => `/scim/v2/${slug}/Users?filter=${encodeURIComponent(filter(i))}`;

    // name, URL per request, who asks, and the total the answer must carry (null: not checked; a
    // tolerance for inactivity: users cross the "N days ago" line while the bench runs).
    const scenarios: { name: string; url: (i: number) => string; as: 'admin' | 'scim'; total?: number; slack?: number; explain?: boolean }[] = [
      { name: 'GET /api/v1/admin/users, first page', url: api(''), as: 'admin', total: await count(inTenant), explain: true },
      { name: 'GET /api/v1/admin/users, a page 90 % down (keyset)', url: api(`?after=${encodeURIComponent(deep)}`), as: 'admin', explain: true },
      { name: 'GET /api/v1/admin/users?q= a last name (~2 % match)', url: (i) => `/api/v1/admin/users?q=${LAST[i % LAST.length]}`, as: 'admin', explain: true },
      { name: 'GET /api/v1/admin/users?q= part of an address (1 match)', url: (i) => `/api/v1/admin/users?q=${pick(i).email.slice(-18, -12)}`, as: 'admin', total: 1, explain: true },
      { name: 'GET /api/v1/admin/users?role=supervisor', url: api('?role=supervisor'), as: 'admin', total: await count(sql`${inTenant} and u.role = 'supervisor'`), explain: true },
      { name: 'GET /api/v1/admin/users?mfa=on', url: api('?mfa=on'), as: 'admin', total: await count(sql`${inTenant} and ${factor}`), explain: true },
      { name: 'GET /api/v1/admin/users?method=google', url: api('?method=google'), as: 'admin', total: await count(sql`${inTenant} and exists (select 1 from sso_identities s where s.user_id = u.id)`), explain: true },
      { name: 'GET /api/v1/admin/users?inactiveDays=90', url: api('?inactiveDays=90'), as: 'admin', total: await count(sql`${inTenant} and ${idle(90)}`), slack: 10, explain: true },
      {
        name: 'GET /api/v1/admin/users?role=member&mfa=off&inactiveDays=30', url: api('?role=member&mfa=off&inactiveDays=30'), as: 'admin',
        total: await count(sql`${inTenant} and u.role = 'member' and not ${factor} and ${idle(30)}`), slack: 10, explain: true,
      },
      { name: 'GET /admin?role=member&mfa=off&inactive=30 (console HTML)', url: () => '/admin?role=member&mfa=off&inactive=30', as: 'admin' },
      { name: 'SCIM GET /Users?filter=userName eq "…"', url: scimUsers((i) => `userName eq "${pick(i).email}"`), as: 'scim', total: 1, explain: true },
      { name: 'SCIM GET /Users?filter=externalId eq "…"', url: scimUsers((i) => `externalId eq "${pick(i).external_id}"`), as: 'scim', total: 1, explain: true },
      { name: `SCIM GET /Users?startIndex=${start}&count=100`, url: () => `/scim/v2/${slug}/Users?startIndex=${start}&count=100`, as: 'scim', total: await count(inTenant), explain: true },
    ];
    const headers = {
      admin: { cookie },
      scim: { authorization: `Bearer ${scim}`, accept: 'application/scim+json' },
    };
    const timings: Timing[] = [];
    const plans: string[] = [];
    for (const s of scenarios) {
      const ms: number[] = [];
      let bytes = 0;
      let total: number | undefined;
      for (let i = 0; i < runs + WARM_UP; i++) {
        t0 = performance.now();
        const res = await app.publicApp.inject({ method: 'GET', url: s.url(i), headers: headers[s.as] });
        const took = performance.now() - t0;
        if (res.statusCode !== 200) throw new Error(`${s.name}: ${res.statusCode} ${res.body.slice(0, 300)}`);
        if (i >= WARM_UP) ms.push(took);
        bytes = res.body.length;
        if (res.headers['content-type']?.toString().includes('json')) {
          const body = res.json() as { total?: number; totalResults?: number; users?: unknown[]; Resources?: unknown[] };
          total = body.total ?? body.totalResults;
          if (s.total !== undefined && Math.abs(total! - s.total) > (s.slack ?? 0)) throw new Error(`${s.name}: total ${total}, expected ${s.total}`);
          if (!(body.users ?? body.Resources)?.length) throw new Error(`${s.name}: an empty page`);
        }
      }
      const t: Timing = { name: s.name, p50: pctl(ms, 0.5), p99: pctl(ms, 0.99), runs, total, kib: bytes / 1024 };
      timings.push(t);
      log(`${t.name}: p50 ${fmt(t.p50, 1)} ms, p99 ${fmt(t.p99, 1)} ms${total === undefined ? '' : `, total ${fmt(total)}`}, ${fmt(t.kib)} KiB`);
      if (s.explain && catcher.available) {
        const caught = await catcher.around(() => app.publicApp.inject({ method: 'GET', url: s.url(1), headers: headers[s.as] }));
        // The users list's own statements (the page and its count), not the per-page details.
        const own = caught.filter((q) => /from "users"/i.test(q.text ?? '') && !/"users"\."id" (in|= any)/i.test(q.text ?? ''));
        for (const q of own) {
          const line = `${s.name} — ${await catcher.explain(q)}`;
          plans.push(line);
          log(`  plan: ${line}`);
        }
      }
    }

    // ── bulk sign-out: 2,000 members, each with a live session made by the sessions door ──
    const members = rowsOf<{ id: string }>(await db.execute(sql`select id from users u where ${inTenant} and role = 'member' and password_hash is not null order by random() limit ${BULK * bulkRuns}`)).map((r) => r.id);
    const seconds: number[] = [];
    let done = 0;
    for (let run = 0; run < bulkRuns; run++) {
      const ids = members.slice(run * BULK, (run + 1) * BULK);
      const tokens: string[] = [];
      for (let i = 0; i < ids.length; i += 50) {
        tokens.push(...(await Promise.all(ids.slice(i, i + 50).map(async (userId) =>
          (await app.ctx.sessions.create(db, { userId, tenantId, authMethod: 'password', amr: ['pwd'], auditData: { bench: true } })).token))));
      }
      const probe = (token: string) => app.publicApp.inject({ method: 'GET', url: '/api/v1/session', headers: { authorization: `Bearer ${token}` } });
      if ((await probe(tokens[0]!)).statusCode !== 200) throw new Error('bulk sign-out: a seeded session does not work');
      t0 = performance.now();
      const res = await app.publicApp.inject({
        method: 'POST', url: '/api/v1/admin/users/bulk', headers: { cookie, 'x-csrf-token': csrf, origin: PUBLIC_URL },
        payload: { ids, action: 'sign-out-everywhere', reason: 'end of shift (bench)' },
      });
      seconds.push((performance.now() - t0) / 1000);
      const body = res.json() as { done: string[]; failed: unknown[] };
      if (res.statusCode !== 200 || body.done.length !== ids.length || body.failed.length) throw new Error(`bulk sign-out: ${res.statusCode} ${res.body.slice(0, 300)}`);
      const alive = await db.execute(sql`select count(*)::int as n from sessions where user_id = any(${sql.param(ids)}::uuid[]) and revoked_at is null and expires_at > now()`);
      if (rowsOf<{ n: number }>(alive)[0]!.n !== 0) throw new Error('bulk sign-out: sessions left alive');
      if ((await probe(tokens[0]!)).statusCode !== 401 || (await probe(tokens.at(-1)!)).statusCode !== 401) throw new Error('bulk sign-out: a token still works');
      done = body.done.length;
      log(`bulk sign-out of ${fmt(ids.length)} members: ${fmt(seconds.at(-1)!, 2)} s`);
    }
    const mid = pctl(seconds, 0.5);
    return { label: opts.label, users, others, seedSeconds, timings, bulk: { seconds, done, perUserMs: (mid * 1000) / BULK }, plans };
  } finally {
    await app.close();
  }
}

export function floorRows(f: FloorFigures): FloorRow[] {
  return [
    ...f.timings.map((t) => ({
      scenario: `${t.name} (${fmt(f.users)} users)`,
      measured: `p50 ${fmt(t.p50, 1)} ms, p99 ${fmt(t.p99, 1)} ms (${t.runs} requests${t.total === undefined ? '' : `, total ${fmt(t.total)}`}, ${fmt(t.kib)} KiB)`,
      ceiling: '', ratio: '', target: 'report',
    })),
    {
      scenario: `POST /api/v1/admin/users/bulk sign-out-everywhere, ${fmt(BULK)} members with a live session`,
      measured: `${fmt(pctl(f.bulk.seconds, 0.5), 2)} s median (runs ${f.bulk.seconds.map((s) => fmt(s, 2)).join(', ')}; ${fmt(f.bulk.done)} done, ${fmt(f.bulk.perUserMs, 2)} ms per user)`,
      ceiling: '', ratio: '', target: 'report',
    },
  ];
}

async function main() {
  const smtpUrl = await startSmtpSink();
  const pgBase = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  const kinds = [...(process.env.BENCH_FLOOR_PGLITE === '0' ? [] : ['pglite' as const]), ...(pgBase ? ['postgres' as const] : [])];
  for (const kind of kinds) {
    const fresh = kind === 'postgres' ? await emptyPostgresDatabase('bench_floor', pgBase) : undefined;
    const db = await openDatabase({ url: fresh?.url ?? 'memory://', dataDir: '', ...(fresh ? { poolSize: 20 } : {}) });
    try {
      await db.migrate();
      const before = loadavg()[0]!.toFixed(1);
      const label = fresh ? 'PostgreSQL server' : 'PGlite (embedded, in memory)';
      const f = await floorFigures({ db, label, smtpUrl, log: (line) => console.log(line) });
      console.log(`\nAdministration at scale — ${label}; ${availableParallelism()} cores, load average ${before} before and ${loadavg()[0]!.toFixed(1)} after`);
      for (const r of floorRows(f)) console.log(`| ${r.scenario} | ${r.measured} |`);
      for (const p of f.plans) console.log(`- ${p}`);
    } finally {
      await db.close();
      await fresh?.drop();
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
}
