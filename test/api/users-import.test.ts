// The bulk import, through the JSON API: valid rows in, the others skipped with reasons — or, asked
// for, nothing at all unless every row is good; a CSV file read whole or refused whole; an address
// created while an import runs never half-applies it.
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/platform/db.ts';
import { users } from '../../src/platform/schema.ts';
import { STRONG, unique, useTestApp, type TestApp } from '../helpers/app.ts';
import { ORIGIN } from '../helpers/http.ts';

const t = useTestApp();

const emailsOf = async (app: TestApp, slug: string) =>
  (await app.op('GET', `/admin/v1/tenants/${slug}/users?limit=200`)).body.users.map((u: { email: string }) => u.email).sort();
const reasons = (problems: { row: number; line?: number; reason: string }[]) => problems.map((p) => [p.line ?? p.row, p.reason]);

describe('POST /admin/v1/tenants/{slug}/users/import', () => {
  it('item 14: with allOrNothing, one bad row means nothing is created, and every problem row is listed', async () => {
    const { slug } = await t.tenant();
    const taken = `${unique('ann')}@example.com`;
    await t.user(slug, taken);
    const fresh = `${unique('bob')}@example.com`;
    const users = [{ email: fresh }, { email: 'not-an-email' }, { email: taken.toUpperCase() }, { email: fresh }, { email: `${unique('dee')}@example.com`, role: 'owner' }];

    const refused = await t.op('POST', `/admin/v1/tenants/${slug}/users/import`, { users, allOrNothing: true });
    expect(refused.status, refused.raw).toBe(422);
    expect(refused.body).toMatchObject({ error: 'import_rejected', message: expect.any(String) });
    expect(refused.body.problems.map((p: { row: number; code: string; reason: string }) => [p.row, p.code, p.reason])).toEqual([
      [2, 'email', 'not one valid email address'],
      [3, 'taken', 'already a user of this tenant'],
      [4, 'duplicate', 'appears earlier in the file'],
      [5, 'role', 'role must be admin, supervisor or member, not "owner"'],
    ]);
    expect(await emailsOf(t, slug)).toEqual([taken]);

    const whole = await t.op('POST', `/admin/v1/tenants/${slug}/users/import`, { users: [{ email: fresh }], allOrNothing: true });
    expect(whole.status, whole.raw).toBe(200);
    expect(whole.body).toEqual({ created: 1, skipped: [] });
  });

  it('without allOrNothing, valid rows are created and the others skipped with reasons', async () => {
    const { slug } = await t.tenant();
    const res = await t.op('POST', `/admin/v1/tenants/${slug}/users/import`, { users: [{ email: `${unique('a')}@example.com` }, { email: 'nope' }] });
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toEqual({ created: 1, skipped: [{ row: 2, email: 'nope', code: 'email', reason: 'not one valid email address' }] });
  });

  it('takes supervisors, and roles written in capitals', async () => {
    const { slug } = await t.tenant();
    const sup = `${unique('sup')}@example.com`;
    const res = await t.op('POST', `/admin/v1/tenants/${slug}/users/import`, { csv: `email,role\n${sup},Supervisor\n`, allOrNothing: true });
    expect(res.body).toEqual({ created: 1, skipped: [] });
    const listed = await t.op('GET', `/admin/v1/tenants/${slug}/users?q=${sup}`);
    expect(listed.body.users[0]).toMatchObject({ email: sup, role: 'supervisor' });
  });

  it('a CSV file: problems carry their line, and a name too long or a row wider than the header is a problem, not cut short', async () => {
    const { slug } = await t.tenant();
    const ok = `${unique('ok')}@example.com`;
    const csv = [
      'Email,Name,Role',
      `${ok},"Ok, with a comma",member`,
      `${unique('wide')}@example.com,Smith, John,member`,
      `${unique('long')}@example.com,${'x'.repeat(201)},member`,
      `${unique('multi')}@example.com,"two`,
      `lines",member`,
      'not-an-email,Nobody,',
    ].join('\r\n');
    const refused = await t.op('POST', `/admin/v1/tenants/${slug}/users/import`, { csv, allOrNothing: true });
    expect(refused.status, refused.raw).toBe(422);
    expect(reasons(refused.body.problems)).toEqual([
      [3, '1 more field than the header has (put a name with a comma in quotes)'],
      [4, 'name is longer than 200 characters'],
      [5, 'name has a line break or another control character'],
      [7, 'not one valid email address'],
    ]);
    expect(await emailsOf(t, slug)).toEqual([]);
  });

  it('a CSV file that cannot be read as a whole is refused before any row: a quote that never closes, no email column, an unknown column', async () => {
    const { slug } = await t.tenant();
    const url = `/admin/v1/tenants/${slug}/users/import`;
    // Without the check, the open quote would swallow every later row and import only the first.
    const open = await t.op('POST', url, { csv: `email,name\n${unique('a')}@example.com,Ann\n${unique('b')}@example.com,"Bob\n${unique('c')}@example.com,Cy\n` });
    expect(open.status, open.raw).toBe(400);
    expect(open.body).toMatchObject({ error: 'invalid_request', field: 'csv', line: 3 });
    expect(open.body.message).toContain('line 3');
    const noEmail = await t.op('POST', url, { csv: 'mail,name\nann@example.com,Ann\n' });
    expect(noEmail.status).toBe(400);
    expect(noEmail.body.message).toMatch(/email/);
    const unknown = await t.op('POST', url, { csv: 'email,department\nann@example.com,Sales\n' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('"department"');
    const both = await t.op('POST', url, { csv: 'email\na@example.com\n', users: [] });
    expect(both.status).toBe(400);
    expect(await emailsOf(t, slug)).toEqual([]);
  });

  it('sendWelcome queues each new user\'s welcome email in the import\'s transaction, past one batch of 500', async () => {
    const { slug, id: tenantId } = await t.tenant();
    const emails = Array.from({ length: 600 }, (_, i) => `w${i}.${slug}@example.com`);
    const res = await t.op('POST', `/admin/v1/tenants/${slug}/users/import`, { csv: ['email', ...emails].join('\n'), allOrNothing: true, sendWelcome: true });
    expect(res.body).toEqual({ created: 600, skipped: [] });

    // One live token, one welcome email and one audit line naming that token, for every new user.
    const db = t.app.ctx.db;
    const tokens = rowsOf<{ id: string; email: string }>(await db.execute(sql`select id, email_canonical as email from reset_tokens
      where tenant_ids = ${JSON.stringify([tenantId])}::jsonb and used_at is null and superseded_at is null and origin = 'admin'`));
    expect(tokens.map((r) => r.email).sort()).toEqual([...emails].sort());
    const queued = rowsOf<{ to: string }>(await db.execute(sql`select to_address as "to" from outbox where tenant_id = ${tenantId}::uuid and kind = 'welcome'`));
    expect(queued.map((r) => r.to).sort()).toEqual([...emails].sort());
    const lines = rowsOf<{ tokenId: string }>(await db.execute(sql`select data->>'tokenId' as "tokenId" from audit_events
      where tenant_id = ${tenantId}::uuid and type = 'admin_reset_issued' and data->>'kind' = 'welcome'`));
    expect(lines.map((r) => r.tokenId).sort()).toEqual(tokens.map((r) => r.id).sort());

    // The first and the last email (two batches) carry working links for their own address.
    await t.drain();
    for (const to of [emails[0]!, emails[599]!]) {
      const m = await t.mail.waitFor((x) => x.to.includes(to));
      expect(m.subject).toMatch(/welcome/i);
      const token = /reset-password\?token=([\w-]+)/.exec(m.text)![1]!;
      const done = await t.api('POST', '/api/v1/password/reset', { token, password: STRONG }, ORIGIN);
      expect(done.status, done.raw).toBe(200);
      expect((await t.login(to, STRONG, { tenant: slug })).cookie).toBeTruthy();
    }
  }, 60_000);

  it('the tenant admin API takes a file of 2,000 rows (past the public listener\'s usual body limit) and answers within seconds', async () => {
    const { slug } = await t.tenant();
    const admin = `${unique('adm')}@example.com`;
    await t.user(slug, admin, { role: 'admin' });
    const s = await t.login(admin, STRONG, { tenant: slug });
    const csv = ['email,name,role', ...Array.from({ length: 2000 }, (_, i) => `agent${i}.${slug}@example.com,Agent ${i},member`)].join('\n');
    expect(csv.length).toBeGreaterThan(64 * 1024);
    const started = Date.now();
    const res = await t.api('POST', '/api/v1/admin/users/import', { csv, allOrNothing: true }, { cookie: s.cookie, 'x-csrf-token': s.csrf });
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toEqual({ created: 2000, skipped: [] });
    expect(Date.now() - started).toBeLessThan(20_000);
    const again = await t.api('POST', '/api/v1/admin/users/import', { csv, allOrNothing: true }, { cookie: s.cookie, 'x-csrf-token': s.csrf });
    expect(again.status).toBe(422);
    expect(again.body.problems).toHaveLength(2000);
  }, 60_000);

  it('supervisors cannot import', async () => {
    const { slug } = await t.tenant();
    const sup = `${unique('sup')}@example.com`;
    await t.user(slug, sup, { role: 'supervisor' });
    const s = await t.login(sup, STRONG, { tenant: slug });
    const res = await t.api('POST', '/api/v1/admin/users/import', { csv: `email\n${unique('x')}@example.com\n` }, { cookie: s.cookie, 'x-csrf-token': s.csrf });
    expect(res.status).toBe(403);
    expect(await emailsOf(t, slug)).toEqual([sup]);
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)('on PostgreSQL, concurrently', () => {
  const pg = useTestApp({ db: 'postgres' });

  it('an address created while the import runs makes it create nothing (422 naming the row), not a 500 or half an import', async () => {
    const { slug, id: tenantId } = await pg.tenant();
    const fresh = `${unique('fresh')}@example.com`;
    const late = `${unique('late')}@example.com`;
    // Another writer inserts `late` and holds its transaction open: the import's check cannot see
    // the row yet, and its insert waits on it.
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    let inserted!: () => void;
    const insertedYet = new Promise<void>((r) => { inserted = r; });
    const other = pg.app.ctx.db.transaction(async (tx) => {
      await tx.insert(users).values({ tenantId, email: late, emailCanonical: late, name: '', role: 'member', createdAt: new Date() });
      inserted();
      await held;
    });
    await insertedYet;
    const importing = pg.op('POST', `/admin/v1/tenants/${slug}/users/import`, { users: [{ email: fresh }, { email: late }], allOrNothing: true });
    let blocked = false;
    for (let i = 0; i < 400 && !blocked; i++) {
      const waiting = await pg.app.ctx.db.execute(sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
      blocked = ((waiting as unknown as { rows: { n: number }[] }).rows[0]?.n ?? 0) > 0;
      if (!blocked) await new Promise((r) => setTimeout(r, 25));
    }
    release();
    expect(blocked, 'the import\'s insert waited on the other transaction').toBe(true);
    await other;
    const res = await importing;
    expect(res.status, res.raw).toBe(422);
    expect(res.body.problems).toEqual([{ row: 2, email: late, code: 'taken', reason: 'already a user of this tenant' }]);
    expect(await emailsOf(pg, slug)).toEqual([late]);
  }, 60_000);
});
