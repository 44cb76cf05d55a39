// Change password while signed in: the current password is required, the tenant's policy applies,
// other sessions are revoked (this one stays), pending reset links die.
import { eq } from 'drizzle-orm';
import { wrongPassword } from '../../errors.ts';
import type { Ctx } from '../../platform/context.ts';
import { tenants, users } from '../../platform/schema.ts';
import { LimitKeys } from '../abuse/keys.ts';
import { enforcePolicy } from '../password-policy/enforce.ts';
import { clearThrottles, runAfterPasswordSet } from '../password-reset/after-reset.ts';
import type { SessionInfo } from '../sessions/sessions.ts';

export async function changePassword(
  ctx: Ctx, session: SessionInfo, input: { currentPassword: string; newPassword: string; ip: string },
): Promise<void> {
  const throttle = new LimitKeys(ctx.secrets).user(session.user.id);
  await ctx.limits.check('changeFailuresPerUser', throttle);
  const [account] = await ctx.db
    .select({ user: users, tenant: tenants })
    .from(users)
    .innerJoin(tenants, eq(tenants.id, users.tenantId))
    .where(eq(users.id, session.user.id));
  if (!account || !(await ctx.hasher.verify(account.user.passwordHash, input.currentPassword))) {
    await ctx.limits.penalty('changeFailuresPerUser', throttle);
    throw wrongPassword();
  }
  await enforcePolicy(ctx, input.newPassword, [{ tenant: account.tenant, email: account.user.email, user: account.user }]);
  const passwordHash = await ctx.hasher.hash(input.newPassword);
  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    await tx.update(users).set({ passwordHash, passwordChangedAt: now }).where(eq(users.id, account.user.id));
    await runAfterPasswordSet(ctx, tx, {
      accounts: [account], how: 'change', actor: { type: 'user', id: account.user.id, ip: input.ip }, at: now,
      keepSessionHash: session.idHash, passwordHash,
    });
  });
  ctx.worker.kick();
  await clearThrottles(ctx, [account], input.ip);
}
