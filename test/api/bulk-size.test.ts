// A bulk action names a whole floor at once (issue 16's benchmark signs out 2,000 people): the
// request must fit, although the public listener's body limit (64 KiB) holds only ~1,600 ids.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BULK_MAX } from '../../src/features/admin/bulk.ts';
import { useTestApp } from '../helpers/app.ts';
import { tenantWithAdmin } from '../helpers/fixtures.ts';
import { asSession, expectError } from '../helpers/http.ts';

const t = useTestApp();

describe('bulk request size', () => {
  it('takes BULK_MAX ids in one request, with a result for each, and refuses more in the contract shape', async () => {
    const a = await tenantWithAdmin(t);
    const ids = [a.member.id, ...Array.from({ length: BULK_MAX - 1 }, () => randomUUID())];
    expect(JSON.stringify({ ids }).length).toBeGreaterThan(64 * 1024);
    const res = await t.api('POST', '/api/v1/admin/users/bulk', { ids, action: 'sign-out-everywhere', reason: 'end of shift' }, asSession(a.adminSession));
    expect(res.status, res.raw.slice(0, 300)).toBe(200);
    expect(res.body.done).toEqual([a.member.id]);
    expect(res.body.failed).toHaveLength(BULK_MAX - 1);
    expect(res.body.failed[0]).toMatchObject({ error: 'not_found' });
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: a.memberSession.cookie })).status).toBe(401);

    const tooMany = await t.api('POST', '/api/v1/admin/users/bulk', { ids: [...ids, randomUUID()], action: 'sign-out-everywhere' }, asSession(a.adminSession));
    expectError(tooMany, 400, 'invalid_request');
  });
});
