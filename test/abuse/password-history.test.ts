// The hardened policy options that need the account's past: no reuse of the last N passwords
// (`not_reused`, default 5), and a maximum age that is off unless a tenant sets it.
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { passwordHistory } from '../../src/platform/schema.ts';
import { rowsOf } from '../../src/platform/db.ts';
import { databaseKinds, STRONG, STRONG2, unique, useTestApp } from '../helpers/app.ts';
import { account } from '../helpers/fixtures.ts';
import { asSession } from '../helpers/http.ts';
import { send } from './helpers.ts';

const PASSWORDS = ['Velvet-Canyon-58$', 'Amber-Glacier-63%', 'Crimson-Falcon-19&', 'Silver-Lantern-84*', 'Hollow-Timber-26@', 'Copper-Orchard-31^'];

describe.each(databaseKinds())('on %s', (kind) => {
  const t = useTestApp({ db: kind });

  async function signedIn(tenant: { passwordPolicy?: Record<string, unknown> } = {}) {
    const { slug, email, id } = await account(t, { prefix: 'h', tenant });
    const s = await t.login(email);
    const change = (from: string, to: string) =>
      send(t, 'POST', '/api/v1/password/change', { currentPassword: from, newPassword: to }, { headers: asSession(s) });
    const historyRows = async () => (await t.app.ctx.db.select().from(passwordHistory).where(eq(passwordHistory.userId, id))).length;
    return { slug, email, id, change, historyRows };
  }

  it('a password change may not reuse the current or the last 5 passwords (422 not_reused); the 6th-last is fine', async () => {
    const a = await signedIn();
    const same = await a.change(STRONG, STRONG);
    expect(same.status).toBe(422);
    expect(same.body).toMatchObject({ error: 'password_policy', failed: ['not_reused'] });

    let current = STRONG;
    for (const next of PASSWORDS.slice(0, 4)) {
      expect((await a.change(current, next)).status).toBe(200);
      current = next;
    }
    // STRONG is now the 5th-last password: still refused.
    expect((await a.change(current, STRONG)).body.failed).toEqual(['not_reused']);
    expect((await a.change(current, PASSWORDS[1]!)).body.failed).toEqual(['not_reused']);
    expect((await a.change(current, PASSWORDS[4]!)).status).toBe(200);
    current = PASSWORDS[4]!;
    // Now STRONG is 6th-last: allowed again. Only the last 5 are kept.
    expect(await a.historyRows()).toBe(5);
    expect((await a.change(current, STRONG)).status).toBe(200);
    expect(await a.historyRows()).toBe(5);
  });

  it('a tenant sets the depth: history 1 forbids only the current password, history 0 turns the rule off', async () => {
    const one = await signedIn({ passwordPolicy: { history: 1 } });
    expect((await one.change(STRONG, STRONG)).body.failed).toEqual(['not_reused']);
    expect((await one.change(STRONG, STRONG2)).status).toBe(200);
    expect((await one.change(STRONG2, STRONG)).status).toBe(200);
    const off = await signedIn({ passwordPolicy: { history: 0 } });
    expect((await off.change(STRONG, STRONG)).status).toBe(200);
    expect(await off.historyRows()).toBe(0);
  });

  it('a reset to the current password is refused and spends nothing; the link then works with a new one', async () => {
    const { email } = await account(t, { prefix: 'r' });
    const { token } = await t.resetMail(email);
    const refused = await t.api('POST', '/api/v1/password/reset', { token, password: STRONG });
    expect(refused.status).toBe(422);
    expect(refused.body.failed).toContain('not_reused');
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: STRONG2 })).status).toBe(200);
  });

  it('the history is written in the transaction that sets the password: twenty concurrent resets, one row', async () => {
    const { email, id } = await account(t, { prefix: 'c' });
    const { token } = await t.resetMail(email);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => t.api('POST', '/api/v1/password/reset', { token, password: `${STRONG2}${i}` })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const res = await t.app.ctx.db.execute(sql`select count(*)::int as n from password_history where user_id = ${id}`);
    expect(rowsOf<{ n: number }>(res)[0]!.n).toBe(2); // created + the one reset that won
  });

  it('the policy endpoint lists not_reused (checked on the server)', async () => {
    const { slug } = await t.tenant();
    const res = await t.api('GET', `/api/v1/password/policy?tenant=${slug}`);
    expect(res.body.rules).toContainEqual({ id: 'not_reused', label: 'Not one of your last 5 passwords', serverOnly: true });
    const { slug: off } = await t.tenant(unique('off'), { passwordPolicy: { history: 0 } });
    expect((await t.api('GET', `/api/v1/password/policy?tenant=${off}`)).body.rules.map((r: { id: string }) => r.id)).not.toContain('not_reused');
  });

  // Moves the clock: keep last.
  it('maximum age: off by default; when a tenant sets it, only the right password learns it expired', async () => {
    const { slug: plain } = await t.tenant();
    const { slug: aged } = await t.tenant(unique('aged'), { passwordPolicy: { maxAgeDays: 90 } });
    const a = `${unique('a')}@example.com`;
    const b = `${unique('b')}@example.com`;
    await t.user(plain, a);
    await t.user(aged, b);
    t.clock.advance(91 * 86_400_000);
    expect((await t.login(a)).status).toBe(200);
    const expired = await t.login(b);
    expect(expired.status).toBe(403);
    expect(expired.body).toMatchObject({ error: 'password_expired' });
    expect(expired.body.message).toMatch(/older than 90 days/);
    expect((await t.login(b, 'Wrong-password-1!')).status).toBe(401);
    const { token } = await t.resetMail(b);
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: STRONG2 })).status).toBe(200);
    expect((await t.login(b, STRONG2)).status).toBe(200);
  });
});
