// The operator's bulk import: valid rows in, the others skipped with reasons — or, asked for,
// nothing at all unless every row is good.
import { describe, expect, it } from 'vitest';
import { unique, useTestApp } from '../helpers/app.ts';

const t = useTestApp();

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
    expect(refused.body.problems.map((p: { row: number; reason: string }) => [p.row, p.reason])).toEqual([
      [2, 'not one valid email address'],
      [3, 'already a user of this tenant'],
      [4, 'appears earlier in the file'],
      [5, 'role must be admin or member, not "owner"'],
    ]);
    const listed = await t.op('GET', `/admin/v1/tenants/${slug}/users`);
    expect(listed.body.users.map((u: { email: string }) => u.email)).toEqual([taken]);

    const whole = await t.op('POST', `/admin/v1/tenants/${slug}/users/import`, { users: [{ email: fresh }], allOrNothing: true });
    expect(whole.status, whole.raw).toBe(200);
    expect(whole.body).toEqual({ created: 1, skipped: [] });
  });

  it('without allOrNothing, valid rows are created and the others skipped with reasons', async () => {
    const { slug } = await t.tenant();
    const res = await t.op('POST', `/admin/v1/tenants/${slug}/users/import`, { users: [{ email: `${unique('a')}@example.com` }, { email: 'nope' }] });
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toEqual({ created: 1, skipped: [{ row: 2, email: 'nope', reason: 'not one valid email address' }] });
  });
});
