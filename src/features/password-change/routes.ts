// Change password while signed in: the current password is required, the tenant's policy applies,
// other sessions are revoked (this one stays), pending reset links die.
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { wrongPassword } from '../../errors.ts';
import type { Ctx } from '../../platform/context.ts';
import { parse } from '../../platform/http.ts';
import { tenants, users } from '../../platform/schema.ts';
import { enforcePolicy } from '../password-policy/enforce.ts';
import { clearThrottles, runAfterPasswordSet } from '../password-reset/after-reset.ts';
import { requireSession } from '../sessions/plugin.ts';

const ChangeBody = z.object({
  currentPassword: z.string({ error: 'must be a string' }).max(4096),
  newPassword: z.string({ error: 'must be a string' }).max(4096),
  _csrf: z.string().optional(),
});

export async function passwordChangeRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.post('/api/v1/password/change', async (request) => {
    const session = await requireSession(ctx, request);
    const body = parse(ChangeBody, request.body);
    await ctx.limits.check('changeFailuresPerUser', session.user.id);
    const [account] = await ctx.db
      .select({ user: users, tenant: tenants })
      .from(users)
      .innerJoin(tenants, eq(tenants.id, users.tenantId))
      .where(eq(users.id, session.user.id));
    if (!account || !(await ctx.hasher.verify(account.user.passwordHash, body.currentPassword))) {
      await ctx.limits.penalty('changeFailuresPerUser', session.user.id);
      throw wrongPassword();
    }
    await enforcePolicy(ctx, body.newPassword, [{ tenant: account.tenant, email: account.user.email }]);
    const passwordHash = await ctx.hasher.hash(body.newPassword);
    await ctx.db.transaction(async (tx) => {
      const now = ctx.clock.now();
      await tx.update(users).set({ passwordHash, passwordChangedAt: now }).where(eq(users.id, account.user.id));
      await runAfterPasswordSet(ctx, tx, {
        accounts: [account], how: 'change', actor: { type: 'user', id: account.user.id, ip: request.ip }, at: now,
        keepSessionHash: session.idHash,
      });
    });
    ctx.worker.kick();
    await clearThrottles(ctx, [account]);
    return { status: 'changed', message: 'Password updated; other devices were signed out.' };
  });
}
