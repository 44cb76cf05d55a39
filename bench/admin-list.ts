// `node --import tsx bench/admin-list.ts`: the admin users list on a tenant of 100,000 users.
// Seeds the users (and 10,000 pending reset links) with bulk SQL in batches, then times the first
// page and a deep keyset page of GET /admin (the HTML console) and GET /api/v1/admin/users, plus a
// search, each the median of 20 requests (in-process, Fastify inject: the server's work only).
// Runs on embedded PGlite, and also on PostgreSQL when TEST_DATABASE_URL (or BENCH_DATABASE_URL) is set.
import { sql } from 'drizzle-orm';
import { buildApp } from '../src/app.ts';
import { configFrom } from '../src/config.ts';
import { rowsOf } from '../src/platform/db.ts';
import { freshDatabase } from '../test/helpers/app.ts';
import { startSmtpSink } from './smtp-sink.ts';


const SMTP_URL = await startSmtpSink();
const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const BATCH = 10_000;
const RUNS = 20;
const PASSWORD = 'Sunny-Harbor-42!';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function bench(kind: 'pglite' | 'postgres') {
  if (kind === 'postgres' && !process.env.TEST_DATABASE_URL && process.env.BENCH_DATABASE_URL) process.env.TEST_DATABASE_URL = process.env.BENCH_DATABASE_URL;
  const database = await freshDatabase(kind);
  const config = configFrom({
    NODE_ENV: 'production', SMTP_URL, DATABASE_URL: 'memory://', PUBLIC_URL: 'http://localhost:3000', LOG_LEVEL: 'silent',
    SECRET_KEY: 'bench-secret-bench-secret-bench-secret-0', ADMIN_API_KEY: 'bench-admin-key-bench-admin-key',
  });
  const app = await buildApp(config, { database, startWorker: false });
  try {
    const op = (method: 'POST', url: string, payload: object) =>
      app.adminApp.inject({ method, url, payload, headers: { authorization: 'Bearer bench-admin-key-bench-admin-key' } });
    await op('POST', '/admin/v1/tenants', { slug: 'big', name: 'Big Contact Centre' });
    await op('POST', '/admin/v1/tenants/big/users', { email: 'admin@big.example', password: PASSWORD, role: 'admin' });
    const [tenant] = rowsOf<{ id: string }>(await database.db.execute(sql`select id from tenants where slug = 'big'`));

    let t0 = performance.now();
    for (let from = 1; from <= USERS; from += BATCH) {
      const to = Math.min(from + BATCH - 1, USERS);
      await database.db.execute(sql`
        insert into users (tenant_id, email, email_canonical, name, role, created_at, last_login_at)
        select ${tenant!.id}::uuid, e, e, 'Agent ' || i, case when i % 50 = 0 then 'admin' else 'member' end, now(),
               case when i % 3 = 0 then now() - (i || ' minutes')::interval end
        from generate_series(${from}::int, ${to}::int) i, lateral (select 'agent' || lpad(i::text, 6, '0') || '@big.example' as e) x`);
    }
    // A pending admin-made reset link for every tenth user.
    await database.db.execute(sql`
      insert into reset_tokens (email_canonical, tenant_ids, token_hash, code_hash, origin, created_by, created_at, expires_at)
      select 'agent' || lpad(i::text, 6, '0') || '@big.example', jsonb_build_array(${tenant!.id}::text), md5('t' || i), md5('c' || i),
             'admin', 'operator:api-key', now(), now() + interval '3 days'
      from generate_series(10, ${USERS}::int, 10) i`);
    await database.db.execute(sql`analyze`);
    const seedMs = performance.now() - t0;

    const login = await app.publicApp.inject({ method: 'POST', url: '/api/v1/login', payload: { email: 'admin@big.example', password: PASSWORD } });
    const cookie = ([] as string[]).concat(login.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
    const deep = `agent${String(Math.floor(USERS * 0.9)).padStart(6, '0')}@big.example`;

    const time = async (url: string) => {
      const ms: number[] = [];
      let status = 0;
      let bytes = 0;
      for (let i = 0; i < RUNS + 2; i++) {
        t0 = performance.now();
        const res = await app.publicApp.inject({ method: 'GET', url, headers: { cookie } });
        if (i >= 2) ms.push(performance.now() - t0); // two warm-up requests
        status = res.statusCode;
        bytes = res.body.length;
      }
      if (status !== 200) throw new Error(`${url}: ${status}`);
      return { median: median(ms), bytes };
    };

    const rows: [string, string][] = [
      ['GET /admin (HTML), first page', '/admin'],
      ['GET /admin (HTML), deep keyset page', `/admin?after=${encodeURIComponent(deep)}`],
      ['GET /api/v1/admin/users, first page', '/api/v1/admin/users'],
      ['GET /api/v1/admin/users, deep keyset page', `/api/v1/admin/users?after=${encodeURIComponent(deep)}`],
      ['GET /api/v1/admin/users?q= (ILIKE, no index)', '/api/v1/admin/users?q=agent09999'],
      ['GET /api/v1/admin/users?status=disabled (none: full scan)', '/api/v1/admin/users?status=disabled'],
    ];
    console.log(`\n${kind === 'pglite' ? 'PGlite (embedded, in memory)' : 'PostgreSQL server'}: ${USERS.toLocaleString('en')} users + ${(USERS / 10).toLocaleString('en')} pending links seeded in ${(seedMs / 1000).toFixed(1)} s`);
    console.log('| request | median of 20 (ms) | page |');
    console.log('|---|---:|---:|');
    for (const [name, url] of rows) {
      const r = await time(url);
      console.log(`| ${name} | ${r.median.toFixed(1)} | ${(r.bytes / 1024).toFixed(0)} KiB |`);
    }
    const plan = rowsOf<Record<string, string>>(await database.db.execute(sql`explain select * from users
      where tenant_id = ${tenant!.id}::uuid and email_canonical > ${deep} order by email_canonical limit 51`));
    console.log(`plan of the deep page: ${plan.map((r) => Object.values(r)[0]).join(' / ').replace(/\s+/g, ' ').slice(0, 160)}`);
  } finally {
    await app.close();
    await database.drop();
  }
}

await bench('pglite');
if (process.env.TEST_DATABASE_URL || process.env.BENCH_DATABASE_URL) await bench('postgres');
else console.log('\n(PostgreSQL skipped: set TEST_DATABASE_URL to run it there too)');
